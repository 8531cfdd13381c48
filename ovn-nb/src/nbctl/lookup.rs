//! Finding records the way ovn-nbctl does (by UUID, else by name), and the address normalization
//! its verbs share.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ovsdb::model::Uuid;

use super::error::{NbctlError, Result};
use super::txn::Nbctl;

/// The kinds of records the verbs look up by name or UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Switch,
    Router,
    SwitchPort,
    RouterPort,
    LoadBalancer,
    PortGroup,
    HaChassisGroup,
}

impl Kind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Switch => "Logical_Switch",
            Self::Router => "Logical_Router",
            Self::SwitchPort => "Logical_Switch_Port",
            Self::RouterPort => "Logical_Router_Port",
            Self::LoadBalancer => "Load_Balancer",
            Self::PortGroup => "Port_Group",
            Self::HaChassisGroup => "HA_Chassis_Group",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Switch => "switch",
            Self::Router => "router",
            Self::SwitchPort | Self::RouterPort => "port",
            Self::LoadBalancer => "load balancer",
            Self::PortGroup => "port group",
            Self::HaChassisGroup => "ha_chassi_group",
        }
    }

    fn plural(self) -> Option<&'static str> {
        match self {
            Self::Switch => Some("logical switches"),
            Self::Router => Some("logical routers"),
            Self::LoadBalancer => Some("load balancers"),
            _ => None,
        }
    }
}

/// Parses a UUID in canonical form.
pub(crate) fn parse_uuid(s: &str) -> Option<Uuid> {
    ovsdb::atom::parse_uuid_str(s)
}

impl Nbctl {
    /// Finds a record by UUID or else by name. `Ok(None)` when absent and `!must_exist`.
    pub(crate) fn lookup(&self, kind: Kind, id: &str, must_exist: bool) -> Result<Option<Uuid>> {
        let t = self.table_index(kind.table())?;
        let as_uuid = parse_uuid(id);
        if let Some(u) = as_uuid {
            if self.exists(t, u) {
                return Ok(Some(u));
            }
        }
        let name_col = self.col(t, "name");
        let mut found = None;
        for (u, row) in self.rows(t) {
            let matches = row
                .get(name_col)
                .and_then(|d| d.first())
                .is_some_and(|a| matches!(a, ovsdb::Atom::String(s) if &**s == id));
            if matches {
                if found.is_some() {
                    if let Some(p) = kind.plural() {
                        return Err(NbctlError::Ambiguous(format!(
                            "Multiple {p} named '{id}'.  Use a UUID."
                        )));
                    }
                    continue;
                }
                found = Some(*u);
            }
        }
        if found.is_none() && must_exist {
            return Err(NbctlError::not_found(format!(
                "{id}: {} {} not found",
                kind.what(),
                if as_uuid.is_some() { "UUID" } else { "name" }
            )));
        }
        Ok(found)
    }

    /// Finds a record that must exist.
    pub(crate) fn must(&self, kind: Kind, id: &str) -> Result<Uuid> {
        self.lookup(kind, id, true)?
            .ok_or_else(|| NbctlError::not_found(format!("{id}: {} name not found", kind.what())))
    }

    /// The row of `parent_table` whose set column `col` holds `child`.
    pub(crate) fn parent_of(&self, parent_table: &str, col: &str, child: Uuid) -> Option<Uuid> {
        let t = self.table_index(parent_table).ok()?;
        let c = self.col(t, col);
        self.rows(t).iter().find_map(|(u, row)| {
            row.get(c)
                .is_some_and(|d| d.set_atoms().iter().any(|a| a.as_uuid() == Some(child)))
                .then_some(*u)
        })
    }
}

/// `a.b.c.d` only.
pub(crate) fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// An IPv6 address only.
pub(crate) fn parse_v6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

fn split_prefix(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    }
}

/// `IP[/PLEN]` normalized as ovn-nbctl does: the network address, without `/32` (`/128`).
pub(crate) fn normalize_v4_prefix(s: &str) -> Option<String> {
    let (a, p) = split_prefix(s);
    let ip = parse_v4(a)?;
    let plen: u32 = match p {
        None => 32,
        Some(p) => p.parse().ok().filter(|n| *n <= 32)?,
    };
    if plen == 32 {
        return Some(ip.to_string());
    }
    let mask = if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen)
    };
    Some(format!("{}/{plen}", Ipv4Addr::from(u32::from(ip) & mask)))
}

/// The IPv6 counterpart of [`normalize_v4_prefix`].
pub(crate) fn normalize_v6_prefix(s: &str) -> Option<String> {
    let (a, p) = split_prefix(s);
    let ip = parse_v6(a)?;
    let plen: u32 = match p {
        None => 128,
        Some(p) => p.parse().ok().filter(|n| *n <= 128)?,
    };
    if plen == 128 {
        return Some(ip.to_string());
    }
    let mask = if plen == 0 {
        0
    } else {
        u128::MAX << (128 - plen)
    };
    Some(format!("{}/{plen}", Ipv6Addr::from(u128::from(ip) & mask)))
}

/// Either family.
pub(crate) fn normalize_prefix(s: &str) -> Option<String> {
    normalize_v4_prefix(s).or_else(|| normalize_v6_prefix(s))
}

/// A plain IP address of either family, normalized.
pub(crate) fn normalize_ip(s: &str) -> Option<(String, bool)> {
    if let Some(a) = parse_v4(s) {
        return Some((a.to_string(), false));
    }
    parse_v6(s).map(|a| (a.to_string(), true))
}

/// An IP address with an optional prefix length (router port networks, DHCP cidr).
pub(crate) fn parse_cidr(s: &str, need_prefix: bool) -> Option<(IpAddr, u8)> {
    let (a, p) = split_prefix(s);
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let plen = match p {
        None if need_prefix => return None,
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|n| *n <= max)?,
    };
    Some((ip, plen))
}

/// Six colon-separated hex octets.
pub(crate) fn valid_mac(s: &str) -> bool {
    s.parse::<crate::addr::MacAddr>().is_ok()
}

/// A priority 0...32767 as the ACL, policy and gateway verbs take it.
pub(crate) fn parse_priority(s: &str) -> Result<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|p| (0..=32767).contains(p))
        .ok_or_else(|| NbctlError::invalid(format!("{s}: priority must in range 0...32767")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_prefixes_as_ovn_nbctl() {
        assert_eq!(
            normalize_v4_prefix("10.0.0.7/24").as_deref(),
            Some("10.0.0.0/24")
        );
        assert_eq!(
            normalize_v4_prefix("1.2.3.4/32").as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(normalize_v4_prefix("1.2.3.4/40"), None);
        assert_eq!(
            normalize_v6_prefix("fd00::1/64").as_deref(),
            Some("fd00::/64")
        );
        assert_eq!(normalize_prefix("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        assert!(parse_priority("32768").is_err());
        assert_eq!(parse_priority("0").ok(), Some(0));
    }
}
