//! Forwarding groups (`Logical_Switch` `forwarding_groups`): an ARP responder for the group's
//! virtual IP in `ls_in_arp_rsp` and, in `ls_in_l2_lkup`, its virtual MAC sent to one of the
//! child ports with `fwd_group()`.

use ovn_sb::stage::Stage;

use super::{Switch, SwitchCtx};
use crate::flow::{Action, Actions, Field, FlowTable, Match, Value};

/// Builds the flows of `sw`'s forwarding groups (groups without child ports have none; see
/// below for the groups ovn-northd skips). The VIP and virtual MAC are written as given.
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    let Some(ls) = ctx.nb.switches.get(&sw.nb) else {
        return;
    };
    let groups: Vec<&ovn_nb::model::ForwardingGroup> = ls
        .forwarding_groups
        .iter()
        .filter_map(|r| ctx.nb.forwarding_groups.get(r))
        .collect();
    // ovn-northd 23.03 walks the groups with the index it also uses to list a group's child
    // ports: after a group with N children, it goes on at group N (so with several groups,
    // some are skipped, and coming back to a group it already did, it never ends: there we
    // stop). Groups are in UUID order, child ports in name order.
    let mut i = 0;
    let mut seen = vec![false; groups.len()];
    while let Some(fg) = groups.get(i) {
        if std::mem::replace(&mut seen[i], true) {
            break;
        }
        if fg.child_port.is_empty() {
            i += 1;
            continue;
        }
        i = fg.child_port.len();
        let vip = Value::Raw(fg.vip.clone());
        let vmac = Value::Raw(fg.vmac.clone());
        let m = Match::eq(Field::ARP_TPA, vip.clone()).and_eq(Field::ARP_OP, Value::Int(1));
        let reply = Actions(vec![
            Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
            Action::Assign(Field::ETH_SRC, vmac.clone()),
            Action::Assign(Field::ARP_OP, Value::Int(2)),
            Action::Comment("ARP reply"),
            Action::Assign(Field::ARP_THA, Field::ARP_SHA.into()),
            Action::Assign(Field::ARP_SHA, vmac.clone()),
            Action::Assign(Field::ARP_TPA, Field::ARP_SPA.into()),
            Action::Assign(Field::ARP_SPA, vip),
            Action::Assign(Field::OUTPORT, Field::INPORT.into()),
            Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
            Action::Output,
        ]);
        flows.add(sw.dp, Stage::LsInArpRsp, 50, &m, &reply);

        let children: Vec<String> = fg.child_port.iter().map(|c| format!("\"{c}\"")).collect();
        let liveness = if fg.liveness {
            "liveness=\"true\","
        } else {
            ""
        };
        let fwd = Action::Text(format!(
            "fwd_group({liveness}childports={});",
            children.join(",")
        ));
        let m = Match::eq(Field::ETH_DST, vmac);
        flows.add(sw.dp, Stage::LsInL2Lkup, 50, &m, &Actions::one(fwd));
    }
}
