//! `ovs-vsctl show`: the bridge/port/interface tree of an Open_vSwitch database, printed exactly
//! as ovs-vsctl 3.1 prints it.
//!
//! The layout is ovs-vsctl's: the `Open_vSwitch` row's UUID, then per row of the tree its table
//! name and name (`Manager "ptcp:6640"`, `Bridge br-int`, `Port ...`, `Interface ...`,
//! `Controller "..."`) indented four spaces per level, followed by its non-default shown columns
//! (`fail_mode`, `tag`, `trunks`, `type`, `options`, `error`, `bfd_status`, `is_connected`,
//! `ovs_version`) as `column: value` in OVSDB text syntax. Referenced rows come in UUID order,
//! as ovs-vsctl walks the sets.

use std::collections::BTreeMap;

use ovsdb::model::{Model, ModelError, Ref, Uuid};
use ovsdb::Database;

use crate::vswitch::{Bridge, Controller, Interface, Manager, OpenVswitch, Port};

/// The rows `ovs-vsctl show` looks at.
#[derive(Debug, Clone, Default)]
pub struct VswitchView {
    /// `Open_vSwitch` rows.
    pub open_vswitch: Vec<OpenVswitch>,
    /// Bridges by UUID.
    pub bridges: BTreeMap<Uuid, Bridge>,
    /// Ports by UUID.
    pub ports: BTreeMap<Uuid, Port>,
    /// Interfaces by UUID.
    pub interfaces: BTreeMap<Uuid, Interface>,
    /// Controllers by UUID.
    pub controllers: BTreeMap<Uuid, Controller>,
    /// Managers by UUID.
    pub managers: BTreeMap<Uuid, Manager>,
}

fn read<T: Model>(db: &Database) -> Result<Vec<T>, ModelError> {
    let ts = db
        .schema()
        .table(T::TABLE)
        .ok_or(ModelError::UnknownTable {
            database: "Open_vSwitch",
            table: T::TABLE.to_owned(),
        })?;
    db.rows(T::TABLE)
        .map(|rows| rows.values().map(|r| T::from_row(r, ts)).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

impl VswitchView {
    /// The rows of an embedded Open_vSwitch database.
    pub fn of_database(db: &Database) -> Result<Self, ModelError> {
        let mut v = Self {
            open_vswitch: read(db)?,
            ..Self::default()
        };
        v.bridges = read::<Bridge>(db)?
            .into_iter()
            .map(|r| (r.uuid.uuid(), r))
            .collect();
        v.ports = read::<Port>(db)?
            .into_iter()
            .map(|r| (r.uuid.uuid(), r))
            .collect();
        v.interfaces = read::<Interface>(db)?
            .into_iter()
            .map(|r| (r.uuid.uuid(), r))
            .collect();
        v.controllers = read::<Controller>(db)?
            .into_iter()
            .map(|r| (r.uuid.uuid(), r))
            .collect();
        v.managers = read::<Manager>(db)?
            .into_iter()
            .map(|r| (r.uuid.uuid(), r))
            .collect();
        Ok(v)
    }

    /// The rows of `select` results (JSON rows with `_uuid`), by table name.
    pub fn of_json(tables: &BTreeMap<String, Vec<serde_json::Value>>) -> Result<Self, ModelError> {
        fn rows<T: Model>(
            tables: &BTreeMap<String, Vec<serde_json::Value>>,
        ) -> Result<Vec<T>, ModelError> {
            tables
                .get(T::TABLE)
                .map(|v| v.iter().map(T::from_json).collect())
                .unwrap_or_else(|| Ok(Vec::new()))
        }
        Ok(Self {
            open_vswitch: rows(tables)?,
            bridges: rows::<Bridge>(tables)?
                .into_iter()
                .map(|r| (r.uuid.uuid(), r))
                .collect(),
            ports: rows::<Port>(tables)?
                .into_iter()
                .map(|r| (r.uuid.uuid(), r))
                .collect(),
            interfaces: rows::<Interface>(tables)?
                .into_iter()
                .map(|r| (r.uuid.uuid(), r))
                .collect(),
            controllers: rows::<Controller>(tables)?
                .into_iter()
                .map(|r| (r.uuid.uuid(), r))
                .collect(),
            managers: rows::<Manager>(tables)?
                .into_iter()
                .map(|r| (r.uuid.uuid(), r))
                .collect(),
        })
    }
}

fn needs_quotes(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return true,
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return true;
    }
    s == "true" || s == "false" || ovsdb::atom::parse_uuid_str(s).is_some()
}

/// A string as OVSDB text prints it (quoted and escaped unless it is a plain identifier).
fn text(s: &str) -> String {
    if needs_quotes(s) {
        serde_json::Value::String(s.to_owned()).to_string()
    } else {
        s.to_owned()
    }
}

fn map_text<V: ToString>(m: &BTreeMap<String, V>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}={}", text(k), text(&v.to_string())))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn line(out: &mut String, level: usize, s: &str) {
    out.push_str(&" ".repeat(level * 4));
    out.push_str(s);
    out.push('\n');
}

fn sorted<T>(refs: &std::collections::BTreeSet<Ref<T>>) -> Vec<Uuid> {
    refs.iter().map(|r| r.uuid()).collect()
}

/// Renders `view` as `ovs-vsctl show` prints it.
pub fn render(view: &VswitchView) -> String {
    let mut out = String::new();
    for ovs in &view.open_vswitch {
        line(&mut out, 0, &ovs.uuid.uuid().to_string());
        for m in sorted(&ovs.manager_options) {
            let Some(m) = view.managers.get(&m) else {
                continue;
            };
            line(&mut out, 1, &format!("Manager {}", text(&m.target)));
            if m.is_connected {
                line(&mut out, 2, "is_connected: true");
            }
        }
        for b in sorted(&ovs.bridges) {
            let Some(b) = view.bridges.get(&b) else {
                continue;
            };
            line(&mut out, 1, &format!("Bridge {}", text(&b.name)));
            for c in sorted(&b.controller) {
                let Some(c) = view.controllers.get(&c) else {
                    continue;
                };
                line(&mut out, 2, &format!("Controller {}", text(&c.target)));
                if c.is_connected {
                    line(&mut out, 3, "is_connected: true");
                }
            }
            if let Some(f) = b.fail_mode {
                line(&mut out, 2, &format!("fail_mode: {}", text(f.as_str())));
            }
            for p in sorted(&b.ports) {
                let Some(p) = view.ports.get(&p) else {
                    continue;
                };
                line(&mut out, 2, &format!("Port {}", text(&p.name)));
                if let Some(t) = p.tag {
                    line(&mut out, 3, &format!("tag: {t}"));
                }
                if !p.trunks.is_empty() {
                    let t: Vec<String> = p.trunks.iter().map(i64::to_string).collect();
                    line(&mut out, 3, &format!("trunks: [{}]", t.join(", ")));
                }
                for i in sorted(&p.interfaces) {
                    let Some(i) = view.interfaces.get(&i) else {
                        continue;
                    };
                    line(&mut out, 3, &format!("Interface {}", text(&i.name)));
                    if !i.type_.is_empty() {
                        line(&mut out, 4, &format!("type: {}", text(&i.type_)));
                    }
                    if !i.options.is_empty() {
                        line(&mut out, 4, &format!("options: {}", map_text(&i.options)));
                    }
                    if let Some(e) = &i.error {
                        line(&mut out, 4, &format!("error: {}", text(e)));
                    }
                    if !i.bfd_status.is_empty() {
                        line(
                            &mut out,
                            4,
                            &format!("bfd_status: {}", map_text(&i.bfd_status)),
                        );
                    }
                }
            }
        }
        if let Some(v) = &ovs.ovs_version {
            line(&mut out, 1, &format!("ovs_version: {}", text(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chassis::{Chassis, ChassisConfig};

    #[test]
    fn renders_a_chassis_like_ovs_vsctl() {
        let mut c = Chassis::new(&ChassisConfig::new("ch1", "10.0.0.1"));
        c.add_bridge("br-ex").unwrap();
        c.add_patch_pair("br-int", "br-ex").unwrap();
        assert!(c.add_bridge("br-ex").is_err());
        let db = c.to_database().unwrap();
        let text = render(&VswitchView::of_database(&db).unwrap());
        for needle in [
            "    Bridge br-int\n        fail_mode: secure\n",
            "        Port patch-br-int-to-br-ex\n            Interface patch-br-int-to-br-ex\n                type: patch\n                options: {peer=patch-br-ex-to-br-int}\n",
            "            Interface br-ex\n                type: internal\n",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
    }
}
