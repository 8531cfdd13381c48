//! EgressIP and EgressService.
//!
//! EgressIP: the IPs are placed on nodes by [`super::egressip::assign_egress_ips`]; every
//! selected pod gets a priority-100 reroute policy on `ovn_cluster_router` to the join IPs of the
//! nodes hosting the object's IPs of its family (ECMP), and on each such node's gateway router a
//! SNAT of the pod IP to the egress IP.
//!
//! EgressService: every endpoint of the Service gets a priority-101 reroute policy to the
//! management port IP of the chosen node (`status.host`, else the first node its nodeSelector
//! matches); with `sourceIPBy: LoadBalancerIP` the endpoint is SNATed on that node's gateway
//! router to the Service's LoadBalancer ingress IP.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::build::{db_ids, family, ip_field, BuildError, Input, PreviousState, CLUSTER_ROUTER};
use super::desired::{DesiredNb, Row};
use super::egressip::{assign_egress_ips, previous_from_status, EgressIpRequest, EgressNode};
use super::manifest::SourceIPMode;
use super::pods::Pods;
use super::selector::Selector;
use super::topology::{EGRESS_IP_REROUTE_PRIORITY, EGRESS_SVC_REROUTE_PRIORITY};

fn sel(
    object: &str,
    s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Selector, BuildError> {
    Selector::new(s).map_err(|error| BuildError::Selector {
        object: object.into(),
        error,
    })
}

fn reroute(priority: i64, ip: IpAddr, nexthops: Vec<String>, ids: BTreeMap<String, String>) -> Row {
    Row::new()
        .i("priority", priority)
        .s("match", format!("{}.src == {ip}", ip_field(ip.is_ipv4())))
        .s("action", "reroute")
        .set("nexthops", nexthops)
        .map("external_ids", ids)
}

fn egress_ips(
    input: &Input<'_>,
    pods: &Pods,
    previous: &PreviousState,
    nb: &mut DesiredNb,
) -> Result<(), BuildError> {
    let mut nodes = Vec::new();
    for n in input.set.nodes.values() {
        let name = n.metadata.name.clone().unwrap_or_default();
        nodes.push(
            EgressNode::from_node(n, true).map_err(|error| BuildError::Annotation {
                object: format!("Node {name}"),
                error,
            })?,
        );
    }
    let requests: Vec<EgressIpRequest> = input
        .set
        .egress_ips
        .values()
        .map(EgressIpRequest::from_egress_ip)
        .collect();
    let prev = if previous.egress.is_empty() {
        previous_from_status(input.set.egress_ips.values())
    } else {
        previous.egress.clone()
    };
    let assignment = assign_egress_ips(&nodes, &requests, &prev);
    nb.state.egress = assignment.to_previous();
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    for (name, e) in &input.set.egress_ips {
        let object = format!("EgressIP {name}");
        let ns_sel = sel(&object, &e.spec.namespace_selector)?;
        let pod_sel = sel(&object, &e.spec.pod_selector)?;
        let placed: Vec<(IpAddr, String)> = assignment
            .assigned
            .get(name)
            .into_iter()
            .flatten()
            .map(|(ip, p)| (*ip, p.node.clone()))
            .collect();
        if placed.is_empty() {
            continue;
        }
        for (key, p) in pods {
            if taken.contains(key) {
                continue;
            }
            let mut labels = input
                .set
                .namespaces
                .get(&p.namespace)
                .and_then(|n| n.metadata.labels.clone())
                .unwrap_or_default();
            labels.insert("kubernetes.io/metadata.name".into(), p.namespace.clone());
            if !ns_sel.matches(&labels) || !pod_sel.matches(&p.labels) {
                continue;
            }
            taken.insert(key.clone());
            for ip in &p.ips {
                let v4 = ip.is_ipv4();
                let mut hops = Vec::new();
                for (eip, node) in placed.iter().filter(|(e, _)| e.is_ipv4() == v4) {
                    let Some(n) = input.nodes.get(node) else {
                        continue;
                    };
                    if let Some(j) = n.join_of(v4) {
                        hops.push(j.addr().to_string());
                    }
                    nb.add_child(
                        "Logical_Router",
                        &format!("GR_{node}"),
                        "nat",
                        "NAT",
                        Row::new()
                            .s("type", "snat")
                            .s("logical_ip", ip.to_string())
                            .s("external_ip", eip.to_string())
                            .s("logical_port", format!("k8s-{node}"))
                            .map("options", [("stateless", "false")])
                            .map(
                                "external_ids",
                                db_ids(
                                    "EgressIP",
                                    &[
                                        ("name", name.clone()),
                                        ("pod", format!("{}/{}", key.0, key.1)),
                                    ],
                                ),
                            ),
                    );
                }
                if hops.is_empty() {
                    continue;
                }
                let ids = db_ids(
                    "EgressIP",
                    &[
                        ("name", format!("{name}_{}/{}", key.0, key.1)),
                        ("ip-family", family(v4).into()),
                    ],
                );
                nb.add_child(
                    "Logical_Router",
                    CLUSTER_ROUTER,
                    "policies",
                    "Logical_Router_Policy",
                    reroute(EGRESS_IP_REROUTE_PRIORITY, *ip, hops, ids),
                );
            }
        }
    }
    Ok(())
}

fn egress_services(input: &Input<'_>, nb: &mut DesiredNb) -> Result<(), BuildError> {
    for ((ns, name), es) in &input.set.egress_services {
        let object = format!("EgressService {ns}/{name}");
        let Some(svc) = input.set.services.get(&(ns.clone(), name.clone())) else {
            continue;
        };
        let host = match es
            .status
            .as_ref()
            .map(|s| s.host.clone())
            .filter(|h| !h.is_empty())
        {
            Some(h) => Some(h),
            None => {
                let s = match &es.spec.node_selector {
                    Some(s) => sel(&object, s)?,
                    None => Selector::everything(),
                };
                input
                    .nodes
                    .values()
                    .find(|n| s.matches(&n.labels))
                    .map(|n| n.name.clone())
            }
        };
        let Some(node) = host.and_then(|h| input.nodes.get(&h)) else {
            continue;
        };
        let ingress: Vec<IpAddr> = svc
            .status
            .as_ref()
            .and_then(|st| st.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_ref().and_then(|ip| ip.parse().ok()))
            .collect();
        let mut eps: BTreeSet<IpAddr> = BTreeSet::new();
        for ((sns, _), slice) in &input.set.endpoint_slices {
            let owner = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"));
            if sns != ns || owner != Some(name) {
                continue;
            }
            for ep in slice.endpoints.iter().flatten() {
                if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                eps.extend(ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()));
            }
        }
        let by_lb = es.spec.source_ip_by.unwrap_or(SourceIPMode::LoadBalancerIP)
            == SourceIPMode::LoadBalancerIP;
        for ep in eps {
            let v4 = ep.is_ipv4();
            let Some(m) = node.mgmt_of(v4) else { continue };
            let mut keys = vec![
                ("name", format!("{ns}/{name}")),
                ("ip-family", family(v4).into()),
            ];
            if let Some(net) = &es.spec.network {
                keys.push(("network", net.clone()));
            }
            nb.add_child(
                "Logical_Router",
                CLUSTER_ROUTER,
                "policies",
                "Logical_Router_Policy",
                reroute(
                    EGRESS_SVC_REROUTE_PRIORITY,
                    ep,
                    vec![m.addr().to_string()],
                    db_ids("EgressService", &keys),
                ),
            );
            if by_lb {
                if let Some(lb_ip) = ingress.iter().find(|i| i.is_ipv4() == v4) {
                    nb.add_child(
                        "Logical_Router",
                        &format!("GR_{}", node.name),
                        "nat",
                        "NAT",
                        Row::new()
                            .s("type", "snat")
                            .s("logical_ip", ep.to_string())
                            .s("external_ip", lb_ip.to_string())
                            .map("options", [("stateless", "false")])
                            .map(
                                "external_ids",
                                db_ids("EgressService", &[("name", format!("{ns}/{name}"))]),
                            ),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Writes the EgressIP and EgressService policies and NATs.
pub(crate) fn build(
    input: &Input<'_>,
    pods: &Pods,
    previous: &PreviousState,
    nb: &mut DesiredNb,
) -> Result<(), BuildError> {
    egress_ips(input, pods, previous, nb)?;
    egress_services(input, nb)
}
