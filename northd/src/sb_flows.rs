//! Southbound `Logical_Flow` rows as compact records: a row's UUID, a 128-bit hash of its
//! identity and its datapath reference, instead of its texts.
//!
//! A flow's identity is what the diff matches rows on: pipeline, table, priority, match,
//! actions, `controller_meter` and `tags:in_out_port` ([`FlowId`]); with its datapath or
//! datapath group ([`FlowDp`]) it says which row is which. Northd writes tens of thousands of
//! flows and never reads their texts back, so [`SbFlows`] is all it keeps of them: about 60
//! bytes a flow where a replicated row with its texts and an index on them takes several
//! hundred. `ovnkit northd` monitors `Logical_Flow` without inserts (the server does not echo
//! the rows it writes) and records its own inserts here from the transaction's reply
//! ([`FlowWrites`]).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use ovn_sb::model as sb;
use uuid::Uuid;

use crate::flow::FlowKey;
use crate::snapshot::Rows;

/// A 128-bit hash of a flow's identity: pipeline, table, priority, match, actions,
/// `controller_meter` and `tags:in_out_port` (not its datapaths). Two flows with equal ids are
/// taken to be the same flow (two 64-bit multiply-fold hashes with their own per-process keys
/// and multipliers, computed in one pass over the texts, whose collisions would have to
/// coincide: not a practical concern for flows northd itself writes). Ids are compared within
/// one process only: they are never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId([u64; 2]);

/// The per-process keys of [`IdHasher`]: two starting states and two finishing keys (odd).
fn id_keys() -> [u64; 4] {
    static KEYS: OnceLock<[u64; 4]> = OnceLock::new();
    *KEYS.get_or_init(|| {
        let s = std::collections::hash_map::RandomState::new();
        [1u64, 2, 3, 4].map(|i| s.hash_one(i) | 1)
    })
}

/// The 128-bit hash of a [`FlowId`]: two multiply-fold lanes (each word of the input is
/// mixed into both, each lane with its own key and multiplier), one pass over the texts.
struct IdHasher {
    a: u64,
    b: u64,
}

/// The multiplier of lane `a` (PCG's).
const MUL_A: u64 = 0x5851_f42d_4c95_7f2d;
/// The multiplier of lane `b` (the 64-bit golden ratio).
const MUL_B: u64 = 0x9e37_79b9_7f4a_7c15;

/// The two halves of the 128-bit product of `x` and `y`, exclusive-or'ed.
fn fold(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

impl IdHasher {
    fn new() -> Self {
        let k = id_keys();
        Self { a: k[0], b: k[1] }
    }

    fn mix(&mut self, w: u64) {
        self.a = fold(self.a ^ w, MUL_A);
        self.b = fold(self.b ^ w.rotate_left(32), MUL_B);
    }

    /// `t`'s length, then its bytes eight at a time (the last word zero-padded).
    fn text(&mut self, t: &str) {
        let bytes = t.as_bytes();
        self.mix(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }

    fn finish(&self) -> FlowId {
        let k = id_keys();
        FlowId([fold(self.a, k[2]), fold(self.b, k[3])])
    }
}

/// Pipeline code in a [`FlowId`]: ingress 0, egress 1.
fn pipeline_code(p: ovn_sb::Pipeline) -> u8 {
    match p {
        ovn_sb::Pipeline::Ingress => 0,
        ovn_sb::Pipeline::Egress => 1,
    }
}

impl FlowId {
    /// The id of a flow from its parts (`pipeline` 0 for ingress, 1 for egress).
    pub fn new(
        pipeline: u8,
        table: i64,
        priority: i64,
        match_: &str,
        actions: &str,
        meter: Option<&str>,
        io_port: Option<&str>,
    ) -> Self {
        let mut h = IdHasher::new();
        h.mix(u64::from(pipeline));
        // Two's complement bits: every `i64` its own word.
        h.mix(table as u64);
        h.mix(priority as u64);
        h.text(match_);
        h.text(actions);
        for part in [meter, io_port] {
            match part {
                Some(t) => {
                    h.mix(1);
                    h.text(t);
                }
                None => h.mix(0),
            }
        }
        h.finish()
    }

    /// The id of flow `k` as [`crate::diff::plan`] writes it.
    pub fn of_key(k: &FlowKey) -> Self {
        Self::of_key_with_port(k, k.io_port())
    }

    /// [`Self::of_key`] with `k`'s [`FlowKey::io_port`] known to be `io_port`.
    pub(crate) fn of_key_with_port(k: &FlowKey, io_port: Option<&str>) -> Self {
        Self::new(
            pipeline_code(k.stage.pipeline()),
            i64::from(k.stage.table()),
            i64::from(k.priority),
            &k.match_,
            &k.actions,
            k.meter.as_deref(),
            io_port,
        )
    }

    /// The id of SB row `f`.
    pub fn of_row(f: &sb::LogicalFlow) -> Self {
        let pipeline = match f.pipeline {
            sb::LogicalFlowPipeline::Ingress => 0,
            sb::LogicalFlowPipeline::Egress => 1,
        };
        Self::new(
            pipeline,
            f.table_id,
            f.priority,
            &f.match_,
            &f.actions,
            f.controller_meter.as_deref(),
            f.tags.get("in_out_port").map(String::as_str),
        )
    }

    /// An id no flow has: what a row whose content is unknown (modified by another client)
    /// is recorded with, so that the next diff replaces it.
    pub const UNKNOWN: Self = Self([0, 0]);
}

/// The datapaths of a `Logical_Flow` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowDp {
    /// Neither `logical_datapath` nor `logical_dp_group`.
    None,
    /// `logical_datapath`.
    One(Uuid),
    /// `logical_dp_group`.
    Group(Uuid),
}

impl FlowDp {
    /// The datapath reference of SB row `f` (`logical_datapath` first, as the diff reads it).
    pub fn of_row(f: &sb::LogicalFlow) -> Self {
        match (&f.logical_datapath, &f.logical_dp_group) {
            (Some(d), _) => Self::One(d.uuid()),
            (None, Some(g)) => Self::Group(g.uuid()),
            (None, None) => Self::None,
        }
    }
}

/// One recorded row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    id: FlowId,
    uuid: Uuid,
    dp: FlowDp,
}

/// Rows recorded one at a time, by UUID, with a lookup by id.
#[derive(Debug, Clone, Default)]
struct Loose {
    by_uuid: HashMap<Uuid, (FlowId, FlowDp)>,
    /// One row of each id; further rows with the same id (rare: the same flow on other
    /// datapaths, or copies) in `more`.
    by_id: HashMap<FlowId, Uuid>,
    more: HashMap<FlowId, Vec<Uuid>>,
}

impl Loose {
    fn insert(&mut self, uuid: Uuid, id: FlowId, dp: FlowDp) {
        self.remove(&uuid);
        self.by_uuid.insert(uuid, (id, dp));
        match self.by_id.entry(id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(uuid);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(id).or_default().push(uuid);
            }
        }
    }

    fn remove(&mut self, uuid: &Uuid) -> bool {
        let Some((id, _)) = self.by_uuid.remove(uuid) else {
            return false;
        };
        if self.by_id.get(&id) == Some(uuid) {
            self.by_id.remove(&id);
            if let Some(v) = self.more.get_mut(&id) {
                if let Some(next) = v.pop() {
                    self.by_id.insert(id, next);
                }
                if v.is_empty() {
                    self.more.remove(&id);
                }
            }
        } else if let Some(v) = self.more.get_mut(&id) {
            v.retain(|u| u != uuid);
            if v.is_empty() {
                self.more.remove(&id);
            }
        }
        true
    }

    fn with_id(&self, id: FlowId) -> impl Iterator<Item = (Uuid, FlowDp)> + '_ {
        self.by_id
            .get(&id)
            .into_iter()
            .chain(self.more.get(&id).into_iter().flatten())
            .filter_map(|u| self.by_uuid.get(u).map(|(_, dp)| (*u, *dp)))
    }
}

/// `Logical_Flow` rows by UUID, as ids and datapath references, with a lookup by id.
///
/// A full round records tens of thousands of rows at once: those are kept in a vector sorted
/// by id (lookups by binary search) with their positions sorted by UUID, about 60 bytes a row,
/// where hash maps by UUID and by id took about 200 (at the load factor a table just past a
/// power of two has). Rows recorded one at a time later (incremental rounds) go to small
/// hash maps, and rows removed from the vector are marked; both are merged into a new vector
/// once they amount to a quarter of it.
#[derive(Debug, Clone, Default)]
pub struct SbFlows {
    /// Rows recorded in bulk, sorted by id then UUID (removed ones included, see `gone`).
    base: Vec<Rec>,
    /// The positions in `base`, sorted by UUID.
    base_by_uuid: Vec<u32>,
    /// Bit `i` set: `base[i]` was removed.
    gone: Vec<u64>,
    n_gone: usize,
    /// Rows recorded one at a time since `base` was made (none of them in `base`).
    loose: Loose,
}

/// Rows recorded at once from which [`SbFlows::apply`] merges them into the sorted vector
/// directly instead of one at a time.
const BULK: usize = 1024;

impl SbFlows {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records of `rows`.
    pub fn from_rows(rows: &Rows<sb::LogicalFlow>) -> Self {
        let mut out = Self::default();
        out.merge(
            rows.values()
                .map(|f| Rec {
                    id: FlowId::of_row(f),
                    uuid: f.uuid.uuid(),
                    dp: FlowDp::of_row(f),
                })
                .collect(),
        );
        out
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.base.len() - self.n_gone + self.loose.by_uuid.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_gone(&self, i: usize) -> bool {
        self.gone
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The position in `base` of row `uuid`, if it is there and not removed.
    fn base_pos(&self, uuid: &Uuid) -> Option<usize> {
        let k = self
            .base_by_uuid
            .binary_search_by(|&p| self.base[p as usize].uuid.cmp(uuid))
            .ok()?;
        let i = self.base_by_uuid[k] as usize;
        (!self.is_gone(i)).then_some(i)
    }

    /// Whether row `uuid` is recorded.
    pub fn contains(&self, uuid: &Uuid) -> bool {
        self.loose.by_uuid.contains_key(uuid) || self.base_pos(uuid).is_some()
    }

    /// Records row `uuid` (replacing what was recorded for it).
    pub fn insert(&mut self, uuid: Uuid, id: FlowId, dp: FlowDp) {
        self.remove(&uuid);
        self.loose.insert(uuid, id, dp);
        self.maybe_compact();
    }

    /// Forgets row `uuid`; true when it was recorded.
    pub fn remove(&mut self, uuid: &Uuid) -> bool {
        if self.loose.remove(uuid) {
            return true;
        }
        let Some(i) = self.base_pos(uuid) else {
            return false;
        };
        if self.gone.len() < self.base.len().div_ceil(64) {
            self.gone.resize(self.base.len().div_ceil(64), 0);
        }
        self.gone[i / 64] |= 1 << (i % 64);
        self.n_gone += 1;
        true
    }

    /// Marks row `uuid` as of unknown content ([`FlowId::UNKNOWN`]): the next diff deletes it
    /// (and writes the flow anew if it is still wanted). No-op for a row not recorded.
    pub fn forget_content(&mut self, uuid: &Uuid) {
        let dp = match self.loose.by_uuid.get(uuid) {
            Some((_, dp)) => Some(*dp),
            None => self.base_pos(uuid).map(|i| self.base[i].dp),
        };
        if let Some(dp) = dp {
            self.insert(*uuid, FlowId::UNKNOWN, dp);
        }
    }

    /// The rows with id `id`, with their datapath references.
    pub fn with_id(&self, id: FlowId) -> impl Iterator<Item = (Uuid, FlowDp)> + '_ {
        let start = self.base.partition_point(|r| r.id < id);
        let end = start + self.base[start..].partition_point(|r| r.id == id);
        (start..end)
            .filter(|i| !self.is_gone(*i))
            .map(|i| (self.base[i].uuid, self.base[i].dp))
            .chain(self.loose.with_id(id))
    }

    /// Every row, sorted by UUID (a stable order from run to run).
    pub fn sorted(&self) -> Vec<(Uuid, FlowId, FlowDp)> {
        let mut v: Vec<(Uuid, FlowId, FlowDp)> = Vec::with_capacity(self.len());
        v.extend(
            self.base_by_uuid
                .iter()
                .map(|&p| p as usize)
                .filter(|&i| !self.is_gone(i))
                .map(|i| (self.base[i].uuid, self.base[i].id, self.base[i].dp)),
        );
        if !self.loose.by_uuid.is_empty() {
            v.extend(
                self.loose
                    .by_uuid
                    .iter()
                    .map(|(u, (id, dp))| (*u, *id, *dp)),
            );
            v.sort_unstable_by_key(|r| r.0);
        }
        v
    }

    /// Makes one sorted vector of every row and `more` (rows not recorded yet).
    fn merge(&mut self, more: Vec<Rec>) {
        let mut all: Vec<Rec> = Vec::with_capacity(self.len() + more.len());
        all.extend(
            self.base
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.is_gone(*i))
                .map(|(_, r)| *r),
        );
        self.base = Vec::new();
        all.extend(self.loose.by_uuid.iter().map(|(u, (id, dp))| Rec {
            id: *id,
            uuid: *u,
            dp: *dp,
        }));
        self.loose = Loose::default();
        all.extend(more);
        all.sort_unstable_by_key(|r| (r.id, r.uuid));
        // A UUID recorded twice (which callers do not do) keeps one record.
        let mut by_uuid: Vec<u32> = (0..all.len())
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        by_uuid.sort_unstable_by_key(|&p| all[p as usize].uuid);
        by_uuid.dedup_by_key(|p| all[*p as usize].uuid);
        self.gone = vec![0; all.len().div_ceil(64)];
        self.n_gone = 0;
        if by_uuid.len() != all.len() {
            let mut keep = vec![false; all.len()];
            for &p in &by_uuid {
                keep[p as usize] = true;
            }
            let mut k = keep.iter();
            all.retain(|_| k.next().copied().unwrap_or(false));
            return self.merge(all);
        }
        self.base = all;
        self.base_by_uuid = by_uuid;
    }

    /// Merges the loose and removed rows into a new vector once they amount to a quarter of
    /// it.
    fn maybe_compact(&mut self) {
        let churn = self.loose.by_uuid.len() + self.n_gone;
        if churn > BULK && churn > self.base.len() / 4 {
            self.merge(Vec::new());
        }
    }

    /// Applies what a committed transaction did to `Logical_Flow`: `writes` as the
    /// transaction's [`crate::diff::SbTxn::flow_writes`] gave them, `inserted` the UUID the
    /// server gave the row of each `insert` operation (by operation index). Inserts whose UUID
    /// (or whose new datapath's or group's UUID) the reply does not give are not recorded.
    pub fn apply(&mut self, writes: &FlowWrites, inserted: impl Fn(usize) -> Option<Uuid>) {
        for u in &writes.deleted {
            self.remove(u);
        }
        let mut bulk = Vec::new();
        if writes.inserted.len() >= BULK {
            bulk.reserve_exact(writes.inserted.len());
        }
        for w in &writes.inserted {
            let dp = match w.dp {
                WrittenDp::Known(dp) => Some(dp),
                WrittenDp::NewDatapath(op) => inserted(op).map(FlowDp::One),
                WrittenDp::NewGroup(op) => inserted(op).map(FlowDp::Group),
            };
            if let (Some(u), Some(dp)) = (inserted(w.op), dp) {
                if writes.inserted.len() >= BULK {
                    // New rows (the server gave them fresh UUIDs), recorded yet only if a
                    // notice of them was taken for another client's.
                    if self.contains(&u) {
                        self.remove(&u);
                    }
                    bulk.push(Rec {
                        id: w.id,
                        uuid: u,
                        dp,
                    });
                } else {
                    self.insert(u, w.id, dp);
                }
            }
        }
        if !bulk.is_empty() {
            self.merge(bulk);
        }
        self.maybe_compact();
    }
}

/// The datapath reference of a flow a transaction inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrittenDp {
    /// An existing row (or none).
    Known(FlowDp),
    /// `logical_datapath`: the datapath inserted by operation `.0` of the same transaction.
    NewDatapath(usize),
    /// `logical_dp_group`: the group inserted by operation `.0` of the same transaction.
    NewGroup(usize),
}

/// One `Logical_Flow` insert of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenFlow {
    /// The operation's index in the transaction.
    pub op: usize,
    /// The flow's identity.
    pub id: FlowId,
    /// Its datapaths.
    pub dp: WrittenDp,
}

/// What a transaction does to `Logical_Flow`, for [`SbFlows::apply`] once it has committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowWrites {
    /// Rows deleted.
    pub deleted: Vec<Uuid>,
    /// Rows inserted.
    pub inserted: Vec<WrittenFlow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn ids_tell_flows_apart_and_rows_match_keys() {
        let a = FlowId::new(0, 1, 100, "ip4", "next;", None, None);
        assert_eq!(a, FlowId::new(0, 1, 100, "ip4", "next;", None, None));
        for b in [
            FlowId::new(1, 1, 100, "ip4", "next;", None, None),
            FlowId::new(0, 2, 100, "ip4", "next;", None, None),
            FlowId::new(0, 1, 101, "ip4", "next;", None, None),
            FlowId::new(0, 1, 100, "ip4n", "ext;", None, None),
            FlowId::new(0, 1, 100, "ip4", "next;", Some(""), None),
            FlowId::new(0, 1, 100, "ip4", "next;", None, Some("")),
        ] {
            assert_ne!(a, b);
            // Each half tells them apart on its own.
            assert_ne!(a.0[0], b.0[0]);
            assert_ne!(a.0[1], b.0[1]);
        }
        let k = FlowKey {
            stage: ovn_sb::stage::Stage::LsInL2Lkup,
            priority: 50,
            match_: "eth.dst == 00:00:00:00:00:01".into(),
            actions: "outport = \"p1\"; output;".into(),
            meter: None,
        };
        let mut row = crate::diff::flow_row(&k);
        row.logical_datapath = Some(ovsdb::model::Ref::new(u(7)));
        assert_eq!(FlowId::of_key(&k), FlowId::of_row(&row));
        assert_eq!(FlowDp::of_row(&row), FlowDp::One(u(7)));
    }

    #[test]
    fn records_follow_inserts_removals_and_duplicates() {
        let id = FlowId::new(0, 1, 1, "1", "next;", None, None);
        let mut f = SbFlows::new();
        f.insert(u(1), id, FlowDp::One(u(10)));
        f.insert(u(2), id, FlowDp::One(u(11)));
        f.insert(u(3), id, FlowDp::Group(u(12)));
        let mut got: Vec<_> = f.with_id(id).collect();
        got.sort();
        assert_eq!(got.len(), 3);
        assert!(f.remove(&u(1)));
        assert!(!f.remove(&u(1)));
        assert_eq!(f.with_id(id).count(), 2);
        f.forget_content(&u(2));
        assert_eq!(
            f.with_id(id).collect::<Vec<_>>(),
            vec![(u(3), FlowDp::Group(u(12)))]
        );
        assert_eq!(f.with_id(FlowId::UNKNOWN).count(), 1);
        assert!(f.remove(&u(3)));
        assert_eq!(f.with_id(id).count(), 0);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn bulk_records_and_loose_ones_read_alike() {
        let n = 3 * BULK as u128;
        let id = |i: u128| FlowId::new(0, 1, (i % 500) as i64, "1", "next;", None, None);
        let writes = FlowWrites {
            deleted: Vec::new(),
            inserted: (0..n)
                .map(|i| WrittenFlow {
                    op: i as usize,
                    id: id(i),
                    dp: WrittenDp::Known(FlowDp::One(u(1_000_000 + i))),
                })
                .collect(),
        };
        let mut f = SbFlows::new();
        f.insert(u(5), FlowId::UNKNOWN, FlowDp::None);
        f.apply(&writes, |op| Some(u(op as u128)));
        assert_eq!(f.len(), n as usize);
        assert!(f.contains(&u(5)));
        assert_eq!(f.with_id(FlowId::UNKNOWN).count(), 0);
        let of7 = (0..n).filter(|i| i % 500 == 7).count();
        assert_eq!(f.with_id(id(7)).count(), of7);
        // Removed from the vector, recorded loose, changed in place.
        assert!(f.remove(&u(7)));
        assert!(!f.remove(&u(7)));
        assert!(!f.contains(&u(7)));
        f.insert(u(7), id(8), FlowDp::Group(u(9)));
        f.forget_content(&u(507));
        assert_eq!(f.len(), n as usize);
        assert_eq!(f.with_id(id(7)).count(), of7 - 2);
        assert!(f.with_id(id(8)).any(|r| r == (u(7), FlowDp::Group(u(9)))));
        assert_eq!(
            f.with_id(FlowId::UNKNOWN).collect::<Vec<_>>(),
            vec![(u(507), FlowDp::One(u(1_000_507)))]
        );
        let sorted = f.sorted();
        assert_eq!(sorted.len(), f.len());
        assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0));
        // Enough churn merges everything into one vector; reads stay the same.
        let before = f.sorted();
        for i in 0..n {
            if i % 2 == 0 {
                f.remove(&u(i));
            }
        }
        for i in 0..n {
            if i % 2 == 0 {
                f.insert(u(i), id(i), FlowDp::One(u(1_000_000 + i)));
            }
        }
        assert!(f.loose.by_uuid.len() + f.n_gone <= f.base.len() / 4 + BULK + 1);
        let mut after = f.sorted();
        after.sort_unstable();
        let mut before = before;
        before.sort_unstable();
        assert_eq!(after, before);
    }

    #[test]
    fn committed_writes_resolve_new_datapaths_and_groups() {
        let id = FlowId::new(0, 1, 1, "1", "next;", None, None);
        let mut f = SbFlows::new();
        f.insert(u(1), id, FlowDp::One(u(10)));
        let writes = FlowWrites {
            deleted: vec![u(1)],
            inserted: vec![
                WrittenFlow {
                    op: 2,
                    id,
                    dp: WrittenDp::NewDatapath(0),
                },
                WrittenFlow {
                    op: 3,
                    id,
                    dp: WrittenDp::NewGroup(1),
                },
                WrittenFlow {
                    op: 4,
                    id,
                    dp: WrittenDp::Known(FlowDp::One(u(10))),
                },
            ],
        };
        f.apply(&writes, |op| Some(u(100 + op as u128)));
        assert!(!f.contains(&u(1)));
        let mut got: Vec<_> = f.with_id(id).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (u(102), FlowDp::One(u(100))),
                (u(103), FlowDp::Group(u(101))),
                (u(104), FlowDp::One(u(10))),
            ]
        );
    }
}
