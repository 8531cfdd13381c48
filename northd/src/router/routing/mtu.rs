//! `options:gateway_mtu` on router ports: the length check (`lr_in_admission`,
//! `lr_in_chk_pkt_len`), its bypass (`options:gateway_mtu_bypass`), and the ICMPv4
//! "fragmentation needed" / ICMPv6 "packet too big" replies (`lr_in_larger_pkts`, and
//! `lr_in_ip_input` for packets that came in by the port itself).

use std::net::IpAddr;

use ovn_sb::stage::Stage;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::router::{Router, RouterPort};

/// `reg9[1]`: the packet is larger than the output port's MTU.
const PKT_LARGER: Field = Field("reg9[1]");
/// `reg9[0]`: the packet is an ICMP error the router generated.
const ICMP_GENERATED: Field = Field("reg9[0]");
/// `xreg0[0..47]`: the router port's MAC, saved by the admission stage.
const PORT_MAC: Field = Field("xreg0[0..47]");
/// Ethernet header length added to the MTU for the length check.
const ETH_HEADER_LEN: u64 = 14;
/// The same with a VLAN header (the peer switch's localnet port has a `tag_request`).
const VLAN_ETH_HEADER_LEN: u64 = 18;

/// The port's `options:gateway_mtu` when set to a positive number.
fn gateway_mtu(port: &RouterPort) -> Option<u64> {
    let mtu: i64 = port.options.get("gateway_mtu")?.parse().ok()?;
    u64::try_from(mtu).ok().filter(|m| *m > 0)
}

/// `reg9[1] = check_pkt_larger(MTU + 14);` (`+ 18` with a VLAN header).
fn check_action(port: &RouterPort, mtu: u64) -> Action {
    let l2 = if port.vlan_l2 {
        VLAN_ETH_HEADER_LEN
    } else {
        ETH_HEADER_LEN
    };
    Action::Assign(
        PKT_LARGER,
        Value::Call("check_pkt_larger", vec![Value::Int(mtu + l2)]),
    )
}

/// The action `lr_in_admission` puts first on the flows admitting packets into `port` when it
/// has `options:gateway_mtu`: `reg9[1] = check_pkt_larger(MTU + 14);` (priority-50 unicast and
/// multicast flows; the `gateway_mtu_bypass` flows at priority 55 are built here).
pub fn admission_mtu_check(port: &RouterPort) -> Option<Action> {
    gateway_mtu(port).map(|mtu| check_action(port, mtu))
}

/// With `options:gateway_mtu` on distributed gateway port `gw`: the priority-160
/// `lr_in_ip_input` flow answering too big packets for the distributed NAT address `ext_ip`
/// (owned by `ext_mac`, written as the NB has it) with an ICMP error sent straight back out of
/// `gw`.
pub fn distributed_nat_too_big(
    dp: crate::flow::DpIndex,
    gw: &RouterPort,
    ext_ip: IpAddr,
    ext_mac: Value,
    flows: &mut FlowTable,
) {
    let Some(mtu) = gateway_mtu(gw) else {
        return;
    };
    let (family, field) = if ext_ip.is_ipv4() {
        (Pred::Ip4, Field::IP4_DST)
    } else {
        (Pred::Ip6, Field::IP6_DST)
    };
    let m = Match::eq(Field::INPORT, Value::port(&gw.name))
        .and_pred(Pred::Fixed("reg9[1]"))
        .and_eq(ICMP_GENERATED, 0)
        .and_pred(family)
        .and_eq(field, ext_ip);
    let mut a = vec![
        Action::Assign(ICMP_GENERATED, Value::Int(1)),
        Action::Assign(PKT_LARGER, Value::Int(0)),
        Action::Assign(Field::ETH_DST, Value::Field(Field::ETH_SRC)),
        Action::Assign(Field::ETH_SRC, ext_mac),
    ];
    let name = icmp_too_big(ext_ip, 254, mtu, &mut a);
    a.extend([
        Action::Assign(Field::OUTPORT, Value::port(&gw.name)),
        Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
        Action::Output,
    ]);
    flows.add(
        dp,
        Stage::LrInIpInput,
        160,
        &m,
        &Actions::one(Action::NestedTight(name, a)),
    );
}

/// With `options:gateway_mtu` and `options:gateway_mtu_bypass` on distributed gateway port
/// `gw`: the priority-55 `lr_in_admission` flow admitting bypassing packets to the distributed
/// NAT MAC `ext_mac` of `logical_port` without the length check.
pub fn distributed_nat_admission_bypass(
    dp: crate::flow::DpIndex,
    gw: &RouterPort,
    ext_mac: ovn_nb::addr::MacAddr,
    logical_port: &str,
    flows: &mut FlowTable,
) {
    let (Some(_), Some(bypass)) = (gateway_mtu(gw), gw.options.get("gateway_mtu_bypass")) else {
        return;
    };
    if !gw.enabled {
        return;
    }
    let m = Match::eq(Field::ETH_DST, Value::Mac(ext_mac))
        .and_eq(Field::INPORT, Value::port(&gw.name))
        .and_resident(logical_port)
        .and(Match::user(bypass));
    flows.add(
        dp,
        Stage::LrInAdmission,
        55,
        &m,
        &Actions(vec![
            Action::Assign(PORT_MAC, Value::Mac(gw.mac)),
            Action::Next,
        ]),
    );
}

/// Appends to `a` the body of an ICMP "too big" error sent from `src` with TTL `ttl` announcing
/// `mtu` (swapping the IP addresses), and returns the action's name (`icmp4_error` or
/// `icmp6_error`).
fn icmp_too_big(src: IpAddr, ttl: u64, mtu: u64, a: &mut Vec<Action>) -> &'static str {
    if src.is_ipv4() {
        a.extend([
            Action::Assign(Field::IP4_DST, Value::Field(Field::IP4_SRC)),
            Action::Assign(Field::IP4_SRC, Value::Ip(src)),
            Action::Assign(Field("ip.ttl"), Value::Int(ttl)),
            Action::Assign(Field("icmp4.type"), Value::Int(3)),
            Action::Comment("Destination Unreachable."),
            Action::Assign(Field("icmp4.code"), Value::Int(4)),
            Action::Comment("Frag Needed and DF was Set."),
            Action::Assign(Field("icmp4.frag_mtu"), Value::Int(mtu)),
        ]);
        "icmp4_error"
    } else {
        a.extend([
            Action::Assign(Field::IP6_DST, Value::Field(Field::IP6_SRC)),
            Action::Assign(Field::IP6_SRC, Value::Ip(src)),
            Action::Assign(Field("ip.ttl"), Value::Int(ttl)),
            Action::Assign(Field("icmp6.type"), Value::Int(2)),
            Action::Comment("Packet Too Big."),
            Action::Assign(Field("icmp6.code"), Value::Int(0)),
            Action::Assign(Field("icmp6.frag_mtu"), Value::Int(mtu)),
        ]);
        "icmp6_error"
    }
}

/// The ICMP error telling `ip`'s sender (which came in by `inport`) the MTU.
fn too_big(inport: &RouterPort, ip: IpAddr, mtu: u64) -> Actions {
    let mut a = vec![
        Action::Assign(ICMP_GENERATED, Value::Int(1)),
        Action::Assign(PKT_LARGER, Value::Int(0)),
        Action::Assign(Field::ETH_DST, Value::Mac(inport.mac)),
    ];
    let name = icmp_too_big(ip, 255, mtu, &mut a);
    a.push(Action::NextTable(Stage::LrInAdmission));
    Actions::one(Action::NestedTight(name, a))
}

/// The "too big" replies to packets from `inport` (leaving by `outport` when given, else by
/// `inport` itself in `lr_in_ip_input`).
fn add_too_big(
    lr: &Router,
    inport: &RouterPort,
    outport: Option<&RouterPort>,
    mtu: u64,
    flows: &mut FlowTable,
) {
    let (stage, base) = match outport {
        Some(o) => (
            Stage::LrInLargerPkts,
            Match::eq(Field::INPORT, Value::port(&inport.name))
                .and_eq(Field::OUTPORT, Value::port(&o.name)),
        ),
        None => (
            Stage::LrInIpInput,
            Match::eq(Field::INPORT, Value::port(&inport.name)),
        ),
    };
    let sources = [
        inport.ipv4.first().map(|n| (Pred::Ip4, IpAddr::V4(n.addr))),
        inport.ipv6.first().map(|n| (Pred::Ip6, IpAddr::V6(n.addr))),
    ];
    for (family, ip) in sources.into_iter().flatten() {
        let m = base
            .clone()
            .and_pred(family)
            .and_pred(Pred::Fixed("reg9[1]"))
            .and_eq(ICMP_GENERATED, 0);
        flows.add(lr.dp, stage, 150, &m, &too_big(inport, ip, mtu));
    }
}

/// Builds the `gateway_mtu` flows of `lr`.
pub(super) fn build(lr: &Router, flows: &mut FlowTable) {
    for port in &lr.ports {
        let Some(mtu) = gateway_mtu(port) else {
            continue;
        };
        let out = Match::eq(Field::OUTPORT, Value::port(&port.name));
        flows.add(
            lr.dp,
            Stage::LrInChkPktLen,
            50,
            &out,
            &Actions(vec![check_action(port, mtu), Action::Next]),
        );
        if let Some(bypass) = port.options.get("gateway_mtu_bypass") {
            flows.add(
                lr.dp,
                Stage::LrInChkPktLen,
                55,
                &out.clone().and(Match::user(bypass)),
                &Actions::one(Action::Next),
            );
            if port.enabled {
                let admit = Actions(vec![
                    Action::Assign(PORT_MAC, Value::Mac(port.mac)),
                    Action::Next,
                ]);
                let mut unicast = Match::eq(Field::ETH_DST, Value::Mac(port.mac))
                    .and_eq(Field::INPORT, Value::port(&port.name));
                if port.is_dgp {
                    unicast = unicast.and_resident(&port.cr_name());
                }
                flows.add(
                    lr.dp,
                    Stage::LrInAdmission,
                    55,
                    &unicast.and(Match::user(bypass)),
                    &admit,
                );
                flows.add(
                    lr.dp,
                    Stage::LrInAdmission,
                    55,
                    &Match::pred(Pred::EthMcast)
                        .and_eq(Field::INPORT, Value::port(&port.name))
                        .and(Match::user(bypass)),
                    &admit,
                );
            }
        }
        add_too_big(lr, port, None, mtu, flows);
        for other in lr.ports.iter().filter(|o| o.name != port.name) {
            add_too_big(lr, other, Some(port), mtu, flows);
        }
    }
}
