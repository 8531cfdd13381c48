//! OpenFlow actions as ovn-controller emits them: a small IR ([`OfAction`]), printed in
//! `ovs-ofctl -O OpenFlow15 dump-flows` syntax and encoded as OpenFlow 1.5 action bytes.
//!
//! The byte encoding covers what OVN puts inside `controller(userdata=...)` payloads for
//! nested actions (`set_field`, `copy_field` for moves, `push`/`pop`, `resubmit`, `controller`,
//! `dec_ttl`, `ct_clear`, `note`); other actions fail with
//! [`super::EncodeError::Unsupported`].  It does not decode.

use std::fmt;
use std::net::Ipv4Addr;

use super::EncodeError;
use crate::lex::{cidr_len, format_hex, format_mac};
use crate::symtab::OfField;

/// How OVS prints a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Mac,
    Ipv4,
    Ipv6,
    Decimal,
    Hex,
}

/// Static facts about one OpenFlow field.
#[derive(Debug, Clone, Copy)]
struct FieldInfo {
    /// Name in `set_field:...->NAME`.
    sf_name: &'static str,
    /// NXM/OXM name in `move:` and `push:` (`NXM_OF_ETH_SRC`).
    nxm_name: &'static str,
    /// NXM header `(class, field)` (used by stack actions).
    nxm: (u16, u8),
    /// Header used in OpenFlow 1.5 `set_field`/`copy_field`.
    oxm: (u16, u8),
    /// Bytes on the wire.
    n_bytes: u8,
    /// Meaningful bits.
    n_bits: u32,
    style: Style,
}

const fn fi(
    sf_name: &'static str,
    nxm_name: &'static str,
    nxm: (u16, u8),
    oxm: (u16, u8),
    n_bytes: u8,
    n_bits: u32,
    style: Style,
) -> FieldInfo {
    FieldInfo {
        sf_name,
        nxm_name,
        nxm,
        oxm,
        n_bytes,
        n_bits,
        style,
    }
}

const REG_NAMES: [&str; 16] = [
    "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10",
    "reg11", "reg12", "reg13", "reg14", "reg15",
];
const REG_NXM: [&str; 16] = [
    "NXM_NX_REG0",
    "NXM_NX_REG1",
    "NXM_NX_REG2",
    "NXM_NX_REG3",
    "NXM_NX_REG4",
    "NXM_NX_REG5",
    "NXM_NX_REG6",
    "NXM_NX_REG7",
    "NXM_NX_REG8",
    "NXM_NX_REG9",
    "NXM_NX_REG10",
    "NXM_NX_REG11",
    "NXM_NX_REG12",
    "NXM_NX_REG13",
    "NXM_NX_REG14",
    "NXM_NX_REG15",
];
const XREG_NAMES: [&str; 8] = [
    "xreg0", "xreg1", "xreg2", "xreg3", "xreg4", "xreg5", "xreg6", "xreg7",
];
const XREG_NXM: [&str; 8] = [
    "OXM_OF_PKT_REG0",
    "OXM_OF_PKT_REG1",
    "OXM_OF_PKT_REG2",
    "OXM_OF_PKT_REG3",
    "OXM_OF_PKT_REG4",
    "OXM_OF_PKT_REG5",
    "OXM_OF_PKT_REG6",
    "OXM_OF_PKT_REG7",
];
const XXREG_NAMES: [&str; 4] = ["xxreg0", "xxreg1", "xxreg2", "xxreg3"];
const XXREG_NXM: [&str; 4] = [
    "NXM_NX_XXREG0",
    "NXM_NX_XXREG1",
    "NXM_NX_XXREG2",
    "NXM_NX_XXREG3",
];

const NXM0: u16 = 0x0000;
const NXM1: u16 = 0x0001;
const OXM: u16 = 0x8000;
const PKT_REGS: u16 = 0x8001;

fn info(f: OfField) -> FieldInfo {
    use OfField as F;
    use Style::*;
    match f {
        F::Reg(n) => {
            let i = usize::from(n.min(15));
            fi(REG_NAMES[i], REG_NXM[i], (NXM1, n), (NXM1, n), 4, 32, Hex)
        }
        F::Xreg(n) => {
            let i = usize::from(n.min(7));
            fi(
                XREG_NAMES[i],
                XREG_NXM[i],
                (PKT_REGS, n),
                (PKT_REGS, n),
                8,
                64,
                Hex,
            )
        }
        F::Xxreg(n) => {
            let i = usize::from(n.min(3));
            let h = (NXM1, 111 + n);
            fi(XXREG_NAMES[i], XXREG_NXM[i], h, h, 16, 128, Hex)
        }
        F::Metadata => fi(
            "metadata",
            "OXM_OF_METADATA",
            (OXM, 2),
            (OXM, 2),
            8,
            64,
            Hex,
        ),
        F::PktMark => fi(
            "pkt_mark",
            "NXM_NX_PKT_MARK",
            (NXM1, 33),
            (NXM1, 33),
            4,
            32,
            Hex,
        ),
        F::ConjId => fi(
            "conj_id",
            "NXM_NX_CONJ_ID",
            (NXM1, 37),
            (NXM1, 37),
            4,
            32,
            Decimal,
        ),
        F::CtState => fi(
            "ct_state",
            "NXM_NX_CT_STATE",
            (NXM1, 105),
            (NXM1, 105),
            4,
            32,
            Hex,
        ),
        F::CtMark => fi(
            "ct_mark",
            "NXM_NX_CT_MARK",
            (NXM1, 107),
            (NXM1, 107),
            4,
            32,
            Hex,
        ),
        F::CtLabel => fi(
            "ct_label",
            "NXM_NX_CT_LABEL",
            (NXM1, 108),
            (NXM1, 108),
            16,
            128,
            Hex,
        ),
        F::EthSrc => fi("eth_src", "NXM_OF_ETH_SRC", (NXM0, 2), (OXM, 4), 6, 48, Mac),
        F::EthDst => fi("eth_dst", "NXM_OF_ETH_DST", (NXM0, 1), (OXM, 3), 6, 48, Mac),
        F::EthType => fi(
            "eth_type",
            "NXM_OF_ETH_TYPE",
            (NXM0, 3),
            (OXM, 5),
            2,
            16,
            Hex,
        ),
        F::VlanTci => fi(
            "vlan_tci",
            "NXM_OF_VLAN_TCI",
            (NXM0, 4),
            (NXM0, 4),
            2,
            16,
            Hex,
        ),
        F::IpProto => fi(
            "nw_proto",
            "NXM_OF_IP_PROTO",
            (NXM0, 6),
            (OXM, 10),
            1,
            8,
            Decimal,
        ),
        F::IpDscp => fi(
            "ip_dscp",
            "OXM_OF_IP_DSCP",
            (OXM, 8),
            (OXM, 8),
            1,
            6,
            Decimal,
        ),
        F::IpEcn => fi(
            "nw_ecn",
            "NXM_NX_IP_ECN",
            (NXM1, 28),
            (OXM, 9),
            1,
            2,
            Decimal,
        ),
        F::IpTtl => fi(
            "nw_ttl",
            "NXM_NX_IP_TTL",
            (NXM1, 29),
            (NXM1, 29),
            1,
            8,
            Decimal,
        ),
        F::IpFrag => fi(
            "ip_frag",
            "NXM_NX_IP_FRAG",
            (NXM1, 26),
            (NXM1, 26),
            1,
            8,
            Hex,
        ),
        F::Ipv4Src => fi("ip_src", "NXM_OF_IP_SRC", (NXM0, 7), (OXM, 11), 4, 32, Ipv4),
        F::Ipv4Dst => fi("ip_dst", "NXM_OF_IP_DST", (NXM0, 8), (OXM, 12), 4, 32, Ipv4),
        F::Ipv6Src => fi(
            "ipv6_src",
            "NXM_NX_IPV6_SRC",
            (NXM1, 19),
            (OXM, 26),
            16,
            128,
            Ipv6,
        ),
        F::Ipv6Dst => fi(
            "ipv6_dst",
            "NXM_NX_IPV6_DST",
            (NXM1, 20),
            (OXM, 27),
            16,
            128,
            Ipv6,
        ),
        F::Ipv6Label => fi(
            "ipv6_label",
            "NXM_NX_IPV6_LABEL",
            (NXM1, 27),
            (OXM, 28),
            4,
            20,
            Hex,
        ),
        F::Icmpv4Type => fi(
            "icmp_type",
            "NXM_OF_ICMP_TYPE",
            (NXM0, 13),
            (OXM, 19),
            1,
            8,
            Decimal,
        ),
        F::Icmpv4Code => fi(
            "icmp_code",
            "NXM_OF_ICMP_CODE",
            (NXM0, 14),
            (OXM, 20),
            1,
            8,
            Decimal,
        ),
        F::Icmpv6Type => fi(
            "icmpv6_type",
            "NXM_NX_ICMPV6_TYPE",
            (NXM1, 21),
            (OXM, 29),
            1,
            8,
            Decimal,
        ),
        F::Icmpv6Code => fi(
            "icmpv6_code",
            "NXM_NX_ICMPV6_CODE",
            (NXM1, 22),
            (OXM, 30),
            1,
            8,
            Decimal,
        ),
        F::ArpOp => fi(
            "arp_op",
            "NXM_OF_ARP_OP",
            (NXM0, 15),
            (OXM, 21),
            2,
            16,
            Decimal,
        ),
        F::ArpSpa => fi(
            "arp_spa",
            "NXM_OF_ARP_SPA",
            (NXM0, 16),
            (OXM, 22),
            4,
            32,
            Ipv4,
        ),
        F::ArpTpa => fi(
            "arp_tpa",
            "NXM_OF_ARP_TPA",
            (NXM0, 17),
            (OXM, 23),
            4,
            32,
            Ipv4,
        ),
        F::ArpSha => fi(
            "arp_sha",
            "NXM_NX_ARP_SHA",
            (NXM1, 17),
            (OXM, 24),
            6,
            48,
            Mac,
        ),
        F::ArpTha => fi(
            "arp_tha",
            "NXM_NX_ARP_THA",
            (NXM1, 18),
            (OXM, 25),
            6,
            48,
            Mac,
        ),
        F::NdTarget => fi(
            "nd_target",
            "NXM_NX_ND_TARGET",
            (NXM1, 23),
            (OXM, 31),
            16,
            128,
            Ipv6,
        ),
        F::NdSll => fi("nd_sll", "NXM_NX_ND_SLL", (NXM1, 24), (OXM, 32), 6, 48, Mac),
        F::NdTll => fi("nd_tll", "NXM_NX_ND_TLL", (NXM1, 25), (OXM, 33), 6, 48, Mac),
        F::TcpSrc => fi(
            "tcp_src",
            "NXM_OF_TCP_SRC",
            (NXM0, 9),
            (OXM, 13),
            2,
            16,
            Decimal,
        ),
        F::TcpDst => fi(
            "tcp_dst",
            "NXM_OF_TCP_DST",
            (NXM0, 10),
            (OXM, 14),
            2,
            16,
            Decimal,
        ),
        F::TcpFlags => fi(
            "tcp_flags",
            "NXM_NX_TCP_FLAGS",
            (NXM1, 34),
            (NXM1, 34),
            2,
            12,
            Hex,
        ),
        F::UdpSrc => fi(
            "udp_src",
            "NXM_OF_UDP_SRC",
            (NXM0, 11),
            (OXM, 15),
            2,
            16,
            Decimal,
        ),
        F::UdpDst => fi(
            "udp_dst",
            "NXM_OF_UDP_DST",
            (NXM0, 12),
            (OXM, 16),
            2,
            16,
            Decimal,
        ),
        F::SctpSrc => fi(
            "sctp_src",
            "OXM_OF_SCTP_SRC",
            (OXM, 17),
            (OXM, 17),
            2,
            16,
            Decimal,
        ),
        F::SctpDst => fi(
            "sctp_dst",
            "OXM_OF_SCTP_DST",
            (OXM, 18),
            (OXM, 18),
            2,
            16,
            Decimal,
        ),
    }
}

fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// A bit range of an OpenFlow field (OVS's `mf_subfield`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subfield {
    /// The field.
    pub field: OfField,
    /// First bit.
    pub ofs: u32,
    /// Number of bits.
    pub n_bits: u32,
}

impl Subfield {
    /// The whole field.
    pub fn whole(field: OfField) -> Self {
        Self {
            field,
            ofs: 0,
            n_bits: info(field).n_bits,
        }
    }

    /// Bits `ofs..ofs+n_bits` of `field`.
    pub fn new(field: OfField, ofs: u32, n_bits: u32) -> Self {
        Self { field, ofs, n_bits }
    }
}

impl fmt::Display for Subfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = info(self.field);
        f.write_str(i.nxm_name)?;
        if self.ofs == 0 && self.n_bits == i.n_bits {
            f.write_str("[]")
        } else if self.n_bits == 1 {
            write!(f, "[{}]", self.ofs)
        } else {
            write!(f, "[{}..{}]", self.ofs, self.ofs + self.n_bits - 1)
        }
    }
}

/// The `nat(...)` clause of a `ct` action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nat {
    /// `src` or `dst` (none for bare `nat`).
    pub kind: Option<&'static str>,
    /// Address.
    pub ip: Option<std::net::IpAddr>,
    /// Port range.
    pub ports: Option<(u16, u16)>,
    /// `random` flag.
    pub random: bool,
}

impl fmt::Display for Nat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nat")?;
        let Some(kind) = self.kind else { return Ok(()) };
        write!(f, "({kind}")?;
        if let Some(ip) = self.ip {
            match (ip, self.ports) {
                (std::net::IpAddr::V6(a), Some(_)) => write!(f, "=[{a}]")?,
                (a, _) => write!(f, "={a}")?,
            }
            match self.ports {
                Some((lo, hi)) if lo == hi => write!(f, ":{lo}")?,
                Some((lo, hi)) => write!(f, ":{lo}-{hi}")?,
                None => {}
            }
        }
        if self.random {
            f.write_str(",random")?;
        }
        f.write_str(")")
    }
}

/// One OpenFlow action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OfAction {
    /// `resubmit(,TABLE)`
    Resubmit(u8),
    /// `set_field:VALUE[/MASK]->FIELD` (value and mask aligned to the field's bit 0).
    SetField {
        /// Field.
        field: OfField,
        /// Value.
        value: u128,
        /// Mask.
        mask: u128,
    },
    /// `move:SRC->DST`
    Move {
        /// Source.
        src: Subfield,
        /// Destination.
        dst: Subfield,
    },
    /// `push:FIELD`
    Push(Subfield),
    /// `pop:FIELD`
    Pop(Subfield),
    /// `dec_ttl()`
    DecTtl,
    /// `ct_clear`
    CtClear,
    /// `ct(...)`
    Ct {
        /// `commit`
        commit: bool,
        /// `table=N`
        table: Option<u8>,
        /// `zone=SUBFIELD`
        zone: Subfield,
        /// `nat(...)`
        nat: Option<Nat>,
        /// `exec(...)`
        exec: Vec<Self>,
    },
    /// `controller(userdata=...[,pause][,meter_id=N])`
    Controller {
        /// Userdata bytes (OVN's pinctrl opcode header and payload).
        userdata: Vec<u8>,
        /// `pause`
        pause: bool,
        /// `meter_id=N`
        meter_id: Option<u32>,
    },
    /// `group:N`
    Group(u32),
    /// `meter:N`
    Meter(u32),
    /// `set_queue:N`
    SetQueue(u32),
    /// `check_pkt_larger(LEN)->DST`
    CheckPktLarger {
        /// Threshold.
        len: u16,
        /// Result bit.
        dst: Subfield,
    },
    /// `clone(...)`
    Clone(Vec<Self>),
    /// `learn(...)`, kept as its printed argument list.
    Learn(String),
    /// `note:HEX`
    Note(Vec<u8>),
    /// `sample(...)`
    Sample {
        /// Probability.
        probability: u16,
        /// Collector set id.
        collector_set_id: u32,
        /// Observation domain id.
        obs_domain_id: u32,
        /// Observation point id.
        obs_point_id: u32,
    },
}

fn fmt_value(style: Style, v: u128, out: &mut String) {
    match style {
        Style::Mac => out.push_str(&format_mac(v as u64)),
        Style::Ipv4 => out.push_str(&Ipv4Addr::from(v as u32).to_string()),
        Style::Ipv6 => out.push_str(&crate::matches::ipv6_text(v)),
        Style::Decimal => out.push_str(&v.to_string()),
        Style::Hex => out.push_str(&format_hex(v)),
    }
}

/// Prints `value[/mask]` the way OVS's `mf_format` does for `field`.
pub fn format_field_value(field: OfField, value: u128, mask: u128) -> String {
    let i = info(field);
    let full = ones(u32::from(i.n_bytes) * 8);
    let mut s = String::new();
    fmt_value(i.style, value, &mut s);
    if mask & full != full {
        s.push('/');
        match i.style {
            Style::Ipv4 if cidr_len(mask, 32).is_some() => {
                s.push_str(&cidr_len(mask, 32).unwrap_or(0).to_string());
            }
            Style::Ipv6 if cidr_len(mask, 128).is_some() => {
                s.push_str(&cidr_len(mask, 128).unwrap_or(0).to_string());
            }
            Style::Decimal => s.push_str(&format_hex(mask)),
            st => fmt_value(st, mask, &mut s),
        }
    }
    s
}

/// Formats bytes as `xx.xx.xx` (OVS's userdata and note syntax).
pub fn hex_dots(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

impl fmt::Display for OfAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resubmit(t) => write!(f, "resubmit(,{t})"),
            Self::SetField { field, value, mask } => {
                write!(
                    f,
                    "set_field:{}->{}",
                    format_field_value(*field, *value, *mask),
                    info(*field).sf_name
                )
            }
            Self::Move { src, dst } => write!(f, "move:{src}->{dst}"),
            Self::Push(s) => write!(f, "push:{s}"),
            Self::Pop(s) => write!(f, "pop:{s}"),
            Self::DecTtl => f.write_str("dec_ttl()"),
            Self::CtClear => f.write_str("ct_clear"),
            Self::Ct {
                commit,
                table,
                zone,
                nat,
                exec,
            } => {
                f.write_str("ct(")?;
                if *commit {
                    f.write_str("commit,")?;
                }
                if let Some(t) = table {
                    write!(f, "table={t},")?;
                }
                write!(f, "zone={zone}")?;
                if let Some(n) = nat {
                    write!(f, ",{n}")?;
                }
                if !exec.is_empty() {
                    f.write_str(",exec(")?;
                    fmt_of_list(exec, f)?;
                    f.write_str(")")?;
                }
                f.write_str(")")
            }
            Self::Controller {
                userdata,
                pause,
                meter_id,
            } => {
                write!(f, "controller(userdata={}", hex_dots(userdata))?;
                if *pause {
                    f.write_str(",pause")?;
                }
                if let Some(m) = meter_id {
                    write!(f, ",meter_id={m}")?;
                }
                f.write_str(")")
            }
            Self::Group(g) => write!(f, "group:{g}"),
            Self::Meter(m) => write!(f, "meter:{m}"),
            Self::SetQueue(q) => write!(f, "set_queue:{q}"),
            Self::CheckPktLarger { len, dst } => write!(f, "check_pkt_larger({len})->{dst}"),
            Self::Clone(v) if v.is_empty() => f.write_str("clone(drop)"),
            Self::Clone(v) => {
                f.write_str("clone(")?;
                fmt_of_list(v, f)?;
                f.write_str(")")
            }
            Self::Learn(s) => write!(f, "learn({s})"),
            Self::Note(b) => write!(f, "note:{}", hex_dots(b)),
            Self::Sample {
                probability,
                collector_set_id,
                obs_domain_id,
                obs_point_id,
            } => write!(
                f,
                "sample(probability={probability},collector_set_id={collector_set_id},\
                 obs_domain_id={obs_domain_id},obs_point_id={obs_point_id})"
            ),
        }
    }
}

fn fmt_of_list(v: &[OfAction], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, a) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

/// Prints an action list as `ovs-ofctl` does (`drop` when empty).
pub fn format_of_actions(v: &[OfAction]) -> String {
    struct L<'a>(&'a [OfAction]);
    impl fmt::Display for L<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.0.is_empty() {
                f.write_str("drop")
            } else {
                fmt_of_list(self.0, f)
            }
        }
    }
    L(v).to_string()
}

fn header(class: u16, field: u8, has_mask: bool, len: u8) -> [u8; 4] {
    let c = class.to_be_bytes();
    [c[0], c[1], (field << 1) | u8::from(has_mask), len]
}

fn pad8(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 8 != 0 {
        out.push(0);
    }
}

fn set_len(out: &mut [u8], start: usize) -> Result<(), EncodeError> {
    let len = u16::try_from(out.len() - start).map_err(|_| EncodeError::TooLarge)?;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_value(out: &mut Vec<u8>, v: u128, n_bytes: u8) {
    let b = v.to_be_bytes();
    out.extend_from_slice(&b[16 - usize::from(n_bytes)..]);
}

fn nx_header(out: &mut Vec<u8>, subtype: u16) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff, 0xff, 0, 0, 0x00, 0x00, 0x23, 0x20]);
    out.extend_from_slice(&subtype.to_be_bytes());
    start
}

/// Encodes `actions` as OpenFlow 1.5 action bytes (the subset OVN nests in pinctrl payloads).
pub fn encode_of15(actions: &[OfAction], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for a in actions {
        match a {
            OfAction::SetField { field, value, mask } => {
                let i = info(*field);
                let full = ones(u32::from(i.n_bytes) * 8);
                let masked = mask & full != full;
                let start = out.len();
                out.extend_from_slice(&[0x00, 0x19, 0, 0]);
                let len = if masked { i.n_bytes * 2 } else { i.n_bytes };
                out.extend_from_slice(&header(i.oxm.0, i.oxm.1, masked, len));
                put_value(out, *value, i.n_bytes);
                if masked {
                    put_value(out, *mask, i.n_bytes);
                }
                pad8(out, start);
                set_len(out, start)?;
            }
            OfAction::Move { src, dst } => {
                let (si, di) = (info(src.field), info(dst.field));
                let start = out.len();
                out.extend_from_slice(&[0x00, 0x1c, 0, 0]);
                for v in [src.n_bits, src.ofs, dst.ofs] {
                    out.extend_from_slice(&(v as u16).to_be_bytes());
                }
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&header(si.oxm.0, si.oxm.1, false, si.n_bytes));
                out.extend_from_slice(&header(di.oxm.0, di.oxm.1, false, di.n_bytes));
                pad8(out, start);
                set_len(out, start)?;
            }
            OfAction::Push(s) | OfAction::Pop(s) => {
                let i = info(s.field);
                let start = nx_header(
                    out,
                    if matches!(a, OfAction::Push(_)) {
                        27
                    } else {
                        28
                    },
                );
                out.extend_from_slice(&(s.ofs as u16).to_be_bytes());
                out.extend_from_slice(&header(i.nxm.0, i.nxm.1, false, i.n_bytes));
                out.extend_from_slice(&(s.n_bits as u16).to_be_bytes());
                pad8(out, start);
                set_len(out, start)?;
            }
            OfAction::Resubmit(t) => {
                let start = nx_header(out, 14);
                out.extend_from_slice(&[0xff, 0xf8, *t, 0, 0, 0]);
                set_len(out, start)?;
            }
            OfAction::Controller {
                userdata,
                pause,
                meter_id,
            } => {
                let start = nx_header(out, 37);
                out.extend_from_slice(&[0; 6]);
                let p = out.len();
                out.extend_from_slice(&[0, 3, 0, 0]);
                out.extend_from_slice(userdata);
                let plen = u16::try_from(out.len() - p).map_err(|_| EncodeError::TooLarge)?;
                out[p + 2..p + 4].copy_from_slice(&plen.to_be_bytes());
                pad8(out, start);
                if *pause {
                    out.extend_from_slice(&[0, 4, 0, 4, 0, 0, 0, 0]);
                }
                if let Some(m) = meter_id {
                    out.extend_from_slice(&[0, 5, 0, 8]);
                    out.extend_from_slice(&m.to_be_bytes());
                }
                set_len(out, start)?;
            }
            OfAction::DecTtl => out.extend_from_slice(&[0x00, 0x18, 0x00, 0x08, 0, 0, 0, 0]),
            OfAction::CtClear => {
                let start = nx_header(out, 43);
                out.extend_from_slice(&[0; 6]);
                set_len(out, start)?;
            }
            OfAction::Note(bytes) => {
                let start = nx_header(out, 8);
                out.extend_from_slice(bytes);
                while out.len() - start < 16 || (out.len() - start) % 8 != 0 {
                    out.push(0);
                }
                set_len(out, start)?;
            }
            other => return Err(EncodeError::Unsupported(other.to_string())),
        }
    }
    Ok(())
}

/// Width in bits OVS gives `field` (for `[]` printing).
pub fn ovs_bits(field: OfField) -> u32 {
    info(field).n_bits
}

/// The OXM/NXM `(class, field, bytes)` OVS uses for `field` in an OpenFlow 1.5 match or
/// `set_field` (for the chassis flow_mod encoder).
pub fn oxm_header(field: OfField) -> (u16, u8, u8) {
    let i = info(field);
    (i.oxm.0, i.oxm.1, i.n_bytes)
}
