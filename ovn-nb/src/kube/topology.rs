//! The per-node topology: node switches with their router and management ports, the cluster
//! router, the join switch, gateway routers with their external switches, static routes, the
//! default router policies and the node SNAT.

use super::build::{
    ip_field, mac_from_ip, Input, NodeInfo, CLUSTER_LB_GROUP, CLUSTER_ROUTER, JOIN_SWITCH,
};
use super::config::router_port_address;
use super::desired::{DesiredNb, Row};
use crate::addr::IpNet;

const LS: &str = "Logical_Switch";
const LSP: &str = "Logical_Switch_Port";
const LR: &str = "Logical_Router";
const LRP: &str = "Logical_Router_Port";

/// Priority of the pod → own node management port reroute policy.
pub const NODE_SUBNET_POLICY_PRIORITY: i64 = 1004;
/// Priority of the east-west allow policies.
pub const DEFAULT_NO_REROUTE_PRIORITY: i64 = 102;
/// Priority of the EgressService reroute policies.
pub const EGRESS_SVC_REROUTE_PRIORITY: i64 = 101;
/// Priority of the EgressIP reroute policies.
pub const EGRESS_IP_REROUTE_PRIORITY: i64 = 100;

fn router_port(name: &str, nets: &[IpNet]) -> Row {
    let mac = nets
        .first()
        .map_or_else(String::new, |n| mac_from_ip(n.addr()));
    Row::new()
        .s("mac", mac)
        .set("networks", nets.iter().map(ToString::to_string))
        .s("name", name)
}

fn switch_router_port(name: &str, router_port: &str) -> Row {
    Row::new()
        .s("type", "router")
        .set("addresses", ["router"])
        .map("options", [("router-port", router_port)])
        .s("name", name)
}

fn node_switch(nb: &mut DesiredNb, n: &NodeInfo) {
    let mut oc = Vec::new();
    for s in &n.subnets {
        let net = IpNet::new(s.network(), s.prefix()).unwrap_or(*s);
        if s.addr().is_ipv4() {
            oc.push(("subnet", net.to_string()));
        } else {
            oc.push(("ipv6_prefix", net.network().to_string()));
        }
    }
    if let Some(m) = n.mgmt_of(true) {
        oc.push(("exclude_ips", m.addr().to_string()));
    }
    nb.put(LS, &n.name, Row::new().map("other_config", oc));
    // stor-N ↔ rtos-N.
    let rtos = format!("rtos-{}", n.name);
    let stor = format!("stor-{}", n.name);
    let gw: Vec<IpNet> = n
        .subnets
        .iter()
        .filter_map(|s| router_port_address(*s))
        .collect();
    nb.put(LRP, &rtos, router_port(&rtos, &gw));
    nb.put(LSP, &stor, switch_router_port(&stor, &rtos));
    // Management port k8s-N.
    let mgmt: Vec<IpNet> = [true, false]
        .iter()
        .filter_map(|v4| n.mgmt_of(*v4))
        .collect();
    let k8s = format!("k8s-{}", n.name);
    if let Some(first) = mgmt.first() {
        let addr = std::iter::once(mac_from_ip(first.addr()))
            .chain(mgmt.iter().map(|m| m.addr().to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        nb.put(
            LSP,
            &k8s,
            Row::new()
                .set("addresses", [addr.clone()])
                .set("port_security", [addr]),
        );
    }
    nb.add_refs(LS, &n.name, "ports", LSP, [stor, k8s]);
    nb.add_refs(
        LS,
        &n.name,
        "load_balancer_group",
        "Load_Balancer_Group",
        [CLUSTER_LB_GROUP],
    );
    nb.add_refs(LR, CLUSTER_ROUTER, "ports", LRP, [rtos.clone()]);
    // Cluster router: src-ip route S → node join IP; 1004 reroute pod → own node.
    for s in &n.subnets {
        let v4 = s.addr().is_ipv4();
        let net = IpNet::new(s.network(), s.prefix()).unwrap_or(*s);
        if let Some(j) = n.join_of(v4) {
            nb.add_child(
                LR,
                CLUSTER_ROUTER,
                "static_routes",
                "Logical_Router_Static_Route",
                Row::new()
                    .s("ip_prefix", net.to_string())
                    .s("nexthop", j.addr().to_string())
                    .s("policy", "src-ip"),
            );
        }
        if let (Some(h), Some(m)) = (n.host_of(v4), n.mgmt_of(v4)) {
            nb.add_child(
                LR,
                CLUSTER_ROUTER,
                "policies",
                "Logical_Router_Policy",
                Row::new()
                    .i("priority", NODE_SUBNET_POLICY_PRIORITY)
                    .s(
                        "match",
                        format!(
                            "inport == \"{rtos}\" && {}.dst == {} /* {} */",
                            ip_field(v4),
                            h.addr(),
                            n.name
                        ),
                    )
                    .s("action", "reroute")
                    .set("nexthops", [m.addr().to_string()]),
            );
        }
    }
}

fn gateway_router(nb: &mut DesiredNb, input: &Input<'_>, n: &NodeInfo) {
    let gr = format!("GR_{}", n.name);
    let rtoj = format!("rtoj-{gr}");
    let jtor = format!("jtor-{gr}");
    let rtoe = format!("rtoe-{gr}");
    let etor = format!("etor-{gr}");
    let ext = format!("ext_{}", n.name);
    let physical_ip = n
        .host
        .first()
        .map(|h| h.addr().to_string())
        .unwrap_or_default();
    let physical_ips = n
        .host
        .iter()
        .map(|h| h.addr().to_string())
        .collect::<Vec<_>>()
        .join(",");
    nb.put(
        LR,
        &gr,
        Row::new()
            .map(
                "options",
                [
                    ("always_learn_from_arp_request", "false".to_owned()),
                    ("chassis", n.chassis.clone()),
                    ("dynamic_neigh_routers", "true".to_owned()),
                    ("lb_force_snat_ip", "router_ip".to_owned()),
                    ("snat-ct-zone", "0".to_owned()),
                    ("mac_binding_age_threshold", "300".to_owned()),
                ],
            )
            .map(
                "external_ids",
                [("physical_ip", physical_ip), ("physical_ips", physical_ips)],
            ),
    );
    nb.add_refs(LR, &gr, "copp", "Copp", [DEFAULT_COPP]);
    nb.put(LRP, &rtoj, router_port(&rtoj, &n.join));
    nb.put(LSP, &jtor, switch_router_port(&jtor, &rtoj));
    nb.add_refs(LS, JOIN_SWITCH, "ports", LSP, [jtor]);
    nb.put(LRP, &rtoe, router_port(&rtoe, &n.host));
    let mac = n
        .host
        .first()
        .map(|h| mac_from_ip(h.addr()))
        .unwrap_or_default();
    nb.put(
        LSP,
        &etor,
        Row::new().s("type", "router").set("addresses", [mac]).map(
            "options",
            [("router-port", rtoe.as_str()), ("nat-addresses", "router")],
        ),
    );
    let physnet = input
        .config
        .gateway
        .physnet()
        .unwrap_or("physnet")
        .to_owned();
    let localnet = format!("{}_{}", input.config.gateway.interface, n.name);
    nb.put(
        LSP,
        &localnet,
        Row::new()
            .s("type", "localnet")
            .set("addresses", ["unknown"])
            .map("options", [("network_name", physnet)]),
    );
    nb.put(LS, &ext, Row::new());
    nb.add_refs(LS, &ext, "ports", LSP, [etor, localnet]);
    nb.add_refs(LR, &gr, "ports", LRP, [rtoj, rtoe.clone()]);
    nb.add_refs(
        LR,
        &gr,
        "load_balancer_group",
        "Load_Balancer_Group",
        [CLUSTER_LB_GROUP],
    );
    for v4 in [true, false] {
        let Some(h) = n.host_of(v4) else { continue };
        if let Some(gw) = n.gateway.iter().find(|g| g.is_ipv4() == v4) {
            nb.add_child(
                LR,
                &gr,
                "static_routes",
                "Logical_Router_Static_Route",
                Row::new()
                    .s("ip_prefix", if v4 { "0.0.0.0/0" } else { "::/0" })
                    .s("nexthop", gw.to_string())
                    .s("output_port", rtoe.clone()),
            );
        }
        for cn in input
            .config
            .cluster_networks
            .iter()
            .map(|c| c.cidr)
            .filter(|c| c.addr().is_ipv4() == v4)
        {
            if let Some(cj) = input
                .config
                .cluster_router_join_addresses()
                .into_iter()
                .find(|j| j.addr().is_ipv4() == v4)
            {
                nb.add_child(
                    LR,
                    &gr,
                    "static_routes",
                    "Logical_Router_Static_Route",
                    Row::new()
                        .s("ip_prefix", cn.to_string())
                        .s("nexthop", cj.addr().to_string()),
                );
            }
            nb.add_child(
                LR,
                &gr,
                "nat",
                "NAT",
                Row::new()
                    .s("type", "snat")
                    .s("logical_ip", cn.to_string())
                    .s("external_ip", h.addr().to_string())
                    .map("options", [("stateless", "false")]),
            );
        }
    }
}

/// The control plane protection every gateway router gets.
pub const DEFAULT_COPP: &str = "ovnkube-default";
/// The suffix of the default CoPP's meter names (`<protocol>-rate-limiter`).
pub const RATE_LIMITER_SUFFIX: &str = "-rate-limiter";
/// The protocols the default CoPP meters.
pub const COPP_PROTOCOLS: [&str; 8] = [
    "arp",
    "arp-resolve",
    "bfd",
    "event-elb",
    "icmp4-error",
    "icmp6-error",
    "reject",
    "tcp-reset",
];
/// Packets per second the default CoPP's meters let through.
pub const COPP_RATE: i64 = 25;
/// Packets per second the `acl-logging` meter lets through.
pub const ACL_LOGGING_RATE: i64 = 20;

/// A fair packets-per-second meter dropping beyond `rate`.
fn meter(nb: &mut DesiredNb, name: &str, rate: i64) {
    nb.put("Meter", name, Row::new().s("unit", "pktps").b("fair", true));
    nb.add_child(
        "Meter",
        name,
        "bands",
        "Meter_Band",
        Row::new().s("action", "drop").i("rate", rate),
    );
}

/// The default CoPP (one meter per protocol) and the ACL logging meter.
fn meters(nb: &mut DesiredNb) {
    let mut names = Vec::new();
    for p in COPP_PROTOCOLS {
        let name = format!("{p}{RATE_LIMITER_SUFFIX}");
        meter(nb, &name, COPP_RATE);
        names.push((p, name));
    }
    nb.put("Copp", DEFAULT_COPP, Row::new().map("meters", names));
    meter(nb, super::policy::ACL_LOGGING_METER, ACL_LOGGING_RATE);
}

/// Writes the meters, the cluster router, the join switch, and every node's switch and gateway
/// router.
pub(crate) fn build(input: &Input<'_>, nb: &mut DesiredNb) {
    let cfg = input.config;
    meters(nb);
    let joins = cfg.cluster_router_join_addresses();
    nb.put(
        LR,
        CLUSTER_ROUTER,
        Row::new().map(
            "external_ids",
            [
                ("k8s-cluster-router", "yes"),
                ("k8s-ovn-topo-version", "10"),
            ],
        ),
    );
    nb.put(
        LRP,
        "rtoj-ovn_cluster_router",
        router_port("rtoj-ovn_cluster_router", &joins),
    );
    nb.put(
        LSP,
        "jtor-ovn_cluster_router",
        switch_router_port("jtor-ovn_cluster_router", "rtoj-ovn_cluster_router"),
    );
    nb.put(LS, JOIN_SWITCH, Row::new());
    nb.add_refs(LS, JOIN_SWITCH, "ports", LSP, ["jtor-ovn_cluster_router"]);
    nb.add_refs(
        LR,
        CLUSTER_ROUTER,
        "ports",
        LRP,
        ["rtoj-ovn_cluster_router"],
    );
    nb.put("Load_Balancer_Group", CLUSTER_LB_GROUP, Row::new());
    // 102: east-west and pod ↔ join traffic is not rerouted.
    for cn in &cfg.cluster_networks {
        let v4 = cn.cidr.addr().is_ipv4();
        let f = ip_field(v4);
        let mut dsts = vec![cn.cidr];
        dsts.extend(
            joins
                .iter()
                .copied()
                .filter(|j| j.addr().is_ipv4() == v4)
                .map(|j| IpNet::new(j.network(), j.prefix()).unwrap_or(j)),
        );
        for d in dsts {
            nb.add_child(
                LR,
                CLUSTER_ROUTER,
                "policies",
                "Logical_Router_Policy",
                Row::new()
                    .i("priority", DEFAULT_NO_REROUTE_PRIORITY)
                    .s("match", format!("{f}.src == {} && {f}.dst == {d}", cn.cidr))
                    .s("action", "allow"),
            );
        }
    }
    for n in input.nodes.values() {
        node_switch(nb, n);
        gateway_router(nb, input, n);
    }
}
