//! Router policies (`Logical_Router_Policy`): `lr_in_policy` and `lr_in_policy_ecmp`.

use std::net::IpAddr;

use ovn_nb::addr::parse_ip;
use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use crate::error::NbWarning;
use crate::flow::{Action, Actions, Field, FlowTable, Match, Value};
use crate::router::{Router, RouterCtx};

use super::{
    loopback, output_actions, port_for_next_hop, ports_in_row_order, ECMP_GROUP, ECMP_MEMBER,
};
use crate::router::RouterPort;

/// `pkt.mark`.
const PKT_MARK: Field = Field("pkt.mark");

/// `options:pkt_mark` as `pkt.mark = N;` (absent, zero or not a number: none).
fn pkt_mark(row: &nb::LogicalRouterPolicy) -> Option<Action> {
    let mark: u32 = row.options.get("pkt_mark")?.parse().ok()?;
    (mark != 0).then(|| Action::Assign(PKT_MARK, Value::Int(u64::from(mark))))
}

/// Reports a policy whose next hop cannot be used.
fn warn(ctx: &RouterCtx<'_>, lr: &Router, row: &nb::LogicalRouterPolicy, value: &str) {
    ctx.warnings.borrow_mut().push(NbWarning::BadOption {
        owner: format!("router {} policy priority {}", lr.name, row.priority),
        key: "nexthop".to_owned(),
        value: value.to_owned(),
    });
}

/// The actions that reroute to `next_hop` (`reg0 = NH; reg1 = SRC; eth.src = MAC; outport = P;
/// flags.loopback = 1;`), or `None` (reported) when no port of `lr` is on its network.
fn reroute(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    ports: &[&RouterPort],
    row: &nb::LogicalRouterPolicy,
    next_hop: &str,
) -> Option<Vec<Action>> {
    let found = parse_ip(next_hop)
        .ok()
        .and_then(|ip: IpAddr| port_for_next_hop(ports, ip));
    let Some((port, src)) = found else {
        warn(ctx, lr, row, next_hop);
        return None;
    };
    let mut a: Vec<Action> = pkt_mark(row).into_iter().collect();
    a.extend(output_actions(Value::Raw(next_hop.to_owned()), src, port));
    a.push(loopback());
    Some(a)
}

/// Builds the policy flows of `lr`.
pub(super) fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    // ECMP policies are numbered in row order, counting those whose flows fail.
    let mut ecmp_id: u64 = 0;
    let ports = ports_in_row_order(lr);
    for row in lr.policies.iter().filter_map(|r| ctx.nb.policies.get(r)) {
        let Ok(prio) = u16::try_from(row.priority) else {
            continue;
        };
        let m = Match::user_bare(&row.match_);
        match row.action {
            nb::LogicalRouterPolicyAction::Drop => {
                flows.add(
                    lr.dp,
                    Stage::LrInPolicy,
                    prio,
                    &m,
                    &Actions::one(Action::Drop),
                );
            }
            nb::LogicalRouterPolicyAction::Allow => {
                let mut a: Vec<Action> = pkt_mark(row).into_iter().collect();
                a.push(Action::Assign(ECMP_GROUP, Value::Int(0)));
                a.push(Action::Next);
                flows.add(lr.dp, Stage::LrInPolicy, prio, &m, &Actions(a));
            }
            nb::LogicalRouterPolicyAction::Reroute if row.nexthops.len() > 1 => {
                ecmp_id += 1;
                let mut ok = true;
                for (i, nh) in row.nexthops.iter().enumerate() {
                    let Some(mut a) = reroute(ctx, lr, &ports, row, nh) else {
                        ok = false;
                        break;
                    };
                    a.push(Action::Next);
                    let member = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
                    flows.add(
                        lr.dp,
                        Stage::LrInPolicyEcmp,
                        100,
                        &Match::eq(ECMP_GROUP, ecmp_id).and_eq(ECMP_MEMBER, member),
                        &Actions(a),
                    );
                }
                if ok {
                    let members: Vec<Value> = (1..=row.nexthops.len())
                        .map(|i| Value::Int(u64::try_from(i).unwrap_or(u64::MAX)))
                        .collect();
                    flows.add(
                        lr.dp,
                        Stage::LrInPolicy,
                        prio,
                        &m,
                        &Actions(vec![
                            Action::Assign(ECMP_GROUP, Value::Int(ecmp_id)),
                            Action::Assign(ECMP_MEMBER, Value::Call("select", members)),
                        ]),
                    );
                }
            }
            nb::LogicalRouterPolicyAction::Reroute => {
                let Some(nh) = row.nexthops.iter().next().or(row.nexthop.as_ref()) else {
                    warn(ctx, lr, row, "");
                    continue;
                };
                let Some(mut a) = reroute(ctx, lr, &ports, row, nh) else {
                    continue;
                };
                a.push(Action::Assign(ECMP_GROUP, Value::Int(0)));
                a.push(Action::Next);
                flows.add(lr.dp, Stage::LrInPolicy, prio, &m, &Actions(a));
            }
        }
    }
}
