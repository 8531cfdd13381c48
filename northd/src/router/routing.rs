//! Routing stages: `lr_in_ip_routing_pre`, `lr_in_ip_routing`, `lr_in_ip_routing_ecmp`,
//! `lr_in_policy`, `lr_in_policy_ecmp`, `lr_in_arp_resolve`, `lr_in_chk_pkt_len`,
//! `lr_in_larger_pkts` and `lr_in_arp_request`.

use crate::flow::{Action, Actions, FlowTable, Match, Pred};
use ovn_sb::stage::Stage;

use super::{Router, RouterCtx};

/// Builds this module's flows for `lr`.
pub fn build(_ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let next = Actions::one(Action::Next);
    let always = Match::pred(Pred::True);
    flows.add(
        lr.dp,
        Stage::LrInIpRoutingPre,
        0,
        &always,
        &Actions(vec![Action::Fixed("reg7 = 0;"), Action::Next]),
    );
    flows.add(
        lr.dp,
        Stage::LrInIpRouting,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(
        lr.dp,
        Stage::LrInIpRoutingEcmp,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(
        lr.dp,
        Stage::LrInIpRoutingEcmp,
        150,
        &Match::pred(Pred::Fixed("reg8[0..15] == 0")),
        &next,
    );
    flows.add(
        lr.dp,
        Stage::LrInPolicy,
        0,
        &always,
        &Actions(vec![Action::Fixed("reg8[0..15] = 0;"), Action::Next]),
    );
    flows.add(
        lr.dp,
        Stage::LrInPolicyEcmp,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(
        lr.dp,
        Stage::LrInPolicyEcmp,
        150,
        &Match::pred(Pred::Fixed("reg8[0..15] == 0")),
        &next,
    );
    flows.add(
        lr.dp,
        Stage::LrInArpResolve,
        0,
        &always,
        &Actions::one(Action::Drop),
    );
    flows.add(lr.dp, Stage::LrInChkPktLen, 0, &always, &next);
    flows.add(lr.dp, Stage::LrInLargerPkts, 0, &always, &next);
    flows.add(
        lr.dp,
        Stage::LrInArpRequest,
        0,
        &always,
        &Actions::one(Action::Output),
    );
}
