//! Port mirroring: ovn-northd 23.03 copies every NB `Mirror` row into an SB `Mirror` row of the
//! same name (`name`, `filter`, `sink`, `type`, `index`; not `external_ids`), and sets each
//! switch port's `Port_Binding` `mirror_rules` to the SB rows of its NB `mirror_rules`.
//! ovn-controller builds the tunnels and the OVS mirrors from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ovn_sb::model as sb;
use uuid::Uuid;

use crate::diff::{SbRows, SbTxn};
use crate::error::NorthdError;
use crate::snapshot::NbSnapshot;

/// The SB `Mirror` rows and the ports that use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    /// SB `Mirror` rows (without UUIDs), by name.
    pub rows: BTreeMap<String, sb::Mirror>,
    /// Mirror names of each switch port that has any, by port name.
    pub ports: BTreeMap<String, BTreeSet<String>>,
}

/// The mirrors of `nb`. (Two NB rows of one name, which the NB index forbids, keep the first by
/// UUID.)
pub fn build(nb: &NbSnapshot) -> Mirrors {
    let mut rows = BTreeMap::new();
    for m in nb.mirrors.values() {
        rows.entry(m.name.clone()).or_insert_with(|| sb::Mirror {
            name: m.name.clone(),
            // Both schemas allow the same values.
            filter: m.filter.as_str().parse().unwrap_or_default(),
            sink: m.sink.clone(),
            type_: m.type_.as_str().parse().unwrap_or_default(),
            index: m.index,
            ..Default::default()
        });
    }
    let ports = nb
        .switch_ports
        .values()
        .filter(|l| !l.mirror_rules.is_empty())
        .map(|l| {
            let names = l
                .mirror_rules
                .iter()
                .filter_map(|r| nb.mirrors.get(r))
                .map(|m| m.name.clone())
                .collect();
            (l.name.clone(), names)
        })
        .collect();
    Mirrors { rows, ports }
}

/// Adds to `b` what brings the SB `Mirror` rows of `current` to `new`; returns the UUID (or
/// placeholder) of each row by name, for `Port_Binding` `mirror_rules`.
pub(crate) fn plan(
    current: &SbRows,
    new: &Mirrors,
    b: &mut SbTxn<'_>,
) -> Result<HashMap<String, Uuid>, NorthdError> {
    let mut old: BTreeMap<&str, &sb::Mirror> = BTreeMap::new();
    for m in current.mirrors.values() {
        if old.insert(m.name.as_str(), m).is_some() {
            // A second row of one name (the SB index forbids it): the later one goes.
            b.delete(m.uuid);
        }
    }
    let mut out = HashMap::with_capacity(new.rows.len());
    for (name, want) in &new.rows {
        let u = match old.remove(name.as_str()) {
            Some(o) => {
                let mut n = o.clone();
                n.filter = want.filter;
                n.sink.clone_from(&want.sink);
                n.type_ = want.type_;
                n.index = want.index;
                n.external_ids = BTreeMap::new();
                b.update(&n, o)?;
                o.uuid.uuid()
            }
            None => b.insert(want)?,
        };
        out.insert(name.clone(), u);
    }
    for o in old.values() {
        b.delete(o.uuid);
    }
    Ok(out)
}
