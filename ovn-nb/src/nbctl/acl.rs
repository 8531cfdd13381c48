//! ACLs and port groups: `acl-*`, `pg-*`.

use ovsdb::model::Uuid;
use ovsdb::{Atom, Datum};

use super::error::{NbctlError, Result};
use super::lookup::{parse_priority, Kind};
use super::txn::{int_datum, str_atom, str_datum, Nbctl};

/// Options of `acl-add`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclOpts {
    /// `--type=switch|port-group`; `None` resolves the name in both.
    pub type_: Option<String>,
    /// `--log`.
    pub log: bool,
    /// `--severity=SEVERITY` (alert, warning, notice, info, debug).
    pub severity: Option<String>,
    /// `--name=NAME`.
    pub name: Option<String>,
    /// `--meter=METER`.
    pub meter: Option<String>,
    /// `--label=LABEL`.
    pub label: Option<String>,
    /// `--may-exist`.
    pub may_exist: bool,
    /// `--apply-after-lb`.
    pub apply_after_lb: bool,
}

/// The ACL severities.
pub const SEVERITIES: &[&str] = &["alert", "warning", "notice", "info", "debug"];

/// Where an ACL lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AclOwner {
    Switch(Uuid),
    PortGroup(Uuid),
}

fn parse_direction(s: &str) -> Result<&'static str> {
    match s.as_bytes().first() {
        Some(b't') => Ok("to-lport"),
        Some(b'f') => Ok("from-lport"),
        _ => Err(NbctlError::invalid(format!(
            "{s}: direction must be \"to-lport\" or \"from-lport\""
        ))),
    }
}

impl Nbctl {
    fn acl_owner(&self, id: &str, type_: Option<&str>) -> Result<(usize, Uuid)> {
        let lst = self.table_index("Logical_Switch")?;
        let pgt = self.table_index("Port_Group")?;
        let owner = match type_ {
            None => {
                let pg = self.lookup(Kind::PortGroup, id, false)?;
                let ls = self.lookup(Kind::Switch, id, false)?;
                match (pg, ls) {
                    (Some(_), Some(_)) => {
                        return Err(NbctlError::Ambiguous(format!(
                            "Same name '{id}' exists in both port-groups and logical switches. \
                             Specify --type=port-group or switch, or use a UUID."
                        )))
                    }
                    (Some(pg), None) => AclOwner::PortGroup(pg),
                    (None, Some(ls)) => AclOwner::Switch(ls),
                    (None, None) => {
                        return Err(NbctlError::not_found(format!(
                            "'{id}' is not found for port-group or switch."
                        )))
                    }
                }
            }
            Some("port-group") => AclOwner::PortGroup(self.must(Kind::PortGroup, id)?),
            Some("switch") => AclOwner::Switch(self.must(Kind::Switch, id)?),
            Some(other) => {
                return Err(NbctlError::invalid(format!(
                    "Invalid value '{other}' for option --type"
                )))
            }
        };
        Ok(match owner {
            AclOwner::Switch(u) => (lst, u),
            AclOwner::PortGroup(u) => (pgt, u),
        })
    }

    /// `acl-add {SWITCH | PORTGROUP} DIRECTION PRIORITY MATCH VERDICT`.
    pub fn acl_add(
        &mut self,
        owner: &str,
        direction: &str,
        priority: &str,
        matches: &str,
        action: &str,
        opts: &AclOpts,
    ) -> Result<()> {
        let (ot, o) = self.acl_owner(owner, opts.type_.as_deref())?;
        let at = self.table_index("ACL")?;
        let direction = parse_direction(direction)?;
        let prio = parse_priority(priority)?;
        if !matches!(
            action,
            "allow" | "allow-related" | "allow-stateless" | "drop" | "reject"
        ) {
            return Err(NbctlError::invalid(format!(
                "{action}: action must be one of \"allow\", \"allow-related\", \
                 \"allow-stateless\", \"drop\", and \"reject\""
            )));
        }
        let mut cols = vec![
            ("priority", int_datum(prio)),
            ("direction", str_datum(direction)),
            ("match", str_datum(matches)),
            ("action", str_datum(action)),
        ];
        if opts.log || opts.severity.is_some() || opts.name.is_some() || opts.meter.is_some() {
            cols.push(("log", Datum::scalar(Atom::Boolean(true))));
        }
        if let Some(s) = &opts.severity {
            if !SEVERITIES.contains(&s.as_str()) {
                return Err(NbctlError::invalid(format!("bad severity: {s}")));
            }
            cols.push(("severity", str_datum(s)));
        }
        if let Some(n) = &opts.name {
            cols.push(("name", str_datum(n)));
        }
        if let Some(m) = &opts.meter {
            cols.push(("meter", str_datum(m)));
        }
        if let Some(l) = &opts.label {
            if action != "allow" && action != "allow-related" {
                return Err(NbctlError::invalid(
                    "label can only be set with actions \"allow\" or \"allow-related\"",
                ));
            }
            let v = l
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=i64::from(u32::MAX)).contains(v))
                .ok_or_else(|| NbctlError::invalid("label must in range 0...4294967295"))?;
            cols.push(("label", int_datum(v)));
        }
        if opts.apply_after_lb {
            cols.push((
                "options",
                Datum::Map(vec![(str_atom("apply-after-lb"), str_atom("true"))].into()),
            ));
        }
        for a in self.get_uuids(ot, o, "acls") {
            if self.get_str(at, a, "direction") == direction
                && self.get_int(at, a, "priority") == Some(prio)
                && self.get_str(at, a, "match") == matches
            {
                if opts.may_exist {
                    return Ok(());
                }
                return Err(NbctlError::exists(format!(
                    "Same ACL already existed on the ls {owner}."
                )));
            }
        }
        let a = self.insert(at, cols);
        self.set_add(ot, o, "acls", Atom::Uuid(a));
        Ok(())
    }

    /// `acl-del {SWITCH | PORTGROUP} [DIRECTION [PRIORITY MATCH]]`.
    pub fn acl_del(
        &mut self,
        owner: &str,
        direction: Option<&str>,
        priority: Option<&str>,
        matches: Option<&str>,
        type_: Option<&str>,
    ) -> Result<()> {
        let (ot, o) = self.acl_owner(owner, type_)?;
        let at = self.table_index("ACL")?;
        let Some(direction) = direction else {
            self.set(ot, o, "acls", Datum::empty_set());
            return Ok(());
        };
        let direction = parse_direction(direction)?;
        let acls = self.get_uuids(ot, o, "acls");
        let Some(priority) = priority else {
            for a in acls {
                if self.get_str(at, a, "direction") == direction {
                    self.set_remove(ot, o, "acls", &Atom::Uuid(a));
                }
            }
            return Ok(());
        };
        let prio = parse_priority(priority)?;
        let Some(m) = matches else {
            return Err(NbctlError::Usage(
                "cannot specify priority without match".into(),
            ));
        };
        for a in acls {
            if self.get_int(at, a, "priority") == Some(prio)
                && self.get_str(at, a, "match") == m
                && self.get_str(at, a, "direction") == direction
            {
                self.set_remove(ot, o, "acls", &Atom::Uuid(a));
                return Ok(());
            }
        }
        Ok(())
    }

    /// `acl-list {SWITCH | PORTGROUP}`.
    pub fn acl_list(&mut self, owner: &str, type_: Option<&str>) -> Result<String> {
        let (ot, o) = self.acl_owner(owner, type_)?;
        let at = self.table_index("ACL")?;
        let mut acls: Vec<(u8, i64, String, Uuid)> = self
            .get_uuids(ot, o, "acls")
            .into_iter()
            .map(|a| {
                let dir = u8::from(self.get_str(at, a, "direction") != "from-lport");
                (
                    dir,
                    -self.get_int(at, a, "priority").unwrap_or(0),
                    self.get_str(at, a, "match"),
                    a,
                )
            })
            .collect();
        acls.sort();
        let mut out = String::new();
        for (_, _, m, a) in acls {
            out.push_str(&format!(
                "{:>10} {:>5} ({m}) {}",
                self.get_str(at, a, "direction"),
                self.get_int(at, a, "priority").unwrap_or(0),
                self.get_str(at, a, "action")
            ));
            if self.get(at, a, "log").first() == Some(&Atom::Boolean(true)) {
                let mut parts = Vec::new();
                if let Some(n) = self.get_opt_str(at, a, "name") {
                    parts.push(format!("name={n}"));
                }
                if let Some(s) = self.get_opt_str(at, a, "severity") {
                    parts.push(format!("severity={s}"));
                }
                if let Some(m) = self.get_opt_str(at, a, "meter") {
                    parts.push(format!("meter=\"{m}\""));
                }
                out.push_str(&format!(" log({})", parts.join(",")));
            }
            if let Some(l) = self.get_int(at, a, "label").filter(|l| *l != 0) {
                out.push_str(&format!(" label={l}"));
            }
            if self
                .get_map(at, a, "options")
                .get("apply-after-lb")
                .map(String::as_str)
                == Some("true")
            {
                out.push_str(" [after-lb]");
            }
            out.push('\n');
        }
        Ok(out)
    }

    fn lsp_uuids(&self, ports: &[&str]) -> Result<Vec<Atom>> {
        let mut out = Vec::new();
        for p in ports {
            out.push(Atom::Uuid(self.must(Kind::SwitchPort, p)?));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `pg-add PORTGROUP [PORT]...` (a duplicate name is refused by the database's index).
    pub fn pg_add(&mut self, name: &str, ports: &[&str]) -> Result<Uuid> {
        let pgt = self.table_index("Port_Group")?;
        let ports = self.lsp_uuids(ports)?;
        Ok(self.insert(
            pgt,
            vec![
                ("name", str_datum(name)),
                ("ports", Datum::Set(ports.into())),
            ],
        ))
    }

    /// `pg-set-ports PORTGROUP PORT...`.
    pub fn pg_set_ports(&mut self, name: &str, ports: &[&str]) -> Result<()> {
        let pgt = self.table_index("Port_Group")?;
        let pg = self.must(Kind::PortGroup, name)?;
        let ports = self.lsp_uuids(ports)?;
        self.set(pgt, pg, "ports", Datum::Set(ports.into()));
        Ok(())
    }

    /// `pg-del PORTGROUP`.
    pub fn pg_del(&mut self, name: &str) -> Result<()> {
        let pgt = self.table_index("Port_Group")?;
        let pg = self.must(Kind::PortGroup, name)?;
        self.delete(pgt, pg);
        Ok(())
    }
}
