//! A pod like an existing one, added to an OVN-Kubernetes shape: what the pod-add benchmarks
//! (`northd/tests/incremental_scale.rs`, `cli/tests/northd_pod_add.rs`) write.

use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

/// The pod to copy: its row, node switch, and the address sets and port groups holding it.
pub struct Template {
    pub row: serde_json::Map<String, Value>,
    pub switch: String,
    pub sets: Vec<String>,
    pub groups: Vec<String>,
}

/// Every row of NB table `table` in `db`, as JSON.
pub fn select(db: &mut Database, table: &str) -> Vec<Value> {
    let p = json!(["OVN_Northbound", {"op": "select", "table": table, "where": []}]);
    match db.transact(&p, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            results[0]["rows"].as_array().cloned().unwrap_or_default()
        }
        TxnOutcome::Blocked { .. } => panic!("select blocked"),
    }
}

/// The members of a JSON set (or the one value).
pub fn set_members(v: &Value) -> Vec<Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(items)]) if tag == "set" => items.clone(),
        _ => vec![v.clone()],
    }
}

/// The template: pod `ns0_pod-0` (else the first plain port named like a pod) of `db`.
pub fn template(db: &mut Database) -> Template {
    let lsps = select(db, "Logical_Switch_Port");
    let pod = lsps
        .iter()
        .find(|r| r["name"] == "ns0_pod-0")
        .or_else(|| {
            lsps.iter()
                .find(|r| r["type"] == "" && r["name"].as_str().is_some_and(|n| n.contains("pod")))
        })
        .cloned()
        .expect("a pod port");
    let uuid = pod["_uuid"].clone();
    let ip = pod["addresses"]
        .as_str()
        .and_then(|a| a.split_whitespace().nth(1))
        .map(str::to_owned)
        .expect("pod address");
    let switch = select(db, "Logical_Switch")
        .into_iter()
        .find(|s| set_members(&s["ports"]).contains(&uuid))
        .and_then(|s| s["name"].as_str().map(str::to_owned))
        .expect("pod switch");
    let uuid_of = |r: &Value| r["_uuid"][1].as_str().map(str::to_owned);
    let sets = select(db, "Address_Set")
        .iter()
        .filter(|a| set_members(&a["addresses"]).contains(&json!(ip)))
        .filter_map(uuid_of)
        .collect();
    let groups = select(db, "Port_Group")
        .iter()
        .filter(|g| set_members(&g["ports"]).contains(&uuid))
        .filter_map(uuid_of)
        .collect();
    let mut row = pod.as_object().cloned().unwrap_or_default();
    for k in ["_uuid", "_version", "up", "dynamic_addresses"] {
        row.remove(k);
    }
    Template {
        row,
        switch,
        sets,
        groups,
    }
}

/// The NB transaction (params, database name first) adding pod `n` like `t`: its port, the
/// switch's `ports`, its IP in the address sets and its port in the port groups of the
/// template, and `NB_Global` `nb_cfg` set to `cfg` (or incremented when `None`).
pub fn pod_add(t: &Template, n: usize, cfg: Option<i64>) -> Vec<Value> {
    let mac = format!("0a:58:0a:ff:{:02x}:{:02x}", n / 256, n % 256);
    let ip = format!("10.255.{}.{}", n / 250, n % 250 + 2);
    let mut row = t.row.clone();
    row.insert("name".into(), json!(format!("ns0_bench-pod-{n}")));
    row.insert("addresses".into(), json!(format!("{mac} {ip}")));
    row.insert("port_security".into(), json!(format!("{mac} {ip}")));
    let mut ops = vec![
        json!("OVN_Northbound"),
        json!({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "pod", "row": row}),
        json!({"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", t.switch]],
               "mutations": [["ports", "insert", ["set", [["named-uuid", "pod"]]]]]}),
    ];
    for s in &t.sets {
        ops.push(json!({"op": "mutate", "table": "Address_Set",
                        "where": [["_uuid", "==", ["uuid", s]]],
                        "mutations": [["addresses", "insert", ip]]}));
    }
    for g in &t.groups {
        ops.push(json!({"op": "mutate", "table": "Port_Group",
                        "where": [["_uuid", "==", ["uuid", g]]],
                        "mutations": [["ports", "insert", ["set", [["named-uuid", "pod"]]]]]}));
    }
    ops.push(match cfg {
        Some(cfg) => {
            json!({"op": "update", "table": "NB_Global", "where": [], "row": {"nb_cfg": cfg}})
        }
        None => json!({"op": "mutate", "table": "NB_Global", "where": [],
                       "mutations": [["nb_cfg", "+=", 1]]}),
    });
    ops
}
