//! Load balancers parsed once: VIPs and backends as addresses, options as typed values.
//! Shared by the switch and router pipelines (and the VIP sets of `nat_addresses`).
//!
//! Facts (ovn-northd 23.03, `ovn_northd_lb_create` / `ovn_lb_vip_init`):
//! - Each `vips` entry is parsed on its own; an entry that fails is left out (ovn-northd logs
//!   a rate-limited warning) and the others stay.
//! - An explicit VIP (`options:template` not `true`, in any case) is `IPv4[:PORT]`, `IPv6`,
//!   `[IPv6]` or `[IPv6]:PORT` ([`parse_lb_addr`], nothing trimmed, port 0 is no port). It
//!   fails when any non-empty comma-separated backend does not parse, is of the other address
//!   family, or has a port while the VIP has none (or none while the VIP has one).
//! - A VIP of a template load balancer is one or two non-empty `:`-separated words
//!   (`^VIP[:PORT]`), kept as text; its address family is the load balancer's
//!   `address-family` option (IPv4 unless set to something other than `ipv4`). Its backends
//!   are, as text, `WORD[:WORD]` each; when one is not, they are parsed as explicit backends
//!   of that family and port presence (and the VIP fails when that fails too). ovn-controller
//!   expands the `^NAME` variables per chassis; the logical flows carry the text.
//! - `ct_lb_mark(backends=...)` carries the NB backends text as written (no health checks),
//!   even `,a,,` (which ovn-controller then cannot parse).
//! - A template VIP's flows are an explicit VIP's with the text in place of the address and
//!   port and the `address-family` for `ip4`/`ip6`; ovn-northd leaves its address unset (an
//!   IPv6 one): session affinity uses IPv6 registers and matches, and writes template backends
//!   without their port.
//! - Session affinity treats IPv4-mapped VIPs as IPv4 (registers, `ip4` matches) and writes
//!   their addresses unbracketed (`::ffff:a.b.c.d:PORT`). A VIP without a port writes
//!   `commit_lb_aff` without `proto`. The affinity check exists for VIPs without backends too.
//! - A datapath "has load balancer VIPs" when a `vips` column of one of its load balancers has
//!   entries, valid or not ([`LoadBalancer::nb_has_vips`]).
//! - The SB `Load_Balancer` row of an IPv6 template load balancer lists its valid entries with
//!   the key reformatted ([`sb_vips`]).

use std::fmt;
use std::net::IpAddr;

use ovn_nb::model as nb;
use ovsdb::model::{Ref, SortedMap};

use crate::error::NbWarning;

/// An `IP[:port]` endpoint (VIP or backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// The address.
    pub ip: IpAddr,
    /// The L4 port, if any.
    pub port: Option<u16>,
}

/// An address (and port, 0 when none) of a load balancer VIP key or backend, parsed as OVS's
/// `inet_parse_active` does for ovn-northd (`ip_address_and_port_from_lb_key`): `IPv4`,
/// `IPv4:PORT`, `IPv6` (bare, with several colons), `[IPv6]` or `[IPv6]:PORT`; an empty port or
/// port 0 is no port. Nothing is trimmed.
pub fn parse_lb_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            _ => (s, None),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    let port = match port {
        None | Some("") => 0,
        Some(p) => p.parse::<u16>().ok()?,
    };
    Some((ip, port))
}

impl Endpoint {
    /// True for IPv4 and IPv4-mapped IPv6 addresses, which session affinity handles as IPv4
    /// (IPv4 registers and matches, the address written as in the NB).
    pub fn v4_like(&self) -> bool {
        match self.ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(a) => a.to_ipv4_mapped().is_some(),
        }
    }

    /// The endpoint as session affinity writes it: `ADDR:PORT` without brackets for an
    /// IPv4-like address ([`Self::v4_like`]), else as [`fmt::Display`].
    pub fn affinity_text(&self) -> String {
        match self.port {
            Some(p) if self.v4_like() => format!("{}:{p}", self.ip),
            _ => self.to_string(),
        }
    }

    /// Parses `IP`, `IP:port`, `[IPv6]` or `[IPv6]:port` as ovn-northd does ([`parse_lb_addr`]).
    pub fn parse(s: &str) -> Option<Self> {
        let (ip, port) = parse_lb_addr(s)?;
        Some(Self {
            ip,
            port: (port != 0).then_some(port),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, None) => write!(f, "{ip}"),
            (IpAddr::V4(ip), Some(p)) => write!(f, "{ip}:{p}"),
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
        }
    }
}

/// One VIP with its backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// The VIP.
    pub vip: Endpoint,
    /// The backends, in NB order.
    pub backends: Vec<Endpoint>,
    /// The backends as written in the NB: what ovn-northd puts in `ct_lb_mark(backends=...)`
    /// (for a health-checked VIP, only the backends available, [`crate::svc_monitor`]).
    pub nb_backends: String,
    /// Health-checked, and no backend is available: new connections are dropped (or
    /// rejected), as for a VIP without backends (but no empty-backend event is raised).
    pub health_down: bool,
}

/// A backend of a template VIP, as text (`^IP`, `^IP:^PORT`, `^BACKENDS`, or an explicit
/// address and port written back normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateBackend {
    /// The address part.
    pub ip: String,
    /// The port part, if any.
    pub port: Option<String>,
    /// The port as a number: explicit backends only (ovn-northd leaves it 0 for template
    /// backends, which session affinity then writes without their port).
    pub num_port: Option<u16>,
}

impl TemplateBackend {
    /// The backend as session affinity writes it: the address, and `:PORT` for an explicit
    /// backend with a port (IPv6 in brackets).
    pub fn affinity_text(&self) -> String {
        match self.num_port {
            Some(p) if self.ip.contains(':') => format!("[{}]:{p}", self.ip),
            Some(p) => format!("{}:{p}", self.ip),
            None => self.ip.clone(),
        }
    }
}

/// One VIP of a template load balancer (`options:template=true`): text that ovn-controller
/// expands per chassis from `Chassis_Template_Var`; ovn-northd writes it into the logical
/// flows as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVip {
    /// The address part of the key (`^VIP`).
    pub vip: String,
    /// The port part of the key, if any (`80`, `^PORT`).
    pub port: Option<String>,
    /// The load balancer's `address-family` is IPv6.
    pub v6: bool,
    /// The backends, in NB order.
    pub backends: Vec<TemplateBackend>,
    /// The backends were not templates but explicit addresses.
    pub explicit_backends: bool,
    /// The backends as written in the NB (what `ct_lb_mark(backends=...)` carries).
    pub nb_backends: String,
}

impl TemplateVip {
    /// The VIP as session affinity writes it (`commit_lb_aff(vip = ...)`): ovn-northd leaves a
    /// template VIP's address unset, an IPv6 one, so `[VIP]:PORT` with a port.
    pub fn affinity_text(&self) -> String {
        match &self.port {
            Some(p) => format!("[{}]:{p}", self.vip),
            None => self.vip.clone(),
        }
    }

    /// The VIP as written in controller events (`VIP[:PORT]`, no brackets).
    pub fn key_text(&self) -> String {
        match &self.port {
            Some(p) => format!("{}:{p}", self.vip),
            None => self.vip.clone(),
        }
    }
}

/// One parsed `vips` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedVip {
    /// A VIP of a load balancer that is not a template.
    Explicit(Vip),
    /// A VIP of a template load balancer.
    Template(TemplateVip),
}

/// Why a `vips` entry is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VipError {
    /// The key is not an address (or template) of the accepted forms.
    Key,
    /// A backend does not parse, is of the other family, or its port does not match the VIP's.
    Backend(String),
}

impl fmt::Display for VipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key => write!(f, "bad VIP"),
            Self::Backend(b) => write!(f, "bad backend {b:?}"),
        }
    }
}

/// The non-empty comma-separated words of a backend list (`strtok_r` on `,`).
fn backend_words(value: &str) -> impl Iterator<Item = &str> + Clone {
    value.split(',').filter(|b| !b.is_empty())
}

/// Explicit backends of a VIP of family `v6` with (`has_port`) or without a port.
fn explicit_backends(value: &str, v6: bool, has_port: bool) -> Result<Vec<Endpoint>, VipError> {
    backend_words(value)
        .map(|b| match parse_lb_addr(b) {
            Some((ip, port)) if ip.is_ipv6() == v6 && (port != 0) == has_port => Ok(Endpoint {
                ip,
                port: (port != 0).then_some(port),
            }),
            _ => Err(VipError::Backend(b.to_owned())),
        })
        .collect()
}

/// The VIP address of an explicit (not template) `vips` entry `key` = `value` when
/// [`parse_vip`] accepts it: checked as it checks it, without building the backend list.
pub fn explicit_vip_ip(key: &str, value: &str) -> Option<IpAddr> {
    let (ip, port) = parse_lb_addr(key)?;
    backend_words(value)
        .all(|b| {
            parse_lb_addr(b).is_some_and(|(bip, bport)| {
                bip.is_ipv6() == ip.is_ipv6() && (bport != 0) == (port != 0)
            })
        })
        .then_some(ip)
}

/// `WORD[:WORD]`, split on `:` with empty words skipped (`strtok_r`), if it has that form.
fn template_words(s: &str) -> Option<(&str, Option<&str>)> {
    let mut words = s.split(':').filter(|w| !w.is_empty());
    let first = words.next()?;
    let second = words.next();
    words.next().is_none().then_some((first, second))
}

/// Parses one `vips` entry (`key` = `value`) of a load balancer that is a template
/// (`template`) or not, with `address-family` IPv6 (`v6_family`, templates only), as
/// ovn-northd 23.03's `ovn_lb_vip_init` does (see the module facts).
pub fn parse_vip(
    key: &str,
    value: &str,
    template: bool,
    v6_family: bool,
) -> Result<ParsedVip, VipError> {
    if !template {
        let (ip, port) = parse_lb_addr(key).ok_or(VipError::Key)?;
        let backends = explicit_backends(value, ip.is_ipv6(), port != 0)?;
        return Ok(ParsedVip::Explicit(Vip {
            vip: Endpoint {
                ip,
                port: (port != 0).then_some(port),
            },
            backends,
            nb_backends: value.to_owned(),
            health_down: false,
        }));
    }
    let (vip, port) = template_words(key).ok_or(VipError::Key)?;
    let templated: Option<Vec<TemplateBackend>> = backend_words(value)
        .map(|b| {
            template_words(b).map(|(ip, port)| TemplateBackend {
                ip: ip.to_owned(),
                port: port.map(str::to_owned),
                num_port: None,
            })
        })
        .collect();
    let (backends, explicit) = match templated {
        Some(b) => (b, false),
        None => {
            let b = explicit_backends(value, v6_family, port.is_some())?;
            let b = b
                .into_iter()
                .map(|e| TemplateBackend {
                    ip: e.ip.to_string(),
                    port: e.port.map(|p| p.to_string()),
                    num_port: e.port,
                })
                .collect();
            (b, true)
        }
    };
    Ok(ParsedVip::Template(TemplateVip {
        vip: vip.to_owned(),
        port: port.map(str::to_owned),
        v6: v6_family,
        backends,
        explicit_backends: explicit,
        nb_backends: value.to_owned(),
    }))
}

/// A load balancer's `template` option (`smap_get_bool`: `true` in any case) and whether its
/// `address-family` is IPv6 (anything but `ipv4`), as its VIPs are read with them.
pub(crate) fn vip_options(lb: &nb::LoadBalancer) -> (bool, bool) {
    let template = lb
        .options
        .get("template")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let v6_family = lb
        .options
        .get("address-family")
        .is_some_and(|v| v != "ipv4");
    (template, v6_family)
}

/// The `vips` column ovn-northd writes into the SB `Load_Balancer` row of NB load balancer
/// `lb` (`ovn_northd_lb_get_vips`): the NB column, except for a template load balancer of
/// address family IPv6 with valid entries, whose valid entries are written with the key
/// reformatted for ovn-controller (`[^VIP]:PORT` for a variable, else `VIP[:PORT]`), the
/// backends as written.
pub fn sb_vips(lb: &nb::LoadBalancer) -> SortedMap<String, String> {
    let (template, v6_family) = vip_options(lb);
    if !(template && v6_family) {
        return lb.vips.clone();
    }
    let mut out = SortedMap::new();
    for (k, v) in &lb.vips {
        if let Ok(ParsedVip::Template(t)) = parse_vip(k, v, true, true) {
            let vip = if t.vip.starts_with('^') {
                format!("[{}]", t.vip)
            } else {
                t.vip
            };
            let key = match t.port {
                Some(p) => format!("{vip}:{p}"),
                None => vip,
            };
            out.insert(key, v.clone());
        }
    }
    if out.is_empty() {
        return lb.vips.clone();
    }
    out
}

/// A load balancer's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LbOptions {
    /// `reject`: reply with a reject to VIPs without backends.
    pub reject: bool,
    /// `event`: report VIPs without backends to the controller.
    pub event: bool,
    /// `affinity_timeout` in seconds (at most 65535).
    pub affinity_timeout: Option<u32>,
    /// `skip_snat`.
    pub skip_snat: bool,
    /// `template`: VIPs and backends are templates.
    pub template: bool,
    /// `address-family` is IPv6 (for template VIPs).
    pub v6_family: bool,
    /// `neighbor_responder=all` (routers answer ARP/ND for every VIP, template ones too).
    pub neighbor_all: bool,
    /// `selection_fields` as the `ct_lb_mark` argument `hash_fields="..."` (sorted; `tp_src`
    /// and `tp_dst` named after the protocol), if any.
    pub hash_fields: Option<String>,
}

/// A parsed NB load balancer.
#[derive(Debug, Clone)]
pub struct LoadBalancer {
    /// The NB row.
    pub nb: Ref<nb::LoadBalancer>,
    /// `name`.
    pub name: String,
    /// `protocol` (`tcp` when unset).
    pub protocol: &'static str,
    /// Explicit VIPs that parsed (empty for a template load balancer).
    pub vips: Vec<Vip>,
    /// Template VIPs that parsed (those of a template load balancer).
    pub template_vips: Vec<TemplateVip>,
    /// The NB `vips` column has entries, valid or not: what ovn-northd's `has_lb_vip` of a
    /// datapath looks at.
    pub nb_has_vips: bool,
    /// Options.
    pub options: LbOptions,
}

impl LoadBalancer {
    /// The template VIPs a router answers ARP/ND for (`neighbor_responder=all`), as text, each
    /// with its family (the load balancer's `address-family`: true for IPv6).
    pub fn responder_template_vips(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        self.template_vips
            .iter()
            .filter(|_| self.options.neighbor_all)
            .map(|v| (v.vip.as_str(), v.v6))
    }

    /// True when at least one VIP (explicit or template) parsed.
    pub fn has_vips(&self) -> bool {
        !self.vips.is_empty() || !self.template_vips.is_empty()
    }
}

/// A boolean option as OVS's `smap_get_bool` with default false reads it: `true` in any case
/// is true, anything else false (values other than `true`/`false` are reported).
fn bool_opt(lb: &nb::LoadBalancer, key: &str, warnings: &mut Vec<NbWarning>) -> bool {
    match lb.options.get(key) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            warnings.push(NbWarning::BadOption {
                owner: format!("load balancer {}", lb.name),
                key: key.to_owned(),
                value: v.to_owned(),
            });
            false
        }
    }
}

impl LoadBalancer {
    /// Parses an NB row; bad VIPs and options are reported and left out.
    pub fn parse(lb: &nb::LoadBalancer, warnings: &mut Vec<NbWarning>) -> Self {
        let protocol = lb.protocol.map_or("tcp", |p| p.as_str());
        let template = bool_opt(lb, "template", warnings);
        let v6_family = lb
            .options
            .get("address-family")
            .is_some_and(|v| v != "ipv4");
        let mut vips = Vec::new();
        let mut template_vips = Vec::new();
        for (k, v) in &lb.vips {
            match parse_vip(k, v, template, v6_family) {
                Ok(ParsedVip::Explicit(vip)) => vips.push(vip),
                Ok(ParsedVip::Template(vip)) => template_vips.push(vip),
                Err(e) => warnings.push(NbWarning::BadOption {
                    owner: format!("load balancer {}", lb.name),
                    key: "vips".to_owned(),
                    value: format!("{k}={v} ({e})"),
                }),
            }
        }
        // `smap_get_uint`: a value that is not a number is 0 (off); at most 65535.
        let affinity_timeout = match lb.options.get("affinity_timeout") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(0) => None,
                Ok(t) => Some(u32::try_from(t.min(u64::from(u16::MAX))).unwrap_or(0)),
                Err(_) => {
                    warnings.push(NbWarning::BadOption {
                        owner: format!("load balancer {}", lb.name),
                        key: "affinity_timeout".to_owned(),
                        value: v.clone(),
                    });
                    None
                }
            },
        };
        let options = LbOptions {
            reject: bool_opt(lb, "reject", warnings),
            event: bool_opt(lb, "event", warnings),
            affinity_timeout,
            skip_snat: bool_opt(lb, "skip_snat", warnings),
            template,
            v6_family,
            neighbor_all: lb
                .options
                .get("neighbor_responder")
                .is_some_and(|v| v == "all"),
            hash_fields: (!lb.selection_fields.is_empty()).then(|| {
                let names: Vec<String> = lb
                    .selection_fields
                    .iter()
                    .map(|f| match f.as_str().strip_prefix("tp_") {
                        Some(dir) => format!("{protocol}_{dir}"),
                        None => f.as_str().to_owned(),
                    })
                    .collect();
                format!("hash_fields=\"{}\"", names.join(","))
            }),
        };
        Self {
            nb: lb.uuid,
            name: lb.name.clone(),
            protocol,
            vips,
            template_vips,
            nb_has_vips: !lb.vips.is_empty(),
            options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for s in ["10.0.0.1", "10.0.0.1:80", "[fd00::1]:53", "fd00::1"] {
            assert_eq!(
                Endpoint::parse(s).map(|e| e.to_string()).as_deref(),
                Some(s)
            );
        }
        assert!(Endpoint::parse("10.0.0.1:x").is_none());
        assert!(Endpoint::parse(" 10.0.0.1:80").is_none());
        assert_eq!(Endpoint::parse("10.0.0.1:0").map(|e| e.port), Some(None));
    }

    /// Which entries ovn-northd 23.03 keeps (see also `vip_validity_as_ovn_northd` in the
    /// router's `gateway_hash`, checked against real `nat_addresses`).
    #[test]
    fn vip_validity() {
        let ok = |k: &str, v: &str| parse_vip(k, v, false, false).is_ok();
        assert!(ok("10.0.0.1:80", "10.1.0.1:8080,10.1.0.2:8080"));
        assert!(ok("10.0.0.1:80", ",10.1.0.1:8080,,"));
        assert!(ok("10.0.0.1", "10.1.0.1"));
        assert!(ok("10.0.0.1:80", ""));
        assert!(!ok("10.0.0.1:80", "10.1.0.1"));
        assert!(!ok("10.0.0.1", "10.1.0.1:80"));
        assert!(!ok("10.0.0.1:80", "[fd00::1]:80"));
        assert!(!ok("[fd00::1]:80", "10.1.0.1:80"));
        assert!(!ok("10.0.0.1:80", "10.1.0.1:80, 10.1.0.2:80"));
        assert!(!ok("10.0.0.1:80", "10.1.0.1:80,junk"));
        assert!(!ok("^VIP:80", "^B"));

        let t = |k: &str, v: &str, v6: bool| parse_vip(k, v, true, v6);
        let Ok(ParsedVip::Template(tv)) = t("^VIP:80", "^IP:^PORT,^B", true) else {
            panic!("template VIP rejected");
        };
        assert_eq!(tv.vip, "^VIP");
        assert_eq!(tv.port.as_deref(), Some("80"));
        assert_eq!(tv.backends.len(), 2);
        assert_eq!(tv.backends[0].port.as_deref(), Some("^PORT"));
        // Not a template (three words): parsed as explicit backends of the family.
        let Ok(ParsedVip::Template(tv)) = t("^VIP:80", "[fd01::5]:8080", true) else {
            panic!("explicit backends of a template VIP rejected");
        };
        assert!(tv.explicit_backends);
        assert_eq!(tv.backends[0].ip, "fd01::5");
        assert!(t("^VIP:80", "[fd01::5]:8080", false).is_err());
        assert!(t("^VIP:80", "^A:b:c", false).is_err());
        assert!(t("^VIP:80:x", "^B", false).is_err());
        assert!(t("", "^B", false).is_err());
    }

    /// The SB `vips` of an IPv6 template load balancer: valid entries, keys reformatted.
    #[test]
    fn sb_vips_of_ipv6_templates() {
        let mut lb = nb::LoadBalancer::default();
        for (k, v) in [
            ("^V:80", "^B"),
            ("^W", "^C"),
            ("^X:80", "^A:b:c"),
            ("fd00::1", ""),
        ] {
            lb.vips.insert(k.to_owned(), v.to_owned());
        }
        assert_eq!(sb_vips(&lb), lb.vips);
        lb.options.insert("template".to_owned(), "true".to_owned());
        lb.options
            .insert("address-family".to_owned(), "ipv6".to_owned());
        let sb = sb_vips(&lb);
        let got: Vec<(&str, &str)> = sb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // `fd00::1` is two template words: `fd00` port `1`.
        assert_eq!(got, [("[^V]:80", "^B"), ("[^W]", "^C"), ("fd00:1", "")]);
    }
}
