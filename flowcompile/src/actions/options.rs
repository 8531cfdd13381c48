//! Option tables and payload encoders for `put_dhcp_opts`, `put_dhcpv6_opts` and
//! `put_nd_ra_opts`.
//!
//! The DHCP tables are the ones ovn-northd 23.03 writes to the SB `DHCP_Options` and
//! `DHCPv6_Options` tables (name, code, type; northd always writes the same rows, so the
//! parser and encoder use these built-in copies rather than reading SB).  The encoders
//! produce the bytes that follow the opcode header in the `controller(userdata=...)`
//! payload.

use std::collections::HashMap;

use crate::lex::IntConst;
use crate::parse::{Const, ConstSet};

/// The value type of an option (the SB `type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptType {
    /// `ipv4`: 4 bytes per value.
    Ipv4,
    /// `str`: the string's bytes.
    Str,
    /// `bool`: 1 byte.
    Bool,
    /// `uint8`
    U8,
    /// `uint16`
    U16,
    /// `uint32`
    U32,
    /// `host_id`: an IPv4 address or a string.
    HostId,
    /// `domains`: a comma-separated list, DNS-encoded with compression.
    Domains,
    /// `static_routes`: `{net/plen, gateway, ...}`.
    StaticRoutes,
    /// `ipv6`: 16 bytes per value.
    Ipv6,
    /// `mac`: 6 bytes.
    Mac,
}

impl OptType {
    /// True if the option takes string constants.
    pub fn is_string(self) -> bool {
        matches!(self, Self::Str | Self::Domains)
    }
}

/// One option definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDef {
    /// Name as written in actions.
    pub name: &'static str,
    /// Option code.
    pub code: u16,
    /// Value type.
    pub ty: OptType,
}

const fn o(name: &'static str, code: u16, ty: OptType) -> OptDef {
    OptDef { name, code, ty }
}

use OptType as T;

/// DHCPv4 options of ovn-northd 23.03 (`ovn-sbctl list DHCP_Options`).
pub const DHCPV4_OPTIONS: &[OptDef] = &[
    o("offerip", 0, T::Ipv4),
    o("netmask", 1, T::Ipv4),
    o("router", 3, T::Ipv4),
    o("dns_server", 6, T::Ipv4),
    o("log_server", 7, T::Ipv4),
    o("lpr_server", 9, T::Ipv4),
    o("hostname", 12, T::Str),
    o("domain_name", 15, T::Str),
    o("swap_server", 16, T::Ipv4),
    o("ip_forward_enable", 19, T::Bool),
    o("policy_filter", 21, T::Ipv4),
    o("default_ttl", 23, T::U8),
    o("mtu", 26, T::U16),
    o("broadcast_address", 28, T::Ipv4),
    o("router_discovery", 31, T::Bool),
    o("router_solicitation", 32, T::Ipv4),
    o("arp_cache_timeout", 35, T::U32),
    o("ethernet_encap", 36, T::Bool),
    o("tcp_ttl", 37, T::U8),
    o("tcp_keepalive_interval", 38, T::U32),
    o("nis_server", 41, T::Ipv4),
    o("ntp_server", 42, T::Ipv4),
    o("netbios_name_server", 44, T::Ipv4),
    o("netbios_node_type", 46, T::U8),
    o("lease_time", 51, T::U32),
    o("server_id", 54, T::Ipv4),
    o("T1", 58, T::U32),
    o("T2", 59, T::U32),
    o("tftp_server", 66, T::HostId),
    o("bootfile_name", 67, T::Str),
    o("domain_search_list", 119, T::Domains),
    o("classless_static_route", 121, T::StaticRoutes),
    o("tftp_server_address", 150, T::Ipv4),
    o("path_prefix", 210, T::Str),
    o("ms_classless_static_route", 249, T::StaticRoutes),
    o("wpad", 252, T::Str),
    o("next_server", 253, T::Ipv4),
    o("bootfile_name_alt", 254, T::Str),
];

/// DHCPv6 options of ovn-northd 23.03 (`ovn-sbctl list DHCPv6_Options`).
pub const DHCPV6_OPTIONS: &[OptDef] = &[
    o("server_id", 2, T::Mac),
    o("ia_addr", 5, T::Ipv6),
    o("dns_server", 23, T::Ipv6),
    o("domain_search", 24, T::Str),
];

/// IPv6 router advertisement options accepted by `put_nd_ra_opts` (codes are ND option types;
/// `addr_mode` and `router_preference` set header flags instead).
pub const ND_RA_OPTIONS: &[OptDef] = &[
    o("addr_mode", 0, T::Str),
    o("router_preference", 0, T::Str),
    o("slla", 1, T::Mac),
    o("prefix", 3, T::Ipv6),
    o("mtu", 5, T::U32),
    o("route_info", 24, T::Str),
    o("rdnss", 25, T::Ipv6),
    o("dnssl", 31, T::Str),
];

/// A name → definition table.
#[derive(Debug, Clone)]
pub struct OptTable {
    by_name: HashMap<&'static str, OptDef>,
}

impl OptTable {
    /// Builds a table.
    pub fn new(defs: &[OptDef]) -> Self {
        Self {
            by_name: defs.iter().map(|d| (d.name, *d)).collect(),
        }
    }

    /// Looks an option up by name.
    pub fn get(&self, name: &str) -> Option<&OptDef> {
        self.by_name.get(name)
    }
}

fn ints(set: &ConstSet) -> impl Iterator<Item = &IntConst> {
    set.values.iter().filter_map(|c| match c {
        Const::Int(i, _) => Some(i),
        _ => None,
    })
}

fn first_str(set: &ConstSet) -> Option<&str> {
    set.values.iter().find_map(|c| match c {
        Const::Str(s, _) => Some(s.as_str()),
        _ => None,
    })
}

fn be(v: u128, n: usize, out: &mut Vec<u8>) {
    let b = v.to_be_bytes();
    out.extend_from_slice(&b[16 - n..]);
}

/// DNS name-list encoding with suffix compression (RFC 1035 4.1.4), as OVN does for
/// `domain_search_list`.
pub fn encode_domains(list: &str, out: &mut Vec<u8>) {
    let start = out.len();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        let mut pointer = None;
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".");
            if let Some(&off) = seen.get(&suffix) {
                pointer = Some(off);
                break;
            }
            seen.insert(suffix, out.len() - start);
            let l = labels[i].as_bytes();
            out.push(l.len().min(63) as u8);
            out.extend_from_slice(&l[..l.len().min(63)]);
        }
        match pointer {
            Some(off) => be(0xc000 | (off as u128 & 0x3fff), 2, out),
            None => out.push(0),
        }
    }
}

fn encode_value(ty: OptType, set: &ConstSet, out: &mut Vec<u8>) {
    match ty {
        T::Ipv4 => ints(set).for_each(|i| be(i.value, 4, out)),
        T::Ipv6 => ints(set).for_each(|i| be(i.value, 16, out)),
        T::Mac => ints(set).for_each(|i| be(i.value, 6, out)),
        T::Bool | T::U8 => ints(set).for_each(|i| be(i.value, 1, out)),
        T::U16 => ints(set).for_each(|i| be(i.value, 2, out)),
        T::U32 => ints(set).for_each(|i| be(i.value, 4, out)),
        T::Str => out.extend_from_slice(first_str(set).unwrap_or("").as_bytes()),
        T::HostId => match first_str(set) {
            Some(s) => out.extend_from_slice(s.as_bytes()),
            None => ints(set).take(1).for_each(|i| be(i.value, 4, out)),
        },
        T::Domains => encode_domains(first_str(set).unwrap_or(""), out),
        T::StaticRoutes => {
            let v: Vec<&IntConst> = ints(set).collect();
            for pair in v.chunks(2) {
                let (net, gw) = match pair {
                    [n, g] => (n, g),
                    _ => break,
                };
                let plen = net.mask.map_or(32, |m| (m as u32).count_ones());
                out.push(plen as u8);
                let bytes = (plen as usize).div_ceil(8);
                let nb = (net.value as u32).to_be_bytes();
                out.extend_from_slice(&nb[..bytes.min(4)]);
                be(gw.value, 4, out);
            }
        }
    }
}

/// One option to encode: its definition and value.
pub type OptValue<'a> = (&'a OptDef, &'a ConstSet);

/// The DHCPv4 payload: `offerip` raw first, then `bootfile_name`, `bootfile_name_alt` and
/// `next_server` (for iPXE chain loading), then the rest in written order, each as
/// code, length, value.
pub fn encode_dhcpv4(opts: &[OptValue<'_>], out: &mut Vec<u8>) {
    let special = [
        "offerip",
        "bootfile_name",
        "bootfile_name_alt",
        "next_server",
    ];
    if let Some((d, v)) = opts.iter().find(|(d, _)| d.name == "offerip") {
        encode_value(d.ty, v, out);
    }
    let mut ordered: Vec<&OptValue<'_>> = Vec::new();
    for name in &special[1..] {
        ordered.extend(opts.iter().filter(|(d, _)| d.name == *name));
    }
    ordered.extend(opts.iter().filter(|(d, _)| !special.contains(&d.name)));
    for (d, v) in ordered {
        let mut val = Vec::new();
        encode_value(d.ty, v, &mut val);
        out.push(d.code as u8);
        out.push(val.len().min(255) as u8);
        out.extend_from_slice(&val[..val.len().min(255)]);
    }
}

/// The DHCPv6 payload: each option as 16-bit code, 16-bit length, value, in written order.
pub fn encode_dhcpv6(opts: &[OptValue<'_>], out: &mut Vec<u8>) {
    for (d, v) in opts {
        let mut val = Vec::new();
        encode_value(d.ty, v, &mut val);
        be(u128::from(d.code), 2, out);
        be(val.len().min(0xffff) as u128, 2, out);
        out.extend_from_slice(&val[..val.len().min(0xffff)]);
    }
}

/// The `put_nd_ra_opts` payload: an ICMPv6 router advertisement header (type 134, hop limit
/// 255, router lifetime 0xffff, M/O flags from `addr_mode`, preference from
/// `router_preference`) followed by `slla`, `mtu`, `rdnss`, `dnssl`, `route_info` and
/// `prefix` options in written order.
pub fn encode_nd_ra(opts: &[OptValue<'_>], out: &mut Vec<u8>) {
    let mode = opts
        .iter()
        .find(|(d, _)| d.name == "addr_mode")
        .and_then(|(_, v)| first_str(v));
    let prf = opts
        .iter()
        .find(|(d, _)| d.name == "router_preference")
        .and_then(|(_, v)| first_str(v));
    let mut flags = match mode {
        Some("dhcpv6_stateful") => 0x80,
        Some("dhcpv6_stateless") => 0x40,
        _ => 0,
    };
    flags |= match prf {
        Some("HIGH") => 0x08,
        Some("LOW") => 0x18,
        _ => 0,
    };
    out.extend_from_slice(&[
        0x86, 0, 0, 0, 0xff, flags, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let prefix_flags = if mode == Some("dhcpv6_stateful") {
        0x80
    } else {
        0xc0
    };
    for (d, v) in opts {
        match d.name {
            "slla" => {
                out.extend_from_slice(&[1, 1]);
                ints(v).take(1).for_each(|i| be(i.value, 6, out));
            }
            "mtu" => {
                out.extend_from_slice(&[5, 1, 0, 0]);
                ints(v).take(1).for_each(|i| be(i.value, 4, out));
            }
            "rdnss" => {
                // RFC 8106: type 25, length in 8-byte units, 2 reserved bytes, infinite
                // lifetime, then the addresses.
                let addrs: Vec<&IntConst> = ints(v).collect();
                let units = (1 + 2 * addrs.len()).min(255) as u8;
                out.extend_from_slice(&[25, units, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                addrs.iter().for_each(|a| be(a.value, 16, out));
            }
            "dnssl" => {
                // RFC 8106: type 31, length in 8-byte units, 2 reserved bytes, infinite
                // lifetime, then each comma-separated domain as DNS labels, zero-padded.
                let start = out.len();
                out.extend_from_slice(&[31, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                let list = first_str(v).unwrap_or_default();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    for l in name.split('.').filter(|l| !l.is_empty()) {
                        let l = &l.as_bytes()[..l.len().min(63)];
                        out.push(l.len() as u8);
                        out.extend_from_slice(l);
                    }
                    out.push(0);
                }
                let padded = (out.len() - start).div_ceil(8) * 8;
                out.resize(start + padded, 0);
                out[start + 1] = (padded / 8).min(255) as u8;
            }
            "route_info" => {
                // RFC 4191 route information: type 24, length in 8-byte units (2 for a prefix
                // of at most 64 bits, else 3), prefix length, preference in bits 3-4,
                // infinite lifetime, then the prefix's leading bytes; one option per
                // comma-separated `PREFERENCE-PREFIX/LEN` (malformed ones are skipped).
                let list = first_str(v).unwrap_or_default();
                for entry in list.split(',').map(str::trim) {
                    let Some((pref, prefix)) = entry.split_once('-') else {
                        continue;
                    };
                    let Some((addr, len)) = prefix.split_once('/') else {
                        continue;
                    };
                    let (Ok(addr), Ok(len)) =
                        (addr.parse::<std::net::Ipv6Addr>(), len.parse::<u8>())
                    else {
                        continue;
                    };
                    if len > 128 {
                        continue;
                    }
                    let pref = match pref {
                        "HIGH" => 0x08,
                        "LOW" => 0x18,
                        _ => 0,
                    };
                    let units: u8 = if len > 64 { 3 } else { 2 };
                    out.extend_from_slice(&[24, units, len, pref, 0xff, 0xff, 0xff, 0xff]);
                    let bytes = addr.octets();
                    out.extend_from_slice(&bytes[..usize::from(units - 1) * 8]);
                }
            }
            "prefix" => {
                for p in ints(v) {
                    let plen = p.mask.map_or(128, u128::count_ones) as u8;
                    out.extend_from_slice(&[3, 4, plen, prefix_flags]);
                    out.extend_from_slice(&[0xff; 8]);
                    out.extend_from_slice(&[0; 4]);
                    be(p.value, 16, out);
                }
            }
            _ => {}
        }
    }
}
