//! Logical routers: `lr-*`, `lrp-*`, static routes, policies and NAT.

use ovsdb::model::Uuid;
use ovsdb::{Atom, Datum};

use super::error::{NbctlError, Result};
use super::lookup::{
    normalize_ip, normalize_prefix, normalize_v4_prefix, normalize_v6_prefix, parse_cidr,
    parse_priority, parse_v4, parse_v6, valid_mac, Kind,
};
use super::switch::AddOpts;
use super::txn::{int_datum, map_datum, str_atom, str_datum, strs_datum, Nbctl};

/// Options of `lr-route-add`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteOpts {
    /// `--may-exist`: update the nexthop of an existing route instead of failing.
    pub may_exist: bool,
    /// `--ecmp`: add another nexthop for the same prefix.
    pub ecmp: bool,
    /// `--ecmp-symmetric-reply` (implies `--ecmp`).
    pub ecmp_symmetric_reply: bool,
    /// `--policy=src-ip|dst-ip`.
    pub policy: Option<String>,
    /// `--route-table=NAME`.
    pub route_table: Option<String>,
}

/// Options of `lr-nat-add`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatOpts {
    /// `--may-exist`.
    pub may_exist: bool,
    /// `--stateless` (dnat_and_snat only).
    pub stateless: bool,
    /// `--portrange`: the last argument is an external port range.
    pub portrange: bool,
}

fn is_src_policy(p: Option<&str>) -> bool {
    p == Some("src-ip")
}

impl Nbctl {
    /// `lr-add [ROUTER]`.
    pub fn lr_add(&mut self, name: Option<&str>, opts: AddOpts) -> Result<Option<Uuid>> {
        self.add_named_root("Logical_Router", "router", name, opts)
    }

    /// `lr-del ROUTER`.
    pub fn lr_del(&mut self, id: &str, if_exists: bool) -> Result<()> {
        let t = self.table_index("Logical_Router")?;
        if let Some(u) = self.lookup(Kind::Router, id, !if_exists)? {
            self.delete(t, u);
        }
        Ok(())
    }

    /// `lr-list`.
    pub fn lr_list(&mut self) -> Result<String> {
        Ok(self.list_named("Logical_Router"))
    }

    fn lr(&self, id: &str) -> Result<(usize, Uuid)> {
        Ok((
            self.table_index("Logical_Router")?,
            self.must(Kind::Router, id)?,
        ))
    }

    /// `lrp-add ROUTER PORT MAC NETWORK... [COLUMN=VALUE]...` (e.g. `peer=PEER`).
    pub fn lrp_add(
        &mut self,
        router: &str,
        port: &str,
        mac: &str,
        networks: &[&str],
        settings: &[&str],
        may_exist: bool,
    ) -> Result<Option<Uuid>> {
        let (lrt, lr) = self.lr(router)?;
        let pt = self.table_index("Logical_Router_Port")?;
        if let Some(existing) = self.lookup(Kind::RouterPort, port, false)? {
            if !may_exist {
                return Err(NbctlError::exists(format!(
                    "{port}: a port with this name already exists"
                )));
            }
            let owner = self.parent_of("Logical_Router", "ports", existing);
            if owner != Some(lr) {
                let name = owner
                    .map(|o| self.get_str(lrt, o, "name"))
                    .unwrap_or_default();
                return Err(NbctlError::exists(format!(
                    "{port}: port already exists but in router {name}"
                )));
            }
            let cur_mac = self.get_str(pt, existing, "mac");
            if cur_mac != mac {
                return Err(NbctlError::exists(format!(
                    "{port}: port already exists with mac {cur_mac}"
                )));
            }
            let peer = settings.iter().find_map(|s| s.strip_prefix("peer="));
            if peer != self.get_opt_str(pt, existing, "peer").as_deref() {
                return Err(NbctlError::exists(format!(
                    "{port}: port already exists with mismatching peer"
                )));
            }
            return Ok(None);
        }
        if !valid_mac(mac) {
            return Err(NbctlError::invalid(format!(
                "{port}: invalid mac address {mac}"
            )));
        }
        for n in networks {
            if parse_cidr(n, false).is_none() {
                return Err(NbctlError::invalid(format!(
                    "{port}: invalid network address: {n}"
                )));
            }
        }
        let u = self.insert(
            pt,
            vec![
                ("name", str_datum(port)),
                ("mac", str_datum(mac)),
                ("networks", strs_datum(networks)),
            ],
        );
        for s in settings {
            self.set_column_arg(pt, u, s)?;
        }
        self.set_add(lrt, lr, "ports", Atom::Uuid(u));
        Ok(Some(u))
    }

    /// `lrp-del PORT`.
    pub fn lrp_del(&mut self, port: &str, if_exists: bool) -> Result<()> {
        let Some(p) = self.lookup(Kind::RouterPort, port, !if_exists)? else {
            return Ok(());
        };
        let lrt = self.table_index("Logical_Router")?;
        let pt = self.table_index("Logical_Router_Port")?;
        match self.parent_of("Logical_Router", "ports", p) {
            Some(lr) => self.set_remove(lrt, lr, "ports", &Atom::Uuid(p)),
            None => {
                return Err(NbctlError::not_found(format!(
                    "logical port {port} is not part of any logical router"
                )))
            }
        }
        self.delete(pt, p);
        Ok(())
    }

    /// `lrp-set-gateway-chassis PORT CHASSIS [PRIORITY]`: creates Gateway_Chassis `PORT-CHASSIS`
    /// or updates its priority.
    pub fn lrp_set_gateway_chassis(
        &mut self,
        port: &str,
        chassis: &str,
        priority: Option<&str>,
    ) -> Result<()> {
        let p = self.must(Kind::RouterPort, port)?;
        let pt = self.table_index("Logical_Router_Port")?;
        let prio = match priority {
            Some(s) => parse_priority(s)?,
            None => 0,
        };
        let gct = self.table_index("Gateway_Chassis")?;
        let name = format!("{port}-{chassis}");
        let existing = self
            .uuids(gct)
            .into_iter()
            .find(|u| self.get_str(gct, *u, "name") == name);
        if let Some(gc) = existing {
            self.set(gct, gc, "priority", int_datum(prio));
            return Ok(());
        }
        let gc = self.insert(
            gct,
            vec![
                ("name", str_datum(&name)),
                ("chassis_name", str_datum(chassis)),
                ("priority", int_datum(prio)),
            ],
        );
        self.set_add(pt, p, "gateway_chassis", Atom::Uuid(gc));
        Ok(())
    }

    /// `lr-route-add ROUTER PREFIX NEXTHOP [PORT]`.
    pub fn lr_route_add(
        &mut self,
        router: &str,
        prefix: &str,
        nexthop: &str,
        port: Option<&str>,
        opts: &RouteOpts,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let rt = self.table_index("Logical_Router_Static_Route")?;
        let policy = opts.policy.as_deref();
        if let Some(p) = policy {
            if p != "src-ip" && p != "dst-ip" {
                return Err(NbctlError::invalid(format!("bad policy: {p}")));
            }
        }
        let (prefix_n, v6) = match normalize_v4_prefix(prefix) {
            Some(p) => (p, false),
            None => (
                normalize_v6_prefix(prefix)
                    .ok_or_else(|| NbctlError::invalid(format!("bad prefix argument: {prefix}")))?,
                true,
            ),
        };
        let discard = nexthop == "discard";
        let nexthop_n = if discard {
            "discard".to_owned()
        } else {
            let n = if v6 {
                parse_v6(nexthop).map(|a| a.to_string())
            } else {
                parse_v4(nexthop).map(|a| a.to_string())
            };
            n.ok_or_else(|| {
                NbctlError::invalid(format!(
                    "bad {} nexthop argument: {nexthop}",
                    if v6 { "IPv6" } else { "IPv4" }
                ))
            })?
        };
        if let Some(port) = port {
            self.must(Kind::RouterPort, port)?;
        }
        let ecmp = opts.ecmp || opts.ecmp_symmetric_reply;
        let table = opts.route_table.clone().unwrap_or_default();
        let src = is_src_policy(policy);
        let find = |me: &Self, nh: Option<&str>| {
            me.get_uuids(lrt, lr, "static_routes")
                .into_iter()
                .find(|r| {
                    is_src_policy(me.get_opt_str(rt, *r, "policy").as_deref()) == src
                        && normalize_prefix(&me.get_str(rt, *r, "ip_prefix")).as_deref()
                            == Some(prefix_n.as_str())
                        && me.get_str(rt, *r, "route_table") == table
                        && nh.is_none_or(|nh| {
                            let cur = me.get_str(rt, *r, "nexthop");
                            let cur = if cur == "discard" {
                                Some(cur)
                            } else {
                                normalize_prefix(&cur)
                            };
                            cur.as_deref() == Some(nh)
                        })
                })
        };
        let route = find(self, ecmp.then_some(nexthop_n.as_str()));
        if discard {
            if ecmp {
                return Err(NbctlError::invalid("ecmp is not valid for discard routes."));
            }
            if port.is_some() {
                return Err(NbctlError::invalid(
                    "outport is not valid for discard routes.",
                ));
            }
        }
        if !ecmp {
            if let Some(r) = route {
                if !opts.may_exist {
                    return Err(NbctlError::exists(format!(
                        "duplicate prefix: {prefix_n} (policy: {}). Use option --ecmp to allow \
                         this for ECMP routing.",
                        if src { "src-ip" } else { "dst-ip" }
                    )));
                }
                self.set_str(rt, r, "ip_prefix", &prefix_n);
                self.set_str(rt, r, "nexthop", &nexthop_n);
                if let Some(port) = port {
                    self.set_str(rt, r, "output_port", port);
                }
                if let Some(p) = policy {
                    self.set_str(rt, r, "policy", p);
                }
                return Ok(());
            }
        } else if route.is_some() {
            if !opts.may_exist {
                return Err(NbctlError::exists(
                    "duplicate nexthop for the same ECMP route",
                ));
            }
            return Ok(());
        }
        if find(self, Some("discard")).is_some() {
            return Err(NbctlError::exists(
                "discard nexthop for the same ECMP route exists.",
            ));
        }
        let mut cols = vec![
            ("ip_prefix", str_datum(&prefix_n)),
            ("nexthop", str_datum(&nexthop_n)),
        ];
        if let Some(port) = port {
            cols.push(("output_port", str_datum(port)));
        }
        if let Some(p) = policy {
            cols.push(("policy", str_datum(p)));
        }
        if let Some(t) = &opts.route_table {
            cols.push(("route_table", str_datum(t)));
        }
        if opts.ecmp_symmetric_reply {
            cols.push((
                "options",
                Datum::Map(vec![(str_atom("ecmp_symmetric_reply"), str_atom("true"))].into()),
            ));
        }
        let r = self.insert(rt, cols);
        self.set_add(lrt, lr, "static_routes", Atom::Uuid(r));
        Ok(())
    }

    /// `lr-route-del ROUTER [PREFIX [NEXTHOP [PORT]]]`.
    pub fn lr_route_del(
        &mut self,
        router: &str,
        prefix: Option<&str>,
        nexthop: Option<&str>,
        port: Option<&str>,
        opts: &RouteOpts,
        if_exists: bool,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let rt = self.table_index("Logical_Router_Static_Route")?;
        let policy = opts.policy.as_deref();
        if let Some(p) = policy {
            if p != "src-ip" && p != "dst-ip" {
                return Err(NbctlError::invalid(format!("bad policy: {p}")));
            }
        }
        if prefix.is_none() && policy.is_none() && opts.route_table.is_none() {
            self.set(lrt, lr, "static_routes", Datum::empty_set());
            return Ok(());
        }
        let prefix_n = match prefix {
            Some(p) => Some(
                normalize_prefix(p)
                    .ok_or_else(|| NbctlError::invalid(format!("bad prefix argument: {p}")))?,
            ),
            None => None,
        };
        let nexthop_n = match nexthop {
            Some("discard") => Some("discard".to_owned()),
            Some(n) => Some(
                normalize_prefix(n)
                    .ok_or_else(|| NbctlError::invalid(format!("bad nexthop argument: {n}")))?,
            ),
            None => None,
        };
        let mut removed = 0;
        for r in self.get_uuids(lrt, lr, "static_routes") {
            if policy.is_some()
                && is_src_policy(self.get_opt_str(rt, r, "policy").as_deref())
                    != is_src_policy(policy)
            {
                continue;
            }
            if let Some(t) = &opts.route_table {
                if self.get_str(rt, r, "route_table") != *t {
                    continue;
                }
            }
            if let Some(p) = &prefix_n {
                if normalize_prefix(&self.get_str(rt, r, "ip_prefix")).as_ref() != Some(p) {
                    continue;
                }
            }
            if let Some(n) = &nexthop_n {
                let cur = self.get_str(rt, r, "nexthop");
                let cur = if cur == "discard" {
                    Some(cur)
                } else {
                    normalize_prefix(&cur)
                };
                if cur.as_ref() != Some(n) {
                    continue;
                }
            }
            if let Some(port) = port {
                if self.get_opt_str(rt, r, "output_port").as_deref() != Some(port) {
                    continue;
                }
            }
            self.set_remove(lrt, lr, "static_routes", &Atom::Uuid(r));
            removed += 1;
        }
        if removed == 0 && !if_exists {
            return Err(NbctlError::not_found(format!(
                "no matching route: policy '{}', prefix '{}', nexthop '{}', output_port '{}'.",
                policy.unwrap_or("any"),
                prefix_n.as_deref().unwrap_or("(null)"),
                nexthop_n.as_deref().unwrap_or("any"),
                port.unwrap_or("any")
            )));
        }
        Ok(())
    }

    /// `lr-policy-add ROUTER PRIORITY MATCH ACTION [NEXTHOP[,NEXTHOP...]] [KEY=VALUE...]`.
    pub fn lr_policy_add(
        &mut self,
        router: &str,
        priority: &str,
        matches: &str,
        action: &str,
        rest: &[&str],
        may_exist: bool,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let pt = self.table_index("Logical_Router_Policy")?;
        let prio = parse_priority(priority)?;
        if !matches!(action, "allow" | "drop" | "reroute") {
            return Err(NbctlError::invalid(format!(
                "{action}: action must be one of \"allow\", \"drop\", and \"reroute\""
            )));
        }
        let reroute = action == "reroute";
        let mut nexthops: Vec<String> = Vec::new();
        let mut rest = rest;
        if reroute {
            let Some((first, tail)) = rest.split_first() else {
                return Err(NbctlError::invalid(
                    "Nexthop is required when action is reroute.",
                ));
            };
            let mut v6 = None;
            for nh in first.split(',') {
                let (n, is6) = normalize_ip(nh).ok_or_else(|| {
                    NbctlError::invalid(format!("bad next hop argument: {first}"))
                })?;
                if v6.is_some_and(|f| f != is6) {
                    return Err(NbctlError::invalid(format!(
                        "bad next hops argument, not in the same addr family : {first}"
                    )));
                }
                v6 = Some(is6);
                nexthops.push(n);
            }
            rest = tail;
        }
        let mut options = std::collections::BTreeMap::new();
        for o in rest {
            match o.split_once('=') {
                Some((k, v)) => {
                    options.insert(k.to_owned(), v.to_owned());
                }
                None => {
                    return Err(NbctlError::invalid(format!(
                        "No value specified for the option : {o}"
                    )))
                }
            }
        }
        for p in self.get_uuids(lrt, lr, "policies") {
            if self.get_int(pt, p, "priority") == Some(prio)
                && self.get_str(pt, p, "match") == matches
            {
                if may_exist {
                    return Ok(());
                }
                return Err(NbctlError::exists(format!(
                    "Same routing policy already existed on the logical router {router}."
                )));
            }
        }
        let mut cols = vec![
            ("priority", int_datum(prio)),
            ("match", str_datum(matches)),
            ("action", str_datum(action)),
        ];
        if reroute {
            cols.push(("nexthops", strs_datum(&nexthops)));
        }
        if !options.is_empty() {
            cols.push(("options", map_datum(&options)));
        }
        let p = self.insert(pt, cols);
        self.set_add(lrt, lr, "policies", Atom::Uuid(p));
        Ok(())
    }

    /// `lr-policy-del ROUTER [{PRIORITY | UUID} [MATCH]]`.
    pub fn lr_policy_del(
        &mut self,
        router: &str,
        priority_or_uuid: Option<&str>,
        matches: Option<&str>,
        if_exists: bool,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let pt = self.table_index("Logical_Router_Policy")?;
        let Some(arg) = priority_or_uuid else {
            self.set(lrt, lr, "policies", Datum::empty_set());
            return Ok(());
        };
        let policies = self.get_uuids(lrt, lr, "policies");
        if let Some(u) = super::lookup::parse_uuid(arg) {
            if policies.contains(&u) {
                self.set_remove(lrt, lr, "policies", &Atom::Uuid(u));
            } else if !if_exists {
                return Err(NbctlError::not_found(
                    "Logical router policy uuid is not found.",
                ));
            }
            return Ok(());
        }
        let prio = parse_priority(arg)?;
        for p in policies {
            if self.get_int(pt, p, "priority") != Some(prio) {
                continue;
            }
            if let Some(m) = matches {
                if self.get_str(pt, p, "match") != m {
                    continue;
                }
            }
            self.set_remove(lrt, lr, "policies", &Atom::Uuid(p));
        }
        Ok(())
    }

    /// `lr-nat-add ROUTER TYPE EXTERNAL_IP LOGICAL_IP [LOGICAL_PORT EXTERNAL_MAC]
    /// [EXTERNAL_PORT_RANGE]`.
    pub fn lr_nat_add(
        &mut self,
        router: &str,
        nat_type: &str,
        external_ip: &str,
        logical_ip: &str,
        rest: &[&str],
        opts: NatOpts,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let nt = self.table_index("NAT")?;
        check_nat_type(nat_type)?;
        let (ext_n, v6) = normalize_ip(external_ip).ok_or_else(|| {
            NbctlError::invalid(format!("{external_ip}: Not a valid IPv4 or IPv6 address."))
        })?;
        let fam = if v6 { "IPv6" } else { "IPv4" };
        let is_snat = nat_type == "snat";
        let log_n = if is_snat {
            if v6 {
                normalize_v6_prefix(logical_ip)
            } else {
                normalize_v4_prefix(logical_ip)
            }
            .ok_or_else(|| {
                NbctlError::invalid(format!(
                    "{logical_ip}: should be an {fam} address or network."
                ))
            })?
        } else {
            if v6 {
                parse_v6(logical_ip).map(|a| a.to_string())
            } else {
                parse_v4(logical_ip).map(|a| a.to_string())
            }
            .ok_or_else(|| {
                NbctlError::invalid(format!("{logical_ip}: Not a valid {fam} address."))
            })?
        };
        let (mut logical_port, mut external_mac, mut port_range) = (None, None, None);
        match rest.len() {
            0 => {}
            1 => {
                if !opts.portrange {
                    return Err(NbctlError::invalid(
                        "lr-nat-add with logical_port must also specify external_mac.",
                    ));
                }
                port_range = Some(rest[0]);
            }
            n => {
                if nat_type != "dnat_and_snat" {
                    return Err(NbctlError::invalid(
                        "logical_port and external_mac are only valid when type is \
                         \"dnat_and_snat\".",
                    ));
                }
                if n == 2 && opts.portrange {
                    return Err(NbctlError::invalid(
                        "lr-nat-add with logical_port must also specify external_mac.",
                    ));
                }
                self.must(Kind::SwitchPort, rest[0])?;
                logical_port = Some(rest[0]);
                if !valid_mac(rest[1]) {
                    return Err(NbctlError::invalid(format!(
                        "invalid mac address {}.",
                        rest[1]
                    )));
                }
                external_mac = Some(rest[1]);
                port_range = rest.get(2).copied();
            }
        }
        if let Some(r) = port_range {
            if !valid_port_range(r) {
                return Err(NbctlError::invalid(format!("invalid port range {r}.")));
            }
        }
        if nat_type != "dnat_and_snat" && opts.stateless {
            return Err(NbctlError::invalid(
                "stateless is not applicable to dnat or snat types",
            ));
        }
        for n in self.get_uuids(lrt, lr, "nat") {
            let (Some(old_ext), Some(old_log)) = (
                normalize_prefix(&self.get_str(nt, n, "external_ip")),
                normalize_prefix(&self.get_str(nt, n, "logical_ip")),
            ) else {
                continue;
            };
            let old_type = self.get_str(nt, n, "type");
            if old_type == nat_type {
                let (key_new, key_old) = if is_snat {
                    (&log_n, &old_log)
                } else {
                    (&ext_n, &old_ext)
                };
                let (other_new, other_old) = if is_snat {
                    (&ext_n, &old_ext)
                } else {
                    (&log_n, &old_log)
                };
                if key_new == key_old {
                    if other_new == other_old {
                        if opts.may_exist {
                            self.set(nt, n, "logical_port", opt_str(logical_port));
                            self.set(nt, n, "external_mac", opt_str(external_mac));
                            return Ok(());
                        }
                        return Err(NbctlError::exists(format!(
                            "{ext_n}, {log_n}: a NAT with this external_ip and logical_ip \
                             already exists"
                        )));
                    }
                    return Err(NbctlError::exists(format!(
                        "a NAT with this type ({nat_type}), {} ({key_new}) already exists",
                        if is_snat { "logical_ip" } else { "external_ip" }
                    )));
                }
            }
            if (nat_type == "dnat_and_snat" || old_type == "dnat_and_snat") && old_ext == ext_n {
                let old_stateless = self
                    .get_map(nt, n, "options")
                    .get("stateless")
                    .map(String::as_str)
                    == Some("true");
                if old_stateless || opts.stateless {
                    return Err(NbctlError::invalid(format!(
                        "{ext_n}, {log_n}: External ip cannot be shared across stateless and \
                         stateful NATs"
                    )));
                }
            }
        }
        let mut cols = vec![
            ("type", str_datum(nat_type)),
            ("external_ip", str_datum(external_ip)),
            ("logical_ip", str_datum(&log_n)),
        ];
        if let (Some(p), Some(m)) = (logical_port, external_mac) {
            cols.push(("logical_port", str_datum(p)));
            cols.push(("external_mac", str_datum(m)));
        }
        if let Some(r) = port_range {
            cols.push(("external_port_range", str_datum(r)));
        }
        cols.push((
            "options",
            Datum::Map(
                vec![(
                    str_atom("stateless"),
                    str_atom(if opts.stateless { "true" } else { "false" }),
                )]
                .into(),
            ),
        ));
        let n = self.insert(nt, cols);
        self.set_add(lrt, lr, "nat", Atom::Uuid(n));
        Ok(())
    }

    /// `lr-nat-del ROUTER [TYPE [IP]]`.
    pub fn lr_nat_del(
        &mut self,
        router: &str,
        nat_type: Option<&str>,
        ip: Option<&str>,
    ) -> Result<()> {
        let (lrt, lr) = self.lr(router)?;
        let nt = self.table_index("NAT")?;
        let Some(nat_type) = nat_type else {
            self.set(lrt, lr, "nat", Datum::empty_set());
            return Ok(());
        };
        check_nat_type(nat_type)?;
        let nats = self.get_uuids(lrt, lr, "nat");
        let Some(ip) = ip else {
            for n in nats {
                if self.get_str(nt, n, "type") == nat_type {
                    self.set_remove(lrt, lr, "nat", &Atom::Uuid(n));
                }
            }
            return Ok(());
        };
        let ip_n = normalize_prefix(ip)
            .ok_or_else(|| NbctlError::invalid(format!("{ip}: Invalid IP address or CIDR")))?;
        let col = if nat_type == "snat" {
            "logical_ip"
        } else {
            "external_ip"
        };
        for n in nats {
            if self.get_str(nt, n, "type") == nat_type
                && normalize_prefix(&self.get_str(nt, n, col)).as_ref() == Some(&ip_n)
            {
                self.set_remove(lrt, lr, "nat", &Atom::Uuid(n));
                return Ok(());
            }
        }
        Ok(())
    }
}

fn opt_str(s: Option<&str>) -> Datum {
    Datum::Set(s.map(str_atom).into_iter().collect())
}

fn check_nat_type(t: &str) -> Result<()> {
    if matches!(t, "dnat" | "snat" | "dnat_and_snat") {
        Ok(())
    } else {
        Err(NbctlError::invalid(format!(
            "{t}: type must be one of \"dnat\", \"snat\" and \"dnat_and_snat\"."
        )))
    }
}

/// `LO[-HI]` with 0 < LO < HI <= 65535.
fn valid_port_range(r: &str) -> bool {
    let num = |s: &str| s.parse::<i64>().ok();
    match r.split_once('-') {
        None => num(r).is_some_and(|lo| lo > 0),
        Some((lo, hi)) => match (num(lo), num(hi)) {
            (Some(lo), Some(hi)) => lo > 0 && lo < hi && hi <= 65535,
            _ => false,
        },
    }
}

/// `%-W.Ps`: truncated to `prec` characters, padded to `width`.
fn pad(s: &str, width: usize, prec: usize) -> String {
    let t: String = s.chars().take(prec).collect();
    format!("{t:<width$}")
}

impl Nbctl {
    /// `lr-route-list ROUTER`.
    pub fn lr_route_list(&mut self, router: &str) -> Result<String> {
        let (lrt, lr) = self.lr(router)?;
        let rt = self.table_index("Logical_Router_Static_Route")?;
        // (v6, table, -plen, addr, policy, nexthop, uuid)
        let mut routes = Vec::new();
        for r in self.get_uuids(lrt, lr, "static_routes") {
            let prefix = self.get_str(rt, r, "ip_prefix");
            let Some((ip, plen)) = parse_cidr(&prefix, false) else {
                continue;
            };
            let addr = match ip {
                std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
                std::net::IpAddr::V6(a) => u128::from(a),
            };
            let policy = self
                .get_opt_str(rt, r, "policy")
                .unwrap_or_else(|| "dst-ip".to_owned());
            routes.push((
                ip.is_ipv6(),
                self.get_str(rt, r, "route_table"),
                -i32::from(plen),
                addr,
                policy,
                self.get_str(rt, r, "nexthop"),
                r,
            ));
        }
        routes.sort();
        let mut out = String::new();
        for v6 in [false, true] {
            let fam: Vec<_> = routes.iter().filter(|x| x.0 == v6).collect();
            if fam.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(if v6 { "IPv6 Routes\n" } else { "IPv4 Routes\n" });
            let mut last_table: Option<&str> = None;
            for (i, x) in fam.iter().enumerate() {
                if last_table != Some(x.1.as_str()) {
                    if last_table.is_some() {
                        out.push('\n');
                    }
                    let t = if x.1.is_empty() {
                        "<main>"
                    } else {
                        x.1.as_str()
                    };
                    out.push_str(&format!("Route Table {t}:\n"));
                    last_table = Some(x.1.as_str());
                }
                let same = |y: &&&(bool, String, i32, u128, String, String, Uuid)| {
                    y.1 == x.1 && y.2 == x.2 && y.3 == x.3 && y.4 == x.4
                };
                let ecmp = (i > 0 && fam.get(i - 1).is_some_and(|y| same(&y)))
                    || fam.get(i + 1).is_some_and(|y| same(&y));
                let r = x.6;
                out.push_str(&format!(
                    "{:>25} {:>25} {}",
                    self.get_str(rt, r, "ip_prefix"),
                    x.5,
                    x.4
                ));
                if let Some(p) = self.get_opt_str(rt, r, "output_port") {
                    out.push_str(&format!(" {p}"));
                }
                let opts = self.get_map(rt, r, "options");
                if opts.get("ecmp_symmetric_reply").map(String::as_str) == Some("true") {
                    out.push_str(" ecmp-symmetric-reply");
                } else if ecmp {
                    out.push_str(" ecmp");
                }
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// `lr-nat-list ROUTER`.
    pub fn lr_nat_list(&mut self, router: &str) -> Result<String> {
        let (lrt, lr) = self.lr(router)?;
        let nt = self.table_index("NAT")?;
        let pt = self.table_index("Logical_Router_Port")?;
        let mut rows = Vec::new();
        for n in self.get_uuids(lrt, lr, "nat") {
            let gw = self
                .get_uuids(nt, n, "gateway_port")
                .first()
                .map(|p| self.get_str(pt, *p, "name"))
                .unwrap_or_default();
            let key = format!(
                "{}{}{}",
                pad(&self.get_str(nt, n, "type"), 17, 13),
                pad(&gw, 22, 18),
                self.get_str(nt, n, "external_ip")
            );
            let range = self.get_str(nt, n, "external_port_range");
            let value = match (
                self.get_opt_str(nt, n, "external_mac"),
                self.get_opt_str(nt, n, "logical_port"),
            ) {
                (Some(mac), Some(port)) => format!(
                    "{}{}{}{port}",
                    pad(&range, 17, 13),
                    pad(&self.get_str(nt, n, "logical_ip"), 20, 16),
                    pad(&mac, 21, 17)
                ),
                _ => format!(
                    "{}{}",
                    pad(&range, 17, 13),
                    self.get_str(nt, n, "logical_ip")
                ),
            };
            rows.push((key, value));
        }
        rows.sort();
        if rows.is_empty() {
            return Ok(String::new());
        }
        let mut out = format!(
            "{}{}{}{}{}{}LOGICAL_PORT\n",
            pad("TYPE", 17, 13),
            pad("GATEWAY_PORT", 22, 18),
            pad("EXTERNAL_IP", 19, 15),
            pad("EXTERNAL_PORT", 17, 13),
            pad("LOGICAL_IP", 20, 16),
            pad("EXTERNAL_MAC", 21, 17)
        );
        for (k, v) in rows {
            out.push_str(&format!("{}{v}\n", pad(&k, 58, 54)));
        }
        Ok(out)
    }
}
