//! DNS records: ovn-northd 23.03 writes one SB `DNS` row per NB `DNS` row that switches use
//! (their `dns_records`), with its `records`, the datapaths of those switches and
//! `external_ids:dns_id` naming the NB row (by which rows are matched). ovn-controller answers
//! DNS queries of ports on those switches from it.

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::model as sb;
use ovsdb::model::{Ref, SortedMap};
use uuid::Uuid;

use crate::content::SbContent;
use crate::diff::{SbRows, SbTxn};
use crate::error::NorthdError;
use crate::flow::DpIndex;
use crate::snapshot::NbSnapshot;

/// One SB `DNS` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsContent {
    /// `records`.
    pub records: SortedMap<String, String>,
    /// The switches using it.
    pub datapaths: BTreeSet<DpIndex>,
}

/// The `DNS` rows of `nb`, by NB UUID, for the switches of `content` (its datapaths).
pub fn build(nb: &NbSnapshot, content: &SbContent) -> BTreeMap<Uuid, DnsContent> {
    let by_nb: BTreeMap<Uuid, DpIndex> = content
        .datapaths
        .iter()
        .enumerate()
        .map(|(i, d)| (d.nb_uuid, i))
        .collect();
    let mut out: BTreeMap<Uuid, DnsContent> = BTreeMap::new();
    for ls in nb.switches.values() {
        let Some(&dp) = by_nb.get(&ls.uuid.uuid()) else {
            continue;
        };
        for r in &ls.dns_records {
            let Some(d) = nb.dns.get(r) else { continue };
            let e = out.entry(r.uuid()).or_default();
            e.records.clone_from(&d.records);
            e.datapaths.insert(dp);
        }
    }
    out
}

/// Adds to `b` what brings the SB `DNS` rows of `current` to `new`, with `dp_uuid` the UUID (or
/// placeholder) of each datapath.
pub(crate) fn plan(
    current: &SbRows,
    new: &BTreeMap<Uuid, DnsContent>,
    dp_uuid: &[Uuid],
    b: &mut SbTxn<'_>,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<Uuid, &sb::Dns> = BTreeMap::new();
    for r in current.dns.values() {
        let id = r
            .external_ids
            .get("dns_id")
            .and_then(|s| Uuid::parse_str(s).ok());
        match id {
            Some(id) if new.contains_key(&id) && !old.contains_key(&id) => {
                old.insert(id, r);
            }
            _ => b.delete(r.uuid),
        }
    }
    for (id, want) in new {
        let old = old.get(id).copied();
        let mut n = old.cloned().unwrap_or_default();
        n.records = want.records.clone().into();
        n.datapaths = want
            .datapaths
            .iter()
            .map(|d| Ref::new(dp_uuid[*d]))
            .collect();
        n.external_ids = BTreeMap::from([("dns_id".to_owned(), id.to_string())]);
        match old {
            Some(o) => b.update(&n, o)?,
            None => {
                b.insert(&n)?;
            }
        }
    }
    Ok(())
}
