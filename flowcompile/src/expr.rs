//! The expression IR shared by the passes after parsing (OVN's `struct expr`).
//!
//! An [`Expr`] is a tree of comparisons ([`Cmp`]: a symbol, an operator, and a value/mask or
//! a string), ANDs, ORs, Boolean constants and conditions (`is_chassis_resident`).  Values sit
//! at the bit offsets of the comparison's symbol: `reg0[3] == 1` over `xxreg0` is
//! `value = 1 << 99, mask = 1 << 99`.
//!
//! Invariants every pass keeps (checked by [`Expr::honors_invariants`]): an AND or OR has at
//! least two children and none of the same kind; a comparison's value has no 1-bits outside
//! its mask.
//!
//! [`Expr::display`] prints OVN's textual syntax (as OVN's `expr_format`), so that the output
//! of each pass can be read and re-parsed.

use std::fmt;

use crate::lex::{format_hex, quote};
use crate::parse::RelOp;
use crate::symtab::{SymbolId, Symtab};

/// The compared value of a [`Cmp`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpValue {
    /// Numeric comparison: bits of `value` under `mask`.
    Int {
        /// Value (only bits in `mask` may be set).
        value: u128,
        /// Mask.
        mask: u128,
    },
    /// String comparison (port names).
    Str(String),
}

/// A comparison of a symbol against a constant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cmp {
    /// The symbol.
    pub symbol: SymbolId,
    /// The operator.
    pub op: RelOp,
    /// The constant.
    pub value: CmpValue,
}

/// A condition evaluated per chassis by [`crate::condition`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// The port named by `is_chassis_resident("port")`.
    pub port: String,
    /// True for `!is_chassis_resident(...)`.
    pub negated: bool,
}

/// An expression (OVN's `struct expr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A comparison.
    Cmp(Cmp),
    /// Conjunction.
    And(Vec<Self>),
    /// Disjunction.
    Or(Vec<Self>),
    /// A constant.
    Bool(bool),
    /// A chassis condition.
    Condition(Condition),
}

/// Which of AND/OR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AndOr {
    /// `&&`
    And,
    /// `||`
    Or,
}

impl Expr {
    fn andor_kind(&self) -> Option<AndOr> {
        match self {
            Self::And(_) => Some(AndOr::And),
            Self::Or(_) => Some(AndOr::Or),
            _ => None,
        }
    }

    fn make(kind: AndOr, v: Vec<Self>) -> Self {
        match kind {
            AndOr::And => Self::And(v),
            AndOr::Or => Self::Or(v),
        }
    }

    /// Combines `a` and `b` with `kind`, flattening nested nodes of the same kind
    /// (OVN's `expr_combine`).
    pub fn combine(kind: AndOr, a: Option<Self>, b: Self) -> Self {
        let Some(a) = a else { return b };
        match (a, b) {
            (a, b) if a.andor_kind() == Some(kind) => {
                let mut v = a.into_children();
                if b.andor_kind() == Some(kind) {
                    v.extend(b.into_children());
                } else {
                    v.push(b);
                }
                Self::make(kind, v)
            }
            (a, b) if b.andor_kind() == Some(kind) => {
                let children = b.into_children();
                let mut v = Vec::with_capacity(children.len() + 1);
                v.push(a);
                v.extend(children);
                Self::make(kind, v)
            }
            (a, b) => {
                // Room for two more: chains (`a && b && c && d`) are combined one at a time.
                let mut v = Vec::with_capacity(4);
                v.push(a);
                v.push(b);
                Self::make(kind, v)
            }
        }
    }

    /// The children of an AND/OR (empty for other nodes).
    pub fn into_children(self) -> Vec<Self> {
        match self {
            Self::And(v) | Self::Or(v) => v,
            _ => Vec::new(),
        }
    }

    /// Restores the invariants of an AND/OR after its children changed: splices children of
    /// the same kind, drops identity constants, short-circuits on absorbing constants, and
    /// collapses zero or one children (OVN's `expr_fix`).
    #[must_use]
    pub fn fix(self) -> Self {
        let Some(kind) = self.andor_kind() else {
            return self;
        };
        let is_or = kind == AndOr::Or;
        let children = self.into_children();
        // Usually nothing to do: keep the vector as it is.
        if children.len() >= 2
            && children
                .iter()
                .all(|s| !matches!(s, Self::Bool(_)) && s.andor_kind() != Some(kind))
        {
            return Self::make(kind, children);
        }
        let mut out = Vec::with_capacity(children.len());
        for sub in children {
            match sub {
                Self::Bool(b) if b == is_or => return Self::Bool(b),
                Self::Bool(_) => {}
                s if s.andor_kind() == Some(kind) => out.extend(s.into_children()),
                s => out.push(s),
            }
        }
        match out.len() {
            0 => Self::Bool(!is_or),
            1 => out.pop().unwrap_or(Self::Bool(!is_or)),
            _ => Self::make(kind, out),
        }
    }

    /// Logical negation pushed down to the leaves (OVN's `expr_not`).
    #[must_use]
    pub fn negate(self) -> Self {
        match self {
            Self::Cmp(mut c) => {
                c.op = c.op.invert();
                Self::Cmp(c)
            }
            Self::And(v) => Self::Or(v.into_iter().map(Self::negate).collect()),
            Self::Or(v) => Self::And(v.into_iter().map(Self::negate).collect()),
            Self::Bool(b) => Self::Bool(!b),
            Self::Condition(mut c) => {
                c.negated = !c.negated;
                Self::Condition(c)
            }
        }
    }

    /// Checks the structural invariants listed in the module documentation.
    pub fn honors_invariants(&self) -> bool {
        match self {
            Self::Cmp(c) => match c.value {
                CmpValue::Int { value, mask } => value & !mask == 0,
                CmpValue::Str(_) => true,
            },
            Self::And(v) | Self::Or(v) => {
                v.len() >= 2
                    && v.iter()
                        .all(|s| s.andor_kind().is_none() || s.andor_kind() != self.andor_kind())
                    && v.iter().all(Self::honors_invariants)
            }
            Self::Bool(_) | Self::Condition(_) => true,
        }
    }

    /// Number of nodes in the tree.
    pub fn size(&self) -> usize {
        match self {
            Self::And(v) | Self::Or(v) => 1 + v.iter().map(Self::size).sum::<usize>(),
            _ => 1,
        }
    }

    /// If every comparison in this tree is over one symbol, that symbol
    /// (OVN's `expr_get_unique_symbol`).
    pub fn unique_symbol(&self) -> Option<SymbolId> {
        match self {
            Self::Cmp(c) => Some(c.symbol),
            Self::And(v) | Self::Or(v) => {
                let mut prev = None;
                for s in v {
                    let sym = s.unique_symbol()?;
                    if prev.is_some_and(|p| p != sym) {
                        return None;
                    }
                    prev = Some(sym);
                }
                prev
            }
            Self::Bool(_) | Self::Condition(_) => None,
        }
    }

    /// A printer for this expression in OVN's syntax.
    pub fn display<'a>(&'a self, symtab: &'a Symtab) -> ExprDisplay<'a> {
        ExprDisplay { expr: self, symtab }
    }
}

/// Finds a single contiguous run of 1-bits in the low `width` bits of `v`: `(start, n_bits)`,
/// or `(0, 0)` if there is none or more than one.
pub fn bit_range(v: u128, width: u32) -> (u32, u32) {
    let v = if width >= 128 {
        v
    } else {
        v & ((1u128 << width) - 1)
    };
    if v == 0 {
        return (0, 0);
    }
    let start = v.trailing_zeros();
    let shifted = v >> start;
    let n = shifted.trailing_ones();
    if n == 128 || shifted >> n == 0 {
        (start, n)
    } else {
        (0, 0)
    }
}

/// Prints an [`Expr`] in OVN's syntax; see [`Expr::display`].
#[derive(Debug, Clone, Copy)]
pub struct ExprDisplay<'a> {
    expr: &'a Expr,
    symtab: &'a Symtab,
}

fn fmt_cmp(c: &Cmp, symtab: &Symtab, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sym = symtab.get(c.symbol);
    let (value, mask) = match &c.value {
        CmpValue::Str(s) => return write!(f, "{} {} {}", sym.name, c.op, quote(s)),
        CmpValue::Int { value, mask } => (*value, *mask),
    };
    let (ofs, n) = bit_range(mask, sym.width);
    if n == 1 && matches!(c.op, RelOp::Eq | RelOp::Ne) {
        let positive = ((value >> ofs) & 1 == 1) ^ (c.op == RelOp::Ne);
        if !positive {
            f.write_str("!")?;
        }
        f.write_str(&sym.name)?;
        if sym.width > 1 {
            write!(f, "[{ofs}]")?;
        }
        return Ok(());
    }
    f.write_str(&sym.name)?;
    if n > 0 && n < sym.width {
        if n > 1 {
            write!(f, "[{}..{}]", ofs, ofs + n - 1)?;
        } else {
            write!(f, "[{ofs}]")?;
        }
    }
    write!(f, " {} ", c.op)?;
    if n > 0 {
        let bits = if n >= 128 {
            value
        } else {
            (value >> ofs) & ((1u128 << n) - 1)
        };
        f.write_str(&format_hex(bits))
    } else {
        write!(f, "{}/{}", format_hex(value), format_hex(mask))
    }
}

fn fmt_expr(e: &Expr, symtab: &Symtab, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        Expr::Cmp(c) => fmt_cmp(c, symtab, f),
        Expr::And(v) | Expr::Or(v) => {
            let op = if matches!(e, Expr::And(_)) {
                " && "
            } else {
                " || "
            };
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(op)?;
                }
                if matches!(s, Expr::And(_) | Expr::Or(_)) {
                    f.write_str("(")?;
                    fmt_expr(s, symtab, f)?;
                    f.write_str(")")?;
                } else {
                    fmt_expr(s, symtab, f)?;
                }
            }
            Ok(())
        }
        Expr::Bool(b) => f.write_str(if *b { "1" } else { "0" }),
        Expr::Condition(c) => {
            if c.negated {
                f.write_str("!")?;
            }
            write!(f, "is_chassis_resident({})", quote(&c.port))
        }
    }
}

impl fmt::Display for ExprDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_expr(self.expr, self.symtab, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_ranges() {
        assert_eq!(bit_range(0b0110, 8), (1, 2));
        assert_eq!(bit_range(0b0101, 8), (0, 0));
        assert_eq!(bit_range(u128::MAX, 128), (0, 128));
        assert_eq!(bit_range(0, 8), (0, 0));
    }
}
