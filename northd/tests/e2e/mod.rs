//! End-to-end helpers shared by `parity_ovnk.rs` and `trace_parity.rs`:
//!
//! - [`Rpc`]: a minimal blocking OVSDB JSON-RPC client over a unix socket (the northd test
//!   crate has no async runtime; one request at a time is all these tests need).
//! - [`cluster_manifests`]: an OVN-Kubernetes-shaped cluster of any size, generated as
//!   manifests (nodes, namespaces, pods, Services with and without ClientIP affinity,
//!   EndpointSlices, NetworkPolicies, EgressIPs; optionally dual stack) and written to an
//!   embedded NB with the project's kube layer ([`build_cluster_nb`]).
//! - [`load_nb`]: copies every row of an embedded NB into a real NB ovsdb-server in one
//!   transaction (row contents kept, UUIDs renamed).
//! - [`register_chassis`]: SB Chassis rows for the nodes, with the feature flags a real
//!   ovn-controller 23.03 reports.
//! - [`OurNorthd`]: our northd (`northd::build` + `northd::diff`) running in a thread against
//!   a real stack's NB and SB, the way `ovnkit northd` does, so `ovn-nbctl --wait=hv` works
//!   (in process, so it always runs the northd code under test, not a stale `ovnkit` binary).
//! - [`per_stage`], [`port_binding_diff`]: reporting helpers for large comparisons.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use northd::diff::{diff, SbRows};
use northd::NbSnapshot;
use ovn_nb::kube::config::{ClusterConfig, ClusterNetwork};
use ovn_nb::kube::{apply, build_nb, ManifestSet, PreviousState};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

type Stream =
    serde_json::StreamDeserializer<'static, serde_json::de::IoRead<BufReader<UnixStream>>, Value>;

/// A blocking OVSDB JSON-RPC connection (unix sockets only).
pub struct Rpc {
    out: UnixStream,
    input: Stream,
    next_id: u64,
}

impl Rpc {
    /// Connects to `unix:PATH`.
    pub fn connect(remote: &str) -> Self {
        let path = remote.strip_prefix("unix:").expect("unix: remote");
        let out = UnixStream::connect(path).expect("connect to ovsdb-server");
        out.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let input = serde_json::Deserializer::from_reader(BufReader::new(
            out.try_clone().expect("clone socket"),
        ))
        .into_iter::<Value>();
        Self {
            out,
            input,
            next_id: 0,
        }
    }

    /// Calls `method` and returns its `result` (panics on a JSON-RPC error). Answers the
    /// server's `echo` requests meanwhile; ignores notifications.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"method": method, "params": params, "id": id}));
        loop {
            let msg = self
                .input
                .next()
                .expect("ovsdb-server closed the connection")
                .expect("JSON from ovsdb-server");
            if msg.get("method").and_then(Value::as_str) == Some("echo") {
                let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
                self.send(&reply);
                continue;
            }
            if msg.get("id") == Some(&json!(id)) {
                assert!(msg["error"].is_null(), "{method} failed: {}", msg["error"]);
                return msg["result"].clone();
            }
        }
    }

    fn send(&mut self, v: &Value) {
        let text = serde_json::to_vec(v).expect("serialize");
        self.out.write_all(&text).expect("write to ovsdb-server");
    }

    /// `transact` on `db`; panics when any operation fails.
    pub fn transact(&mut self, db: &str, ops: Vec<Value>) -> Value {
        match self.try_transact(db, ops) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// `transact` on `db`; the first failed operation as an error.
    pub fn try_transact(&mut self, db: &str, ops: Vec<Value>) -> Result<Value, String> {
        let mut params = vec![json!(db)];
        params.extend(ops);
        let result = self.call("transact", Value::Array(params));
        for r in result.as_array().into_iter().flatten() {
            if r.get("error").is_some() {
                return Err(format!("transaction on {db} failed: {r}"));
            }
        }
        Ok(result)
    }

    /// `{table: [rows]}` of `tables` (one `select` each, in one transaction).
    pub fn select(&mut self, db: &str, tables: &[&str]) -> Value {
        let ops = tables
            .iter()
            .map(|t| json!({"op": "select", "table": t, "where": []}))
            .collect();
        let result = self.transact(db, ops);
        let mut out = serde_json::Map::new();
        for (t, r) in tables.iter().zip(result.as_array().into_iter().flatten()) {
            out.insert((*t).to_owned(), r["rows"].clone());
        }
        Value::Object(out)
    }
}

/// The shape of a generated cluster.
#[derive(Debug, Clone, Copy)]
pub struct ClusterShape {
    /// Nodes (`node-01`...), each with its own gateway router and chassis `chassis-NN`.
    pub nodes: usize,
    /// Pods per node.
    pub pods_per_node: usize,
    /// IPv4 + IPv6 (cluster, service and node addresses) instead of IPv4 only.
    pub dual_stack: bool,
}

const NAMESPACES: [(&str, &str); 4] = [
    ("web", "team: web, env: prod"),
    ("api", "team: api"),
    ("db", "team: db"),
    ("ops", "team: ops"),
];

/// The node's IPv4 pod subnet: `10.128.(2(i-1)).0/23`; `i` from 1.
fn v4_subnet(i: usize) -> String {
    format!("10.128.{}.0/23", 2 * (i - 1))
}

/// A pod's IPv4 address (host `j + 3` of its node's subnet, after the gateway and the
/// management port).
fn pod_v4(i: usize, j: usize) -> String {
    format!("10.128.{}.{}", 2 * (i - 1), j + 3)
}

fn v6_subnet(i: usize) -> String {
    format!("fd00:10:128:{i:x}::/64")
}

fn pod_v6(i: usize, j: usize) -> String {
    format!("fd00:10:128:{i:x}::{:x}", j + 3)
}

/// One generated pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// Node index (from 1).
    pub node: usize,
    /// Namespace.
    pub namespace: &'static str,
    /// Pod name.
    pub name: String,
    /// `app` label.
    pub app: String,
    /// Addresses (IPv4, then IPv6 when dual stack).
    pub ips: Vec<String>,
}

/// The pods of a shape, in node order.
pub fn cluster_pods(shape: ClusterShape) -> Vec<PodInfo> {
    let mut pods = Vec::new();
    for i in 1..=shape.nodes {
        for j in 0..shape.pods_per_node {
            let (ns, _) = NAMESPACES[(i + j) % NAMESPACES.len()];
            let mut ips = vec![pod_v4(i, j)];
            if shape.dual_stack {
                ips.push(pod_v6(i, j));
            }
            pods.push(PodInfo {
                node: i,
                namespace: ns,
                name: format!("{ns}-{i:02}-{j:02}"),
                app: format!("{ns}-app{}", j % 2),
                ips,
            });
        }
    }
    pods
}

/// The cluster's manifests as YAML.
pub fn cluster_yaml(shape: ClusterShape) -> String {
    let mut y = String::new();
    let mut doc = |s: String| {
        y.push_str("---\n");
        y.push_str(&s);
        y.push('\n');
    };
    for i in 1..=shape.nodes {
        let v4 = format!("172.18.0.{}", 10 + i);
        let v6 = format!("fc00:f853:ccd:e793::{:x}", 0x10 + i);
        let (ifaddr, cidrs, subnets) = if shape.dual_stack {
            (
                format!(r#"{{"ipv4": "{v4}/16", "ipv6": "{v6}/64"}}"#),
                format!(r#"["{v4}/16", "{v6}/64"]"#),
                format!(r#"{{"default": ["{}", "{}"]}}"#, v4_subnet(i), v6_subnet(i)),
            )
        } else {
            (
                format!(r#"{{"ipv4": "{v4}/16"}}"#),
                format!(r#"["{v4}/16"]"#),
                format!(r#"{{"default": ["{}"]}}"#, v4_subnet(i)),
            )
        };
        let egress = if i <= 3 {
            "\n    k8s.ovn.org/egress-assignable: ''"
        } else {
            ""
        };
        doc(format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{i:02}\n  labels:\n    \
             kubernetes.io/hostname: node-{i:02}{egress}\n  annotations:\n    \
             k8s.ovn.org/node-primary-ifaddr: '{ifaddr}'\n    \
             k8s.ovn.org/host-cidrs: '{cidrs}'\n    \
             k8s.ovn.org/node-subnets: '{subnets}'\n    \
             k8s.ovn.org/node-chassis-id: chassis-{i:02}\n\
             status:\n  addresses:\n  - type: InternalIP\n    address: {v4}"
        ));
    }
    for (ns, labels) in NAMESPACES {
        doc(format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{{labels}}}}}"
        ));
    }
    let pods = cluster_pods(shape);
    for p in &pods {
        let ips: Vec<String> = p.ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
        let role = if p.app.ends_with('0') { "db" } else { "worker" };
        doc(format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}, namespace: {}, labels: \
             {{app: {}, role: {role}}}}}\nspec: {{nodeName: node-{:02}, containers: \
             [{{name: c, image: x}}]}}\nstatus: {{podIP: \"{}\", podIPs: [{}]}}",
            p.name,
            p.namespace,
            p.app,
            p.node,
            p.ips[0],
            ips.join(", ")
        ));
    }
    // Services: per namespace a TCP ClusterIP Service on `<ns>-app0` (ClientIP affinity on
    // every other one), plus a UDP one on `<ns>-app1`; the first namespace's TCP Service is a
    // NodePort.
    for (k, (ns, _)) in NAMESPACES.iter().enumerate() {
        for (s, (app, proto, port, target)) in [
            (format!("{ns}-app0"), "TCP", 80, 8080),
            (format!("{ns}-app1"), "UDP", 53, 5353),
        ]
        .into_iter()
        .enumerate()
        {
            let name = format!("svc-{ns}-{s}");
            let v4 = format!("172.16.1.{}", 10 + 2 * k + s);
            let v6 = format!("fd00:172:16::{:x}", 0x10 + 2 * k + s);
            let (ips, families) = if shape.dual_stack {
                (
                    format!("[\"{v4}\", \"{v6}\"]"),
                    "\n  ipFamilies: [IPv4, IPv6]\n  ipFamilyPolicy: RequireDualStack",
                )
            } else {
                (format!("[\"{v4}\"]"), "")
            };
            let affinity = if s == 0 && k % 2 == 0 {
                "\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: \
                 {timeoutSeconds: 600}}"
            } else {
                ""
            };
            let (type_, node_port) = if k == 0 && s == 0 {
                ("NodePort", ", nodePort: 30080")
            } else {
                ("ClusterIP", "")
            };
            doc(format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n\
                 spec:\n  type: {type_}\n  selector: {{app: {app}}}\n  clusterIP: \"{v4}\"\n  \
                 clusterIPs: {ips}{families}{affinity}\n  ports: [{{name: p, port: {port}, \
                 targetPort: {target}, protocol: {proto}{node_port}}}]"
            ));
            let backends: Vec<&PodInfo> = pods.iter().filter(|p| p.app == app).collect();
            let families: &[(&str, usize)] = if shape.dual_stack {
                &[("IPv4", 0), ("IPv6", 1)]
            } else {
                &[("IPv4", 0)]
            };
            for (family, idx) in families {
                let eps: Vec<String> = backends
                    .iter()
                    .map(|p| {
                        format!(
                            "{{addresses: [\"{}\"], conditions: {{ready: true}}, targetRef: \
                             {{kind: Pod, name: {}, namespace: {ns}}}}}",
                            p.ips[*idx], p.name
                        )
                    })
                    .collect();
                doc(format!(
                    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: \
                     {name}-{}, namespace: {ns}, labels: {{kubernetes.io/service-name: \
                     {name}}}}}\naddressType: {family}\nendpoints: [{}]\nports: [{{name: p, \
                     port: {target}, protocol: {proto}}}]",
                    family.to_lowercase(),
                    eps.join(", ")
                ));
            }
        }
    }
    // NetworkPolicies: default deny ingress in `db`, allow `api` to reach the db pods on
    // 5432; same-namespace plus an ipBlock in `api`; an egress-only policy in `web`.
    doc(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \
         default-deny-ingress, namespace: db}\nspec: {podSelector: {}, policyTypes: [Ingress]}"
            .to_owned(),
    );
    doc(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \
         allow-api, namespace: db}\nspec:\n  podSelector: {matchLabels: {app: db-app0}}\n  \
         ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: api}}}]\n    ports: \
         [{protocol: TCP, port: 5432}]"
            .to_owned(),
    );
    doc(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \
         same-ns, namespace: api}\nspec:\n  podSelector: {}\n  ingress:\n  - from: \
         [{podSelector: {}}, {ipBlock: {cidr: 172.18.0.0/16, except: [172.18.0.99/32]}}]"
            .to_owned(),
    );
    doc(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \
         egress-to-api, namespace: web}\nspec:\n  podSelector: {matchLabels: {app: \
         web-app1}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: \
         {matchLabels: {team: api}}}]\n    ports: [{protocol: TCP, port: 80}]"
            .to_owned(),
    );
    // EgressIPs (the first three nodes are egress-assignable).
    doc(
        "apiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {name: eip-web}\nspec:\n  \
         egressIPs: [172.18.1.10]\n  namespaceSelector: {matchLabels: {team: web}}"
            .to_owned(),
    );
    doc(
        "apiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {name: eip-db}\nspec:\n  \
         egressIPs: [172.18.1.30, 172.18.1.31]\n  namespaceSelector: {matchLabels: {team: \
         db}}\n  podSelector: {matchLabels: {role: db}}"
            .to_owned(),
    );
    y
}

/// The cluster's settings: OVN-Kubernetes defaults, plus IPv6 networks when dual stack.
pub fn cluster_config(shape: ClusterShape) -> ClusterConfig {
    let mut cfg = ClusterConfig::default();
    if shape.dual_stack {
        cfg.cluster_networks.push(ClusterNetwork::new(
            "fd00:10:128::/48".parse().expect("net"),
            64,
        ));
        cfg.service_networks
            .push("fd00:172:16::/112".parse().expect("net"));
    }
    cfg
}

/// The generated cluster, loaded.
pub fn cluster_manifests(shape: ClusterShape) -> ManifestSet {
    let mut set = ManifestSet::new();
    set.add_str("generated.yaml", &cluster_yaml(shape))
        .expect("generated manifests load");
    set
}

/// Builds the cluster's NB with the kube layer (`build_nb` + `apply`) into an embedded database.
pub fn build_cluster_nb(shape: ClusterShape) -> Database {
    let manifests = cluster_manifests(shape);
    let desired = build_nb(
        &manifests,
        &cluster_config(shape),
        &PreviousState::default(),
    )
    .expect("kube build_nb");
    let mut nb = Database::new(ovn_nb::model::schema().clone());
    apply(&desired, &mut nb).expect("kube apply");
    nb
}

/// Every row of every table of an embedded database: `{table: [rows]}`.
pub fn dump_embedded(db: &mut Database) -> BTreeMap<String, Vec<Value>> {
    let schema = db.schema().clone();
    let mut out = BTreeMap::new();
    for table in schema.tables.iter().map(|t| t.name.clone()) {
        let params = json!([schema.name, {"op": "select", "table": table, "where": []}]);
        let rows = match db.transact(&params, &TxnContext::default()) {
            TxnOutcome::Complete { results, .. } => results[0]["rows"].clone(),
            TxnOutcome::Blocked { .. } => panic!("select blocked"),
        };
        out.insert(table, rows.as_array().cloned().unwrap_or_default());
    }
    out
}

/// Replaces `["uuid", U]` references to rows in `names` by `["named-uuid", names[U]]`.
fn rename_refs(v: &Value, names: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Array(a) => {
            if let [Value::String(tag), Value::String(u)] = a.as_slice() {
                if tag == "uuid" {
                    if let Some(n) = names.get(u) {
                        return json!(["named-uuid", n]);
                    }
                }
            }
            Value::Array(a.iter().map(|x| rename_refs(x, names)).collect())
        }
        other => other.clone(),
    }
}

/// NB_Global columns northd or the server own, not copied.
const NB_GLOBAL_SKIP: &[&str] = &[
    "_uuid",
    "_version",
    "nb_cfg",
    "nb_cfg_timestamp",
    "sb_cfg",
    "sb_cfg_timestamp",
    "hv_cfg",
    "hv_cfg_timestamp",
    "connections",
    "ssl",
];

/// Copies every row of the embedded NB `db` into the real NB server at `remote` in one
/// transaction: rows keep their contents, references are rewritten to the new rows
/// (`named-uuid`), so only UUIDs differ. `NB_Global` updates the server's existing row (or is
/// inserted when there is none). Returns the number of rows per table written.
pub fn load_nb(db: &mut Database, remote: &str) -> BTreeMap<String, usize> {
    let dump = dump_embedded(db);
    let mut names = BTreeMap::new();
    for rows in dump.values() {
        for r in rows {
            if let Some(u) = r["_uuid"].get(1).and_then(Value::as_str) {
                names.insert(u.to_owned(), format!("row_{}", u.replace('-', "_")));
            }
        }
    }
    let mut rpc = Rpc::connect(remote);
    let existing = rpc.select("OVN_Northbound", &["NB_Global"]);
    let has_global = existing["NB_Global"]
        .as_array()
        .is_some_and(|r| !r.is_empty());
    let mut ops = Vec::new();
    let mut counts = BTreeMap::new();
    for (table, rows) in &dump {
        for r in rows {
            let mut row = serde_json::Map::new();
            for (col, val) in r.as_object().into_iter().flatten() {
                let skip = if table == "NB_Global" {
                    NB_GLOBAL_SKIP.contains(&col.as_str())
                } else {
                    col == "_uuid" || col == "_version"
                };
                if !skip {
                    row.insert(col.clone(), rename_refs(val, &names));
                }
            }
            if table == "NB_Global" && has_global {
                ops.push(json!({"op": "update", "table": table, "where": [], "row": row}));
            } else {
                let name = &names[r["_uuid"][1].as_str().unwrap_or_default()];
                ops.push(json!({"op": "insert", "table": table, "row": row, "uuid-name": name}));
            }
            *counts.entry(table.clone()).or_insert(0) += 1;
        }
    }
    rpc.transact("OVN_Northbound", ops);
    counts
}

/// Rows per table of the server's NB (the tables in `tables`).
pub fn nb_counts(remote: &str, tables: &[&str]) -> BTreeMap<String, usize> {
    let mut rpc = Rpc::connect(remote);
    let all = rpc.select("OVN_Northbound", tables);
    tables
        .iter()
        .map(|t| ((*t).to_owned(), all[*t].as_array().map_or(0, Vec::len)))
        .collect()
}

/// Registers SB Chassis rows `chassis-NN` (hostname `node-NN`, Geneve on the node's address)
/// for nodes `1..=nodes` that do not exist yet, with `other_config` copied from the real
/// ovn-controller's chassis `template` (the feature flags northd reads), as `ovn-sbctl
/// chassis-add` plus `set`.
pub fn register_chassis(stack: &testkit::Stack, nodes: usize, template: &str) {
    let other = stack
        .sbctl(["get", "Chassis", template, "other_config"])
        .expect("template chassis other_config");
    let mut args: Vec<String> = Vec::new();
    for i in 1..=nodes {
        let name = format!("chassis-{i:02}");
        if name == template {
            continue;
        }
        for a in [
            "--".to_owned(),
            "chassis-add".to_owned(),
            name.clone(),
            "geneve".to_owned(),
            format!("172.18.0.{}", 10 + i),
            "--".to_owned(),
            "set".to_owned(),
            "Chassis".to_owned(),
            name.clone(),
            format!("hostname=node-{i:02}"),
            format!("other_config={}", other.trim()),
        ] {
            args.push(a);
        }
    }
    if !args.is_empty() {
        stack.sbctl(&args[1..]).expect("chassis-add");
    }
}

/// Our northd in a thread: each round reads NB and SB, compiles with `northd::build`, writes
/// the `northd::diff` to SB (with `SB_Global.nb_cfg`) and writes back to NB what northd owns
/// there (`Logical_Switch_Port.up`, IPAM `dynamic_addresses`, `mac_prefix`/`svc_monitor_mac`/
/// `max_tunid`, `sb_cfg`/`hv_cfg`), as `ovnkit northd` does. Stops when dropped.
pub struct OurNorthd {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Warnings of the latest build and any round error.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl OurNorthd {
    /// Whether the SB server at `sb` has its `SB_Global` row (our northd writes it in its
    /// first round). Read with a plain `select`: `ovn-sbctl` would create the row itself.
    pub fn sb_global_written(sb: &str) -> bool {
        let mut rpc = Rpc::connect(sb);
        rpc.select("OVN_Southbound", &["SB_Global"])["SB_Global"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    }

    /// Starts the loop against `nb` and `sb` (`unix:` remotes).
    pub fn start(nb: &str, sb: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (nb, sb) = (nb.to_owned(), sb.to_owned());
        let (stop2, log2) = (stop.clone(), log.clone());
        let handle = std::thread::spawn(move || {
            let mut nb = Rpc::connect(&nb);
            let mut sb = Rpc::connect(&sb);
            let mut sb_tables = SbRows::TABLES.to_vec();
            sb_tables.push("Chassis_Private");
            let mut last: Option<(Value, Value)> = None;
            while !stop2.load(Ordering::Relaxed) {
                let seen = (
                    nb.select("OVN_Northbound", NbSnapshot::TABLES),
                    sb.select("OVN_Southbound", &sb_tables),
                );
                if last.as_ref() != Some(&seen) {
                    // A refused transaction (e.g. a concurrent writer) is logged and the round
                    // retried with fresh contents.
                    let (msgs, ok) = match northd_round(&mut nb, &mut sb, &seen.0, &seen.1) {
                        Ok(w) => (w, true),
                        Err(e) => (vec![e], false),
                    };
                    if let Ok(mut l) = log2.lock() {
                        l.extend(msgs);
                    }
                    last = ok.then_some(seen);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            stop,
            handle: Some(handle),
            log,
        }
    }
}

impl Drop for OurNorthd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One round of [`OurNorthd`]; returns the build's warnings, or why a transaction failed.
fn northd_round(
    nb: &mut Rpc,
    sb: &mut Rpc,
    nb_tables: &Value,
    sb_tables: &Value,
) -> Result<Vec<String>, String> {
    let snapshot = NbSnapshot::from_json(nb_tables).expect("NB snapshot");
    let current = SbRows::from_json(sb_tables).expect("SB rows");
    let content = northd::build(&snapshot, &current.state());
    let nb_cfg = snapshot.nb_global.as_ref().map_or(0, |g| g.nb_cfg);
    let mut ops = diff(&current, &content).expect("diff");
    if current.sb_global.as_ref().map(|g| g.nb_cfg) != Some(nb_cfg) {
        ops.push(
            json!({"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": nb_cfg}}),
        );
    }
    if !ops.is_empty() {
        sb.try_transact("OVN_Southbound", ops)?;
    }

    let mut ops = Vec::new();
    for lsp in snapshot.switch_ports.values() {
        // Router ports are always up; a bound port is up when its binding says so.
        let up = lsp.type_ == "router"
            || current
                .ports
                .values()
                .find(|pb| pb.logical_port == lsp.name)
                .is_some_and(|pb| pb.chassis.is_some() && pb.up.unwrap_or(true));
        if lsp.up != Some(up) {
            ops.push(json!({"op": "update", "table": "Logical_Switch_Port",
                "where": [["_uuid", "==", ["uuid", lsp.uuid.to_string()]]], "row": {"up": up}}));
        }
    }
    for (port, value) in &content.nb_dynamic_addresses {
        let v = value.as_ref().map_or(json!(["set", []]), |s| json!(s));
        ops.push(json!({"op": "update", "table": "Logical_Switch_Port",
            "where": [["_uuid", "==", ["uuid", port.to_string()]]],
            "row": {"dynamic_addresses": v}}));
    }
    if let Some(g) = &snapshot.nb_global {
        let mut options = g.options.clone();
        for key in ["mac_prefix", "svc_monitor_mac", "max_tunid"] {
            if let Some(v) = content.global_options.get(key) {
                options.insert(key.to_owned(), v.clone());
            }
        }
        let hv = sb_tables["Chassis_Private"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["nb_cfg"].as_i64())
            .min()
            .map_or(nb_cfg, |m| m.min(nb_cfg));
        if options != g.options || g.sb_cfg != nb_cfg || g.hv_cfg != hv {
            let pairs: Vec<Value> = options.iter().map(|(k, v)| json!([k, v])).collect();
            ops.push(json!({"op": "update", "table": "NB_Global",
                "where": [["_uuid", "==", ["uuid", g.uuid.to_string()]]],
                "row": {"sb_cfg": nb_cfg, "hv_cfg": hv, "options": ["map", pairs]}}));
        }
    }
    if !ops.is_empty() {
        nb.try_transact("OVN_Northbound", ops)?;
    }
    Ok(content.warnings.iter().map(ToString::to_string).collect())
}

/// Flows grouped per stage: stage -> (ours-only, real-only) counts.
pub fn per_stage(
    ours_only: &[crate::common::Flow],
    real_only: &[crate::common::Flow],
) -> BTreeMap<String, (usize, usize)> {
    let mut m: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in ours_only {
        m.entry(f.1.clone()).or_default().0 += 1;
    }
    for f in real_only {
        m.entry(f.1.clone()).or_default().1 += 1;
    }
    m
}

/// One `nat_addresses` entry with its addresses sorted and deduplicated (`MAC IP...` plus any
/// `is_chassis_resident(...)`): what ovn-controller makes of it.
fn nat_entry_normalised(entry: &str) -> String {
    let mut words = entry.split_whitespace();
    let mac = words.next().unwrap_or_default().to_owned();
    let rest: BTreeSet<&str> = words.collect();
    let mut out = vec![mac];
    out.extend(rest.into_iter().map(str::to_owned));
    out.join(" ")
}

/// The Port_Binding rows (type, mac, options, nat_addresses) that differ between the stack's SB
/// and `content`, one line each; `nat_addresses` differences are marked as order/duplicates only
/// when the entries are equal once normalised ([`nat_entry_normalised`]).
pub fn port_binding_diff(stack: &testkit::Stack, content: &northd::SbContent) -> Vec<String> {
    use ovn_sb::model as sb;
    let real: Vec<sb::PortBinding> = crate::common::sb_rows(stack);
    let real: BTreeMap<&str, &sb::PortBinding> =
        real.iter().map(|p| (p.logical_port.as_str(), p)).collect();
    let ours: BTreeMap<&str, &northd::content::PortContent> =
        content.ports.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out = Vec::new();
    let names: BTreeSet<&str> = real.keys().chain(ours.keys()).copied().collect();
    for n in names {
        let (Some(r), Some(o)) = (real.get(n), ours.get(n)) else {
            out.push(format!(
                "{n}: only in {}",
                if real.contains_key(n) { "real" } else { "ours" }
            ));
            continue;
        };
        if r.type_ != o.type_ || r.mac != o.mac || o.options != r.options {
            out.push(format!(
                "{n}: type/mac/options ours {:?} {:?} {:?} real {:?} {:?} {:?}",
                o.type_, o.mac, o.options, r.type_, r.mac, r.options
            ));
        }
        if r.nat_addresses != o.nat_addresses {
            let norm = |s: &BTreeSet<String>| -> BTreeSet<String> {
                s.iter().map(|e| nat_entry_normalised(e)).collect()
            };
            let kind = if norm(&r.nat_addresses) == norm(&o.nat_addresses) {
                "order/duplicates only"
            } else {
                "DIFFERENT addresses"
            };
            out.push(format!(
                "{n}: nat_addresses ({kind}) ours {:?} real {:?}",
                o.nat_addresses, r.nat_addresses
            ));
        }
    }
    out
}
