//! Secondary networks from NetworkAttachmentDefinitions (OVN CNI `layer2` and `localnet`
//! topologies): one switch per network named `PREFIX_ovn_layer2_switch` or
//! `PREFIX_ovn_localnet_switch` (PREFIX: the network name with `-` and `/` turned into `.`),
//! with `k8s.ovn.org/network` and `k8s.ovn.org/topology` external ids, a localnet port
//! `PREFIX_ovn_localnet_port` for localnet, and one port `PREFIX_NAMESPACE_POD` per pod that
//! requests the NAD in its `k8s.v1.cni.cncf.io/networks` annotation, addressed from the
//! network's subnets.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::build::{mac_from_ip, BuildError, Input};
use super::config::nth_address;
use super::desired::{DesiredNb, Row};
use super::manifest::{SecondaryNetwork, Topology};

/// The pod annotation listing the NADs a pod attaches to.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";

/// The OVN name prefix of a secondary network.
pub fn network_prefix(name: &str) -> String {
    format!("{}_", name.replace(['-', '/'], "."))
}

/// The logical switch of a secondary network.
pub fn network_switch(name: &str, topology: Topology) -> String {
    let t = match topology {
        Topology::Layer2 => "ovn_layer2_switch",
        Topology::Localnet => "ovn_localnet_switch",
    };
    format!("{}{t}", network_prefix(name))
}

fn requested(ns: &str, value: &str) -> Vec<(String, String)> {
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(value) {
        return items
            .iter()
            .filter_map(|i| {
                let name = i.get("name")?.as_str()?.to_owned();
                let n = i.get("namespace").and_then(|v| v.as_str()).unwrap_or(ns);
                Some((n.to_owned(), name))
            })
            .collect();
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.split('@').next().unwrap_or(s);
            match s.split_once('/') {
                Some((n, name)) => (n.to_owned(), name.to_owned()),
                None => (ns.to_owned(), s.to_owned()),
            }
        })
        .collect()
}

/// Writes the secondary network switches and their pod ports.
pub(crate) fn build(input: &Input<'_>, nb: &mut DesiredNb) -> Result<(), BuildError> {
    let mut nets: BTreeMap<String, SecondaryNetwork> = BTreeMap::new();
    let mut by_nad: BTreeMap<(String, String), String> = BTreeMap::new();
    for ((ns, name), nad) in &input.set.network_attachment_definitions {
        let net = SecondaryNetwork::from_nad(nad).map_err(|e| BuildError::Invalid {
            object: format!("NetworkAttachmentDefinition {ns}/{name}"),
            field: e.field.clone(),
            reason: e.problem.to_string(),
        })?;
        by_nad.insert((ns.clone(), name.clone()), net.name.clone());
        nets.entry(net.name.clone()).or_insert(net);
    }
    let mut next: BTreeMap<String, u128> = BTreeMap::new();
    for (name, net) in &nets {
        let sw = network_switch(name, net.topology);
        let prefix = network_prefix(name);
        let mut oc = Vec::new();
        for s in &net.subnets {
            if s.addr().is_ipv4() {
                oc.push(("subnet", s.to_string()));
            } else {
                oc.push(("ipv6_prefix", s.network().to_string()));
            }
        }
        let topo = match net.topology {
            Topology::Layer2 => "layer2",
            Topology::Localnet => "localnet",
        };
        nb.put(
            "Logical_Switch",
            &sw,
            Row::new().map("other_config", oc).map(
                "external_ids",
                [
                    ("k8s.ovn.org/network", name.as_str()),
                    ("k8s.ovn.org/topology", topo),
                ],
            ),
        );
        if net.topology == Topology::Localnet {
            let port = format!("{prefix}ovn_localnet_port");
            let physnet = if net.physical_network_name.is_empty() {
                name.clone()
            } else {
                net.physical_network_name.clone()
            };
            let mut row = Row::new()
                .s("type", "localnet")
                .set("addresses", ["unknown"])
                .map("options", [("network_name", physnet)])
                .map("external_ids", [("k8s.ovn.org/network", name.as_str())]);
            if let Some(v) = net.vlan_id {
                row = row.i("tag_request", i64::from(v));
            }
            nb.put("Logical_Switch_Port", &port, row);
            nb.add_refs(
                "Logical_Switch",
                &sw,
                "ports",
                "Logical_Switch_Port",
                [port],
            );
        }
        next.insert(name.clone(), 1);
    }
    for ((ns, pod), p) in &input.set.pods {
        let Some(v) = p
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NETWORKS_ANNOTATION))
        else {
            continue;
        };
        for (nns, nad) in requested(ns, v) {
            let Some(netname) = by_nad.get(&(nns.clone(), nad.clone())) else {
                continue;
            };
            let Some(net) = nets.get(netname) else {
                continue;
            };
            let mut ips: Vec<IpAddr> = Vec::new();
            let off = next.entry(netname.clone()).or_insert(1);
            let mut used_off = *off;
            for s in &net.subnets {
                let mut o = *off;
                while let Some(ip) = nth_address(*s, o) {
                    if !net.exclude_subnets.iter().any(|x| x.contains(ip)) && s.contains(ip) {
                        ips.push(ip);
                        break;
                    }
                    o += 1;
                }
                used_off = used_off.max(o);
            }
            *off = used_off + 1;
            let Some(first) = ips.first() else { continue };
            let addr = std::iter::once(mac_from_ip(*first))
                .chain(ips.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join(" ");
            let lsp = format!("{}{ns}_{pod}", network_prefix(netname));
            nb.put(
                "Logical_Switch_Port",
                &lsp,
                Row::new()
                    .set("addresses", [addr.clone()])
                    .set("port_security", [addr])
                    .map(
                        "external_ids",
                        [
                            ("k8s.ovn.org/nad", format!("{nns}/{nad}")),
                            ("k8s.ovn.org/network", netname.clone()),
                            (
                                "k8s.ovn.org/topology",
                                format!("{:?}", net.topology).to_ascii_lowercase(),
                            ),
                            ("pod", "true".to_owned()),
                            ("namespace", ns.clone()),
                        ],
                    ),
            );
            let sw = network_switch(netname, net.topology);
            nb.add_refs(
                "Logical_Switch",
                &sw,
                "ports",
                "Logical_Switch_Port",
                BTreeSet::from([lsp]),
            );
        }
    }
    Ok(())
}
