//! OpenFlow 1.5 `OFPT_FLOW_MOD` (add) messages for compiled flows.
//!
//! The match is an OXM match (NXM headers for Nicira fields such as registers and
//! `conj_id`), fields in an order where prerequisites come first; actions go in one
//! `OFPIT_APPLY_ACTIONS` instruction: `conjunction`, `dec_ttl`, `ct` (with `nat` and `exec`),
//! `group`, `meter`, `set_queue`, `clone`, `check_pkt_larger` and `sample` are encoded here,
//! `learn` (parsed back from the text the action encoder keeps, for the specs OVN writes),
//! the rest by [`crate::actions::ofp::encode_of15`].

use super::{FlowActions, OfFlow};
use std::net::IpAddr;

use crate::actions::ofp::{encode_of15, ovs_bits, oxm_header, Nat, Subfield};
use crate::actions::{EncodeError, OfAction};
use crate::symtab::OfField;

/// Why a flow could not be encoded as a flow_mod.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowModError {
    /// An action has no byte encoding yet.
    #[error("cannot encode actions: {0}")]
    Action(#[from] EncodeError),
    /// A `learn` argument list the encoder does not understand.
    #[error("cannot encode learn({0})")]
    Learn(String),
    /// The message would exceed 65535 bytes.
    #[error("flow_mod exceeds 65535 bytes")]
    TooLarge,
}

const OFP15_VERSION: u8 = 0x06;
const OFPT_FLOW_MOD: u8 = 14;
const OFPMT_OXM: u16 = 1;
const OFPIT_APPLY_ACTIONS: u16 = 4;
const NX_VENDOR: [u8; 4] = [0x00, 0x00, 0x23, 0x20];
const NXAST_CONJUNCTION: u16 = 34;
const NXAST_DEC_TTL_CNT_IDS: u16 = 21;
const NXAST_SAMPLE: u16 = 29;
const NXAST_CT: u16 = 35;
const NXAST_NAT: u16 = 36;
const NXAST_CLONE: u16 = 42;
const NXAST_CHECK_PKT_LARGER: u16 = 49;
const NXAST_LEARN: u16 = 16;

fn put_be(out: &mut Vec<u8>, v: u128, n_bytes: u8) {
    let b = v.to_be_bytes();
    out.extend_from_slice(&b[16 - usize::from(n_bytes)..]);
}

fn pad8(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 8 != 0 {
        out.push(0);
    }
}

fn set_len16(out: &mut [u8], at: usize, len: usize) -> Result<(), FlowModError> {
    let l = u16::try_from(len).map_err(|_| FlowModError::TooLarge)?;
    out[at..at + 2].copy_from_slice(&l.to_be_bytes());
    Ok(())
}

/// Encodes `flow` as an OpenFlow 1.5 flow_mod (`OFPFC_ADD`) with transaction id `xid`.
pub fn flow_mod(flow: &OfFlow, xid: u32) -> Result<Vec<u8>, FlowModError> {
    let mut out = vec![OFP15_VERSION, OFPT_FLOW_MOD, 0, 0];
    out.extend_from_slice(&xid.to_be_bytes());
    out.extend_from_slice(&u64::from(flow.cookie).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes()); // cookie_mask
    out.push(flow.table);
    out.push(0); // OFPFC_ADD
    out.extend_from_slice(&[0, 0, 0, 0]); // idle and hard timeouts
    out.extend_from_slice(&flow.priority.to_be_bytes());
    out.extend_from_slice(&u32::MAX.to_be_bytes()); // buffer_id: none
    out.extend_from_slice(&u32::MAX.to_be_bytes()); // out_port: any
    out.extend_from_slice(&u32::MAX.to_be_bytes()); // out_group: any
    out.extend_from_slice(&[0, 0, 0, 0]); // flags, importance

    // Match.
    let m = out.len();
    out.extend_from_slice(&OFPMT_OXM.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    for (field, masked) in flow.matches.unpack().iter() {
        let (class, f, n_bytes) = oxm_header(field);
        let full = if n_bytes >= 16 {
            u128::MAX
        } else {
            (1u128 << (u32::from(n_bytes) * 8)) - 1
        };
        let has_mask = masked.mask & full != full;
        out.extend_from_slice(&class.to_be_bytes());
        out.push((f << 1) | u8::from(has_mask));
        out.push(if has_mask { n_bytes * 2 } else { n_bytes });
        put_be(&mut out, masked.value, n_bytes);
        if has_mask {
            put_be(&mut out, masked.mask, n_bytes);
        }
    }
    let mlen = out.len() - m;
    set_len16(&mut out, m + 2, mlen)?;
    pad8(&mut out, m);

    // Instructions.
    let mut actions = Vec::new();
    match &flow.actions {
        FlowActions::Conjunctions(cs) => {
            for c in cs {
                actions.extend_from_slice(&[0xff, 0xff, 0x00, 0x10]);
                actions.extend_from_slice(&NX_VENDOR);
                actions.extend_from_slice(&NXAST_CONJUNCTION.to_be_bytes());
                actions.push(c.clause);
                actions.push(c.n_clauses);
                actions.extend_from_slice(&c.id.to_be_bytes());
            }
        }
        FlowActions::Actions(a) => {
            for action in a.iter() {
                encode_action(action, &mut actions)?;
            }
        }
    }
    if !actions.is_empty() {
        let i = out.len();
        out.extend_from_slice(&OFPIT_APPLY_ACTIONS.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&actions);
        let ilen = out.len() - i;
        set_len16(&mut out, i + 2, ilen)?;
    }
    let total = out.len();
    set_len16(&mut out, 2, total)?;
    Ok(out)
}

fn nx_start(out: &mut Vec<u8>, subtype: u16) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff, 0xff, 0, 0]);
    out.extend_from_slice(&NX_VENDOR);
    out.extend_from_slice(&subtype.to_be_bytes());
    start
}

fn finish(out: &mut Vec<u8>, start: usize) -> Result<(), FlowModError> {
    pad8(out, start);
    let len = out.len() - start;
    set_len16(out, start + 2, len)
}

/// The 32-bit NXM/OXM header of `field` without mask (as OVS puts it in `ct` zones and
/// `check_pkt_larger`).
fn field_header(field: OfField) -> [u8; 4] {
    let (class, f, n_bytes) = oxm_header(field);
    let c = class.to_be_bytes();
    [c[0], c[1], f << 1, n_bytes]
}

/// Encodes one top-level action: what [`encode_of15`] covers, plus `dec_ttl` as ovn-controller
/// emits it, `ct` with `nat`, `group`, `meter`, `set_queue`, `clone`, `check_pkt_larger` and
/// `sample`.
fn encode_action(action: &OfAction, out: &mut Vec<u8>) -> Result<(), FlowModError> {
    match action {
        // ovn-controller's `dec_ttl` has no controller ids: OVS encodes it as
        // NXAST_DEC_TTL_CNT_IDS with n_controllers 0 (printed `dec_ttl()`).
        OfAction::DecTtl => {
            let start = nx_start(out, NXAST_DEC_TTL_CNT_IDS);
            out.extend_from_slice(&[0; 6]);
            finish(out, start)?;
        }
        OfAction::Group(g) => {
            out.extend_from_slice(&[0x00, 22, 0x00, 0x08]);
            out.extend_from_slice(&g.to_be_bytes());
        }
        OfAction::Meter(m) => {
            out.extend_from_slice(&[0x00, 29, 0x00, 0x08]);
            out.extend_from_slice(&m.to_be_bytes());
        }
        OfAction::SetQueue(q) => {
            out.extend_from_slice(&[0x00, 21, 0x00, 0x08]);
            out.extend_from_slice(&q.to_be_bytes());
        }
        OfAction::Clone(inner) => {
            let start = nx_start(out, NXAST_CLONE);
            out.extend_from_slice(&[0; 6]);
            for a in inner {
                encode_action(a, out)?;
            }
            finish(out, start)?;
        }
        OfAction::CheckPktLarger { len, dst } => {
            let start = nx_start(out, NXAST_CHECK_PKT_LARGER);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&(dst.ofs as u16).to_be_bytes());
            out.extend_from_slice(&field_header(dst.field));
            finish(out, start)?;
        }
        OfAction::Sample {
            probability,
            collector_set_id,
            obs_domain_id,
            obs_point_id,
        } => {
            let start = nx_start(out, NXAST_SAMPLE);
            out.extend_from_slice(&probability.to_be_bytes());
            out.extend_from_slice(&collector_set_id.to_be_bytes());
            out.extend_from_slice(&obs_domain_id.to_be_bytes());
            out.extend_from_slice(&obs_point_id.to_be_bytes());
            finish(out, start)?;
        }
        OfAction::Ct {
            commit,
            table,
            zone,
            nat,
            exec,
        } => {
            let start = nx_start(out, NXAST_CT);
            out.extend_from_slice(&u16::from(*commit).to_be_bytes());
            out.extend_from_slice(&field_header(zone.field));
            let ofs_nbits = (zone.ofs << 6) | zone.n_bits.saturating_sub(1);
            out.extend_from_slice(&(ofs_nbits as u16).to_be_bytes());
            out.push(table.unwrap_or(0xff));
            out.extend_from_slice(&[0, 0, 0, 0, 0]); // pad, alg
            if let Some(n) = nat {
                encode_nat(n, out)?;
            }
            for a in exec {
                encode_action(a, out)?;
            }
            finish(out, start)?;
        }
        OfAction::Learn(spec) => encode_learn(spec, out)?,
        other => encode_of15(std::slice::from_ref(other), out)?,
    }
    Ok(())
}

fn encode_nat(n: &Nat, out: &mut Vec<u8>) -> Result<(), FlowModError> {
    let start = nx_start(out, NXAST_NAT);
    let mut flags: u16 = match n.kind {
        Some("src") => 1,
        Some("dst") => 2,
        _ => 0,
    };
    if n.random {
        flags |= 16;
    }
    let mut present: u16 = 0;
    let mut params = Vec::new();
    match n.ip {
        Some(IpAddr::V4(a)) => {
            present |= 1;
            params.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            present |= 4;
            params.extend_from_slice(&a.octets());
        }
        None => {}
    }
    if let Some((lo, hi)) = n.ports {
        present |= 16;
        params.extend_from_slice(&lo.to_be_bytes());
        if hi != lo {
            present |= 32;
            params.extend_from_slice(&hi.to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&present.to_be_bytes());
    out.extend_from_slice(&params);
    finish(out, start)
}

/// Every field a `learn` spec may name, for lookup by NXM name.
fn all_fields() -> Vec<OfField> {
    use OfField as F;
    let mut v: Vec<OfField> = (0..16).map(F::Reg).collect();
    v.extend((0..8).map(F::Xreg));
    v.extend((0..4).map(F::Xxreg));
    v.extend([
        F::Metadata,
        F::EthSrc,
        F::EthDst,
        F::EthType,
        F::IpProto,
        F::Ipv4Src,
        F::Ipv4Dst,
        F::Ipv6Src,
        F::Ipv6Dst,
        F::TcpSrc,
        F::TcpDst,
        F::UdpSrc,
        F::UdpDst,
        F::SctpSrc,
        F::SctpDst,
    ]);
    v
}

/// `NAME[]`, `NAME[N]` or `NAME[A..B]` with an NXM/OXM name.
fn parse_subfield(text: &str) -> Option<Subfield> {
    let (name, range) = text.strip_suffix(']')?.split_once('[')?;
    let field = all_fields().into_iter().find(|f| {
        Subfield::whole(*f)
            .to_string()
            .strip_suffix("[]")
            .is_some_and(|n| n == name)
    })?;
    let (ofs, n_bits) = if range.is_empty() {
        (0, ovs_bits(field))
    } else if let Some((a, b)) = range.split_once("..") {
        let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        (a, b.checked_sub(a)? + 1)
    } else {
        (range.parse().ok()?, 1)
    };
    Some(Subfield::new(field, ofs, n_bits))
}

/// A field named as in `ovs-ofctl` match syntax, for immediate `learn` matches.
fn immediate_field(name: &str) -> Option<OfField> {
    use OfField as F;
    Some(match name {
        "eth_type" | "dl_type" => F::EthType,
        "nw_proto" | "ip_proto" => F::IpProto,
        "ip_src" | "nw_src" => F::Ipv4Src,
        "ip_dst" | "nw_dst" => F::Ipv4Dst,
        "ipv6_src" => F::Ipv6Src,
        "ipv6_dst" => F::Ipv6Dst,
        "tcp_src" => F::TcpSrc,
        "tcp_dst" => F::TcpDst,
        "udp_src" => F::UdpSrc,
        "udp_dst" => F::UdpDst,
        "sctp_src" => F::SctpSrc,
        "sctp_dst" => F::SctpDst,
        _ => return None,
    })
}

fn parse_value(text: &str) -> Option<u128> {
    if let Some(h) = text.strip_prefix("0x") {
        return u128::from_str_radix(h, 16).ok();
    }
    if let Ok(a) = text.parse::<IpAddr>() {
        return Some(match a {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        });
    }
    text.parse().ok()
}

const LEARN_SRC_IMMEDIATE: u16 = 1 << 13;
const LEARN_DST_LOAD: u16 = 1 << 11;

fn put_sub(out: &mut Vec<u8>, s: Subfield) {
    out.extend_from_slice(&field_header(s.field));
    out.extend_from_slice(&(s.ofs as u16).to_be_bytes());
}

fn put_immediate(out: &mut Vec<u8>, value: u128, n_bits: u32) {
    let n_bytes = n_bits.div_ceil(16) * 2;
    let b = value.to_be_bytes();
    out.extend_from_slice(&b[16 - n_bytes as usize..]);
}

/// Encodes `learn(SPEC)` as NXAST_LEARN, for the arguments OVN's actions produce.
fn encode_learn(spec: &str, out: &mut Vec<u8>) -> Result<(), FlowModError> {
    let bad = || FlowModError::Learn(spec.to_owned());
    let (mut idle, mut hard, mut prio, mut table, mut flags) = (0u16, 0u16, 0x8000u16, 0u8, 0u16);
    let mut specs = Vec::new();
    for arg in spec.split(',') {
        if let Some(v) = arg.strip_prefix("table=") {
            table = v.parse().map_err(|_| bad())?;
        } else if let Some(v) = arg.strip_prefix("idle_timeout=") {
            idle = v.parse().map_err(|_| bad())?;
        } else if let Some(v) = arg.strip_prefix("hard_timeout=") {
            hard = v.parse().map_err(|_| bad())?;
        } else if let Some(v) = arg.strip_prefix("priority=") {
            prio = v.parse().map_err(|_| bad())?;
        } else if arg == "delete_learned" {
            flags |= 1 << 1;
        } else if let Some(v) = arg.strip_prefix("load:") {
            let (val, dst) = v.split_once("->").ok_or_else(bad)?;
            let dst = parse_subfield(dst).ok_or_else(bad)?;
            let value = parse_value(val).ok_or_else(bad)?;
            let n = dst.n_bits;
            specs.extend_from_slice(
                &(LEARN_SRC_IMMEDIATE | LEARN_DST_LOAD | n as u16).to_be_bytes(),
            );
            put_immediate(&mut specs, value, n);
            put_sub(&mut specs, dst);
        } else if let Some((lhs, rhs)) = arg.split_once('=') {
            if let Some(dst) = parse_subfield(lhs) {
                let src = parse_subfield(rhs).ok_or_else(bad)?;
                specs.extend_from_slice(&(dst.n_bits as u16).to_be_bytes());
                put_sub(&mut specs, src);
                put_sub(&mut specs, dst);
            } else {
                let field = immediate_field(lhs).ok_or_else(bad)?;
                let value = parse_value(rhs).ok_or_else(bad)?;
                let dst = Subfield::whole(field);
                specs.extend_from_slice(&(LEARN_SRC_IMMEDIATE | dst.n_bits as u16).to_be_bytes());
                put_immediate(&mut specs, value, dst.n_bits);
                put_sub(&mut specs, dst);
            }
        } else {
            let s = parse_subfield(arg).ok_or_else(bad)?;
            specs.extend_from_slice(&(s.n_bits as u16).to_be_bytes());
            put_sub(&mut specs, s);
            put_sub(&mut specs, s);
        }
    }
    let start = nx_start(out, NXAST_LEARN);
    for v in [idle, hard, prio] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.push(table);
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    out.extend_from_slice(&specs);
    finish(out, start)
}
