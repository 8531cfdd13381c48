//! The logical switch pipeline: a parsed view of each switch and its ports, and one module per
//! group of stages building that stage's flows.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use ovn_nb::addr::{LspAddress, MacAddr};
use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::error::NbWarning;
use crate::flow::{DpIndex, FlowTable};
use crate::lb::LoadBalancer;
use crate::snapshot::NbSnapshot;
use crate::state::ChassisFeatures;

pub mod acl;
pub mod arp_nd;
pub mod dhcp;
pub mod external;
pub mod fwd_group;
pub mod l2;
pub mod lb;
pub mod port_sec;
pub mod qos;
pub mod stateful;

/// The `type` of a logical switch port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LspType {
    /// `""`: a VM or container interface.
    Vif,
    /// `router`: connected to a logical router port.
    Router,
    /// `localnet`: a connection to a physical network.
    Localnet,
    /// `localport`: present on every chassis, never leaves it.
    Localport,
    /// `external`: a port on a physical host, served by an HA chassis group.
    External,
    /// `virtual`: an IP that moves between virtual parents.
    Virtual,
    /// `l2gateway`: a physical network bridged by one chassis.
    L2Gateway,
    /// `vtep`: a VTEP gateway.
    Vtep,
    /// Another type, passed through.
    Other(String),
}

impl LspType {
    /// Parses the NB `type` column.
    pub fn parse(s: &str) -> Self {
        match s {
            "" => Self::Vif,
            "router" => Self::Router,
            "localnet" => Self::Localnet,
            "localport" => Self::Localport,
            "external" => Self::External,
            "virtual" => Self::Virtual,
            "l2gateway" => Self::L2Gateway,
            "vtep" => Self::Vtep,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One static address entry of a port: a MAC and its IPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortAddrs {
    /// The Ethernet address.
    pub mac: MacAddr,
    /// IPv4 addresses.
    pub ipv4: Vec<Ipv4Addr>,
    /// IPv6 addresses.
    pub ipv6: Vec<Ipv6Addr>,
}

impl PortAddrs {
    fn from_static(mac: MacAddr, ips: &[ovn_nb::addr::IpNet]) -> Self {
        let mut a = Self {
            mac,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        };
        for ip in ips {
            match ip.addr() {
                std::net::IpAddr::V4(v4) => a.ipv4.push(v4),
                std::net::IpAddr::V6(v6) => a.ipv6.push(v6),
            }
        }
        a
    }
}

/// A logical switch port as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct SwitchPort {
    /// The NB row.
    pub nb: Ref<nb::LogicalSwitchPort>,
    /// `name`.
    pub name: String,
    /// `type`.
    pub type_: LspType,
    /// `enabled` (absent means enabled).
    pub enabled: bool,
    /// Static addresses (including allocated `dynamic_addresses`), in NB order.
    pub addrs: Vec<PortAddrs>,
    /// `addresses` contains `unknown`.
    pub has_unknown: bool,
    /// Port security entries that parsed.
    pub ps_addrs: Vec<PortAddrs>,
    /// A `router` port whose `router-port` names an existing logical router port.
    pub router_peer: bool,
    /// For a `virtual` port: its virtual IP and parents.
    pub virtual_: Option<VirtualOptions>,
    /// `options:mcast_flood`: always receives IP multicast (`_MC_static`).
    pub mcast_flood: bool,
    /// `options:mcast_flood_reports`: receives IGMP/MLD reports (`_MC_mrouter_flood`).
    pub mcast_flood_reports: bool,
    /// A `router` port whose peer router port is on an enabled router with
    /// `options:mcast_relay=true` (the port joins `_MC_mrouter_flood`).
    pub mcast_relay_peer: bool,
}

/// The options of a `virtual` port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualOptions {
    /// `virtual-ip`.
    pub ip: std::net::IpAddr,
    /// `virtual-parents`, in order.
    pub parents: Vec<String>,
}

impl VirtualOptions {
    /// Parses `virtual-ip` and `virtual-parents`; a missing or bad IP is reported.
    pub fn parse(lsp: &nb::LogicalSwitchPort, warnings: &mut Vec<NbWarning>) -> Option<Self> {
        let text = lsp.options.get("virtual-ip")?;
        let Ok(ip) = text.parse() else {
            warnings.push(NbWarning::BadOption {
                owner: format!("port {}", lsp.name),
                key: "virtual-ip".to_owned(),
                value: text.clone(),
            });
            return None;
        };
        let parents = lsp
            .options
            .get("virtual-parents")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self { ip, parents })
    }
}

/// A logical switch as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct Switch {
    /// Its datapath.
    pub dp: DpIndex,
    /// The NB row.
    pub nb: Ref<nb::LogicalSwitch>,
    /// `name`.
    pub name: String,
    /// Ports, in name order.
    pub ports: Vec<SwitchPort>,
    /// ACLs of the switch and of port groups with ports on it, by UUID.
    pub acls: Vec<Ref<nb::Acl>>,
    /// `qos_rules`.
    pub qos: Vec<Ref<nb::QoS>>,
    /// Multicast snooping configuration.
    pub mcast: crate::mcast::SwitchMcastConfig,
    /// `dns_records`.
    pub dns: Vec<Ref<nb::Dns>>,
    /// Load balancers of the switch and of its load balancer groups.
    pub lbs: Vec<Ref<nb::LoadBalancer>>,
    /// The switch has load balancer VIPs (directly or through groups).
    pub has_lb_vip: bool,
    /// `other_config:vlan-passthru=true`: tagged traffic is admitted, and ports' addresses
    /// get no ARP/ND answers.
    pub vlan_passthru: bool,
}

impl Switch {
    /// True when some port connects to a router relaying IP multicast.
    pub fn flood_relay(&self) -> bool {
        self.ports.iter().any(|p| p.mcast_relay_peer)
    }

    /// True when some enabled port has an `unknown` address (as `_MC_unknown` has members).
    pub fn has_unknown(&self) -> bool {
        self.ports.iter().any(|p| p.has_unknown && p.enabled)
    }
}

/// Parses `addresses` (or `port_security`) entries into static address entries, reporting those
/// that do not parse.
pub fn parse_addresses<'a>(
    port: &str,
    entries: impl IntoIterator<Item = &'a String>,
    dynamic: Option<&str>,
    warnings: &mut Vec<NbWarning>,
) -> (Vec<PortAddrs>, bool) {
    let mut out = Vec::new();
    let mut unknown = false;
    for text in entries {
        match text.parse::<LspAddress>() {
            Ok(LspAddress::Unknown) => unknown = true,
            Ok(LspAddress::Router) => {}
            Ok(LspAddress::Dynamic { .. }) => {
                if let Some(Ok(LspAddress::Static { mac, ips })) =
                    dynamic.map(str::parse::<LspAddress>)
                {
                    out.push(PortAddrs::from_static(mac, &ips));
                }
            }
            Ok(LspAddress::Static { mac, ips }) => out.push(PortAddrs::from_static(mac, &ips)),
            Err(e) => warnings.push(NbWarning::BadAddress {
                port: port.to_owned(),
                text: text.clone(),
                reason: e.to_string(),
            }),
        }
    }
    (out, unknown)
}

/// Builds the parsed view of one switch.
pub fn switch_view(
    nb: &NbSnapshot,
    ls: &nb::LogicalSwitch,
    dp: DpIndex,
    warnings: &mut Vec<NbWarning>,
) -> Switch {
    switch_view_in(nb, ls, dp, None, None, warnings)
}

/// What an incremental step already knows of a switch whose ports changed (so that
/// [`switch_view_known`] need not scan every port group and load balancer).
pub(crate) struct Known<'k> {
    /// The port groups of a port.
    pub(crate) groups_of: &'k dyn Fn(&Ref<nb::LogicalSwitchPort>) -> Vec<Ref<nb::PortGroup>>,
    /// The switch's load balancers and whether any has a VIP (as its `load_balancer` and
    /// `load_balancer_group` columns resolve, unchanged since the last view).
    pub(crate) lbs: LbsOf,
}

/// [`switch_view`] with the port groups and load balancers of `known`.
pub(crate) fn switch_view_known(
    nb: &NbSnapshot,
    ls: &nb::LogicalSwitch,
    dp: DpIndex,
    known: Known<'_>,
    warnings: &mut Vec<NbWarning>,
) -> Switch {
    switch_view_in(nb, ls, dp, None, Some(known), warnings)
}

/// What a router port name stands for to the switch ports peering with it.
#[derive(Debug, Clone, Copy)]
struct PeerFacts<'a> {
    /// The router port (the first of that name in UUID order).
    lrp: &'a nb::LogicalRouterPort,
    /// Some enabled router has it.
    enabled: bool,
    /// Some enabled router with `options:mcast_relay=true` has it.
    relay: bool,
}

/// The load balancers of a switch and whether it has VIPs, as resolved for its
/// `load_balancer` and `load_balancer_group` columns.
pub(crate) type LbsOf = (Vec<Ref<nb::LoadBalancer>>, bool);

/// The lookups [`switch_view`] makes for every switch, indexed once for a whole build (without
/// it each switch scans every port group, router port and router, and resolves its load
/// balancer groups again).
#[derive(Debug)]
pub(crate) struct ViewIndex<'a> {
    /// Port groups by member port.
    groups_of_port: HashMap<Ref<nb::LogicalSwitchPort>, Vec<&'a nb::PortGroup>>,
    /// Router ports by name.
    peers: HashMap<&'a str, PeerFacts<'a>>,
    /// Resolved load balancer lists by the columns they come from, and resolved load
    /// balancer groups (shared by the threads building views).
    lbs: Mutex<(LbsCache, GroupCache)>,
}

/// Resolved load balancer groups ([`crate::router::resolve_lbs`]).
type GroupCache = HashMap<Ref<nb::LoadBalancerGroup>, LbsOf>;

/// See [`ViewIndex::lbs`].
type LbsCache = HashMap<(Vec<Ref<nb::LoadBalancer>>, Vec<Ref<nb::LoadBalancerGroup>>), LbsOf>;

impl<'a> ViewIndex<'a> {
    /// Indexes `nb`.
    pub(crate) fn new(nb: &'a NbSnapshot) -> Self {
        let mut groups_of_port: HashMap<_, Vec<&nb::PortGroup>> = HashMap::new();
        for pg in nb.port_groups.values() {
            for p in &pg.ports {
                groups_of_port.entry(*p).or_default().push(pg);
            }
        }
        // (enabled, relay) by router port, over every router.
        let mut owners: HashMap<Ref<nb::LogicalRouterPort>, (bool, bool)> = HashMap::new();
        for lr in nb.routers.values().filter(|lr| lr.enabled != Some(false)) {
            let relay = lr
                .options
                .get("mcast_relay")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            for p in &lr.ports {
                let e = owners.entry(*p).or_default();
                e.0 = true;
                e.1 |= relay;
            }
        }
        let mut peers = HashMap::new();
        for lrp in nb.router_ports.values() {
            peers.entry(lrp.name.as_str()).or_insert_with(|| {
                let (enabled, relay) = owners.get(&lrp.uuid).copied().unwrap_or_default();
                PeerFacts {
                    lrp,
                    enabled,
                    relay,
                }
            });
        }
        Self {
            groups_of_port,
            peers,
            lbs: Mutex::default(),
        }
    }
}

/// The enabled router port named `name` ([`crate::router::enabled_router_port`]).
fn enabled_peer<'a>(
    nb: &'a NbSnapshot,
    index: Option<&ViewIndex<'a>>,
    name: &str,
) -> Option<&'a nb::LogicalRouterPort> {
    match index {
        Some(ix) => ix.peers.get(name).filter(|f| f.enabled).map(|f| f.lrp),
        None => crate::router::enabled_router_port(nb, name),
    }
}

/// True when the router port named `name` is on an enabled router relaying IP multicast.
fn relay_peer(nb: &NbSnapshot, index: Option<&ViewIndex<'_>>, name: &str) -> bool {
    match index {
        Some(ix) => ix.peers.get(name).is_some_and(|f| f.relay),
        None => nb
            .router_ports
            .values()
            .find(|lrp| lrp.name == name)
            .is_some_and(|lrp| {
                nb.routers.values().any(|lr| {
                    lr.enabled != Some(false)
                        && lr.ports.contains(&lrp.uuid)
                        && lr
                            .options
                            .get("mcast_relay")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                })
            }),
    }
}

/// The load balancers of `ls` (its own and its groups', sorted, those that exist) and whether
/// any has a VIP.
fn switch_lbs(nb: &NbSnapshot, ls: &nb::LogicalSwitch, groups: &mut GroupCache) -> LbsOf {
    crate::router::resolve_lbs(nb, &ls.load_balancer, &ls.load_balancer_group, groups)
}

/// With `NB_Global` `options:install_ls_lb_from_router=true`, a switch also has the load
/// balancers of the routers its router ports peer with (their flows and SB `Load_Balancer`
/// datapaths), merged into the sorted `lbs`. As in ovn-northd 23.03 they do not count for
/// the switch's `has_lb_vip` (the stages that send traffic to conntrack for load balancing).
fn router_peer_lbs(nb: &NbSnapshot, ports: &[SwitchPort], lbs: &mut Vec<Ref<nb::LoadBalancer>>) {
    let on = nb.nb_global.as_ref().is_some_and(|g| {
        g.options
            .get("install_ls_lb_from_router")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    });
    if !on {
        return;
    }
    let mut added = false;
    for p in ports.iter().filter(|p| p.router_peer) {
        let Some(peer) = nb
            .switch_ports
            .get(&p.nb)
            .and_then(|lsp| lsp.options.get("router-port"))
        else {
            continue;
        };
        let Some(lrp) = crate::router::enabled_router_port(nb, peer) else {
            continue;
        };
        let routers = nb
            .routers
            .values()
            .filter(|lr| lr.enabled != Some(false) && lr.ports.contains(&lrp.uuid));
        for lr in routers {
            let (theirs, _) = crate::router::resolve_lbs(
                nb,
                &lr.load_balancer,
                &lr.load_balancer_group,
                &mut HashMap::new(),
            );
            added |= !theirs.is_empty();
            lbs.extend(theirs);
        }
    }
    if added {
        lbs.sort();
        lbs.dedup();
    }
}

/// [`switch_view`], with the lookups of `index` when given.
pub(crate) fn switch_view_in(
    nb: &NbSnapshot,
    ls: &nb::LogicalSwitch,
    dp: DpIndex,
    index: Option<&ViewIndex<'_>>,
    known: Option<Known<'_>>,
    warnings: &mut Vec<NbWarning>,
) -> Switch {
    let mut ports: Vec<SwitchPort> = ls
        .ports
        .iter()
        .filter_map(|r| nb.switch_ports.get(r))
        .map(|lsp| {
            let first_warning = warnings.len();
            let (mut addrs, has_unknown) = parse_addresses(
                &lsp.name,
                &lsp.addresses,
                lsp.dynamic_addresses.as_deref(),
                warnings,
            );
            // Port security the same as the addresses (OVN-Kubernetes pods) parses the same
            // when no entry is `dynamic` (the only entries whose parse depends on more than
            // their text): the addresses' parse is reused, warnings included.
            let ps_addrs = if lsp.port_security == lsp.addresses
                && !lsp.addresses.iter().any(|a| a.contains("dynamic"))
            {
                warnings.extend_from_within(first_warning..);
                addrs.clone()
            } else {
                parse_addresses(&lsp.name, &lsp.port_security, None, warnings).0
            };
            addrs.extend(crate::router::gateway::router_lsp_addrs_with(lsp, |peer| {
                enabled_peer(nb, index, peer)
            }));
            let router_peer = lsp.type_ == "router"
                && lsp
                    .options
                    .get("router-port")
                    .is_some_and(|rp| enabled_peer(nb, index, rp).is_some());
            let mcast_relay_peer = router_peer
                && lsp
                    .options
                    .get("router-port")
                    .is_some_and(|rp| relay_peer(nb, index, rp));
            SwitchPort {
                nb: lsp.uuid,
                name: lsp.name.clone(),
                type_: LspType::parse(&lsp.type_),
                enabled: lsp.enabled != Some(false),
                addrs,
                has_unknown,
                ps_addrs,
                router_peer,
                virtual_: (lsp.type_ == "virtual")
                    .then(|| VirtualOptions::parse(lsp, warnings))
                    .flatten(),
                mcast_flood: lsp.options.get("mcast_flood").is_some_and(|v| v == "true"),
                mcast_flood_reports: lsp
                    .options
                    .get("mcast_flood_reports")
                    .is_some_and(|v| v == "true"),
                mcast_relay_peer,
            }
        })
        .collect();
    ports.sort_by(|a, b| a.name.cmp(&b.name));
    let mut acls: Vec<Ref<nb::Acl>> = ls.acls.iter().copied().collect();
    match (index, &known) {
        (_, Some(k)) => {
            for p in &ls.ports {
                for pg in (k.groups_of)(p)
                    .iter()
                    .filter_map(|g| nb.port_groups.get(g))
                {
                    acls.extend(pg.acls.iter().copied());
                }
            }
        }
        (Some(ix), None) => {
            for p in &ls.ports {
                for pg in ix.groups_of_port.get(p).into_iter().flatten() {
                    acls.extend(pg.acls.iter().copied());
                }
            }
        }
        (None, None) => {
            for pg in nb.port_groups.values() {
                if pg.ports.iter().any(|p| ls.ports.contains(p)) {
                    acls.extend(pg.acls.iter().copied());
                }
            }
        }
    }
    acls.sort();
    acls.dedup();
    // (Known lists already hold what `router_peer_lbs` adds.)
    let add_router_lbs = known.is_none();
    let (mut lbs, has_lb_vip) = match (index, known) {
        (_, Some(k)) => k.lbs,
        (Some(ix), None) => {
            // A poisoned lock only means another view panicked (the build then panics too).
            let mut cache = ix
                .lbs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (lists, groups) = &mut *cache;
            lists
                .entry((
                    ls.load_balancer.iter().copied().collect(),
                    ls.load_balancer_group.iter().copied().collect(),
                ))
                .or_insert_with(|| switch_lbs(nb, ls, groups))
                .clone()
        }
        (None, None) => switch_lbs(nb, ls, &mut GroupCache::new()),
    };
    if add_router_lbs {
        router_peer_lbs(nb, &ports, &mut lbs);
    }
    Switch {
        dp,
        nb: ls.uuid,
        name: ls.name.clone(),
        ports,
        acls,
        qos: ls.qos_rules.iter().copied().collect(),
        mcast: crate::mcast::SwitchMcastConfig::parse(&ls.other_config),
        dns: ls.dns_records.iter().copied().collect(),
        lbs,
        has_lb_vip,
        vlan_passthru: ls
            .other_config
            .get("vlan-passthru")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    }
}

/// Lets traffic of port `name` skip conntrack in the `ingress`/`egress` stages (router and
/// localnet ports); the egress side clears conntrack state unless the switch has stateful ACLs.
pub fn skip_port_from_conntrack(
    sw: &Switch,
    name: &str,
    stages: (ovn_sb::stage::Stage, ovn_sb::stage::Stage),
    has_stateful_acl: bool,
    flows: &mut FlowTable,
) {
    use crate::flow::{Action, Actions, Field, Match, Pred, Value};
    let port = Value::port(name);
    let i = Match::pred(Pred::Ip).and_eq(Field::INPORT, port.clone());
    let o = Match::pred(Pred::Ip).and_eq(Field::OUTPORT, port);
    let egress = if has_stateful_acl {
        Actions::one(Action::Next)
    } else {
        Actions(vec![Action::Fixed("ct_clear;"), Action::Next])
    };
    flows.add(sw.dp, stages.0, 110, &i, &Actions::one(Action::Next));
    flows.add(sw.dp, stages.1, 110, &o, &egress);
}

/// What every switch stage builder gets.
#[derive(Debug)]
pub struct SwitchCtx<'a> {
    /// The NB snapshot.
    pub nb: &'a NbSnapshot,
    /// Chassis features.
    pub features: ChassisFeatures,
    /// Load balancers, parsed once.
    pub lbs: &'a BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    /// Each load balancer's flows, built once.
    pub lb_flows: &'a lb::LbFlowCache,
    /// ARP replies for load balancer health check sources.
    pub svc_arp: &'a crate::svc_monitor::SvcArp,
}

/// Builds every switch stage's flows for `sw`.
pub fn build_flows(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    build_port_flows(ctx, sw, flows);
    build_lb_flows(ctx, sw, flows);
}

/// The flows of `sw`'s load balancers ([`lb::build_vips`]): they depend on the switch's
/// `lbs` and the load balancers alone. With [`build_port_flows`], every flow of the switch.
pub fn build_lb_flows(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    lb::build_vips(ctx.nb, sw, ctx.lbs, ctx.lb_flows, flows);
}

/// Every flow of `sw` but those of [`build_lb_flows`].
pub fn build_port_flows(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    port_sec::build(ctx, sw, flows);
    let acl = acl::AclContext::new(ctx, sw);
    acl.build(ctx, sw, flows);
    lb::build(sw, acl.has_stateful_acl(), flows);
    qos::build(ctx, sw, flows);
    stateful::build(sw, flows);
    arp_nd::build(ctx.nb, sw, flows);
    arp_nd::build_svc_monitor(ctx.svc_arp, sw, flows);
    dhcp::build(ctx, sw, acl.stateful(), flows);
    external::build(ctx, sw, flows);
    l2::build(ctx, sw, flows);
    fwd_group::build(ctx, sw, flows);
}
