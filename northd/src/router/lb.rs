//! Load balancers on routers: `lr_in_defrag`, `lr_in_lb_aff_check`, `lr_in_lb_aff_learn`, and
//! the load balancer flows of other stages (DNAT to backends, un-DNAT, forced SNAT, ARP/ND
//! replies for VIPs), and the per-router VIP address sets. The switch side (ARP/ND for VIPs
//! forwarded to the router port) is built with the router's other addresses in `nat_switch`;
//! [`vip_ips`] gives the other stages the VIPs (router IPs that are VIPs are not dropped in
//! `lr_in_ip_input`).
//!
//! Facts (ovn-northd 23.03), as observed:
//! - A router's load balancers are its own and those of its load balancer groups. Their flows
//!   exist on every router with a VIP (gateway router, router with distributed gateway ports
//!   (DGPs), or neither); on a DGP router the DNAT of new connections runs only where the
//!   chassisredirect port of the *first* DGP (smallest NB UUID) resides, and replies from the
//!   backends are un-DNATed when they leave by that DGP.
//! - `lr_in_defrag` sends every packet to a VIP through `ct_dnat;` (priority 100).
//! - `lr_in_dnat`: new connections to `VIP[:port]` go to `ct_lb_mark(backends=..)` (priority 120
//!   with a port, 110 without); a VIP without backends drops, or rejects (`reject` option), and
//!   with the `event` option (and no `reject`) a priority-130 flow reports it to the
//!   controller. The `skip_snat` option prefixes `flags.skip_snat_for_lb = 1;` and adds
//!   `; skip_snat`; otherwise a gateway router forcing SNAT of load-balanced traffic
//!   (`lb_force_snat_ip`, addresses or `router_ip`, even of one family only) prefixes
//!   `flags.force_snat_for_lb = 1;` and adds `; force_snat`. Established and related traffic is
//!   handled by six fixed flows (priorities 50 and 70).
//! - Forced SNAT (`lb_force_snat_ip`, addresses or `router_ip`) only exists on gateway routers.
//! - `affinity_timeout` adds a per-VIP check (`lr_in_lb_aff_check`), a per-backend DNAT at
//!   priority 150 (where forced SNAT wins over `skip_snat`) and a per-backend learn flow.
//! - Gateway routers un-DNAT every reply (`lr_out_undnat`) and commit new connections
//!   (`lr_out_post_undnat`); with `lb_force_snat_ip=router_ip`, each port with a peer SNATs
//!   load-balanced traffic to its first IPv4 and first (global) IPv6 address.
//! - VIPs in a router port's subnets (or all VIPs, or none, by the LB option
//!   `neighbor_responder`) go into the address sets `_rtr_lb_<datapath key>_ip4` / `_ip6`,
//!   answered on every router port (priority 90 in `lr_in_ip_input`, resident on the DGP for a
//!   DGP).
//! - SB `Load_Balancer` rows list switch datapaths only: routers do not change them.
//! - An `lb_force_snat_ip` with more than one address of a family, or a word that is not an
//!   address, is a bad value: ignored (with a warning).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ovn_nb::model as nb;
use ovn_sb::stage::Stage;
use ovsdb::model::Ref;

use crate::error::NbWarning;
use crate::flow::{Action, Actions, DpIndex, Field, FlowTable, Match, Pred, SharedFlows, Value};
use crate::lb::{Endpoint, LoadBalancer, TemplateVip, Vip};

use super::{Router, RouterCtx, RouterPort};

/// `xreg0[0..47]`: the router port MAC loaded by `lr_in_admission`.
const PORT_MAC: Field = Field("xreg0[0..47]");
/// `reg0` / `xxreg0`: the VIP saved by the affinity check.
const AFF_VIP4: Field = Field("reg0");
const AFF_VIP6: Field = Field("xxreg0");
/// `reg9[16..31]`: the VIP port saved by the affinity check.
const AFF_VIP_PORT: Field = Field("reg9[16..31]");
/// `reg9[6]`: a learnt affinity session exists.
const AFF_KNOWN: Field = Field("reg9[6]");
/// `reg4` / `xxreg1`: the backend of a learnt affinity session.
const AFF_BACKEND4: Field = Field("reg4");
const AFF_BACKEND6: Field = Field("xxreg1");
/// `reg8[0..15]`: the backend port of a learnt affinity session.
const AFF_BACKEND_PORT: Field = Field("reg8[0..15]");
/// `flags.force_snat_for_lb`.
const FORCE_SNAT_FOR_LB: Field = Field("flags.force_snat_for_lb");
/// `flags.skip_snat_for_lb`.
const SKIP_SNAT_FOR_LB: Field = Field("flags.skip_snat_for_lb");
/// New connections, not related to another.
const CT_NEW_NOT_REL: Pred = Pred::Fixed("ct.new && !ct.rel");

/// How a router runs its load balancers.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    /// A gateway router (`options:chassis`).
    Gateway,
    /// A router with distributed gateway ports: the first one.
    Distributed(&'a RouterPort),
    /// Neither.
    Plain,
}

impl<'a> Mode<'a> {
    fn of(lr: &'a Router) -> Self {
        if lr.is_gateway() {
            Self::Gateway
        } else if let Some(p) = first_dgp(lr) {
            Self::Distributed(p)
        } else {
            Self::Plain
        }
    }
}

/// The DGP a router's load balancers use: the one with the smallest NB UUID (ovn-northd takes
/// the first in its set order).
pub fn first_dgp(lr: &Router) -> Option<&RouterPort> {
    lr.dgps().min_by_key(|p| p.nb)
}

/// How load-balanced traffic is SNATed on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Snat {
    /// As configured elsewhere.
    Default,
    /// `skip_snat`.
    Skip,
    /// Forced (`lb_force_snat_ip`).
    Force,
}

impl Snat {
    /// The SNAT of `lb`'s traffic on a router that forces SNAT for load balancers (`force`):
    /// the load balancer's own `skip_snat` wins.
    fn of(lb: &LoadBalancer, force: bool) -> Self {
        if lb.options.skip_snat {
            Self::Skip
        } else if force {
            Self::Force
        } else {
            Self::Default
        }
    }

    /// The flag assignment prefixing the DNAT action, if any.
    fn flag(self) -> Option<Action> {
        match self {
            Self::Default => None,
            Self::Skip => Some(Action::Assign(SKIP_SNAT_FOR_LB, Value::Int(1))),
            Self::Force => Some(Action::Assign(FORCE_SNAT_FOR_LB, Value::Int(1))),
        }
    }

    /// The `ct_lb_mark` argument suffix.
    fn suffix(self) -> &'static str {
        match self {
            Self::Default => "",
            Self::Skip => "; skip_snat",
            Self::Force => "; force_snat",
        }
    }
}

/// True when the router's `lb_force_snat_ip` is `router_ip`.
pub fn force_snat_router_ip(lr: &Router) -> bool {
    lr.options
        .get("lb_force_snat_ip")
        .is_some_and(|v| v == "router_ip")
}

/// The IPv4 and IPv6 address of `lb_force_snat_ip` (none for `router_ip`), on any router (on
/// one with distributed gateway ports, load-balanced traffic is flagged for forced SNAT too,
/// as ovn-northd 23.03 does, though only gateway routers have the SNAT flows). ovn-northd
/// accepts at most one address of each family: anything else is a bad value (`None`),
/// ignored.
fn force_snat_addrs(lr: &Router) -> Option<[Option<IpAddr>; 2]> {
    let mut out = [None, None];
    if force_snat_router_ip(lr) {
        return Some(out);
    }
    let Some(text) = lr.options.get("lb_force_snat_ip") else {
        return Some(out);
    };
    for word in text.split_whitespace() {
        let ip = word
            .split_once('/')
            .map_or(word, |(a, _)| a)
            .parse::<IpAddr>()
            .ok()?;
        let slot = &mut out[usize::from(ip.is_ipv6())];
        if slot.is_some() {
            return None;
        }
        *slot = Some(ip);
    }
    Some(out)
}

/// True when load-balanced traffic is SNATed by force on this router: `router_ip` on a gateway
/// router, addresses on any.
fn forces_snat(lr: &Router) -> bool {
    (lr.is_gateway() && force_snat_router_ip(lr))
        || force_snat_addrs(lr).is_some_and(|a| a != [None, None])
}

/// The `neighbor_responder` option of a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responder {
    /// `reachable` (the default): VIPs in a subnet of one of the router's ports.
    Reachable,
    /// `all`.
    All,
    /// `none`.
    None,
}

impl Responder {
    fn of(row: Option<&nb::LoadBalancer>) -> Self {
        match row
            .and_then(|l| l.options.get("neighbor_responder"))
            .map(String::as_str)
        {
            Some("all") => Self::All,
            Some("none") => Self::None,
            _ => Self::Reachable,
        }
    }
}

/// A router's load balancers, resolved once per build (several stages walk them).
#[derive(Debug)]
pub struct RouterLbs<'a> {
    /// The parsed load balancers, in [`Router::lbs`] order.
    pub lbs: Vec<&'a LoadBalancer>,
    /// Every VIP address with its load balancer's `neighbor_responder`, in that order.
    pub vips: Vec<(IpAddr, Responder)>,
    /// Every VIP address, once.
    pub ips: VipSet,
    /// Some load balancer has `skip_snat`.
    pub skip_snat: bool,
    /// The VIPs that are also NAT addresses of the router: (load balancer, VIP position).
    pub nat_vips: Vec<(&'a LoadBalancer, usize)>,
    /// Some load balancer answers ARP (`[0]`) or ND (`[1]`) for template VIPs
    /// ([`LoadBalancer::responder_template_vips`] of an IPv4 or IPv6 family).
    pub responder_templates: [bool; 2],
}

/// A set of VIP addresses as a sorted vector without duplicates: one sort per router instead
/// of a tree node per address (thousands per OVN-Kubernetes gateway router), looked up by
/// binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipSet(Vec<IpAddr>);

impl VipSet {
    /// The set of `ips` (in any order, duplicates allowed).
    pub fn new(mut ips: Vec<IpAddr>) -> Self {
        // Sorted as numbers, IPv4 before IPv6 (the order of `IpAddr`): integer sorts, not
        // the enum's comparison (thousands of addresses per gateway router).
        let mut v4: Vec<u32> = Vec::with_capacity(ips.len());
        let mut v6: Vec<u128> = Vec::new();
        for ip in &ips {
            match ip {
                IpAddr::V4(a) => v4.push(u32::from(*a)),
                IpAddr::V6(a) => v6.push(u128::from(*a)),
            }
        }
        v4.sort_unstable();
        v4.dedup();
        v6.sort_unstable();
        v6.dedup();
        ips.clear();
        ips.extend(v4.into_iter().map(|a| IpAddr::V4(a.into())));
        ips.extend(v6.into_iter().map(|a| IpAddr::V6(a.into())));
        Self(ips)
    }

    /// True when `ip` is in the set.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.binary_search(ip).is_ok()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The addresses, in increasing order.
    pub fn iter(&self) -> std::slice::Iter<'_, IpAddr> {
        self.0.iter()
    }
}

/// Every load balancer by reference, with its `neighbor_responder`: built once per build, so
/// that each router finds its (possibly thousands of) load balancers by hashing.
#[derive(Debug, Default)]
pub struct LbIndex<'a> {
    /// Sorted by reference: a router's (sorted) list is found by a walk along it.
    by_ref: Vec<(Ref<nb::LoadBalancer>, IndexedLb<'a>)>,
    /// The VIP addresses of every load balancer, one after the other in `by_ref` order (each
    /// load balancer's in its `vips` order): what a router reads of each of its load
    /// balancers is in two arrays read in order, not in thousands of load balancers scattered
    /// in memory (on OVN-Kubernetes, every gateway router has every Service's).
    ips: Vec<IpAddr>,
}

/// One load balancer of an [`LbIndex`].
#[derive(Debug)]
struct IndexedLb<'a> {
    lb: &'a LoadBalancer,
    mode: Responder,
    skip_snat: bool,
    /// Its template VIPs answered for, IPv4 (`[0]`) and IPv6 (`[1]`).
    responder_templates: [bool; 2],
    /// Its VIP addresses: `LbIndex::ips[start..end]`.
    start: usize,
    end: usize,
}

impl<'a> LbIndex<'a> {
    /// Indexes the parsed load balancers `lbs` with their NB rows `nb_lbs`.
    pub fn new(nb_lbs: &'a NbLbs, lbs: &'a BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>) -> Self {
        // Both maps are keyed by the same references: join them in one pass.
        let mut rows = nb_lbs.iter().peekable();
        let mut ips = Vec::new();
        let by_ref = lbs
            .iter()
            .map(|(r, lb)| {
                while rows.next_if(|(k, _)| *k < r).is_some() {}
                let row = rows.next_if(|(k, _)| *k == r).map(|(_, v)| v);
                let start = ips.len();
                ips.extend(lb.vips.iter().map(|v| v.vip.ip));
                let mut responder_templates = [false; 2];
                for (_, v6) in lb.responder_template_vips() {
                    responder_templates[usize::from(v6)] = true;
                }
                let entry = IndexedLb {
                    lb,
                    mode: Responder::of(row),
                    skip_snat: lb.options.skip_snat,
                    responder_templates,
                    start,
                    end: ips.len(),
                };
                (*r, entry)
            })
            .collect();
        Self { by_ref, ips }
    }

    /// The load balancers of `lr` and their VIPs.
    pub fn router(&self, lr: &Router) -> RouterLbs<'a> {
        let nat_ips: BTreeSet<IpAddr> = lr.nat_rules.iter().map(|r| r.external).collect();
        let mut lbs = Vec::with_capacity(lr.lbs.len());
        let mut vips = Vec::new();
        let mut skip_snat = false;
        let mut responder_templates = [false; 2];
        let mut nat_vips = Vec::new();
        let mut from = 0;
        let found = lr.lbs.iter().filter_map(|r| {
            let at = gallop(&self.by_ref, from, r)?;
            from = at + 1;
            self.by_ref.get(at).map(|(_, v)| v)
        });
        for e in found {
            lbs.push(e.lb);
            skip_snat |= e.skip_snat;
            responder_templates[0] |= e.responder_templates[0];
            responder_templates[1] |= e.responder_templates[1];
            let ips = self.ips.get(e.start..e.end).unwrap_or_default();
            vips.extend(ips.iter().map(|ip| (*ip, e.mode)));
            if !nat_ips.is_empty() {
                nat_vips.extend(
                    ips.iter()
                        .enumerate()
                        .filter(|(_, ip)| nat_ips.contains(ip))
                        .map(|(i, _)| (e.lb, i)),
                );
            }
        }
        let ips = VipSet::new(vips.iter().map(|(ip, _)| *ip).collect());
        RouterLbs {
            lbs,
            vips,
            ips,
            skip_snat,
            nat_vips,
            responder_templates,
        }
    }
}

/// The position of `r` in `sorted` (by reference), looked for at `from` and after first
/// (doubling steps, then a binary search: cheap when the references looked for come in
/// increasing order, as a router's sorted list does), then anywhere.
fn gallop<V>(
    sorted: &[(Ref<nb::LoadBalancer>, V)],
    from: usize,
    r: &Ref<nb::LoadBalancer>,
) -> Option<usize> {
    let rest = sorted.get(from..).unwrap_or_default();
    let mut end = 1;
    while end < rest.len() && rest[end - 1].0 < *r {
        end *= 2;
    }
    let end = end.min(rest.len());
    match rest[..end].binary_search_by(|(k, _)| k.cmp(r)) {
        Ok(i) => Some(from + i),
        Err(_) => sorted.binary_search_by(|(k, _)| k.cmp(r)).ok(),
    }
}

/// The load balancers of `lr`, resolved on first use and kept in [`RouterCtx::lb_flows`].
pub fn router_lb_info<'a>(ctx: &RouterCtx<'a>, lr: &Router) -> Arc<RouterLbs<'a>> {
    let mut cache = ctx.lb_flows.borrow_mut();
    if let Some(r) = cache.routers.get(&lr.dp) {
        return Arc::clone(r);
    }
    let info = Arc::new(
        cache
            .index
            .get_or_insert_with(|| LbIndex::new(&ctx.nb.load_balancers, ctx.lbs))
            .router(lr),
    );
    cache.routers.insert(lr.dp, Arc::clone(&info));
    info
}

/// Every VIP address of the router's load balancers (router IPs in this set are not dropped
/// in `lr_in_ip_input` but in `lr_in_arp_resolve`).
pub fn vip_ips(ctx: &RouterCtx<'_>, lr: &Router) -> BTreeSet<IpAddr> {
    router_lb_info(ctx, lr).ips.iter().copied().collect()
}

/// True when `ip` is in one of the subnets of `p`.
fn port_reaches(p: &RouterPort, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => p.ipv4.iter().any(|n| {
            let m = u32::MAX.checked_shl(32 - u32::from(n.plen)).unwrap_or(0);
            u32::from(a) & m == u32::from(n.addr) & m
        }),
        IpAddr::V6(a) => p.ipv6.iter().any(|n| {
            let m = u128::MAX.checked_shl(128 - u32::from(n.plen)).unwrap_or(0);
            u128::from(a) & m == u128::from(n.addr) & m
        }),
    }
}

/// The VIPs a router answers ARP/ND for, by the LB option `neighbor_responder` (`reachable`
/// by default: VIPs in a subnet of one of the router's ports; `all`; `none`).
fn responder_ips(lr: &Router, lbs: &[&LoadBalancer], nb: &NbLbs) -> BTreeSet<IpAddr> {
    let refs: Vec<Ref<nb::LoadBalancer>> = lbs.iter().map(|l| l.nb).collect();
    let rows = super::lookup_sorted(nb, &refs);
    let vips: Vec<(IpAddr, Responder)> = lbs
        .iter()
        .zip(rows)
        .flat_map(|(lb, row)| {
            let mode = Responder::of(row);
            lb.vips.iter().map(move |v| (v.vip.ip, mode))
        })
        .collect();
    responder_of(lr, &vips)
}

/// [`responder_ips`] from the router's VIPs with their modes.
fn responder_of(lr: &Router, vips: &[(IpAddr, Responder)]) -> BTreeSet<IpAddr> {
    vips.iter()
        .filter(|(ip, mode)| match mode {
            Responder::All => true,
            Responder::None => false,
            Responder::Reachable => lr.ports.iter().any(|p| port_reaches(p, *ip)),
        })
        .map(|(ip, _)| *ip)
        .collect()
}

/// The NB load balancer rows.
type NbLbs = BTreeMap<Ref<nb::LoadBalancer>, nb::LoadBalancer>;

/// The name of the address set of a router's VIPs (`_rtr_lb_<key>_ip4` / `_ip6`).
fn address_set_name(dp_key: u32, v6: bool) -> String {
    format!("_rtr_lb_{dp_key}_{}", if v6 { "ip6" } else { "ip4" })
}

/// The address sets of the VIPs router `lr` (datapath tunnel key `dp_key`) answers ARP/ND
/// for: `_rtr_lb_<key>_ip4` and `_rtr_lb_<key>_ip6`, each only when not empty.
pub fn address_sets(
    nb_lbs: &NbLbs,
    lbs: &BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    lr: &Router,
    dp_key: u32,
) -> Vec<(String, BTreeSet<String>)> {
    let mine: Vec<&LoadBalancer> = super::lookup_sorted(lbs, &lr.lbs)
        .into_iter()
        .flatten()
        .collect();
    let ips = responder_ips(lr, &mine, nb_lbs);
    sets_of(&mine, &ips, dp_key)
}

/// [`address_sets`] with the load balancers found through `index` (built once for all
/// routers).
pub fn address_sets_with(
    index: &LbIndex<'_>,
    lr: &Router,
    dp_key: u32,
) -> Vec<(String, BTreeSet<String>)> {
    address_sets_of(lr, &index.router(lr), dp_key)
}

/// [`address_sets`] of a router whose load balancers are `info`.
pub fn address_sets_of(
    lr: &Router,
    info: &RouterLbs<'_>,
    dp_key: u32,
) -> Vec<(String, BTreeSet<String>)> {
    let ips = responder_of(lr, &info.vips);
    sets_of(&info.lbs, &ips, dp_key)
}

/// The address sets of a router (datapath key `dp_key`) with load balancers `mine` answering
/// for `ips`.
fn sets_of(
    mine: &[&LoadBalancer],
    ips: &BTreeSet<IpAddr>,
    dp_key: u32,
) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let mut set: BTreeSet<String> = ips
            .iter()
            .filter(|ip| ip.is_ipv6() == v6)
            .map(ToString::to_string)
            .collect();
        set.extend(
            mine.iter()
                .flat_map(|l| l.responder_template_vips())
                .filter(|(_, t6)| *t6 == v6)
                .map(|(t, _)| t.to_owned()),
        );
        if !set.is_empty() {
            out.push((address_set_name(dp_key, v6), set));
        }
    }
    out
}

/// Builds this module's flows for `lr`.
pub fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(dp, Stage::LrInDefrag, 0, &always, &next);
    flows.add(dp, Stage::LrInLbAffCheck, 0, &always, &next);
    flows.add(dp, Stage::LrInLbAffLearn, 0, &always, &next);

    if force_snat_addrs(lr).is_none() {
        ctx.warnings.borrow_mut().push(NbWarning::BadOption {
            owner: format!("router {}", lr.name),
            key: "lb_force_snat_ip".to_owned(),
            value: lr
                .options
                .get("lb_force_snat_ip")
                .cloned()
                .unwrap_or_default(),
        });
    }
    build_force_snat(lr, flows);
    let info = router_lb_info(ctx, lr);
    let lbs = &info.lbs;
    build_neighbor(ctx, lr, flows);
    // ovn-northd's `has_lb_vip`: any entry in a `vips` column, valid or not.
    if !lbs.iter().any(|l| l.nb_has_vips) {
        return;
    }
    let mode = Mode::of(lr);
    build_established(ctx, lr, flows);
    if let Mode::Gateway = mode {
        flows.add(
            dp,
            Stage::LrOutUndnat,
            100,
            &Match::pred(Pred::Fixed("nd || nd_rs || nd_ra")),
            &next,
        );
        flows.add(
            dp,
            Stage::LrOutUndnat,
            50,
            &Match::pred(Pred::Ip),
            &Actions(vec![
                Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
                Action::Fixed("ct_dnat;"),
            ]),
        );
        flows.add(
            dp,
            Stage::LrOutPostUndnat,
            50,
            &Match::pred(Pred::Fixed("ip && ct.new")),
            &Actions::one(Action::Fixed("ct_commit { } ; next; ")),
        );
    }
    // Any load balancer with `skip_snat`, whether its VIPs are valid or it has none.
    if info.skip_snat {
        let m = Match::eq(SKIP_SNAT_FOR_LB, Value::Int(1)).and_pred(Pred::Ip);
        flows.add(dp, Stage::LrOutSnat, 120, &m, &next);
    }
    let force = forces_snat(lr);
    let gw_name = match mode {
        Mode::Distributed(gw) => Some(gw.name.clone()),
        Mode::Gateway | Mode::Plain => None,
    };
    let related = ctx.features.ct_lb_related;
    // The flows of one load balancer's VIPs on `dp`, as they are on every router of this
    // variant.
    let vip_flows = |lb: &LoadBalancer, dp: DpIndex, t: &mut FlowTable| {
        // Parsed with the load balancer (a lookup of its NB row here cost a search of
        // tens of thousands of rows per load balancer and variant).
        let hash = lb.options.hash_fields.as_deref();
        for v in &lb.vips {
            build_vip(dp, mode, lb, v, (force, related), hash, t);
        }
        for v in &lb.template_vips {
            build_template_vip(dp, mode, lb, v, (force, related), hash, t);
        }
    };
    let mut cache = ctx.lb_flows.borrow_mut();
    let cache = &mut *cache;
    let shared = cache.shared;
    let users = cache.users.get_or_init(|| router_lb_users(ctx.nb));
    let variant = cache.flows.entry((force, gw_name.clone())).or_default();
    // The load balancers of the router's groups come as one set per group (the same on
    // every router using the group: on OVN-Kubernetes, every Service's load balancer on
    // every gateway router); the others one by one. Either way the table holds the same
    // flows on the same datapaths.
    let (groups, own): (Vec<Ref<nb::LoadBalancerGroup>>, Vec<&LoadBalancer>) =
        match ctx.nb.routers.get(&lr.nb) {
            Some(row) => {
                let groups: Vec<&nb::LoadBalancerGroup> = row
                    .load_balancer_group
                    .iter()
                    .filter_map(|g| ctx.nb.lb_groups.get(g))
                    .collect();
                let own = row
                    .load_balancer
                    .iter()
                    .filter(|r| !groups.iter().any(|g| g.load_balancer.contains(r)))
                    .filter_map(|r| ctx.lbs.get(r))
                    .collect();
                (groups.iter().map(|g| g.uuid).collect(), own)
            }
            None => (Vec::new(), lbs.clone()),
        };
    for g in groups {
        let make = || {
            let mut t = FlowTable::default();
            let members = ctx.nb.lb_groups.get(&g).map(|g| &g.load_balancer);
            for lb in members.into_iter().flatten().filter_map(|r| ctx.lbs.get(r)) {
                vip_flows(lb, 0, &mut t);
            }
            SharedFlows::from_table(t)
        };
        match shared {
            Some(shared) => {
                let cell = shared.cell((force, gw_name.clone(), g));
                flows.add_shared(cell.get_or_init(make), dp);
            }
            None => flows.add_shared(variant.groups.entry(g).or_insert_with(make), dp),
        }
    }
    for lb in own {
        // A load balancer no other router lists (on OVN-Kubernetes, each gateway router's
        // NodePort ones: tens of thousands) has its flows added here directly: a set of its
        // own would be made, added once and freed. The table's flows are the same either way.
        if users.get(&lb.nb).is_some_and(|&n| n <= 1) {
            vip_flows(lb, dp, flows);
            continue;
        }
        let table = variant.lbs.entry(lb.nb).or_insert_with(|| {
            let mut t = FlowTable::default();
            vip_flows(lb, 0, &mut t);
            SharedFlows::from_table(t)
        });
        flows.add_shared(table, dp);
    }
    for &(lb, i) in &info.nat_vips {
        let Some(v) = lb.vips.get(i) else { continue };
        // A VIP that is also a NAT address is not un-SNATed.
        let m = Match::pred(family(v.vip.ip))
            .and_eq(ip_field(v.vip.ip, true), v.vip.ip)
            .and(l4_match(lb.protocol, v.vip.port));
        flows.add(dp, Stage::LrInUnsnat, 120, &m, &next);
    }
}

/// `ip4` / `ip6`.
fn family(ip: IpAddr) -> Pred {
    match ip {
        IpAddr::V4(_) => Pred::Ip4,
        IpAddr::V6(_) => Pred::Ip6,
    }
}

/// `ip4.dst` / `ip6.dst` (or `.src`).
fn ip_field(ip: IpAddr, dst: bool) -> Field {
    match (ip, dst) {
        (IpAddr::V4(_), true) => Field::IP4_DST,
        (IpAddr::V4(_), false) => Field::IP4_SRC,
        (IpAddr::V6(_), true) => Field::IP6_DST,
        (IpAddr::V6(_), false) => Field::IP6_SRC,
    }
}

/// `tcp.dst` (or `udp`, `sctp`; `.src` when not `dst`).
fn l4_field(proto: &'static str, dst: bool) -> Field {
    match (proto, dst) {
        ("udp", true) => Field("udp.dst"),
        ("udp", false) => Field("udp.src"),
        ("sctp", true) => Field("sctp.dst"),
        ("sctp", false) => Field("sctp.src"),
        (_, true) => Field("tcp.dst"),
        (_, false) => Field("tcp.src"),
    }
}

/// `tcp && tcp.dst == PORT` (or only `tcp` without a port).
fn l4_match(proto: &'static str, port: Option<u16>) -> Match {
    let m = Match::pred(Pred::Fixed(proto));
    match port {
        Some(p) => m.and_eq(l4_field(proto, true), Value::Int(u64::from(p))),
        None => m,
    }
}

/// `ct.new && !ct.rel && ip4 && ip4.dst == VIP [&& tcp && tcp.dst == PORT]`.
fn new_vip_match(proto: &'static str, vip: &Endpoint) -> Match {
    let m = Match::pred(CT_NEW_NOT_REL)
        .and_pred(family(vip.ip))
        .and_eq(ip_field(vip.ip, true), vip.ip);
    match vip.port {
        Some(_) => m.and(l4_match(proto, vip.port)),
        None => m,
    }
}

/// What router builders compute once per build about load balancers: per load balancer and
/// variant (forced SNAT or not, the name of the DGP it runs on), the flows of its VIPs, added
/// to each router using it as one shared set; and each router's load balancers, resolved once.
#[derive(Debug, Default)]
pub struct LbFlowCache<'a> {
    flows: BTreeMap<(bool, Option<String>), VariantFlows>,
    /// Load balancer group sets shared with the other threads building router flows (made
    /// once for all), instead of the per-variant `groups` of this cache.
    shared: Option<&'a SharedGroupFlows>,
    /// Every load balancer by reference, with its `neighbor_responder`.
    index: Option<LbIndex<'a>>,
    routers: HashMap<DpIndex, Arc<RouterLbs<'a>>>,
    /// How many routers list each load balancer themselves ([`router_lb_users`]), counted on
    /// first need.
    users: std::cell::OnceCell<LbUsers>,
}

/// Numbers of routers by load balancer.
type LbUsers = HashMap<Ref<nb::LoadBalancer>, u32, crate::flow::FlowState>;

/// How many routers (enabled or not) list each load balancer in their own `load_balancer`
/// column (a count for choosing how to add flows, not for what the flows are).
fn router_lb_users(nb: &crate::snapshot::NbSnapshot) -> LbUsers {
    let mut users = LbUsers::default();
    for lr in nb.routers.values() {
        for r in &lr.load_balancer {
            *users.entry(*r).or_default() += 1;
        }
    }
    users
}

/// The shared flow sets of one variant: per load balancer, and per load balancer group (every
/// member's flows).
#[derive(Debug, Default)]
struct VariantFlows {
    lbs: HashMap<Ref<nb::LoadBalancer>, SharedFlows>,
    groups: HashMap<Ref<nb::LoadBalancerGroup>, SharedFlows>,
}

impl<'a> LbFlowCache<'a> {
    /// A cache that already knows the load balancers of some routers (by datapath), e.g.
    /// resolved once for a whole build and shared by the threads building flows.
    pub fn with_routers(routers: impl IntoIterator<Item = (DpIndex, Arc<RouterLbs<'a>>)>) -> Self {
        Self {
            routers: routers.into_iter().collect(),
            ..Self::default()
        }
    }

    /// This cache taking its load balancer group sets from `shared` (one per build, shared by
    /// the threads building flows: each set is made once, by the first thread needing it).
    pub fn with_shared_groups(mut self, shared: &'a SharedGroupFlows) -> Self {
        self.shared = Some(shared);
        self
    }
}

/// The key of a group's flow set: variant (forced SNAT, DGP name) and group.
type GroupKey = (bool, Option<String>, Ref<nb::LoadBalancerGroup>);

/// The flow sets of load balancer groups on routers, by variant and group, shared by the
/// threads building router flows (see [`LbFlowCache::with_shared_groups`]). On
/// OVN-Kubernetes every gateway router has the Service group: its set (every Service's
/// flows) is made once rather than once per thread.
#[derive(Debug, Default)]
pub struct SharedGroupFlows {
    sets: std::sync::Mutex<HashMap<GroupKey, Arc<std::sync::OnceLock<SharedFlows>>>>,
}

impl SharedGroupFlows {
    /// The cell of one set (empty until a thread makes the set).
    fn cell(&self, key: GroupKey) -> Arc<std::sync::OnceLock<SharedFlows>> {
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(sets.entry(key).or_default())
    }
}

/// The flows of one VIP, on datapath `dp`.
fn build_vip(
    dp: DpIndex,
    mode: Mode<'_>,
    lb: &LoadBalancer,
    v: &Vip,
    (force, related): (bool, bool),
    hash: Option<&str>,
    flows: &mut FlowTable,
) {
    let vip = &v.vip;
    let m = Match::pred(Pred::Ip).and_eq(ip_field(vip.ip, true), vip.ip);
    flows.add(
        dp,
        Stage::LrInDefrag,
        100,
        &m,
        &Actions::one(Action::Fixed("ct_dnat;")),
    );

    let snat = Snat::of(lb, force);
    let down = v.backends.is_empty() || v.health_down;
    let reject = down && lb.options.reject;
    let actions = dnat_actions(snat, related, reject, down, &v.nb_backends, hash);
    let prio = if vip.port.is_some() { 120 } else { 110 };
    let mut m = new_vip_match(lb.protocol, vip);
    // The reject of a VIP without backends is not tied to the gateway chassis; that of a VIP
    // whose backends are all down (health checks) is.
    let empty_reject = v.backends.is_empty() && lb.options.reject;
    if let (Mode::Distributed(gw), false) = (mode, empty_reject) {
        m = m.and_resident(&gw.cr_name());
    }
    flows.add(dp, Stage::LrInDnat, prio, &m, &Actions(actions));

    if v.backends.is_empty() && lb.options.event && !lb.options.reject {
        // The protocol is matched even for a VIP without a port.
        let mut m = Match::eq(ip_field(vip.ip, true), vip.ip);
        m = m.and(l4_match(lb.protocol, vip.port));
        let ev = Action::EmptyLbBackendsEvent {
            vip: vip.to_string(),
            protocol: lb.protocol,
            load_balancer: lb.nb.to_string(),
        };
        flows.add(dp, Stage::LrInDnat, 130, &m, &Actions::one(ev));
    }

    // The affinity check exists for VIPs without backends too.
    if let Some(timeout) = lb.options.affinity_timeout {
        build_affinity(dp, lb, v, timeout, force, flows);
    }
    if v.backends.is_empty() {
        return;
    }
    if let Mode::Distributed(gw) = mode {
        build_undnat(dp, lb, v, snat, gw, flows);
    }
}

/// `ip4.dst` / `ip6.dst` (or `.src`) of an address family.
fn ip_field_of(v6: bool, dst: bool) -> Field {
    let any = if v6 {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    };
    ip_field(any, dst)
}

/// The flows of one template VIP, on datapath `dp`: those of an explicit VIP ([`build_vip`])
/// with the VIP, port and backends written as text (the load balancer's address family).
fn build_template_vip(
    dp: DpIndex,
    mode: Mode<'_>,
    lb: &LoadBalancer,
    v: &TemplateVip,
    (force, related): (bool, bool),
    hash: Option<&str>,
    flows: &mut FlowTable,
) {
    let fam = if v.v6 { Pred::Ip6 } else { Pred::Ip4 };
    let dst = ip_field_of(v.v6, true);
    let vip = Value::Raw(v.vip.clone());
    let m = Match::pred(Pred::Ip).and_eq(dst, vip.clone());
    flows.add(
        dp,
        Stage::LrInDefrag,
        100,
        &m,
        &Actions::one(Action::Fixed("ct_dnat;")),
    );

    let snat = Snat::of(lb, force);
    let empty = v.backends.is_empty();
    let reject = empty && lb.options.reject;
    let actions = dnat_actions(snat, related, reject, empty, &v.nb_backends, hash);
    let l4 = v.port.as_ref().map(|p| {
        Match::pred(Pred::Fixed(lb.protocol))
            .and_eq(l4_field(lb.protocol, true), Value::Raw(p.clone()))
    });
    let prio = if l4.is_some() { 120 } else { 110 };
    let mut m = Match::pred(CT_NEW_NOT_REL)
        .and_pred(fam)
        .and_eq(dst, vip.clone());
    if let Some(l4) = &l4 {
        m = m.and(l4.clone());
    }
    if let (Mode::Distributed(gw), false) = (mode, reject) {
        m = m.and_resident(&gw.cr_name());
    }
    flows.add(dp, Stage::LrInDnat, prio, &m, &Actions(actions));

    if empty && lb.options.event && !lb.options.reject {
        let mut m = Match::eq(dst, vip);
        m = m.and(l4.unwrap_or_else(|| Match::pred(Pred::Fixed(lb.protocol))));
        let ev = Action::EmptyLbBackendsEvent {
            vip: v.key_text(),
            protocol: lb.protocol,
            load_balancer: lb.nb.to_string(),
        };
        flows.add(dp, Stage::LrInDnat, 130, &m, &Actions::one(ev));
    }
    if let Some(timeout) = lb.options.affinity_timeout {
        build_template_affinity(dp, lb, v, timeout, force, flows);
    }
    if empty {
        return;
    }
    if let Mode::Distributed(gw) = mode {
        let src = ip_field_of(v.v6, false);
        let terms: Vec<String> = v
            .backends
            .iter()
            .map(|b| match &b.port {
                Some(p) => format!(
                    "({} == {} && {} == {p})",
                    src.0,
                    b.ip,
                    l4_field(lb.protocol, false).0
                ),
                None => format!("({} == {})", src.0, b.ip),
            })
            .collect();
        let m = Match::pred(fam)
            .and(Match::user(&terms.join(" || ")))
            .and_eq(Field::OUTPORT, Value::port(&gw.name))
            .and_resident(&gw.cr_name());
        let actions = match snat.flag() {
            Some(flag) => Actions(vec![flag, Action::Next]),
            None => Actions::one(Action::Fixed("ct_dnat_in_czone;")),
        };
        flows.add(dp, Stage::LrOutUndnat, 120, &m, &actions);
    }
}

/// Session affinity of a template VIP: as [`build_affinity`], with the VIP and backends as
/// text. ovn-northd leaves a template VIP's address unset (an IPv6 one), so the registers and
/// matches are IPv6 ones whatever the address family, and template backends have no port.
fn build_template_affinity(
    dp: DpIndex,
    lb: &LoadBalancer,
    v: &TemplateVip,
    timeout: u32,
    force: bool,
    flows: &mut FlowTable,
) {
    let fam = if v.v6 { Pred::Ip6 } else { Pred::Ip4 };
    let vip = Value::Raw(v.vip.clone());
    let port = v.port.as_ref().map(|p| Value::Raw(p.clone()));
    let mut check = vec![Action::Assign(AFF_VIP6, Field::IP6_DST.into())];
    if port.is_some() {
        check.push(Action::Assign(
            AFF_VIP_PORT,
            l4_field(lb.protocol, true).into(),
        ));
    }
    check.push(Action::Assign(
        AFF_KNOWN,
        Value::Call("chk_lb_aff", Vec::new()),
    ));
    check.push(Action::Next);
    let mut m = Match::pred(CT_NEW_NOT_REL)
        .and_pred(fam)
        .and_eq(ip_field_of(v.v6, true), vip.clone());
    if let Some(p) = &port {
        m = m.and(
            Match::pred(Pred::Fixed(lb.protocol)).and_eq(l4_field(lb.protocol, true), p.clone()),
        );
    }
    flows.add(dp, Stage::LrInLbAffCheck, 100, &m, &Actions(check));

    let snat = if force {
        Snat::Force
    } else if lb.options.skip_snat {
        Snat::Skip
    } else {
        Snat::Default
    };
    for b in &v.backends {
        let bip = Value::Raw(b.ip.clone());
        let mut m = Match::eq(AFF_KNOWN, Value::Int(1))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(Pred::Ip6)
            .and_eq(AFF_BACKEND6, bip.clone());
        if let Some(p) = b.num_port {
            m = m.and_eq(AFF_BACKEND_PORT, Value::Int(u64::from(p)));
        }
        let mut a = vec![Action::Assign(AFF_VIP6, vip.clone())];
        a.extend(snat.flag());
        a.push(Action::CtLbMarkBackends(format!(
            "{}{}",
            b.affinity_text(),
            snat.suffix()
        )));
        flows.add(dp, Stage::LrInDnat, 150, &m, &Actions(a));

        let mut learn = Match::eq(AFF_KNOWN, Value::Int(0))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(Pred::Ip6)
            .and_eq(AFF_VIP6, vip.clone());
        if let Some(p) = &port {
            learn = learn.and_eq(AFF_VIP_PORT, p.clone());
        }
        learn = learn.and_eq(Field::IP6_DST, bip);
        if let Some(p) = b.num_port {
            learn = learn.and_eq(l4_field(lb.protocol, true), Value::Int(u64::from(p)));
        }
        let commit = Action::commit_lb_aff(
            v.affinity_text(),
            b.affinity_text(),
            port.is_some().then_some(lb.protocol),
            timeout,
        );
        let actions = Actions(vec![commit, crate::flow::act::DROP_COMMENT]);
        flows.add(dp, Stage::LrInLbAffLearn, 100, &learn, &actions);
    }
}

/// Session affinity: remember the backend each client was sent to for `timeout` seconds.
fn build_affinity(
    dp: DpIndex,
    lb: &LoadBalancer,
    v: &Vip,
    timeout: u32,
    force: bool,
    flows: &mut FlowTable,
) {
    let vip = &v.vip;
    // IPv4-mapped VIPs use the IPv4 registers and matches.
    let v4 = vip.v4_like();
    let (vip_reg, backend_reg) = if v4 {
        (AFF_VIP4, AFF_BACKEND4)
    } else {
        (AFF_VIP6, AFF_BACKEND6)
    };
    let aff_family = if v4 { Pred::Ip4 } else { Pred::Ip6 };
    let aff_dst = ip_field_of(!v4, true);
    let mut check = vec![Action::Assign(vip_reg, aff_dst.into())];
    if vip.port.is_some() {
        check.push(Action::Assign(
            AFF_VIP_PORT,
            l4_field(lb.protocol, true).into(),
        ));
    }
    check.push(Action::Assign(
        AFF_KNOWN,
        Value::Call("chk_lb_aff", Vec::new()),
    ));
    check.push(Action::Next);
    flows.add(
        dp,
        Stage::LrInLbAffCheck,
        100,
        &new_vip_match(lb.protocol, vip),
        &Actions(check),
    );

    // A learnt session goes straight to its backend; forced SNAT wins over `skip_snat` here.
    let snat = if force {
        Snat::Force
    } else if lb.options.skip_snat {
        Snat::Skip
    } else {
        Snat::Default
    };
    for b in &v.backends {
        let mut m = Match::eq(AFF_KNOWN, Value::Int(1))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(aff_family)
            .and_eq(backend_reg, b.ip);
        if let Some(p) = b.port {
            m = m.and_eq(AFF_BACKEND_PORT, Value::Int(u64::from(p)));
        }
        let mut a = vec![Action::Assign(vip_reg, vip.ip.into())];
        a.extend(snat.flag());
        a.push(Action::CtLbMarkBackends(format!(
            "{}{}",
            b.affinity_text(),
            snat.suffix()
        )));
        flows.add(dp, Stage::LrInDnat, 150, &m, &Actions(a));

        let mut learn = Match::eq(AFF_KNOWN, Value::Int(0))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(aff_family)
            .and_eq(vip_reg, vip.ip);
        if let Some(p) = vip.port {
            learn = learn.and_eq(AFF_VIP_PORT, Value::Int(u64::from(p)));
        }
        learn = learn.and_eq(aff_dst, b.ip);
        if let Some(p) = b.port {
            learn = learn.and_eq(l4_field(lb.protocol, true), Value::Int(u64::from(p)));
        }
        let commit = if vip.port.is_some() {
            Action::commit_lb_aff(
                vip.affinity_text(),
                b.affinity_text(),
                Some(lb.protocol),
                timeout,
            )
        } else {
            Action::commit_lb_aff(vip.to_string(), b.to_string(), None, timeout)
        };
        let actions = Actions(vec![commit, crate::flow::act::DROP_COMMENT]);
        flows.add(dp, Stage::LrInLbAffLearn, 100, &learn, &actions);
    }
}

/// On a DGP router: un-DNAT replies from the VIP's backends leaving by the gateway port.
fn build_undnat(
    dp: DpIndex,
    lb: &LoadBalancer,
    v: &Vip,
    snat: Snat,
    gw: &RouterPort,
    flows: &mut FlowTable,
) {
    let src = ip_field(v.vip.ip, false);
    let terms: Vec<String> = v
        .backends
        .iter()
        .map(|b| match b.port {
            Some(p) => format!(
                "({} == {} && {} == {p})",
                src.0,
                b.ip,
                l4_field(lb.protocol, false).0
            ),
            None => format!("({} == {})", src.0, b.ip),
        })
        .collect();
    let m = Match::pred(family(v.vip.ip))
        .and(Match::user(&terms.join(" || ")))
        .and_eq(Field::OUTPORT, Value::port(&gw.name))
        .and_resident(&gw.cr_name());
    let actions = match snat.flag() {
        Some(flag) => Actions(vec![flag, Action::Next]),
        None => Actions::one(Action::Fixed("ct_dnat_in_czone;")),
    };
    flows.add(dp, Stage::LrOutUndnat, 120, &m, &actions);
}

/// Established and related traffic of load-balanced connections (priorities 50 and 70).
fn build_established(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let (natted, force, skip) = if ctx.features.ct_no_masked_label {
        (
            "ct.est && !ct.rel && !ct.new && ct_mark.natted",
            "ct_mark.force_snat == 1",
            "ct_mark.skip_snat == 1",
        )
    } else {
        (
            "ct.est && !ct.rel && !ct.new && ct_label.natted",
            "ct_label.force_snat == 1",
            "ct_label.skip_snat == 1",
        )
    };
    let related = "ct.rel && !ct.est && !ct.new";
    let commit_nat = crate::flow::act::CT_COMMIT_NAT;
    flows.add(
        dp,
        Stage::LrInDnat,
        50,
        &Match::pred(Pred::Fixed(natted)),
        &Actions::one(Action::Next),
    );
    let with_related = ctx.features.ct_lb_related;
    if with_related {
        flows.add(
            dp,
            Stage::LrInDnat,
            50,
            &Match::pred(Pred::Fixed(related)),
            &Actions::one(commit_nat.clone()),
        );
    }
    for (mark, flag) in [(force, FORCE_SNAT_FOR_LB), (skip, SKIP_SNAT_FOR_LB)] {
        let set = Action::Assign(flag, Value::Int(1));
        let est = Match::pred(Pred::Fixed(natted)).and_pred(Pred::Fixed(mark));
        flows.add(
            dp,
            Stage::LrInDnat,
            70,
            &est,
            &Actions(vec![set.clone(), Action::Next]),
        );
        if !with_related {
            continue;
        }
        let rel = Match::pred(Pred::Fixed(related)).and_pred(Pred::Fixed(mark));
        flows.add(
            dp,
            Stage::LrInDnat,
            70,
            &rel,
            &Actions(vec![set, commit_nat.clone()]),
        );
    }
}

/// `lb_force_snat_ip` on a gateway router: un-SNAT replies to the forced address and SNAT
/// load-balanced traffic to it (or, with `router_ip`, to the address of the port it leaves
/// by, for each port with a peer).
fn build_force_snat(lr: &Router, flows: &mut FlowTable) {
    if !lr.is_gateway() {
        return;
    }
    let dp = lr.dp;
    let ct_snat = Actions::one(Action::Fixed("ct_snat;"));
    if force_snat_router_ip(lr) {
        for p in lr.ports.iter().filter(|p| p.peer.is_some()) {
            let first4 = p.ipv4.first().map(|n| IpAddr::V4(n.addr));
            let first6 = p
                .ipv6
                .iter()
                .find(|n| !n.is_link_local())
                .map(|n| IpAddr::V6(n.addr));
            for ip in [first4, first6].into_iter().flatten() {
                let m =
                    Match::eq(Field::INPORT, Value::port(&p.name)).and_eq(ip_field(ip, true), ip);
                flows.add(dp, Stage::LrInUnsnat, 110, &m, &ct_snat);
                let m = Match::eq(FORCE_SNAT_FOR_LB, Value::Int(1))
                    .and_pred(family(ip))
                    .and_eq(Field::OUTPORT, Value::port(&p.name));
                let a = Actions::one(Action::CtNat {
                    name: "ct_snat",
                    target: Some(ip.to_string()),
                    range: None,
                });
                flows.add(dp, Stage::LrOutSnat, 110, &m, &a);
            }
        }
        return;
    }
    for ip in force_snat_addrs(lr).into_iter().flatten().flatten() {
        let m = Match::pred(family(ip)).and_eq(ip_field(ip, true), ip);
        flows.add(dp, Stage::LrInUnsnat, 110, &m, &ct_snat);
        let m = Match::eq(FORCE_SNAT_FOR_LB, Value::Int(1)).and_pred(family(ip));
        let a = Actions::one(Action::CtNat {
            name: "ct_snat",
            target: Some(ip.to_string()),
            range: None,
        });
        flows.add(dp, Stage::LrOutSnat, 100, &m, &a);
    }
}

/// ARP/ND for VIPs: the router answers on each port for its VIP address sets (the switch side,
/// forwarding requests for the VIPs in a port's subnets to the router port, is built with the
/// other router-owned addresses in `nat_switch`).
fn build_neighbor(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let info = router_lb_info(ctx, lr);
    let responder = responder_of(lr, &info.vips);
    // Found once per router when its load balancers were resolved (a walk over thousands of
    // them here otherwise).
    let templates = |v6: bool| info.responder_templates[usize::from(v6)];
    let key = ctx.dp_keys.get(lr.dp).copied();
    for v6 in [false, true] {
        let Some(key) = key else { break };
        if !responder.iter().any(|ip| ip.is_ipv6() == v6) && !templates(v6) {
            continue;
        }
        let set = Value::AddrSet(address_set_name(key, v6));
        for p in &lr.ports {
            let m = Match::eq(Field::INPORT, Value::port(&p.name));
            let m = if v6 {
                m.and_pred(Pred::NdNs).and_eq(Field::ND_TARGET, set.clone())
            } else {
                m.and_eq(Field::ARP_OP, Value::Int(1))
                    .and_eq(Field::ARP_TPA, set.clone())
            };
            let m = if p.is_dgp {
                m.and_resident(&p.cr_name())
            } else {
                m
            };
            let reply = if v6 {
                super::nat::nd_reply(PORT_MAC.into())
            } else {
                super::nat::arp_reply(PORT_MAC.into())
            };
            flows.add(lr.dp, Stage::LrInIpInput, 90, &m, &reply);
        }
    }
}

/// The `lr_in_dnat` actions of a VIP: the SNAT flag, then `ct_lb_mark` to the backends as NB
/// wrote them (with the selection `hash`), or, without backends, a reject or a drop. Without
/// `related` (chassis lacking `ovn-ct-lb-related`) `ct_lb_mark` gets no SNAT argument.
fn dnat_actions(
    snat: Snat,
    related: bool,
    reject: bool,
    no_backends: bool,
    nb_backends: &str,
    hash: Option<&str>,
) -> Vec<Action> {
    let mut actions: Vec<Action> = snat.flag().into_iter().collect();
    if no_backends {
        actions.push(if reject {
            Action::LbReject {
                table: Stage::LrOutSnat.table(),
            }
        } else {
            Action::Drop
        });
    } else {
        let hash = hash.map(|h| format!("; {h}")).unwrap_or_default();
        let suffix = if related { snat.suffix() } else { "" };
        actions.push(Action::CtLbMarkBackends(format!(
            "{nb_backends}{hash}{suffix}"
        )));
    }
    actions
}

#[cfg(test)]
mod vip_set_tests {
    use super::*;

    /// The set holds its addresses once each, in `IpAddr` order (IPv4 first).
    #[test]
    fn vip_set_is_sorted_as_ip_addr_sorts() {
        let mut ips: Vec<IpAddr> = Vec::new();
        for i in 0..300u32 {
            let x = i.wrapping_mul(2_654_435_761);
            ips.push(IpAddr::V4(std::net::Ipv4Addr::from(x)));
            ips.push(IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(x) << 64 | 7,
            )));
            if i % 3 == 0 {
                ips.push(IpAddr::V4(std::net::Ipv4Addr::from(x)));
            }
        }
        let mut want = ips.clone();
        want.sort_unstable();
        want.dedup();
        let set = VipSet::new(ips);
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), want);
        assert!(want.iter().all(|ip| set.contains(ip)));
    }
}
