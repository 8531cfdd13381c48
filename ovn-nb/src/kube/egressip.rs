//! EgressIP assignment: which node hosts each egress IP, as a pure, deterministic function.
//!
//! Rules (OVN-Kubernetes' product behaviour):
//! - Only nodes labelled `k8s.ovn.org/egress-assignable` that are reachable host egress IPs.
//! - A node hosts an IP only if the IP is in one of its subnets: on a cloud node (with a
//!   `cloud.network.openshift.io/egress-ipconfig` annotation) the cloud subnet of the IP's
//!   family; otherwise the primary interface's subnet (`k8s.ovn.org/node-primary-ifaddr`) first,
//!   else the longest-prefix match among `k8s.ovn.org/host-cidrs`. An address of any node
//!   (primary or host CIDR) is never used as an egress IP.
//! - Cloud capacity: a node hosts at most `capacity` IPs, counted per family (`ipv4`/`ipv6`, AWS)
//!   or over both families (`ip`, Azure/GCP).
//! - Each IP is on one node; the IPs of one EgressIP object are on different nodes; an IP listed
//!   by two objects goes to the object whose name sorts first.
//! - Stability: an IP keeps its previous node while that node is still eligible, so only IPs of
//!   unreachable (or no longer eligible) nodes move. New and moved IPs go, most constrained first,
//!   to the eligible node hosting the fewest IPs; ties go to the node whose name sorts first.
//!
//! The output is a function of the inputs only (maps are ordered), and feeding an output back as
//! `previous` returns it unchanged.
//!
//! What this does not do: health-check nodes (reachability is an input), select pods, or write
//! the reroute policies and SNATs into the Northbound database.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;

use crate::addr::IpNet;
use crate::kube::annotations::{
    self as ann, AnnotationError, CloudCapacity, CloudEgressConfig, PerFamily,
};
use crate::kube::manifest::EgressIP;

/// What the assignment needs to know about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressNode {
    /// Node name.
    pub name: String,
    /// Carries the `k8s.ovn.org/egress-assignable` label.
    pub assignable: bool,
    /// Answered its health check in time (always true when the check is disabled).
    pub reachable: bool,
    /// The primary interface's address and prefix, per family.
    pub primary: PerFamily,
    /// Every host address with its prefix.
    pub host_cidrs: Vec<IpNet>,
    /// Cloud subnet and capacity, on cloud platforms.
    pub cloud: Option<CloudEgressConfig>,
}

/// The interface (network) of a node an egress IP is hosted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EgressInterface {
    /// The primary interface (or the cloud subnet on a cloud node); the network is given.
    Primary(IpNet),
    /// Another host interface, chosen by longest prefix; its address and prefix are given.
    Secondary(IpNet),
}

impl EgressNode {
    /// A node with only a name: assignable and reachable, no subnets, no cloud limit.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            assignable: true,
            reachable: true,
            primary: PerFamily::default(),
            host_cidrs: Vec::new(),
            cloud: None,
        }
    }

    /// Reads the egress label and annotations of a Kubernetes Node.
    pub fn from_node(node: &Node, reachable: bool) -> Result<Self, AnnotationError> {
        let meta = &node.metadata;
        let get = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k));
        let assignable = meta
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ann::EGRESS_ASSIGNABLE_LABEL));
        Ok(Self {
            name: meta.name.clone().unwrap_or_default(),
            assignable,
            reachable,
            primary: get(ann::NODE_PRIMARY_IFADDR)
                .map(|v| ann::parse_primary_ifaddr(v))
                .transpose()?
                .unwrap_or_default(),
            host_cidrs: get(ann::HOST_CIDRS)
                .map(|v| ann::parse_host_cidrs(v))
                .transpose()?
                .unwrap_or_default(),
            cloud: get(ann::CLOUD_EGRESS_IP_CONFIG)
                .map(|v| ann::parse_cloud_egress_ip_config(v))
                .transpose()?,
        })
    }

    /// True when the node may host egress IPs at all.
    pub fn eligible(&self) -> bool {
        self.assignable && self.reachable
    }

    /// The interface that would host `ip`, by the subnet rules (ignores eligibility and capacity).
    pub fn interface_for(&self, ip: IpAddr) -> Option<EgressInterface> {
        let own = self.primary.iter().chain(self.host_cidrs.iter().copied());
        if own.into_iter().any(|n| n.addr() == ip) {
            return None;
        }
        if let Some(cloud) = &self.cloud {
            return cloud
                .ifaddr
                .for_family_of(ip)
                .filter(|n| n.contains(ip))
                .map(|n| EgressInterface::Primary(network_of(n)));
        }
        if let Some(p) = self.primary.for_family_of(ip).filter(|n| n.contains(ip)) {
            return Some(EgressInterface::Primary(network_of(p)));
        }
        self.host_cidrs
            .iter()
            .filter(|n| n.contains(ip))
            .max_by(|a, b| a.prefix().cmp(&b.prefix()).then_with(|| b.cmp(a)))
            .map(|n| EgressInterface::Secondary(*n))
    }

    /// Whether one more IP of `ip`'s family fits, given what the node hosts now.
    fn has_capacity(&self, ip: IpAddr, v4_count: u32, v6_count: u32) -> bool {
        match self.cloud.as_ref().map(|c| c.capacity) {
            None => true,
            Some(CloudCapacity::Shared { ip: cap }) => v4_count + v6_count < cap,
            Some(CloudCapacity::PerFamily { ipv4, ipv6 }) => {
                if ip.is_ipv4() {
                    v4_count < ipv4
                } else {
                    v6_count < ipv6
                }
            }
        }
    }
}

fn network_of(n: IpNet) -> IpNet {
    IpNet::new(n.network(), n.prefix()).unwrap_or(n)
}

/// One EgressIP object as the assignment sees it: its name and requested IPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressIpRequest {
    /// The EgressIP's name.
    pub name: String,
    /// The requested egress IPs.
    pub ips: Vec<IpAddr>,
}

impl EgressIpRequest {
    /// From a loaded EgressIP (IPs that do not parse are skipped; the loader rejects them).
    pub fn from_egress_ip(e: &EgressIP) -> Self {
        Self {
            name: e.metadata.name.clone().unwrap_or_default(),
            ips: e
                .spec
                .egress_ips
                .iter()
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
        }
    }
}

/// Where an assigned IP lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Placement {
    /// The hosting node.
    pub node: String,
    /// The node interface (network) carrying it.
    pub interface: EgressInterface,
}

/// Why an IP has no node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Unassigned {
    /// Another EgressIP (sorting first) already requests this IP.
    DuplicateIp {
        /// The EgressIP that has it.
        owner: String,
    },
    /// The IP is an address of a node (its primary address or one of its host CIDRs).
    NodeAddress {
        /// The node owning the address.
        node: String,
    },
    /// No assignable, reachable node has a subnet containing the IP.
    NoMatchingNode,
    /// Matching nodes exist but each is full or already hosts another IP of the same object.
    NoCapacity,
}

/// Previous node per EgressIP name and IP (what `EgressIP.status.items` record).
pub type PreviousAssignment = BTreeMap<String, BTreeMap<IpAddr, String>>;

/// The result of [`assign_egress_ips`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressAssignment {
    /// Per EgressIP name, per IP: where it lives.
    pub assigned: BTreeMap<String, BTreeMap<IpAddr, Placement>>,
    /// Per EgressIP name, per IP: why it has no node.
    pub unassigned: BTreeMap<String, BTreeMap<IpAddr, Unassigned>>,
}

impl EgressAssignment {
    /// The assignment in the form [`assign_egress_ips`] takes as `previous`.
    pub fn to_previous(&self) -> PreviousAssignment {
        self.assigned
            .iter()
            .map(|(name, m)| {
                let m = m.iter().map(|(ip, p)| (*ip, p.node.clone())).collect();
                (name.clone(), m)
            })
            .collect()
    }

    /// Number of IPs each node hosts (nodes hosting none are absent).
    pub fn per_node(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for p in self.assigned.values().flat_map(BTreeMap::values) {
            *out.entry(p.node.as_str()).or_insert(0) += 1;
        }
        out
    }

    /// The node hosting `ip` for EgressIP `name`.
    pub fn node_of(&self, name: &str, ip: IpAddr) -> Option<&str> {
        self.assigned
            .get(name)
            .and_then(|m| m.get(&ip))
            .map(|p| p.node.as_str())
    }
}

/// The previous assignment recorded in EgressIP statuses.
pub fn previous_from_status<'a>(
    eips: impl IntoIterator<Item = &'a EgressIP>,
) -> PreviousAssignment {
    let mut out = PreviousAssignment::new();
    for e in eips {
        let name = e.metadata.name.clone().unwrap_or_default();
        for it in &e.status.items {
            if let Ok(ip) = it.egress_ip.trim().parse::<IpAddr>() {
                out.entry(name.clone())
                    .or_default()
                    .insert(ip, it.node.clone());
            }
        }
    }
    out
}

#[derive(Default)]
struct Load {
    v4: u32,
    v6: u32,
}

impl Load {
    fn total(&self) -> u32 {
        self.v4 + self.v6
    }
}

struct State<'a> {
    nodes: BTreeMap<&'a str, &'a EgressNode>,
    load: BTreeMap<&'a str, Load>,
    used_by_object: BTreeMap<&'a str, BTreeSet<&'a str>>,
    out: EgressAssignment,
}

impl<'a> State<'a> {
    fn fits(&self, node: &EgressNode, object: &str, ip: IpAddr) -> Option<EgressInterface> {
        if !node.eligible() {
            return None;
        }
        if self
            .used_by_object
            .get(object)
            .is_some_and(|s| s.contains(node.name.as_str()))
        {
            return None;
        }
        let l = self.load.get(node.name.as_str());
        let (v4, v6) = l.map_or((0, 0), |l| (l.v4, l.v6));
        if !node.has_capacity(ip, v4, v6) {
            return None;
        }
        node.interface_for(ip)
    }

    fn place(&mut self, node: &'a str, object: &'a str, ip: IpAddr, interface: EgressInterface) {
        let l = self.load.entry(node).or_default();
        if ip.is_ipv4() {
            l.v4 += 1;
        } else {
            l.v6 += 1;
        }
        self.used_by_object.entry(object).or_default().insert(node);
        self.out
            .assigned
            .entry(object.to_owned())
            .or_default()
            .insert(
                ip,
                Placement {
                    node: node.to_owned(),
                    interface,
                },
            );
    }

    fn candidates(&self, object: &str, ip: IpAddr) -> Vec<(&'a str, EgressInterface)> {
        self.nodes
            .iter()
            .filter_map(|(name, n)| self.fits(n, object, ip).map(|i| (*name, i)))
            .collect()
    }
}

/// Assigns every requested egress IP to a node, or says why it cannot; see the module
/// documentation for the rules. `previous` is the current assignment (e.g. from
/// [`previous_from_status`] or an earlier [`EgressAssignment::to_previous`]).
pub fn assign_egress_ips(
    nodes: &[EgressNode],
    requests: &[EgressIpRequest],
    previous: &PreviousAssignment,
) -> EgressAssignment {
    let mut by_name: BTreeMap<&str, &EgressNode> = BTreeMap::new();
    for n in nodes {
        by_name.entry(n.name.as_str()).or_insert(n);
    }
    let mut st = State {
        nodes: by_name,
        load: BTreeMap::new(),
        used_by_object: BTreeMap::new(),
        out: EgressAssignment::default(),
    };

    // Requests in a canonical order: objects by name, IPs sorted; duplicates across objects
    // go to the first object.
    let mut sorted: Vec<&EgressIpRequest> = requests.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut node_address: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for (name, n) in &st.nodes {
        for a in n.primary.iter().chain(n.host_cidrs.iter().copied()) {
            node_address.entry(a.addr()).or_insert(name);
        }
    }
    let mut owner: BTreeMap<IpAddr, &str> = BTreeMap::new();
    let mut wanted: Vec<(&str, IpAddr)> = Vec::new();
    let mut seen_objects = BTreeSet::new();
    for r in sorted {
        if !seen_objects.insert(r.name.as_str()) {
            continue;
        }
        let ips: BTreeSet<IpAddr> = r.ips.iter().copied().collect();
        for ip in ips {
            if let Some(node) = node_address.get(&ip) {
                let why = Unassigned::NodeAddress {
                    node: (*node).to_owned(),
                };
                st.out
                    .unassigned
                    .entry(r.name.clone())
                    .or_default()
                    .insert(ip, why);
                continue;
            }
            match owner.get(&ip) {
                Some(o) => {
                    st.out.unassigned.entry(r.name.clone()).or_default().insert(
                        ip,
                        Unassigned::DuplicateIp {
                            owner: (*o).to_owned(),
                        },
                    );
                }
                None => {
                    owner.insert(ip, r.name.as_str());
                    wanted.push((r.name.as_str(), ip));
                }
            }
        }
    }

    // Keep what still fits where it is.
    let mut pending = Vec::new();
    for &(object, ip) in &wanted {
        let kept = previous
            .get(object)
            .and_then(|m| m.get(&ip))
            .and_then(|node| st.nodes.get_key_value(node.as_str()))
            .and_then(|(name, n)| st.fits(n, object, ip).map(|i| (*name, i)));
        match kept {
            Some((node, interface)) => st.place(node, object, ip, interface),
            None => pending.push((object, ip)),
        }
    }

    // Place the rest, most constrained first, each on the least-loaded candidate.
    let mut keyed: Vec<(usize, &str, IpAddr)> = pending
        .into_iter()
        .map(|(o, ip)| (st.candidates(o, ip).len(), o, ip))
        .collect();
    keyed.sort();
    for (_, object, ip) in keyed {
        let best = st
            .candidates(object, ip)
            .into_iter()
            .min_by_key(|(name, _)| (st.load.get(name).map_or(0, Load::total), *name));
        match best {
            Some((node, interface)) => st.place(node, object, ip, interface),
            None => {
                let any_match = st
                    .nodes
                    .values()
                    .any(|n| n.eligible() && n.interface_for(ip).is_some());
                let why = if any_match {
                    Unassigned::NoCapacity
                } else {
                    Unassigned::NoMatchingNode
                };
                st.out
                    .unassigned
                    .entry(object.to_owned())
                    .or_default()
                    .insert(ip, why);
            }
        }
    }
    st.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn node(name: &str, primary: &str) -> EgressNode {
        EgressNode {
            primary: PerFamily {
                ipv4: Some(primary.parse().unwrap()),
                ipv6: None,
            },
            ..EgressNode::new(name)
        }
    }

    fn req(name: &str, ips: &[&str]) -> EgressIpRequest {
        EgressIpRequest {
            name: name.into(),
            ips: ips.iter().map(|s| ip(s)).collect(),
        }
    }

    #[test]
    fn spreads_and_separates_object_ips() {
        let nodes = [
            node("a", "10.0.0.2/24"),
            node("b", "10.0.0.3/24"),
            node("c", "10.0.0.4/24"),
        ];
        let reqs = [
            req("e1", &["10.0.0.10", "10.0.0.11"]),
            req("e2", &["10.0.0.20"]),
        ];
        let out = assign_egress_ips(&nodes, &reqs, &PreviousAssignment::new());
        assert_eq!(out.node_of("e1", ip("10.0.0.10")), Some("a"));
        assert_eq!(out.node_of("e1", ip("10.0.0.11")), Some("b"));
        assert_eq!(out.node_of("e2", ip("10.0.0.20")), Some("c"));
        assert!(out.unassigned.is_empty());
        assert_eq!(assign_egress_ips(&nodes, &reqs, &out.to_previous()), out);
    }

    #[test]
    fn subnet_matching_primary_then_longest_prefix() {
        let mut n = node("a", "10.0.0.2/24");
        n.host_cidrs = vec![
            "10.0.0.2/24".parse().unwrap(),
            "192.168.0.5/16".parse().unwrap(),
            "192.168.1.5/24".parse().unwrap(),
        ];
        assert_eq!(
            n.interface_for(ip("10.0.0.9")),
            Some(EgressInterface::Primary("10.0.0.0/24".parse().unwrap()))
        );
        assert_eq!(
            n.interface_for(ip("192.168.1.9")),
            Some(EgressInterface::Secondary(
                "192.168.1.5/24".parse().unwrap()
            ))
        );
        assert_eq!(
            n.interface_for(ip("192.168.7.9")),
            Some(EgressInterface::Secondary(
                "192.168.0.5/16".parse().unwrap()
            ))
        );
        assert_eq!(n.interface_for(ip("172.16.0.1")), None);
        assert_eq!(n.interface_for(ip("10.0.0.2")), None, "own address");
    }

    #[test]
    fn unreachable_node_loses_only_its_ips() {
        let mut nodes = vec![
            node("a", "10.0.0.2/24"),
            node("b", "10.0.0.3/24"),
            node("c", "10.0.0.4/24"),
        ];
        let reqs = [
            req("e1", &["10.0.0.10", "10.0.0.11"]),
            req("e2", &["10.0.0.20", "10.0.0.21"]),
        ];
        let before = assign_egress_ips(&nodes, &reqs, &PreviousAssignment::new());
        let victim = before.node_of("e1", ip("10.0.0.10")).unwrap().to_owned();
        for n in &mut nodes {
            if n.name == victim {
                n.reachable = false;
            }
        }
        let after = assign_egress_ips(&nodes, &reqs, &before.to_previous());
        for (name, m) in &before.assigned {
            for (i, p) in m {
                if p.node != victim {
                    assert_eq!(after.node_of(name, *i), Some(p.node.as_str()));
                } else {
                    assert_ne!(after.node_of(name, *i), Some(victim.as_str()));
                }
            }
        }
    }

    #[test]
    fn cloud_capacity_and_reasons() {
        let mut a = node("a", "10.0.0.2/24");
        a.cloud = Some(CloudEgressConfig {
            interface: "eni-1".into(),
            ifaddr: PerFamily {
                ipv4: Some("10.0.0.0/24".parse().unwrap()),
                ipv6: None,
            },
            capacity: CloudCapacity::PerFamily { ipv4: 1, ipv6: 0 },
        });
        let reqs = [
            req("e1", &["10.0.0.10"]),
            req("e2", &["10.0.0.11", "10.0.0.10"]),
            req("e3", &["172.16.0.1", "10.0.0.2"]),
        ];
        let out = assign_egress_ips(&[a], &reqs, &PreviousAssignment::new());
        assert_eq!(
            out.unassigned["e3"][&ip("10.0.0.2")],
            Unassigned::NodeAddress { node: "a".into() }
        );
        assert_eq!(out.node_of("e1", ip("10.0.0.10")), Some("a"));
        assert_eq!(
            out.unassigned["e2"][&ip("10.0.0.10")],
            Unassigned::DuplicateIp { owner: "e1".into() }
        );
        assert_eq!(
            out.unassigned["e2"][&ip("10.0.0.11")],
            Unassigned::NoCapacity
        );
        assert_eq!(
            out.unassigned["e3"][&ip("172.16.0.1")],
            Unassigned::NoMatchingNode
        );
    }

    #[test]
    fn from_node_annotations() {
        let n = Node {
            metadata: ObjectMeta {
                name: Some("w1".into()),
                labels: Some([(ann::EGRESS_ASSIGNABLE_LABEL.to_owned(), String::new())].into()),
                annotations: Some(
                    [
                        (ann::NODE_PRIMARY_IFADDR.to_owned(), r#"{"ipv4":"10.0.0.2/24"}"#.to_owned()),
                        (ann::HOST_CIDRS.to_owned(), r#"["10.0.0.2/24","192.168.0.2/24"]"#.to_owned()),
                        (
                            ann::CLOUD_EGRESS_IP_CONFIG.to_owned(),
                            r#"[{"interface":"nic0","ifaddr":{"ipv4":"10.0.0.0/24"},"capacity":{"ip":3}}]"#.to_owned(),
                        ),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        let e = EgressNode::from_node(&n, true).unwrap();
        assert!(e.eligible());
        assert_eq!(e.host_cidrs.len(), 2);
        assert_eq!(e.cloud.unwrap().capacity, CloudCapacity::Shared { ip: 3 });
    }
}
