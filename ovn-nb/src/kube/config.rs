//! Cluster settings as OVN-Kubernetes has them, and the allocations derived from them.
//!
//! [`ClusterConfig`] holds the cluster network(s) with their host prefix (`10.128.0.0/14/23`),
//! the service network(s), the join subnet per family, the masquerade subnet, the MTU, the
//! gateway bridge mapping (`physnet:br-ex`) and the EgressIP reachability timeout. Defaults are
//! OVN-Kubernetes' own; [`ClusterConfig::microshift`] gives MicroShift's. [`ClusterConfig::validate`]
//! checks prefixes, families (dual-stack needs both families everywhere) and overlaps.
//!
//! Allocations, each stable (what a node has, it keeps) and deterministic (new nodes are served in
//! name order):
//! - [`NodeSubnetAllocator`] / [`assign_node_subnets`]: one pod subnet per node and family, carved
//!   from the cluster network by host prefix in OVN-Kubernetes' order (for IPv4, when the subnet
//!   bits straddle an octet boundary, subnets that differ only in the upper octet come first:
//!   `10.128.0.0/23, 10.129.0.0/23, 10.130.0.0/23, 10.131.0.0/23, 10.128.2.0/23, ...`; for IPv6
//!   with 16 or more subnet bits, subnets whose low 16 subnet bits are zero are skipped). A
//!   `k8s.ovn.org/node-subnets` annotation wins over everything.
//! - [`assign_join_ips`]: each node's gateway router address on the join switch (the first address
//!   belongs to `ovn_cluster_router`), from the `k8s.ovn.org/node-gateway-router-lrp-ifaddr(s)`
//!   annotation, else `k8s.ovn.org/node-id` (offset = id), else the previous assignment, else
//!   the lowest free offset.
//! - [`router_port_address`] / [`management_port_address`]: the first and second address of a
//!   node subnet (`rtos-NODE` and `k8s-NODE`).
//!
//! What this does not do: read OVN-Kubernetes' config file or command line, or write anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use k8s_openapi::api::core::v1::Node;

use crate::addr::IpNet;
use crate::kube::annotations::{self as ann, AnnotationError};

/// Default overlay MTU (Geneve leaves 100 bytes of a 1500-byte underlay for its headers).
pub const DEFAULT_MTU: u32 = 1400;
/// Default Geneve UDP port.
pub const DEFAULT_GENEVE_PORT: u16 = 6081;
/// Host prefix used when a cluster network is given without one (IPv4).
pub const DEFAULT_HOST_PREFIX_V4: u8 = 24;
/// Host prefix used when a cluster network is given without one (IPv6).
pub const DEFAULT_HOST_PREFIX_V6: u8 = 64;
/// The physical network name OVN-Kubernetes gives the gateway bridge mapping.
pub const DEFAULT_PHYSNET: &str = "physnet";
/// The default gateway bridge.
pub const DEFAULT_GATEWAY_BRIDGE: &str = "br-ex";

/// An error in the cluster settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A cluster network entry that is not `CIDR` or `CIDR/HOSTPREFIX`.
    #[error("cluster network {0:?}: expected CIDR or CIDR/HOSTPREFIX (e.g. 10.128.0.0/14/23)")]
    ClusterNetworkSyntax(String),
    /// A network with host bits set.
    #[error("{what} {net}: host bits are set (did you mean {}/{}?)", net.network(), net.prefix())]
    HostBits {
        /// Which setting.
        what: &'static str,
        /// The network as written.
        net: IpNet,
    },
    /// A host prefix shorter than its cluster network, or leaving fewer than 4 addresses.
    #[error("cluster network {net}: host prefix {host_prefix} must be between {} and {max}", net.prefix())]
    HostPrefix {
        /// The cluster network.
        net: IpNet,
        /// The host prefix as written.
        host_prefix: u8,
        /// The longest allowed prefix.
        max: u8,
    },
    /// A list that must not be empty.
    #[error("{0}: at least one network is required")]
    Empty(&'static str),
    /// Families differ between settings, or a join subnet has the wrong family.
    #[error("{0}")]
    Family(String),
    /// Two networks overlap.
    #[error("{a_what} {a} overlaps {b_what} {b}")]
    Overlap {
        /// First setting.
        a_what: &'static str,
        /// First network.
        a: IpNet,
        /// Second setting.
        b_what: &'static str,
        /// Second network.
        b: IpNet,
    },
    /// MTU out of range.
    #[error("mtu {mtu}: must be between {min} and 65535")]
    Mtu {
        /// The MTU.
        mtu: u32,
        /// The minimum for the enabled families (IPv6 needs 1280).
        min: u32,
    },
    /// A bridge mapping that is not `NETWORK:BRIDGE`, or a repeated network name.
    #[error("bridge mapping {0:?}: expected NETWORK:BRIDGE with distinct network names")]
    BridgeMapping(String),
    /// A join subnet too small to give each node an address.
    #[error("join subnet {0}: too small (needs at least a /30 or /126)")]
    JoinTooSmall(IpNet),
}

/// A cluster network with the prefix length of each node's share of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterNetwork {
    /// The network (no host bits).
    pub cidr: IpNet,
    /// Prefix length of each node's subnet.
    pub host_prefix: u8,
}

impl ClusterNetwork {
    /// Builds an entry (checked by [`ClusterConfig::validate`]).
    pub fn new(cidr: IpNet, host_prefix: u8) -> Self {
        Self { cidr, host_prefix }
    }
}

impl FromStr for ClusterNetwork {
    type Err = ConfigError;

    /// `10.128.0.0/14/23`, or `10.128.0.0/14` for the family's default host prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ConfigError::ClusterNetworkSyntax(s.to_owned());
        let s = s.trim();
        let parts: Vec<&str> = s.split('/').collect();
        let (cidr, host) = match parts.as_slice() {
            [ip, len] => (format!("{ip}/{len}"), None),
            [ip, len, host] => (format!("{ip}/{len}"), Some(*host)),
            _ => return Err(bad()),
        };
        let cidr: IpNet = cidr.parse().map_err(|_| bad())?;
        let host_prefix = match host {
            Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) => {
                h.parse().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None if cidr.addr().is_ipv4() => DEFAULT_HOST_PREFIX_V4.max(cidr.prefix()),
            None => DEFAULT_HOST_PREFIX_V6.max(cidr.prefix()),
        };
        Ok(Self { cidr, host_prefix })
    }
}

impl fmt::Display for ClusterNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cidr, self.host_prefix)
    }
}

/// Parses a comma-separated cluster network list (`10.128.0.0/14/23,fd01::/48/64`).
pub fn parse_cluster_networks(s: &str) -> Result<Vec<ClusterNetwork>, ConfigError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// A bridge mapping entry: OVN physical network name to OVS bridge (`physnet:br-ex`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeMapping {
    /// The physical network name (`network_name` of localnet ports).
    pub network: String,
    /// The OVS bridge.
    pub bridge: String,
}

impl FromStr for BridgeMapping {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().split_once(':') {
            Some((n, b)) if !n.is_empty() && !b.is_empty() && !b.contains(':') => Ok(Self {
                network: n.to_owned(),
                bridge: b.to_owned(),
            }),
            _ => Err(ConfigError::BridgeMapping(s.to_owned())),
        }
    }
}

impl fmt::Display for BridgeMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.network, self.bridge)
    }
}

/// Parses `ovn-bridge-mappings` syntax: comma-separated `NETWORK:BRIDGE` entries.
pub fn parse_bridge_mappings(s: &str) -> Result<Vec<BridgeMapping>, ConfigError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// How node traffic leaves the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GatewayMode {
    /// Egress goes through the gateway router straight to the gateway bridge (OVN-Kubernetes'
    /// default).
    #[default]
    Shared,
    /// Egress goes through the host's routing table first.
    Local,
}

/// The node gateway: the interface or bridge carrying external traffic and the bridge mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The gateway interface or bridge (`br-ex`).
    pub interface: String,
    /// Bridge mappings; the one for [`DEFAULT_PHYSNET`] names the gateway bridge.
    pub bridge_mappings: Vec<BridgeMapping>,
    /// Shared or local gateway mode.
    pub mode: GatewayMode,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            interface: DEFAULT_GATEWAY_BRIDGE.into(),
            bridge_mappings: vec![BridgeMapping {
                network: DEFAULT_PHYSNET.into(),
                bridge: DEFAULT_GATEWAY_BRIDGE.into(),
            }],
            mode: GatewayMode::Shared,
        }
    }
}

impl GatewayConfig {
    /// The physical network name mapped to the gateway interface (`physnet`), if any.
    pub fn physnet(&self) -> Option<&str> {
        self.bridge_mappings
            .iter()
            .find(|m| m.bridge == self.interface)
            .map(|m| m.network.as_str())
    }
}

/// Cluster-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Pod networks with their host prefix (one or more per family).
    pub cluster_networks: Vec<ClusterNetwork>,
    /// Service (ClusterIP) networks.
    pub service_networks: Vec<IpNet>,
    /// IPv4 join subnet between `ovn_cluster_router` and the gateway routers.
    pub join_subnet_v4: IpNet,
    /// IPv6 join subnet.
    pub join_subnet_v6: IpNet,
    /// IPv4 masquerade subnet (host-to-service and hairpin addresses).
    pub masquerade_subnet_v4: IpNet,
    /// IPv6 masquerade subnet.
    pub masquerade_subnet_v6: IpNet,
    /// Overlay MTU.
    pub mtu: u32,
    /// Geneve UDP port.
    pub encap_port: u16,
    /// Gateway interface and bridge mappings.
    pub gateway: GatewayConfig,
    /// Seconds without a health-check answer before a node's egress IPs move; 0 disables the
    /// check (nodes are always reachable).
    pub egress_ip_reachability_timeout: u32,
}

fn net(s: &str) -> IpNet {
    // Only called on the literals below; a typo shows up in the defaults test.
    s.parse()
        .unwrap_or_else(|_| IpNet::host(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
}

impl Default for ClusterConfig {
    /// OVN-Kubernetes' defaults: cluster network 10.128.0.0/14 with host prefix 23, service
    /// network 172.16.1.0/24, join 100.64.0.0/16 and fd98::/64, masquerade 169.254.169.0/29 and
    /// fd69::/125, MTU 1400, Geneve port 6081, gateway `br-ex` mapped as `physnet`, reachability
    /// timeout 1 s.
    fn default() -> Self {
        Self {
            cluster_networks: vec![ClusterNetwork::new(net("10.128.0.0/14"), 23)],
            service_networks: vec![net("172.16.1.0/24")],
            join_subnet_v4: net("100.64.0.0/16"),
            join_subnet_v6: net("fd98::/64"),
            masquerade_subnet_v4: net("169.254.169.0/29"),
            masquerade_subnet_v6: net("fd69::/125"),
            mtu: DEFAULT_MTU,
            encap_port: DEFAULT_GENEVE_PORT,
            gateway: GatewayConfig::default(),
            egress_ip_reachability_timeout: 1,
        }
    }
}

impl ClusterConfig {
    /// MicroShift's single-node defaults: cluster network 10.42.0.0/16 (host prefix 24), service
    /// network 10.43.0.0/16, otherwise as [`Default`].
    pub fn microshift() -> Self {
        Self {
            cluster_networks: vec![ClusterNetwork::new(net("10.42.0.0/16"), 24)],
            service_networks: vec![net("10.43.0.0/16")],
            ..Self::default()
        }
    }

    /// Whether IPv4 and IPv6 are in use (from the cluster networks).
    pub fn families(&self) -> (bool, bool) {
        let v4 = self
            .cluster_networks
            .iter()
            .any(|n| n.cidr.addr().is_ipv4());
        let v6 = self
            .cluster_networks
            .iter()
            .any(|n| !n.cidr.addr().is_ipv4());
        (v4, v6)
    }

    /// True when both families are in use.
    pub fn is_dual_stack(&self) -> bool {
        self.families() == (true, true)
    }

    /// The join subnets of the families in use, IPv4 first.
    pub fn join_subnets(&self) -> Vec<IpNet> {
        let (v4, v6) = self.families();
        let mut out = Vec::new();
        if v4 {
            out.push(self.join_subnet_v4);
        }
        if v6 {
            out.push(self.join_subnet_v6);
        }
        out
    }

    /// `ovn_cluster_router`'s join address(es) (`rtoj-ovn_cluster_router`, e.g. 100.64.0.1/16).
    pub fn cluster_router_join_addresses(&self) -> Vec<IpNet> {
        self.join_subnets()
            .into_iter()
            .filter_map(router_port_address)
            .collect()
    }

    /// Checks the settings; see the module documentation for the rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cluster_networks.is_empty() {
            return Err(ConfigError::Empty("cluster networks"));
        }
        if self.service_networks.is_empty() {
            return Err(ConfigError::Empty("service networks"));
        }
        let mut named: Vec<(&'static str, IpNet)> = Vec::new();
        for cn in &self.cluster_networks {
            no_host_bits("cluster network", cn.cidr)?;
            let max = if cn.cidr.addr().is_ipv4() { 30 } else { 126 };
            if cn.host_prefix < cn.cidr.prefix() || cn.host_prefix > max {
                return Err(ConfigError::HostPrefix {
                    net: cn.cidr,
                    host_prefix: cn.host_prefix,
                    max,
                });
            }
            named.push(("cluster network", cn.cidr));
        }
        let (v4, v6) = self.families();
        for s in &self.service_networks {
            no_host_bits("service network", *s)?;
            named.push(("service network", *s));
        }
        let svc_v4 = self.service_networks.iter().any(|n| n.addr().is_ipv4());
        let svc_v6 = self.service_networks.iter().any(|n| !n.addr().is_ipv4());
        if (svc_v4, svc_v6) != (v4, v6) {
            return Err(ConfigError::Family(format!(
                "service networks are {} but cluster networks are {}",
                family_name(svc_v4, svc_v6),
                family_name(v4, v6)
            )));
        }
        for (what, n, want_v4) in [
            ("join subnet (IPv4)", self.join_subnet_v4, true),
            ("join subnet (IPv6)", self.join_subnet_v6, false),
            ("masquerade subnet (IPv4)", self.masquerade_subnet_v4, true),
            ("masquerade subnet (IPv6)", self.masquerade_subnet_v6, false),
        ] {
            if n.addr().is_ipv4() != want_v4 {
                return Err(ConfigError::Family(format!(
                    "{what} {n} is of the other family"
                )));
            }
            no_host_bits(what, n)?;
            if (want_v4 && v4) || (!want_v4 && v6) {
                named.push((what, n));
            }
        }
        for j in self.join_subnets() {
            let max = if j.addr().is_ipv4() { 30 } else { 126 };
            if j.prefix() > max {
                return Err(ConfigError::JoinTooSmall(j));
            }
        }
        for (i, (aw, a)) in named.iter().enumerate() {
            for (bw, b) in &named[i + 1..] {
                if a.contains(b.addr()) || b.contains(a.addr()) {
                    return Err(ConfigError::Overlap {
                        a_what: aw,
                        a: *a,
                        b_what: bw,
                        b: *b,
                    });
                }
            }
        }
        let min = if v6 { 1280 } else { 576 };
        if self.mtu < min || self.mtu > 65535 {
            return Err(ConfigError::Mtu { mtu: self.mtu, min });
        }
        let mut seen = BTreeSet::new();
        for m in &self.gateway.bridge_mappings {
            if m.network.is_empty() || m.bridge.is_empty() || !seen.insert(&m.network) {
                return Err(ConfigError::BridgeMapping(m.to_string()));
            }
        }
        Ok(())
    }
}

fn family_name(v4: bool, v6: bool) -> &'static str {
    match (v4, v6) {
        (true, true) => "dual-stack",
        (true, false) => "IPv4-only",
        (false, true) => "IPv6-only",
        (false, false) => "empty",
    }
}

fn no_host_bits(what: &'static str, n: IpNet) -> Result<(), ConfigError> {
    if n.addr() == n.network() {
        Ok(())
    } else {
        Err(ConfigError::HostBits { what, net: n })
    }
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v4: bool, v: u128) -> Option<IpAddr> {
    if v4 {
        u32::try_from(v).ok().map(|v| IpAddr::V4(Ipv4Addr::from(v)))
    } else {
        Some(IpAddr::V6(Ipv6Addr::from(v)))
    }
}

fn width(n: IpNet) -> u8 {
    if n.addr().is_ipv4() {
        32
    } else {
        128
    }
}

/// Number of addresses in `n` (saturating at `u128::MAX` for a /0 IPv6 network).
fn size(n: IpNet) -> u128 {
    1u128
        .checked_shl(u32::from(width(n) - n.prefix()))
        .unwrap_or(u128::MAX)
}

/// The address at offset `n` from the network address, if it lies inside `net`.
pub fn nth_address(net: IpNet, n: u128) -> Option<IpAddr> {
    if n >= size(net) && size(net) != u128::MAX {
        return None;
    }
    let base = to_u128(net.network());
    from_u128(net.addr().is_ipv4(), base.checked_add(n)?)
}

/// Offset of `ip` from the network address of `net`, if `ip` lies inside it.
pub fn address_offset(net: IpNet, ip: IpAddr) -> Option<u128> {
    net.contains(ip)
        .then(|| to_u128(ip) - to_u128(net.network()))
}

/// The first address of a subnet with its prefix (`10.128.0.1/23`): the node switch's router
/// port `rtos-NODE`, and `ovn_cluster_router`'s port on the join subnet.
pub fn router_port_address(subnet: IpNet) -> Option<IpNet> {
    IpNet::new(nth_address(subnet, 1)?, subnet.prefix())
}

/// The second address of a node subnet with its prefix (`10.128.0.2/23`): the management port
/// `k8s-NODE`.
pub fn management_port_address(subnet: IpNet) -> Option<IpNet> {
    IpNet::new(nth_address(subnet, 2)?, subnet.prefix())
}

/// The first and last address pods may get in a node subnet: after the router and management
/// port addresses, before the IPv4 broadcast address.
pub fn pod_address_range(subnet: IpNet) -> Option<(IpAddr, IpAddr)> {
    let first = nth_address(subnet, 3)?;
    let last_offset = size(subnet).checked_sub(if subnet.addr().is_ipv4() { 2 } else { 1 })?;
    (last_offset >= 3).then_some(())?;
    Some((first, nth_address(subnet, last_offset)?))
}

/// An allocation error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// No free subnet or address is left.
    #[error("node {node}: {pool} is exhausted")]
    Exhausted {
        /// The node that asked.
        node: String,
        /// The network allocated from.
        pool: IpNet,
    },
    /// A requested subnet or address is not one the allocator hands out.
    #[error("node {node}: {value} is not {expected}")]
    NotInPool {
        /// The node.
        node: String,
        /// The subnet or address.
        value: IpNet,
        /// What would have been accepted.
        expected: String,
    },
    /// A subnet or address already held by another node.
    #[error("node {node}: {value} is already assigned to node {owner}")]
    Conflict {
        /// The node asking.
        node: String,
        /// The subnet or address.
        value: IpNet,
        /// The node holding it.
        owner: String,
    },
    /// A node annotation that cannot be parsed.
    #[error("node {node}: {error}")]
    Annotation {
        /// The node.
        node: String,
        /// The annotation problem.
        error: AnnotationError,
    },
}

/// One cluster network's subnet numbering.
#[derive(Debug, Clone)]
struct SubnetRange {
    net: ClusterNetwork,
    host_bits: u32,
    subnet_bits: u32,
    count: u128,
    rotate: Option<(u32, u128, u32, u128)>,
    next: u128,
}

impl SubnetRange {
    fn new(net: ClusterNetwork) -> Self {
        let w = u32::from(width(net.cidr));
        let host_bits = w - u32::from(net.host_prefix);
        let subnet_bits = u32::from(net.host_prefix.saturating_sub(net.cidr.prefix()));
        let count = 1u128 << subnet_bits.min(24);
        // IPv4: when the subnet number spills from the octet it shares with the host part into
        // the next one up, number subnets so the upper octet changes first.
        let rotate = (w == 32
            && host_bits % 8 != 0
            && (host_bits - 1) / 8 != (host_bits + subnet_bits - 1) / 8)
            .then(|| {
                let left = 8 - host_bits % 8;
                (
                    left,
                    (1u128 << subnet_bits) - 1,
                    subnet_bits - left,
                    (1u128 << left) - 1,
                )
            });
        Self {
            net,
            host_bits,
            subnet_bits,
            count,
            rotate,
            next: 0,
        }
    }

    /// The subnet with allocation number `n`, or `None` for numbers the order skips.
    fn subnet(&self, n: u128) -> Option<IpNet> {
        let base = match self.rotate {
            Some((ls, lm, rs, rm)) => ((n << ls) & lm) | ((n >> rs) & rm),
            None if !self.net.cidr.addr().is_ipv4()
                && self.subnet_bits >= 16
                && n & 0xffff == 0 =>
            {
                return None
            }
            None => n,
        };
        let addr = to_u128(self.net.cidr.network()) | base.checked_shl(self.host_bits)?;
        IpNet::new(
            from_u128(self.net.cidr.addr().is_ipv4(), addr)?,
            self.net.host_prefix,
        )
    }

    fn holds(&self, s: IpNet) -> bool {
        s.prefix() == self.net.host_prefix
            && s.addr() == s.network()
            && self.net.cidr.contains(s.addr())
    }
}

/// Hands out per-node pod subnets from the cluster networks, one per family per node.
#[derive(Debug, Clone)]
pub struct NodeSubnetAllocator {
    ranges: Vec<SubnetRange>,
    owners: BTreeMap<IpNet, String>,
    by_node: BTreeMap<String, Vec<IpNet>>,
}

impl NodeSubnetAllocator {
    /// An allocator over `config`'s cluster networks (validate the config first).
    pub fn new(config: &ClusterConfig) -> Self {
        Self {
            ranges: config
                .cluster_networks
                .iter()
                .copied()
                .map(SubnetRange::new)
                .collect(),
            owners: BTreeMap::new(),
            by_node: BTreeMap::new(),
        }
    }

    /// Records that `node` holds `subnet` (from an annotation or an earlier run). The subnet must
    /// be a host-prefix subnet of a cluster network, free or already `node`'s, and `node` must not
    /// already hold a different subnet of the same family.
    pub fn reserve(&mut self, node: &str, subnet: IpNet) -> Result<(), AllocError> {
        if !self.ranges.iter().any(|r| r.holds(subnet)) {
            let expected = self
                .ranges
                .iter()
                .map(|r| r.net.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AllocError::NotInPool {
                node: node.into(),
                value: subnet,
                expected: format!("a host subnet of the cluster network(s) {expected}"),
            });
        }
        if let Some(owner) = self.owners.get(&subnet) {
            if owner == node {
                return Ok(());
            }
            return Err(AllocError::Conflict {
                node: node.into(),
                value: subnet,
                owner: owner.clone(),
            });
        }
        let held = self.by_node.entry(node.to_owned()).or_default();
        if let Some(other) = held
            .iter()
            .find(|s| s.addr().is_ipv4() == subnet.addr().is_ipv4())
        {
            return Err(AllocError::NotInPool {
                node: node.into(),
                value: subnet,
                expected: format!("a second subnet of its family (node already holds {other})"),
            });
        }
        held.push(subnet);
        self.owners.insert(subnet, node.to_owned());
        Ok(())
    }

    /// Ensures `node` holds one subnet per family in use and returns them, IPv4 first. Subnets
    /// the node already holds are kept.
    pub fn allocate(&mut self, node: &str) -> Result<Vec<IpNet>, AllocError> {
        for v4 in [true, false] {
            let has = self
                .by_node
                .get(node)
                .is_some_and(|h| h.iter().any(|s| s.addr().is_ipv4() == v4));
            let family_ranges: Vec<usize> = (0..self.ranges.len())
                .filter(|i| self.ranges[*i].net.cidr.addr().is_ipv4() == v4)
                .collect();
            if has || family_ranges.is_empty() {
                continue;
            }
            let mut got = None;
            for &i in &family_ranges {
                if let Some(s) = self.take_from(i) {
                    got = Some(s);
                    break;
                }
            }
            let Some(s) = got else {
                return Err(AllocError::Exhausted {
                    node: node.into(),
                    pool: self.ranges[family_ranges[0]].net.cidr,
                });
            };
            self.owners.insert(s, node.to_owned());
            self.by_node.entry(node.to_owned()).or_default().push(s);
        }
        Ok(self.subnets(node))
    }

    fn take_from(&mut self, i: usize) -> Option<IpNet> {
        let r = &self.ranges[i];
        for k in 0..r.count {
            let n = (r.next + k) % r.count;
            if let Some(s) = r.subnet(n).filter(|s| !self.owners.contains_key(s)) {
                self.ranges[i].next = n + 1;
                return Some(s);
            }
        }
        None
    }

    /// Frees every subnet `node` holds.
    pub fn release(&mut self, node: &str) {
        for s in self.by_node.remove(node).unwrap_or_default() {
            self.owners.remove(&s);
        }
    }

    /// The subnets `node` holds, IPv4 first.
    pub fn subnets(&self, node: &str) -> Vec<IpNet> {
        let mut v = self.by_node.get(node).cloned().unwrap_or_default();
        v.sort_by_key(|s| !s.addr().is_ipv4());
        v
    }

    /// The node holding `subnet`.
    pub fn owner(&self, subnet: IpNet) -> Option<&str> {
        self.owners.get(&subnet).map(String::as_str)
    }
}

fn node_name(n: &Node) -> &str {
    n.metadata.name.as_deref().unwrap_or_default()
}

fn node_annotation<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The default network's subnets from a node's `k8s.ovn.org/node-subnets` annotation.
pub fn annotated_node_subnets(n: &Node) -> Result<Vec<IpNet>, AllocError> {
    let Some(v) = node_annotation(n, ann::NODE_SUBNETS) else {
        return Ok(Vec::new());
    };
    let mut m = ann::parse_node_subnets(v).map_err(|error| AllocError::Annotation {
        node: node_name(n).into(),
        error,
    })?;
    Ok(m.remove(ann::DEFAULT_NETWORK).unwrap_or_default())
}

/// Pod subnets for every node: annotated subnets first (all nodes), then `previous` ones still
/// valid and free, then new subnets for the rest in node-name order. Nodes absent from `nodes`
/// lose theirs. Returns node name → subnets (IPv4 first).
pub fn assign_node_subnets(
    config: &ClusterConfig,
    nodes: &[&Node],
    previous: &BTreeMap<String, Vec<IpNet>>,
) -> Result<BTreeMap<String, Vec<IpNet>>, AllocError> {
    let mut alloc = NodeSubnetAllocator::new(config);
    let mut sorted: Vec<&Node> = nodes.to_vec();
    sorted.sort_by(|a, b| node_name(a).cmp(node_name(b)));
    for n in &sorted {
        for s in annotated_node_subnets(n)? {
            alloc.reserve(node_name(n), s)?;
        }
    }
    for n in &sorted {
        for s in previous.get(node_name(n)).into_iter().flatten() {
            // A stale previous entry (config changed, or taken by an annotation) is dropped.
            let _ = alloc.reserve(node_name(n), *s);
        }
    }
    let mut out = BTreeMap::new();
    for n in &sorted {
        out.insert(node_name(n).to_owned(), alloc.allocate(node_name(n))?);
    }
    Ok(out)
}

/// The join address(es) a node's annotations fix: the `...-lrp-ifaddrs` default network entry,
/// else `...-lrp-ifaddr`.
pub fn annotated_join_addresses(n: &Node) -> Result<Vec<IpNet>, AllocError> {
    let name = node_name(n);
    let wrap = |error| AllocError::Annotation {
        node: name.into(),
        error,
    };
    if let Some(v) = node_annotation(n, ann::NODE_GATEWAY_ROUTER_LRP_IFADDRS) {
        let m = ann::parse_gateway_router_lrp_ifaddrs(v).map_err(wrap)?;
        if let Some(pf) = m.get(ann::DEFAULT_NETWORK) {
            return Ok(pf.iter().collect());
        }
    }
    if let Some(v) = node_annotation(n, ann::NODE_GATEWAY_ROUTER_LRP_IFADDR) {
        return Ok(ann::parse_gateway_router_lrp_ifaddr(v)
            .map_err(wrap)?
            .iter()
            .collect());
    }
    Ok(Vec::new())
}

/// Each node's gateway router address on the join switch (`rtoj-GR_NODE`), per family in use,
/// with the join subnet's prefix. Sources in order: the lrp-ifaddr annotations, the
/// `k8s.ovn.org/node-id` annotation (offset = id), `previous`, then the lowest free offset from 2
/// in node-name order. Offset 0 (network) and 1 (`ovn_cluster_router`) are never given out.
pub fn assign_join_ips(
    config: &ClusterConfig,
    nodes: &[&Node],
    previous: &BTreeMap<String, Vec<IpNet>>,
) -> Result<BTreeMap<String, Vec<IpNet>>, AllocError> {
    let mut sorted: Vec<&Node> = nodes.to_vec();
    sorted.sort_by(|a, b| node_name(a).cmp(node_name(b)));
    let mut out: BTreeMap<String, Vec<IpNet>> = BTreeMap::new();
    for join in config.join_subnets() {
        let v4 = join.addr().is_ipv4();
        let last = size(join).saturating_sub(if v4 { 2 } else { 1 });
        let mut owners: BTreeMap<u128, String> = BTreeMap::new();
        let mut chosen: BTreeMap<String, u128> = BTreeMap::new();
        let claim = |node: &str, off: u128, owners: &mut BTreeMap<u128, String>| {
            let value = IpNet::new(nth_address(join, off).unwrap_or(join.addr()), join.prefix())
                .unwrap_or(join);
            if !(2..=last).contains(&off) {
                return Err(AllocError::NotInPool {
                    node: node.into(),
                    value,
                    expected: format!("a node address in join subnet {join} (offset 2 or more)"),
                });
            }
            match owners.get(&off) {
                Some(o) if o != node => Err(AllocError::Conflict {
                    node: node.into(),
                    value,
                    owner: o.clone(),
                }),
                _ => {
                    owners.insert(off, node.to_owned());
                    Ok(())
                }
            }
        };
        // Annotated addresses, then node ids: both are authoritative, so conflicts are errors.
        for n in &sorted {
            let name = node_name(n);
            let from_annotation = annotated_join_addresses(n)?
                .into_iter()
                .find(|a| a.addr().is_ipv4() == v4);
            let off =
                match from_annotation {
                    Some(a) => Some(address_offset(join, a.addr()).ok_or_else(|| {
                        AllocError::NotInPool {
                            node: name.into(),
                            value: a,
                            expected: format!("an address in join subnet {join}"),
                        }
                    })?),
                    None => match node_annotation(n, ann::NODE_ID) {
                        Some(v) => Some(u128::from(ann::parse_node_id(v).map_err(|error| {
                            AllocError::Annotation {
                                node: name.into(),
                                error,
                            }
                        })?)),
                        None => None,
                    },
                };
            if let Some(off) = off {
                claim(name, off, &mut owners)?;
                chosen.insert(name.to_owned(), off);
            }
        }
        // Previous assignments, when still valid and free.
        for n in &sorted {
            let name = node_name(n);
            if chosen.contains_key(name) {
                continue;
            }
            let prev = previous
                .get(name)
                .into_iter()
                .flatten()
                .find(|a| a.addr().is_ipv4() == v4 && a.prefix() == join.prefix())
                .and_then(|a| address_offset(join, a.addr()));
            if let Some(off) = prev {
                if claim(name, off, &mut owners).is_ok() {
                    chosen.insert(name.to_owned(), off);
                }
            }
        }
        // New nodes: lowest free offset.
        let mut cursor = 2u128;
        for n in &sorted {
            let name = node_name(n);
            if chosen.contains_key(name) {
                continue;
            }
            while owners.contains_key(&cursor) {
                cursor += 1;
            }
            if cursor > last {
                return Err(AllocError::Exhausted {
                    node: name.into(),
                    pool: join,
                });
            }
            owners.insert(cursor, name.to_owned());
            chosen.insert(name.to_owned(), cursor);
        }
        for (name, off) in chosen {
            if let Some(a) = nth_address(join, off).and_then(|a| IpNet::new(a, join.prefix())) {
                out.entry(name).or_default().push(a);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // tests tweak one default at a time
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn node(name: &str, annotations: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: (!annotations.is_empty()).then(|| {
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect()
                }),
                ..ObjectMeta::default()
            },
            ..Node::default()
        }
    }

    #[test]
    fn defaults_are_valid() {
        let c = ClusterConfig::default();
        c.validate().unwrap();
        assert_eq!(c.cluster_networks[0].to_string(), "10.128.0.0/14/23");
        assert_eq!(c.join_subnet_v4.to_string(), "100.64.0.0/16");
        assert_eq!(c.join_subnet_v6.to_string(), "fd98::/64");
        assert_eq!(c.service_networks[0].to_string(), "172.16.1.0/24");
        assert_eq!(c.masquerade_subnet_v4.to_string(), "169.254.169.0/29");
        assert_eq!(c.mtu, 1400);
        assert_eq!(c.gateway.physnet(), Some("physnet"));
        assert!(!c.is_dual_stack());
        assert_eq!(c.cluster_router_join_addresses(), vec![n("100.64.0.1/16")]);
        ClusterConfig::microshift().validate().unwrap();
    }

    #[test]
    fn parse_networks_and_mappings() {
        let v = parse_cluster_networks("10.128.0.0/14/23, fd01::/48/64,10.0.0.0/16").unwrap();
        assert_eq!(v[0].host_prefix, 23);
        assert_eq!(v[1].host_prefix, 64);
        assert_eq!(v[2].host_prefix, 24);
        for bad in ["10.0.0.0", "10.0.0.0/16/x", "10.0.0.0/16/23/1", "x/16/23"] {
            assert!(bad.parse::<ClusterNetwork>().is_err(), "{bad}");
        }
        let m = parse_bridge_mappings("physnet:br-ex,tenant:br-tenant").unwrap();
        assert_eq!(m[1].to_string(), "tenant:br-tenant");
        assert!(parse_bridge_mappings("physnet").is_err());
        assert!(parse_bridge_mappings(":br-ex").is_err());
    }

    #[test]
    fn validation_errors() {
        let mut c = ClusterConfig::default();
        c.cluster_networks[0].host_prefix = 13;
        assert!(matches!(c.validate(), Err(ConfigError::HostPrefix { .. })));
        let mut c = ClusterConfig::default();
        c.cluster_networks[0].cidr = n("10.128.0.1/14");
        assert!(matches!(c.validate(), Err(ConfigError::HostBits { .. })));
        let mut c = ClusterConfig::default();
        c.service_networks = vec![n("10.129.0.0/16")];
        assert!(matches!(c.validate(), Err(ConfigError::Overlap { .. })));
        let mut c = ClusterConfig::default();
        c.cluster_networks
            .push(ClusterNetwork::new(n("fd01::/48"), 64));
        assert!(matches!(c.validate(), Err(ConfigError::Family(_))));
        c.service_networks.push(n("fd02::/112"));
        c.validate().unwrap();
        assert!(c.is_dual_stack());
        assert_eq!(c.join_subnets().len(), 2);
        c.mtu = 1000;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Mtu { min: 1280, .. })
        ));
        let mut c = ClusterConfig::default();
        c.join_subnet_v4 = n("10.128.0.0/16");
        assert!(matches!(c.validate(), Err(ConfigError::Overlap { .. })));
        let mut c = ClusterConfig::default();
        c.gateway
            .bridge_mappings
            .push("physnet:br-other".parse().unwrap());
        assert!(matches!(c.validate(), Err(ConfigError::BridgeMapping(_))));
    }

    #[test]
    fn address_conventions() {
        let s = n("10.128.2.0/23");
        assert_eq!(router_port_address(s).unwrap().to_string(), "10.128.2.1/23");
        assert_eq!(
            management_port_address(s).unwrap().to_string(),
            "10.128.2.2/23"
        );
        let (first, last) = pod_address_range(s).unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("10.128.2.3".into(), "10.128.3.254".into())
        );
        let v6 = n("fd01:0:0:5::/64");
        assert_eq!(
            management_port_address(v6).unwrap().to_string(),
            "fd01:0:0:5::2/64"
        );
        assert_eq!(nth_address(n("10.0.0.0/30"), 4), None);
        assert_eq!(
            address_offset(n("10.0.0.0/24"), "10.0.0.9".parse().unwrap()),
            Some(9)
        );
        assert!(pod_address_range(n("10.0.0.0/30")).is_none());
    }

    #[test]
    fn subnet_order_matches_ovn_kubernetes() {
        let c = ClusterConfig::default();
        let mut a = NodeSubnetAllocator::new(&c);
        let got: Vec<String> = (0..6)
            .map(|i| a.allocate(&format!("n{i}")).unwrap()[0].to_string())
            .collect();
        assert_eq!(
            got,
            [
                "10.128.0.0/23",
                "10.129.0.0/23",
                "10.130.0.0/23",
                "10.131.0.0/23",
                "10.128.2.0/23",
                "10.129.2.0/23"
            ]
        );
        // Byte-aligned host part: plain order.
        let c = ClusterConfig::microshift();
        let mut a = NodeSubnetAllocator::new(&c);
        assert_eq!(a.allocate("x").unwrap()[0].to_string(), "10.42.0.0/24");
        assert_eq!(a.allocate("y").unwrap()[0].to_string(), "10.42.1.0/24");
        // IPv6 with 16 subnet bits skips the all-zero subnet.
        let mut c = ClusterConfig::default();
        c.cluster_networks = vec![ClusterNetwork::new(n("fd01::/48"), 64)];
        let mut a = NodeSubnetAllocator::new(&c);
        assert_eq!(a.allocate("x").unwrap()[0].to_string(), "fd01:0:0:1::/64");
    }

    #[test]
    fn allocator_exhaustion_and_release() {
        let mut c = ClusterConfig::default();
        c.cluster_networks = vec![ClusterNetwork::new(n("10.0.0.0/23"), 24)];
        let mut a = NodeSubnetAllocator::new(&c);
        a.allocate("a").unwrap();
        a.allocate("b").unwrap();
        assert!(matches!(a.allocate("c"), Err(AllocError::Exhausted { .. })));
        assert_eq!(a.allocate("a").unwrap(), vec![n("10.0.0.0/24")]);
        a.release("a");
        assert_eq!(a.allocate("c").unwrap(), vec![n("10.0.0.0/24")]);
        assert!(matches!(
            a.reserve("d", n("10.0.1.0/24")),
            Err(AllocError::Conflict { .. })
        ));
        assert!(matches!(
            a.reserve("d", n("10.9.0.0/24")),
            Err(AllocError::NotInPool { .. })
        ));
    }

    #[test]
    fn node_subnets_stable_and_annotations_honoured() {
        let c = ClusterConfig::default();
        let a = node("a", &[]);
        let b = node(
            "b",
            &[(ann::NODE_SUBNETS, r#"{"default":["10.128.0.0/23"]}"#)],
        );
        let first = assign_node_subnets(&c, &[&a, &b], &BTreeMap::new()).unwrap();
        assert_eq!(first["b"], vec![n("10.128.0.0/23")]);
        assert_eq!(first["a"], vec![n("10.129.0.0/23")]);
        // A new node sorting first does not move anyone.
        let a0 = node("0", &[]);
        let second = assign_node_subnets(&c, &[&a0, &a, &b], &first).unwrap();
        assert_eq!(second["a"], first["a"]);
        assert_eq!(second["b"], first["b"]);
        assert_eq!(second["0"], vec![n("10.130.0.0/23")]);
        let bad = node(
            "z",
            &[(ann::NODE_SUBNETS, r#"{"default":"192.168.0.0/23"}"#)],
        );
        assert!(assign_node_subnets(&c, &[&bad], &BTreeMap::new()).is_err());
    }

    #[test]
    fn join_ips() {
        let mut c = ClusterConfig::default();
        let a = node("a", &[]);
        let b = node("b", &[(ann::NODE_ID, "5")]);
        let d = node(
            "d",
            &[(
                ann::NODE_GATEWAY_ROUTER_LRP_IFADDR,
                r#"{"ipv4":"100.64.0.2/16"}"#,
            )],
        );
        let got = assign_join_ips(&c, &[&a, &b, &d], &BTreeMap::new()).unwrap();
        assert_eq!(got["d"], vec![n("100.64.0.2/16")]);
        assert_eq!(got["b"], vec![n("100.64.0.5/16")]);
        assert_eq!(got["a"], vec![n("100.64.0.3/16")]);
        let again = assign_join_ips(&c, &[&a, &b, &d], &got).unwrap();
        assert_eq!(again, got);
        let clash = node("e", &[(ann::NODE_ID, "2")]);
        assert!(matches!(
            assign_join_ips(&c, &[&clash, &d], &BTreeMap::new()),
            Err(AllocError::Conflict { .. })
        ));
        let one = node("f", &[(ann::NODE_ID, "1")]);
        assert!(assign_join_ips(&c, &[&one], &BTreeMap::new()).is_err());
        c.cluster_networks
            .push(ClusterNetwork::new(n("fd01::/48"), 64));
        c.service_networks.push(n("fd02::/112"));
        let got = assign_join_ips(&c, &[&a], &BTreeMap::new()).unwrap();
        assert_eq!(got["a"], vec![n("100.64.0.2/16"), n("fd98::2/64")]);
    }
}
