//! `ovsdb-client` against our server and against a real ovsdb-server 3.1: the same commands give
//! the same output (UUIDs renamed).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{self, OurServer};

const NB: &str = "OVN_Northbound";

/// The transactions both servers run, in order.
fn transactions() -> Vec<String> {
    let t = |ops: &str| format!("[\"{NB}\",{ops}]");
    vec![
        t(
            r#"{"op":"insert","table":"Logical_Switch_Port","row":{"name":"p1","addresses":["set",["00:00:00:00:00:01 10.0.0.1"]],"tag_request":7},"uuid-name":"p1"},
             {"op":"insert","table":"Logical_Switch","row":{"name":"sw0","ports":["set",[["named-uuid","p1"]]],"other_config":["map",[["subnet","10.0.0.0/24"]]]}}"#,
        ),
        t(
            r#"{"op":"mutate","table":"Logical_Switch","where":[["name","==","sw0"]],"mutations":[["external_ids","insert",["map",[["a","b"]]]]]}"#,
        ),
        t(
            r#"{"op":"select","table":"Logical_Switch","where":[["name","==","sw0"]],"columns":["name","external_ids","other_config"]}"#,
        ),
        t(
            r#"{"op":"update","table":"Logical_Switch_Port","where":[["name","==","p1"]],"row":{"type":"bogus-but-free-text","dynamic_addresses":"x"}}"#,
        ),
        t(
            r#"{"op":"insert","table":"ACL","row":{"action":"nope","direction":"to-lport","match":"1","priority":1}}"#,
        ),
        t(
            r#"{"op":"insert","table":"Logical_Switch","row":{"name":"sw1"},"uuid-name":"a"},{"op":"insert","table":"Logical_Switch","row":{"name":"sw2"},"uuid-name":"a"}"#,
        ),
        t(r#"{"op":"delete","table":"Logical_Switch_Port","where":[]}"#),
        t(r#"{"op":"select","table":"Logical_Switch","where":[],"columns":["nosuch"]}"#),
        t(
            r#"{"op":"wait","table":"Logical_Switch","where":[],"columns":["name"],"until":"==","rows":[],"timeout":0}"#,
        ),
        t(r#"{"op":"assert","lock":"mylock"}"#),
        t(
            r#"{"op":"insert","table":"Logical_Router","row":{"name":"lr0","options":["map",[["chassis","ch1"]]]}},{"op":"comment","comment":"router"},{"op":"commit","durable":true}"#,
        ),
        t(
            r#"{"op":"update","table":"Logical_Switch","where":[["name","==","sw0"]],"row":{"other_config":["map",[["subnet","10.0.1.0/24"],["mcast_snoop","true"]]]}}"#,
        ),
        t(
            r#"{"op":"mutate","table":"Logical_Switch_Port","where":[],"mutations":[["tag_request","+",1]]},{"op":"select","table":"Logical_Switch_Port","where":[],"columns":["tag_request"]}"#,
        ),
        t(r#"{"op":"insert","table":"Logical_Switch","row":{"name":"sw3"}},{"op":"abort"}"#),
        t(r#"{"op":"delete","table":"Logical_Switch","where":[["name","==","sw0"]]}"#),
        t(r#"{"op":"select","table":"Logical_Switch_Port","where":[],"columns":["name"]}"#),
    ]
}

struct Monitor {
    child: Child,
}

impl Monitor {
    fn start(client: &Path, args: &[String]) -> Self {
        let child = Command::new(client)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        Self { child }
    }

    fn finish(mut self) -> String {
        std::thread::sleep(Duration::from_millis(700));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything one run prints, section by section.
fn session(client: &Path, remote: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let cmd = |label: &str, args: &[&str]| {
        let (ok, stdout, stderr) = harness::run(client, args, &[]);
        let text = if ok {
            stdout
        } else {
            format!("FAILED: {stderr}")
        };
        (label.to_owned(), text)
    };
    out.push(cmd("list-dbs", &["list-dbs", remote]));
    for db in [NB, "_Server"] {
        let (label, text) = cmd("get-schema", &["get-schema", remote, db]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        out.push((format!("{label} {db}"), format!("{v:#}")));
    }
    out.push(cmd("list-tables", &["list-tables", remote, NB]));
    out.push(cmd(
        "list-columns",
        &["list-columns", remote, NB, "Logical_Switch"],
    ));
    let mon_args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec!["monitor".to_owned(), remote.to_owned(), NB.to_owned()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let m1 = Monitor::start(
        client,
        &mon_args(&["Logical_Switch", "name,other_config,external_ids,ports"]),
    );
    let m2 = Monitor::start(
        client,
        &[
            "monitor-cond".to_owned(),
            remote.to_owned(),
            NB.to_owned(),
            r#"[["name","==","sw0"]]"#.to_owned(),
            "Logical_Switch".to_owned(),
            "name,other_config,external_ids".to_owned(),
        ],
    );
    let m3 = Monitor::start(
        client,
        &mon_args(&["Logical_Switch_Port", "name,tag_request,!delete"]),
    );
    let mut txn_out = String::new();
    for (i, t) in transactions().iter().enumerate() {
        let (ok, stdout, stderr) = harness::run(client, &["transact", remote, t], &[]);
        txn_out.push_str(&format!(
            "#{i} ok={ok}\n{stdout}{}\n",
            if ok { "" } else { &stderr }
        ));
    }
    out.push(("transact".into(), harness::rename_uuids(&txn_out)));
    let (_, dump) = cmd("dump", &["dump", remote, NB]);
    out.push(("dump".into(), harness::erase_uuids_sorted(&dump)));
    let (_, dump) = cmd(
        "dump",
        &["dump", remote, NB, "Logical_Router", "name", "options"],
    );
    out.push(("dump Logical_Router".into(), dump));
    let (_, dump) = cmd(
        "dump -f json",
        &["dump", "-f", "json", remote, NB, "Logical_Switch", "name"],
    );
    out.push(("dump -f json".into(), dump));
    out.push(("monitor".into(), harness::erase_uuids_sorted(&m1.finish())));
    out.push((
        "monitor-cond".into(),
        harness::erase_uuids_sorted(&m2.finish()),
    ));
    out.push((
        "monitor !delete".into(),
        harness::erase_uuids_sorted(&m3.finish()),
    ));
    let (_, d) = cmd(
        "_Server",
        &[
            "dump",
            remote,
            "_Server",
            "Database",
            "name",
            "model",
            "connected",
            "leader",
            "cid",
            "sid",
            "index",
        ],
    );
    out.push(("dump _Server".into(), d));
    out
}

fn client() -> Option<PathBuf> {
    harness::require_program("ovsdb-client", "openvswitch-common")
}

#[test]
fn ovsdb_client_output_matches_real_server() {
    let ovn = testkit::require_or_skip!();
    let Some(client) = client() else { return };
    let nb = harness::schema(&ovn, testkit::Schema::Northbound);
    let mut sandbox = ovn.sandbox().unwrap();
    let real = harness::real_server(&mut sandbox, "nb", &nb);
    let ours = OurServer::start(&[&nb]);
    let want = session(&client, &real.remote());
    let got = session(&client, &ours.remote());
    if std::env::var_os("OVNKIT_SHOW").is_some() {
        for (label, text) in &got {
            eprintln!("=== {label}\n{text}");
        }
    }
    let mut mismatches = Vec::new();
    for ((label, w), (_, g)) in want.iter().zip(&got) {
        if w != g {
            mismatches.push(format!("=== {label}\n--- real:\n{w}\n--- ours:\n{g}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} sections differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Sanity: the sessions did something.
    assert!(want
        .iter()
        .any(|(l, t)| l == "monitor" && t.contains("insert")));
    assert_eq!(want.len(), got.len());
}
