//! Services: one cluster-wide `Load_Balancer` per Service and protocol (ClusterIP VIPs, in the
//! `clusterLBGroup` attached to every node switch and gateway router), and per-node load
//! balancers for NodePort VIPs on the node IPs and LoadBalancer ingress IPs, attached to that
//! node's switch and gateway router. Backends come from the Service's ready EndpointSlice
//! endpoints; `sessionAffinity: ClientIP` sets `options:affinity_timeout`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;

use super::build::{vip_host, BuildError, Input, CLUSTER_LB_GROUP};
use super::desired::{DesiredNb, Row};

/// Hairpin SNAT addresses OVN-Kubernetes sets on every Service load balancer (masquerade
/// subnet, `.5`).
pub const HAIRPIN_SNAT_IPS: &str = "169.254.169.5 fd69::5";

/// Default ClientIP affinity timeout (Kubernetes' default, 3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: i32 = 10800;

/// One ready endpoint address of a Service port: IP, target port, and the node it runs on
/// (`nodeName` of the EndpointSlice endpoint, when set).
type Endpoint = (IpAddr, i32, Option<String>);

/// One Service port's backends.
struct PortBackends {
    protocol: String,
    port: i32,
    node_port: Option<i32>,
    endpoints: BTreeSet<Endpoint>,
}

fn endpoints_for(
    input: &Input<'_>,
    ns: &str,
    svc: &str,
    port_name: &str,
    protocol: &str,
) -> BTreeSet<Endpoint> {
    let mut out = BTreeSet::new();
    for ((sns, _), es) in &input.set.endpoint_slices {
        if sns != ns
            || es
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(String::as_str)
                != Some(svc)
        {
            continue;
        }
        let port = es.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name
                && p.protocol.as_deref().unwrap_or("TCP") == protocol
        });
        let Some(tp) = port.and_then(|p| p.port) else {
            continue;
        };
        for ep in es.endpoints.iter().flatten() {
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &ep.addresses {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    out.insert((ip, tp, ep.node_name.clone()));
                }
            }
        }
    }
    out
}

/// The `vips` value for the endpoints of one family; with `node`, only the endpoints on that
/// node (`externalTrafficPolicy: Local`).
fn targets(eps: &BTreeSet<Endpoint>, v4: bool, node: Option<&str>) -> String {
    let mut out: Vec<String> = eps
        .iter()
        .filter(|(ip, _, n)| {
            ip.is_ipv4() == v4 && node.is_none_or(|want| n.as_deref() == Some(want))
        })
        .map(|(ip, p, _)| format!("{}:{p}", vip_host(*ip)))
        .collect();
    out.dedup();
    out.join(",")
}

/// The cluster-wide load balancer name of a Service and protocol.
pub fn cluster_lb_name(ns: &str, name: &str, protocol: &str) -> String {
    format!("Service_{ns}/{name}_{protocol}_cluster")
}

/// The per-node load balancer name (NodePort and ingress VIPs) of a Service and protocol, when
/// the node's gateway router and switch share it.
pub fn node_lb_name(ns: &str, name: &str, protocol: &str, node: &str) -> String {
    format!("Service_{ns}/{name}_{protocol}_node_router+switch_{node}")
}

/// The per-node load balancers of a Service with `externalTrafficPolicy: Local`, whose gateway
/// router (local endpoints only, no SNAT) and switch (every endpoint) differ: `(router, switch)`.
pub fn node_lb_names_split(ns: &str, name: &str, protocol: &str, node: &str) -> (String, String) {
    (
        format!("Service_{ns}/{name}_{protocol}_node_router_{node}"),
        format!("Service_{ns}/{name}_{protocol}_node_switch_{node}"),
    )
}

fn lb_row(
    ns: &str,
    name: &str,
    protocol: &str,
    affinity: Option<i32>,
    vips: BTreeMap<String, String>,
    skip_snat: bool,
) -> Row {
    let mut options = vec![
        ("event", "false".to_owned()),
        ("hairpin_snat_ip", HAIRPIN_SNAT_IPS.to_owned()),
        ("neighbor_responder", "none".to_owned()),
        ("reject", "true".to_owned()),
        ("skip_snat", skip_snat.to_string()),
    ];
    if let Some(t) = affinity {
        options.push(("affinity_timeout", t.to_string()));
    }
    Row::new()
        .s("protocol", protocol.to_ascii_lowercase())
        .map("options", options)
        .map(
            "external_ids",
            [
                ("k8s.ovn.org/kind", "Service".to_owned()),
                ("k8s.ovn.org/owner", format!("{ns}/{name}")),
            ],
        )
        .map("vips", vips)
}

fn service(
    input: &Input<'_>,
    ns: &str,
    name: &str,
    s: &Service,
    nb: &mut DesiredNb,
) -> Result<(), BuildError> {
    let Some(spec) = s.spec.as_ref() else {
        return Ok(());
    };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if ty == "ExternalName" {
        return Ok(());
    }
    let mut cluster_ips: Vec<IpAddr> = Vec::new();
    for ip in spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
    {
        if ip == "None" || ip.is_empty() {
            continue;
        }
        let ip: IpAddr = ip.parse().map_err(|_| BuildError::Invalid {
            object: format!("Service {ns}/{name}"),
            field: "spec.clusterIPs".into(),
            reason: format!("{ip:?} is not an IP address"),
        })?;
        if !cluster_ips.contains(&ip) {
            cluster_ips.push(ip);
        }
    }
    if cluster_ips.is_empty() {
        return Ok(()); // headless
    }
    let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    let ingress: Vec<IpAddr> = s
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_ref().and_then(|ip| ip.parse().ok()))
        .collect();
    let mut ports: Vec<PortBackends> = Vec::new();
    for p in spec.ports.iter().flatten() {
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        let endpoints = endpoints_for(input, ns, name, p.name.as_deref().unwrap_or(""), &protocol);
        ports.push(PortBackends {
            protocol,
            port: p.port,
            node_port: p
                .node_port
                .filter(|_| ty == "NodePort" || ty == "LoadBalancer"),
            endpoints,
        });
    }
    let protocols: BTreeSet<String> = ports.iter().map(|p| p.protocol.clone()).collect();
    let etp_local = spec.external_traffic_policy.as_deref() == Some("Local");
    for proto in &protocols {
        let mut vips = BTreeMap::new();
        for p in ports.iter().filter(|p| &p.protocol == proto) {
            for ip in &cluster_ips {
                vips.insert(
                    format!("{}:{}", vip_host(*ip), p.port),
                    targets(&p.endpoints, ip.is_ipv4(), None),
                );
            }
        }
        let lb = cluster_lb_name(ns, name, proto);
        nb.put(
            "Load_Balancer",
            &lb,
            lb_row(ns, name, proto, affinity, vips, false),
        );
        nb.add_refs(
            "Load_Balancer_Group",
            CLUSTER_LB_GROUP,
            "load_balancer",
            "Load_Balancer",
            [lb],
        );
        // Per node: NodePorts on the node IPs, ingress IPs on the Service port. With
        // `externalTrafficPolicy: Local` the gateway router sends them only to the node's own
        // endpoints and keeps the client's source (`skip_snat`), while pods on the node's switch
        // still reach every endpoint: two load balancers instead of one.
        for n in input.nodes.values() {
            let node_vips = |local: Option<&str>| {
                let mut vips = BTreeMap::new();
                for p in ports.iter().filter(|p| &p.protocol == proto) {
                    if let Some(np) = p.node_port {
                        for h in &n.host {
                            vips.insert(
                                format!("{}:{np}", vip_host(h.addr())),
                                targets(&p.endpoints, h.addr().is_ipv4(), local),
                            );
                        }
                    }
                    for ip in &ingress {
                        vips.insert(
                            format!("{}:{}", vip_host(*ip), p.port),
                            targets(&p.endpoints, ip.is_ipv4(), local),
                        );
                    }
                }
                vips
            };
            let all = node_vips(None);
            if all.is_empty() {
                continue;
            }
            let router = format!("GR_{}", n.name);
            if etp_local {
                let (r_lb, s_lb) = node_lb_names_split(ns, name, proto, &n.name);
                let local = node_vips(Some(&n.name));
                nb.put(
                    "Load_Balancer",
                    &r_lb,
                    lb_row(ns, name, proto, affinity, local, true),
                );
                nb.put(
                    "Load_Balancer",
                    &s_lb,
                    lb_row(ns, name, proto, affinity, all, false),
                );
                attach_lb(nb, "Logical_Router", &router, r_lb);
                attach_lb(nb, "Logical_Switch", &n.name, s_lb);
            } else {
                let lb = node_lb_name(ns, name, proto, &n.name);
                nb.put(
                    "Load_Balancer",
                    &lb,
                    lb_row(ns, name, proto, affinity, all, false),
                );
                attach_lb(nb, "Logical_Switch", &n.name, lb.clone());
                attach_lb(nb, "Logical_Router", &router, lb);
            }
        }
    }
    Ok(())
}

/// Adds load balancer `lb` to the `load_balancer` column of switch or router `owner`.
fn attach_lb(nb: &mut DesiredNb, table: &'static str, owner: &str, lb: String) {
    nb.add_refs(table, owner, "load_balancer", "Load_Balancer", [lb]);
}

/// Writes every Service's load balancers.
pub(crate) fn build(input: &Input<'_>, nb: &mut DesiredNb) -> Result<(), BuildError> {
    for ((ns, name), s) in &input.set.services {
        service(input, ns, name, s, nb)?;
    }
    Ok(())
}
