//! Logical switches and their ports: `ls-*` and `lsp-*`.

use std::collections::BTreeMap;

use ovsdb::model::Uuid;
use ovsdb::{Atom, Datum};

use super::error::{NbctlError, Result};
use super::lookup::Kind;
use super::txn::{int_datum, str_datum, strs_datum, Nbctl};
use crate::addr::LspAddress;

/// Options shared by the `*-add` verbs that create named root records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOpts {
    /// `--may-exist`: adding an existing record is not an error.
    pub may_exist: bool,
    /// `--add-duplicate`: create a record even if one with this name exists.
    pub add_duplicate: bool,
}

/// The logical switch port types ovn-nbctl accepts.
pub const LSP_TYPES: &[&str] = &[
    "",
    "l2gateway",
    "localnet",
    "localport",
    "router",
    "vtep",
    "external",
    "virtual",
    "remote",
];

impl Nbctl {
    pub(crate) fn add_named_root(
        &mut self,
        table: &str,
        what: &str,
        name: Option<&str>,
        opts: AddOpts,
    ) -> Result<Option<Uuid>> {
        if opts.may_exist && opts.add_duplicate {
            return Err(NbctlError::Usage(
                "--may-exist and --add-duplicate may not be used together".into(),
            ));
        }
        let t = self.table_index(table)?;
        match name {
            Some(n) => {
                if !opts.add_duplicate {
                    let exists = self
                        .uuids(t)
                        .into_iter()
                        .any(|u| self.get_str(t, u, "name") == n);
                    if exists {
                        if opts.may_exist {
                            return Ok(None);
                        }
                        return Err(NbctlError::exists(format!(
                            "{n}: a {what} with this name already exists"
                        )));
                    }
                }
                Ok(Some(self.insert(t, vec![("name", str_datum(n))])))
            }
            None => {
                if opts.may_exist {
                    return Err(NbctlError::Usage(
                        "--may-exist requires specifying a name".into(),
                    ));
                }
                if opts.add_duplicate {
                    return Err(NbctlError::Usage(
                        "--add-duplicate requires specifying a name".into(),
                    ));
                }
                Ok(Some(self.insert(t, vec![])))
            }
        }
    }

    /// `ls-add [SWITCH]`: creates a logical switch; returns its (temporary) UUID, or `None` when
    /// `--may-exist` found one.
    pub fn ls_add(&mut self, name: Option<&str>, opts: AddOpts) -> Result<Option<Uuid>> {
        self.add_named_root("Logical_Switch", "switch", name, opts)
    }

    /// `ls-del SWITCH`: deletes a switch (and with it its ports).
    pub fn ls_del(&mut self, id: &str, if_exists: bool) -> Result<()> {
        let t = self.table_index("Logical_Switch")?;
        if let Some(u) = self.lookup(Kind::Switch, id, !if_exists)? {
            self.delete(t, u);
        }
        Ok(())
    }

    /// `ls-list`: `UUID (NAME)` lines sorted by name.
    pub fn ls_list(&mut self) -> Result<String> {
        Ok(self.list_named("Logical_Switch"))
    }

    pub(crate) fn list_named(&self, table: &str) -> String {
        let Ok(t) = self.table_index(table) else {
            return String::new();
        };
        let mut items: Vec<(String, Uuid)> = self
            .uuids(t)
            .into_iter()
            .map(|u| (self.get_str(t, u, "name"), u))
            .collect();
        items.sort();
        items.iter().map(|(n, u)| format!("{u} ({n})\n")).collect()
    }

    /// `lsp-add SWITCH PORT [PARENT TAG]`.
    pub fn lsp_add(
        &mut self,
        switch: &str,
        port: &str,
        parent_tag: Option<(&str, &str)>,
        may_exist: bool,
    ) -> Result<Option<Uuid>> {
        let ls = self.must(Kind::Switch, switch)?;
        let lst = self.table_index("Logical_Switch")?;
        let pt = self.table_index("Logical_Switch_Port")?;
        let tag = match parent_tag {
            Some((_, tag)) => Some(
                tag.parse::<i64>()
                    .ok()
                    .filter(|t| (0..=4095).contains(t))
                    .ok_or_else(|| {
                        NbctlError::invalid(format!(
                            "{tag}: invalid tag (must be in range 0 to 4095)"
                        ))
                    })?,
            ),
            None => None,
        };
        if let Some(existing) = self.lookup(Kind::SwitchPort, port, false)? {
            if !may_exist {
                return Err(NbctlError::exists(format!(
                    "{port}: a port with this name already exists"
                )));
            }
            let owner = self.parent_of("Logical_Switch", "ports", existing);
            if owner != Some(ls) {
                let name = owner
                    .map(|o| self.get_str(lst, o, "name"))
                    .unwrap_or_default();
                return Err(NbctlError::exists(format!(
                    "{port}: port already exists but in switch {name}"
                )));
            }
            match parent_tag {
                Some((parent, _)) => {
                    let cur = self.get_opt_str(pt, existing, "parent_name");
                    if cur.as_deref() != Some(parent) {
                        return Err(NbctlError::exists(match cur {
                            Some(cur) => {
                                format!("{port}: port already exists with different parent {cur}")
                            }
                            None => format!("{port}: port already exists but has no parent"),
                        }));
                    }
                    let cur_tag = self.get_int(pt, existing, "tag_request");
                    if tag.is_some() && cur_tag != tag {
                        return Err(NbctlError::exists(format!(
                            "{port}: port already exists with different tag_request {}",
                            cur_tag.unwrap_or(0)
                        )));
                    }
                }
                None => {
                    if self.get_opt_str(pt, existing, "parent_name").is_some() {
                        return Err(NbctlError::exists(format!(
                            "{port}: port already exists but has parent {}",
                            self.get_str(pt, existing, "parent_name")
                        )));
                    }
                }
            }
            return Ok(None);
        }
        let mut cols = vec![("name", str_datum(port))];
        if let (Some((parent, _)), Some(tag)) = (parent_tag, tag) {
            cols.push(("parent_name", str_datum(parent)));
            cols.push(("tag_request", int_datum(tag)));
        }
        let u = self.insert(pt, cols);
        self.set_add(lst, ls, "ports", Atom::Uuid(u));
        Ok(Some(u))
    }

    /// `lsp-del PORT`.
    pub fn lsp_del(&mut self, port: &str, if_exists: bool) -> Result<()> {
        let Some(p) = self.lookup(Kind::SwitchPort, port, !if_exists)? else {
            return Ok(());
        };
        let lst = self.table_index("Logical_Switch")?;
        let pt = self.table_index("Logical_Switch_Port")?;
        match self.parent_of("Logical_Switch", "ports", p) {
            Some(ls) => self.set_remove(lst, ls, "ports", &Atom::Uuid(p)),
            None => {
                return Err(NbctlError::not_found(format!(
                    "logical port {port} is not part of any logical switch"
                )))
            }
        }
        self.delete(pt, p);
        Ok(())
    }

    /// `lsp-list SWITCH`.
    pub fn lsp_list(&mut self, switch: &str) -> Result<String> {
        let ls = self.must(Kind::Switch, switch)?;
        let lst = self.table_index("Logical_Switch")?;
        let pt = self.table_index("Logical_Switch_Port")?;
        let mut items: Vec<(String, Uuid)> = self
            .get_uuids(lst, ls, "ports")
            .into_iter()
            .map(|u| (self.get_str(pt, u, "name"), u))
            .collect();
        items.sort();
        Ok(items.iter().map(|(n, u)| format!("{u} ({n})\n")).collect())
    }

    fn port(&self, port: &str) -> Result<(usize, Uuid)> {
        let pt = self.table_index("Logical_Switch_Port")?;
        Ok((pt, self.must(Kind::SwitchPort, port)?))
    }

    /// `lsp-set-addresses PORT [ADDRESS]...`: validates each address (ovn-nb(5) syntax) and
    /// refuses IPs another port of the same switch already has.
    pub fn lsp_set_addresses(&mut self, port: &str, addresses: &[&str]) -> Result<()> {
        let (pt, p) = self.port(port)?;
        let mut ips: Vec<(String, bool)> = Vec::new();
        for a in addresses {
            let parsed = a.parse::<LspAddress>();
            let valid = matches!(*a, "unknown" | "dynamic" | "router")
                || starts_with_mac(a)
                || matches!(parsed, Ok(LspAddress::Dynamic { .. }));
            if !valid {
                return Err(NbctlError::invalid(
                    crate::addr::AddrError::LspAddress((*a).to_owned()).to_string(),
                ));
            }
            if let Ok(LspAddress::Static { ips: list, .. }) = parsed {
                for ip in list {
                    ips.push((ip.addr().to_string(), ip.addr().is_ipv6()));
                }
            }
        }
        if let Some(ls) = self.parent_of("Logical_Switch", "ports", p) {
            let lst = self.table_index("Logical_Switch")?;
            let ls_name = self.get_str(lst, ls, "name");
            for other in self.get_uuids(lst, ls, "ports") {
                if other == p {
                    continue;
                }
                for addr in self.get_strs(pt, other, "addresses") {
                    let Ok(LspAddress::Static { ips: theirs, .. }) = addr.parse::<LspAddress>()
                    else {
                        continue;
                    };
                    for ip in theirs {
                        let s = ip.addr().to_string();
                        if let Some((_, v6)) = ips.iter().find(|(x, _)| *x == s) {
                            return Err(NbctlError::exists(format!(
                                "Error on switch {ls_name}: duplicate {} address '{s}' found on \
                                 logical switch port '{}'",
                                if *v6 { "IPv6" } else { "IPv4" },
                                self.get_str(pt, other, "name")
                            )));
                        }
                    }
                }
            }
        }
        self.set(pt, p, "addresses", strs_datum(addresses));
        Ok(())
    }

    /// `lsp-set-port-security PORT [ADDRS]...`.
    pub fn lsp_set_port_security(&mut self, port: &str, addrs: &[&str]) -> Result<()> {
        let (pt, p) = self.port(port)?;
        self.set(pt, p, "port_security", strs_datum(addrs));
        Ok(())
    }

    /// `lsp-set-type PORT TYPE`.
    pub fn lsp_set_type(&mut self, port: &str, ty: &str) -> Result<()> {
        let (pt, p) = self.port(port)?;
        if !LSP_TYPES.contains(&ty) {
            return Err(NbctlError::invalid(format!(
                "Logical switch port type '{ty}' is unrecognized. Not setting type."
            )));
        }
        self.set_str(pt, p, "type", ty);
        Ok(())
    }

    /// `lsp-set-options PORT [KEY=VALUE]...`: replaces the options (arguments without `=` are
    /// ignored, as ovn-nbctl does).
    pub fn lsp_set_options(&mut self, port: &str, options: &[&str]) -> Result<()> {
        let (pt, p) = self.port(port)?;
        self.set(pt, p, "options", super::txn::map_datum(&parse_kv(options)));
        Ok(())
    }

    /// `lsp-set-enabled PORT enabled|disabled`.
    pub fn lsp_set_enabled(&mut self, port: &str, state: &str) -> Result<()> {
        let (pt, p) = self.port(port)?;
        let on = match state {
            "enabled" => true,
            "disabled" => false,
            _ => {
                return Err(NbctlError::invalid(format!(
                    "{state}: state must be \"enabled\" or \"disabled\""
                )))
            }
        };
        self.set(pt, p, "enabled", Datum::scalar(Atom::Boolean(on)));
        Ok(())
    }
}

/// `KEY=VALUE` arguments as a map (later keys win; arguments without `=` are skipped).
pub(crate) fn parse_kv(args: &[&str]) -> BTreeMap<String, String> {
    args.iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// True when `s` begins with an Ethernet address (six colon-separated groups of one or two hex
/// digits), which is all ovn-nbctl checks of a static `addresses` entry.
fn starts_with_mac(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    for group in 0..6 {
        let start = i;
        while i < b.len() && i - start < 2 && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        if group < 5 {
            if b.get(i) != Some(&b':') {
                return false;
            }
            i += 1;
        }
    }
    true
}
