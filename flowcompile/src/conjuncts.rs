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

use std::cell::Cell;

use crate::annotate::{self, SetResolver};
use crate::condition::ChassisResident;
use crate::expr::Expr;
use crate::fxhash::FxHashMap;
use crate::lex::IntConst;
use crate::matches::{self, Matches, PortLookup};
use crate::symtab::{SymbolId, Symtab};
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

    /// Compiles `input` as [`crate::compile_match`] does, reusing cached conjuncts; see the
    /// module documentation for the environment the cache assumes.  The second value is true
    /// if a port group was resolved for a reused conjunct (the caller's resolver then saw no
    /// lookup for it).
    pub fn compile(
        &mut self,
        input: &str,
        symtab: &Symtab,
        sets: &dyn SetResolver,
        resident: &dyn ChassisResident,
        ports: &dyn PortLookup,
        scope: u32,
    ) -> (Result<Matches, ExprError>, bool) {
        let whole = || crate::compile_match(input, symtab, sets, resident, ports);
        let mut ranges = std::mem::take(&mut self.ranges);
        ranges.clear();
        if !split(input, 0, &mut ranges) {
            self.ranges = ranges;
            return (whole(), false);
        }
        let mut children = Vec::with_capacity(ranges.len() * 2 + 4);
        let mut scoped_hit = false;
        let mut hoist: Option<Option<SymbolId>> = None;
        let mut ok = true;
        let mut is_false = false;
        for &(s, e) in &ranges {
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
        self.ranges = ranges;
        if !ok || hoisted {
            return (whole(), false);
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
        (result, scoped_hit)
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
