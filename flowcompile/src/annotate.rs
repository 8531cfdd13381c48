//! Pass 1, annotate: [`Ast`] → [`Expr`] (OVN's `expr_parse` semantics followed by `expr_annotate`).
//!
//! Contract:
//! * **lower** ([`lower`]): resolves `$address_set` and `@port_group` references through the
//!   caller's [`SetResolver`], type- and width-checks every constant against its field, checks
//!   operator use (`<` only on ordinal fields, nominal fields only tested for equality, taking
//!   enclosing `!` into account), places each constant at its subfield's bit offset, turns
//!   `{...}` sets into ORs (for `==`) or ANDs (for `!=`), and pushes `!` down to the leaves.
//! * **expand** ([`expand`]): replaces subfield symbols by their parent field (shifting values
//!   and masks), expands predicates into their definitions (negated when tested false), and
//!   ANDs each comparison with its symbol's prerequisites, recursively.
//!
//! After this pass every comparison is on a field or a string field, never on a subfield or a
//! predicate.  Conditions (`is_chassis_resident`) are left for [`crate::condition`].

use std::collections::HashMap;

use crate::error::{ErrorKind, ExprError, Span};
use crate::expr::{AndOr, Cmp, CmpValue, Condition, Expr};
use crate::lex::{IntConst, IntFormat};
use crate::parse::{parse, Ast, Const, FieldRef, RelOp};
use crate::symtab::{Level, SymbolKind, Symtab};

/// Resolves address sets and port groups by name (the chassis view provides one).
pub trait SetResolver {
    /// The values of address set `name` (without the `$`), or `None` if unknown.
    fn address_set(&self, name: &str) -> Option<&[IntConst]>;
    /// The member port names of port group `name` (without the `@`), or `None` if unknown.
    fn port_group(&self, name: &str) -> Option<&[String]>;
}

/// A resolver that knows no sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSets;

impl SetResolver for NoSets {
    fn address_set(&self, _: &str) -> Option<&[IntConst]> {
        None
    }
    fn port_group(&self, _: &str) -> Option<&[String]> {
        None
    }
}

/// A resolver backed by maps; convenient for tests and the debug CLI.
#[derive(Debug, Clone, Default)]
pub struct SetTable {
    address_sets: HashMap<String, Vec<IntConst>>,
    port_groups: HashMap<String, Vec<String>>,
}

impl SetTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) address set `name`, lexing each address (`10.0.0.1`, `10.0.0.0/8`,
    /// `fe80::/64`, a MAC, an integer) as OVN does.
    pub fn add_address_set<S: AsRef<str>>(
        &mut self,
        name: &str,
        values: &[S],
    ) -> Result<(), ExprError> {
        let out = values
            .iter()
            .map(|v| crate::lex::parse_constant(v.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.address_sets.insert(name.to_owned(), out);
        Ok(())
    }

    /// Adds (or replaces) port group `name`.
    pub fn add_port_group<S: AsRef<str>>(&mut self, name: &str, ports: &[S]) {
        self.port_groups.insert(
            name.to_owned(),
            ports.iter().map(|p| p.as_ref().to_owned()).collect(),
        );
    }
}

impl SetResolver for SetTable {
    fn address_set(&self, name: &str) -> Option<&[IntConst]> {
        self.address_sets.get(name).map(Vec::as_slice)
    }
    fn port_group(&self, name: &str) -> Option<&[String]> {
        self.port_groups.get(name).map(Vec::as_slice)
    }
}

/// Runs the whole pass: [`lower`] then [`expand`].
pub fn annotate(ast: &Ast, symtab: &Symtab, sets: &dyn SetResolver) -> Result<Expr, ExprError> {
    expand(lower(ast, symtab, sets)?, symtab)
}

/// Lowers the syntax tree to an [`Expr`] over the symbols as written (see the module docs).
pub fn lower(ast: &Ast, symtab: &Symtab, sets: &dyn SetResolver) -> Result<Expr, ExprError> {
    Lowerer { symtab, sets }.lower(ast, false)
}

struct Lowerer<'a> {
    symtab: &'a Symtab,
    sets: &'a dyn SetResolver,
}

enum Val {
    Int(IntConst, Span),
    Str(String),
}

fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn sig_width(v: u128) -> u32 {
    128 - v.leading_zeros()
}

impl Lowerer<'_> {
    fn lower(&self, ast: &Ast, not: bool) -> Result<Expr, ExprError> {
        Ok(match ast {
            Ast::Cmp {
                field,
                op,
                set,
                span,
            } => {
                let is_string = set
                    .values
                    .first()
                    .is_some_and(|c| matches!(c, Const::Str(..) | Const::PortGroup(..)));
                let mut vals = Vec::with_capacity(set.values.len());
                for c in &set.values {
                    match c {
                        Const::Int(i, s) => vals.push(Val::Int(*i, *s)),
                        Const::Str(s, _) => vals.push(Val::Str(s.clone())),
                        Const::AddressSet(name, s) => {
                            let Some(values) = self.sets.address_set(name) else {
                                return Err(ExprError::new(
                                    ErrorKind::UnknownSet,
                                    format!(
                                        "Syntax error at `${name}' expecting address set name."
                                    ),
                                    Some(*s),
                                ));
                            };
                            vals.extend(values.iter().map(|v| Val::Int(*v, *s)));
                        }
                        Const::PortGroup(name, s) => {
                            let Some(ports) = self.sets.port_group(name) else {
                                return Err(ExprError::new(
                                    ErrorKind::UnknownSet,
                                    format!("Syntax error at `@{name}' expecting port group name."),
                                    Some(*s),
                                ));
                            };
                            vals.extend(ports.iter().map(|p| Val::Str(p.clone())));
                        }
                    }
                }
                self.make_cmp(field, *op, &vals, is_string, set.curlies, not, *span)?
            }
            Ast::Test(field) => {
                let zero = [Val::Int(IntConst::new(0, IntFormat::Hex), field.span)];
                self.make_cmp(field, RelOp::Ne, &zero, false, false, not, field.span)?
            }
            Ast::Bool(b, _) => Expr::Bool(*b),
            Ast::Not(e, _) => self.lower(e, !not)?.negate(),
            Ast::And(v) | Ast::Or(v) => {
                let kind = if matches!(ast, Ast::And(_)) {
                    AndOr::And
                } else {
                    AndOr::Or
                };
                let mut acc = None;
                for e in v {
                    acc = Some(Expr::combine(kind, acc, self.lower(e, not)?));
                }
                acc.unwrap_or(Expr::Bool(kind == AndOr::And))
            }
            Ast::ChassisResident(port, _) => Expr::Condition(Condition {
                port: port.clone(),
                negated: false,
            }),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn make_cmp(
        &self,
        field: &FieldRef,
        op: RelOp,
        vals: &[Val],
        is_string: bool,
        curlies: bool,
        not: bool,
        span: Span,
    ) -> Result<Expr, ExprError> {
        let sym = self.symtab.get(field.symbol);
        let err = |kind, msg: String, s: Span| Err(ExprError::new(kind, msg, Some(s)));
        if matches!(sym.kind, SymbolKind::OvnOnly) {
            return err(
                ErrorKind::Field,
                format!("Field {} may only be used in actions.", sym.name),
                field.span,
            );
        }
        let field_is_string = sym.width == 0;
        if is_string != field_is_string {
            return err(
                ErrorKind::Type,
                format!(
                    "{} field {} is not compatible with {} constant.",
                    if field_is_string { "String" } else { "Integer" },
                    sym.name,
                    if is_string { "string" } else { "integer" }
                ),
                span,
            );
        }
        for v in vals {
            if let Val::Int(c, s) = v {
                let w = match (c.mask, c.format) {
                    (Some(m), _) => sig_width(m),
                    (None, IntFormat::Decimal | IntFormat::Hex) => sig_width(c.value),
                    (None, IntFormat::Ipv4) => 32,
                    (None, IntFormat::Ipv6) => 128,
                    (None, IntFormat::Ethernet) => 48,
                };
                if w > sym.width {
                    return err(
                        ErrorKind::Type,
                        format!(
                            "{w}-bit constant is not compatible with {}-bit field {}.",
                            sym.width, sym.name
                        ),
                        *s,
                    );
                }
            }
        }
        if !matches!(op, RelOp::Eq | RelOp::Ne) {
            if curlies {
                return err(
                    ErrorKind::Type,
                    "Only == and != operators may be used with value sets.".into(),
                    span,
                );
            }
            if matches!(sym.level, Level::Nominal | Level::Boolean) {
                return err(
                    ErrorKind::Type,
                    format!(
                        "Only == and != operators may be used with {} field {}.",
                        sym.level.as_str(),
                        sym.name
                    ),
                    span,
                );
            }
            match vals.first() {
                None => {
                    return err(
                        ErrorKind::Type,
                        "Only == and != operators may be used to compare a field against an empty value set."
                            .into(),
                        span,
                    )
                }
                Some(Val::Int(c, _)) if c.mask.is_some() => {
                    return err(
                        ErrorKind::Type,
                        "Only == and != operators may be used with masked constants.  Consider using subfields \
                         instead (e.g. eth.src[0..15] > 0x1111 in place of eth.src > \
                         00:00:00:00:11:11/00:00:00:00:ff:ff)."
                            .into(),
                        span,
                    )
                }
                _ => {}
            }
        }
        if sym.level == Level::Nominal {
            if sym.is_predicate() {
                for v in vals {
                    let bit0 = matches!(v, Val::Int(c, _) if c.value & 1 == 1);
                    if !(bit0 ^ (op == RelOp::Ne) ^ not) {
                        let n = &sym.name;
                        return err(
                            ErrorKind::Type,
                            format!(
                                "Nominal predicate {n} may only be tested positively, e.g. `{n}' or `{n} == 1' \
                                 but not `!{n}' or `{n} == 0'."
                            ),
                            span,
                        );
                    }
                }
            } else if op != (if not { RelOp::Ne } else { RelOp::Eq }) {
                return err(
                    ErrorKind::Type,
                    format!(
                        "Nominal field {} may only be tested for equality (taking enclosing `!' operators into \
                         account).",
                        sym.name
                    ),
                    span,
                );
            }
        }
        if vals.is_empty() {
            return Ok(Expr::Bool(op == RelOp::Ne));
        }
        let (ofs, n_bits) = field.range(self.symtab);
        let kind = if op == RelOp::Eq {
            AndOr::Or
        } else {
            AndOr::And
        };
        let mut acc = None;
        for v in vals {
            let value = match v {
                Val::Str(s) => CmpValue::Str(s.clone()),
                Val::Int(c, _) => {
                    let m = c.mask.unwrap_or(u128::MAX) & ones(n_bits);
                    CmpValue::Int {
                        value: (c.value & m) << ofs,
                        mask: m << ofs,
                    }
                }
            };
            let e = Expr::Cmp(Cmp {
                symbol: field.symbol,
                op,
                value,
            });
            acc = Some(Expr::combine(kind, acc, e));
        }
        Ok(acc.unwrap_or(Expr::Bool(op == RelOp::Ne)))
    }
}

/// Expands subfields, predicates and prerequisites (see the module docs).
pub fn expand(expr: Expr, symtab: &Symtab) -> Result<Expr, ExprError> {
    Expander {
        symtab,
        nesting: Vec::with_capacity(4),
    }
    .expand(expr)
}

struct Expander<'a> {
    symtab: &'a Symtab,
    nesting: Vec<crate::symtab::SymbolId>,
}

impl Expander<'_> {
    fn expand(&mut self, expr: Expr) -> Result<Expr, ExprError> {
        match expr {
            Expr::Cmp(c) => self.expand_cmp(c),
            Expr::And(v) => self.expand_children(AndOr::And, v),
            Expr::Or(v) => self.expand_children(AndOr::Or, v),
            e => Ok(e),
        }
    }

    fn expand_children(&mut self, kind: AndOr, v: Vec<Expr>) -> Result<Expr, ExprError> {
        // A set of comparisons on one symbol (`ip4.src == {a, b}`) gets that symbol's
        // prerequisites once, outside the set, so that the set can become one dimension of a
        // conjunctive match.
        let first_symbol = match v.first() {
            Some(Expr::Cmp(c)) => Some(c.symbol),
            _ => None,
        };
        let hoist = v.len() >= 2
            && first_symbol.is_some_and(|sym| {
                self.symtab.get(sym).prereqs.is_some()
                    && v.iter()
                        .all(|e| matches!(e, Expr::Cmp(c) if c.symbol == sym))
            });
        let mut prereqs = None;
        let mut out = Vec::with_capacity(v.len());
        for sub in v {
            let new = match sub {
                Expr::Cmp(c) if hoist => {
                    let (e, p) = self.expand_cmp_split(c)?;
                    if prereqs.is_none() {
                        prereqs = p;
                    }
                    e
                }
                sub => self.expand(sub)?,
            };
            match (kind, new) {
                (AndOr::And, Expr::And(w)) | (AndOr::Or, Expr::Or(w)) => out.extend(w),
                (_, n) => out.push(n),
            }
        }
        let e = match kind {
            AndOr::And => Expr::And(out),
            AndOr::Or => Expr::Or(out),
        };
        Ok(match prereqs {
            Some(p) => Expr::combine(AndOr::And, Some(e), p),
            None => e,
        })
    }

    fn parse_and_expand(&mut self, text: &str) -> Result<Expr, ExprError> {
        // Expansions are cached in the symbol table, shared by every expression.
        if let Some(e) = self.symtab.cached_expansion(text) {
            return Ok(e);
        }
        let result = parse(text, self.symtab)
            .and_then(|ast| lower(&ast, self.symtab, &NoSets))
            .and_then(|e| self.expand(e));
        match result {
            Ok(e) => {
                // A successful expansion does not depend on the nesting it was reached from.
                self.symtab.cache_expansion(text, &e);
                Ok(e)
            }
            Err(inner) if inner.kind == ErrorKind::Expansion => Err(inner),
            Err(inner) => Err(ExprError::new(
                ErrorKind::Expansion,
                format!(
                    "Error parsing expression `{text}' encountered as prerequisite or predicate of initial \
                     expression: {}",
                    inner.message
                ),
                None,
            )),
        }
    }

    fn expand_cmp(&mut self, c: Cmp) -> Result<Expr, ExprError> {
        let (expr, prereqs) = self.expand_cmp_split(c)?;
        Ok(match prereqs {
            Some(p) => Expr::combine(AndOr::And, Some(expr), p),
            None => expr,
        })
    }

    /// Expands one comparison; returns it and, separately, its symbol's prerequisites.
    fn expand_cmp_split(&mut self, mut c: Cmp) -> Result<(Expr, Option<Expr>), ExprError> {
        let id = c.symbol;
        let sym = self.symtab.get(id);
        if self.nesting.contains(&id) {
            return Err(ExprError::new(
                ErrorKind::Expansion,
                format!("Recursive expansion of symbol `{}'.", sym.name),
                None,
            ));
        }
        self.nesting.push(id);
        let result = (|| {
            let prereqs = match &sym.prereqs {
                Some(p) => Some(self.parse_and_expand(p)?),
                None => None,
            };
            let expr = match &sym.kind {
                SymbolKind::Subfield { .. } => {
                    let (parent, offset) = self.symtab.resolve(id);
                    c.symbol = parent;
                    if let CmpValue::Int { value, mask } = &mut c.value {
                        *value <<= offset;
                        *mask <<= offset;
                    }
                    Expr::Cmp(c)
                }
                SymbolKind::Predicate(expansion) => {
                    let pred = self.parse_and_expand(expansion)?;
                    let bit0 = matches!(c.value, CmpValue::Int { value, .. } if value & 1 == 1);
                    if bit0 ^ (c.op == RelOp::Ne) {
                        pred
                    } else {
                        pred.negate()
                    }
                }
                _ => Expr::Cmp(c),
            };
            Ok((expr, prereqs))
        })();
        self.nesting.pop();
        result
    }
}
