//! Route tables (`lr_in_ip_routing_pre`), connected and static routes (`lr_in_ip_routing`),
//! ECMP groups (`lr_in_ip_routing_ecmp`), symmetric ECMP replies and the neighbor solicitations
//! for static routes' IPv6 next hops (`lr_in_arp_request`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};

use ovn_nb::addr::{parse_ip_or_net, IpNet, MacAddr};
use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use crate::error::NbWarning;
use crate::flow::{solicited_node, Action, Actions, Field, FlowTable, Match, Pred, Value};

use super::{
    first_ip, loopback, member_ip, next_hop_reg, output_actions, port_for_next_hop,
    ports_in_row_order, src_reg, ECMP_GROUP, ECMP_MEMBER, ROUTE_TABLE, TTL_DEC,
};
use crate::router::{Router, RouterCtx, RouterPort};

/// Priority step per prefix bit.
const PRIO_PER_BIT: u16 = 3;
/// Priority offset of connected routes (and static routes with `options:origin=connected`).
const OFS_CONNECTED: u16 = 2;
/// Priority offset of static routes.
const OFS_STATIC: u16 = 1;

/// `reg9[5]`: the ECMP next hop of a symmetric reply route is known.
const ECMP_NH_KNOWN: Field = Field("reg9[5]");

/// Route table names to their `reg7` ids, numbered from 1 in the order they are met: router
/// ports' `options:route_table` first (ports in row order), then routes' `route_table`.
#[derive(Debug, Default)]
struct RouteTables {
    ids: BTreeMap<String, u32>,
}

impl RouteTables {
    /// The id of `name` (0 for the main table, the empty name), adding it if new.
    fn id(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let next = u32::try_from(self.ids.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        *self.ids.entry(name.to_owned()).or_insert(next)
    }
}

/// Where a static route sends packets.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    /// `nexthop` is `discard`.
    Discard,
    /// Out of `port`, from `src`, to the next hop.
    Forward {
        /// The next hop as written in NB.
        text: &'a str,
        /// The output port.
        port: &'a RouterPort,
        /// The router's address on the next hop's network.
        src: IpAddr,
    },
}

/// A static route that passed validation.
#[derive(Debug, Clone)]
struct Route<'a> {
    row: &'a nb::LogicalRouterStaticRoute,
    /// The prefix, host bits cleared.
    net: IpAddr,
    plen: u8,
    is_src: bool,
    table: u32,
    /// `options:origin=connected` (a route learned from an interconnection).
    connected: bool,
    target: Target<'a>,
}

impl Route<'_> {
    /// Routes with the same key form an ECMP group.
    fn key(&self) -> (IpAddr, u8, bool, u32) {
        (self.net, self.plen, self.is_src, self.table)
    }

    /// `options:ecmp_symmetric_reply=true`.
    fn symmetric(&self) -> bool {
        self.row
            .options
            .get("ecmp_symmetric_reply")
            .is_some_and(|v| v == "true")
    }
}

/// The match and priority of a route.
fn route_match(
    inport: Option<&RouterPort>,
    table: u32,
    net: IpAddr,
    plen: u8,
    is_src: bool,
    ofs: u16,
) -> (Match, u16) {
    let ofs = if is_src { 0 } else { ofs };
    let prio = u16::from(plen) * PRIO_PER_BIT + ofs;
    let mut m = Match::default();
    if let Some(p) = inport {
        m = m.and_eq(Field::INPORT, Value::port(&p.name));
    }
    if table != 0 || ofs == OFS_STATIC {
        m = m.and_eq(ROUTE_TABLE, Value::Int(u64::from(table)));
    }
    let field = match (net.is_ipv4(), is_src) {
        (true, false) => Field::IP4_DST,
        (true, true) => Field::IP4_SRC,
        (false, false) => Field::IP6_DST,
        (false, true) => Field::IP6_SRC,
    };
    (m.and_eq(field, Value::Net(net, plen)), prio)
}

/// True for an IPv6 link-local network: such routes are scoped to their port.
fn is_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
}

/// Adds one route to `lr_in_ip_routing`: to `next_hop` (the destination itself when `None`)
/// out of `port` from `src`. When `port` has a BFD session, BFD packets (UDP port 3784) take
/// the route one priority higher without the TTL decrement.
#[allow(clippy::too_many_arguments)]
fn add_route(
    bfd_ports: &BTreeSet<&str>,
    flows: &mut FlowTable,
    lr: &Router,
    port: &RouterPort,
    src: IpAddr,
    net: IpAddr,
    plen: u8,
    next_hop: Option<&str>,
    is_src: bool,
    table: u32,
    ofs: u16,
) {
    let inport = is_link_local(net).then_some(port);
    let (m, prio) = route_match(inport, table, net, plen, is_src, ofs);
    let next_hop = match next_hop {
        Some(t) => Value::Raw(t.to_owned()),
        None if net.is_ipv4() => Value::Field(Field::IP4_DST),
        None => Value::Field(Field::IP6_DST),
    };
    let mut a = vec![Action::Assign(ECMP_GROUP, Value::Int(0))];
    a.extend(output_actions(next_hop, src, port));
    a.push(loopback());
    a.push(Action::Next);
    if bfd_ports.contains(port.name.as_str()) {
        flows.add(
            lr.dp,
            Stage::LrInIpRouting,
            prio + 1,
            &m.clone().and_eq(Field("udp.dst"), Value::Int(BFD_PORT)),
            &Actions(a.clone()),
        );
    }
    a.insert(0, TTL_DEC);
    flows.add(lr.dp, Stage::LrInIpRouting, prio, &m, &Actions(a));
}

/// The UDP destination port of BFD control packets.
const BFD_PORT: u64 = 3784;

/// Reports a static route that is left out.
fn warn(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    row: &nb::LogicalRouterStaticRoute,
    key: &str,
    value: &str,
) {
    ctx.warnings.borrow_mut().push(NbWarning::BadOption {
        owner: format!("router {} static route {}", lr.name, row.ip_prefix),
        key: key.to_owned(),
        value: value.to_owned(),
    });
}

/// Validates one static route and finds its output port.
fn parse_route<'a>(
    ctx: &RouterCtx<'_>,
    lr: &'a Router,
    ports: &[&'a RouterPort],
    row: &'a nb::LogicalRouterStaticRoute,
    tables: &mut RouteTables,
) -> Option<Route<'a>> {
    let Ok(prefix) = parse_ip_or_net(&row.ip_prefix) else {
        warn(ctx, lr, row, "ip_prefix", &row.ip_prefix);
        return None;
    };
    let target = if row.nexthop == "discard" {
        Target::Discard
    } else {
        let nh = match parse_ip_or_net(&row.nexthop) {
            Ok(n) if n.prefix() == IpNet::host(n.addr()).prefix() => n.addr(),
            _ => {
                warn(ctx, lr, row, "nexthop", &row.nexthop);
                return None;
            }
        };
        if nh.is_ipv4() != prefix.addr().is_ipv4() {
            warn(ctx, lr, row, "nexthop", &row.nexthop);
            return None;
        }
        let found = match &row.output_port {
            Some(name) => {
                let Some(port) = lr.ports.iter().find(|p| &p.name == name) else {
                    warn(ctx, lr, row, "output_port", name);
                    return None;
                };
                member_ip(port, nh)
                    .or_else(|| first_ip(port, nh))
                    .map(|src| (port, src))
            }
            None => port_for_next_hop(ports, nh),
        };
        let Some((port, src)) = found else {
            warn(ctx, lr, row, "nexthop", &row.nexthop);
            return None;
        };
        Target::Forward {
            text: &row.nexthop,
            port,
            src,
        }
    };
    // A route monitored by BFD is left out while its session is down.
    if let Some(bfd) = row.bfd.and_then(|b| ctx.nb.bfd.get(&b)) {
        if matches!(bfd.status, None | Some(nb::BfdStatus::Down)) {
            return None;
        }
    }
    let is_src = row.policy == Some(nb::LogicalRouterStaticRoutePolicy::SrcIp);
    Some(Route {
        row,
        net: prefix.network(),
        plen: prefix.prefix(),
        is_src,
        table: tables.id(&row.route_table),
        connected: row.options.get("origin").is_some_and(|o| o == "connected"),
        target,
    })
}

/// Builds route tables, connected routes, static routes and ECMP groups for `lr`.
pub(super) fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    // Route tables of the router's ports, every NB port in row order.
    let mut tables = RouteTables::default();
    if let Some(row) = ctx.nb.routers.get(&lr.nb) {
        for lrp in row.ports.iter().filter_map(|r| ctx.nb.router_ports.get(r)) {
            let Some(name) = lrp.options.get("route_table") else {
                continue;
            };
            let id = tables.id(name);
            if id != 0 {
                flows.add(
                    lr.dp,
                    Stage::LrInIpRoutingPre,
                    100,
                    &Match::eq(Field::INPORT, Value::port(&lrp.name)),
                    &Actions(vec![
                        Action::Assign(ROUTE_TABLE, Value::Int(u64::from(id))),
                        Action::Next,
                    ]),
                );
            }
        }
    }

    // Ports with a BFD session: their routes also carry BFD packets.
    let bfd_ports: BTreeSet<&str> = ctx
        .nb
        .bfd
        .values()
        .map(|b| b.logical_port.as_str())
        .collect();
    let ports = ports_in_row_order(lr);

    // Connected routes.
    for port in &lr.ports {
        for n in &port.ipv4 {
            add_route(
                &bfd_ports,
                flows,
                lr,
                port,
                IpAddr::V4(n.addr),
                IpAddr::V4(n.network()),
                n.plen,
                None,
                false,
                0,
                OFS_CONNECTED,
            );
        }
        for n in &port.ipv6 {
            add_route(
                &bfd_ports,
                flows,
                lr,
                port,
                IpAddr::V6(n.addr),
                IpAddr::V6(n.network()),
                n.plen,
                None,
                false,
                0,
                OFS_CONNECTED,
            );
        }
    }

    // Static routes, in row order; routes sharing a key form ECMP groups numbered in the
    // order they are formed.
    let mut unique: Vec<Route<'_>> = Vec::new();
    let mut groups: Vec<Vec<Route<'_>>> = Vec::new();
    for row in lr
        .static_routes
        .iter()
        .filter_map(|r| ctx.nb.static_routes.get(r))
    {
        add_nd_solicit(lr, row, flows);
        let Some(route) = parse_route(ctx, lr, &ports, row, &mut tables) else {
            continue;
        };
        if let Some(g) = groups.iter_mut().find(|g| g[0].key() == route.key()) {
            g.push(route);
        } else if let Some(i) = unique.iter().position(|u| u.key() == route.key()) {
            let first = unique.remove(i);
            groups.push(vec![first, route]);
        } else {
            unique.push(route);
        }
    }
    for route in &unique {
        add_static_route(&bfd_ports, lr, route, flows);
    }
    for (i, group) in groups.iter().enumerate() {
        let id = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        add_ecmp_group(ctx, lr, id, group, flows);
    }
}

/// The priority offset of a static route.
fn static_ofs(route: &Route<'_>) -> u16 {
    if route.connected {
        OFS_CONNECTED
    } else {
        OFS_STATIC
    }
}

/// One static route that is not part of an ECMP group.
fn add_static_route(
    bfd_ports: &BTreeSet<&str>,
    lr: &Router,
    route: &Route<'_>,
    flows: &mut FlowTable,
) {
    match route.target {
        Target::Discard => {
            let (m, prio) = route_match(
                None,
                route.table,
                route.net,
                route.plen,
                route.is_src,
                static_ofs(route),
            );
            flows.add(
                lr.dp,
                Stage::LrInIpRouting,
                prio,
                &m,
                &Actions::one(Action::Drop),
            );
        }
        Target::Forward { text, port, src } => add_route(
            bfd_ports,
            flows,
            lr,
            port,
            src,
            route.net,
            route.plen,
            Some(text),
            route.is_src,
            route.table,
            static_ofs(route),
        ),
    }
}

/// An ECMP group: one flow selecting a member in `lr_in_ip_routing`, one flow per member in
/// `lr_in_ip_routing_ecmp`, and the symmetric reply flows of members that ask for them.
fn add_ecmp_group(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    id: u64,
    group: &[Route<'_>],
    flows: &mut FlowTable,
) {
    let Some(first) = group.first() else {
        return;
    };
    let (m, prio) = route_match(
        None,
        first.table,
        first.net,
        first.plen,
        first.is_src,
        static_ofs(first),
    );
    let members: Vec<Value> = (1..=group.len())
        .map(|i| Value::Int(u64::try_from(i).unwrap_or(u64::MAX)))
        .collect();
    flows.add(
        lr.dp,
        Stage::LrInIpRouting,
        prio,
        &m,
        &Actions(vec![
            TTL_DEC,
            loopback(),
            Action::Assign(ECMP_GROUP, Value::Int(id)),
            Action::Assign(ECMP_MEMBER, Value::Call("select", members)),
        ]),
    );
    let mut visited: BTreeSet<&str> = BTreeSet::new();
    for (i, route) in group.iter().enumerate() {
        let Target::Forward { text, port, src } = route.target else {
            continue;
        };
        if route.symmetric() && lr.is_gateway() && visited.insert(port.name.as_str()) {
            add_symmetric_reply(ctx, lr, route, port, src, &m, flows);
        }
        let member = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        let mut a = output_actions(Value::Raw(text.to_owned()), src, port);
        a.push(Action::Next);
        flows.add(
            lr.dp,
            Stage::LrInIpRoutingEcmp,
            100,
            &Match::eq(ECMP_GROUP, id).and_eq(ECMP_MEMBER, member),
            &Actions(a),
        );
    }
}

/// The flows that keep replies of connections that arrived over an ECMP route with
/// `options:ecmp_symmetric_reply` on the path they came from: conntrack remembers the port and
/// the previous hop's MAC.
fn add_symmetric_reply(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    route: &Route<'_>,
    port: &RouterPort,
    src: IpAddr,
    route_m: &Match,
    flows: &mut FlowTable,
) {
    let Some(&key) = ctx.port_keys.get(&port.name) else {
        return;
    };
    let v4 = route.net.is_ipv4();
    let reply_port = if ctx.features.ct_no_masked_label {
        Field("ct_mark.ecmp_reply_port")
    } else {
        Field("ct_label.ecmp_reply_port")
    };
    let peer_field = match (v4, route.is_src) {
        (true, false) => Field::IP4_SRC,
        (true, true) => Field::IP4_DST,
        (false, false) => Field::IP6_SRC,
        (false, true) => Field::IP6_DST,
    };
    // The route's prefix as normalized text: a host prefix is written without its length.
    let full = if v4 { 32 } else { 128 };
    let prefix = if route.plen == full {
        Value::Ip(route.net)
    } else {
        Value::Net(route.net, route.plen)
    };
    let from_peer = Match::eq(Field::INPORT, Value::port(&port.name)).and_eq(peer_field, prefix);
    let ct_next = |check: &'static str| {
        Actions(vec![
            Action::Assign(ECMP_NH_KNOWN, Value::Call(check, vec![])),
            Action::CtNext,
        ])
    };
    flows.add(
        lr.dp,
        Stage::LrInDefrag,
        100,
        &from_peer,
        &ct_next("chk_ecmp_nh_mac"),
    );
    flows.add(
        lr.dp,
        Stage::LrInDefrag,
        100,
        route_m,
        &ct_next("chk_ecmp_nh"),
    );
    for proto in ["tcp", "udp", "sctp"] {
        let commit = Actions(vec![
            Action::EcmpReplyCommit {
                port_field: reply_port,
                key,
            },
            Action::CallOpts(
                "commit_ecmp_nh",
                vec![
                    ("ipv6".to_owned(), (!v4).to_string()),
                    ("proto".to_owned(), proto.to_owned()),
                ],
            ),
            Action::Next,
        ]);
        let proto_pred = match proto {
            "tcp" => Pred::Fixed("tcp"),
            "udp" => Pred::Fixed("udp"),
            _ => Pred::Fixed("sctp"),
        };
        flows.add(
            lr.dp,
            Stage::LrInEcmpStateful,
            100,
            &from_peer
                .clone()
                .and_pred(Pred::Fixed("(ct.new && !ct.est)"))
                .and_pred(proto_pred),
            &commit,
        );
        flows.add(
            lr.dp,
            Stage::LrInEcmpStateful,
            100,
            &from_peer
                .clone()
                .and_pred(Pred::Fixed("(!ct.rpl && ct.est)"))
                .and_pred(proto_pred)
                .and_eq(ECMP_NH_KNOWN, 0),
            &commit,
        );
    }
    let reply = Match::pred(Pred::Fixed("ct.rpl"))
        .and_eq(ECMP_NH_KNOWN, 1)
        .and_eq(reply_port, u64::from(key));
    flows.add(
        lr.dp,
        Stage::LrInIpRouting,
        10300,
        &reply.clone().and(route_m.clone()),
        &Actions(vec![
            TTL_DEC,
            loopback(),
            Action::Assign(Field::ETH_SRC, Value::Mac(port.mac)),
            Action::Assign(src_reg(src), Value::Ip(src)),
            Action::Assign(Field::OUTPORT, Value::port(&port.name)),
            Action::Next,
        ]),
    );
    flows.add(
        lr.dp,
        Stage::LrInPolicy,
        65535,
        &reply,
        &Actions::one(Action::Next),
    );
    let xxreg1 = Value::Field(Field("xxreg1"));
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        200,
        &reply,
        &Actions(vec![
            Action::Call("push", vec![xxreg1.clone()]),
            Action::Assign(Field("xxreg1"), Value::Field(Field("ct_label"))),
            Action::Assign(Field::ETH_DST, Value::Field(Field("xxreg1[32..79]"))),
            Action::Call("pop", vec![xxreg1]),
            Action::Next,
        ]),
    );
}

/// `lr_in_arp_request`: a neighbor solicitation to the solicited-node address of a static
/// route's IPv6 next hop (every route row, valid or not, whose next hop is an IPv6 host).
fn add_nd_solicit(lr: &Router, row: &nb::LogicalRouterStaticRoute, flows: &mut FlowTable) {
    let nh: Ipv6Addr = match parse_ip_or_net(&row.nexthop) {
        Ok(n) if n.prefix() == 128 => match n.addr() {
            IpAddr::V6(a) => a,
            IpAddr::V4(_) => return,
        },
        _ => return,
    };
    let sn = solicited_node(nh);
    let o = sn.octets();
    let mac = MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]]);
    let text = Value::Raw(row.nexthop.clone());
    flows.add(
        lr.dp,
        Stage::LrInArpRequest,
        200,
        &Match::eq(Field::ETH_DST, Value::Mac(MacAddr([0; 6])))
            .and_pred(Pred::Ip6)
            .and_eq(next_hop_reg(IpAddr::V6(nh)), text.clone()),
        &Actions::one(Action::Nested(
            "nd_ns",
            vec![
                Action::Assign(Field::ETH_DST, Value::Mac(mac)),
                Action::Assign(Field::IP6_DST, Value::Ip(IpAddr::V6(sn))),
                Action::Assign(Field::ND_TARGET, text),
                Action::Output,
            ],
        )),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_tables_number_in_order_met() {
        let mut t = RouteTables::default();
        assert_eq!(t.id(""), 0);
        assert_eq!(t.id("b"), 1);
        assert_eq!(t.id("a"), 2);
        assert_eq!(t.id("b"), 1);
    }

    #[test]
    fn route_match_priorities() {
        let net4: IpAddr = "10.0.0.0".parse().unwrap();
        let (m, prio) = route_match(None, 0, net4, 24, false, OFS_STATIC);
        assert_eq!(
            (m.to_string().as_str(), prio),
            ("reg7 == 0 && ip4.dst == 10.0.0.0/24", 73)
        );
        let (m, prio) = route_match(None, 0, net4, 24, false, OFS_CONNECTED);
        assert_eq!(
            (m.to_string().as_str(), prio),
            ("ip4.dst == 10.0.0.0/24", 74)
        );
        let (m, prio) = route_match(None, 0, net4, 24, true, OFS_STATIC);
        assert_eq!(
            (m.to_string().as_str(), prio),
            ("ip4.src == 10.0.0.0/24", 72)
        );
        let (m, prio) = route_match(None, 2, net4, 24, true, OFS_STATIC);
        assert_eq!(
            (m.to_string().as_str(), prio),
            ("reg7 == 2 && ip4.src == 10.0.0.0/24", 72)
        );
        let net6: IpAddr = "fd00::".parse().unwrap();
        let (_, prio) = route_match(None, 0, net6, 128, false, OFS_STATIC);
        assert_eq!(prio, 385);
        assert!(is_link_local("fe80::".parse().unwrap()));
        assert!(!is_link_local("fd00::".parse().unwrap()));
    }
}
