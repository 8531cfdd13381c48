//! Mutations: RFC 7047 section 5.1 `<mutation>`, with ovsdb-server's type rules, overflow checks
//! and constraint checks.

use crate::atom::{Atom, SymbolResolver};
use crate::datum::Datum;
use crate::error::{Error, Result};
use crate::json::JsonView;
use crate::schema::TableSchema;
use crate::types::{AtomicType, BaseType, ColumnType};

/// A mutator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Mod,
    /// `insert`
    Insert,
    /// `delete`
    Delete,
}

impl Mutator {
    /// Parses a mutator name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "+=" => Self::Add,
            "-=" => Self::Sub,
            "*=" => Self::Mul,
            "/=" => Self::Div,
            "%=" => Self::Mod,
            "insert" => Self::Insert,
            "delete" => Self::Delete,
            _ => return None,
        })
    }

    /// The mutator name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Add => "+=",
            Self::Sub => "-=",
            Self::Mul => "*=",
            Self::Div => "/=",
            Self::Mod => "%=",
            Self::Insert => "insert",
            Self::Delete => "delete",
        }
    }
}

/// One parsed mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Column index.
    pub column: usize,
    /// The mutator.
    pub mutator: Mutator,
    /// The argument, type-checked.
    pub arg: Datum,
}

impl Mutation {
    /// Parses one `[column, mutator, value]`.
    pub fn from_json<J: JsonView>(
        table: &TableSchema,
        json: &J,
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        let (cname, mname, argj) = match json.as_array() {
            Some(a) if a.len() == 3 => match (a[0].as_str(), a[1].as_str()) {
                (Some(c), Some(m)) => (c, m, &a[2]),
                _ => return Err(Error::syntax_at(Some(json), "Parse error in mutation.")),
            },
            _ => return Err(Error::syntax_at(Some(json), "Parse error in mutation.")),
        };
        let col = table.column(cname).ok_or_else(|| Error::UnknownColumn {
            details: format!("No column {cname} in table {}.", table.name),
            syntax: Some(json.to_json_string()),
        })?;
        if !col.mutable {
            return Err(Error::ConstraintViolation {
                details: format!(
                    "Cannot mutate immutable column {cname} in table {}.",
                    table.name
                ),
                syntax: Some(json.to_json_string()),
            });
        }
        let mutator = Mutator::from_name(mname)
            .ok_or_else(|| Error::UnknownMutator(format!("No mutator named {mname}.")))?;
        let ct = &col.type_;
        let mismatch = || {
            Error::syntax_at(
                Some(json),
                format!(
                    "Type mismatch: \"{}\" operator may not be applied to column {} of type {}.",
                    mutator.name(),
                    col.name,
                    ct.to_english()
                ),
            )
        };
        let arg = match mutator {
            Mutator::Add | Mutator::Sub | Mutator::Mul | Mutator::Div | Mutator::Mod => {
                if !(ct.is_scalar() || ct.is_set())
                    || !matches!(ct.key.atomic, AtomicType::Integer | AtomicType::Real)
                    || (mutator == Mutator::Mod && ct.key.atomic == AtomicType::Real)
                {
                    return Err(mismatch());
                }
                let ty = ColumnType {
                    key: ct.key.without_constraints(),
                    value: None,
                    min: 1,
                    max: 1,
                };
                Datum::from_json(argj, &ty, symbols)?
            }
            Mutator::Insert | Mutator::Delete => {
                if !(ct.is_set() || ct.is_map()) {
                    return Err(mismatch());
                }
                let mut ty = ct.clone();
                ty.min = 0;
                if mutator == Mutator::Delete {
                    ty.max = u64::MAX;
                }
                match Datum::from_json(argj, &ty, symbols) {
                    Ok(d) => d,
                    Err(e) if ty.is_map() && mutator == Mutator::Delete => {
                        let _ = e;
                        let keys = ColumnType { value: None, ..ty };
                        Datum::from_json(argj, &keys, symbols)?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Self {
            column: col.index,
            mutator,
            arg,
        })
    }

    /// Applies the mutation to `dst`, a value of column type `ty`.
    pub fn apply(&self, dst: &mut Datum, ty: &ColumnType) -> Result<()> {
        match self.mutator {
            Mutator::Insert => {
                dst.union_with(&self.arg);
                check_count(dst, ty)
            }
            Mutator::Delete => {
                dst.subtract(&self.arg);
                check_count(dst, ty)
            }
            m => {
                let Some(y) = self.arg.first() else {
                    return Ok(());
                };
                mutate_scalar(dst, &ty.key, y, m)
            }
        }
    }
}

fn check_count(dst: &Datum, ty: &ColumnType) -> Result<()> {
    if dst.conforms_to(ty) {
        Ok(())
    } else {
        Err(Error::constraint(format!(
            "Attempted to store {} elements in {}.",
            dst.len(),
            ty.to_english()
        )))
    }
}

fn range_error(m: Mutator) -> Error {
    Error::Range(format!(
        "Result of \"{}\" operation is out of range.",
        m.name()
    ))
}

fn mutate_int(x: i64, y: i64, m: Mutator) -> Result<i64> {
    let domain = || Error::Domain("Division by zero.".into());
    match m {
        Mutator::Add => x.checked_add(y).ok_or_else(|| range_error(m)),
        Mutator::Sub => x.checked_sub(y).ok_or_else(|| range_error(m)),
        Mutator::Mul => {
            // ovsdb-server's overflow test, including its conservative edges.
            let overflow = if x > 0 {
                if y > 0 {
                    x >= i64::MAX / y
                } else {
                    y < i64::MIN / x
                }
            } else if y > 0 {
                x < i64::MIN / y
            } else {
                x != 0 && y != 0 && y < i64::MAX / y
            };
            if overflow {
                Err(range_error(m))
            } else {
                Ok(x.wrapping_mul(y))
            }
        }
        Mutator::Div | Mutator::Mod => {
            if y == 0 {
                Err(domain())
            } else if x == i64::MIN && y == -1 {
                Err(range_error(m))
            } else if m == Mutator::Div {
                Ok(x / y)
            } else {
                Ok(x % y)
            }
        }
        Mutator::Insert | Mutator::Delete => Ok(x),
    }
}

fn mutate_real(x: f64, y: f64, m: Mutator) -> Result<f64> {
    let r = match m {
        Mutator::Add => x + y,
        Mutator::Sub => x - y,
        Mutator::Mul => x * y,
        Mutator::Div => {
            if y == 0.0 {
                return Err(Error::Domain("Division by zero.".into()));
            }
            x / y
        }
        _ => x,
    };
    if r.is_finite() {
        Ok(r)
    } else {
        Err(range_error(m))
    }
}

fn mutate_scalar(dst: &mut Datum, base: &BaseType, y: &Atom, m: Mutator) -> Result<()> {
    let Datum::Set(atoms) = dst else {
        return Ok(());
    };
    if atoms.is_empty() {
        return Ok(());
    }
    atoms.modify(|atoms| {
        for a in atoms.iter_mut() {
            *a = match (&*a, y) {
                (Atom::Integer(x), Atom::Integer(y)) => Atom::Integer(mutate_int(*x, *y, m)?),
                (Atom::Real(x), Atom::Real(y)) => Atom::Real(mutate_real(*x, *y, m)?),
                (Atom::Real(x), Atom::Integer(y)) => Atom::Real(mutate_real(*x, *y as f64, m)?),
                _ => a.clone(),
            };
        }
        for a in atoms.iter() {
            base.check_constraints(a)?;
        }
        atoms.sort();
        if atoms.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::constraint(format!(
                "Result of \"{}\" operation contains duplicates.",
                m.name()
            )));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_overflow_rules() {
        assert!(mutate_int(i64::MAX, 1, Mutator::Add).is_err());
        assert!(mutate_int(1, i64::MAX, Mutator::Mul).is_err());
        assert_eq!(mutate_int(-2, -3, Mutator::Mul).unwrap(), 6);
        assert_eq!(mutate_int(-7, 2, Mutator::Mod).unwrap(), -1);
        assert_eq!(
            mutate_int(5, 0, Mutator::Div).unwrap_err().tag(),
            "domain error"
        );
        assert_eq!(
            mutate_int(i64::MIN, -1, Mutator::Div).unwrap_err().tag(),
            "range error"
        );
        assert_eq!(
            mutate_real(1e300, 1e300, Mutator::Mul).unwrap_err().tag(),
            "range error"
        );
    }
}
