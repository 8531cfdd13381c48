//! The action syntax tree and its printer in OVN's normalized text (what `ovn-trace` and
//! OVN's `ovnacts_format` print).
//!
//! Every [`Action`] prints as `text;`; an [`Actions`] list prints its actions separated by one
//! space, and an empty list prints as `drop;`.  Printing then re-parsing (with the same
//! [`super::ParseContext`]) yields an equal tree.  This module does not check types; the
//! parser does.

use std::fmt;
use std::net::IpAddr;

use crate::lex::{quote, IntConst};
use crate::parse::{ConstSet, FieldRef};

/// A logical pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pipeline {
    /// The ingress pipeline (OpenFlow tables from 8).
    Ingress,
    /// The egress pipeline (OpenFlow tables from 42).
    Egress,
}

impl Pipeline {
    /// `ingress` or `egress`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

/// A constant assigned by `field = constant;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer, possibly masked.
    Int(IntConst),
    /// A string (port names for `inport`/`outport`).
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::Str(s) => f.write_str(&quote(s)),
        }
    }
}

/// The kind of a `ct_dnat`/`ct_snat`-style action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtNatKind {
    /// `ct_dnat`
    Dnat,
    /// `ct_snat`
    Snat,
    /// `ct_dnat_in_czone`
    DnatInCzone,
    /// `ct_snat_in_czone`
    SnatInCzone,
}

impl CtNatKind {
    /// The action name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dnat => "ct_dnat",
            Self::Snat => "ct_snat",
            Self::DnatInCzone => "ct_dnat_in_czone",
            Self::SnatInCzone => "ct_snat_in_czone",
        }
    }
}

/// One load-balancer backend, `ip[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Address.
    pub ip: IpAddr,
    /// L4 port, if given.
    pub port: Option<u16>,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
            (a, Some(p)) => write!(f, "{a}:{p}"),
            (a, None) => write!(f, "{a}"),
        }
    }
}

/// `ct_lb`/`ct_lb_mark` flag after the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtLbFlag {
    /// `skip_snat`
    SkipSnat,
    /// `force_snat`
    ForceSnat,
}

/// `ct_lb(...)` / `ct_lb_mark(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLb {
    /// `ct_lb_mark` (NAT flag in `ct_mark`) rather than `ct_lb` (in `ct_label`).
    pub mark: bool,
    /// Backends; empty for the bare form.
    pub backends: Vec<Backend>,
    /// `hash_fields="..."`, if given.
    pub hash_fields: Option<String>,
    /// Trailing flag.
    pub flag: Option<CtLbFlag>,
}

/// The kind of a nested-action packet generator (`arp { ... }` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NestedKind {
    /// `clone`
    Clone,
    /// `arp`
    Arp,
    /// `nd_na`
    NdNa,
    /// `nd_na_router`
    NdNaRouter,
    /// `nd_ns`
    NdNs,
    /// `icmp4`
    Icmp4,
    /// `icmp4_error`
    Icmp4Error,
    /// `icmp6`
    Icmp6,
    /// `icmp6_error`
    Icmp6Error,
    /// `tcp_reset`
    TcpReset,
    /// `sctp_abort`
    SctpAbort,
    /// `reject`
    Reject,
}

impl NestedKind {
    /// The action name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clone => "clone",
            Self::Arp => "arp",
            Self::NdNa => "nd_na",
            Self::NdNaRouter => "nd_na_router",
            Self::NdNs => "nd_ns",
            Self::Icmp4 => "icmp4",
            Self::Icmp4Error => "icmp4_error",
            Self::Icmp6 => "icmp6",
            Self::Icmp6Error => "icmp6_error",
            Self::TcpReset => "tcp_reset",
            Self::SctpAbort => "sctp_abort",
            Self::Reject => "reject",
        }
    }

    /// Every kind, for the parser's keyword table.
    pub const ALL: [Self; 12] = [
        Self::Clone,
        Self::Arp,
        Self::NdNa,
        Self::NdNaRouter,
        Self::NdNs,
        Self::Icmp4,
        Self::Icmp4Error,
        Self::Icmp6,
        Self::Icmp6Error,
        Self::TcpReset,
        Self::SctpAbort,
        Self::Reject,
    ];
}

/// `R = f(...)` functions that return one bit (or a port for `get_fdb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultFn {
    /// `chk_lb_hairpin()`
    ChkLbHairpin,
    /// `chk_lb_hairpin_reply()`
    ChkLbHairpinReply,
    /// `check_in_port_sec()`
    CheckInPortSec,
    /// `check_out_port_sec()`
    CheckOutPortSec,
    /// `chk_lb_aff()`
    ChkLbAff,
    /// `chk_ecmp_nh_mac()`
    ChkEcmpNhMac,
    /// `chk_ecmp_nh()`
    ChkEcmpNh,
    /// `dns_lookup()`
    DnsLookup,
}

impl ResultFn {
    /// The function name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ChkLbHairpin => "chk_lb_hairpin",
            Self::ChkLbHairpinReply => "chk_lb_hairpin_reply",
            Self::CheckInPortSec => "check_in_port_sec",
            Self::CheckOutPortSec => "check_out_port_sec",
            Self::ChkLbAff => "chk_lb_aff",
            Self::ChkEcmpNhMac => "chk_ecmp_nh_mac",
            Self::ChkEcmpNh => "chk_ecmp_nh",
            Self::DnsLookup => "dns_lookup",
        }
    }

    /// Every function, for the parser's keyword table.
    pub const ALL: [Self; 8] = [
        Self::ChkLbHairpin,
        Self::ChkLbHairpinReply,
        Self::CheckInPortSec,
        Self::CheckOutPortSec,
        Self::ChkLbAff,
        Self::ChkEcmpNhMac,
        Self::ChkEcmpNh,
        Self::DnsLookup,
    ];
}

/// The MAC-binding style lookups and stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (ARP).
    V4,
    /// IPv6 (ND).
    V6,
}

/// Which option table a `put_*_opts` action uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptsKind {
    /// `put_dhcp_opts`
    Dhcpv4,
    /// `put_dhcpv6_opts`
    Dhcpv6,
    /// `put_nd_ra_opts`
    NdRa,
}

impl OptsKind {
    /// The function name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dhcpv4 => "put_dhcp_opts",
            Self::Dhcpv6 => "put_dhcpv6_opts",
            Self::NdRa => "put_nd_ra_opts",
        }
    }
}

/// One `name = value` option of `put_dhcp_opts` and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOption {
    /// Option name.
    pub name: String,
    /// Value(s).
    pub value: ConstSet,
}

/// `log(...)` verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `allow`
    Allow,
    /// `drop`
    Drop,
    /// `reject`
    Reject,
}

impl Verdict {
    /// Name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Drop => "drop",
            Self::Reject => "reject",
        }
    }

    /// The byte ovn-controller sends to pinctrl.
    pub fn code(self) -> u8 {
        match self {
            Self::Allow => 0,
            Self::Drop => 1,
            Self::Reject => 2,
        }
    }
}

/// `log(...)` severities (syslog levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `alert` (1)
    Alert,
    /// `warning` (4)
    Warning,
    /// `notice` (5)
    Notice,
    /// `info` (6)
    Info,
    /// `debug` (7)
    Debug,
}

impl Severity {
    /// Name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Warning => "warning",
            Self::Notice => "notice",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }

    /// The syslog level.
    pub fn code(self) -> u8 {
        match self {
            Self::Alert => 1,
            Self::Warning => 4,
            Self::Notice => 5,
            Self::Info => 6,
            Self::Debug => 7,
        }
    }
}

/// `log(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// `name="..."`
    pub name: Option<String>,
    /// `verdict=...`
    pub verdict: Verdict,
    /// `severity=...` (default `info`)
    pub severity: Severity,
    /// `meter="..."`
    pub meter: Option<String>,
}

/// `trigger_event(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerEvent {
    /// Event name (`empty_lb_backends`).
    pub event: String,
    /// `key = "value"` options, in written order.
    pub options: Vec<(String, String)>,
}

/// `commit_lb_aff(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitLbAff {
    /// VIP address.
    pub vip: IpAddr,
    /// VIP port, if any.
    pub vip_port: Option<u16>,
    /// Backend address.
    pub backend: IpAddr,
    /// Backend port, if any.
    pub backend_port: Option<u16>,
    /// IP protocol number (6 tcp, 17 udp, 132 sctp), if given.
    pub proto: Option<u8>,
    /// Idle timeout in seconds.
    pub timeout: u16,
}

/// `sample(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Packets out of 65535.
    pub probability: u16,
    /// Collector set id.
    pub collector_set: u32,
    /// Observation domain (8 bits).
    pub obs_domain: u8,
    /// Observation point id.
    pub obs_point: ObsPoint,
}

/// The observation point of a `sample` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObsPoint {
    /// A fixed id.
    Id(u32),
    /// `$cookie`: the first 32 bits of the logical flow's UUID (its OpenFlow cookie).
    Cookie,
}

impl fmt::Display for ObsPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(v) => write!(f, "{v}"),
            Self::Cookie => f.write_str("$cookie"),
        }
    }
}

/// One logical action.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `next;`, `next(N);`, `next(pipeline=P, table=N);`.
    Next {
        /// Target pipeline.
        pipeline: Pipeline,
        /// Target logical table.
        table: u8,
        /// Pipeline of the flow containing the action.
        src_pipeline: Pipeline,
        /// Table of the flow containing the action.
        src_table: u8,
    },
    /// `output;`
    Output,
    /// `field = constant;`
    Load {
        /// Destination.
        dst: FieldRef,
        /// Value.
        value: Value,
    },
    /// `dst = src;`
    Move {
        /// Destination.
        dst: FieldRef,
        /// Source.
        src: FieldRef,
    },
    /// `a <-> b;`
    Exchange {
        /// Left side.
        a: FieldRef,
        /// Right side.
        b: FieldRef,
    },
    /// `push(field);`
    Push(FieldRef),
    /// `pop(field);`
    Pop(FieldRef),
    /// `ip.ttl--;`
    DecTtl,
    /// `ct_next;`
    CtNext,
    /// `ct_commit;` or `ct_commit { ... };` (only `ct_mark`/`ct_label` assignments inside).
    CtCommit(Vec<Self>),
    /// `ct_commit_nat;`
    CtCommitNat,
    /// `ct_dnat`, `ct_snat`, and their `_in_czone` forms.
    CtNat {
        /// Which action.
        kind: CtNatKind,
        /// Address to NAT to (none for the bare form).
        ip: Option<IpAddr>,
        /// Port range `lo[-hi]`.
        ports: Option<(u16, u16)>,
    },
    /// `ct_lb...`
    CtLb(CtLb),
    /// `ct_clear;`
    CtClear,
    /// `ct_snat_to_vip;`
    CtSnatToVip,
    /// `clone { ... }`, `arp { ... }` and the other nested-action packet generators.
    Nested {
        /// Which.
        kind: NestedKind,
        /// Inner actions (empty prints as `drop;`).
        actions: Vec<Self>,
    },
    /// `get_arp(P, A);` / `get_nd(P, A);`
    GetMac {
        /// ARP or ND.
        family: Family,
        /// Port field.
        port: FieldRef,
        /// IP field.
        ip: FieldRef,
    },
    /// `put_arp(P, A, M);` / `put_nd(P, A, M);`
    PutMac {
        /// ARP or ND.
        family: Family,
        /// Port field.
        port: FieldRef,
        /// IP field.
        ip: FieldRef,
        /// MAC field.
        mac: FieldRef,
    },
    /// `R = lookup_arp(P, A, M);` / `R = lookup_nd(P, A, M);`
    LookupMac {
        /// ARP or ND.
        family: Family,
        /// Result bit.
        dst: FieldRef,
        /// Port field.
        port: FieldRef,
        /// IP field.
        ip: FieldRef,
        /// MAC field.
        mac: FieldRef,
    },
    /// `R = lookup_arp_ip(P, A);` / `R = lookup_nd_ip(P, A);`
    LookupMacIp {
        /// ARP or ND.
        family: Family,
        /// Result bit.
        dst: FieldRef,
        /// Port field.
        port: FieldRef,
        /// IP field.
        ip: FieldRef,
    },
    /// `R = put_dhcp_opts(...)`, `R = put_dhcpv6_opts(...)`, `R = put_nd_ra_opts(...)`.
    PutOpts {
        /// Which option table.
        kind: OptsKind,
        /// Result bit.
        dst: FieldRef,
        /// Options in written order.
        options: Vec<GenOption>,
    },
    /// `R = chk_lb_hairpin();` and the other no-argument bit functions.
    Result {
        /// Which function.
        func: ResultFn,
        /// Result bit.
        dst: FieldRef,
    },
    /// `R = check_pkt_larger(L);`
    CheckPktLarger {
        /// Result bit.
        dst: FieldRef,
        /// Length threshold.
        len: u16,
    },
    /// `P = get_fdb(M);`
    GetFdb {
        /// Destination (a port field or a 32-bit field).
        dst: FieldRef,
        /// MAC field.
        mac: FieldRef,
    },
    /// `put_fdb(P, M);`
    PutFdb {
        /// Port field.
        port: FieldRef,
        /// MAC field.
        mac: FieldRef,
    },
    /// `R = lookup_fdb(P, M);`
    LookupFdb {
        /// Result bit.
        dst: FieldRef,
        /// Port field.
        port: FieldRef,
        /// MAC field.
        mac: FieldRef,
    },
    /// `R = select(v=w, ...);`
    Select {
        /// Result field (at least 16 bits).
        dst: FieldRef,
        /// `(value, weight)` pairs.
        members: Vec<(u16, u16)>,
    },
    /// `log(...);`
    Log(Log),
    /// `set_queue(N);`
    SetQueue(u16),
    /// `set_meter(rate[, burst]);`
    SetMeter {
        /// kbps.
        rate: u32,
        /// Burst size, if given.
        burst: Option<u32>,
    },
    /// `trigger_event(...);`
    TriggerEvent(TriggerEvent),
    /// `bind_vport("V", P);`
    BindVport {
        /// Virtual port name.
        vport: String,
        /// Port field.
        port: FieldRef,
    },
    /// `handle_svc_check(P);`
    HandleSvcCheck(FieldRef),
    /// `handle_dhcpv6_reply;`
    HandleDhcpv6Reply,
    /// `handle_bfd_msg();`
    HandleBfdMsg,
    /// `igmp;`
    Igmp,
    /// `commit_lb_aff(...);`
    CommitLbAff(CommitLbAff),
    /// `commit_ecmp_nh(ipv6 = B, proto = P);`
    CommitEcmpNh {
        /// IPv6 rather than IPv4.
        ipv6: bool,
        /// IP protocol number.
        proto: u8,
    },
    /// `fwd_group(liveness="B", childports="p", ...);`
    FwdGroup {
        /// Watch port liveness.
        liveness: bool,
        /// Child port names.
        childports: Vec<String>,
    },
    /// `sample(...);`
    Sample(Sample),
}

fn fmt_list(actions: &[Action], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if actions.is_empty() {
        return f.write_str("drop;");
    }
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

/// Fields print as written after the parser's normalization (a range covering the whole
/// symbol is dropped), which is OVN's `expr_field_format`.
fn field(fr: &FieldRef) -> &FieldRef {
    fr
}

fn fmt_opt_port(ports: Option<(u16, u16)>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match ports {
        Some((lo, hi)) if lo == hi => write!(f, ",{lo}"),
        Some((lo, hi)) => write!(f, ",{lo}-{hi}"),
        None => Ok(()),
    }
}

fn fmt_addr_port(ip: IpAddr, port: Option<u16>) -> String {
    match (ip, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// The name of IP protocol `p` as `commit_lb_aff`/`commit_ecmp_nh` write it.
pub(crate) fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        132 => "sctp",
        _ => "?",
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Next {
                pipeline,
                table,
                src_pipeline,
                src_table,
            } => {
                if pipeline != src_pipeline {
                    write!(f, "next(pipeline={}, table={table});", pipeline.as_str())
                } else if u32::from(*table) != u32::from(*src_table) + 1 {
                    write!(f, "next({table});")
                } else {
                    f.write_str("next;")
                }
            }
            Self::Output => f.write_str("output;"),
            Self::Load { dst, value } => write!(f, "{} = {value};", field(dst)),
            Self::Move { dst, src } => write!(f, "{} = {};", field(dst), field(src)),
            Self::Exchange { a, b } => write!(f, "{} <-> {};", field(a), field(b)),
            Self::Push(x) => write!(f, "push({});", field(x)),
            Self::Pop(x) => write!(f, "pop({});", field(x)),
            Self::DecTtl => f.write_str("ip.ttl--;"),
            Self::CtNext => f.write_str("ct_next;"),
            Self::CtCommit(inner) if inner.is_empty() => f.write_str("ct_commit;"),
            Self::CtCommit(inner) => {
                f.write_str("ct_commit { ")?;
                fmt_list(inner, f)?;
                f.write_str(" };")
            }
            Self::CtCommitNat => f.write_str("ct_commit_nat;"),
            Self::CtNat { kind, ip, ports } => {
                f.write_str(kind.name())?;
                if let Some(ip) = ip {
                    write!(f, "({ip}")?;
                    fmt_opt_port(*ports, f)?;
                    f.write_str(")")?;
                }
                f.write_str(";")
            }
            Self::CtLb(lb) => {
                f.write_str(if lb.mark { "ct_lb_mark" } else { "ct_lb" })?;
                if !lb.backends.is_empty() {
                    f.write_str("(backends=")?;
                    for (i, b) in lb.backends.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{b}")?;
                    }
                    if let Some(h) = &lb.hash_fields {
                        write!(f, "; hash_fields={}", quote(h))?;
                    }
                    match lb.flag {
                        Some(CtLbFlag::SkipSnat) => f.write_str("; skip_snat")?,
                        Some(CtLbFlag::ForceSnat) => f.write_str("; force_snat")?,
                        None => {}
                    }
                    f.write_str(")")?;
                }
                f.write_str(";")
            }
            Self::CtClear => f.write_str("ct_clear;"),
            Self::CtSnatToVip => f.write_str("ct_snat_to_vip;"),
            Self::Nested { kind, actions } => {
                write!(f, "{} {{ ", kind.name())?;
                fmt_list(actions, f)?;
                f.write_str(" };")
            }
            Self::GetMac { family, port, ip } => {
                let n = if *family == Family::V4 {
                    "get_arp"
                } else {
                    "get_nd"
                };
                write!(f, "{n}({}, {});", field(port), field(ip))
            }
            Self::PutMac {
                family,
                port,
                ip,
                mac,
            } => {
                let n = if *family == Family::V4 {
                    "put_arp"
                } else {
                    "put_nd"
                };
                write!(f, "{n}({}, {}, {});", field(port), field(ip), field(mac))
            }
            Self::LookupMac {
                family,
                dst,
                port,
                ip,
                mac,
            } => {
                let n = if *family == Family::V4 {
                    "lookup_arp"
                } else {
                    "lookup_nd"
                };
                write!(
                    f,
                    "{} = {n}({}, {}, {});",
                    field(dst),
                    field(port),
                    field(ip),
                    field(mac)
                )
            }
            Self::LookupMacIp {
                family,
                dst,
                port,
                ip,
            } => {
                let n = if *family == Family::V4 {
                    "lookup_arp_ip"
                } else {
                    "lookup_nd_ip"
                };
                write!(f, "{} = {n}({}, {});", field(dst), field(port), field(ip))
            }
            Self::PutOpts { kind, dst, options } => {
                write!(f, "{} = {}(", field(dst), kind.name())?;
                for (i, o) in options.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} = {}", o.name, o.value)?;
                }
                f.write_str(");")
            }
            Self::Result { func, dst } => write!(f, "{} = {}();", field(dst), func.name()),
            Self::CheckPktLarger { dst, len } => {
                write!(f, "{} = check_pkt_larger({len});", field(dst))
            }
            Self::GetFdb { dst, mac } => write!(f, "{} = get_fdb({});", field(dst), field(mac)),
            Self::PutFdb { port, mac } => write!(f, "put_fdb({}, {});", field(port), field(mac)),
            Self::LookupFdb { dst, port, mac } => {
                write!(
                    f,
                    "{} = lookup_fdb({}, {});",
                    field(dst),
                    field(port),
                    field(mac)
                )
            }
            Self::Select { dst, members } => {
                write!(f, "{} = select(", field(dst))?;
                for (i, (v, w)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}={w}")?;
                }
                f.write_str(");")
            }
            Self::Log(l) => {
                f.write_str("log(")?;
                if let Some(n) = &l.name {
                    write!(f, "name={}, ", quote(n))?;
                }
                write!(
                    f,
                    "verdict={}, severity={}",
                    l.verdict.as_str(),
                    l.severity.as_str()
                )?;
                if let Some(m) = &l.meter {
                    write!(f, ", meter={}", quote(m))?;
                }
                f.write_str(");")
            }
            Self::SetQueue(q) => write!(f, "set_queue({q});"),
            Self::SetMeter { rate, burst: None } => write!(f, "set_meter({rate});"),
            Self::SetMeter {
                rate,
                burst: Some(b),
            } => write!(f, "set_meter({rate}, {b});"),
            Self::TriggerEvent(e) => {
                write!(f, "trigger_event(event = {}", quote(&e.event))?;
                for (k, v) in &e.options {
                    write!(f, ", {k} = {}", quote(v))?;
                }
                f.write_str(");")
            }
            Self::BindVport { vport, port } => {
                write!(f, "bind_vport({}, {});", quote(vport), field(port))
            }
            Self::HandleSvcCheck(p) => write!(f, "handle_svc_check({});", field(p)),
            Self::HandleDhcpv6Reply => f.write_str("handle_dhcpv6_reply;"),
            Self::HandleBfdMsg => f.write_str("handle_bfd_msg();"),
            Self::Igmp => f.write_str("igmp;"),
            Self::CommitLbAff(c) => {
                write!(
                    f,
                    "commit_lb_aff(vip = {}, backend = {}",
                    quote(&fmt_addr_port(c.vip, c.vip_port)),
                    quote(&fmt_addr_port(c.backend, c.backend_port))
                )?;
                if let Some(p) = c.proto {
                    write!(f, ", proto = {}", proto_name(p))?;
                }
                write!(f, ", timeout = {});", c.timeout)
            }
            Self::CommitEcmpNh { ipv6, proto } => {
                write!(
                    f,
                    "commit_ecmp_nh(ipv6 = {ipv6}, proto = {});",
                    proto_name(*proto)
                )
            }
            Self::FwdGroup {
                liveness,
                childports,
            } => {
                write!(f, "fwd_group(")?;
                if *liveness {
                    f.write_str("liveness=\"true\", ")?;
                }
                f.write_str("childports=")?;
                for (i, p) in childports.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote(p))?;
                }
                f.write_str(");")
            }
            Self::Sample(s) => write!(
                f,
                "sample(probability={},collector_set={},obs_domain={},obs_point={});",
                s.probability, s.collector_set, s.obs_domain, s.obs_point
            ),
        }
    }
}

/// A parsed action list (a Logical_Flow's `actions` column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actions {
    /// The actions, in order; empty means `drop;`.
    pub actions: Vec<Action>,
    /// Prerequisites OVN adds to the flow's match for these actions, as match expressions
    /// (`ip`, `tcp`, `nd_ns`, ...), without duplicates, in first-use order.  The caller ANDs
    /// them into the logical flow's match before compiling it.
    pub prereqs: Vec<String>,
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_list(&self.actions, f)
    }
}
