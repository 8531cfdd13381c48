//! A router's NB `NAT` rules, parsed and checked once.

use std::net::IpAddr;

use ovn_nb::addr::MacAddr;
use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::error::NbWarning;
use crate::flow::Value;
use crate::snapshot::NbSnapshot;

use super::super::RouterPort;

/// The `type` of a NAT rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// `snat`: source translation of `logical_ip` (a network) to `external_ip`.
    Snat,
    /// `dnat`: destination translation of `external_ip` to `logical_ip`.
    Dnat,
    /// `dnat_and_snat`: both, one to one.
    DnatAndSnat,
}

impl NatKind {
    /// `snat` or `dnat_and_snat`.
    pub fn has_snat(self) -> bool {
        matches!(self, Self::Snat | Self::DnatAndSnat)
    }

    /// `dnat` or `dnat_and_snat`.
    pub fn has_dnat(self) -> bool {
        matches!(self, Self::Dnat | Self::DnatAndSnat)
    }
}

/// One NAT rule of a router.
#[derive(Debug, Clone)]
pub struct NatRule {
    /// The NB row.
    pub nb: Ref<nb::Nat>,
    /// `type`.
    pub kind: NatKind,
    /// `external_ip`, parsed.
    pub external: IpAddr,
    /// `external_ip` as written (flows print it as is).
    pub external_ip: String,
    /// `logical_ip` as written.
    pub logical_ip: String,
    /// The prefix length of `logical_ip` (32 or 128 for a host).
    pub logical_plen: u8,
    /// `external_port_range`, when not empty.
    pub range: Option<String>,
    /// `options:stateless=true` on a `dnat_and_snat` rule.
    pub stateless: bool,
    /// The name of the `allowed_ext_ips` address set.
    pub allowed_ext_ips: Option<String>,
    /// The name of the `exempted_ext_ips` address set.
    pub exempted_ext_ips: Option<String>,
    /// `external_mac`, parsed.
    pub external_mac: Option<MacAddr>,
    /// `external_mac` as written, when not empty (whether it parses or not).
    pub external_mac_text: Option<String>,
    /// `logical_port`.
    pub logical_port: Option<String>,
    /// `logical_port` names a switch port of type `virtual`.
    pub logical_port_virtual: bool,
    /// On a router with distributed gateway ports: the index (in the router's ports) of the
    /// one this rule uses.
    pub gateway_port: Option<usize>,
    /// On a router with distributed gateway ports: the ones (indexes in the router's ports)
    /// answering ARP/ND for the external address (priorities 92 and 91 of `lr_in_ip_input`):
    /// the only DGP; else its `gateway_port` (none when that is not one of them); else every
    /// DGP with a network containing the external address.
    pub neighbor_ports: Vec<usize>,
    /// Handled on the chassis of `logical_port` (a `dnat_and_snat` rule with `logical_port`
    /// and `external_mac` on a router with a distributed gateway port).
    pub distributed: bool,
    /// The translation flows can be built (the rule is valid and, on a distributed router, has
    /// a gateway port). Unusable rules still get ARP/ND replies for their external address.
    pub usable: bool,
}

impl NatRule {
    /// True for an IPv6 rule.
    pub fn is_v6(&self) -> bool {
        self.external.is_ipv6()
    }

    /// `external_ip` as written, as a match or action value.
    pub fn external_value(&self) -> Value {
        Value::Raw(self.external_ip.clone())
    }

    /// A valid `external_mac` as written (ovn-northd 23.03 writes it so where it answers ARP/ND
    /// for the rule, resolves its address and rewrites the source of distributed traffic).
    pub fn external_mac_value(&self) -> Option<Value> {
        self.external_mac.map(|m| {
            self.external_mac_text
                .clone()
                .map_or(Value::Mac(m), Value::Raw)
        })
    }

    /// `logical_ip` as written, as a match or action value.
    pub fn logical_value(&self) -> Value {
        Value::Raw(self.logical_ip.clone())
    }

    /// The `lr_out_snat` priority on a gateway router: longer prefixes first.
    pub fn snat_priority(&self) -> u16 {
        u16::from(self.logical_plen) + 1
    }
}

/// Parses an address with an optional prefix length: the address and the length (the full
/// length when absent).
fn parse_masked(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, plen) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let plen = match plen {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((ip, plen))
}

fn full_len(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// The distributed gateway port a rule uses on a router with DGPs: its `gateway_port` when
/// that is a DGP, the only DGP, or the first DGP (in NB order) with a network containing the
/// external address.
fn gateway_port_of(nb: &NbSnapshot, n: &nb::Nat, ports: &[RouterPort]) -> Option<usize> {
    // ovn-northd walks the DGPs in the NB `ports` set order (UUID order).
    let mut dgps: Vec<usize> = (0..ports.len()).filter(|i| ports[*i].is_dgp).collect();
    dgps.sort_by_key(|i| ports[*i].nb);
    if let Some(gp) = n.gateway_port.and_then(|g| nb.router_ports.get(&g)) {
        if let Some(i) = dgps.iter().find(|i| ports[**i].name == gp.name) {
            return Some(*i);
        }
    }
    if let [only] = dgps.as_slice() {
        return Some(*only);
    }
    // The network test takes `external_ip` as written: one with a prefix length (`/32`) is in
    // no network.
    let external = n.external_ip.parse::<IpAddr>().ok()?;
    dgps.into_iter().find(|i| in_networks(&ports[*i], external))
}

/// True when `ip` is in one of the networks of router port `p`.
fn in_networks(p: &RouterPort, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => p.ipv4.iter().any(|net| {
            let m = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(net.plen)))
                .unwrap_or(0);
            u32::from(a) & m == u32::from(net.addr) & m
        }),
        IpAddr::V6(a) => p.ipv6.iter().any(|net| {
            let m = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(net.plen)))
                .unwrap_or(0);
            u128::from(a) & m == u128::from(net.addr) & m
        }),
    }
}

/// The distributed gateway ports answering ARP/ND for a rule's external address (see
/// [`NatRule::neighbor_ports`]), in port order. The network test takes `external_ip` as
/// written: one with a prefix length (`/32`) is in no network.
fn neighbor_ports_of(nb: &NbSnapshot, n: &nb::Nat, ports: &[RouterPort]) -> Vec<usize> {
    let dgps: Vec<usize> = (0..ports.len()).filter(|i| ports[*i].is_dgp).collect();
    if dgps.len() <= 1 {
        return dgps;
    }
    let external = n.external_ip.parse::<IpAddr>().ok();
    let gateway_port = n.gateway_port.filter(|g| nb.router_ports.contains_key(g));
    dgps.into_iter()
        .filter(|i| match gateway_port {
            Some(g) => ports[*i].nb == g,
            None => external.is_some_and(|ip| in_networks(&ports[*i], ip)),
        })
        .collect()
}

/// Parses the NAT rules of router `lr` (whose parsed, name-sorted ports are `ports`), in NB
/// order, reporting invalid ones. Rules whose external address does not parse are left out;
/// other invalid rules are kept as unusable (they still get ARP/ND replies).
pub fn parse_rules(
    nb: &NbSnapshot,
    lr: &nb::LogicalRouter,
    ports: &[RouterPort],
    gateway_router: bool,
    warnings: &mut Vec<NbWarning>,
) -> Vec<NatRule> {
    let mut out = Vec::new();
    // Names of the `virtual` switch ports, gathered on first need.
    let mut virtual_ports: Option<std::collections::HashSet<&str>> = None;
    for n in lr.nat.iter().filter_map(|r| nb.nats.get(r)) {
        let mut warn = |reason: String| {
            warnings.push(NbWarning::BadNat {
                router: lr.name.clone(),
                nat: format!("{} {} {}", n.type_.as_str(), n.external_ip, n.logical_ip),
                reason,
            });
        };
        let external_ip = n.external_ip.trim().to_owned();
        let external = match parse_masked(&external_ip) {
            Some((ip, plen)) if plen == full_len(ip) => ip,
            _ => {
                warn("external_ip is not an IP address".to_owned());
                continue;
            }
        };
        let kind = match n.type_ {
            nb::NatType::Snat => NatKind::Snat,
            nb::NatType::Dnat => NatKind::Dnat,
            nb::NatType::DnatAndSnat => NatKind::DnatAndSnat,
        };
        let logical_ip = n.logical_ip.trim().to_owned();
        let mut usable = true;
        let logical_plen = match parse_masked(&logical_ip) {
            Some((ip, plen)) if ip.is_ipv6() == external.is_ipv6() => {
                if kind.has_dnat() && plen != full_len(ip) {
                    warn("logical_ip of a dnat rule must be a host address".to_owned());
                    usable = false;
                }
                plen
            }
            _ => {
                warn("bad logical_ip".to_owned());
                usable = false;
                full_len(external)
            }
        };
        let set_name = |r: Option<Ref<nb::AddressSet>>| {
            r.and_then(|r| nb.address_sets.get(&r))
                .map(|s| s.name.clone())
        };
        let allowed_ext_ips = set_name(n.allowed_ext_ips);
        let exempted_ext_ips = set_name(n.exempted_ext_ips);
        if allowed_ext_ips.is_some() && exempted_ext_ips.is_some() {
            warn("both allowed_ext_ips and exempted_ext_ips are set".to_owned());
            usable = false;
        }
        let external_mac = match n.external_mac.as_deref().filter(|m| !m.is_empty()) {
            Some(text) => match text.parse::<MacAddr>() {
                Ok(m) => Some(m),
                Err(_) => {
                    warn(format!("bad external_mac {text:?}"));
                    usable = false;
                    None
                }
            },
            None => None,
        };
        let logical_port = n.logical_port.clone().filter(|p| !p.is_empty());
        let has_dgp = !gateway_router && ports.iter().any(|p| p.is_dgp);
        let neighbor_ports = if has_dgp {
            neighbor_ports_of(nb, n, ports)
        } else {
            Vec::new()
        };
        let gateway_port = if has_dgp {
            let gp = gateway_port_of(nb, n, ports);
            if gp.is_none() {
                warn("no distributed gateway port for the rule".to_owned());
                usable = false;
            }
            gp
        } else {
            None
        };
        let distributed = has_dgp
            && kind == NatKind::DnatAndSnat
            && logical_port.is_some()
            && external_mac.is_some();
        let logical_port_virtual = logical_port.as_ref().is_some_and(|lp| {
            virtual_ports
                .get_or_insert_with(|| {
                    nb.switch_ports
                        .values()
                        .filter(|p| p.type_ == "virtual")
                        .map(|p| p.name.as_str())
                        .collect()
                })
                .contains(lp.as_str())
        });
        out.push(NatRule {
            nb: n.uuid,
            kind,
            external,
            external_ip,
            logical_ip,
            logical_plen,
            range: Some(n.external_port_range.trim().to_owned()).filter(|r| !r.is_empty()),
            stateless: kind == NatKind::DnatAndSnat
                && n.options.get("stateless").is_some_and(|v| v == "true"),
            allowed_ext_ips,
            exempted_ext_ips,
            external_mac,
            external_mac_text: n.external_mac.clone().filter(|m| !m.is_empty()),
            logical_port,
            logical_port_virtual,
            gateway_port,
            neighbor_ports,
            distributed,
            usable,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn rule(n: u128, type_: nb::NatType, ext: &str, logical: &str) -> nb::Nat {
        nb::Nat {
            uuid: Ref::new(Uuid::from_u128(n)),
            type_,
            external_ip: ext.to_owned(),
            logical_ip: logical.to_owned(),
            ..nb::Nat::default()
        }
    }

    fn parse(nats: Vec<nb::Nat>) -> (Vec<NatRule>, Vec<NbWarning>) {
        let mut snap = NbSnapshot::default();
        let mut lr = nb::LogicalRouter {
            name: "r".to_owned(),
            ..nb::LogicalRouter::default()
        };
        for n in nats {
            lr.nat.insert(n.uuid);
            snap.nats.insert(n.uuid, n);
        }
        let mut warnings = Vec::new();
        let rules = parse_rules(&snap, &lr, &[], true, &mut warnings);
        (rules, warnings)
    }

    #[test]
    fn valid_rules_keep_their_text() {
        let (rules, warnings) = parse(vec![
            rule(1, nb::NatType::Snat, "172.16.0.10", "10.0.0.0/24"),
            rule(2, nb::NatType::DnatAndSnat, "2001:db8::1", "fd00::1"),
        ]);
        assert!(warnings.is_empty());
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].logical_ip, "10.0.0.0/24");
        assert_eq!(rules[0].snat_priority(), 25);
        assert!(rules[1].is_v6() && rules[1].usable);
        assert_eq!(rules[1].snat_priority(), 129);
    }

    /// Two distributed gateway ports on 172.16.10.0/24 (`e0` first in NB order).
    fn two_dgps() -> Vec<RouterPort> {
        (0..2u8)
            .map(|i| RouterPort {
                nb: Ref::new(Uuid::from_u128(100 + u128::from(i))),
                name: format!("e{i}"),
                mac: MacAddr([0x0a, 0, 0, 0, 0x0a, i]),
                ipv4: vec![crate::router::Ipv4Net {
                    addr: std::net::Ipv4Addr::new(172, 16, 10, 1 + i),
                    plen: 24,
                }],
                ipv6: Vec::new(),
                enabled: true,
                peer: None,
                is_dgp: true,
                options: Default::default(),
                vlan_l2: false,
            })
            .collect()
    }

    #[test]
    fn several_gateway_ports() {
        let ports = two_dgps();
        let mut snap = NbSnapshot::default();
        let mut lr = nb::LogicalRouter {
            name: "r".to_owned(),
            ..nb::LogicalRouter::default()
        };
        let mut pinned = rule(3, nb::NatType::DnatAndSnat, "172.16.10.4", "10.0.0.4");
        pinned.gateway_port = Some(ports[1].nb);
        snap.router_ports.insert(
            ports[1].nb,
            nb::LogicalRouterPort {
                uuid: ports[1].nb,
                name: "e1".to_owned(),
                ..nb::LogicalRouterPort::default()
            },
        );
        for n in [
            rule(1, nb::NatType::Snat, "172.16.10.1", "10.0.0.0/24"),
            // With a prefix length: in no port's networks, hence no gateway port.
            rule(2, nb::NatType::Dnat, "172.16.10.3/32", "10.0.0.3"),
            pinned,
            // Outside every network.
            rule(4, nb::NatType::Dnat, "172.31.0.9", "10.0.0.9"),
        ] {
            lr.nat.insert(n.uuid);
            snap.nats.insert(n.uuid, n);
        }
        let mut warnings = Vec::new();
        let rules = parse_rules(&snap, &lr, &ports, false, &mut warnings);
        let got: Vec<_> = rules
            .iter()
            .map(|r| (r.gateway_port, r.neighbor_ports.clone(), r.usable))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(0), vec![0, 1], true),
                (None, vec![], false),
                (Some(1), vec![1], true),
                (None, vec![], false),
            ]
        );
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn invalid_rules_are_reported() {
        let (rules, warnings) = parse(vec![
            // Not an address: left out.
            rule(1, nb::NatType::Snat, "bogus", "10.0.0.0/24"),
            // DNAT to a network: kept (ARP replies) but unusable.
            rule(2, nb::NatType::Dnat, "172.16.0.20", "10.0.3.0/24"),
            // Mixed families.
            rule(3, nb::NatType::DnatAndSnat, "172.16.0.30", "fd00::30"),
        ]);
        assert_eq!(warnings.len(), 3);
        assert_eq!(rules.len(), 2);
        assert!(rules.iter().all(|r| !r.usable));
    }
}
