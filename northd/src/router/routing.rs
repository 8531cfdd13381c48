//! Routing stages: `lr_in_ip_routing_pre`, `lr_in_ip_routing`, `lr_in_ip_routing_ecmp`,
//! `lr_in_policy`, `lr_in_policy_ecmp`, `lr_in_arp_resolve`, `lr_in_chk_pkt_len`,
//! `lr_in_larger_pkts` and `lr_in_arp_request`, plus the flows two features add to other stages:
//! symmetric ECMP replies (`lr_in_defrag`, `lr_in_ecmp_stateful`, `lr_in_policy`,
//! `lr_in_arp_resolve`) and `options:gateway_mtu` (`lr_in_admission`, `lr_in_ip_input`).
//!
//! One submodule per feature:
//! - `static_route`: route tables, connected and static routes, ECMP groups, symmetric ECMP
//!   replies and the IPv6 neighbor solicitations for static routes' next hops;
//! - `policy`: `Logical_Router_Policy` (allow, drop, reroute to one or several next hops);
//! - `arp_resolve`: static next-hop MAC resolution from the peers' addresses;
//! - `mtu`: `options:gateway_mtu` checks and the ICMP "too big" replies;
//! - `routable`: routes to the `add_route` NAT and load balancer addresses of distributed
//!   gateway ports on the same switch.
//!
//! Registers: `reg0`/`xxreg0` hold the next hop, `reg1`/`xxreg1` the router's source address,
//! `reg7` the route table, `reg8[0..15]` the ECMP group and `reg8[16..31]` the ECMP member.

use std::collections::HashMap;
use std::net::IpAddr;

use ovn_sb::stage::Stage;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::switch::LspType;

use super::{Peer, Router, RouterCtx, RouterPort};

mod arp_resolve;
mod mtu;
mod policy;
mod routable;
mod static_route;

pub use arp_resolve::resolve_neighbour;
pub use mtu::{admission_mtu_check, distributed_nat_admission_bypass, distributed_nat_too_big};

/// `reg0`: the IPv4 next hop.
const NEXT_HOP4: Field = Field("reg0");
/// `xxreg0`: the IPv6 next hop.
const NEXT_HOP6: Field = Field("xxreg0");
/// `reg1`: the router's IPv4 source address.
const SRC4: Field = Field("reg1");
/// `xxreg1`: the router's IPv6 source address.
const SRC6: Field = Field("xxreg1");
/// `reg7`: the route table.
const ROUTE_TABLE: Field = Field("reg7");
/// `reg8[0..15]`: the ECMP group (0: none).
const ECMP_GROUP: Field = Field("reg8[0..15]");
/// `reg8[16..31]`: the ECMP member.
const ECMP_MEMBER: Field = Field("reg8[16..31]");
/// `ip.ttl--;`.
const TTL_DEC: Action = Action::Fixed("ip.ttl--;");

/// The next-hop register of an address family.
fn next_hop_reg(ip: IpAddr) -> Field {
    if ip.is_ipv4() {
        NEXT_HOP4
    } else {
        NEXT_HOP6
    }
}

/// The source-address register of an address family.
fn src_reg(ip: IpAddr) -> Field {
    if ip.is_ipv4() {
        SRC4
    } else {
        SRC6
    }
}

/// `flags.loopback = 1;`.
fn loopback() -> Action {
    Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1))
}

/// The router port address whose network contains `ip` (first match in `networks` order, the
/// link-local address last), if any.
fn member_ip(port: &RouterPort, ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => port
            .ipv4
            .iter()
            .find(|n| {
                let m = u32::MAX.checked_shl(32 - u32::from(n.plen)).unwrap_or(0);
                u32::from(a) & m == u32::from(n.network())
            })
            .map(|n| IpAddr::V4(n.addr)),
        IpAddr::V6(a) => port
            .ipv6
            .iter()
            .find(|n| {
                let m = u128::MAX.checked_shl(128 - u32::from(n.plen)).unwrap_or(0);
                u128::from(a) & m == u128::from(n.network())
            })
            .map(|n| IpAddr::V6(n.addr)),
    }
}

/// The first address of `port` in the family of `like`.
fn first_ip(port: &RouterPort, like: IpAddr) -> Option<IpAddr> {
    if like.is_ipv4() {
        port.ipv4.first().map(|n| IpAddr::V4(n.addr))
    } else {
        port.ipv6.first().map(|n| IpAddr::V6(n.addr))
    }
}

/// The router's ports in NB row order (by UUID), the order ovn-northd walks them in when it
/// looks for the port of a next hop or numbers route tables.
fn ports_in_row_order(lr: &Router) -> Vec<&RouterPort> {
    let mut ports: Vec<&RouterPort> = lr.ports.iter().collect();
    ports.sort_by_key(|p| p.nb);
    ports
}

/// The first port of `ports` (the router's ports in row order) with an address on the network
/// of `ip`, and that address.
fn port_for_next_hop<'p>(ports: &[&'p RouterPort], ip: IpAddr) -> Option<(&'p RouterPort, IpAddr)> {
    ports.iter().find_map(|p| member_ip(p, ip).map(|a| (*p, a)))
}

/// The actions that send a packet to `next_hop` out of `port` with source `src` (after the
/// TTL decrement and ECMP register of the caller): `reg0 = NH; reg1 = SRC; eth.src = MAC;
/// outport = P;`.
fn output_actions(next_hop: Value, src: IpAddr, port: &RouterPort) -> Vec<Action> {
    vec![
        Action::Assign(next_hop_reg(src), next_hop),
        Action::Assign(src_reg(src), Value::Ip(src)),
        Action::Assign(Field::ETH_SRC, Value::Mac(port.mac)),
        Action::Assign(Field::OUTPORT, Value::port(&port.name)),
    ]
}

/// Links between routers and switches, indexed once per build.
#[derive(Debug, Default)]
pub struct Topology {
    /// Router port name to (router position, port position) in [`RouterCtx::routers`].
    router_ports: HashMap<String, (usize, usize)>,
    /// Switch port name (of type `router`) to the position of its switch in
    /// [`RouterCtx::switches`].
    router_lsp_switch: HashMap<String, usize>,
    /// Router port name to the router ports (router position, port position) whose `peer`
    /// names it.
    peered_by: HashMap<String, Vec<(usize, usize)>>,
    /// Switch port name (of any type) to the position of the first switch with a port of
    /// that name in [`RouterCtx::switches`].
    port_switch: HashMap<String, usize>,
    /// Router port name to the `router` switch ports (switch position, port name) naming it in
    /// `options:router-port` (several when misconfigured).
    router_port_lsps: HashMap<String, Vec<(usize, String)>>,
}

impl Topology {
    fn new(ctx: &RouterCtx<'_>) -> Self {
        let mut t = Self::default();
        for (ri, r) in ctx.routers.iter().enumerate() {
            for (pi, p) in r.ports.iter().enumerate() {
                t.router_ports.insert(p.name.clone(), (ri, pi));
                if let Some(Peer::Router { port }) = &p.peer {
                    t.peered_by.entry(port.clone()).or_default().push((ri, pi));
                }
            }
        }
        for (si, sw) in ctx.switches.iter().enumerate() {
            for p in sw.ports.iter().filter(|p| p.type_ == LspType::Router) {
                t.router_lsp_switch.insert(p.name.clone(), si);
                if let Some(rp) = ctx
                    .nb
                    .switch_ports
                    .get(&p.nb)
                    .and_then(|l| l.options.get("router-port"))
                    .filter(|_| p.router_peer)
                {
                    t.router_port_lsps
                        .entry(rp.clone())
                        .or_default()
                        .push((si, p.name.clone()));
                }
            }
            for p in &sw.ports {
                t.port_switch.entry(p.name.clone()).or_insert(si);
            }
        }
        t
    }

    /// The router port named `name` with its router.
    fn router_port<'a>(
        &self,
        ctx: &RouterCtx<'a>,
        name: &str,
    ) -> Option<(&'a Router, &'a RouterPort)> {
        let &(ri, pi) = self.router_ports.get(name)?;
        let r = ctx.routers.get(ri)?;
        Some((r, r.ports.get(pi)?))
    }
}

/// The first switch (in [`RouterCtx::switches`] order) with a port named `name`.
pub fn switch_with_port<'a>(ctx: &RouterCtx<'a>, name: &str) -> Option<&'a crate::switch::Switch> {
    let &si = topology(ctx).port_switch.get(name)?;
    ctx.switches.get(si)
}

/// The `router` switch ports other than `peer` that name router port `lrp` (a misconfiguration
/// ovn-northd 23.03 accepts: each gets the switch-side flows of the router port), with their
/// switches.
pub fn other_switch_peers<'a>(
    ctx: &RouterCtx<'a>,
    lrp: &str,
    peer: &str,
) -> Vec<(&'a crate::switch::Switch, String)> {
    topology(ctx)
        .router_port_lsps
        .get(lrp)
        .into_iter()
        .flatten()
        .filter(|(_, name)| name != peer)
        .filter_map(|(si, name)| Some((ctx.switches.get(*si)?, name.clone())))
        .collect()
}

/// The topology index of `ctx`, built on first use.
fn topology<'c>(ctx: &'c RouterCtx<'_>) -> &'c Topology {
    ctx.topology.get_or_init(|| Topology::new(ctx))
}

/// Builds this module's flows for `lr`.
pub fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    let drop = Actions::one(Action::Drop);
    flows.add(
        lr.dp,
        Stage::LrInIpRoutingPre,
        0,
        &always,
        &Actions(vec![
            Action::Assign(ROUTE_TABLE, Value::Int(0)),
            Action::Next,
        ]),
    );
    flows.add(lr.dp, Stage::LrInIpRouting, 0, &always, &drop);
    flows.add(
        lr.dp,
        Stage::LrInIpRouting,
        10550,
        &Match::pred(Pred::Fixed("nd_rs || nd_ra")),
        &drop,
    );
    flows.add(lr.dp, Stage::LrInIpRoutingEcmp, 0, &always, &drop);
    flows.add(
        lr.dp,
        Stage::LrInIpRoutingEcmp,
        150,
        &Match::eq(ECMP_GROUP, 0),
        &next,
    );
    flows.add(
        lr.dp,
        Stage::LrInPolicy,
        0,
        &always,
        &Actions(vec![
            Action::Assign(ECMP_GROUP, Value::Int(0)),
            Action::Next,
        ]),
    );
    flows.add(lr.dp, Stage::LrInPolicyEcmp, 0, &always, &drop);
    flows.add(
        lr.dp,
        Stage::LrInPolicyEcmp,
        150,
        &Match::eq(ECMP_GROUP, 0),
        &next,
    );
    flows.add(lr.dp, Stage::LrInChkPktLen, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInLargerPkts, 0, &always, &next);
    flows.add(
        lr.dp,
        Stage::LrInArpRequest,
        0,
        &always,
        &Actions::one(Action::Output),
    );
    flows.add(
        lr.dp,
        Stage::LrInArpRequest,
        100,
        &Match::eq(Field::ETH_DST, Value::Mac(ovn_nb::addr::MacAddr([0; 6]))).and_pred(Pred::Ip4),
        &Actions::one(Action::Nested(
            "arp",
            vec![
                Action::Assign(Field::ETH_DST, Value::Mac(ovn_nb::addr::MacAddr::BROADCAST)),
                Action::Assign(Field::ARP_SPA, Value::Field(SRC4)),
                Action::Assign(Field::ARP_TPA, Value::Field(NEXT_HOP4)),
                Action::Assign(Field::ARP_OP, Value::Int(1)),
                Action::Output,
            ],
        )),
    );
    flows.add(
        lr.dp,
        Stage::LrInArpRequest,
        100,
        &Match::eq(Field::ETH_DST, Value::Mac(ovn_nb::addr::MacAddr([0; 6]))).and_pred(Pred::Ip6),
        &Actions::one(Action::Nested(
            "nd_ns",
            vec![
                Action::Assign(Field::ND_TARGET, Value::Field(NEXT_HOP6)),
                Action::Output,
            ],
        )),
    );

    static_route::build(ctx, lr, flows);
    policy::build(ctx, lr, flows);
    arp_resolve::build(ctx, lr, flows);
    routable::build(ctx, lr, flows);
    mtu::build(lr, flows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{Ipv4Net, Ipv6Net};
    use ovn_nb::addr::MacAddr;
    use ovsdb::model::Ref;

    fn port(name: &str, v4: &[(&str, u8)], v6: &[(&str, u8)]) -> RouterPort {
        RouterPort {
            nb: Ref::default(),
            name: name.to_owned(),
            mac: MacAddr([0, 0, 0, 0, 1, 1]),
            ipv4: v4
                .iter()
                .map(|(a, plen)| Ipv4Net {
                    addr: a.parse().unwrap(),
                    plen: *plen,
                })
                .collect(),
            ipv6: v6
                .iter()
                .map(|(a, plen)| Ipv6Net {
                    addr: a.parse().unwrap(),
                    plen: *plen,
                })
                .collect(),
            enabled: true,
            peer: None,
            is_dgp: false,
            options: Default::default(),
            vlan_l2: false,
        }
    }

    #[test]
    fn member_ip_picks_the_network_holding_the_address() {
        let p = port(
            "p",
            &[("10.0.1.1", 24), ("10.0.2.1", 24)],
            &[("fd01::1", 64), ("fe80::200:ff:fe00:101", 64)],
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(member_ip(&p, ip("10.0.2.9")), Some(ip("10.0.2.1")));
        assert_eq!(member_ip(&p, ip("10.0.3.9")), None);
        assert_eq!(
            member_ip(&p, ip("fe80::5")),
            Some(ip("fe80::200:ff:fe00:101"))
        );
        assert_eq!(first_ip(&p, ip("192.0.2.1")), Some(ip("10.0.1.1")));
        assert_eq!(first_ip(&p, ip("fd99::1")), Some(ip("fd01::1")));
        let v6only = port("q", &[], &[("fe80::1", 64)]);
        assert_eq!(first_ip(&v6only, ip("192.0.2.1")), None);
    }

    #[test]
    fn output_actions_print_as_ovn() {
        let p = port("p", &[("10.0.1.1", 24)], &[]);
        let a = Actions(output_actions(
            Value::Raw("10.0.1.254".to_owned()),
            "10.0.1.1".parse().unwrap(),
            &p,
        ));
        assert_eq!(
            a.to_string(),
            "reg0 = 10.0.1.254; reg1 = 10.0.1.1; eth.src = 00:00:00:00:01:01; outport = \"p\";"
        );
    }
}
