//! `ls_in_qos_mark`, `ls_in_qos_meter` and their egress counterparts: DSCP marking and
//! metering from NB `QoS` rows.

use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use super::{Switch, SwitchCtx};
use crate::flow::{Action, Actions, Field, FlowTable, Match, Value};

/// Builds the QoS stages of `sw`.
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    for stage in [
        Stage::LsInQosMark,
        Stage::LsInQosMeter,
        Stage::LsOutQosMark,
        Stage::LsOutQosMeter,
    ] {
        flows.add(
            sw.dp,
            stage,
            0,
            &Match::always(),
            &Actions::one(Action::Next),
        );
    }
    for q in sw.qos.iter().filter_map(|r| ctx.nb.qos.get(r)) {
        let ingress = q.direction == nb::QoSDirection::FromLport;
        let (mark, meter) = if ingress {
            (Stage::LsInQosMark, Stage::LsInQosMeter)
        } else {
            (Stage::LsOutQosMark, Stage::LsOutQosMeter)
        };
        let Ok(prio) = u16::try_from(q.priority) else {
            continue;
        };
        let m = Match::user_bare(&q.match_);
        if let Some(dscp) = q.action.get(&nb::QoSAction::Dscp) {
            let a = Actions(vec![
                Action::Assign(
                    Field("ip.dscp"),
                    Value::Int(u64::try_from(*dscp).unwrap_or(0)),
                ),
                Action::Next,
            ]);
            flows.add(sw.dp, mark, prio, &m, &a);
        }
        if let Some(rate) = q.bandwidth.get(&nb::QoSBandwidth::Rate) {
            let mut args = vec![Value::Int(u64::try_from(*rate).unwrap_or(0))];
            if let Some(burst) = q.bandwidth.get(&nb::QoSBandwidth::Burst) {
                args.push(Value::Int(u64::try_from(*burst).unwrap_or(0)));
            }
            let a = Actions(vec![Action::Call("set_meter", args), Action::Next]);
            flows.add(sw.dp, meter, prio, &m, &a);
        }
    }
}
