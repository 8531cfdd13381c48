//! Real ovsdb-server instances (standalone and a 3-member Raft cluster on unix sockets) for the client
//! tests, plus `ovsdb-client dump` parsing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use testkit::{Sandbox, Tool, Toolbox};

use ovsdb::client::{Connection, Remote};

pub(crate) const DB: &str = "Stress";

/// The test schema: `Item` rows carry a unique id (`uid`) that the schema does NOT index, so a
/// duplicate insert would be visible; `Named` has a schema index.
pub(crate) fn schema_json() -> Value {
    json!({
        "name": DB, "version": "1.0.0",
        "tables": {
            "Item": {"columns": {
                "uid": {"type": "integer"},
                "value": {"type": "string"},
                "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
                "ext": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                "opt": {"type": {"key": "integer", "min": 0, "max": 1}}
            }, "isRoot": true},
            "Named": {"columns": {"name": {"type": "string"}, "n": {"type": "integer"}},
                      "indexes": [["name"]], "isRoot": true}
        }
    })
}

pub(crate) fn write_schema(dir: &Path) -> PathBuf {
    let p = dir.join("stress.ovsschema");
    std::fs::write(&p, schema_json().to_string()).unwrap();
    p
}

/// `ovsdb-client`, next to `ovsdb-tool`; fails under CI=true when missing, else `None` (skip).
pub(crate) fn ovsdb_client(ovn: &Toolbox) -> Option<PathBuf> {
    let p = ovn
        .find(Tool::OvsdbTool)
        .ok()?
        .with_file_name("ovsdb-client");
    if p.exists() {
        return Some(p);
    }
    if ovn.is_ci() {
        panic!("ovsdb-client not found: install the Debian package openvswitch-common");
    }
    eprintln!("skipping: ovsdb-client not found (package openvswitch-common)");
    None
}

/// `ovsdb-client -f json --data=json dump REMOTE Stress` as `{table: {uuid: {column: value}}}`.
pub(crate) fn dump(client: &Path, remote: &str) -> Value {
    let out = Command::new(client)
        .args([
            "-f",
            "json",
            "--data=json",
            "--timeout=20",
            "dump",
            remote,
            DB,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tables = Map::new();
    for v in serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>() {
        let v = v.unwrap();
        let name = v["caption"]
            .as_str()
            .unwrap()
            .trim_end_matches(" table")
            .to_owned();
        let heads: Vec<String> = v["headings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        let mut rows = Map::new();
        for r in v["data"].as_array().unwrap() {
            let mut row = Map::new();
            let mut uuid = String::new();
            for (h, x) in heads.iter().zip(r.as_array().unwrap()) {
                if h == "_uuid" {
                    uuid = x[1].as_str().unwrap().to_owned();
                } else if h != "_version" {
                    row.insert(h.clone(), x.clone());
                }
            }
            rows.insert(uuid, Value::Object(row));
        }
        tables.insert(name, Value::Object(rows));
    }
    Value::Object(tables)
}

/// A 3-member Raft cluster, every member's client socket and Raft address a unix socket.
pub(crate) struct Cluster {
    pub(crate) dir: PathBuf,
    server: PathBuf,
    pub(crate) members: usize,
}

impl Cluster {
    pub(crate) fn create(sb: &mut Sandbox, members: usize) -> Self {
        let dir = sb.dir().to_path_buf();
        let schema = write_schema(&dir);
        let raft = |i: usize| format!("unix:{}", dir.join(format!("r{i}.raft")).display());
        let db = |i: usize| dir.join(format!("m{i}.db")).display().to_string();
        sb.run(
            Tool::OvsdbTool,
            [
                "--election-timer=1000",
                "create-cluster",
                &db(0),
                &schema.display().to_string(),
                &raft(0),
            ],
        )
        .unwrap();
        for i in 1..members {
            sb.run(
                Tool::OvsdbTool,
                ["join-cluster", &db(i), DB, &raft(i), &raft(0)],
            )
            .unwrap();
        }
        let c = Self {
            server: sb.toolbox().find(Tool::OvsdbServer).unwrap(),
            dir,
            members,
        };
        for i in 0..members {
            c.start(sb, i);
        }
        for i in 0..members {
            c.wait_serving(i, Duration::from_secs(30));
        }
        c
    }

    pub(crate) fn name(i: usize) -> String {
        format!("m{i}")
    }

    pub(crate) fn sock(&self, i: usize) -> PathBuf {
        self.dir.join(format!("m{i}.sock"))
    }

    pub(crate) fn remote(&self, i: usize) -> String {
        format!("unix:{}", self.sock(i).display())
    }

    pub(crate) fn remotes(&self) -> String {
        (0..self.members)
            .map(|i| self.remote(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn start(&self, sb: &mut Sandbox, i: usize) {
        let d = &self.dir;
        let args = vec![
            "--no-chdir".to_owned(),
            format!("--pidfile={}", d.join(format!("m{i}.pid")).display()),
            format!("--log-file={}", d.join(format!("m{i}.log")).display()),
            format!("--remote=punix:{}", self.sock(i).display()),
            format!("--unixctl={}", d.join(format!("m{i}.ctl")).display()),
            d.join(format!("m{i}.db")).display().to_string(),
        ];
        sb.start_program(&Self::name(i), &self.server, &args)
            .unwrap();
    }

    /// SIGKILL member `i` and reap it.
    pub(crate) fn kill(&self, sb: &mut Sandbox, i: usize) {
        let pid = sb.daemon(&Self::name(i)).unwrap().pid();
        let st = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        sb.stop(&Self::name(i));
    }

    pub(crate) fn wait_serving(&self, i: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.status(i).is_some() {
                return;
            }
            assert!(start.elapsed() < timeout, "member {i} did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// (leader, connected) from member `i`'s `_Server.Database` row, if it answers.
    pub(crate) fn status(&self, i: usize) -> Option<(bool, bool)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let remote = Remote::parse(&self.remote(i)).ok()?;
            let mut c = Connection::connect(&remote, Duration::from_secs(2), None).await.ok()?;
            let op = json!({"op": "select", "table": "Database", "where": [["name", "==", DB]], "columns": ["leader", "connected"]});
            let r = c.call_ok("transact", vec![json!("_Server"), op], Duration::from_secs(2)).await.ok()?;
            let row = &r[0]["rows"][0];
            Some((row["leader"].as_bool()?, row["connected"].as_bool()?))
        })
    }

    pub(crate) fn leader(&self, timeout: Duration) -> usize {
        let start = Instant::now();
        loop {
            for i in 0..self.members {
                if self.status(i) == Some((true, true)) {
                    return i;
                }
            }
            assert!(start.elapsed() < timeout, "no leader elected");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
