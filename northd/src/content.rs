//! What northd computes: the Southbound content for one NB snapshot, with no UUIDs (rows refer
//! to each other by index and name); [`crate::diff`] turns it into one SB transaction.

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::stage::DatapathKind;
use ovsdb::model::SortedMap;
use uuid::Uuid;

use crate::error::NbWarning;
use crate::flow::{DpIndex, FlowTable};

/// A `Datapath_Binding` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatapathContent {
    /// The NB `Logical_Switch` or `Logical_Router` UUID.
    pub nb_uuid: Uuid,
    /// The switch or router name.
    pub name: String,
    /// Switch or router.
    pub kind: DatapathKind,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `external_ids` as ovn-northd writes them (`logical-switch`/`logical-router`, `name`, ...).
    pub external_ids: BTreeMap<String, String>,
}

/// A `Port_Binding` row (the columns northd owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortContent {
    /// `logical_port`.
    pub name: String,
    /// The datapath.
    pub datapath: DpIndex,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// `type`.
    pub type_: String,
    /// `mac`.
    pub mac: BTreeSet<String>,
    /// `port_security`.
    pub port_security: BTreeSet<String>,
    /// `options`.
    pub options: SortedMap<String, String>,
    /// `external_ids`.
    pub external_ids: SortedMap<String, String>,
    /// `parent_port`.
    pub parent_port: Option<String>,
    /// `tag`.
    pub tag: Option<i64>,
    /// `nat_addresses` (on switch ports peering a gateway: `MAC IP... [is_chassis_resident(..)]`).
    pub nat_addresses: BTreeSet<String>,
    /// `ha_chassis_group`, by the group's name in [`SbContent::ha_chassis_groups`].
    pub ha_chassis_group: Option<String>,
    /// `options:requested-chassis` split at commas: the first names `requested_chassis`, the
    /// others `requested_additional_chassis` (by `Chassis` name or hostname, when one exists).
    pub requested_chassis: Vec<String>,
}

/// An `HA_Chassis_Group` row with its `HA_Chassis` rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HaChassisGroupContent {
    /// `HA_Chassis` rows: chassis name (`external_ids:chassis-name`, and `chassis` when a
    /// `Chassis` row of that name exists) to `priority`.
    pub chassis: BTreeMap<String, i64>,
}

/// A `Multicast_Group` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McGroupContent {
    /// The datapath.
    pub datapath: DpIndex,
    /// `name` (`_MC_flood`, ...).
    pub name: String,
    /// `tunnel_key`.
    pub tunnel_key: u32,
    /// Member ports, by `logical_port`.
    pub ports: BTreeSet<String>,
}

/// A `Static_MAC_Binding` row (from the NB `Static_MAC_Binding` of a router port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMacBindingContent {
    /// `logical_port`: the router port.
    pub logical_port: String,
    /// `ip`, as in NB.
    pub ip: String,
    /// `mac`, as in NB.
    pub mac: String,
    /// `override_dynamic_mac`.
    pub override_dynamic_mac: bool,
    /// The router port's datapath.
    pub datapath: DpIndex,
}

/// A `Load_Balancer` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbContent {
    /// The NB load balancer UUID (`external_ids:lb_id`).
    pub nb_uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `vips`, as in NB.
    pub vips: SortedMap<String, String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `options`: NB options plus `hairpin_orig_tuple=true`.
    pub options: SortedMap<String, String>,
    /// The datapaths it applies to (written as a `Logical_DP_Group`).
    pub datapaths: BTreeSet<DpIndex>,
}

/// Everything northd writes to Southbound for one NB snapshot.
#[derive(Debug, Clone, Default)]
pub struct SbContent {
    /// `SB_Global` `options`.
    pub global_options: BTreeMap<String, String>,
    /// `Datapath_Binding` rows; flows and ports refer to them by index.
    pub datapaths: Vec<DatapathContent>,
    /// `Port_Binding` rows.
    pub ports: Vec<PortContent>,
    /// `Multicast_Group` rows.
    pub multicast_groups: Vec<McGroupContent>,
    /// `Address_Set` rows: name to addresses.
    pub address_sets: BTreeMap<String, BTreeSet<String>>,
    /// `Port_Group` rows (`<datapath key>_<name>`): name to ports.
    pub port_groups: BTreeMap<String, BTreeSet<String>>,
    /// `IP_Multicast` rows: one per switch datapath.
    pub ip_multicast: Vec<(DpIndex, crate::mcast::SwitchMcastConfig)>,
    /// `Load_Balancer` rows.
    pub load_balancers: Vec<LbContent>,
    /// `HA_Chassis_Group` rows by `name` (with their `HA_Chassis` rows).
    pub ha_chassis_groups: BTreeMap<String, HaChassisGroupContent>,
    /// `Static_MAC_Binding` rows.
    pub static_mac_bindings: Vec<StaticMacBindingContent>,
    /// `Meter` rows (with their `Meter_Band` rows), sorted by name.
    pub meters: Vec<crate::copp::MeterContent>,
    /// `Service_Monitor` rows.
    pub service_monitors: Vec<crate::svc_monitor::ServiceMonitorContent>,
    /// SB `Mirror` rows and the ports using them ([`crate::mirror`]).
    pub mirrors: crate::mirror::Mirrors,
    /// `Chassis_Template_Var` rows ([`crate::template_var`]).
    pub template_vars: crate::template_var::TemplateVars,
    /// `SB_Global` `ipsec` (the NB_Global one).
    pub ipsec: bool,
    /// `BFD` rows by (logical port, destination) ([`crate::bfd`]).
    pub bfd: BTreeMap<(String, String), crate::bfd::BfdContent>,
    /// `DNS` rows by NB `DNS` UUID ([`crate::dns`]).
    pub dns: BTreeMap<Uuid, crate::dns::DnsContent>,
    /// `Logical_Flow` rows, each with its datapaths (one datapath, or a `Logical_DP_Group`).
    pub flows: FlowTable,
    /// `dynamic_addresses` that IPAM changed, to write back to NB `Logical_Switch_Port` (by
    /// port UUID; `None` clears the column).
    pub nb_dynamic_addresses: BTreeMap<Uuid, Option<String>>,
    /// NB problems met while compiling (the offending item was left out).
    pub warnings: Vec<NbWarning>,
}

impl SbContent {
    /// The flows expanded per datapath: (datapath name, pipeline, table, priority, match,
    /// actions), sorted — the form parity tests compare.
    pub fn expanded_flows(&self) -> Vec<(String, &'static str, u8, u16, String, String)> {
        let mut out = Vec::new();
        for (k, dps) in self.flows.iter() {
            for &dp in dps {
                let name = self
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
}
