//! `lr_in_arp_resolve`: next-hop MAC addresses known from the NB — the addresses of the
//! switch ports and other router ports on the switch a router port is attached to, and the
//! addresses of a directly peered router port. Other next hops use `get_arp`/`get_nd`.

use std::net::IpAddr;

use ovn_nb::addr::MacAddr;
use ovn_sb::stage::Stage;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::router::{Peer, Router, RouterCtx, RouterPort};
use crate::switch::{LspType, Switch, SwitchPort};

use super::{member_ip, topology, NEXT_HOP4, NEXT_HOP6};

/// `eth.dst = MAC; next;`.
fn set_eth_dst(mac: MacAddr) -> Actions {
    Actions(vec![
        Action::Assign(Field::ETH_DST, Value::Mac(mac)),
        Action::Next,
    ])
}

/// One address, or a set `{a, b}` of several.
fn one_or_set(ips: Vec<IpAddr>) -> Value {
    if ips.len() == 1 {
        Value::Ip(ips[0])
    } else {
        Value::Set(ips.into_iter().map(Value::Ip).collect())
    }
}

/// The flows resolving the addresses of router port `other` when `lr` sends out of `port`.
/// `tight` prints ovn-northd's `reg0== ` spacing (the router-to-router peer case).
fn resolve_router_port(
    lr: &Router,
    port: &RouterPort,
    other: &RouterPort,
    tight: bool,
    flows: &mut FlowTable,
) {
    let out = Match::eq(Field::OUTPORT, Value::port(&port.name));
    if !other.ipv4.is_empty() {
        let v = one_or_set(other.ipv4.iter().map(|n| IpAddr::V4(n.addr)).collect());
        let m = if tight {
            Match::eq_tight(NEXT_HOP4, v)
        } else {
            Match::eq(NEXT_HOP4, v)
        };
        flows.add(
            lr.dp,
            Stage::LrInArpResolve,
            100,
            &out.clone().and(m),
            &set_eth_dst(other.mac),
        );
    }
    if !other.ipv6.is_empty() {
        let v = one_or_set(other.ipv6.iter().map(|n| IpAddr::V6(n.addr)).collect());
        flows.add(
            lr.dp,
            Stage::LrInArpResolve,
            100,
            &out.and_eq(NEXT_HOP6, v),
            &set_eth_dst(other.mac),
        );
    }
}

/// The router port a switch port of type `router` names (`options:router-port`).
fn router_port_of<'a>(
    ctx: &RouterCtx<'a>,
    sp: &SwitchPort,
) -> Option<(&'a Router, &'a RouterPort)> {
    let lsp = ctx.nb.switch_ports.get(&sp.nb)?;
    let name = lsp.options.get("router-port")?;
    topology(ctx).router_port(ctx, name)
}

/// The flows for a router port attached to switch `sw`.
fn resolve_on_switch(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    port: &RouterPort,
    sw: &Switch,
    flows: &mut FlowTable,
) {
    let dynamic_neigh = lr.option_true("dynamic_neigh_routers");
    for sp in &sw.ports {
        match sp.type_ {
            LspType::Router => {
                if dynamic_neigh {
                    continue;
                }
                if let Some((_, other)) = router_port_of(ctx, sp) {
                    if other.name != port.name {
                        resolve_router_port(lr, port, other, false, flows);
                    }
                }
            }
            LspType::Virtual if sp.enabled => resolve_virtual(ctx, lr, port, sw, sp, flows),
            LspType::Virtual => {}
            _ => resolve_neighbour(lr, port, sp, flows),
        }
    }
}

/// The flows resolving the addresses of switch port `sp` (not of type `router` or `virtual`)
/// when `lr` sends out of `port`, attached to the port's switch: one per address on one of
/// `port`'s networks, when `sp` is enabled. The only part of a router's flows that depends on
/// such ports (besides whether its switch has any, which the switch-side ARP flows check), which
/// incremental processing rebuilds alone.
pub fn resolve_neighbour(lr: &Router, port: &RouterPort, sp: &SwitchPort, flows: &mut FlowTable) {
    if !sp.enabled || matches!(sp.type_, LspType::Router | LspType::Virtual) {
        return;
    }
    for a in &sp.addrs {
        let ips = a
            .ipv4
            .iter()
            .map(|ip| IpAddr::V4(*ip))
            .chain(a.ipv6.iter().map(|ip| IpAddr::V6(*ip)));
        for ip in ips {
            if member_ip(port, ip).is_none() {
                continue;
            }
            let reg = if ip.is_ipv4() { NEXT_HOP4 } else { NEXT_HOP6 };
            flows.add(
                lr.dp,
                Stage::LrInArpResolve,
                100,
                &Match::eq(Field::OUTPORT, Value::port(&port.name)).and_eq(reg, Value::Ip(ip)),
                &set_eth_dst(a.mac),
            );
        }
    }
}

/// An unclaimed virtual port: the first router port on the switch with a network holding the
/// virtual IP (IPv4 or IPv6) resolves it to `00:00:00:00:00:00` (so the router sends an ARP
/// or ND request).
///
/// ovn-northd takes the first router port in its internal (hash) order; we take the first in
/// switch port name order, which differs only when several router ports on the switch have a
/// network holding the virtual IP.
fn resolve_virtual(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    port: &RouterPort,
    sw: &Switch,
    vp: &SwitchPort,
    flows: &mut FlowTable,
) {
    let Some(v) = &vp.virtual_ else {
        return;
    };
    if v.parents.is_empty() {
        return;
    }
    let chosen = sw
        .ports
        .iter()
        .filter(|sp| sp.type_ == LspType::Router)
        .filter_map(|sp| router_port_of(ctx, sp))
        .find(|(_, rp)| member_ip(rp, v.ip).is_some());
    if let Some((_, rp)) = chosen {
        if rp.name == port.name && rp.nb == port.nb {
            flows.add(
                lr.dp,
                Stage::LrInArpResolve,
                100,
                &Match::eq(Field::OUTPORT, Value::port(&port.name)).and_eq(
                    if v.ip.is_ipv4() { NEXT_HOP4 } else { NEXT_HOP6 },
                    Value::Ip(v.ip),
                ),
                &set_eth_dst(MacAddr([0; 6])),
            );
        }
    }
}

/// Builds `lr_in_arp_resolve` for `lr`.
pub(super) fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        0,
        &Match::pred(Pred::True),
        &Actions::one(Action::Drop),
    );
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        500,
        &Match::pred(Pred::Fixed("ip4.mcast || ip6.mcast")),
        &Actions::one(Action::Next),
    );
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        1,
        &Match::pred(Pred::Ip4),
        &Actions(vec![
            Action::Call(
                "get_arp",
                vec![Value::Field(Field::OUTPORT), Value::Field(NEXT_HOP4)],
            ),
            Action::Next,
        ]),
    );
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        1,
        &Match::pred(Pred::Ip6),
        &Actions(vec![
            Action::Call(
                "get_nd",
                vec![Value::Field(Field::OUTPORT), Value::Field(NEXT_HOP6)],
            ),
            Action::Next,
        ]),
    );
    let topo = topology(ctx);
    for port in &lr.ports {
        // Router ports whose `peer` names this port.
        for &(ri, pi) in topo.peered_by.get(&port.name).into_iter().flatten() {
            if let Some(other) = ctx.routers.get(ri).and_then(|r| r.ports.get(pi)) {
                resolve_router_port(lr, port, other, true, flows);
            }
        }
        if let Some(Peer::Switch { port: lsp }) = &port.peer {
            if let Some(sw) = topo
                .router_lsp_switch
                .get(lsp)
                .and_then(|&si| ctx.switches.get(si))
            {
                resolve_on_switch(ctx, lr, port, sw, flows);
            }
        }
    }
}
