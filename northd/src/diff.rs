//! The diff: current Southbound rows against new [`SbContent`], as the operations of one SB
//! `transact` (RFC 7047 JSON).
//!
//! Rows are matched by their natural keys: datapaths by their NB UUID (`external_ids`), ports by
//! `logical_port`, multicast groups by datapath and name, address sets and port groups by name,
//! logical flows by pipeline, table, priority, match, actions and their set of datapaths. Only
//! columns northd owns are written (a port's `chassis` or `up` stay as ovn-controller set them);
//! unchanged rows produce no operation. Flows on several datapaths share a `Logical_DP_Group`,
//! reusing an existing group with the same datapaths.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ovn_sb::model as sb;
use ovsdb::model::{Model, Ref};
use ovsdb::Database;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::content::SbContent;
use crate::error::NorthdError;
use crate::flow::DpIndex;
use crate::snapshot::Rows;
use crate::snapshot::{rows_from_db, rows_from_json};

/// The Southbound rows the diff reads.
#[derive(Debug, Clone, Default)]
pub struct SbRows {
    /// `SB_Global`.
    pub sb_global: Option<sb::SbGlobal>,
    /// `Datapath_Binding`.
    pub datapaths: Rows<sb::DatapathBinding>,
    /// `Port_Binding`.
    pub ports: Rows<sb::PortBinding>,
    /// `Multicast_Group`.
    pub multicast_groups: Rows<sb::MulticastGroup>,
    /// `Address_Set`.
    pub address_sets: Rows<sb::AddressSet>,
    /// `Port_Group`.
    pub port_groups: Rows<sb::PortGroup>,
    /// `Logical_Flow`.
    pub logical_flows: Rows<sb::LogicalFlow>,
    /// `Logical_DP_Group`.
    pub dp_groups: Rows<sb::LogicalDpGroup>,
    /// `Load_Balancer`.
    pub load_balancers: Rows<sb::LoadBalancer>,
    /// `IP_Multicast`.
    pub ip_multicast: Rows<sb::IpMulticast>,
    /// `Chassis`.
    pub chassis: Rows<sb::Chassis>,
    /// `HA_Chassis_Group`.
    pub ha_chassis_groups: Rows<sb::HaChassisGroup>,
    /// `HA_Chassis`.
    pub ha_chassis: Rows<sb::HaChassis>,
    /// `Static_MAC_Binding`.
    pub static_mac_bindings: Rows<sb::StaticMacBinding>,
    /// `DHCP_Options` (the option catalogue, [`crate::dhcp_catalogue`]).
    pub dhcp_options: Rows<sb::DhcpOptions>,
    /// `DHCPv6_Options`.
    pub dhcpv6_options: Rows<sb::Dhcpv6Options>,
}

impl SbRows {
    /// The tables the diff reads, for callers that fetch them (e.g. with `select`).
    pub const TABLES: &'static [&'static str] = &[
        "SB_Global",
        "Datapath_Binding",
        "Port_Binding",
        "Multicast_Group",
        "Address_Set",
        "Port_Group",
        "Logical_Flow",
        "Logical_DP_Group",
        "Load_Balancer",
        "IP_Multicast",
        "Chassis",
        "HA_Chassis_Group",
        "HA_Chassis",
        "Static_MAC_Binding",
        "DHCP_Options",
        "DHCPv6_Options",
    ];

    /// Reads a JSON object of table name to rows (an array of JSON rows with `_uuid`, or an
    /// object of UUID to row).
    pub fn from_json(tables: &Value) -> Result<Self, NorthdError> {
        let t = tables.as_object().ok_or_else(|| NorthdError::NotRows {
            table: "(top level)".to_owned(),
        })?;
        let mut globals: Rows<sb::SbGlobal> = rows_from_json(t)?;
        Ok(Self {
            sb_global: globals.pop_first().map(|(_, g)| g),
            datapaths: rows_from_json(t)?,
            ports: rows_from_json(t)?,
            multicast_groups: rows_from_json(t)?,
            address_sets: rows_from_json(t)?,
            port_groups: rows_from_json(t)?,
            logical_flows: rows_from_json(t)?,
            dp_groups: rows_from_json(t)?,
            load_balancers: rows_from_json(t)?,
            ip_multicast: rows_from_json(t)?,
            chassis: rows_from_json(t)?,
            ha_chassis_groups: rows_from_json(t)?,
            ha_chassis: rows_from_json(t)?,
            static_mac_bindings: rows_from_json(t)?,
            dhcp_options: rows_from_json(t)?,
            dhcpv6_options: rows_from_json(t)?,
        })
    }

    /// Reads the rows from an in-memory Southbound database.
    pub fn from_database(db: &Database) -> Result<Self, NorthdError> {
        let mut globals: Rows<sb::SbGlobal> = rows_from_db(db)?;
        Ok(Self {
            sb_global: globals.pop_first().map(|(_, g)| g),
            datapaths: rows_from_db(db)?,
            ports: rows_from_db(db)?,
            multicast_groups: rows_from_db(db)?,
            address_sets: rows_from_db(db)?,
            port_groups: rows_from_db(db)?,
            logical_flows: rows_from_db(db)?,
            dp_groups: rows_from_db(db)?,
            load_balancers: rows_from_db(db)?,
            ip_multicast: rows_from_db(db)?,
            chassis: rows_from_db(db)?,
            ha_chassis_groups: rows_from_db(db)?,
            ha_chassis: rows_from_db(db)?,
            static_mac_bindings: rows_from_db(db)?,
            dhcp_options: rows_from_db(db)?,
            dhcpv6_options: rows_from_db(db)?,
        })
    }

    /// The keys and chassis features a compile against this SB needs.
    pub fn state(&self) -> crate::SbState {
        let dps: Vec<_> = self.datapaths.values().cloned().collect();
        let pbs: Vec<_> = self.ports.values().cloned().collect();
        let ch: Vec<_> = self.chassis.values().cloned().collect();
        crate::SbState::from_rows(&dps, &pbs, &ch)
    }
}

/// True for `["set", []]` and `["map", []]`.
fn is_empty_collection(v: &Value) -> bool {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(tag), Value::Array(items)]) => {
            (tag == "set" || tag == "map") && items.is_empty()
        }
        _ => false,
    }
}

/// Builds the operations; new rows get placeholder UUIDs that are rewritten to `named-uuid`s.
struct OpBuilder {
    ops: Vec<Value>,
    placeholders: HashMap<Uuid, String>,
    next: u128,
}

impl OpBuilder {
    fn new() -> Self {
        Self {
            ops: Vec::new(),
            placeholders: HashMap::new(),
            next: 0,
        }
    }

    /// A fresh placeholder UUID standing for the row named `row<N>` in this transaction.
    fn placeholder(&mut self) -> Uuid {
        self.next += 1;
        let u = Uuid::from_u128((0x6e6f_7274_6864u128 << 80) | self.next);
        self.placeholders.insert(u, format!("row{}", self.next));
        u
    }

    fn insert<T: Model>(&mut self, row: &T, uuid: Uuid) -> Result<(), NorthdError> {
        let mut cols = row.columns_json()?;
        // An empty set or map is what a column left out of an insert holds anyway: leaving it
        // out keeps the transaction (and the server's work) smaller.
        cols.retain(|_, v| !is_empty_collection(v));
        let name = self.placeholders.get(&uuid).cloned().unwrap_or_default();
        self.ops.push(json!({
            "op": "insert",
            "table": T::TABLE,
            "uuid-name": name,
            "row": Value::Object(cols),
        }));
        Ok(())
    }

    fn update<T: Model>(&mut self, new: &T, old: &T) -> Result<(), NorthdError> {
        let cols = new.changed_columns_json(old)?;
        if cols.is_empty() {
            return Ok(());
        }
        self.ops.push(json!({
            "op": "update",
            "table": T::TABLE,
            "where": [["_uuid", "==", ["uuid", old.uuid().to_string()]]],
            "row": Value::Object(cols),
        }));
        Ok(())
    }

    /// Updates `old` to `new`, or inserts `new` under a fresh placeholder when there is no `old`.
    fn put<T: Model>(&mut self, new: &T, old: Option<&T>) -> Result<(), NorthdError> {
        match old {
            Some(old) => self.update(new, old),
            None => {
                let u = self.placeholder();
                self.insert(new, u)
            }
        }
    }

    fn delete<T: Model>(&mut self, uuid: Ref<T>) {
        self.ops.push(json!({
            "op": "delete",
            "table": T::TABLE,
            "where": [["_uuid", "==", ["uuid", uuid.to_string()]]],
        }));
    }

    fn finish(self) -> Vec<Value> {
        let p = self.placeholders;
        self.ops
            .into_iter()
            .map(|mut op| {
                rewrite(&mut op, &p);
                op
            })
            .collect()
    }
}

fn rewrite(v: &mut Value, p: &HashMap<Uuid, String>) {
    match v {
        Value::Array(a) => {
            if a.len() == 2 && a[0] == "uuid" {
                if let Some(name) = a[1]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .and_then(|u| p.get(&u))
                {
                    *v = json!(["named-uuid", name]);
                    return;
                }
            }
            for x in a {
                rewrite(x, p);
            }
        }
        Value::Object(o) => {
            for x in o.values_mut() {
                rewrite(x, p);
            }
        }
        _ => {}
    }
}

/// The operations (without the leading database name) that turn `current` into `new`.
pub fn diff(current: &SbRows, new: &SbContent) -> Result<Vec<Value>, NorthdError> {
    let mut b = OpBuilder::new();

    // SB_Global.
    match &current.sb_global {
        Some(g) => {
            let mut n = g.clone();
            n.options.clone_from(&new.global_options);
            b.update(&n, g)?;
        }
        None => {
            let g = sb::SbGlobal {
                options: new.global_options.clone(),
                ..Default::default()
            };
            let u = b.placeholder();
            b.insert(&g, u)?;
        }
    }

    // Datapath_Binding, by NB UUID.
    let mut by_nb: BTreeMap<Uuid, &sb::DatapathBinding> = BTreeMap::new();
    for dp in current.datapaths.values() {
        let nb = ["logical-switch", "logical-router"]
            .iter()
            .find_map(|k| dp.external_ids.get(*k))
            .and_then(|s| Uuid::parse_str(s).ok());
        match nb {
            Some(nb) if !by_nb.contains_key(&nb) => {
                by_nb.insert(nb, dp);
            }
            _ => b.delete(dp.uuid),
        }
    }
    let mut dp_uuid: Vec<Uuid> = Vec::with_capacity(new.datapaths.len());
    for d in &new.datapaths {
        match by_nb.remove(&d.nb_uuid) {
            Some(old) => {
                let mut n = old.clone();
                n.tunnel_key = i64::from(d.tunnel_key);
                n.external_ids.clone_from(&d.external_ids);
                b.update(&n, old)?;
                dp_uuid.push(old.uuid.uuid());
            }
            None => {
                let u = b.placeholder();
                let n = sb::DatapathBinding {
                    tunnel_key: i64::from(d.tunnel_key),
                    external_ids: d.external_ids.clone(),
                    ..Default::default()
                };
                b.insert(&n, u)?;
                dp_uuid.push(u);
            }
        }
    }
    for old in by_nb.values() {
        b.delete(old.uuid);
    }
    let dp_ref = |i: DpIndex| Ref::<sb::DatapathBinding>::new(dp_uuid[i]);

    let ha_groups = diff_ha_groups(current, new, &mut b)?;
    // A chassis by name, else by hostname (as `options:requested-chassis` may name it).
    let chassis_ref = |name: &str| {
        let all = || current.chassis.values();
        all()
            .find(|c| c.name == name)
            .or_else(|| all().find(|c| c.hostname == name))
            .map(|c| c.uuid)
    };

    // Port_Binding, by logical_port.
    let mut old_pb: BTreeMap<&str, &sb::PortBinding> = current
        .ports
        .values()
        .map(|p| (p.logical_port.as_str(), p))
        .collect();
    let mut pb_uuid: BTreeMap<(DpIndex, &str), Uuid> = BTreeMap::new();
    for p in &new.ports {
        let old = old_pb.remove(p.name.as_str());
        let mut n = old.cloned().unwrap_or_default();
        n.logical_port.clone_from(&p.name);
        n.datapath = dp_ref(p.datapath);
        n.tunnel_key = i64::from(p.tunnel_key);
        n.type_.clone_from(&p.type_);
        n.mac.clone_from(&p.mac);
        n.port_security.clone_from(&p.port_security);
        n.options.clone_from(&p.options);
        n.external_ids.clone_from(&p.external_ids);
        n.parent_port.clone_from(&p.parent_port);
        n.tag = p.tag;
        n.nat_addresses.clone_from(&p.nat_addresses);
        n.ha_chassis_group = p
            .ha_chassis_group
            .as_ref()
            .and_then(|g| ha_groups.get(g))
            .map(|u| Ref::new(*u));
        let mut requested = p.requested_chassis.iter().map(|c| chassis_ref(c));
        n.requested_chassis = requested.next().flatten();
        n.requested_additional_chassis = requested.flatten().collect();
        let u = match old {
            Some(old) => {
                b.update(&n, old)?;
                old.uuid.uuid()
            }
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
                u
            }
        };
        pb_uuid.insert((p.datapath, p.name.as_str()), u);
    }
    for old in old_pb.values() {
        b.delete(old.uuid);
    }

    // Multicast_Group, by datapath and name.
    let mut old_mc: BTreeMap<(Uuid, &str), &sb::MulticastGroup> = current
        .multicast_groups
        .values()
        .map(|m| ((m.datapath.uuid(), m.name.as_str()), m))
        .collect();
    for m in &new.multicast_groups {
        let dpu = dp_uuid[m.datapath];
        let old = old_mc.remove(&(dpu, m.name.as_str()));
        let mut n = old.cloned().unwrap_or_default();
        n.datapath = dp_ref(m.datapath);
        n.name.clone_from(&m.name);
        n.tunnel_key = i64::from(m.tunnel_key);
        n.ports = m
            .ports
            .iter()
            .filter_map(|p| pb_uuid.get(&(m.datapath, p.as_str())))
            .map(|u| Ref::new(*u))
            .collect();
        b.put(&n, old)?;
    }
    for old in old_mc.values() {
        b.delete(old.uuid);
    }

    diff_static_mac_bindings(current, new, &dp_uuid, &mut b)?;

    // IP_Multicast, by datapath.
    let mut old_ipm: BTreeMap<Uuid, &sb::IpMulticast> = current
        .ip_multicast
        .values()
        .map(|m| (m.datapath.uuid(), m))
        .collect();
    for (dp, cfg) in &new.ip_multicast {
        let old = old_ipm.remove(&dp_uuid[*dp]);
        let mut n = old.cloned().unwrap_or_default();
        n.datapath = dp_ref(*dp);
        n.enabled = Some(cfg.snoop);
        n.querier = Some(cfg.querier);
        n.eth_src.clone_from(&cfg.eth_src);
        n.ip4_src.clone_from(&cfg.ip4_src);
        n.ip6_src.clone_from(&cfg.ip6_src);
        n.table_size = Some(cfg.table_size);
        n.idle_timeout = Some(cfg.idle_timeout);
        n.query_interval = Some(cfg.query_interval);
        n.query_max_resp = Some(cfg.query_max_resp);
        b.put(&n, old)?;
    }
    for old in old_ipm.values() {
        b.delete(old.uuid);
    }

    // DHCP_Options and DHCPv6_Options: the fixed option catalogue, by name.
    let mut old_d4: BTreeMap<&str, &sb::DhcpOptions> = current
        .dhcp_options
        .values()
        .map(|o| (o.name.as_str(), o))
        .collect();
    for &(name, code, type_) in crate::dhcp_catalogue::DHCPV4 {
        let n = sb::DhcpOptions {
            name: name.to_owned(),
            code,
            type_,
            ..Default::default()
        };
        b.put(&n, old_d4.remove(name))?;
    }
    for old in old_d4.values() {
        b.delete(old.uuid);
    }
    let mut old_d6: BTreeMap<&str, &sb::Dhcpv6Options> = current
        .dhcpv6_options
        .values()
        .map(|o| (o.name.as_str(), o))
        .collect();
    for &(name, code, type_) in crate::dhcp_catalogue::DHCPV6 {
        let n = sb::Dhcpv6Options {
            name: name.to_owned(),
            code,
            type_,
            ..Default::default()
        };
        b.put(&n, old_d6.remove(name))?;
    }
    for old in old_d6.values() {
        b.delete(old.uuid);
    }

    // Address_Set and Port_Group, by name.
    let mut old_as: BTreeMap<&str, &sb::AddressSet> = current
        .address_sets
        .values()
        .map(|a| (a.name.as_str(), a))
        .collect();
    for (name, addrs) in &new.address_sets {
        let n = sb::AddressSet {
            name: name.clone(),
            addresses: addrs.clone(),
            ..Default::default()
        };
        match old_as.remove(name.as_str()) {
            Some(old) => b.update(&n, old)?,
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
            }
        }
    }
    for old in old_as.values() {
        b.delete(old.uuid);
    }
    let mut old_pg: BTreeMap<&str, &sb::PortGroup> = current
        .port_groups
        .values()
        .map(|a| (a.name.as_str(), a))
        .collect();
    for (name, ports) in &new.port_groups {
        let n = sb::PortGroup {
            name: name.clone(),
            ports: ports.clone(),
            ..Default::default()
        };
        match old_pg.remove(name.as_str()) {
            Some(old) => b.update(&n, old)?,
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
            }
        }
    }
    for old in old_pg.values() {
        b.delete(old.uuid);
    }

    // Existing groups by their datapath sets, for reuse by load balancers and flows.
    let mut groups: BTreeMap<BTreeSet<Uuid>, Uuid> = current
        .dp_groups
        .values()
        .map(|g| {
            (
                g.datapaths.iter().map(|d| d.uuid()).collect(),
                g.uuid.uuid(),
            )
        })
        .collect();
    diff_load_balancers(current, new, &dp_uuid, &mut groups, &mut b)?;
    diff_flows(current, new, &dp_uuid, &mut groups, &mut b)?;
    Ok(b.finish())
}

/// `HA_Chassis_Group` rows by name, each with its `HA_Chassis` rows (reused by chassis name;
/// `ref_chassis` is left as it is). Returns the UUID (or placeholder) of each group.
fn diff_ha_groups(
    current: &SbRows,
    new: &SbContent,
    b: &mut OpBuilder,
) -> Result<BTreeMap<String, Uuid>, NorthdError> {
    let chassis_by_name: BTreeMap<&str, Ref<sb::Chassis>> = current
        .chassis
        .values()
        .map(|c| (c.name.as_str(), c.uuid))
        .collect();
    let mut old: BTreeMap<&str, &sb::HaChassisGroup> = BTreeMap::new();
    for g in current.ha_chassis_groups.values() {
        if old.insert(g.name.as_str(), g).is_some() {
            b.delete(g.uuid);
        }
    }
    let mut out = BTreeMap::new();
    for (name, g) in &new.ha_chassis_groups {
        let prev = old.remove(name.as_str());
        let old_members: BTreeMap<&str, &sb::HaChassis> = prev
            .into_iter()
            .flat_map(|p| &p.ha_chassis)
            .filter_map(|r| current.ha_chassis.get(r))
            .filter_map(|c| c.external_ids.get("chassis-name").map(|n| (n.as_str(), c)))
            .collect();
        let mut members = BTreeSet::new();
        for (ch, prio) in &g.chassis {
            let was = old_members.get(ch.as_str()).copied();
            let mut n = was.cloned().unwrap_or_default();
            n.priority = *prio;
            n.chassis = chassis_by_name.get(ch.as_str()).copied();
            n.external_ids = BTreeMap::from([("chassis-name".to_owned(), ch.clone())]);
            match was {
                Some(was) => {
                    b.update(&n, was)?;
                    members.insert(was.uuid);
                }
                None => {
                    let u = b.placeholder();
                    b.insert(&n, u)?;
                    members.insert(Ref::new(u));
                }
            }
        }
        let mut n = prev.cloned().unwrap_or_default();
        n.name.clone_from(name);
        n.ha_chassis = members;
        let u = match prev {
            Some(prev) => {
                b.update(&n, prev)?;
                prev.uuid.uuid()
            }
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
                u
            }
        };
        out.insert(name.clone(), u);
    }
    for g in old.values() {
        b.delete(g.uuid);
    }
    Ok(out)
}

/// `Static_MAC_Binding` rows, by logical port and IP.
fn diff_static_mac_bindings(
    current: &SbRows,
    new: &SbContent,
    dp_uuid: &[Uuid],
    b: &mut OpBuilder,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<(&str, &str), &sb::StaticMacBinding> = BTreeMap::new();
    for m in current.static_mac_bindings.values() {
        if old
            .insert((m.logical_port.as_str(), m.ip.as_str()), m)
            .is_some()
        {
            b.delete(m.uuid);
        }
    }
    for m in &new.static_mac_bindings {
        let Some(dp) = dp_uuid.get(m.datapath) else {
            continue;
        };
        let prev = old.remove(&(m.logical_port.as_str(), m.ip.as_str()));
        let mut n = prev.cloned().unwrap_or_default();
        n.logical_port.clone_from(&m.logical_port);
        n.ip.clone_from(&m.ip);
        n.mac.clone_from(&m.mac);
        n.override_dynamic_mac = m.override_dynamic_mac;
        n.datapath = Ref::new(*dp);
        match prev {
            Some(prev) => b.update(&n, prev)?,
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
            }
        }
    }
    for m in old.values() {
        b.delete(m.uuid);
    }
    Ok(())
}

/// The `Logical_DP_Group` for `dps`: an existing one with the same datapaths, or a new one.
fn dp_group(
    dps: &BTreeSet<Uuid>,
    groups: &mut BTreeMap<BTreeSet<Uuid>, Uuid>,
    b: &mut OpBuilder,
) -> Result<Uuid, NorthdError> {
    if let Some(g) = groups.get(dps) {
        return Ok(*g);
    }
    let u = b.placeholder();
    let g = sb::LogicalDpGroup {
        datapaths: dps.iter().map(|d| Ref::new(*d)).collect(),
        ..Default::default()
    };
    b.insert(&g, u)?;
    groups.insert(dps.clone(), u);
    Ok(u)
}

fn diff_load_balancers(
    current: &SbRows,
    new: &SbContent,
    dp_uuid: &[Uuid],
    groups: &mut BTreeMap<BTreeSet<Uuid>, Uuid>,
    b: &mut OpBuilder,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<String, &sb::LoadBalancer> = current
        .load_balancers
        .values()
        .filter_map(|l| l.external_ids.get("lb_id").map(|id| (id.clone(), l)))
        .collect();
    for lb in &new.load_balancers {
        let id = lb.nb_uuid.to_string();
        let prev = old.remove(&id);
        let mut n = prev.cloned().unwrap_or_default();
        n.name.clone_from(&lb.name);
        n.vips.clone_from(&lb.vips);
        n.protocol = lb.protocol.as_deref().and_then(|p| p.parse().ok());
        n.options.clone_from(&lb.options);
        n.external_ids = BTreeMap::from([("lb_id".to_owned(), id)]);
        n.datapaths = BTreeSet::new();
        let dps: BTreeSet<Uuid> = lb.datapaths.iter().map(|i| dp_uuid[*i]).collect();
        n.datapath_group = Some(Ref::new(dp_group(&dps, groups, b)?));
        match prev {
            Some(prev) => b.update(&n, prev)?,
            None => {
                let u = b.placeholder();
                b.insert(&n, u)?;
            }
        }
    }
    for l in old.values() {
        b.delete(l.uuid);
    }
    Ok(())
}

type FlowId = (String, i64, i64, String, String, BTreeSet<Uuid>);

fn diff_flows(
    current: &SbRows,
    new: &SbContent,
    dp_uuid: &[Uuid],
    groups: &mut BTreeMap<BTreeSet<Uuid>, Uuid>,
    b: &mut OpBuilder,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<FlowId, Vec<&sb::LogicalFlow>> = BTreeMap::new();
    for f in current.logical_flows.values() {
        let dps: BTreeSet<Uuid> = match (&f.logical_datapath, &f.logical_dp_group) {
            (Some(d), _) => BTreeSet::from([d.uuid()]),
            (None, Some(g)) => current
                .dp_groups
                .get(g)
                .map(|g| g.datapaths.iter().map(|d| d.uuid()).collect())
                .unwrap_or_default(),
            (None, None) => BTreeSet::new(),
        };
        let id = (
            f.pipeline.as_str().to_owned(),
            f.table_id,
            f.priority,
            f.match_.clone(),
            f.actions.clone(),
            dps,
        );
        old.entry(id).or_default().push(f);
    }
    for (k, dps) in new.flows.iter() {
        let dps: BTreeSet<Uuid> = dps.iter().map(|i| dp_uuid[*i]).collect();
        let id = (
            k.stage.pipeline().as_str().to_owned(),
            i64::from(k.stage.table()),
            i64::from(k.priority),
            k.match_.clone(),
            k.actions.clone(),
            dps.clone(),
        );
        if let Some(list) = old.get_mut(&id) {
            if list.pop().is_some() {
                if list.is_empty() {
                    old.remove(&id);
                }
                continue;
            }
        }
        let mut f = sb::LogicalFlow {
            pipeline: match k.stage.pipeline() {
                ovn_sb::Pipeline::Ingress => sb::LogicalFlowPipeline::Ingress,
                ovn_sb::Pipeline::Egress => sb::LogicalFlowPipeline::Egress,
            },
            table_id: i64::from(k.stage.table()),
            priority: i64::from(k.priority),
            match_: k.match_.clone(),
            actions: k.actions.clone(),
            external_ids: BTreeMap::from([("stage-name".to_owned(), k.stage.name().to_owned())]),
            ..Default::default()
        };
        if dps.len() == 1 {
            f.logical_datapath = dps.first().map(|u| Ref::new(*u));
        } else {
            f.logical_dp_group = Some(Ref::new(dp_group(&dps, groups, b)?));
        }
        let u = b.placeholder();
        b.insert(&f, u)?;
    }
    for list in old.values() {
        for f in list {
            b.delete(f.uuid);
        }
    }
    Ok(())
}
