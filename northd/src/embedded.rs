//! Running northd once over in-process databases: the loop embedders (the C and Python
//! bindings) share, so they stay thin wrappers over this crate.
//!
//! [`plan_once`] reads an NB and an SB [`Database`], compiles the NB snapshot and returns the one
//! SB transaction that brings SB up to date (the [`plan`] plus `SB_Global` `nb_cfg`);
//! [`run_once`] also applies it to the SB database. Callers that persist commits themselves (a
//! file-backed database) take the plan and run the transaction through their own storage.

use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

use crate::diff::{plan, SbRows};
use crate::{build, NbSnapshot, NbWarning, NorthdError};

/// The SB transaction one northd run makes, and the warnings the compilation produced.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// RFC 7047 `transact` params (`["OVN_Southbound", op...]`), or `None` when SB is already up
    /// to date.
    pub transaction: Option<Value>,
    /// Problems in the NB input that were logged and worked around.
    pub warnings: Vec<NbWarning>,
}

/// What one [`run_once`] did.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// How many SB operations the transaction carried (0 when SB was already up to date).
    pub operations: usize,
    /// Problems in the NB input that were logged and worked around.
    pub warnings: Vec<NbWarning>,
}

/// Compiles `nb` and returns the SB transaction that brings `sb` up to date: the row diff, plus an
/// update of `SB_Global` `nb_cfg` when an `SB_Global` row exists and lags behind `NB_Global`.
pub fn plan_once(nb: &Database, sb: &Database) -> Result<RunPlan, NorthdError> {
    let snapshot = NbSnapshot::from_database(nb)?;
    let current = SbRows::from_database(sb)?;
    let content = build(&snapshot, &current.state());
    let nb_cfg = snapshot.nb_global.as_ref().map_or(0, |g| g.nb_cfg);
    let mut txn = plan(&current, &content)?;
    if current
        .sb_global
        .as_ref()
        .is_some_and(|g| g.nb_cfg != nb_cfg)
    {
        txn.push_json(nb_cfg_update(nb_cfg));
    }
    let transaction = if txn.is_empty() {
        None
    } else {
        Some(txn.to_value()?)
    };
    drop(txn);
    Ok(RunPlan {
        transaction,
        warnings: content.warnings,
    })
}

/// The operation that sets `SB_Global` `nb_cfg` (for [`crate::diff::SbTxn::push_json`]).
pub fn nb_cfg_update(nb_cfg: i64) -> Value {
    json!({"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": nb_cfg}})
}

/// Runs northd once: compiles `nb` and applies the difference to `sb` as one transaction (see
/// [`plan_once`]). Fails with [`NorthdError::SbTransaction`] when SB rejects it.
pub fn run_once(nb: &Database, sb: &mut Database) -> Result<RunStats, NorthdError> {
    let plan = plan_once(nb, sb)?;
    let Some(params) = plan.transaction else {
        return Ok(RunStats {
            operations: 0,
            warnings: plan.warnings,
        });
    };
    let operations = params.as_array().map_or(0, |a| a.len().saturating_sub(1));
    match sb.transact(&params, &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            if let Some(e) = first_error(&results) {
                return Err(NorthdError::SbTransaction(e));
            }
        }
        TxnOutcome::Blocked { .. } => {
            return Err(NorthdError::SbTransaction(
                "transaction blocked on a \"wait\" operation".to_owned(),
            ))
        }
    }
    Ok(RunStats {
        operations,
        warnings: plan.warnings,
    })
}

/// The first `{"error": ...}` of a `transact` result array, as `error: details`.
pub fn first_error(results: &Value) -> Option<String> {
    results.as_array()?.iter().find_map(|r| {
        let e = r.get("error")?.as_str().unwrap_or_default();
        Some(match r.get("details").and_then(Value::as_str) {
            Some(d) => format!("{e}: {d}"),
            None => e.to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str) -> Database {
        match name {
            "nb" => Database::new(ovn_nb::model::schema().clone()),
            _ => Database::new(ovn_sb::model::schema().clone()),
        }
    }

    #[test]
    fn empty_nb_then_idempotent() {
        let nb = db("nb");
        let mut sb = db("sb");
        let first = run_once(&nb, &mut sb).unwrap();
        let second = run_once(&nb, &mut sb).unwrap();
        assert_eq!(second.operations, 0, "first run: {first:?}");
    }
}
