//! Starting our server in-process, running real clients, normalizing their output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ovsdb::server::net::{self, NetOptions, Remote, Running};
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};

/// Our server, serving database files in a temp dir on a Unix socket, in its own tokio runtime.
/// Dropping it shuts it down and removes the directory.
pub(crate) struct OurServer {
    /// Removed on drop, after the server stopped.
    _dir: tempfile::TempDir,
    pub(crate) sock: PathBuf,
    rt: Option<tokio::runtime::Runtime>,
    running: Option<Running>,
}

impl OurServer {
    /// Creates one database file per schema and serves them.
    pub(crate) fn start(schemas: &[&Path]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, s) in schemas.iter().enumerate() {
            let text = std::fs::read_to_string(s).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let f = dir.path().join(format!("db{i}.db"));
            FileStorage::create(&f, &json).unwrap();
            files.push(f);
        }
        Self::start_files(dir, files)
    }

    /// Serves existing database files.
    pub(crate) fn start_files(dir: tempfile::TempDir, files: Vec<PathBuf>) -> Self {
        let mut server = Server::new(ServerConfig::default()).unwrap();
        for f in &files {
            let (db, st, _) = FileStorage::open(f, StorageOptions::default()).unwrap();
            server.add_database(db, Some(Box::new(st))).unwrap();
        }
        let sock = dir.path().join("ovnkit.sock");
        let shared = Arc::new(Mutex::new(server));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt
            .block_on(net::serve(
                shared,
                &[Remote::Punix(sock.clone())],
                NetOptions::default(),
            ))
            .unwrap();
        Self {
            _dir: dir,
            sock,
            rt: Some(rt),
            running: Some(running),
        }
    }

    pub(crate) fn remote(&self) -> String {
        format!("unix:{}", self.sock.display())
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        if let (Some(rt), Some(r)) = (self.rt.take(), self.running.take()) {
            rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), r.shutdown()).await;
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Path of an installed program, or `None`.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `find_program`, or skip (return `None`) with a message; panics under `CI=true`.
pub(crate) fn require_program(name: &str, package: &str) -> Option<PathBuf> {
    match find_program(name) {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{name} is not installed (Debian package {package})")
        }
        None => {
            eprintln!("skipping: {name} not installed (Debian package {package})");
            None
        }
    }
}

/// Runs a program with a timeout; returns (success, stdout, stderr).
pub(crate) fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(out)) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        _ => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{} {:?} timed out", program.display(), args)
        }
    }
}

/// Replaces every UUID by `<N>`, numbered in order of first appearance.
pub(crate) fn rename_uuids(text: &str) -> String {
    let mut map: Vec<String> = Vec::new();
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_uuid(&text[i..i + 36]) {
            let u = &text[i..i + 36];
            let n = match map.iter().position(|m| m == u) {
                Some(n) => n,
                None => {
                    map.push(u.to_owned());
                    map.len() - 1
                }
            };
            out.push_str(&format!("<{n}>"));
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Replaces every UUID by `<uuid>`; sorts the lines of each blank-line separated block.
pub(crate) fn erase_uuids_sorted(text: &str) -> String {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines: Vec<String> = block.lines().map(erase_uuids).collect();
        lines.sort();
        out.push(lines.join("\n"));
    }
    out.join("\n\n")
}

/// Replaces every UUID by `<uuid>`.
pub(crate) fn erase_uuids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && text.is_char_boundary(i + 36) && is_uuid(&text[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A real ovsdb-server for `schema` in the sandbox, as the reference.
pub(crate) fn real_server(
    sandbox: &mut testkit::Sandbox,
    name: &str,
    schema: &Path,
) -> testkit::OvsdbServer {
    sandbox.start_ovsdb_server(name, schema).unwrap()
}

/// Installed schema file.
pub(crate) fn schema(ovn: &testkit::Toolbox, s: testkit::Schema) -> PathBuf {
    ovn.schema(s).unwrap()
}

/// The test schema shipped with this crate.
pub(crate) fn test_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test.ovsschema")
}
