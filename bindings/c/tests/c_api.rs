//! Compiles `tests/api.c` with gcc against the static library and runs it under valgrind
//! (`--error-exitcode=1 --leak-check=full`, suppressing only "possibly lost" statics: see
//! `tests/valgrind.supp`) with a real `ovsdb-server` serving OVN_Northbound
//! for the remote calls.
//!
//! Needs gcc, valgrind, ovsdb-tool and ovsdb-server on `PATH`. `OVNKIT_NO_VALGRIND=1` runs the
//! program directly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory cargo put the library in (`target/<profile>`).
fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// An ovsdb-server child, killed on drop.
struct OvsdbServer(Child);

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_ovsdb_server(dir: &Path) -> (OvsdbServer, String) {
    let schema = dir.join("nb.ovsschema");
    std::fs::write(&schema, ovn_nb::model::SCHEMA_JSON).expect("write schema");
    let db = dir.join("remote-nb.db");
    run(Command::new("ovsdb-tool")
        .arg("create")
        .arg(&db)
        .arg(&schema));
    let sock = dir.join("nb.sock");
    let child = Command::new("ovsdb-server")
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg(format!(
            "--unixctl={}",
            dir.join("ovsdb-server.ctl").display()
        ))
        .arg("-vconsole:off")
        .arg(&db)
        .stdin(Stdio::null())
        .spawn()
        .expect("start ovsdb-server (is it installed?)");
    let server = OvsdbServer(child);
    let start = Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "ovsdb-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, format!("unix:{}", sock.display()))
}

#[test]
fn c_api_under_valgrind() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `cargo build` puts the static library in target/<profile>; `cargo test` leaves it in deps/.
    let dir = artifact_dir();
    let lib = [dir.join("libovnkit_c.a"), dir.join("deps/libovnkit_c.a")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("libovnkit_c.a not built under {}", dir.display()));
    for (tool, package) in [
        ("gcc", "gcc"),
        ("valgrind", "valgrind"),
        ("ovsdb-server", "openvswitch-switch"),
        ("ovsdb-tool", "openvswitch-common"),
    ] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("{tool} is missing: install the Debian package {package}");
            }
            eprintln!("skipping: {tool} is missing (Debian package {package})");
            return;
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = tmp.path().join("api");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/api.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe));

    let (_server, remote) = start_ovsdb_server(tmp.path());
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch dir");
    let mut cmd = if std::env::var_os("OVNKIT_NO_VALGRIND").is_some_and(|v| v == "1") {
        Command::new(&exe)
    } else {
        let mut c = Command::new("valgrind");
        c.args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--quiet",
            "--num-callers=64",
        ])
        .arg(format!(
            "--suppressions={}",
            crate_dir.join("tests/valgrind.supp").display()
        ))
        .arg(&exe);
        c
    };
    run(cmd.arg(&scratch).arg(&remote));
}
