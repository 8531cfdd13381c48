//! IPAM: `dynamic` addresses of switch ports allocated from the switch's `other_config`
//! (`subnet`, `exclude_ips`, `ipv6_prefix`, `mac_only`) and `NB_Global` `mac_prefix`.
//!
//! As in ovn-northd 23.03: within a switch, IPv4 addresses come from the subnet, skipping the
//! network address, the first host (kept for a router), the broadcast address, `exclude_ips`,
//! static addresses of the switch's ports and addresses already allocated; ports are served in
//! UUID order, keeping a still-valid previous `dynamic_addresses`. A MAC is `mac_prefix` followed
//! by the low 24 bits of the allocated IPv4 address (the next free one when taken); without an
//! IPv4 address ovn-northd picks a random suffix, where we derive one from the port's UUID so the
//! result is deterministic. IPv6 addresses are the EUI-64 address of the MAC in `ipv6_prefix`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ovn_nb::addr::{IpNet, LspAddress, MacAddr};
use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::error::NbWarning;
use crate::snapshot::NbSnapshot;

/// 24-bit MAC suffix space.
const MAC_SUFFIX_SPACE: u32 = 0x00ff_ffff;

/// A switch's IPAM configuration, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpamConfig {
    /// `subnet` (IPv4).
    pub subnet: Option<IpNet>,
    /// `exclude_ips`, as inclusive ranges.
    pub exclude: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `ipv6_prefix` (the /64 network).
    pub ipv6_prefix: Option<Ipv6Addr>,
    /// `mac_only`: IPAM on for MACs even without `subnet` or `ipv6_prefix`.
    pub mac_only: bool,
}

impl IpamConfig {
    /// Parses `other_config`, reporting values that do not parse.
    pub fn parse(ls: &nb::LogicalSwitch, warnings: &mut Vec<NbWarning>) -> Self {
        let oc = &ls.other_config;
        let mut bad = |key: &str, value: &str| {
            warnings.push(NbWarning::BadOption {
                owner: format!("switch {}", ls.name),
                key: key.to_owned(),
                value: value.to_owned(),
            });
        };
        let subnet = oc.get("subnet").and_then(|s| match s.parse::<IpNet>() {
            Ok(n) if matches!(n.addr(), IpAddr::V4(_)) => Some(n),
            _ => {
                bad("subnet", s);
                None
            }
        });
        let mut exclude = Vec::new();
        if let Some(ex) = oc.get("exclude_ips") {
            for w in ex.split_whitespace() {
                let (a, b) = w.split_once("..").unwrap_or((w, w));
                match (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) {
                    (Ok(a), Ok(b)) if a <= b => exclude.push((a, b)),
                    _ => bad("exclude_ips", w),
                }
            }
        }
        let ipv6_prefix = oc.get("ipv6_prefix").and_then(|p| {
            let text = p.split('/').next().unwrap_or(p);
            match text.parse::<Ipv6Addr>() {
                Ok(a) => Some(Ipv6Addr::from(u128::from(a) & !u128::from(u64::MAX))),
                Err(_) => {
                    bad("ipv6_prefix", p);
                    None
                }
            }
        });
        Self {
            subnet,
            exclude,
            ipv6_prefix,
            mac_only: oc.get("mac_only").is_some_and(|v| v == "true"),
        }
    }

    /// True when the switch does IPAM at all.
    pub fn enabled(&self) -> bool {
        self.subnet.is_some() || self.ipv6_prefix.is_some() || self.mac_only
    }
}

/// The EUI-64 address of `mac` in the /64 `prefix`.
pub fn eui64(prefix: Ipv6Addr, mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    let iid = u64::from_be_bytes([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
    Ipv6Addr::from(u128::from(prefix) | u128::from(iid))
}

/// IPv4 allocation state of one switch.
struct V4Pool {
    start: u32,
    total: u32,
    used: BTreeSet<u32>,
}

impl V4Pool {
    fn new(subnet: IpNet) -> Option<Self> {
        let IpAddr::V4(net) = subnet.network() else {
            return None;
        };
        let host_bits = 32 - u32::from(subnet.prefix());
        let total = if host_bits >= 32 {
            u32::MAX
        } else {
            (1u32 << host_bits) - 1
        };
        let mut p = Self {
            start: u32::from(net) + 1,
            total,
            used: BTreeSet::new(),
        };
        p.used.insert(0);
        Some(p)
    }

    fn index(&self, ip: Ipv4Addr) -> Option<u32> {
        let i = u32::from(ip).checked_sub(self.start)?;
        (i < self.total).then_some(i)
    }

    fn take(&mut self, ip: Ipv4Addr) -> bool {
        self.index(ip).is_some_and(|i| self.used.insert(i))
    }

    fn allocate(&mut self) -> Option<Ipv4Addr> {
        // The last index is the broadcast address.
        let i = (0..self.total.saturating_sub(1)).find(|i| !self.used.contains(i))?;
        self.used.insert(i);
        Some(Ipv4Addr::from(self.start + i))
    }
}

/// The fixed parts of a `dynamic` address request (MAC, IPv4, IPv6).
type DynamicAsk = (Option<MacAddr>, Option<Ipv4Addr>, Option<Ipv6Addr>);

/// Computes `dynamic_addresses` for every port that asks for them; ports whose value is
/// unchanged are included too. Returns port UUID to the new value (`None` to clear it).
pub fn allocate(
    nb: &NbSnapshot,
    mac_prefix: &str,
    warnings: &mut Vec<NbWarning>,
) -> BTreeMap<Ref<nb::LogicalSwitchPort>, Option<String>> {
    let prefix = parse_prefix(mac_prefix);
    let mut out = BTreeMap::new();
    // MACs in use anywhere (static and dynamic), for uniqueness: gathered when the first new
    // MAC is needed (most snapshots need none).
    let mut macs: Option<BTreeSet<u64>> = None;
    let all_macs = || {
        let mut macs = BTreeSet::new();
        for lsp in nb.switch_ports.values() {
            for a in lsp.addresses.iter().chain(lsp.dynamic_addresses.iter()) {
                if let Ok(LspAddress::Static { mac, .. }) = a.parse::<LspAddress>() {
                    macs.insert(mac.to_u64());
                }
            }
        }
        macs
    };
    let mut switches: Vec<&nb::LogicalSwitch> = nb.switches.values().collect();
    switches.sort_by_key(|ls| ls.uuid);
    for ls in switches {
        let cfg = IpamConfig::parse(ls, warnings);
        let ports: Vec<&nb::LogicalSwitchPort> = ls
            .ports
            .iter()
            .filter_map(|r| nb.switch_ports.get(r))
            .collect();
        // What each port asks for, parsed once. A `dynamic` entry has that word in it: the
        // others (static addresses, on OVN-Kubernetes every one) are not parsed here.
        let asked: Vec<Option<DynamicAsk>> = ports
            .iter()
            .map(|lsp| {
                lsp.addresses
                    .iter()
                    .filter(|a| a.contains("dynamic"))
                    .find_map(|a| match a.parse::<LspAddress>() {
                        Ok(LspAddress::Dynamic { mac, ipv4, ipv6 }) => Some((mac, ipv4, ipv6)),
                        _ => None,
                    })
            })
            .collect();
        // No port asks for dynamic addresses: nothing to allocate or clear.
        if asked.iter().all(Option::is_none) {
            continue;
        }
        let dynamic = |i: usize| asked[i];
        if !cfg.enabled() {
            for (i, lsp) in ports.iter().enumerate() {
                if lsp.dynamic_addresses.is_some() && dynamic(i).is_some() {
                    out.insert(lsp.uuid, None);
                }
            }
            continue;
        }
        // `mac_only` turns IPAM on for MACs; with a subnet set, 23.03 still allocates IPv4.
        let mut pool = cfg.subnet.and_then(V4Pool::new);
        if let Some(pool) = pool.as_mut() {
            for (a, b) in &cfg.exclude {
                for ip in u32::from(*a)..=u32::from(*b) {
                    pool.take(Ipv4Addr::from(ip));
                }
            }
            // Static addresses of the switch's ports.
            for lsp in &ports {
                for a in &lsp.addresses {
                    if let Ok(LspAddress::Static { ips, .. }) = a.parse::<LspAddress>() {
                        for ip in ips {
                            if let IpAddr::V4(v4) = ip.addr() {
                                pool.take(v4);
                            }
                        }
                    }
                }
            }
        }
        // Keep previous allocations that are still valid.
        let mut kept: BTreeMap<Ref<nb::LogicalSwitchPort>, (MacAddr, Option<Ipv4Addr>)> =
            BTreeMap::new();
        for (i, lsp) in ports.iter().enumerate() {
            let Some((fixed_mac, fixed_v4, _)) = dynamic(i) else {
                continue;
            };
            let Some(Ok(LspAddress::Static { mac, ips })) = lsp
                .dynamic_addresses
                .as_deref()
                .map(str::parse::<LspAddress>)
            else {
                continue;
            };
            let v4 = ips.iter().find_map(|n| match n.addr() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            });
            let mac_ok = fixed_mac.map_or_else(|| (mac.to_u64() >> 24) == prefix, |m| m == mac);
            let v4_ok = match (&mut pool, v4) {
                (Some(p), Some(ip)) => fixed_v4.is_none_or(|f| f == ip) && p.take(ip),
                (None, None) => true,
                _ => false,
            };
            if mac_ok && v4_ok {
                kept.insert(lsp.uuid, (mac, v4));
            }
        }
        for (i, lsp) in ports.iter().enumerate() {
            let Some((fixed_mac, fixed_v4, fixed_v6)) = dynamic(i) else {
                continue;
            };
            let (mac, v4) = match kept.get(&lsp.uuid) {
                Some(k) => *k,
                None => {
                    let v4 = match (&mut pool, fixed_v4) {
                        (Some(p), Some(f)) => p.take(f).then_some(f),
                        (Some(p), None) => p.allocate(),
                        (None, _) => None,
                    };
                    let macs = macs.get_or_insert_with(all_macs);
                    let mac = fixed_mac.unwrap_or_else(|| {
                        let base = v4.map_or_else(
                            || (lsp.uuid.uuid().as_u128() as u32) & MAC_SUFFIX_SPACE,
                            |ip| u32::from(ip) & MAC_SUFFIX_SPACE,
                        );
                        new_mac(prefix, base, macs)
                    });
                    macs.insert(mac.to_u64());
                    (mac, v4)
                }
            };
            let mut text = mac.to_string();
            if let Some(v4) = v4 {
                text.push(' ');
                text.push_str(&v4.to_string());
            }
            if let Some(v6) = fixed_v6.or_else(|| cfg.ipv6_prefix.map(|p| eui64(p, mac))) {
                text.push(' ');
                text.push_str(&v6.to_string());
            }
            out.insert(lsp.uuid, Some(text));
        }
    }
    out
}

fn parse_prefix(p: &str) -> u64 {
    let parts: Vec<u64> = p
        .split(':')
        .filter_map(|x| u64::from_str_radix(x, 16).ok())
        .collect();
    match parts.as_slice() {
        [a, b, c] => (a << 16) | (b << 8) | c,
        _ => 0,
    }
}

/// The first free MAC `prefix:suffix` at or after `base` (suffixes 1..=0xfffffe).
fn new_mac(prefix: u64, base: u32, used: &mut BTreeSet<u64>) -> MacAddr {
    let space = MAC_SUFFIX_SPACE - 1;
    let mut mac = 0;
    for i in 0..space {
        let suffix = u64::from((base.wrapping_add(i)) % space + 1);
        mac = (prefix << 24) | suffix;
        if !used.contains(&mac) {
            break;
        }
    }
    used.insert(mac);
    let b = mac.to_be_bytes();
    MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_and_mac() {
        let mac: MacAddr = "0a:00:00:00:00:02".parse().unwrap();
        assert_eq!(
            eui64("fd00::".parse().unwrap(), mac).to_string(),
            "fd00::800:ff:fe00:2"
        );
        let mut used = BTreeSet::new();
        // The suffix follows the IPv4 address: 10.12.0.8 gives ..:00:09, as ovn-northd does.
        let m = new_mac(parse_prefix("0a:00:00"), 0x000008, &mut used);
        assert_eq!(m.to_string(), "0a:00:00:00:00:09");
    }
}
