//! BFD sessions: ovn-northd 23.03 keeps one SB `BFD` row per NB `BFD` row (same
//! `logical_port` and `dst_ip`; `min_tx`, `min_rx` and `detect_mult` with their defaults 1000,
//! 1000 and 5; not `options` or `external_ids`). A new row gets the lowest free UDP source port
//! from 49152 and a non-zero discriminator; both stay as they are afterwards.
//!
//! `status` is ovn-controller's once the session runs, except that northd turns it on and
//! off: a session a static route of an enabled router uses (its `bfd` column) is enabled (`down` until
//! ovn-controller says otherwise), any other keeps the NB `status` (`admin_down` by default).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use ovn_sb::model as sb;

use crate::diff::{SbRows, SbTxn};
use crate::error::NorthdError;
use crate::snapshot::NbSnapshot;

/// The first UDP source port of BFD sessions.
pub const SRC_PORT_FIRST: i64 = 49152;
/// The last UDP source port of BFD sessions.
pub const SRC_PORT_LAST: i64 = 65535;

/// One session as northd writes it (the SB row's `src_port`, `disc` and, once running,
/// `status` are allocated or kept by `plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdContent {
    /// `logical_port`.
    pub logical_port: String,
    /// `dst_ip`.
    pub dst_ip: String,
    /// `min_tx` (ms).
    pub min_tx: i64,
    /// `min_rx` (ms).
    pub min_rx: i64,
    /// `detect_mult`.
    pub detect_mult: i64,
    /// Whether the session is administratively down (no route uses it and its NB `status` is
    /// unset or `admin_down`).
    pub admin_down: bool,
    /// The NB `status`, written into new rows of sessions that are not down.
    pub nb_status: Option<sb::BfdStatus>,
}

/// The sessions of `nb`, by (logical port, destination). (Two NB rows for one session keep
/// the first by UUID.)
pub fn build(nb: &NbSnapshot) -> BTreeMap<(String, String), BfdContent> {
    // (The routes of a disabled router are not built: they turn no session on.)
    let used: BTreeSet<_> = nb
        .routers
        .values()
        .filter(|lr| lr.enabled != Some(false))
        .flat_map(|lr| &lr.static_routes)
        .filter_map(|r| nb.static_routes.get(r))
        .filter_map(|r| r.bfd)
        .collect();
    let mut out = BTreeMap::new();
    for b in nb.bfd.values() {
        let nb_status = b
            .status
            .and_then(|s| s.as_str().parse::<sb::BfdStatus>().ok());
        let admin_down =
            !used.contains(&b.uuid) && nb_status.is_none_or(|s| s == sb::BfdStatus::AdminDown);
        out.entry((b.logical_port.clone(), b.dst_ip.clone()))
            .or_insert_with(|| BfdContent {
                logical_port: b.logical_port.clone(),
                dst_ip: b.dst_ip.clone(),
                min_tx: b.min_tx.unwrap_or(1000),
                min_rx: b.min_rx.unwrap_or(1000),
                detect_mult: b.detect_mult.unwrap_or(5),
                admin_down,
                nb_status,
            });
    }
    out
}

/// A non-zero discriminator for a new session, the same for the same session.
fn discriminator(port: &str, dst: &str) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (port, dst).hash(&mut h);
    let d = h.finish() as u32;
    i64::from(if d == 0 { 1 } else { d })
}

/// Adds to `b` what brings the SB `BFD` rows of `current` to `new`.
pub(crate) fn plan(
    current: &SbRows,
    new: &BTreeMap<(String, String), BfdContent>,
    b: &mut SbTxn<'_>,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<(&str, &str), &sb::Bfd> = BTreeMap::new();
    for r in current.bfd.values() {
        let key = (r.logical_port.as_str(), r.dst_ip.as_str());
        if new.contains_key(&(key.0.to_owned(), key.1.to_owned())) && !old.contains_key(&key) {
            old.insert(key, r);
        } else {
            b.delete(r.uuid);
        }
    }
    let mut ports: BTreeSet<i64> = old.values().map(|r| r.src_port).collect();
    let mut next = SRC_PORT_FIRST;
    for ((port, dst), want) in new {
        match old.get(&(port.as_str(), dst.as_str())) {
            Some(o) => {
                let mut n = (*o).clone();
                n.min_tx = want.min_tx;
                n.min_rx = want.min_rx;
                n.detect_mult = want.detect_mult;
                match (want.admin_down, o.status == sb::BfdStatus::AdminDown) {
                    (true, false) => n.status = sb::BfdStatus::AdminDown,
                    (false, true) => {
                        n.status = want
                            .nb_status
                            .filter(|s| *s != sb::BfdStatus::AdminDown)
                            .unwrap_or(sb::BfdStatus::Down)
                    }
                    _ => {}
                }
                b.update(&n, o)?;
            }
            None => {
                while ports.contains(&next) {
                    next += 1;
                }
                if next > SRC_PORT_LAST {
                    // Every source port is taken: the session is left out, as ovn-northd does.
                    continue;
                }
                ports.insert(next);
                let status = if want.admin_down {
                    sb::BfdStatus::AdminDown
                } else {
                    want.nb_status
                        .filter(|s| *s != sb::BfdStatus::AdminDown)
                        .unwrap_or(sb::BfdStatus::Down)
                };
                b.insert(&sb::Bfd {
                    src_port: next,
                    disc: discriminator(port, dst),
                    logical_port: port.clone(),
                    dst_ip: dst.clone(),
                    min_tx: want.min_tx,
                    min_rx: want.min_rx,
                    detect_mult: want.detect_mult,
                    status,
                    ..Default::default()
                })?;
            }
        }
    }
    Ok(())
}
