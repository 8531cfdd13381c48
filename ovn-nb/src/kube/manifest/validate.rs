//! Checks on typed objects beyond their JSON shape: what the kube layer relies on later (names,
//! addresses, selectors, ports, OVN-Kubernetes annotations, the OVN CNI configuration of a NAD).
//! Each check returns the first problem with its field path.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::crd::{EgressIP, EgressService, NetworkAttachmentDefinition, OvnNetConf, OVN_CNI_TYPE};
use super::{parse_cidr_list, FieldError, KubeObject, Problem};
use crate::addr::IpNet;
use crate::kube::annotations as ann;
use crate::kube::selector::Selector;

type Check = Result<(), FieldError>;

fn fe(field: impl Into<String>, problem: Problem) -> FieldError {
    FieldError::new(field, problem)
}

pub(super) fn check(obj: &mut KubeObject) -> Check {
    let namespaced = obj.kind().is_namespaced();
    let meta = match obj {
        KubeObject::Node(o) => &mut o.metadata,
        KubeObject::Namespace(o) => &mut o.metadata,
        KubeObject::Pod(o) => &mut o.metadata,
        KubeObject::Service(o) => &mut o.metadata,
        KubeObject::EndpointSlice(o) => &mut o.metadata,
        KubeObject::NetworkPolicy(o) => &mut o.metadata,
        KubeObject::EgressIP(o) => &mut o.metadata,
        KubeObject::EgressService(o) => &mut o.metadata,
        KubeObject::NetworkAttachmentDefinition(o) => &mut o.metadata,
    };
    check_meta(meta, namespaced)?;
    match obj {
        KubeObject::Node(o) => node(o),
        KubeObject::Namespace(o) => namespace(o),
        KubeObject::Pod(o) => pod(o),
        KubeObject::Service(o) => service(o),
        KubeObject::EndpointSlice(o) => endpoint_slice(o),
        KubeObject::NetworkPolicy(o) => network_policy(o),
        KubeObject::EgressIP(o) => egress_ip(o),
        KubeObject::EgressService(o) => egress_service(o),
        KubeObject::NetworkAttachmentDefinition(o) => SecondaryNetwork::from_nad(o).map(|_| ()),
    }
}

fn check_meta(meta: &mut ObjectMeta, namespaced: bool) -> Check {
    if meta.name.as_deref().is_none_or(str::is_empty) {
        return Err(fe("metadata.name", Problem::Missing));
    }
    if namespaced {
        if meta.namespace.as_deref().is_none_or(str::is_empty) {
            meta.namespace = Some("default".into());
        }
    } else if meta.namespace.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(fe(
            "metadata.namespace",
            Problem::bad_value(
                meta.namespace.as_deref().unwrap_or_default(),
                "no namespace (the kind is cluster-scoped)",
            ),
        ));
    }
    Ok(())
}

fn ip(field: impl Into<String>, s: &str) -> Result<IpAddr, FieldError> {
    s.trim()
        .parse()
        .map_err(|_| fe(field, Problem::BadIp(s.into())))
}

/// A network: `IP/PREFIX` with no host bits set.
fn cidr(field: impl Into<String>, s: &str) -> Result<IpNet, FieldError> {
    match s.trim().parse::<IpNet>() {
        Ok(n) if n.addr() == n.network() => Ok(n),
        _ => Err(fe(field, Problem::BadCidr(s.into()))),
    }
}

fn selector(field: &str, sel: &LabelSelector) -> Check {
    Selector::new(sel)
        .map(|_| ())
        .map_err(|e| fe(format!("{field}.{}", e.field()), Problem::Selector(e)))
}

fn one_of(field: impl Into<String>, value: &str, allowed: &[&str]) -> Check {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(fe(
            field,
            Problem::bad_value(value, format!("one of {}", allowed.join(", "))),
        ))
    }
}

fn port_number(field: impl Into<String>, p: i32) -> Check {
    if (1..=65535).contains(&p) {
        Ok(())
    } else {
        Err(fe(field, Problem::bad_value(p, "a port number 1-65535")))
    }
}

fn protocol(field: impl Into<String>, p: Option<&str>) -> Check {
    one_of(field, p.unwrap_or("TCP"), &["TCP", "UDP", "SCTP"])
}

fn annotation<T>(
    meta: &ObjectMeta,
    key: &'static str,
    parse: fn(&str) -> Result<T, ann::AnnotationError>,
) -> Check {
    if let Some(v) = meta.annotations.as_ref().and_then(|a| a.get(key)) {
        parse(v).map_err(|e| {
            fe(
                format!("metadata.annotations[{key:?}]"),
                Problem::Annotation(e),
            )
        })?;
    }
    Ok(())
}

fn node(n: &Node) -> Check {
    let m = &n.metadata;
    annotation(m, ann::NODE_SUBNETS, ann::parse_node_subnets)?;
    annotation(m, ann::NODE_PRIMARY_IFADDR, ann::parse_primary_ifaddr)?;
    annotation(m, ann::HOST_CIDRS, ann::parse_host_cidrs)?;
    annotation(
        m,
        ann::CLOUD_EGRESS_IP_CONFIG,
        ann::parse_cloud_egress_ip_config,
    )?;
    annotation(
        m,
        ann::NODE_GATEWAY_ROUTER_LRP_IFADDR,
        ann::parse_gateway_router_lrp_ifaddr,
    )?;
    annotation(
        m,
        ann::NODE_GATEWAY_ROUTER_LRP_IFADDRS,
        ann::parse_gateway_router_lrp_ifaddrs,
    )?;
    annotation(m, ann::NODE_ID, ann::parse_node_id)?;
    if let Some(spec) = &n.spec {
        if let Some(c) = &spec.pod_cidr {
            cidr("spec.podCIDR", c)?;
        }
        for (i, c) in spec.pod_cidrs.iter().flatten().enumerate() {
            cidr(format!("spec.podCIDRs[{i}]"), c)?;
        }
    }
    if let Some(status) = &n.status {
        for (i, a) in status.addresses.iter().flatten().enumerate() {
            if a.type_ == "InternalIP" || a.type_ == "ExternalIP" {
                ip(format!("status.addresses[{i}].address"), &a.address)?;
            }
        }
    }
    Ok(())
}

fn namespace(n: &Namespace) -> Check {
    annotation(&n.metadata, ann::ACL_LOGGING, ann::parse_acl_logging)
}

fn pod(p: &Pod) -> Check {
    if p.spec.is_none() {
        return Err(fe("spec", Problem::Missing));
    }
    if let Some(st) = &p.status {
        if let Some(a) = &st.pod_ip {
            ip("status.podIP", a)?;
        }
        let mut families = BTreeSet::new();
        for (i, a) in st.pod_ips.iter().flatten().enumerate() {
            let f = format!("status.podIPs[{i}].ip");
            let addr = ip(&f, &a.ip)?;
            if !families.insert(addr.is_ipv4()) {
                return Err(fe(
                    f,
                    Problem::bad_value(&a.ip, "at most one address per IP family"),
                ));
            }
        }
        if let Some(a) = &st.host_ip {
            ip("status.hostIP", a)?;
        }
    }
    Ok(())
}

fn service(s: &Service) -> Check {
    let spec = s
        .spec
        .as_ref()
        .ok_or_else(|| fe("spec", Problem::Missing))?;
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    one_of(
        "spec.type",
        ty,
        &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    )?;
    let headless = |s: &str| s.is_empty() || s == "None";
    if let Some(c) = spec.cluster_ip.as_deref().filter(|c| !headless(c)) {
        ip("spec.clusterIP", c)?;
    }
    for (i, c) in spec.cluster_ips.iter().flatten().enumerate() {
        if !headless(c) {
            ip(format!("spec.clusterIPs[{i}]"), c)?;
        }
    }
    for (i, c) in spec.external_ips.iter().flatten().enumerate() {
        ip(format!("spec.externalIPs[{i}]"), c)?;
    }
    if let Some(c) = spec.load_balancer_ip.as_deref().filter(|c| !c.is_empty()) {
        ip("spec.loadBalancerIP", c)?;
    }
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let f = format!("spec.ports[{i}]");
        port_number(format!("{f}.port"), p.port)?;
        protocol(format!("{f}.protocol"), p.protocol.as_deref())?;
        if let Some(np) = p.node_port.filter(|np| *np != 0) {
            port_number(format!("{f}.nodePort"), np)?;
        }
        match &p.target_port {
            Some(IntOrString::Int(t)) => port_number(format!("{f}.targetPort"), *t)?,
            Some(IntOrString::String(t)) if t.is_empty() => {
                return Err(fe(format!("{f}.targetPort"), Problem::Missing))
            }
            _ => {}
        }
    }
    let affinity = spec.session_affinity.as_deref().unwrap_or("None");
    one_of("spec.sessionAffinity", affinity, &["None", "ClientIP"])?;
    let timeout = spec
        .session_affinity_config
        .as_ref()
        .and_then(|c| c.client_ip.as_ref())
        .and_then(|c| c.timeout_seconds);
    if let Some(t) = timeout {
        let f = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
        if affinity != "ClientIP" {
            return Err(fe(
                f,
                Problem::bad_value(t, "no timeout unless sessionAffinity is ClientIP"),
            ));
        }
        if !(1..=86400).contains(&t) {
            return Err(fe(f, Problem::bad_value(t, "1-86400 seconds")));
        }
    }
    if let Some(st) = &s.status {
        let ingress = st.load_balancer.as_ref().and_then(|lb| lb.ingress.as_ref());
        for (i, ing) in ingress.into_iter().flatten().enumerate() {
            if let Some(a) = &ing.ip {
                ip(format!("status.loadBalancer.ingress[{i}].ip"), a)?;
            }
        }
    }
    Ok(())
}

/// The label linking an EndpointSlice to its Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

fn endpoint_slice(e: &EndpointSlice) -> Check {
    let has_service = e
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .is_some_and(|s| !s.is_empty());
    if !has_service {
        return Err(fe(
            format!("metadata.labels[{SERVICE_NAME_LABEL:?}]"),
            Problem::Missing,
        ));
    }
    one_of("addressType", &e.address_type, &["IPv4", "IPv6", "FQDN"])?;
    if e.address_type == "FQDN" {
        return Err(fe(
            "addressType",
            Problem::Unsupported("FQDN endpoints (OVN load balancers need IP backends)".into()),
        ));
    }
    let v4 = e.address_type == "IPv4";
    for (i, ep) in e.endpoints.iter().flatten().enumerate() {
        for (j, a) in ep.addresses.iter().enumerate() {
            let f = format!("endpoints[{i}].addresses[{j}]");
            if ip(&f, a)?.is_ipv4() != v4 {
                return Err(fe(
                    f,
                    Problem::bad_value(a, format!("an {} address", e.address_type)),
                ));
            }
        }
    }
    for (i, p) in e.ports.iter().flatten().enumerate() {
        if let Some(n) = p.port {
            port_number(format!("ports[{i}].port"), n)?;
        }
        protocol(format!("ports[{i}].protocol"), p.protocol.as_deref())?;
    }
    Ok(())
}

fn policy_port(f: &str, p: &NetworkPolicyPort) -> Check {
    protocol(format!("{f}.protocol"), p.protocol.as_deref())?;
    let start = match &p.port {
        Some(IntOrString::Int(n)) => {
            port_number(format!("{f}.port"), *n)?;
            Some(*n)
        }
        Some(IntOrString::String(s)) if s.is_empty() => {
            return Err(fe(format!("{f}.port"), Problem::Missing))
        }
        _ => None,
    };
    if let Some(end) = p.end_port {
        let Some(start) = start else {
            return Err(fe(
                format!("{f}.endPort"),
                Problem::bad_value(end, "no endPort unless port is a number"),
            ));
        };
        port_number(format!("{f}.endPort"), end)?;
        if end < start {
            return Err(fe(
                format!("{f}.endPort"),
                Problem::bad_value(end, format!("at least port ({start})")),
            ));
        }
    }
    Ok(())
}

fn policy_peer(f: &str, p: &NetworkPolicyPeer) -> Check {
    if let Some(s) = &p.pod_selector {
        selector(&format!("{f}.podSelector"), s)?;
    }
    if let Some(s) = &p.namespace_selector {
        selector(&format!("{f}.namespaceSelector"), s)?;
    }
    match &p.ip_block {
        Some(b) => {
            if p.pod_selector.is_some() || p.namespace_selector.is_some() {
                return Err(fe(
                    format!("{f}.ipBlock"),
                    Problem::bad_value("ipBlock with a selector", "ipBlock alone in its peer"),
                ));
            }
            let net = cidr(format!("{f}.ipBlock.cidr"), &b.cidr)?;
            for (i, e) in b.except.iter().flatten().enumerate() {
                let ef = format!("{f}.ipBlock.except[{i}]");
                let ex = cidr(&ef, e)?;
                if !net.contains(ex.addr()) || ex.prefix() <= net.prefix() {
                    return Err(fe(
                        ef,
                        Problem::bad_value(e, format!("a strict subnet of {}", b.cidr)),
                    ));
                }
            }
        }
        None if p.pod_selector.is_none() && p.namespace_selector.is_none() => {
            return Err(fe(f, Problem::Missing));
        }
        None => {}
    }
    Ok(())
}

fn network_policy(np: &NetworkPolicy) -> Check {
    let spec = np
        .spec
        .as_ref()
        .ok_or_else(|| fe("spec", Problem::Missing))?;
    if let Some(s) = &spec.pod_selector {
        selector("spec.podSelector", s)?;
    }
    for (i, t) in spec.policy_types.iter().flatten().enumerate() {
        one_of(format!("spec.policyTypes[{i}]"), t, &["Ingress", "Egress"])?;
    }
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        for (j, p) in r.from.iter().flatten().enumerate() {
            policy_peer(&format!("spec.ingress[{i}].from[{j}]"), p)?;
        }
        for (j, p) in r.ports.iter().flatten().enumerate() {
            policy_port(&format!("spec.ingress[{i}].ports[{j}]"), p)?;
        }
    }
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        for (j, p) in r.to.iter().flatten().enumerate() {
            policy_peer(&format!("spec.egress[{i}].to[{j}]"), p)?;
        }
        for (j, p) in r.ports.iter().flatten().enumerate() {
            policy_port(&format!("spec.egress[{i}].ports[{j}]"), p)?;
        }
    }
    Ok(())
}

fn egress_ip(e: &EgressIP) -> Check {
    if e.spec.egress_ips.is_empty() {
        return Err(fe("spec.egressIPs", Problem::Missing));
    }
    let mut seen = BTreeSet::new();
    for (i, s) in e.spec.egress_ips.iter().enumerate() {
        let f = format!("spec.egressIPs[{i}]");
        let a = ip(&f, s)?;
        if !seen.insert(a) {
            return Err(fe(f, Problem::bad_value(s, "each egress IP listed once")));
        }
    }
    selector("spec.namespaceSelector", &e.spec.namespace_selector)?;
    selector("spec.podSelector", &e.spec.pod_selector)?;
    for (i, it) in e.status.items.iter().enumerate() {
        if it.node.is_empty() {
            return Err(fe(format!("status.items[{i}].node"), Problem::Missing));
        }
        ip(format!("status.items[{i}].egressIP"), &it.egress_ip)?;
    }
    Ok(())
}

fn egress_service(e: &EgressService) -> Check {
    if let Some(s) = &e.spec.node_selector {
        selector("spec.nodeSelector", s)?;
    }
    if e.spec.network.as_deref() == Some("") {
        return Err(fe(
            "spec.network",
            Problem::bad_value("", "a routing table name or number"),
        ));
    }
    Ok(())
}

/// The topology of an OVN-Kubernetes secondary network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// One logical switch spanning all nodes, no router.
    Layer2,
    /// A logical switch with a localnet port onto a physical network.
    Localnet,
}

/// The checked OVN configuration of a NetworkAttachmentDefinition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryNetwork {
    /// The network name (`spec.config.name`); NADs with the same name share the network.
    pub name: String,
    /// Layer 2 or localnet.
    pub topology: Topology,
    /// Subnets pod addresses are allocated from (may be empty: no IPAM).
    pub subnets: Vec<IpNet>,
    /// Subnets excluded from allocation (each inside one of `subnets`).
    pub exclude_subnets: Vec<IpNet>,
    /// VLAN tag on the physical network (localnet only).
    pub vlan_id: Option<u16>,
    /// MTU, when set.
    pub mtu: Option<u32>,
    /// `namespace/name` of the NAD.
    pub nad_name: String,
    /// Bridge mapping name on the hosts (localnet): `physicalNetworkName`, else `name`.
    pub physical_network_name: String,
    /// Whether IP allocations outlive pods.
    pub allow_persistent_ips: bool,
}

impl SecondaryNetwork {
    /// Parses and checks `spec.config` of a loaded NAD (namespace already defaulted).
    pub fn from_nad(nad: &NetworkAttachmentDefinition) -> Result<Self, FieldError> {
        const F: &str = "spec.config";
        if nad.spec.config.trim().is_empty() {
            return Err(fe(F, Problem::Missing));
        }
        let conf: OvnNetConf = serde_json::from_str(&nad.spec.config).map_err(|e| {
            fe(
                F,
                Problem::Decode(format!("not a CNI JSON configuration: {e}")),
            )
        })?;
        if conf.plugin_type != OVN_CNI_TYPE {
            return Err(fe(
                format!("{F}.type"),
                Problem::Unsupported(format!(
                    "CNI type {:?} (only {OVN_CNI_TYPE} networks are handled)",
                    conf.plugin_type
                )),
            ));
        }
        if conf.name.is_empty() {
            return Err(fe(format!("{F}.name"), Problem::Missing));
        }
        let topology = match conf.topology.as_str() {
            "layer2" => Topology::Layer2,
            "localnet" => Topology::Localnet,
            "" | "layer3" => {
                return Err(fe(
                    format!("{F}.topology"),
                    Problem::Unsupported(format!(
                        "topology {:?} (secondary networks here are layer2 or localnet)",
                        if conf.topology.is_empty() {
                            "layer3"
                        } else {
                            &conf.topology
                        }
                    )),
                ))
            }
            other => {
                return Err(fe(
                    format!("{F}.topology"),
                    Problem::bad_value(other, "layer2 or localnet"),
                ))
            }
        };
        let ns = nad.metadata.namespace.as_deref().unwrap_or("default");
        let name = nad.metadata.name.as_deref().unwrap_or_default();
        let nad_name = format!("{ns}/{name}");
        if conf.net_attach_def_name != nad_name {
            return Err(fe(
                format!("{F}.netAttachDefName"),
                Problem::bad_value(
                    &conf.net_attach_def_name,
                    format!("{nad_name:?} (the NAD's own namespace/name)"),
                ),
            ));
        }
        match conf.role.as_str() {
            "" | "secondary" => {}
            "primary" => {
                return Err(fe(
                    format!("{F}.role"),
                    Problem::Unsupported("primary user-defined networks".into()),
                ))
            }
            other => {
                return Err(fe(
                    format!("{F}.role"),
                    Problem::bad_value(other, "secondary"),
                ))
            }
        }
        let subnets = parse_cidr_list(&conf.subnets)
            .map_err(|bad| fe(format!("{F}.subnets"), Problem::BadCidr(bad)))?;
        for s in &subnets {
            if s.addr() != s.network() {
                return Err(fe(format!("{F}.subnets"), Problem::BadCidr(s.to_string())));
            }
        }
        let exclude_subnets = parse_cidr_list(&conf.exclude_subnets)
            .map_err(|bad| fe(format!("{F}.excludeSubnets"), Problem::BadCidr(bad)))?;
        for x in &exclude_subnets {
            let inside = subnets
                .iter()
                .any(|s| s.contains(x.addr()) && x.prefix() >= s.prefix());
            if !inside {
                return Err(fe(
                    format!("{F}.excludeSubnets"),
                    Problem::bad_value(x, "a subnet inside one of subnets"),
                ));
            }
        }
        let vlan_id = match (conf.vlan_id, topology) {
            (0, _) => None,
            (v, Topology::Localnet) if v <= 4094 => u16::try_from(v).ok(),
            (v, Topology::Localnet) => {
                return Err(fe(format!("{F}.vlanID"), Problem::bad_value(v, "1-4094")))
            }
            (v, Topology::Layer2) => {
                return Err(fe(
                    format!("{F}.vlanID"),
                    Problem::bad_value(v, "no vlanID (localnet only)"),
                ))
            }
        };
        let mtu = match conf.mtu {
            0 => None,
            m if (576..=65535).contains(&m) => Some(m),
            m => return Err(fe(format!("{F}.mtu"), Problem::bad_value(m, "576-65535"))),
        };
        let physical_network_name = if conf.physical_network_name.is_empty() {
            conf.name.clone()
        } else {
            conf.physical_network_name.clone()
        };
        Ok(Self {
            name: conf.name,
            topology,
            subnets,
            exclude_subnets,
            vlan_id,
            mtu,
            nad_name,
            physical_network_name,
            allow_persistent_ips: conf.allow_persistent_ips,
        })
    }
}
