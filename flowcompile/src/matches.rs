//! Pass 5, to_matches (OVN's `expr_to_matches`): a normalized [`Expr`] → OpenFlow matches.
//!
//! Three kinds of [`ExprMatch`] come out, as in ovn-controller:
//! * ordinary flows (no conjunctions): install with the flow's actions;
//! * conjunctive clause flows (`conjunctions` non-empty): install with
//!   `conjunction(id, k/n)` actions;
//! * `conj_id` flows (matching [`OfField::ConjId`]): install with the flow's actions.
//!
//! A conjunction is made for an AND with two or more per-field ORs; each OR is one clause.
//! Conjunction ids are numbered from 1 within one expression; the caller offsets them.
//! Identical matches are merged: conjunctions accumulate, and a match that is also needed as
//! an ordinary flow becomes ordinary (drops its conjunctions), as OVN does.
//!
//! String comparisons (`inport == "p1"`) use the caller's [`PortLookup`]; an unknown port never
//! matches.  Output is limited to [`MAX_MATCHES`] flows and 64 clauses per conjunction.

use crate::fxhash::FxHashMap;
use std::fmt;
use std::net::Ipv6Addr;

use crate::error::{ErrorKind, ExprError};
use crate::expr::{Cmp, CmpValue, Expr};
use crate::lex::cidr_len;
use crate::symtab::{OfField, SymbolKind, Symtab};

/// Most flows one expression may produce.
pub const MAX_MATCHES: usize = 100_000;

/// Most clauses of one conjunctive match (OpenFlow's limit).
pub const MAX_CLAUSES: usize = 64;

/// Maps a logical port name to its tunnel key, for comparisons on string fields.
///
/// `field` is the symbol compared (`inport` or `outport`), so that a chassis view can apply
/// ovn-controller 23.03's rules, observed against the real one (`tests/it/real.rs`): a port of
/// the flow's own datapath resolves to its tunnel key, except that `inport` naming a VIF not
/// bound to this chassis does not resolve; multicast group names (`_MC_flood`, ...) resolve to
/// their keys; the name `none` resolves to 0.
pub trait PortLookup {
    /// The port's tunnel key, or `None` if the comparison can never match here.
    fn port_key(&self, field: &str, name: &str) -> Option<u32>;
}

impl<F: Fn(&str, &str) -> Option<u32>> PortLookup for F {
    fn port_key(&self, field: &str, name: &str) -> Option<u32> {
        self(field, name)
    }
}

/// A value under a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Masked {
    /// Value (no 1-bits outside `mask`).
    pub value: u128,
    /// Mask.
    pub mask: u128,
}

/// One OpenFlow match: a set of fields with values and masks.  Wide registers are stored as
/// their 32-bit `reg` parts, as OVS does.
///
/// Stored as a vector of 64-bit parts sorted by field (a few fields per match; a chassis holds
/// tens of thousands of matches, so a map's nodes, or 128-bit slots for 16-bit fields, would
/// dominate its memory).
#[derive(Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Match {
    parts: Vec<Part>,
}

/// 64 bits of one field's match.  A field wider than 64 bits has a low (`high == false`) and
/// a high part, each stored only when its mask is not zero, so equal matches are stored
/// equally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Part {
    field: OfField,
    high: bool,
    value: u64,
    mask: u64,
}

impl Part {
    fn masked(self) -> Masked {
        let shift = if self.high { 64 } else { 0 };
        Masked {
            value: u128::from(self.value) << shift,
            mask: u128::from(self.mask) << shift,
        }
    }
}

impl Clone for Match {
    /// A copy with room for two more parts: copies are usually refined (a clause's field,
    /// the datapath's `metadata`) before they are kept.
    fn clone(&self) -> Self {
        let mut parts = Vec::with_capacity(self.parts.len() + 2);
        parts.extend_from_slice(&self.parts);
        Self { parts }
    }
}

fn full(width: u32) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

impl Match {
    /// The catch-all match.
    pub fn new() -> Self {
        Self::default()
    }

    /// True if nothing is matched.
    pub fn is_catchall(&self) -> bool {
        self.parts.is_empty()
    }

    /// The match on `field`, if any (registers are stored as `OfField::Reg`).
    pub fn get(&self, field: OfField) -> Option<Masked> {
        let mut found: Option<Masked> = None;
        for p in self.parts.iter().filter(|p| p.field == field) {
            let m = p.masked();
            let f = found.get_or_insert(Masked { value: 0, mask: 0 });
            f.value |= m.value;
            f.mask |= m.mask;
        }
        found
    }

    /// All matched fields, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (OfField, Masked)> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            let p = *self.parts.get(i)?;
            i += 1;
            let mut m = p.masked();
            if let Some(q) = self.parts.get(i).filter(|q| q.field == p.field) {
                let n = q.masked();
                m.value |= n.value;
                m.mask |= n.mask;
                i += 1;
            }
            Some((p.field, m))
        })
    }

    fn part(&mut self, field: OfField, high: bool) -> &mut Part {
        let i = match self
            .parts
            .binary_search_by(|p| (p.field, p.high).cmp(&(field, high)))
        {
            Ok(i) => i,
            Err(i) => {
                if self.parts.capacity() == 0 {
                    self.parts.reserve_exact(6);
                }
                let p = Part {
                    field,
                    high,
                    value: 0,
                    mask: 0,
                };
                self.parts.insert(i, p);
                i
            }
        };
        &mut self.parts[i]
    }

    /// Adds the bits of `mask` with values from `value` to the match on `field`, keeping other
    /// bits already matched (OVS's `mf_mask_subfield`).
    pub fn mask_field(&mut self, field: OfField, value: u128, mask: u128) {
        match field {
            OfField::Xxreg(n) => {
                for i in 0..4u8 {
                    self.mask_part(OfField::Reg(n * 4 + 3 - i), value, mask, 32 * u32::from(i));
                }
            }
            OfField::Xreg(n) => {
                for i in 0..2u8 {
                    self.mask_part(OfField::Reg(n * 2 + 1 - i), value, mask, 32 * u32::from(i));
                }
            }
            f => self.mask_part(f, value, mask, 0),
        }
    }

    fn mask_part(&mut self, f: OfField, value: u128, mask: u128, shift: u32) {
        let m = (mask >> shift) & full(f.width());
        let v = (value >> shift) & m;
        for high in [false, true] {
            let s = if high { 64 } else { 0 };
            let (hm, hv) = ((m >> s) as u64, (v >> s) as u64);
            if hm == 0 {
                continue;
            }
            let p = self.part(f, high);
            p.value = (p.value & !hm) | hv;
            p.mask |= hm;
        }
    }

    /// Matches `field` exactly on `value`.
    pub fn set_exact(&mut self, field: OfField, value: u128) {
        self.mask_field(field, value, full(field.width()));
    }

    /// Removes the match on `field`.
    pub fn clear(&mut self, field: OfField) {
        self.parts.retain(|p| p.field != field);
    }

    /// True if some bit is matched by both `self` and `other` (registers compared by their
    /// 32-bit parts, so `xxreg0` overlaps `reg3`).
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.parts.iter().any(|p| {
            other
                .parts
                .iter()
                .any(|q| p.field == q.field && p.high == q.high && p.mask & q.mask != 0)
        })
    }
}

/// The fields other than registers, in the order of their [`PackedMatch`] codes.
const PACKED_FIELDS: [OfField; 39] = {
    use OfField::*;
    [
        Metadata, PktMark, ConjId, CtState, CtMark, CtLabel, EthSrc, EthDst, EthType, VlanTci,
        IpProto, IpDscp, IpEcn, IpTtl, IpFrag, Ipv4Src, Ipv4Dst, Ipv6Src, Ipv6Dst, Ipv6Label,
        Icmpv4Type, Icmpv4Code, Icmpv6Type, Icmpv6Code, ArpOp, ArpSpa, ArpTpa, ArpSha, ArpTha,
        NdTarget, NdSll, NdTll, TcpSrc, TcpDst, TcpFlags, UdpSrc, UdpDst, SctpSrc, SctpDst,
    ]
};

/// The [`PackedMatch`] code of a field (registers: 0, 1, 2 for `reg`, `xreg`, `xxreg`, then
/// their number; others: 3 + their index in [`PACKED_FIELDS`]).
fn packed_code(f: OfField) -> u8 {
    use OfField::*;
    match f {
        Reg(_) => 0,
        Xreg(_) => 1,
        Xxreg(_) => 2,
        Metadata => 3,
        PktMark => 4,
        ConjId => 5,
        CtState => 6,
        CtMark => 7,
        CtLabel => 8,
        EthSrc => 9,
        EthDst => 10,
        EthType => 11,
        VlanTci => 12,
        IpProto => 13,
        IpDscp => 14,
        IpEcn => 15,
        IpTtl => 16,
        IpFrag => 17,
        Ipv4Src => 18,
        Ipv4Dst => 19,
        Ipv6Src => 20,
        Ipv6Dst => 21,
        Ipv6Label => 22,
        Icmpv4Type => 23,
        Icmpv4Code => 24,
        Icmpv6Type => 25,
        Icmpv6Code => 26,
        ArpOp => 27,
        ArpSpa => 28,
        ArpTpa => 29,
        ArpSha => 30,
        ArpTha => 31,
        NdTarget => 32,
        NdSll => 33,
        NdTll => 34,
        TcpSrc => 35,
        TcpDst => 36,
        TcpFlags => 37,
        UdpSrc => 38,
        UdpDst => 39,
        SctpSrc => 40,
        SctpDst => 41,
    }
}

/// Marks a high (bits 64..127) part in a [`PackedMatch`] field code.
const PACKED_HIGH: u8 = 0x80;
/// Mask-length nibble meaning "every bit of the part".
const PACKED_FULL_MASK: u8 = 0x0f;

/// The mask of every bit of a field's low or high 64-bit part.
fn part_full_mask(field: OfField, high: bool) -> u64 {
    let w = field.width();
    let bits = if high {
        w.saturating_sub(64)
    } else {
        w.min(64)
    };
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A [`Match`] in a compact byte form, for matches that are kept (a chassis keeps tens of
/// thousands): per part, a field code (with the `PACKED_HIGH` bit for a high part; registers
/// add their number), a length byte (value bytes in the low nibble, mask bytes or
/// `PACKED_FULL_MASK` in the high one), then the value and mask bytes without leading
/// zeros.  Equal matches pack to equal bytes.
///
/// Short matches (most of them) are held inline, without an allocation of their own.
#[derive(Clone, Default)]
pub struct PackedMatch {
    repr: PackedRepr,
}

/// Matches of up to this many packed bytes are held inline: 30 makes a `PackedMatch` 32
/// bytes, and covers the 23- and 24-byte matches that are the most common of an
/// OVN-Kubernetes chassis (about half of its flows; `metadata` and two or three registers).
const PACKED_INLINE: usize = 30;

#[derive(Clone)]
enum PackedRepr {
    /// `bytes[..len]`; the rest is zero.
    Inline { len: u8, bytes: [u8; PACKED_INLINE] },
    /// Longer than [`PACKED_INLINE`].
    Heap(Box<[u8]>),
}

impl Default for PackedRepr {
    fn default() -> Self {
        Self::Inline {
            len: 0,
            bytes: [0; PACKED_INLINE],
        }
    }
}

impl fmt::Debug for PackedMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedMatch")
            .field("bytes", &self.as_bytes())
            .finish()
    }
}

impl PartialEq for PackedMatch {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PackedMatch {}

impl std::hash::Hash for PackedMatch {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialOrd for PackedMatch {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PackedMatch {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PackedMatch {
    /// Packs `m`.
    pub fn new(m: &Match) -> Self {
        let mut buf = Vec::new();
        m.pack_into(&mut buf);
        Self::from_packed(&buf)
    }

    /// A packed match from bytes written by [`Match::pack_into`].
    pub(crate) fn from_packed(b: &[u8]) -> Self {
        let repr = if b.len() <= PACKED_INLINE {
            let mut bytes = [0; PACKED_INLINE];
            bytes[..b.len()].copy_from_slice(b);
            PackedRepr::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            PackedRepr::Heap(b.into())
        };
        Self { repr }
    }

    /// The packed bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            PackedRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            PackedRepr::Heap(b) => b,
        }
    }

    /// True if nothing is matched.
    pub fn is_catchall(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The match, unpacked.
    pub fn unpack(&self) -> Match {
        let mut m = Match::default();
        self.unpack_into(&mut m);
        m
    }

    /// [`PackedMatch::unpack`] into `m`'s storage (its parts are replaced).
    fn unpack_into(&self, m: &mut Match) {
        let b = self.as_bytes();
        let parts = &mut m.parts;
        parts.clear();
        let mut i = 0;
        let byte = |i: usize| b.get(i).copied().unwrap_or(0);
        let read = |i: usize, n: usize| {
            let mut v: u64 = 0;
            for k in 0..n {
                v = (v << 8) | u64::from(byte(i + k));
            }
            v
        };
        while i < b.len() {
            let code = byte(i);
            let high = code & PACKED_HIGH != 0;
            let code = code & !PACKED_HIGH;
            i += 1;
            let field = match code {
                0..=2 => {
                    let n = byte(i);
                    i += 1;
                    match code {
                        0 => OfField::Reg(n),
                        1 => OfField::Xreg(n),
                        _ => OfField::Xxreg(n),
                    }
                }
                c => match PACKED_FIELDS.get(usize::from(c - 3)) {
                    Some(f) => *f,
                    None => break,
                },
            };
            let lens = byte(i);
            i += 1;
            let vlen = usize::from(lens & 0x0f);
            let value = read(i, vlen);
            i += vlen;
            let mask = match lens >> 4 {
                PACKED_FULL_MASK => part_full_mask(field, high),
                n => {
                    let v = read(i, usize::from(n));
                    i += usize::from(n);
                    v
                }
            };
            parts.push(Part {
                field,
                high,
                value,
                mask,
            });
        }
    }
}

impl fmt::Display for PackedMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.unpack().fmt(f)
    }
}

impl PackedMatch {
    /// Appends the match as `ovs-ofctl` prints it (what `Display` gives), unpacking it into
    /// `scratch` (kept between calls, to reuse its storage).
    pub(crate) fn write_text(&self, out: &mut String, scratch: &mut Match) {
        self.unpack_into(scratch);
        scratch.write_text(out);
    }
}

impl From<&Match> for PackedMatch {
    fn from(m: &Match) -> Self {
        Self::new(m)
    }
}

impl Match {
    /// Appends the [`PackedMatch`] bytes of this match to `out`.
    pub(crate) fn pack_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.parts.len() * 19);
        for p in &self.parts {
            pack_part(*p, out);
        }
    }

    /// Appends the [`PackedMatch`] bytes of this match without `field`'s (low) part and
    /// returns the offset in `out` where [`pack_exact_into`] bytes for `field` belong: the
    /// bytes before it, those, and the bytes after it are what
    /// [`Match::pack_with_exact_into`] writes, for any value.
    pub(crate) fn pack_without_into(&self, field: OfField, out: &mut Vec<u8>) -> usize {
        out.reserve(self.parts.len() * 19);
        let mut at = None;
        for p in &self.parts {
            if at.is_none() && (p.field, p.high) >= (field, false) {
                at = Some(out.len());
                if (p.field, p.high) == (field, false) {
                    continue;
                }
            }
            pack_part(*p, out);
        }
        at.unwrap_or(out.len())
    }

    /// Appends the [`PackedMatch`] bytes of this match with `field` (at most 64 bits wide)
    /// matched exactly on `value` (as [`Match::set_exact`] would, without changing `self`).
    pub(crate) fn pack_with_exact_into(&self, field: OfField, value: u64, out: &mut Vec<u8>) {
        let mask = part_full_mask(field, false);
        let extra = Part {
            field,
            high: false,
            value: value & mask,
            mask,
        };
        out.reserve((self.parts.len() + 1) * 19);
        let mut pending = Some(extra);
        for p in &self.parts {
            if let Some(e) = pending {
                match (p.field, p.high).cmp(&(field, false)) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        pack_part(e, out);
                        pending = None;
                        continue;
                    }
                    std::cmp::Ordering::Greater => {
                        pack_part(e, out);
                        pending = None;
                    }
                }
            }
            pack_part(*p, out);
        }
        if let Some(e) = pending {
            pack_part(e, out);
        }
    }
}

/// Appends the [`PackedMatch`] bytes of `field` (at most 64 bits wide) matched exactly on
/// `value`: with [`Match::pack_without_into`], the same bytes as
/// [`Match::pack_with_exact_into`] in two steps.
pub(crate) fn pack_exact_into(field: OfField, value: u64, out: &mut Vec<u8>) {
    let mask = part_full_mask(field, false);
    pack_part(
        Part {
            field,
            high: false,
            value: value & mask,
            mask,
        },
        out,
    );
}

/// Appends one part's [`PackedMatch`] bytes: assembled in a small buffer with fixed-size
/// writes (value and mask are written as 8 big-endian bytes each, shifted so that the bytes
/// kept come first), then appended with one fixed-size copy.
fn pack_part(p: Part, out: &mut Vec<u8>) {
    let mut buf = [0u8; 2 + 1 + 8 + 8];
    buf[0] = packed_code(p.field) | if p.high { PACKED_HIGH } else { 0 };
    let mut n = 1;
    if let OfField::Reg(r) | OfField::Xreg(r) | OfField::Xxreg(r) = p.field {
        buf[1] = r;
        n = 2;
    }
    let vlen = 8 - p.value.leading_zeros() / 8;
    let full = p.mask == part_full_mask(p.field, p.high);
    let mlen = if full {
        0
    } else {
        8 - p.mask.leading_zeros() / 8
    };
    let lens = if full {
        u32::from(PACKED_FULL_MASK)
    } else {
        mlen
    };
    buf[n] = (vlen | (lens << 4)) as u8;
    n += 1;
    // `x << (64 - 8 * len)` moves the `len` low bytes to the top (0 when `len` is 0).
    let top = |x: u64, len: u32| x.checked_shl(64 - 8 * len).unwrap_or(0);
    buf[n..n + 8].copy_from_slice(&top(p.value, vlen).to_be_bytes());
    n += vlen as usize;
    buf[n..n + 8].copy_from_slice(&top(p.mask, mlen).to_be_bytes());
    n += mlen as usize;
    // All of `buf` (a fixed-size copy, no copy call), then what is not part of it dropped.
    let start = out.len();
    out.extend_from_slice(&buf);
    out.truncate(start + n);
}

/// One `conjunction(id, k/n)` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conjunction {
    /// Conjunction id, from 1 within one expression.
    pub id: u32,
    /// Clause index, from 0 (OpenFlow's `k` is `clause + 1`).
    pub clause: u8,
    /// Number of clauses.
    pub n_clauses: u8,
}

impl fmt::Display for Conjunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conjunction({},{}/{})",
            self.id,
            u32::from(self.clause) + 1,
            self.n_clauses
        )
    }
}

/// A match with the conjunctions it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExprMatch {
    /// The match.
    pub flow: Match,
    /// Conjunction clauses it belongs to; empty for ordinary and `conj_id` flows.
    pub conjunctions: Vec<Conjunction>,
}

impl fmt::Display for ExprMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.flow)?;
        for (i, c) in self.conjunctions.iter().enumerate() {
            f.write_str(if i == 0 { " actions=" } else { "," })?;
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The result of [`to_matches`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matches {
    /// The flows, in the order they were first produced.
    pub matches: Vec<ExprMatch>,
    /// Number of conjunction ids used (ids `1..=n_conjs`).
    pub n_conjs: u32,
}

impl Matches {
    /// Renumbers conjunction ids `1..=n_conjs` to `base..base + n_conjs`, in the clause flows
    /// and the `conj_id` flows alike (callers allocate a range per logical flow).
    pub fn rebase_conj_ids(&mut self, base: u32) {
        if self.n_conjs == 0 || base == 1 {
            return;
        }
        let shift = |id: u32| base.wrapping_add(id - 1);
        for m in &mut self.matches {
            for c in &mut m.conjunctions {
                c.id = shift(c.id);
            }
            if let Some(id) = m.flow.get(OfField::ConjId) {
                m.flow.clear(OfField::ConjId);
                m.flow
                    .set_exact(OfField::ConjId, u128::from(shift(id.value as u32)));
            }
        }
    }
}

impl fmt::Display for Matches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.matches.is_empty() {
            return writeln!(f, "(no flows)");
        }
        for m in &self.matches {
            if m.flow.is_catchall() && m.conjunctions.is_empty() {
                writeln!(f, "(catch-all)")?;
            } else {
                writeln!(f, "{m}")?;
            }
        }
        Ok(())
    }
}

struct Builder<'a> {
    symtab: &'a Symtab,
    ports: &'a dyn PortLookup,
    out: Matches,
    index: FxHashMap<Match, usize>,
}

fn form_error(msg: &str) -> ExprError {
    ExprError::new(ErrorKind::Form, format!("to_matches: {msg}"), None)
}

impl Builder<'_> {
    /// The index of an identical match already produced: a scan while there are few, a
    /// hash map once there are many.
    fn find(&mut self, flow: &Match) -> Option<usize> {
        const SCAN: usize = 16;
        let n = self.out.matches.len();
        if n <= SCAN {
            return self.out.matches.iter().position(|m| m.flow == *flow);
        }
        if self.index.is_empty() {
            for (i, m) in self.out.matches.iter().enumerate() {
                self.index.insert(m.flow.clone(), i);
            }
        }
        self.index.get(flow).copied()
    }

    fn add(&mut self, flow: Match, conj: Option<Conjunction>) -> Result<(), ExprError> {
        if let Some(i) = self.find(&flow) {
            let m = &mut self.out.matches[i];
            match conj {
                Some(c) if !m.conjunctions.is_empty() => m.conjunctions.push(c),
                _ => m.conjunctions.clear(),
            }
            return Ok(());
        }
        if self.out.matches.len() >= MAX_MATCHES {
            return Err(ExprError::new(
                ErrorKind::Limit,
                format!("Expression needs more than {MAX_MATCHES} OpenFlow flows."),
                None,
            ));
        }
        if !self.index.is_empty() {
            self.index.insert(flow.clone(), self.out.matches.len());
        }
        self.out.matches.push(ExprMatch {
            flow,
            conjunctions: conj.into_iter().collect(),
        });
        Ok(())
    }

    /// Applies `cmp` to `m`; false if it names an unknown port.
    fn constrain(&self, cmp: &Cmp, m: &mut Match) -> Result<bool, ExprError> {
        let sym = self.symtab.get(cmp.symbol);
        match (&sym.kind, &cmp.value) {
            (SymbolKind::Field(of), CmpValue::Int { value, mask }) => {
                m.mask_field(*of, *value, *mask);
                Ok(true)
            }
            (SymbolKind::String(of), CmpValue::Str(s)) => match self.ports.port_key(&sym.name, s) {
                Some(key) => {
                    m.clear(*of);
                    m.set_exact(*of, u128::from(key));
                    Ok(true)
                }
                None => Ok(false),
            },
            _ => Err(form_error(&format!(
                "comparison on {} is not on a field (run annotate first)",
                sym.name
            ))),
        }
    }

    fn cmp_flow(&mut self, e: &Expr) -> Result<(), ExprError> {
        let Expr::Cmp(c) = e else {
            return Err(form_error("expected a comparison (run normalize first)"));
        };
        let mut m = Match::new();
        if self.constrain(c, &mut m)? {
            self.add(m, None)?;
        }
        Ok(())
    }

    fn disjunction(
        &mut self,
        or: &[Expr],
        base: &Match,
        conj: Option<Conjunction>,
    ) -> Result<bool, ExprError> {
        let mut n = 0;
        for sub in or {
            let Expr::Cmp(c) = sub else {
                return Err(form_error("expected a comparison inside a clause"));
            };
            let mut m = base.clone();
            if self.constrain(c, &mut m)? {
                self.add(m, conj)?;
                n += 1;
            }
        }
        Ok(n > 0)
    }

    fn conjunction(&mut self, and: &[Expr]) -> Result<(), ExprError> {
        let mut base = Match::new();
        let mut n_clauses = 0usize;
        for sub in and {
            match sub {
                Expr::Cmp(c) => {
                    if !self.constrain(c, &mut base)? {
                        return Ok(());
                    }
                }
                Expr::Or(_) => n_clauses += 1,
                _ => {
                    return Err(form_error(
                        "unexpected node inside a conjunction (run normalize first)",
                    ))
                }
            }
        }
        match n_clauses {
            0 => self.add(base, None),
            1 => {
                for sub in and {
                    if let Expr::Or(v) = sub {
                        self.disjunction(v, &base, None)?;
                    }
                }
                Ok(())
            }
            n if n > MAX_CLAUSES => Err(ExprError::new(
                ErrorKind::Limit,
                format!("Conjunctive match would need {n} clauses; OpenFlow allows at most {MAX_CLAUSES}."),
                None,
            )),
            n => {
                self.out.n_conjs += 1;
                let id = self.out.n_conjs;
                let mut clause = 0u8;
                for sub in and {
                    if let Expr::Or(v) = sub {
                        let c = Conjunction { id, clause, n_clauses: n as u8 };
                        clause += 1;
                        if !self.disjunction(v, &base, Some(c))? {
                            return Ok(());
                        }
                    }
                }
                base.set_exact(OfField::ConjId, u128::from(id));
                self.add(base, None)
            }
        }
    }
}

/// Converts a normalized expression to OpenFlow matches (see the module docs).
pub fn to_matches(
    expr: &Expr,
    symtab: &Symtab,
    ports: &dyn PortLookup,
) -> Result<Matches, ExprError> {
    let mut b = Builder {
        symtab,
        ports,
        out: Matches::default(),
        index: FxHashMap::default(),
    };
    match expr {
        Expr::Cmp(_) => b.cmp_flow(expr)?,
        Expr::And(v) => b.conjunction(v)?,
        Expr::Or(v) => {
            let unique = expr.unique_symbol().is_some();
            for sub in v {
                match sub {
                    Expr::And(w) if !unique => b.conjunction(w)?,
                    s => b.cmp_flow(s)?,
                }
            }
        }
        Expr::Bool(true) => b.add(Match::new(), None)?,
        Expr::Bool(false) => {}
        Expr::Condition(_) => return Err(form_error("conditions must be evaluated first")),
    }
    Ok(b.out)
}

// ---- Printing, in the order and syntax of OVS's match_format(). ----

/// Appends `v` in lowercase hex with a `0x` prefix, or `0` for zero (as [`crate::lex::format_hex`]).
pub(crate) fn push_hex(out: &mut String, v: u128) {
    if v == 0 {
        out.push('0');
    } else {
        out.push_str("0x");
        push_hex_digits(out, v, 1);
    }
}

/// Appends `v` in lowercase hex digits, at least `min_digits` of them (zero-padded).
pub(crate) fn push_hex_digits(out: &mut String, v: u128, min_digits: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let n = ((128 - v.leading_zeros()).div_ceil(4)).clamp(min_digits.min(32), 32) as usize;
    let mut buf = [0u8; 32];
    let mut x = v;
    for b in buf[..n].iter_mut().rev() {
        *b = DIGITS[(x & 0xf) as usize];
        x >>= 4;
    }
    push_ascii(out, &buf[..n]);
}

/// Appends ASCII bytes.
fn push_ascii(out: &mut String, b: &[u8]) {
    out.reserve(b.len());
    for &c in b {
        out.push(char::from(c));
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_dec(out: &mut String, v: u128) {
    if v < 10 {
        out.push(char::from(b'0' + v as u8));
    } else if let Ok(v) = u64::try_from(v) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut v = v;
        while v > 0 {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        push_ascii(out, &buf[i..]);
    } else {
        use fmt::Write as _;
        let _ = write!(out, "{v}");
    }
}

/// Appends the low 48 bits of `v` as an Ethernet address (as [`crate::lex::format_mac`]).
pub(crate) fn push_mac(out: &mut String, v: u64) {
    for i in (0..6).rev() {
        push_hex_digits(out, u128::from((v >> (8 * i)) & 0xff), 2);
        if i > 0 {
            out.push(':');
        }
    }
}

/// Appends the low 32 bits of `v` as a dotted-quad IPv4 address.
pub(crate) fn push_ipv4(out: &mut String, v: u128) {
    let v = v as u32;
    for i in (0..4).rev() {
        push_dec(out, u128::from((v >> (8 * i)) & 0xff));
        if i > 0 {
            out.push('.');
        }
    }
}

fn push_ipv6(out: &mut String, v: u128) {
    use fmt::Write as _;
    if v >> 32 == 0 && v >> 16 != 0 {
        let _ = write!(out, "::{}", std::net::Ipv4Addr::from(v as u32));
    } else {
        let _ = write!(out, "{}", Ipv6Addr::from(v));
    }
}

/// The items of a match's text, separated by commas.
struct Items<'a> {
    out: &'a mut String,
    first: bool,
}

impl Items<'_> {
    /// Starts an item: `name=`.
    fn item(&mut self, name: &str) -> &mut String {
        self.word(name);
        self.out.push('=');
        self.out
    }

    /// Starts an item that is a bare word.
    fn word(&mut self, w: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(w);
        self.out
    }
}

fn fmt_u_masked(out: &mut Items<'_>, name: &str, m: Masked, width: u32) {
    let s = out.item(name);
    push_hex(s, m.value);
    if m.mask != full(width) {
        s.push('/');
        push_hex(s, m.mask);
    }
}

fn fmt_eth(out: &mut Items<'_>, name: &str, m: Masked) {
    let s = out.item(name);
    push_mac(s, m.value as u64);
    if m.mask != full(48) {
        s.push('/');
        push_mac(s, m.mask as u64);
    }
}

fn fmt_ip4(out: &mut Items<'_>, name: &str, m: Masked) {
    let s = out.item(name);
    push_ipv4(s, m.value);
    if m.mask == full(32) {
    } else if let Some(n) = cidr_len(m.mask, 32) {
        s.push('/');
        push_dec(s, u128::from(n));
    } else {
        s.push('/');
        push_ipv4(s, m.mask);
    }
}

/// An IPv6 address as `ovs-ofctl` (glibc's `inet_ntop`) prints it: like Rust's `Display`,
/// except that an address whose first 96 bits are zero and whose next 16 are not is written
/// `::a.b.c.d`.
pub(crate) fn ipv6_text(v: u128) -> String {
    let mut s = String::new();
    push_ipv6(&mut s, v);
    s
}

fn fmt_ip6(out: &mut Items<'_>, name: &str, m: Masked) {
    let s = out.item(name);
    push_ipv6(s, m.value);
    if m.mask == u128::MAX {
    } else if let Some(n) = cidr_len(m.mask, 128) {
        s.push('/');
        push_dec(s, u128::from(n));
    } else {
        s.push('/');
        push_ipv6(s, m.mask);
    }
}

/// `{:#x}`: `0x` and the hex digits, `0x0` for zero.
fn push_alt_hex(out: &mut String, v: u128, width: u32) {
    out.push_str("0x");
    push_hex_digits(out, v, width.max(1));
}

fn fmt_be16(out: &mut Items<'_>, name: &str, m: Masked, width: u32) {
    let s = out.item(name);
    if m.mask == full(width) {
        push_dec(s, m.value);
    } else {
        push_alt_hex(s, m.value, 1);
        s.push('/');
        push_alt_hex(s, m.mask, 1);
    }
}

fn fmt_flags(out: &mut Items<'_>, name: &str, m: Masked, names: &[&str], width: u32) {
    let s = out.item(name);
    let start = s.len();
    if m.mask == full(width) {
        for (i, n) in names.iter().enumerate() {
            if (m.value >> i) & 1 == 1 {
                if s.len() > start {
                    s.push('|');
                }
                s.push_str(n);
            }
        }
        if s.len() == start {
            s.push('0');
        }
    } else {
        for (i, n) in names.iter().enumerate() {
            if (m.mask >> i) & 1 == 1 {
                s.push(if (m.value >> i) & 1 == 1 { '+' } else { '-' });
                s.push_str(n);
            }
        }
        let other = m.mask & !full(names.len() as u32);
        if other != 0 {
            push_hex(s, m.value & other);
            s.push('/');
            push_hex(s, other);
        }
    }
}

const CT_STATE_NAMES: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];
const TCP_FLAG_NAMES: [&str; 9] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_text(&mut s);
        f.write_str(&s)
    }
}

impl Match {
    /// Appends the match as `ovs-ofctl` prints it (what `Display` gives).
    pub(crate) fn write_text(&self, s: &mut String) {
        use OfField as F;
        // The fields present (by packed code) and the registers present: most lookups below
        // are for fields a match does not have.
        let mut present: u64 = 0;
        let mut regs: u16 = 0;
        for p in &self.parts {
            present |= 1 << packed_code(p.field);
            if let F::Reg(n) = p.field {
                regs |= 1u16.checked_shl(u32::from(n)).unwrap_or(0);
            }
        }
        let g = |field: OfField| {
            if present & (1 << packed_code(field)) == 0 {
                None
            } else {
                self.get(field)
            }
        };
        let out = &mut Items {
            out: s,
            first: true,
        };
        if let Some(m) = g(F::PktMark) {
            fmt_u_masked(out, "pkt_mark", m, 32);
        }
        if let Some(m) = g(F::ConjId) {
            push_dec(out.item("conj_id"), m.value);
        }
        if let Some(m) = g(F::CtState) {
            fmt_flags(out, "ct_state", m, &CT_STATE_NAMES, 8);
        }
        if let Some(m) = g(F::CtMark) {
            fmt_u_masked(out, "ct_mark", m, 32);
        }
        if let Some(m) = g(F::CtLabel) {
            fmt_u_masked(out, "ct_label", m, 128);
        }

        // Protocol shorthand.
        let exact = |field: OfField| {
            g(field)
                .filter(|m| m.mask == full(field.width()))
                .map(|m| m.value)
        };
        let dl_type = exact(F::EthType);
        let nw_proto = exact(F::IpProto);
        let mut skip_type = false;
        let mut skip_proto = false;
        if let Some(t) = dl_type {
            skip_type = true;
            let (v4, names): (bool, [&str; 5]) = match t {
                0x0800 => (true, ["ip", "icmp", "tcp", "udp", "sctp"]),
                0x86dd => (true, ["ipv6", "icmp6", "tcp6", "udp6", "sctp6"]),
                _ => (false, [""; 5]),
            };
            if v4 {
                let i = match nw_proto {
                    Some(1) if t == 0x0800 => 1,
                    Some(58) if t == 0x86dd => 1,
                    Some(6) => 2,
                    Some(17) => 3,
                    Some(132) => 4,
                    _ => 0,
                };
                skip_proto = i != 0;
                out.word(names[i]);
            } else {
                match t {
                    0x0806 => {
                        out.word("arp");
                    }
                    0x8035 => {
                        out.word("rarp");
                    }
                    0x8847 => {
                        out.word("mpls");
                    }
                    0x8848 => {
                        out.word("mplsm");
                    }
                    _ => skip_type = false,
                }
            }
        }

        if regs != 0 {
            const REG_NAMES: [&str; 16] = [
                "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9",
                "reg10", "reg11", "reg12", "reg13", "reg14", "reg15",
            ];
            for (n, name) in (0..16u8).zip(REG_NAMES) {
                if regs & (1 << n) != 0 {
                    if let Some(m) = self.get(F::Reg(n)) {
                        fmt_u_masked(out, name, m, 32);
                    }
                }
            }
        }
        if let Some(m) = g(F::Metadata) {
            fmt_u_masked(out, "metadata", m, 64);
        }
        if let Some(m) = g(F::VlanTci) {
            let (v, mk) = (m.value as u16, m.mask as u16);
            let vid_mask = mk & 0x0fff;
            let pcp_mask = mk & 0xe000;
            if mk & 0x1000 != 0
                && v & 0x1000 != 0
                && (vid_mask == 0 || vid_mask == 0x0fff)
                && (pcp_mask == 0 || pcp_mask == 0xe000)
                && (vid_mask != 0 || pcp_mask != 0)
            {
                if vid_mask != 0 {
                    push_dec(out.item("dl_vlan"), u128::from(v & 0x0fff));
                }
                if pcp_mask != 0 {
                    push_dec(out.item("dl_vlan_pcp"), u128::from(v >> 13));
                }
            } else {
                let s = out.item("vlan_tci");
                push_alt_hex(s, u128::from(v), 4);
                if mk != 0xffff {
                    s.push('/');
                    push_alt_hex(s, u128::from(mk), 4);
                }
            }
        }
        if let Some(m) = g(F::EthSrc) {
            fmt_eth(out, "dl_src", m);
        }
        if let Some(m) = g(F::EthDst) {
            fmt_eth(out, "dl_dst", m);
        }
        if !skip_type {
            if let Some(m) = g(F::EthType) {
                let s = out.item("dl_type");
                push_alt_hex(s, m.value, 4);
                if m.mask != 0xffff {
                    s.push('/');
                    push_alt_hex(s, m.mask, 4);
                }
            }
        }
        if let Some(m) = g(F::Ipv6Src) {
            fmt_ip6(out, "ipv6_src", m);
        }
        if let Some(m) = g(F::Ipv6Dst) {
            fmt_ip6(out, "ipv6_dst", m);
        }
        if let Some(m) = g(F::Ipv6Label) {
            let s = out.item("ipv6_label");
            push_alt_hex(s, m.value, 5);
            if m.mask != full(20) {
                s.push('/');
                push_alt_hex(s, m.mask, 5);
            }
        }
        for (field, name) in [
            (F::Ipv4Src, "nw_src"),
            (F::ArpSpa, "arp_spa"),
            (F::Ipv4Dst, "nw_dst"),
            (F::ArpTpa, "arp_tpa"),
        ] {
            if let Some(m) = g(field) {
                fmt_ip4(out, name, m);
            }
        }
        if !skip_proto {
            if let Some(m) = g(F::IpProto) {
                push_dec(out.item("nw_proto"), m.value);
            }
        }
        if let Some(m) = g(F::ArpOp) {
            push_dec(out.item("arp_op"), m.value);
        }
        if let Some(m) = g(F::ArpSha) {
            fmt_eth(out, "arp_sha", m);
        }
        if let Some(m) = g(F::ArpTha) {
            fmt_eth(out, "arp_tha", m);
        }
        if let Some(m) = g(F::IpDscp) {
            let s = out.item("nw_tos");
            push_dec(s, m.value << 2);
            if m.mask != full(6) {
                s.push('/');
                push_dec(s, m.mask << 2);
            }
        }
        if let Some(m) = g(F::IpEcn) {
            push_dec(out.item("nw_ecn"), m.value);
        }
        if let Some(m) = g(F::IpTtl) {
            push_dec(out.item("nw_ttl"), m.value);
        }
        if let Some(m) = g(F::IpFrag) {
            let s = match (m.mask, m.value) {
                (3, 0) | (1, 0) => "no",
                (3, 1) => "first",
                (3, _) => "later",
                (1, _) => "yes",
                (2, 0) => "not_later",
                _ => "later",
            };
            out.item("nw_frag").push_str(s);
        }
        for (field, name) in [
            (F::Icmpv4Type, "icmp_type"),
            (F::Icmpv4Code, "icmp_code"),
            (F::Icmpv6Type, "icmp_type"),
            (F::Icmpv6Code, "icmp_code"),
        ] {
            if let Some(m) = g(field) {
                fmt_be16(out, name, m, 8);
            }
        }
        for (field, name) in [
            (F::TcpSrc, "tp_src"),
            (F::UdpSrc, "tp_src"),
            (F::SctpSrc, "tp_src"),
            (F::TcpDst, "tp_dst"),
            (F::UdpDst, "tp_dst"),
            (F::SctpDst, "tp_dst"),
        ] {
            if let Some(m) = g(field) {
                fmt_be16(out, name, m, 16);
            }
        }
        if let Some(m) = g(F::NdTarget) {
            fmt_ip6(out, "nd_target", m);
        }
        if let Some(m) = g(F::NdSll) {
            fmt_eth(out, "nd_sll", m);
        }
        if let Some(m) = g(F::NdTll) {
            fmt_eth(out, "nd_tll", m);
        }
        if let Some(m) = g(F::TcpFlags) {
            fmt_flags(out, "tcp_flags", m, &TCP_FLAG_NAMES, 12);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_matches_unpack_to_the_same_match() {
        let mut fields: Vec<OfField> = PACKED_FIELDS.to_vec();
        fields.extend([
            OfField::Reg(0),
            OfField::Reg(15),
            OfField::Xreg(3),
            OfField::Xxreg(2),
        ]);
        for f in fields {
            let full = full(f.width());
            for (value, mask) in [
                (0, full),
                (1, full),
                (full, full),
                (0, 1),
                (full & 0x8000_0000_0000_0001, full),
                (full & !1 & 0xff00, full & 0xff00),
                (
                    full & (u128::from(u64::MAX) << 64),
                    full & (u128::from(u64::MAX) << 64),
                ),
            ] {
                if mask == 0 {
                    continue;
                }
                let mut m = Match::new();
                m.mask_field(f, value, mask);
                let packed = PackedMatch::new(&m);
                assert_eq!(packed.unpack(), m, "{f:?} {value:#x}/{mask:#x}");
                assert_eq!(packed.to_string(), m.to_string());
                // With `metadata` added while packing, as the chassis compiler does.
                let mut with = m.clone();
                with.set_exact(OfField::Metadata, 0x1234);
                let mut bytes = Vec::new();
                m.pack_with_exact_into(OfField::Metadata, 0x1234, &mut bytes);
                assert_eq!(PackedMatch::from_packed(&bytes).unpack(), with, "{f:?}");
            }
        }
        assert!(PackedMatch::new(&Match::new()).is_catchall());
    }

    #[test]
    fn wide_fields_are_stored_in_canonical_parts() {
        let hi = 0xfe80u128 << 112;
        let lo = 0x1u128;
        // Low half first, then the high half: the same match as both at once.
        let mut a = Match::new();
        a.mask_field(OfField::Ipv6Dst, lo, u128::from(u64::MAX));
        a.mask_field(OfField::Ipv6Dst, hi, !u128::from(u64::MAX));
        let mut b = Match::new();
        b.set_exact(OfField::Ipv6Dst, hi | lo);
        assert_eq!(a, b);
        assert_eq!(
            a.get(OfField::Ipv6Dst),
            Some(Masked {
                value: hi | lo,
                mask: u128::MAX
            })
        );
        // Only the high half matched: one part, and `iter` merges parts per field.
        let mut c = Match::new();
        c.mask_field(OfField::Ipv6Src, hi, 0xffffu128 << 112);
        c.set_exact(OfField::Metadata, 5);
        c.set_exact(OfField::Ipv6Dst, hi | lo);
        let fields: Vec<OfField> = c.iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [OfField::Metadata, OfField::Ipv6Src, OfField::Ipv6Dst]
        );
        assert_eq!(
            c.get(OfField::Ipv6Src).map(|m| m.mask),
            Some(0xffffu128 << 112)
        );
        c.clear(OfField::Ipv6Dst);
        c.clear(OfField::Ipv6Src);
        let mut d = Match::new();
        d.set_exact(OfField::Metadata, 5);
        assert_eq!(c, d);
        assert_eq!(c.clone(), d);
    }
}
