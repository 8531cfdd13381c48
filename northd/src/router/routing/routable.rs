//! Routes to the "routable" addresses of a distributed gateway port on the same switch:
//! the IPv4 external addresses of its router's DNAT rules with `options:add_route=true` and
//! the IPv4 VIPs of its router's load balancers with `options:add_route=true`. Every other
//! router on the switch routes them to that port (`lr_in_ip_routing`, as a connected /32, plus
//! the BFD variant when the port has a BFD session), and a gateway router, or a distributed
//! gateway port, also resolves them to the port's MAC (`lr_in_arp_resolve`), unless the
//! router has `options:dynamic_neigh_routers=true`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use ovn_nb::addr::MacAddr;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Value};
use crate::router::gateway::bindings::is_nat_gateway_port;
use crate::router::gateway::hash::LbIpSets;
use crate::router::{Peer, Router, RouterCtx, RouterPort};
use crate::switch::LspType;

use super::{loopback, topology, ECMP_GROUP, NEXT_HOP4, SRC4, TTL_DEC};

/// Priority of a /32 route with the connected-route offset.
const PRIO_HOST_ROUTE: u16 = 32 * 3 + 2;

/// `options:add_route=true`.
fn add_route(options: &ovsdb::model::SortedMap<String, String>) -> bool {
    options.get("add_route").is_some_and(|v| v == "true")
}

/// The routable IPv4 addresses of gateway port `gw` of router `r` (its NAT rules in row order,
/// then its load balancers' VIPs), without duplicates. With several gateway ports, as observed
/// of ovn-northd 23.03: the first one in UUID order has every rule, the others those they
/// announce ([`is_nat_gateway_port`]).
/// A distributed rule (`dnat_and_snat` with `logical_port` and `external_mac`) is returned
/// apart, with its MAC: it resolves to that MAC, not the gateway port's.
/// The third value tells whether the port also has routable IPv6 addresses (not distributed):
/// ovn-northd 23.03 then resolves its IPv4 ones even when there are none (`reg0 == {}`).
fn routable_addresses(
    ctx: &RouterCtx<'_>,
    r: &Router,
    gw: &RouterPort,
) -> (Vec<Ipv4Addr>, Vec<(MacAddr, Ipv4Addr)>, bool) {
    let first = r.dgps().map(|p| p.nb).min() == Some(gw.nb);
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let mut distributed: Vec<(MacAddr, Ipv4Addr)> = Vec::new();
    let mut v6 = false;
    for nat in r.nats.iter().filter_map(|n| ctx.nb.nats.get(n)) {
        if nat.type_ == nb::NatType::Snat
            || !add_route(&nat.options)
            || !(first || is_nat_gateway_port(ctx.nb, r, nat, gw))
        {
            continue;
        }
        let mac = (nat.type_ == nb::NatType::DnatAndSnat && nat.logical_port.is_some())
            .then(|| nat.external_mac.as_ref()?.parse::<MacAddr>().ok())
            .flatten();
        if let (Ok(IpAddr::V6(_)), None) = (nat.external_ip.parse::<IpAddr>(), mac) {
            v6 = true;
        }
        if let Ok(IpAddr::V4(ip)) = nat.external_ip.parse::<IpAddr>() {
            if let Some(mac) = mac {
                distributed.push((mac, ip));
            } else if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    // The load balancer VIPs in ovn-northd's set order.
    if let Some(nb_lr) = ctx.nb.routers.get(&r.nb) {
        let sets = LbIpSets::routable_of_router(ctx.nb, nb_lr);
        for vip in sets.v4.iter() {
            if let Ok(ip) = vip.parse::<Ipv4Addr>() {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        v6 |= sets.v6.iter().next().is_some();
    }
    (out, distributed, v6)
}

/// Builds the routes of `lr` to the routable addresses of the distributed gateway ports on
/// the switches its ports are attached to.
pub(super) fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let topo = topology(ctx);
    let dynamic_neigh = lr.option_true("dynamic_neigh_routers");
    let bfd_ports: BTreeSet<&str> = ctx
        .nb
        .bfd
        .values()
        .map(|b| b.logical_port.as_str())
        .collect();
    for port in &lr.ports {
        let resolves = !dynamic_neigh && (lr.is_gateway() || port.is_dgp);
        let Some(Peer::Switch { port: lsp }) = &port.peer else {
            continue;
        };
        let Some(sw) = topo
            .router_lsp_switch
            .get(lsp)
            .and_then(|&si| ctx.switches.get(si))
        else {
            continue;
        };
        for sp in sw.ports.iter().filter(|sp| sp.type_ == LspType::Router) {
            let Some((r, other)) = ctx
                .nb
                .switch_ports
                .get(&sp.nb)
                .and_then(|l| l.options.get("router-port"))
                .and_then(|name| topo.router_port(ctx, name))
            else {
                continue;
            };
            if other.name == port.name || !other.is_dgp {
                continue;
            }
            let (ips, distributed, v6) = routable_addresses(ctx, r, other);
            let all: Vec<Ipv4Addr> = distributed
                .iter()
                .map(|d| d.1)
                .chain(ips.iter().copied())
                .collect();
            add_routes(
                lr,
                port,
                &all,
                bfd_ports.contains(port.name.as_str()),
                flows,
            );
            if resolves {
                for (mac, ip) in &distributed {
                    flows.add(
                        lr.dp,
                        Stage::LrInArpResolve,
                        100,
                        &Match::eq(Field::OUTPORT, Value::port(&port.name))
                            .and_eq(NEXT_HOP4, Value::Set(vec![Value::Ip(IpAddr::V4(*ip))])),
                        &Actions(vec![
                            Action::Assign(Field::ETH_DST, Value::Mac(*mac)),
                            Action::Next,
                        ]),
                    );
                }
            }
            if resolves && (!ips.is_empty() || v6) {
                flows.add(
                    lr.dp,
                    Stage::LrInArpResolve,
                    100,
                    &Match::eq(Field::OUTPORT, Value::port(&port.name)).and_eq(
                        NEXT_HOP4,
                        Value::Set(ips.iter().map(|ip| Value::Ip(IpAddr::V4(*ip))).collect()),
                    ),
                    &Actions(vec![
                        Action::Assign(Field::ETH_DST, Value::Mac(other.mac)),
                        Action::Next,
                    ]),
                );
            }
        }
    }
}

/// A /32 route per address out of `port`, from the port's first IPv4 address. With `bfd` (the
/// port has a BFD session), BFD packets (UDP port 3784) take the route one priority higher,
/// without the TTL decrement.
fn add_routes(lr: &Router, port: &RouterPort, ips: &[Ipv4Addr], bfd: bool, flows: &mut FlowTable) {
    let Some(src) = port.ipv4.first() else {
        return;
    };
    for ip in ips {
        let m = Match::eq(Field::IP4_DST, Value::Net(IpAddr::V4(*ip), 32));
        let mut a = vec![
            Action::Assign(ECMP_GROUP, Value::Int(0)),
            Action::Assign(NEXT_HOP4, Value::Field(Field::IP4_DST)),
            Action::Assign(SRC4, Value::Ip(IpAddr::V4(src.addr))),
            Action::Assign(Field::ETH_SRC, Value::Mac(port.mac)),
            Action::Assign(Field::OUTPORT, Value::port(&port.name)),
            loopback(),
            Action::Next,
        ];
        if bfd {
            let bfd_m = m.clone().and_eq(Field("udp.dst"), Value::Int(BFD_UDP_PORT));
            flows.add(
                lr.dp,
                Stage::LrInIpRouting,
                PRIO_HOST_ROUTE + 1,
                &bfd_m,
                &Actions(a.clone()),
            );
        }
        a.insert(0, TTL_DEC);
        flows.add(
            lr.dp,
            Stage::LrInIpRouting,
            PRIO_HOST_ROUTE,
            &m,
            &Actions(a),
        );
    }
}

/// The UDP destination port of BFD control packets.
const BFD_UDP_PORT: u64 = 3784;
