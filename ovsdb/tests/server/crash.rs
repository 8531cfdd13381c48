//! Crash safety: a write load against a server process killed with SIGKILL at random moments,
//! restarted each time. Every acknowledged transaction is present afterwards, and no transaction is
//! half-applied.
//!
//! The server runs in a child process: this test binary re-executed with `OVNKIT_CRASH_CHILD` set,
//! which makes `crash_child_server` serve the database until killed.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use ovsdb::server::net::{self, NetOptions, Remote};
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};

const CHILD_ENV: &str = "OVNKIT_CRASH_CHILD";

/// In the child: serves `DB` on `SOCK` (from `OVNKIT_CRASH_CHILD=DB,SOCK`) until killed.
#[test]
fn crash_child_server() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (db, sock) = spec.split_once(',').unwrap();
    let (database, storage, _) = FileStorage::open(db, StorageOptions::default()).unwrap();
    let mut server = Server::new(ServerConfig::default()).unwrap();
    server
        .add_database(database, Some(Box::new(storage)))
        .unwrap();
    // As `ovnkit ovsdb-server` does after opening its files: what loading freed goes back to
    // the system now.
    release_free_memory();
    // The runtime of `ovnkit ovsdb-server` (one thread); `OVNKIT_SERVER_THREADS=2` for the
    // two-worker runtime, to compare.
    let rt = match std::env::var("OVNKIT_SERVER_THREADS").as_deref() {
        Ok("2") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .unwrap();
    // `OVNKIT_BENCH_BUSY_POLL_US=N`: the busy-poll budget in microseconds (0: none; unset: the
    // default, as in `ovnkit ovsdb-server`), to compare.
    let mut options = NetOptions::default();
    if let Some(us) = std::env::var("OVNKIT_BENCH_BUSY_POLL_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        options.busy_poll = (us > 0).then(|| Duration::from_micros(us));
    }
    rt.block_on(async {
        let _running = net::serve(
            Arc::new(Mutex::new(server)),
            &[Remote::Punix(PathBuf::from(sock))],
            options,
        )
        .await
        .unwrap();
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

extern "C" {
    /// mimalloc's `mi_collect` (this binary allocates with mimalloc; see `main.rs`).
    fn mi_collect(force: bool);
}

/// Gives the memory mimalloc holds free back to the system (`ovnkit ovsdb-server` does this
/// after loading its databases, in `cli/src/alloc.rs`).
#[allow(unsafe_code)]
fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called at any time.
    unsafe { mi_collect(true) };
}

/// The child server process, SIGKILLed on drop.
pub(crate) struct ChildServer(Child);

impl ChildServer {
    /// Starts a server process on `db`, listening on `sock`; returns once it accepts connections.
    pub(crate) fn start(db: &Path, sock: &Path) -> Self {
        Self::start_with(db, sock, &[])
    }

    /// [`start`](Self::start) with more environment variables for the child (such as
    /// `OVNKIT_BENCH_BUSY_POLL_US`).
    pub(crate) fn start_with(db: &Path, sock: &Path, envs: &[(&str, String)]) -> Self {
        let _ = std::fs::remove_file(sock);
        let exe = std::env::current_exe().unwrap();
        // `OVNKIT_BENCH_CALLGRIND=OUT`: the child runs under callgrind with instrumentation off
        // (the benchmark switches it on for its timed section), its profile written to OUT.
        let mut cmd = match std::env::var_os("OVNKIT_BENCH_CALLGRIND") {
            Some(out) => {
                let mut c = Command::new("valgrind");
                c.arg("--tool=callgrind")
                    .arg("--instr-atstart=no")
                    .arg({
                        let mut a = std::ffi::OsString::from("--callgrind-out-file=");
                        a.push(out);
                        a
                    })
                    .arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let child = cmd
            .args([
                "--exact",
                "crash::crash_child_server",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{},{}", db.display(), sock.display()))
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Self(child);
        let deadline = Instant::now() + Duration::from_secs(300);
        while UnixStream::connect(sock).is_err() {
            assert!(Instant::now() < deadline, "child server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A blocking JSON-RPC client for the test.
struct Client {
    stream: UnixStream,
    values: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<UnixStream>, Value>,
    next_id: u64,
}

impl Client {
    fn connect(sock: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(sock)?;
        let reader = stream.try_clone()?;
        Ok(Self {
            stream,
            values: serde_json::Deserializer::from_reader(reader).into_iter(),
            next_id: 1,
        })
    }

    fn call(&mut self, method: &str, params: Value) -> Option<Value> {
        use std::io::Write;
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.stream.write_all(msg.to_string().as_bytes()).ok()?;
        loop {
            let v = self.values.next()?.ok()?;
            if v["id"] == json!(id) {
                return Some(v["result"].clone());
            }
        }
    }
}

fn txn(i: u64, durable: bool) -> Value {
    let name = format!("w{i}");
    json!(["Test",
        {"op": "insert", "table": "Child", "row": {"label": name, "value": 1}, "uuid-name": "c"},
        {"op": "insert", "table": "Parent", "row": {"name": name, "children": ["named-uuid", "c"]}},
        {"op": "mutate", "table": "Parent", "where": [["name", "==", "total"]],
         "mutations": [["opt_int", "+=", 1]]},
        {"op": "commit", "durable": durable}])
}

/// Checks the database state; returns the names present.
fn check(sock: &Path, acked: &BTreeSet<u64>) -> BTreeSet<u64> {
    let mut c = Client::connect(sock).unwrap();
    let r = c
        .call(
            "transact",
            json!(["Test",
                {"op": "select", "table": "Parent", "where": [], "columns": ["name", "children", "opt_int"]},
                {"op": "select", "table": "Child", "where": [], "columns": ["_uuid", "label"]}]),
        )
        .unwrap();
    let parents = r[0]["rows"].as_array().unwrap();
    let children = r[1]["rows"].as_array().unwrap();
    let mut present = BTreeSet::new();
    let mut total = None;
    for p in parents {
        let name = p["name"].as_str().unwrap();
        if name == "total" {
            total = p["opt_int"].as_i64();
            continue;
        }
        let i: u64 = name[1..].parse().unwrap();
        present.insert(i);
        // The child inserted by the same transaction is there, with the same label.
        let cu = &p["children"][1];
        let child = children
            .iter()
            .find(|c| &c["_uuid"][1] == cu)
            .unwrap_or_else(|| panic!("{name}: child missing (half-applied transaction)"));
        assert_eq!(child["label"], json!(name));
    }
    assert_eq!(children.len(), present.len(), "orphan or missing children");
    assert_eq!(
        total,
        Some(present.len() as i64),
        "counter disagrees with rows: half-applied"
    );
    let lost: Vec<&u64> = acked.difference(&present).collect();
    assert!(lost.is_empty(), "acknowledged transactions lost: {lost:?}");
    present
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let sock = dir.path().join("crash.sock");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(crate::harness::test_schema()).unwrap())
            .unwrap();
    FileStorage::create(&db, &schema).unwrap();
    {
        let _server = ChildServer::start(&db, &sock);
        let mut c = Client::connect(&sock).unwrap();
        let r = c
            .call(
                "transact",
                json!(["Test", {"op": "insert", "table": "Parent", "row": {"name": "total", "opt_int": 0}}]),
            )
            .unwrap();
        assert!(r[0]["uuid"].is_array(), "{r}");
    }
    let mut acked = BTreeSet::new();
    let mut next = 0u64;
    let mut kills = 0;
    let mut unacked_present = 0;
    for round in 0..22 {
        let mut server = ChildServer::start(&db, &sock);
        let present = check(&sock, &acked);
        unacked_present += present.difference(&acked).count();
        acked.extend(present.iter().copied());
        let start = next;
        let writer_sock = sock.clone();
        let writer = std::thread::spawn(move || {
            let mut done = Vec::new();
            let Ok(mut c) = Client::connect(&writer_sock) else {
                return done;
            };
            let mut i = start;
            loop {
                match c.call("transact", txn(i, i % 2 == 0)) {
                    Some(r)
                        if r[1]["uuid"].is_array()
                            && r.as_array()
                                .is_some_and(|a| a.iter().all(|x| x.get("error").is_none())) =>
                    {
                        done.push(i)
                    }
                    Some(r) => panic!("transaction {i} failed: {r}"),
                    None => return done,
                }
                i += 1;
                if i - start > 100_000 {
                    return done;
                }
            }
        });
        let delay = 20 + rand::random::<u64>() % 300;
        std::thread::sleep(Duration::from_millis(delay));
        server.kill();
        kills += 1;
        let done = writer.join().unwrap();
        next = done.last().map_or(start, |l| l + 1) + 1;
        acked.extend(done);
        if round % 5 == 0 {
            eprintln!("round {round}: {} acknowledged so far", acked.len());
        }
    }
    let _server = ChildServer::start(&db, &sock);
    let present = check(&sock, &acked);
    assert!(kills >= 20);
    assert!(acked.len() > 20, "too little load: {}", acked.len());
    eprintln!(
        "{kills} SIGKILLs, {} acknowledged transactions all present, {} in flight found applied, {} rows",
        acked.len(),
        unacked_present,
        present.len()
    );
}
