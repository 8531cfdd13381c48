//! [`build_nb`]: the whole desired Northbound content from a manifest set, as a pure function,
//! and the naming conventions the builders share (MACs from IPs, OVN-Kubernetes' hashed names
//! and `DbObjectIDs`-style external ids).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;

use super::annotations::{self as ann, AnnotationError};
use super::config::{
    assign_join_ips, assign_node_subnets, management_port_address, AllocError, ClusterConfig,
    ConfigError,
};
use super::desired::DesiredNb;
use super::egressip::PreviousAssignment;
use super::manifest::ManifestSet;
use super::selector::SelectorError;
use crate::addr::IpNet;

/// The controller name OVN-Kubernetes writes in `k8s.ovn.org/owner-controller` for the default
/// network.
pub const DEFAULT_CONTROLLER: &str = "default-network-controller";
/// The cluster router.
pub const CLUSTER_ROUTER: &str = "ovn_cluster_router";
/// The join switch.
pub const JOIN_SWITCH: &str = "join";
/// The cluster-wide load balancer group.
pub const CLUSTER_LB_GROUP: &str = "clusterLBGroup";

/// Allocations carried from one build to the next so that unchanged input keeps its addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousState {
    /// Node → pod subnets.
    pub node_subnets: BTreeMap<String, Vec<IpNet>>,
    /// Node → join addresses.
    pub join_ips: BTreeMap<String, Vec<IpNet>>,
    /// EgressIP assignment.
    pub egress: PreviousAssignment,
    /// (namespace, pod) → addresses given to pods without `status.podIPs`.
    pub pod_ips: BTreeMap<(String, String), Vec<IpAddr>>,
}

/// Why the manifests cannot be turned into Northbound content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The cluster settings are invalid.
    #[error("cluster configuration: {0}")]
    Config(#[from] ConfigError),
    /// Subnet or address allocation failed.
    #[error("allocation: {0}")]
    Alloc(#[from] AllocError),
    /// An annotation of an object cannot be parsed.
    #[error("{object}: {error}")]
    Annotation {
        /// `Kind namespace/name`.
        object: String,
        /// The problem.
        error: AnnotationError,
    },
    /// A label selector of an object is invalid.
    #[error("{object}: {error}")]
    Selector {
        /// `Kind namespace/name`.
        object: String,
        /// The problem.
        error: SelectorError,
    },
    /// A field holds a value the layer cannot use.
    #[error("{object}: field {field}: {reason}")]
    Invalid {
        /// `Kind namespace/name`.
        object: String,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Per-node facts the builders share.
#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    pub(crate) name: String,
    pub(crate) chassis: String,
    pub(crate) subnets: Vec<IpNet>,
    pub(crate) join: Vec<IpNet>,
    /// Node IP(s) with their host prefix.
    pub(crate) host: Vec<IpNet>,
    pub(crate) gateway: Vec<IpAddr>,
    pub(crate) labels: BTreeMap<String, String>,
}

impl NodeInfo {
    pub(crate) fn host_of(&self, v4: bool) -> Option<IpNet> {
        self.host.iter().copied().find(|h| h.addr().is_ipv4() == v4)
    }
    pub(crate) fn join_of(&self, v4: bool) -> Option<IpNet> {
        self.join.iter().copied().find(|h| h.addr().is_ipv4() == v4)
    }
    pub(crate) fn mgmt_of(&self, v4: bool) -> Option<IpNet> {
        self.subnets
            .iter()
            .copied()
            .filter(|s| s.addr().is_ipv4() == v4)
            .find_map(management_port_address)
    }
}

/// Everything a builder reads.
pub(crate) struct Input<'a> {
    pub(crate) set: &'a ManifestSet,
    pub(crate) config: &'a ClusterConfig,
    pub(crate) nodes: BTreeMap<String, NodeInfo>,
}

/// OVN-Kubernetes' pod MAC: `0a:58` followed by the last four bytes of the IP.
pub fn mac_from_ip(ip: IpAddr) -> String {
    let b: [u8; 4] = match ip {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(v) => {
            let o = v.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    format!("0a:58:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// OVN-Kubernetes' hashed OVN name (`HashForOVN`): `a` and the decimal 64-bit FNV-1a hash.
pub fn hash_for_ovn(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("a{h}")
}

/// `ip4` or `ip6`.
pub fn ip_field(v4: bool) -> &'static str {
    if v4 {
        "ip4"
    } else {
        "ip6"
    }
}

/// `v4` or `v6` (the `k8s.ovn.org/ip-family` value and address set suffix).
pub fn family(v4: bool) -> &'static str {
    if v4 {
        "v4"
    } else {
        "v6"
    }
}

/// The `DbObjectIDs` external ids: owner type, controller, the object keys in order, and
/// `k8s.ovn.org/id` (all values joined by `:`).
pub fn db_ids(owner_type: &str, keys: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut id = vec![DEFAULT_CONTROLLER.to_owned(), owner_type.to_owned()];
    m.insert("k8s.ovn.org/owner-type".into(), owner_type.into());
    m.insert(
        "k8s.ovn.org/owner-controller".into(),
        DEFAULT_CONTROLLER.into(),
    );
    for (k, v) in keys {
        m.insert(format!("k8s.ovn.org/{k}"), v.clone());
        id.push(v.clone());
    }
    m.insert("k8s.ovn.org/id".into(), id.join(":"));
    m
}

/// An address as it appears in a VIP (`[v6]`).
pub(crate) fn vip_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => format!("[{v}]"),
    }
}

fn node_info(n: &Node, subnets: Vec<IpNet>, join: Vec<IpNet>) -> Result<NodeInfo, BuildError> {
    let name = n.metadata.name.clone().unwrap_or_default();
    let object = format!("Node {name}");
    let annots = n.metadata.annotations.clone().unwrap_or_default();
    let wrap = |error| BuildError::Annotation {
        object: object.clone(),
        error,
    };
    let mut host: Vec<IpNet> = Vec::new();
    if let Some(v) = annots.get(ann::NODE_PRIMARY_IFADDR) {
        host.extend(ann::parse_primary_ifaddr(v).map_err(wrap)?.iter());
    }
    if host.is_empty() {
        for a in n
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
        {
            if a.type_ == "InternalIP" {
                if let Ok(ip) = a.address.parse::<IpAddr>() {
                    let p = if ip.is_ipv4() { 24 } else { 64 };
                    if let Some(net) = IpNet::new(ip, p) {
                        host.push(net);
                    }
                }
            }
        }
    }
    host.sort_by_key(|h| !h.addr().is_ipv4());
    let mut gateway: Vec<IpAddr> = Vec::new();
    if let Some(v) = annots.get("k8s.ovn.org/l3-gateway-config") {
        if let Ok(j) = serde_json::from_str::<serde_json::Value>(v) {
            let hops = j
                .get("default")
                .and_then(|d| d.get("next-hops"))
                .and_then(serde_json::Value::as_array);
            for h in hops.into_iter().flatten() {
                if let Some(ip) = h.as_str().and_then(|s| s.parse().ok()) {
                    gateway.push(ip);
                }
            }
        }
    }
    if gateway.is_empty() {
        gateway = host
            .iter()
            .filter_map(|h| super::config::nth_address(*h, 1))
            .collect();
    }
    let chassis = annots
        .get("k8s.ovn.org/node-chassis-id")
        .cloned()
        .unwrap_or_else(|| name.clone());
    Ok(NodeInfo {
        labels: n.metadata.labels.clone().unwrap_or_default(),
        name,
        chassis,
        subnets,
        join,
        host,
        gateway,
    })
}

/// Builds the whole desired Northbound content for `set` under `config`, as OVN-Kubernetes shapes
/// it: the per-node topology, pods, Services, NetworkPolicies, EgressIPs, EgressServices and
/// secondary networks. `previous` keeps allocations stable; the new allocations are returned in
/// [`DesiredNb::state`].
pub fn build_nb(
    set: &ManifestSet,
    config: &ClusterConfig,
    previous: &PreviousState,
) -> Result<DesiredNb, BuildError> {
    config.validate()?;
    let nodes: Vec<&Node> = set.nodes.values().collect();
    let subnets = assign_node_subnets(config, &nodes, &previous.node_subnets)?;
    let joins = assign_join_ips(config, &nodes, &previous.join_ips)?;
    let mut infos = BTreeMap::new();
    for n in &nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        let info = node_info(
            n,
            subnets.get(&name).cloned().unwrap_or_default(),
            joins.get(&name).cloned().unwrap_or_default(),
        )?;
        infos.insert(name, info);
    }
    let input = Input {
        set,
        config,
        nodes: infos,
    };
    let mut nb = DesiredNb::default();
    nb.state.node_subnets = subnets;
    nb.state.join_ips = joins;
    super::topology::build(&input, &mut nb);
    let pods = super::pods::build(&input, previous, &mut nb)?;
    super::services::build(&input, &mut nb)?;
    super::policy::build(&input, &pods, &mut nb)?;
    super::egress::build(&input, &pods, previous, &mut nb)?;
    super::secondary::build(&input, &mut nb)?;
    Ok(nb)
}
