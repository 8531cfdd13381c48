//! Gateways: `lr_in_gw_redirect` and the distributed gateway port (`chassisredirect`) flows of
//! other stages, plus the rules other stage builders use to gate flows on the gateway chassis.
//!
//! A distributed gateway port (DGP) `P` is bound twice: `P` itself (everywhere) and `cr-P`
//! (type `chassisredirect`, on the active gateway chassis). Traffic for `P` is handled on the
//! chassis where `cr-P` resides:
//! - `lr_in_gw_redirect`: packets routed out of `P` are sent to `cr-P`;
//! - what `P` receives (admission of its MAC, ARP learning, ND replies; ARP replies when its
//!   switch has a localnet port) is handled on the gateway chassis only (built with those
//!   stages in [`super::input`]);
//! - [`l2_lkup_resident`]: on a switch with a localnet port, the switch sends frames for the
//!   router MAC of `P` (or of a port with `reside-on-redirect-chassis`) to the router only on
//!   the gateway chassis;
//! - `redirect-type=bridged`: off the gateway chassis, packets out of `P` keep the router MAC
//!   as destination (`lr_in_arp_resolve`) and are bridged to the gateway chassis.

use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::snapshot::NbSnapshot;
use crate::switch::{LspType, PortAddrs, Switch, SwitchPort};

use super::{Router, RouterCtx, RouterPort};

#[path = "gateway_bindings.rs"]
pub mod bindings;
#[path = "gateway_hash.rs"]
pub mod hash;

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(lr.dp, Stage::LrInGwRedirect, 0, &always, &next);
    for p in lr.dgps() {
        let cr = p.cr_name();
        let to_cr = Actions(vec![
            Action::Assign(Field::OUTPORT, Value::port(&cr)),
            Action::Next,
        ]);
        let out_p = Match::eq(Field::OUTPORT, Value::port(&p.name));
        flows.add(lr.dp, Stage::LrInGwRedirect, 50, &out_p, &to_cr);
        if is_bridged(p) {
            let m = out_p.clone().and_not_resident(&cr);
            let a = Actions(vec![
                Action::Assign(Field::ETH_DST, Value::Mac(p.mac)),
                Action::Next,
            ]);
            flows.add(lr.dp, Stage::LrInArpResolve, 50, &m, &a);
        }
    }
}

/// `options:redirect-type=bridged` on a distributed gateway port.
pub fn is_bridged(p: &RouterPort) -> bool {
    p.options
        .get("redirect-type")
        .is_some_and(|v| v == "bridged")
}

/// The `chassisredirect` port whose residence gates the `ls_in_l2_lkup` flow to switch port
/// `p` (of type `router`) for the router MAC: on a switch with a localnet port, the peer's
/// `cr-` port when the peer is a distributed gateway port, or its router's only distributed
/// gateway port when the peer has `reside-on-redirect-chassis`. Read from NB alone (switch
/// flows are built without the router views).
pub fn l2_lkup_resident(nb: &NbSnapshot, sw: &Switch, p: &SwitchPort) -> Option<String> {
    if p.type_ != LspType::Router || !sw.ports.iter().any(|q| q.type_ == LspType::Localnet) {
        return None;
    }
    let lsp = nb.switch_ports.get(&p.nb)?;
    let peer_name = lsp.options.get("router-port")?;
    let (lr, lrp) = nb.routers.values().find_map(|lr| {
        lr.ports
            .iter()
            .filter_map(|r| nb.router_ports.get(r))
            .find(|l| &l.name == peer_name)
            .map(|l| (lr, l))
    })?;
    if lr.enabled == Some(false) || lr.options.get("chassis").is_some_and(|c| !c.is_empty()) {
        return None;
    }
    let is_dgp =
        |l: &nb::LogicalRouterPort| !l.gateway_chassis.is_empty() || l.ha_chassis_group.is_some();
    if is_dgp(lrp) {
        return Some(format!("cr-{}", lrp.name));
    }
    if lrp
        .options
        .get("reside-on-redirect-chassis")
        .is_some_and(|v| v == "true")
    {
        let mut dgps = lr
            .ports
            .iter()
            .filter_map(|r| nb.router_ports.get(r))
            .filter(|l| is_dgp(l));
        if let (Some(d), None) = (dgps.next(), dgps.next()) {
            return Some(format!("cr-{}", d.name));
        }
    }
    None
}

/// The addresses a `router` switch port with `addresses` `router` stands for: the MAC and
/// networks of the router port it peers with (IPv6 followed by the link-local address derived
/// from the MAC, whatever networks are configured), as switch stages (ARP/ND responder, L2 lookup) see
/// them. `None` when the peer router port does not exist or its MAC does not parse.
pub fn router_lsp_addrs(nb: &NbSnapshot, lsp: &nb::LogicalSwitchPort) -> Option<PortAddrs> {
    router_lsp_addrs_with(lsp, |peer| super::enabled_router_port(nb, peer))
}

/// [`router_lsp_addrs`], with `enabled_peer` finding the enabled router port of a name (as
/// [`super::enabled_router_port`] does).
pub(crate) fn router_lsp_addrs_with<'a>(
    lsp: &nb::LogicalSwitchPort,
    enabled_peer: impl FnOnce(&str) -> Option<&'a nb::LogicalRouterPort>,
) -> Option<PortAddrs> {
    if lsp.type_ != "router" || !lsp.addresses.iter().any(|a| a == "router") {
        return None;
    }
    let peer = lsp.options.get("router-port")?;
    let lrp = enabled_peer(peer)?;
    let mac: ovn_nb::addr::MacAddr = lrp.mac.parse().ok()?;
    let mut out = PortAddrs {
        mac,
        ipv4: Vec::new(),
        ipv6: Vec::new(),
    };
    for n in &lrp.networks {
        match n.parse::<ovn_nb::addr::IpNet>().map(|n| n.addr()) {
            Ok(std::net::IpAddr::V4(a)) => out.ipv4.push(a),
            Ok(std::net::IpAddr::V6(a)) => out.ipv6.push(a),
            Err(_) => {}
        }
    }
    // Even when a link-local network is configured (as ovn-northd 23.03).
    out.ipv6.push(super::link_local(mac));
    Some(out)
}
