//! Logical flows compiled to the OpenFlow rules one chassis installs in its logical tables,
//! as ovn-controller 23.03 does.
//!
//! ```text
//!  SB rows ──ChassisView::new──► ChassisView
//!  Logical_Flow rows + view ──compile_chassis_flows──► Flows ──► dump-flows text / flow_mod bytes
//! ```
//!
//! For each logical flow and each of its datapaths that is local to the chassis
//! ([`ChassisView`]): the actions are parsed and encoded ([`crate::actions`]), their
//! prerequisites ANDed into the match, the match compiled ([`crate::compile_match`]) with the
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
//! Not modelled: `controller_meter` (Copp) on controller actions, and the physical tables
//! (0, 37..41, 64, 65 and helpers) that ovn-controller's physical.c writes.

mod ofp;
mod view;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use ovn_sb::model::{LogicalFlow, LogicalFlowPipeline};

use crate::actions::{
    encode_actions, format_of_actions, parse_actions, Actions, EncodeContext, FlowPosition,
    OfAction, ParseContext, Pipeline,
};
use crate::annotate::SetResolver;
use crate::compile_match;
use crate::condition::ChassisResident;
use crate::fxhash::{FxHashMap, FxHasher};
use crate::lex::IntConst;
use crate::matches::{Conjunction, Match, Matches, PortLookup};
use crate::symtab::{OfField, Symtab};

pub use ofp::{flow_mod, FlowModError};
pub use view::{
    rows_from_table_json, ChassisView, DatapathLookup, DatapathView, PortView, SbTables,
    MAX_PATCH_DEPTH,
};

/// First OpenFlow table of the logical ingress pipeline.
pub const INGRESS_BASE: u8 = crate::actions::encode::tables::LOG_INGRESS_PIPELINE;
/// First OpenFlow table of the logical egress pipeline.
pub const EGRESS_BASE: u8 = crate::actions::encode::tables::LOG_EGRESS_PIPELINE;

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
    /// Match, including `metadata`.
    pub matches: Match,
    /// Actions.
    pub actions: FlowActions,
    /// Index into the input logical flows of the flow that produced it.
    pub lflow_index: usize,
}

impl fmt::Display for OfFlow {
    /// `ovs-ofctl -O OpenFlow15 dump-flows --no-stats` syntax, without the leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cookie != 0 {
            write!(f, "cookie={:#x}, ", self.cookie)?;
        }
        if self.table != 0 {
            write!(f, "table={}, ", self.table)?;
        }
        write!(f, "priority={}", self.priority)?;
        if !self.matches.is_catchall() {
            write!(f, ",{}", self.matches)?;
        }
        write!(f, " actions={}", self.actions)
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
}

impl Flows {
    /// The rules as `ovs-ofctl dump-flows` prints them, sorted by table, then descending
    /// priority, then text.
    pub fn to_text(&self) -> String {
        let mut v: Vec<(u8, std::cmp::Reverse<u16>, String)> = self
            .flows
            .iter()
            .map(|f| (f.table, std::cmp::Reverse(f.priority), f.to_string()))
            .collect();
        v.sort();
        let mut out = String::new();
        for (_, _, s) in v {
            out.push_str(&s);
            out.push('\n');
        }
        out
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
    fn hash(table: u8, priority: u16, m: &Match) -> u64 {
        let mut h = FxHasher::default();
        (table, priority, m).hash(&mut h);
        h.finish()
    }

    /// The index of the flow with this key, or `None` after recording `index` for it.
    fn find_or_insert(
        &mut self,
        flows: &[OfFlow],
        table: u8,
        priority: u16,
        m: &Match,
        index: usize,
    ) -> Option<usize> {
        if (self.len + 1) * 2 > self.slots.len() {
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
                    if f.table == table && f.priority == priority && f.matches == *m {
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
            let mut i = (Self::hash(f.table, f.priority, &f.matches) as usize) & mask;
            while self.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (t, slot);
        }
    }
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
    dp_specific: Cell<bool>,
}

impl EncodeContext for Ctx<'_> {
    fn port_key(&self, name: &str) -> Option<u32> {
        self.dp_specific.set(true);
        self.lookup.action_port_key(name)
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
/// datapath kind (router, switch) unless the encoding named a port.
struct ActionEntry {
    parsed: Result<Actions, crate::ExprError>,
    encoded: [Option<Arc<[OfAction]>>; 2],
}

/// The datapaths local to the chassis that a logical flow applies to, in tunnel-key order.
fn local_flow_datapaths<'a>(view: &'a ChassisView, flow: &LogicalFlow) -> Vec<&'a DatapathView> {
    if let (Some(dp), None) = (flow.logical_datapath, flow.logical_dp_group) {
        return view
            .datapaths
            .get(&dp.uuid().as_u128())
            .filter(|d| view.is_local(d.tunnel_key))
            .into_iter()
            .collect();
    }
    view.flow_datapaths(flow)
        .into_iter()
        .filter(|(_, d)| view.is_local(d.tunnel_key))
        .map(|(_, d)| d)
        .collect()
}

/// True if ovn-controller 23.03 skips the flow on this chassis because of its `in_out_port`
/// tag: the port is a VIF (or other chassis-bound port) that is not bound here.
fn skipped_by_in_out_port(flow: &LogicalFlow, view: &ChassisView) -> bool {
    let Some(io) = flow.tags.get("in_out_port") else {
        return false;
    };
    match view.ports.get(io) {
        Some(p) => !p.resident && p.kind != "patch" && p.kind != "localnet",
        None => true,
    }
}

/// Compiles the logical flows of the datapaths local to `view`'s chassis.
pub fn compile_chassis_flows(lflows: &[LogicalFlow], view: &ChassisView) -> Flows {
    let symtab = Symtab::ovn();
    let mut groups = IdTable::default();
    let mut meters = IdTable::default();
    let mut conj = ConjIds::default();
    let mut out = Flows::default();
    // (table, priority, match) → index in out.flows.
    let mut seen = FlowIndex::default();
    // Parsed actions by (text, pipeline, table), with their encodings per datapath kind when
    // those did not depend on the datapath: many logical flows share their actions.
    let mut action_index: FxHashMap<(&str, Pipeline, u8), usize> = FxHashMap::default();
    let mut action_entries: Vec<ActionEntry> = Vec::new();
    // Local datapaths of each datapath group.
    let mut group_dps: FxHashMap<u128, Vec<&DatapathView>> = FxHashMap::default();
    for (index, lf) in lflows.iter().enumerate() {
        let owned;
        let dps: &[&DatapathView] = match (lf.logical_datapath, lf.logical_dp_group) {
            (None, Some(g)) => group_dps
                .entry(g.uuid().as_u128())
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
        let uuid = lf.uuid.uuid();
        let uuid_bits = uuid.as_u128();
        let cookie = (uuid_bits >> 96) as u32;
        let (pipeline, base) = match lf.pipeline {
            LogicalFlowPipeline::Ingress => (Pipeline::Ingress, INGRESS_BASE),
            LogicalFlowPipeline::Egress => (Pipeline::Egress, EGRESS_BASE),
        };
        let (Ok(table_id), Ok(priority)) = (u8::try_from(lf.table_id), u16::try_from(lf.priority))
        else {
            continue;
        };
        let table = base.saturating_add(table_id);
        let err = |dp: u32, message: String| FlowError {
            lflow: uuid.to_string(),
            datapath: dp,
            message,
        };
        let entry_index = *action_index
            .entry((lf.actions.as_str(), pipeline, table_id))
            .or_insert_with(|| {
                let pctx = ParseContext::new(pipeline, table_id);
                action_entries.push(ActionEntry {
                    parsed: parse_actions(&lf.actions, &pctx),
                    encoded: [None, None],
                });
                action_entries.len() - 1
            });
        let Some(ActionEntry {
            parsed,
            encoded: action_cache,
        }) = action_entries.get_mut(entry_index)
        else {
            continue;
        };
        // The match when it did not depend on the datapath, reused for the flow's other
        // datapaths.
        let mut match_cache: Option<Matches> = None;
        for &dp in dps {
            let actions = match &*parsed {
                Ok(a) => a,
                Err(e) => {
                    out.errors.push(err(
                        dp.tunnel_key,
                        format!("actions: {}", e.render(&lf.actions)),
                    ));
                    continue;
                }
            };
            let lookup = view.for_datapath(dp);
            let slot = usize::from(dp.is_switch);
            let of_actions = match &action_cache[slot] {
                Some(a) => a.clone(),
                None => {
                    let mut ectx = Ctx {
                        lookup,
                        groups: &mut groups,
                        meters: &mut meters,
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
                                action_cache[slot] = Some(a.clone());
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
            let mut m = match &match_cache {
                Some(m) => m.clone(),
                None => {
                    let text = if actions.prereqs.is_empty() {
                        lf.match_.clone()
                    } else {
                        let mut t = format!("({})", lf.match_);
                        for p in &actions.prereqs {
                            t.push_str(&format!(" && ({p})"));
                        }
                        t
                    };
                    let tracked = Tracked {
                        lookup,
                        dp_specific: Cell::new(false),
                    };
                    match compile_match(&text, symtab, &tracked, &tracked, &tracked) {
                        Ok(m) => {
                            if !tracked.dp_specific.get() {
                                match_cache = Some(m.clone());
                            }
                            m
                        }
                        Err(e) => {
                            out.errors
                                .push(err(dp.tunnel_key, format!("match: {}", e.render(&text))));
                            continue;
                        }
                    }
                }
            };
            if m.n_conjs > 0 {
                let base = conj.alloc(uuid_bits, dp.tunnel_key, m.n_conjs);
                m.rebase_conj_ids(base);
            }
            for em in m.matches {
                let mut flow_match = em.flow;
                flow_match.set_exact(OfField::Metadata, u128::from(dp.tunnel_key));
                let existing =
                    seen.find_or_insert(&out.flows, table, priority, &flow_match, out.flows.len());
                flow_match.shrink_to_fit();
                if em.conjunctions.is_empty() {
                    if existing.is_some() {
                        continue;
                    }
                    out.flows.push(OfFlow {
                        table,
                        priority,
                        cookie,
                        matches: flow_match,
                        actions: FlowActions::Actions(of_actions.clone()),
                        lflow_index: index,
                    });
                } else {
                    if let Some(o) = existing {
                        if let Some(FlowActions::Conjunctions(c)) =
                            out.flows.get_mut(o).map(|f| &mut f.actions)
                        {
                            c.extend(em.conjunctions);
                        }
                        continue;
                    }
                    out.flows.push(OfFlow {
                        table,
                        priority,
                        cookie: 0,
                        matches: flow_match,
                        actions: FlowActions::Conjunctions(em.conjunctions),
                        lflow_index: index,
                    });
                }
            }
        }
    }
    out.flows.shrink_to_fit();
    out.groups = groups.names;
    out.meters = meters.names;
    out
}
