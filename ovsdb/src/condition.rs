//! Conditions (`where` clauses): RFC 7047 section 5.1 `<condition>`, with ovsdb-server's type rules.

use uuid::Uuid;

use crate::atom::{Atom, SymbolResolver};
use crate::datum::Datum;
use crate::error::{Error, Result};
use crate::json::JsonView;
use crate::schema::{TableSchema, COL_UUID};
use crate::types::AtomicType;

/// A condition function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `includes`
    Includes,
    /// `excludes`
    Excludes,
}

impl Function {
    /// Parses a function name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Self::Lt,
            "<=" => Self::Le,
            "==" => Self::Eq,
            "!=" => Self::Ne,
            ">=" => Self::Ge,
            ">" => Self::Gt,
            "includes" => Self::Includes,
            "excludes" => Self::Excludes,
            _ => return None,
        })
    }

    /// The function name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Includes => "includes",
            Self::Excludes => "excludes",
        }
    }
}

/// One clause of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    /// `true` or `false` (as monitor conditions allow).
    Const(bool),
    /// `[column, function, value]`.
    Compare {
        /// Column index in the table.
        column: usize,
        /// The function.
        function: Function,
        /// The value, already type-checked against the column.
        arg: Datum,
    },
}

/// A conjunction of clauses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    /// The clauses; all must hold.
    pub clauses: Vec<Clause>,
}

impl Condition {
    /// Parses a `where` array for `table`.
    pub fn from_json<J: JsonView>(
        table: &TableSchema,
        json: &[J],
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        let mut clauses = Vec::with_capacity(json.len());
        for c in json {
            clauses.push(Clause::from_json(table, c, symbols)?);
        }
        Ok(Self { clauses })
    }

    /// True when `row` (fields by column index) satisfies every clause.
    pub fn evaluate(&self, table: &TableSchema, row: &[Datum]) -> bool {
        self.clauses.iter().all(|c| c.evaluate(table, row))
    }

    /// The UUID of a `["_uuid", "==", uuid]` clause, which lets a query look up one row directly.
    pub fn uuid_equality(&self) -> Option<Uuid> {
        self.clauses.iter().find_map(|c| match c {
            Clause::Compare {
                column: COL_UUID,
                function: Function::Eq | Function::Includes,
                arg,
            } if arg.len() == 1 => arg.first().and_then(Atom::as_uuid),
            _ => None,
        })
    }
}

impl Condition {
    /// The value an `==` clause requires of column `column`, if there is one.
    pub fn equality_on(&self, column: usize) -> Option<&Datum> {
        self.clauses.iter().find_map(|c| match c {
            Clause::Compare {
                column: col,
                function: Function::Eq,
                arg,
            } if *col == column => Some(arg),
            _ => None,
        })
    }
}

impl Clause {
    /// Parses one clause.
    pub fn from_json<J: JsonView>(
        table: &TableSchema,
        json: &J,
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        if let Some(b) = json.as_bool() {
            return Ok(Self::Const(b));
        }
        let (cname, fname, argj) = match json.as_array() {
            Some(a) if a.len() == 3 => match (a[0].as_str(), a[1].as_str()) {
                (Some(c), Some(f)) => (c, f, &a[2]),
                _ => return Err(Error::syntax_at(Some(json), "Parse error in condition.")),
            },
            _ => return Err(Error::syntax_at(Some(json), "Parse error in condition.")),
        };
        let col = table.column(cname).ok_or_else(|| Error::UnknownColumn {
            details: format!("No column {cname} in table {}.", table.name),
            syntax: Some(json.to_json_string()),
        })?;
        let function = Function::from_name(fname)
            .ok_or_else(|| Error::UnknownFunction(format!("No function named {fname}.")))?;
        let mut ty = col.type_.clone();
        match function {
            Function::Lt | Function::Le | Function::Gt | Function::Ge => {
                if !(ty.is_scalar() || ty.is_optional_scalar())
                    || !matches!(ty.key.atomic, AtomicType::Integer | AtomicType::Real)
                {
                    return Err(Error::syntax_at(
                        Some(json),
                        format!(
                            "Type mismatch: \"{}\" operator may not be applied to column {} of type {}.",
                            function.name(),
                            col.name,
                            ty.to_english()
                        ),
                    ));
                }
                ty.min = 1;
                ty.max = 1;
            }
            Function::Eq | Function::Ne => {}
            Function::Excludes => {
                if !ty.is_scalar() {
                    ty.min = 0;
                    ty.max = u64::MAX;
                }
            }
            Function::Includes => {
                if !ty.is_scalar() {
                    ty.min = 0;
                }
            }
        }
        let arg = Datum::from_json(argj, &ty, symbols)?;
        Ok(Self::Compare {
            column: col.index,
            function,
            arg,
        })
    }

    /// Evaluates the clause on a row.
    pub fn evaluate(&self, table: &TableSchema, row: &[Datum]) -> bool {
        let (column, function, arg) = match self {
            Self::Const(b) => return *b,
            Self::Compare {
                column,
                function,
                arg,
            } => (*column, *function, arg),
        };
        let Some(field) = row.get(column) else {
            return false;
        };
        match function {
            Function::Lt | Function::Le | Function::Gt | Function::Ge => {
                let (Some(a), Some(b)) = (field.first(), arg.first()) else {
                    return false;
                };
                let ord = a.cmp(b);
                match function {
                    Function::Lt => ord.is_lt(),
                    Function::Le => ord.is_le(),
                    Function::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                }
            }
            Function::Eq => field == arg,
            Function::Ne => field != arg,
            Function::Includes => arg.is_subset_of(field),
            Function::Excludes => {
                let _ = table;
                arg.is_disjoint_from(field)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::NoSymbols;
    use crate::schema::Schema;
    use serde_json::json;

    #[test]
    fn uuid_equality_is_detected() {
        let s = Schema::from_str_json(include_str!("../tests/data/test.ovsschema")).unwrap();
        let t = s.table("Parent").unwrap();
        let u = "aaaaaaaa-0000-4000-8000-000000000001";
        let c = Condition::from_json(t, &[json!(["_uuid", "==", ["uuid", u]])], &mut NoSymbols)
            .unwrap();
        assert_eq!(c.uuid_equality().map(|x| x.to_string()), Some(u.to_owned()));
    }
}
