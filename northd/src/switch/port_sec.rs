//! `ls_in_check_port_sec`, `ls_in_apply_port_sec`, `ls_in_lookup_fdb`, `ls_in_put_fdb`,
//! `ls_out_check_port_sec`, `ls_out_apply_port_sec`.
//!
//! In 23.03 port security itself runs in ovn-controller (`check_in_port_sec()` reads the
//! Port_Binding `port_security` column); northd only drops for disabled ports and learns FDB
//! entries for `unknown` ports without port security.

use ovn_sb::stage::Stage;

use super::{LspType, Switch, SwitchCtx};
use crate::flow::{reg, Action, Actions, Field, FlowTable, Match, Pred, Value};

/// Builds the port security and FDB stages of `sw`.
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    let dp = sw.dp;
    let drop = Actions::one(Action::Drop);
    let next = Actions::one(Action::Next);
    let always = Match::always();

    if !sw.vlan_passthru {
        flows.add(
            dp,
            Stage::LsInCheckPortSec,
            100,
            &Match::pred(Pred::VlanPresent),
            &drop,
        );
    }
    flows.add(
        dp,
        Stage::LsInCheckPortSec,
        100,
        &Match::pred(Pred::EthSrcMcastBit),
        &drop,
    );
    let check_in = Actions(vec![
        Action::Assign(reg::PORT_SEC_DROP, Value::Call("check_in_port_sec", vec![])),
        Action::Next,
    ]);
    flows.add(dp, Stage::LsInCheckPortSec, 50, &always, &check_in);
    let port_sec_failed = Match::eq(reg::PORT_SEC_DROP, Value::Int(1));
    flows.add(dp, Stage::LsInApplyPortSec, 50, &port_sec_failed, &drop);
    flows.add(dp, Stage::LsInApplyPortSec, 0, &always, &next);

    let set_drop = Actions(vec![
        Action::Assign(reg::PORT_SEC_DROP, Value::Int(1)),
        Action::Next,
    ]);
    for p in &sw.ports {
        let inport = Match::eq(Field::INPORT, Value::port(&p.name));
        if !p.enabled {
            flows.add(dp, Stage::LsInCheckPortSec, 100, &inport, &set_drop);
        }
        if p.type_ == LspType::Vtep {
            let skip = Actions(vec![
                Action::Assign(reg::FROM_VTEP, Value::Int(1)),
                Action::NextTable(Stage::LsInHairpin),
            ]);
            flows.add(dp, Stage::LsInCheckPortSec, 70, &inport, &skip);
        }
        // `unknown` VIFs learn, and localnet ports with `options:localnet_learn_fdb=true`.
        let learns = match p.type_ {
            LspType::Vif => true,
            LspType::Localnet => ctx
                .nb
                .switch_ports
                .get(&p.nb)
                .and_then(|l| l.options.get("localnet_learn_fdb"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            _ => false,
        };
        if learns && p.has_unknown && p.ps_addrs.is_empty() {
            let lookup = Actions(vec![
                Action::Assign(
                    reg::LKUP_FDB,
                    Value::Call(
                        "lookup_fdb",
                        vec![Field::INPORT.into(), Field::ETH_SRC.into()],
                    ),
                ),
                Action::Next,
            ]);
            flows.add(dp, Stage::LsInLookupFdb, 100, &inport, &lookup);
            let not_found = inport.clone().and_eq(reg::LKUP_FDB, Value::Int(0));
            let put = Actions(vec![
                Action::Fixed("put_fdb(inport, eth.src);"),
                Action::Next,
            ]);
            flows.add(dp, Stage::LsInPutFdb, 100, &not_found, &put);
        }
    }
    if sw.ports.iter().any(|p| p.type_ == LspType::Vtep) {
        let from_vtep = Match::eq(reg::FROM_VTEP, Value::Int(1));
        let to_l2 = Actions::one(Action::NextTable(Stage::LsInL2Lkup));
        flows.add(dp, Stage::LsInHairpin, 1000, &from_vtep, &to_l2);
    }
    flows.add(dp, Stage::LsInLookupFdb, 0, &always, &next);
    flows.add(dp, Stage::LsInPutFdb, 0, &always, &next);

    let mcast_ok = Actions(vec![
        Action::Assign(reg::PORT_SEC_DROP, Value::Int(0)),
        Action::Next,
    ]);
    flows.add(
        dp,
        Stage::LsOutCheckPortSec,
        100,
        &Match::pred(Pred::EthMcast),
        &mcast_ok,
    );
    let check_out = Actions(vec![
        Action::Assign(
            reg::PORT_SEC_DROP,
            Value::Call("check_out_port_sec", vec![]),
        ),
        Action::Next,
    ]);
    flows.add(dp, Stage::LsOutCheckPortSec, 0, &always, &check_out);
    flows.add(dp, Stage::LsOutApplyPortSec, 50, &port_sec_failed, &drop);
    flows.add(
        dp,
        Stage::LsOutApplyPortSec,
        0,
        &always,
        &Actions::one(Action::Output),
    );
}
