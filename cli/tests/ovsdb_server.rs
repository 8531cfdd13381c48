//! `ovnkit ovsdb-tool create` and `ovnkit ovsdb-server` as processes, used by real clients.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ovnkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ovnkit"))
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_databases_created_by_ovsdb_tool_create() {
    let ovn = testkit::require_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let nb_schema = ovn.schema(testkit::Schema::Northbound).unwrap();
    let sb_schema = ovn.schema(testkit::Schema::Southbound).unwrap();
    let nb = dir.path().join("nb.db");
    let sb = dir.path().join("sb.db");
    for (db, schema) in [(&nb, &nb_schema), (&sb, &sb_schema)] {
        let st = ovnkit()
            .arg("ovsdb-tool")
            .arg("create")
            .arg(db)
            .arg(schema)
            .status()
            .unwrap();
        assert!(st.success());
    }
    // Creating over an existing file fails, like ovsdb-tool.
    let st = ovnkit()
        .args(["ovsdb-tool", "create"])
        .arg(&nb)
        .arg(&nb_schema)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success());
    let sock = dir.path().join("db.sock");
    let pidfile = dir.path().join("ovsdb-server.pid");
    let log = dir.path().join("ovsdb-server.log");
    let ctl = dir.path().join("ovsdb-server.ctl");
    let child = ovnkit()
        .arg("ovsdb-server")
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg(format!("--pidfile={}", pidfile.display()))
        .arg(format!("--log-file={}", log.display()))
        .arg("--no-chdir")
        .arg(format!("--unixctl={}", ctl.display()))
        .arg(&nb)
        .arg(&sb)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for(&sock);
    wait_for(&pidfile);
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, daemon.0.id());
    let db = format!("--db=unix:{}", sock.display());
    let nbctl = ovn.find(testkit::Tool::OvnNbctl).unwrap();
    let sbctl = ovn.find(testkit::Tool::OvnSbctl).unwrap();
    let out = Command::new(&nbctl)
        .args([&db, "ls-add", "sw0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&nbctl)
        .args([&db, "ls-list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sw0"));
    let out = Command::new(&sbctl)
        .args([&db, "chassis-add", "ch1", "geneve", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ovs-appctl works on the unixctl socket; `exit` stops the server, which removes its pidfile.
    let appctl = ovn.find(testkit::Tool::OvsAppctl).unwrap();
    let t = format!("--target={}", ctl.display());
    let out = Command::new(&appctl)
        .args([&t, "ovsdb-server/list-dbs"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OVN_Northbound\nOVN_Southbound\n_Server\n"
    );
    let out = Command::new(&appctl)
        .args([&t, "ovsdb-server/compact"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&appctl).args([&t, "exit"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut daemon = daemon;
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pidfile.exists());
    drop(daemon);
    // The commits are in the file: a real ovsdb-tool reads them.
    let tool = ovn.find(testkit::Tool::OvsdbTool).unwrap();
    let out = Command::new(&tool)
        .arg("query")
        .arg(&nb)
        .arg(r#"["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[],"columns":["name"]}]"#)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sw0"));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("listening on punix:"));
}
