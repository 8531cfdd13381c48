//! `ovnkit ovsdb-client` against a real ovsdb-server: list-dbs, get-schema, transact, dump and
//! monitor with a remote list whose first entry is dead.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Kills the child on drop, also when the test panics.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ovnkit(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ovnkit"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ovnkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ovsdb_client_commands_against_a_real_server() {
    let ovn = testkit::require_or_skip!();
    let mut sb = ovn.sandbox().unwrap();
    let schema = ovn.schema(testkit::Schema::Northbound).unwrap();
    let server = sb.start_ovsdb_server("nb", &schema).unwrap();
    let remotes = format!("unix:{}/dead.sock,{}", sb.dir().display(), server.remote());

    assert_eq!(
        ovnkit(&["ovsdb-client", "list-dbs", &remotes]),
        "OVN_Northbound\n_Server\n"
    );
    let got: Value =
        serde_json::from_str(&ovnkit(&["ovsdb-client", "get-schema", &remotes])).unwrap();
    assert_eq!(got["name"], json!("OVN_Northbound"));

    let txn = json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch",
        "row": {"name": "sw0", "external_ids": ["map", [["k8s.ovn.org/id", "x"]]]}}]);
    let r: Value = serde_json::from_str(&ovnkit(&[
        "ovsdb-client",
        "--leader-only",
        "transact",
        &remotes,
        &txn.to_string(),
    ]))
    .unwrap();
    let uuid = r[0]["uuid"][1].as_str().unwrap().to_owned();

    let dump: Value = serde_json::from_str(&ovnkit(&[
        "ovsdb-client",
        "dump",
        &remotes,
        "OVN_Northbound",
        "Logical_Switch",
        "name",
    ]))
    .unwrap();
    assert_eq!(
        dump,
        json!({"Logical_Switch": {uuid.clone(): {"name": "sw0"}}})
    );
    let all: Value = serde_json::from_str(&ovnkit(&["ovsdb-client", "dump", &remotes])).unwrap();
    assert_eq!(all.as_object().unwrap().len(), 30, "every NB table");

    let mut mon = Kill(
        Command::new(env!("CARGO_BIN_EXE_ovnkit"))
            .args([
                "ovsdb-client",
                "monitor",
                &remotes,
                "Logical_Switch",
                "name",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(mon.0.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        first,
        json!({"table": "Logical_Switch", "uuid": uuid, "kind": "insert", "row": {"name": "sw0"}})
    );
    let del = json!(["OVN_Northbound", {"op": "delete", "table": "Logical_Switch", "where": []}]);
    ovnkit(&["ovsdb-client", "transact", &remotes, &del.to_string()]);
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["kind"], json!("delete"));
    drop(mon);

    let out = Command::new(env!("CARGO_BIN_EXE_ovnkit"))
        .args(["ovsdb-client", "dump", &remotes, "Nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no table Nope"));
}
