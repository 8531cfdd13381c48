//! Incremental processing equals a full recompute.
//!
//! A small OVN-Kubernetes cluster (3 nodes, made by the kube layer) is compiled into two
//! in-memory Southbound databases: one kept by full recomputes (`run_once`), one by an
//! incremental [`Engine`] (its `plan` applied after each step). Random sequences of pod adds
//! (with their namespace address set and a port group; also on the join switch, which has only
//! router ports, and with a router port's MAC), pod deletes, pod IP changes, address set edits
//! and port group edits are written to NB (each VIF binding has an `FDB` entry learned, as
//! ovn-controller would, so a pod delete must take its entry along); after each step both SB
//! databases must hold the same rows (compared by natural keys: datapath names instead of
//! UUIDs, every flow expanded per datapath), and the engine must have handled the step
//! incrementally.

mod shapes;

use std::collections::{BTreeMap, BTreeSet};

use northd::diff::{diff, SbRows};
use northd::incremental::{Engine, NbChange, PortUp, RowsLookup, Step};
use northd::{run_once, NbSnapshot};
use ovsdb::{Database, Row, TxnContext, TxnOutcome};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

fn transact(db: &mut Database, params: &Value) -> Value {
    match db.transact(params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            if let Some(e) = northd::embedded::first_error(&results) {
                panic!("transaction failed: {e}\n{params}");
            }
            results
        }
        TxnOutcome::Blocked { .. } => panic!("blocked"),
    }
}

fn select(db: &mut Database, table: &str, where_: Value) -> Vec<Value> {
    let r = transact(
        db,
        &json!([db.schema().name.clone(), {"op": "select", "table": table, "where": where_}]),
    );
    r[0]["rows"].as_array().cloned().unwrap_or_default()
}

type Tables = BTreeMap<String, ovsdb::db::RowMap>;

fn nb_tables(db: &Database) -> Tables {
    NbSnapshot::TABLES
        .iter()
        .map(|t| ((*t).to_owned(), db.rows(t).cloned().unwrap_or_default()))
        .collect()
}

/// One step's NB edit.
#[derive(Debug, Clone)]
enum Edit {
    /// A pod on node `node % nodes`, in the address set and (maybe) the port group picked.
    AddPod {
        node: usize,
        set: usize,
        group: Option<usize>,
    },
    /// A pod on the join switch (until then only router ports: whether the switch floods ARP
    /// requests to ordinary ports changes), on the routers' join network.
    AddJoinPod,
    /// A pod on node `node % nodes` whose MAC is a router port's (the routers' other flows
    /// resolve next hops to that MAC).
    AddPodRouterMac { node: usize },
    /// Delete the pod picked (and its address from the address set picked).
    DelPod { pod: usize, set: usize },
    /// New IP (and MAC) for the pod picked.
    ChangeIp { pod: usize },
    /// Add or remove an address of the address set picked.
    SetAddresses { set: usize, add: bool },
    /// Add or remove the pod picked from the port group picked.
    GroupPorts { group: usize, pod: usize, add: bool },
    /// The IP of pod `from` (and a new MAC) for pod `pod`: two ports with one IP, so that a
    /// port group's address set keeps an IP one of them takes away.
    CopyIp { pod: usize, from: usize },
    /// `up` of the pod picked (`None`: the column emptied), as northd's own write-back does;
    /// the engine takes such a row through [`Engine::set_ports_up`] (as `ovnkit northd`).
    SetUp { pod: usize, up: Option<bool> },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (0..8usize, 0..8usize, proptest::option::of(0..8usize))
            .prop_map(|(node, set, group)| Edit::AddPod { node, set, group }),
        1 => Just(Edit::AddJoinPod),
        1 => (0..8usize).prop_map(|node| Edit::AddPodRouterMac { node }),
        2 => (0..64usize, 0..8usize).prop_map(|(pod, set)| Edit::DelPod { pod, set }),
        2 => (0..64usize).prop_map(|pod| Edit::ChangeIp { pod }),
        1 => (0..8usize, any::<bool>()).prop_map(|(set, add)| Edit::SetAddresses { set, add }),
        2 => (0..8usize, 0..64usize, any::<bool>())
            .prop_map(|(group, pod, add)| Edit::GroupPorts { group, pod, add }),
        1 => (0..64usize, 0..64usize).prop_map(|(pod, from)| Edit::CopyIp { pod, from }),
        1 => (0..64usize, proptest::option::of(any::<bool>()))
            .prop_map(|(pod, up)| Edit::SetUp { pod, up }),
    ]
}

struct Cluster {
    nb: Database,
    /// A pod port row (JSON, no `_uuid`) to copy.
    template: serde_json::Map<String, Value>,
    /// Node switch names.
    nodes: Vec<String>,
    next: u32,
}

impl Cluster {
    fn new() -> Self {
        let mut nb = shapes::ovnk::build(shapes::ovnk::Scale {
            nodes: 3,
            pods_per_node: 3,
            services: 3,
            policies: 3,
            egress_ips: 1,
        });
        if select(&mut nb, "NB_Global", json!([])).is_empty() {
            transact(
                &mut nb,
                &json!(["OVN_Northbound", {"op": "insert", "table": "NB_Global", "row": {}}]),
            );
        }
        let pods = Self::pods_of(&mut nb);
        let mut template = pods[0].as_object().cloned().expect("a pod port");
        for k in ["_uuid", "_version", "up", "dynamic_addresses"] {
            template.remove(k);
        }
        let nodes = select(&mut nb, "Logical_Switch", json!([]))
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .filter(|n| n.starts_with("node-"))
            .collect();
        Self {
            nb,
            template,
            nodes,
            next: 0,
        }
    }

    fn pods_of(nb: &mut Database) -> Vec<Value> {
        let mut v: Vec<Value> = select(nb, "Logical_Switch_Port", json!([]))
            .into_iter()
            .filter(|r| r["type"] == "" && r["name"].as_str().is_some_and(|n| n.contains("_pod")))
            .collect();
        v.sort_by_key(|r| r["name"].as_str().map(str::to_owned));
        v
    }

    fn uuids(&mut self, table: &str) -> Vec<String> {
        let mut v: Vec<String> = select(&mut self.nb, table, json!([]))
            .iter()
            .filter_map(|r| r["_uuid"][1].as_str().map(str::to_owned))
            .collect();
        v.sort();
        v
    }

    fn fresh_addr(&mut self) -> (String, String) {
        self.next += 1;
        let n = self.next;
        (
            format!("0a:58:0a:99:{:02x}:{:02x}", n / 256, n % 256),
            format!("10.99.{}.{}", n / 250, n % 250 + 2),
        )
    }

    /// Writes `e` to NB with an `nb_cfg` bump; false when it did not apply (nothing to pick).
    fn apply(&mut self, e: &Edit) -> bool {
        let mut ops = vec![json!("OVN_Northbound")];
        let sets = self.uuids("Address_Set");
        let groups = self.uuids("Port_Group");
        let pods = Self::pods_of(&mut self.nb);
        let pod_uuid = |i: usize| -> Option<(String, Value)> {
            let p = pods.get(i % pods.len().max(1))?;
            Some((p["_uuid"][1].as_str()?.to_owned(), p.clone()))
        };
        match e {
            Edit::AddPod { node, set, group } => {
                let (mac, ip) = self.fresh_addr();
                let mut row = self.template.clone();
                row.insert("name".into(), json!(format!("ns0_pod-new{}", self.next)));
                row.insert("addresses".into(), json!(format!("{mac} {ip}")));
                row.insert("port_security".into(), json!(format!("{mac} {ip}")));
                let node = &self.nodes[node % self.nodes.len()];
                row.insert(
                    "options".into(),
                    json!(["map", [["requested-chassis", node]]]),
                );
                ops.push(json!({"op": "insert", "table": "Logical_Switch_Port",
                                "uuid-name": "p", "row": row}));
                ops.push(json!({"op": "mutate", "table": "Logical_Switch",
                                "where": [["name", "==", node]],
                                "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}));
                if let Some(s) = sets.get(set % sets.len().max(1)) {
                    ops.push(json!({"op": "mutate", "table": "Address_Set",
                                    "where": [["_uuid", "==", ["uuid", s]]],
                                    "mutations": [["addresses", "insert", ip]]}));
                }
                if let Some(g) = group.and_then(|g| groups.get(g % groups.len().max(1))) {
                    ops.push(json!({"op": "mutate", "table": "Port_Group",
                                    "where": [["_uuid", "==", ["uuid", g]]],
                                    "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}));
                }
            }
            Edit::AddJoinPod | Edit::AddPodRouterMac { .. } => {
                let (mut mac, _) = self.fresh_addr();
                let (switch, ip) = match e {
                    Edit::AddPodRouterMac { node } => {
                        let lrps = select(&mut self.nb, "Logical_Router_Port", json!([]));
                        if let Some(m) = lrps.iter().filter_map(|r| r["mac"].as_str()).min() {
                            mac = m.to_owned();
                        }
                        let ip = self.fresh_addr().1;
                        (self.nodes[node % self.nodes.len()].clone(), ip)
                    }
                    _ => (
                        "join".to_owned(),
                        format!("100.64.250.{}", self.next % 250 + 2),
                    ),
                };
                let mut row = self.template.clone();
                row.insert("name".into(), json!(format!("ns0_pod-x{}", self.next)));
                row.insert("addresses".into(), json!(format!("{mac} {ip}")));
                row.insert("port_security".into(), json!(format!("{mac} {ip}")));
                row.remove("options");
                ops.push(json!({"op": "insert", "table": "Logical_Switch_Port",
                                "uuid-name": "p", "row": row}));
                ops.push(json!({"op": "mutate", "table": "Logical_Switch",
                                "where": [["name", "==", switch]],
                                "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}));
            }
            Edit::DelPod { pod, set } => {
                let Some((u, row)) = pod_uuid(*pod) else {
                    return false;
                };
                ops.push(
                    json!({"op": "mutate", "table": "Logical_Switch", "where": [],
                                "mutations": [["ports", "delete", ["uuid", u]]]}),
                );
                if let (Some(s), Some(ip)) = (
                    sets.get(set % sets.len().max(1)),
                    row["addresses"]
                        .as_str()
                        .and_then(|a| a.split_whitespace().nth(1)),
                ) {
                    ops.push(json!({"op": "mutate", "table": "Address_Set",
                                    "where": [["_uuid", "==", ["uuid", s]]],
                                    "mutations": [["addresses", "delete", ip]]}));
                }
            }
            Edit::ChangeIp { pod } => {
                let Some((u, _)) = pod_uuid(*pod) else {
                    return false;
                };
                let (mac, ip) = self.fresh_addr();
                ops.push(json!({"op": "update", "table": "Logical_Switch_Port",
                                "where": [["_uuid", "==", ["uuid", u]]],
                                "row": {"addresses": format!("{mac} {ip}"),
                                        "port_security": format!("{mac} {ip}")}}));
            }
            Edit::CopyIp { pod, from } => {
                let (Some((u, _)), Some((_, src))) = (pod_uuid(*pod), pod_uuid(*from)) else {
                    return false;
                };
                let Some(ip) = src["addresses"]
                    .as_str()
                    .and_then(|a| a.split_whitespace().nth(1))
                    .map(str::to_owned)
                else {
                    return false;
                };
                let (mac, _) = self.fresh_addr();
                ops.push(json!({"op": "update", "table": "Logical_Switch_Port",
                                "where": [["_uuid", "==", ["uuid", u]]],
                                "row": {"addresses": format!("{mac} {ip}"),
                                        "port_security": format!("{mac} {ip}")}}));
            }
            Edit::SetUp { pod, up } => {
                let Some((u, row)) = pod_uuid(*pod) else {
                    return false;
                };
                let v = match up {
                    Some(b) => json!(b),
                    None => json!(["set", []]),
                };
                if row["up"] == v {
                    // Nothing would change.
                    return false;
                }
                ops.push(json!({"op": "update", "table": "Logical_Switch_Port",
                                "where": [["_uuid", "==", ["uuid", u]]],
                                "row": {"up": v}}));
            }
            Edit::SetAddresses { set, add } => {
                let Some(s) = sets.get(set % sets.len().max(1)) else {
                    return false;
                };
                let ip = if *add {
                    self.fresh_addr().1
                } else {
                    let rows = select(
                        &mut self.nb,
                        "Address_Set",
                        json!([["_uuid", "==", ["uuid", s]]]),
                    );
                    let a = &rows[0]["addresses"];
                    let first = match a {
                        Value::String(s) => Some(s.clone()),
                        Value::Array(v) => v
                            .get(1)
                            .and_then(Value::as_array)
                            .and_then(|x| x.first())
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        _ => None,
                    };
                    let Some(f) = first else { return false };
                    f
                };
                let op = if *add { "insert" } else { "delete" };
                ops.push(json!({"op": "mutate", "table": "Address_Set",
                                "where": [["_uuid", "==", ["uuid", s]]],
                                "mutations": [["addresses", op, ip]]}));
            }
            Edit::GroupPorts { group, pod, add } => {
                let (Some(g), Some((u, _))) =
                    (groups.get(group % groups.len().max(1)), pod_uuid(*pod))
                else {
                    return false;
                };
                let op = if *add { "insert" } else { "delete" };
                ops.push(json!({"op": "mutate", "table": "Port_Group",
                                "where": [["_uuid", "==", ["uuid", g]]],
                                "mutations": [["ports", op, ["set", [["uuid", u]]]]]}));
            }
        }
        ops.push(json!({"op": "mutate", "table": "NB_Global", "where": [],
                        "mutations": [["nb_cfg", "+=", 1]]}));
        transact(&mut self.nb, &Value::Array(ops));
        true
    }
}

/// The changed rows between two NB states.
/// The engine's view of `changes`' rows, with their tables' schemas from `schema`.
fn nb_changes<'a>(
    rows: &'a [(String, Uuid, Option<&'a Row>)],
    schema: &'a ovsdb::Schema,
) -> Vec<NbChange<'a>> {
    rows.iter()
        .map(|(t, u, r)| NbChange {
            table: t,
            uuid: *u,
            row: r.map(|r| (r, schema.table(t).expect("table"))),
        })
        .collect()
}

fn changes<'a>(
    db: &'a Database,
    before: &Tables,
    after: &'a Tables,
) -> Vec<(String, Uuid, Option<&'a Row>)> {
    let mut out = Vec::new();
    for (t, rows) in after {
        let old = before.get(t);
        for (u, r) in rows {
            if old
                .and_then(|o| o.get(u))
                .is_none_or(|o| o.fields != r.fields)
            {
                out.push((t.clone(), *u, Some(&**r)));
            }
        }
        for u in old.into_iter().flat_map(|o| o.keys()) {
            if !rows.contains_key(u) {
                out.push((t.clone(), *u, None));
            }
        }
    }
    let _ = db;
    out
}

/// SB content by natural keys, as comparable strings.
fn normalized(sb: &Database) -> BTreeSet<String> {
    let rows = SbRows::from_database(sb).expect("SB rows");
    let dp_name: BTreeMap<Uuid, String> = rows
        .datapaths
        .values()
        .map(|d| {
            (
                d.uuid.uuid(),
                d.external_ids.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let pb_name: BTreeMap<Uuid, String> = rows
        .ports
        .values()
        .map(|p| (p.uuid.uuid(), p.logical_port.clone()))
        .collect();
    let mut out = BTreeSet::new();
    for d in rows.datapaths.values() {
        out.insert(format!(
            "DP {} {} {:?}",
            d.tunnel_key,
            dp_name[&d.uuid.uuid()],
            d.external_ids
        ));
    }
    for p in rows.ports.values() {
        out.insert(format!(
            "PB {} dp={} key={} type={} mac={:?} ps={:?} opts={:?} ids={:?} parent={:?} tag={:?} nat={:?} req={:?}/{:?} ha={:?}",
            p.logical_port,
            dp_name.get(&p.datapath.uuid()).cloned().unwrap_or_default(),
            p.tunnel_key,
            p.type_,
            p.mac,
            p.port_security,
            p.options,
            p.external_ids,
            p.parent_port,
            p.tag,
            p.nat_addresses,
            p.requested_chassis,
            p.requested_additional_chassis,
            p.ha_chassis_group.is_some(),
        ));
    }
    for m in rows.multicast_groups.values() {
        let ports: BTreeSet<String> = m
            .ports
            .iter()
            .map(|p| {
                pb_name
                    .get(&p.uuid())
                    .cloned()
                    .unwrap_or_else(|| "?".into())
            })
            .collect();
        out.insert(format!(
            "MC {} {} {} {:?}",
            dp_name.get(&m.datapath.uuid()).cloned().unwrap_or_default(),
            m.name,
            m.tunnel_key,
            ports
        ));
    }
    for f in rows.fdbs.values() {
        out.insert(format!("FDB {} {} {}", f.mac, f.dp_key, f.port_key));
    }
    for a in rows.address_sets.values() {
        out.insert(format!("AS {} {:?}", a.name, a.addresses));
    }
    for g in rows.port_groups.values() {
        out.insert(format!("PG {} {:?}", g.name, g.ports));
    }
    for m in rows.ip_multicast.values() {
        out.insert(format!(
            "IPM {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            dp_name.get(&m.datapath.uuid()).cloned().unwrap_or_default(),
            m.enabled,
            m.querier,
            m.eth_src,
            m.ip4_src,
            m.ip6_src,
            m.table_size,
            m.idle_timeout,
            m.query_interval,
            m.query_max_resp
        ));
    }
    for l in rows.load_balancers.values() {
        out.insert(format!("LB {} {:?} {:?}", l.name, l.vips, l.options));
    }
    for f in rows.logical_flows.values() {
        let dps: Vec<Uuid> = match (&f.logical_datapath, &f.logical_dp_group) {
            (Some(d), _) => vec![d.uuid()],
            (None, Some(g)) => rows
                .dp_groups
                .get(g)
                .map(|g| g.datapaths.iter().map(|d| d.uuid()).collect())
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        for d in dps {
            out.insert(format!(
                "LF {} {} {} {} {} || {} {:?}",
                dp_name.get(&d).cloned().unwrap_or_default(),
                f.pipeline.as_str(),
                f.table_id,
                f.priority,
                f.match_,
                f.actions,
                f.external_ids
            ));
        }
    }
    out
}

fn sb_db() -> Database {
    Database::new(ovn_sb::model::schema().clone())
}

/// Applies the engine's plan for `delta` to `sb`.
fn write_plan(engine: &Engine, delta: &northd::incremental::Delta, sb: &mut Database) -> usize {
    let rows = SbRows::from_database(sb).expect("SB rows");
    let ops = engine.plan(delta, &RowsLookup::new(&rows)).expect("plan");
    let n = ops.len();
    if n > 0 {
        let mut params = vec![json!("OVN_Southbound")];
        params.extend(ops);
        transact(sb, &Value::Array(params));
    }
    n
}

/// What ovn-controller does when a VIF sends a frame with `localnet_learn_fdb` or `unknown`
/// addresses: an `FDB` row per VIF binding (its datapath's and its own tunnel key), so a pod
/// delete must take its entry with it.
fn learn_fdbs(sb: &mut Database) {
    let rows = SbRows::from_database(sb).expect("SB rows");
    let known: BTreeSet<(i64, i64)> = rows.fdbs.values().map(|f| (f.dp_key, f.port_key)).collect();
    let mut ops = vec![json!("OVN_Southbound")];
    for p in rows.ports.values().filter(|p| p.type_.is_empty()) {
        let Some(d) = rows.datapaths.get(&p.datapath) else {
            continue;
        };
        let (dk, pk) = (d.tunnel_key, p.tunnel_key);
        if known.contains(&(dk, pk)) {
            continue;
        }
        ops.push(json!({"op": "insert", "table": "FDB", "row": {
            "mac": format!(
                "0a:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (dk >> 8) & 255, dk & 255, (pk >> 8) & 255, pk & 255
            ),
            "dp_key": dk,
            "port_key": pk,
        }}));
    }
    if ops.len() > 1 {
        transact(sb, &Value::Array(ops));
    }
}

fn check_sequence(edits: &[Edit]) {
    let mut c = Cluster::new();
    let mut sb_full = sb_db();
    run_once(&c.nb, &mut sb_full).expect("full run");
    // The incremental side starts from its own full compile into an empty SB.
    let mut sb_inc = sb_db();
    let current = SbRows::from_database(&sb_inc).expect("rows");
    let mut engine = Engine::new(
        NbSnapshot::from_database(&c.nb).expect("snapshot"),
        current.state(),
    );
    let mut params = vec![json!("OVN_Southbound")];
    params.extend(diff(&current, engine.content()).expect("diff"));
    transact(&mut sb_inc, &Value::Array(params));
    engine.release_content();
    let norm_full = normalized(&sb_full);
    assert_eq!(normalized(&sb_inc), norm_full, "initial compile");
    assert!(norm_full.iter().any(|s| s.starts_with("LF ")));

    for (i, e) in edits.iter().enumerate() {
        learn_fdbs(&mut sb_full);
        learn_fdbs(&mut sb_inc);
        let before = nb_tables(&c.nb);
        if !c.apply(e) {
            continue;
        }
        let after = nb_tables(&c.nb);
        let mut rows = changes(&c.nb, &before, &after);
        let schema = c.nb.schema().clone();
        // Switch ports whose `up` alone changed go to `set_ports_up`, as `ovnkit northd`
        // sends them.
        let lsp = schema.table("Logical_Switch_Port").expect("table");
        let up_col = lsp.column_index("up").expect("up");
        let mut ups = Vec::new();
        rows.retain(|(t, u, r)| {
            let (Some(new), Some(old)) = (r, before.get(t).and_then(|o| o.get(u))) else {
                return true;
            };
            let only_up = t == "Logical_Switch_Port"
                && (2..new.fields.len()).all(|c| c == up_col || old.fields[c] == new.fields[c]);
            if only_up {
                ups.push(PortUp {
                    uuid: *u,
                    version: new.fields[1].first().and_then(ovsdb::Atom::as_uuid),
                    up: match new.fields[up_col].first() {
                        Some(ovsdb::Atom::Boolean(b)) => Some(*b),
                        _ => None,
                    },
                });
            }
            !only_up
        });
        if matches!(e, Edit::SetUp { .. }) {
            assert_eq!(ups.len(), 1, "{e:?}: one port changed in up alone");
        }
        let ch = nb_changes(&rows, &schema);
        let step = engine.apply(&ch).expect("apply");
        let Step::Applied(delta) = step else {
            panic!("step {i} ({e:?}) was not handled incrementally");
        };
        engine
            .set_ports_up(&ups)
            .unwrap_or_else(|why| panic!("step {i} ({e:?}): {why}"));
        // The engine's ports are the NB's (`up` included).
        let full_snapshot = NbSnapshot::from_database(&c.nb).expect("snapshot");
        assert_eq!(
            engine.nb().switch_ports,
            full_snapshot.switch_ports,
            "step {i} ({e:?}): switch ports"
        );
        let prev = normalized(&sb_inc);
        write_plan(&engine, &delta, &mut sb_inc);
        run_once(&c.nb, &mut sb_full).expect("full run");
        let (a, b) = (normalized(&sb_inc), normalized(&sb_full));
        if matches!(
            e,
            Edit::AddPod { .. }
                | Edit::AddJoinPod
                | Edit::AddPodRouterMac { .. }
                | Edit::DelPod { .. }
                | Edit::ChangeIp { .. }
        ) {
            // A pod's binding and flows always change: the check is not vacuous.
            assert!(
                !delta.flows.is_empty() && !delta.ports.is_empty(),
                "{e:?}: empty delta"
            );
            assert_ne!(prev, a, "{e:?}: SB unchanged");
        }
        if matches!(e, Edit::DelPod { .. }) {
            let fdbs = |n: &BTreeSet<String>| n.iter().filter(|l| l.starts_with("FDB ")).count();
            assert!(fdbs(&a) < fdbs(&prev), "{e:?}: the pod's FDB entry stayed");
        }
        if a != b {
            let only_inc: Vec<_> = a.difference(&b).take(20).collect();
            let only_full: Vec<_> = b.difference(&a).take(20).collect();
            panic!(
                "step {i} ({e:?}): SB differs\nincremental only: {only_inc:#?}\nfull only: {only_full:#?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// After every random step the incrementally kept SB equals the fully recomputed one.
    #[test]
    fn incremental_equals_full(edits in proptest::collection::vec(edit(), 1..7)) {
        check_sequence(&edits);
    }
}

/// A fixed sequence touching every kind of edit, for a quick deterministic check.
#[test]
fn every_edit_kind() {
    check_sequence(&[
        Edit::AddPod {
            node: 0,
            set: 0,
            group: Some(0),
        },
        Edit::ChangeIp { pod: 0 },
        Edit::SetAddresses { set: 1, add: true },
        Edit::SetAddresses { set: 1, add: false },
        Edit::GroupPorts {
            group: 1,
            pod: 2,
            add: true,
        },
        Edit::GroupPorts {
            group: 1,
            pod: 2,
            add: false,
        },
        Edit::DelPod { pod: 1, set: 0 },
        Edit::AddPod {
            node: 2,
            set: 2,
            group: None,
        },
        Edit::SetUp {
            pod: 0,
            up: Some(true),
        },
        Edit::SetUp {
            pod: 0,
            up: Some(false),
        },
        Edit::SetUp { pod: 0, up: None },
    ]);
}

/// With `NB_Global` `options:ignore_lsp_down=false` a port's `up` is a build input (ARP and
/// ND replies only for ports that are up): a change of it alone is no incremental step.
#[test]
fn up_is_an_input_with_ignore_lsp_down_false() {
    let mut c = Cluster::new();
    transact(
        &mut c.nb,
        &json!(["OVN_Northbound", {"op": "update", "table": "NB_Global", "where": [],
                "row": {"options": ["map", [["ignore_lsp_down", "false"]]]}}]),
    );
    let mut engine = Engine::new(
        NbSnapshot::from_database(&c.nb).expect("snapshot"),
        SbRows::default().state(),
    );
    let mut sb = sb_db();
    run_once(&c.nb, &mut sb).expect("full run");
    let down = normalized(&sb);
    let before = nb_tables(&c.nb);
    assert!(c.apply(&Edit::SetUp {
        pod: 0,
        up: Some(true)
    }));
    let after = nb_tables(&c.nb);
    run_once(&c.nb, &mut sb).expect("full run");
    assert_ne!(normalized(&sb), down, "up changes the flows");
    let rows = changes(&c.nb, &before, &after);
    let lsp = rows
        .iter()
        .find(|(t, _, _)| t == "Logical_Switch_Port")
        .and_then(|(_, u, r)| Some((*u, (*r)?)))
        .expect("the port's row");
    let up = PortUp {
        uuid: lsp.0,
        version: lsp.1.fields[1].first().and_then(ovsdb::Atom::as_uuid),
        up: Some(true),
    };
    assert!(engine.set_ports_up(&[up]).is_err());
    let schema = c.nb.schema().clone();
    let ch = nb_changes(&rows, &schema);
    assert!(matches!(engine.apply(&ch).expect("apply"), Step::Full(_)));
}

/// Two ports with one IP in a port group: the group's address set keeps the IP while either
/// port still has it (the set is patched per port, not recomputed).
#[test]
fn shared_ip_in_group() {
    check_sequence(&[
        Edit::GroupPorts {
            group: 0,
            pod: 0,
            add: true,
        },
        Edit::GroupPorts {
            group: 0,
            pod: 1,
            add: true,
        },
        Edit::CopyIp { pod: 1, from: 0 },
        Edit::GroupPorts {
            group: 0,
            pod: 1,
            add: false,
        },
        Edit::GroupPorts {
            group: 0,
            pod: 1,
            add: true,
        },
        Edit::ChangeIp { pod: 0 },
        Edit::CopyIp { pod: 0, from: 1 },
        Edit::DelPod { pod: 1, set: 0 },
        Edit::ChangeIp { pod: 0 },
    ]);
}

/// Ports on switches attached to routers where the routers cannot just be patched: a pod on
/// a switch that had only router ports, a pod with a router port's MAC; then each deleted
/// and changed again.
#[test]
fn router_neighbours() {
    check_sequence(&[
        Edit::AddJoinPod,
        Edit::AddJoinPod,
        Edit::AddPodRouterMac { node: 1 },
        // Pods sort by name: `ns0_pod-0`, then the ones added here (`ns0_pod-x<N>`).
        Edit::ChangeIp { pod: 2 },
        Edit::DelPod { pod: 1, set: 0 },
        Edit::DelPod { pod: 1, set: 1 },
        Edit::DelPod { pod: 1, set: 2 },
        Edit::AddJoinPod,
    ]);
}
