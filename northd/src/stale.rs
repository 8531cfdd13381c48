//! Rows ovn-controller writes that name datapaths and ports, deleted by northd when what they
//! name is gone, as ovn-northd 23.03 does on each recompute:
//! - a `MAC_Binding` whose `datapath` is not a datapath northd keeps, or whose `logical_port`
//!   names no port binding at all (its `datapath` is a strong reference: the row would
//!   otherwise keep a deleted datapath from going, failing the whole transaction);
//! - an `FDB` entry whose `dp_key` is no datapath's tunnel key, or whose `port_key` is no port
//!   key of that datapath.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::content::SbContent;
use crate::diff::{SbRows, SbTxn};

/// Adds to `b` the deletion of the stale `MAC_Binding` and `FDB` rows of `current`, with `new`
/// the content written and `dp_uuid` the UUID (or placeholder) of each of its datapaths.
pub(crate) fn plan(current: &SbRows, new: &SbContent, dp_uuid: &[Uuid], b: &mut SbTxn<'_>) {
    if !current.mac_bindings.is_empty() {
        let live: HashSet<Uuid> = dp_uuid.iter().copied().collect();
        let ports: HashSet<&str> = new.ports.iter().map(|p| p.name.as_str()).collect();
        for m in current.mac_bindings.values() {
            if !live.contains(&m.datapath.uuid()) || !ports.contains(m.logical_port.as_str()) {
                b.delete(m.uuid);
            }
        }
    }
    if !current.fdbs.is_empty() {
        let dps: HashMap<i64, usize> = new
            .datapaths
            .iter()
            .enumerate()
            .map(|(i, d)| (i64::from(d.tunnel_key), i))
            .collect();
        let ports: HashSet<(usize, i64)> = new
            .ports
            .iter()
            .map(|p| (p.datapath, i64::from(p.tunnel_key)))
            .collect();
        for f in current.fdbs.values() {
            let ok = dps
                .get(&f.dp_key)
                .is_some_and(|dp| ports.contains(&(*dp, f.port_key)));
            if !ok {
                b.delete(f.uuid);
            }
        }
    }
}
