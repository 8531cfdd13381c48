//! Logical flows compiled to the OpenFlow rules one chassis installs in its logical tables,
//! as ovn-controller 23.03 does.
//!
//! ```text
//!  SB rows ──ChassisView::new──► ChassisView
//!  Logical_Flow rows + view ──compile_chassis_flows──► Flows ──► dump-flows text / flow_mod bytes
//! ```
//!
//! For each logical flow and each of its datapaths that is local to the chassis
//! ([`ChassisView`]): the actions are parsed (once per shape,
//! [`crate::actions::template::ActionTemplates`]) and encoded ([`crate::actions`]), their
//! prerequisites ANDed into the match, the match compiled ([`crate::compile_match`], through a
//! [`crate::conjuncts::ConjunctCache`] shared by the chassis's flows) with the
//! datapath's sets, residency and port keys, and every resulting match gets
//! `metadata=<datapath key>`.  Flows go to table 8+N (ingress) or 42+N (egress) with the flow's
//! priority and the cookie `0x<first 8 hex digits of the Logical_Flow UUID>`.
//!
//! Conjunctive matches get conjunction ids allocated per (logical flow, datapath) from a start
//! derived from the flow's UUID, so that unchanged input compiles to identical output.  Clause
//! flows carry cookie 0 (as 23.03 installs them), and clause flows of different logical flows
//! with equal table, priority and match are merged into one flow with all their
//! `conjunction` actions.  An identical (table, priority, match) produced twice keeps the
//! first flow, as ovn-controller's desired flow table does.
//!
//! A logical flow tagged `in_out_port` naming a VIF that is not bound here yields no flows.
//! Flows whose match or actions fail to compile are skipped and listed in [`Flows::errors`].
//!
//! A logical flow's `controller_meter` (CoPP) goes on each of its controller actions but `log`
//! (`meter_id`, from the same meter id table as `log`'s meters).
//!
//! Not modelled: the physical tables (0, 37..41, 64, 65 and helpers) that ovn-controller's
//! physical.c writes.

mod ofp;
mod sb;
mod template;
mod view;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::actions::ast::{Action, Value};
use crate::actions::template::{ActionTemplates, Shape};
use crate::actions::{
    encode, encode_actions, encode_actions_marked, format_of_actions, Actions, EncodeContext,
    FlowPosition, OfAction, Pipeline,
};
use crate::annotate::SetResolver;
use crate::condition::ChassisResident;
use crate::conjuncts::ConjunctCache;
use crate::fxhash::{FxHashMap, FxHasher};
use crate::lex::IntConst;
use crate::matches::{
    pack_exact_into, push_dec, push_hex, Conjunction, Match, Matches, PackedMatch, PortLookup,
};
use crate::symtab::{OfField, Symtab};

pub use ofp::{flow_mod, FlowModError};
pub use sb::{
    format_uuid, AddressSetRow, ChassisRow, DatapathRow, DpGroupRow, HaChassisGroupRow,
    HaChassisRow, LogicalFlowRow, MulticastGroupRow, PortBindingRow, PortGroupRow, RowId, SbTables,
    TemplateVarRow,
};
pub use view::{
    rows_from_table_json, ChassisView, DatapathLookup, DatapathView, PortView, MAX_PATCH_DEPTH,
};

/// First OpenFlow table of the logical ingress pipeline.
pub const INGRESS_BASE: u8 = encode::tables::LOG_INGRESS_PIPELINE;
/// First OpenFlow table of the logical egress pipeline.
pub const EGRESS_BASE: u8 = encode::tables::LOG_EGRESS_PIPELINE;

/// An error building a chassis view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChassisError {
    /// No `Chassis` row has this name.
    #[error("no chassis named {0:?} in the Southbound database")]
    NoChassis(String),
    /// A row could not be read.
    #[error("bad {table} row: {message}")]
    Row {
        /// Table.
        table: String,
        /// What was wrong.
        message: String,
    },
    /// A `select` reply ([`SbTables::from_select_reply`]) is not shaped as RFC 7047 says.
    #[error("{0}")]
    Reply(String),
}

/// Why one logical flow produced no flows for a datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    /// The Logical_Flow UUID, hyphenated.
    pub lflow: String,
    /// The datapath tunnel key.
    pub datapath: u32,
    /// The error, as text.
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "logical flow {} (datapath {}): {}",
            self.lflow, self.datapath, self.message
        )
    }
}

/// What an OpenFlow rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowActions {
    /// A conjunction clause flow: its `conjunction(id, k/n)` actions.
    Conjunctions(Vec<Conjunction>),
    /// Ordinary actions (empty means drop), shared by the flows whose logical flows have the
    /// same action text (when its encoding does not depend on the datapath).
    Actions(Arc<[OfAction]>),
}

impl fmt::Display for FlowActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conjunctions(c) => {
                for (i, c) in c.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Self::Actions(a) => f.write_str(&format_of_actions(a)),
        }
    }
}

/// One OpenFlow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfFlow {
    /// OpenFlow table.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Cookie (first 32 bits of the logical flow's UUID; 0 for conjunction clause flows).
    pub cookie: u32,
    /// Match, including `metadata` (packed: [`PackedMatch::unpack`] gives the [`Match`]).
    ///
    /// [`Match`]: crate::matches::Match
    pub matches: PackedMatch,
    /// Actions.
    pub actions: FlowActions,
    /// Index into the input logical flows of the flow that produced it.
    pub lflow_index: u32,
}

impl fmt::Display for OfFlow {
    /// `ovs-ofctl -O OpenFlow15 dump-flows --no-stats` syntax, without the leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(256);
        self.write_text(&mut s, &mut TextScratch::default(), false);
        f.write_str(&s)
    }
}

impl OfFlow {
    /// Appends the flow's text (what `Display` gives), with `scratch`'s storage, and with
    /// `share_actions` the texts of shared action lists from (and into) `scratch`.
    fn write_text<'a>(
        &'a self,
        out: &mut String,
        scratch: &mut TextScratch<'a>,
        share_actions: bool,
    ) {
        if self.cookie != 0 {
            out.push_str("cookie=");
            push_hex(out, u128::from(self.cookie));
            out.push_str(", ");
        }
        if self.table != 0 {
            out.push_str("table=");
            push_dec(out, u128::from(self.table));
            out.push_str(", ");
        }
        out.push_str("priority=");
        push_dec(out, u128::from(self.priority));
        if !self.matches.is_catchall() {
            out.push(',');
            self.matches.write_text(out, &mut scratch.matches);
        }
        out.push_str(" actions=");
        match &self.actions {
            FlowActions::Conjunctions(c) => {
                for (i, c) in c.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str("conjunction(");
                    push_dec(out, u128::from(c.id));
                    out.push(',');
                    push_dec(out, u128::from(c.clause) + 1);
                    out.push('/');
                    push_dec(out, u128::from(c.n_clauses));
                    out.push(')');
                }
            }
            FlowActions::Actions(a) if share_actions => scratch.actions.write(a, out),
            FlowActions::Actions(a) => out.push_str(&format_of_actions(a)),
        }
    }
}

/// What printing flows reuses from one flow to the next.
#[derive(Debug, Default)]
struct TextScratch<'a> {
    /// The match being printed, unpacked.
    matches: Match,
    actions: ActionTexts<'a>,
}

/// The texts of the action lists printed so far, by content: a chassis's flows have a few
/// thousand different action lists, and each is printed once.
#[derive(Debug, Default)]
struct ActionTexts<'a> {
    text: String,
    /// A list → its text's range in `text`.
    by_list: FxHashMap<&'a [OfAction], (usize, usize)>,
}

impl<'a> ActionTexts<'a> {
    fn write(&mut self, a: &'a [OfAction], out: &mut String) {
        let (start, end) = match self.by_list.get(a) {
            Some(r) => *r,
            None => {
                let start = self.text.len();
                self.text.push_str(&format_of_actions(a));
                let r = (start, self.text.len());
                self.by_list.insert(a, r);
                r
            }
        };
        out.push_str(&self.text[start..end]);
    }
}

/// The result of [`compile_chassis_flows`].
#[derive(Debug, Clone, Default)]
pub struct Flows {
    /// The rules, in the order produced (logical flow order, then datapath key).
    pub flows: Vec<OfFlow>,
    /// Group descriptions (`type=select,bucket=...`), group id = index + 1.
    pub groups: Vec<String>,
    /// Meter names, meter id = index + 1.
    pub meters: Vec<String>,
    /// Logical flows skipped for a datapath because they did not compile.
    pub errors: Vec<FlowError>,
    /// The bucket mask assumed for ovn-controller's table of logical flows (from how many it
    /// monitors): of two rules with the same match, the one of the flow whose cookie is in
    /// the higher bucket (`cookie & idl_mask`) is installed. Two flows of one bucket are
    /// ordered by cookie here, while ovn-controller's order inside a bucket depends on the
    /// order the flows arrived in, which SB content does not tell.
    pub idl_mask: u32,
}

impl Flows {
    /// The rules as `ovs-ofctl dump-flows` prints them, sorted by table, then descending
    /// priority, then text.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        // Writing to a `Vec` cannot fail, and the text is ASCII.
        let _ = self.write_text(&mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Writes [`Flows::to_text`] to `out`, without holding the whole text: the flows are
    /// ordered by (table, descending priority), and only the flows of one (table, priority)
    /// are printed at a time, to order them by their text.
    pub fn write_text(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let flows = &self.flows;
        // (table, descending priority) in the high 32 bits, the flow's index in the low ones.
        let mut order: Vec<u64> = flows
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let key = (u64::from(f.table) << 16) | u64::from(u16::MAX - f.priority);
                (key << 32) | i as u64
            })
            .collect();
        order.sort_unstable();
        let mut scratch = TextScratch::default();
        let mut text = String::new();
        // Per line: 16 bytes from where the group's lines start to differ, as two big-endian
        // words (zero-padded), and the line's start and end in `text`.
        let mut lines: Vec<(u64, u64, usize, usize)> = Vec::new();
        for group in order.chunk_by(|a, b| a >> 32 == b >> 32) {
            text.clear();
            lines.clear();
            for &i in group {
                let start = text.len();
                flows[(i & 0xffff_ffff) as usize].write_text(&mut text, &mut scratch, true);
                lines.push((0, 0, start, text.len()));
            }
            if lines.len() > 1 {
                let t = text.as_bytes();
                let first = &t[lines[0].2..lines[0].3];
                let common = lines.iter().fold(first.len(), |n, l| {
                    let line = &t[l.2..l.3];
                    n.min(first.iter().zip(line).take_while(|(a, b)| a == b).count())
                });
                for l in &mut lines {
                    let b = &t[l.2 + common..l.3];
                    let word = |from: usize| {
                        let mut w = [0u8; 8];
                        let from = from.min(b.len());
                        let to = (from + 8).min(b.len());
                        w[..to - from].copy_from_slice(&b[from..to]);
                        u64::from_be_bytes(w)
                    };
                    (l.0, l.1) = (word(0), word(8));
                }
                // The words first, then the whole lines: the same order as comparing the
                // lines alone (their first `common` bytes are equal, and a line has no NUL
                // bytes, so the zeros that pad a short line keep it before the longer lines
                // it begins).
                lines.sort_unstable_by(|a, b| {
                    (a.0, a.1)
                        .cmp(&(b.0, b.1))
                        .then_with(|| t[a.2..a.3].cmp(&t[b.2..b.3]))
                });
            }
            for &(_, _, start, end) in &lines {
                out.write_all(&text.as_bytes()[start..end])?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

/// The flows produced so far by (table, priority, match), without a copy of the match: an
/// open-addressing table of flow indices, compared against the flows themselves.
#[derive(Debug, Default)]
struct FlowIndex {
    /// (high half of the hash, flow index + 1); 0 in the second field is an empty slot.
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl FlowIndex {
    /// Room for `n` flows without growing (at most 5 slots in 8 are used).
    fn with_capacity(n: usize) -> Self {
        let slots = n
            .saturating_mul(8)
            .div_ceil(5)
            .next_power_of_two()
            .max(1024);
        Self {
            slots: vec![(0, 0); slots],
            len: 0,
        }
    }

    fn hash(table: u8, priority: u16, m: &[u8]) -> u64 {
        let mut h = FxHasher::default();
        (table, priority, m).hash(&mut h);
        // The Fx hash mixes its low bits poorly, and the slot comes from the low bits: mix
        // them (the 64-bit finalizer of MurmurHash3).
        let mut x = h.finish();
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    /// The index of the flow with this key, or `None` after recording `index` for it.
    fn find_or_insert(
        &mut self,
        flows: &[OfFlow],
        table: u8,
        priority: u16,
        m: &[u8],
        index: usize,
    ) -> Option<usize> {
        if (self.len + 1) * 8 > self.slots.len() * 5 {
            self.grow(flows);
        }
        let hash = Self::hash(table, priority, m);
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let (t, slot) = self.slots[i];
            if slot == 0 {
                self.slots[i] = (tag, u32::try_from(index + 1).unwrap_or(u32::MAX));
                self.len += 1;
                return None;
            }
            let j = slot as usize - 1;
            if t == tag {
                if let Some(f) = flows.get(j) {
                    if f.table == table && f.priority == priority && f.matches.as_bytes() == m {
                        return Some(j);
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self, flows: &[OfFlow]) {
        let n = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); n]);
        let mask = n - 1;
        for (t, slot) in old {
            if slot == 0 {
                continue;
            }
            let Some(f) = flows.get(slot as usize - 1) else {
                continue;
            };
            let mut i = (Self::hash(f.table, f.priority, f.matches.as_bytes()) as usize) & mask;
            while self.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (t, slot);
        }
    }
}

/// The bucket mask of an OVS `hmap` after `n` insertions (and no removal): when it reaches two
/// entries per bucket it grows to one bucket per entry (at least 4 buckets).
fn hmap_mask(n: usize) -> u32 {
    let mut mask = 0usize;
    let mut count = 2usize;
    while count <= n {
        // At `count` entries (a power of two) the table grows to `count / 2` buckets, or 4.
        if count / 2 > mask {
            mask = (count / 2).next_power_of_two() * 2 - 1;
            mask = mask.max(3);
        }
        count *= 2;
    }
    u32::try_from(mask).unwrap_or(u32::MAX)
}

/// How ovn-controller 23.03 ranks the rules of several logical flows that have the same
/// table, priority and match (it installs the highest): first by kind (ordinary actions over
/// a drop, a drop over conjunction clauses), then, among rules of one kind, by the logical
/// flow it met last in a full recompute.  It processes logical flows in the order of its SB
/// `Logical_Flow` hash table, by bucket, a bucket being the flow's cookie (the first 32 bits
/// of its UUID) masked by `idl_mask`; the same-match rules are then met newest first, so the
/// one of the highest bucket wins.  Two flows of one bucket are ordered by cookie (a guess:
/// their order in the bucket depends on history).  After incremental changes the winner is
/// the rule installed first instead, which SB does not record.
fn install_rank(actions: &FlowActions, cookie: u32, idl_mask: u32) -> (u8, u32, u32) {
    let kind = match actions {
        FlowActions::Conjunctions(_) => 0,
        FlowActions::Actions(a) if a.is_empty() => 1,
        FlowActions::Actions(_) => 2,
    };
    (kind, cookie & idl_mask, cookie)
}

/// Ids handed out by name, from 1, in order of first use.
#[derive(Debug, Default)]
struct IdTable {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl IdTable {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.index.get(name) {
            return *id;
        }
        self.names.push(name.to_owned());
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.index.insert(name.to_owned(), id);
        id
    }
}

/// The encoder's context for one datapath; notes whether a port name was looked up (the
/// result then depends on the datapath).
struct Ctx<'a> {
    lookup: DatapathLookup<'a>,
    groups: &'a mut IdTable,
    meters: &'a mut IdTable,
    /// The cookie of the logical flow being encoded.
    cookie: u32,
    /// Set when the encoding depends on the datapath or on the logical flow (then it is not
    /// shared with other flows of the same action text).
    dp_specific: Cell<bool>,
}

impl EncodeContext for Ctx<'_> {
    fn port_key(&self, name: &str) -> Option<u32> {
        self.dp_specific.set(true);
        self.lookup.action_port_key(name)
    }

    fn sample_collector(&self, set: u32) -> Option<u32> {
        self.lookup.sample_collector(set)
    }

    fn datapath_key(&self) -> u32 {
        self.dp_specific.set(true);
        self.lookup.datapath().tunnel_key
    }

    fn flow_cookie(&self) -> u32 {
        self.dp_specific.set(true);
        self.cookie
    }

    fn meter_id(&mut self, name: &str) -> Option<u32> {
        Some(self.meters.id(name))
    }

    fn group_id(&mut self, description: &str) -> u32 {
        self.groups.id(description)
    }
}

/// The match compiler's lookups for one datapath; notes whether a port group or port name
/// was resolved (the result then depends on the datapath).  Address sets and residency are
/// the same on every datapath.
struct Tracked<'a> {
    lookup: DatapathLookup<'a>,
    dp_specific: Cell<bool>,
}

impl SetResolver for Tracked<'_> {
    fn address_set(&self, name: &str) -> Option<&[IntConst]> {
        self.lookup.address_set(name)
    }

    fn port_group(&self, name: &str) -> Option<&[String]> {
        self.dp_specific.set(true);
        self.lookup.port_group(name)
    }
}

impl ChassisResident for Tracked<'_> {
    fn is_chassis_resident(&self, port: &str) -> bool {
        self.lookup.is_chassis_resident(port)
    }
}

impl PortLookup for Tracked<'_> {
    fn port_key(&self, field: &str, name: &str) -> Option<u32> {
        self.dp_specific.set(true);
        self.lookup.port_key(field, name)
    }
}

/// Allocates conjunction id ranges that do not overlap, from a start derived from the flow.
#[derive(Debug, Default)]
struct ConjIds {
    used: BTreeSet<u32>,
}

impl ConjIds {
    fn alloc(&mut self, lflow: u128, dp: u32, n: u32) -> u32 {
        let mut start = ((lflow >> 96) as u32) ^ dp.wrapping_mul(0x9e37_79b9);
        loop {
            let end = start.checked_add(n);
            let free = start != 0
                && end.is_some()
                && self
                    .used
                    .range(start..end.unwrap_or(u32::MAX))
                    .next()
                    .is_none();
            if free {
                self.used.extend(start..start + n);
                return start;
            }
            start = if end.is_none() { 1 } else { start + 1 };
        }
    }
}

/// One distinct action text of [`compile_chassis_flows`]: parsed once, encoded once per
/// datapath kind (router, switch) unless the encoding named a port.  The syntax tree is not
/// kept once an encoding that names no port is cached (it is parsed again in the rare case
/// that the other datapath kind needs it), so that only the encodings stay in memory.
struct ActionEntry {
    /// `None` once dropped.
    parsed: Option<Result<Actions, crate::ExprError>>,
    /// The prerequisites to AND into the match: ` && (p1) && (p2)...`, empty if none.
    prereqs: String,
    encoded: [Option<Arc<[OfAction]>>; 2],
}

impl ActionEntry {
    /// The entry of a text parsed as `parsed` (filled into or made as the template `shape`),
    /// encoded for the first datapath of the flow that uses it first (`pos`, `ectx`): the
    /// tree is kept only if that encoding failed or named a port (then each datapath encodes
    /// it again; the first one gets the same ids).
    fn new(
        parsed: Result<&Actions, &crate::ExprError>,
        shape: Option<Shape<'_>>,
        symtab: &Symtab,
        pos: FlowPosition,
        ectx: &mut Ctx<'_>,
        encodings: &mut EncodingTemplates,
    ) -> Self {
        let a = match parsed {
            Ok(a) => a,
            Err(e) => {
                return Self {
                    parsed: Some(Err(e.clone())),
                    prereqs: String::new(),
                    encoded: [None, None],
                }
            }
        };
        let mut prereqs = String::new();
        for p in &a.prereqs {
            prereqs.push_str(" && (");
            prereqs.push_str(p);
            prereqs.push(')');
        }
        let mut encoded = [None, None];
        let slot = usize::from(pos.is_switch);
        if let Some(v) = shape.and_then(|s| encodings.fill(s, a, symtab, pos.is_switch)) {
            encoded[slot] = Some(v);
            return Self {
                parsed: None,
                prereqs,
                encoded,
            };
        }
        let mut parsed = None;
        let result = match shape {
            Some(s) => encodings.encode(s, a, symtab, pos, ectx),
            None => encode_actions(a, symtab, pos, ectx),
        };
        match result {
            Ok(v) if !ectx.dp_specific.get() => {
                encoded[slot] = Some(v.into());
            }
            _ => parsed = Some(Ok(a.clone())),
        }
        Self {
            parsed,
            prereqs,
            encoded,
        }
    }
}

/// The encodings of action shapes ([`ActionTemplates`]) per datapath kind: a text filled
/// into a shape whose first encoded text named no port (and used no datapath or flow
/// specific value) encodes as that text did, but for the `set_field` of each top-level
/// `field = constant;` load its constants feed, which is encoded on its own.
///
/// Why: the texts have the same bytes outside those constants, the encoder encodes each
/// top-level action on its own, and such a load (checked on the first text) encodes to one
/// `set_field` made from the load alone.  Group and meter ids come from the other actions,
/// the same for every text of the shape, and were allocated by the first text.
#[derive(Debug, Default)]
struct EncodingTemplates {
    /// By (shape id, switch); `None` for a shape encoded in full every time.
    by_shape: FxHashMap<(u64, bool), Option<EncodingTemplate>>,
    /// Where each top-level action's OpenFlow actions start (reused).
    starts: Vec<usize>,
}

/// The encoding of a shape's first encoded text.
#[derive(Debug)]
struct EncodingTemplate {
    actions: Vec<OfAction>,
    /// For each placeholder: its load's value in that text, and the index in `actions` of
    /// its `set_field` (`None` for a string, which another text must repeat).
    holes: Box<[EncodingHole]>,
}

/// A placeholder of an [`EncodingTemplate`]: its load's value in the template's text, and
/// the index of its `set_field` (`None` for a string).
type EncodingHole = (Value, Option<usize>);

impl EncodingTemplates {
    /// The encoding of `a` (of `shape`) from the shape's template, if it has one.
    fn fill(
        &self,
        shape: Shape<'_>,
        a: &Actions,
        symtab: &Symtab,
        is_switch: bool,
    ) -> Option<Arc<[OfAction]>> {
        let t = self.by_shape.get(&(shape.id, is_switch))?.as_ref()?;
        if t.holes.len() != shape.loads.len() {
            return None;
        }
        let mut out: Option<Vec<OfAction>> = None;
        for (&(at, _), (first, set)) in shape.loads.iter().zip(t.holes.iter()) {
            let Some(Action::Load { dst, value }) = a.actions.get(at) else {
                return None;
            };
            if value == first {
                continue;
            }
            let (Value::Int(c), Some(j)) = (value, set) else {
                return None;
            };
            let of = encode::int_load(symtab, dst, c)?;
            let v = out.get_or_insert_with(|| t.actions.clone());
            *v.get_mut(*j)? = of;
        }
        Some(match out {
            Some(v) => v.into(),
            None => t.actions.as_slice().into(),
        })
    }

    /// Encodes `a` (of `shape`) in full, and makes the shape's template for this datapath
    /// kind if it has none yet.
    fn encode(
        &mut self,
        shape: Shape<'_>,
        a: &Actions,
        symtab: &Symtab,
        pos: FlowPosition,
        ectx: &mut Ctx<'_>,
    ) -> Result<Vec<OfAction>, crate::actions::EncodeError> {
        let key = (shape.id, pos.is_switch);
        if self.by_shape.contains_key(&key) {
            return encode_actions(a, symtab, pos, ectx);
        }
        let mut starts = std::mem::take(&mut self.starts);
        let result = encode_actions_marked(a, symtab, pos, ectx, &mut starts);
        let template = match &result {
            Ok(v) if !ectx.dp_specific.get() => {
                let holes: Option<Box<[EncodingHole]>> = shape
                    .loads
                    .iter()
                    .map(|&(at, _)| {
                        let Some(Action::Load { dst, value }) = a.actions.get(at) else {
                            return None;
                        };
                        let set = match value {
                            Value::Int(c) => {
                                let (s, e) = (*starts.get(at)?, *starts.get(at + 1)?);
                                let of = encode::int_load(symtab, dst, c)?;
                                (e == s + 1 && v.get(s) == Some(&of)).then_some(Some(s))?
                            }
                            Value::Str(_) => None,
                        };
                        Some((value.clone(), set))
                    })
                    .collect();
                holes.map(|holes| EncodingTemplate {
                    actions: v.clone(),
                    holes,
                })
            }
            _ => None,
        };
        self.starts = starts;
        self.by_shape.insert(key, template);
        result
    }
}

/// The datapaths local to the chassis that a logical flow applies to, in tunnel-key order.
fn local_flow_datapaths<'a>(view: &'a ChassisView, flow: &LogicalFlowRow) -> Vec<&'a DatapathView> {
    view.flow_datapaths(flow)
        .into_iter()
        .filter(|(_, d)| view.is_local(d.tunnel_key))
        .map(|(_, d)| d)
        .collect()
}

/// True if ovn-controller 23.03 skips the flow on this chassis because of its `in_out_port`
/// tag: the port is a VIF (or other chassis-bound port) that is not bound here. Patch,
/// localnet and vtep ports count as related to every chassis.
fn skipped_by_in_out_port(flow: &LogicalFlowRow, view: &ChassisView) -> bool {
    let Some(io) = &flow.in_out_port else {
        return false;
    };
    match view.ports.get(&**io) {
        Some(p) => !p.resident && !view::is_always_related(&p.kind),
        None => true,
    }
}

/// Appends a flow, growing the vector by a quarter when it is full rather than doubling it:
/// the vector ends up holding every flow of the chassis, and doubling would leave up to half
/// of it unused until the final `shrink_to_fit`.
fn push_flow(flows: &mut Vec<OfFlow>, flow: OfFlow) {
    if flows.len() == flows.capacity() {
        flows.reserve_exact(flows.capacity() / 4 + 256);
    }
    flows.push(flow);
}

/// Compiles the logical flows of the datapaths local to `view`'s chassis.
pub fn compile_chassis_flows(lflows: &[LogicalFlowRow], view: &ChassisView) -> Flows {
    // The chassis' template variables expanded in the flows' texts, on a copy of the flows.
    let expanded: Vec<LogicalFlowRow>;
    let lflows = if view.template_vars.is_empty() {
        lflows
    } else {
        expanded = lflows
            .iter()
            .map(|lf| {
                let mut lf = lf.clone();
                if let Some(m) = template::expand(&lf.match_, &view.template_vars) {
                    lf.match_ = m.into();
                }
                if let Some(a) = template::expand(&lf.actions, &view.template_vars) {
                    lf.actions = a.into();
                }
                lf
            })
            .collect();
        &expanded
    };
    let symtab = Symtab::ovn();
    let mut groups = IdTable::default();
    let mut meters = IdTable::default();
    let mut conj = ConjIds::default();
    // The front passes of repeated top-level conjuncts, done once (port groups per datapath).
    let mut conjuncts = ConjunctCache::new();
    let mut out = Flows::default();
    // Parsed actions by (text, pipeline, table), with their encodings per datapath kind when
    // those did not depend on the datapath: many logical flows share their actions.
    let mut action_index: FxHashMap<(&str, Pipeline, u8), usize> = FxHashMap::default();
    let mut action_entries: Vec<ActionEntry> = Vec::new();
    // Those texts by shape: most differ from another only in the constants they assign.
    let mut templates = ActionTemplates::new();
    // The encodings of those shapes.
    let mut encodings = EncodingTemplates::default();
    // Local datapaths of each datapath group.
    let mut group_dps: FxHashMap<u128, Vec<&DatapathView>> = FxHashMap::default();
    // The packed bytes of the match being added.
    let mut packed: Vec<u8> = Vec::new();
    // For a match kept for several datapaths, its flows packed once without `metadata`:
    // (start, where metadata goes, end) in `cache_bytes`.
    let mut cache_packed: Vec<(usize, usize, usize)> = Vec::new();
    let mut cache_bytes: Vec<u8> = Vec::new();
    // The local datapaths by UUID: most logical flows name one datapath, usually not a
    // local one, and this small map rejects those cheaply.
    let local_dps: FxHashMap<u128, &DatapathView> = view
        .datapaths
        .iter()
        .filter(|(_, d)| view.is_local(d.tunnel_key))
        .map(|(u, d)| (*u, d))
        .collect();
    // About one flow per (logical flow, local datapath): room for that many flows at once,
    // instead of growing the vector (and the index) step by step, moving the flows each time.
    let mut estimate = 0usize;
    // The logical flows ovn-controller monitors: those of its local datapaths and every one
    // with a datapath group (or all, with `ovn-monitor-all`).
    let mut monitored = 0usize;
    for lf in lflows {
        estimate += match (lf.logical_datapath, lf.logical_dp_group) {
            (Some(dp), None) => {
                let local = usize::from(local_dps.contains_key(&dp));
                monitored += local;
                local
            }
            (None, Some(g)) => {
                monitored += 1;
                group_dps
                    .entry(g)
                    .or_insert_with(|| local_flow_datapaths(view, lf))
                    .len()
            }
            (dp, g) => {
                monitored +=
                    usize::from(g.is_some() || dp.is_some_and(|d| local_dps.contains_key(&d)));
                local_flow_datapaths(view, lf).len()
            }
        };
    }
    if view.monitor_all {
        monitored = lflows.len();
    }
    let estimate = estimate.saturating_add(estimate / 32);
    out.flows.reserve_exact(estimate);
    // (table, priority, match) → index in out.flows.
    let mut seen = FlowIndex::with_capacity(estimate);
    let idl_mask = hmap_mask(monitored);
    out.idl_mask = idl_mask;
    for (index, lf) in lflows.iter().enumerate() {
        let lflow_index = u32::try_from(index).unwrap_or(u32::MAX);
        let owned;
        let single: [&DatapathView; 1];
        let dps: &[&DatapathView] = match (lf.logical_datapath, lf.logical_dp_group) {
            (Some(dp), None) => match local_dps.get(&dp) {
                Some(d) => {
                    single = [*d];
                    &single
                }
                None => continue,
            },
            (None, Some(g)) => group_dps
                .entry(g)
                .or_insert_with(|| local_flow_datapaths(view, lf)),
            _ => {
                owned = local_flow_datapaths(view, lf);
                &owned
            }
        };
        if dps.is_empty() {
            continue;
        }
        if skipped_by_in_out_port(lf, view) {
            continue;
        }
        let uuid_bits = lf.uuid;
        let cookie = (uuid_bits >> 96) as u32;
        let pipeline = lf.pipeline;
        let base = match pipeline {
            Pipeline::Ingress => INGRESS_BASE,
            Pipeline::Egress => EGRESS_BASE,
        };
        let (Ok(table_id), Ok(priority)) = (u8::try_from(lf.table_id), u16::try_from(lf.priority))
        else {
            continue;
        };
        let table = base.saturating_add(table_id);
        let err = |dp: u32, message: String| FlowError {
            lflow: format_uuid(uuid_bits),
            datapath: dp,
            message,
        };
        let entry_index = match action_index.entry((&*lf.actions, pipeline, table_id)) {
            std::collections::hash_map::Entry::Occupied(o) => *o.get(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Some(&first) = dps.first() else {
                    continue;
                };
                let mut ectx = Ctx {
                    lookup: view.for_datapath(first),
                    groups: &mut groups,
                    meters: &mut meters,
                    cookie,
                    dp_specific: Cell::new(false),
                };
                let pos = FlowPosition {
                    pipeline,
                    table: table_id,
                    is_switch: first.is_switch,
                };
                let entry =
                    templates.parse_with_shape(&lf.actions, pipeline, table_id, |parsed, shape| {
                        ActionEntry::new(parsed, shape, symtab, pos, &mut ectx, &mut encodings)
                    });
                action_entries.push(entry);
                *v.insert(action_entries.len() - 1)
            }
        };
        let Some(entry) = action_entries.get_mut(entry_index) else {
            continue;
        };
        // The match when it did not depend on the datapath, reused for the flow's other
        // datapaths.
        let mut match_cache: Option<Matches> = None;
        for (dp_pos, &dp) in dps.iter().enumerate() {
            // Whether another datapath of this flow comes after this one (only then is a
            // match worth keeping).
            let more = dp_pos + 1 < dps.len();
            if let Some(Err(e)) = &entry.parsed {
                out.errors.push(err(
                    dp.tunnel_key,
                    format!("actions: {}", e.render(&lf.actions)),
                ));
                continue;
            }
            let lookup = view.for_datapath(dp);
            let slot = usize::from(dp.is_switch);
            let of_actions = match &entry.encoded[slot] {
                Some(a) => a.clone(),
                None => {
                    let parsed = entry
                        .parsed
                        .get_or_insert_with(|| templates.parse(&lf.actions, pipeline, table_id));
                    let Ok(actions) = parsed else {
                        continue;
                    };
                    let mut ectx = Ctx {
                        lookup,
                        groups: &mut groups,
                        meters: &mut meters,
                        cookie,
                        dp_specific: Cell::new(false),
                    };
                    let pos = FlowPosition {
                        pipeline,
                        table: table_id,
                        is_switch: dp.is_switch,
                    };
                    match encode_actions(actions, symtab, pos, &mut ectx) {
                        Ok(a) => {
                            let a: Arc<[OfAction]> = a.into();
                            if !ectx.dp_specific.get() {
                                entry.encoded[slot] = Some(a.clone());
                                entry.parsed = None;
                            }
                            a
                        }
                        Err(e) => {
                            out.errors
                                .push(err(dp.tunnel_key, format!("encoding actions: {e}")));
                            continue;
                        }
                    }
                }
            };
            let of_actions = match lf.controller_meter.as_deref() {
                Some(m) => Arc::from(encode::with_controller_meter(&of_actions, meters.id(m))),
                None => of_actions,
            };
            // The match compiled for this datapath, when it is not the cached one.
            let mut fresh: Option<Matches> = None;
            if match_cache.is_none() {
                let text: std::borrow::Cow<'_, str> = if entry.prereqs.is_empty() {
                    std::borrow::Cow::Borrowed(&lf.match_)
                } else {
                    let mut t = String::with_capacity(lf.match_.len() + 2 + entry.prereqs.len());
                    t.push('(');
                    t.push_str(&lf.match_);
                    t.push(')');
                    t.push_str(&entry.prereqs);
                    std::borrow::Cow::Owned(t)
                };
                let tracked = Tracked {
                    lookup,
                    dp_specific: Cell::new(false),
                };
                let (result, scoped) =
                    conjuncts.compile(&text, symtab, &tracked, &tracked, &tracked, dp.tunnel_key);
                if scoped {
                    tracked.dp_specific.set(true);
                }
                match result {
                    Ok(m) => {
                        if more && !tracked.dp_specific.get() {
                            cache_packed.clear();
                            cache_bytes.clear();
                            for em in &m.matches {
                                let start = cache_bytes.len();
                                let split = em
                                    .flow
                                    .pack_without_into(OfField::Metadata, &mut cache_bytes);
                                cache_packed.push((start, split, cache_bytes.len()));
                            }
                            match_cache = Some(m);
                        } else {
                            fresh = Some(m);
                        }
                    }
                    Err(e) => {
                        out.errors
                            .push(err(dp.tunnel_key, format!("match: {}", e.render(&text))));
                        continue;
                    }
                }
            }
            // Conjunction ids are allocated per datapath: a cached match with conjunctions is
            // copied to renumber them; any other is read in place.
            let mut renumbered: Option<Matches> = None;
            if let Some(f) = fresh.as_mut() {
                if f.n_conjs > 0 {
                    let base = conj.alloc(uuid_bits, dp.tunnel_key, f.n_conjs);
                    f.rebase_conj_ids(base);
                }
            } else if let Some(c) = match_cache.as_ref().filter(|c| c.n_conjs > 0) {
                let mut c = c.clone();
                let base = conj.alloc(uuid_bits, dp.tunnel_key, c.n_conjs);
                c.rebase_conj_ids(base);
                renumbered = Some(c);
            }
            let Some(m) = fresh
                .as_ref()
                .or(renumbered.as_ref())
                .or(match_cache.as_ref())
            else {
                continue;
            };
            let use_cache = fresh.is_none() && renumbered.is_none();
            for (i, em) in m.matches.iter().enumerate() {
                if dp.is_switch {
                    // ovn-controller installs a switch flow's match only if the port it
                    // matches (ingress `inport`, egress `outport`) is related to the chassis.
                    let reg = match pipeline {
                        Pipeline::Ingress => OfField::Reg(14),
                        Pipeline::Egress => OfField::Reg(15),
                    };
                    let port = em.flow.get(reg).map_or(0, |m| m.value);
                    if port != 0
                        && !u32::try_from(port).is_ok_and(|k| dp.related_ports.contains(&k))
                    {
                        continue;
                    }
                }
                packed.clear();
                let pre_packed =
                    cache_packed
                        .get(i)
                        .filter(|_| use_cache)
                        .and_then(|&(s, split, e)| {
                            Some((cache_bytes.get(s..split)?, cache_bytes.get(split..e)?))
                        });
                if let Some((before, after)) = pre_packed {
                    packed.extend_from_slice(before);
                    pack_exact_into(OfField::Metadata, u64::from(dp.tunnel_key), &mut packed);
                    packed.extend_from_slice(after);
                } else {
                    em.flow.pack_with_exact_into(
                        OfField::Metadata,
                        u64::from(dp.tunnel_key),
                        &mut packed,
                    );
                }
                let existing =
                    seen.find_or_insert(&out.flows, table, priority, &packed, out.flows.len());
                if em.conjunctions.is_empty() {
                    if let Some(f) = existing.and_then(|o| out.flows.get_mut(o)) {
                        // Another logical flow's rule has this table, priority and match:
                        // keep the one ovn-controller installs.
                        let actions = FlowActions::Actions(of_actions.clone());
                        if install_rank(&actions, cookie, idl_mask)
                            > install_rank(&f.actions, f.cookie, idl_mask)
                        {
                            f.cookie = cookie;
                            f.actions = actions;
                            f.lflow_index = lflow_index;
                        }
                        continue;
                    }
                    push_flow(
                        &mut out.flows,
                        OfFlow {
                            table,
                            priority,
                            cookie,
                            matches: PackedMatch::from_packed(&packed),
                            actions: FlowActions::Actions(of_actions.clone()),
                            lflow_index,
                        },
                    );
                } else {
                    if let Some(o) = existing {
                        if let Some(FlowActions::Conjunctions(c)) =
                            out.flows.get_mut(o).map(|f| &mut f.actions)
                        {
                            c.extend_from_slice(&em.conjunctions);
                        }
                        continue;
                    }
                    push_flow(
                        &mut out.flows,
                        OfFlow {
                            table,
                            priority,
                            cookie: 0,
                            matches: PackedMatch::from_packed(&packed),
                            actions: FlowActions::Conjunctions(em.conjunctions.clone()),
                            lflow_index,
                        },
                    );
                }
            }
        }
    }
    out.flows.shrink_to_fit();
    out.groups = groups.names;
    out.meters = meters.names;
    out
}
