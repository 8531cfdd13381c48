//! The Open_vSwitch side of an OVN chassis, as typed `Open_vSwitch` rows.
//!
//! [`ChassisConfig`] says what ovn-controller needs to find in the local Open_vSwitch database
//! (`external_ids:system-id`, `ovn-remote`, `ovn-encap-type`, `ovn-encap-ip`,
//! `ovn-bridge-mappings`); [`Chassis`] builds the rows of the picture OVN-Kubernetes sets up: the
//! integration bridge `br-int` (`fail_mode` secure), the external bridge `br-ex`, patch port
//! pairs between bridges, internal ports (the management port) and ports bound to logical
//! switch ports through `external_ids:iface-id`. [`Chassis::transaction`] turns them into one
//! RFC 7047 transaction (inserts referring to each other by `named-uuid`) for the embedded
//! database or any server; [`crate::chassis_show`] renders them as `ovs-vsctl show` does.

use std::collections::{BTreeMap, HashMap};

use ovsdb::model::{Model, ModelError, Ref, Uuid};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

use crate::vswitch::{Bridge, BridgeFailMode, Controller, Interface, Manager, OpenVswitch, Port};

/// Why building or storing chassis rows failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ChassisError {
    /// A bridge or port name is used twice.
    #[error("{kind} {name} already exists")]
    Duplicate {
        /// "bridge" or "port".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A bridge or port that was not added.
    #[error("no {kind} named {name}")]
    NotFound {
        /// "bridge" or "port".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A row does not fit the schema.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The database refused the transaction.
    #[error("transaction failed: {0}")]
    Transaction(String),
}

/// What ovn-controller reads from the `Open_vSwitch` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChassisConfig {
    /// `external_ids:system-id`: the chassis name.
    pub system_id: String,
    /// `external_ids:ovn-remote`: the SB database.
    pub sb_remote: Option<String>,
    /// `external_ids:ovn-encap-type` (`geneve`).
    pub encap_type: String,
    /// `external_ids:ovn-encap-ip`.
    pub encap_ip: String,
    /// `external_ids:ovn-bridge-mappings`, as (physical network, bridge) pairs.
    pub bridge_mappings: Vec<(String, String)>,
    /// `external_ids:hostname`.
    pub hostname: Option<String>,
    /// The `ovs_version` column (as `ovs-vswitchd` would fill it).
    pub ovs_version: Option<String>,
    /// The integration bridge (`br-int`).
    pub integration_bridge: String,
}

impl ChassisConfig {
    /// A Geneve chassis `system_id` with tunnel endpoint `encap_ip` and integration bridge
    /// `br-int`.
    pub fn new(system_id: &str, encap_ip: &str) -> Self {
        Self {
            system_id: system_id.to_owned(),
            sb_remote: None,
            encap_type: "geneve".to_owned(),
            encap_ip: encap_ip.to_owned(),
            bridge_mappings: Vec::new(),
            hostname: None,
            ovs_version: None,
            integration_bridge: "br-int".to_owned(),
        }
    }

    /// The `external_ids` of the `Open_vSwitch` row.
    pub fn external_ids(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("system-id".to_owned(), self.system_id.clone());
        m.insert("ovn-encap-type".to_owned(), self.encap_type.clone());
        m.insert("ovn-encap-ip".to_owned(), self.encap_ip.clone());
        if let Some(r) = &self.sb_remote {
            m.insert("ovn-remote".to_owned(), r.clone());
        }
        if !self.bridge_mappings.is_empty() {
            let v: Vec<String> = self
                .bridge_mappings
                .iter()
                .map(|(net, br)| format!("{net}:{br}"))
                .collect();
            m.insert("ovn-bridge-mappings".to_owned(), v.join(","));
        }
        if let Some(h) = &self.hostname {
            m.insert("hostname".to_owned(), h.clone());
        }
        if self.integration_bridge != "br-int" {
            m.insert("ovn-bridge".to_owned(), self.integration_bridge.clone());
        }
        m
    }
}

/// The rows of one chassis's Open_vSwitch database. Rows get fresh UUIDs (replaced by the
/// database's on insert).
#[derive(Debug, Clone)]
pub struct Chassis {
    /// The `Open_vSwitch` row.
    pub open_vswitch: OpenVswitch,
    /// Bridges by name.
    pub bridges: BTreeMap<String, Bridge>,
    /// Ports by name.
    pub ports: BTreeMap<String, Port>,
    /// Interfaces by name.
    pub interfaces: BTreeMap<String, Interface>,
    /// Controllers, by UUID.
    pub controllers: BTreeMap<Uuid, Controller>,
    /// Managers, by UUID.
    pub managers: BTreeMap<Uuid, Manager>,
    next: u128,
}

const ROW_PREFIX: u128 = 0x0c4a_5515_0000_4000_8000_0000_0000_0000;

impl Chassis {
    /// The `Open_vSwitch` row for `cfg` and the integration bridge (`fail_mode` secure, in-band
    /// control disabled, its internal port).
    pub fn new(cfg: &ChassisConfig) -> Self {
        let mut c = Self {
            open_vswitch: OpenVswitch::default(),
            bridges: BTreeMap::new(),
            ports: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            controllers: BTreeMap::new(),
            managers: BTreeMap::new(),
            next: 1,
        };
        c.open_vswitch.uuid = Ref::new(c.fresh());
        c.open_vswitch.external_ids = cfg.external_ids();
        c.open_vswitch.ovs_version = cfg.ovs_version.clone();
        let br_int = cfg.integration_bridge.clone();
        // A fresh chassis has no bridge yet, so this cannot be a duplicate.
        let _ = c.add_bridge(&br_int);
        if let Some(b) = c.bridges.get_mut(&br_int) {
            b.fail_mode = Some(BridgeFailMode::Secure);
            b.other_config
                .insert("disable-in-band".to_owned(), "true".to_owned());
        }
        c
    }

    fn fresh(&mut self) -> Uuid {
        let u = Uuid::from_u128(ROW_PREFIX | self.next);
        self.next += 1;
        u
    }

    /// Adds bridge `name` with its internal port.
    pub fn add_bridge(&mut self, name: &str) -> Result<Ref<Bridge>, ChassisError> {
        if self.bridges.contains_key(name) {
            return Err(ChassisError::Duplicate {
                kind: "bridge",
                name: name.to_owned(),
            });
        }
        let b = Bridge {
            uuid: Ref::new(self.fresh()),
            name: name.to_owned(),
            ..Bridge::default()
        };
        let r = b.uuid;
        self.open_vswitch.bridges.insert(r);
        self.bridges.insert(name.to_owned(), b);
        self.add_port(name, name, "internal")?;
        Ok(r)
    }

    /// Sets `fail_mode` of a bridge.
    pub fn set_fail_mode(
        &mut self,
        bridge: &str,
        mode: Option<BridgeFailMode>,
    ) -> Result<(), ChassisError> {
        self.bridge_mut(bridge)?.fail_mode = mode;
        Ok(())
    }

    fn bridge_mut(&mut self, name: &str) -> Result<&mut Bridge, ChassisError> {
        self.bridges
            .get_mut(name)
            .ok_or_else(|| ChassisError::NotFound {
                kind: "bridge",
                name: name.to_owned(),
            })
    }

    fn interface_mut(&mut self, name: &str) -> Result<&mut Interface, ChassisError> {
        self.interfaces
            .get_mut(name)
            .ok_or_else(|| ChassisError::NotFound {
                kind: "port",
                name: name.to_owned(),
            })
    }

    /// Adds port `name` with one interface of the same name and type `type_` (`""` for a
    /// system interface, `internal`, `patch`, `geneve`, ...) to `bridge`.
    pub fn add_port(
        &mut self,
        bridge: &str,
        name: &str,
        type_: &str,
    ) -> Result<Ref<Port>, ChassisError> {
        if self.ports.contains_key(name) {
            return Err(ChassisError::Duplicate {
                kind: "port",
                name: name.to_owned(),
            });
        }
        let iface = Interface {
            uuid: Ref::new(self.fresh()),
            name: name.to_owned(),
            type_: type_.to_owned(),
            ..Interface::default()
        };
        let mut port = Port {
            uuid: Ref::new(self.fresh()),
            name: name.to_owned(),
            ..Port::default()
        };
        port.interfaces.insert(iface.uuid);
        let pr = port.uuid;
        self.bridge_mut(bridge)?.ports.insert(pr);
        self.interfaces.insert(name.to_owned(), iface);
        self.ports.insert(name.to_owned(), port);
        Ok(pr)
    }

    /// Adds an internal port (for example the management port `ovn-k8s-mp0`), bound to logical
    /// switch port `iface_id` when given.
    pub fn add_internal_port(
        &mut self,
        bridge: &str,
        name: &str,
        iface_id: Option<&str>,
    ) -> Result<Ref<Port>, ChassisError> {
        let p = self.add_port(bridge, name, "internal")?;
        if let Some(id) = iface_id {
            self.bind(name, id)?;
        }
        Ok(p)
    }

    /// Binds the interface of port `port` to logical switch port `logical_port`
    /// (`external_ids:iface-id`).
    pub fn bind(&mut self, port: &str, logical_port: &str) -> Result<(), ChassisError> {
        self.interface_mut(port)?
            .external_ids
            .insert("iface-id".to_owned(), logical_port.to_owned());
        Ok(())
    }

    /// Sets an interface option (`options:KEY=VALUE`).
    pub fn set_interface_option(
        &mut self,
        port: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ChassisError> {
        self.interface_mut(port)?
            .options
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Connects bridges `a` and `b` with a patch port pair named `patch-A-to-B` / `patch-B-to-A`
    /// (the names OVN-Kubernetes gives them when `a`'s suffix is passed in the names, e.g.
    /// `br-ex_NODE`, use [`Chassis::add_patch_ports`] for explicit names).
    pub fn add_patch_pair(&mut self, a: &str, b: &str) -> Result<(), ChassisError> {
        let ab = format!("patch-{a}-to-{b}");
        let ba = format!("patch-{b}-to-{a}");
        self.add_patch_ports(a, &ab, b, &ba)
    }

    /// Adds patch port `port_a` on `bridge_a` and `port_b` on `bridge_b`, peers of each other.
    pub fn add_patch_ports(
        &mut self,
        bridge_a: &str,
        port_a: &str,
        bridge_b: &str,
        port_b: &str,
    ) -> Result<(), ChassisError> {
        self.add_port(bridge_a, port_a, "patch")?;
        self.add_port(bridge_b, port_b, "patch")?;
        self.set_interface_option(port_a, "peer", port_b)?;
        self.set_interface_option(port_b, "peer", port_a)
    }

    /// Sets the OpenFlow controller of a bridge.
    pub fn set_controller(&mut self, bridge: &str, target: &str) -> Result<(), ChassisError> {
        let c = Controller {
            uuid: Ref::new(self.fresh()),
            target: target.to_owned(),
            ..Controller::default()
        };
        let r = c.uuid;
        let br = self.bridge_mut(bridge)?;
        br.controller.clear();
        br.controller.insert(r);
        self.controllers.insert(r.uuid(), c);
        Ok(())
    }

    /// Adds an OVSDB manager (`ptcp:6640`, ...).
    pub fn add_manager(&mut self, target: &str) {
        let m = Manager {
            uuid: Ref::new(self.fresh()),
            target: target.to_owned(),
            ..Manager::default()
        };
        self.open_vswitch.manager_options.insert(m.uuid);
        self.managers.insert(m.uuid.uuid(), m);
    }

    /// Sets a port's VLAN tag.
    pub fn set_tag(&mut self, port: &str, tag: Option<i64>) -> Result<(), ChassisError> {
        self.ports
            .get_mut(port)
            .ok_or_else(|| ChassisError::NotFound {
                kind: "port",
                name: port.to_owned(),
            })?
            .tag = tag;
        Ok(())
    }

    /// The operations inserting every row (the `Open_vSwitch` row included), referring to each
    /// other by `named-uuid`.
    pub fn transaction(&self) -> Result<Vec<Value>, ChassisError> {
        let mut rows: Vec<(&'static str, Uuid, serde_json::Map<String, Value>)> = Vec::new();
        rows.push((
            OpenVswitch::TABLE,
            self.open_vswitch.uuid.uuid(),
            self.open_vswitch.columns_json()?,
        ));
        for b in self.bridges.values() {
            rows.push((Bridge::TABLE, b.uuid.uuid(), b.columns_json()?));
        }
        for p in self.ports.values() {
            rows.push((Port::TABLE, p.uuid.uuid(), p.columns_json()?));
        }
        for i in self.interfaces.values() {
            rows.push((Interface::TABLE, i.uuid.uuid(), i.columns_json()?));
        }
        for c in self.controllers.values() {
            rows.push((Controller::TABLE, c.uuid.uuid(), c.columns_json()?));
        }
        for m in self.managers.values() {
            rows.push((Manager::TABLE, m.uuid.uuid(), m.columns_json()?));
        }
        let names: HashMap<String, String> = rows
            .iter()
            .map(|(_, u, _)| (u.to_string(), format!("row{}", u.as_u128() & 0xffff_ffff)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(table, u, row)| {
                json!({"op": "insert", "table": table, "row": rename(Value::Object(row), &names),
                    "uuid-name": names.get(&u.to_string())})
            })
            .collect())
    }

    /// An embedded `Open_vSwitch` database holding these rows.
    pub fn to_database(&self) -> Result<Database, ChassisError> {
        let mut db = Database::new(crate::vswitch::schema().clone());
        let mut params = vec![json!(crate::vswitch::DATABASE)];
        params.extend(self.transaction()?);
        match db.transact(&Value::Array(params), &TxnContext::default()) {
            TxnOutcome::Complete { results, .. } => {
                if let Some(e) = results
                    .as_array()
                    .and_then(|a| a.iter().find(|r| r.get("error").is_some()))
                {
                    return Err(ChassisError::Transaction(e.to_string()));
                }
            }
            TxnOutcome::Blocked { .. } => {
                return Err(ChassisError::Transaction("blocked".into()));
            }
        }
        Ok(db)
    }
}

fn rename(v: Value, names: &HashMap<String, String>) -> Value {
    match v {
        Value::Array(a) => {
            if a.len() == 2 && a[0] == "uuid" {
                if let Some(n) = a[1].as_str().and_then(|s| names.get(s)) {
                    return json!(["named-uuid", n]);
                }
            }
            Value::Array(a.into_iter().map(|x| rename(x, names)).collect())
        }
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| (k, rename(x, names))).collect())
        }
        other => other,
    }
}
