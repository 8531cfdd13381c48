//! Pods: one logical switch port `NAMESPACE_POD` per scheduled, non-host-network pod on its
//! node's switch, with `addresses` and `port_security` "MAC IP..." (MAC derived from the IP).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::build::{mac_from_ip, BuildError, Input, PreviousState};
use super::config::pod_address_range;
use super::desired::{DesiredNb, Row};

/// A pod as the later builders see it.
#[derive(Debug, Clone)]
pub(crate) struct PodInfo {
    pub(crate) namespace: String,
    pub(crate) lsp: String,
    pub(crate) node: String,
    pub(crate) ips: Vec<IpAddr>,
    pub(crate) labels: BTreeMap<String, String>,
}

/// Pods by (namespace, name).
pub(crate) type Pods = BTreeMap<(String, String), PodInfo>;

/// The logical switch port name of a pod.
pub fn pod_port_name(namespace: &str, pod: &str) -> String {
    format!("{namespace}_{pod}")
}

fn allocate(
    input: &Input<'_>,
    node: &str,
    used: &mut BTreeSet<IpAddr>,
    key: &(String, String),
) -> Result<Vec<IpAddr>, BuildError> {
    let Some(n) = input.nodes.get(node) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in &n.subnets {
        let Some((first, last)) = pod_address_range(*s) else {
            continue;
        };
        let mut ip = first;
        loop {
            if !used.contains(&ip) {
                used.insert(ip);
                out.push(ip);
                break;
            }
            if ip == last {
                return Err(BuildError::Invalid {
                    object: format!("Pod {}/{}", key.0, key.1),
                    field: "status.podIPs".into(),
                    reason: format!("node {node} subnet {s} has no free address"),
                });
            }
            ip = match ip {
                IpAddr::V4(v) => IpAddr::V4((u32::from(v).wrapping_add(1)).into()),
                IpAddr::V6(v) => IpAddr::V6((u128::from(v).wrapping_add(1)).into()),
            };
        }
    }
    Ok(out)
}

/// Writes the pod ports and returns the pods with their addresses.
pub(crate) fn build(
    input: &Input<'_>,
    previous: &PreviousState,
    nb: &mut DesiredNb,
) -> Result<Pods, BuildError> {
    let mut pods = Pods::new();
    let mut used: BTreeSet<IpAddr> = BTreeSet::new();
    let mut pending = Vec::new();
    for ((ns, name), p) in &input.set.pods {
        let spec = p.spec.as_ref();
        if spec.and_then(|s| s.host_network).unwrap_or(false) {
            continue;
        }
        let Some(node) = spec.and_then(|s| s.node_name.clone()) else {
            continue;
        };
        if !input.nodes.contains_key(&node) {
            continue;
        }
        let st = p.status.as_ref();
        let mut ips: Vec<IpAddr> = st
            .and_then(|s| s.pod_ips.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|a| a.ip.parse().ok())
            .collect();
        if ips.is_empty() {
            if let Some(a) = st
                .and_then(|s| s.pod_ip.as_ref())
                .and_then(|a| a.parse().ok())
            {
                ips.push(a);
            }
        }
        let key = (ns.clone(), name.clone());
        if ips.is_empty() {
            if let Some(prev) = previous.pod_ips.get(&key) {
                let node_ok = input.nodes.get(&node).is_some_and(|n| {
                    prev.iter()
                        .all(|ip| n.subnets.iter().any(|s| s.contains(*ip)))
                });
                if node_ok && prev.iter().all(|ip| !used.contains(ip)) {
                    ips.clone_from(prev);
                    nb.state.pod_ips.insert(key.clone(), prev.clone());
                }
            }
        }
        used.extend(ips.iter().copied());
        if ips.is_empty() {
            pending.push((key.clone(), node.clone()));
        }
        pods.insert(
            key,
            PodInfo {
                namespace: ns.clone(),
                lsp: pod_port_name(ns, name),
                node,
                ips,
                labels: p.metadata.labels.clone().unwrap_or_default(),
            },
        );
    }
    for (key, node) in pending {
        let ips = allocate(input, &node, &mut used, &key)?;
        nb.state.pod_ips.insert(key.clone(), ips.clone());
        if let Some(p) = pods.get_mut(&key) {
            p.ips = ips;
        }
    }
    pods.retain(|_, p| !p.ips.is_empty());
    for ((ns, name), p) in &pods {
        let Some(first) = p.ips.first() else { continue };
        let addr = std::iter::once(mac_from_ip(*first))
            .chain(p.ips.iter().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join(" ");
        nb.put(
            "Logical_Switch_Port",
            &p.lsp,
            Row::new()
                .set("addresses", [addr.clone()])
                .set("port_security", [addr])
                .map(
                    "external_ids",
                    [("namespace", ns.as_str()), ("pod", "true")],
                )
                .map("options", [("requested-chassis", p.node.as_str())]),
        );
        let _ = name;
        nb.add_refs(
            "Logical_Switch",
            &p.node,
            "ports",
            "Logical_Switch_Port",
            [p.lsp.clone()],
        );
    }
    Ok(pods)
}
