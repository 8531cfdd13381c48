//! Chassis template variables: ovn-northd 23.03 copies every NB `Chassis_Template_Var` row into
//! an SB row for the same `chassis`, with its `variables` (not `external_ids`). ovn-controller
//! expands `^NAME` references in flows and load balancers from the row of its own chassis.

use std::collections::BTreeMap;

use ovn_sb::model as sb;

use crate::diff::{SbRows, SbTxn};
use crate::error::NorthdError;
use crate::snapshot::NbSnapshot;

/// The variables of each chassis, by chassis name.
pub type TemplateVars = BTreeMap<String, BTreeMap<String, String>>;

/// The template variables of `nb`. (Two NB rows for one chassis, which the NB index forbids,
/// keep the first by UUID.)
pub fn build(nb: &NbSnapshot) -> TemplateVars {
    let mut out = TemplateVars::new();
    for t in nb.template_vars.values() {
        out.entry(t.chassis.clone())
            .or_insert_with(|| t.variables.clone().into());
    }
    out
}

/// Adds to `b` what brings the SB `Chassis_Template_Var` rows of `current` to `new`.
pub(crate) fn plan(
    current: &SbRows,
    new: &TemplateVars,
    b: &mut SbTxn<'_>,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<&str, &sb::ChassisTemplateVar> = BTreeMap::new();
    for t in current.template_vars.values() {
        if old.insert(t.chassis.as_str(), t).is_some() {
            b.delete(t.uuid);
        }
    }
    for (chassis, variables) in new {
        match old.remove(chassis.as_str()) {
            Some(o) => {
                let mut n = o.clone();
                n.variables.clone_from(variables);
                b.update(&n, o)?;
            }
            None => {
                b.insert(&sb::ChassisTemplateVar {
                    chassis: chassis.clone(),
                    variables: variables.clone(),
                    ..Default::default()
                })?;
            }
        }
    }
    for o in old.values() {
        b.delete(o.uuid);
    }
    Ok(())
}
