//! A typed snapshot of the Northbound database: every row northd reads, indexed by UUID.

use std::collections::BTreeMap;

use ovn_nb::model as nb;
use ovsdb::model::{Model, Ref};
use ovsdb::Database;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::NorthdError;

/// The rows of one table, by UUID.
pub type Rows<T> = BTreeMap<Ref<T>, T>;

/// The Northbound rows northd compiles.
#[derive(Debug, Clone, Default)]
pub struct NbSnapshot {
    /// `NB_Global` (at most one row).
    pub nb_global: Option<nb::NbGlobal>,
    /// `Logical_Switch`.
    pub switches: Rows<nb::LogicalSwitch>,
    /// `Logical_Switch_Port`.
    pub switch_ports: Rows<nb::LogicalSwitchPort>,
    /// `Logical_Router`.
    pub routers: Rows<nb::LogicalRouter>,
    /// `Logical_Router_Port`.
    pub router_ports: Rows<nb::LogicalRouterPort>,
    /// `ACL`.
    pub acls: Rows<nb::Acl>,
    /// `Address_Set`.
    pub address_sets: Rows<nb::AddressSet>,
    /// `Port_Group`.
    pub port_groups: Rows<nb::PortGroup>,
    /// `Load_Balancer`.
    pub load_balancers: Rows<nb::LoadBalancer>,
    /// `Load_Balancer_Group`.
    pub lb_groups: Rows<nb::LoadBalancerGroup>,
    /// `Load_Balancer_Health_Check`.
    pub lb_health_checks: Rows<nb::LoadBalancerHealthCheck>,
    /// `QoS`.
    pub qos: Rows<nb::QoS>,
    /// `Meter`.
    pub meters: Rows<nb::Meter>,
    /// `Meter_Band`.
    pub meter_bands: Rows<nb::MeterBand>,
    /// `DHCP_Options`.
    pub dhcp_options: Rows<nb::DhcpOptions>,
    /// `DNS`.
    pub dns: Rows<nb::Dns>,
    /// `Logical_Router_Static_Route`.
    pub static_routes: Rows<nb::LogicalRouterStaticRoute>,
    /// `Logical_Router_Policy`.
    pub policies: Rows<nb::LogicalRouterPolicy>,
    /// `NAT`.
    pub nats: Rows<nb::Nat>,
    /// `Gateway_Chassis`.
    pub gateway_chassis: Rows<nb::GatewayChassis>,
    /// `HA_Chassis_Group`.
    pub ha_chassis_groups: Rows<nb::HaChassisGroup>,
    /// `HA_Chassis`.
    pub ha_chassis: Rows<nb::HaChassis>,
    /// `BFD`.
    pub bfd: Rows<nb::Bfd>,
    /// `Static_MAC_Binding`.
    pub static_mac_bindings: Rows<nb::StaticMacBinding>,
    /// `Copp`.
    pub copp: Rows<nb::Copp>,
    /// `Forwarding_Group`.
    pub forwarding_groups: Rows<nb::ForwardingGroup>,
    /// `Mirror`.
    pub mirrors: Rows<nb::Mirror>,
    /// `Chassis_Template_Var`.
    pub template_vars: Rows<nb::ChassisTemplateVar>,
}

/// Every row of `T`'s table in an in-memory database, typed, by UUID. Collected at once (sorted,
/// then built bottom-up), the map's nodes are full.
pub(crate) fn rows_from_db<T: Model>(db: &Database) -> Result<Rows<T>, NorthdError> {
    let (Some(rows), Some(table)) = (db.rows(T::TABLE), db.schema().table(T::TABLE)) else {
        return Ok(Rows::new());
    };
    rows.values()
        .map(|row| Ok(T::from_row(row, table).map(|m| (m.uuid(), m))?))
        .collect()
}

/// Every row of `T`'s table in a JSON object of table name to rows (an array of rows with
/// `_uuid`, or an object of UUID to row), typed, by UUID.
pub(crate) fn rows_from_json<T: Model>(
    tables: &serde_json::Map<String, Value>,
) -> Result<Rows<T>, NorthdError> {
    let mut out = Rows::new();
    let Some(v) = tables.get(T::TABLE) else {
        return Ok(out);
    };
    let rows: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        // `{uuid: row}` as in a database file or an update notification.
        Value::Object(o) => o.values().collect(),
        _ => {
            return Err(NorthdError::NotRows {
                table: T::TABLE.to_owned(),
            })
        }
    };
    for row in rows {
        let m = T::from_json(row)?;
        out.insert(m.uuid(), m);
    }
    Ok(out)
}

/// Adds the JSON `row` to `rows` when `table` is `T`'s table; `None` when it is not.
pub(crate) fn try_add_row<T: Model>(
    table: &str,
    rows: &mut Rows<T>,
    row: &Value,
) -> Option<Result<(), NorthdError>> {
    (table == T::TABLE).then(|| {
        let m = T::from_json(row)?;
        rows.insert(m.uuid(), m);
        Ok(())
    })
}

/// Reads the `result` of a `transact` made of one `select` per table of `tables` (in that
/// order) straight from its JSON text, handing each row to `add` with its table name. Only one
/// row at a time exists as a JSON tree. A failed `select` (`{"error": ...}`) is an error.
pub(crate) fn read_select_reply(
    result: &[u8],
    tables: &[&str],
    add: &mut dyn FnMut(&str, &Value) -> Result<(), NorthdError>,
) -> Result<(), NorthdError> {
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_slice(result);
    let parsed = ReplySeed {
        tables,
        add,
        failed: &mut failed,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match (failed, parsed) {
        (Some(e), _) => Err(e),
        (None, r) => Ok(r?),
    }
}

/// The array of operation results.
struct ReplySeed<'t, 'f> {
    tables: &'t [&'t str],
    add: &'f mut dyn FnMut(&str, &Value) -> Result<(), NorthdError>,
    failed: &'f mut Option<NorthdError>,
}

impl<'de> DeserializeSeed<'de> for ReplySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ReplySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of select results")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let seed = ResultSeed {
                table: self.tables.get(i).copied(),
                add: &mut *self.add,
                failed: &mut *self.failed,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// One `select` result: `{"rows": [...]}` (or `{"error": ...}`).
struct ResultSeed<'t, 'f> {
    table: Option<&'t str>,
    add: &'f mut dyn FnMut(&str, &Value) -> Result<(), NorthdError>,
    failed: &'f mut Option<NorthdError>,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a select result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let table = self.table.unwrap_or("(extra result)");
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "rows" => map.next_value_seed(RowsSeed {
                    table: self.table,
                    add: &mut *self.add,
                    failed: &mut *self.failed,
                })?,
                "error" => {
                    let e: Value = map.next_value()?;
                    if !e.is_null() {
                        return Err(A::Error::custom(format!("select of {table} failed: {e}")));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `rows` of one result, each parsed into its typed model as soon as it is read.
struct RowsSeed<'t, 'f> {
    table: Option<&'t str>,
    add: &'f mut dyn FnMut(&str, &Value) -> Result<(), NorthdError>,
    failed: &'f mut Option<NorthdError>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<Value>()? {
            let Some(table) = self.table else { continue };
            if let Err(e) = (self.add)(table, &row) {
                let msg = e.to_string();
                *self.failed = Some(e);
                return Err(A::Error::custom(msg));
            }
        }
        Ok(())
    }
}

/// `Ok(())` after adding `$row` to the first of `$rows` whose table is `$table` (none: ignored).
macro_rules! add_row_to {
    ($table:expr, $row:expr; $($rows:expr),+ $(,)?) => {{
        $(
            if let Some(r) = $crate::snapshot::try_add_row($table, &mut $rows, $row) {
                return r;
            }
        )+
        Ok(())
    }};
}
pub(crate) use add_row_to;

macro_rules! snapshot_from {
    ($f:ident, $src:expr) => {{
        let src = $src;
        let mut globals = $f::<nb::NbGlobal>(src)?;
        Ok(NbSnapshot {
            nb_global: globals.pop_first().map(|(_, g)| g),
            switches: $f(src)?,
            switch_ports: $f(src)?,
            routers: $f(src)?,
            router_ports: $f(src)?,
            acls: $f(src)?,
            address_sets: $f(src)?,
            port_groups: $f(src)?,
            load_balancers: $f(src)?,
            lb_groups: $f(src)?,
            lb_health_checks: $f(src)?,
            qos: $f(src)?,
            meters: $f(src)?,
            meter_bands: $f(src)?,
            dhcp_options: $f(src)?,
            dns: $f(src)?,
            static_routes: $f(src)?,
            policies: $f(src)?,
            nats: $f(src)?,
            gateway_chassis: $f(src)?,
            ha_chassis_groups: $f(src)?,
            ha_chassis: $f(src)?,
            bfd: $f(src)?,
            static_mac_bindings: $f(src)?,
            copp: $f(src)?,
            forwarding_groups: $f(src)?,
            mirrors: $f(src)?,
            template_vars: $f(src)?,
        })
    }};
}

impl NbSnapshot {
    /// The NB tables the snapshot reads, for callers that fetch them (e.g. with `select`).
    pub const TABLES: &'static [&'static str] = &[
        "NB_Global",
        "Logical_Switch",
        "Logical_Switch_Port",
        "Logical_Router",
        "Logical_Router_Port",
        "ACL",
        "Address_Set",
        "Port_Group",
        "Load_Balancer",
        "Load_Balancer_Group",
        "Load_Balancer_Health_Check",
        "QoS",
        "Meter",
        "Meter_Band",
        "DHCP_Options",
        "DNS",
        "Logical_Router_Static_Route",
        "Logical_Router_Policy",
        "NAT",
        "Gateway_Chassis",
        "HA_Chassis_Group",
        "HA_Chassis",
        "BFD",
        "Static_MAC_Binding",
        "Copp",
        "Forwarding_Group",
        "Mirror",
        "Chassis_Template_Var",
    ];

    /// Reads every table northd uses from an in-memory Northbound database.
    pub fn from_database(db: &Database) -> Result<Self, NorthdError> {
        snapshot_from!(rows_from_db, db)
    }

    /// Reads a JSON object of table name to rows: each table an array of JSON rows (with
    /// `_uuid`), or an object of UUID to row.
    pub fn from_json(tables: &Value) -> Result<Self, NorthdError> {
        let obj = tables.as_object().ok_or_else(|| NorthdError::NotRows {
            table: "(top level)".to_owned(),
        })?;
        snapshot_from!(rows_from_json, obj)
    }

    /// Reads the `result` of a `transact` of one `select` per table of `tables` (e.g.
    /// [`Self::TABLES`]), in that order, straight from its JSON text (as
    /// `ovsdb::client::Connection::call_raw` returns it): rows are parsed one at a time into
    /// their models, never as one JSON tree. Tables northd does not read are skipped.
    pub fn from_select_reply(tables: &[&str], result: &[u8]) -> Result<Self, NorthdError> {
        let mut s = Self::default();
        let mut globals: Rows<nb::NbGlobal> = Rows::new();
        read_select_reply(result, tables, &mut |t, row| {
            add_row_to!(t, row;
                globals, s.switches, s.switch_ports, s.routers, s.router_ports, s.acls,
                s.address_sets, s.port_groups, s.load_balancers, s.lb_groups, s.lb_health_checks, s.qos, s.meters,
                s.meter_bands,                s.dhcp_options, s.dns, s.static_routes, s.policies, s.nats, s.gateway_chassis,
                s.ha_chassis_groups, s.ha_chassis, s.bfd, s.static_mac_bindings, s.copp, s.forwarding_groups,
                s.mirrors, s.template_vars)
        })?;
        s.nb_global = globals.pop_first().map(|(_, g)| g);
        Ok(s)
    }

    /// The `NB_Global` options (empty without a row).
    pub fn global_options(&self) -> BTreeMap<String, String> {
        self.nb_global
            .as_ref()
            .map(|g| g.options.clone().into())
            .unwrap_or_default()
    }
}
