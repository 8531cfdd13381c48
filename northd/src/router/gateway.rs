//! Gateways: `lr_in_gw_redirect` and the distributed gateway port (`chassisredirect`) flows of
//! other stages.

use crate::flow::{Action, Actions, FlowTable, Match, Pred};
use ovn_sb::stage::Stage;

use super::{Router, RouterCtx};

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(lr.dp, Stage::LrInGwRedirect, 0, &always, &next);
}
