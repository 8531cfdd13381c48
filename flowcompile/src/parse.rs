//! The match parser: text → [`Ast`], with OVN's grammar and error wording.
//!
//! Grammar (ovn-sb(5), Logical_Flow `match`):
//!
//! ```text
//! expr    := not (('&&' not)* | ('||' not)*)      -- mixing && and || needs parentheses
//! not     := '!' primary | primary                 -- the operand of ! must be atomic
//! primary := '(' expr ')'
//!          | 'is_chassis_resident' '(' STRING ')'
//!          | field [relop set]                     -- a bare field means `field != 0`
//!          | set relop field [relop set]           -- `1 < tcp.dst < 5` ranges
//!          | '0' | '1'                              -- false / true
//! field   := ID ['[' INT ['..' INT] ']']
//! set     := const | '{' const (','? const)* '}'
//! const   := INT | INT/MASK | STRING | $address_set | @port_group
//! ```
//!
//! Fields are checked against the symbol table here (unknown names, bad bit ranges); type and
//! width checks need address sets resolved and happen in [`crate::annotate`].
//! Nesting of parentheses and `!` is limited to [`MAX_NESTING`].

use std::fmt;

use crate::error::{ErrorKind, ExprError, Span};
use crate::lex::{quote, Ident, IntConst, IntFormat, Lexer, Token};
use crate::symtab::{Level, SymbolId, Symtab};

/// Deepest nesting of parentheses and `!` the parser accepts; deeper input fails with
/// "Expression nesting exceeds the limit of 64 levels." ([`ErrorKind::Limit`]).
pub const MAX_NESTING: usize = 64;

/// A relational operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl RelOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn turn(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            o => o,
        }
    }

    /// The logical negation (`!(a < b)` ⇔ `a >= b`).
    pub fn invert(self) -> Self {
        match self {
            Self::Eq => Self::Ne,
            Self::Ne => Self::Eq,
            Self::Lt => Self::Ge,
            Self::Le => Self::Gt,
            Self::Gt => Self::Le,
            Self::Ge => Self::Lt,
        }
    }

    fn from_token(t: &Token) -> Option<Self> {
        Some(match t {
            Token::Eq => Self::Eq,
            Token::Ne => Self::Ne,
            Token::Lt => Self::Lt,
            Token::Le => Self::Le,
            Token::Gt => Self::Gt,
            Token::Ge => Self::Ge,
            _ => return None,
        })
    }
}

impl fmt::Display for RelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to a field or a bit range of it: `reg0`, `reg0[3]`, `reg0[0..15]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The symbol.
    pub symbol: SymbolId,
    /// Its name as written.
    pub name: Ident,
    /// `[low, high]` bits if a range was written.
    pub bits: Option<(u32, u32)>,
    /// Where.
    pub span: Span,
}

impl FieldRef {
    /// `(offset, n_bits)` within the symbol (whole symbol when no range was written).
    pub fn range(&self, symtab: &Symtab) -> (u32, u32) {
        match self.bits {
            Some((lo, hi)) => (lo, hi - lo + 1),
            None => (0, symtab.get(self.symbol).width),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match self.bits {
            Some((lo, hi)) if lo == hi => write!(f, "[{lo}]"),
            Some((lo, hi)) => write!(f, "[{lo}..{hi}]"),
            None => Ok(()),
        }
    }
}

/// One constant of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Const {
    /// An integer, possibly masked.
    Int(IntConst, Span),
    /// A string.
    Str(String, Span),
    /// `$name`
    AddressSet(String, Span),
    /// `@name`
    PortGroup(String, Span),
}

impl Const {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            Self::Int(_, s) | Self::Str(_, s) | Self::AddressSet(_, s) | Self::PortGroup(_, s) => {
                *s
            }
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, Self::Str(..) | Self::PortGroup(..))
    }
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i, _) => write!(f, "{i}"),
            Self::Str(s, _) => f.write_str(&quote(s)),
            Self::AddressSet(s, _) => write!(f, "${s}"),
            Self::PortGroup(s, _) => write!(f, "@{s}"),
        }
    }
}

/// A constant or a `{...}` set of constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstSet {
    /// The constants (never empty as written).
    pub values: Vec<Const>,
    /// Written with `{}`.
    pub curlies: bool,
    /// Where.
    pub span: Span,
}

impl fmt::Display for ConstSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let curlies = self.curlies || self.values.len() != 1;
        if curlies {
            f.write_str("{")?;
        }
        for (i, c) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        if curlies {
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// The syntax tree of a match expression, as written (sets unresolved, predicates unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    /// `field relop set`
    Cmp {
        /// The field.
        field: FieldRef,
        /// The operator.
        op: RelOp,
        /// The constants.
        set: ConstSet,
        /// Where.
        span: Span,
    },
    /// A bare field, meaning `field != 0` (for predicates and 1-bit fields: "is true").
    Test(FieldRef),
    /// `1` or `0`.
    Bool(bool, Span),
    /// `!operand`
    Not(Box<Self>, Span),
    /// `a && b && ...`
    And(Vec<Self>),
    /// `a || b || ...`
    Or(Vec<Self>),
    /// `is_chassis_resident("port")`
    ChassisResident(String, Span),
}

impl Ast {
    /// The span covered by this node.
    pub fn span(&self) -> Span {
        match self {
            Self::Cmp { span, .. }
            | Self::Bool(_, span)
            | Self::Not(_, span)
            | Self::ChassisResident(_, span) => *span,
            Self::Test(f) => f.span,
            Self::And(v) | Self::Or(v) => match (v.first(), v.last()) {
                (Some(a), Some(b)) => a.span().to(b.span()),
                _ => Span::default(),
            },
        }
    }
}

impl Ast {
    /// The `$address_set` and `@port_group` names this expression references, each once, in
    /// first-use order (for incremental recompilation when a set changes).
    pub fn set_references(&self) -> (Vec<&str>, Vec<&str>) {
        fn walk<'a>(a: &'a Ast, sets: &mut Vec<&'a str>, groups: &mut Vec<&'a str>) {
            match a {
                Ast::Cmp { set, .. } => {
                    for c in &set.values {
                        match c {
                            Const::AddressSet(n, _) if !sets.contains(&n.as_str()) => sets.push(n),
                            Const::PortGroup(n, _) if !groups.contains(&n.as_str()) => {
                                groups.push(n)
                            }
                            _ => {}
                        }
                    }
                }
                Ast::Not(e, _) => walk(e, sets, groups),
                Ast::And(v) | Ast::Or(v) => v.iter().for_each(|e| walk(e, sets, groups)),
                Ast::Test(_) | Ast::Bool(..) | Ast::ChassisResident(..) => {}
            }
        }
        let (mut sets, mut groups) = (Vec::new(), Vec::new());
        walk(self, &mut sets, &mut groups);
        (sets, groups)
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cmp { field, op, set, .. } => write!(f, "{field} {op} {set}"),
            Self::Test(field) => write!(f, "{field}"),
            Self::Bool(b, _) => f.write_str(if *b { "1" } else { "0" }),
            Self::Not(e, _) => match **e {
                Self::Test(_) | Self::Bool(..) | Self::ChassisResident(..) => write!(f, "!{e}"),
                _ => write!(f, "!({e})"),
            },
            Self::And(v) | Self::Or(v) => {
                let op = if matches!(self, Self::And(_)) {
                    " && "
                } else {
                    " || "
                };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    if matches!(e, Self::And(_) | Self::Or(_)) {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            Self::ChassisResident(p, _) => write!(f, "is_chassis_resident({})", quote(p)),
        }
    }
}

/// Parses a complete match expression.
pub fn parse(input: &str, symtab: &Symtab) -> Result<Ast, ExprError> {
    let mut lexer = Lexer::new(input);
    let ast = parse_expr(&mut lexer, symtab)?;
    lexer.expect_end()?;
    Ok(ast)
}

/// Parses one expression from `lexer`, leaving the cursor after it (for the action parser,
/// which embeds match expressions).
pub fn parse_expr(lexer: &mut Lexer<'_>, symtab: &Symtab) -> Result<Ast, ExprError> {
    Parser {
        lx: lexer,
        symtab,
        not: false,
        depth: 0,
    }
    .expr()
}

/// Parses a field reference from `lexer` (for the action parser's lvalues and rvalues).
pub fn parse_field(lexer: &mut Lexer<'_>, symtab: &Symtab) -> Result<FieldRef, ExprError> {
    Parser {
        lx: lexer,
        symtab,
        not: false,
        depth: 0,
    }
    .field()
}

/// Parses a constant or `{...}` set from `lexer` (for the action parser).
pub fn parse_const_set(lexer: &mut Lexer<'_>) -> Result<ConstSet, ExprError> {
    let symtab = Symtab::ovn();
    Parser {
        lx: lexer,
        symtab,
        not: false,
        depth: 0,
    }
    .const_set()
}

struct Parser<'a, 'b> {
    lx: &'a mut Lexer<'b>,
    symtab: &'a Symtab,
    not: bool,
    depth: usize,
}

impl Parser<'_, '_> {
    fn expr(&mut self) -> Result<Ast, ExprError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ExprError::new(
                ErrorKind::Limit,
                format!("Expression nesting exceeds the limit of {MAX_NESTING} levels."),
                Some(self.lx.span()),
            ));
        }
        let first = self.not_expr()?;
        let op = match self.lx.peek() {
            Token::And => Token::And,
            Token::Or => Token::Or,
            _ => Token::End,
        };
        let result = if op == Token::And || op == Token::Or {
            let mut v = vec![first];
            while self.lx.eat(&op) {
                v.push(self.not_expr()?);
            }
            if matches!(self.lx.peek(), Token::And | Token::Or) {
                let span = self.lx.span();
                return Err(self.lx.error(
                    ErrorKind::Syntax,
                    "&& and || must be parenthesized when used together.",
                    span,
                ));
            }
            if op == Token::And {
                Ast::And(v)
            } else {
                Ast::Or(v)
            }
        } else {
            first
        };
        self.depth -= 1;
        Ok(result)
    }

    fn not_expr(&mut self) -> Result<Ast, ExprError> {
        let start = self.lx.span();
        if self.lx.eat(&Token::Not) {
            self.depth += 1;
            if self.depth > MAX_NESTING {
                return Err(ExprError::new(
                    ErrorKind::Limit,
                    format!("Expression nesting exceeds the limit of {MAX_NESTING} levels."),
                    Some(start),
                ));
            }
            self.not = !self.not;
            let (e, atomic) = self.primary()?;
            self.not = !self.not;
            self.depth -= 1;
            if !atomic {
                let span = self.lx.span();
                return Err(self.lx.error(
                    ErrorKind::Syntax,
                    "Missing parentheses around operand of !.",
                    span,
                ));
            }
            let span = start.to(e.span());
            Ok(Ast::Not(Box::new(e), span))
        } else {
            Ok(self.primary()?.0)
        }
    }

    fn primary(&mut self) -> Result<(Ast, bool), ExprError> {
        let start = self.lx.span();
        if self.lx.eat(&Token::LParen) {
            let e = self.expr()?;
            self.lx.expect(&Token::RParen)?;
            return Ok((e, true));
        }
        if let Token::Id(id) = self.lx.peek() {
            if *self.lx.lookahead() == Token::LParen {
                if id == "is_chassis_resident" {
                    self.lx.advance();
                    self.lx.advance();
                    let Token::Str(port) = self.lx.peek().clone() else {
                        return Err(self.lx.syntax_error("expecting string"));
                    };
                    self.lx.advance();
                    let end = self.lx.span();
                    self.lx.expect(&Token::RParen)?;
                    return Ok((Ast::ChassisResident(port, start.to(end)), true));
                }
                return Err(self
                    .lx
                    .error(ErrorKind::Syntax, "parsing function name", start));
            }
            let field = self.field()?;
            let Some(op) = RelOp::from_token(self.lx.peek()) else {
                let n_bits = field.range(self.symtab).1;
                if n_bits == 0 || *self.lx.peek() == Token::Equals {
                    return Err(self.lx.syntax_error("expecting relational operator"));
                } else if n_bits > 1 && !self.not {
                    let span = self.lx.span();
                    return Err(self.lx.error(
                        ErrorKind::Syntax,
                        "Explicit `!= 0' is required for inequality test of multibit field against 0.",
                        span,
                    ));
                }
                return Ok((Ast::Test(field), true));
            };
            self.lx.advance();
            let set = self.const_set()?;
            let span = field.span.to(set.span);
            return Ok((
                Ast::Cmp {
                    field,
                    op,
                    set,
                    span,
                },
                false,
            ));
        }

        let c1 = self.const_set()?;
        if RelOp::from_token(self.lx.peek()).is_none() && !c1.curlies && c1.values.len() == 1 {
            if let Const::Int(
                IntConst {
                    value,
                    mask: None,
                    format: IntFormat::Decimal,
                },
                span,
            ) = c1.values[0]
            {
                if value <= 1 {
                    return Ok((Ast::Bool(value == 1, span), true));
                }
            }
        }
        let r1 = self.relop()?;
        let field = self.field()?;
        let Some(r2) = RelOp::from_token(self.lx.peek()) else {
            let span = c1.span.to(field.span);
            return Ok((
                Ast::Cmp {
                    field,
                    op: r1.turn(),
                    set: c1,
                    span,
                },
                false,
            ));
        };
        self.lx.advance();
        let c2 = self.const_set()?;
        let lt = |r: RelOp| matches!(r, RelOp::Lt | RelOp::Le);
        let gt = |r: RelOp| matches!(r, RelOp::Gt | RelOp::Ge);
        if !((lt(r1) && lt(r2)) || (gt(r1) && gt(r2))) {
            return Err(self.lx.error(
                ErrorKind::Syntax,
                "Range expressions must have the form `x < field < y' or `x > field > y', with each `<' \
                 optionally replaced by `<=' or `>' by `>=').",
                c1.span.to(c2.span),
            ));
        }
        let s1 = c1.span.to(field.span);
        let s2 = field.span.to(c2.span);
        let e1 = Ast::Cmp {
            field: field.clone(),
            op: r1.turn(),
            set: c1,
            span: s1,
        };
        let e2 = Ast::Cmp {
            field,
            op: r2,
            set: c2,
            span: s2,
        };
        Ok((Ast::And(vec![e1, e2]), false))
    }

    fn relop(&mut self) -> Result<RelOp, ExprError> {
        match RelOp::from_token(self.lx.peek()) {
            Some(r) => {
                self.lx.advance();
                Ok(r)
            }
            None => Err(self.lx.syntax_error("expecting relational operator")),
        }
    }

    fn field(&mut self) -> Result<FieldRef, ExprError> {
        let start = self.lx.span();
        let Token::Id(name) = self.lx.peek() else {
            return Err(self.lx.syntax_error("expecting field name"));
        };
        let Some(symbol) = self.symtab.lookup_bytes(name.as_bytes()) else {
            return Err(self.lx.syntax_error("expecting field name"));
        };
        let name = name.clone();
        self.lx.advance();
        let sym = self.symtab.get(symbol);
        let mut bits = None;
        let mut end = start;
        if self.lx.eat(&Token::LSquare) {
            if sym.width == 0 {
                return Err(self.lx.error(
                    ErrorKind::Field,
                    format!("Cannot select subfield of string field {}.", sym.name),
                    start,
                ));
            }
            let low = self.lx.expect_small_int()?;
            let high = if self.lx.eat(&Token::Ellipsis) {
                self.lx.expect_small_int()?
            } else {
                low
            };
            end = self.lx.span();
            self.lx.expect(&Token::RSquare)?;
            let span = start.to(end);
            if low > high {
                return Err(self.lx.error(
                    ErrorKind::Field,
                    format!("Invalid bit range {low} to {high}."),
                    span,
                ));
            } else if high >= sym.width {
                return Err(self.lx.error(
                    ErrorKind::Field,
                    format!(
                        "Cannot select bits {low} to {high} of {}-bit field {}.",
                        sym.width, sym.name
                    ),
                    span,
                ));
            } else if sym.level == Level::Nominal && (low != 0 || high != sym.width - 1) {
                return Err(self.lx.error(
                    ErrorKind::Field,
                    format!("Cannot select subfield of nominal field {}.", sym.name),
                    span,
                ));
            }
            bits = Some((low, high));
        }
        Ok(FieldRef {
            symbol,
            name,
            bits,
            span: start.to(end),
        })
    }

    fn constant(&mut self, values: &mut Vec<Const>) -> Result<(), ExprError> {
        let span = self.lx.span();
        let c = match self.lx.peek() {
            Token::Str(s) => Const::Str(s.clone(), span),
            Token::Int(i) => Const::Int(*i, span),
            Token::AddressSet(s) => Const::AddressSet(s.clone(), span),
            Token::PortGroup(s) => Const::PortGroup(s.clone(), span),
            _ => return Err(self.lx.syntax_error("expecting constant")),
        };
        if let Some(first) = values.first() {
            if first.is_string() != c.is_string() {
                let want = if first.is_string() {
                    "expecting string"
                } else {
                    "expecting integer"
                };
                return Err(self.lx.syntax_error(want));
            }
        }
        self.lx.advance();
        values.push(c);
        Ok(())
    }

    fn const_set(&mut self) -> Result<ConstSet, ExprError> {
        let start = self.lx.span();
        let mut values = Vec::new();
        if self.lx.eat(&Token::LCurly) {
            loop {
                self.constant(&mut values)?;
                self.lx.eat(&Token::Comma);
                let end = self.lx.span();
                if self.lx.eat(&Token::RCurly) {
                    return Ok(ConstSet {
                        values,
                        curlies: true,
                        span: start.to(end),
                    });
                }
            }
        }
        self.constant(&mut values)?;
        Ok(ConstSet {
            values,
            curlies: false,
            span: start,
        })
    }
}
