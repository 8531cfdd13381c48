//! A typed snapshot of the Northbound database: every row northd reads, indexed by UUID.

use std::collections::BTreeMap;

use ovn_nb::model as nb;
use ovsdb::model::{Model, Ref};
use ovsdb::Database;
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
    /// `QoS`.
    pub qos: Rows<nb::QoS>,
    /// `Meter`.
    pub meters: Rows<nb::Meter>,
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
}

/// Every row of `T`'s table in an in-memory database, typed, by UUID.
pub(crate) fn rows_from_db<T: Model>(db: &Database) -> Result<Rows<T>, NorthdError> {
    let mut out = Rows::new();
    let (Some(rows), Some(table)) = (db.rows(T::TABLE), db.schema().table(T::TABLE)) else {
        return Ok(out);
    };
    for row in rows.values() {
        let m = T::from_row(row, table)?;
        out.insert(m.uuid(), m);
    }
    Ok(out)
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
            qos: $f(src)?,
            meters: $f(src)?,
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
        "QoS",
        "Meter",
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

    /// The `NB_Global` options (empty without a row).
    pub fn global_options(&self) -> BTreeMap<String, String> {
        self.nb_global
            .as_ref()
            .map(|g| g.options.clone())
            .unwrap_or_default()
    }
}
