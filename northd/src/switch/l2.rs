//! `ls_in_l2_lkup` and `ls_in_l2_unknown`: destination lookup by MAC, flooding, and the
//! handling of unknown destinations.

use ovn_nb::addr::{LspAddress, MacAddr};
use ovn_sb::stage::Stage;

use super::{LspType, Switch, SwitchCtx, SwitchPort};
use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::mcast;

/// Builds the L2 lookup stages of `sw`.
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    let dp = sw.dp;
    let svc = Match::eq(Field::ETH_DST, Value::AddrSet("svc_monitor_mac".to_owned()))
        .and_pred(Pred::TcpOrIcmp);
    flows.add(
        dp,
        Stage::LsInL2Lkup,
        110,
        &svc,
        &Actions::one(Action::HandleSvcCheck),
    );
    let flood = Actions(vec![
        Action::Assign(Field::OUTPORT, Value::port(mcast::FLOOD)),
        Action::Output,
    ]);
    flows.add(
        dp,
        Stage::LsInL2Lkup,
        70,
        &Match::pred(Pred::EthMcast),
        &flood,
    );
    if sw.mcast.snoop {
        build_mcast_snoop(sw, flows);
    }
    let fdb = Actions(vec![
        Action::Assign(
            Field::OUTPORT,
            Value::Call("get_fdb", vec![Field::ETH_DST.into()]),
        ),
        Action::Next,
    ]);
    flows.add(dp, Stage::LsInL2Lkup, 0, &Match::always(), &fdb);

    for p in &sw.ports {
        if p.type_ == LspType::External {
            continue;
        }
        let to_port = if p.enabled {
            Actions(vec![
                Action::Assign(Field::OUTPORT, Value::port(&p.name)),
                Action::Output,
            ])
        } else {
            Actions::one(Action::Drop)
        };
        // A router port towards a gateway: only the gateway chassis takes the router MAC.
        // Only the `router` entry (the last of `addrs`) is checked, not `MAC IP...` entries.
        let resident = crate::router::gateway::l2_lkup_resident(ctx.nb, sw, p);
        let first_router_entry = match &resident {
            Some(_) => {
                let router_entry = ctx.nb.switch_ports.get(&p.nb).is_some_and(|lsp| {
                    crate::router::gateway::router_lsp_addrs(ctx.nb, lsp).is_some()
                });
                p.addrs.len() - usize::from(router_entry)
            }
            None => p.addrs.len(),
        };
        for (i, a) in p.addrs.iter().enumerate() {
            let mut m = Match::eq(Field::ETH_DST, a.mac);
            if let (Some(cr), true) = (&resident, i >= first_router_entry) {
                m = m.and_resident(cr);
            }
            flows.add(dp, Stage::LsInL2Lkup, 50, &m, &to_port);
        }
        // `MAC dynamic` delivers to the fixed MAC even before (or without) an allocation.
        for mac in fixed_dynamic_macs(ctx, p) {
            flows.add(
                dp,
                Stage::LsInL2Lkup,
                50,
                &Match::eq(Field::ETH_DST, mac),
                &to_port,
            );
        }
        if !p.enabled {
            let m = Match::eq(Field::OUTPORT, Value::port(&p.name));
            flows.add(
                dp,
                Stage::LsInL2Unknown,
                50,
                &m,
                &Actions::one(Action::Drop),
            );
        }
    }

    let none = Match::eq(Field::OUTPORT, Value::port("none"));
    let unknown = if sw.has_unknown() {
        Actions(vec![
            Action::Assign(Field::OUTPORT, Value::port(mcast::UNKNOWN)),
            Action::Output,
        ])
    } else {
        Actions::one(Action::Drop)
    };
    flows.add(dp, Stage::LsInL2Unknown, 50, &none, &unknown);
    flows.add(
        dp,
        Stage::LsInL2Unknown,
        0,
        &Match::always(),
        &Actions::one(Action::Output),
    );
}

/// IGMP/MLD snooping: reports go to ovn-controller, link-local groups flood, other IP multicast
/// goes to static members only (or is dropped) unless unregistered flooding is on.
fn build_mcast_snoop(sw: &Switch, flows: &mut FlowTable) {
    let dp = sw.dp;
    let igmp = Actions::one(Action::Fixed("igmp;"));
    flows.add(
        dp,
        Stage::LsInL2Lkup,
        100,
        &Match::pred(Pred::Fixed("igmp")),
        &igmp,
    );
    let mld = Match::pred(Pred::Fixed("mldv1 || mldv2"));
    flows.add(dp, Stage::LsInL2Lkup, 100, &mld, &igmp);
    let to = |group: &str| {
        Actions(vec![
            Action::Assign(Field::OUTPORT, Value::port(group)),
            Action::Output,
        ])
    };
    let local4 = Match::pred(Pred::Fixed("ip4.mcast && ip4.dst == 224.0.0.0/24"));
    flows.add(dp, Stage::LsInL2Lkup, 85, &local4, &to(mcast::FLOOD_L2));
    let local6 = Match::pred(Pred::Fixed("ip6.mcast_flood"));
    flows.add(dp, Stage::LsInL2Lkup, 85, &local6, &to(mcast::FLOOD));
    if !sw.mcast.flood_unregistered {
        let any = Match::pred(Pred::Fixed("ip4.mcast || ip6.mcast"));
        let flood_static = sw.ports.iter().any(|p| p.enabled && p.mcast_flood);
        let mut a = Vec::new();
        if sw.flood_relay() {
            // Unregistered multicast also goes to routers relaying it.
            a.push(Action::Nested(
                "clone",
                vec![
                    Action::Assign(Field::OUTPORT, Value::port(mcast::MROUTER_FLOOD)),
                    Action::Output,
                ],
            ));
            if !flood_static {
                // ovn-northd leaves a space after this clone, even when nothing follows.
                a.push(Action::Spacer);
            }
        }
        if flood_static {
            // ovn-northd writes this one without a space after `=`.
            a.push(Action::Fixed("outport =\"_MC_static\"; output;"));
        }
        if a.is_empty() {
            a.push(Action::Drop);
        }
        let actions = Actions(a);
        flows.add(dp, Stage::LsInL2Lkup, 80, &any, &actions);
    }
}

/// The MACs of `MAC dynamic` entries of `p` that its parsed addresses do not already carry
/// (the switch has nothing to allocate from, so `dynamic_addresses` is empty).
fn fixed_dynamic_macs(ctx: &SwitchCtx<'_>, p: &SwitchPort) -> Vec<MacAddr> {
    let Some(lsp) = ctx.nb.switch_ports.get(&p.nb) else {
        return Vec::new();
    };
    lsp.addresses
        .iter()
        .filter(|a| a.contains("dynamic"))
        .filter_map(|a| match a.parse::<LspAddress>() {
            Ok(LspAddress::Dynamic { mac: Some(m), .. }) => Some(m),
            _ => None,
        })
        .filter(|m| !p.addrs.iter().any(|a| a.mac == *m))
        .collect()
}
