//! Writing a [`DesiredNb`] incrementally: compare with what the Northbound database holds and
//! write only the difference, through the nbctl-style API, as one transaction.
//!
//! Named rows are matched by `name`; unnamed child rows (ACLs, NATs, static routes, router
//! policies) by their content within their parent, so a changed child is replaced (one delete,
//! one insert). Rows are owned by the kube layer when they are desired or when they look like
//! ours (see [`is_owned`]); owned rows that are no longer desired are deleted, with their
//! children. Applying the same content twice writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use ovsdb::model::Uuid;
use ovsdb::{Atom, ColumnType, Datum};

use super::desired::{DesiredNb, Row, Val, NAMED_TABLES};
use crate::nbctl::{Nbctl, NbctlError, TxnTarget};

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The database refused or could not be reached.
    #[error("northbound transaction: {0}")]
    Nbctl(#[from] NbctlError),
    /// A desired row names a table or column the schema does not have.
    #[error("schema has no {what} \"{name}\"")]
    Schema {
        /// "table" or "column".
        what: &'static str,
        /// The missing name.
        name: String,
    },
    /// A reference names a row that is neither desired nor present.
    #[error("{table} row \"{row}\" column {column} references missing {target} \"{name}\"")]
    MissingRef {
        /// Referring table.
        table: String,
        /// Referring row.
        row: String,
        /// Reference column.
        column: String,
        /// Referenced table.
        target: String,
        /// Referenced name.
        name: String,
    },
}

/// What an apply changed, by kind of change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Rows inserted.
    pub inserted: usize,
    /// Rows whose columns were updated.
    pub updated: usize,
    /// Rows deleted.
    pub deleted: usize,
    /// Number of operations in the transaction (0: nothing written).
    pub ops: usize,
}

/// Child tables and the columns that identify a child row.
const CHILD_COLUMNS: &[(&str, &[&str])] = &[
    (
        "Meter_Band",
        &["action", "burst_size", "external_ids", "rate"],
    ),
    (
        "ACL",
        &[
            "action",
            "direction",
            "external_ids",
            "label",
            "log",
            "match",
            "meter",
            "name",
            "options",
            "priority",
            "severity",
            "tier",
        ],
    ),
    (
        "NAT",
        &[
            "external_ids",
            "external_ip",
            "external_mac",
            "logical_ip",
            "logical_port",
            "options",
            "type",
            "match",
            "priority",
        ],
    ),
    (
        "Logical_Router_Static_Route",
        &[
            "external_ids",
            "ip_prefix",
            "nexthop",
            "options",
            "output_port",
            "policy",
            "route_table",
        ],
    ),
    (
        "Logical_Router_Policy",
        &[
            "action",
            "external_ids",
            "match",
            "nexthop",
            "nexthops",
            "options",
            "priority",
        ],
    ),
];

/// Load balancer groups the kube layer creates.
pub const LB_GROUPS: [&str; 3] = [
    "clusterLBGroup",
    "clusterSwitchLBGroup",
    "clusterRouterLBGroup",
];

/// Whether an existing root row that is not desired belongs to the kube layer (and is deleted):
/// node switches (`other_config:subnet`), `join`, `ext_*`, switches and other rows carrying
/// `k8s.ovn.org/*` external ids, `ovn_cluster_router` and `GR_*` routers, Service load balancers
/// (`k8s.ovn.org/kind`), the cluster load balancer groups, address sets and port groups
/// with OVN-Kubernetes external ids (`k8s.ovn.org/owner-type` or `name`), the default CoPP and
/// its `*-rate-limiter` meters, and the `acl-logging` meter.
pub fn is_owned(
    table: &str,
    name: &str,
    external_ids: &BTreeMap<String, String>,
    other_config: &BTreeMap<String, String>,
) -> bool {
    let k8s = external_ids.keys().any(|k| k.starts_with("k8s.ovn.org/"));
    match table {
        "Logical_Switch" => {
            k8s || other_config.contains_key("subnet") || name == "join" || name.starts_with("ext_")
        }
        "Logical_Router" => k8s || name == "ovn_cluster_router" || name.starts_with("GR_"),
        "Load_Balancer" => external_ids.contains_key("k8s.ovn.org/kind"),
        "Load_Balancer_Group" => LB_GROUPS.contains(&name),
        "Address_Set" | "Port_Group" => k8s || external_ids.contains_key("name"),
        "Meter" => {
            name == super::policy::ACL_LOGGING_METER
                || name.ends_with(super::topology::RATE_LIMITER_SUFFIX)
        }
        "Copp" => name == super::topology::DEFAULT_COPP,
        _ => false,
    }
}

struct Ctx<'a> {
    nb: &'a mut Nbctl,
    ids: BTreeMap<(&'static str, String), Uuid>,
    stats: ApplyStats,
}

fn table(nb: &Nbctl, name: &str) -> Result<usize, ApplyError> {
    nb.table_index(name).map_err(|_| ApplyError::Schema {
        what: "table",
        name: name.into(),
    })
}

fn column_type(nb: &Nbctl, t: usize, col: &str) -> Result<ColumnType, ApplyError> {
    nb.table_schema(t)
        .columns
        .iter()
        .find(|c| c.name == col)
        .map(|c| c.type_.clone())
        .ok_or_else(|| ApplyError::Schema {
            what: "column",
            name: format!("{}.{col}", nb.table_schema(t).name),
        })
}

fn str_atom(s: &str) -> Atom {
    Atom::String(s.into())
}

impl Ctx<'_> {
    fn datum(&self, t: usize, row_name: &str, col: &str, v: &Val) -> Result<Datum, ApplyError> {
        let ty = column_type(self.nb, t, col)?;
        let d = match v {
            Val::Str(s) => Datum::scalar(str_atom(s)),
            Val::Int(i) => Datum::scalar(Atom::Integer(*i)),
            Val::Bool(b) => Datum::scalar(Atom::Boolean(*b)),
            Val::Strs(s) => Datum::Set(s.iter().map(|x| str_atom(x)).collect()),
            Val::Map(m) => Datum::Map(m.iter().map(|(k, v)| (str_atom(k), str_atom(v))).collect()),
            Val::Refs(target, names) => {
                let mut atoms = Vec::new();
                for n in names {
                    let u = self.ids.get(&(*target, n.clone())).ok_or_else(|| {
                        ApplyError::MissingRef {
                            table: self.nb.table_schema(t).name.clone(),
                            row: row_name.into(),
                            column: col.into(),
                            target: (*target).into(),
                            name: n.clone(),
                        }
                    })?;
                    atoms.push(Atom::Uuid(*u));
                }
                atoms.sort();
                atoms.dedup();
                Datum::Set(atoms.into())
            }
        };
        // Sets of strings are already sorted (BTreeSet); keep the column's empty form for maps.
        if ty.is_map() && d.is_empty() {
            return Ok(Datum::empty(&ty));
        }
        Ok(d)
    }

    fn child_key(&self, t: usize, cols: &[&str], row: &Row) -> Result<String, ApplyError> {
        let mut key = Vec::with_capacity(cols.len());
        for c in cols {
            let d = match row.cols.get(c) {
                Some(v) => self.datum(t, "", c, v)?,
                None => column_type(self.nb, t, c)?.default_datum(),
            };
            key.push(d.to_json());
        }
        Ok(serde_json::Value::Array(key).to_string())
    }

    fn existing_key(&self, t: usize, cols: &[&str], u: Uuid) -> String {
        serde_json::Value::Array(
            cols.iter()
                .map(|c| self.nb.get(t, u, c).to_json())
                .collect(),
        )
        .to_string()
    }

    fn sync_children(
        &mut self,
        pt: usize,
        pu: Uuid,
        col: &str,
        child_table: &str,
        kids: &[Row],
    ) -> Result<(), ApplyError> {
        let ct = table(self.nb, child_table)?;
        let cols: Vec<&str> = CHILD_COLUMNS
            .iter()
            .find(|(n, _)| *n == child_table)
            .map(|(_, c)| *c)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|c| self.nb.table_schema(ct).column_index(c).is_some())
            .collect();
        let existing = self.nb.get_uuids(pt, pu, col);
        let mut by_key: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for u in &existing {
            by_key
                .entry(self.existing_key(ct, &cols, *u))
                .or_default()
                .push(*u);
        }
        let mut keep: BTreeSet<Uuid> = BTreeSet::new();
        let mut add: Vec<&Row> = Vec::new();
        for k in kids {
            let key = self.child_key(ct, &cols, k)?;
            match by_key.get_mut(&key).and_then(Vec::pop) {
                Some(u) => {
                    keep.insert(u);
                }
                None => add.push(k),
            }
        }
        let mut changed = false;
        for u in &existing {
            if !keep.contains(u) {
                self.nb.set_remove(pt, pu, col, &Atom::Uuid(*u));
                self.nb.delete(ct, *u);
                self.stats.deleted += 1;
                changed = true;
            }
        }
        for k in add {
            let mut fields = Vec::new();
            for (c, v) in &k.cols {
                fields.push((*c, self.datum(ct, "", c, v)?));
            }
            let u = self.nb.insert(ct, fields);
            self.nb.set_add(pt, pu, col, Atom::Uuid(u));
            self.stats.inserted += 1;
            changed = true;
        }
        if changed && !Nbctl::is_new(pu) {
            self.stats.updated += 1;
        }
        Ok(())
    }

    fn delete_with_children(&mut self, t: usize, u: Uuid) {
        let tname = self.nb.table_schema(t).name.clone();
        let child_cols: &[(&str, &str)] = match tname.as_str() {
            "Logical_Switch" => &[("ports", "Logical_Switch_Port"), ("acls", "ACL")],
            "Logical_Router" => &[
                ("ports", "Logical_Router_Port"),
                ("nat", "NAT"),
                ("static_routes", "Logical_Router_Static_Route"),
                ("policies", "Logical_Router_Policy"),
            ],
            "Port_Group" => &[("acls", "ACL")],
            "Meter" => &[("bands", "Meter_Band")],
            _ => &[],
        };
        for (col, ct) in child_cols {
            if let Ok(ct) = table(self.nb, ct) {
                for c in self.nb.get_uuids(t, u, col) {
                    if self.nb.exists(ct, c) {
                        self.nb.delete(ct, c);
                        self.stats.deleted += 1;
                    }
                }
            }
        }
        self.nb.delete(t, u);
        self.stats.deleted += 1;
    }
}

/// Stages the difference between `desired` and `nb`'s current content into `nb` (nothing is
/// written until the caller commits it).
pub fn stage(nb: &mut Nbctl, desired: &DesiredNb) -> Result<ApplyStats, ApplyError> {
    let mut cx = Ctx {
        nb,
        ids: BTreeMap::new(),
        stats: ApplyStats::default(),
    };
    // Phase 1: find or create every named row (plain columns only).
    let mut existing_named: BTreeMap<&'static str, BTreeMap<String, Uuid>> = BTreeMap::new();
    for tname in NAMED_TABLES {
        let t = table(cx.nb, tname)?;
        let mut by_name = BTreeMap::new();
        for u in cx.nb.uuids(t) {
            by_name.entry(cx.nb.get_str(t, u, "name")).or_insert(u);
        }
        for (name, u) in &by_name {
            cx.ids.insert((tname, name.clone()), *u);
        }
        for (name, row) in desired.rows(tname) {
            if by_name.contains_key(name) {
                continue;
            }
            let mut fields = Vec::new();
            for (c, v) in &row.cols {
                if !matches!(v, Val::Refs(..)) {
                    fields.push((*c, cx.datum(t, name, c, v)?));
                }
            }
            let u = cx.nb.insert(t, fields);
            cx.stats.inserted += 1;
            cx.ids.insert((tname, name.clone()), u);
        }
        existing_named.insert(tname, by_name);
    }
    // Phase 2: columns, references and children.
    let mut dropped_ports: Vec<(usize, Uuid)> = Vec::new();
    for tname in NAMED_TABLES {
        let t = table(cx.nb, tname)?;
        for (name, row) in desired.rows(tname) {
            let Some(&u) = cx.ids.get(&(tname, name.clone())) else {
                continue;
            };
            let mut changed = false;
            for (c, v) in &row.cols {
                let d = cx.datum(t, name, c, v)?;
                let old = cx.nb.get(t, u, c);
                if old != d {
                    if *c == "ports" && !Nbctl::is_new(u) {
                        let pt = table(
                            cx.nb,
                            if tname == "Logical_Router" {
                                "Logical_Router_Port"
                            } else {
                                "Logical_Switch_Port"
                            },
                        )?;
                        for a in old.set_atoms() {
                            if let Atom::Uuid(p) = a {
                                if !d.set_atoms().contains(a) {
                                    dropped_ports.push((pt, *p));
                                }
                            }
                        }
                    }
                    cx.nb.set(t, u, c, d);
                    changed = true;
                }
            }
            if changed && !Nbctl::is_new(u) {
                cx.stats.updated += 1;
            }
            for (col, (ct, kids)) in &row.children {
                cx.sync_children(t, u, col, ct, kids)?;
            }
        }
    }
    // Phase 3: owned rows no longer desired.
    for (pt, p) in dropped_ports {
        let pname = cx.nb.get_str(pt, p, "name");
        let tname = cx.nb.table_schema(pt).name.clone();
        let still = desired.rows(&tname).any(|(n, _)| *n == pname);
        if !still && cx.nb.exists(pt, p) {
            cx.nb.delete(pt, p);
            cx.stats.deleted += 1;
        }
    }
    for tname in NAMED_TABLES {
        let t = table(cx.nb, tname)?;
        let Some(by_name) = existing_named.get(tname) else {
            continue;
        };
        for (name, u) in by_name {
            if desired.get(tname, name).is_some() || !cx.nb.exists(t, *u) {
                continue;
            }
            let ext = cx.nb.get_map(t, *u, "external_ids");
            let oc = if tname == "Logical_Switch" {
                cx.nb.get_map(t, *u, "other_config")
            } else {
                BTreeMap::new()
            };
            if is_owned(tname, name, &ext, &oc) {
                cx.delete_with_children(t, *u);
            }
        }
    }
    let ops = cx.nb.ops().len();
    let mut stats = cx.stats;
    stats.ops = ops;
    Ok(stats)
}

/// Applies `desired` to `target` (the embedded database, or a remote one through
/// [`crate::nbctl::remote`]) as one transaction holding only the difference. Returns what
/// changed; `ops == 0` means nothing was written.
pub fn apply<T: TxnTarget + ?Sized>(
    desired: &DesiredNb,
    target: &mut T,
) -> Result<ApplyStats, ApplyError> {
    let mut nb = Nbctl::on(target)?;
    let stats = stage(&mut nb, desired)?;
    if stats.ops > 0 {
        nb.commit(target)?;
    }
    Ok(stats)
}
