//! Pass 3, simplify (OVN's `expr_simplify`): afterwards every numeric comparison is an
//! equality (`==`) under a mask.
//!
//! * `f == v/0` (empty mask) becomes true.
//! * `f != v/m` becomes the OR, over each 1-bit `i` of `m`, of `f[i] == !v[i]`.
//! * `f < v`, `f <= v`, `f > v`, `f >= v` over a contiguous mask become an OR of masked
//!   equalities, one per bit where `v` allows a smaller (larger) value, plus `f == v` for `<=`
//!   and `>=`; comparisons that are always true become true, and `f < max` / `f > 0` become
//!   `f != max` / `f != 0`.
//!
//! String comparisons and conditions are left alone.  The AND/OR invariants hold afterwards.

use crate::condition::ChassisResident;
use crate::expr::{bit_range, AndOr, Cmp, CmpValue, Condition, Expr};
use crate::parse::RelOp;
use crate::symtab::Symtab;

/// Simplifies `expr`.
pub fn simplify(expr: Expr, symtab: &Symtab) -> Expr {
    match expr {
        Expr::Cmp(c) => match (&c.value, c.op) {
            (CmpValue::Str(_), _) => Expr::Cmp(c),
            (CmpValue::Int { mask, .. }, RelOp::Eq) => {
                if *mask == 0 {
                    Expr::Bool(true)
                } else {
                    Expr::Cmp(c)
                }
            }
            (_, RelOp::Ne) => simplify_ne(c, symtab),
            _ => simplify_relational(c, symtab),
        },
        Expr::And(v) => Expr::And(v.into_iter().map(|e| simplify(e, symtab)).collect()).fix(),
        Expr::Or(v) => Expr::Or(v.into_iter().map(|e| simplify(e, symtab)).collect()).fix(),
        e => e,
    }
}

/// Evaluates the conditions in `expr` for one chassis and simplifies it, in one walk: the
/// same result as [`crate::condition::evaluate`] followed by [`simplify`] (both passes only
/// rewrite leaves, and `fix` at each level yields the same canonical AND/OR shape either way),
/// without rebuilding every AND and OR twice.
pub fn evaluate_and_simplify(expr: Expr, resident: &dyn ChassisResident, symtab: &Symtab) -> Expr {
    match expr {
        Expr::Condition(Condition { port, negated }) => {
            Expr::Bool(resident.is_chassis_resident(&port) ^ negated)
        }
        Expr::And(v) => Expr::And(
            v.into_iter()
                .map(|e| evaluate_and_simplify(e, resident, symtab))
                .collect(),
        )
        .fix(),
        Expr::Or(v) => Expr::Or(
            v.into_iter()
                .map(|e| evaluate_and_simplify(e, resident, symtab))
                .collect(),
        )
        .fix(),
        e => simplify(e, symtab),
    }
}

fn int(c: &Cmp) -> (u128, u128) {
    match c.value {
        CmpValue::Int { value, mask } => (value, mask),
        CmpValue::Str(_) => (0, 0),
    }
}

fn simplify_ne(c: Cmp, symtab: &Symtab) -> Expr {
    let (value, mask) = int(&c);
    let w = symtab.get(c.symbol).width;
    let in_width = if w >= 128 {
        mask
    } else {
        mask & ((1u128 << w) - 1)
    };
    // One comparison per bit, in bit order, gathered at once (combining them one by one
    // would regrow the OR's vector).
    let mut v = Vec::with_capacity(in_width.count_ones() as usize);
    for i in 0..w.min(128) {
        if (mask >> i) & 1 == 1 {
            let bit = 1u128 << i;
            v.push(Expr::Cmp(Cmp {
                symbol: c.symbol,
                op: RelOp::Eq,
                value: CmpValue::Int {
                    value: if value & bit == 0 { bit } else { 0 },
                    mask: bit,
                },
            }));
        }
    }
    match v.len() {
        0 => Expr::Bool(false),
        1 => v.pop().unwrap_or(Expr::Bool(false)),
        _ => Expr::Or(v),
    }
}

fn simplify_relational(c: Cmp, symtab: &Symtab) -> Expr {
    let (value, mask) = int(&c);
    let (start, n_bits) = bit_range(mask, symtab.get(c.symbol).width);
    if n_bits == 0 {
        // Not reachable from parsed input (relational operators need unmasked constants).
        return Expr::Bool(false);
    }
    let end = start + n_bits;
    let lt = matches!(c.op, RelOp::Lt | RelOp::Le);
    let eq = matches!(c.op, RelOp::Le | RelOp::Ge);
    let bit = |z: u32| (value >> z) & 1 == 1;
    // Is there a bit in range equal to !lt?  If not, the constant is the extreme value.
    if (start..end).all(|z| bit(z) == lt) {
        return if eq {
            Expr::Bool(true)
        } else {
            simplify_ne(c, symtab)
        };
    }
    let mut new = eq.then(|| {
        Expr::Cmp(Cmp {
            op: RelOp::Eq,
            ..c.clone()
        })
    });
    for z in start..end {
        if bit(z) != lt {
            continue;
        }
        let low = if z == start {
            0
        } else {
            ((1u128 << (z - start)) - 1) << start
        };
        let v = (value ^ (1u128 << z)) & !low;
        let m = mask & !low;
        let e = Expr::Cmp(Cmp {
            symbol: c.symbol,
            op: RelOp::Eq,
            value: CmpValue::Int { value: v, mask: m },
        });
        new = Some(Expr::combine(AndOr::Or, new, e));
    }
    new.unwrap_or(Expr::Bool(false))
}
