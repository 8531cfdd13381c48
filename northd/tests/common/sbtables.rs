//! Whole-Southbound comparison with real ovn-northd 23.03 (used by `parity_sbtables` and, with
//! `PARITY_SBTABLES=1`, by every scenario of [`super::scenario_on`]): after real ovn-northd
//! compiled an NB on a real stack, our northd compiles the same NB into an empty in-memory SB
//! (holding copies of the stack's `Chassis`, `Encap` and `Chassis_Private` rows) and applies
//! its transaction (three runs: the third must plan nothing); then every SB table is dumped from
//! both (one `select` per table) and compared row by row.
//!
//! Rows are compared in a canonical text form: UUIDs are replaced by a label of the row they
//! name (a datapath by its name, a port binding by its logical port, a chassis by its name,
//! any other row by its own canonical text), datapath tunnel keys by datapath names (also
//! inside `_rtr_lb_<key>_` address set names and `<key>_` port group names), and sets of one
//! element equal the element. Left out: tables and columns that ovn-controller (or an
//! administrator) writes, port tunnel keys (allocated in a different order; flows name ports),
//! BFD source ports and discriminators (allocated in NB order, random), and `Logical_Flow`
//! `external_ids:source` (the C source line that made the flow) and `external_ids:stage-hint`
//! (the NB row a flow comes from, for `ovn-detrace`: ours writes none; `SBTABLES_HINTS=1`
//! compares them too). `SBTABLES_COUNTS=1` prints the real row count of each table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::process::Command;

use northd::diff::{plan, SbRows};
use northd::embedded::nb_cfg_update;
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

use super::nb_snapshot;

/// Tables ovn-controller, an administrator or the IC daemons write (never ovn-northd).
const NOT_NORTHD: &[&str] = &[
    "Chassis",
    "Chassis_Private",
    "Encap",
    "MAC_Binding",
    "FDB",
    "Controller_Event",
    "Connection",
    "SSL",
    "IGMP_Group",
];

/// Tables copied from the real SB into ours before our northd runs.
const COPIED: &[&str] = &["Encap", "Chassis", "Chassis_Private"];

/// Columns left out, by table: written by ovn-controller, or renamed through other columns.
fn ignored(table: &str, column: &str) -> bool {
    matches!(
        (table, column),
        (
            "Port_Binding",
            "chassis"
                | "additional_chassis"
                | "encap"
                | "additional_encap"
                | "up"
                | "virtual_parent"
                | "tunnel_key"
        ) | ("Datapath_Binding", "tunnel_key")
            | ("HA_Chassis_Group", "ref_chassis")
            | ("Service_Monitor", "status")
            | ("BFD", "src_port" | "disc")
            | ("IP_Multicast", "seq_no")
            | ("SB_Global", "nb_cfg" | "connections" | "ssl")
    )
}

/// The SB table names of the schema.
fn sb_tables() -> Vec<String> {
    ovn_sb::model::schema()
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect()
}

/// One `select` per table, as a `transact` params array.
fn select_all(tables: &[String]) -> Value {
    let mut ops = vec![json!("OVN_Southbound")];
    ops.extend(
        tables
            .iter()
            .map(|t| json!({"op": "select", "table": t, "where": []})),
    );
    Value::Array(ops)
}

/// Table name to rows, from the results of [`select_all`].
type Dump = BTreeMap<String, Vec<serde_json::Map<String, Value>>>;

fn dump_from_results(tables: &[String], results: &Value) -> Dump {
    let results = results.as_array().expect("results array");
    tables
        .iter()
        .zip(results)
        .map(|(t, r)| {
            let rows = r["rows"]
                .as_array()
                .unwrap_or_else(|| panic!("select {t}: {r}"))
                .iter()
                .map(|row| row.as_object().expect("row").clone())
                .collect();
            (t.clone(), rows)
        })
        .collect()
}

/// Every SB table of the real stack (`ovsdb-client transact`).
fn real_dump(stack: &testkit::Stack, tables: &[String]) -> Dump {
    let out = Command::new("ovsdb-client")
        .args([
            "transact",
            stack.sb_remote(),
            &select_all(tables).to_string(),
        ])
        .output()
        .expect("ovsdb-client");
    assert!(
        out.status.success(),
        "ovsdb-client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&out.stdout).expect("transact reply");
    dump_from_results(tables, &results)
}

pub fn transact(db: &mut Database, params: &Value) -> Value {
    match db.transact(params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            if let Some(e) = northd::embedded::first_error(&results) {
                panic!("transaction failed: {e}");
            }
            results
        }
        TxnOutcome::Blocked { .. } => panic!("transaction blocked"),
    }
}

/// `["uuid", U]` of copied rows to `["named-uuid", ...]`, recursively.
fn to_named(v: &Value, copied: &HashSet<String>) -> Value {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => {
            let u = a[1].as_str().unwrap_or_default();
            if copied.contains(u) {
                json!(["named-uuid", format!("r{}", u.replace('-', "_"))])
            } else {
                json!(["set", []])
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| to_named(x, copied)).collect()),
        other => other.clone(),
    }
}

/// Our SB: the real dump's [`COPIED`] rows, then one run of our northd (the plan, `nb_cfg`),
/// dumped the same way. Also checks a second run plans nothing.
fn our_dump(stack: &testkit::Stack, real: &Dump, tables: &[String]) -> Dump {
    let mut db = Database::new(ovn_sb::model::schema().clone());
    let copied: HashSet<String> = COPIED
        .iter()
        .flat_map(|t| &real[*t])
        .filter_map(|r| r["_uuid"][1].as_str().map(str::to_owned))
        .collect();
    let mut ops = vec![json!("OVN_Southbound")];
    for t in COPIED {
        for r in &real[*t] {
            let u = r["_uuid"][1].as_str().unwrap_or_default();
            let mut row = serde_json::Map::new();
            for (c, v) in r {
                if !c.starts_with('_') {
                    row.insert(c.clone(), to_named(v, &copied));
                }
            }
            ops.push(json!({"op": "insert", "table": t, "row": row,
                            "uuid-name": format!("r{}", u.replace('-', "_"))}));
        }
    }
    transact(&mut db, &Value::Array(ops));

    let snapshot = nb_snapshot(stack);
    let nb_cfg = snapshot.nb_global.as_ref().map_or(0, |g| g.nb_cfg);
    // The first run inserts `SB_Global`, the second sets its `nb_cfg`, the third must have
    // nothing left to do.
    for round in 0..3 {
        let current = SbRows::from_database(&db).expect("SB rows");
        let content = northd::build(&snapshot, &current.state());
        let mut txn = plan(&current, &content).expect("plan");
        if current
            .sb_global
            .as_ref()
            .is_some_and(|g| g.nb_cfg != nb_cfg)
        {
            txn.push_json(nb_cfg_update(nb_cfg));
        }
        if round == 2 {
            assert!(
                txn.is_empty(),
                "second run is not a no-op: {:?}",
                txn.ops_json()
            );
            break;
        }
        if !txn.is_empty() {
            transact(&mut db, &txn.to_value().expect("txn json"));
        }
    }
    let results = transact(&mut db, &select_all(tables));
    dump_from_results(tables, &results)
}

/// Canonical row texts of a dump, by table (a multiset: text to count).
struct Canon<'a> {
    dump: &'a Dump,
    /// UUID to (table, row).
    by_uuid: HashMap<String, (&'a str, &'a serde_json::Map<String, Value>)>,
    labels: HashMap<String, String>,
    busy: HashSet<String>,
    /// Datapath tunnel key to datapath name.
    dp_keys: BTreeMap<String, String>,
}

impl<'a> Canon<'a> {
    fn new(dump: &'a Dump) -> Self {
        let mut by_uuid = HashMap::new();
        for (t, rows) in dump {
            for r in rows {
                if let Some(u) = r["_uuid"][1].as_str() {
                    by_uuid.insert(u.to_owned(), (t.as_str(), r));
                }
            }
        }
        let dp_keys = dump["Datapath_Binding"]
            .iter()
            .map(|d| (d["tunnel_key"].to_string(), dp_name(d)))
            .collect();
        Self {
            dump,
            by_uuid,
            labels: HashMap::new(),
            busy: HashSet::new(),
            dp_keys,
        }
    }

    /// `_rtr_lb_<key>_` and a leading `<key>_` (port groups) with the datapath's name.
    fn rekey(&self, table: &str, s: &str) -> String {
        const TAG: &str = "_rtr_lb_";
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(TAG) {
            out.push_str(&rest[..i + TAG.len()]);
            rest = &rest[i + TAG.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let key = &rest[..digits];
            out.push_str(self.dp_keys.get(key).map_or(key, String::as_str));
            rest = &rest[digits..];
        }
        out.push_str(rest);
        if table == "Port_Group" {
            if let Some((k, name)) = out.split_once('_') {
                if let Some(dp) = self.dp_keys.get(k) {
                    return format!("<{dp}>_{name}");
                }
            }
        }
        out
    }

    fn atom(&mut self, table: &str, v: &Value) -> String {
        match v {
            Value::Array(a) if a.len() == 2 && a[0] == "uuid" => {
                let u = a[1].as_str().unwrap_or_default().to_owned();
                self.label(&u)
            }
            Value::String(s) => format!("{:?}", self.rekey(table, s)),
            other => other.to_string(),
        }
    }

    fn cell(&mut self, table: &str, v: &Value) -> String {
        match v {
            Value::Array(a) if a.len() == 2 && a[0] == "set" => {
                let mut items: Vec<String> = a[1]
                    .as_array()
                    .map(|xs| xs.iter().map(|x| self.atom(table, x)).collect())
                    .unwrap_or_default();
                items.sort();
                if items.len() == 1 {
                    items.pop().unwrap_or_default()
                } else {
                    format!("[{}]", items.join(", "))
                }
            }
            Value::Array(a) if a.len() == 2 && a[0] == "map" => {
                let mut items: Vec<String> = a[1]
                    .as_array()
                    .map(|xs| {
                        xs.iter()
                            .map(|kv| {
                                format!("{}={}", self.atom(table, &kv[0]), self.atom(table, &kv[1]))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                items.sort();
                format!("{{{}}}", items.join(", "))
            }
            other => self.atom(table, other),
        }
    }

    fn row(&mut self, table: &str, r: &serde_json::Map<String, Value>) -> String {
        let mut cols: Vec<(&String, &Value)> = r
            .iter()
            .filter(|(c, _)| !c.starts_with('_') && !ignored(table, c))
            .collect();
        cols.sort_by(|a, b| a.0.cmp(b.0));
        let mut parts = Vec::new();
        for (c, v) in cols {
            let mut text = self.cell(table, v);
            if table == "Logical_Flow" && c == "external_ids" {
                // The C source line of the flow.
                text = drop_map_key(&text, "\"source\"");
                if std::env::var_os("SBTABLES_HINTS").is_none() {
                    text = drop_map_key(&text, "\"stage-hint\"");
                }
            }
            if text == "[]" || text == "{}" {
                continue;
            }
            parts.push(format!("{c}={text}"));
        }
        parts.join(" ")
    }

    fn label(&mut self, uuid: &str) -> String {
        if let Some(l) = self.labels.get(uuid) {
            return l.clone();
        }
        let Some(&(table, r)) = self.by_uuid.get(uuid) else {
            return "<dangling>".to_owned();
        };
        if !self.busy.insert(uuid.to_owned()) {
            return format!("<cycle {table}>");
        }
        let l = match table {
            "Datapath_Binding" => format!("<dp {}>", dp_name(r)),
            "Port_Binding" => format!("<pb {}>", r["logical_port"].as_str().unwrap_or_default()),
            "Chassis" => format!("<chassis {}>", r["name"].as_str().unwrap_or_default()),
            _ => format!("<{table} {}>", self.row(table, r)),
        };
        self.busy.remove(uuid);
        self.labels.insert(uuid.to_owned(), l.clone());
        l
    }

    fn tables(mut self) -> BTreeMap<String, BTreeMap<String, usize>> {
        let mut out = BTreeMap::new();
        let dump = self.dump;
        for (t, rows) in dump {
            if NOT_NORTHD.contains(&t.as_str()) {
                continue;
            }
            let m: &mut BTreeMap<String, usize> = out.entry(t.clone()).or_default();
            for r in rows {
                *m.entry(self.row(t, r)).or_default() += 1;
            }
        }
        out
    }
}

fn dp_name(d: &serde_json::Map<String, Value>) -> String {
    // external_ids as ["map", [[k, v]...]].
    d["external_ids"][1]
        .as_array()
        .and_then(|kvs| kvs.iter().find(|kv| kv[0] == "name"))
        .and_then(|kv| kv[1].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// `{a=1, key=2}` without `key=...`.
fn drop_map_key(map: &str, key: &str) -> String {
    let inner = map.trim_start_matches('{').trim_end_matches('}');
    let kept: Vec<&str> = inner
        .split(", ")
        .filter(|kv| !kv.starts_with(&format!("{key}=")) && !kv.is_empty())
        .collect();
    format!("{{{}}}", kept.join(", "))
}

/// Differences between the two dumps: per table, rows only one side has (at most `limit`
/// printed per side and table).
fn compare(real: &Dump, ours: &Dump, limit: usize) -> Vec<String> {
    let real = Canon::new(real).tables();
    let ours = Canon::new(ours).tables();
    if std::env::var_os("SBTABLES_COUNTS").is_some() {
        let counts: Vec<String> = real
            .iter()
            .map(|(t, rows)| format!("{t}={}", rows.values().sum::<usize>()))
            .collect();
        eprintln!("real rows: {}", counts.join(" "));
    }
    let mut out = Vec::new();
    let names: BTreeSet<&String> = real.keys().chain(ours.keys()).collect();
    let empty = BTreeMap::new();
    for t in names {
        let r = real.get(t).unwrap_or(&empty);
        let o = ours.get(t).unwrap_or(&empty);
        let diff = |a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>| -> Vec<String> {
            a.iter()
                .filter(|(k, n)| b.get(*k) != Some(n))
                .map(|(k, n)| format!("{k} (x{n}, other side x{})", b.get(k).unwrap_or(&0)))
                .collect()
        };
        let (ro, oo) = (diff(r, o), diff(o, r));
        if ro.is_empty() && oo.is_empty() {
            continue;
        }
        out.push(format!(
            "{t}: {} real rows, {} ours; {} real-only, {} ours-only",
            r.values().sum::<usize>(),
            o.values().sum::<usize>(),
            ro.len(),
            oo.len()
        ));
        for x in ro.iter().take(limit) {
            out.push(format!("  real-only: {x}"));
        }
        for x in oo.iter().take(limit) {
            out.push(format!("  ours-only: {x}"));
        }
    }
    out
}

/// Compares every SB table of `stack` (after real ovn-northd ran) with ours.
pub fn check_stack(stack: &testkit::Stack, limit: usize) -> Vec<String> {
    let tables = sb_tables();
    let real = real_dump(stack, &tables);
    let ours = our_dump(stack, &real, &tables);
    compare(&real, &ours, limit)
}

pub fn limit() -> usize {
    std::env::var("SBTABLES_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}
