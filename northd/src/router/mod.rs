//! The logical router pipeline: a parsed view of each router and its ports, and one module per
//! group of stages building that stage's flows.
//!
//! Module ownership by stage group:
//! - [`input`]: `lr_in_admission`, `lr_in_lookup_neighbor`, `lr_in_learn_neighbor`,
//!   `lr_in_ip_input` (router IPs: ARP/ND replies, ICMP echo, TTL exceeded, unreachable),
//!   `lr_in_nd_ra_options`, `lr_in_nd_ra_response`, `lr_out_egr_loop`, `lr_out_delivery`.
//! - [`routing`]: `lr_in_ip_routing_pre`, `lr_in_ip_routing`, `lr_in_ip_routing_ecmp`,
//!   `lr_in_policy`, `lr_in_policy_ecmp`, `lr_in_arp_resolve`, `lr_in_chk_pkt_len`,
//!   `lr_in_larger_pkts`, `lr_in_arp_request`.
//! - [`nat`]: `lr_in_unsnat`, `lr_in_dnat`, `lr_out_undnat`, `lr_out_post_undnat`, `lr_out_snat`,
//!   `lr_out_post_snat`, `lr_in_ecmp_stateful`, `lr_out_chk_dnat_local`, and the NAT flows of
//!   other stages.
//! - [`lb`]: `lr_in_defrag`, `lr_in_lb_aff_check`, `lr_in_lb_aff_learn`, and the load balancer
//!   flows of other stages.
//! - [`gateway`]: `lr_in_gw_redirect` and the distributed gateway port flows of other stages.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ovn_nb::addr::{IpNet, MacAddr};
use ovn_nb::model as nb;
use ovsdb::model::{Ref, SortedMap};

use crate::error::NbWarning;
use crate::flow::{DpIndex, FlowTable};
use crate::lb::LoadBalancer;
use crate::snapshot::NbSnapshot;
use crate::state::ChassisFeatures;

pub mod gateway;
pub mod input;
pub mod input_mcast;
pub mod input_ra;
pub mod lb;
pub mod nat;
pub mod routing;

/// An IPv4 address of a router port with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The router's address.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub plen: u8,
}

impl Ipv4Net {
    /// The network address (host bits cleared).
    pub fn network(self) -> Ipv4Addr {
        let m = u32::MAX.checked_shl(32 - u32::from(self.plen)).unwrap_or(0);
        Ipv4Addr::from(u32::from(self.addr) & m)
    }

    /// The broadcast address.
    pub fn broadcast(self) -> Ipv4Addr {
        let m = u32::MAX.checked_shl(32 - u32::from(self.plen)).unwrap_or(0);
        Ipv4Addr::from(u32::from(self.addr) | !m)
    }

    /// `network/plen` as OVN prints a subnet (`10.0.0.0/24`).
    pub fn subnet(self) -> String {
        format!("{}/{}", self.network(), self.plen)
    }
}

/// An IPv6 address of a router port with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Net {
    /// The router's address.
    pub addr: Ipv6Addr,
    /// Prefix length.
    pub plen: u8,
}

impl Ipv6Net {
    /// The network address (host bits cleared).
    pub fn network(self) -> Ipv6Addr {
        let m = u128::MAX
            .checked_shl(128 - u32::from(self.plen))
            .unwrap_or(0);
        Ipv6Addr::from(u128::from(self.addr) & m)
    }

    /// `network/plen` as OVN prints a subnet (`fd00::/64`).
    pub fn subnet(self) -> String {
        format!("{}/{}", self.network(), self.plen)
    }

    /// True for a link-local (`fe80::/10`) address.
    pub fn is_link_local(self) -> bool {
        self.addr.segments()[0] & 0xffc0 == 0xfe80
    }
}

/// The EUI-64 link-local address ovn-northd derives from a MAC (`fe80::` + modified EUI-64).
pub fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// The router port named `name`, when it belongs to an enabled router (a disabled router gets no
/// datapath, so for switch ports naming its ports the peer does not exist).
pub fn enabled_router_port<'a>(
    nb: &'a NbSnapshot,
    name: &str,
) -> Option<&'a nb::LogicalRouterPort> {
    let lrp = nb.router_ports.values().find(|l| l.name == name)?;
    nb.routers
        .values()
        .any(|lr| lr.enabled != Some(false) && lr.ports.contains(&lrp.uuid))
        .then_some(lrp)
}

/// The values of `keys` found in `map`, in the order of `keys`. When `keys` are sorted (as the
/// load balancer lists of views are) this walks the map alongside them rather than searching it
/// for each key: a router with thousands of load balancers from a group resolves them in one
/// pass. Any order is correct.
pub fn lookup_sorted<'m, K: Ord, V>(map: &'m BTreeMap<K, V>, keys: &[K]) -> Vec<Option<&'m V>> {
    /// Steps taken along the map before searching it instead.
    const WALK: usize = 8;
    if map.len() / WALK > keys.len() {
        // Keys are sparse in the map: walking would not pay.
        return keys.iter().map(|k| map.get(k)).collect();
    }
    let mut out = Vec::with_capacity(keys.len());
    let mut it = map.range::<K, _>(..);
    let mut at = it.next();
    let mut prev: Option<&K> = None;
    for k in keys {
        if prev.is_some_and(|p| k <= p) {
            it = map.range::<K, _>(k..);
            at = it.next();
        }
        prev = Some(k);
        let mut steps = 0;
        let found = loop {
            let Some((mk, v)) = at else {
                break None;
            };
            match mk.cmp(k) {
                std::cmp::Ordering::Less if steps < WALK => {
                    steps += 1;
                    at = it.next();
                }
                std::cmp::Ordering::Less => {
                    it = map.range::<K, _>(k..);
                    at = it.next();
                }
                std::cmp::Ordering::Equal => {
                    at = it.next();
                    break Some(v);
                }
                std::cmp::Ordering::Greater => break None,
            }
        };
        out.push(found);
    }
    out
}

/// What a router port is connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A switch port of type `router` naming this port in `options:router-port`.
    Switch {
        /// The switch port's name.
        port: String,
    },
    /// Another router's port, through the `peer` columns.
    Router {
        /// The peer router port's name.
        port: String,
    },
}

/// A logical router port as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct RouterPort {
    /// The NB row.
    pub nb: Ref<nb::LogicalRouterPort>,
    /// `name`.
    pub name: String,
    /// `mac`.
    pub mac: MacAddr,
    /// IPv4 `networks`, in NB (set) order.
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 `networks`, in NB (set) order, followed by the link-local address derived from `mac`
    /// (always, even when `networks` has a link-local address).
    pub ipv6: Vec<Ipv6Net>,
    /// `enabled` (absent means enabled).
    pub enabled: bool,
    /// What it is connected to.
    pub peer: Option<Peer>,
    /// A distributed gateway port: it has `gateway_chassis` or an `ha_chassis_group` (and its
    /// router is not a gateway router).
    pub is_dgp: bool,
    /// `options`.
    pub options: SortedMap<String, String>,
    /// With `options:gateway_mtu`: the peer switch has a localnet port with a non-zero
    /// `tag_request`, so the length check allows for a VLAN header.
    pub vlan_l2: bool,
}

impl RouterPort {
    /// The name of the `chassisredirect` port of a distributed gateway port.
    pub fn cr_name(&self) -> String {
        format!("cr-{}", self.name)
    }
}

/// A logical router as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct Router {
    /// Its datapath.
    pub dp: DpIndex,
    /// The NB row.
    pub nb: Ref<nb::LogicalRouter>,
    /// `name`.
    pub name: String,
    /// Ports (only enabled ones with a valid MAC), in name order.
    pub ports: Vec<RouterPort>,
    /// `options:chassis`: a gateway router pinned to this chassis.
    pub chassis: Option<String>,
    /// `options`.
    pub options: SortedMap<String, String>,
    /// `nat`.
    pub nats: Vec<Ref<nb::Nat>>,
    /// The `nat` rules, parsed (see [`nat::parse_rules`]).
    pub nat_rules: Vec<nat::NatRule>,
    /// Load balancers of the router and of its load balancer groups.
    pub lbs: Vec<Ref<nb::LoadBalancer>>,
    /// `static_routes`.
    pub static_routes: Vec<Ref<nb::LogicalRouterStaticRoute>>,
    /// `policies`.
    pub policies: Vec<Ref<nb::LogicalRouterPolicy>>,
}

impl Router {
    /// True for a gateway router (`options:chassis` set).
    pub fn is_gateway(&self) -> bool {
        self.chassis.is_some()
    }

    /// The distributed gateway ports.
    pub fn dgps(&self) -> impl Iterator<Item = &RouterPort> {
        self.ports.iter().filter(|p| p.is_dgp)
    }

    /// A boolean option (`true` when set to "true").
    pub fn option_true(&self, key: &str) -> bool {
        self.options.get(key).is_some_and(|v| v == "true")
    }
}

/// Parses a router port's `networks` into IPv4 and IPv6 lists (IPv6 followed by the derived
/// link-local address), reporting entries that do not parse.
fn parse_networks(
    lrp: &nb::LogicalRouterPort,
    mac: MacAddr,
    warnings: &mut Vec<NbWarning>,
) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for text in &lrp.networks {
        // `networks` needs at least one entry: a port without networks has an empty one.
        if text.is_empty() {
            continue;
        }
        match text.parse::<IpNet>() {
            Ok(n) => match n.addr() {
                IpAddr::V4(a) => v4.push(Ipv4Net {
                    addr: a,
                    plen: n.prefix(),
                }),
                IpAddr::V6(a) => v6.push(Ipv6Net {
                    addr: a,
                    plen: n.prefix(),
                }),
            },
            Err(e) => warnings.push(NbWarning::BadAddress {
                port: lrp.name.clone(),
                text: text.clone(),
                reason: e.to_string(),
            }),
        }
    }
    // ovn-northd adds the EUI-64 link-local address even when `networks` has another one.
    v6.push(Ipv6Net {
        addr: link_local(mac),
        plen: 64,
    });
    (v4, v6)
}

/// Whether the switch of the switch port named `lsp` has a localnet port with a non-zero
/// `tag_request`.
fn peer_switch_vlan_localnet(nb: &NbSnapshot, lsp: &str) -> bool {
    let Some(peer) = nb.switch_ports.values().find(|p| p.name == lsp) else {
        return false;
    };
    nb.switches
        .values()
        .filter(|ls| ls.ports.contains(&peer.uuid))
        .any(|ls| {
            ls.ports
                .iter()
                .filter_map(|r| nb.switch_ports.get(r))
                .any(|p| p.type_ == "localnet" && p.tag_request.is_some_and(|t| t != 0))
        })
}

/// Builds the parsed view of one router. `switch_peers` maps router port names to the switch
/// ports of type `router` that name them.
pub fn router_view(
    nb: &NbSnapshot,
    lr: &nb::LogicalRouter,
    dp: DpIndex,
    switch_peers: &BTreeMap<String, String>,
    warnings: &mut Vec<NbWarning>,
) -> Router {
    router_view_with(nb, lr, dp, switch_peers, &GroupLbs::default(), warnings)
}

/// The load balancers of each load balancer group (those that exist, sorted) and whether any
/// has a VIP, resolved once for all the switches and routers of a build.
pub(crate) type GroupLbs = std::cell::RefCell<
    std::collections::HashMap<Ref<nb::LoadBalancerGroup>, (Vec<Ref<nb::LoadBalancer>>, bool)>,
>;

/// The load balancers of a datapath whose `load_balancer` column is `own` and
/// `load_balancer_group` column `groups`: those that exist, sorted, without duplicates, and
/// whether any has a VIP. Each group is resolved once through `cache` (on OVN-Kubernetes
/// every node's switch and gateway router share a group of every Service's load balancer).
pub(crate) fn resolve_lbs(
    nb: &NbSnapshot,
    own: &std::collections::BTreeSet<Ref<nb::LoadBalancer>>,
    groups: &std::collections::BTreeSet<Ref<nb::LoadBalancerGroup>>,
    cache: &mut std::collections::HashMap<
        Ref<nb::LoadBalancerGroup>,
        (Vec<Ref<nb::LoadBalancer>>, bool),
    >,
) -> (Vec<Ref<nb::LoadBalancer>>, bool) {
    /// The refs of sorted `refs` that exist, and whether any has a VIP.
    fn existing(
        nb: &NbSnapshot,
        refs: Vec<Ref<nb::LoadBalancer>>,
    ) -> (Vec<Ref<nb::LoadBalancer>>, bool) {
        let rows = lookup_sorted(&nb.load_balancers, &refs);
        let has_vip = rows.iter().flatten().any(|l| !l.vips.is_empty());
        let mut rows = rows.iter();
        let mut refs = refs;
        refs.retain(|_| rows.next().is_some_and(Option::is_some));
        (refs, has_vip)
    }
    let (mut lbs, mut has_vip) = existing(nb, own.iter().copied().collect());
    let mut parts = 0;
    for g in groups {
        let Some(group) = nb.lb_groups.get(g) else {
            continue;
        };
        let (refs, vip) = cache
            .entry(*g)
            .or_insert_with(|| existing(nb, group.load_balancer.iter().copied().collect()));
        has_vip |= *vip;
        if lbs.is_empty() {
            lbs.clone_from(refs);
        } else {
            lbs.extend(refs.iter().copied());
            parts += 1;
        }
    }
    if parts > 0 {
        // Sorted runs, one per source: the stable sort merges them.
        lbs.sort();
        lbs.dedup();
    }
    (lbs, has_vip)
}

/// [`router_view`], resolving load balancer groups through `groups` (kept for the build).
pub(crate) fn router_view_with(
    nb: &NbSnapshot,
    lr: &nb::LogicalRouter,
    dp: DpIndex,
    switch_peers: &BTreeMap<String, String>,
    groups: &GroupLbs,
    warnings: &mut Vec<NbWarning>,
) -> Router {
    let chassis = lr.options.get("chassis").filter(|c| !c.is_empty()).cloned();
    let mut ports: Vec<RouterPort> = lr
        .ports
        .iter()
        .filter_map(|r| nb.router_ports.get(r))
        .filter_map(|lrp| {
            let mac: MacAddr = match lrp.mac.parse() {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(NbWarning::BadAddress {
                        port: lrp.name.clone(),
                        text: lrp.mac.clone(),
                        reason: format!("{e}"),
                    });
                    return None;
                }
            };
            let (ipv4, ipv6) = parse_networks(lrp, mac, warnings);
            let peer = if let Some(p) = switch_peers.get(&lrp.name) {
                Some(Peer::Switch { port: p.clone() })
            } else {
                // A port of a disabled router is no peer (that router has no datapath).
                lrp.peer
                    .as_ref()
                    .filter(|p| enabled_router_port(nb, p).is_some())
                    .map(|p| Peer::Router { port: p.clone() })
            };
            // ovn-northd 23.03 ignores the legacy `options:redirect-chassis`.
            let is_dgp = chassis.is_none()
                && (!lrp.gateway_chassis.is_empty() || lrp.ha_chassis_group.is_some());
            let vlan_l2 = lrp.options.contains_key("gateway_mtu")
                && switch_peers
                    .get(&lrp.name)
                    .is_some_and(|p| peer_switch_vlan_localnet(nb, p));
            Some(RouterPort {
                nb: lrp.uuid,
                name: lrp.name.clone(),
                mac,
                ipv4,
                ipv6,
                enabled: lrp.enabled != Some(false),
                peer,
                is_dgp,
                options: lrp.options.clone(),
                vlan_l2,
            })
        })
        .collect();
    ports.sort_by(|a, b| a.name.cmp(&b.name));
    let (lbs, _) = resolve_lbs(
        nb,
        &lr.load_balancer,
        &lr.load_balancer_group,
        &mut groups.borrow_mut(),
    );
    let nat_rules = nat::parse_rules(nb, lr, &ports, chassis.is_some(), warnings);
    Router {
        dp,
        nb: lr.uuid,
        name: lr.name.clone(),
        nat_rules,
        ports,
        chassis,
        options: lr.options.clone(),
        nats: lr
            .nat
            .iter()
            .copied()
            .filter(|n| nb.nats.contains_key(n))
            .collect(),
        lbs,
        static_routes: lr
            .static_routes
            .iter()
            .copied()
            .filter(|r| nb.static_routes.contains_key(r))
            .collect(),
        policies: lr
            .policies
            .iter()
            .copied()
            .filter(|r| nb.policies.contains_key(r))
            .collect(),
    }
}

/// What every router stage builder gets.
#[derive(Debug)]
pub struct RouterCtx<'a> {
    /// The NB snapshot.
    pub nb: &'a NbSnapshot,
    /// Chassis features.
    pub features: ChassisFeatures,
    /// Load balancers, parsed once.
    pub lbs: &'a BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    /// Every switch, by datapath (for the switch side of router ports).
    pub switches: &'a [crate::switch::Switch],
    /// Every router, by position.
    pub routers: &'a [Router],
    /// Port_Binding tunnel keys by logical port name.
    pub port_keys: &'a BTreeMap<String, u32>,
    /// Problems found in NB rows while building flows (merged into the build's warnings).
    pub warnings: std::cell::RefCell<Vec<NbWarning>>,
    /// Router/switch links, indexed on first use by the routing stages.
    pub topology: std::cell::OnceCell<routing::Topology>,
    /// Datapath tunnel keys, by datapath index (names of per-router address sets).
    pub dp_keys: &'a [u32],
    /// The flows of each load balancer on routers, built once per variant (see
    /// [`lb::LbFlowCache`]).
    pub lb_flows: std::cell::RefCell<lb::LbFlowCache<'a>>,
}

/// Builds every router stage's flows for `lr`.
pub fn build_flows(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    input::build(ctx, lr, flows);
    nat::build(ctx, lr, flows);
    lb::build(ctx, lr, flows);
    routing::build(ctx, lr, flows);
    gateway::build(ctx, lr, flows);
}
