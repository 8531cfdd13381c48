//! Incremental processing: keep what the last compile made and, for Northbound changes that only
//! touch ordinary ports, rebuild only what they can affect.
//!
//! An [`Engine`] holds the NB snapshot it compiled, the switch and router views, the content
//! (ports, multicast groups, address sets, port groups) and the flows of each *unit* — one
//! switch's or one router's flow builder, a switch's load balancer flows being a unit of their
//! own — with the merged flow table (flow to datapaths).
//! [`Engine::apply`] takes changed NB rows. It handles, incrementally:
//! - `Logical_Switch_Port` inserts, deletes and updates of plain VIF ports (type `""`, no
//!   `dynamic` address, no parent or tag, not named by NAT, load balancer health checks,
//!   virtual ports, container ports or routers);
//! - `Logical_Switch` updates of `ports` only;
//! - `Address_Set` inserts, deletes and updates;
//! - `Port_Group` updates of `ports` only;
//! - `NB_Global` updates that leave `options` alone (`nb_cfg` bumps);
//! - and, through [`Engine::set_ports_up`], `Logical_Switch_Port` updates of `up` alone
//!   (northd's own write-back), patched into the snapshot without typing the rows — unless
//!   `up` is a build input (`ignore_lsp_down=false`, health-checked ports).
//!
//! It rebuilds the views of the switches holding the changed ports, their port bindings and
//! multicast groups, the flows of those switches and of the routers attached to them (a
//! router's flows list its neighbours' addresses, and it also writes flows on its switches),
//! the address sets and SB port groups of the port groups involved (a port group's address
//! sets are patched for the changed ports, not recomputed over every member). A rebuilt
//! switch keeps its load balancer flows: they depend on its load balancer list alone, which
//! these changes leave as it is. Anything else answers
//! [`Step::Full`]: the caller recomputes everything with a new engine. The flows of a
//! datapath all of whose builders were rebuilt are replaced exactly; a rebuilt router's flows
//! on its other switches must come out unchanged, else the step is answered with `Full` too.
//! The result always equals a full build of the same NB with the SB state the engine wrote
//! (tested by the `incremental` property test).
//!
//! [`Engine::plan`] turns the step's [`Delta`] into SB operations, finding the rows to update
//! or delete through an [`SbLookup`] (the caller's SB replica).

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use ovn_nb::addr::{LspAddress, MacAddr};
use ovn_nb::model as nb;
use ovn_sb::model as sb;
use ovsdb::model::{Model, Ref};
use ovsdb::{Atom, Datum, TableSchema};
use serde_json::Value;
use uuid::Uuid;

use crate::build::{build_all, build_switch_ports, port_group_sets, GlobalOptions};
use crate::content::{McGroupContent, PortContent, SbContent};
use crate::diff::SbTxn;
use crate::error::{NbWarning, NorthdError};
use crate::flow::{DpIndex, FlowKey, FlowTable};
use crate::lb::LoadBalancer;
use crate::mcast::SwitchMcastConfig;
use crate::router::{self, Peer, Router, RouterCtx};
use crate::sb_flows::{FlowDp, FlowId};
use crate::snapshot::NbSnapshot;
use crate::state::SbState;
use crate::switch::{self, PortAddrs, Switch, SwitchCtx};

/// One flow builder: the flows of one switch or one router (by position in the views).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Unit {
    /// A switch, but the flows of its load balancers.
    Switch(usize),
    /// The flows of a switch's load balancers (they depend on its load balancer list alone,
    /// which no incremental step changes: kept as they are).
    SwitchLbs(usize),
    /// A router.
    Router(usize),
}

/// One changed NB row: its table, UUID and content now (`None` when deleted), laid out as the
/// given table schema says.
#[derive(Debug, Clone, Copy)]
pub struct NbChange<'a> {
    /// The table name.
    pub table: &'a str,
    /// The row UUID.
    pub uuid: Uuid,
    /// The row as it is now, with the schema of its table; `None` when deleted.
    pub row: Option<(&'a ovsdb::Row, &'a TableSchema)>,
}

/// A switch port row that changed in `up` (and `_version`) alone, as
/// [`Engine::set_ports_up`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortUp {
    /// The `Logical_Switch_Port` row's UUID.
    pub uuid: Uuid,
    /// Its `_version` now.
    pub version: Option<Uuid>,
    /// Its `up` now.
    pub up: Option<bool>,
}

/// What [`Engine::apply`] did.
#[derive(Debug)]
pub enum Step {
    /// The changes were applied; the delta says what SB must change.
    Applied(Delta),
    /// The changes need a full recompute (the engine must be rebuilt with [`Engine::new`]);
    /// the reason.
    Full(&'static str),
}

/// What changed in the content, by natural key.
#[derive(Debug, Default, Clone)]
pub struct Delta {
    /// Port bindings by `logical_port`: the new row, or `None` to delete.
    pub ports: BTreeMap<String, Option<PortContent>>,
    /// Multicast groups by datapath and name: the new row, or `None` to delete.
    pub mc_groups: BTreeMap<(DpIndex, String), Option<McGroupContent>>,
    /// `IP_Multicast` rows of the rebuilt switches.
    pub ip_multicast: BTreeMap<DpIndex, SwitchMcastConfig>,
    /// Address sets by name: the new addresses, or `None` to delete.
    pub address_sets: BTreeMap<String, Option<BTreeSet<String>>>,
    /// SB port groups by name: the new ports, or `None` to delete.
    pub port_groups: BTreeMap<String, Option<BTreeSet<String>>>,
    /// Flows whose datapath set changed: key, old datapaths, new datapaths (empty: none).
    pub flows: Vec<(FlowKey, BTreeSet<DpIndex>, BTreeSet<DpIndex>)>,
    /// NB problems met while rebuilding.
    pub warnings: Vec<NbWarning>,
    /// Time spent in each phase of the step.
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

impl Delta {
    /// True when SB needs no change.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
            && self.mc_groups.is_empty()
            && self.address_sets.is_empty()
            && self.port_groups.is_empty()
            && self.flows.is_empty()
    }
}

/// Finds the current SB rows an incremental plan updates or deletes.
pub trait SbLookup {
    /// The `Datapath_Binding` of the NB switch or router `nb_uuid`.
    fn datapath(&self, nb_uuid: Uuid) -> Option<Uuid>;
    /// The `Port_Binding` named `name`.
    fn port_binding(&self, name: &str) -> Option<sb::PortBinding>;
    /// The UUID of the `Port_Binding` named `name`.
    fn port_binding_uuid(&self, name: &str) -> Option<Uuid> {
        self.port_binding(name).map(|p| p.uuid.uuid())
    }
    /// The `Multicast_Group` `name` of SB datapath `datapath`.
    fn multicast_group(&self, datapath: Uuid, name: &str) -> Option<sb::MulticastGroup>;
    /// The `Address_Set` named `name`.
    fn address_set(&self, name: &str) -> Option<sb::AddressSet>;
    /// The UUID and `addresses` of the `Address_Set` named `name` (as [`Self::address_set`]
    /// finds it), as the lookup holds them: a big set is compared without being typed.
    fn address_set_elements(&self, name: &str) -> Option<(Uuid, SetElements<'_>)> {
        self.address_set(name)
            .map(|a| (a.uuid.uuid(), SetElements::Strings(Cow::Owned(a.addresses))))
    }
    /// The `Port_Group` named `name`.
    fn port_group(&self, name: &str) -> Option<sb::PortGroup>;
    /// The `IP_Multicast` row of SB datapath `datapath`.
    fn ip_multicast(&self, datapath: Uuid) -> Option<sb::IpMulticast>;
    /// The logical flows with the identity of `key` ([`FlowId::of_key`]: pipeline, table,
    /// priority, match, actions, meter, `in_out_port`), as their UUIDs and datapaths.
    fn logical_flows(&self, key: &FlowKey) -> Vec<(Uuid, FlowDp)>;
    /// The datapaths of `Logical_DP_Group` `group`.
    fn dp_group_datapaths(&self, group: Uuid) -> Option<BTreeSet<Uuid>>;
    /// A `Logical_DP_Group` with exactly `datapaths`.
    fn dp_group(&self, datapaths: &BTreeSet<Uuid>) -> Option<Uuid>;
    /// The `Chassis` named `name`, else the one whose hostname is `name`.
    fn chassis(&self, name: &str) -> Option<Uuid>;
    /// The `HA_Chassis_Group` named `name`.
    fn ha_chassis_group(&self, name: &str) -> Option<Uuid>;
    /// The `FDB` rows learned on port `port_key` of SB datapath `datapath` (matched by the
    /// datapath's tunnel key): a deleted port's entries go with it, as in ovn-northd.
    fn fdbs_of_port(&self, datapath: Uuid, port_key: i64) -> Vec<Uuid>;
}

/// The elements of an SB set column of strings, as an [`SbLookup`] holds them.
#[derive(Debug, Clone)]
pub enum SetElements<'a> {
    /// A column value as a database or replica stores it (string atoms, sorted).
    Atoms(Datum),
    /// Typed strings.
    Strings(Cow<'a, BTreeSet<String>>),
}

impl SetElements<'_> {
    /// The elements (sorted) that `self` has and `new` lacks, and those `new` has and `self`
    /// lacks; `None` when an atom is not a string.
    fn changes<'n>(&self, new: &'n BTreeSet<String>) -> Option<(Vec<Atom>, Vec<&'n str>)> {
        let new = new.iter().map(String::as_str);
        match self {
            Self::Atoms(d) => {
                let Datum::Set(a) = d else {
                    return None;
                };
                let a = a.as_slice();
                let mut strs = Vec::with_capacity(a.len());
                for x in a {
                    match x {
                        Atom::String(s) => strs.push(&**s),
                        _ => return None,
                    }
                }
                let (gone, came) = str_changes(strs, new);
                Some((
                    gone.into_iter().map(|g| Atom::String(g.into())).collect(),
                    came,
                ))
            }
            Self::Strings(s) => {
                let (gone, came) = str_changes(s.iter().map(String::as_str), new);
                Some((
                    gone.into_iter().map(|g| Atom::String(g.into())).collect(),
                    came,
                ))
            }
        }
    }
}

/// [`SbLookup`] over [`crate::diff::SbRows`] (tests, embedders with in-memory SB).
#[derive(Debug)]
pub struct RowsLookup<'a> {
    rows: &'a crate::diff::SbRows,
    flows_by_match: HashMap<&'a str, Vec<&'a sb::LogicalFlow>>,
    pb_by_name: HashMap<&'a str, &'a sb::PortBinding>,
    as_by_name: HashMap<&'a str, &'a sb::AddressSet>,
    pg_by_name: HashMap<&'a str, &'a sb::PortGroup>,
    dp_by_nb: HashMap<Uuid, Uuid>,
}

impl<'a> RowsLookup<'a> {
    /// Indexes `rows`.
    pub fn new(rows: &'a crate::diff::SbRows) -> Self {
        let mut flows_by_match: HashMap<&str, Vec<&sb::LogicalFlow>> = HashMap::new();
        for f in rows.logical_flows.values() {
            flows_by_match.entry(f.match_.as_str()).or_default().push(f);
        }
        let pb_by_name = rows
            .ports
            .values()
            .map(|p| (p.logical_port.as_str(), p))
            .collect();
        // The first row of a name, as a scan finds it.
        let mut as_by_name = HashMap::new();
        for a in rows.address_sets.values() {
            as_by_name.entry(a.name.as_str()).or_insert(a);
        }
        let mut pg_by_name = HashMap::new();
        for g in rows.port_groups.values() {
            pg_by_name.entry(g.name.as_str()).or_insert(g);
        }
        let mut dp_by_nb = HashMap::new();
        for d in rows.datapaths.values() {
            for k in ["logical-switch", "logical-router"] {
                if let Some(u) = d.external_ids.get(k).and_then(|v| Uuid::parse_str(v).ok()) {
                    dp_by_nb.entry(u).or_insert(d.uuid.uuid());
                }
            }
        }
        Self {
            rows,
            flows_by_match,
            pb_by_name,
            as_by_name,
            pg_by_name,
            dp_by_nb,
        }
    }
}

impl SbLookup for RowsLookup<'_> {
    fn datapath(&self, nb_uuid: Uuid) -> Option<Uuid> {
        self.dp_by_nb.get(&nb_uuid).copied()
    }

    fn port_binding(&self, name: &str) -> Option<sb::PortBinding> {
        self.pb_by_name.get(name).map(|p| (*p).clone())
    }

    fn port_binding_uuid(&self, name: &str) -> Option<Uuid> {
        self.pb_by_name.get(name).map(|p| p.uuid.uuid())
    }

    fn multicast_group(&self, datapath: Uuid, name: &str) -> Option<sb::MulticastGroup> {
        self.rows
            .multicast_groups
            .values()
            .find(|m| m.datapath.uuid() == datapath && m.name == name)
            .cloned()
    }

    fn address_set(&self, name: &str) -> Option<sb::AddressSet> {
        self.as_by_name.get(name).map(|a| (*a).clone())
    }

    fn address_set_elements(&self, name: &str) -> Option<(Uuid, SetElements<'_>)> {
        self.as_by_name.get(name).map(|a| {
            (
                a.uuid.uuid(),
                SetElements::Strings(Cow::Borrowed(&a.addresses)),
            )
        })
    }

    fn port_group(&self, name: &str) -> Option<sb::PortGroup> {
        self.pg_by_name.get(name).map(|g| (*g).clone())
    }

    fn ip_multicast(&self, datapath: Uuid) -> Option<sb::IpMulticast> {
        self.rows
            .ip_multicast
            .values()
            .find(|m| m.datapath.uuid() == datapath)
            .cloned()
    }

    fn logical_flows(&self, key: &FlowKey) -> Vec<(Uuid, FlowDp)> {
        let id = FlowId::of_key(key);
        self.flows_by_match
            .get(key.match_.as_str())
            .map(|v| {
                v.iter()
                    .filter(|f| FlowId::of_row(f) == id)
                    .map(|f| (f.uuid.uuid(), FlowDp::of_row(f)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn dp_group_datapaths(&self, group: Uuid) -> Option<BTreeSet<Uuid>> {
        self.rows
            .dp_groups
            .get(&Ref::new(group))
            .map(|g| g.datapaths.iter().map(|d| d.uuid()).collect())
    }

    fn dp_group(&self, datapaths: &BTreeSet<Uuid>) -> Option<Uuid> {
        self.rows
            .dp_groups
            .values()
            .find(|g| {
                g.datapaths
                    .iter()
                    .map(|d| d.uuid())
                    .eq(datapaths.iter().copied())
            })
            .map(|g| g.uuid.uuid())
    }

    fn chassis(&self, name: &str) -> Option<Uuid> {
        let all = || self.rows.chassis.values();
        all()
            .find(|c| c.name == name)
            .or_else(|| all().find(|c| c.hostname == name))
            .map(|c| c.uuid.uuid())
    }

    fn ha_chassis_group(&self, name: &str) -> Option<Uuid> {
        self.rows
            .ha_chassis_groups
            .values()
            .find(|g| g.name == name)
            .map(|g| g.uuid.uuid())
    }

    fn fdbs_of_port(&self, datapath: Uuid, port_key: i64) -> Vec<Uuid> {
        let Some(dp_key) = self
            .rows
            .datapaths
            .get(&Ref::new(datapath))
            .map(|d| d.tunnel_key)
        else {
            return Vec::new();
        };
        self.rows
            .fdbs
            .values()
            .filter(|f| f.dp_key == dp_key && f.port_key == port_key)
            .map(|f| f.uuid.uuid())
            .collect()
    }
}

type UnitFlows = Vec<(Arc<FlowKey>, DpIndex)>;

/// A port a step touches, with its port groups and addresses before the step.
type TouchedBefore = (
    Ref<nb::LogicalSwitchPort>,
    BTreeSet<Ref<nb::PortGroup>>,
    Vec<PortAddrs>,
);

/// A changed row with a big set column: the row without that column, and the elements the
/// column gained and lost.
#[derive(Debug)]
enum Patch {
    /// `Logical_Switch` `ports`.
    Switch(
        nb::LogicalSwitch,
        Vec<Ref<nb::LogicalSwitchPort>>,
        Vec<Ref<nb::LogicalSwitchPort>>,
    ),
    /// `Port_Group` `ports`.
    Group(
        nb::PortGroup,
        Vec<Ref<nb::LogicalSwitchPort>>,
        Vec<Ref<nb::LogicalSwitchPort>>,
    ),
    /// `Address_Set` `addresses`.
    Set(nb::AddressSet, Vec<String>, Vec<String>),
}

/// The state of the last compile, updated in place by incremental steps.
#[derive(Debug)]
pub struct Engine {
    nb: NbSnapshot,
    state: SbState,
    content: SbContent,
    globals: GlobalOptions,
    switches: Vec<Switch>,
    routers: Vec<Router>,
    lbs: BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    lb_flows: switch::lb::LbFlowCache,
    router_lb_sets: BTreeSet<String>,
    /// Every flow with its datapaths (sorted).
    flows: FlowIndex,
    /// The flows of the units rebuilt so far (others are built from the old state on first
    /// need), sorted by flow then datapath.
    units: HashMap<Unit, UnitFlows>,
    /// The stages of each switch's load balancer flows ([`switch::lb::vip_stage_mask`]), by
    /// switch, found on first need: a step builds a switch's [`Unit::SwitchLbs`] flow list
    /// only when a flow that changed on the switch is in one of them.
    lb_stage_masks: HashMap<usize, Option<u128>>,
    /// Port_Binding tunnel keys by name (what router builders see).
    port_keys: BTreeMap<String, u32>,
    dp_keys: Vec<u32>,
    /// The CoPP meters of each datapath (unit tables put them on their flows).
    dp_meters: Option<crate::copp::DatapathMeters>,
    /// ARP replies for load balancer health check sources.
    svc_arp: crate::svc_monitor::SvcArp,
    switch_by_nb: HashMap<Ref<nb::LogicalSwitch>, usize>,
    lsp_switches: HashMap<Ref<nb::LogicalSwitchPort>, BTreeSet<usize>>,
    lsp_pgs: HashMap<Ref<nb::LogicalSwitchPort>, BTreeSet<Ref<nb::PortGroup>>>,
    pg_by_name: HashMap<String, Ref<nb::PortGroup>>,
    /// Routers attached to each switch, and switches attached to each router.
    switch_routers: Vec<BTreeSet<usize>>,
    router_switches: Vec<BTreeSet<usize>>,
    /// For each router, its ports (by position) peering each switch, when every port of the
    /// router peering a switch names a `router` port found on exactly one switch; `None`
    /// otherwise (the router is then always rebuilt in full).
    router_peering: Vec<Option<BTreeMap<usize, Vec<usize>>>>,
    /// The MACs router flows other than the neighbour flows of ordinary switch ports resolve
    /// next hops to (router port MACs, NAT `external_mac`s, the all-zero MAC).
    foreign_macs: HashSet<MacAddr>,
    /// Port names other rows refer to (changes to such ports are not handled incrementally).
    special_names: HashSet<String>,
    /// Ports with a `dynamic` address (IPAM: any port change could move allocations).
    dynamic_ports: usize,
    /// Port names load balancer health checks name (`ip_port_mappings`): their `up` is a
    /// build input (`Service_Monitor` rows).
    health_checked: HashSet<String>,
}

fn plain_vif(l: &nb::LogicalSwitchPort) -> bool {
    l.type_.is_empty()
        && l.parent_name.is_none()
        && l.tag_request.is_none()
        && l.tag.is_none()
        && l.ha_chassis_group.is_none()
        && l.mirror_rules.is_empty()
        && !has_dynamic(l)
}

/// True when some address of `l` is dynamic (`dynamic`, `MAC dynamic`, `dynamic IP...`).
fn has_dynamic(l: &nb::LogicalSwitchPort) -> bool {
    l.addresses.iter().any(|a| {
        // Only an address with `dynamic` as its first or second word can parse as one: the
        // others (a MAC and IPs, the common case) are not parsed.
        a.split_whitespace().take(2).any(|w| w == "dynamic")
            && matches!(a.parse::<LspAddress>(), Ok(LspAddress::Dynamic { .. }))
    })
}

fn typed<T: Model>(ch: &NbChange<'_>) -> Result<Option<T>, NorthdError> {
    match ch.row {
        Some((row, ts)) => Ok(Some(T::from_row(row, ts)?)),
        None => Ok(None),
    }
}

/// True when `old` equals `new` in every column but its big set (`set`, which `new` was typed
/// without) and `_version` (`version`); both are as they were afterwards.
fn same_but<T: PartialEq, S: Default, V: Clone>(
    old: &mut T,
    new: &mut T,
    set: fn(&mut T) -> &mut S,
    version: fn(&mut T) -> &mut V,
) -> bool {
    let kept = std::mem::take(set(old));
    let kept_version = std::mem::replace(version(old), version(new).clone());
    let same = *old == *new;
    *version(old) = kept_version;
    *set(old) = kept;
    same
}

/// A changed row typed with its set column `col` left empty (cheap when the set is big), and
/// that column's value; `None` when the table has no such column.
fn typed_without<'r, T: Model>(
    row: &'r ovsdb::Row,
    ts: &TableSchema,
    col: &str,
) -> Result<Option<(T, &'r Datum)>, NorthdError> {
    let Some(i) = ts.column_index(col) else {
        return Ok(None);
    };
    let Some(d) = row.get(i) else {
        return Ok(None);
    };
    let mut light = ovsdb::Row {
        fields: row.fields.clone(),
    };
    light.fields[i] = Datum::empty_set();
    Ok(Some((T::from_row(&light, ts)?, d)))
}

/// The elements of set datum `new` that `old` lacks and those of `old` that `new` lacks, by one
/// ordered walk over both (`cmp` orders an atom against an element, `of` converts an atom
/// added); `None` when `new` is no set or holds an atom of another type.
fn set_changes<E: Clone>(
    new: &Datum,
    old: &BTreeSet<E>,
    cmp: impl Fn(&Atom, &E) -> Option<Ordering>,
    of: impl Fn(&Atom) -> Option<E>,
) -> Option<SetChanges<E>> {
    let Datum::Set(atoms) = new else {
        return None;
    };
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let mut it = old.iter().peekable();
    for a in atoms.as_slice() {
        loop {
            match it.peek() {
                Some(o) => match cmp(a, o)? {
                    Ordering::Less => {
                        added.push(of(a)?);
                        break;
                    }
                    Ordering::Equal => {
                        it.next();
                        break;
                    }
                    Ordering::Greater => {
                        removed.push((*o).clone());
                        it.next();
                    }
                },
                None => {
                    added.push(of(a)?);
                    break;
                }
            }
        }
    }
    removed.extend(it.cloned());
    Some((added, removed))
}

/// Elements added to and removed from a set.
type SetChanges<E> = (Vec<E>, Vec<E>);

/// [`set_changes`] of a set of row references.
fn ref_changes<T>(new: &Datum, old: &BTreeSet<Ref<T>>) -> Option<SetChanges<Ref<T>>> {
    set_changes(
        new,
        old,
        |a, o| a.as_uuid().map(|u| u.cmp(&o.uuid())),
        |a| a.as_uuid().map(Ref::new),
    )
}

/// [`set_changes`] of a set of strings.
fn string_changes(new: &Datum, old: &BTreeSet<String>) -> Option<SetChanges<String>> {
    set_changes(
        new,
        old,
        |a, o| match a {
            Atom::String(s) => Some((**s).cmp(o.as_str())),
            _ => None,
        },
        |a| match a {
            Atom::String(s) => Some(String::from(&**s)),
            _ => None,
        },
    )
}

/// The strings only in `old` (gone) and only in `new` (came), both sorted and distinct, by one
/// ordered walk over both.
fn str_changes<'x, 'y>(
    old: impl IntoIterator<Item = &'x str>,
    new: impl IntoIterator<Item = &'y str>,
) -> (Vec<&'x str>, Vec<&'y str>) {
    let (mut gone, mut came) = (Vec::new(), Vec::new());
    let mut old = old.into_iter().peekable();
    for n in new {
        loop {
            match old.peek() {
                Some(o) => match (*o).cmp(n) {
                    Ordering::Less => {
                        gone.push(*o);
                        old.next();
                    }
                    Ordering::Equal => {
                        old.next();
                        break;
                    }
                    Ordering::Greater => {
                        came.push(n);
                        break;
                    }
                },
                None => {
                    came.push(n);
                    break;
                }
            }
        }
    }
    gone.extend(old);
    (gone, came)
}

/// Inserts `added` into `set` and removes `removed` from it.
fn patch_set<E: Ord>(set: &mut BTreeSet<E>, added: Vec<E>, removed: &[E]) {
    for r in removed {
        set.remove(r);
    }
    set.extend(added);
}

/// Puts a changed row into `snap`.
fn apply_to_snapshot(snap: &mut NbSnapshot, ch: &NbChange<'_>) -> Result<(), NorthdError> {
    macro_rules! put {
        ($field:ident, $ty:ty) => {{
            let r: Ref<$ty> = Ref::new(ch.uuid);
            match typed::<$ty>(ch)? {
                Some(m) => {
                    snap.$field.insert(r, m);
                }
                None => {
                    snap.$field.remove(&r);
                }
            }
        }};
    }
    match ch.table {
        "NB_Global" => snap.nb_global = typed::<nb::NbGlobal>(ch)?,
        "Logical_Switch" => put!(switches, nb::LogicalSwitch),
        "Logical_Switch_Port" => put!(switch_ports, nb::LogicalSwitchPort),
        "Logical_Router" => put!(routers, nb::LogicalRouter),
        "Logical_Router_Port" => put!(router_ports, nb::LogicalRouterPort),
        "ACL" => put!(acls, nb::Acl),
        "Address_Set" => put!(address_sets, nb::AddressSet),
        "Port_Group" => put!(port_groups, nb::PortGroup),
        "Load_Balancer" => put!(load_balancers, nb::LoadBalancer),
        "Load_Balancer_Group" => put!(lb_groups, nb::LoadBalancerGroup),
        "QoS" => put!(qos, nb::QoS),
        "Meter" => put!(meters, nb::Meter),
        "Meter_Band" => put!(meter_bands, nb::MeterBand),
        "Load_Balancer_Health_Check" => put!(lb_health_checks, nb::LoadBalancerHealthCheck),
        "DHCP_Options" => put!(dhcp_options, nb::DhcpOptions),
        "DNS" => put!(dns, nb::Dns),
        "Logical_Router_Static_Route" => put!(static_routes, nb::LogicalRouterStaticRoute),
        "Logical_Router_Policy" => put!(policies, nb::LogicalRouterPolicy),
        "NAT" => put!(nats, nb::Nat),
        "Gateway_Chassis" => put!(gateway_chassis, nb::GatewayChassis),
        "HA_Chassis_Group" => put!(ha_chassis_groups, nb::HaChassisGroup),
        "HA_Chassis" => put!(ha_chassis, nb::HaChassis),
        "BFD" => put!(bfd, nb::Bfd),
        "Static_MAC_Binding" => put!(static_mac_bindings, nb::StaticMacBinding),
        "Copp" => put!(copp, nb::Copp),
        "Forwarding_Group" => put!(forwarding_groups, nb::ForwardingGroup),
        "Mirror" => put!(mirrors, nb::Mirror),
        "Chassis_Template_Var" => put!(template_vars, nb::ChassisTemplateVar),
        _ => {}
    }
    Ok(())
}

/// The datapaths of a flow in the engine's index (sorted), shared by the flows on the same
/// datapaths: a full build's flows fall on few distinct sets (the flows of a switch, of all
/// node switches, of a load balancer group...), most of them long.
type Dps = Arc<[DpIndex]>;

/// Every flow of the content with its datapaths. Keyed with the flow table's own hasher (a
/// keyed multiply-fold over the texts, eight bytes a step) rather than SipHash: a full round
/// indexes every flow's texts once (tens to hundreds of thousands), next to the plan.
type FlowIndex = HashMap<Arc<FlowKey>, Dps, crate::flow::FlowState>;

/// Every flow of `content` with its datapaths, as the engine keeps them: each distinct set
/// of datapaths is stored once.
fn flow_index(content: &SbContent) -> FlowIndex {
    // Single datapaths by index; longer sets by the address of the slice the table hands out
    // (its groups' flows all get the same one), then by content.
    let mut single: Vec<Option<Dps>> = vec![None; content.datapaths.len()];
    let mut by_addr: HashMap<(usize, usize), Dps> = HashMap::new();
    let mut by_set: HashMap<&[DpIndex], Dps> = HashMap::new();
    let mut out = FlowIndex::with_capacity_and_hasher(content.flows.len(), Default::default());
    for (k, dps) in content.flows.iter_shared() {
        let s = dps.as_slice();
        let shared = match s {
            [one] if *one < single.len() => {
                single[*one].get_or_insert_with(|| Arc::from(s)).clone()
            }
            _ => {
                let addr = (s.as_ptr() as usize, s.len());
                match by_addr.get(&addr) {
                    Some(d) => d.clone(),
                    None => {
                        let d = by_set.entry(s).or_insert_with(|| Arc::from(s)).clone();
                        by_addr.insert(addr, d.clone());
                        d
                    }
                }
            }
        };
        out.insert(k.clone(), shared);
    }
    out
}

impl Engine {
    /// Compiles `nb` in full against the SB `state` (tunnel keys, chassis features).
    pub fn new(nb: NbSnapshot, state: SbState) -> Self {
        let mut built = build_all(&nb, &state);
        let content = std::mem::take(&mut built.content);
        let mut e = Self::from_built(nb, state, built, &content);
        e.flows = flow_index(&content);
        e.index(&content);
        e.content = content;
        e
    }

    /// [`Self::new`], running `f` on the new content on another thread while the engine
    /// indexes it (the daemon plans and writes its SB transaction there); returns the engine
    /// and what `f` returned.
    pub fn new_with<R: Send>(
        nb: NbSnapshot,
        state: SbState,
        f: impl FnOnce(&SbContent) -> R + Send,
    ) -> (Self, R) {
        let mut built = build_all(&nb, &state);
        let content = std::mem::take(&mut built.content);
        let (mut e, r) = std::thread::scope(|s| {
            let worker = s.spawn(|| f(&content));
            // The whole index (flows, then views and ports) while `f` runs: the content is
            // only read on both sides.
            let mut e = Self::from_built(nb, state, built, &content);
            e.flows = flow_index(&content);
            e.index(&content);
            let r = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (e, r)
        });
        e.content = content;
        (e, r)
    }

    /// The engine of a full build whose content is `content` (taken out of `built`; the
    /// caller puts it in once [`Self::index`] has run, and sets the flow index).
    fn from_built(
        mut nb: NbSnapshot,
        state: SbState,
        built: crate::build::Built,
        content: &SbContent,
    ) -> Self {
        // The snapshot as compiled: with the IPAM allocations (written back to NB by the caller).
        for (u, v) in &content.nb_dynamic_addresses {
            if let Some(l) = nb.switch_ports.get_mut(&Ref::new(*u)) {
                l.dynamic_addresses.clone_from(v);
            }
        }
        Self {
            state,
            globals: built.globals,
            lb_flows: built.lb_flows,
            lbs: built.lbs,
            router_lb_sets: built.router_lb_sets,
            svc_arp: built.svc_arp,
            flows: FlowIndex::default(),
            units: HashMap::new(),
            lb_stage_masks: HashMap::new(),
            port_keys: BTreeMap::new(),
            dp_keys: content.datapaths.iter().map(|d| d.tunnel_key).collect(),
            dp_meters: content.flows.meters().cloned(),
            switch_by_nb: HashMap::new(),
            lsp_switches: HashMap::new(),
            lsp_pgs: HashMap::new(),
            pg_by_name: HashMap::new(),
            switch_routers: vec![BTreeSet::new(); built.switches.len()],
            router_switches: vec![BTreeSet::new(); built.routers.len()],
            router_peering: Vec::new(),
            foreign_macs: HashSet::new(),
            special_names: HashSet::new(),
            dynamic_ports: 0,
            health_checked: HashSet::new(),
            switches: built.switches,
            routers: built.routers,
            content: SbContent::default(),
            nb,
        }
    }

    /// Builds the lookup maps from the views and the snapshot; the SB state becomes what the
    /// content writes (the keys later steps must keep).
    /// `content` is the engine's content (held apart while this runs).
    fn index(&mut self, content: &SbContent) {
        self.state.datapath_keys = content
            .datapaths
            .iter()
            .map(|d| (d.nb_uuid, d.tunnel_key))
            .collect();
        self.state.port_keys = content
            .ports
            .iter()
            .filter_map(|p| {
                let dp = content.datapaths.get(p.datapath)?;
                Some((p.name.clone(), (dp.nb_uuid, p.tunnel_key)))
            })
            .collect();
        self.port_keys = content
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.tunnel_key))
            .collect();
        for (i, sw) in self.switches.iter().enumerate() {
            self.switch_by_nb.insert(sw.nb, i);
            for p in &sw.ports {
                self.lsp_switches.entry(p.nb).or_default().insert(i);
            }
        }
        for pg in self.nb.port_groups.values() {
            self.pg_by_name.insert(pg.name.clone(), pg.uuid);
            for p in &pg.ports {
                self.lsp_pgs.entry(*p).or_default().insert(pg.uuid);
            }
        }
        // Switch port name (of type router) -> routers peering it.
        let mut peered: HashMap<&str, BTreeSet<usize>> = HashMap::new();
        for (ri, r) in self.routers.iter().enumerate() {
            for p in &r.ports {
                self.special_names.insert(p.name.clone());
                self.special_names.insert(p.cr_name());
                if let Some(Peer::Switch { port }) = &p.peer {
                    peered.entry(port.as_str()).or_default().insert(ri);
                }
            }
        }
        for (si, sw) in self.switches.iter().enumerate() {
            for p in &sw.ports {
                for &ri in peered.get(p.name.as_str()).into_iter().flatten() {
                    self.switch_routers[si].insert(ri);
                    self.router_switches[ri].insert(si);
                }
            }
        }
        // Router ports peering a `router` port of exactly one switch (by name, as the router
        // builders look them up).
        // Each name's first switch port (its switch, whether it is of type router) and
        // whether the name has more than one (names are nearly always unique: no list each).
        let mut name_switches: HashMap<&str, ((usize, bool), bool)> =
            HashMap::with_capacity(self.lsp_switches.len());
        for (si, sw) in self.switches.iter().enumerate() {
            for p in &sw.ports {
                let this = (si, p.type_ == switch::LspType::Router);
                name_switches
                    .entry(p.name.as_str())
                    .and_modify(|(_, more)| *more = true)
                    .or_insert((this, false));
            }
        }
        self.router_peering = self
            .routers
            .iter()
            .map(|r| {
                let mut by_switch: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for (pi, p) in r.ports.iter().enumerate() {
                    let Some(Peer::Switch { port }) = &p.peer else {
                        continue;
                    };
                    match name_switches.get(port.as_str()) {
                        Some(((si, true), false)) => by_switch.entry(*si).or_default().push(pi),
                        None => {}
                        Some(_) => return None,
                    }
                }
                Some(by_switch)
            })
            .collect();
        self.foreign_macs.insert(MacAddr([0; 6]));
        for r in &self.routers {
            self.foreign_macs.extend(r.ports.iter().map(|p| p.mac));
            self.foreign_macs
                .extend(r.nat_rules.iter().filter_map(|n| n.external_mac));
        }
        self.special_names
            .extend(peered.keys().map(|s| (*s).to_owned()));
        for n in self.nb.nats.values() {
            if let Some(p) = &n.logical_port {
                self.special_names.insert(p.clone());
            }
        }
        for lb in self.nb.load_balancers.values() {
            for v in lb.ip_port_mappings.values() {
                if let Some((port, _)) = v.split_once(':') {
                    self.special_names.insert(port.to_owned());
                    self.health_checked.insert(port.to_owned());
                }
            }
        }
        for l in self.nb.switch_ports.values() {
            if let Some(p) = &l.parent_name {
                self.special_names.insert(p.clone());
            }
            if let Some(v) = l.options.get("virtual-parents") {
                self.special_names
                    .extend(v.split(',').map(|s| s.trim().to_owned()));
            }
            if !l.type_.is_empty() {
                self.special_names.insert(l.name.clone());
            }
            if has_dynamic(l) {
                self.dynamic_ports += 1;
            }
        }
    }

    /// The content of the last full compile (its flows and load balancers are released by
    /// [`release_content`](Self::release_content); later steps update ports, groups and sets).
    pub fn content(&self) -> &SbContent {
        &self.content
    }

    /// Drops the merged flow table of the full compile (the engine keeps its own index) and
    /// its `Load_Balancer` rows (a change to a load balancer is a full recompute: no later
    /// step reads them), once the caller has diffed it.
    pub fn release_content(&mut self) {
        self.content.flows = FlowTable::default();
        self.content.load_balancers = Vec::new();
        self.content.nb_dynamic_addresses.clear();
        self.content.warnings.clear();
    }

    /// The NB snapshot as compiled (with IPAM allocations).
    pub fn nb(&self) -> &NbSnapshot {
        &self.nb
    }

    /// `SB_Global` options (including those northd adds).
    pub fn global_options(&self) -> &BTreeMap<String, String> {
        &self.content.global_options
    }

    /// The flows expanded per datapath, sorted, as [`SbContent::expanded_flows`] gives them.
    pub fn expanded_flows(&self) -> Vec<(String, &'static str, u8, u16, String, String)> {
        let mut out = Vec::new();
        for (k, dps) in &self.flows {
            for &dp in dps.iter() {
                let name = self
                    .content
                    .datapaths
                    .get(dp)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                out.push((
                    name,
                    k.stage.pipeline().as_str(),
                    k.stage.table(),
                    k.priority,
                    k.match_.clone(),
                    k.actions.clone(),
                ));
            }
        }
        out.sort();
        out
    }

    /// The datapaths unit `u` may write flows on.
    fn targets(&self, u: Unit) -> BTreeSet<DpIndex> {
        match u {
            Unit::Switch(si) | Unit::SwitchLbs(si) => BTreeSet::from([self.switches[si].dp]),
            Unit::Router(ri) => {
                let mut t = BTreeSet::from([self.routers[ri].dp]);
                t.extend(
                    self.router_switches[ri]
                        .iter()
                        .map(|s| self.switches[*s].dp),
                );
                t
            }
        }
    }

    /// Whether the build reads the `up` column of switch port `lsp`: with `NB_Global`
    /// `options:ignore_lsp_down=false` (ARP and ND replies only for ports that are up, router
    /// ports and localports aside), and for a port a load balancer health check names.
    fn up_matters(&self, lsp: &nb::LogicalSwitchPort) -> bool {
        let check_up = self
            .nb
            .nb_global
            .as_ref()
            .and_then(|g| g.options.get("ignore_lsp_down"))
            .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        (check_up && !matches!(lsp.type_.as_str(), "router" | "localport"))
            || self.health_checked.contains(&lsp.name)
    }

    /// Sets `up` and `_version` of switch ports whose other columns did not change (northd's
    /// own write-back of `up` coming back): the same as [`Engine::apply`] with those rows,
    /// without typing each whole row. Answers `Err` with the reason when a full recompute is
    /// needed instead (a port unknown to the engine, or one whose `up` is a build input and
    /// changed); the engine is then left as it was.
    pub fn set_ports_up(&mut self, ports: &[PortUp]) -> Result<(), &'static str> {
        for p in ports {
            let Some(l) = self.nb.switch_ports.get(&Ref::new(p.uuid)) else {
                return Err("up of a port the engine does not know");
            };
            if l.up != p.up && self.up_matters(l) {
                return Err("up of a port whose up is a build input");
            }
        }
        for p in ports {
            if let Some(l) = self.nb.switch_ports.get_mut(&Ref::new(p.uuid)) {
                l.up = p.up;
                l.version = p.version;
            }
        }
        Ok(())
    }

    /// Applies changed NB rows: incrementally when they are all of the kinds this module
    /// handles (see the module documentation), else answers [`Step::Full`] — in which case the
    /// engine must be dropped.
    pub fn apply(&mut self, changes: &[NbChange<'_>]) -> Result<Step, NorthdError> {
        // Dynamic multicast groups (from `IGMP_Group`) add ports to switch groups and flows on
        // switches and relaying routers; a step does not rebuild them (yet).
        if !self.state.igmp.entries.is_empty() {
            return Ok(Step::Full("IGMP groups in SB"));
        }
        // Flows for chassis without `ct-no-masked-label` are rewritten after the build.
        if !self.state.features.ct_no_masked_label {
            return Ok(Step::Full("chassis without ct-no-masked-label"));
        }
        // Sampled drops too.
        if crate::debug_drop::DropSampling::from_options(&self.globals.all).is_some() {
            return Ok(Step::Full("drop sampling"));
        }
        let mut delta = Delta::default();
        let mut clock = std::time::Instant::now();
        let mut lap = |delta: &mut Delta, what: &'static str| {
            let now = std::time::Instant::now();
            delta.timings.push((what, now - clock));
            clock = now;
        };
        let mut affected: BTreeSet<usize> = BTreeSet::new();
        let mut touched: BTreeSet<Ref<nb::LogicalSwitchPort>> = BTreeSet::new();
        let mut changed_pgs: BTreeSet<Ref<nb::PortGroup>> = BTreeSet::new();
        let mut set_names: BTreeSet<String> = BTreeSet::new();
        let mut new_lsps: HashMap<Ref<nb::LogicalSwitchPort>, Option<nb::LogicalSwitchPort>> =
            HashMap::new();
        let mut new_names: HashSet<String> = HashSet::new();
        let mut new_switch_ports: HashMap<usize, BTreeSet<Ref<nb::LogicalSwitchPort>>> =
            HashMap::new();
        // Rows whose big set columns are patched in place (only their changed elements are
        // typed), by position in `changes`; not when a row changes twice in one step.
        let mut patches: HashMap<usize, Patch> = HashMap::new();
        let patching = {
            let mut seen = HashSet::with_capacity(changes.len());
            changes.iter().all(|c| seen.insert(c.uuid))
        };
        for (i, ch) in changes.iter().enumerate() {
            match ch.table {
                "NB_Global" => {
                    let new = typed::<nb::NbGlobal>(ch)?;
                    // Only the options matter (as the build reads them: the options northd
                    // writes back, derived when absent, do not count as a change).
                    let same = match (&self.nb.nb_global, new) {
                        (Some(o), Some(n)) => {
                            o.uuid == n.uuid
                                && o.ipsec == n.ipsec
                                && GlobalOptions::from_nb(&NbSnapshot {
                                    nb_global: Some(n),
                                    ..NbSnapshot::default()
                                }) == self.globals
                        }
                        _ => false,
                    };
                    if !same {
                        return Ok(Step::Full("NB_Global options"));
                    }
                }
                "Logical_Switch" if patching => {
                    let r = Ref::new(ch.uuid);
                    let (Some(o), Some((row, ts))) = (self.nb.switches.get_mut(&r), ch.row) else {
                        return Ok(Step::Full("switch inserted or deleted"));
                    };
                    let Some((mut n, d)) = typed_without::<nb::LogicalSwitch>(row, ts, "ports")?
                    else {
                        return Ok(Step::Full("switch without ports"));
                    };
                    let Some((added, removed)) = ref_changes(d, &o.ports) else {
                        return Ok(Step::Full("switch ports not references"));
                    };
                    if !same_but(o, &mut n, |s| &mut s.ports, |s| &mut s.version) {
                        return Ok(Step::Full("switch column other than ports"));
                    }
                    let Some(&si) = self.switch_by_nb.get(&o.uuid) else {
                        return Ok(Step::Full("unknown switch"));
                    };
                    affected.insert(si);
                    touched.extend(added.iter().chain(&removed).copied());
                    let mut now = o.ports.clone();
                    patch_set(&mut now, added.clone(), &removed);
                    new_switch_ports.insert(si, now);
                    patches.insert(i, Patch::Switch(n, added, removed));
                }
                "Logical_Switch" => {
                    let new = typed::<nb::LogicalSwitch>(ch)?;
                    let (Some(o), Some(n)) = (self.nb.switches.get(&Ref::new(ch.uuid)), &new)
                    else {
                        return Ok(Step::Full("switch inserted or deleted"));
                    };
                    let mut same = o.clone();
                    same.ports.clone_from(&n.ports);
                    same.version = n.version;
                    if same != *n {
                        return Ok(Step::Full("switch column other than ports"));
                    }
                    let Some(&si) = self.switch_by_nb.get(&o.uuid) else {
                        return Ok(Step::Full("unknown switch"));
                    };
                    affected.insert(si);
                    touched.extend(o.ports.symmetric_difference(&n.ports).copied());
                    new_switch_ports.insert(si, n.ports.clone());
                }
                "Logical_Switch_Port" => {
                    let r = Ref::new(ch.uuid);
                    let new = typed::<nb::LogicalSwitchPort>(ch)?;
                    let old = self.nb.switch_ports.get(&r);
                    if let (Some(o), Some(n)) = (old, &new) {
                        // `up` (which northd itself writes) is no input of the build, unless
                        // `up_matters` says so.
                        let mut same = o.clone();
                        same.up = n.up;
                        same.version = n.version;
                        if same == *n {
                            if o.up != n.up && self.up_matters(o) {
                                return Ok(Step::Full("up of a port whose up is a build input"));
                            }
                            new_lsps.insert(r, new);
                            continue;
                        }
                    }
                    if self.dynamic_ports > 0 {
                        return Ok(Step::Full("IPAM (dynamic addresses)"));
                    }
                    for l in old.iter().copied().chain(new.iter()) {
                        if !plain_vif(l) || self.special_names.contains(&l.name) {
                            return Ok(Step::Full("port not a plain VIF, or named elsewhere"));
                        }
                    }
                    if let Some(n) = &new {
                        // A new name must not collide with another port's.
                        if old.is_none_or(|o| o.name != n.name)
                            && (self.port_keys.contains_key(&n.name)
                                || !new_names.insert(n.name.clone()))
                        {
                            return Ok(Step::Full("port name collision"));
                        }
                    }
                    new_lsps.insert(r, new);
                    touched.insert(r);
                }
                "Address_Set" if patching => {
                    let r = Ref::new(ch.uuid);
                    let patch = match (self.nb.address_sets.get(&r), ch.row) {
                        (Some(o), Some((row, ts))) => {
                            typed_without::<nb::AddressSet>(row, ts, "addresses")?.and_then(
                                |(n, d)| {
                                    let (added, removed) = string_changes(d, &o.addresses)?;
                                    Some((o.name.clone(), n, added, removed))
                                },
                            )
                        }
                        _ => None,
                    };
                    match patch {
                        Some((old_name, n, added, removed)) => {
                            set_names.insert(old_name);
                            set_names.insert(n.name.clone());
                            patches.insert(i, Patch::Set(n, added, removed));
                        }
                        None => {
                            let new = typed::<nb::AddressSet>(ch)?;
                            if let Some(o) = self.nb.address_sets.get(&r) {
                                set_names.insert(o.name.clone());
                            }
                            if let Some(n) = &new {
                                set_names.insert(n.name.clone());
                            }
                        }
                    }
                }
                "Address_Set" => {
                    let new = typed::<nb::AddressSet>(ch)?;
                    if let Some(o) = self.nb.address_sets.get(&Ref::new(ch.uuid)) {
                        set_names.insert(o.name.clone());
                    }
                    if let Some(n) = &new {
                        set_names.insert(n.name.clone());
                    }
                }
                "Port_Group" if patching => {
                    let r = Ref::new(ch.uuid);
                    let (Some(o), Some((row, ts))) = (self.nb.port_groups.get_mut(&r), ch.row)
                    else {
                        return Ok(Step::Full("port group inserted or deleted"));
                    };
                    let Some((mut n, d)) = typed_without::<nb::PortGroup>(row, ts, "ports")? else {
                        return Ok(Step::Full("port group without ports"));
                    };
                    let Some((added, removed)) = ref_changes(d, &o.ports) else {
                        return Ok(Step::Full("port group ports not references"));
                    };
                    if !same_but(o, &mut n, |s| &mut s.ports, |s| &mut s.version) {
                        return Ok(Step::Full("port group column other than ports"));
                    }
                    changed_pgs.insert(o.uuid);
                    touched.extend(added.iter().chain(&removed).copied());
                    patches.insert(i, Patch::Group(n, added, removed));
                }
                "Port_Group" => {
                    let new = typed::<nb::PortGroup>(ch)?;
                    let (Some(o), Some(n)) = (self.nb.port_groups.get(&Ref::new(ch.uuid)), &new)
                    else {
                        return Ok(Step::Full("port group inserted or deleted"));
                    };
                    let mut same = o.clone();
                    same.ports.clone_from(&n.ports);
                    same.version = n.version;
                    if same != *n {
                        return Ok(Step::Full("port group column other than ports"));
                    }
                    changed_pgs.insert(o.uuid);
                    touched.extend(o.ports.symmetric_difference(&n.ports).copied());
                }
                _ => return Ok(Step::Full("table not handled incrementally")),
            }
        }
        // Ports that moved in or out of a switch or group must be plain too.
        for l in &touched {
            let now = match new_lsps.get(l) {
                Some(n) => n.as_ref(),
                None => self.nb.switch_ports.get(l),
            };
            if let Some(p) = now.or_else(|| self.nb.switch_ports.get(l)) {
                if !plain_vif(p) || self.special_names.contains(&p.name) {
                    return Ok(Step::Full("moved port not a plain VIF"));
                }
            }
            affected.extend(self.lsp_switches.get(l).into_iter().flatten());
        }
        // Port groups whose address sets or SB port groups may change. Their SB port groups
        // (one per switch) change only on the switches of the ports that moved, joined or left
        // a group or changed: the affected switches.
        let mut pgs = changed_pgs.clone();
        for l in &touched {
            pgs.extend(self.lsp_pgs.get(l).into_iter().flatten());
        }

        // The builders to rerun: the affected switches and their routers, with the datapaths
        // they alone write. Their old flows, when not known yet, come from the old state.
        // A router attached to an affected switch is only patched (its neighbour flows for the
        // switch's ordinary ports replaced) when nothing else of it can change: see
        // `patchable`.
        let mut units: BTreeSet<Unit> = BTreeSet::new();
        let mut patched: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &si in &affected {
            units.insert(Unit::Switch(si));
            for &ri in &self.switch_routers[si] {
                if self.patchable(ri, si, &touched, &new_lsps, new_switch_ports.get(&si)) {
                    patched.entry(ri).or_default().insert(si);
                } else {
                    units.insert(Unit::Router(ri));
                }
            }
        }
        patched.retain(|ri, _| !units.contains(&Unit::Router(*ri)));
        lap(&mut delta, "classify");
        // The affected switches' datapaths are whole too: the routers not rebuilt write the
        // same flows there as before (checked below: the switch's changed flows are none of
        // theirs).
        let whole: BTreeSet<DpIndex> = units
            .iter()
            .map(|u| match *u {
                Unit::Switch(si) | Unit::SwitchLbs(si) => self.switches[si].dp,
                Unit::Router(ri) => self.routers[ri].dp,
            })
            .collect();
        let patched_switch_dps: BTreeSet<DpIndex> = patched
            .values()
            .flatten()
            .map(|si| self.switches[*si].dp)
            .collect();
        // The load balancer flows of the affected switches stay (checked below: their
        // load balancer lists are the same), but a flow they make is not gone when the rest of
        // the switch stops making it. Their flow lists (tens of thousands of flows on a
        // switch with every Service) are built below, only where a changed flow may be one.
        let kept: Vec<Unit> = affected.iter().map(|si| Unit::SwitchLbs(*si)).collect();
        let missing: Vec<Unit> = units
            .iter()
            .filter(|u| !self.units.contains_key(u))
            .copied()
            .collect();
        if !missing.is_empty() {
            let (tables, _, _) = self.build_units(&missing);
            for (u, t) in tables {
                let v = self.unit_flows(&t);
                self.units.insert(u, v);
            }
        }
        lap(&mut delta, "old units");

        // What the touched ports gave port group address sets before the step: their
        // groups and their view (to patch those sets rather than recompute them).
        let old_touched: Vec<TouchedBefore> = touched
            .iter()
            .map(|t| {
                (
                    *t,
                    self.lsp_pgs.get(t).cloned().unwrap_or_default(),
                    self.port_view(t)
                        .map(|p| p.addrs.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();

        // Apply the rows.
        for (i, ch) in changes.iter().enumerate() {
            if let Some(p) = patches.remove(&i) {
                self.apply_patch(ch.uuid, p);
                continue;
            }
            if ch.table == "Port_Group" {
                if let Some(o) = self.nb.port_groups.get(&Ref::new(ch.uuid)) {
                    for p in &o.ports {
                        if let Some(s) = self.lsp_pgs.get_mut(p) {
                            s.remove(&o.uuid);
                        }
                    }
                }
            }
            apply_to_snapshot(&mut self.nb, ch)?;
            if ch.table == "Port_Group" {
                if let Some(n) = self.nb.port_groups.get(&Ref::new(ch.uuid)) {
                    for p in &n.ports {
                        self.lsp_pgs.entry(*p).or_default().insert(n.uuid);
                    }
                }
            }
        }
        lap(&mut delta, "rows");
        if affected.is_empty() && pgs.is_empty() && set_names.is_empty() {
            return Ok(Step::Applied(delta));
        }

        // New views of the affected switches, with the neighbour flows of the patched routers
        // before and after.
        let mut neigh_old = FlowTable::default();
        let mut neigh_new = FlowTable::default();
        for &si in &affected {
            self.neighbour_flows(&patched, si, &mut neigh_old);
            let old = &self.switches[si];
            for p in &old.ports {
                if let Some(s) = self.lsp_switches.get_mut(&p.nb) {
                    s.remove(&si);
                }
            }
            let Some(ls) = self.nb.switches.get(&old.nb) else {
                return Ok(Step::Full("switch row missing"));
            };
            // Its load balancer columns did not change (else the step is not incremental),
            // so neither did its load balancers.
            let lsp_pgs = &self.lsp_pgs;
            let groups_of = |p: &Ref<nb::LogicalSwitchPort>| -> Vec<Ref<nb::PortGroup>> {
                lsp_pgs
                    .get(p)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            };
            let known = switch::Known {
                groups_of: &groups_of,
                lbs: (old.lbs.clone(), old.has_lb_vip),
            };
            let view = switch::switch_view_known(&self.nb, ls, old.dp, known, &mut delta.warnings);
            for p in &view.ports {
                self.lsp_switches.entry(p.nb).or_default().insert(si);
            }
            self.switches[si] = view;
            self.neighbour_flows(&patched, si, &mut neigh_new);
        }

        lap(&mut delta, "views");
        // Ports and multicast groups of the affected switches, against the SB state as it was.
        let dps: BTreeSet<DpIndex> = affected.iter().map(|s| self.switches[*s].dp).collect();
        let mut scratch = SbContent::default();
        for &si in &affected {
            let sw = &self.switches[si];
            let dp_uuid = self.content.datapaths[sw.dp].nb_uuid;
            build_switch_ports(
                &self.nb,
                &self.state,
                sw,
                dp_uuid,
                &self.routers,
                &mut scratch,
            );
            delta.ip_multicast.insert(sw.dp, sw.mcast.clone());
        }
        delta.warnings.append(&mut scratch.warnings);
        if scratch.ports.iter().any(|p| p.ha_chassis_group.is_some()) {
            return Ok(Step::Full("HA chassis group on a rebuilt switch"));
        }
        let old_ports: BTreeMap<String, PortContent> = self
            .content
            .ports
            .iter()
            .filter(|p| dps.contains(&p.datapath))
            .map(|p| (p.name.clone(), p.clone()))
            .collect();
        let new_ports: BTreeMap<String, PortContent> = scratch
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.clone()))
            .collect();
        for name in old_ports.keys() {
            if !new_ports.contains_key(name) {
                delta.ports.insert(name.clone(), None);
                self.port_keys.remove(name);
                self.state.port_keys.remove(name);
            }
        }
        for (name, p) in &new_ports {
            if old_ports.get(name) != Some(p) {
                delta.ports.insert(name.clone(), Some(p.clone()));
            }
            self.port_keys.insert(name.clone(), p.tunnel_key);
            let dp_uuid = self.content.datapaths[p.datapath].nb_uuid;
            self.state
                .port_keys
                .insert(name.clone(), (dp_uuid, p.tunnel_key));
        }
        self.content.ports.retain(|p| !dps.contains(&p.datapath));
        self.content.ports.append(&mut scratch.ports);
        let old_mc: BTreeMap<(DpIndex, String), McGroupContent> = self
            .content
            .multicast_groups
            .iter()
            .filter(|m| dps.contains(&m.datapath))
            .map(|m| ((m.datapath, m.name.clone()), m.clone()))
            .collect();
        for m in &scratch.multicast_groups {
            let k = (m.datapath, m.name.clone());
            if old_mc.get(&k) != Some(m) {
                delta.mc_groups.insert(k, Some(m.clone()));
            }
        }
        for k in old_mc.keys() {
            if !scratch
                .multicast_groups
                .iter()
                .any(|m| m.datapath == k.0 && m.name == k.1)
            {
                delta.mc_groups.insert(k.clone(), None);
            }
        }
        self.content
            .multicast_groups
            .retain(|m| !dps.contains(&m.datapath));
        self.content
            .multicast_groups
            .append(&mut scratch.multicast_groups);
        for (dp, cfg) in &mut self.content.ip_multicast {
            if let Some(c) = delta.ip_multicast.get(dp) {
                c.clone_into(cfg);
            }
        }

        lap(&mut delta, "ports");
        // Flows of the affected switches and of their routers.
        let units_v: Vec<Unit> = units.iter().copied().collect();
        let (built, warnings, times) = self.build_units(&units_v);
        delta.warnings.extend(warnings);
        lap(&mut delta, "flows");
        delta.timings.extend(times);
        // The tables' order (computed on first iteration) is part of the flow delta.
        for (_, t) in &built {
            let _ = t.iter().next();
        }
        lap(&mut delta, "order");
        // Each unit's new flows against its old ones, in one ordered walk (both are sorted by
        // flow then datapath): the pairs that went and came, and the unit's new list (reusing
        // the shared keys).
        let mut went: Vec<(Arc<FlowKey>, DpIndex)> = Vec::new();
        let mut came: Vec<(Arc<FlowKey>, DpIndex)> = Vec::new();
        let mut new_units: Vec<(Unit, UnitFlows)> = Vec::with_capacity(built.len());
        for (u, t) in &built {
            let targets = self.targets(*u);
            let old = self.units.get(u).map(Vec::as_slice).unwrap_or(&[]);
            let mut v: UnitFlows = Vec::with_capacity(old.len() + 8);
            let mut i = 0;
            for (k, dps) in t.iter() {
                // Every unit stays on its datapaths.
                if !dps.is_subset(&targets) {
                    return Ok(Step::Full("a builder wrote outside its datapaths"));
                }
                let mut arc: Option<Arc<FlowKey>> = None;
                for &d in dps {
                    while let Some((ok, od)) = old.get(i) {
                        if (&**ok, *od) < (k, d) {
                            went.push((ok.clone(), *od));
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    match old.get(i) {
                        Some((ok, od)) if **ok == *k && *od == d => {
                            v.push((ok.clone(), d));
                            i += 1;
                        }
                        _ => {
                            let key = arc
                                .get_or_insert_with(|| match self.flows.get_key_value(k) {
                                    Some((a, _)) => a.clone(),
                                    None => Arc::new(k.clone()),
                                })
                                .clone();
                            came.push((key.clone(), d));
                            v.push((key, d));
                        }
                    }
                }
            }
            went.extend(old[i..].iter().cloned());
            new_units.push((*u, v));
        }
        // Off the rebuilt datapaths nothing may change (other builders write there too).
        if went.iter().chain(&came).any(|(_, d)| !whole.contains(d)) {
            return Ok(Step::Full("a router's flows on other switches changed"));
        }
        // On a switch whose routers were patched, the switch's changed flows must be none a
        // router could write there too (the switch-side ARP/ND flows of router ports).
        if went
            .iter()
            .chain(&came)
            .any(|(k, d)| patched_switch_dps.contains(d) && router_switch_flow(k))
        {
            return Ok(Step::Full("a switch flow like a router's changed"));
        }
        // The kept units' flow lists that may hold a changed pair: of a switch with a changed
        // flow in a stage its load balancer flows use (all of them when some load balancer
        // is not in the cache). The others make none of the changed pairs.
        let mut kept_missing = Vec::new();
        for &u in &kept {
            let Unit::SwitchLbs(si) = u else { continue };
            if self.units.contains_key(&u) {
                continue;
            }
            let dp = self.switches[si].dp;
            let mask = match self.lb_stage_masks.get(&si) {
                Some(m) => *m,
                None => {
                    let m = switch::lb::vip_stage_mask(&self.switches[si], &self.lb_flows);
                    self.lb_stage_masks.insert(si, m);
                    m
                }
            };
            let may = went.iter().chain(&came).any(|(k, d)| {
                *d == dp && mask.is_none_or(|m| m & crate::flow::stage_bit(k.stage) != 0)
            });
            if may {
                kept_missing.push(u);
            }
        }
        if !kept_missing.is_empty() {
            let (tables, _, _) = self.build_units(&kept_missing);
            for (u, t) in tables {
                let v = self.unit_flows(&t);
                self.units.insert(u, v);
            }
        }
        // A pair is on a rebuilt datapath when any of its builders makes it.
        let has = |list: &[(Arc<FlowKey>, DpIndex)], k: &FlowKey, d: DpIndex| {
            list.binary_search_by(|(a, b)| (&**a, *b).cmp(&(k, d)))
                .is_ok()
        };
        let mut changed: BTreeMap<Arc<FlowKey>, (BTreeSet<DpIndex>, BTreeSet<DpIndex>)> =
            BTreeMap::new();
        let kept_has = |k: &FlowKey, d: DpIndex| {
            kept.iter()
                .any(|u| has(self.units.get(u).map_or(&[], Vec::as_slice), k, d))
        };
        for (k, d) in went.iter().chain(&came) {
            if kept_has(k, *d) {
                continue;
            }
            let before = units
                .iter()
                .any(|u| has(self.units.get(u).map_or(&[], Vec::as_slice), k, *d));
            let after = new_units.iter().any(|(_, v)| has(v, k, *d));
            if before == after {
                continue;
            }
            let e = changed.entry(k.clone()).or_insert_with(|| {
                let cur: BTreeSet<DpIndex> = self
                    .flows
                    .get(&**k)
                    .map(|v| v.iter().copied().collect())
                    .unwrap_or_default();
                (cur.clone(), cur)
            });
            if after {
                e.1.insert(*d);
            } else {
                e.1.remove(d);
            }
        }
        // The patched routers' neighbour flows (their own datapaths: no other builder writes
        // there, so the flow index says what they had).
        let pairs = |t: &FlowTable| -> BTreeSet<(FlowKey, DpIndex)> {
            t.iter()
                .flat_map(|(k, dps)| dps.iter().map(move |d| (k.clone(), *d)))
                .collect()
        };
        let (neigh_old, neigh_new) = (pairs(&neigh_old), pairs(&neigh_new));
        for (after, (k, d)) in neigh_old
            .difference(&neigh_new)
            .map(|p| (false, p))
            .chain(neigh_new.difference(&neigh_old).map(|p| (true, p)))
        {
            let e = match changed.get_mut(k) {
                Some(e) => e,
                None => {
                    let (key, cur): (Arc<FlowKey>, BTreeSet<DpIndex>) =
                        match self.flows.get_key_value(k) {
                            Some((a, v)) => (a.clone(), v.iter().copied().collect()),
                            None => (Arc::new(k.clone()), BTreeSet::new()),
                        };
                    changed.entry(key).or_insert_with(|| (cur.clone(), cur))
                }
            };
            if after {
                e.1.insert(*d);
            } else {
                e.1.remove(d);
            }
        }
        for ri in patched.keys() {
            // Its flow list (if kept) is stale now: rebuilt from the state on next need.
            self.units.remove(&Unit::Router(*ri));
        }
        for (k, (old, new)) in changed {
            if old == new {
                continue;
            }
            if new.is_empty() {
                self.flows.remove(&k);
            } else {
                self.flows.insert(k.clone(), new.iter().copied().collect());
            }
            delta.flows.push((FlowKey::clone(&k), old, new));
        }
        for (u, v) in new_units {
            self.units.insert(u, v);
        }

        lap(&mut delta, "flow delta");
        // Address sets and SB port groups of the port groups involved.
        for pg in &pgs {
            let Some(row) = self.nb.port_groups.get(pg) else {
                continue;
            };
            set_names.insert(format!("{}_ip4", row.name));
            set_names.insert(format!("{}_ip6", row.name));
            for &si in &affected {
                let sw = &self.switches[si];
                let members: BTreeSet<String> = sw
                    .ports
                    .iter()
                    .filter(|p| row.ports.contains(&p.nb))
                    .map(|p| p.name.clone())
                    .collect();
                let name = format!("{}_{}", self.content.datapaths[sw.dp].tunnel_key, row.name);
                let new = (!members.is_empty()).then_some(members);
                if self.content.port_groups.get(&name) != new.as_ref() {
                    match &new {
                        Some(m) => self.content.port_groups.insert(name.clone(), m.clone()),
                        None => self.content.port_groups.remove(&name),
                    };
                    delta.port_groups.insert(name, new);
                }
            }
        }
        // The address sets of port groups (as `address_set` resolves their names).
        let mut pg_sets: HashMap<String, (Ref<nb::PortGroup>, bool)> = HashMap::new();
        for pg in &pgs {
            let Some(row) = self.nb.port_groups.get(pg) else {
                continue;
            };
            if self.pg_by_name.get(&row.name) != Some(pg) {
                continue;
            }
            for (suffix, v6) in [("_ip4", false), ("_ip6", true)] {
                let name = format!("{}{suffix}", row.name);
                if !self.router_lb_sets.contains(&name) {
                    pg_sets.insert(name, (*pg, v6));
                }
            }
        }
        for name in set_names {
            if let Some(&(pg, v6)) = pg_sets.get(&name) {
                if let Some(changed) = self.patch_pg_set(&name, pg, v6, &old_touched) {
                    if changed {
                        let now = self.content.address_sets.get(&name).cloned();
                        delta.address_sets.insert(name, now);
                    }
                    continue;
                }
            }
            // The set as it is now against the one written, patched in place by the
            // elements that differ (a big set is neither copied nor rebuilt to compare it).
            let (gone, came) = {
                let new = self.address_set(&name);
                match (self.content.address_sets.get(&name), new) {
                    (None, None) => continue,
                    (Some(_), None) => {
                        self.content.address_sets.remove(&name);
                        delta.address_sets.insert(name, None);
                        continue;
                    }
                    (None, Some(n)) => {
                        let n = n.into_owned();
                        self.content.address_sets.insert(name.clone(), n.clone());
                        delta.address_sets.insert(name, Some(n));
                        continue;
                    }
                    (Some(cur), Some(n)) => {
                        let (gone, came) = str_changes(
                            cur.iter().map(String::as_str),
                            n.iter().map(String::as_str),
                        );
                        let gone: Vec<String> = gone.into_iter().map(str::to_owned).collect();
                        let came: Vec<String> = came.into_iter().map(str::to_owned).collect();
                        (gone, came)
                    }
                }
            };
            if gone.is_empty() && came.is_empty() {
                continue;
            }
            if let Some(cur) = self.content.address_sets.get_mut(&name) {
                patch_set(cur, came, &gone);
                let now = cur.clone();
                delta.address_sets.insert(name, Some(now));
            }
        }
        lap(&mut delta, "groups and sets");
        Ok(Step::Applied(delta))
    }

    /// Puts a [`Patch`]ed row into the snapshot (and a port group's members into `lsp_pgs`).
    fn apply_patch(&mut self, u: Uuid, p: Patch) {
        match p {
            Patch::Switch(mut n, added, removed) => {
                if let Some(o) = self.nb.switches.get_mut(&Ref::new(u)) {
                    n.ports = std::mem::take(&mut o.ports);
                    patch_set(&mut n.ports, added, &removed);
                    *o = n;
                }
            }
            Patch::Group(mut n, added, removed) => {
                let g = Ref::new(u);
                if let Some(o) = self.nb.port_groups.get_mut(&g) {
                    for p in &removed {
                        if let Some(s) = self.lsp_pgs.get_mut(p) {
                            s.remove(&g);
                        }
                    }
                    for p in &added {
                        self.lsp_pgs.entry(*p).or_default().insert(g);
                    }
                    n.ports = std::mem::take(&mut o.ports);
                    patch_set(&mut n.ports, added, &removed);
                    *o = n;
                }
            }
            Patch::Set(mut n, added, removed) => {
                if let Some(o) = self.nb.address_sets.get_mut(&Ref::new(u)) {
                    n.addresses = std::mem::take(&mut o.addresses);
                    patch_set(&mut n.addresses, added, &removed);
                    *o = n;
                }
            }
        }
    }

    /// Whether router `ri`, attached to affected switch `si`, can be patched rather than
    /// rebuilt: its only flows that depend on the switch's ordinary ports are the neighbour
    /// flows of `lr_in_arp_resolve` ([`router::routing::resolve_neighbour`]), except for
    /// whether the switch has any port not of type `router` at all (the switch-side ARP flows
    /// of its router ports flood or not), which must stay the same. The router's ports must
    /// each peer a port of exactly one switch, and the changed ports (`touched`: not those
    /// whose `up` alone changed) must have no MAC another kind of router flow resolves to (so that a neighbour flow
    /// that goes is made by nothing else). `new_ports` is the switch's new `ports`, when
    /// they change.
    fn patchable(
        &self,
        ri: usize,
        si: usize,
        touched: &BTreeSet<Ref<nb::LogicalSwitchPort>>,
        new_lsps: &HashMap<Ref<nb::LogicalSwitchPort>, Option<nb::LogicalSwitchPort>>,
        new_ports: Option<&BTreeSet<Ref<nb::LogicalSwitchPort>>>,
    ) -> bool {
        if self.router_peering.get(ri).is_none_or(Option::is_none) {
            return false;
        }
        let sw = &self.switches[si];
        let floods = sw.ports.iter().any(|p| p.type_ != switch::LspType::Router);
        let ls_ports = match new_ports {
            Some(p) => p,
            None => match self.nb.switches.get(&sw.nb) {
                Some(ls) => &ls.ports,
                None => return false,
            },
        };
        let floods_after = ls_ports.iter().any(|r| {
            let row = match new_lsps.get(r) {
                Some(n) => n.as_ref(),
                None => self.nb.switch_ports.get(r),
            };
            row.is_some_and(|l| switch::LspType::parse(&l.type_) != switch::LspType::Router)
        });
        if floods != floods_after {
            return false;
        }
        !sw.ports
            .iter()
            .filter(|p| touched.contains(&p.nb))
            .flat_map(|p| &p.addrs)
            .any(|a| self.foreign_macs.contains(&a.mac))
    }

    /// Adds to `out` the neighbour flows of the routers `patched` patches on switch `si`, as
    /// the switch view is now.
    fn neighbour_flows(
        &self,
        patched: &BTreeMap<usize, BTreeSet<usize>>,
        si: usize,
        out: &mut FlowTable,
    ) {
        let sw = &self.switches[si];
        for (&ri, sis) in patched {
            if !sis.contains(&si) {
                continue;
            }
            let lr = &self.routers[ri];
            let pis = self
                .router_peering
                .get(ri)
                .and_then(Option::as_ref)
                .and_then(|m| m.get(&si));
            for port in pis.into_iter().flatten().filter_map(|pi| lr.ports.get(*pi)) {
                for sp in &sw.ports {
                    router::routing::resolve_neighbour(lr, port, sp, out);
                }
            }
        }
    }

    /// Runs the flow builders of `units` on the current state.
    #[allow(clippy::type_complexity)]
    fn build_units(
        &self,
        units: &[Unit],
    ) -> (
        Vec<(Unit, FlowTable)>,
        Vec<NbWarning>,
        Vec<(&'static str, std::time::Duration)>,
    ) {
        let sctx = SwitchCtx {
            nb: &self.nb,
            features: self.state.features,
            lbs: &self.lbs,
            lb_flows: &self.lb_flows,
            svc_arp: &self.svc_arp,
        };
        let rctx = RouterCtx {
            nb: &self.nb,
            features: self.state.features,
            lbs: &self.lbs,
            switches: &self.switches,
            routers: &self.routers,
            port_keys: &self.port_keys,
            warnings: RefCell::default(),
            topology: OnceCell::new(),
            dp_keys: &self.dp_keys,
            lb_flows: RefCell::default(),
        };
        let mut out = Vec::with_capacity(units.len());
        let mut times = Vec::with_capacity(units.len());
        for &u in units {
            let start = std::time::Instant::now();
            let mut t = FlowTable::default();
            if let Some(m) = &self.dp_meters {
                t.set_meters(m.clone());
            }
            match u {
                Unit::Switch(si) => switch::build_port_flows(&sctx, &self.switches[si], &mut t),
                Unit::SwitchLbs(si) => switch::build_lb_flows(&sctx, &self.switches[si], &mut t),
                Unit::Router(ri) => router::build_flows(&rctx, &self.routers[ri], &mut t),
            }
            let what = match u {
                Unit::Switch(_) => "switch",
                Unit::SwitchLbs(_) => "switch load balancers",
                Unit::Router(_) => "router",
            };
            times.push((what, start.elapsed()));
            out.push((u, t));
        }
        (out, rctx.warnings.into_inner(), times)
    }

    /// A unit's flows as (flow, datapath) pairs in order, sharing the keys of the flow index.
    fn unit_flows(&self, t: &FlowTable) -> UnitFlows {
        let mut v = Vec::new();
        for (k, dps) in t.iter() {
            let key = match self.flows.get_key_value(k) {
                Some((a, _)) => a.clone(),
                None => Arc::new(k.clone()),
            };
            v.extend(dps.iter().map(|d| (key.clone(), *d)));
        }
        v
    }

    /// The view of port `r` (on the last switch holding it, as a full build finds it).
    fn port_view(&self, r: &Ref<nb::LogicalSwitchPort>) -> Option<&switch::SwitchPort> {
        let si = self.lsp_switches.get(r)?.iter().next_back()?;
        // A view's ports are in name order (a name may repeat: look around it).
        let ports = &self.switches[*si].ports;
        let found = self.nb.switch_ports.get(r).and_then(|l| {
            let at = ports.partition_point(|p| p.name < l.name);
            ports[at..]
                .iter()
                .take_while(|p| p.name == l.name)
                .find(|p| p.nb == *r)
        });
        found.or_else(|| ports.iter().find(|p| p.nb == *r))
    }

    /// Updates in place the address set `name` of port group `pg` (IPv6 addresses when `v6`)
    /// for the ports touched by the step (`old_touched`: each with its groups and addresses
    /// before): the addresses of touched members come, those they had go unless another
    /// member still has them. Returns whether the set changed, or `None` when the engine
    /// does not hold the set yet (the caller computes it in full).
    fn patch_pg_set(
        &mut self,
        name: &str,
        pg: Ref<nb::PortGroup>,
        v6: bool,
        old_touched: &[TouchedBefore],
    ) -> Option<bool> {
        self.content.address_sets.get(name)?;
        let row = self.nb.port_groups.get(&pg)?;
        let ips = |addrs: &[PortAddrs]| -> Vec<std::net::IpAddr> {
            addrs
                .iter()
                .flat_map(|a| {
                    let v4 = a.ipv4.iter().filter(|_| !v6).map(|ip| (*ip).into());
                    let v6 = a.ipv6.iter().filter(|_| v6).map(|ip| (*ip).into());
                    v4.chain(v6)
                })
                .collect()
        };
        let mut added: BTreeSet<std::net::IpAddr> = BTreeSet::new();
        let mut removed: BTreeSet<std::net::IpAddr> = BTreeSet::new();
        for (t, groups, addrs) in old_touched {
            if groups.contains(&pg) {
                removed.extend(ips(addrs));
            }
            if row.ports.contains(t) {
                if let Some(p) = self.port_view(t) {
                    added.extend(ips(&p.addrs));
                }
            }
        }
        // An address that went from a touched port stays if any member still has it.
        let mut gone: BTreeSet<std::net::IpAddr> = removed.difference(&added).copied().collect();
        if !gone.is_empty() {
            for r in &row.ports {
                if let Some(p) = self.port_view(r) {
                    for ip in ips(&p.addrs) {
                        gone.remove(&ip);
                    }
                }
                if gone.is_empty() {
                    break;
                }
            }
        }
        let set = self.content.address_sets.get_mut(name)?;
        let mut changed = false;
        for ip in &added {
            changed |= set.insert(ip.to_string());
        }
        for ip in &gone {
            changed |= set.remove(&ip.to_string());
        }
        Some(changed)
    }

    /// The SB address set `name` as a full build makes it (later sources win: the
    /// `svc_monitor_mac` set, NB address sets, port group sets, router load balancer sets).
    fn address_set(&self, name: &str) -> Option<Cow<'_, BTreeSet<String>>> {
        if self.router_lb_sets.contains(name) {
            return self.content.address_sets.get(name).map(Cow::Borrowed);
        }
        for (suffix, v6) in [("_ip4", false), ("_ip6", true)] {
            let Some(stem) = name.strip_suffix(suffix) else {
                continue;
            };
            let Some(pg) = self
                .pg_by_name
                .get(stem)
                .and_then(|r| self.nb.port_groups.get(r))
            else {
                continue;
            };
            let (a4, a6) = port_group_sets(pg, |r| self.port_view(r));
            return Some(Cow::Owned(if v6 { a6 } else { a4 }));
        }
        if let Some(a) = self.nb.address_sets.values().rfind(|a| a.name == name) {
            return Some(Cow::Borrowed(&a.addresses));
        }
        (name == "svc_monitor_mac")
            .then(|| Cow::Owned(BTreeSet::from([self.globals.svc_monitor_mac.clone()])))
    }

    /// The SB operations (without the database name) that apply `delta`, given the current SB
    /// rows. Fails with [`NorthdError::SbOutOfStep`] when SB lacks a datapath the engine knows.
    pub fn plan(&self, delta: &Delta, sb_rows: &dyn SbLookup) -> Result<Vec<Value>, NorthdError> {
        self.plan_txn(delta, sb_rows)?.ops_json()
    }

    /// [`plan`](Self::plan) as an [`SbTxn`] (for its [`SbTxn::flow_writes`]).
    pub fn plan_txn(
        &self,
        delta: &Delta,
        sb_rows: &dyn SbLookup,
    ) -> Result<SbTxn<'static>, NorthdError> {
        let mut txn = SbTxn::new();
        let mut dp_cache: HashMap<DpIndex, Uuid> = HashMap::new();
        let mut dp_uuid = |i: DpIndex| -> Result<Uuid, NorthdError> {
            if let Some(u) = dp_cache.get(&i) {
                return Ok(*u);
            }
            let d = self
                .content
                .datapaths
                .get(i)
                .ok_or_else(|| NorthdError::SbOutOfStep(format!("datapath #{i}")))?;
            let u = sb_rows
                .datapath(d.nb_uuid)
                .ok_or_else(|| NorthdError::SbOutOfStep(format!("datapath {}", d.name)))?;
            dp_cache.insert(i, u);
            Ok(u)
        };

        // Port_Binding.
        let mut new_pb: HashMap<&str, Uuid> = HashMap::new();
        for (name, p) in &delta.ports {
            let old = sb_rows.port_binding(name);
            let Some(p) = p else {
                if let Some(o) = old {
                    for f in sb_rows.fdbs_of_port(o.datapath.uuid(), o.tunnel_key) {
                        txn.delete(Ref::<sb::Fdb>::new(f));
                    }
                    txn.delete(o.uuid);
                }
                continue;
            };
            let mut n = old.clone().unwrap_or_default();
            n.logical_port.clone_from(&p.name);
            n.datapath = Ref::new(dp_uuid(p.datapath)?);
            n.tunnel_key = i64::from(p.tunnel_key);
            n.type_.clone_from(&p.type_);
            n.mac.clone_from(&p.mac);
            n.port_security.clone_from(&p.port_security);
            n.options = p.options.clone().into();
            n.external_ids = p.external_ids.clone().into();
            n.parent_port.clone_from(&p.parent_port);
            n.tag = p.tag;
            n.nat_addresses.clone_from(&p.nat_addresses);
            n.ha_chassis_group = p
                .ha_chassis_group
                .as_deref()
                .and_then(|g| sb_rows.ha_chassis_group(g))
                .map(Ref::new);
            // Names of no chassis are skipped (as in the full diff).
            let mut requested = p
                .requested_chassis
                .iter()
                .filter_map(|c| sb_rows.chassis(c))
                .map(Ref::new);
            n.requested_chassis = requested.next();
            n.requested_additional_chassis = requested.collect();
            match &old {
                Some(o) => txn.update(&n, o)?,
                None => {
                    let u = txn.insert(&n)?;
                    new_pb.insert(p.name.as_str(), u);
                }
            }
        }

        // Multicast_Group.
        for ((dp, name), m) in &delta.mc_groups {
            let dpu = dp_uuid(*dp)?;
            let old = sb_rows.multicast_group(dpu, name);
            let Some(m) = m else {
                if let Some(o) = old {
                    txn.delete(o.uuid);
                }
                continue;
            };
            let mut n = old.clone().unwrap_or_default();
            n.datapath = Ref::new(dpu);
            n.name.clone_from(&m.name);
            n.tunnel_key = i64::from(m.tunnel_key);
            n.ports = m
                .ports
                .iter()
                .filter_map(|p| {
                    new_pb
                        .get(p.as_str())
                        .copied()
                        .or_else(|| sb_rows.port_binding_uuid(p))
                })
                .map(Ref::new)
                .collect();
            match &old {
                Some(o) => txn.update_mutating(&n, o, &["ports"])?,
                None => {
                    txn.insert(&n)?;
                }
            }
        }

        // IP_Multicast.
        for (dp, cfg) in &delta.ip_multicast {
            let dpu = dp_uuid(*dp)?;
            let old = sb_rows.ip_multicast(dpu);
            let mut n = old.clone().unwrap_or_default();
            n.datapath = Ref::new(dpu);
            n.enabled = Some(cfg.snoop);
            n.querier = Some(cfg.querier);
            n.eth_src.clone_from(&cfg.eth_src);
            n.ip4_src.clone_from(&cfg.ip4_src);
            n.ip6_src.clone_from(&cfg.ip6_src);
            n.table_size = Some(cfg.table_size);
            n.idle_timeout = Some(cfg.idle_timeout);
            n.query_interval = Some(cfg.query_interval);
            n.query_max_resp = Some(cfg.query_max_resp);
            match &old {
                Some(o) => txn.update(&n, o)?,
                None => {
                    txn.insert(&n)?;
                }
            }
        }

        // Address_Set and Port_Group. A set row that exists is compared element by element
        // without typing it; a few elements that go or come are written as a `mutate` (as
        // `SbTxn::update_mutating` writes them), the rest as below.
        for (name, addrs) in &delta.address_sets {
            if let Some(a) = addrs {
                let changes = sb_rows
                    .address_set_elements(name)
                    .and_then(|(u, e)| Some((u, e.changes(a)?)));
                if let Some((u, (gone, came))) = changes {
                    if gone.is_empty() && came.is_empty() {
                        continue;
                    }
                    if gone.len() + came.len() < a.len() {
                        let came = came.into_iter().map(|c| Atom::String(c.into())).collect();
                        let set = |v| {
                            Datum::set_from_vec(v)
                                .map_err(|e| NorthdError::SbTransaction(e.to_string()))
                        };
                        let mut mutations = Vec::new();
                        if !gone.is_empty() {
                            mutations.push(serde_json::json!([
                                "addresses",
                                "delete",
                                set(gone)?.to_json()
                            ]));
                        }
                        let came: Vec<Atom> = came;
                        if !came.is_empty() {
                            mutations.push(serde_json::json!([
                                "addresses",
                                "insert",
                                set(came)?.to_json()
                            ]));
                        }
                        txn.push_json(serde_json::json!({
                            "op": "mutate",
                            "table": sb::AddressSet::TABLE,
                            "where": [["_uuid", "==", ["uuid", u.to_string()]]],
                            "mutations": mutations,
                        }));
                        continue;
                    }
                }
            }
            let old = sb_rows.address_set(name);
            match (addrs, &old) {
                (None, Some(o)) => txn.delete(o.uuid),
                (None, None) => {}
                (Some(a), _) => {
                    let n = sb::AddressSet {
                        name: name.clone(),
                        addresses: a.clone(),
                        ..old.clone().unwrap_or_default()
                    };
                    match &old {
                        Some(o) => txn.update_mutating(&n, o, &["addresses"])?,
                        None => {
                            txn.insert(&n)?;
                        }
                    }
                }
            }
        }
        for (name, ports) in &delta.port_groups {
            let old = sb_rows.port_group(name);
            match (ports, &old) {
                (None, Some(o)) => txn.delete(o.uuid),
                (None, None) => {}
                (Some(p), _) => {
                    let n = sb::PortGroup {
                        name: name.clone(),
                        ports: p.clone(),
                        ..old.clone().unwrap_or_default()
                    };
                    match &old {
                        Some(o) => txn.update_mutating(&n, o, &["ports"])?,
                        None => {
                            txn.insert(&n)?;
                        }
                    }
                }
            }
        }

        // Logical_Flow: the row of the old datapath set goes, one for the new set comes.
        let mut new_groups: HashMap<BTreeSet<Uuid>, Uuid> = HashMap::new();
        for (k, old, new) in &delta.flows {
            if !old.is_empty() {
                let old_u = old
                    .iter()
                    .map(|d| dp_uuid(*d))
                    .collect::<Result<BTreeSet<Uuid>, _>>()?;
                for (uuid, dp) in sb_rows.logical_flows(k) {
                    let dps = match dp {
                        FlowDp::One(d) => BTreeSet::from([d]),
                        FlowDp::Group(g) => sb_rows.dp_group_datapaths(g).unwrap_or_default(),
                        FlowDp::None => BTreeSet::new(),
                    };
                    if dps == old_u {
                        txn.delete(Ref::<sb::LogicalFlow>::new(uuid));
                    }
                }
            }
            if new.is_empty() {
                continue;
            }
            let new_u = new
                .iter()
                .map(|d| dp_uuid(*d))
                .collect::<Result<BTreeSet<Uuid>, _>>()?;
            let mut f = crate::diff::flow_row(k);
            if new_u.len() == 1 {
                f.logical_datapath = new_u.first().map(|u| Ref::new(*u));
            } else {
                let g = match sb_rows
                    .dp_group(&new_u)
                    .or_else(|| new_groups.get(&new_u).copied())
                {
                    Some(g) => g,
                    None => {
                        let g = sb::LogicalDpGroup {
                            datapaths: new_u.iter().map(|d| Ref::new(*d)).collect(),
                            ..Default::default()
                        };
                        let u = txn.insert(&g)?;
                        new_groups.insert(new_u.clone(), u);
                        u
                    }
                };
                f.logical_dp_group = Some(Ref::new(g));
            }
            txn.insert(&f)?;
        }
        Ok(txn)
    }
}

/// Whether flow `k` on a switch is of a kind the switch's routers write there (the switch-side
/// ARP/ND flows of router ports, `ls_in_l2_lkup` priority 80 and 75, and 50 when gated on a
/// chassis).
fn router_switch_flow(k: &FlowKey) -> bool {
    k.stage == ovn_sb::stage::Stage::LsInL2Lkup
        && (k.priority == 80
            || k.priority == 75
            || (k.priority == 50 && k.match_.contains("is_chassis_resident")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn string_datum(v: &[&str]) -> Datum {
        Datum::set_from_vec(v.iter().map(|s| Atom::String((*s).into())).collect())
            .unwrap_or_else(|_| Datum::empty_set())
    }

    #[test]
    fn dynamic_addresses_are_found_as_a_full_parse_finds_them() {
        let words = [
            "dynamic",
            "unknown",
            "router",
            "0a:00:00:00:00:01",
            "zz:00",
            "10.0.0.5",
            "fd00::5",
            "10.0.0.0/24",
            "DYNAMIC",
            "dynamic2",
            "",
        ];
        let mut texts = vec![
            String::new(),
            " dynamic ".to_owned(),
            "\tdynamic".to_owned(),
        ];
        for a in words {
            for b in words {
                texts.push(format!("{a} {b}"));
                for c in words {
                    texts.push(format!("{a} {b} {c}"));
                    texts.push(format!("{a}  {b}\t{c} dynamic"));
                }
            }
        }
        for t in texts {
            let l = nb::LogicalSwitchPort {
                addresses: BTreeSet::from([t.clone()]),
                ..Default::default()
            };
            let full = matches!(t.parse::<LspAddress>(), Ok(LspAddress::Dynamic { .. }));
            assert_eq!(has_dynamic(&l), full, "{t:?}");
        }
    }

    #[test]
    fn str_changes_walks_both_sets() {
        let (gone, came) = str_changes(["a", "c", "d", "f"], ["b", "c", "e", "f", "g"]);
        assert_eq!(gone, ["a", "d"]);
        assert_eq!(came, ["b", "e", "g"]);
        let (gone, came) = str_changes([], ["x"]);
        assert!(gone.is_empty());
        assert_eq!(came, ["x"]);
    }

    #[test]
    fn string_changes_against_a_typed_set() {
        let old = strings(&["10.0.0.1", "10.0.0.2", "10.0.0.4"]);
        let new = string_datum(&["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]);
        let (added, removed) = string_changes(&new, &old).unwrap_or_default();
        assert_eq!(added, ["10.0.0.3", "10.0.0.5"]);
        assert_eq!(removed, ["10.0.0.1"]);
        let mut patched = old;
        patch_set(&mut patched, added, &removed);
        assert_eq!(
            patched,
            strings(&["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"])
        );
        // Atoms of another type: no answer (the caller types the row).
        let uuids = Datum::set_from_vec(vec![Atom::Uuid(Uuid::nil())])
            .unwrap_or_else(|_| Datum::empty_set());
        assert!(string_changes(&uuids, &strings(&["a"])).is_none());
    }

    #[test]
    fn ref_changes_against_a_typed_set() {
        let u = |n: u128| Uuid::from_u128(n);
        let old: BTreeSet<Ref<nb::LogicalSwitchPort>> = [1, 3].map(|n| Ref::new(u(n))).into();
        let new = Datum::set_from_vec([2, 3].map(|n| Atom::Uuid(u(n))).to_vec())
            .unwrap_or_else(|_| Datum::empty_set());
        let (added, removed) = ref_changes(&new, &old).unwrap_or_default();
        assert_eq!(added, [Ref::new(u(2))]);
        assert_eq!(removed, [Ref::new(u(1))]);
    }

    #[test]
    fn set_elements_changes_agree_for_atoms_and_strings() {
        let sb = ["a", "b", "d"];
        let new = strings(&["b", "c", "d", "e"]);
        let typed = strings(&sb);
        for e in [
            SetElements::Atoms(string_datum(&sb)),
            SetElements::Strings(Cow::Borrowed(&typed)),
        ] {
            let (gone, came) = e.changes(&new).unwrap_or_default();
            assert_eq!(gone, [Atom::String("a".into())]);
            assert_eq!(came, ["c", "e"]);
        }
    }
}
