//! Pass 4, normalize (OVN's `expr_normalize`): disjunctive normal form suited to OpenFlow.
//!
//! Input: a simplified expression (only `==` on numeric fields, no conditions).
//! Output: `true`, `false`, a comparison, or an OR of "clauses" where each clause is a
//! comparison or an AND whose children are each a comparison or an OR of comparisons over one
//! field.  Such per-field ORs inside an AND are what [`crate::matches`] turns into conjunctive
//! matches; an OR over several fields, or over a `must_crossproduct` field (`eth.type`,
//! `ip.proto`, `icmp6.type`, `icmp6.code`), is distributed over the AND instead.
//!
//! On the way, comparisons on the same field under one AND are combined ("crushed"):
//! `reg0[0] == 1 && reg0[1] == 1` becomes `reg0[0..1] == 3`, contradictions become `false`,
//! and ORs over one field are sorted and deduplicated.
//!
//! Normalization can grow exponentially; it stops with an [`ErrorKind::Limit`] error after
//! creating [`MAX_TERMS`] nodes.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::error::{ErrorKind, ExprError};
use crate::expr::{Cmp, CmpValue, Expr};
use crate::fxhash::FxHashMap;
use crate::parse::RelOp;
use crate::symtab::{SymbolId, Symtab};

/// How many expression nodes normalization may create before it gives up.
pub const MAX_TERMS: usize = 200_000;

/// Normalizes `expr` (see the module docs).
pub fn normalize(expr: Expr, symtab: &Symtab) -> Result<Expr, ExprError> {
    normalize_with(expr, symtab, None)
}

/// The crushed form of groups of comparisons on one symbol under an AND, kept across
/// [`normalize_with`] calls: matches that share prerequisites (`ip4 && tcp && ...`) crush the
/// same groups (`eth.type == 0x800 && (eth.type == 0x800 || eth.type == 0x86dd) && ...`) again
/// and again.
#[derive(Debug, Default)]
pub struct CrushCache {
    /// Group → (crushed group, nodes its crushing charged against [`MAX_TERMS`]).
    groups: FxHashMap<Expr, (Expr, usize)>,
}

impl CrushCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

/// [`normalize`], reusing and filling `cache` (for one symbol table) if given; the result,
/// and any error, are the same.
pub fn normalize_with(
    expr: Expr,
    symtab: &Symtab,
    cache: Option<&mut CrushCache>,
) -> Result<Expr, ExprError> {
    let mut n = Normalizer {
        symtab,
        created: 0,
        cache,
    };
    match expr {
        Expr::And(v) => n.normalize_and(v),
        Expr::Or(v) => n.normalize_or(v),
        e => Ok(e),
    }
}

struct Normalizer<'a, 'c> {
    symtab: &'a Symtab,
    created: usize,
    cache: Option<&'c mut CrushCache>,
}

/// Checks that `expr` has the form [`normalize`] promises (OVN's `expr_is_normalized`): a
/// constant, a comparison, an AND whose children are comparisons or ORs of comparisons over one
/// symbol (never a `must_crossproduct` one), or an OR of comparisons and such ANDs.
pub fn is_normalized(expr: &Expr, symtab: &Symtab) -> bool {
    let clause = |e: &Expr| match e {
        Expr::Cmp(_) => true,
        Expr::Or(v) => {
            v.iter().all(|s| matches!(s, Expr::Cmp(_)))
                && e.unique_symbol()
                    .is_some_and(|s| !symtab.get(s).must_crossproduct)
        }
        _ => false,
    };
    let and = |e: &Expr| matches!(e, Expr::And(v) if v.len() >= 2 && v.iter().all(clause));
    match expr {
        Expr::Bool(_) | Expr::Cmp(_) => true,
        Expr::And(_) => and(expr),
        Expr::Or(v) => {
            v.len() >= 2
                && (expr.unique_symbol().is_some() && v.iter().all(|s| matches!(s, Expr::Cmp(_)))
                    || v.iter().all(|s| matches!(s, Expr::Cmp(_)) || and(s)))
        }
        Expr::Condition(_) => false,
    }
}

/// Intersects two masked values; `None` if they conflict.
pub fn intersect(a: (u128, u128), b: (u128, u128)) -> Option<(u128, u128)> {
    if a.1 & b.1 & (a.0 ^ b.0) != 0 {
        None
    } else {
        Some((a.0 | b.0, a.1 | b.1))
    }
}

fn int_of(e: &Expr) -> Option<(u128, u128)> {
    match e {
        Expr::Cmp(Cmp {
            value: CmpValue::Int { value, mask },
            ..
        }) => Some((*value, *mask)),
        _ => None,
    }
}

fn cmp_order(a: &Expr, b: &Expr) -> Ordering {
    match (a, b) {
        (Expr::Cmp(x), Expr::Cmp(y)) => x.value.cmp(&y.value),
        _ => Ordering::Equal,
    }
}

fn eq_cmp(symbol: SymbolId, value: CmpValue) -> Expr {
    Expr::Cmp(Cmp {
        symbol,
        op: RelOp::Eq,
        value,
    })
}

impl Normalizer<'_, '_> {
    fn charge(&mut self, n: usize) -> Result<(), ExprError> {
        self.created = self.created.saturating_add(n);
        if self.created > MAX_TERMS {
            return Err(ExprError::new(
                ErrorKind::Limit,
                format!(
                    "Expression is too complex: normalizing it needs more than {MAX_TERMS} terms."
                ),
                None,
            ));
        }
        Ok(())
    }

    /// [`Self::crush`] for a group of [`Self::sort`], through the cache: an AND (the groups
    /// worth caching) crushed before is cloned, and charged as much as crushing it charged.
    fn crush_group(&mut self, e: Expr, sym: SymbolId) -> Result<Expr, ExprError> {
        // Only an AND with an OR among its comparisons is worth a lookup: intersecting plain
        // comparisons costs less than hashing them.
        if !matches!(&e, Expr::And(v) if v.iter().any(|c| matches!(c, Expr::Or(_)))) {
            return self.crush(e, sym);
        }
        let Some(cache) = self.cache.as_deref() else {
            return self.crush(e, sym);
        };
        if let Some((crushed, charged)) = cache.groups.get(&e).map(|(c, n)| (c.clone(), *n)) {
            self.charge(charged)?;
            return Ok(crushed);
        }
        let before = self.created;
        let key = e.clone();
        let crushed = self.crush(e, sym)?;
        let charged = self.created - before;
        if let Some(cache) = self.cache.as_deref_mut() {
            cache.groups.insert(key, (crushed.clone(), charged));
        }
        Ok(crushed)
    }

    fn crush(&mut self, e: Expr, sym: SymbolId) -> Result<Expr, ExprError> {
        match e {
            Expr::Or(v) => self.crush_or(v, sym),
            Expr::And(v) => {
                if self.symtab.get(sym).width > 0 {
                    self.crush_and_numeric(v, sym)
                } else {
                    self.crush_and_string(v, sym)
                }
            }
            e => Ok(e),
        }
    }

    fn crush_or(&mut self, v: Vec<Expr>, sym: SymbolId) -> Result<Expr, ExprError> {
        // Crushing a comparison leaves it as it is: an OR of comparisons (the usual case)
        // keeps its vector.
        let out = if v.iter().all(|e| matches!(e, Expr::Cmp(_))) {
            v
        } else {
            let mut out = Vec::with_capacity(v.len());
            for sub in v {
                match self.crush(sub, sym)? {
                    Expr::Or(w) => out.extend(w),
                    e => out.push(e),
                }
            }
            out
        };
        let e = Expr::Or(out).fix();
        let Expr::Or(mut subs) = e else { return Ok(e) };
        subs.sort_by(cmp_order);
        subs.dedup_by(|a, b| cmp_order(a, b) == Ordering::Equal);
        Ok(Expr::Or(subs).fix())
    }

    fn crush_and_string(&mut self, v: Vec<Expr>, sym: SymbolId) -> Result<Expr, ExprError> {
        let mut singleton: Option<String> = None;
        let mut ors: Vec<BTreeSet<String>> = Vec::new();
        for sub in v {
            match self.crush(sub, sym)? {
                Expr::Cmp(Cmp {
                    value: CmpValue::Str(s),
                    ..
                }) => match &singleton {
                    None => singleton = Some(s),
                    Some(t) if *t != s => return Ok(Expr::Bool(false)),
                    Some(_) => {}
                },
                Expr::Or(w) => ors.push(
                    w.into_iter()
                        .filter_map(|e| match e {
                            Expr::Cmp(Cmp {
                                value: CmpValue::Str(s),
                                ..
                            }) => Some(s),
                            _ => None,
                        })
                        .collect(),
                ),
                Expr::Bool(false) => return Ok(Expr::Bool(false)),
                _ => {}
            }
        }
        if let Some(s) = singleton {
            if ors.iter().any(|o| !o.contains(&s)) {
                return Ok(Expr::Bool(false));
            }
            return Ok(eq_cmp(sym, CmpValue::Str(s)));
        }
        let mut iter = ors.into_iter();
        let Some(mut result) = iter.next() else {
            return Ok(Expr::Bool(true));
        };
        for o in iter {
            result.retain(|s| o.contains(s));
            if result.is_empty() {
                return Ok(Expr::Bool(false));
            }
        }
        self.charge(result.len())?;
        Ok(Expr::Or(
            result
                .into_iter()
                .map(|s| eq_cmp(sym, CmpValue::Str(s)))
                .collect(),
        )
        .fix())
    }

    fn crush_and_numeric(&mut self, v: Vec<Expr>, sym: SymbolId) -> Result<Expr, ExprError> {
        let mut acc = (0u128, 0u128);
        let mut ors: Vec<Vec<Expr>> = Vec::new();
        for sub in v {
            match self.crush(sub, sym)? {
                e @ Expr::Cmp(_) => match int_of(&e).and_then(|x| intersect(acc, x)) {
                    Some(n) => acc = n,
                    None => return Ok(Expr::Bool(false)),
                },
                Expr::Or(w) => ors.push(w),
                Expr::Bool(false) => return Ok(Expr::Bool(false)),
                _ => {}
            }
        }
        let int_cmp = |(value, mask): (u128, u128)| eq_cmp(sym, CmpValue::Int { value, mask });
        // The one OR left, restricted to `acc`.
        let restrict = |acc: (u128, u128), disjuncts: Vec<Expr>| {
            // In place: each kept disjunct becomes its intersection with `acc`.
            let mut kept = disjuncts;
            kept.retain_mut(|d| match int_of(d).and_then(|x| intersect(acc, x)) {
                Some(n) => {
                    *d = int_cmp(n);
                    true
                }
                None => false,
            });
            match kept.len() {
                0 => Expr::Bool(false),
                _ => Expr::Or(kept).fix(),
            }
        };
        match ors.len() {
            0 => Ok(if acc.1 == 0 {
                Expr::Bool(true)
            } else {
                int_cmp(acc)
            }),
            1 => Ok(restrict(acc, ors.pop().unwrap_or_default())),
            _ => {
                // The first two ORs are multiplied out (restricted to `acc`) and the product,
                // crushed, takes their place, until one OR is left.  This is what crushing
                // `product && rest...` anew gives (the remaining ORs are already crushed, and
                // crushing is idempotent), without crushing them again at every step.
                ors.reverse();
                loop {
                    let (Some(as_), Some(bs)) = (ors.pop(), ors.pop()) else {
                        return Ok(Expr::Bool(false));
                    };
                    self.charge(as_.len().saturating_mul(bs.len()))?;
                    let mut or = Vec::new();
                    for a in &as_ {
                        let Some(av) = int_of(a).and_then(|x| intersect(acc, x)) else {
                            continue;
                        };
                        for b in &bs {
                            if let Some(n) = int_of(b).and_then(|x| intersect(av, x)) {
                                or.push(int_cmp(n));
                            }
                        }
                    }
                    let first = match or.len() {
                        0 => return Ok(Expr::Bool(false)),
                        1 => or.pop().unwrap_or(Expr::Bool(false)),
                        _ => self.crush_or(or, sym)?,
                    };
                    if ors.is_empty() {
                        return Ok(first);
                    }
                    // The conjunction `first && rest...`, crushed: `first` is its only
                    // comparison or its first OR.
                    acc = (0, 0);
                    match first {
                        e @ Expr::Cmp(_) => match int_of(&e).and_then(|x| intersect(acc, x)) {
                            Some(n) => acc = n,
                            None => return Ok(Expr::Bool(false)),
                        },
                        Expr::Or(w) => ors.push(w),
                        Expr::Bool(false) => return Ok(Expr::Bool(false)),
                        _ => {}
                    }
                    if ors.len() == 1 {
                        return Ok(restrict(acc, ors.pop().unwrap_or_default()));
                    }
                }
            }
        }
    }

    /// OVN's `expr_sort`: groups the children of an AND by symbol and crushes each group.
    fn sort(&mut self, mut v: Vec<Expr>) -> Result<Expr, ExprError> {
        // Each child's sort key: its rank, then (in the low 16 bits) its symbol's position in
        // name order, when the table ranked the symbol (then the key alone orders the children
        // as rank and name compared one after the other would), with the child's index (the
        // children stay in `v`; only the keys move while sorting).
        let symtab = self.symtab;
        let mut all_ranked = true;
        let mut keys: Vec<(u32, u32, Option<SymbolId>)> = Vec::with_capacity(v.len());
        for (i, e) in v.iter().enumerate() {
            let sym = e.unique_symbol();
            let rank: u32 = match (&sym, e) {
                (Some(_), _) => 0,
                (None, Expr::And(_)) => 1,
                (None, Expr::Or(_)) => 2,
                (None, Expr::Bool(_)) => 3,
                _ => 4,
            };
            let name = match sym {
                Some(s) => symtab.name_rank(s).unwrap_or_else(|| {
                    all_ranked = false;
                    0
                }),
                None => 0,
            };
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            keys.push((rank << 16 | u32::from(name), index, sym));
        }
        if all_ranked {
            // Key, then index: the order of a stable sort by key.
            keys.sort_unstable_by_key(|t| (t.0, t.1));
        } else {
            keys.sort_by(|a, b| {
                (a.0 >> 16)
                    .cmp(&(b.0 >> 16))
                    .then_with(|| match (a.2, b.2) {
                        (Some(x), Some(y)) => symtab.cmp_names(x, y),
                        _ => Ordering::Equal,
                    })
            });
        }
        let mut take = |i: u32| match v.get_mut(i as usize) {
            Some(e) => std::mem::replace(e, Expr::Bool(true)),
            None => Expr::Bool(true),
        };
        // The AND of the results, built as `Expr::combine` chains would build it (an AND
        // result is spliced in), in one vector.
        let mut acc: Vec<Expr> = Vec::with_capacity(keys.len() + 2);
        let add = |acc: &mut Vec<Expr>, e: Expr| match e {
            Expr::And(w) => acc.extend(w),
            e => acc.push(e),
        };
        let mut iter = keys.iter().peekable();
        while let Some(&(_, i, sym)) = iter.next() {
            let e = take(i);
            let Some(sym) = sym else {
                add(&mut acc, e);
                continue;
            };
            // The group of `sym`, combined as `Expr::combine` chains would combine it (most
            // groups have one member; the members are comparisons and ORs, never ANDs).
            let mut combined = e;
            if matches!(iter.peek(), Some((_, _, Some(s2))) if *s2 == sym) {
                let mut members = Vec::with_capacity(4);
                match combined {
                    Expr::And(w) => members.extend(w),
                    e => members.push(e),
                }
                while let Some(&&(_, j, Some(s2))) = iter.peek() {
                    if s2 != sym {
                        break;
                    }
                    iter.next();
                    match take(j) {
                        Expr::And(w) => members.extend(w),
                        e2 => members.push(e2),
                    }
                }
                combined = Expr::And(members);
            }
            match self.crush_group(combined, sym)? {
                Expr::Bool(false) => return Ok(Expr::Bool(false)),
                Expr::Bool(true) => {}
                crushed => add(&mut acc, crushed),
            }
        }
        Ok(match acc.len() {
            0 => Expr::Bool(true),
            1 => acc.pop().unwrap_or(Expr::Bool(true)),
            _ => Expr::And(acc),
        })
    }

    /// [`Self::normalize_and`] for an AND of comparisons only (most of them, and every branch
    /// of a cross-product split of such an AND), in place: what [`Self::sort`] and the rest of
    /// `normalize_and` do with it, without their vectors.  The comparisons are sorted by
    /// symbol name (stable), and each group of two or more on one symbol is crushed as
    /// [`Self::crush_and_numeric`] and [`Self::crush_and_string`] crush it; nothing is charged
    /// (neither charges for comparisons alone).
    fn normalize_cmps(&mut self, mut v: Vec<Expr>) -> Expr {
        let symtab = self.symtab;
        let sym_of = |e: &Expr| match e {
            Expr::Cmp(c) => Some(c.symbol),
            _ => None,
        };
        v.sort_by(|a, b| match (sym_of(a), sym_of(b)) {
            (Some(x), Some(y)) => symtab.cmp_names(x, y),
            _ => Ordering::Equal,
        });
        // Compacts the groups into the front of `v`: `w` is the next slot to write.
        let mut w = 0;
        let mut i = 0;
        while i < v.len() {
            let Some(sym) = sym_of(&v[i]) else {
                return Expr::Bool(false);
            };
            let mut j = i + 1;
            while j < v.len() && sym_of(&v[j]) == Some(sym) {
                j += 1;
            }
            if j - i == 1 {
                v.swap(w, i);
                w += 1;
                i = j;
                continue;
            }
            let crushed = if symtab.get(sym).width > 0 {
                let mut acc = Some((0u128, 0u128));
                for e in &v[i..j] {
                    acc = acc.and_then(|a| int_of(e).and_then(|x| intersect(a, x)));
                }
                match acc {
                    None => return Expr::Bool(false),
                    Some((_, 0)) => None,
                    Some((value, mask)) => Some(eq_cmp(sym, CmpValue::Int { value, mask })),
                }
            } else {
                let mut singleton: Option<usize> = None;
                for k in i..j {
                    if let Expr::Cmp(Cmp {
                        value: CmpValue::Str(s),
                        ..
                    }) = &v[k]
                    {
                        match singleton {
                            None => singleton = Some(k),
                            Some(t) => {
                                if let Expr::Cmp(Cmp {
                                    value: CmpValue::Str(first),
                                    ..
                                }) = &v[t]
                                {
                                    if first != s {
                                        return Expr::Bool(false);
                                    }
                                }
                            }
                        }
                    }
                }
                singleton.map(|k| {
                    let s = match &mut v[k] {
                        Expr::Cmp(Cmp {
                            value: CmpValue::Str(s),
                            ..
                        }) => std::mem::take(s),
                        _ => String::new(),
                    };
                    eq_cmp(sym, CmpValue::Str(s))
                })
            };
            if let Some(c) = crushed {
                v[w] = c;
                w += 1;
            }
            i = j;
        }
        v.truncate(w);
        match v.len() {
            0 => Expr::Bool(true),
            1 => v.pop().unwrap_or(Expr::Bool(true)),
            _ => Expr::And(v),
        }
    }

    fn normalize_and(&mut self, v: Vec<Expr>) -> Result<Expr, ExprError> {
        if v.iter().all(|e| matches!(e, Expr::Cmp(_))) {
            return Ok(self.normalize_cmps(v));
        }
        let e = self.sort(v)?;
        let Expr::And(mut subs) = e else { return Ok(e) };

        // Merge adjacent comparisons on the same symbol.
        let mut i = 0;
        while i + 1 < subs.len() {
            if let (Expr::Cmp(a), Expr::Cmp(b)) = (&subs[i], &subs[i + 1]) {
                if a.symbol == b.symbol {
                    let merged = match (&a.value, &b.value) {
                        (
                            CmpValue::Int {
                                value: av,
                                mask: am,
                            },
                            CmpValue::Int {
                                value: bv,
                                mask: bm,
                            },
                        ) => intersect((*av, *am), (*bv, *bm))
                            .map(|(value, mask)| CmpValue::Int { value, mask }),
                        (CmpValue::Str(x), CmpValue::Str(y)) => {
                            (x == y).then(|| CmpValue::Str(y.clone()))
                        }
                        _ => None,
                    };
                    let Some(m) = merged else {
                        return Ok(Expr::Bool(false));
                    };
                    if let Expr::Cmp(b) = &mut subs[i + 1] {
                        b.value = m;
                    }
                    subs.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        if subs.len() == 1 {
            return Ok(subs.pop().unwrap_or(Expr::Bool(true)));
        }

        for idx in 0..subs.len() {
            if matches!(subs[idx], Expr::Cmp(_)) {
                continue;
            }
            let split = match subs[idx].unique_symbol() {
                None => true,
                Some(s) => self.symtab.get(s).must_crossproduct,
            };
            if !split {
                continue;
            }
            let Expr::Or(ks) = &subs[idx] else { continue };
            self.charge(ks.len().saturating_mul(subs.len()))?;
            // Each branch `k && (the other children)` normalized as `normalize_or` would
            // normalize their OR, in the same order, but a branch that `false_branch` shows to
            // be false is only charged (what normalizing it would have charged).
            let mut out = Vec::with_capacity(ks.len());
            for k in ks {
                if let Some(charged) = self.false_branch(k, &subs, idx) {
                    self.charge(charged)?;
                    continue;
                }
                let mut and = Vec::with_capacity(subs.len() + 2);
                for (j, m) in subs.iter().enumerate() {
                    let term = if j == idx { k } else { m };
                    match term {
                        Expr::And(w) => and.extend(w.iter().cloned()),
                        t => and.push(t.clone()),
                    }
                }
                match self.normalize_and(and)? {
                    Expr::Bool(true) => return Ok(Expr::Bool(true)),
                    Expr::Bool(false) => {}
                    Expr::Or(x) => out.extend(x),
                    e => out.push(e),
                }
            }
            return Ok(match out.len() {
                0 => Expr::Bool(false),
                1 => out.pop().unwrap_or(Expr::Bool(false)),
                _ => Expr::Or(out),
            });
        }
        Ok(Expr::And(subs))
    }

    /// For a branch `k` of the cross-product split of `subs` at `idx` (`subs` sorted and
    /// crushed, so at most one child per symbol): `Some(charge)` when normalizing the branch
    /// certainly gives `false`, with what normalizing it would charge; `None` when unsure.
    ///
    /// The case recognized (`ip4 && ... && !ip.later_frag`, whose second disjunct is
    /// `eth.type != 0x800 && eth.type != 0x86dd`): every member of `k` is a comparison, or an
    /// OR of at least two comparisons with strictly increasing masks, on one numeric symbol,
    /// on which `subs` has an exact comparison (full mask).  Normalizing the branch sorts it
    /// and crushes its groups: every other group is one crushed child of `subs`, which
    /// crushing leaves as it is, without charges; this symbol's group is `crush_and_numeric`
    /// with an exact accumulator.  A comparison that conflicts makes it `false` uncharged;
    /// with one OR it is `false` when no disjunct agrees with the accumulator, uncharged; with
    /// two it multiplies them out (charging the product of their sizes, which crushing the
    /// ORs leaves unchanged: their comparisons are distinct) and is `false` when either has
    /// no disjunct that agrees.  Three or more ORs are left to the general path.
    fn false_branch(&self, k: &Expr, subs: &[Expr], idx: usize) -> Option<usize> {
        let members: &[Expr] = match k {
            Expr::And(w) => w,
            e => std::slice::from_ref(e),
        };
        let sym = match members.first()? {
            Expr::Cmp(c) => c.symbol,
            Expr::Or(v) => match v.first()? {
                Expr::Cmp(c) => c.symbol,
                _ => return None,
            },
            _ => return None,
        };
        let width = self.symtab.get(sym).width;
        if width == 0 {
            return None;
        }
        let full = if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        let acc = subs.iter().enumerate().find_map(|(j, e)| match e {
            Expr::Cmp(Cmp {
                symbol,
                value: CmpValue::Int { value, mask },
                ..
            }) if j != idx && *symbol == sym && *mask == full => Some(*value),
            _ => None,
        })?;
        // Whether a disjunct (or comparison) agrees with the exact accumulator.
        let agrees = |value: u128, mask: u128| (value ^ acc) & mask == 0;
        let mut conflict = false;
        let mut or_sizes = [0usize; 2];
        let mut n_ors = 0;
        let mut or_false = false;
        for m in members {
            match m {
                Expr::Cmp(Cmp {
                    symbol,
                    value: CmpValue::Int { value, mask },
                    ..
                }) if *symbol == sym => conflict |= !agrees(*value, *mask),
                Expr::Or(v) if v.len() >= 2 => {
                    let mut prev_mask = 0u128;
                    let mut any = false;
                    for (i, d) in v.iter().enumerate() {
                        let Expr::Cmp(Cmp {
                            symbol,
                            value: CmpValue::Int { value, mask },
                            ..
                        }) = d
                        else {
                            return None;
                        };
                        if *symbol != sym || (i > 0 && *mask <= prev_mask) {
                            return None;
                        }
                        prev_mask = *mask;
                        any |= agrees(*value, *mask);
                    }
                    if n_ors == 2 {
                        return None;
                    }
                    or_sizes[n_ors] = v.len();
                    n_ors += 1;
                    or_false |= !any;
                }
                _ => return None,
            }
        }
        if conflict {
            return Some(0);
        }
        match n_ors {
            1 if or_false => Some(0),
            2 if or_false => Some(or_sizes[0].saturating_mul(or_sizes[1])),
            _ => None,
        }
    }

    fn normalize_or(&mut self, v: Vec<Expr>) -> Result<Expr, ExprError> {
        let mut out = Vec::with_capacity(v.len());
        for sub in v {
            match sub {
                Expr::And(w) => match self.normalize_and(w)? {
                    Expr::Bool(true) => return Ok(Expr::Bool(true)),
                    Expr::Bool(false) => {}
                    Expr::Or(x) => out.extend(x),
                    e => out.push(e),
                },
                Expr::Bool(true) => return Ok(Expr::Bool(true)),
                Expr::Bool(false) => {}
                Expr::Or(x) => out.extend(x),
                e => out.push(e),
            }
        }
        Ok(match out.len() {
            0 => Expr::Bool(false),
            1 => out.pop().unwrap_or(Expr::Bool(false)),
            _ => Expr::Or(out),
        })
    }
}
