//! The Southbound rows the chassis view and the flow compiler read, reduced to the columns
//! they use.
//!
//! ovn-sb's typed rows carry every column (`external_ids` maps, options, every reference set);
//! a chassis holds tens of thousands of logical flows, so this copy keeps only what
//! [`ChassisView::new`](super::ChassisView::new) and
//! [`compile_chassis_flows`](super::compile_chassis_flows) read: UUIDs as 128-bit integers,
//! and the match and action texts of the logical flows shared (`Arc<str>`) between the rows
//! that have the same text.
//!
//! Rows are read from JSON without the typed rows: from row objects
//! ([`SbTables::add_json_rows`]) or from the text of a `select` reply
//! ([`SbTables::from_select_reply`]), each value checked against the Southbound schema.

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use ovn_sb::model::{AnyRow, LogicalFlowPipeline};
use serde_json::Value;

use super::ChassisError;
use crate::actions::Pipeline;

mod read;
use crate::fxhash::FxHasher;

/// A row UUID as a 128-bit integer (`uuid::Uuid::as_u128`).
pub type RowId = u128;

/// Formats a [`RowId`] in the hyphenated 8-4-4-4-12 form.
pub fn format_uuid(u: RowId) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (u >> 96) as u32,
        (u >> 80) as u16,
        (u >> 64) as u16,
        (u >> 48) as u16,
        u & 0xffff_ffff_ffff
    )
}

/// `Chassis`: the columns the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChassisRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `name`
    pub name: String,
    /// `other_config:ovn-monitor-all` is `true`: its ovn-controller monitors every logical
    /// flow, not only those of its local datapaths and datapath groups.
    pub monitor_all: bool,
}

/// `Chassis_Template_Var`: one chassis' template variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVarRow {
    /// `chassis` (the chassis name).
    pub chassis: String,
    /// `variables`: name → value.
    pub variables: std::collections::BTreeMap<String, String>,
}

/// `HA_Chassis_Group`: its `HA_Chassis` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaChassisGroupRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `ha_chassis`
    pub ha_chassis: Vec<RowId>,
}

/// `HA_Chassis`: its chassis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaChassisRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `chassis`
    pub chassis: Option<RowId>,
}

/// `Datapath_Binding`: the columns the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatapathRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `tunnel_key`
    pub tunnel_key: i64,
    /// True for a logical router (`external_ids:logical-router` is set).
    pub is_router: bool,
}

/// `Port_Binding`: the columns the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBindingRow {
    /// `logical_port`
    pub logical_port: String,
    /// `type`
    pub kind: String,
    /// `datapath`
    pub datapath: RowId,
    /// `tunnel_key`
    pub tunnel_key: i64,
    /// `chassis`
    pub chassis: Option<RowId>,
    /// `additional_chassis`
    pub additional_chassis: Vec<RowId>,
    /// `options:peer`
    pub peer: Option<String>,
    /// `ha_chassis_group`
    pub ha_chassis_group: Option<RowId>,
}

/// `Address_Set`: name and addresses (in the set's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSetRow {
    /// `name`
    pub name: String,
    /// `addresses`
    pub addresses: Vec<String>,
}

/// `Port_Group`: name (`<datapath key>_<NB name>`) and member port names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGroupRow {
    /// `name`
    pub name: String,
    /// `ports`
    pub ports: Vec<String>,
}

/// `Multicast_Group`: the columns the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MulticastGroupRow {
    /// `datapath`
    pub datapath: RowId,
    /// `name`
    pub name: String,
    /// `tunnel_key`
    pub tunnel_key: i64,
}

/// `Logical_DP_Group`: UUID and member datapaths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpGroupRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `datapaths`
    pub datapaths: Vec<RowId>,
}

/// `Logical_Flow`: the columns the compiler reads.
#[derive(Clone, PartialEq, Eq)]
pub struct LogicalFlowRow {
    /// `_uuid`
    pub uuid: RowId,
    /// `logical_datapath`
    pub logical_datapath: Option<RowId>,
    /// `logical_dp_group`
    pub logical_dp_group: Option<RowId>,
    /// `table_id`
    pub table_id: i64,
    /// `priority`
    pub priority: i64,
    /// `match`, shared with the other rows of the same [`SbTables`] batch that have it.
    pub match_: Arc<str>,
    /// `actions`, shared likewise.
    pub actions: Arc<str>,
    /// `tags:in_out_port`
    pub in_out_port: Option<Box<str>>,
    /// `controller_meter` (CoPP), shared like the texts.
    pub controller_meter: Option<Arc<str>>,
    /// `pipeline`
    pub pipeline: Pipeline,
}

impl fmt::Debug for LogicalFlowRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogicalFlowRow")
            .field("uuid", &format_uuid(self.uuid))
            .field("pipeline", &self.pipeline)
            .field("table_id", &self.table_id)
            .field("priority", &self.priority)
            .field("match", &self.match_)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

/// The Southbound rows a chassis view and the flow compiler need, reduced to the columns they
/// read.
#[derive(Debug, Clone, Default)]
pub struct SbTables {
    /// `Chassis`
    pub chassis: Vec<ChassisRow>,
    /// `Datapath_Binding`
    pub datapaths: Vec<DatapathRow>,
    /// `Port_Binding`
    pub port_bindings: Vec<PortBindingRow>,
    /// `Address_Set`
    pub address_sets: Vec<AddressSetRow>,
    /// `Port_Group`
    pub port_groups: Vec<PortGroupRow>,
    /// `Multicast_Group`
    pub multicast_groups: Vec<MulticastGroupRow>,
    /// `Logical_DP_Group`
    pub dp_groups: Vec<DpGroupRow>,
    /// `HA_Chassis_Group`
    pub ha_chassis_groups: Vec<HaChassisGroupRow>,
    /// `HA_Chassis`
    pub ha_chassis: Vec<HaChassisRow>,
    /// `Meter` names.
    pub meters: Vec<String>,
    /// `Chassis_Template_Var`
    pub template_vars: Vec<TemplateVarRow>,
    /// `Logical_Flow`
    pub logical_flows: Vec<LogicalFlowRow>,
}

/// Shares equal texts between rows.
#[derive(Default)]
struct Interner {
    texts: HashSet<Arc<str>, BuildHasherDefault<FxHasher>>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.texts.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.texts.insert(a.clone());
        a
    }
}

impl SbTables {
    /// The tables read by [`SbTables::add_json_rows`], by their Southbound names.
    pub const TABLES: [&'static str; 12] = [
        "Chassis",
        "Datapath_Binding",
        "Port_Binding",
        "Address_Set",
        "Port_Group",
        "Multicast_Group",
        "Logical_DP_Group",
        "HA_Chassis_Group",
        "HA_Chassis",
        "Meter",
        "Chassis_Template_Var",
        "Logical_Flow",
    ];

    /// Adds rows of `table` given as JSON objects of column name to OVSDB `<value>` (as a
    /// `select` returns them, with `_uuid`).  Rows of other tables are ignored.  Equal match
    /// and action texts within one call are stored once.  Each value is checked against the
    /// Southbound schema; members that are not columns of the table are ignored.
    pub fn add_json_rows(&mut self, table: &str, rows: &[Value]) -> Result<(), ChassisError> {
        self.read_json_rows(table, rows)
    }

    /// Adds one typed row; rows of tables the view does not use are ignored.
    pub fn add_row(&mut self, row: AnyRow) {
        self.add(row, &mut Interner::default());
    }

    fn add(&mut self, row: AnyRow, texts: &mut Interner) {
        match row {
            AnyRow::Chassis(r) => self.chassis.push(ChassisRow {
                uuid: r.uuid.uuid().as_u128(),
                monitor_all: r
                    .other_config
                    .get("ovn-monitor-all")
                    .is_some_and(|v| v == "true"),
                name: r.name,
            }),
            AnyRow::DatapathBinding(r) => self.datapaths.push(DatapathRow {
                uuid: r.uuid.uuid().as_u128(),
                tunnel_key: r.tunnel_key,
                is_router: r.external_ids.contains_key("logical-router"),
            }),
            AnyRow::PortBinding(mut r) => self.port_bindings.push(PortBindingRow {
                peer: r.options.remove("peer"),
                logical_port: r.logical_port,
                kind: r.type_,
                datapath: r.datapath.uuid().as_u128(),
                tunnel_key: r.tunnel_key,
                chassis: r.chassis.map(|c| c.uuid().as_u128()),
                ha_chassis_group: r.ha_chassis_group.map(|g| g.uuid().as_u128()),
                additional_chassis: r
                    .additional_chassis
                    .iter()
                    .map(|c| c.uuid().as_u128())
                    .collect(),
            }),
            AnyRow::AddressSet(r) => self.address_sets.push(AddressSetRow {
                name: r.name,
                addresses: r.addresses.into_iter().collect(),
            }),
            AnyRow::PortGroup(r) => self.port_groups.push(PortGroupRow {
                name: r.name,
                ports: r.ports.into_iter().collect(),
            }),
            AnyRow::MulticastGroup(r) => self.multicast_groups.push(MulticastGroupRow {
                datapath: r.datapath.uuid().as_u128(),
                name: r.name,
                tunnel_key: r.tunnel_key,
            }),
            AnyRow::LogicalDpGroup(r) => self.dp_groups.push(DpGroupRow {
                uuid: r.uuid.uuid().as_u128(),
                datapaths: r.datapaths.iter().map(|d| d.uuid().as_u128()).collect(),
            }),
            AnyRow::HaChassisGroup(r) => self.ha_chassis_groups.push(HaChassisGroupRow {
                uuid: r.uuid.uuid().as_u128(),
                ha_chassis: r.ha_chassis.iter().map(|c| c.uuid().as_u128()).collect(),
            }),
            AnyRow::HaChassis(r) => self.ha_chassis.push(HaChassisRow {
                uuid: r.uuid.uuid().as_u128(),
                chassis: r.chassis.map(|c| c.uuid().as_u128()),
            }),
            AnyRow::Meter(r) => self.meters.push(r.name),
            AnyRow::ChassisTemplateVar(r) => self.template_vars.push(TemplateVarRow {
                chassis: r.chassis,
                variables: r.variables,
            }),
            AnyRow::LogicalFlow(mut r) => self.logical_flows.push(LogicalFlowRow {
                uuid: r.uuid.uuid().as_u128(),
                logical_datapath: r.logical_datapath.map(|d| d.uuid().as_u128()),
                logical_dp_group: r.logical_dp_group.map(|g| g.uuid().as_u128()),
                table_id: r.table_id,
                priority: r.priority,
                match_: texts.intern(&r.match_),
                actions: texts.intern(&r.actions),
                in_out_port: r.tags.remove("in_out_port").map(String::into_boxed_str),
                controller_meter: r.controller_meter.as_deref().map(|m| texts.intern(m)),
                pipeline: match r.pipeline {
                    LogicalFlowPipeline::Ingress => Pipeline::Ingress,
                    LogicalFlowPipeline::Egress => Pipeline::Egress,
                },
            }),
            _ => {}
        }
    }
}
