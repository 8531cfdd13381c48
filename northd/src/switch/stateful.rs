//! `ls_in_stateful` and `ls_out_stateful`: commit connections the ACL stages asked to commit,
//! with the ACL label when one is set.

use ovn_sb::stage::Stage;

use super::Switch;
use crate::flow::{reg, Action, Actions, Field, FlowTable, Match, Value};

/// Builds the stateful stages of `sw`.
pub fn build(sw: &Switch, flows: &mut FlowTable) {
    for stage in [Stage::LsInStateful, Stage::LsOutStateful] {
        let commit = |label: bool| {
            let mut inner = vec![Action::Assign(Field::CT_MARK_BLOCKED, Value::Int(0))];
            if label {
                inner.push(Action::Assign(Field::CT_LABEL_LABEL, reg::LABEL.into()));
            }
            Actions(vec![Action::CtCommit(inner), Action::Next])
        };
        for label in [false, true] {
            let m = Match::eq(reg::CONNTRACK_COMMIT, Value::Int(1))
                .and_eq(reg::ACL_LABEL, Value::Int(u64::from(label)));
            flows.add(sw.dp, stage, 100, &m, &commit(label));
        }
        flows.add(
            sw.dp,
            stage,
            0,
            &Match::always(),
            &Actions::one(Action::Next),
        );
    }
}
