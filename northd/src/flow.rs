//! Typed builders for logical flow matches and actions, printing OVN's text exactly as
//! ovn-northd 23.03 writes it, and the flow table that collects flows per datapath.
//!
//! Builders never take free-form text except where the text comes from the user (an ACL or QoS
//! `match` column), which is wrapped as [`Match::user`].

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use ovn_nb::addr::MacAddr;
use ovn_sb::stage::Stage;

use crate::copp::{CoppMeters, DatapathMeters};

/// A match field or register, by its OVN symbol name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Field(pub &'static str);

impl Field {
    /// `inport`.
    pub const INPORT: Self = Self("inport");
    /// `outport`.
    pub const OUTPORT: Self = Self("outport");
    /// `eth.src`.
    pub const ETH_SRC: Self = Self("eth.src");
    /// `eth.dst`.
    pub const ETH_DST: Self = Self("eth.dst");
    /// `arp.op`.
    pub const ARP_OP: Self = Self("arp.op");
    /// `arp.tpa`.
    pub const ARP_TPA: Self = Self("arp.tpa");
    /// `arp.spa`.
    pub const ARP_SPA: Self = Self("arp.spa");
    /// `arp.sha`.
    pub const ARP_SHA: Self = Self("arp.sha");
    /// `arp.tha`.
    pub const ARP_THA: Self = Self("arp.tha");
    /// `ip4.src`.
    pub const IP4_SRC: Self = Self("ip4.src");
    /// `ip4.dst`.
    pub const IP4_DST: Self = Self("ip4.dst");
    /// `ip6.src`.
    pub const IP6_SRC: Self = Self("ip6.src");
    /// `ip6.dst`.
    pub const IP6_DST: Self = Self("ip6.dst");
    /// `nd.target`.
    pub const ND_TARGET: Self = Self("nd.target");
    /// `nd.tll`.
    pub const ND_TLL: Self = Self("nd.tll");
    /// `flags.loopback`.
    pub const FLAGS_LOOPBACK: Self = Self("flags.loopback");
    /// `ct_mark.blocked`.
    pub const CT_MARK_BLOCKED: Self = Self("ct_mark.blocked");
    /// `ct_label.label`.
    pub const CT_LABEL_LABEL: Self = Self("ct_label.label");
}

/// The registers and register bits ovn-northd assigns a meaning to in switch pipelines.
pub mod reg {
    use super::Field;
    /// `reg0[0]`: send the packet to conntrack for defragmentation.
    pub const CONNTRACK_DEFRAG: Field = Field("reg0[0]");
    /// `reg0[1]`: commit the connection.
    pub const CONNTRACK_COMMIT: Field = Field("reg0[1]");
    /// `reg0[2]`: the packet goes through `ct_lb_mark` (NAT) in pre_stateful.
    pub const CONNTRACK_NAT: Field = Field("reg0[2]");
    /// `reg0[11]`: the source MAC was found in the FDB.
    pub const LKUP_FDB: Field = Field("reg0[11]");
    /// `reg0[13]`: the committed connection carries an ACL label.
    pub const ACL_LABEL: Field = Field("reg0[13]");
    /// `reg0[15]`: port security failed, drop.
    pub const PORT_SEC_DROP: Field = Field("reg0[15]");
    /// `reg0[16]`: the packet came from a ramp (VTEP) switch; in pre-ACL, the packet matched
    /// a stateless ACL (the same bit).
    pub const FROM_RAMP: Field = Field("reg0[16]");
    /// `reg0[16]`: the packet matched an `allow-stateless` ACL (skips conntrack).
    pub const ACL_STATELESS: Field = Field("reg0[16]");
    /// `reg0[14]`: the packet came from a VTEP port (skips to L2 lookup after hairpin).
    pub const FROM_VTEP: Field = Field("reg0[14]");
    /// `reg3`: the ACL label to commit.
    pub const LABEL: Field = Field("reg3");
}

/// A value on the right of `==` or `=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// An integer constant.
    Int(u64),
    /// A quoted string (port names).
    Str(String),
    /// An Ethernet address.
    Mac(MacAddr),
    /// An IP address.
    Ip(IpAddr),
    /// A set `{a, b}`.
    Set(Vec<Self>),
    /// `$name`: an address set.
    AddrSet(String),
    /// An address as the user wrote it in the NB, printed as is (a NAT rule's `external_ip`
    /// or `logical_ip`, e.g. `10.0.0.0/24`).
    Raw(String),
    /// Another field (`eth.dst = eth.src`).
    Field(Field),
    /// A function call producing a value, e.g. `check_in_port_sec()`.
    Call(&'static str, Vec<Self>),
    /// A function call with `key = value` arguments, e.g. `put_dhcp_opts(offerip = ..)`.
    Opts(&'static str, Vec<(String, String)>),
    /// A network `addr/plen` (`10.0.0.0/24`, `fd00::/64`).
    Net(IpAddr, u8),
}

impl From<MacAddr> for Value {
    fn from(m: MacAddr) -> Self {
        Self::Mac(m)
    }
}

impl From<IpAddr> for Value {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip)
    }
}

impl From<Field> for Value {
    fn from(f: Field) -> Self {
        Self::Field(f)
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Self::Int(i)
    }
}

impl Value {
    /// A quoted port name.
    pub fn port(name: &str) -> Self {
        Self::Str(name.to_owned())
    }
}

/// Writes `s` quoted, with `"` and `\` escaped.
fn write_quoted<W: fmt::Write + ?Sized>(w: &mut W, s: &str) -> fmt::Result {
    w.write_char('"')?;
    if s.bytes().any(|b| b == b'"' || b == b'\\') {
        for c in s.chars() {
            match c {
                '"' => w.write_str("\\\"")?,
                '\\' => w.write_str("\\\\")?,
                c => w.write_char(c)?,
            }
        }
    } else {
        w.write_str(s)?;
    }
    w.write_char('"')
}

/// Writes `n` in decimal (as `{n}` does, without the formatting machinery).
fn write_u64<W: fmt::Write + ?Sized>(w: &mut W, mut n: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        // A digit: `n % 10` is below 10.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    w.write_str(std::str::from_utf8(&buf[at..]).unwrap_or_default())
}

/// Writes `ip` as its `Display` does (dotted decimal, or RFC 5952 text for IPv6).
fn write_ip<W: fmt::Write + ?Sized>(w: &mut W, ip: IpAddr) -> fmt::Result {
    match ip {
        IpAddr::V4(v4) => {
            let mut buf = [0u8; 15];
            let mut at = 0;
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[at] = b'.';
                    at += 1;
                }
                if o >= 100 {
                    buf[at] = b'0' + o / 100;
                    at += 1;
                }
                if o >= 10 {
                    buf[at] = b'0' + (o / 10) % 10;
                    at += 1;
                }
                buf[at] = b'0' + o % 10;
                at += 1;
            }
            // Only ASCII digits and dots were written.
            w.write_str(std::str::from_utf8(&buf[..at]).unwrap_or_default())
        }
        IpAddr::V6(v6) => write!(w, "{v6}"),
    }
}

/// Writes `mac` as its `Display` does (`0a:58:0a:00:00:01`).
fn write_mac<W: fmt::Write + ?Sized>(w: &mut W, mac: MacAddr) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 17];
    for (i, b) in mac.0.into_iter().enumerate() {
        if i > 0 {
            buf[3 * i - 1] = b':';
        }
        buf[3 * i] = HEX[usize::from(b >> 4)];
        buf[3 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    // Only ASCII hex digits and colons were written.
    w.write_str(std::str::from_utf8(&buf).unwrap_or_default())
}

impl Value {
    /// Writes the value's text (what `Display` prints).
    fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match self {
            Self::Int(i) => write_u64(w, *i),
            Self::Str(s) => write_quoted(w, s),
            Self::Mac(m) => write_mac(w, *m),
            Self::Ip(ip) => write_ip(w, *ip),
            Self::Set(items) => {
                w.write_str("{")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        w.write_str(", ")?;
                    }
                    v.render(w)?;
                }
                w.write_str("}")
            }
            Self::AddrSet(name) => {
                w.write_char('$')?;
                w.write_str(name)
            }
            Self::Raw(text) => w.write_str(text),
            Self::Field(field) => w.write_str(field.0),
            Self::Call(name, args) => {
                w.write_str(name)?;
                w.write_char('(')?;
                for (i, v) in args.iter().enumerate() {
                    if i > 0 {
                        w.write_str(", ")?;
                    }
                    v.render(w)?;
                }
                w.write_char(')')
            }
            Self::Opts(name, args) => {
                w.write_str(name)?;
                w.write_char('(')?;
                write_opts(w, args)?;
                w.write_char(')')
            }
            Self::Net(ip, plen) => {
                write_ip(w, *ip)?;
                w.write_char('/')?;
                write_u64(w, u64::from(*plen))
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// A predicate OVN defines by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pred {
    /// `1`: always true.
    True,
    /// `eth.mcast`.
    EthMcast,
    /// `vlan.present`.
    VlanPresent,
    /// `eth.src[40]`: multicast source address bit.
    EthSrcMcastBit,
    /// `nd_ns`.
    NdNs,
    /// `ip`.
    Ip,
    /// `ip4`.
    Ip4,
    /// `ip6`.
    Ip6,
    /// `tcp || icmp || icmp6` in parentheses.
    TcpOrIcmp,
    /// `nd || nd_ra || nd_rs || mldv1 || mldv2` (ACL stages).
    NdAclBypass,
    /// `nd || nd_rs || nd_ra || mldv1 || mldv2` (pre-LB stages: OVN's order differs).
    NdPreLbBypass,
    /// A fixed expression named in [`crate::flow::expr`].
    Fixed(&'static str),
}

impl Pred {
    fn text(self) -> &'static str {
        match self {
            Self::True => "1",
            Self::EthMcast => "eth.mcast",
            Self::VlanPresent => "vlan.present",
            Self::EthSrcMcastBit => "eth.src[40]",
            Self::NdNs => "nd_ns",
            Self::Ip => "ip",
            Self::Ip4 => "ip4",
            Self::Ip6 => "ip6",
            Self::TcpOrIcmp => "(tcp || icmp || icmp6)",
            Self::NdAclBypass => "nd || nd_ra || nd_rs || mldv1 || mldv2",
            Self::NdPreLbBypass => "nd || nd_rs || nd_ra || mldv1 || mldv2",
            Self::Fixed(s) => s,
        }
    }
}

/// One conjunct of a match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Term {
    Pred(Pred),
    Eq(Field, Value),
    EqTight(Field, Value),
    User(String),
    UserBare(String),
    Resident(String),
    NotResident(String),
}

impl Term {
    fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match self {
            Self::Pred(p) => w.write_str(p.text()),
            Self::Eq(field, v) => {
                w.write_str(field.0)?;
                w.write_str(" == ")?;
                v.render(w)
            }
            Self::EqTight(field, v) => {
                w.write_str(field.0)?;
                w.write_str("== ")?;
                v.render(w)
            }
            Self::User(s) => {
                w.write_char('(')?;
                w.write_str(s)?;
                w.write_char(')')
            }
            Self::UserBare(s) => w.write_str(s),
            Self::Resident(p) => {
                w.write_str("is_chassis_resident(")?;
                write_quoted(w, p)?;
                w.write_str(")")
            }
            Self::NotResident(p) => {
                w.write_str("!is_chassis_resident(")?;
                write_quoted(w, p)?;
                w.write_str(")")
            }
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// A logical flow match: conjuncts joined by `&&`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Match {
    terms: Vec<Term>,
}

impl Match {
    /// The match `1`.
    pub fn always() -> Self {
        Self::pred(Pred::True)
    }

    /// A named predicate.
    pub fn pred(p: Pred) -> Self {
        Self::first(Term::Pred(p))
    }

    /// `field == value`.
    pub fn eq(field: Field, value: impl Into<Value>) -> Self {
        Self::first(Term::Eq(field, value.into()))
    }

    /// A match starting with `term`, with room for the few terms most matches get (one
    /// allocation rather than one per growth step).
    fn first(term: Term) -> Self {
        let mut terms = Vec::with_capacity(4);
        terms.push(term);
        Self { terms }
    }

    /// `field== value`: the spacing ovn-northd uses in a few router matches.
    pub fn eq_tight(field: Field, value: impl Into<Value>) -> Self {
        Self {
            terms: vec![Term::EqTight(field, value.into())],
        }
    }

    /// A user-written expression, parenthesized.
    pub fn user(text: &str) -> Self {
        Self {
            terms: vec![Term::User(text.to_owned())],
        }
    }

    /// A user-written expression, printed as written (when it is the whole match).
    pub fn user_bare(text: &str) -> Self {
        Self {
            terms: vec![Term::UserBare(text.to_owned())],
        }
    }

    /// `(self)`: the whole match as one parenthesized term.
    pub fn paren(self) -> Self {
        Self {
            terms: vec![Term::User(self.to_string())],
        }
    }

    /// `self && is_chassis_resident("PORT")`.
    pub fn and_resident(mut self, port: &str) -> Self {
        self.terms.push(Term::Resident(port.to_owned()));
        self
    }

    /// `self && !is_chassis_resident("PORT")`.
    pub fn and_not_resident(mut self, port: &str) -> Self {
        self.terms.push(Term::NotResident(port.to_owned()));
        self
    }

    /// `a || b` as one term (each side should be parenthesized by the caller if needed).
    pub fn or(a: Self, b: Self) -> Self {
        Self {
            terms: vec![Term::UserBare(format!("{a} || {b}"))],
        }
    }

    /// `self && other`.
    pub fn and(mut self, other: Self) -> Self {
        self.terms.extend(other.terms);
        self
    }

    /// `self && field == value`.
    pub fn and_eq(mut self, field: Field, value: impl Into<Value>) -> Self {
        self.terms.push(Term::Eq(field, value.into()));
        self
    }

    /// `self && pred`.
    pub fn and_pred(mut self, p: Pred) -> Self {
        self.terms.push(Term::Pred(p));
        self
    }
}

impl Match {
    /// Writes the match's text (what `Display` prints).
    fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                w.write_str(" && ")?;
            }
            t.render(w)?;
        }
        Ok(())
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// One logical action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `next;`
    Next,
    /// `drop;`
    Drop,
    /// `output;`
    Output,
    /// `ct_next;`
    CtNext,
    /// `ct_lb_mark;`
    CtLbMark,
    /// `field = value;`
    Assign(Field, Value),
    /// `/* text */` (no semicolon).
    Comment(&'static str),
    /// `ct_commit { ... };`
    CtCommit(Vec<Self>),
    /// `nd_na { ... };`
    NdNa(Vec<Self>),
    /// `nd_na_router { ... };`
    NdNaRouter(Vec<Self>),
    /// `handle_svc_check(inport);`
    HandleSvcCheck,
    /// `trigger_event(event = "empty_lb_backends", vip = .., protocol = .., load_balancer = ..);`
    EmptyLbBackendsEvent {
        /// `IP:port` of the VIP.
        vip: String,
        /// `tcp`, `udp` or `sctp`.
        protocol: &'static str,
        /// NB load balancer UUID.
        load_balancer: String,
    },
    /// `commit_lb_aff(vip = "..", backend = "..", proto = P, timeout = T);`
    CommitLbAff {
        /// `IP:port` of the VIP.
        vip: String,
        /// `IP:port` of the backend.
        backend: String,
        /// Protocol.
        proto: &'static str,
        /// Timeout in seconds.
        timeout: u32,
    },
    /// `next(pipeline=P, table=T);`
    NextTable(Stage),
    /// A call as an action: `name(args);`.
    Call(&'static str, Vec<Value>),
    /// `bind_vport("PORT", inport);`
    BindVport(String),
    /// `ct_lb_mark(backends=..);`
    CtLbMarkBackends(String),
    /// The load balancer rejection of a VIP without backends:
    /// `reg0 = 0; reject { outport <-> inport; next(pipeline=egress,table=T);};`
    LbReject {
        /// The egress table to continue at.
        table: u8,
    },
    /// Prints nothing: between two actions it yields the double space ovn-northd leaves after
    /// the extra actions of a reject ACL.
    Spacer,
    /// A fixed action named in [`crate::flow::act`], printed as is.
    Fixed(&'static str),
    /// Action text composed by the caller, printed as is (for ovn-northd's irregular spacing,
    /// e.g. the dynamic multicast group flows of [`crate::igmp`]).
    Text(String),
    /// A nested action `name { a; b; };` (`arp`, `nd_ns`).
    Nested(&'static str, Vec<Self>),
    /// A nested action printed without the space after the brace: `name {a; b; };`
    /// (`icmp4_error`, `icmp6_error`).
    NestedTight(&'static str, Vec<Self>),
    /// A call with `key = value` arguments: `name(k = v, ...);`.
    CallOpts(&'static str, Vec<(String, String)>),
    /// The commit of a symmetric ECMP reply route: `ct_commit { ct_label.ecmp_reply_eth =
    /// eth.src;  PORT_FIELD = KEY;};` (ovn-northd's spacing).
    EcmpReplyCommit {
        /// `ct_mark.ecmp_reply_port` or `ct_label.ecmp_reply_port`.
        port_field: Field,
        /// The tunnel key of the port the reply leaves by.
        key: u32,
    },
    /// `log(name="..", severity=.., verdict=.., meter="..");`
    Log {
        /// ACL name.
        name: Option<String>,
        /// Severity (`info` by default).
        severity: String,
        /// `allow`, `drop` or `reject`.
        verdict: &'static str,
        /// Meter name.
        meter: Option<String>,
    },
    /// `reject { /* ... */ outport <-> inport; next(pipeline=P,table=T); };`
    Reject {
        /// The pipeline to continue in.
        pipeline: ovn_sb::stage::Pipeline,
        /// The table to continue at.
        table: u8,
    },
    /// A conntrack NAT action: `name;`, `name(IP);` or `name(IP,RANGE);` (`ct_snat`,
    /// `ct_dnat`, `ct_snat_in_czone`, `ct_dnat_in_czone`).
    CtNat {
        /// The action name.
        name: &'static str,
        /// The address to translate to, as written in the NB (none: translate back).
        target: Option<String>,
        /// `external_port_range` (`1000-2000`), printed after a comma with no space.
        range: Option<String>,
    },
    /// `field=value;` with no spaces, as ovn-northd writes stateless NAT rewrites.
    AssignTight(Field, Value),
    /// `a <-> b;`: exchange two fields.
    Swap(Field, Field),
    /// `a <-> b ;`: an exchange with the space before the semicolon ovn-northd leaves in
    /// some router ICMP replies.
    SwapLoose(Field, Field),
    /// `field = value ;`: an assignment with the space before the semicolon ovn-northd
    /// leaves in some router ICMP replies.
    AssignLoose(Field, Value),
}

impl Action {
    /// `commit_lb_aff(vip = "VIP", backend = "BACKEND", [proto = PROTO,] timeout = T)`: with the
    /// protocol only when the VIP has a port (`proto` is then `Some`), as ovn-northd writes it.
    pub fn commit_lb_aff(
        vip: String,
        backend: String,
        proto: Option<&'static str>,
        timeout: u32,
    ) -> Self {
        match proto {
            Some(proto) => Self::CommitLbAff {
                vip,
                backend,
                proto,
                timeout,
            },
            None => Self::CallOpts(
                "commit_lb_aff",
                vec![
                    ("vip".to_owned(), format!("\"{vip}\"")),
                    ("backend".to_owned(), format!("\"{backend}\"")),
                    ("timeout".to_owned(), timeout.to_string()),
                ],
            ),
        }
    }
}

/// Writes `actions` separated by spaces.
/// Writes `k = v, ...` (the arguments of a call with options).
fn write_opts<W: fmt::Write + ?Sized>(w: &mut W, args: &[(String, String)]) -> fmt::Result {
    for (i, (k, v)) in args.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        w.write_str(k)?;
        w.write_str(" = ")?;
        w.write_str(v)?;
    }
    Ok(())
}

fn render_actions<W: fmt::Write + ?Sized>(w: &mut W, actions: &[Action]) -> fmt::Result {
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            w.write_str(" ")?;
        }
        a.render(w)?;
    }
    Ok(())
}

impl Action {
    /// Writes the action's text (what `Display` prints).
    fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match self {
            Self::Next => w.write_str("next;"),
            Self::Drop => w.write_str("drop;"),
            Self::Output => w.write_str("output;"),
            Self::CtNext => w.write_str("ct_next;"),
            Self::CtLbMark => w.write_str("ct_lb_mark;"),
            Self::Assign(field, v) => {
                w.write_str(field.0)?;
                w.write_str(" = ")?;
                v.render(w)?;
                w.write_char(';')
            }
            Self::Comment(c) => {
                w.write_str("/* ")?;
                w.write_str(c)?;
                w.write_str(" */")
            }
            Self::CtCommit(inner) => {
                w.write_str("ct_commit { ")?;
                render_actions(w, inner)?;
                w.write_str(" };")
            }
            Self::NdNa(inner) => {
                w.write_str("nd_na { ")?;
                render_actions(w, inner)?;
                w.write_str(" };")
            }
            Self::NdNaRouter(inner) => {
                w.write_str("nd_na_router { ")?;
                render_actions(w, inner)?;
                w.write_str(" };")
            }
            Self::HandleSvcCheck => w.write_str("handle_svc_check(inport);"),
            Self::Spacer => Ok(()),
            Self::EmptyLbBackendsEvent {
                vip,
                protocol,
                load_balancer,
            } => {
                w.write_str("trigger_event(event = \"empty_lb_backends\", vip = ")?;
                write_quoted(w, vip)?;
                w.write_str(", protocol = ")?;
                write_quoted(w, protocol)?;
                w.write_str(", load_balancer = ")?;
                write_quoted(w, load_balancer)?;
                w.write_str(");")
            }
            Self::CommitLbAff {
                vip,
                backend,
                proto,
                timeout,
            } => {
                w.write_str("commit_lb_aff(vip = ")?;
                write_quoted(w, vip)?;
                w.write_str(", backend = ")?;
                write_quoted(w, backend)?;
                w.write_str(", proto = ")?;
                w.write_str(proto)?;
                w.write_str(", timeout = ")?;
                write_u64(w, u64::from(*timeout))?;
                w.write_str(");")
            }
            Self::NextTable(stage) => {
                w.write_str("next(pipeline=")?;
                w.write_str(stage.pipeline().as_str())?;
                w.write_str(", table=")?;
                write_u64(w, u64::from(stage.table()))?;
                w.write_str(");")
            }
            Self::Call(name, args) => {
                w.write_str(name)?;
                w.write_char('(')?;
                for (i, v) in args.iter().enumerate() {
                    if i > 0 {
                        w.write_str(", ")?;
                    }
                    v.render(w)?;
                }
                w.write_str(");")
            }
            Self::BindVport(port) => {
                w.write_str("bind_vport(")?;
                write_quoted(w, port)?;
                w.write_str(", inport);")
            }
            Self::CtLbMarkBackends(b) => {
                w.write_str("ct_lb_mark(backends=")?;
                w.write_str(b)?;
                w.write_str(");")
            }
            Self::LbReject { table } => {
                w.write_str("reg0 = 0; reject { outport <-> inport; next(pipeline=egress,table=")?;
                write_u64(w, u64::from(*table))?;
                w.write_str(");};")
            }
            Self::Fixed(s) => w.write_str(s),
            Self::Text(s) => w.write_str(s),
            Self::Nested(name, body) => {
                w.write_str(name)?;
                w.write_str(" { ")?;
                render_actions(w, body)?;
                w.write_str(" };")
            }
            Self::NestedTight(name, body) => {
                w.write_str(name)?;
                w.write_str(" {")?;
                render_actions(w, body)?;
                w.write_str(" };")
            }
            Self::CallOpts(name, args) => {
                w.write_str(name)?;
                w.write_char('(')?;
                write_opts(w, args)?;
                w.write_str(");")
            }
            Self::EcmpReplyCommit { port_field, key } => {
                w.write_str("ct_commit { ct_label.ecmp_reply_eth = eth.src;  ")?;
                w.write_str(port_field.0)?;
                w.write_str(" = ")?;
                write_u64(w, u64::from(*key))?;
                w.write_str(";};")
            }
            Self::Log {
                name,
                severity,
                verdict,
                meter,
            } => {
                w.write_str("log(")?;
                if let Some(n) = name {
                    w.write_str("name=")?;
                    write_quoted(w, n)?;
                    w.write_str(", ")?;
                }
                w.write_str("severity=")?;
                w.write_str(severity)?;
                w.write_str(", verdict=")?;
                w.write_str(verdict)?;
                if let Some(m) = meter {
                    w.write_str(", meter=")?;
                    write_quoted(w, m)?;
                }
                w.write_str(");")
            }
            Self::Reject { pipeline, table } => {
                w.write_str(
                    "reject { /* eth.dst <-> eth.src; ip.dst <-> ip.src; is implicit. */ \
                     outport <-> inport; next(pipeline=",
                )?;
                w.write_str(pipeline.as_str())?;
                w.write_str(",table=")?;
                write_u64(w, u64::from(*table))?;
                w.write_str("); };")
            }
            Self::CtNat {
                name,
                target,
                range,
            } => {
                w.write_str(name)?;
                if let Some(t) = target {
                    w.write_char('(')?;
                    w.write_str(t)?;
                    if let Some(r) = range {
                        w.write_char(',')?;
                        w.write_str(r)?;
                    }
                    w.write_char(')')?;
                }
                w.write_char(';')
            }
            Self::AssignTight(field, v) => {
                w.write_str(field.0)?;
                w.write_char('=')?;
                v.render(w)?;
                w.write_char(';')
            }
            Self::Swap(x, y) => {
                w.write_str(x.0)?;
                w.write_str(" <-> ")?;
                w.write_str(y.0)?;
                w.write_char(';')
            }
            Self::SwapLoose(x, y) => {
                w.write_str(x.0)?;
                w.write_str(" <-> ")?;
                w.write_str(y.0)?;
                w.write_str(" ;")
            }
            Self::AssignLoose(field, v) => {
                w.write_str(field.0)?;
                w.write_str(" = ")?;
                v.render(w)?;
                w.write_str(" ;")
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// A sequence of actions, printed separated by spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    /// One action.
    pub fn one(a: Action) -> Self {
        Self(vec![a])
    }
}

impl From<Vec<Action>> for Actions {
    fn from(v: Vec<Action>) -> Self {
        Self(v)
    }
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render_actions(f, &self.0)
    }
}

/// Fixed match expressions ovn-northd uses verbatim, named once.
pub mod expr {
    use super::Pred;
    /// `ct.new && !ct.est`.
    pub const CT_NEW_NOT_EST: Pred = Pred::Fixed("ct.new && !ct.est");
    /// Established, original direction, blocked.
    pub const CT_EST_ORIG_BLOCKED: Pred =
        Pred::Fixed("!ct.new && ct.est && !ct.rpl && ct_mark.blocked == 1");
    /// Established, original direction, not blocked.
    pub const CT_EST_ORIG_ALLOWED: Pred =
        Pred::Fixed("!ct.new && ct.est && !ct.rpl && ct_mark.blocked == 0");
    /// `!ct.trk`.
    pub const CT_NOT_TRK: Pred = Pred::Fixed("!ct.trk");
    /// `!ct.est`.
    pub const CT_NOT_EST: Pred = Pred::Fixed("!ct.est");
    /// `ct.est && ct_mark.blocked == 1`.
    pub const CT_EST_BLOCKED: Pred = Pred::Fixed("ct.est && ct_mark.blocked == 1");
    /// `ct.est && ct_mark.blocked == 0`.
    pub const CT_EST_ALLOWED: Pred = Pred::Fixed("ct.est && ct_mark.blocked == 0");
    /// Related, not new, not invalid, allowed.
    pub const CT_RELATED: Pred =
        Pred::Fixed("!ct.est && ct.rel && !ct.new && !ct.inv && ct_mark.blocked == 0");
    /// Reply of an allowed established connection.
    pub const CT_EST_REPLY: Pred =
        Pred::Fixed("ct.est && !ct.rel && !ct.new && !ct.inv && ct.rpl && ct_mark.blocked == 0");
    /// Invalid, or reply of a blocked connection.
    pub const CT_INVALID: Pred =
        Pred::Fixed("ct.inv || (ct.est && ct.rpl && ct_mark.blocked == 1)");
    /// [`CT_RELATED`] without the `ct.inv` test (`NB_Global` `options:use_ct_inv_match=false`).
    pub const CT_RELATED_NO_INV: Pred =
        Pred::Fixed("!ct.est && ct.rel && !ct.new && ct_mark.blocked == 0");
    /// [`CT_EST_REPLY`] without the `ct.inv` test.
    pub const CT_EST_REPLY_NO_INV: Pred =
        Pred::Fixed("ct.est && !ct.rel && !ct.new && ct.rpl && ct_mark.blocked == 0");
    /// [`CT_INVALID`] without the `ct.inv` test: replies of blocked connections only.
    pub const CT_INVALID_NO_INV: Pred = Pred::Fixed("(ct.est && ct.rpl && ct_mark.blocked == 1)");
    /// `ip && !ct.est`.
    pub const IP_NOT_EST: Pred = Pred::Fixed("ip && !ct.est");
    /// `ip && ct.est && ct_mark.blocked == 1`.
    pub const IP_EST_BLOCKED: Pred = Pred::Fixed("ip && ct.est && ct_mark.blocked == 1");
    /// ND, MLD and DHCPv6 client traffic skipping conntrack in pre-ACL.
    pub const PRE_ACL_BYPASS: Pred = Pred::Fixed(
        "nd || nd_rs || nd_ra || mldv1 || mldv2 || (udp && udp.src == 546 && udp.dst == 547)",
    );
}

/// Fixed actions ovn-northd uses verbatim, named once.
pub mod act {
    use super::Action;
    /// `ct_commit_nat;`.
    pub const CT_COMMIT_NAT: Action = Action::Fixed("ct_commit_nat;");
    /// `/* drop */` (an ACL drop that only comments).
    pub const DROP_COMMENT: Action = Action::Comment("drop");
}

/// The solicited-node multicast address of `ip` (`ff02::1:ffXX:XXXX`).
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    let mut sn = [0u8; 16];
    sn[0] = 0xff;
    sn[1] = 0x02;
    sn[11] = 0x01;
    sn[12] = 0xff;
    sn[13..].copy_from_slice(&o[13..]);
    Ipv6Addr::from(sn)
}

/// Index of a datapath in [`crate::SbContent::datapaths`].
pub type DpIndex = usize;

/// The identity of a logical flow apart from its datapaths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Stage (gives pipeline and table).
    pub stage: Stage,
    /// Priority.
    pub priority: u16,
    /// Match text.
    pub match_: String,
    /// Actions text.
    pub actions: String,
    /// `controller_meter`: the CoPP meter of the datapaths this flow is on (see
    /// [`crate::copp`]); part of the identity, as ovn-northd keeps flows that differ only in
    /// their meter apart.
    pub meter: Option<Arc<str>>,
}

impl FlowKey {
    /// The port this flow is about, for `tags:in_out_port` (see [`io_port`]).
    pub fn io_port(&self) -> Option<&str> {
        io_port(self.stage, self.priority, &self.match_)
    }
}

/// The `tags:in_out_port` ovn-northd 23.03 gives a flow: the port of its first `inport ==` or
/// `outport ==` term, for the per-port flows of a few stages (ARP/ND responder bypasses,
/// virtual port binding, DHCP, the stateful bypass of router and localnet ports, FDB learning,
/// disabled and virtual ports' port security, external ports). It lets
/// ovn-controller skip the flows of ports that are not bound to its chassis.
pub fn io_port(stage: Stage, priority: u16, match_: &str) -> Option<&str> {
    let tagged = matches!(
        (stage, priority),
        (Stage::LsInArpRsp, 100)
            | (Stage::LsInCheckPortSec, 100 | 70)
            | (Stage::LsInLookupFdb, 100)
            | (Stage::LsInPutFdb, 100)
            | (Stage::LsInL2Unknown, 50)
            | (Stage::LsInExternalPort, 100)
            | (Stage::LsInDhcpOptions, 100)
            | (Stage::LsInDhcpResponse, 100)
            | (Stage::LsOutAcl, 34000)
            | (Stage::LsInPreAcl, 110)
            | (Stage::LsOutPreAcl, 110)
            | (Stage::LsInPreLb, 110)
            | (Stage::LsOutPreLb, 110)
    );
    if !tagged {
        return None;
    }
    // The first `inport == "` or `outport == "`, whichever comes first: both end in
    // `port == "`, so the first of those preceded by `in` or `out` (one scan, no searcher
    // to set up per flow).
    const TAIL: &[u8] = b"port == \"";
    let b = match_.as_bytes();
    let mut at = None;
    let mut i = 0;
    while i + TAIL.len() <= b.len() {
        if b[i] == b'p' && b[i..].starts_with(TAIL) {
            let head = &b[..i];
            if head.ends_with(b"in") || head.ends_with(b"out") {
                at = Some(i + TAIL.len());
                break;
            }
        }
        i += 1;
    }
    let rest = match_.get(at?..)?;
    let port = rest.find('"').map(|end| &rest[..end])?;
    // `outport == "none"` (no port found by the L2 lookup) is the stage's default flow.
    (port != "none").then_some(port)
}

/// The datapaths of one flow: a sorted slice without duplicates, as [`FlowTable::iter`] gives
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DpSet<'a>(&'a [DpIndex]);

impl<'a> DpSet<'a> {
    /// The datapaths, sorted.
    pub fn as_slice(self) -> &'a [DpIndex] {
        self.0
    }

    /// The datapaths, in increasing order.
    pub fn iter(self) -> std::slice::Iter<'a, DpIndex> {
        self.0.iter()
    }

    /// Number of datapaths.
    pub fn len(self) -> usize {
        self.0.len()
    }

    /// True when there is none.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// True when `dp` is one of them.
    pub fn contains(self, dp: &DpIndex) -> bool {
        self.0.binary_search(dp).is_ok()
    }

    /// The smallest.
    pub fn first(self) -> Option<&'a DpIndex> {
        self.0.first()
    }

    /// True when every datapath is in `other`.
    pub fn is_subset(self, other: &BTreeSet<DpIndex>) -> bool {
        self.0.iter().all(|d| other.contains(d))
    }

    /// The datapaths as a set.
    pub fn to_set(self) -> BTreeSet<DpIndex> {
        self.0.iter().copied().collect()
    }
}

impl<'a> IntoIterator for DpSet<'a> {
    type Item = &'a DpIndex;
    type IntoIter = std::slice::Iter<'a, DpIndex>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A finished set of flows (e.g. one load balancer's) that [`FlowTable::add_shared`] puts on
/// any number of datapaths at the cost of one step per datapath: the table keeps the set's
/// flows once, with the list of datapaths it was added to.
#[derive(Debug, Clone)]
pub struct SharedFlows {
    /// Unique per set (clones share it: same flows).
    id: u64,
    keys: Vec<Arc<FlowKey>>,
    /// Some flow hands packets to ovn-controller with a CoPP protocol (so a datapath with a
    /// CoPP may need its own metered copies): found on first need (only a datapath with a
    /// CoPP asks; most builds have none).
    meterable: OnceLock<bool>,
    /// The stages of its flows ([`stage_bit`]), found on first need.
    stages: OnceLock<u128>,
}

/// A stage's bit in a set of stages (as [`SharedFlows::stage_mask`] gives them): by pipeline
/// and table number, so a switch stage and a router stage of the same table share a bit (a
/// mask tested with it may answer yes for a stage it lacks, never no for one it has).
pub fn stage_bit(stage: Stage) -> u128 {
    let egress = u32::from(stage.pipeline() == ovn_sb::stage::Pipeline::Egress);
    1u128 << ((u32::from(stage.table()) & 63) + 64 * egress)
}

/// The identity of the next [`SharedFlows`] set.
static NEXT_SET_ID: AtomicU64 = AtomicU64::new(0);

impl SharedFlows {
    /// The flows of `table` (whatever their datapaths there).
    pub fn new(table: &FlowTable) -> Self {
        Self {
            id: NEXT_SET_ID.fetch_add(1, AtomicOrdering::Relaxed),
            keys: table.keys.clone(),
            meterable: OnceLock::new(),
            stages: OnceLock::new(),
        }
    }

    /// The flows of `table`, taken from it (no copy of its handles to drop with it).
    pub fn from_table(table: FlowTable) -> Self {
        Self {
            id: NEXT_SET_ID.fetch_add(1, AtomicOrdering::Relaxed),
            keys: table.keys,
            meterable: OnceLock::new(),
            stages: OnceLock::new(),
        }
    }

    /// One set of every flow of `sets` (each once): added to a datapath, the same flows as
    /// each of `sets` added to it.
    pub fn union<'s>(sets: impl IntoIterator<Item = &'s Self>) -> Self {
        let mut seen: std::collections::HashSet<&FlowKey> = std::collections::HashSet::new();
        let mut keys = Vec::new();
        for set in sets {
            keys.extend(set.keys.iter().filter(|k| seen.insert(&***k)).cloned());
        }
        Self {
            id: NEXT_SET_ID.fetch_add(1, AtomicOrdering::Relaxed),
            keys,
            meterable: OnceLock::new(),
            stages: OnceLock::new(),
        }
    }

    /// True when some flow of the set hands packets to ovn-controller with a CoPP protocol.
    fn meterable(&self) -> bool {
        *self.meterable.get_or_init(|| {
            self.keys
                .iter()
                .any(|k| crate::copp::proto_of(&k.actions).is_some())
        })
    }

    /// The flows.
    pub fn keys(&self) -> &[Arc<FlowKey>] {
        &self.keys
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The [`stage_bit`]s of the set's flows, or-ed (computed once per set).
    pub fn stage_mask(&self) -> u128 {
        *self
            .stages
            .get_or_init(|| self.keys.iter().fold(0, |m, k| m | stage_bit(k.stage)))
    }
}

/// The hash of a flow's identity: a keyed multiply-and-fold hash of its stage, priority and
/// texts (FxHash-like speed; the per-process key keeps crafted collisions from being computed
/// in advance).
fn flow_hash(stage: Stage, priority: u16, match_: &str, actions: &str, meter: Option<&str>) -> u64 {
    let mut h = FlowHasher::new();
    stage.hash(&mut h);
    h.write_u16(priority);
    h.write(match_.as_bytes());
    h.write_u8(0xff);
    h.write(actions.as_bytes());
    if let Some(m) = meter {
        h.write(m.as_bytes());
    }
    h.finish()
}

fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

fn process_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| RandomState::new().hash_one(0x0f10_u64) | 1)
}

const MULTIPLE: u64 = 0x5851_f42d_4c95_7f2d;

/// See [`flow_hash`].
pub(crate) struct FlowHasher {
    state: u64,
}

impl FlowHasher {
    /// A hasher keyed by the process's key.
    pub(crate) fn new() -> Self {
        Self {
            state: process_key(),
        }
    }

    fn mix(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, MULTIPLE);
    }
}

impl Hasher for FlowHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.state, process_key())
    }
}

/// Builds [`FlowHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlowState;

impl BuildHasher for FlowState {
    type Hasher = FlowHasher;

    fn build_hasher(&self) -> FlowHasher {
        FlowHasher::new()
    }
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type PrehashedMap<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// No entry (end of a hash chain).
const NONE: u32 = u32::MAX;

/// The datapaths a flow was added to directly, sorted.
#[derive(Debug, Clone, Default)]
enum OwnDps {
    #[default]
    None,
    One(DpIndex),
    Many(Vec<DpIndex>),
}

impl OwnDps {
    fn insert(&mut self, dp: DpIndex) {
        match self {
            Self::None => *self = Self::One(dp),
            Self::One(d) if *d == dp => {}
            Self::One(d) => {
                let d = *d;
                *self = Self::Many(if d < dp { vec![d, dp] } else { vec![dp, d] });
            }
            Self::Many(v) => sorted_insert(v, dp),
        }
    }

    fn as_slice(&self) -> &[DpIndex] {
        match self {
            Self::None => &[],
            Self::One(d) => std::slice::from_ref(d),
            Self::Many(v) => v,
        }
    }

    /// Adds every datapath of the sorted, duplicate-free `dps` (as [`Self::insert`] of each).
    fn insert_all(&mut self, dps: &[DpIndex]) {
        match self {
            Self::Many(v) => sorted_insert_all(v, dps),
            _ if dps.len() < 2 => {
                for &dp in dps {
                    self.insert(dp);
                }
            }
            _ => {
                let mut v = self.as_slice().to_vec();
                sorted_insert_all(&mut v, dps);
                *self = Self::Many(v);
            }
        }
    }
}

/// The start of a [`FlowKey`] as numbers that order as the key does: stage and priority, then
/// the first bytes of the match (zero-padded). Keys whose prefixes differ compare as their
/// prefixes; equal prefixes say nothing (the keys are then compared in full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SortPrefix(u64, u64, u64);

/// The bytes of the match a [`SortPrefix`] holds.
const PREFIX_MATCH: usize = 20;

impl SortPrefix {
    fn of(k: &FlowKey) -> Self {
        let mut m = [0u8; PREFIX_MATCH];
        let bytes = k.match_.as_bytes();
        let n = bytes.len().min(m.len());
        m[..n].copy_from_slice(&bytes[..n]);
        let word = |b: &[u8]| b.iter().fold(0u64, |w, &x| (w << 8) | u64::from(x));
        // Stages are a field-less enum ordered by declaration: the discriminant orders alike.
        let head =
            (u64::from(k.stage as u16) << 48) | (u64::from(k.priority) << 32) | word(&m[..4]);
        Self(head, word(&m[4..12]), word(&m[12..20]))
    }

    /// The order of keys `a` and `b` whose prefixes are equal: as [`FlowKey`]'s, comparing
    /// only what the prefixes do not hold. (Equal prefixes mean the same stage and priority,
    /// and matches alike in their first bytes up to the shorter one or [`PREFIX_MATCH`].)
    fn cmp_rest(a: &FlowKey, b: &FlowKey) -> std::cmp::Ordering {
        let (ma, mb) = (a.match_.as_bytes(), b.match_.as_bytes());
        let skip = PREFIX_MATCH.min(ma.len()).min(mb.len());
        debug_assert!(a.stage == b.stage && a.priority == b.priority);
        ma[skip..]
            .cmp(&mb[skip..])
            .then_with(|| a.actions.cmp(&b.actions))
            .then_with(|| a.meter.cmp(&b.meter))
    }
}

/// Tables at least this large are sorted on two threads by [`sorted_order`].
const PARALLEL_SORT_MIN: usize = 32 * 1024;

/// `items` sorted by `cmp` (no two items equal: entries are distinct flows). A large table is
/// sorted in two halves on two threads, then merged: the same order as one sort.
fn sorted_order<T: Send + Copy>(
    mut items: Vec<T>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Sync,
) -> Vec<T> {
    if items.len() < PARALLEL_SORT_MIN {
        items.sort_unstable_by(&cmp);
        return items;
    }
    let n = items.len();
    let (a, b) = items.split_at_mut(n / 2);
    std::thread::scope(|s| {
        let worker = s.spawn(|| b.sort_unstable_by(&cmp));
        a.sort_unstable_by(&cmp);
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    let mut out = Vec::with_capacity(n);
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if cmp(*x, *y).is_le() {
                    a.next()
                } else {
                    b.next()
                }
            }
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        let Some(&item) = next else { break };
        out.push(item);
    }
    out
}

/// Bytes of the match a [`MatchWindow`] holds.
const WINDOW: usize = 24;

/// Bytes `from..from + WINDOW` of a match (zero-padded) as numbers that order as the bytes do.
/// Zero padding orders as the end of a text does, except against real zero bytes: matches
/// whose windows differ order as their windows (given equal bytes before `from`); equal
/// windows say nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MatchWindow(u64, u64, u64);

impl MatchWindow {
    fn of(m: &str, from: usize) -> Self {
        let mut w = [0u8; WINDOW];
        let bytes = m.as_bytes().get(from..).unwrap_or_default();
        let n = bytes.len().min(WINDOW);
        w[..n].copy_from_slice(&bytes[..n]);
        let word = |b: &[u8]| b.iter().fold(0u64, |w, &x| (w << 8) | u64::from(x));
        Self(word(&w[..8]), word(&w[8..16]), word(&w[16..]))
    }
}

/// Sorts `run`, entries of `keys` whose matches are alike (zero-padded) up to byte `from` and
/// whose stages and priorities are equal, in [`FlowKey`] order: by the match's next
/// [`WINDOW`] bytes, held inline (each key read once, no comparison follows a pointer), then
/// each run of equal windows the same way from the window's end; keys whose matches all end
/// before `from` are compared in full past the prefix ([`SortPrefix::cmp_rest`]).
fn sort_tied(keys: &[Arc<FlowKey>], run: &mut [(SortPrefix, u32)], from: usize) {
    let key = |i: u32| &keys[i as usize];
    if run.len() < 2 {
        return;
    }
    if run.iter().all(|(_, i)| key(*i).match_.len() <= from) {
        run.sort_unstable_by(|a, b| SortPrefix::cmp_rest(key(a.1), key(b.1)));
        return;
    }
    let mut windowed: Vec<(MatchWindow, (SortPrefix, u32))> = run
        .iter()
        .map(|&(p, i)| (MatchWindow::of(&key(i).match_, from), (p, i)))
        .collect();
    windowed.sort_unstable_by_key(|a| a.0);
    let mut at = 0;
    while at < windowed.len() {
        let w = windowed[at].0;
        let len = windowed[at..].iter().take_while(|(x, _)| *x == w).count();
        for (slot, (_, item)) in run[at..at + len].iter_mut().zip(&windowed[at..at + len]) {
            *slot = *item;
        }
        sort_tied(keys, &mut run[at..at + len], from + WINDOW);
        at += len;
    }
}

/// Inserts `dp` into the sorted `v` (cheap when datapaths come in increasing order).
fn sorted_insert(v: &mut Vec<DpIndex>, dp: DpIndex) {
    match v.last() {
        Some(&last) if last < dp => v.push(dp),
        None => v.push(dp),
        Some(_) => {
            if let Err(at) = v.binary_search(&dp) {
                v.insert(at, dp);
            }
        }
    }
}

/// Adds every datapath of the sorted, duplicate-free `dps` to the sorted, duplicate-free `v`:
/// one merge of the two lists (inserting each one by one shifts `v` once per datapath when
/// the lists interleave, as two threads' lists of one flow do).
fn sorted_insert_all(v: &mut Vec<DpIndex>, dps: &[DpIndex]) {
    match (v.last(), dps) {
        (_, []) => {}
        (None, _) => v.extend_from_slice(dps),
        (Some(&last), [first, ..]) if last < *first => v.extend_from_slice(dps),
        (_, [dp]) => sorted_insert(v, *dp),
        _ => {
            let mut out = Vec::with_capacity(v.len() + dps.len());
            let (mut a, mut b) = (v.iter().peekable(), dps.iter().peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(&&x), Some(&&y)) => match x.cmp(&y) {
                        std::cmp::Ordering::Less => a.next(),
                        std::cmp::Ordering::Greater => b.next(),
                        std::cmp::Ordering::Equal => {
                            b.next();
                            a.next()
                        }
                    },
                    (Some(_), None) => a.next(),
                    (None, _) => b.next(),
                };
                let Some(&dp) = next else { break };
                out.push(dp);
            }
            *v = out;
        }
    }
}

/// A [`SharedFlows`] set added to this table: its flows (as entries) and its datapaths.
#[derive(Debug, Clone)]
struct Group {
    members: Vec<u32>,
    dps: Vec<DpIndex>,
}

/// Where an entry's datapaths are, once the table is complete.
#[derive(Debug, Clone, Copy)]
enum DpsAt {
    /// Only added directly.
    Own,
    /// Only through this group.
    Group(u32),
    /// Several sources: merged into this list of the view.
    Merged(u32),
}

/// The table in order, computed on first iteration after a change.
#[derive(Debug, Clone, Default)]
struct View {
    order: Vec<(u32, DpsAt)>,
    merged: Vec<Vec<DpIndex>>,
}

std::thread_local! {
    /// The formatting buffer of [`FlowTable::add`] on this thread.
    static SCRATCH: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Logical flows, each with the set of datapaths it applies to.
///
/// Each distinct flow is stored once (hash-consed by its text); a [`SharedFlows`] set added to
/// many datapaths is kept as one group with its datapath list. Iteration is in [`FlowKey`]
/// order.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    /// Every distinct flow, by entry number (shared with the [`SharedFlows`] made from this
    /// table and with the tables those are added to).
    keys: Vec<Arc<FlowKey>>,
    /// The datapaths each entry was added to directly.
    own: Vec<OwnDps>,
    /// The next entry with the same hash bucket.
    chain: Vec<u32>,
    /// Flow hash to the last entry with that hash.
    index: PrehashedMap<u32>,
    /// Shared sets added, and their position by [`SharedFlows`] id.
    groups: Vec<Group>,
    group_of: HashMap<u64, u32, FlowState>,
    view: OnceLock<View>,
    /// The CoPP meters of each datapath, when any has one ([`Self::set_meters`]).
    meters: Option<DatapathMeters>,
}

impl FlowTable {
    /// The entry of a flow, added (with no datapath) when new.
    fn entry(
        &mut self,
        stage: Stage,
        priority: u16,
        match_: &str,
        actions: &str,
        meter: Option<&Arc<str>>,
    ) -> usize {
        self.entry_with(stage, priority, match_, actions, meter, || {
            Arc::new(FlowKey {
                stage,
                priority,
                match_: match_.to_owned(),
                actions: actions.to_owned(),
                meter: meter.cloned(),
            })
        })
    }

    /// The entry of flow `key`, added (with no datapath, sharing `key`) when new.
    fn entry_of(&mut self, key: &Arc<FlowKey>) -> usize {
        let meter = key.meter.clone();
        self.entry_with(
            key.stage,
            key.priority,
            &key.match_,
            &key.actions,
            meter.as_ref(),
            || Arc::clone(key),
        )
    }

    /// [`Self::entry_of`] for a flow whose hash ([`flow_hash`]) is known to be `h`, taking
    /// `key` (kept when the flow is new, dropped otherwise).
    fn entry_hashed(&mut self, h: u64, key: Arc<FlowKey>) -> usize {
        let meter = key.meter.as_deref();
        let head = self.index.get(&h).copied().unwrap_or(NONE);
        let mut at = head;
        while at != NONE {
            let i = at as usize;
            let k = &self.keys[i];
            if k.stage == key.stage
                && k.priority == key.priority
                && k.match_ == key.match_
                && k.actions == key.actions
                && k.meter.as_deref() == meter
            {
                return i;
            }
            at = self.chain[i];
        }
        let i = self.keys.len();
        self.keys.push(key);
        self.own.push(OwnDps::None);
        self.chain.push(head);
        self.index.insert(h, u32::try_from(i).unwrap_or(NONE));
        i
    }

    /// The entry of flow `key` as it is on datapath `dp`: with the meter `dp`'s CoPP gives it
    /// (a copy of `key` when that differs from `key`'s own).
    fn entry_on(&mut self, key: &Arc<FlowKey>, dp: DpIndex) -> usize {
        let meter = self.meter_of(dp, &key.actions);
        if meter == key.meter {
            return self.entry_of(key);
        }
        self.entry(
            key.stage,
            key.priority,
            &key.match_,
            &key.actions,
            meter.as_ref(),
        )
    }

    /// Gives the table the CoPP meters of every datapath: flows added from then on carry the
    /// meter of their datapath's CoPP for their kind of controller action.
    pub fn set_meters(&mut self, meters: DatapathMeters) {
        self.meters = Some(meters);
    }

    /// The datapaths' CoPP meters given by [`Self::set_meters`].
    pub fn meters(&self) -> Option<&DatapathMeters> {
        self.meters.as_ref()
    }

    /// The CoPP of datapath `dp`, if any.
    fn copp_of(&self, dp: DpIndex) -> Option<&Arc<CoppMeters>> {
        self.meters.as_ref()?.get(dp)?.as_ref()
    }

    /// The meter of a flow with `actions` on datapath `dp`.
    fn meter_of(&self, dp: DpIndex, actions: &str) -> Option<Arc<str>> {
        self.copp_of(dp)?.meter_for(actions)
    }

    /// The entry of a flow, added when new with the key `make` gives (the same flow).
    fn entry_with(
        &mut self,
        stage: Stage,
        priority: u16,
        match_: &str,
        actions: &str,
        meter: Option<&Arc<str>>,
        make: impl FnOnce() -> Arc<FlowKey>,
    ) -> usize {
        let h = flow_hash(stage, priority, match_, actions, meter.map(|m| &**m));
        let head = self.index.get(&h).copied().unwrap_or(NONE);
        let mut at = head;
        while at != NONE {
            let i = at as usize;
            let k = &self.keys[i];
            if k.stage == stage
                && k.priority == priority
                && k.match_ == match_
                && k.actions == actions
                && k.meter.as_deref() == meter.map(|m| &**m)
            {
                return i;
            }
            at = self.chain[i];
        }
        let i = self.keys.len();
        self.keys.push(make());
        self.own.push(OwnDps::None);
        self.chain.push(head);
        // Tables beyond 4 billion distinct flows are not a concern; saturate rather than wrap.
        self.index.insert(h, u32::try_from(i).unwrap_or(NONE));
        i
    }

    /// Adds a flow on datapath `dp`.
    pub fn add(
        &mut self,
        dp: DpIndex,
        stage: Stage,
        priority: u16,
        m: &Match,
        a: &Actions,
    ) -> &mut Self {
        // One formatting buffer per thread, not per table: the build makes thousands of small
        // tables, each of which would grow its own again.
        let mut text = SCRATCH.take();
        text.clear();
        // Writing to a String cannot fail.
        let _ = m.render(&mut text);
        let split = text.len();
        let _ = render_actions(&mut text, &a.0);
        let meter = self.meter_of(dp, &text[split..]);
        let i = self.entry(
            stage,
            priority,
            &text[..split],
            &text[split..],
            meter.as_ref(),
        );
        SCRATCH.set(text);
        self.own[i].insert(dp);
        self.view.take();
        self
    }

    /// Adds every flow of `other` on datapath `dp` (whatever datapaths `other` had them on).
    pub fn merge_on(&mut self, other: &Self, dp: DpIndex) {
        for k in &other.keys {
            let i = self.entry_on(k, dp);
            self.own[i].insert(dp);
        }
        self.view.take();
    }

    /// Adds every flow of `shared` on datapath `dp`. After the first time a set is added, this
    /// costs one step whatever the number of flows in the set.
    pub fn add_shared(&mut self, shared: &SharedFlows, dp: DpIndex) {
        if self.copp_of(dp).is_some() && shared.meterable() {
            // This datapath's copies of the set's controller flows carry its meter: its
            // flows are added one by one, outside the set's group.
            for k in &shared.keys {
                let i = self.entry_on(k, dp);
                self.own[i].insert(dp);
            }
            self.view.take();
            return;
        }
        let g = match self.group_of.get(&shared.id) {
            Some(&g) => g as usize,
            None => {
                let members = shared
                    .keys
                    .iter()
                    .map(|k| {
                        let i = self.entry_of(k);
                        u32::try_from(i).unwrap_or(NONE)
                    })
                    .collect();
                let g = self.groups.len();
                self.groups.push(Group {
                    members,
                    dps: Vec::new(),
                });
                self.group_of
                    .insert(shared.id, u32::try_from(g).unwrap_or(NONE));
                g
            }
        };
        if let Some(group) = self.groups.get_mut(g) {
            sorted_insert(&mut group.dps, dp);
        }
        self.view.take();
    }

    /// Adds every flow of `other` on the datapaths `other` has it on, keeping `other`'s
    /// shared sets as sets: the table then iterates as if everything added to `other` had
    /// been added to it (tables built apart, e.g. on other threads, merge whatever the order).
    /// Both tables must have the same meters ([`Self::set_meters`]).
    pub fn absorb(&mut self, other: Self) {
        let Self {
            keys,
            own,
            chain,
            index,
            groups,
            group_of,
            ..
        } = other;
        // Each entry's hash, read back from the other table's index (its hash chains), not
        // computed again from the flow's texts; then that index is freed before this table
        // grows.
        let mut hashes: Vec<Option<u64>> = vec![None; keys.len()];
        for (&h, &head) in &index {
            let mut at = head;
            while let Some(slot) = hashes.get_mut(at as usize) {
                *slot = Some(h);
                at = chain.get(at as usize).copied().unwrap_or(NONE);
            }
        }
        drop(index);
        drop(chain);
        self.index.reserve(keys.len());
        self.keys.reserve(keys.len());
        self.own.reserve(keys.len());
        self.chain.reserve(keys.len());
        let mut at: Vec<u32> = Vec::with_capacity(keys.len());
        // The other table's handles and datapath lists are moved here when their flow is new
        // (no copy, no second touch of each flow to drop a handle).
        for ((k, own), h) in keys.into_iter().zip(own).zip(hashes) {
            let new = self.keys.len();
            let i = match h {
                Some(h) => self.entry_hashed(h, k),
                None => self.entry_of(&k),
            };
            if i == new {
                // A new entry has no datapath yet.
                self.own[i] = own;
            } else {
                self.own[i].insert_all(own.as_slice());
            }
            at.push(u32::try_from(i).unwrap_or(NONE));
        }
        let mut ids: Vec<(u32, u64)> = group_of.iter().map(|(id, g)| (*g, *id)).collect();
        ids.sort_unstable();
        for (g, id) in ids {
            let Some(group) = groups.get(g as usize) else {
                continue;
            };
            match self.group_of.get(&id) {
                // The same set: same flows, so the same entries here.
                Some(&mine) => {
                    if let Some(mine) = self.groups.get_mut(mine as usize) {
                        sorted_insert_all(&mut mine.dps, &group.dps);
                    }
                }
                None => {
                    let members = group
                        .members
                        .iter()
                        .map(|&m| at.get(m as usize).copied().unwrap_or(NONE))
                        .collect();
                    let mine = u32::try_from(self.groups.len()).unwrap_or(NONE);
                    self.groups.push(Group {
                        members,
                        dps: group.dps.clone(),
                    });
                    self.group_of.insert(id, mine);
                }
            }
        }
        self.view.take();
    }

    /// Adds flow `key` on `datapaths` (used to assemble a table from flows built apart, e.g.
    /// per datapath by [`crate::incremental`]).
    pub fn insert(&mut self, key: FlowKey, datapaths: impl IntoIterator<Item = DpIndex>) {
        let i = self.entry_of(&Arc::new(key));
        for dp in datapaths {
            self.own[i].insert(dp);
        }
        self.view.take();
    }

    /// A copy of the table with every flow rewritten by `f` (flows that become equal merge
    /// their datapaths); the meters are kept.
    pub fn map_flows(&self, f: impl Fn(&FlowKey) -> FlowKey) -> Self {
        let mut t = Self {
            meters: self.meters.clone(),
            ..Self::default()
        };
        for (k, dps) in self.iter() {
            t.insert(f(k), dps.iter().copied());
        }
        t
    }

    /// The order and merged datapath lists, computed once per change.
    fn view(&self) -> &View {
        self.view.get_or_init(|| {
            let n = self.keys.len();
            let mut at: Vec<DpsAt> = vec![DpsAt::Own; n];
            let mut merged: Vec<Vec<DpIndex>> = Vec::new();
            for (g, group) in self.groups.iter().enumerate() {
                let g = u32::try_from(g).unwrap_or(NONE);
                for &m in &group.members {
                    let m = m as usize;
                    let Some(slot) = at.get_mut(m) else {
                        continue;
                    };
                    let x = match *slot {
                        DpsAt::Own if self.own[m].as_slice().is_empty() => {
                            *slot = DpsAt::Group(g);
                            continue;
                        }
                        DpsAt::Merged(x) => x as usize,
                        DpsAt::Own => {
                            merged.push(self.own[m].as_slice().to_vec());
                            merged.len() - 1
                        }
                        DpsAt::Group(prev) => {
                            merged.push(self.groups[prev as usize].dps.clone());
                            merged.len() - 1
                        }
                    };
                    *slot = DpsAt::Merged(u32::try_from(x).unwrap_or(NONE));
                    merged[x].extend(&group.dps);
                }
            }
            for v in &mut merged {
                v.sort_unstable();
                v.dedup();
            }
            // Sorted by a prefix of each key held inline (no pointer to follow), the full
            // keys read only where prefixes are equal.
            let keyed: Vec<(SortPrefix, u32)> = self
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| (SortPrefix::of(k), u32::try_from(i).unwrap_or(NONE)))
                .collect();
            // Keys are sorted by their prefixes alone, then each run of equal prefixes by the
            // rest of its keys ([`sort_tied`]): a comparison of the sort never reads a key.
            let mut keyed = sorted_order(keyed, |a, b| a.0.cmp(&b.0));
            let mut from = 0;
            while from < keyed.len() {
                let prefix = keyed[from].0;
                let len = keyed[from..]
                    .iter()
                    .take_while(|(p, _)| *p == prefix)
                    .count();
                sort_tied(&self.keys, &mut keyed[from..from + len], PREFIX_MATCH);
                from += len;
            }
            let order = keyed
                .into_iter()
                .map(|(_, i)| (i, at.get(i as usize).copied().unwrap_or(DpsAt::Own)))
                .collect();
            View { order, merged }
        })
    }

    /// Every flow with its datapaths, in [`FlowKey`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, DpSet<'_>)> + '_ {
        let view = self.view();
        view.order.iter().map(move |&(i, at)| {
            let dps = match at {
                DpsAt::Own => self.own[i as usize].as_slice(),
                DpsAt::Group(g) => self.groups[g as usize].dps.as_slice(),
                DpsAt::Merged(x) => view.merged[x as usize].as_slice(),
            };
            (&*self.keys[i as usize], DpSet(dps))
        })
    }

    /// [`iter`](Self::iter) with each flow as the table's shared handle, for indexes that
    /// outlive the table without copying the flow texts.
    pub fn iter_shared(&self) -> impl Iterator<Item = (&Arc<FlowKey>, DpSet<'_>)> + '_ {
        let view = self.view();
        view.order.iter().map(move |&(i, at)| {
            let dps = match at {
                DpsAt::Own => self.own[i as usize].as_slice(),
                DpsAt::Group(g) => self.groups[g as usize].dps.as_slice(),
                DpsAt::Merged(x) => view.merged[x as usize].as_slice(),
            };
            (&self.keys[i as usize], DpSet(dps))
        })
    }

    /// Number of distinct flows (before expansion per datapath).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_as_ovn() {
        let m = Match::eq(Field::ARP_TPA, IpAddr::from([10, 0, 0, 1]))
            .and_eq(Field::ARP_OP, 1)
            .and_eq(Field::INPORT, Value::port("p1"));
        assert_eq!(
            m.to_string(),
            "arp.tpa == 10.0.0.1 && arp.op == 1 && inport == \"p1\""
        );
        let a = Actions(vec![
            Action::CtCommit(vec![Action::Assign(Field::CT_MARK_BLOCKED, Value::Int(0))]),
            Action::Next,
        ]);
        assert_eq!(a.to_string(), "ct_commit { ct_mark.blocked = 0; }; next;");
        assert_eq!(
            solicited_node("fd00::2".parse().unwrap()).to_string(),
            "ff02::1:ff00:2"
        );
    }

    #[test]
    fn prefix_then_rest_orders_as_flow_keys() {
        let texts = [
            "",
            "a",
            "ip4",
            "inport == \"sw1-port1\"",
            "inport == \"sw1-port10\"",
            "inport == \"sw1-port1\" && ip4",
            "inport == \"sw1-port2\"",
            "inport == \"sw1-por",
            "inport == \"sw1-po",
            "0123456789012345678",
            "01234567890123456789",
            "012345678901234567890",
            "01234567890123456789\u{0}",
        ];
        let meters = [None, Some(Arc::from("m1")), Some(Arc::from("m2"))];
        let mut keys = Vec::new();
        for stage in [Stage::LsInAcl, Stage::LsInL2Lkup] {
            for priority in [0, 100, 65535] {
                for m in &texts {
                    for a in ["next;", "drop;", "next; drop;"] {
                        for meter in &meters {
                            keys.push(FlowKey {
                                stage,
                                priority,
                                match_: (*m).to_owned(),
                                actions: a.to_owned(),
                                meter: meter.clone(),
                            });
                        }
                    }
                }
            }
        }
        for a in &keys {
            for b in &keys {
                let ours = SortPrefix::of(a)
                    .cmp(&SortPrefix::of(b))
                    .then_with(|| SortPrefix::cmp_rest(a, b));
                assert_eq!(ours, a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn the_view_orders_tied_prefixes_as_flow_keys() {
        // Keys whose prefixes tie in every way (same stage, priority and first bytes, matches
        // ending inside and past the prefix, differing in actions or meter only), added in a
        // scrambled order: the table iterates them in `FlowKey` order.
        let heads = [
            "",
            "inport == \"sw1-por",
            "inport == \"sw1-port1",
            "0123456789012345678",
        ];
        // Tails long enough for matches to tie over several windows and differ late.
        let tails = [
            "",
            "t",
            "0",
            "\u{0}",
            "port1\"",
            "port10\" && ip4",
            "~~",
            "port1\" && ip4.dst == 10.0.0.1 && tcp.dst == 80 && ct.new",
            "port1\" && ip4.dst == 10.0.0.1 && tcp.dst == 80 && ct.new\u{0}",
            "port1\" && ip4.dst == 10.0.0.1 && tcp.dst == 80 && ct.est",
            "port1\" && ip4.dst == 10.0.0.1 && tcp.dst == 8",
        ];
        let mut keys = Vec::new();
        for stage in [Stage::LsInAcl, Stage::LsInL2Lkup, Stage::LrInIpRouting] {
            for priority in [0, 1, 256, 65535] {
                for h in heads {
                    for t in tails {
                        for a in ["next;", "drop;", ""] {
                            for meter in [None, Some(Arc::from("m"))] {
                                keys.push(FlowKey {
                                    stage,
                                    priority,
                                    match_: format!("{h}{t}"),
                                    actions: a.to_owned(),
                                    meter,
                                });
                            }
                        }
                    }
                }
            }
        }
        let n = keys.len();
        let mut t = FlowTable::default();
        // A stride coprime with the count visits every key once, out of order.
        fn gcd(a: usize, b: usize) -> usize {
            if b == 0 {
                a
            } else {
                gcd(b, a % b)
            }
        }
        let stride = (2..n).find(|s| gcd(*s, n) == 1 && s * s > n).unwrap_or(1);
        for i in 0..n {
            t.insert(keys[(i * stride) % n].clone(), [i % 3]);
        }
        let mut want = keys;
        want.sort();
        want.dedup();
        let got: Vec<FlowKey> = t.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn io_port_is_the_first_inport_or_outport() {
        // The port as two searches find it (the first of each pattern, the earlier one).
        fn by_search(m: &str) -> Option<&str> {
            let at = ["inport == \"", "outport == \""]
                .iter()
                .filter_map(|p| m.find(p).map(|i| i + p.len()))
                .min()?;
            let rest = &m[at..];
            let port = rest.find('"').map(|end| &rest[..end])?;
            (port != "none").then_some(port)
        }
        for m in [
            "",
            "inport == \"p1\"",
            "outport == \"p2\" && inport == \"p1\"",
            "inport == \"p1\" && outport == \"p2\"",
            "xport == \"a\" && inport == \"b\"",
            "port == \"a\" && outport == \"c\"",
            "outport == \"none\"",
            "inport == \"unterminated",
            "inport == \"",
            "reg0 == 1 && inport == \"é-port\" && ip4",
            "ininport == \"x\"",
            "outport == \"a\"inport == \"b\"",
            "inport == ",
            "p",
        ] {
            assert_eq!(
                io_port(Stage::LsInArpRsp, 100, m),
                by_search(m),
                "match {m:?}"
            );
        }
        assert_eq!(io_port(Stage::LsInArpRsp, 99, "inport == \"p1\""), None);
    }

    /// One step on a table: a flow (by number) added on a datapath, a shared set (by number)
    /// added on a datapath, a small table merged on a datapath, or a flow inserted on datapaths.
    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, DpIndex),
        Shared(usize, DpIndex),
        Merge(usize, DpIndex),
        Insert(usize, Vec<DpIndex>),
    }

    fn flow(n: usize) -> (Stage, u16, Match, Actions) {
        let stage = if n % 2 == 0 {
            Stage::LsInLb
        } else {
            Stage::LrInDnat
        };
        let m = Match::eq(Field::IP4_DST, Value::Int((n % 5) as u64));
        let a = Actions::one(Action::Assign(reg::LABEL, Value::Int((n / 5) as u64)));
        (stage, (n % 3) as u16, m, a)
    }

    fn key(n: usize) -> FlowKey {
        let (stage, priority, m, a) = flow(n);
        FlowKey {
            stage,
            priority,
            match_: m.to_string(),
            actions: a.to_string(),
            meter: None,
        }
    }

    /// Flow set `s`: a few flows, overlapping those of other sets.
    fn set_table(s: usize) -> FlowTable {
        let mut t = FlowTable::default();
        for n in [s, s + 3, 2 * s + 1] {
            let (stage, priority, m, a) = flow(n);
            t.add(7, stage, priority, &m, &a);
        }
        t
    }

    /// Up to 60 steps of every kind, on small flow and datapath ranges.
    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![
                (0..40usize, 0..12usize).prop_map(|(n, d)| Op::Add(n, d)),
                (0..6usize, 0..12usize).prop_map(|(s, d)| Op::Shared(s, d)),
                (0..6usize, 0..12usize).prop_map(|(s, d)| Op::Merge(s, d)),
                (0..40usize, proptest::collection::vec(0..12usize, 0..4))
                    .prop_map(|(n, d)| Op::Insert(n, d)),
            ],
            0..60,
        )
    }

    proptest! {
        /// Merging a sorted list of datapaths in gives what inserting each gives.
        #[test]
        fn insert_all_is_each_inserted(
            a in proptest::collection::btree_set(0usize..40, 0..20),
            b in proptest::collection::btree_set(0usize..40, 0..20),
        ) {
            let b: Vec<DpIndex> = b.into_iter().collect();
            let mut one_by_one = OwnDps::None;
            let mut merged = OwnDps::None;
            for &dp in &a {
                one_by_one.insert(dp);
                merged.insert(dp);
            }
            let mut v: Vec<DpIndex> = a.iter().copied().collect();
            let mut w = v.clone();
            for &dp in &b {
                one_by_one.insert(dp);
                sorted_insert(&mut v, dp);
            }
            merged.insert_all(&b);
            sorted_insert_all(&mut w, &b);
            prop_assert_eq!(one_by_one.as_slice(), merged.as_slice());
            prop_assert_eq!(
                matches!(one_by_one, OwnDps::Many(_)),
                matches!(merged, OwnDps::Many(_))
            );
            prop_assert_eq!(v, w);
        }

        /// The table gives what a plain ordered map of flows to datapath sets gives, whatever
        /// the mix of direct, shared and merged additions.
        #[test]
        fn table_is_a_map_of_sets(ops in ops()) {
            let sets: Vec<FlowTable> = (0..6).map(set_table).collect();
            let shared: Vec<SharedFlows> = sets.iter().map(SharedFlows::new).collect();
            let mut t = FlowTable::default();
            let mut want: std::collections::BTreeMap<FlowKey, BTreeSet<DpIndex>> =
                std::collections::BTreeMap::new();
            for (i, op) in ops.iter().enumerate() {
                match op {
                    Op::Add(n, d) => {
                        let (stage, priority, m, a) = flow(*n);
                        t.add(*d, stage, priority, &m, &a);
                        want.entry(key(*n)).or_default().insert(*d);
                    }
                    Op::Shared(s, d) | Op::Merge(s, d) => {
                        if matches!(op, Op::Shared(..)) {
                            t.add_shared(&shared[*s], *d);
                        } else {
                            t.merge_on(&sets[*s], *d);
                        }
                        for k in shared[*s].keys() {
                            want.entry(FlowKey::clone(k)).or_default().insert(*d);
                        }
                    }
                    Op::Insert(n, dps) => {
                        t.insert(key(*n), dps.iter().copied());
                        want.entry(key(*n)).or_default().extend(dps.iter().copied());
                    }
                }
                // Looking in the middle must not disturb later additions.
                if i % 7 == 3 {
                    prop_assert_eq!(t.len(), want.len());
                    let _ = t.iter().count();
                }
            }
            let got: Vec<(FlowKey, Vec<DpIndex>)> =
                t.iter().map(|(k, d)| (k.clone(), d.as_slice().to_vec())).collect();
            let expected: Vec<(FlowKey, Vec<DpIndex>)> = want
                .into_iter()
                .map(|(k, d)| (k, d.into_iter().collect()))
                .collect();
            prop_assert_eq!(t.len(), expected.len());
            prop_assert_eq!(got, expected);
        }

        /// Two tables given the steps alternately and merged ([`FlowTable::absorb`]) iterate
        /// as one table given every step.
        #[test]
        fn absorbed_tables_are_one_table(ops in ops(), split in 0..4usize) {
            let sets: Vec<FlowTable> = (0..6).map(set_table).collect();
            let shared: Vec<SharedFlows> = sets.iter().map(SharedFlows::new).collect();
            let mut one = FlowTable::default();
            let mut parts = [FlowTable::default(), FlowTable::default()];
            for (i, op) in ops.iter().enumerate() {
                let part = &mut parts[usize::from((i + split) % 3 == 0)];
                for t in [&mut one, part] {
                    match op {
                        Op::Add(n, d) => {
                            let (stage, priority, m, a) = flow(*n);
                            t.add(*d, stage, priority, &m, &a);
                        }
                        Op::Shared(s, d) => t.add_shared(&shared[*s], *d),
                        Op::Merge(s, d) => t.merge_on(&sets[*s], *d),
                        Op::Insert(n, dps) => t.insert(key(*n), dps.iter().copied()),
                    }
                }
            }
            let [mut a, b] = parts;
            a.absorb(b);
            let got: Vec<(FlowKey, Vec<DpIndex>)> =
                a.iter().map(|(k, d)| (k.clone(), d.as_slice().to_vec())).collect();
            let expected: Vec<(FlowKey, Vec<DpIndex>)> =
                one.iter().map(|(k, d)| (k.clone(), d.as_slice().to_vec())).collect();
            prop_assert_eq!(a.len(), one.len());
            prop_assert_eq!(got, expected);
        }
    }
}
