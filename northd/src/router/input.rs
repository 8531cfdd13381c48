//! Router input stages: `lr_in_admission`, `lr_in_lookup_neighbor`, `lr_in_learn_neighbor`,
//! `lr_in_ip_input`, `lr_in_nd_ra_options`, `lr_in_nd_ra_response`, `lr_out_egr_loop` and
//! `lr_out_delivery`.

use crate::flow::{Action, Actions, FlowTable, Match, Pred};
use ovn_sb::stage::Stage;

use super::{Router, RouterCtx};

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(
        lr.dp,
        Stage::LrInAdmission,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(
        lr.dp,
        Stage::LrInLookupNeighbor,
        0,
        &always,
        &Actions(vec![Action::Fixed("reg9[2] = 1;"), Action::Next]),
    );
    flows.add(
        lr.dp,
        Stage::LrInLearnNeighbor,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(lr.dp, Stage::LrInIpInput, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInNdRaOptions, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInNdRaResponse, 0, &always, &next);
    flows.add(lr.dp, Stage::LrOutEgrLoop, 0, &always, &next);
    flows.add(
        lr.dp,
        Stage::LrOutDelivery,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
}
