//! The Southbound role-based access control rows ovn-northd 23.03 keeps: one `RBAC_Role`,
//! `ovn-controller`, whose `permissions` map each table a chassis writes to one
//! `RBAC_Permission` row (which rows a chassis may touch, whether it may insert and delete
//! them, which columns it may update). ovsdb-server enforces them on connections whose role is
//! `ovn-controller`.
//!
//! The rows are fixed. `plan` deletes every other role and every permission that is not
//! exactly one of [`PERMISSIONS`] (a second row for the same table included), inserts what is
//! missing and points the role at the permissions.

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::model as sb;
use ovsdb::model::Ref;
use uuid::Uuid;

use crate::diff::{SbRows, SbTxn};
use crate::error::NorthdError;

/// The one role ovn-northd maintains.
pub const CONTROLLER_ROLE: &str = "ovn-controller";

/// One permission of the `ovn-controller` role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The table it applies to.
    pub table: &'static str,
    /// Columns one of which must equal the client's role id (`""`: any row).
    pub authorization: &'static [&'static str],
    /// Whether the chassis may insert and delete rows.
    pub insert_delete: bool,
    /// The columns the chassis may update.
    pub update: &'static [&'static str],
}

/// The permissions of the `ovn-controller` role, by table.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        table: "BFD",
        authorization: &[""],
        insert_delete: false,
        update: &["status"],
    },
    Permission {
        table: "Chassis",
        authorization: &["name"],
        insert_delete: true,
        update: &[
            "encaps",
            "external_ids",
            "nb_cfg",
            "other_config",
            "transport_zones",
            "vtep_logical_switches",
        ],
    },
    Permission {
        table: "Chassis_Private",
        authorization: &["name"],
        insert_delete: true,
        update: &["chassis", "external_ids", "nb_cfg", "nb_cfg_timestamp"],
    },
    Permission {
        table: "Controller_Event",
        authorization: &[""],
        insert_delete: true,
        update: &["chassis", "event_info", "event_type", "seq_num"],
    },
    Permission {
        table: "Encap",
        authorization: &["chassis_name"],
        insert_delete: true,
        update: &["ip", "options", "type"],
    },
    Permission {
        table: "FDB",
        authorization: &[""],
        insert_delete: true,
        update: &["dp_key", "mac", "port_key"],
    },
    Permission {
        table: "IGMP_Group",
        authorization: &[""],
        insert_delete: true,
        update: &["address", "chassis", "datapath", "ports"],
    },
    Permission {
        table: "MAC_Binding",
        authorization: &[""],
        insert_delete: true,
        update: &["datapath", "ip", "logical_port", "mac", "timestamp"],
    },
    Permission {
        table: "Port_Binding",
        authorization: &[""],
        insert_delete: false,
        update: &[
            "additional_chassis",
            "additional_encap",
            "chassis",
            "encap",
            "options",
            "up",
            "virtual_parent",
        ],
    },
    Permission {
        table: "Service_Monitor",
        authorization: &[""],
        insert_delete: false,
        update: &["status"],
    },
];

impl Permission {
    /// The row (without a UUID).
    pub fn row(&self) -> sb::RbacPermission {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        sb::RbacPermission {
            table: self.table.to_owned(),
            authorization: set(self.authorization),
            insert_delete: self.insert_delete,
            update: set(self.update),
            ..Default::default()
        }
    }

    /// Whether `row` grants exactly this permission.
    fn matches(&self, row: &sb::RbacPermission) -> bool {
        let want = self.row();
        row.table == want.table
            && row.authorization == want.authorization
            && row.insert_delete == want.insert_delete
            && row.update == want.update
    }
}

/// Adds to `b` what brings the `RBAC_Role` and `RBAC_Permission` rows of `current` to the
/// fixed set.
pub(crate) fn plan(current: &SbRows, b: &mut SbTxn<'_>) -> Result<(), NorthdError> {
    // The first valid permission row of each table is kept (UUID order); any other goes.
    let mut kept: BTreeMap<&str, Uuid> = BTreeMap::new();
    for p in current.rbac_permissions.values() {
        match PERMISSIONS.iter().find(|w| w.matches(p)) {
            Some(w) if !kept.contains_key(w.table) => {
                kept.insert(w.table, p.uuid.uuid());
            }
            _ => b.delete(p.uuid),
        }
    }
    let mut permissions = BTreeMap::new();
    for w in PERMISSIONS {
        let u = match kept.get(w.table) {
            Some(u) => *u,
            None => b.insert(&w.row())?,
        };
        permissions.insert(w.table.to_owned(), Ref::new(u));
    }
    let mut role: Option<&sb::RbacRole> = None;
    for r in current.rbac_roles.values() {
        if r.name == CONTROLLER_ROLE && role.is_none() {
            role = Some(r);
        } else {
            b.delete(r.uuid);
        }
    }
    match role {
        Some(old) => {
            let mut n = old.clone();
            n.permissions = permissions;
            b.update(&n, old)?;
        }
        None => {
            b.insert(&sb::RbacRole {
                name: CONTROLLER_ROLE.to_owned(),
                permissions,
                ..Default::default()
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_permission_per_table() {
        let tables: BTreeSet<&str> = PERMISSIONS.iter().map(|p| p.table).collect();
        assert_eq!(tables.len(), PERMISSIONS.len());
    }
}
