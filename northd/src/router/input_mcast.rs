//! IP multicast on routers: `options:mcast_relay` (relaying IP multicast between the router's
//! switches) and router ports with `options:mcast_flood` (the router's `_MC_static` group).
//!
//! Flows in `lr_in_ip_input` (IGMP/MLD with TTL 1 when flooding statically) and in
//! `lr_in_ip_routing` (multicast forwarding when relaying); the priority-110 delivery flows
//! are built by [`super::input`].

use std::collections::BTreeSet;

use ovn_sb::stage::Stage;

use crate::content::McGroupContent;
use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::mcast;
use crate::tunnel_key::MC_STATIC_KEY;

use super::input::bool_option;
use super::Router;

/// Offset ovn-northd adds to the priorities of `lr_in_ip_routing` flows that are not routes.
const ROUTING_PRIO_OFFSET: u16 = 10000;

/// True when the router relays IP multicast (`options:mcast_relay=true`).
pub fn relays(lr: &Router) -> bool {
    bool_option(&lr.options, "mcast_relay", false)
}

/// The enabled router ports with `options:mcast_flood=true`.
fn static_ports(lr: &Router) -> BTreeSet<String> {
    lr.ports
        .iter()
        .filter(|p| p.enabled && bool_option(&p.options, "mcast_flood", false))
        .map(|p| p.name.clone())
        .collect()
}

/// The router's `_MC_static` group: its enabled ports with `options:mcast_flood=true`.
pub fn router_groups(lr: &Router) -> Vec<McGroupContent> {
    let ports = static_ports(lr);
    if ports.is_empty() {
        return Vec::new();
    }
    vec![McGroupContent {
        datapath: lr.dp,
        name: mcast::STATIC.to_owned(),
        tunnel_key: MC_STATIC_KEY,
        ports,
    }]
}

/// True when some enabled port of `lr` has `options:mcast_flood=true` (the router's traffic
/// to multicast groups is also copied to `_MC_static`).
pub fn floods_static(lr: &Router) -> bool {
    !static_ports(lr).is_empty()
}

/// Builds the multicast flows of `lr`.
pub fn build(lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let flood_static = !static_ports(lr).is_empty();
    let next = Actions::one(Action::Next);
    let igmp = Match::pred(Pred::Fixed("igmp"));
    let mld = Match::pred(Pred::Fixed("(mldv1 || mldv2)"));
    if flood_static {
        let ttl1 = Match::pred(Pred::Fixed("ip.ttl == 1"));
        for m in [&igmp, &mld] {
            flows.add(
                dp,
                Stage::LrInIpInput,
                120,
                &m.clone().and(ttl1.clone()),
                &next,
            );
        }
    }
    if !relays(lr) {
        return;
    }
    let to_static = |ttl: bool| {
        let mut body = vec![Action::Assign(Field::OUTPORT, Value::port(mcast::STATIC))];
        if ttl {
            body.push(Action::Fixed("ip.ttl--;"));
        }
        body.push(Action::Next);
        Actions::one(Action::Nested("clone", body))
    };
    let any = Match::pred(Pred::Fixed("ip4.mcast || ip6.mcast"));
    let unregistered = if flood_static {
        to_static(true)
    } else {
        Actions::one(Action::Drop)
    };
    flows.add(
        dp,
        Stage::LrInIpRouting,
        ROUTING_PRIO_OFFSET + 450,
        &any,
        &unregistered,
    );
    if flood_static {
        // Reports and queries are flooded to static ports, except the router's own.
        let reports = [igmp, Match::pred(Pred::Fixed("mldv1 || mldv2"))];
        for m in &reports {
            flows.add(
                dp,
                Stage::LrInIpRouting,
                ROUTING_PRIO_OFFSET + 460,
                m,
                &to_static(false),
            );
        }
        for p in &lr.ports {
            for m in [
                Match::pred(Pred::Fixed("igmp")),
                Match::pred(Pred::Fixed("(mldv1 || mldv2)")),
            ] {
                flows.add(
                    dp,
                    Stage::LrInIpRouting,
                    ROUTING_PRIO_OFFSET + 550,
                    &Match::eq(Field::ETH_SRC, p.mac).and(m),
                    &Actions::one(Action::Drop),
                );
            }
        }
    }
}
