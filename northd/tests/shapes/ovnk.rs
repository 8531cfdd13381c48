//! A generated OVN-Kubernetes cluster at benchmark scale, built into an embedded Northbound
//! database by the project's own kube layer (`ovn_nb::kube`): `nodes` nodes with `pods_per_node`
//! pods each, spread over 10 namespaces; `services` ClusterIP Services of ~equal size (every
//! tenth with ClientIP affinity, every twentieth a NodePort); `policies` NetworkPolicies, each
//! selecting one Service's pods and allowing ingress from the next namespace on one port; and
//! `egress_ips` EgressIP objects, each for one Service's pods, on the first ten nodes
//! (labelled egress-assignable). IPv4 only.

use std::fmt::Write as _;

use ovn_nb::kube::config::ClusterConfig;
use ovn_nb::kube::{apply, build_nb, ManifestSet, PreviousState};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

/// The size of a generated cluster.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Nodes.
    pub nodes: usize,
    /// Pods per node.
    pub pods_per_node: usize,
    /// Services.
    pub services: usize,
    /// NetworkPolicies.
    pub policies: usize,
    /// EgressIP objects.
    pub egress_ips: usize,
}

impl Scale {
    /// Issue 9's first shape: 100 nodes x 50 pods, 1,000 Services, 500 NetworkPolicies, 100
    /// EgressIPs.
    pub const NODES_100: Self = Self {
        nodes: 100,
        pods_per_node: 50,
        services: 1000,
        policies: 500,
        egress_ips: 100,
    };
    /// Issue 9's second shape: 250 nodes x 100 pods, 5,000 Services, 2,000 NetworkPolicies, 500
    /// EgressIPs.
    pub const NODES_250: Self = Self {
        nodes: 250,
        pods_per_node: 100,
        services: 5000,
        policies: 2000,
        egress_ips: 500,
    };
}

const NAMESPACES: usize = 10;

/// The manifests of `s` as YAML.
pub fn yaml(s: Scale) -> String {
    let mut y = String::new();
    for i in 0..s.nodes {
        let ip = format!("172.18.{}.{}", i / 250, i % 250 + 2);
        let egress = if i < 10 {
            "\n    k8s.ovn.org/egress-assignable: ''"
        } else {
            ""
        };
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-{i}\n  labels:\n    \
             kubernetes.io/hostname: node-{i}{egress}\n  annotations:\n    \
             k8s.ovn.org/node-primary-ifaddr: '{{\"ipv4\": \"{ip}/16\"}}'\n    \
             k8s.ovn.org/host-cidrs: '[\"{ip}/16\"]'\n    \
             k8s.ovn.org/node-subnets: '{{\"default\": [\"10.{}.{}.0/23\"]}}'\n    \
             k8s.ovn.org/node-chassis-id: chassis-{i}\n\
             status:\n  addresses:\n  - type: InternalIP\n    address: {ip}\n",
            128 + (2 * i) / 256,
            (2 * i) % 256
        );
    }
    for n in 0..NAMESPACES {
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{n}, labels: {{team: \
             ns{n}}}}}\n"
        );
    }
    // Pod k (over the whole cluster) belongs to Service k % services, in that Service's
    // namespace.
    let mut backends: Vec<Vec<String>> = vec![Vec::new(); s.services.max(1)];
    for i in 0..s.nodes {
        for j in 0..s.pods_per_node {
            let k = i * s.pods_per_node + j;
            let svc = k % s.services.max(1);
            let ns = svc % NAMESPACES;
            let ip = format!("10.{}.{}.{}", 128 + (2 * i) / 256, (2 * i) % 256, j + 3);
            let _ = write!(
                y,
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{k}, namespace: ns{ns}, \
                 labels: {{svc: svc{svc}}}}}\nspec: {{nodeName: node-{i}, containers: [{{name: \
                 c, image: x}}]}}\nstatus: {{podIP: \"{ip}\", podIPs: [{{ip: \"{ip}\"}}]}}\n"
            );
            backends[svc].push(ip);
        }
    }
    for (svc, ips) in backends.iter().enumerate().take(s.services) {
        let ns = svc % NAMESPACES;
        let vip = format!("172.30.{}.{}", svc / 250, svc % 250 + 1);
        let affinity = if svc % 10 == 0 {
            "\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: \
             {timeoutSeconds: 600}}"
        } else {
            ""
        };
        let (type_, node_port) = if svc % 20 == 1 {
            ("NodePort", format!(", nodePort: {}", 30000 + svc))
        } else {
            ("ClusterIP", String::new())
        };
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{svc}, namespace: ns{ns}}}\n\
             spec:\n  type: {type_}\n  selector: {{svc: svc{svc}}}\n  clusterIP: \"{vip}\"\n  \
             clusterIPs: [\"{vip}\"]{affinity}\n  ports: [{{name: p, port: 80, targetPort: 8080, \
             protocol: TCP{node_port}}}]\n"
        );
        let eps: Vec<String> = ips
            .iter()
            .map(|ip| format!("{{addresses: [\"{ip}\"], conditions: {{ready: true}}}}"))
            .collect();
        let _ = write!(
            y,
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: \
             svc{svc}-1, namespace: ns{ns}, labels: {{kubernetes.io/service-name: svc{svc}}}}}\n\
             addressType: IPv4\nendpoints: [{}]\nports: [{{name: p, port: 8080, protocol: TCP}}]\n",
            eps.join(", ")
        );
    }
    for p in 0..s.policies {
        let svc = p % s.services.max(1);
        let ns = svc % NAMESPACES;
        let _ = write!(
            y,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: \
             pol{p}, namespace: ns{ns}}}\nspec:\n  podSelector: {{matchLabels: {{svc: \
             svc{svc}}}}}\n  ingress:\n  - from: [{{namespaceSelector: {{matchLabels: {{team: \
             ns{}}}}}}}]\n    ports: [{{protocol: TCP, port: {}}}]\n",
            (ns + 1) % NAMESPACES,
            8000 + p % 100
        );
    }
    for e in 0..s.egress_ips {
        let svc = e % s.services.max(1);
        let ns = svc % NAMESPACES;
        let _ = write!(
            y,
            "---\napiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {{name: eip{e}}}\n\
             spec:\n  egressIPs: [172.18.{}.{}]\n  namespaceSelector: {{matchLabels: {{team: \
             ns{ns}}}}}\n  podSelector: {{matchLabels: {{svc: svc{svc}}}}}\n",
            200 + e / 250,
            e % 250 + 1
        );
    }
    y
}

/// Builds the cluster's Northbound database with the kube layer.
pub fn build(s: Scale) -> Database {
    let mut set = ManifestSet::new();
    set.add_str("generated.yaml", &yaml(s))
        .expect("generated manifests load");
    let desired = build_nb(&set, &ClusterConfig::default(), &PreviousState::default())
        .expect("kube build_nb");
    let mut nb = Database::new(ovn_nb::model::schema().clone());
    apply(&desired, &mut nb).expect("kube apply");
    nb
}

/// One `transact` (params, database name first) inserting every row of `db` under its own UUID,
/// with `NB_Global` `nb_cfg` set to 1.
pub fn insert_all(db: &mut Database) -> Vec<Value> {
    let schema = db.schema().clone();
    let mut ops = vec![json!(schema.name)];
    let mut has_global = false;
    for table in schema.tables.iter().map(|t| t.name.clone()) {
        let params = json!([schema.name, {"op": "select", "table": table, "where": []}]);
        let rows = match db.transact(&params, &TxnContext::default()) {
            TxnOutcome::Complete { results, .. } => results[0]["rows"].clone(),
            TxnOutcome::Blocked { .. } => panic!("select blocked"),
        };
        for mut row in rows.as_array().cloned().unwrap_or_default() {
            let Some(obj) = row.as_object_mut() else {
                continue;
            };
            let uuid = obj
                .remove("_uuid")
                .and_then(|u| u.get(1).and_then(Value::as_str).map(str::to_owned))
                .expect("_uuid");
            obj.remove("_version");
            if table == "NB_Global" {
                has_global = true;
                obj.insert("nb_cfg".into(), json!(1));
            }
            ops.push(json!({"op": "insert", "table": table, "uuid": uuid, "row": obj}));
        }
    }
    if !has_global {
        ops.push(json!({"op": "insert", "table": "NB_Global", "row": {"nb_cfg": 1}}));
    }
    ops
}
