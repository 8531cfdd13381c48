//! NAT: `lr_in_unsnat`, `lr_in_dnat`, `lr_in_ecmp_stateful`, `lr_out_chk_dnat_local`,
//! `lr_out_undnat`, `lr_out_post_undnat`, `lr_out_snat`, `lr_out_post_snat`, and the NAT flows
//! of other stages (ARP/ND replies for NAT addresses, distributed NAT in admission,
//! `lr_in_gw_redirect`, `lr_in_arp_resolve` and `lr_out_egr_loop`).
//!
//! Facts (ovn-northd 23.03), as observed:
//! - Every router answers ARP/ND for the external IP of each of its `NAT` rules (priority 90,
//!   any input port), even when the rule is otherwise unusable.
//! - The translation flows exist only on gateway routers (`options:chassis`) and on routers
//!   with distributed gateway ports (DGPs). On a DGP router each rule belongs to one DGP: its
//!   `gateway_port`, the only DGP, or the first DGP (NB order) whose networks contain the
//!   external IP as written (`A.B.C.D/32` is in none).
//! - On a DGP router, ARP/ND for a rule's external IP is also answered (priority 92, on the
//!   chassis handling it) and dropped elsewhere (91) on DGPs: the only one; with several, the
//!   rule's `gateway_port`, or every DGP whose networks contain the external IP. Any rule with
//!   `logical_port` and a valid `external_mac` answers with that MAC on that port's chassis.
//!   `snat` rules sharing an external IP count once.
//! - `lr_in_arp_resolve` binds a NAT external IP (as written) to its MAC once per router: the
//!   first usable rule (NB order) of that IP writes the flow.
//! - A `dnat_and_snat` rule with `logical_port` and `external_mac` on a DGP router is
//!   distributed: handled on the chassis of `logical_port`, with `external_mac` as source.
//! - Matches and actions use the NB `external_ip`, `logical_ip` and `external_port_range`
//!   text as written; ARP/ND replies use the parsed external address.

#[path = "nat_rules.rs"]
mod rules;
#[path = "nat_switch.rs"]
mod switch_side;

use std::collections::BTreeSet;
use std::net::IpAddr;

use ovn_nb::model as nb;
use ovn_sb::stage::Stage;
use ovsdb::model::Ref;

use crate::flow::{solicited_node, Action, Actions, Field, FlowTable, Match, Pred, Value};

use super::{Router, RouterCtx, RouterPort};

pub use rules::{parse_rules, NatKind, NatRule};

/// `reg9[4]`: the destination is a NAT address handled on this chassis (set in
/// `lr_out_chk_dnat_local`).
const DNAT_LOCAL: Field = Field("reg9[4]");
/// `xreg0[0..47]`: the router port MAC loaded by `lr_in_admission`.
const PORT_MAC: Field = Field("xreg0[0..47]");
/// `flags.use_snat_zone`.
const USE_SNAT_ZONE: Field = Field("flags.use_snat_zone");
/// `flags.force_snat_for_dnat`.
const FORCE_SNAT_FOR_DNAT: Field = Field("flags.force_snat_for_dnat");
/// `flags.force_snat_for_lb`.
const FORCE_SNAT_FOR_LB: Field = Field("flags.force_snat_for_lb");
/// `reg0`: the IPv4 next hop.
const NEXT_HOP4: Field = Field("reg0");
/// `xxreg0`: the IPv6 next hop.
const NEXT_HOP6: Field = Field("xxreg0");
/// `reg1`: the IPv4 source for ARP requests.
const SRC4: Field = Field("reg1");
/// `xxreg1`: the IPv6 source for ND solicitations.
const SRC6: Field = Field("xxreg1");
/// Not-yet-tracked or original direction.
const CT_NOT_REPLY: Pred = Pred::Fixed("(!ct.trk || !ct.rpl)");
/// The egress loopback of a packet to a NAT address of its own DGP (re-enters the ingress
/// pipeline at `lr_in_admission`, table 0).
const EGRESS_LOOPBACK: Action = Action::Fixed(
    "clone { ct_clear; inport = outport; outport = \"\"; eth.dst <-> eth.src; flags = 0; \
     flags.loopback = 1; flags.use_snat_zone = reg9[4]; reg0 = 0; reg1 = 0; reg2 = 0; \
     reg3 = 0; reg4 = 0; reg5 = 0; reg6 = 0; reg7 = 0; reg8 = 0; reg9 = 0; reg9[0] = 1; \
     next(pipeline=ingress, table=0); };",
);

fn ip_field(v6: bool, dst: bool) -> Field {
    match (v6, dst) {
        (false, false) => Field::IP4_SRC,
        (false, true) => Field::IP4_DST,
        (true, false) => Field::IP6_SRC,
        (true, true) => Field::IP6_DST,
    }
}

fn ip_pred(v6: bool) -> Pred {
    if v6 {
        Pred::Ip6
    } else {
        Pred::Ip4
    }
}

fn loopback(v: u64) -> Action {
    Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(v))
}

/// The ARP reply to a request for a NAT address, answering with `mac`.
pub fn arp_reply(mac: Value) -> Actions {
    Actions(vec![
        Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
        Action::Assign(Field::ETH_SRC, mac.clone()),
        Action::Assign(Field::ARP_OP, Value::Int(2)),
        Action::Comment("ARP reply"),
        Action::Assign(Field::ARP_THA, Field::ARP_SHA.into()),
        Action::Assign(Field::ARP_SHA, mac),
        Action::Fixed("arp.tpa <-> arp.spa;"),
        Action::Fixed("outport = inport;"),
        loopback(1),
        Action::Output,
    ])
}

/// The neighbor advertisement answering a solicitation for a NAT address with `mac`.
pub fn nd_reply(mac: Value) -> Actions {
    Actions::one(Action::NdNa(vec![
        Action::Assign(Field::ETH_SRC, mac.clone()),
        Action::Assign(Field::IP6_SRC, Field::ND_TARGET.into()),
        Action::Assign(Field::ND_TLL, mac),
        Action::Fixed("outport = inport;"),
        loopback(1),
        Action::Output,
    ]))
}

/// The match of an ARP request or neighbor solicitation for `ip`.
pub fn resolve_match(ip: IpAddr) -> Match {
    match ip {
        IpAddr::V4(_) => Match::eq(Field::ARP_OP, 1u64).and_eq(Field::ARP_TPA, ip),
        IpAddr::V6(v6) => Match::eq(
            Field::IP6_DST,
            Value::Set(vec![ip.into(), IpAddr::V6(solicited_node(v6)).into()]),
        )
        .and_pred(Pred::NdNs)
        .and_eq(Field::ND_TARGET, ip),
    }
}

/// The router's load balancer VIPs and its [`snat_ips`], looked up without copying the VIP
/// set (thousands of addresses on an OVN-Kubernetes gateway router).
pub(super) struct VipsOrSnat<'a> {
    vips: std::sync::Arc<super::lb::RouterLbs<'a>>,
    snat: BTreeSet<IpAddr>,
}

impl<'a> VipsOrSnat<'a> {
    /// The addresses of router `lr`.
    pub(super) fn of(ctx: &RouterCtx<'a>, lr: &Router) -> Self {
        Self {
            vips: super::lb::router_lb_info(ctx, lr),
            snat: snat_ips(lr),
        }
    }

    /// True when `ip` is a VIP or a SNAT address.
    pub(super) fn contains(&self, ip: &IpAddr) -> bool {
        self.vips.ips.contains(ip) || self.snat.contains(ip)
    }

    /// True when there is no such address.
    pub(super) fn is_empty(&self) -> bool {
        self.vips.ips.is_empty() && self.snat.is_empty()
    }
}

/// The addresses a router SNATs many-to-one to: the external IPs of its `snat` rules (not
/// `dnat_and_snat`) and its `dnat_force_snat_ip` / `lb_force_snat_ip` addresses. A router port
/// IP in this set is not dropped in `lr_in_ip_input` (replies to SNATed traffic go through
/// `lr_in_unsnat`) but in `lr_in_arp_resolve`.
pub fn snat_ips(lr: &Router) -> BTreeSet<IpAddr> {
    let mut out: BTreeSet<IpAddr> = lr
        .nat_rules
        .iter()
        .filter(|r| r.kind == NatKind::Snat)
        .map(|r| r.external)
        .collect();
    for key in ["dnat_force_snat_ip", "lb_force_snat_ip"] {
        out.extend(force_snat_ips(lr, key).into_iter().flatten());
    }
    out
}

/// The first IPv4 and first IPv6 address of a `*_force_snat_ip` router option (none for
/// `router_ip` or an unparsable value), on any router: the SNAT flows for them are gateway
/// routers' only, but ovn-northd 23.03 counts them as SNAT addresses of the router's ports
/// (`lr_in_ip_input`, `lr_in_arp_resolve`) on routers with distributed gateway ports too.
pub fn force_snat_ips(lr: &Router, key: &str) -> [Option<IpAddr>; 2] {
    let mut out = [None, None];
    let Some(text) = lr.options.get(key) else {
        return out;
    };
    for word in text.split_whitespace() {
        let ip = word
            .split_once('/')
            .map_or(word, |(a, _)| a)
            .parse::<IpAddr>();
        match ip {
            Ok(ip @ IpAddr::V4(_)) if out[0].is_none() => out[0] = Some(ip),
            Ok(ip @ IpAddr::V6(_)) if out[1].is_none() => out[1] = Some(ip),
            _ => {}
        }
    }
    out
}

/// True when NAT rule `nat` of `lr` is announced (gratuitous ARPs, `nat-addresses=router`)
/// from router port `port`: an IPv4 rule, and on a distributed gateway port only the rules that
/// port handles.
pub fn announced_on(lr: &Router, nat: Ref<nb::Nat>, port: &RouterPort) -> bool {
    let me = lr.ports.iter().position(|p| p.name == port.name);
    lr.nat_rules
        .iter()
        .find(|r| r.nb == nat)
        .is_some_and(|r| !r.is_v6() && (!port.is_dgp || r.gateway_port == me))
}

/// Builds this module's flows for `lr`.
pub fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(dp, Stage::LrInUnsnat, 0, &always, &next);
    flows.add(dp, Stage::LrInDnat, 0, &always, &next);
    flows.add(dp, Stage::LrInEcmpStateful, 0, &always, &next);
    flows.add(
        dp,
        Stage::LrOutChkDnatLocal,
        0,
        &always,
        &Actions(vec![
            Action::Assign(DNAT_LOCAL, Value::Int(0)),
            Action::Next,
        ]),
    );
    flows.add(dp, Stage::LrOutUndnat, 0, &always, &next);
    flows.add(dp, Stage::LrOutPostUndnat, 0, &always, &next);
    flows.add(dp, Stage::LrOutSnat, 0, &always, &next);
    flows.add(dp, Stage::LrOutPostSnat, 0, &always, &next);
    flows.add(dp, Stage::LrOutEgrLoop, 0, &always, &next);
    // Neighbor solicitations ovn-controller generates skip SNAT.
    flows.add(dp, Stage::LrOutSnat, 120, &Match::pred(Pred::NdNs), &next);

    // ARP/ND for every NAT external address, whatever the router.
    for r in &lr.nat_rules {
        let reply = match r.external {
            IpAddr::V4(_) => arp_reply(PORT_MAC.into()),
            IpAddr::V6(_) => nd_reply(PORT_MAC.into()),
        };
        flows.add(
            dp,
            Stage::LrInIpInput,
            90,
            &resolve_match(r.external),
            &reply,
        );
    }
    build_own_snat_ip_drops(ctx, lr, flows);
    switch_side::build(ctx, lr, flows);

    if !lr.is_gateway() && lr.dgps().next().is_none() {
        return;
    }
    if !lr.nats.is_empty() {
        let natted = if ctx.features.ct_no_masked_label {
            "ip && ct_mark.natted == 1"
        } else {
            "ip && ct_label.natted == 1"
        };
        flows.add(
            dp,
            Stage::LrOutChkDnatLocal,
            50,
            &Match::pred(Pred::Fixed(natted)),
            &Actions(vec![
                Action::Assign(DNAT_LOCAL, Value::Int(1)),
                Action::Next,
            ]),
        );
    }
    let dnat_force = lr.is_gateway() && force_snat_ips(lr, "dnat_force_snat_ip") != [None, None];
    if !lr.is_gateway() {
        // Every non-`snat` rule, and the first `snat` rule of each external address.
        let mut snat_seen = BTreeSet::new();
        for r in &lr.nat_rules {
            if r.kind == NatKind::Snat && !snat_seen.insert(r.external) {
                continue;
            }
            for gw in r.neighbor_ports.iter().filter_map(|i| lr.ports.get(*i)) {
                build_dgp_neighbor(lr, r, gw, flows);
            }
        }
    }
    // External addresses (as written) whose `lr_in_arp_resolve` flow is written: only the first
    // usable rule of each address writes one.
    let mut resolved = BTreeSet::new();
    for r in lr.nat_rules.iter().filter(|r| r.usable) {
        if lr.is_gateway() {
            build_gateway_rule(lr, r, dnat_force, flows);
        } else if let Some(gw) = r.gateway_port.and_then(|i| lr.ports.get(i)) {
            let resolve = resolved.insert(r.external_ip.as_str());
            build_dgp_rule(lr, r, gw, resolve, flows);
        }
    }
    if lr.is_gateway() {
        build_gateway_router(lr, flows);
    }
}

/// Router IPs that are also SNAT addresses (or load balancer VIPs) are dropped in
/// `lr_in_arp_resolve` rather than routed (priority 2, per port and family).
fn build_own_snat_ip_drops(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let keep = VipsOrSnat::of(ctx, lr);
    if keep.is_empty() {
        return;
    }
    for p in &lr.ports {
        let v4: Vec<Value> = p
            .ipv4
            .iter()
            .map(|n| IpAddr::V4(n.addr))
            .filter(|ip| keep.contains(ip))
            .map(Value::Ip)
            .collect();
        let v6: Vec<Value> = p
            .ipv6
            .iter()
            .map(|n| IpAddr::V6(n.addr))
            .filter(|ip| keep.contains(ip))
            .map(Value::Ip)
            .collect();
        for (field, ips) in [(Field::IP4_DST, v4), (Field::IP6_DST, v6)] {
            if !ips.is_empty() {
                flows.add(
                    lr.dp,
                    Stage::LrInArpResolve,
                    2,
                    &Match::eq(field, Value::Set(ips)),
                    &Actions::one(Action::Drop),
                );
            }
        }
    }
}

/// Gateway router flows that do not depend on one rule: un-DNAT of every reply, commit of new
/// connections after un-DNAT, and the forced SNAT of `dnat_force_snat_ip` / `lb_force_snat_ip`.
fn build_gateway_router(lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    if !lr.nats.is_empty() {
        flows.add(
            dp,
            Stage::LrOutUndnat,
            100,
            &Match::pred(Pred::Fixed("nd || nd_rs || nd_ra")),
            &Actions::one(Action::Next),
        );
        flows.add(
            dp,
            Stage::LrOutUndnat,
            50,
            &Match::pred(Pred::Ip),
            &Actions(vec![loopback(1), ct("ct_dnat", None, None)]),
        );
        flows.add(
            dp,
            Stage::LrOutPostUndnat,
            50,
            &Match::pred(Pred::Fixed("ip && ct.new")),
            &Actions::one(Action::Fixed("ct_commit { } ; next; ")),
        );
    }
    for (key, flag) in [
        ("dnat_force_snat_ip", FORCE_SNAT_FOR_DNAT),
        ("lb_force_snat_ip", FORCE_SNAT_FOR_LB),
    ] {
        for ip in force_snat_ips(lr, key).into_iter().flatten() {
            let v6 = ip.is_ipv6();
            flows.add(
                dp,
                Stage::LrInUnsnat,
                110,
                &Match::pred(ip_pred(v6)).and_eq(ip_field(v6, true), ip),
                &Actions::one(ct("ct_snat", None, None)),
            );
            flows.add(
                dp,
                Stage::LrOutSnat,
                100,
                &Match::eq(flag, 1u64).and_pred(ip_pred(v6)),
                &Actions::one(ct("ct_snat", Some(&ip.to_string()), None)),
            );
        }
    }
}

/// `ip && ipX.dst == E` (or `.src`), with the rule's text.
fn rule_match(r: &NatRule, dst: bool, text: Value) -> Match {
    Match::pred(Pred::Ip).and_eq(ip_field(r.is_v6(), dst), text)
}

/// The flows of one rule on a gateway router.
fn build_gateway_rule(lr: &Router, r: &NatRule, dnat_force: bool, flows: &mut FlowTable) {
    let dp = lr.dp;
    let v6 = r.is_v6();
    if r.kind.has_snat() {
        let action = if r.stateless {
            Action::Next
        } else {
            ct("ct_snat", None, None)
        };
        flows.add(
            dp,
            Stage::LrInUnsnat,
            90,
            &rule_match(r, true, r.external_value()),
            &Actions::one(action),
        );
    }
    if r.kind.has_dnat() {
        let m = rule_match(r, true, r.external_value());
        add_exempted(dp, Stage::LrInDnat, 102, r, &m, false, flows);
        let mut actions = Vec::new();
        if dnat_force {
            actions.push(Action::Assign(FORCE_SNAT_FOR_DNAT, Value::Int(1)));
        }
        actions.push(loopback(1));
        if r.stateless {
            actions.push(Action::AssignTight(ip_field(v6, true), r.logical_value()));
            actions.push(Action::Next);
        } else {
            actions.push(ct("ct_dnat", Some(&r.logical_ip), r.range.clone()));
        }
        flows.add(
            dp,
            Stage::LrInDnat,
            100,
            &with_allowed(m, r, false),
            &Actions(actions),
        );
    }
    if r.kind.has_snat() {
        let prio = r.snat_priority();
        let m = rule_match(r, false, r.logical_value());
        add_exempted(dp, Stage::LrOutSnat, prio + 2, r, &m, true, flows);
        let m = with_allowed(m, r, true);
        let (m, actions) = if r.stateless {
            (
                m,
                Actions(vec![
                    Action::AssignTight(ip_field(v6, false), r.external_value()),
                    Action::Next,
                ]),
            )
        } else {
            (
                m.and_pred(CT_NOT_REPLY),
                Actions::one(ct("ct_snat", Some(&r.external_ip), r.range.clone())),
            )
        };
        flows.add(dp, Stage::LrOutSnat, prio, &m, &actions);
    }
}

/// A conntrack NAT action to `target` (the rule's text), with an optional port range.
fn ct(name: &'static str, target: Option<&str>, range: Option<String>) -> Action {
    Action::CtNat {
        name,
        target: target.map(str::to_owned),
        range,
    }
}

/// `m && ipX.dst == $allowed` (`dst`: the peer is the destination, in SNAT) or `ipX.src`
/// (in DNAT), when the rule has `allowed_ext_ips`.
fn with_allowed(m: Match, r: &NatRule, dst: bool) -> Match {
    match &r.allowed_ext_ips {
        Some(set) => m.and_eq(ip_field(r.is_v6(), dst), Value::AddrSet(set.clone())),
        None => m,
    }
}

/// The flow letting traffic from/to `exempted_ext_ips` through untranslated.
fn add_exempted(
    dp: usize,
    stage: Stage,
    prio: u16,
    r: &NatRule,
    m: &Match,
    dst: bool,
    flows: &mut FlowTable,
) {
    if let Some(set) = &r.exempted_ext_ips {
        let m = m
            .clone()
            .and_eq(ip_field(r.is_v6(), dst), Value::AddrSet(set.clone()));
        flows.add(dp, stage, prio, &m, &Actions::one(Action::Next));
    }
}

/// ARP/ND for a rule's external address on distributed gateway port `gw` (one of the rule's
/// [`NatRule::neighbor_ports`], even when the rule is otherwise unusable): answered where the
/// rule is handled (priority 92), dropped elsewhere (91).
fn build_dgp_neighbor(lr: &Router, r: &NatRule, gw: &RouterPort, flows: &mut FlowTable) {
    // Any rule (of any type) with a valid `external_mac` and a `logical_port` answers with that
    // MAC from that port's chassis.
    let (ext_mac, here) = match (r.external_mac_value(), &r.logical_port) {
        (Some(mac), Some(lp)) => (Some(mac), lp.clone()),
        _ => (None, gw.cr_name()),
    };
    let m = Match::eq(Field::INPORT, Value::port(&gw.name)).and(resolve_match(r.external));
    let here = m.clone().and_resident(&here);
    let mac = ext_mac.unwrap_or_else(|| PORT_MAC.into());
    let reply = match r.external {
        IpAddr::V4(_) => arp_reply(mac),
        IpAddr::V6(_) => nd_reply(mac),
    };
    flows.add(lr.dp, Stage::LrInIpInput, 92, &here, &reply);
    flows.add(
        lr.dp,
        Stage::LrInIpInput,
        91,
        &m,
        &Actions::one(Action::Drop),
    );
}

/// The flows of one rule on a router with distributed gateway port `gw`; with `resolve`, the
/// `lr_in_arp_resolve` MAC binding of its external address too.
fn build_dgp_rule(lr: &Router, r: &NatRule, gw: &RouterPort, resolve: bool, flows: &mut FlowTable) {
    let dp = lr.dp;
    let v6 = r.is_v6();
    let cr = gw.cr_name();
    // Where the rule is handled: the logical port's chassis (distributed) or the gateway's.
    let resident = |m: Match| {
        if r.distributed {
            match &r.logical_port {
                Some(lp) => m.and_resident(lp),
                None => m,
            }
        } else {
            m.and_resident(&cr)
        }
    };
    // Ingress translation flows skip the residency check for distributed rules.
    let central_only = |m: Match| {
        if r.distributed {
            m
        } else {
            m.and_resident(&cr)
        }
    };
    let inport = Value::port(&gw.name);
    let outport = Value::port(&gw.name);
    let ext_mac = r.external_mac.filter(|_| r.distributed);
    let eth_src: Vec<Action> = ext_mac
        .map(|m| Action::Assign(Field::ETH_SRC, Value::Mac(m)))
        .into_iter()
        .collect();

    if r.kind.has_snat() {
        let base = rule_match(r, true, r.external_value()).and_eq(Field::INPORT, inport.clone());
        let m = central_only(base.clone().and_eq(Field::FLAGS_LOOPBACK, 0u64));
        let a = if r.stateless {
            Action::Next
        } else {
            ct("ct_snat_in_czone", None, None)
        };
        flows.add(dp, Stage::LrInUnsnat, 100, &m, &Actions::one(a));
        if !r.stateless {
            let m = central_only(
                base.and_eq(Field::FLAGS_LOOPBACK, 1u64)
                    .and_eq(USE_SNAT_ZONE, 1u64),
            );
            flows.add(
                dp,
                Stage::LrInUnsnat,
                100,
                &m,
                &Actions::one(ct("ct_snat", None, None)),
            );
        }
    }
    if r.kind.has_dnat() {
        let m = central_only(
            rule_match(r, true, r.external_value()).and_eq(Field::INPORT, inport.clone()),
        );
        add_exempted(dp, Stage::LrInDnat, 102, r, &m, false, flows);
        let a = if r.stateless {
            Actions(vec![
                Action::AssignTight(ip_field(v6, true), r.logical_value()),
                Action::Next,
            ])
        } else {
            Actions::one(ct("ct_dnat_in_czone", Some(&r.logical_ip), r.range.clone()))
        };
        flows.add(dp, Stage::LrInDnat, 100, &with_allowed(m, r, false), &a);

        let m = central_only(
            rule_match(r, false, r.logical_value()).and_eq(Field::OUTPORT, outport.clone()),
        );
        let mut a = eth_src.clone();
        a.push(if r.stateless {
            Action::Next
        } else {
            ct("ct_dnat_in_czone", None, None)
        });
        flows.add(dp, Stage::LrOutUndnat, 100, &m, &Actions(a));
    }
    // Traffic to a NAT address is local when the rule is handled on this chassis.
    flows.add(
        dp,
        Stage::LrOutChkDnatLocal,
        50,
        &resident(rule_match(r, true, r.external_value())),
        &Actions(vec![
            Action::Assign(DNAT_LOCAL, Value::Int(1)),
            Action::Next,
        ]),
    );
    if r.kind.has_snat() {
        let prio = r.snat_priority() + 128;
        let m = resident(
            rule_match(r, false, r.logical_value()).and_eq(Field::OUTPORT, outport.clone()),
        );
        add_exempted(dp, Stage::LrOutSnat, prio + 2, r, &m, true, flows);
        let m = with_allowed(m, r, true);
        let mut a = eth_src.clone();
        if r.stateless {
            a.push(Action::AssignTight(ip_field(v6, false), r.external_value()));
            a.push(Action::Next);
        } else {
            a.push(ct(
                "ct_snat_in_czone",
                Some(&r.external_ip),
                r.range.clone(),
            ));
        }
        flows.add(dp, Stage::LrOutSnat, prio, &m, &Actions(a));
        if !r.stateless {
            let mut a = eth_src.clone();
            a.push(Action::Assign(DNAT_LOCAL, Value::Int(0)));
            a.push(ct("ct_snat", Some(&r.external_ip), r.range.clone()));
            flows.add(
                dp,
                Stage::LrOutSnat,
                prio + 1,
                &m.and_eq(DNAT_LOCAL, 1u64),
                &Actions(a),
            );
        }
    }

    if r.kind == NatKind::Snat {
        flows.add(
            dp,
            Stage::LrInIpInput,
            120,
            &Match::eq(Field::INPORT, inport.clone())
                .and_eq(ip_field(v6, false), r.external_value()),
            &Actions::one(Action::Next),
        );
    }
    if let (Some(mac), Some(lp)) = (ext_mac, &r.logical_port) {
        flows.add(
            dp,
            Stage::LrInAdmission,
            50,
            &Match::eq(Field::ETH_DST, mac)
                .and_eq(Field::INPORT, inport.clone())
                .and_resident(lp),
            &Actions(
                super::routing::admission_mtu_check(gw)
                    .into_iter()
                    .chain([Action::Assign(PORT_MAC, Value::Mac(gw.mac)), Action::Next])
                    .collect(),
            ),
        );
        super::routing::distributed_nat_too_big(
            dp,
            gw,
            r.external,
            r.external_mac_value().unwrap_or(Value::Mac(mac)),
            flows,
        );
        super::routing::distributed_nat_admission_bypass(dp, gw, mac, lp, flows);
        // A bridged gateway port resolves the next hop of the NATed host's traffic where the
        // host runs. ovn-northd 23.03 does it when any gateway port of the router is bridged,
        // and writes the router's first gateway port (in UUID order) as `outport` there,
        // whichever gateway port the rule uses (seeds 92064, 94238).
        if lr.dgps().any(super::gateway::is_bridged) {
            let first = lr.dgps().min_by_key(|p| p.nb).unwrap_or(gw);
            let outport = Value::port(&first.name);
            let (f, hop) = if v6 {
                ("get_nd", NEXT_HOP6)
            } else {
                ("get_arp", NEXT_HOP4)
            };
            flows.add(
                dp,
                Stage::LrInArpResolve,
                90,
                &Match::eq(Field::OUTPORT, outport.clone())
                    .and_eq(ip_field(v6, false), r.logical_value())
                    .and_resident(lp),
                &Actions(vec![
                    Action::Call(f, vec![Value::Field(Field::OUTPORT), Value::Field(hop)]),
                    Action::Next,
                ]),
            );
        }
        let m = Match::eq(ip_field(v6, false), r.logical_value())
            .and_eq(Field::OUTPORT, outport.clone());
        if r.logical_port_virtual {
            flows.add(
                dp,
                Stage::LrInGwRedirect,
                80,
                &m,
                &Actions::one(Action::Drop),
            );
        }
        flows.add(
            dp,
            Stage::LrInGwRedirect,
            100,
            &m.and_resident(lp),
            &Actions(vec![
                Action::Assign(
                    Field::ETH_SRC,
                    r.external_mac_value().unwrap_or(Value::Mac(mac)),
                ),
                Action::Assign(if v6 { SRC6 } else { SRC4 }, r.external_value()),
                Action::Next,
            ]),
        );
    }

    // Hairpin to a NAT address of the gateway port itself.
    flows.add(
        dp,
        Stage::LrInArpResolve,
        150,
        &Match::eq(Field::INPORT, inport)
            .and_eq(Field::OUTPORT, outport.clone())
            .and_eq(ip_field(v6, true), r.external_value()),
        &Actions::one(Action::Drop),
    );
    if resolve {
        flows.add(
            dp,
            Stage::LrInArpResolve,
            100,
            &Match::eq(Field::OUTPORT, outport.clone())
                .and_eq(if v6 { NEXT_HOP6 } else { NEXT_HOP4 }, r.external_value()),
            &Actions(vec![
                Action::Assign(
                    Field::ETH_DST,
                    ext_mac
                        .and_then(|_| r.external_mac_value())
                        .unwrap_or(Value::Mac(gw.mac)),
                ),
                Action::Next,
            ]),
        );
    }
    flows.add(
        dp,
        Stage::LrOutEgrLoop,
        100,
        &resident(
            Match::eq(ip_field(v6, true), r.external_value()).and_eq(Field::OUTPORT, outport),
        ),
        &Actions::one(EGRESS_LOOPBACK),
    );
}
