//! Router input stages: `lr_in_admission`, `lr_in_lookup_neighbor`, `lr_in_learn_neighbor`,
//! `lr_in_ip_input` (the router's own addresses: ARP/ND replies, ICMP echo replies, TTL
//! exceeded, port unreachable, DHCPv6 replies, martian and broadcast drops),
//! `lr_in_nd_ra_options`, `lr_in_nd_ra_response` (IPv6 router advertisements),
//! `lr_out_egr_loop` and `lr_out_delivery`.
//!
//! NAT, load balancer and gateway-specific flows of these stages are built by their own
//! modules; multicast relay flows by [`super::input_mcast`], router advertisements by
//! [`super::input_ra`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ovn_sb::stage::Stage;
use ovsdb::model::SortedMap;

use crate::content::StaticMacBindingContent;
use crate::flow::{solicited_node, Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::snapshot::NbSnapshot;
use crate::switch::LspType;

use super::{input_mcast, Ipv4Net, Ipv6Net, Peer, Router, RouterCtx, RouterPort};

/// `xreg0[0..47]`: the MAC of the port the packet came in by (set in `lr_in_admission`).
const PORT_MAC: Field = Field("xreg0[0..47]");
/// `reg9[0]`: the packet loops back through the router (skips the own-source drop).
const EGRESS_LOOPBACK: Field = Field("reg9[0]");
/// `reg9[2]`: the neighbor lookup found the binding (no need to learn it).
const LOOKUP_RESULT: Field = Field("reg9[2]");
/// `reg9[3]`: the neighbor's IP is worth learning (`always_learn_from_arp_request=false`).
const LOOKUP_IP_RESULT: Field = Field("reg9[3]");
/// `flags.loopback = 1;`.
pub(super) const LOOPBACK: Action = Action::Fixed("flags.loopback = 1;");
/// `ip.ttl`.
const IP_TTL: Field = Field("ip.ttl");
/// `icmp4.type`.
const ICMP4_TYPE: Field = Field("icmp4.type");
/// `icmp4.code`.
const ICMP4_CODE: Field = Field("icmp4.code");
/// `icmp6.type`.
const ICMP6_TYPE: Field = Field("icmp6.type");
/// `icmp6.code`.
const ICMP6_CODE: Field = Field("icmp6.code");
/// `outport = inport;`.
pub(super) const OUT_INPORT: Action = Action::Fixed("outport = inport;");

/// Reads a boolean option the way OVS's `smap_get_bool` does: with a `true` default only
/// "false" (any case) turns it off, with a `false` default only "true" turns it on.
pub fn bool_option(map: &SortedMap<String, String>, key: &str, default: bool) -> bool {
    match map.get(key) {
        None => default,
        Some(v) if default => !v.eq_ignore_ascii_case("false"),
        Some(v) => v.eq_ignore_ascii_case("true"),
    }
}

/// `is_chassis_resident` of the port's `chassisredirect` port, for a distributed gateway port.
fn resident_if_dgp(m: Match, p: &RouterPort) -> Match {
    if p.is_dgp {
        m.and_resident(&p.cr_name())
    } else {
        m
    }
}

/// `ip4.dst == A` for one address, `{A, B}` for several.
fn one_or_set(ips: Vec<Value>) -> Value {
    if ips.len() == 1 {
        ips.into_iter().next().unwrap_or(Value::Set(Vec::new()))
    } else {
        Value::Set(ips)
    }
}

fn v4_values(p: &RouterPort) -> Vec<Value> {
    p.ipv4
        .iter()
        .map(|n| Value::Ip(IpAddr::V4(n.addr)))
        .collect()
}

fn v6_values(p: &RouterPort) -> Vec<Value> {
    p.ipv6
        .iter()
        .map(|n| Value::Ip(IpAddr::V6(n.addr)))
        .collect()
}

fn v4_net(n: &Ipv4Net) -> Value {
    Value::Net(IpAddr::V4(n.network()), n.plen)
}

pub(super) fn v6_net(n: &Ipv6Net) -> Value {
    Value::Net(IpAddr::V6(n.network()), n.plen)
}

/// Builds this module's flows for `lr`.
pub fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    build_admission(lr, flows);
    build_neighbor(lr, flows);
    build_ip_input(ctx, lr, flows);
    super::input_ra::build(ctx, lr, flows);
    build_output(lr, flows);
    input_mcast::build(lr, flows);
}

/// `lr_in_admission`: drop VLAN-tagged and multicast-source frames; admit frames for each
/// enabled port's MAC (or multicast), saving the port MAC in `xreg0[0..47]`.
fn build_admission(lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let drop = Actions::one(Action::Drop);
    flows.add(
        dp,
        Stage::LrInAdmission,
        100,
        &Match::pred(Pred::Fixed("vlan.present || eth.src[40]")),
        &drop,
    );
    flows.add(dp, Stage::LrInAdmission, 0, &Match::always(), &drop);
    for p in lr.ports.iter().filter(|p| p.enabled) {
        let mut a = Vec::new();
        if let Some(check) = super::routing::admission_mtu_check(p) {
            a.push(check);
        }
        a.push(Action::Assign(PORT_MAC, Value::Mac(p.mac)));
        a.push(Action::Next);
        let a = Actions(a);
        let port = Value::port(&p.name);
        flows.add(
            dp,
            Stage::LrInAdmission,
            50,
            &Match::pred(Pred::EthMcast).and_eq(Field::INPORT, port.clone()),
            &a,
        );
        let unicast = Match::eq(Field::ETH_DST, p.mac).and_eq(Field::INPORT, port);
        flows.add(
            dp,
            Stage::LrInAdmission,
            50,
            &resident_if_dgp(unicast, p),
            &a,
        );
    }
}

/// `reg9[2] = NAME(inport, A, B);`.
fn lookup(name: &'static str, a: Field, b: Field) -> Action {
    Action::Assign(
        LOOKUP_RESULT,
        Value::Call(name, vec![Field::INPORT.into(), a.into(), b.into()]),
    )
}

/// `reg9[3] = NAME(inport, A);`.
fn lookup_ip(name: &'static str, a: Field) -> Action {
    Action::Assign(
        LOOKUP_IP_RESULT,
        Value::Call(name, vec![Field::INPORT.into(), a.into()]),
    )
}

/// `lr_in_lookup_neighbor` and `lr_in_learn_neighbor`: look up the sender of ARP and ND
/// packets in the MAC bindings and learn it when missing (and, with
/// `always_learn_from_arp_request=false`, only when it is worth learning).
fn build_neighbor(lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let learn_all = bool_option(&lr.options, "always_learn_from_arp_request", true);
    let ip_set = Action::Assign(LOOKUP_IP_RESULT, Value::Int(1));
    let with = |first: Action, second: Option<Action>| {
        let mut a = vec![first];
        a.extend(second);
        a.push(Action::Next);
        Actions(a)
    };
    let nd_sll = Field("nd.sll");
    let arp_lookup = || lookup("lookup_arp", Field::ARP_SPA, Field::ARP_SHA);
    let extra = |a: Action| (!learn_all).then_some(a);
    let stage = Stage::LrInLookupNeighbor;
    flows.add(
        dp,
        stage,
        100,
        &Match::eq(Field::ARP_OP, 2u64),
        &with(arp_lookup(), extra(ip_set.clone())),
    );
    flows.add(
        dp,
        stage,
        100,
        &Match::pred(Pred::Fixed("nd_na")),
        &with(
            lookup("lookup_nd", Field::ND_TARGET, Field::ND_TLL),
            extra(ip_set.clone()),
        ),
    );
    if !learn_all {
        flows.add(
            dp,
            stage,
            110,
            &Match::pred(Pred::Fixed(
                "nd_na && ip6.src == fe80::/10 && ip6.dst == ff00::/8",
            )),
            &with(
                lookup("lookup_nd", Field::IP6_SRC, Field::ND_TLL),
                Some(lookup_ip("lookup_nd_ip", Field::IP6_SRC)),
            ),
        );
    }
    flows.add(
        dp,
        stage,
        100,
        &Match::pred(Pred::NdNs),
        &with(
            lookup("lookup_nd", Field::IP6_SRC, nd_sll),
            extra(lookup_ip("lookup_nd_ip", Field::IP6_SRC)),
        ),
    );
    flows.add(
        dp,
        stage,
        0,
        &Match::always(),
        &Actions(vec![
            Action::Assign(LOOKUP_RESULT, Value::Int(1)),
            Action::Next,
        ]),
    );
    for p in &lr.ports {
        let port = Value::port(&p.name);
        for n in &p.ipv4 {
            let base = Match::eq(Field::INPORT, port.clone()).and_eq(Field::ARP_SPA, v4_net(n));
            if !learn_all {
                let m = base
                    .clone()
                    .and_eq(Field::ARP_TPA, IpAddr::V4(n.addr))
                    .and_eq(Field::ARP_OP, 1u64);
                flows.add(
                    dp,
                    stage,
                    110,
                    &resident_if_dgp(m, p),
                    &with(arp_lookup(), Some(ip_set.clone())),
                );
            }
            let m = base.and_eq(Field::ARP_OP, 1u64);
            flows.add(
                dp,
                stage,
                100,
                &resident_if_dgp(m, p),
                &with(
                    arp_lookup(),
                    extra(lookup_ip("lookup_arp_ip", Field::ARP_SPA)),
                ),
            );
        }
    }

    let stage = Stage::LrInLearnNeighbor;
    let skip = if learn_all {
        "reg9[2] == 1"
    } else {
        "reg9[2] == 1 || reg9[3] == 0"
    };
    let next = Actions::one(Action::Next);
    flows.add(dp, stage, 100, &Match::pred(Pred::Fixed(skip)), &next);
    let put = |name: &'static str, a: Field, b: Field| {
        Actions(vec![
            Action::Call(name, vec![Field::INPORT.into(), a.into(), b.into()]),
            Action::Next,
        ])
    };
    flows.add(
        dp,
        stage,
        90,
        &Match::pred(Pred::Fixed("arp")),
        &put("put_arp", Field::ARP_SPA, Field::ARP_SHA),
    );
    flows.add(
        dp,
        stage,
        95,
        &Match::pred(Pred::Fixed("nd_ns && (ip6.src == 0 || nd.sll == 0)")),
        &next,
    );
    flows.add(
        dp,
        stage,
        95,
        &Match::pred(Pred::Fixed("nd_na && nd.tll == 0")),
        &put("put_nd", Field::ND_TARGET, Field::ETH_SRC),
    );
    flows.add(
        dp,
        stage,
        90,
        &Match::pred(Pred::Fixed("nd_na")),
        &put("put_nd", Field::ND_TARGET, Field::ND_TLL),
    );
    flows.add(
        dp,
        stage,
        90,
        &Match::pred(Pred::NdNs),
        &put("put_nd", Field::IP6_SRC, nd_sll),
    );
    flows.add(dp, stage, 0, &Match::always(), &Actions::one(Action::Drop));
}

/// The ARP reply to a request for one of the router's addresses, from the port's MAC.
fn arp_reply() -> Actions {
    let mac: Value = PORT_MAC.into();
    Actions(vec![
        Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
        Action::Assign(Field::ETH_SRC, mac.clone()),
        Action::Assign(Field::ARP_OP, Value::Int(2)),
        Action::Comment("ARP reply"),
        Action::Assign(Field::ARP_THA, Field::ARP_SHA.into()),
        Action::Assign(Field::ARP_SHA, mac),
        Action::Fixed("arp.tpa <-> arp.spa;"),
        OUT_INPORT,
        LOOPBACK,
        Action::Output,
    ])
}

/// The router advertisement (`nd_na_router`) answering a solicitation for a router address.
fn nd_reply() -> Actions {
    let mac: Value = PORT_MAC.into();
    Actions::one(Action::Nested(
        "nd_na_router",
        vec![
            Action::Assign(Field::ETH_SRC, mac.clone()),
            Action::Assign(Field::IP6_SRC, Field::ND_TARGET.into()),
            Action::Assign(Field::ND_TLL, mac),
            OUT_INPORT,
            LOOPBACK,
            Action::Output,
        ],
    ))
}

/// Whether the switch a router port connects to has a `localnet` port.
fn peer_has_localnet(ctx: &RouterCtx<'_>, p: &RouterPort) -> bool {
    let Some(Peer::Switch { port }) = &p.peer else {
        return false;
    };
    super::routing::switch_with_port(ctx, port)
        .is_some_and(|sw| sw.ports.iter().any(|sp| sp.type_ == LspType::Localnet))
}

/// `lr_in_ip_input`: what the router does with packets for itself.
fn build_ip_input(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let stage = Stage::LrInIpInput;
    let drop = Actions::one(Action::Drop);
    let next = Actions::one(Action::Next);
    let fixed = |p: u16, m: &'static str, a: &Actions, flows: &mut FlowTable| {
        flows.add(dp, stage, p, &Match::pred(Pred::Fixed(m)), a);
    };
    fixed(
        100,
        "ip4.src_mcast ||ip4.src == 255.255.255.255 || ip4.src == 127.0.0.0/8 || \
         ip4.dst == 127.0.0.0/8 || ip4.src == 0.0.0.0/8 || ip4.dst == 0.0.0.0/8",
        &drop,
        flows,
    );
    fixed(85, "arp || nd", &drop, flows);
    fixed(84, "nd_rs || nd_ra", &next, flows);
    fixed(83, "ip6.mcast_rsvd", &drop, flows);
    let relay = bool_option(&lr.options, "mcast_relay", false);
    fixed(
        82,
        "ip4.mcast || ip6.mcast",
        if relay { &next } else { &drop },
        flows,
    );
    fixed(50, "eth.bcast", &drop, flows);
    fixed(
        32,
        "ip.ttl == {0, 1} && !ip.later_frag && (ip4.mcast || ip6.mcast)",
        &drop,
        flows,
    );
    fixed(30, "ip.ttl == {0, 1}", &drop, flows);
    fixed(0, "1", &next, flows);

    let unreachable = !lr.is_gateway() && lr.dgps().next().is_none();
    let force_snat_router_ip = lr.is_gateway()
        && lr
            .options
            .get("lb_force_snat_ip")
            .is_some_and(|v| v == "router_ip");
    // Router addresses not dropped by the priority-60 "traffic to the router" flows: `snat`
    // external addresses, forced SNAT addresses and load balancer VIPs.
    let keep = super::nat::VipsOrSnat::of(ctx, lr);
    let single_dgp = {
        let mut d = lr.dgps();
        match (d.next(), d.next()) {
            (Some(g), None) => Some(g),
            _ => None,
        }
    };
    let bfd_ports: BTreeSet<&str> = ctx
        .nb
        .bfd
        .values()
        .map(|b| b.logical_port.as_str())
        .collect();
    for p in &lr.ports {
        let port = Value::port(&p.name);
        let inport = Match::eq(Field::INPORT, port.clone());
        if bfd_ports.contains(p.name.as_str()) {
            build_bfd(dp, p, flows);
        }
        if !p.ipv4.is_empty() {
            let mut own = Vec::new();
            for n in &p.ipv4 {
                own.push(Value::Ip(IpAddr::V4(n.addr)));
                own.push(Value::Ip(IpAddr::V4(n.broadcast())));
            }
            flows.add(
                dp,
                stage,
                100,
                &Match::eq(Field::IP4_SRC, Value::Set(own)).and_eq(EGRESS_LOOPBACK, 0u64),
                &drop,
            );
            flows.add(
                dp,
                stage,
                90,
                &Match::eq(Field::IP4_DST, one_or_set(v4_values(p))).and(Match::pred(Pred::Fixed(
                    "icmp4.type == 8 && icmp4.code == 0",
                ))),
                &Actions::one(Action::Fixed(
                    "ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 0; \
                     flags.loopback = 1; next; ",
                )),
            );
        }
        for n in &p.ipv4 {
            let mut body = vec![
                Action::Swap(Field::ETH_DST, Field::ETH_SRC),
                Action::Assign(ICMP4_TYPE, Value::Int(11)),
                Action::Comment("Time exceeded"),
                Action::Assign(ICMP4_CODE, Value::Int(0)),
                Action::Comment("TTL exceeded in transit"),
            ];
            body.extend(ttl_reply_source(p, IpAddr::V4(n.addr)));
            body.push(Action::Assign(IP_TTL, Value::Int(254)));
            body.extend(ttl_reply_output(p));
            flows.add(
                dp,
                stage,
                31,
                &inport
                    .clone()
                    .and_pred(Pred::Ip4)
                    .and(Match::pred(Pred::Fixed(
                        "ip.ttl == {0, 1} && !ip.later_frag",
                    ))),
                &Actions::one(Action::NestedTight("icmp4", body)),
            );
        }
        for n in &p.ipv4 {
            let mut m = inport
                .clone()
                .and_eq(Field::ARP_OP, 1u64)
                .and_eq(Field::ARP_TPA, IpAddr::V4(n.addr))
                .and_eq(Field::ARP_SPA, v4_net(n));
            if lr.dgps().next().is_some() && peer_has_localnet(ctx, p) {
                if p.is_dgp {
                    m = m.and_resident(&p.cr_name());
                } else if let Some(g) = single_dgp
                    .filter(|_| bool_option(&p.options, "reside-on-redirect-chassis", false))
                {
                    m = m.and_resident(&g.cr_name());
                }
            }
            flows.add(dp, stage, 90, &m, &arp_reply());
        }

        // IPv6: echo, neighbor solicitations, TTL exceeded, DHCPv6 replies.
        if !p.ipv6.is_empty() {
            flows.add(
                dp,
                stage,
                90,
                &Match::eq(Field::IP6_DST, one_or_set(v6_values(p))).and(Match::pred(Pred::Fixed(
                    "icmp6.type == 128 && icmp6.code == 0",
                ))),
                &Actions::one(Action::Fixed(
                    "ip6.dst <-> ip6.src; ip.ttl = 255; icmp6.type = 129; \
                     flags.loopback = 1; next; ",
                )),
            );
        }
        for n in &p.ipv6 {
            let ip = IpAddr::V6(n.addr);
            let m = inport
                .clone()
                .and_eq(
                    Field::IP6_DST,
                    Value::Set(vec![ip.into(), IpAddr::V6(solicited_node(n.addr)).into()]),
                )
                .and_pred(Pred::NdNs)
                .and_eq(Field::ND_TARGET, ip);
            flows.add(dp, stage, 90, &resident_if_dgp(m, p), &nd_reply());
            flows.add(
                dp,
                stage,
                100,
                &Match::eq(Field::IP6_DST, ip)
                    .and(Match::pred(Pred::Fixed("udp.src == 547 && udp.dst == 546"))),
                &Actions(vec![
                    Action::Fixed("reg0 = 0;"),
                    Action::Fixed("handle_dhcpv6_reply;"),
                ]),
            );
        }
        for n in p.ipv6.iter().filter(|n| !n.is_link_local()) {
            let mut body = vec![Action::Swap(Field::ETH_DST, Field::ETH_SRC)];
            body.extend(ttl_reply_source(p, IpAddr::V6(n.addr)));
            body.extend([
                Action::Assign(IP_TTL, Value::Int(254)),
                Action::Assign(ICMP6_TYPE, Value::Int(3)),
                Action::Comment("Time exceeded"),
                Action::Assign(ICMP6_CODE, Value::Int(0)),
                Action::Comment("TTL exceeded in transit"),
            ]);
            body.extend(ttl_reply_output(p));
            flows.add(
                dp,
                stage,
                31,
                &inport
                    .clone()
                    .and_pred(Pred::Ip6)
                    .and_eq(Field::IP6_SRC, v6_net(n))
                    .and(Match::pred(Pred::Fixed(
                        "ip.ttl == {0, 1} && !ip.later_frag",
                    ))),
                &Actions::one(Action::NestedTight("icmp6", body)),
            );
        }

        if unreachable {
            let v4 = p.ipv4.iter().map(|n| IpAddr::V4(n.addr));
            let v6 = p.ipv6.iter().map(|n| IpAddr::V6(n.addr));
            for ip in v4.chain(v6) {
                build_unreachable(dp, ip, flows);
            }
        }

        if !force_snat_router_ip {
            let v4: Vec<Value> = v4_values(p)
                .into_iter()
                .filter(|v| !matches!(v, Value::Ip(ip) if keep.contains(ip)))
                .collect();
            let v6: Vec<Value> = v6_values(p)
                .into_iter()
                .filter(|v| !matches!(v, Value::Ip(ip) if keep.contains(ip)))
                .collect();
            for (field, ips) in [(Field::IP4_DST, v4), (Field::IP6_DST, v6)] {
                if !ips.is_empty() {
                    flows.add(dp, stage, 60, &Match::eq(field, Value::Set(ips)), &drop);
                }
            }
        }
    }
}

/// BFD on a port with NB `BFD` sessions: control packets from the router pass, those to it go
/// to ovn-controller.
fn build_bfd(dp: crate::flow::DpIndex, p: &RouterPort, flows: &mut FlowTable) {
    let bfd = Match::pred(Pred::Fixed("udp.dst == 3784"));
    for (src, dst, ips) in [
        (Field::IP4_SRC, Field::IP4_DST, v4_values(p)),
        (Field::IP6_SRC, Field::IP6_DST, v6_values(p)),
    ] {
        if ips.is_empty() {
            continue;
        }
        let ips = one_or_set(ips);
        flows.add(
            dp,
            Stage::LrInIpInput,
            110,
            &Match::eq(src, ips.clone()).and(bfd.clone()),
            &Actions::one(Action::Fixed("next; ")),
        );
        flows.add(
            dp,
            Stage::LrInIpInput,
            110,
            &Match::eq(dst, ips).and(bfd.clone()),
            &Actions::one(Action::Fixed("handle_bfd_msg(); ")),
        );
    }
}

/// The source of a TTL-exceeded reply: the port's address `ip` (a distributed gateway port
/// swaps addresses instead), written with ovn-northd's space before the semicolon.
fn ttl_reply_source(p: &RouterPort, ip: IpAddr) -> Vec<Action> {
    let (dst, src) = match ip {
        IpAddr::V4(_) => (Field::IP4_DST, Field::IP4_SRC),
        IpAddr::V6(_) => (Field::IP6_DST, Field::IP6_SRC),
    };
    if p.is_dgp {
        vec![Action::SwapLoose(dst, src)]
    } else {
        vec![
            Action::Assign(dst, src.into()),
            Action::AssignLoose(src, Value::Ip(ip)),
        ]
    }
}

/// `outport = PORT; flags.loopback = 1; output;`: a TTL-exceeded reply leaves by its inport.
fn ttl_reply_output(p: &RouterPort) -> [Action; 3] {
    [
        Action::Assign(Field::OUTPORT, Value::port(&p.name)),
        LOOPBACK,
        Action::Output,
    ]
}

/// TCP reset, SCTP abort and ICMP port/protocol unreachable for traffic to router address `ip`.
fn build_unreachable(dp: crate::flow::DpIndex, ip: IpAddr, flows: &mut FlowTable) {
    let (pred, dst, src, icmp, ty, code, proto_code, port_code) = match ip {
        IpAddr::V4(_) => (
            Pred::Ip4,
            Field::IP4_DST,
            Field::IP4_SRC,
            "icmp4",
            ICMP4_TYPE,
            ICMP4_CODE,
            2,
            3,
        ),
        IpAddr::V6(_) => (
            Pred::Ip6,
            Field::IP6_DST,
            Field::IP6_SRC,
            "icmp6",
            ICMP6_TYPE,
            ICMP6_CODE,
            3,
            4,
        ),
    };
    let unreach_type: u64 = if ip.is_ipv4() { 3 } else { 1 };
    let base = Match::pred(pred)
        .and_eq(dst, ip)
        .and(Match::pred(Pred::Fixed("!ip.later_frag")));
    let swap = || {
        vec![
            Action::Swap(Field::ETH_DST, Field::ETH_SRC),
            Action::Swap(dst, src),
        ]
    };
    let icmp_action = |c: u64| {
        let mut body = swap();
        body.extend([
            Action::Assign(IP_TTL, Value::Int(255)),
            Action::Assign(ty, Value::Int(unreach_type)),
            Action::Assign(code, Value::Int(c)),
            Action::Next,
        ]);
        Actions::one(Action::NestedTight(icmp, body))
    };
    let stage = Stage::LrInIpInput;
    for (proto, name) in [("sctp", "sctp_abort"), ("tcp", "tcp_reset")] {
        let mut body = swap();
        body.push(Action::Next);
        flows.add(
            dp,
            stage,
            80,
            &base.clone().and(Match::pred(Pred::Fixed(proto))),
            &Actions::one(Action::NestedTight(name, body)),
        );
    }
    flows.add(
        dp,
        stage,
        80,
        &base.clone().and(Match::pred(Pred::Fixed("udp"))),
        &icmp_action(port_code),
    );
    flows.add(dp, stage, 70, &base, &icmp_action(proto_code));
}

/// `lr_out_egr_loop` (default) and `lr_out_delivery`: output to enabled ports, rewriting the
/// source MAC of relayed IP multicast.
fn build_output(lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    flows.add(
        dp,
        Stage::LrOutEgrLoop,
        0,
        &Match::always(),
        &Actions::one(Action::Next),
    );
    // ovn-northd adds the default drop with the flows of each enabled port: a router without
    // enabled ports has none.
    if lr.ports.iter().any(|p| p.enabled) {
        flows.add(
            dp,
            Stage::LrOutDelivery,
            0,
            &Match::always(),
            &Actions::one(Action::Drop),
        );
    }
    let relay = bool_option(&lr.options, "mcast_relay", false);
    for p in lr.ports.iter().filter(|p| p.enabled) {
        let out = Match::eq(Field::OUTPORT, Value::port(&p.name));
        if relay {
            flows.add(
                dp,
                Stage::LrOutDelivery,
                110,
                &Match::pred(Pred::Fixed("(ip4.mcast || ip6.mcast)")).and(out.clone()),
                &Actions(vec![
                    Action::Assign(Field::ETH_SRC, Value::Mac(p.mac)),
                    Action::Output,
                ]),
            );
        }
        flows.add(
            dp,
            Stage::LrOutDelivery,
            100,
            &out,
            &Actions::one(Action::Output),
        );
    }
}

/// The SB `Static_MAC_Binding` rows: one per NB `Static_MAC_Binding` whose `logical_port` is
/// a port of an enabled router (others are ignored, as ovn-northd does).
pub fn static_mac_bindings(nb: &NbSnapshot, routers: &[Router]) -> Vec<StaticMacBindingContent> {
    let dps: BTreeMap<&str, crate::flow::DpIndex> = routers
        .iter()
        .flat_map(|lr| lr.ports.iter().map(move |p| (p.name.as_str(), lr.dp)))
        .collect();
    let mut out: Vec<StaticMacBindingContent> = nb
        .static_mac_bindings
        .values()
        .filter_map(|m| {
            dps.get(m.logical_port.as_str())
                .map(|dp| StaticMacBindingContent {
                    logical_port: m.logical_port.clone(),
                    ip: m.ip.clone(),
                    mac: m.mac.clone(),
                    override_dynamic_mac: m.override_dynamic_mac,
                    datapath: *dp,
                })
        })
        .collect();
    out.sort_by(|a, b| (&a.logical_port, &a.ip).cmp(&(&b.logical_port, &b.ip)));
    out
}
