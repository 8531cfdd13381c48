//! Address syntax used throughout the Northbound database: Ethernet addresses, IP networks with a
//! prefix length (`10.0.0.1/24`, router port `networks`), and the entries of a logical switch
//! port's `addresses` and `port_security` columns as ovn-nb(5) defines them.
//!
//! Parsing is strict in the same places ovn-nbctl is (six hexadecimal octets for a MAC, prefix
//! lengths within the family's width) and every error names the text that was wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An error in address syntax; each variant carries the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Not an Ethernet address (`xx:xx:xx:xx:xx:xx`).
    #[error("{0}: invalid MAC address")]
    Mac(String),
    /// Not an IPv4 or IPv6 address.
    #[error("{0}: invalid IP address")]
    Ip(String),
    /// Not an address with a prefix length (`IP/LEN`), or the length is out of range.
    #[error("{0}: invalid IP network (expected IP/PREFIX)")]
    Network(String),
    /// A logical switch port address entry that ovn-nb(5) does not allow.
    #[error(
        "{0}: Invalid address format. See ovn-nb(5). Hint: An Ethernet address must be listed \
         before an IP address, together as a single argument."
    )]
    LspAddress(String),
}

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Self = Self([0xff; 6]);

    /// True for a group (multicast or broadcast) address.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }

    /// The address as a 48-bit integer.
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
    }
}

impl FromStr for MacAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrError::Mac(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let p = parts.next().ok_or_else(err)?;
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Self(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// An IP address together with a prefix length, as in `10.0.0.1/24` or `fd00::1/64`.
///
/// The host bits are kept: router port `networks` name the router's own address this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Builds a network, checking the prefix length against the address family.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        (prefix <= max_prefix(addr)).then_some(Self { addr, prefix })
    }

    /// A host route: the address with a full-length prefix.
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// The address as written (host bits kept).
    pub fn addr(self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// The network address: host bits cleared.
    pub fn network(self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(self.prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(self.prefix))),
        }
    }

    /// The IPv4 broadcast address of the network (`None` for IPv6).
    pub fn broadcast(self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) => Some(Ipv4Addr::from(u32::from(a) | !mask32(self.prefix))),
            IpAddr::V6(_) => None,
        }
    }

    /// True when `ip` lies inside this network.
    pub fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let m = mask32(self.prefix);
                u32::from(a) & m == u32::from(b) & m
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let m = mask128(self.prefix);
                u128::from(a) & m == u128::from(b) & m
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for IpNet {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrError::Network(s.to_owned());
        let (ip, len) = s.split_once('/').ok_or_else(err)?;
        let addr: IpAddr = ip.parse().map_err(|_| err())?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let prefix: u8 = len.parse().map_err(|_| err())?;
        Self::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses an IP address, naming the text on error.
pub fn parse_ip(s: &str) -> Result<IpAddr, AddrError> {
    s.parse().map_err(|_| AddrError::Ip(s.to_owned()))
}

/// Parses `IP` or `IP/LEN` (a bare address becomes a host route), as static routes' prefixes and
/// NAT's logical IPs accept.
pub fn parse_ip_or_net(s: &str) -> Result<IpNet, AddrError> {
    if s.contains('/') {
        s.parse()
    } else {
        parse_ip(s).map(IpNet::host)
    }
}

/// One entry of a logical switch port's `addresses` column (ovn-nb(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LspAddress {
    /// `unknown`: the port also receives packets for unknown destination MACs.
    Unknown,
    /// `router`: the addresses are taken from the peer router port.
    Router,
    /// `dynamic`, `MAC dynamic`, `dynamic IP` or `dynamic IPV6`: addresses allocated by northd
    /// from the switch's `other_config` (a fixed part, if given, is kept).
    Dynamic {
        /// A MAC fixed by the user (`MAC dynamic`).
        mac: Option<MacAddr>,
        /// An IPv4 address fixed by the user (`dynamic IP`).
        ipv4: Option<Ipv4Addr>,
        /// An IPv6 address fixed by the user (`dynamic IPV6`).
        ipv6: Option<Ipv6Addr>,
    },
    /// `MAC [IP...]`: a static Ethernet address with zero or more IP addresses.
    Static {
        /// The Ethernet address.
        mac: MacAddr,
        /// The IP addresses, with a prefix length when one was written.
        ips: Vec<IpNet>,
    },
}

impl FromStr for LspAddress {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrError::LspAddress(s.to_owned());
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            ["unknown"] => return Ok(Self::Unknown),
            ["router"] => return Ok(Self::Router),
            ["dynamic"] => {
                return Ok(Self::Dynamic {
                    mac: None,
                    ipv4: None,
                    ipv6: None,
                })
            }
            ["dynamic", rest @ ..] if !rest.is_empty() && rest.len() <= 2 => {
                let (mut ipv4, mut ipv6) = (None, None);
                for w in rest {
                    match w.parse::<IpAddr>().map_err(|_| err())? {
                        IpAddr::V4(a) if ipv4.is_none() => ipv4 = Some(a),
                        IpAddr::V6(a) if ipv6.is_none() => ipv6 = Some(a),
                        _ => return Err(err()),
                    }
                }
                return Ok(Self::Dynamic {
                    mac: None,
                    ipv4,
                    ipv6,
                });
            }
            [mac, "dynamic"] => {
                let mac = mac.parse().map_err(|_| err())?;
                return Ok(Self::Dynamic {
                    mac: Some(mac),
                    ipv4: None,
                    ipv6: None,
                });
            }
            _ => {}
        }
        let (first, rest) = words.split_first().ok_or_else(err)?;
        let mac: MacAddr = first.parse().map_err(|_| err())?;
        let ips = rest
            .iter()
            .map(|w| parse_ip_or_net(w).map_err(|_| err()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Static { mac, ips })
    }
}

impl fmt::Display for LspAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown"),
            Self::Router => f.write_str("router"),
            Self::Dynamic { mac, ipv4, ipv6 } => {
                if let Some(mac) = mac {
                    return write!(f, "{mac} dynamic");
                }
                f.write_str("dynamic")?;
                if let Some(a) = ipv4 {
                    write!(f, " {a}")?;
                }
                if let Some(a) = ipv6 {
                    write!(f, " {a}")?;
                }
                Ok(())
            }
            Self::Static { mac, ips } => {
                write!(f, "{mac}")?;
                for ip in ips {
                    if ip.prefix() == max_prefix(ip.addr()) {
                        write!(f, " {}", ip.addr())?;
                    } else {
                        write!(f, " {ip}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_format() {
        let m: MacAddr = "0A:0:00:ff:1:02".parse().unwrap();
        assert_eq!(m.to_string(), "0a:00:00:ff:01:02");
        assert!(!m.is_multicast());
        assert!(MacAddr::BROADCAST.is_multicast());
        for bad in [
            "",
            "0a:00:00:ff:01",
            "0a:00:00:ff:01:02:03",
            "0g:00:00:00:00:00",
            "123:0:0:0:0:0",
        ] {
            assert_eq!(
                bad.parse::<MacAddr>(),
                Err(AddrError::Mac(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn networks() {
        let n: IpNet = "10.1.2.3/24".parse().unwrap();
        assert_eq!(n.network().to_string(), "10.1.2.0");
        assert_eq!(n.broadcast().unwrap().to_string(), "10.1.2.255");
        assert!(n.contains("10.1.2.200".parse().unwrap()));
        assert!(!n.contains("10.1.3.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let z: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(z.contains("8.8.8.8".parse().unwrap()));
        let v6: IpNet = "fd00::5/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "fd00::");
        assert_eq!(v6.broadcast(), None);
        for bad in [
            "10.0.0.1",
            "10.0.0.1/33",
            "10.0.0.1/",
            "10.0.0.1/+3",
            "fd00::/129",
            "x/3",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
        assert_eq!(
            parse_ip_or_net("10.0.0.1").unwrap().to_string(),
            "10.0.0.1/32"
        );
    }

    #[test]
    fn lsp_addresses() {
        let cases = [
            "unknown",
            "router",
            "dynamic",
            "0a:00:00:00:00:01 dynamic",
            "dynamic 10.0.0.5",
            "dynamic 10.0.0.5 fd00::5",
            "0a:00:00:00:00:01",
            "0a:00:00:00:00:01 10.0.0.1 fd00::1",
            "0a:00:00:00:00:01 10.0.0.1/24",
        ];
        for c in cases {
            let a: LspAddress = c.parse().unwrap();
            assert_eq!(a.to_string(), c);
        }
        for bad in [
            "",
            "10.0.0.1",
            "0a:00:00:00:00:01 nope",
            "dynamic x",
            "dynamic 1.1.1.1 2.2.2.2",
        ] {
            assert!(
                matches!(bad.parse::<LspAddress>(), Err(AddrError::LspAddress(_))),
                "{bad}"
            );
        }
    }
}
