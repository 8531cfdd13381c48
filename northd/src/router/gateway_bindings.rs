//! The Southbound rows of gateways: how gateway router ports (`l3gateway`), distributed
//! gateway ports and their `chassisredirect` ports, and the switch ports peering them are bound,
//! and the `HA_Chassis_Group` rows distributed gateway ports use.
//!
//! Facts (ovn-northd 23.03):
//! - A gateway router (`options:chassis`) makes its ports, and the `router` switch ports peering
//!   them, type `l3gateway` with `options:l3gateway-chassis`.
//! - A distributed gateway port (`gateway_chassis` or `ha_chassis_group`, on a router that is
//!   not a gateway router) gets `options:chassis-redirect-port=cr-PORT`, and a second binding
//!   `cr-PORT` of type `chassisredirect` (same `mac`, `options:distributed-port`,
//!   `always-redirect=true` unless `redirect-type=bridged` or the router has distributed NAT).
//!   Its `ha_chassis_group` is the NB group (by name) or, from `gateway_chassis`, a group named
//!   after the port; `options:redirect-chassis` alone is ignored.
//! - Switch ports peering a gateway carry `nat_addresses` (for gratuitous ARPs): the router
//!   port's MAC and IPv4 addresses (with `is_chassis_resident` of the `chassisredirect` port for
//!   distributed gateways), and with `options:nat-addresses` the NAT and load balancer addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ovn_nb::addr::MacAddr;
use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::content::HaChassisGroupContent;
use crate::error::NbWarning;
use crate::snapshot::NbSnapshot;
use crate::switch::{LspType, Switch};

use crate::router::{Ipv4Net, Peer, Router, RouterPort};

use super::hash::LbIpSets;

/// The HA chassis group a distributed gateway port uses, by name: its NB `ha_chassis_group`
/// (which wins over `gateway_chassis`), or one named after the port made of its
/// `gateway_chassis` rows. `None` when the port has neither (or the group row is missing).
pub fn dgp_ha_group(
    nb: &NbSnapshot,
    lrp: &nb::LogicalRouterPort,
) -> Option<(String, HaChassisGroupContent)> {
    if let Some(g) = lrp.ha_chassis_group {
        return nb_ha_group(nb, g);
    }
    let chassis: BTreeMap<String, i64> = lrp
        .gateway_chassis
        .iter()
        .filter_map(|c| nb.gateway_chassis.get(c))
        .map(|c| (c.chassis_name.clone(), c.priority))
        .collect();
    if chassis.is_empty() {
        return None;
    }
    Some((lrp.name.clone(), HaChassisGroupContent { chassis }))
}

/// An NB `HA_Chassis_Group` as the SB group of the same name.
pub fn nb_ha_group(
    nb: &NbSnapshot,
    group: Ref<nb::HaChassisGroup>,
) -> Option<(String, HaChassisGroupContent)> {
    let g = nb.ha_chassis_groups.get(&group)?;
    let chassis = g
        .ha_chassis
        .iter()
        .filter_map(|c| nb.ha_chassis.get(c))
        .map(|c| (c.chassis_name.clone(), c.priority))
        .collect();
    Some((g.name.clone(), HaChassisGroupContent { chassis }))
}

/// A NAT rule is distributed: a `dnat_and_snat` with `logical_port` and `external_mac`, handled
/// on the chassis of that port.
pub fn is_distributed_nat(n: &nb::Nat) -> bool {
    n.type_ == nb::NatType::DnatAndSnat
        && n.logical_port.as_deref().is_some_and(|p| !p.is_empty())
        && n.external_mac
            .as_deref()
            .is_some_and(|m| m.parse::<MacAddr>().is_ok())
}

/// The router has a distributed NAT rule (and a distributed gateway port).
pub fn has_distributed_nat(nb: &NbSnapshot, lr: &Router) -> bool {
    lr.dgps().next().is_some()
        && lr
            .nats
            .iter()
            .filter_map(|n| nb.nats.get(n))
            .any(is_distributed_nat)
}

/// The `type` and `options` of a router port's own binding.
pub fn router_port_binding(
    nb: &NbSnapshot,
    lr: &Router,
    p: &RouterPort,
) -> (String, BTreeMap<String, String>) {
    let mut options = BTreeMap::new();
    // A port with gateway chassis or an HA chassis group names its chassis-redirect port, even
    // on a gateway router (where that port is not made).
    let gateway_config = nb
        .router_ports
        .get(&p.nb)
        .is_some_and(|l| !l.gateway_chassis.is_empty() || l.ha_chassis_group.is_some());
    match &p.peer {
        Some(Peer::Switch { port } | Peer::Router { port }) => {
            options.insert("peer".to_owned(), port.clone());
            // (Only with a peer, as ovn-northd 23.03 writes it.)
            if gateway_config {
                options.insert("chassis-redirect-port".to_owned(), p.cr_name());
            }
        }
        None => {}
    }
    for (from, to) in [
        ("prefix_delegation", "ipv6_prefix_delegation"),
        ("prefix", "ipv6_prefix"),
    ] {
        if p.options.get(from).is_some_and(|v| v == "true") {
            options.insert(to.to_owned(), "true".to_owned());
        }
    }
    if let Some(ch) = &lr.chassis {
        options.insert("l3gateway-chassis".to_owned(), ch.clone());
        return ("l3gateway".to_owned(), options);
    }
    ("patch".to_owned(), options)
}

/// The `options` of a distributed gateway port's `chassisredirect` binding.
pub fn chassisredirect_options(
    nb: &NbSnapshot,
    lr: &Router,
    p: &RouterPort,
) -> BTreeMap<String, String> {
    let mut options = BTreeMap::from([("distributed-port".to_owned(), p.name.clone())]);
    if p.options
        .get("redirect-type")
        .is_some_and(|v| v == "bridged")
    {
        options.insert("redirect-type".to_owned(), "bridged".to_owned());
    } else if !has_distributed_nat(nb, lr) {
        options.insert("always-redirect".to_owned(), "true".to_owned());
    }
    options
}

/// What a `router` switch port's binding gets from the router port it peers with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterLspBinding {
    /// `l3gateway` when the peer is a gateway router's port.
    pub l3gateway_chassis: Option<String>,
    /// `nat_addresses`.
    pub nat_addresses: BTreeSet<String>,
}

/// Finds a router port by name: its router and the port.
pub fn find_router_port<'a>(
    routers: &'a [Router],
    name: &str,
) -> Option<(&'a Router, &'a RouterPort)> {
    routers
        .iter()
        .find_map(|lr| lr.ports.iter().find(|p| p.name == name).map(|p| (lr, p)))
}

/// The router's distributed gateway port when it has exactly one (`reside-on-redirect-chassis`
/// is ignored on routers with several).
pub fn only_dgp(lr: &Router) -> Option<&RouterPort> {
    let mut it = lr.dgps();
    match (it.next(), it.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

fn resident(port: &str) -> String {
    format!("is_chassis_resident(\"{port}\")")
}

/// The binding extras of switch port `lsp` (of type `router`) on `sw`.
pub fn router_lsp_binding(
    nb: &NbSnapshot,
    routers: &[Router],
    sw: &Switch,
    lsp: &nb::LogicalSwitchPort,
    warnings: &mut Vec<NbWarning>,
) -> RouterLspBinding {
    let mut out = RouterLspBinding::default();
    let Some((lr, peer)) = lsp
        .options
        .get("router-port")
        .and_then(|rp| find_router_port(routers, rp))
    else {
        return out;
    };
    out.l3gateway_chassis.clone_from(&lr.chassis);
    let first_dgp = lr.dgps().next();
    let gateway = lr.is_gateway() || first_dgp.is_some();
    match lsp.options.get("nat-addresses").map(String::as_str) {
        Some("router") if gateway => {
            let include_lbs = lsp
                .options
                .get("exclude-lb-vips-from-garp")
                .is_none_or(|v| !v.eq_ignore_ascii_case("true"));
            out.nat_addresses
                .extend(router_nat_addresses(nb, lr, peer, include_lbs));
        }
        Some(text) if gateway && text != "router" => {
            if is_valid_nat_addresses(text) {
                let mut entry = text.to_owned();
                // The peer's own chassis-redirect port when it is a gateway port, else the
                // router's first one.
                let dgp = if peer.is_dgp { Some(peer) } else { first_dgp };
                if let Some(d) = dgp {
                    entry.push(' ');
                    entry.push_str(&resident(&d.cr_name()));
                }
                out.nat_addresses.insert(entry);
            } else {
                warnings.push(NbWarning::BadOption {
                    owner: format!("port {}", lsp.name),
                    key: "nat-addresses".to_owned(),
                    value: text.to_owned(),
                });
            }
        }
        _ => {}
    }
    // The router port's own addresses, for gratuitous ARPs from the gateway chassis.
    let has_localnet = sw.ports.iter().any(|p| p.type_ == LspType::Localnet);
    let reside = peer
        .options
        .get("reside-on-redirect-chassis")
        .is_some_and(|v| v == "true");
    let cr = if peer.is_dgp {
        Some(peer.cr_name())
    } else if reside {
        only_dgp(lr).map(RouterPort::cr_name)
    } else {
        None
    };
    if cr.is_some() || (lr.is_gateway() && has_localnet) {
        let mut entry = peer.mac.to_string();
        for a in &peer.ipv4 {
            entry.push(' ');
            entry.push_str(&a.addr.to_string());
        }
        if let Some(cr) = cr {
            entry.push(' ');
            entry.push_str(&resident(&cr));
        }
        out.nat_addresses.insert(entry);
    }
    out
}

/// `options:nat-addresses` written as `MAC [IP...]` (copied as written when valid). Like
/// ovn-northd, only the leading MAC must parse: what follows the addresses (e.g. the user's own
/// `is_chassis_resident(...)`) is kept as written.
fn is_valid_nat_addresses(text: &str) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|m| m.parse::<MacAddr>().is_ok())
}

/// `nat-addresses=router` (ovn-northd's `get_nat_addresses`): for each NAT rule of `lr` in
/// NB (UUID) order whose `external_ip` is one IPv4 address (`A.B.C.D`, optionally `/32` or
/// `/255.255.255.255`) and that `peer` announces ([`is_nat_gateway_port`]): a distributed rule
/// (`dnat_and_snat` with `logical_port` and `external_mac` on a router with a distributed gateway
/// port) gets its own entry `MAC IP is_chassis_resident("LPORT")` (none when the MAC does not
/// parse); any other rule adds its `external_ip`, as written, to the central entry unless it is
/// one of the port's own addresses. Repeats are kept. When `include_lbs`, the central entry then
/// lists the router's load balancer VIPs ([`LbIpSets::of_router`]: IPv4 set, then IPv6 set).
/// The central entry is `MAC IP...`, plus `is_chassis_resident("cr-PORT")` on a distributed
/// gateway port.
fn router_nat_addresses(
    nb: &NbSnapshot,
    lr: &Router,
    peer: &RouterPort,
    include_lbs: bool,
) -> Vec<String> {
    let has_dgp = lr.dgps().next().is_some();
    let mut out = Vec::new();
    let mut central: Vec<String> = Vec::new();
    for n in lr.nats.iter().filter_map(|n| nb.nats.get(n)) {
        if parse_host_v4(&n.external_ip).is_none() || !is_nat_gateway_port(nb, lr, n, peer) {
            continue;
        }
        if has_dgp && n.type_ == nb::NatType::DnatAndSnat {
            if let (Some(mac), Some(port)) = (&n.external_mac, &n.logical_port) {
                if let Ok(mac) = mac.parse::<MacAddr>() {
                    out.push(format!("{mac} {} {}", n.external_ip, resident(port)));
                }
                continue;
            }
        }
        // The port's own addresses are announced with the port (compared as text).
        let own = peer
            .ipv4
            .iter()
            .any(|a| a.addr.to_string() == n.external_ip);
        if !own {
            central.push(n.external_ip.clone());
        }
    }
    // The VIPs (thousands on an OVN-Kubernetes gateway router) are written straight into
    // the entry.
    let vips = nb
        .routers
        .get(&lr.nb)
        .filter(|_| include_lbs)
        .map(|nb_lr| LbIpSets::of_router(nb, nb_lr));
    let has_vips = vips
        .as_ref()
        .is_some_and(|ips| !ips.v4.is_empty() || !ips.v6.is_empty());
    let vip_texts = vips
        .iter()
        .flat_map(|ips| ips.v4.iter().chain(ips.v6.iter()));
    if !central.is_empty() || has_vips {
        let mut entry = peer.mac.to_string();
        for ip in central.iter().map(String::as_str).chain(vip_texts) {
            entry.push(' ');
            entry.push_str(ip);
        }
        if peer.is_dgp {
            entry.push(' ');
            entry.push_str(&resident(&peer.cr_name()));
        }
        out.push(entry);
    }
    out
}

/// `external_ip` of a NAT rule as one IPv4 host address (`ip_parse_masked` with an all-ones
/// mask): `A.B.C.D`, `A.B.C.D/32` or `A.B.C.D/255.255.255.255`.
fn parse_host_v4(text: &str) -> Option<Ipv4Addr> {
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    let ip = addr.parse::<Ipv4Addr>().ok()?;
    match mask {
        None | Some("32" | "255.255.255.255") => Some(ip),
        Some(_) => None,
    }
}

/// Whether NAT rule `n` of `lr` is announced from router port `op` (ovn-northd's
/// `is_nat_gateway_port`): always, unless the router has several distributed gateway ports; then
/// only from the rule's `gateway_port` or, without one, from the ports with a network containing
/// the external address.
pub(crate) fn is_nat_gateway_port(
    nb: &NbSnapshot,
    lr: &Router,
    n: &nb::Nat,
    op: &RouterPort,
) -> bool {
    if lr.dgps().nth(1).is_none() {
        return true;
    }
    match n.gateway_port.filter(|g| nb.router_ports.contains_key(g)) {
        Some(g) => g == op.nb,
        None => n.external_ip.parse::<Ipv4Addr>().is_ok_and(|ip| {
            op.ipv4.iter().any(|net| {
                net.network()
                    == Ipv4Net {
                        addr: ip,
                        plen: net.plen,
                    }
                    .network()
            })
        }),
    }
}
