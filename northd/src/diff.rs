//! The diff: current Southbound rows against new [`SbContent`], as the operations of one SB
//! `transact` (RFC 7047 JSON).
//!
//! Rows are matched by their natural keys: datapaths by their NB UUID (`external_ids`), ports by
//! `logical_port`, multicast groups by datapath and name, address sets and port groups by name,
//! logical flows by pipeline, table, priority, match, actions and their set of datapaths. Only
//! columns northd owns are written (a port's `chassis` or `up` stay as ovn-controller set them);
//! unchanged rows produce no operation. Flows on several datapaths share a `Logical_DP_Group`,
//! reusing an existing group with the same datapaths.
//!
//! [`plan`] returns the transaction as an [`SbTxn`]: its operations serialized to JSON text as
//! they are planned ([`SbTxn::into_bytes`], [`SbTxn::write_json`]) for `ovsdb::client::Client::transact_bytes` or
//! `Connection::call_raw`; [`diff`] is the same as JSON values. [`SbRows::from_select_reply`]
//! reads the current rows from a `select` reply's bytes without a JSON tree of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ovn_sb::model as sb;
use ovsdb::model::{Model, Ref};
use ovsdb::{Atom, Database, Datum};
use serde::ser::{SerializeMap, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::content::SbContent;
use crate::error::NorthdError;
use crate::flow::{DpIndex, FlowKey};
use crate::sb_flows::{FlowDp, FlowId, FlowWrites, SbFlows, WrittenDp, WrittenFlow};
use crate::snapshot::Rows;
use crate::snapshot::{add_row_to, read_select_reply, rows_from_db, rows_from_json};

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
    /// `Encap` (a VXLAN one turns ovn-northd's VXLAN mode on).
    pub encaps: Rows<sb::Encap>,
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
    /// `Meter`.
    pub meters: Rows<sb::Meter>,
    /// `Meter_Band`.
    pub meter_bands: Rows<sb::MeterBand>,
    /// `Service_Monitor`.
    pub service_monitors: Rows<sb::ServiceMonitor>,
    /// `IGMP_Group` (written by ovn-controller; northd deletes stale rows).
    pub igmp_groups: Rows<sb::IgmpGroup>,
    /// `RBAC_Role` ([`crate::rbac`]).
    pub rbac_roles: Rows<sb::RbacRole>,
    /// `RBAC_Permission`.
    pub rbac_permissions: Rows<sb::RbacPermission>,
    /// `Mirror` ([`crate::mirror`]).
    pub mirrors: Rows<sb::Mirror>,
    /// `Chassis_Template_Var` ([`crate::template_var`]).
    pub template_vars: Rows<sb::ChassisTemplateVar>,
    /// `MAC_Binding` (written by ovn-controller; northd deletes stale rows, `stale.rs`).
    pub mac_bindings: Rows<sb::MacBinding>,
    /// `FDB` (written by ovn-controller; northd deletes stale rows).
    pub fdbs: Rows<sb::Fdb>,
    /// `BFD` ([`crate::bfd`]).
    pub bfd: Rows<sb::Bfd>,
    /// `DNS` ([`crate::dns`]).
    pub dns: Rows<sb::Dns>,
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
        "Encap",
        "HA_Chassis_Group",
        "HA_Chassis",
        "Static_MAC_Binding",
        "DHCP_Options",
        "DHCPv6_Options",
        "Meter",
        "Meter_Band",
        "Service_Monitor",
        "IGMP_Group",
        "RBAC_Role",
        "RBAC_Permission",
        "Mirror",
        "Chassis_Template_Var",
        "MAC_Binding",
        "FDB",
        "BFD",
        "DNS",
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
            encaps: rows_from_json(t)?,
            ha_chassis_groups: rows_from_json(t)?,
            ha_chassis: rows_from_json(t)?,
            static_mac_bindings: rows_from_json(t)?,
            dhcp_options: rows_from_json(t)?,
            dhcpv6_options: rows_from_json(t)?,
            meters: rows_from_json(t)?,
            meter_bands: rows_from_json(t)?,
            service_monitors: rows_from_json(t)?,
            igmp_groups: rows_from_json(t)?,
            rbac_roles: rows_from_json(t)?,
            rbac_permissions: rows_from_json(t)?,
            mirrors: rows_from_json(t)?,
            template_vars: rows_from_json(t)?,
            mac_bindings: rows_from_json(t)?,
            fdbs: rows_from_json(t)?,
            bfd: rows_from_json(t)?,
            dns: rows_from_json(t)?,
        })
    }

    /// Reads the `result` of a `transact` of one `select` per table of `tables` (e.g.
    /// [`Self::TABLES`]), in that order, straight from its JSON text (as
    /// `ovsdb::client::Connection::call_raw` returns it): rows are parsed one at a time into
    /// their models, never as one JSON tree. Tables the diff does not read are skipped.
    pub fn from_select_reply(tables: &[&str], result: &[u8]) -> Result<Self, NorthdError> {
        let mut s = Self::default();
        let mut globals: Rows<sb::SbGlobal> = Rows::new();
        read_select_reply(result, tables, &mut |t, row| {
            add_row_to!(t, row;
                globals, s.datapaths, s.ports, s.multicast_groups, s.address_sets,
                s.port_groups, s.logical_flows, s.dp_groups, s.load_balancers, s.ip_multicast,
                s.chassis, s.encaps, s.ha_chassis_groups, s.ha_chassis, s.static_mac_bindings,
                s.dhcp_options, s.dhcpv6_options, s.meters, s.meter_bands,
                s.service_monitors, s.igmp_groups, s.rbac_roles, s.rbac_permissions,
                s.mirrors, s.template_vars, s.mac_bindings, s.fdbs, s.bfd, s.dns)
        })?;
        s.sb_global = globals.pop_first().map(|(_, g)| g);
        Ok(s)
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
            encaps: rows_from_db(db)?,
            ha_chassis_groups: rows_from_db(db)?,
            ha_chassis: rows_from_db(db)?,
            static_mac_bindings: rows_from_db(db)?,
            dhcp_options: rows_from_db(db)?,
            dhcpv6_options: rows_from_db(db)?,
            meters: rows_from_db(db)?,
            meter_bands: rows_from_db(db)?,
            service_monitors: rows_from_db(db)?,
            igmp_groups: rows_from_db(db)?,
            rbac_roles: rows_from_db(db)?,
            rbac_permissions: rows_from_db(db)?,
            mirrors: rows_from_db(db)?,
            template_vars: rows_from_db(db)?,
            mac_bindings: rows_from_db(db)?,
            fdbs: rows_from_db(db)?,
            bfd: rows_from_db(db)?,
            dns: rows_from_db(db)?,
        })
    }

    /// The keys and chassis features a compile against this SB needs.
    pub fn state(&self) -> crate::SbState {
        let dps: Vec<_> = self.datapaths.values().cloned().collect();
        let pbs: Vec<_> = self.ports.values().cloned().collect();
        let ch: Vec<_> = self.chassis.values().cloned().collect();
        let mut state = crate::SbState::from_rows(&dps, &pbs, &ch);
        state.vxlan_mode = self
            .encaps
            .values()
            .any(|e| e.type_ == sb::EncapType::Vxlan);
        state.service_monitor_status = self
            .service_monitors
            .values()
            .filter_map(|m| {
                let key = (
                    m.ip.clone(),
                    u16::try_from(m.port).ok()?,
                    m.protocol.unwrap_or_default(),
                    m.logical_port.clone(),
                );
                Some((key, m.status?))
            })
            .collect();
        state.igmp = crate::igmp::IgmpState::from_rows(
            self.igmp_groups.values(),
            self.datapaths.values(),
            self.ports.values(),
            self.multicast_groups.values(),
        );
        state
    }
}

/// The tag in the upper 48 bits of the placeholder UUIDs [`SbTxn`] hands out for rows it
/// inserts (the low 80 bits count them); written as `["named-uuid", "row<N>"]`.
const PLACEHOLDER_TAG: u128 = 0x6e6f_7274_6864;

/// The row number of placeholder `u` among the `issued` ones this transaction handed out.
fn placeholder_number(u: &Uuid, issued: u64) -> Option<u64> {
    let v = u.as_u128();
    if v >> 80 != PLACEHOLDER_TAG {
        return None;
    }
    let n = u64::try_from(v & ((1u128 << 80) - 1)).ok()?;
    (1..=issued).contains(&n).then_some(n)
}

/// The datapaths of an inserted logical flow.
#[derive(Debug, Clone, Copy)]
enum FlowDatapaths {
    /// `logical_datapath`: one datapath (existing UUID or placeholder).
    One(Uuid),
    /// `logical_dp_group`: a `Logical_DP_Group` (existing UUID or placeholder).
    Group(Uuid),
}

/// One operation of an [`SbTxn`].
#[derive(Debug, Clone)]
enum Op<'a> {
    /// `insert` with `uuid-name` `row<name>`; the columns in schema order.
    Insert {
        table: &'static str,
        name: u64,
        row: Vec<(&'static str, Datum)>,
    },
    /// `update` of the row with `uuid`: the changed columns only.
    Update {
        table: &'static str,
        uuid: Uuid,
        row: Vec<(&'static str, Datum)>,
    },
    /// `delete` of the row with `uuid`.
    Delete { table: &'static str, uuid: Uuid },
    /// `mutate` of the row with `uuid`: (column, `insert` or `delete`, elements).
    Mutate {
        table: &'static str,
        uuid: Uuid,
        mutations: Vec<(&'static str, &'static str, Datum)>,
    },
    /// `insert` of a `Logical_Flow`, borrowing its texts from the content (no `uuid-name`:
    /// nothing refers to flows).
    Flow {
        key: &'a FlowKey,
        datapaths: FlowDatapaths,
    },
    /// An operation given as JSON ([`SbTxn::push_json`]; boxed: rare, and keeps `Op` small).
    Json(Box<Value>),
    /// `insert` with `uuid-name` `row<name>` into `table`, already written ([`TypedRow`]):
    /// `text` is the whole operation.
    Written {
        table: &'static str,
        name: u64,
        text: &'a [u8],
    },
}

/// One Southbound `transact`, serialized as it is planned: each operation is written to the
/// RFC 7047 params (`["OVN_Southbound", op...]`) as soon as it is added, so that no typed
/// copy of the rows (nor a JSON tree) accumulates next to the text.
///
/// [`plan`] makes one from a diff; [`SbTxn::insert`], [`SbTxn::update`], [`SbTxn::delete`] and
/// [`SbTxn::push_json`] add operations. Rows inserted here get placeholder UUIDs (returned by
/// [`SbTxn::insert`]) that later rows of the same transaction may refer to; they are written as
/// `["named-uuid", "row<N>"]`. The lifetime `'a` is that of the [`SbContent`] planned from.
#[derive(Debug, Clone)]
pub struct SbTxn<'a> {
    /// `["OVN_Southbound"` and `,op` for each operation so far (the closing `]` is added by
    /// [`Self::into_bytes`]).
    text: Vec<u8>,
    n_ops: usize,
    /// The inserts, as (operation index, table); one shared name per run of inserts into
    /// the same table.
    inserts: ovsdb::client::Inserts,
    issued: u64,
    /// The first serialization failure (none expected: every value is JSON-representable).
    failed: Option<String>,
    /// What the operations so far do to `Logical_Flow` ([`Self::flow_writes`]).
    flow_writes: FlowWrites,
    /// The operation index of each row inserted so far with a `uuid-name`, by placeholder
    /// number (flows refer to new datapaths and groups through them); [`NO_OP`] for a
    /// number no insert has.
    by_name: Vec<usize>,
    /// Where the text goes as it grows, if anywhere ([`Self::with_sink`]).
    sink: Option<TextSink>,
    /// The text of the operation being written by [`Self::insert_typed`] (kept for the next).
    scratch: Vec<u8>,
    /// The tables found to have plain layouts ([`Self::plain_layout`]).
    plain_layouts: Vec<std::any::TypeId>,
    content: std::marker::PhantomData<&'a SbContent>,
}

/// Where an [`SbTxn`] hands its text, piece by piece, as it grows ([`SbTxn::with_sink`]): e.g.
/// straight to the SB server's socket, so that a big transaction's text never sits in memory
/// whole.
#[derive(Clone)]
pub struct TextSink(std::sync::Arc<dyn Fn(Vec<u8>) + Send + Sync>);

impl TextSink {
    /// A sink calling `f` with each piece.
    pub fn new(f: impl Fn(Vec<u8>) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for TextSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextSink")
    }
}

/// No operation: what [`SbTxn`]'s `by_name` holds for a placeholder number no insert has.
const NO_OP: usize = usize::MAX;

/// The operation that inserted the row named by placeholder number `n`, if any.
fn op_of_name(by_name: &[usize], n: u64) -> Option<usize> {
    let op = *by_name.get(usize::try_from(n).ok()?)?;
    (op != NO_OP).then_some(op)
}

/// The text an [`SbTxn`] with a sink gathers before handing it over.
const SINK_PIECE: usize = 256 << 10;

/// The start of the params.
const TXN_HEAD: &[u8] = b"[\"OVN_Southbound\"";

impl Default for SbTxn<'_> {
    fn default() -> Self {
        Self {
            text: TXN_HEAD.to_vec(),
            n_ops: 0,
            inserts: Vec::new(),
            issued: 0,
            failed: None,
            flow_writes: FlowWrites::default(),
            by_name: Vec::new(),
            sink: None,
            scratch: Vec::new(),
            plain_layouts: Vec::new(),
            content: std::marker::PhantomData,
        }
    }
}

impl<'a> SbTxn<'a> {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty transaction that hands its text to `sink` in pieces of about 256 KiB as it
    /// grows (the head included); [`Self::into_bytes`] then gives only the rest.
    pub fn with_sink(sink: TextSink) -> Self {
        Self {
            sink: Some(sink),
            ..Self::default()
        }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.n_ops
    }

    /// True when there is no operation (SB is up to date).
    pub fn is_empty(&self) -> bool {
        self.n_ops == 0
    }

    /// A fresh placeholder UUID standing for the row named `row<N>` in this transaction.
    fn placeholder(&mut self) -> Uuid {
        self.issued += 1;
        Uuid::from_u128((PLACEHOLDER_TAG << 80) | u128::from(self.issued))
    }

    /// Writes `op` after the operations so far (placeholders issued so far are written as
    /// `named-uuid`s: an operation only refers to rows inserted before it).
    fn push(&mut self, op: &Op<'_>) {
        let table: Option<&str> = match op {
            Op::Insert { table, .. } | Op::Written { table, .. } => Some(table),
            Op::Flow { .. } => Some(sb::LogicalFlow::TABLE),
            Op::Json(v) if v.get("op").and_then(Value::as_str) == Some("insert") => {
                v.get("table").and_then(Value::as_str)
            }
            _ => None,
        };
        if let Some(t) = table {
            let name = match self.inserts.last() {
                Some((_, last)) if **last == *t => last.clone(),
                _ => std::sync::Arc::from(t),
            };
            self.inserts.push((self.n_ops, name));
        }
        // A flow's `tags:in_out_port`, looked for once (its id and its text both have it).
        let io_port = match op {
            Op::Flow { key, .. } => key.io_port(),
            _ => None,
        };
        self.note_flow_write(op, io_port);
        self.text.push(b',');
        // A full round's operations are written by hand (the text serde_json writes for
        // [`OpJson`]); the rare others through serde_json.
        let written = match op {
            Op::Flow { key, datapaths } => {
                write_flow_insert(&mut self.text, key, *datapaths, self.issued, io_port);
                Ok(())
            }
            Op::Insert { .. } | Op::Update { .. } | Op::Delete { .. } => {
                write_op(&mut self.text, op, self.issued)
            }
            Op::Written { text, .. } => {
                self.text.extend_from_slice(text);
                Ok(())
            }
            _ => serde_json::to_writer(&mut self.text, &OpJson(op, self.issued)),
        };
        if let Err(e) = written {
            self.failed.get_or_insert_with(|| e.to_string());
        }
        self.n_ops += 1;
        if let Some(sink) = &self.sink {
            if self.text.len() >= SINK_PIECE && self.failed.is_none() {
                let piece = std::mem::replace(
                    &mut self.text,
                    Vec::with_capacity(SINK_PIECE + SINK_PIECE / 4),
                );
                (sink.0)(piece);
            }
        }
    }

    /// Inserts `row` (its `_uuid` is ignored) and returns the placeholder UUID other rows of
    /// this transaction use to refer to it.
    pub fn insert<T: Model>(&mut self, row: &T) -> Result<Uuid, NorthdError> {
        let u = self.placeholder();
        self.insert_as(row, u)?;
        Ok(u)
    }

    /// Inserts `row` under placeholder `uuid` (from [`Self::placeholder`]).
    fn insert_as<T: Model>(&mut self, row: &T, uuid: Uuid) -> Result<(), NorthdError> {
        let name = placeholder_number(&uuid, self.issued).unwrap_or_default();
        // The rows a full round inserts by the ten thousand are written straight from their
        // fields ([`TypedRow`]): no column values built, checked and dropped for each.
        let any: &dyn std::any::Any = row;
        let written = if let Some(r) = any.downcast_ref::<sb::PortBinding>() {
            self.insert_typed::<sb::PortBinding>(name, |w| write_port_binding(w, r))
        } else if let Some(r) = any.downcast_ref::<sb::MulticastGroup>() {
            self.insert_typed::<sb::MulticastGroup>(name, |w| {
                w.uuids(0, std::iter::once(r.datapath.uuid()), 1);
                w.string(1, &r.name);
                w.integer(2, Some(r.tunnel_key));
                w.uuids(3, refs(&r.ports), r.ports.len());
            })
        } else if let Some(r) = any.downcast_ref::<sb::PortGroup>() {
            self.insert_typed::<sb::PortGroup>(name, |w| {
                w.string(0, &r.name);
                w.strings(1, r.ports.iter().map(String::as_str), r.ports.len());
            })
        } else if let Some(r) = any.downcast_ref::<sb::AddressSet>() {
            self.insert_typed::<sb::AddressSet>(name, |w| {
                w.string(0, &r.name);
                w.strings(1, r.addresses.iter().map(String::as_str), r.addresses.len());
            })
        } else if let Some(r) = any.downcast_ref::<sb::DatapathBinding>() {
            self.insert_typed::<sb::DatapathBinding>(name, |w| {
                w.integer(0, Some(r.tunnel_key));
                w.uuids(1, r.load_balancers.iter().copied(), r.load_balancers.len());
                w.string_map(2, &r.external_ids);
            })
        } else if let Some(r) = any.downcast_ref::<sb::LogicalDpGroup>() {
            self.insert_typed::<sb::LogicalDpGroup>(name, |w| {
                w.uuids(0, refs(&r.datapaths), r.datapaths.len());
            })
        } else if let Some(r) = any.downcast_ref::<sb::LoadBalancer>() {
            self.insert_typed::<sb::LoadBalancer>(name, |w| {
                w.string(0, &r.name);
                w.string_map(1, &r.vips);
                let protocol = r.protocol.map(sb::LoadBalancerProtocol::as_str);
                w.strings(2, protocol.into_iter(), usize::from(protocol.is_some()));
                w.uuids(3, refs(&r.datapaths), r.datapaths.len());
                let group = r.datapath_group.map(|g| g.uuid());
                w.uuids(4, group.into_iter(), usize::from(group.is_some()));
                w.string_map(5, &r.options);
                w.string_map(6, &r.external_ids);
            })
        } else {
            false
        };
        if written {
            return Ok(());
        }
        self.insert_generic(row, name)
    }

    /// Inserts a row of `T`'s table written straight from the caller's data by `columns`
    /// ([`TypedRow`], the columns [`Self::insert`] would write for `row()`), without building
    /// the typed row; when `columns` cannot vouch for a value, `row()` is built and inserted
    /// the generic way (which checks it fully). Returns the placeholder UUID, as
    /// [`Self::insert`] does.
    fn insert_with<T: Model>(
        &mut self,
        columns: impl FnOnce(&mut TypedRow<'_>),
        row: impl FnOnce() -> T,
    ) -> Result<Uuid, NorthdError> {
        let u = self.placeholder();
        let name = placeholder_number(&u, self.issued).unwrap_or_default();
        if !self.insert_typed::<T>(name, columns) {
            self.insert_generic(&row(), name)?;
        }
        Ok(u)
    }

    /// Writes the `insert` of a row of `T`'s table named `row<name>` with `columns` (which
    /// writes the row's columns, [`TypedRow`]) and adds it; false (nothing added) when
    /// `columns` could not vouch for a value, for the generic path to check and write it.
    fn insert_typed<T: Model>(
        &mut self,
        name: u64,
        columns: impl FnOnce(&mut TypedRow<'_>),
    ) -> bool {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        write_insert_head(&mut text, T::TABLE, name);
        let plain = self.plain_layout::<T>();
        let mut w = TypedRow::new::<T>(&mut text, self.issued, plain);
        columns(&mut w);
        let ok = w.finish();
        if ok {
            text.push(b'}');
            self.push(&Op::Written {
                table: T::TABLE,
                name,
                text: &text,
            });
        }
        self.scratch = text;
        ok
    }

    /// Whether `T`'s columns are all where [`Model::checked_datums`] looks for them first in
    /// the embedded schema, with names that JSON needs no escape for (checked once per table).
    fn plain_layout<T: Model>(&mut self) -> bool {
        let id = std::any::TypeId::of::<T>();
        if self.plain_layouts.contains(&id) {
            return true;
        }
        let schema = &T::table_schema().columns;
        let plain = T::COLUMNS.iter().enumerate().all(|(i, name)| {
            schema.get(i + 2).is_some_and(|c| c.name == *name)
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if plain {
            self.plain_layouts.push(id);
        }
        plain
    }

    /// Inserts `row` named `row<name>` through its column values ([`Model::checked_datums`]).
    fn insert_generic<T: Model>(&mut self, row: &T, name: u64) -> Result<(), NorthdError> {
        let datums = row.checked_datums()?;
        // An empty set or map is what a column left out of an insert holds anyway: leaving it
        // out keeps the transaction (and the server's work) smaller.
        let row = T::COLUMNS
            .iter()
            .copied()
            .zip(datums)
            .filter(|(_, d)| !d.is_empty())
            .collect();
        self.push(&Op::Insert {
            table: T::TABLE,
            name,
            row,
        });
        Ok(())
    }

    /// Updates `old` to `new`: writes the columns that differ (nothing when none does).
    pub fn update<T: Model + PartialEq>(&mut self, new: &T, old: &T) -> Result<(), NorthdError> {
        // Most rows of a recompute are unchanged: equal rows (same `_uuid` too, as a row
        // updated in place has) need no conversion to column values.
        if new == old {
            return Ok(());
        }
        let new_datums = new.checked_datums()?;
        let old_datums = old.to_datums();
        let row: Vec<_> = T::COLUMNS
            .iter()
            .copied()
            .zip(new_datums)
            .zip(old_datums)
            .filter(|((_, n), o)| n != o)
            .map(|(c, _)| c)
            .collect();
        if !row.is_empty() {
            self.push(&Op::Update {
                table: T::TABLE,
                uuid: old.uuid().uuid(),
                row,
            });
        }
        Ok(())
    }

    /// Updates `old` to `new` as [`Self::update`] does, except that a changed column among
    /// `set_columns` (set columns: no maps, no scalars) is written as a `mutate` of the
    /// elements that go and come when those are fewer than its new elements: adding one
    /// member to a set of thousands sends one element, not the whole set (less to send, to
    /// log and to pass on to every SB client).
    pub fn update_mutating<T: Model + PartialEq>(
        &mut self,
        new: &T,
        old: &T,
        set_columns: &[&str],
    ) -> Result<(), NorthdError> {
        if new == old {
            return Ok(());
        }
        let new_datums = new.checked_datums()?;
        let old_datums = old.to_datums();
        let mut row = Vec::new();
        let mut mutations = Vec::new();
        for ((c, n), o) in T::COLUMNS.iter().copied().zip(new_datums).zip(old_datums) {
            if n == o {
                continue;
            }
            if let (true, Datum::Set(na), Datum::Set(oa)) = (set_columns.contains(&c), &n, &o) {
                let (gone, came) = set_difference(oa.as_slice(), na.as_slice());
                if gone.len() + came.len() < na.len() {
                    // Both are sorted and distinct already: this cannot fail.
                    let set = |v| {
                        Datum::set_from_vec(v)
                            .map_err(|e| NorthdError::SbTransaction(e.to_string()))
                    };
                    if !gone.is_empty() {
                        mutations.push((c, "delete", set(gone)?));
                    }
                    if !came.is_empty() {
                        mutations.push((c, "insert", set(came)?));
                    }
                    continue;
                }
            }
            row.push((c, n));
        }
        let uuid = old.uuid().uuid();
        if !row.is_empty() {
            self.push(&Op::Update {
                table: T::TABLE,
                uuid,
                row,
            });
        }
        if !mutations.is_empty() {
            self.push(&Op::Mutate {
                table: T::TABLE,
                uuid,
                mutations,
            });
        }
        Ok(())
    }

    /// Updates `old` to `new`, or inserts `new` under a fresh placeholder when there is no `old`.
    fn put<T: Model + PartialEq>(&mut self, new: &T, old: Option<&T>) -> Result<(), NorthdError> {
        match old {
            Some(old) => self.update(new, old),
            None => self.insert(new).map(|_| ()),
        }
    }

    /// Deletes the row `uuid` of `T`'s table.
    pub fn delete<T: Model>(&mut self, uuid: Ref<T>) {
        self.push(&Op::Delete {
            table: T::TABLE,
            uuid: uuid.uuid(),
        });
    }

    /// Inserts the logical flow `key` on `datapaths`.
    fn insert_flow(&mut self, key: &'a FlowKey, datapaths: FlowDatapaths) {
        self.push(&Op::Flow { key, datapaths });
    }

    /// Appends an operation given as RFC 7047 JSON, e.g. the `SB_Global` `nb_cfg` update:
    /// `{"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": N}}`.
    pub fn push_json(&mut self, op: Value) {
        self.push(&Op::Json(Box::new(op)));
    }

    /// The `insert` operations as (operation index, table): what
    /// `ovsdb::client::Client::transact_bytes` needs for read-your-writes.
    pub fn inserts(&self) -> ovsdb::client::Inserts {
        self.inserts.clone()
    }

    /// [`Self::inserts`], taken out of the transaction (whose text is complete) instead of
    /// copied.
    pub fn take_inserts(&mut self) -> ovsdb::client::Inserts {
        let mut v = std::mem::take(&mut self.inserts);
        v.shrink_to_fit();
        v
    }

    /// What this transaction does to `Logical_Flow` (rows deleted, flows inserted with their
    /// operation indexes), for [`SbFlows::apply`] once it has committed.
    pub fn flow_writes(&self) -> FlowWrites {
        self.flow_writes.clone()
    }

    /// [`Self::flow_writes`], taken out of the transaction (whose text is complete) instead
    /// of copied: a full round's records (hundreds of thousands) are not held twice.
    pub fn take_flow_writes(&mut self) -> FlowWrites {
        let mut w = std::mem::take(&mut self.flow_writes);
        w.deleted.shrink_to_fit();
        w.inserted.shrink_to_fit();
        w
    }

    /// Records what operation `op`, about to become operation [`Self::len`], does to
    /// `Logical_Flow` (the text keeps no typed copy of the operations to look at later).
    /// `io_port` is the flow's [`FlowKey::io_port`] when `op` is an [`Op::Flow`].
    fn note_flow_write(&mut self, op: &Op<'_>, io_port: Option<&str>) {
        let i = self.n_ops;
        if let Op::Insert { name, .. } | Op::Written { name, .. } = op {
            if let Ok(n) = usize::try_from(*name) {
                if self.by_name.len() <= n {
                    self.by_name.resize(n + 1, NO_OP);
                }
                self.by_name[n] = i;
            }
        }
        let by_name = &self.by_name;
        let issued = self.issued;
        let resolve = |u: Uuid, group: bool| match placeholder_number(&u, issued) {
            Some(n) => op_of_name(by_name, n).map(|op| {
                if group {
                    WrittenDp::NewGroup(op)
                } else {
                    WrittenDp::NewDatapath(op)
                }
            }),
            None if group => Some(WrittenDp::Known(FlowDp::Group(u))),
            None => Some(WrittenDp::Known(FlowDp::One(u))),
        };
        let out = &mut self.flow_writes;
        {
            match op {
                Op::Delete { table, uuid } if *table == sb::LogicalFlow::TABLE => {
                    out.deleted.push(*uuid);
                }
                Op::Flow { key, datapaths } => {
                    let dp = match *datapaths {
                        FlowDatapaths::One(u) => resolve(u, false),
                        FlowDatapaths::Group(u) => resolve(u, true),
                    };
                    if let Some(dp) = dp {
                        out.inserted.push(WrittenFlow {
                            op: i,
                            id: FlowId::of_key_with_port(key, io_port),
                            dp,
                        });
                    }
                }
                Op::Insert { table, row, .. } if *table == sb::LogicalFlow::TABLE => {
                    let col = |name: &str| row.iter().find(|(c, _)| *c == name).map(|(_, d)| d);
                    let text = |name: &str| match col(name).and_then(Datum::first) {
                        Some(Atom::String(s)) => Some(&**s),
                        _ => None,
                    };
                    let int = |name: &str| match col(name).and_then(Datum::first) {
                        Some(Atom::Integer(n)) => *n,
                        _ => 0,
                    };
                    let uuid = |name: &str| match col(name).and_then(Datum::first) {
                        Some(Atom::Uuid(u)) => Some(*u),
                        _ => None,
                    };
                    let io_port = match col("tags") {
                        Some(Datum::Map(m)) => m.iter().find_map(|(k, v)| match (k, v) {
                            (Atom::String(k), Atom::String(v)) if &**k == "in_out_port" => {
                                Some(&**v)
                            }
                            _ => None,
                        }),
                        _ => None,
                    };
                    let id = FlowId::new(
                        u8::from(text("pipeline") != Some("ingress")),
                        int("table_id"),
                        int("priority"),
                        text("match").unwrap_or_default(),
                        text("actions").unwrap_or_default(),
                        text("controller_meter"),
                        io_port,
                    );
                    let dp = match (uuid("logical_datapath"), uuid("logical_dp_group")) {
                        (Some(d), _) => resolve(d, false),
                        (None, Some(g)) => resolve(g, true),
                        (None, None) => Some(WrittenDp::Known(FlowDp::None)),
                    };
                    if let Some(dp) = dp {
                        out.inserted.push(WrittenFlow { op: i, id, dp });
                    }
                }
                _ => {}
            }
        }
    }

    /// Writes the `transact` params (`["OVN_Southbound", op...]`) as compact JSON.
    pub fn write_json<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        if let Some(e) = &self.failed {
            return Err(std::io::Error::other(e.clone()));
        }
        w.write_all(&self.text)?;
        w.write_all(b"]")
    }

    /// The `transact` params as JSON bytes.
    pub fn to_vec(&self) -> Result<Vec<u8>, NorthdError> {
        self.clone().into_bytes()
    }

    /// The `transact` params as JSON bytes, without copying them (with a sink: what it has
    /// not been handed yet).
    pub fn into_bytes(mut self) -> Result<Vec<u8>, NorthdError> {
        if let Some(e) = self.failed {
            return Err(NorthdError::SbTransaction(e));
        }
        self.text.push(b']');
        Ok(self.text)
    }

    /// The `transact` params as a JSON value (for [`Database::transact`] and tests).
    pub fn to_value(&self) -> Result<Value, NorthdError> {
        Ok(serde_json::from_slice(&self.to_vec()?)?)
    }

    /// The operations as JSON values, without the database name.
    pub fn ops_json(&self) -> Result<Vec<Value>, NorthdError> {
        match self.to_value()? {
            Value::Array(mut v) => {
                v.remove(0);
                Ok(v)
            }
            _ => Err(NorthdError::SbTransaction("params are not an array".into())),
        }
    }
}

/// The elements of sorted `old` not in sorted `new`, and those of `new` not in `old`.
fn set_difference(old: &[Atom], new: &[Atom]) -> (Vec<Atom>, Vec<Atom>) {
    let (mut gone, mut came) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                gone.push(a.clone());
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                came.push(b.clone());
                j += 1;
            }
            (Some(a), None) => {
                gone.push(a.clone());
                i += 1;
            }
            (None, None) => break,
        }
    }
    (gone, came)
}

/// An operation with the number of placeholders issued (to tell them from real UUIDs).
struct OpJson<'t, 'a>(&'t Op<'a>, u64);

/// A UUID as `["uuid", ...]`, or `["named-uuid", "row<N>"]` for a placeholder.
struct UuidJson(Uuid, u64);

impl Serialize for UuidJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        match placeholder_number(&self.0, self.1) {
            Some(n) => {
                t.serialize_element("named-uuid")?;
                t.serialize_element(&RowName(n))?;
            }
            None => {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                t.serialize_element("uuid")?;
                t.serialize_element(&*self.0.hyphenated().encode_lower(&mut buf))?;
            }
        }
        t.end()
    }
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it (`\"`, `\\`, the short
/// escapes of `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`); the
/// runs between escapes are found eight bytes at a time.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Bit 7 of each byte of `w` that must be escaped (a control character, `"` or `\`):
    // exact for the first such byte, which is all that is used.
    let mask = |w: u64| {
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let bs = w ^ (ONES * u64::from(b'\\'));
        (control | (q.wrapping_sub(ONES) & !q) | (bs.wrapping_sub(ONES) & !bs)) & HIGH
    };
    let needs = |c: u8| c < 0x20 || c == b'"' || c == b'\\';
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let (mut from, mut i) = (0, 0);
    loop {
        // The next byte to escape at or after `i`, or the end.
        while let Some(Ok(w)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) {
            let m = mask(u64::from_le_bytes(w));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while i < b.len() && !needs(b[i]) {
            i += 1;
        }
        out.extend_from_slice(&b[from..i]);
        let Some(&c) = b.get(i) else { break };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
        i += 1;
        from = i;
    }
    out.push(b'"');
}

/// Appends `n` in decimal.
fn write_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_uint(out, n.unsigned_abs());
}

/// Appends `v` in decimal (two digits at a time).
fn write_uint(out: &mut Vec<u8>, mut v: u64) {
    /// "00" to "99".
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                                2021222324252627282930313233343536373839\
                                4041424344454647484950515253545556575859\
                                6061626364656667686970717273747576777879\
                                8081828384858687888990919293949596979899";
    if v < 10 {
        // A digit: below 10.
        out.push(b'0' + v as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while v >= 10 {
        // Below 100.
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v > 0 {
        at -= 1;
        // A digit: below 10.
        buf[at] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends UUID `u` as [`UuidJson`] writes it (`["uuid","..."]`, or `["named-uuid","row<N>"]`
/// for a placeholder among the `issued` ones).
fn write_uuid(out: &mut Vec<u8>, u: Uuid, issued: u64) {
    match placeholder_number(&u, issued) {
        Some(n) => {
            out.extend_from_slice(b"[\"named-uuid\",\"row");
            write_int(out, i64::try_from(n).unwrap_or(i64::MAX));
            out.extend_from_slice(b"\"]");
        }
        None => {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            out.extend_from_slice(b"[\"uuid\",\"");
            out.extend_from_slice(u.hyphenated().encode_lower(&mut buf).as_bytes());
            out.extend_from_slice(b"\"]");
        }
    }
}

/// Appends the `insert` of logical flow `k` on `dps`: the text serde_json writes for
/// [`Op::Flow`] ([`OpJson`]), byte for byte, without going through a serializer (a full round
/// writes hundreds of thousands of them).
/// `io_port` is `k`'s [`FlowKey::io_port`].
fn write_flow_insert(
    out: &mut Vec<u8>,
    k: &FlowKey,
    dps: FlowDatapaths,
    issued: u64,
    io_port: Option<&str>,
) {
    // The table's name and the pipelines' are plain words (no escapes): written as they are.
    out.extend_from_slice(b"{\"op\":\"insert\",\"table\":\"");
    out.extend_from_slice(sb::LogicalFlow::TABLE.as_bytes());
    out.extend_from_slice(b"\",\"row\":{");
    match dps {
        FlowDatapaths::One(u) => {
            out.extend_from_slice(b"\"logical_datapath\":");
            write_uuid(out, u, issued);
        }
        FlowDatapaths::Group(u) => {
            out.extend_from_slice(b"\"logical_dp_group\":");
            write_uuid(out, u, issued);
        }
    }
    out.extend_from_slice(b",\"pipeline\":\"");
    out.extend_from_slice(k.stage.pipeline().as_str().as_bytes());
    out.push(b'"');
    out.extend_from_slice(b",\"table_id\":");
    write_int(out, i64::from(k.stage.table()));
    out.extend_from_slice(b",\"priority\":");
    write_int(out, i64::from(k.priority));
    out.extend_from_slice(b",\"match\":");
    write_json_str(out, &k.match_);
    out.extend_from_slice(b",\"actions\":");
    write_json_str(out, &k.actions);
    // Stage names are plain words too (`stage_names_need_no_escapes`).
    out.extend_from_slice(b",\"external_ids\":[\"map\",[[\"stage-name\",\"");
    out.extend_from_slice(k.stage.name().as_bytes());
    out.extend_from_slice(b"\"]]]");
    if let Some(meter) = &k.meter {
        out.extend_from_slice(b",\"controller_meter\":");
        write_json_str(out, meter);
    }
    if let Some(port) = io_port {
        out.extend_from_slice(b",\"tags\":[\"map\",[[\"in_out_port\",");
        write_json_str(out, port);
        out.extend_from_slice(b"]]]");
    }
    out.extend_from_slice(b"}}");
}

/// Appends an [`Op::Insert`], [`Op::Update`] or [`Op::Delete`] as serde_json writes its
/// [`OpJson`], byte for byte, without going through a serializer (a full round writes tens of
/// thousands of port bindings and other rows); any other operation through serde_json.
fn write_op(out: &mut Vec<u8>, op: &Op<'_>, issued: u64) -> Result<(), serde_json::Error> {
    let where_uuid = |out: &mut Vec<u8>, uuid: Uuid| {
        out.extend_from_slice(b",\"where\":[[\"_uuid\",\"==\",");
        write_uuid(out, uuid, 0);
        out.extend_from_slice(b"]]");
    };
    match op {
        Op::Insert { table, name, row } => {
            write_insert_head(out, table, *name);
            write_row(out, row, issued)?;
            out.push(b'}');
        }
        Op::Update { table, uuid, row } => {
            out.extend_from_slice(b"{\"op\":\"update\",\"table\":");
            write_json_str(out, table);
            where_uuid(out, *uuid);
            out.extend_from_slice(b",\"row\":");
            write_row(out, row, issued)?;
            out.push(b'}');
        }
        Op::Delete { table, uuid } => {
            out.extend_from_slice(b"{\"op\":\"delete\",\"table\":");
            write_json_str(out, table);
            where_uuid(out, *uuid);
            out.push(b'}');
        }
        _ => serde_json::to_writer(&mut *out, &OpJson(op, issued))?,
    }
    Ok(())
}

/// Appends the start of an `insert` into `table` named `row<name>`, up to its `"row":`.
fn write_insert_head(out: &mut Vec<u8>, table: &str, name: u64) {
    out.extend_from_slice(b"{\"op\":\"insert\",\"table\":");
    write_json_str(out, table);
    out.extend_from_slice(b",\"uuid-name\":\"row");
    write_uint(out, name);
    out.extend_from_slice(b"\",\"row\":");
}

/// Writes the columns of a typed row of one table (a model of [`Model`]) as [`write_row`]
/// writes that row's non-empty column values, straight from the row's fields: no column values
/// ([`Model::to_datums`]) are built. Each value is checked against the column's type in the
/// embedded schema only as far as it can be cheaply: a value it cannot vouch for (a size out of
/// bounds, an integer out of range, a string or UUID column with an `enum` or length
/// constraint, a column not where [`Model::checked_datums`] finds it first) marks the row
/// failed ([`Self::finish`] is false) and the caller writes the row the generic way, which
/// checks it fully (and reports the error, if any).
struct TypedRow<'w> {
    out: &'w mut Vec<u8>,
    issued: u64,
    /// The model's columns ([`Model::COLUMNS`]).
    names: &'static [&'static str],
    /// The table's columns in the embedded schema ([`Model::table_schema`]).
    schema: &'static [ovsdb::schema::ColumnSchema],
    /// Columns written so far.
    written: usize,
    ok: bool,
    /// The layout is plain ([`SbTxn::plain_layout`]): column `i` is at `i + 2` in the schema
    /// and its name is written as it is.
    plain: bool,
}

impl<'w> TypedRow<'w> {
    /// A row of `T`'s table, written to `out` (`{` first).
    fn new<T: Model>(out: &'w mut Vec<u8>, issued: u64, plain: bool) -> Self {
        out.push(b'{');
        Self {
            out,
            issued,
            names: T::COLUMNS,
            schema: &T::table_schema().columns,
            written: 0,
            ok: true,
            plain,
        }
    }

    /// Ends the row (`}`); false when a value could not be vouched for.
    fn finish(self) -> bool {
        self.out.push(b'}');
        self.ok
    }

    /// The type of column `i` (of [`Model::COLUMNS`]) if the schema has it at the position
    /// [`Model::checked_datums`] looks first and `n` values are within its size bounds.
    fn ty(&mut self, i: usize, n: usize) -> Option<&'static ovsdb::types::ColumnType> {
        let name = *self.names.get(i)?;
        let schema: &'static [ovsdb::schema::ColumnSchema] = self.schema;
        let col = schema.get(i + 2).filter(|c| self.plain || c.name == name);
        let ty = col.map(|c| &c.type_).filter(|t| {
            let n = n as u64;
            t.min <= n && n <= t.max
        });
        if ty.is_none() {
            self.ok = false;
        }
        ty
    }

    /// Writes the name of column `i` (and the comma before it).
    fn name(&mut self, i: usize) {
        if self.written > 0 {
            self.out.push(b',');
        }
        self.written += 1;
        let name = self.names.get(i).copied().unwrap_or_default();
        if self.plain {
            self.out.push(b'"');
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(b"\":");
        } else {
            write_json_str(self.out, name);
            self.out.push(b':');
        }
    }

    /// Column `i`, a string (or a set of one).
    fn string(&mut self, i: usize, v: &str) {
        self.strings(i, std::iter::once(v), 1);
    }

    /// Column `i`, a set of `n` strings in increasing order (empty: not written).
    fn strings<'s>(&mut self, i: usize, v: impl Iterator<Item = &'s str>, n: usize) {
        let Some(ty) = self.ty(i, n) else { return };
        let key = &ty.key;
        let allowed = key.constraints.enum_values.as_deref();
        if ty.value.is_some() || !(plain_string(key) || allowed.is_some() && string_base(key)) {
            self.ok = false;
            return;
        }
        if n == 0 {
            return;
        }
        self.name(i);
        if n > 1 {
            self.out.extend_from_slice(b"[\"set\",[");
        }
        for (k, s) in v.enumerate() {
            if k > 0 {
                self.out.push(b',');
            }
            // One of a few allowed values (an enum column).
            if allowed.is_some_and(|a| !a.iter().any(|a| matches!(a, Atom::String(x) if &**x == s)))
            {
                self.ok = false;
            }
            write_json_str(self.out, s);
        }
        if n > 1 {
            self.out.extend_from_slice(b"]]");
        }
    }

    /// Column `i`, a set of zero or one integer.
    fn integer(&mut self, i: usize, v: Option<i64>) {
        let n = usize::from(v.is_some());
        let Some(ty) = self.ty(i, n) else { return };
        let c = &ty.key.constraints;
        if ty.value.is_some() || ty.key.atomic != ovsdb::types::AtomicType::Integer {
            self.ok = false;
            return;
        }
        let Some(v) = v else { return };
        if c.enum_values.is_some()
            || c.min_integer.is_some_and(|m| v < m)
            || c.max_integer.is_some_and(|m| v > m)
        {
            self.ok = false;
            return;
        }
        self.name(i);
        write_int(self.out, v);
    }

    /// Column `i`, a set of zero or one boolean.
    fn boolean(&mut self, i: usize, v: Option<bool>) {
        let n = usize::from(v.is_some());
        let Some(ty) = self.ty(i, n) else { return };
        if ty.value.is_some()
            || ty.key.atomic != ovsdb::types::AtomicType::Boolean
            || ty.key.constraints.enum_values.is_some()
        {
            self.ok = false;
            return;
        }
        let Some(v) = v else { return };
        self.name(i);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// Column `i`, a set of `n` UUIDs in increasing order (empty: not written).
    fn uuids(&mut self, i: usize, v: impl Iterator<Item = Uuid>, n: usize) {
        let Some(ty) = self.ty(i, n) else { return };
        if ty.value.is_some()
            || ty.key.atomic != ovsdb::types::AtomicType::Uuid
            || ty.key.constraints.enum_values.is_some()
        {
            self.ok = false;
            return;
        }
        if n == 0 {
            return;
        }
        self.name(i);
        if n > 1 {
            self.out.extend_from_slice(b"[\"set\",[");
        }
        for (k, u) in v.enumerate() {
            if k > 0 {
                self.out.push(b',');
            }
            write_uuid(self.out, u, self.issued);
        }
        if n > 1 {
            self.out.extend_from_slice(b"]]");
        }
    }

    /// Column `i`, a map of strings to strings (empty: not written).
    fn string_map(&mut self, i: usize, m: &BTreeMap<String, String>) {
        self.string_pairs(i, m.iter(), m.len());
    }

    /// Column `i`, a map of strings to strings given as its `n` pairs in increasing key order
    /// (distinct keys; empty: not written).
    fn string_pairs<'s>(
        &mut self,
        i: usize,
        pairs: impl Iterator<Item = (&'s String, &'s String)>,
        n: usize,
    ) {
        let Some(ty) = self.ty(i, n) else {
            return;
        };
        if !(plain_string(&ty.key) && ty.value.as_ref().is_some_and(plain_string)) {
            self.ok = false;
            return;
        }
        if n == 0 {
            return;
        }
        self.name(i);
        self.out.extend_from_slice(b"[\"map\",[");
        for (k, (key, value)) in pairs.enumerate() {
            if k > 0 {
                self.out.push(b',');
            }
            self.out.push(b'[');
            write_json_str(self.out, key);
            self.out.push(b',');
            write_json_str(self.out, value);
            self.out.push(b']');
        }
        self.out.extend_from_slice(b"]]");
    }
}

/// A string base type without constraints on its values (no `enum`, no length bounds).
fn plain_string(t: &ovsdb::types::BaseType) -> bool {
    string_base(t) && t.constraints.enum_values.is_none()
}

/// A string base type without length bounds.
fn string_base(t: &ovsdb::types::BaseType) -> bool {
    let c = &t.constraints;
    t.atomic == ovsdb::types::AtomicType::String && c.min_length.is_none() && c.max_length.is_none()
}

/// The UUIDs of the references `s`, in increasing order.
fn refs<T>(s: &BTreeSet<Ref<T>>) -> impl Iterator<Item = Uuid> + '_ {
    s.iter().map(|r| r.uuid())
}

/// The columns of `Port_Binding` row `p`, in [`Model::COLUMNS`] order ([`TypedRow`]).
fn write_port_binding(w: &mut TypedRow<'_>, p: &sb::PortBinding) {
    w.string(0, &p.logical_port);
    w.string(1, &p.type_);
    w.uuids(
        2,
        p.gateway_chassis.iter().map(|r| r.uuid()),
        p.gateway_chassis.len(),
    );
    w.uuids(
        3,
        p.ha_chassis_group.iter().map(|r| r.uuid()),
        usize::from(p.ha_chassis_group.is_some()),
    );
    w.string_map(4, &p.options);
    w.uuids(5, std::iter::once(p.datapath.uuid()), 1);
    w.integer(6, Some(p.tunnel_key));
    w.strings(
        7,
        p.parent_port.iter().map(String::as_str),
        usize::from(p.parent_port.is_some()),
    );
    w.integer(8, p.tag);
    w.strings(
        9,
        p.virtual_parent.iter().map(String::as_str),
        usize::from(p.virtual_parent.is_some()),
    );
    w.uuids(
        10,
        p.chassis.iter().map(|r| r.uuid()),
        usize::from(p.chassis.is_some()),
    );
    w.uuids(11, refs(&p.additional_chassis), p.additional_chassis.len());
    w.uuids(
        12,
        p.encap.iter().map(|r| r.uuid()),
        usize::from(p.encap.is_some()),
    );
    w.uuids(13, refs(&p.additional_encap), p.additional_encap.len());
    w.uuids(14, refs(&p.mirror_rules), p.mirror_rules.len());
    w.strings(15, p.mac.iter().map(String::as_str), p.mac.len());
    w.strings(
        16,
        p.port_security.iter().map(String::as_str),
        p.port_security.len(),
    );
    w.strings(
        17,
        p.nat_addresses.iter().map(String::as_str),
        p.nat_addresses.len(),
    );
    w.boolean(18, p.up);
    w.string_map(19, &p.external_ids);
    w.uuids(
        20,
        p.requested_chassis.iter().map(|r| r.uuid()),
        usize::from(p.requested_chassis.is_some()),
    );
    w.uuids(
        21,
        refs(&p.requested_additional_chassis),
        p.requested_additional_chassis.len(),
    );
}

/// Appends the columns of an insert or update as [`RowJson`] writes them.
fn write_row(
    out: &mut Vec<u8>,
    row: &[(&'static str, Datum)],
    issued: u64,
) -> Result<(), serde_json::Error> {
    out.push(b'{');
    for (n, (c, d)) in row.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json_str(out, c);
        out.push(b':');
        write_datum(out, d, issued)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `d` as [`DatumJson`] writes it (an empty datum through serde_json).
fn write_datum(out: &mut Vec<u8>, d: &Datum, issued: u64) -> Result<(), serde_json::Error> {
    let pairs = d.map_pairs();
    let atoms = d.set_atoms();
    if !pairs.is_empty() {
        out.extend_from_slice(b"[\"map\",[");
        for (n, (k, v)) in pairs.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.push(b'[');
            write_atom(out, k, issued)?;
            out.push(b',');
            write_atom(out, v, issued)?;
            out.push(b']');
        }
        out.extend_from_slice(b"]]");
    } else if let [one] = atoms {
        write_atom(out, one, issued)?;
    } else if !atoms.is_empty() {
        out.extend_from_slice(b"[\"set\",[");
        for (n, a) in atoms.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_atom(out, a, issued)?;
        }
        out.extend_from_slice(b"]]");
    } else {
        serde_json::to_writer(&mut *out, &DatumJson(d, issued))?;
    }
    Ok(())
}

/// Appends `a` as [`AtomJson`] writes it (a real number through serde_json).
fn write_atom(out: &mut Vec<u8>, a: &Atom, issued: u64) -> Result<(), serde_json::Error> {
    match a {
        Atom::Uuid(u) => write_uuid(out, *u, issued),
        Atom::String(text) => write_json_str(out, text),
        Atom::Integer(i) => write_int(out, *i),
        Atom::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Atom::Real(_) => serde_json::to_writer(&mut *out, &AtomJson(a, issued))?,
    }
    Ok(())
}

/// `row<N>`, the `uuid-name` of placeholder `N`.
struct RowName(u64);

impl Serialize for RowName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("row{}", self.0))
    }
}

/// `[["_uuid", "==", ["uuid", U]]]`.
struct WhereUuid(Uuid);

impl Serialize for WhereUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [("_uuid", "==", UuidJson(self.0, 0))].serialize(s)
    }
}

/// A column value as ovsdb-server writes it (a one-element set as the bare atom), with
/// placeholder UUIDs written as `named-uuid`s.
struct DatumJson<'t>(&'t Datum, u64);

impl Serialize for DatumJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let DatumJson(d, issued) = *self;
        let pairs = d.map_pairs();
        let atoms = d.set_atoms();
        if !pairs.is_empty() {
            let pairs = pairs
                .iter()
                .map(|(k, v)| (AtomJson(k, issued), AtomJson(v, issued)));
            ("map", Seq(std::cell::Cell::new(Some(pairs)))).serialize(s)
        } else if let [one] = atoms {
            AtomJson(one, issued).serialize(s)
        } else if !atoms.is_empty() {
            let atoms = atoms.iter().map(|a| AtomJson(a, issued));
            ("set", Seq(std::cell::Cell::new(Some(atoms)))).serialize(s)
        } else {
            // Empty: `["set", []]` or `["map", []]` as the column's kind says.
            d.to_json().serialize(s)
        }
    }
}

/// One atom; a UUID is written as [`UuidJson`] (placeholders as `named-uuid`s).
struct AtomJson<'t>(&'t Atom, u64);

impl Serialize for AtomJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Strings, integers and booleans written as `to_json` would give them, without
        // making that JSON value (a copy of every string) first.
        match self.0 {
            Atom::Uuid(u) => UuidJson(*u, self.1).serialize(s),
            Atom::String(text) => s.serialize_str(text),
            Atom::Integer(i) => s.serialize_i64(*i),
            Atom::Boolean(b) => s.serialize_bool(*b),
            Atom::Real(_) => self.0.to_json().serialize(s),
        }
    }
}

/// A JSON array of the items of an iterator (serialized once).
struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I: Iterator> Serialize for Seq<I>
where
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.take() {
            Some(items) => s.collect_seq(items),
            None => s.collect_seq(std::iter::empty::<I::Item>()),
        }
    }
}

/// The columns of an insert or update.
struct RowJson<'t>(&'t [(&'static str, Datum)], u64);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (c, d) in self.0 {
            m.serialize_entry(c, &DatumJson(d, self.1))?;
        }
        m.end()
    }
}

/// A logical flow's columns, as [`SbTxn::insert`] would write the `sb::LogicalFlow`.
struct FlowRowJson<'t>(&'t FlowKey, FlowDatapaths, u64);

impl Serialize for FlowRowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let FlowRowJson(k, dps, issued) = *self;
        let io_port = k.io_port();
        let mut m = s.serialize_map(Some(
            7 + usize::from(k.meter.is_some()) + usize::from(io_port.is_some()),
        ))?;
        match dps {
            FlowDatapaths::One(u) => m.serialize_entry("logical_datapath", &UuidJson(u, issued))?,
            FlowDatapaths::Group(u) => {
                m.serialize_entry("logical_dp_group", &UuidJson(u, issued))?;
            }
        }
        m.serialize_entry("pipeline", k.stage.pipeline().as_str())?;
        m.serialize_entry("table_id", &k.stage.table())?;
        m.serialize_entry("priority", &k.priority)?;
        m.serialize_entry("match", k.match_.as_str())?;
        m.serialize_entry("actions", k.actions.as_str())?;
        m.serialize_entry("external_ids", &("map", [[("stage-name"), k.stage.name()]]))?;
        if let Some(meter) = &k.meter {
            m.serialize_entry("controller_meter", &**meter)?;
        }
        if let Some(port) = io_port {
            m.serialize_entry("tags", &("map", [["in_out_port", port]]))?;
        }
        m.end()
    }
}

impl Serialize for OpJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let issued = self.1;
        match self.0 {
            Op::Insert { table, name, row } => {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("op", "insert")?;
                m.serialize_entry("table", table)?;
                m.serialize_entry("uuid-name", &RowName(*name))?;
                m.serialize_entry("row", &RowJson(row, issued))?;
                m.end()
            }
            Op::Update { table, uuid, row } => {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("op", "update")?;
                m.serialize_entry("table", table)?;
                m.serialize_entry("where", &WhereUuid(*uuid))?;
                m.serialize_entry("row", &RowJson(row, issued))?;
                m.end()
            }
            Op::Mutate {
                table,
                uuid,
                mutations,
            } => {
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("op", "mutate")?;
                m.serialize_entry("table", table)?;
                m.serialize_entry("where", &WhereUuid(*uuid))?;
                let mutations: Vec<_> = mutations
                    .iter()
                    .map(|(c, how, d)| (c, how, DatumJson(d, issued)))
                    .collect();
                m.serialize_entry("mutations", &mutations)?;
                m.end()
            }
            Op::Delete { table, uuid } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("op", "delete")?;
                m.serialize_entry("table", table)?;
                m.serialize_entry("where", &WhereUuid(*uuid))?;
                m.end()
            }
            Op::Flow { key, datapaths } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("op", "insert")?;
                m.serialize_entry("table", sb::LogicalFlow::TABLE)?;
                m.serialize_entry("row", &FlowRowJson(key, *datapaths, issued))?;
                m.end()
            }
            Op::Json(v) => v.serialize(s),
            Op::Written { text, .. } => serde_json::from_slice::<Value>(text)
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
        }
    }
}

/// The `Logical_Flow` row of flow `k`, without its datapaths: what [`plan`] inserts.
pub fn flow_row(k: &FlowKey) -> sb::LogicalFlow {
    sb::LogicalFlow {
        pipeline: match k.stage.pipeline() {
            ovn_sb::Pipeline::Ingress => sb::LogicalFlowPipeline::Ingress,
            ovn_sb::Pipeline::Egress => sb::LogicalFlowPipeline::Egress,
        },
        table_id: i64::from(k.stage.table()),
        priority: i64::from(k.priority),
        match_: k.match_.clone(),
        actions: k.actions.clone(),
        external_ids: BTreeMap::from([("stage-name".to_owned(), k.stage.name().to_owned())]),
        controller_meter: k.meter.as_deref().map(str::to_owned),
        tags: k
            .io_port()
            .map(|p| BTreeMap::from([("in_out_port".to_owned(), p.to_owned())]))
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// The operations (without the leading database name) that turn `current` into `new`, as JSON
/// values: [`plan`] turned into JSON (convenient for tests; [`plan`] is compact).
pub fn diff(current: &SbRows, new: &SbContent) -> Result<Vec<Value>, NorthdError> {
    plan(current, new)?.ops_json()
}

/// The SB transaction that turns `current` into `new`, as a compact [`SbTxn`] borrowing the
/// flows' texts from `new`.
pub fn plan<'a>(current: &SbRows, new: &'a SbContent) -> Result<SbTxn<'a>, NorthdError> {
    plan_with_flows(current, &SbFlows::from_rows(&current.logical_flows), new)
}

/// [`plan`] with the current `Logical_Flow` rows given as compact records (`flows`) instead of
/// `current.logical_flows` (which is not read).
pub fn plan_with_flows<'a>(
    current: &SbRows,
    flows: &SbFlows,
    new: &'a SbContent,
) -> Result<SbTxn<'a>, NorthdError> {
    plan_into(current, flows, new, SbTxn::new())
}

/// [`plan_with_flows`] adding the operations to `b` (e.g. one with a sink,
/// [`SbTxn::with_sink`]).
pub fn plan_into<'a>(
    current: &SbRows,
    flows: &SbFlows,
    new: &'a SbContent,
    mut b: SbTxn<'a>,
) -> Result<SbTxn<'a>, NorthdError> {
    // SB_Global.
    match &current.sb_global {
        Some(g) => {
            let mut n = g.clone();
            n.options.clone_from(&new.global_options);
            n.ipsec = new.ipsec;
            b.update(&n, g)?;
        }
        None => {
            let g = sb::SbGlobal {
                options: new.global_options.clone(),
                ipsec: new.ipsec,
                ..Default::default()
            };
            b.insert(&g)?;
        }
    }

    // Datapath_Binding, by NB UUID.
    let mut by_nb: HashMap<Uuid, &sb::DatapathBinding> =
        HashMap::with_capacity(current.datapaths.len());
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
                let n = sb::DatapathBinding {
                    tunnel_key: i64::from(d.tunnel_key),
                    external_ids: d.external_ids.clone(),
                    ..Default::default()
                };
                dp_uuid.push(b.insert(&n)?);
            }
        }
    }
    delete_left(by_nb, &mut b);
    let dp_ref = |i: DpIndex| Ref::<sb::DatapathBinding>::new(dp_uuid[i]);

    let ha_groups = diff_ha_groups(current, new, &mut b)?;
    let mirrors = crate::mirror::plan(current, &new.mirrors, &mut b)?;
    // A chassis by name, else by hostname (as `options:requested-chassis` may name it).
    // (The first row of each name or hostname wins, as a scan in UUID order would find it.)
    let mut by_name: HashMap<&str, Ref<sb::Chassis>> = HashMap::new();
    let mut by_hostname: HashMap<&str, Ref<sb::Chassis>> = HashMap::new();
    for c in current.chassis.values() {
        by_name.entry(c.name.as_str()).or_insert(c.uuid);
        by_hostname.entry(c.hostname.as_str()).or_insert(c.uuid);
    }
    let chassis_ref = |name: &str| by_name.get(name).or_else(|| by_hostname.get(name)).copied();

    // Port_Binding, by logical_port.
    let mut old_pb: HashMap<&str, &sb::PortBinding> = current
        .ports
        .values()
        .map(|p| (p.logical_port.as_str(), p))
        .collect();
    // Looked up once per multicast group member: hashed with the flow table's keyed
    // multiply-fold hash (cheaper than SipHash on short names, and still keyed per process).
    let mut pb_uuid: HashMap<(DpIndex, &str), Uuid, crate::flow::FlowState> =
        HashMap::with_capacity_and_hasher(new.ports.len(), Default::default());
    for p in &new.ports {
        let old = old_pb.remove(p.name.as_str());
        let mirror_rules: BTreeSet<Ref<sb::Mirror>> = new
            .mirrors
            .ports
            .get(&p.name)
            .into_iter()
            .flatten()
            .filter_map(|m| mirrors.get(m))
            .map(|u| Ref::new(*u))
            .collect();
        let ha_chassis_group: Option<Ref<sb::HaChassisGroup>> = p
            .ha_chassis_group
            .as_ref()
            .and_then(|g| ha_groups.get(g))
            .map(|u| Ref::new(*u));
        // Names of no chassis are skipped: the first chassis found is the requested one.
        let mut requested = p.requested_chassis.iter().filter_map(|c| chassis_ref(c));
        let requested_chassis = requested.next();
        let requested_additional: BTreeSet<Ref<sb::Chassis>> = requested.collect();
        // The row as planned: `old` with the content's columns set.
        let row = |old: Option<&sb::PortBinding>| {
            let mut n = old.cloned().unwrap_or_default();
            n.logical_port.clone_from(&p.name);
            n.datapath = dp_ref(p.datapath);
            n.tunnel_key = i64::from(p.tunnel_key);
            n.type_.clone_from(&p.type_);
            n.mac.clone_from(&p.mac);
            n.port_security.clone_from(&p.port_security);
            n.options = p.options.clone().into();
            n.external_ids = p.external_ids.clone().into();
            n.parent_port.clone_from(&p.parent_port);
            n.tag = p.tag;
            n.nat_addresses.clone_from(&p.nat_addresses);
            n.mirror_rules.clone_from(&mirror_rules);
            n.ha_chassis_group = ha_chassis_group;
            n.requested_chassis = requested_chassis;
            n.requested_additional_chassis
                .clone_from(&requested_additional);
            n
        };
        let u = match old {
            Some(old) => {
                b.update(&row(Some(old)), old)?;
                old.uuid.uuid()
            }
            // A new row is written from the content as `insert` writes `row(None)`
            // (`write_port_binding`'s columns, the others at their defaults): no copies of
            // its names, sets and maps made and dropped.
            None => b.insert_with::<sb::PortBinding>(
                |w| {
                    let none = || std::iter::empty::<Uuid>();
                    w.string(0, &p.name);
                    w.string(1, &p.type_);
                    w.uuids(2, none(), 0);
                    let ha = ha_chassis_group.map(|r| r.uuid());
                    w.uuids(3, ha.into_iter(), usize::from(ha.is_some()));
                    w.string_pairs(4, p.options.iter(), p.options.len());
                    w.uuids(5, std::iter::once(dp_uuid[p.datapath]), 1);
                    w.integer(6, Some(i64::from(p.tunnel_key)));
                    let parent = p.parent_port.as_deref();
                    w.strings(7, parent.into_iter(), usize::from(parent.is_some()));
                    w.integer(8, p.tag);
                    w.strings(9, std::iter::empty(), 0);
                    w.uuids(10, none(), 0);
                    w.uuids(11, none(), 0);
                    w.uuids(12, none(), 0);
                    w.uuids(13, none(), 0);
                    w.uuids(14, refs(&mirror_rules), mirror_rules.len());
                    w.strings(15, p.mac.iter().map(String::as_str), p.mac.len());
                    w.strings(
                        16,
                        p.port_security.iter().map(String::as_str),
                        p.port_security.len(),
                    );
                    w.strings(
                        17,
                        p.nat_addresses.iter().map(String::as_str),
                        p.nat_addresses.len(),
                    );
                    w.boolean(18, None);
                    w.string_pairs(19, p.external_ids.iter(), p.external_ids.len());
                    let req = requested_chassis.map(|r| r.uuid());
                    w.uuids(20, req.into_iter(), usize::from(req.is_some()));
                    w.uuids(21, refs(&requested_additional), requested_additional.len());
                },
                || row(None),
            )?,
        };
        pb_uuid.insert((p.datapath, p.name.as_str()), u);
    }
    delete_left(old_pb, &mut b);

    // Multicast_Group, by datapath and name.
    let mut old_mc: HashMap<(Uuid, &str), &sb::MulticastGroup> = current
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
    delete_left(old_mc, &mut b);
    // IGMP_Group rows without a chassis or on a datapath that is gone.
    let live: std::collections::HashSet<Uuid> = dp_uuid.iter().copied().collect();
    for g in current.igmp_groups.values() {
        if crate::igmp::stale(g, |d| live.contains(&d)) {
            b.delete(g.uuid);
        }
    }

    diff_static_mac_bindings(current, new, &dp_uuid, &mut b)?;
    crate::stale::plan(current, new, &dp_uuid, &mut b);
    crate::rbac::plan(current, &mut b)?;
    crate::template_var::plan(current, &new.template_vars, &mut b)?;
    crate::bfd::plan(current, &new.bfd, &mut b)?;
    crate::dns::plan(current, &new.dns, &dp_uuid, &mut b)?;
    diff_meters(current, new, &mut b)?;
    diff_service_monitors(current, new, &mut b)?;

    // IP_Multicast, by datapath.
    let mut old_ipm: HashMap<Uuid, &sb::IpMulticast> = current
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
    delete_left(old_ipm, &mut b);

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
    // (An unchanged set, the common case, is compared in place: no copy of its elements.)
    let mut old_as: HashMap<&str, &sb::AddressSet> = current
        .address_sets
        .values()
        .map(|a| (a.name.as_str(), a))
        .collect();
    for (name, addrs) in &new.address_sets {
        let old = old_as.remove(name.as_str());
        if old.is_some_and(|o| o.addresses == *addrs) {
            continue;
        }
        let row = || sb::AddressSet {
            name: name.clone(),
            addresses: addrs.clone(),
            ..Default::default()
        };
        match old {
            Some(old) => b.update(&row(), old)?,
            // Written from the content as `insert` writes `row()`: no copy of the set.
            None => {
                b.insert_with::<sb::AddressSet>(
                    |w| {
                        w.string(0, name);
                        w.strings(1, addrs.iter().map(String::as_str), addrs.len());
                    },
                    row,
                )?;
            }
        }
    }
    delete_left(old_as, &mut b);
    let mut old_pg: HashMap<&str, &sb::PortGroup> = current
        .port_groups
        .values()
        .map(|a| (a.name.as_str(), a))
        .collect();
    for (name, ports) in &new.port_groups {
        let old = old_pg.remove(name.as_str());
        if old.is_some_and(|o| o.ports == *ports) {
            continue;
        }
        let row = || sb::PortGroup {
            name: name.clone(),
            ports: ports.clone(),
            ..Default::default()
        };
        match old {
            Some(old) => b.update(&row(), old)?,
            // Written from the content as `insert` writes `row()`: no copy of the set.
            None => {
                b.insert_with::<sb::PortGroup>(
                    |w| {
                        w.string(0, name);
                        w.strings(1, ports.iter().map(String::as_str), ports.len());
                    },
                    row,
                )?;
            }
        }
    }
    delete_left(old_pg, &mut b);

    // Existing groups by their datapath sets, for reuse: load balancers and flows do not share
    // groups (as in ovn-northd, which keeps one pool for each), so the groups load balancers
    // use are theirs, the others the flows'.
    let lb_group_uuids: std::collections::HashSet<Uuid> = current
        .load_balancers
        .values()
        .filter_map(|l| l.datapath_group.map(|g| g.uuid()))
        .collect();
    let mut groups = Groups::new();
    let mut lb_groups = Groups::new();
    for g in current.dp_groups.values() {
        let pool = if lb_group_uuids.contains(&g.uuid.uuid()) {
            &mut lb_groups
        } else {
            &mut groups
        };
        pool.insert(
            g.datapaths.iter().map(|d| d.uuid()).collect(),
            g.uuid.uuid(),
        );
    }
    diff_load_balancers(current, new, &dp_uuid, &mut lb_groups, &mut b)?;
    diff_flows(current, flows, new, &dp_uuid, &mut groups, &mut b)?;
    Ok(b)
}

/// Deletes the rows left in `old` (those no longer wanted) in the order of their keys, as a
/// sorted map would: the same transaction from run to run.
fn delete_left<K: Ord, T: Model>(old: HashMap<K, &T>, b: &mut SbTxn<'_>) {
    let mut left: Vec<(K, &T)> = old.into_iter().collect();
    left.sort_unstable_by(|x, y| x.0.cmp(&y.0));
    for (_, row) in left {
        b.delete(row.uuid());
    }
}

/// `HA_Chassis_Group` rows by name, each with its `HA_Chassis` rows (reused by chassis name;
/// `ref_chassis` is left as it is). Returns the UUID (or placeholder) of each group.
fn diff_ha_groups(
    current: &SbRows,
    new: &SbContent,
    b: &mut SbTxn<'_>,
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
                    let u = b.insert(&n)?;
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
            None => b.insert(&n)?,
        };
        out.insert(name.clone(), u);
    }
    for g in old.values() {
        b.delete(g.uuid);
    }
    Ok(out)
}

/// `Meter` rows by name, each with its `Meter_Band` rows (replaced when they differ).
fn diff_meters(current: &SbRows, new: &SbContent, b: &mut SbTxn<'_>) -> Result<(), NorthdError> {
    let mut old: BTreeMap<&str, &sb::Meter> = BTreeMap::new();
    for m in current.meters.values() {
        if old.insert(m.name.as_str(), m).is_some() {
            b.delete(m.uuid);
        }
    }
    for m in &new.meters {
        let prev = old.remove(m.name.as_str());
        let mut old_bands: Vec<_> = prev
            .into_iter()
            .flat_map(|p| &p.bands)
            .filter_map(|r| current.meter_bands.get(r))
            .map(|b| (b.action, b.rate, b.burst_size))
            .collect();
        old_bands.sort();
        let bands = match prev {
            Some(p) if old_bands == m.bands => p.bands.clone(),
            _ => {
                // Bands are not root rows: the old ones go with the reference.
                let mut refs = BTreeSet::new();
                for &(action, rate, burst_size) in &m.bands {
                    let band = sb::MeterBand {
                        action,
                        rate,
                        burst_size,
                        ..Default::default()
                    };
                    refs.insert(Ref::new(b.insert(&band)?));
                }
                refs
            }
        };
        let mut n = prev.cloned().unwrap_or_default();
        n.name.clone_from(&m.name);
        n.unit = m.unit;
        n.bands = bands;
        b.put(&n, prev)?;
    }
    for m in old.values() {
        b.delete(m.uuid);
    }
    Ok(())
}

/// `Service_Monitor` rows by backend, port, protocol and logical port; the status
/// ovn-controller wrote is kept unless northd forces it.
fn diff_service_monitors(
    current: &SbRows,
    new: &SbContent,
    b: &mut SbTxn<'_>,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<crate::svc_monitor::MonitorKey, &sb::ServiceMonitor> = BTreeMap::new();
    for m in current.service_monitors.values() {
        let key = u16::try_from(m.port).ok().map(|port| {
            (
                m.ip.clone(),
                port,
                m.protocol.unwrap_or_default(),
                m.logical_port.clone(),
            )
        });
        match key {
            Some(k) if !old.contains_key(&k) => {
                old.insert(k, m);
            }
            _ => b.delete(m.uuid),
        }
    }
    for m in &new.service_monitors {
        let prev = old.remove(&m.key);
        let mut n = prev.cloned().unwrap_or_default();
        n.ip.clone_from(&m.key.0);
        n.port = i64::from(m.key.1);
        n.protocol = Some(m.key.2);
        n.logical_port.clone_from(&m.key.3);
        n.src_ip.clone_from(&m.src_ip);
        n.src_mac.clone_from(&m.src_mac);
        n.options.clone_from(&m.options);
        if let Some(s) = m.force_status {
            n.status = Some(s);
        }
        b.put(&n, prev)?;
    }
    for m in old.values() {
        b.delete(m.uuid);
    }
    Ok(())
}

/// `Static_MAC_Binding` rows, by logical port and IP.
fn diff_static_mac_bindings(
    current: &SbRows,
    new: &SbContent,
    dp_uuid: &[Uuid],
    b: &mut SbTxn<'_>,
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
                b.insert(&n)?;
            }
        }
    }
    for m in old.values() {
        b.delete(m.uuid);
    }
    Ok(())
}

/// Existing and new `Logical_DP_Group`s by their datapaths (sorted UUIDs).
type Groups = HashMap<Vec<Uuid>, Uuid>;

/// The `Logical_DP_Group` for `dps` (sorted): an existing one with the same datapaths, or a new
/// one.
fn dp_group(dps: &[Uuid], groups: &mut Groups, b: &mut SbTxn<'_>) -> Result<Uuid, NorthdError> {
    if let Some(g) = groups.get(dps) {
        return Ok(*g);
    }
    let g = sb::LogicalDpGroup {
        datapaths: dps.iter().map(|d| Ref::new(*d)).collect(),
        ..Default::default()
    };
    let u = b.insert(&g)?;
    groups.insert(dps.to_vec(), u);
    Ok(u)
}

fn diff_load_balancers(
    current: &SbRows,
    new: &SbContent,
    dp_uuid: &[Uuid],
    groups: &mut Groups,
    b: &mut SbTxn<'_>,
) -> Result<(), NorthdError> {
    let mut old: BTreeMap<String, &sb::LoadBalancer> = current
        .load_balancers
        .values()
        .filter_map(|l| l.external_ids.get("lb_id").map(|id| (id.clone(), l)))
        .collect();
    // Load balancers often apply to the same switches as the one before (OVN-Kubernetes'
    // cluster-wide ones: every node switch): that one's group is reused without mapping,
    // sorting and hashing the datapaths again.
    let mut last: Option<(&BTreeSet<DpIndex>, Uuid)> = None;
    let lb_id_key = "lb_id".to_owned();
    for lb in &new.load_balancers {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id: &str = lb.nb_uuid.hyphenated().encode_lower(&mut buf);
        let prev = old.remove(id);
        let protocol: Option<sb::LoadBalancerProtocol> =
            lb.protocol.as_deref().and_then(|p| p.parse().ok());
        let group = match last {
            Some((set, g)) if *set == lb.datapaths => g,
            _ => {
                let mut dps: Vec<Uuid> = lb.datapaths.iter().map(|i| dp_uuid[*i]).collect();
                dps.sort_unstable();
                dps.dedup();
                dp_group(&dps, groups, b)?
            }
        };
        last = Some((&lb.datapaths, group));
        // The row as planned: `prev` with these columns set (no datapaths: the group has them).
        let row = |prev: Option<&sb::LoadBalancer>| {
            let mut n = prev.cloned().unwrap_or_default();
            n.name.clone_from(&lb.name);
            n.vips = lb.vips.clone().into();
            n.protocol = protocol;
            n.options = lb.options.clone().into();
            n.external_ids = BTreeMap::from([("lb_id".to_owned(), id.to_owned())]);
            n.datapaths = BTreeSet::new();
            n.datapath_group = Some(Ref::new(group));
            n
        };
        match prev {
            Some(prev) => b.update(&row(Some(prev)), prev)?,
            None => {
                // A new row is written from the content as `insert` writes `row(None)`: the
                // columns of `sb::LoadBalancer` in order, without copying the maps.
                let id = id.to_owned();
                b.insert_with::<sb::LoadBalancer>(
                    |w| {
                        w.string(0, &lb.name);
                        w.string_pairs(1, lb.vips.iter(), lb.vips.len());
                        let protocol = protocol.map(sb::LoadBalancerProtocol::as_str);
                        w.strings(2, protocol.into_iter(), usize::from(protocol.is_some()));
                        w.uuids(3, std::iter::empty(), 0);
                        w.uuids(4, std::iter::once(group), 1);
                        w.string_pairs(5, lb.options.iter(), lb.options.len());
                        w.string_pairs(6, std::iter::once((&lb_id_key, &id)), 1);
                    },
                    || row(None),
                )?;
            }
        }
    }
    for l in old.values() {
        b.delete(l.uuid);
    }
    Ok(())
}

/// The number of datapath set `set` (sorted UUIDs) in `sets`, adding it when new.
fn intern_dp_set(sets: &mut HashMap<Vec<Uuid>, u32>, set: &[Uuid]) -> u32 {
    if let Some(id) = sets.get(set) {
        return *id;
    }
    let id = u32::try_from(sets.len()).unwrap_or(u32::MAX);
    sets.insert(set.to_vec(), id);
    id
}

fn diff_flows<'a>(
    current: &SbRows,
    flows: &SbFlows,
    new: &'a SbContent,
    dp_uuid: &[Uuid],
    groups: &mut Groups,
    b: &mut SbTxn<'a>,
) -> Result<(), NorthdError> {
    // Existing flows by identity and datapath set (interned: flows share few distinct sets).
    let mut dp_sets: HashMap<Vec<Uuid>, u32> = HashMap::new();
    let mut old: HashMap<(FlowId, u32), Uuid> = HashMap::with_capacity(flows.len());
    let mut set = Vec::new();
    // The set of each group, once per group (many flows share one).
    let mut group_sets: HashMap<Uuid, u32> = HashMap::new();
    for (uuid, id, dp) in flows.sorted() {
        let set_id = match dp {
            FlowDp::One(d) => intern_dp_set(&mut dp_sets, &[d]),
            FlowDp::Group(g) => match group_sets.get(&g) {
                Some(id) => *id,
                None => {
                    set.clear();
                    if let Some(g) = current.dp_groups.get(&Ref::new(g)) {
                        set.extend(g.datapaths.iter().map(|d| d.uuid()));
                    }
                    let id = intern_dp_set(&mut dp_sets, &set);
                    group_sets.insert(g, id);
                    id
                }
            },
            FlowDp::None => intern_dp_set(&mut dp_sets, &[]),
        };
        // A flow is written once; identical copies (and rows of unknown content) are surplus.
        if id == FlowId::UNKNOWN || old.insert((id, set_id), uuid).is_some() {
            b.delete(Ref::<sb::LogicalFlow>::new(uuid));
        }
    }
    // Flows share few distinct datapath sets: each is resolved once (sorted UUIDs, the
    // existing set it matches, its group).
    struct Resolved {
        uuids: Vec<Uuid>,
        set_id: Option<u32>,
        group: Option<Uuid>,
    }
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut by_set: HashMap<crate::flow::DpSet<'_>, usize> = HashMap::new();
    // The table hands out the datapaths of every flow of one group (or merged list) as the
    // same slice: found by its address first, without hashing its (possibly hundreds of)
    // datapaths again; by content when the address is new.
    let mut by_addr: HashMap<(usize, usize), usize> = HashMap::new();
    for (k, dps) in new.flows.iter() {
        let (set_id, datapaths) = match dps.first() {
            Some(&one) if dps.len() == 1 => {
                let u = dp_uuid[one];
                (dp_sets.get(&[u][..]).copied(), FlowDatapaths::One(u))
            }
            _ => {
                let addr = (dps.as_slice().as_ptr() as usize, dps.len());
                let at = match by_addr.get(&addr) {
                    Some(&at) => at,
                    None => {
                        let at = *by_set.entry(dps).or_insert_with(|| {
                            let mut uuids: Vec<Uuid> = dps.iter().map(|i| dp_uuid[*i]).collect();
                            uuids.sort_unstable();
                            resolved.push(Resolved {
                                set_id: dp_sets.get(uuids.as_slice()).copied(),
                                uuids,
                                group: None,
                            });
                            resolved.len() - 1
                        });
                        by_addr.insert(addr, at);
                        at
                    }
                };
                let r = &mut resolved[at];
                let group = match r.group {
                    Some(g) => g,
                    None => *r.group.insert(dp_group(&r.uuids, groups, b)?),
                };
                (r.set_id, FlowDatapaths::Group(group))
            }
        };
        if let Some(set_id) = set_id {
            if old.remove(&(FlowId::of_key(k), set_id)).is_some() {
                continue;
            }
        }
        b.insert_flow(k, datapaths);
    }
    let mut left: Vec<Uuid> = old.into_values().collect();
    left.sort_unstable();
    for u in left {
        b.delete(Ref::<sb::LogicalFlow>::new(u));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(x: &str) -> Atom {
        Atom::String(x.into())
    }

    #[test]
    fn stage_names_need_no_escapes() {
        use ovn_sb::{DatapathKind, Pipeline, Stage};
        for kind in [DatapathKind::Switch, DatapathKind::Router] {
            for pipeline in [Pipeline::Ingress, Pipeline::Egress] {
                for stage in Stage::of(kind, pipeline) {
                    let mut out = Vec::new();
                    write_json_str(&mut out, stage.name());
                    assert_eq!(out, format!("\"{}\"", stage.name()).into_bytes());
                }
            }
        }
        let mut out = Vec::new();
        for t in [sb::LogicalFlow::TABLE, "ingress", "egress"] {
            out.clear();
            write_json_str(&mut out, t);
            assert_eq!(out, format!("\"{t}\"").into_bytes());
        }
    }

    #[test]
    fn integers_are_written_as_rust_prints_them() {
        let edges = [i64::MIN, i64::MIN + 1, i64::MAX, -1, -10, -99, -100];
        for n in (-1000..100_000).chain(edges) {
            let mut out = Vec::new();
            write_int(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for n in [u64::MAX, u64::MAX - 1, 10_u64.pow(19), 10_u64.pow(19) - 1] {
            let mut out = Vec::new();
            write_uint(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn datums_are_written_as_ovsdb_writes_them() {
        let u = Uuid::from_u128(0x1234);
        for d in [
            Datum::scalar(s("a\"b")),
            Datum::scalar(Atom::Integer(-3)),
            Datum::scalar(Atom::Boolean(true)),
            Datum::scalar(Atom::Real(1.5)),
            Datum::scalar(Atom::Uuid(u)),
            Datum::Set(vec![].into()),
            Datum::Map(vec![].into()),
            Datum::Set(vec![s("x"), s("y")].into()),
            Datum::Map(vec![(s("k"), s("v"))].into()),
            Datum::Map(vec![(s("k"), Atom::Uuid(u)), (s("l"), Atom::Uuid(u))].into()),
        ] {
            let ours = serde_json::to_value(DatumJson(&d, 0)).unwrap();
            assert_eq!(ours, d.to_json(), "{d:?}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = [
            "",
            "a",
            "plain text longer than eight bytes",
            "inport == \"p1\" && ip4.dst == 10.0.0.1",
            "back\\slash\\",
            "\"\"\"\"\"\"\"\"\"",
            "tab\tnew\nline\rcr\u{8}bs\u{c}ff",
            "\u{0}\u{1}\u{1f}\u{7f} del",
            "caf\u{e9} \u{1f600} \u{20ac}uro",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        // Every escape at every offset within an 8-byte word, in texts of every length
        // around one and two words (the last bytes go one at a time).
        for c in ['"', '\\', '\n', '\u{3}', '\u{1f}', ' ', '\u{e9}'] {
            for len in 0..20 {
                for at in 0..=len {
                    let mut t = "x".repeat(len);
                    t.insert(at, c);
                    texts.push(t.clone());
                    t.push('"');
                    texts.push(t);
                }
            }
        }
        for t in &texts {
            let mut ours = Vec::new();
            write_json_str(&mut ours, t);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(t).unwrap(),
                "{t:?}"
            );
        }
        for n in [0, 1, 9, 10, 65535, -1, -10, i64::MAX, i64::MIN] {
            let mut ours = Vec::new();
            write_int(&mut ours, n);
            assert_eq!(String::from_utf8(ours).unwrap(), n.to_string());
        }
    }

    #[test]
    fn flow_inserts_are_written_as_serde_json_writes_them() {
        let keys = [
            FlowKey {
                stage: ovn_sb::stage::Stage::LsInL2Lkup,
                priority: 50,
                match_: "eth.dst == $x && \"q\\\"".into(),
                actions: "output;".into(),
                meter: None,
            },
            FlowKey {
                stage: ovn_sb::stage::Stage::LrOutSnat,
                priority: 0,
                match_: "1".into(),
                actions: "next;".into(),
                meter: Some("m\"1".into()),
            },
            FlowKey {
                stage: ovn_sb::stage::Stage::LsInArpRsp,
                priority: 100,
                match_: "arp.tpa == 10.0.0.1 && arp.op == 1 && inport == \"p1\"".into(),
                actions: "next;".into(),
                meter: None,
            },
        ];
        let placeholder = Uuid::from_u128((PLACEHOLDER_TAG << 80) | 3);
        for k in &keys {
            for dps in [
                FlowDatapaths::One(Uuid::from_u128(0x1234_5678)),
                FlowDatapaths::Group(Uuid::from_u128(u128::MAX)),
                FlowDatapaths::One(placeholder),
                FlowDatapaths::Group(placeholder),
            ] {
                for issued in [0, 3, 12] {
                    let op = Op::Flow {
                        key: k,
                        datapaths: dps,
                    };
                    let mut ours = Vec::new();
                    write_flow_insert(&mut ours, k, dps, issued, k.io_port());
                    let theirs = serde_json::to_vec(&OpJson(&op, issued)).unwrap();
                    assert_eq!(
                        String::from_utf8(ours).unwrap(),
                        String::from_utf8(theirs).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn row_ops_are_written_as_serde_json_writes_them() {
        let u = Uuid::from_u128(0x1234_5678);
        let placeholder = Uuid::from_u128((PLACEHOLDER_TAG << 80) | 2);
        let datums = [
            Datum::scalar(s("a\"b\\c\n")),
            Datum::scalar(Atom::Integer(-3)),
            Datum::scalar(Atom::Integer(i64::MIN)),
            Datum::scalar(Atom::Boolean(true)),
            Datum::scalar(Atom::Boolean(false)),
            Datum::scalar(Atom::Real(1.5)),
            Datum::scalar(Atom::Real(-0.25)),
            Datum::scalar(Atom::Uuid(u)),
            Datum::scalar(Atom::Uuid(placeholder)),
            Datum::Set(vec![].into()),
            Datum::Map(vec![].into()),
            Datum::Set(vec![s("x"), s("y\u{1}")].into()),
            Datum::Set(vec![Atom::Uuid(u), Atom::Uuid(placeholder)].into()),
            Datum::Set(vec![Atom::Real(1.0), Atom::Real(2.5)].into()),
            Datum::Map(vec![(s("k"), s("v"))].into()),
            Datum::Map(vec![(s("k"), Atom::Uuid(u)), (s("l"), Atom::Uuid(placeholder))].into()),
            Datum::Map(vec![(Atom::Integer(1), Atom::Boolean(true))].into()),
        ];
        let row: Vec<(&'static str, Datum)> = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]
            .iter()
            .zip(datums.iter().cycle())
            .map(|(c, d)| (*c, d.clone()))
            .collect();
        let mut ops = vec![
            Op::Delete {
                table: "Port_Binding",
                uuid: u,
            },
            Op::Insert {
                table: "Port_Binding",
                name: 0,
                row: Vec::new(),
            },
            Op::Update {
                table: "Port_Binding",
                uuid: placeholder,
                row: Vec::new(),
            },
        ];
        for (n, d) in datums.iter().enumerate() {
            ops.push(Op::Insert {
                table: "Multicast_Group",
                name: n as u64 + 1,
                row: vec![("ports", d.clone())],
            });
            ops.push(Op::Update {
                table: "Datapath_Binding",
                uuid: u,
                row: vec![
                    ("external_ids", d.clone()),
                    ("tunnel_key", datums[1].clone()),
                ],
            });
        }
        ops.push(Op::Insert {
            table: "Port_Binding",
            name: u64::MAX,
            row: row.clone(),
        });
        ops.push(Op::Update {
            table: "Port_Binding",
            uuid: u,
            row,
        });
        for op in &ops {
            for issued in [0, 1, 3] {
                let mut ours = Vec::new();
                write_op(&mut ours, op, issued).unwrap();
                let theirs = serde_json::to_vec(&OpJson(op, issued)).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(theirs).unwrap()
                );
            }
        }
    }

    /// A reference with UUID `n`.
    fn r<T>(n: u128) -> Ref<T> {
        Ref::new(Uuid::from_u128(n))
    }

    /// Inserts each of `rows` through [`SbTxn::insert`] and through the generic path: the
    /// same text, or the same error.
    fn typed_as_generic<T: Model>(rows: &[T]) {
        let mut typed = SbTxn::new();
        let mut generic = SbTxn::new();
        for row in rows {
            let ours = typed.insert(row).map_err(|e| e.to_string());
            let p = generic.placeholder();
            let name = placeholder_number(&p, generic.issued).unwrap();
            let theirs = generic
                .insert_generic(row, name)
                .map(|()| p)
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs);
        }
        assert_eq!(typed.len(), generic.len());
        assert_eq!(
            String::from_utf8(typed.to_vec().unwrap()).unwrap(),
            String::from_utf8(generic.to_vec().unwrap()).unwrap()
        );
    }

    #[test]
    fn other_rows_are_written_as_the_generic_insert_writes_them() {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let map = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        typed_as_generic(&[
            sb::MulticastGroup {
                datapath: r(1),
                name: "_MC_flood".into(),
                tunnel_key: 32768,
                ports: [r(3), r(2)].into_iter().collect(),
                ..Default::default()
            },
            sb::MulticastGroup {
                tunnel_key: 65535,
                ports: [r(3)].into_iter().collect(),
                ..Default::default()
            },
            sb::MulticastGroup::default(),
        ]);
        typed_as_generic(&[
            sb::PortGroup {
                name: "pg\"".into(),
                ports: strings(&["b", "a", "c"]),
                ..Default::default()
            },
            sb::PortGroup::default(),
        ]);
        typed_as_generic(&[
            sb::AddressSet {
                name: "as".into(),
                addresses: strings(&["10.0.0.2", "10.0.0.1"]),
                ..Default::default()
            },
            sb::AddressSet {
                addresses: strings(&["x"]),
                ..Default::default()
            },
        ]);
        typed_as_generic(&[
            sb::DatapathBinding {
                tunnel_key: 16777215,
                load_balancers: [Uuid::from_u128(9), Uuid::from_u128(4)]
                    .into_iter()
                    .collect(),
                external_ids: map(&[("logical-switch", "x"), ("name", "sw0")]),
                ..Default::default()
            },
            sb::DatapathBinding::default(),
            sb::DatapathBinding {
                tunnel_key: 16777216,
                ..Default::default()
            },
        ]);
        typed_as_generic(&[
            sb::LogicalDpGroup {
                datapaths: [r(3), r(1), r(2)].into_iter().collect(),
                ..Default::default()
            },
            sb::LogicalDpGroup {
                datapaths: [r(3)].into_iter().collect(),
                ..Default::default()
            },
            sb::LogicalDpGroup::default(),
        ]);
        typed_as_generic(&[
            sb::LoadBalancer {
                name: "lb".into(),
                vips: map(&[("10.0.0.1:80", "10.1.0.1:8080,10.1.0.2:8080")]),
                protocol: Some(sb::LoadBalancerProtocol::Sctp),
                datapaths: [r(5), r(4)].into_iter().collect(),
                datapath_group: Some(r(6)),
                options: map(&[("hairpin_snat_ip", "1.1.1.1")]),
                external_ids: map(&[("lb_id", "x")]),
                ..Default::default()
            },
            sb::LoadBalancer {
                protocol: Some(sb::LoadBalancerProtocol::Tcp),
                ..Default::default()
            },
            sb::LoadBalancer::default(),
        ]);
    }

    #[test]
    fn port_bindings_are_written_as_the_generic_insert_writes_them() {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let map = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let full = sb::PortBinding {
            logical_port: "lp\"1\\\u{1}".into(),
            type_: "patch".into(),
            gateway_chassis: [r(7), r(3)].into_iter().collect(),
            ha_chassis_group: Some(r(9)),
            options: map(&[("peer", "x"), ("a", "b\n")]),
            datapath: r(5),
            tunnel_key: 32767,
            parent_port: Some("parent".into()),
            tag: Some(4095),
            virtual_parent: Some("vp".into()),
            chassis: Some(r(11)),
            additional_chassis: [r(12), r(13)].into_iter().collect(),
            encap: Some(r(14)),
            additional_encap: [r(15)].into_iter().collect(),
            mirror_rules: [r(16), r(17), r(18)].into_iter().collect(),
            mac: strings(&["00:00:00:00:00:01 10.0.0.1", "router"]),
            port_security: strings(&["ps"]),
            nat_addresses: strings(&["n1", "n2"]),
            up: Some(false),
            external_ids: map(&[("k", "v")]),
            requested_chassis: Some(r(19)),
            requested_additional_chassis: [r(20), r(21)].into_iter().collect(),
            ..Default::default()
        };
        let small = sb::PortBinding {
            logical_port: String::new(),
            tunnel_key: 1,
            up: Some(true),
            ..Default::default()
        };
        let bad = [
            sb::PortBinding::default(),
            sb::PortBinding {
                tunnel_key: 40000,
                ..small.clone()
            },
            sb::PortBinding {
                tag: Some(0),
                ..small.clone()
            },
        ];
        let mut typed = SbTxn::new();
        let mut generic = SbTxn::new();
        for (n, row) in [&full, &small, &full].into_iter().enumerate() {
            // Placeholders of earlier rows, referred to as named UUIDs.
            let mut row = row.clone();
            let dp = sb::DatapathBinding {
                tunnel_key: 1,
                ..Default::default()
            };
            let d = typed.insert(&dp).unwrap();
            assert_eq!(generic.insert(&dp).unwrap(), d);
            row.datapath = Ref::new(d);
            row.mirror_rules.insert(Ref::new(d));
            if n == 1 {
                // Through the public entry.
                typed.insert(&row).unwrap();
            } else {
                let p = typed.placeholder();
                let name = placeholder_number(&p, typed.issued).unwrap();
                assert!(
                    typed.insert_typed::<sb::PortBinding>(name, |w| write_port_binding(w, &row))
                );
            }
            let p = generic.placeholder();
            let name = placeholder_number(&p, generic.issued).unwrap();
            generic.insert_generic(&row, name).unwrap();
        }
        for row in &bad {
            let e = typed.insert(row).unwrap_err().to_string();
            let p = generic.placeholder();
            let name = placeholder_number(&p, generic.issued).unwrap();
            let theirs = generic.insert_generic(row, name).unwrap_err().to_string();
            assert_eq!(e, theirs);
        }
        assert_eq!(typed.len(), generic.len());
        assert_eq!(typed.inserts(), generic.inserts());
        assert_eq!(
            String::from_utf8(typed.to_vec().unwrap()).unwrap(),
            String::from_utf8(generic.to_vec().unwrap()).unwrap()
        );
    }

    #[test]
    fn placeholders_are_named_uuids_and_flows_match_the_generic_insert() {
        let mut txn = SbTxn::new();
        let dp = txn
            .insert(&sb::DatapathBinding {
                tunnel_key: 1,
                ..Default::default()
            })
            .unwrap();
        let group = txn
            .insert(&sb::LogicalDpGroup {
                datapaths: [Ref::new(dp), Ref::new(Uuid::from_u128(7))].into(),
                ..Default::default()
            })
            .unwrap();
        let key = FlowKey {
            stage: ovn_sb::stage::Stage::LsInL2Lkup,
            priority: 50,
            match_: "eth.dst == $x && \"q\"".into(),
            actions: "output;".into(),
            meter: None,
        };
        let flow = |dps: FlowDatapaths| sb::LogicalFlow {
            logical_datapath: match dps {
                FlowDatapaths::One(u) => Some(Ref::new(u)),
                FlowDatapaths::Group(_) => None,
            },
            logical_dp_group: match dps {
                FlowDatapaths::Group(u) => Some(Ref::new(u)),
                FlowDatapaths::One(_) => None,
            },
            pipeline: sb::LogicalFlowPipeline::Ingress,
            table_id: i64::from(key.stage.table()),
            priority: 50,
            match_: key.match_.clone(),
            actions: key.actions.clone(),
            external_ids: [("stage-name".to_owned(), key.stage.name().to_owned())].into(),
            ..Default::default()
        };
        let metered = FlowKey {
            meter: Some("m1".into()),
            ..key.clone()
        };
        let tagged = FlowKey {
            stage: ovn_sb::stage::Stage::LsInArpRsp,
            priority: 100,
            match_: "arp.tpa == 10.0.0.1 && arp.op == 1 && inport == \"p1\"".into(),
            actions: "next;".into(),
            meter: None,
        };
        assert_eq!(tagged.io_port(), Some("p1"));
        let with_dps = |k: &FlowKey, dps: FlowDatapaths| {
            let mut row = flow_row(k);
            let generic = flow(dps);
            row.logical_datapath = generic.logical_datapath;
            row.logical_dp_group = generic.logical_dp_group;
            row
        };
        assert_eq!(
            with_dps(&key, FlowDatapaths::One(dp)),
            flow(FlowDatapaths::One(dp))
        );
        for (dps, key) in [
            (FlowDatapaths::One(dp), &key),
            (FlowDatapaths::Group(group), &key),
            (FlowDatapaths::One(Uuid::from_u128(9)), &key),
            (FlowDatapaths::Group(group), &metered),
            (FlowDatapaths::One(dp), &tagged),
        ] {
            let mut t = txn.clone();
            t.insert_flow(key, dps);
            let row = with_dps(key, dps);
            assert_eq!(row.controller_meter.as_deref(), key.meter.as_deref());
            t.insert(&row).unwrap();
            let ops = t.ops_json().unwrap();
            let (fast, generic) = (&ops[ops.len() - 2], &ops[ops.len() - 1]);
            assert_eq!(fast["row"], generic["row"]);
            assert_eq!(fast["op"], "insert");
        }
        let ops = txn.ops_json().unwrap();
        assert_eq!(ops[0]["uuid-name"], "row1");
        assert_eq!(
            ops[1]["row"]["datapaths"],
            json!([
                "set",
                [
                    ["uuid", Uuid::from_u128(7).to_string()],
                    ["named-uuid", "row1"]
                ]
            ])
        );
        assert_eq!(
            txn.inserts(),
            vec![
                (0, "Datapath_Binding".into()),
                (1, "Logical_DP_Group".into())
            ]
        );
        // A UUID with the placeholder tag that this transaction did not hand out stays a UUID.
        let foreign = Uuid::from_u128((PLACEHOLDER_TAG << 80) | 99);
        let v = serde_json::to_value(UuidJson(foreign, txn.issued)).unwrap();
        assert_eq!(v, json!(["uuid", foreign.to_string()]));
    }
}
