//! NAT: `lr_in_unsnat`, `lr_in_dnat`, `lr_in_ecmp_stateful`, `lr_out_chk_dnat_local`,
//! `lr_out_undnat`, `lr_out_post_undnat`, `lr_out_snat`, `lr_out_post_snat`, and the NAT flows
//! of other stages (ARP replies for NAT addresses, ...).

use crate::flow::{Action, Actions, FlowTable, Match, Pred};
use ovn_sb::stage::Stage;

use super::{Router, RouterCtx};

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(lr.dp, Stage::LrInUnsnat, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInDnat, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInEcmpStateful, 0, &always, &next);
    flows.add(
        lr.dp,
        Stage::LrOutChkDnatLocal,
        0,
        &always,
        &Actions(vec![Action::Fixed("reg9[4] = 0;"), Action::Next]),
    );
    flows.add(lr.dp, Stage::LrOutUndnat, 0, &always, &next);
    flows.add(lr.dp, Stage::LrOutPostUndnat, 0, &always, &next);
    flows.add(lr.dp, Stage::LrOutSnat, 0, &always, &next);
    flows.add(lr.dp, Stage::LrOutPostSnat, 0, &always, &next);
}
