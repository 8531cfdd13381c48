//! Compiling many matches that repeat the same top-level conjuncts (`ip4`, `ct.new`,
//! `tcp.dst == 80`, `reg9[6] == 1`, ...), with the front passes done once per conjunct.
//!
//! [`ConjunctCache::compile`] gives the same result as [`crate::compile_match`]: it splits the
//! text at its top-level `&&` (also inside a parenthesized first operand, as the action
//! prerequisites produce: `(MATCH) && (PREREQ)`), takes each conjunct through lex, parse,
//! annotate, condition evaluation and simplify once (cached by its text), joins the cached
//! results under one AND, and normalizes and translates that as usual.
//!
//! Why the joined result is what the whole text gives: the parser builds a top-level AND of the
//! same conjunct trees (a conjunct's tokens do not depend on its neighbours), lowering flattens
//! them, expansion treats each child of the top-level AND on its own (except when every child
//! is a comparison on one symbol with prerequisites: then the prerequisites are hoisted once,
//! and this cache steps aside), and simplify rewrites leaves, with `fix` (which drops `1`,
//! returns `0` on a `0` and splices nested ANDs one level) at each AND: fixing each conjunct
//! and then their AND gives the same children in the same order as fixing the whole AND once.
//!
//! Whenever that reasoning might not hold — a conjunct that fails to compile, a comment, `||`
//! at the top level, a nesting deep enough to meet the parser's limit, or the hoisting case —
//! the whole text goes through [`crate::compile_match`] instead, so errors are reported
//! exactly as there.
//!
//! The cache is valid for one environment: the same symbol table, address sets and chassis
//! residency on every call.  Port groups may differ by `scope` (ovn-controller resolves them
//! per datapath): a conjunct that names a port group is cached per scope.
//!
//! # Match shapes
//!
//! Most matches of a chassis differ from another only in constants compared with `==`
//! (`ct.new && ip4.dst == 10.96.0.95 && tcp.dst == 80` for every service).  A text's *shape*
//! is its bytes without the constant of each top-level conjunct of the form
//! `something == constant` (one integer constant), with the constant's kind (format, masked
//! or not) and position.  The second text of a shape (per scope if the shape's compile
//! resolved a port or a port group) is compiled as above and kept as the shape's template;
//! later texts of the shape get a copy of its matches with their own constants written into
//! each match: `(constant & bits) << shift` under `bits << shift` on the constant's field,
//! where `bits` are the written range and mask of the field and `shift` its offset.
//!
//! Why that is what compiling the text gives: the texts have the same bytes outside the
//! constants, each constant is one token preceded by `==` (and white space) and followed by
//! the end of its conjunct, so their token streams and trees differ only in those constants.
//! A placeholder is filled only if, on the template's text, its conjunct parsed to
//! `field == constant` on a field or subfield (not a predicate, whose expansion depends on
//! the value), the joined conjuncts hold exactly one comparison with its lowered value and
//! mask, no other comparison touches any of its bits (a port name touches its whole
//! register), and every match of the template carries those bits.  Lowering then gives the
//! same comparison with the new value; simplify keeps an `==` with a non-zero mask as it is;
//! normalization groups and orders comparisons by symbol, never by value, and crushing
//! intersects bits, so a comparison whose bits no other one touches never meets a conflict
//! and stays in every clause with its bits, which are the same in every clause, so sorting and
//! deduplicating clauses is unchanged; `to_matches` writes each comparison's bits, so the new
//! value lands on the same bits of every match and nowhere else.  A text whose constant has
//! another written mask, or would fail lowering's width check, or fills a placeholder that
//! does not qualify with a constant other than the template's, is compiled in full, as are
//! shapes whose template text failed or left the split path.

use std::cell::Cell;

use crate::annotate::{self, SetResolver};
use crate::condition::ChassisResident;
use crate::expr::{Cmp, CmpValue, Expr};
use crate::fxhash::FxHashMap;
use crate::lex::{lone_constant, IntConst, IntFormat, Token};
use crate::matches::{self, Match, Matches, PortLookup};
use crate::parse::{Ast, Const, RelOp};
use crate::symtab::{OfField, SymbolId, SymbolKind, Symtab};
use crate::{normalize, parse, simplify, ExprError};

/// At most this many `(` and `!` (outside quotes) in a text split into conjuncts: far below
/// the parser's nesting limit, so that parsing a conjunct on its own (one level shallower
/// than inside the parenthesized first operand) cannot change whether the limit is met.
const MAX_SPLIT_NESTING: usize = 16;

/// A conjunct after annotate, condition evaluation and simplify.
#[derive(Debug, Clone)]
struct Piece {
    /// The simplified expression.
    expr: Expr,
    /// The symbol, when the lowered conjunct is a single comparison on a symbol with
    /// prerequisites (the case where expanding the whole AND hoists prerequisites).
    hoist: Option<SymbolId>,
}

/// A cached conjunct: `None` when it must go through the whole-text path.
#[derive(Debug)]
enum Slot {
    /// Names no port group: the same for every scope.
    Shared(Option<Piece>),
    /// Names a port group: per scope.
    Scoped(FxHashMap<u32, Option<Piece>>),
}

/// Conjuncts compiled so far, by text; see the module documentation.
#[derive(Debug, Default)]
pub struct ConjunctCache {
    slots: FxHashMap<Box<str>, Slot>,
    /// Groups crushed by normalization so far.
    crush: normalize::CrushCache,
    /// Conjunct ranges of the text being compiled (reused).
    ranges: Vec<(usize, usize)>,
    /// Compiled matches by shape ([`shape_key`]).
    shapes: FxHashMap<Box<[u8]>, ShapeSlot>,
    /// The shape key of the text being compiled (reused).
    key: Vec<u8>,
    /// Its placeholders: (conjunct index, constant), in order (reused).
    holes: Vec<(usize, IntConst)>,
}

/// Most shapes kept: beyond that they start over (a bound on memory for inputs whose matches
/// share no shape).
const MAX_SHAPES: usize = 8192;

/// The compiled first text of a shape; see the module documentation.
#[derive(Debug)]
struct MatchTemplate {
    /// Its matches (conjunction ids from 1).
    matches: Matches,
    /// Its placeholders, in order.
    holes: Box<[Hole]>,
    /// True if the compile resolved a port or a port group (the template is then kept per
    /// scope, and a text filled from it depends on the scope).
    scoped: bool,
}

/// One placeholder of a [`MatchTemplate`].
#[derive(Debug)]
struct Hole {
    /// The first text's constant.
    first: IntConst,
    /// How another constant is put into the matches; `None` if it cannot be (a text with
    /// another constant there is compiled in full).
    subst: Option<Subst>,
}

/// Where a placeholder's constant lands in every match of its template: the comparison
/// `symbol == constant` lowers to `(constant & bits) << shift` under `bits << shift` on
/// `field`, and no other comparison of the text touches those bits.
#[derive(Debug, Clone, Copy)]
struct Subst {
    field: OfField,
    /// The constant's bits within the written symbol (its range, and the written mask).
    bits: u128,
    /// The range's offset plus the subfield offsets up to the field.
    shift: u32,
    /// The written symbol's width (lowering's width check).
    width: u32,
}

/// What is known of a shape.
#[derive(Debug)]
enum Shape {
    /// One text compiled (in full).
    Seen,
    /// Compiled in full every time.
    Full,
    /// Texts are filled into this template.
    Ready(MatchTemplate),
}

/// A shape for every scope, or per scope.
#[derive(Debug)]
enum ShapeSlot {
    /// Compiled without resolving a port or port group: one for every scope.
    Shared(Shape),
    /// Per scope.
    Scoped(FxHashMap<u32, Shape>),
}

impl MatchTemplate {
    /// The matches of a text of this shape whose placeholders hold `holes`; `None` if it
    /// must be compiled in full.
    fn fill(&self, holes: &[(usize, IntConst)]) -> Option<(Result<Matches, ExprError>, bool)> {
        if holes.len() != self.holes.len() {
            return None;
        }
        let mut changed = false;
        for (h, (_, c)) in self.holes.iter().zip(holes) {
            if *c == h.first {
                continue;
            }
            let s = h.subst?;
            // The same written mask (so the same bits); lowering's width check passes.
            if c.mask != h.first.mask || const_width(c) > s.width {
                return None;
            }
            changed = true;
        }
        let mut m = self.matches.clone();
        if changed {
            for (h, (_, c)) in self.holes.iter().zip(holes) {
                let Some(s) = h.subst.filter(|_| *c != h.first) else {
                    continue;
                };
                let value = (c.value & s.bits) << s.shift;
                let mask = s.bits << s.shift;
                for em in &mut m.matches {
                    em.flow.mask_field(s.field, value, mask);
                }
            }
        }
        Some((Ok(m), self.scoped))
    }
}

/// The width lowering checks a constant's against (see `annotate`).
fn const_width(c: &IntConst) -> u32 {
    let sig = |v: u128| 128 - v.leading_zeros();
    match (c.mask, c.format) {
        (Some(m), _) => sig(m),
        (None, IntFormat::Decimal | IntFormat::Hex) => sig(c.value),
        (None, IntFormat::Ipv4) => 32,
        (None, IntFormat::Ipv6) => 128,
        (None, IntFormat::Ethernet) => 48,
    }
}

/// Writes the shape key of `input` (split into conjuncts at `ranges`) into `key` and its
/// placeholders into `holes`: the text without the constant of each conjunct of the form
/// `field == constant` (one integer constant), then for each placeholder its position in
/// that text and the constant's kind (format, masked or not), then their number.  False if
/// the text has no placeholder (or too many).
fn shape_key(
    input: &str,
    ranges: &[(usize, usize)],
    key: &mut Vec<u8>,
    holes: &mut Vec<(usize, IntConst)>,
) -> bool {
    key.clear();
    holes.clear();
    let b = input.as_bytes();
    let mut marks: [u8; 3 * 16] = [0; 3 * 16];
    let mut copied = 0;
    for (k, &(s, e)) in ranges.iter().enumerate() {
        let Some((cs, c)) = placeholder(input, s, e) else {
            continue;
        };
        let n = holes.len();
        if n == 16 || cs < copied {
            return false;
        }
        let Some(lit) = b.get(copied..cs) else {
            return false;
        };
        key.extend_from_slice(lit);
        let Ok(pos) = u16::try_from(key.len()) else {
            return false;
        };
        let format = match c.format {
            IntFormat::Decimal => 0,
            IntFormat::Hex => 1,
            IntFormat::Ipv4 => 2,
            IntFormat::Ipv6 => 3,
            IntFormat::Ethernet => 4,
        };
        marks[3 * n..3 * n + 3].copy_from_slice(&[
            pos as u8,
            (pos >> 8) as u8,
            format << 1 | u8::from(c.mask.is_some()),
        ]);
        holes.push((k, c));
        copied = e;
    }
    if holes.is_empty() {
        return false;
    }
    key.extend_from_slice(b.get(copied..).unwrap_or_default());
    key.extend_from_slice(&marks[..3 * holes.len()]);
    key.push(holes.len() as u8);
    true
}

/// The start and value of the constant of conjunct `input[s..e]` if it is
/// `something == constant` with one integer constant after the `==`.
fn placeholder(input: &str, s: usize, e: usize) -> Option<(usize, IntConst)> {
    let conj = input.get(s..e)?;
    let b = conj.as_bytes();
    let p = b.windows(2).position(|w| w == b"==")?;
    if p == 0 || matches!(b[p - 1], b'=' | b'!' | b'<' | b'>') {
        return None;
    }
    let rhs = conj.get(p + 2..)?;
    let t = rhs.trim_start_matches([' ', '\t', '\n', '\r']);
    match lone_constant(t)? {
        Token::Int(c) => Some((s + p + 2 + (rhs.len() - t.len()), c)),
        _ => None,
    }
}

/// Appends the comparisons of `e` to `out`; clears `plain` on a node that is not an AND, an
/// OR, a constant or a comparison.
fn collect_cmps<'a>(e: &'a Expr, out: &mut Vec<&'a Cmp>, plain: &mut bool) {
    match e {
        Expr::Cmp(c) => out.push(c),
        Expr::And(v) | Expr::Or(v) => {
            for x in v {
                collect_cmps(x, out, plain);
            }
        }
        Expr::Bool(_) => {}
        Expr::Condition(_) => *plain = false,
    }
}

/// How another constant goes into the matches for the placeholder of conjunct `text`
/// (`field == c`), or `None` if that might not give what compiling the text would: see the
/// module documentation.  `cmps` are every comparison of the joined conjuncts, `matches`
/// the first text's result.
fn substitution(
    text: &str,
    c: IntConst,
    symtab: &Symtab,
    cmps: &[&Cmp],
    matches: &Matches,
) -> Option<Subst> {
    let Ok(Ast::Cmp {
        field,
        op: RelOp::Eq,
        set,
        ..
    }) = parse::parse(text, symtab)
    else {
        return None;
    };
    match set.values.as_slice() {
        [Const::Int(v, _)] if !set.curlies && *v == c => {}
        _ => return None,
    }
    let sym = symtab.get(field.symbol);
    if !matches!(sym.kind, SymbolKind::Field(_) | SymbolKind::Subfield { .. }) {
        return None;
    }
    let (ofs, n_bits) = field.range(symtab);
    let (parent, offset) = symtab.resolve(field.symbol);
    let SymbolKind::Field(of) = symtab.get(parent).kind else {
        return None;
    };
    let shift = ofs.checked_add(offset).filter(|s| *s < 128)?;
    let ones = if n_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << n_bits) - 1
    };
    let bits = c.mask.unwrap_or(u128::MAX) & ones;
    let mask = bits << shift;
    if mask == 0 || mask >> shift != bits {
        return None;
    }
    let value = (c.value & bits) << shift;
    let own = Cmp {
        symbol: parent,
        op: RelOp::Eq,
        value: CmpValue::Int { value, mask },
    };
    // Exactly one comparison is this one; no other touches its bits.
    let mut mine = Match::new();
    mine.mask_field(of, mask, mask);
    let mut others = Match::new();
    let mut seen = 0;
    for &x in cmps {
        if *x == own {
            seen += 1;
            continue;
        }
        match (&symtab.get(x.symbol).kind, &x.value) {
            (SymbolKind::Field(f), CmpValue::Int { mask, .. }) => {
                others.mask_field(*f, *mask, *mask);
            }
            (SymbolKind::String(f), _) => others.mask_field(*f, u128::MAX, u128::MAX),
            _ => return None,
        }
    }
    if seen != 1 || mine.overlaps(&others) {
        return None;
    }
    // And every match has its bits.
    for em in &matches.matches {
        let mut f = em.flow.clone();
        f.mask_field(of, value, mask);
        if f != em.flow {
            return None;
        }
    }
    Some(Subst {
        field: of,
        bits,
        shift,
        width: sym.width,
    })
}

/// Notes whether a port was looked up.
struct PortWatch<'a> {
    inner: &'a dyn PortLookup,
    used: Cell<bool>,
}

impl PortLookup for PortWatch<'_> {
    fn port_key(&self, field: &str, name: &str) -> Option<u32> {
        self.used.set(true);
        self.inner.port_key(field, name)
    }
}

/// Notes whether a port group was resolved.
struct Watch<'a> {
    inner: &'a dyn SetResolver,
    groups: Cell<bool>,
}

impl SetResolver for Watch<'_> {
    fn address_set(&self, name: &str) -> Option<&[IntConst]> {
        self.inner.address_set(name)
    }

    fn port_group(&self, name: &str) -> Option<&[String]> {
        self.groups.set(true);
        self.inner.port_group(name)
    }
}

/// Bytes [`split`] looks at; every other byte is skipped.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'/' as usize] = true;
    t[b'(' as usize] = true;
    t[b')' as usize] = true;
    t[b'|' as usize] = true;
    t[b'&' as usize] = true;
    t[b'!' as usize] = true;
    t
};

/// Splits `text` (from byte `base` of the whole input) at its top-level `&&` into `out`,
/// descending into a conjunct that is one parenthesized expression.  False if the text must
/// not be split (see the module documentation).
fn split(text: &str, base: usize, out: &mut Vec<(usize, usize)>) -> bool {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut start = 0;
    // Where the parentheses of the current conjunct first closed to the top level.
    let mut first_close = None;
    let mut nesting = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !SPECIAL[usize::from(c)] {
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i >= b.len() {
                    return false;
                }
            }
            b'/' if matches!(b.get(i + 1), Some(b'/' | b'*')) => return false,
            b'(' | b'!' => {
                // Far from the parser's nesting limit (see MAX_SPLIT_NESTING); the scans of
                // parenthesized conjuncts see a part of what the whole text's scan saw.
                nesting += 1;
                if nesting > MAX_SPLIT_NESTING {
                    return false;
                }
                if c == b'(' {
                    depth += 1;
                }
            }
            b')' => match depth.checked_sub(1) {
                Some(d) => {
                    depth = d;
                    if d == 0 && first_close.is_none() {
                        first_close = Some(i);
                    }
                }
                None => return false,
            },
            b'|' if depth == 0 && b.get(i + 1) == Some(&b'|') => return false,
            b'&' if depth == 0 && b.get(i + 1) == Some(&b'&') => {
                if !piece(text, base, start, i, first_close, out) {
                    return false;
                }
                i += 2;
                start = i;
                first_close = None;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0 && piece(text, base, start, b.len(), first_close, out)
}

/// Adds the conjunct `text[start..end]` (whose parentheses first closed to the top level at
/// `first_close`), split further if it is one parenthesized expression.
fn piece(
    text: &str,
    base: usize,
    mut start: usize,
    mut end: usize,
    first_close: Option<usize>,
    out: &mut Vec<(usize, usize)>,
) -> bool {
    let b = text.as_bytes();
    while start < end && b[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if start == end {
        return false;
    }
    if b[start] == b'(' && first_close == Some(end - 1) {
        if let Some(inner) = text.get(start + 1..end - 1) {
            let n = out.len();
            if split(inner, base + start + 1, out) {
                return true;
            }
            // `(a || b)`: one conjunct, parentheses included.
            out.truncate(n);
        }
    }
    out.push((base + start, base + end));
    true
}

/// Lex, parse, annotate, evaluate and simplify one conjunct; `None` if it fails or is a
/// conjunction whose expansion hoists prerequisites.
fn compile_piece(
    text: &str,
    symtab: &Symtab,
    sets: &dyn SetResolver,
    resident: &dyn ChassisResident,
) -> Option<Piece> {
    let ast = parse::parse(text, symtab).ok()?;
    let lowered = annotate::lower(&ast, symtab, sets).ok()?;
    let hoist = hoist_symbol(&lowered, symtab);
    if let Expr::And(v) = &lowered {
        // Expanding this AND on its own hoists when all its children are comparisons on one
        // symbol with prerequisites; inside the whole AND it would not (or differently).
        let first = v.first().and_then(|e| hoist_symbol(e, symtab));
        if first.is_some() && v.iter().all(|e| hoist_symbol(e, symtab) == first) {
            return None;
        }
    }
    let expanded = annotate::expand(lowered, symtab).ok()?;
    Some(Piece {
        expr: simplify::evaluate_and_simplify(expanded, resident, symtab),
        hoist,
    })
}

/// The symbol of a lowered comparison whose symbol has prerequisites.
fn hoist_symbol(e: &Expr, symtab: &Symtab) -> Option<SymbolId> {
    match e {
        Expr::Cmp(c) if symtab.get(c.symbol).prereqs.is_some() => Some(c.symbol),
        _ => None,
    }
}

impl ConjunctCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles `input` as [`crate::compile_match`] does, reusing cached conjuncts and match
    /// shapes; see the module documentation for the environment the cache assumes.  The second
    /// value is true if the result depends on `scope`: a port group was resolved for a reused
    /// conjunct, or the result came from a shape compiled for this scope (the caller's
    /// resolvers then saw no lookup for it).
    pub fn compile(
        &mut self,
        input: &str,
        symtab: &Symtab,
        sets: &dyn SetResolver,
        resident: &dyn ChassisResident,
        ports: &dyn PortLookup,
        scope: u32,
    ) -> (Result<Matches, ExprError>, bool) {
        let mut ranges = std::mem::take(&mut self.ranges);
        ranges.clear();
        if !split(input, 0, &mut ranges) {
            self.ranges = ranges;
            return (
                crate::compile_match(input, symtab, sets, resident, ports),
                false,
            );
        }
        let mut key = std::mem::take(&mut self.key);
        let mut holes = std::mem::take(&mut self.holes);
        let shaped = shape_key(input, &ranges, &mut key, &mut holes);
        // What is known of this shape for this scope.
        let state = if shaped {
            match self.shapes.get(key.as_slice()) {
                Some(ShapeSlot::Shared(t)) => Some(t),
                Some(ShapeSlot::Scoped(m)) => m.get(&scope),
                None => None,
            }
        } else {
            None
        };
        let (seen, hit) = match state {
            Some(Shape::Ready(t)) => (true, t.fill(&holes)),
            Some(Shape::Seen) => (true, None),
            Some(Shape::Full) => (false, None),
            None => (false, None),
        };
        let grow = shaped && state.is_none();
        let result = match hit {
            Some(r) => r,
            None => {
                let watch = PortWatch {
                    inner: ports,
                    used: Cell::new(false),
                };
                let (result, scoped, split_path) =
                    self.compile_split(input, &ranges, symtab, sets, resident, &watch, scope);
                let scoped_all = scoped || watch.used.get();
                if grow {
                    // The first text of this shape (for this scope): noted, so that only a
                    // shape met twice is given a template.
                    self.add_shape(&key, Shape::Seen, scoped_all, scope);
                } else if seen {
                    let next = match (&result, split_path) {
                        (Ok(m), true) => Shape::Ready(
                            self.template(input, &ranges, &holes, symtab, m, scoped_all, scope),
                        ),
                        _ => Shape::Full,
                    };
                    self.set_shape(&key, next, scope);
                }
                (result, scoped)
            }
        };
        self.key = key;
        self.holes = holes;
        self.ranges = ranges;
        result
    }

    /// Records a shape (key `key`) not known for `scope`, compiled with (`scoped`) or without
    /// resolving a port or port group.
    fn add_shape(&mut self, key: &[u8], shape: Shape, scoped: bool, scope: u32) {
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
        }
        match self.shapes.get_mut(key) {
            Some(ShapeSlot::Scoped(m)) => {
                m.insert(scope, shape);
            }
            Some(ShapeSlot::Shared(_)) => {}
            None if scoped => {
                let mut m = FxHashMap::default();
                m.insert(scope, shape);
                self.shapes.insert(key.into(), ShapeSlot::Scoped(m));
            }
            None => {
                self.shapes.insert(key.into(), ShapeSlot::Shared(shape));
            }
        }
    }

    /// Replaces what is known of a shape for `scope`: a template kept per scope or for every
    /// scope as its slot is (otherwise the shape is compiled in full).
    fn set_shape(&mut self, key: &[u8], shape: Shape, scope: u32) {
        let slot = match self.shapes.get_mut(key) {
            Some(ShapeSlot::Shared(t)) => Some((t, false)),
            Some(ShapeSlot::Scoped(m)) => m.get_mut(&scope).map(|t| (t, true)),
            None => None,
        };
        if let Some((t, scoped)) = slot {
            *t = match shape {
                Shape::Ready(r) if r.scoped != scoped => Shape::Full,
                s => s,
            };
        }
    }

    /// The template of a shape from its first text's compiled `matches` (see
    /// [`MatchTemplate`]); the conjuncts of `ranges` are in the cache.
    #[allow(clippy::too_many_arguments)]
    fn template(
        &self,
        input: &str,
        ranges: &[(usize, usize)],
        holes: &[(usize, IntConst)],
        symtab: &Symtab,
        matches: &Matches,
        scoped: bool,
        scope: u32,
    ) -> MatchTemplate {
        // Every comparison of the joined conjuncts (what normalization and `to_matches` see).
        let mut cmps: Vec<&Cmp> = Vec::new();
        let mut plain = true;
        for &(s, e) in ranges {
            match input.get(s..e).and_then(|t| self.lookup(t, scope)) {
                Some((Some(p), _)) => collect_cmps(&p.expr, &mut cmps, &mut plain),
                _ => plain = false,
            }
        }
        let holes = holes
            .iter()
            .map(|&(k, c)| Hole {
                first: c,
                subst: if plain {
                    ranges
                        .get(k)
                        .and_then(|&(s, e)| input.get(s..e))
                        .and_then(|t| substitution(t, c, symtab, &cmps, matches))
                } else {
                    None
                },
            })
            .collect();
        MatchTemplate {
            matches: matches.clone(),
            holes,
            scoped,
        }
    }

    /// The split path of [`Self::compile`] for the conjuncts `ranges` of `input`; the third
    /// value is false if the whole text was compiled instead.
    #[allow(clippy::too_many_arguments)]
    fn compile_split(
        &mut self,
        input: &str,
        ranges: &[(usize, usize)],
        symtab: &Symtab,
        sets: &dyn SetResolver,
        resident: &dyn ChassisResident,
        ports: &dyn PortLookup,
        scope: u32,
    ) -> (Result<Matches, ExprError>, bool, bool) {
        let whole = || crate::compile_match(input, symtab, sets, resident, ports);
        let mut children = Vec::with_capacity(ranges.len() * 2 + 4);
        let mut scoped_hit = false;
        let mut hoist: Option<Option<SymbolId>> = None;
        let mut ok = true;
        let mut is_false = false;
        for &(s, e) in ranges {
            let Some(text) = input.get(s..e) else {
                ok = false;
                break;
            };
            let found = match self.lookup(text, scope) {
                Some(found) => Some(found),
                None => {
                    self.insert(text, symtab, sets, resident, scope);
                    self.lookup(text, scope)
                }
            };
            let Some((Some(piece), scoped)) = found else {
                ok = false;
                break;
            };
            scoped_hit |= scoped;
            hoist = Some(match hoist {
                None => piece.hoist,
                Some(h) if h == piece.hoist => h,
                Some(_) => None,
            });
            // The conjuncts joined as `Expr::fix` joins the children of an AND: `0` makes it
            // `0`, `1` is dropped, an AND is spliced in (its children are not ANDs or
            // constants: the conjunct was fixed too).
            match &piece.expr {
                Expr::Bool(false) => is_false = true,
                Expr::Bool(true) => {}
                Expr::And(w) => children.extend(w.iter().cloned()),
                other => children.push(other.clone()),
            }
        }
        // Every conjunct a comparison on one symbol with prerequisites: expanding the whole
        // AND hoists them, which the conjuncts on their own did not.
        let hoisted = ranges.len() >= 2 && hoist.flatten().is_some();
        if !ok || hoisted {
            return (whole(), false, false);
        }
        let e = if is_false {
            Expr::Bool(false)
        } else {
            match children.len() {
                0 => Expr::Bool(true),
                1 => children.pop().unwrap_or(Expr::Bool(true)),
                _ => Expr::And(children),
            }
        };
        let result = normalize::normalize_with(e, symtab, Some(&mut self.crush))
            .and_then(|e| matches::to_matches(&e, symtab, ports));
        (result, scoped_hit, true)
    }

    /// Compiles the conjunct `text` and caches it (per scope if it named a port group).
    fn insert(
        &mut self,
        text: &str,
        symtab: &Symtab,
        sets: &dyn SetResolver,
        resident: &dyn ChassisResident,
        scope: u32,
    ) {
        let watch = Watch {
            inner: sets,
            groups: Cell::new(false),
        };
        let p = compile_piece(text, symtab, &watch, resident);
        if !watch.groups.get() {
            self.slots.insert(text.into(), Slot::Shared(p));
            return;
        }
        match self.slots.get_mut(text) {
            // Seen before for another scope.
            Some(Slot::Scoped(m)) => {
                m.insert(scope, p);
            }
            _ => {
                let mut m = FxHashMap::default();
                m.insert(scope, p);
                self.slots.insert(text.into(), Slot::Scoped(m));
            }
        }
    }

    /// The cached conjunct `text` for `scope`, and whether it is scoped; `None` if unknown.
    fn lookup(&self, text: &str, scope: u32) -> Option<(Option<&Piece>, bool)> {
        match self.slots.get(text)? {
            Slot::Shared(p) => Some((p.as_ref(), false)),
            Slot::Scoped(m) => m.get(&scope).map(|p| (p.as_ref(), true)),
        }
    }
}
