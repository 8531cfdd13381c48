//! The logical field table: every field, subfield and predicate ovn-controller 23.03 accepts
//! in a logical flow, as one declarative table ([`OVN_SYMBOLS`]).
//!
//! A [`Symtab`] is built from a slice of [`SymbolDef`]s, so tests (and future users) can build
//! small tables of their own; [`Symtab::ovn`] is the 23.03 table.  Four kinds of symbol exist,
//! as in OVN:
//!
//! * **fields** map onto an OpenFlow field ([`OfField`]) and are matched directly;
//! * **string fields** (`inport`, `outport`) compare against port names, which `to_matches`
//!   turns into tunnel keys through a caller-provided lookup;
//! * **subfields** name a bit range of another symbol (`reg0` is `xxreg0[96..127]`);
//! * **predicates** name an expression (`tcp` is `ip.proto == 6`).
//!
//! Any symbol may have prerequisites (an expression that must also hold: `tcp.dst` needs `tcp`).
//! Fields marked `must_crossproduct` (`eth.type`, `ip.proto`, `icmp6.type`, `icmp6.code`) are never
//! split into conjunctive-match dimensions, because OpenFlow needs them in every flow that
//! matches a field depending on them.

use crate::fxhash::FxHashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::error::{ErrorKind, ExprError};
use crate::lex::{tokenize, Token};

/// An OpenFlow (NXM/OXM) field, named as `ovs-ofctl dump-flows` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OfField {
    /// `reg0`..`reg15`, 32 bits each.
    Reg(u8),
    /// `xreg0`..`xreg7`: `reg(2n)` (high half) and `reg(2n+1)`.
    Xreg(u8),
    /// `xxreg0`..`xxreg3`: `reg(4n)` (most significant) to `reg(4n+3)`.
    Xxreg(u8),
    /// `metadata`: the logical datapath key.
    Metadata,
    /// `pkt_mark`
    PktMark,
    /// `conj_id`
    ConjId,
    /// `ct_state`
    CtState,
    /// `ct_mark`
    CtMark,
    /// `ct_label`
    CtLabel,
    /// `dl_src`
    EthSrc,
    /// `dl_dst`
    EthDst,
    /// `dl_type`
    EthType,
    /// `vlan_tci`
    VlanTci,
    /// `nw_proto`
    IpProto,
    /// DSCP, 6 bits (`ip_dscp`; printed as `nw_tos`, shifted left by 2).
    IpDscp,
    /// `nw_ecn`
    IpEcn,
    /// `nw_ttl`
    IpTtl,
    /// `nw_frag` (2 bits: bit 0 "is fragment", bit 1 "later fragment").
    IpFrag,
    /// `nw_src`
    Ipv4Src,
    /// `nw_dst`
    Ipv4Dst,
    /// `ipv6_src`
    Ipv6Src,
    /// `ipv6_dst`
    Ipv6Dst,
    /// `ipv6_label`
    Ipv6Label,
    /// `icmp_type` (ICMPv4)
    Icmpv4Type,
    /// `icmp_code` (ICMPv4)
    Icmpv4Code,
    /// `icmpv6_type`
    Icmpv6Type,
    /// `icmpv6_code`
    Icmpv6Code,
    /// `arp_op`
    ArpOp,
    /// `arp_spa`
    ArpSpa,
    /// `arp_tpa`
    ArpTpa,
    /// `arp_sha`
    ArpSha,
    /// `arp_tha`
    ArpTha,
    /// `nd_target`
    NdTarget,
    /// `nd_sll`
    NdSll,
    /// `nd_tll`
    NdTll,
    /// `tcp_src`
    TcpSrc,
    /// `tcp_dst`
    TcpDst,
    /// `tcp_flags` (12 bits)
    TcpFlags,
    /// `udp_src`
    UdpSrc,
    /// `udp_dst`
    UdpDst,
    /// `sctp_src`
    SctpSrc,
    /// `sctp_dst`
    SctpDst,
}

impl OfField {
    /// Width in bits.
    pub fn width(self) -> u32 {
        use OfField::*;
        match self {
            Reg(_) | PktMark | ConjId | CtMark | Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa => 32,
            Xreg(_) | Metadata => 64,
            Xxreg(_) | CtLabel | Ipv6Src | Ipv6Dst | NdTarget => 128,
            CtState | IpProto | IpTtl | Icmpv4Type | Icmpv4Code | Icmpv6Type | Icmpv6Code => 8,
            EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => 48,
            EthType | VlanTci | ArpOp | TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst => 16,
            IpDscp => 6,
            IpEcn | IpFrag => 2,
            Ipv6Label => 20,
            TcpFlags => 12,
        }
    }

    /// The field's name in OVS (`ovs-ofctl` syntax, e.g. `dl_src`, `nw_src`, `reg0`).
    pub fn name(self) -> String {
        use OfField::*;
        let s = match self {
            Reg(n) => return format!("reg{n}"),
            Xreg(n) => return format!("xreg{n}"),
            Xxreg(n) => return format!("xxreg{n}"),
            Metadata => "metadata",
            PktMark => "pkt_mark",
            ConjId => "conj_id",
            CtState => "ct_state",
            CtMark => "ct_mark",
            CtLabel => "ct_label",
            EthSrc => "dl_src",
            EthDst => "dl_dst",
            EthType => "dl_type",
            VlanTci => "vlan_tci",
            IpProto => "nw_proto",
            IpDscp => "ip_dscp",
            IpEcn => "nw_ecn",
            IpTtl => "nw_ttl",
            IpFrag => "nw_frag",
            Ipv4Src => "nw_src",
            Ipv4Dst => "nw_dst",
            Ipv6Src => "ipv6_src",
            Ipv6Dst => "ipv6_dst",
            Ipv6Label => "ipv6_label",
            Icmpv4Type => "icmp_type",
            Icmpv4Code => "icmp_code",
            Icmpv6Type => "icmpv6_type",
            Icmpv6Code => "icmpv6_code",
            ArpOp => "arp_op",
            ArpSpa => "arp_spa",
            ArpTpa => "arp_tpa",
            ArpSha => "arp_sha",
            ArpTha => "arp_tha",
            NdTarget => "nd_target",
            NdSll => "nd_sll",
            NdTll => "nd_tll",
            TcpSrc => "tcp_src",
            TcpDst => "tcp_dst",
            TcpFlags => "tcp_flags",
            UdpSrc => "udp_src",
            UdpDst => "udp_dst",
            SctpSrc => "sctp_src",
            SctpDst => "sctp_dst",
        };
        s.to_owned()
    }
}

impl fmt::Display for OfField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// How a symbol may be written by actions (for the action compiler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Write {
    /// Read-only.
    No,
    /// Writable anywhere.
    Yes,
    /// Writable only inside `ct_commit { ... }` (`ct_mark`, `ct_label`).
    CtCommit,
}

/// How a symbol is defined, in a [`SymbolDef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Def {
    /// A numeric field in the low `width` bits of an OpenFlow field.
    Field(OfField, u32),
    /// A string (port name) field stored in an OpenFlow field.
    String(OfField),
    /// A bit range of another symbol, written `name[lo..hi]` or `name[bit]`.
    Subfield(&'static str),
    /// A Boolean predicate with the given expansion.
    Predicate(&'static str),
    /// A field OVN implements in ovn-controller actions only (`icmp4.frag_mtu`); not matchable.
    OvnOnly(u32),
}

/// One row of a symbol table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolDef {
    /// Name as written in logical flows.
    pub name: &'static str,
    /// What it is.
    pub def: Def,
    /// Prerequisite expression, if any.
    pub prereqs: Option<&'static str>,
    /// Never make it a conjunctive-match dimension.
    pub must_crossproduct: bool,
    /// Writability for actions.
    pub write: Write,
}

/// How a symbol may be compared, as OVN's `expr_level` (ordered: nominal < boolean < ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Only equality (string fields, predicates over them).
    Nominal,
    /// A Boolean (predicates): `==`/`!=` against 0 or 1.
    Boolean,
    /// An integer field: every relational operator.
    Ordinal,
}

impl Level {
    /// OVN's name for the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nominal => "nominal",
            Self::Boolean => "Boolean",
            Self::Ordinal => "ordinal",
        }
    }
}

/// Index of a symbol in its [`Symtab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(pub u16);

/// What a resolved symbol is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolKind {
    /// A numeric field in the low bits of an OpenFlow field.
    Field(OfField),
    /// A string field.
    String(OfField),
    /// `width` bits of `parent` starting at bit `offset`.
    Subfield {
        /// The underlying symbol.
        parent: SymbolId,
        /// Bit offset within the parent.
        offset: u32,
    },
    /// A predicate and its expansion.
    Predicate(String),
    /// Action-only field.
    OvnOnly,
}

/// A resolved symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Name.
    pub name: String,
    /// Width in bits; 0 for string fields, 1 for predicates.
    pub width: u32,
    /// Definition.
    pub kind: SymbolKind,
    /// Comparison level.
    pub level: Level,
    /// Prerequisite expression.
    pub prereqs: Option<String>,
    /// See [`SymbolDef::must_crossproduct`].
    pub must_crossproduct: bool,
    /// Writability.
    pub write: Write,
}

impl Symbol {
    /// True for string (port name) fields.
    pub fn is_string(&self) -> bool {
        matches!(self.kind, SymbolKind::String(_))
    }

    /// True for predicates.
    pub fn is_predicate(&self) -> bool {
        matches!(self.kind, SymbolKind::Predicate(_))
    }
}

/// A symbol table.
#[derive(Debug)]
pub struct Symtab {
    symbols: Vec<Symbol>,
    by_name: FxHashMap<Box<[u8]>, SymbolId>,
    /// Each symbol's position in name order (compares as the names do, without comparing
    /// strings).
    name_rank: Vec<u16>,
    /// Annotated predicate expansions and prerequisites, by their text, filled on first use.
    expansions: std::sync::Mutex<FxHashMap<String, crate::expr::Expr>>,
}

impl Clone for Symtab {
    fn clone(&self) -> Self {
        Self {
            symbols: self.symbols.clone(),
            by_name: self.by_name.clone(),
            name_rank: self.name_rank.clone(),
            expansions: std::sync::Mutex::new(FxHashMap::default()),
        }
    }
}

fn table_error(msg: String) -> ExprError {
    ExprError::new(ErrorKind::Expansion, msg, None)
}

fn parse_subfield_ref(s: &str) -> Option<(&str, u32, u32)> {
    let (name, rest) = s.split_once('[')?;
    let inner = rest.strip_suffix(']')?;
    let (lo, hi) = match inner.split_once("..") {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let b = inner.parse().ok()?;
            (b, b)
        }
    };
    Some((name, lo, hi))
}

impl Symtab {
    /// Builds a table from definitions, in order (a subfield's parent must come first).
    pub fn from_defs(defs: &[SymbolDef]) -> Result<Self, ExprError> {
        let mut t = Self {
            symbols: Vec::with_capacity(defs.len()),
            by_name: FxHashMap::default(),
            name_rank: Vec::new(),
            expansions: std::sync::Mutex::new(FxHashMap::default()),
        };
        for d in defs {
            let (width, kind, level) = match d.def {
                Def::Field(of, w) => (w, SymbolKind::Field(of), Level::Ordinal),
                Def::String(of) => (0, SymbolKind::String(of), Level::Nominal),
                Def::OvnOnly(w) => (w, SymbolKind::OvnOnly, Level::Ordinal),
                Def::Subfield(r) => {
                    let (pname, lo, hi) = parse_subfield_ref(r)
                        .ok_or_else(|| table_error(format!("{r}: bad subfield of {}", d.name)))?;
                    let pid = t.lookup(pname).ok_or_else(|| {
                        table_error(format!("{r}: unknown parent of subfield {}", d.name))
                    })?;
                    let p = t.get(pid);
                    if lo > hi || hi >= p.width {
                        return Err(table_error(format!(
                            "{r}: bad bit range for subfield {}",
                            d.name
                        )));
                    }
                    (
                        hi - lo + 1,
                        SymbolKind::Subfield {
                            parent: pid,
                            offset: lo,
                        },
                        p.level,
                    )
                }
                Def::Predicate(e) => {
                    let nominal = tokenize(e).iter().any(|s| {
                        matches!(&s.token, Token::Id(n)
                            if t.lookup(n).is_some_and(|id| t.get(id).level == Level::Nominal))
                    });
                    let level = if nominal {
                        Level::Nominal
                    } else {
                        Level::Boolean
                    };
                    (1, SymbolKind::Predicate(e.to_owned()), level)
                }
            };
            let id = SymbolId(
                u16::try_from(t.symbols.len())
                    .map_err(|_| table_error("symbol table too large".into()))?,
            );
            if t.by_name.insert(d.name.as_bytes().into(), id).is_some() {
                return Err(table_error(format!("duplicate symbol {}", d.name)));
            }
            t.symbols.push(Symbol {
                name: d.name.to_owned(),
                width,
                kind,
                level,
                prereqs: d.prereqs.map(str::to_owned),
                must_crossproduct: d.must_crossproduct,
                write: d.write,
            });
        }
        let mut order: Vec<usize> = (0..t.symbols.len()).collect();
        order.sort_by(|a, b| t.symbols[*a].name.cmp(&t.symbols[*b].name));
        t.name_rank = vec![0; t.symbols.len()];
        for (rank, i) in order.into_iter().enumerate() {
            // Fits: the table has fewer than 2^16 symbols (checked above).
            t.name_rank[i] = rank as u16;
        }
        Ok(t)
    }

    /// The position of the symbol's name among all names in `str` order (a key that
    /// compares as [`Self::cmp_names`] does), if the table ranked it.
    pub fn name_rank(&self, s: SymbolId) -> Option<u16> {
        self.name_rank.get(usize::from(s.0)).copied()
    }

    /// Compares two symbols' names (as `str`s compare).
    pub fn cmp_names(&self, a: SymbolId, b: SymbolId) -> std::cmp::Ordering {
        match (
            self.name_rank.get(usize::from(a.0)),
            self.name_rank.get(usize::from(b.0)),
        ) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => self.get(a).name.cmp(&self.get(b).name),
        }
    }

    /// The OVN 23.03 logical field table.
    pub fn ovn() -> &'static Self {
        static TABLE: OnceLock<Symtab> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The static table is checked by a unit test; an empty table is never returned
            // in practice, but a library must not panic here.
            Self::from_defs(&ovn_symbol_defs()).unwrap_or_else(|_| Self {
                symbols: Vec::new(),
                by_name: FxHashMap::default(),
                name_rank: Vec::new(),
                expansions: std::sync::Mutex::new(FxHashMap::default()),
            })
        })
    }

    /// A cached annotated expansion of `text` (a predicate or prerequisite of this table).
    pub(crate) fn cached_expansion(&self, text: &str) -> Option<crate::expr::Expr> {
        self.expansions.lock().ok()?.get(text).cloned()
    }

    /// Caches the annotated expansion of `text`.
    pub(crate) fn cache_expansion(&self, text: &str, e: &crate::expr::Expr) {
        if let Ok(mut m) = self.expansions.lock() {
            m.insert(text.to_owned(), e.clone());
        }
    }

    /// Finds a symbol by the bytes of its name.
    pub fn lookup_bytes(&self, name: &[u8]) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// Finds a symbol by name.
    pub fn lookup(&self, name: &str) -> Option<SymbolId> {
        self.by_name.get(name.as_bytes()).copied()
    }

    /// The symbol with id `id` (ids come from this table).
    pub fn get(&self, id: SymbolId) -> &Symbol {
        &self.symbols[usize::from(id.0)]
    }

    /// All symbols, in definition order.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &Symbol)> {
        self.symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (SymbolId(i as u16), s))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True if the table has no symbols.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Follows subfields down to the underlying field: `(field symbol, bit offset)`.
    pub fn resolve(&self, mut id: SymbolId) -> (SymbolId, u32) {
        let mut ofs = 0;
        while let SymbolKind::Subfield { parent, offset } = self.get(id).kind {
            ofs += offset;
            id = parent;
        }
        (id, ofs)
    }

    /// One line describing `id` the way `ovn-trace`/test-ovn's symtab dump does:
    /// `name = definition`.
    pub fn describe(&self, id: SymbolId) -> String {
        let s = self.get(id);
        let def = match &s.kind {
            SymbolKind::Field(of) | SymbolKind::String(of) => of.name(),
            SymbolKind::Subfield { parent, offset } => {
                let p = self.get(*parent);
                if s.width == 1 {
                    format!("{}[{}]", p.name, offset)
                } else {
                    format!("{}[{}..{}]", p.name, offset, offset + s.width - 1)
                }
            }
            SymbolKind::Predicate(e) => e.clone(),
            SymbolKind::OvnOnly => "(ovn field)".to_owned(),
        };
        format!("{} = {}", s.name, def)
    }
}

const fn field(name: &'static str, of: OfField, w: u32, pre: Option<&'static str>) -> SymbolDef {
    SymbolDef {
        name,
        def: Def::Field(of, w),
        prereqs: pre,
        must_crossproduct: false,
        write: Write::Yes,
    }
}

const fn ro(mut d: SymbolDef) -> SymbolDef {
    d.write = Write::No;
    d
}

const fn xp(mut d: SymbolDef) -> SymbolDef {
    d.must_crossproduct = true;
    d
}

const fn ct(mut d: SymbolDef) -> SymbolDef {
    d.write = Write::CtCommit;
    d
}

const fn sub(name: &'static str, r: &'static str, pre: Option<&'static str>) -> SymbolDef {
    SymbolDef {
        name,
        def: Def::Subfield(r),
        prereqs: pre,
        must_crossproduct: false,
        write: Write::Yes,
    }
}

const fn pred(name: &'static str, e: &'static str) -> SymbolDef {
    SymbolDef {
        name,
        def: Def::Predicate(e),
        prereqs: None,
        must_crossproduct: false,
        write: Write::No,
    }
}

use OfField as F;

/// The OVN 23.03 symbols, in the order ovn-controller registers them.
///
/// Registers follow OVN's layout for its 10 logical registers: `xxreg0`/`xxreg1` are
/// fields, `xreg0..3` and `reg0..7` are their subfields, `xreg4` is a field and `reg8`/`reg9`
/// its halves.  `reg10` (flags), `reg11`..`reg13` (zones) and `reg14`/`reg15` (logical ports)
/// are reserved by OVN and not addressable by name in logical flows.
pub const OVN_SYMBOLS: &[SymbolDef] = &[
    SymbolDef { name: "inport", def: Def::String(F::Reg(14)), prereqs: None, must_crossproduct: false, write: Write::Yes },
    SymbolDef { name: "outport", def: Def::String(F::Reg(15)), prereqs: None, must_crossproduct: false, write: Write::Yes },
    field("xxreg0", F::Xxreg(0), 128, None),
    field("xxreg1", F::Xxreg(1), 128, None),
    sub("xreg0", "xxreg0[64..127]", None),
    sub("xreg1", "xxreg0[0..63]", None),
    sub("xreg2", "xxreg1[64..127]", None),
    sub("xreg3", "xxreg1[0..63]", None),
    field("xreg4", F::Xreg(4), 64, None),
    sub("reg0", "xxreg0[96..127]", None),
    sub("reg1", "xxreg0[64..95]", None),
    sub("reg2", "xxreg0[32..63]", None),
    sub("reg3", "xxreg0[0..31]", None),
    sub("reg4", "xxreg1[96..127]", None),
    sub("reg5", "xxreg1[64..95]", None),
    sub("reg6", "xxreg1[32..63]", None),
    sub("reg7", "xxreg1[0..31]", None),
    sub("reg8", "xreg4[32..63]", None),
    sub("reg9", "xreg4[0..31]", None),
    field("flags", F::Reg(10), 32, None),
    sub("flags.loopback", "flags[0]", None),
    sub("flags.force_snat_for_dnat", "flags[2]", None),
    sub("flags.force_snat_for_lb", "flags[3]", None),
    sub("flags.skip_snat_for_lb", "flags[9]", None),
    sub("flags.use_snat_zone", "flags[11]", None),
    ct(field("ct_mark", F::CtMark, 32, None)),
    ct(sub("ct_mark.blocked", "ct_mark[0]", None)),
    ct(sub("ct_mark.natted", "ct_mark[1]", None)),
    ct(sub("ct_mark.skip_snat", "ct_mark[2]", None)),
    ct(sub("ct_mark.force_snat", "ct_mark[3]", None)),
    ct(sub("ct_mark.ecmp_reply_port", "ct_mark[16..31]", None)),
    ct(field("ct_label", F::CtLabel, 128, None)),
    ct(sub("ct_label.blocked", "ct_label[0]", None)),
    ct(sub("ct_label.natted", "ct_label[1]", None)),
    ct(sub("ct_label.skip_snat", "ct_label[2]", None)),
    ct(sub("ct_label.force_snat", "ct_label[3]", None)),
    ct(sub("ct_label.ecmp_reply_eth", "ct_label[32..79]", None)),
    ct(sub("ct_label.ecmp_reply_port", "ct_label[80..95]", None)),
    ct(sub("ct_label.label", "ct_label[96..127]", None)),
    ro(field("ct_state", F::CtState, 8, None)),
    ro(sub("ct.new", "ct_state[0]", Some("ct.trk"))),
    ro(sub("ct.est", "ct_state[1]", Some("ct.trk"))),
    ro(sub("ct.rel", "ct_state[2]", Some("ct.trk"))),
    ro(sub("ct.rpl", "ct_state[3]", Some("ct.trk"))),
    ro(sub("ct.inv", "ct_state[4]", Some("ct.trk"))),
    ro(sub("ct.trk", "ct_state[5]", None)),
    ro(sub("ct.snat", "ct_state[6]", Some("ct.trk"))),
    ro(sub("ct.dnat", "ct_state[7]", Some("ct.trk"))),
    field("eth.src", F::EthSrc, 48, None),
    field("eth.dst", F::EthDst, 48, None),
    ro(xp(field("eth.type", F::EthType, 16, None))),
    pred("eth.bcast", "eth.dst == ff:ff:ff:ff:ff:ff"),
    sub("eth.mcast", "eth.dst[40]", None),
    pred("eth.mcastv6", "eth.dst[32..47] == 0x3333"),
    field("vlan.tci", F::VlanTci, 16, None),
    pred("vlan.present", "vlan.tci[12]"),
    sub("vlan.pcp", "vlan.tci[13..15]", Some("vlan.present")),
    sub("vlan.vid", "vlan.tci[0..11]", Some("vlan.present")),
    pred("ip4", "eth.type == 0x800"),
    pred("ip6", "eth.type == 0x86dd"),
    pred("ip", "ip4 || ip6"),
    ro(xp(field("ip.proto", F::IpProto, 8, Some("ip")))),
    field("ip.dscp", F::IpDscp, 6, Some("ip")),
    field("ip.ecn", F::IpEcn, 2, Some("ip")),
    field("ip.ttl", F::IpTtl, 8, Some("ip")),
    field("ip4.src", F::Ipv4Src, 32, Some("ip4")),
    field("ip4.dst", F::Ipv4Dst, 32, Some("ip4")),
    pred("ip4.src_mcast", "ip4.src[28..31] == 0xe"),
    pred("ip4.mcast", "eth.mcast && ip4.dst[28..31] == 0xe"),
    pred("icmp4", "ip4 && ip.proto == 1"),
    field("icmp4.type", F::Icmpv4Type, 8, Some("icmp4")),
    field("icmp4.code", F::Icmpv4Code, 8, Some("icmp4")),
    pred("igmp", "ip4 && ip.proto == 2"),
    field("ip6.src", F::Ipv6Src, 128, Some("ip6")),
    field("ip6.dst", F::Ipv6Dst, 128, Some("ip6")),
    field("ip6.label", F::Ipv6Label, 20, Some("ip6")),
    pred("ip6.mcast_rsvd", "ip6.dst[116..127] == 0xff0 && ip6.dst[0..111] == 0x0"),
    pred("ip6.mcast_all_nodes", "ip6.dst == ff01::1 || ip6.dst == ff02::1"),
    pred("ip6.mcast_all_rtrs", "ip6.dst == ff01::2 || ip6.dst == ff02::2 || ip6.dst == ff05::2"),
    pred("ip6.mcast_sol_node", "ip6.dst == ff02::1:ff00:0000/104"),
    pred(
        "ip6.mcast_flood",
        "eth.mcastv6 && (ip6.mcast_rsvd || ip6.mcast_all_nodes || ip6.mcast_all_rtrs || ip6.mcast_sol_node)",
    ),
    pred("ip6.mcast", "eth.mcastv6 && ip6.dst[120..127] == 0xff"),
    pred("icmp6", "ip6 && ip.proto == 58"),
    xp(field("icmp6.type", F::Icmpv6Type, 8, Some("icmp6"))),
    xp(field("icmp6.code", F::Icmpv6Code, 8, Some("icmp6"))),
    pred("icmp", "icmp4 || icmp6"),
    ro(field("ip.frag", F::IpFrag, 2, Some("ip"))),
    pred("ip.is_frag", "ip.frag[0]"),
    pred("ip.later_frag", "ip.frag[1]"),
    pred("ip.first_frag", "ip.is_frag && !ip.later_frag"),
    pred("arp", "eth.type == 0x806"),
    field("arp.op", F::ArpOp, 16, Some("arp")),
    field("arp.spa", F::ArpSpa, 32, Some("arp")),
    field("arp.sha", F::ArpSha, 48, Some("arp")),
    field("arp.tpa", F::ArpTpa, 32, Some("arp")),
    field("arp.tha", F::ArpTha, 48, Some("arp")),
    pred("rarp", "eth.type == 0x8035"),
    field("rarp.op", F::ArpOp, 16, Some("rarp")),
    field("rarp.spa", F::ArpSpa, 32, Some("rarp")),
    field("rarp.sha", F::ArpSha, 48, Some("rarp")),
    field("rarp.tpa", F::ArpTpa, 32, Some("rarp")),
    field("rarp.tha", F::ArpTha, 48, Some("rarp")),
    pred("nd", "icmp6.type == {135, 136} && icmp6.code == 0 && ip.ttl == 255"),
    pred("nd_ns", "icmp6.type == 135 && icmp6.code == 0 && ip.ttl == 255"),
    pred("nd_na", "icmp6.type == 136 && icmp6.code == 0 && ip.ttl == 255"),
    pred("nd_rs", "icmp6.type == 133 && icmp6.code == 0 && ip.ttl == 255"),
    pred("nd_ra", "icmp6.type == 134 && icmp6.code == 0 && ip.ttl == 255"),
    field("nd.target", F::NdTarget, 128, Some("nd")),
    field("nd.sll", F::NdSll, 48, Some("nd_ns")),
    field("nd.tll", F::NdTll, 48, Some("nd_na")),
    pred("mldv1", "ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}"),
    pred("mldv2", "ip6.dst == ff02::16 && icmp6.type == 143"),
    pred("tcp", "ip.proto == 6"),
    field("tcp.src", F::TcpSrc, 16, Some("tcp")),
    field("tcp.dst", F::TcpDst, 16, Some("tcp")),
    ro(field("tcp.flags", F::TcpFlags, 12, Some("tcp"))),
    pred("udp", "ip.proto == 17"),
    field("udp.src", F::UdpSrc, 16, Some("udp")),
    field("udp.dst", F::UdpDst, 16, Some("udp")),
    pred("sctp", "ip.proto == 132"),
    field("sctp.src", F::SctpSrc, 16, Some("sctp")),
    field("sctp.dst", F::SctpDst, 16, Some("sctp")),
    field("pkt.mark", F::PktMark, 32, None),
    SymbolDef { name: "icmp4.frag_mtu", def: Def::OvnOnly(16), prereqs: None, must_crossproduct: false, write: Write::Yes },
    SymbolDef { name: "icmp6.frag_mtu", def: Def::OvnOnly(32), prereqs: None, must_crossproduct: false, write: Write::Yes },
];

fn ovn_symbol_defs() -> Vec<SymbolDef> {
    OVN_SYMBOLS.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovn_table_builds() {
        let t = Symtab::from_defs(OVN_SYMBOLS).unwrap();
        assert_eq!(t.len(), OVN_SYMBOLS.len());
        let r0 = t.lookup("reg0").unwrap();
        assert_eq!(t.resolve(r0), (t.lookup("xxreg0").unwrap(), 96));
        assert_eq!(t.get(t.lookup("inport").unwrap()).level, Level::Nominal);
        assert_eq!(t.get(t.lookup("tcp").unwrap()).level, Level::Boolean);
        assert_eq!(
            t.describe(t.lookup("reg8").unwrap()),
            "reg8 = xreg4[32..63]"
        );
        assert_eq!(Symtab::ovn().len(), OVN_SYMBOLS.len());
    }
}
