//! What one chassis sees of the Southbound database: local datapaths, port keys and
//! residency, address sets, port groups reduced to local members, multicast groups, meters.
//!
//! Locality follows ovn-controller 23.03: a datapath is local when a port binding on it is
//! bound to this chassis (`chassis` or `additional_chassis`), and every datapath reachable from
//! a local one through `patch` port peers (`options:peer`) is local too, except that a
//! distributed gateway port (one with a `cr-<name>` chassis-redirect port) leads to its peer
//! only where the chassis-redirect port is resident; `l3gateway` ports lead to their peers
//! only on the chassis they are bound to.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::sb::{LogicalFlowRow, PortBindingRow, SbTables};
use super::ChassisError;
use crate::annotate::SetResolver;
use crate::condition::ChassisResident;
use crate::lex::{parse_constant, IntConst};
use crate::matches::PortLookup;

/// Deepest chain of patch ports followed from a bound datapath (ovn-controller's limit).
pub const MAX_PATCH_DEPTH: usize = 100;

/// True for the port types ovn-controller 23.03 counts as related to every chassis
/// (whether or not anything binds them).  Not localports: their flows are not installed
/// (seen on the real stack).
pub(crate) fn is_always_related(kind: &str) -> bool {
    matches!(kind, "patch" | "localnet" | "vtep")
}

/// One port binding as the chassis sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    /// `logical_port`
    pub name: String,
    /// `type` (empty for a VIF).
    pub kind: String,
    /// Tunnel key of its datapath.
    pub datapath: u32,
    /// Its own tunnel key.
    pub tunnel_key: u32,
    /// Bound to this chassis (`chassis` or `additional_chassis`); for a chassis-redirect
    /// port, the gateway is here.
    pub resident: bool,
    /// Its `ha_chassis_group` lists this chassis (for a chassis-redirect port: this
    /// chassis is one of the gateways).
    pub ha_group_here: bool,
}

/// One datapath as the chassis sees it.
#[derive(Debug, Clone, Default)]
pub struct DatapathView {
    /// Tunnel key (the OpenFlow `metadata`).
    pub tunnel_key: u32,
    /// True for a logical switch, false for a router (`external_ids:logical-router`).
    pub is_switch: bool,
    /// Its port groups (SB name `<key>_<name>`), by NB name, with local members only.
    pub port_groups: HashMap<String, Vec<String>>,
    /// Its multicast groups: name → tunnel key.
    pub multicast_groups: HashMap<String, u32>,
    /// Its ports: name → tunnel key.
    pub ports: HashMap<String, u32>,
    /// Tunnel keys of its ports related to the chassis (ovn-controller's related lports):
    /// bound here, or patch, localnet and vtep ports.  A switch flow's OpenFlow
    /// match on an ingress `inport` or egress `outport` outside this set is not installed.
    pub related_ports: HashSet<u32>,
}

/// Everything [`compile_chassis_flows`](super::compile_chassis_flows) needs to know about one
/// chassis.
#[derive(Debug, Clone, Default)]
pub struct ChassisView {
    /// The chassis name (`Chassis:name`).
    pub chassis: String,
    /// Datapaths by UUID (as a 128-bit integer), local or not.
    pub datapaths: HashMap<u128, DatapathView>,
    /// Tunnel keys of the datapaths local to this chassis.
    pub local_datapaths: BTreeSet<u32>,
    /// Port bindings by name.
    pub ports: HashMap<String, PortView>,
    /// Logical datapath groups: UUID → member datapath UUIDs.
    pub dp_groups: HashMap<u128, Vec<u128>>,
    /// Address sets, parsed.
    pub address_sets: HashMap<String, Vec<IntConst>>,
    /// Meter names present in SB.
    pub meters: BTreeSet<String>,
    /// Address set entries that did not parse (`set: value`), skipped as ovn-controller does.
    pub bad_addresses: Vec<String>,
    /// Ids of the OVS `Flow_Sample_Collector_Set` rows of the integration bridge. Not in SB:
    /// ovn-controller reads them from the local Open_vSwitch database. A `sample` action
    /// whose `collector_set` is not among them encodes to nothing, as in ovn-controller
    /// 23.03; empty by default.
    pub sample_collectors: BTreeSet<u32>,
    /// The chassis has `ovn-monitor-all=true`: its ovn-controller holds every logical flow.
    pub monitor_all: bool,
    /// The chassis' template variables (`Chassis_Template_Var`), expanded in logical flows'
    /// matches and actions (`^NAME`).
    pub template_vars: BTreeMap<String, String>,
}

fn key(k: i64) -> u32 {
    u32::try_from(k).unwrap_or(0)
}

impl ChassisView {
    /// Builds the view of chassis `name` from SB rows.
    pub fn new(sb: &SbTables, name: &str) -> Result<Self, ChassisError> {
        let ch = sb
            .chassis
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ChassisError::NoChassis(name.to_owned()))?;
        let here = ch.uuid;
        // Maps sized up front: growing them rehashes, and each large allocation costs glibc's
        // malloc a consolidation pass.
        let mut view = Self {
            chassis: name.to_owned(),
            monitor_all: ch.monitor_all,
            template_vars: sb
                .template_vars
                .iter()
                .find(|t| t.chassis == name)
                .map(|t| t.variables.clone())
                .unwrap_or_default(),
            datapaths: HashMap::with_capacity(sb.datapaths.len()),
            ports: HashMap::with_capacity(sb.port_bindings.len()),
            dp_groups: HashMap::with_capacity(sb.dp_groups.len()),
            address_sets: HashMap::with_capacity(sb.address_sets.len()),
            ..Self::default()
        };
        let mut dp_key_by_uuid: HashMap<u128, u32> = HashMap::with_capacity(sb.datapaths.len());
        for dp in &sb.datapaths {
            let u = dp.uuid;
            dp_key_by_uuid.insert(u, key(dp.tunnel_key));
            view.datapaths.insert(
                u,
                DatapathView {
                    tunnel_key: key(dp.tunnel_key),
                    is_switch: !dp.is_router,
                    ..DatapathView::default()
                },
            );
        }
        let mut by_dp: HashMap<u128, Vec<&PortBindingRow>> =
            HashMap::with_capacity(sb.datapaths.len());
        // The HA chassis groups that list this chassis.
        let ha_here: HashSet<u128> = sb
            .ha_chassis
            .iter()
            .filter(|h| h.chassis == Some(here))
            .map(|h| h.uuid)
            .collect();
        let groups_here: HashSet<u128> = sb
            .ha_chassis_groups
            .iter()
            .filter(|g| g.ha_chassis.iter().any(|h| ha_here.contains(h)))
            .map(|g| g.uuid)
            .collect();
        for pb in &sb.port_bindings {
            let dpu = pb.datapath;
            let resident = pb.chassis == Some(here) || pb.additional_chassis.contains(&here);
            view.ports.insert(
                pb.logical_port.clone(),
                PortView {
                    name: pb.logical_port.clone(),
                    kind: pb.kind.clone(),
                    datapath: dp_key_by_uuid.get(&dpu).copied().unwrap_or(0),
                    tunnel_key: key(pb.tunnel_key),
                    resident,
                    ha_group_here: pb
                        .ha_chassis_group
                        .is_some_and(|g| groups_here.contains(&g)),
                },
            );
            if let Some(dp) = view.datapaths.get_mut(&dpu) {
                dp.ports.insert(pb.logical_port.clone(), key(pb.tunnel_key));
                if resident || is_always_related(&pb.kind) {
                    dp.related_ports.insert(key(pb.tunnel_key));
                }
            }
            by_dp.entry(dpu).or_default().push(pb);
        }
        // Locality: bound ports, then patch peers.
        let port_dp: HashMap<&str, u128> = sb
            .port_bindings
            .iter()
            .map(|p| (p.logical_port.as_str(), p.datapath))
            .collect();
        let mut local: HashSet<u128> = HashSet::new();
        let mut stack: Vec<(u128, usize)> = sb
            .port_bindings
            .iter()
            // Not a patch port that keeps the chassis it had as an l3gateway port (its router
            // was disabled, say): ovn-controller does not count it as bound here.
            .filter(|p| !is_always_related(&p.kind))
            // A chassis-redirect port counts where its HA chassis group lists this chassis,
            // active or standby.
            .filter(|p| {
                view.ports
                    .get(&p.logical_port)
                    .is_some_and(|v| v.resident || (v.kind == "chassisredirect" && v.ha_group_here))
            })
            .map(|p| (p.datapath, 0))
            .collect();
        while let Some((dp, depth)) = stack.pop() {
            if depth > MAX_PATCH_DEPTH || !local.insert(dp) {
                continue;
            }
            for pb in by_dp.get(&dp).map(Vec::as_slice).unwrap_or_default() {
                if pb.kind != "patch" && pb.kind != "l3gateway" {
                    continue;
                }
                let Some(peer) = &pb.peer else {
                    continue;
                };
                // An l3gateway port leads on only from the chassis it is bound to.
                if pb.kind == "l3gateway"
                    && !view.ports.get(&pb.logical_port).is_some_and(|p| p.resident)
                {
                    continue;
                }
                // Through a distributed gateway port only if this chassis is one of its
                // gateways (active or not, as ovn-controller 23.03 decides).
                let cr = format!("cr-{}", pb.logical_port);
                if let Some(crp) = view.ports.get(&cr) {
                    if crp.kind == "chassisredirect" && !crp.resident && !crp.ha_group_here {
                        continue;
                    }
                }
                if let Some(pdp) = port_dp.get(peer.as_str()) {
                    stack.push((*pdp, depth + 1));
                }
            }
        }
        view.local_datapaths = local
            .iter()
            .filter_map(|u| dp_key_by_uuid.get(u).copied())
            .collect();
        // Port groups: "<dp key>_<name>", local members only.
        let dp_by_key: HashMap<u32, u128> = dp_key_by_uuid.iter().map(|(u, k)| (*k, *u)).collect();
        for pg in &sb.port_groups {
            let Some((k, nb_name)) = pg.name.split_once('_') else {
                continue;
            };
            let Some(dpu) = k.parse::<u32>().ok().and_then(|k| dp_by_key.get(&k)) else {
                continue;
            };
            let members: Vec<String> = pg
                .ports
                .iter()
                .filter(|p| view.ports.get(*p).is_some_and(|v| v.resident))
                .cloned()
                .collect();
            if let Some(dp) = view.datapaths.get_mut(dpu) {
                dp.port_groups.insert(nb_name.to_owned(), members);
            }
        }
        for mg in &sb.multicast_groups {
            if let Some(dp) = view.datapaths.get_mut(&mg.datapath) {
                dp.multicast_groups
                    .insert(mg.name.clone(), key(mg.tunnel_key));
            }
        }
        for g in &sb.dp_groups {
            view.dp_groups.insert(g.uuid, g.datapaths.clone());
        }
        for a in &sb.address_sets {
            let mut values = Vec::with_capacity(a.addresses.len());
            for v in &a.addresses {
                match parse_constant(v) {
                    Ok(c) => values.push(c),
                    Err(_) => view.bad_addresses.push(format!("{}: {v}", a.name)),
                }
            }
            view.address_sets.insert(a.name.clone(), values);
        }
        view.meters = sb.meters.iter().cloned().collect();
        Ok(view)
    }

    /// True if the datapath with this tunnel key is local to the chassis.
    pub fn is_local(&self, dp_key: u32) -> bool {
        self.local_datapaths.contains(&dp_key)
    }

    /// The datapaths (UUID, view) a logical flow applies to, in tunnel-key order.
    pub fn flow_datapaths(&self, flow: &LogicalFlowRow) -> Vec<(u128, &DatapathView)> {
        let mut uuids: Vec<u128> = Vec::new();
        if let Some(dp) = flow.logical_datapath {
            uuids.push(dp);
        }
        if let Some(g) = flow.logical_dp_group {
            if let Some(members) = self.dp_groups.get(&g) {
                uuids.extend(members.iter().copied());
            }
        }
        let mut out: Vec<(u128, &DatapathView)> = uuids
            .into_iter()
            .filter_map(|u| self.datapaths.get(&u).map(|d| (u, d)))
            .collect();
        out.sort_by_key(|(_, d)| d.tunnel_key);
        out.dedup_by_key(|(_, d)| d.tunnel_key);
        out
    }

    /// The lookups for flows of one datapath.
    pub fn for_datapath<'a>(&'a self, dp: &'a DatapathView) -> DatapathLookup<'a> {
        DatapathLookup { view: self, dp }
    }
}

/// Name resolution for the flows of one datapath: sets, residency, port keys.
#[derive(Debug, Clone, Copy)]
pub struct DatapathLookup<'a> {
    view: &'a ChassisView,
    dp: &'a DatapathView,
}

impl DatapathLookup<'_> {
    /// The datapath.
    pub fn datapath(&self) -> &DatapathView {
        self.dp
    }

    /// The OVS collector set id for a `sample` action's `collector_set`: the same id, if the
    /// integration bridge has a `Flow_Sample_Collector_Set` with it.
    pub fn sample_collector(&self, set: u32) -> Option<u32> {
        self.view.sample_collectors.contains(&set).then_some(set)
    }

    /// Tunnel key of a port or multicast group of this datapath, for actions.
    pub fn action_port_key(&self, name: &str) -> Option<u32> {
        self.dp
            .ports
            .get(name)
            .or_else(|| self.dp.multicast_groups.get(name))
            .copied()
    }
}

impl SetResolver for DatapathLookup<'_> {
    fn address_set(&self, name: &str) -> Option<&[IntConst]> {
        self.view.address_sets.get(name).map(Vec::as_slice)
    }

    fn port_group(&self, name: &str) -> Option<&[String]> {
        self.dp.port_groups.get(name).map(Vec::as_slice)
    }
}

impl ChassisResident for DatapathLookup<'_> {
    fn is_chassis_resident(&self, port: &str) -> bool {
        self.view.ports.get(port).is_some_and(|p| p.resident)
    }
}

impl PortLookup for DatapathLookup<'_> {
    fn port_key(&self, _field: &str, name: &str) -> Option<u32> {
        if name == "none" {
            return Some(0);
        }
        if let Some(p) = self.view.ports.get(name) {
            if p.datapath != self.dp.tunnel_key {
                return None;
            }
            return Some(p.tunnel_key);
        }
        self.dp.multicast_groups.get(name).copied()
    }
}

/// Reads `ovn-sbctl -f json list TABLE` output (`{"headings": [...], "data": [[...], ...]}`)
/// into row objects for [`SbTables::add_json_rows`].
pub fn rows_from_table_json(json: &Value) -> Result<Vec<Value>, ChassisError> {
    let bad = || ChassisError::Row {
        table: String::new(),
        message: "expected {\"headings\": [...], \"data\": [...]}".to_owned(),
    };
    let headings: Vec<&str> = json
        .get("headings")
        .and_then(Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|h| h.as_str().unwrap_or_default())
        .collect();
    let data = json.get("data").and_then(Value::as_array).ok_or_else(bad)?;
    let mut rows = Vec::with_capacity(data.len());
    for r in data {
        let cells = r.as_array().ok_or_else(bad)?;
        let obj: serde_json::Map<String, Value> = headings
            .iter()
            .zip(cells)
            .map(|(h, c)| ((*h).to_owned(), c.clone()))
            .collect();
        rows.push(Value::Object(obj));
    }
    Ok(rows)
}
