//! The action parser: text → [`Actions`], with OVN's grammar, checks and error wording.
//!
//! It reuses the match language's lexer ([`crate::lex::Lexer`]) and field/constant parsers
//! ([`crate::parse::parse_field`], [`crate::parse::parse_const_set`]).  Type checks happen
//! here (writability, string vs integer, widths, option types), so an [`Actions`] that
//! parsed can always be encoded.  Nesting of `{ ... }` blocks is limited to
//! [`MAX_NESTING`](super::MAX_NESTING) and the number of actions to
//! [`MAX_ACTIONS`](super::MAX_ACTIONS).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ast::*;
use super::options::{OptTable, OptType};
use super::{ParseContext, MAX_ACTIONS, MAX_NESTING};
use crate::error::{ErrorKind, ExprError, Span};
use crate::lex::{IntConst, IntFormat, Lexer, Token};
use crate::parse::{parse_const_set, parse_field, Const, FieldRef};
use crate::symtab::{Symtab, Write};

/// What an action argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// A string (port) field.
    Str,
    /// A numeric field of exactly this many bits.
    Bits(u32),
    /// A numeric field of at least this many bits.
    AtLeast(u32),
}

pub(super) struct Parser<'a, 'b> {
    lx: Lexer<'b>,
    ctx: &'a ParseContext<'a>,
    depth: usize,
    count: usize,
    in_ct_commit: bool,
    /// Prerequisites gathered so far, and whether the current block contributes to them.
    prereqs: Vec<String>,
    collect: bool,
    dhcpv4: &'a OptTable,
    dhcpv6: &'a OptTable,
    nd_ra: &'a OptTable,
}

fn is_int(t: &Token) -> bool {
    matches!(t, Token::Int(_))
}

impl<'a, 'b> Parser<'a, 'b> {
    pub(super) fn new(
        input: &'b str,
        ctx: &'a ParseContext<'a>,
        tables: (&'a OptTable, &'a OptTable, &'a OptTable),
    ) -> Self {
        Self {
            lx: Lexer::new(input),
            ctx,
            depth: 0,
            count: 0,
            in_ct_commit: false,
            prereqs: Vec::new(),
            collect: true,
            dhcpv4: tables.0,
            dhcpv6: tables.1,
            nd_ra: tables.2,
        }
    }

    pub(super) fn parse_all(&mut self) -> Result<Actions, ExprError> {
        let actions = self.list(false)?;
        self.lx.expect_end()?;
        Ok(Actions {
            actions,
            prereqs: std::mem::take(&mut self.prereqs),
        })
    }

    fn err(&self, kind: ErrorKind, msg: impl Into<String>, span: Span) -> ExprError {
        self.lx.error(kind, msg, span)
    }

    fn syntax(&self, msg: &str) -> ExprError {
        self.lx.syntax_error(msg)
    }

    fn peek_id(&self, id: &str) -> bool {
        matches!(self.lx.peek(), Token::Id(s) if s == id)
    }

    fn list(&mut self, nested: bool) -> Result<Vec<Action>, ExprError> {
        // Room for the actions of most lists at once (growing from 4 to 8 moves them).
        let mut v = Vec::with_capacity(8);
        loop {
            match self.lx.peek() {
                Token::End if !nested => break,
                Token::RCurly if nested => break,
                _ => {}
            }
            if v.is_empty() && self.peek_id("drop") && *self.lx.lookahead() == Token::Semicolon {
                self.lx.advance();
                self.lx.advance();
                if nested {
                    if *self.lx.peek() != Token::RCurly {
                        return Err(self.syntax("expecting `}'"));
                    }
                } else {
                    self.lx.expect_end()?;
                }
                return Ok(v);
            }
            self.count += 1;
            if self.count > MAX_ACTIONS {
                return Err(self.err(
                    ErrorKind::Limit,
                    format!("Action list exceeds the limit of {MAX_ACTIONS} actions."),
                    self.lx.span(),
                ));
            }
            let a = self.action()?;
            v.push(a);
            self.lx.expect(&Token::Semicolon)?;
        }
        Ok(v)
    }

    fn action(&mut self) -> Result<Action, ExprError> {
        if !matches!(self.lx.peek(), Token::Id(_)) {
            return Err(self.syntax(""));
        }
        if matches!(
            self.lx.lookahead(),
            Token::Equals | Token::Exchange | Token::LSquare
        ) {
            return self.assignment();
        }
        let Token::Id(name) = self.lx.peek().clone() else {
            return Err(self.syntax(""));
        };
        if let Some(kind) = NestedKind::ALL.iter().find(|k| name == k.name()) {
            self.lx.advance();
            self.add_prereq(nested_prereq(*kind));
            let saved = self.collect;
            self.collect = saved && *kind == NestedKind::Clone;
            let actions = self.nested_block()?;
            self.collect = saved;
            return Ok(Action::Nested {
                kind: *kind,
                actions,
            });
        }
        if !is_action_name(&name) {
            return Err(self.syntax("expecting action"));
        }
        if name.starts_with("ct_") && name != "ct_clear" && name != "ct_snat_to_vip" {
            self.add_prereq(Some("ip"));
        }
        self.lx.advance();
        Ok(match name.as_str() {
            "next" => self.next()?,
            "output" => Action::Output,
            "ip.ttl" => {
                if !self.lx.eat(&Token::Decrement) {
                    return Err(self.syntax("expecting `--'"));
                }
                self.add_prereq(Some("ip"));
                Action::DecTtl
            }
            "ct_next" => Action::CtNext,
            "ct_commit" => self.ct_commit()?,
            "ct_commit_nat" => Action::CtCommitNat,
            "ct_dnat" => self.ct_nat(CtNatKind::Dnat)?,
            "ct_snat" => self.ct_nat(CtNatKind::Snat)?,
            "ct_dnat_in_czone" => self.ct_nat(CtNatKind::DnatInCzone)?,
            "ct_snat_in_czone" => self.ct_nat(CtNatKind::SnatInCzone)?,
            "ct_lb" => self.ct_lb(false)?,
            "ct_lb_mark" => self.ct_lb(true)?,
            "ct_clear" => Action::CtClear,
            "ct_snat_to_vip" => Action::CtSnatToVip,
            "get_arp" | "get_nd" => {
                let family = if name == "get_arp" {
                    Family::V4
                } else {
                    Family::V6
                };
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let ip = self.arg(Need::Bits(ip_bits(family)))?;
                self.lx.expect(&Token::RParen)?;
                Action::GetMac { family, port, ip }
            }
            "put_arp" | "put_nd" => {
                let family = if name == "put_arp" {
                    Family::V4
                } else {
                    Family::V6
                };
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let ip = self.arg(Need::Bits(ip_bits(family)))?;
                self.lx.expect(&Token::Comma)?;
                let mac = self.arg(Need::Bits(48))?;
                self.lx.expect(&Token::RParen)?;
                Action::PutMac {
                    family,
                    port,
                    ip,
                    mac,
                }
            }
            "put_fdb" => {
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let mac = self.arg(Need::Bits(48))?;
                self.lx.expect(&Token::RParen)?;
                Action::PutFdb { port, mac }
            }
            "push" | "pop" => {
                self.lx.expect(&Token::LParen)?;
                let f = if name == "pop" {
                    self.lvalue()?
                } else {
                    self.rvalue()?
                };
                self.lx.expect(&Token::RParen)?;
                if name == "push" {
                    Action::Push(f)
                } else {
                    Action::Pop(f)
                }
            }
            "log" => self.log()?,
            "set_queue" => {
                self.lx.expect(&Token::LParen)?;
                let span = self.lx.span();
                let q = self.lx.expect_small_int()?;
                if q > 61440 {
                    return Err(self.err(
                        ErrorKind::Type,
                        format!("Queue ID {q} for set_queue is not in valid range 0 to 61440."),
                        span,
                    ));
                }
                self.lx.expect(&Token::RParen)?;
                Action::SetQueue(q as u16)
            }
            "set_meter" => {
                self.lx.expect(&Token::LParen)?;
                let span = self.lx.span();
                let rate = self.u32_arg()?;
                if rate == 0 {
                    return Err(self.err(
                        ErrorKind::Type,
                        "Rate 0 for set_meter is not in valid.",
                        span,
                    ));
                }
                let burst = if self.lx.eat(&Token::Comma) {
                    Some(self.u32_arg()?)
                } else {
                    None
                };
                self.lx.expect(&Token::RParen)?;
                Action::SetMeter { rate, burst }
            }
            "trigger_event" => self.trigger_event()?,
            "bind_vport" => {
                self.lx.expect(&Token::LParen)?;
                let Token::Str(vport) = self.lx.peek().clone() else {
                    return Err(self.syntax("expecting port name string"));
                };
                self.lx.advance();
                self.lx.expect(&Token::Comma)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::RParen)?;
                Action::BindVport { vport, port }
            }
            "handle_svc_check" => {
                self.lx.expect(&Token::LParen)?;
                let p = self.arg(Need::Str)?;
                self.lx.expect(&Token::RParen)?;
                Action::HandleSvcCheck(p)
            }
            "handle_dhcpv6_reply" => Action::HandleDhcpv6Reply,
            "handle_bfd_msg" => {
                self.lx.expect(&Token::LParen)?;
                self.lx.expect(&Token::RParen)?;
                Action::HandleBfdMsg
            }
            "igmp" => Action::Igmp,
            "commit_lb_aff" => self.commit_lb_aff()?,
            "commit_ecmp_nh" => self.commit_ecmp_nh()?,
            "fwd_group" => self.fwd_group()?,
            "sample" => self.sample()?,
            _ => return Err(ExprError::new(ErrorKind::Syntax, "unreachable", None)),
        })
    }

    fn nested_block(&mut self) -> Result<Vec<Action>, ExprError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(
                ErrorKind::Limit,
                format!("Action nesting exceeds the limit of {MAX_NESTING} levels."),
                self.lx.span(),
            ));
        }
        self.lx.expect(&Token::LCurly)?;
        let saved = self.in_ct_commit;
        self.in_ct_commit = false;
        let v = self.list(true)?;
        self.in_ct_commit = saved;
        self.lx.expect(&Token::RCurly)?;
        self.depth -= 1;
        Ok(v)
    }

    fn next(&mut self) -> Result<Action, ExprError> {
        let src_pipeline = self.ctx.pipeline;
        let src_table = self.ctx.table;
        let mut pipeline = src_pipeline;
        let mut table = u32::from(src_table) + 1;
        if self.lx.eat(&Token::LParen) {
            if is_int(self.lx.peek()) {
                let span = self.lx.span();
                table = self.lx.expect_small_int()?;
                self.check_table(table, span)?;
            } else {
                loop {
                    if self.lx.eat_id("pipeline") {
                        self.lx.expect(&Token::Equals)?;
                        if self.lx.eat_id("ingress") {
                            pipeline = Pipeline::Ingress;
                        } else if self.lx.eat_id("egress") {
                            pipeline = Pipeline::Egress;
                        } else {
                            return Err(self.syntax("expecting \"ingress\" or \"egress\""));
                        }
                    } else if self.lx.eat_id("table") {
                        self.lx.expect(&Token::Equals)?;
                        let span = self.lx.span();
                        table = self.lx.expect_small_int()?;
                        self.check_table(table, span)?;
                    } else {
                        return Err(self.syntax("expecting \"pipeline\" or \"table\""));
                    }
                    if !self.lx.eat(&Token::Comma) {
                        break;
                    }
                }
            }
            self.lx.expect(&Token::RParen)?;
        }
        if table >= u32::from(self.ctx.n_tables) {
            return Err(self.err(
                ErrorKind::Type,
                format!(
                    "\"next\" action cannot advance beyond table {}.",
                    self.ctx.n_tables.saturating_sub(1)
                ),
                self.lx.span(),
            ));
        }
        Ok(Action::Next {
            pipeline,
            table: table as u8,
            src_pipeline,
            src_table,
        })
    }

    fn check_table(&self, table: u32, span: Span) -> Result<(), ExprError> {
        if table >= u32::from(self.ctx.n_tables) {
            return Err(self.err(
                ErrorKind::Type,
                format!(
                    "\"next\" action cannot advance beyond table {}.",
                    self.ctx.n_tables.saturating_sub(1)
                ),
                span,
            ));
        }
        Ok(())
    }

    fn ct_commit(&mut self) -> Result<Action, ExprError> {
        if *self.lx.peek() != Token::LCurly {
            if *self.lx.peek() != Token::Semicolon {
                return Err(self.syntax("expecting `;'"));
            }
            return Ok(Action::CtCommit(Vec::new()));
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(
                ErrorKind::Limit,
                format!("Action nesting exceeds the limit of {MAX_NESTING} levels."),
                self.lx.span(),
            ));
        }
        self.lx.advance();
        let saved = self.in_ct_commit;
        self.in_ct_commit = true;
        let v = self.list(true)?;
        self.in_ct_commit = saved;
        self.lx.expect(&Token::RCurly)?;
        self.depth -= 1;
        for a in &v {
            if !matches!(a, Action::Load { .. } | Action::Move { .. }) {
                return Err(self.err(
                    ErrorKind::Syntax,
                    "ct_commit accepts only assignments to ct_mark and ct_label.",
                    self.lx.span(),
                ));
            }
        }
        Ok(Action::CtCommit(v))
    }

    fn ip_const(&mut self, expect: &str) -> Result<IpAddr, ExprError> {
        match self.lx.peek() {
            Token::Int(IntConst {
                value,
                mask: None,
                format: IntFormat::Ipv4,
            }) => {
                let a = IpAddr::V4(Ipv4Addr::from(*value as u32));
                self.lx.advance();
                Ok(a)
            }
            Token::Int(IntConst {
                value,
                mask: None,
                format: IntFormat::Ipv6,
            }) => {
                let a = IpAddr::V6(Ipv6Addr::from(*value));
                self.lx.advance();
                Ok(a)
            }
            _ => Err(self.syntax(expect)),
        }
    }

    fn port_num(&mut self, expect: &str) -> Result<u16, ExprError> {
        if let Token::Int(IntConst {
            value,
            mask: None,
            format: IntFormat::Decimal,
        }) = self.lx.peek()
        {
            if let Ok(p) = u16::try_from(*value) {
                self.lx.advance();
                return Ok(p);
            }
        }
        Err(self.syntax(expect))
    }

    fn ct_nat(&mut self, kind: CtNatKind) -> Result<Action, ExprError> {
        if !self.lx.eat(&Token::LParen) {
            return Ok(Action::CtNat {
                kind,
                ip: None,
                ports: None,
            });
        }
        let ip = self.ip_const("expecting IPv4 or IPv6 address")?;
        let mut ports = None;
        if self.lx.eat(&Token::Comma) {
            let lo = self.port_num("expecting Integer for port range")?;
            let mut hi = lo;
            if self.lx.eat(&Token::Hyphen) {
                let span = self.lx.span();
                hi = self.port_num("expecting Integer for port range")?;
                if hi <= lo {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        format!(
                            "Syntax error at `{}' range high should be greater than range low.",
                            &self.lx.input()[span.start..span.end]
                        ),
                        span,
                    ));
                }
            }
            ports = Some((lo, hi));
        }
        self.lx.expect(&Token::RParen)?;
        Ok(Action::CtNat {
            kind,
            ip: Some(ip),
            ports,
        })
    }

    fn backend(&mut self) -> Result<Backend, ExprError> {
        if self.lx.eat(&Token::LSquare) {
            let ip = match self.lx.peek() {
                Token::Int(IntConst {
                    value,
                    mask: None,
                    format: IntFormat::Ipv6,
                }) => IpAddr::V6(Ipv6Addr::from(*value)),
                _ => return Err(self.syntax("expecting IPv6 address")),
            };
            self.lx.advance();
            self.lx.expect(&Token::RSquare)?;
            let port = if self.lx.eat(&Token::Colon) {
                Some(self.port_num("expecting port number")?)
            } else {
                None
            };
            return Ok(Backend { ip, port });
        }
        let ip = self.ip_const("expecting IP address")?;
        let port = if ip.is_ipv4() && self.lx.eat(&Token::Colon) {
            Some(self.port_num("expecting port number")?)
        } else {
            None
        };
        Ok(Backend { ip, port })
    }

    fn ct_lb(&mut self, mark: bool) -> Result<Action, ExprError> {
        let mut lb = CtLb {
            mark,
            backends: Vec::new(),
            hash_fields: None,
            flag: None,
        };
        if !self.lx.eat(&Token::LParen) {
            return Ok(Action::CtLb(lb));
        }
        if self.lx.eat(&Token::RParen) {
            return Ok(Action::CtLb(lb));
        }
        if !self.lx.eat_id("backends") || !self.lx.eat(&Token::Equals) {
            return Err(self.syntax("expecting backends"));
        }
        loop {
            lb.backends.push(self.backend()?);
            if lb.backends.len() > super::MAX_LIST {
                return Err(self.err(ErrorKind::Limit, "Too many backends.", self.lx.span()));
            }
            self.lx.eat(&Token::Comma);
            if matches!(self.lx.peek(), Token::Semicolon | Token::RParen) {
                break;
            }
        }
        while self.lx.eat(&Token::Semicolon) {
            if self.lx.eat_id("hash_fields") {
                self.lx.expect(&Token::Equals)?;
                let Token::Str(h) = self.lx.peek().clone() else {
                    return Err(self.syntax("invalid hash_fields"));
                };
                self.lx.advance();
                lb.hash_fields = Some(h);
            } else if self.lx.eat_id("skip_snat") {
                lb.flag = Some(CtLbFlag::SkipSnat);
            } else if self.lx.eat_id("force_snat") {
                lb.flag = Some(CtLbFlag::ForceSnat);
            } else {
                return Err(self.syntax("expecting hash_fields or a flag"));
            }
        }
        self.lx.expect(&Token::RParen)?;
        Ok(Action::CtLb(lb))
    }

    fn add_prereq(&mut self, p: Option<&str>) {
        if let Some(p) = p {
            if self.collect && !self.prereqs.iter().any(|q| q == p) {
                self.prereqs.push(p.to_owned());
            }
        }
    }

    /// Parses a field and normalizes a range that covers the whole symbol to no range.
    fn field(&mut self) -> Result<FieldRef, ExprError> {
        let symtab: &'a Symtab = self.ctx.symtab;
        let mut f = parse_field(&mut self.lx, symtab)?;
        let mut id = f.symbol;
        loop {
            let sym = symtab.get(id);
            self.add_prereq(sym.prereqs.as_deref());
            match sym.kind {
                crate::symtab::SymbolKind::Subfield { parent, .. } => id = parent,
                _ => break,
            }
        }
        let width = self.ctx.symtab.get(f.symbol).width;
        if let Some((lo, hi)) = f.bits {
            if lo == 0 && hi + 1 == width {
                f.bits = None;
            }
        }
        Ok(f)
    }

    fn check_not_predicate(&self, f: &FieldRef) -> Result<(), ExprError> {
        let sym = self.ctx.symtab.get(f.symbol);
        if sym.is_predicate() {
            return Err(self.err(
                ErrorKind::Field,
                format!("Predicate symbol {} used where lvalue required.", sym.name),
                f.span,
            ));
        }
        Ok(())
    }

    fn lvalue(&mut self) -> Result<FieldRef, ExprError> {
        let f = self.field()?;
        self.check_not_predicate(&f)?;
        let sym = self.ctx.symtab.get(f.symbol);
        let ok = match sym.write {
            Write::Yes => !self.in_ct_commit,
            Write::CtCommit => self.in_ct_commit,
            Write::No => false,
        };
        if !ok {
            return Err(self.err(
                ErrorKind::Field,
                format!("Field {} is not modifiable.", sym.name),
                f.span,
            ));
        }
        Ok(f)
    }

    fn rvalue(&mut self) -> Result<FieldRef, ExprError> {
        let f = self.field()?;
        self.check_not_predicate(&f)?;
        Ok(f)
    }

    fn n_bits(&self, f: &FieldRef) -> u32 {
        f.range(self.ctx.symtab).1
    }

    fn is_string(&self, f: &FieldRef) -> bool {
        self.ctx.symtab.get(f.symbol).is_string()
    }

    fn explicit(&self, f: &FieldRef) -> String {
        let (ofs, n) = f.range(self.ctx.symtab);
        format!("{}[{}..{}]", f.name, ofs, ofs + n.max(1) - 1)
    }

    fn check_arg(&self, f: &FieldRef, need: Need) -> Result<(), ExprError> {
        let name = &self.ctx.symtab.get(f.symbol).name;
        match need {
            Need::Str if !self.is_string(f) => Err(self.err(
                ErrorKind::Type,
                format!("Cannot use numeric field {name} where string field is required."),
                f.span,
            )),
            Need::Bits(_) | Need::AtLeast(_) if self.is_string(f) => Err(self.err(
                ErrorKind::Type,
                format!("Cannot use string field {name} where numeric field is required."),
                f.span,
            )),
            Need::Bits(n) if self.n_bits(f) != n => Err(self.err(
                ErrorKind::Type,
                format!(
                    "Cannot use {}-bit field {} where {n}-bit field is required.",
                    self.n_bits(f),
                    self.explicit(f)
                ),
                f.span,
            )),
            Need::AtLeast(n) if self.n_bits(f) < n => Err(self.err(
                ErrorKind::Type,
                format!(
                    "cannot use {}-bit field {} for \"select\", which requires at least {n} bits.",
                    self.n_bits(f),
                    self.explicit(f)
                ),
                f.span,
            )),
            _ => Ok(()),
        }
    }

    fn arg(&mut self, need: Need) -> Result<FieldRef, ExprError> {
        let f = self.rvalue()?;
        self.check_arg(&f, need)?;
        Ok(f)
    }

    fn u32_arg(&mut self) -> Result<u32, ExprError> {
        if let Token::Int(IntConst {
            value,
            mask: None,
            format: IntFormat::Decimal,
        }) = self.lx.peek()
        {
            if let Ok(v) = u32::try_from(*value) {
                self.lx.advance();
                return Ok(v);
            }
        }
        Err(self.syntax("expecting integer"))
    }

    fn assignment(&mut self) -> Result<Action, ExprError> {
        let dst = self.lvalue()?;
        if self.lx.eat(&Token::Exchange) {
            let b = self.lvalue()?;
            let (sa, sb) = (self.is_string(&dst), self.is_string(&b));
            let (na, nb) = (
                &self.ctx.symtab.get(dst.symbol).name,
                &self.ctx.symtab.get(b.symbol).name,
            );
            if sa != sb {
                let (s, i) = if sa { (na, nb) } else { (nb, na) };
                return Err(self.err(
                    ErrorKind::Type,
                    format!("Can't exchange string field ({s}) with integer field ({i})."),
                    b.span,
                ));
            }
            if !sa && self.n_bits(&dst) != self.n_bits(&b) {
                return Err(self.err(
                    ErrorKind::Type,
                    format!(
                        "Can't exchange {}-bit field with {}-bit field.",
                        self.n_bits(&dst),
                        self.n_bits(&b)
                    ),
                    b.span,
                ));
            }
            return Ok(Action::Exchange { a: dst, b });
        }
        if !self.lx.eat(&Token::Equals) {
            return Err(self.syntax("expecting `=' or `<->'"));
        }
        if matches!(self.lx.peek(), Token::Id(_)) {
            if *self.lx.lookahead() == Token::LParen {
                if let Token::Id(fname) = self.lx.peek().clone() {
                    if let Some(a) = self.function(&fname, &dst)? {
                        return Ok(a);
                    }
                }
            }
            let src = self.rvalue()?;
            let (sd, ss) = (self.is_string(&dst), self.is_string(&src));
            let symtab: &'a Symtab = self.ctx.symtab;
            let nd = &symtab.get(dst.symbol).name;
            let ns = &symtab.get(src.symbol).name;
            if sd != ss {
                let (a, b) = if sd {
                    ("integer", "string")
                } else {
                    ("string", "integer")
                };
                return Err(self.err(
                    ErrorKind::Type,
                    format!("Can't assign {a} field ({ns}) to {b} field ({nd})."),
                    src.span,
                ));
            }
            if !sd && self.n_bits(&src) != self.n_bits(&dst) {
                return Err(self.err(
                    ErrorKind::Type,
                    format!(
                        "Can't assign {}-bit value to {}-bit destination.",
                        self.n_bits(&src),
                        self.n_bits(&dst)
                    ),
                    src.span,
                ));
            }
            return Ok(Action::Move { dst, src });
        }
        let span = self.lx.span();
        let value = match self.lx.peek() {
            Token::Int(i) => {
                let i = *i;
                self.lx.advance();
                Value::Int(i)
            }
            Token::Str(_) => match self.lx.take() {
                Token::Str(s) => Value::Str(s),
                _ => return Err(self.syntax("expecting constant")),
            },
            _ => return Err(self.syntax("expecting constant")),
        };
        let sym = self.ctx.symtab.get(dst.symbol);
        match (&value, sym.is_string()) {
            (Value::Str(_), false) => {
                return Err(self.err(
                    ErrorKind::Type,
                    format!(
                        "Integer field {} is not compatible with string constant.",
                        sym.name
                    ),
                    span,
                ))
            }
            (Value::Int(_), true) => {
                return Err(self.err(
                    ErrorKind::Type,
                    format!(
                        "String field {} is not compatible with integer constant.",
                        sym.name
                    ),
                    span,
                ))
            }
            (Value::Int(i), false) => {
                let n = self.n_bits(&dst);
                let bits = 128 - (i.value | i.mask.unwrap_or(0)).leading_zeros();
                if bits > n {
                    return Err(self.err(
                        ErrorKind::Type,
                        format!(
                            "{bits}-bit constant is not compatible with {n}-bit field {}.",
                            sym.name
                        ),
                        span,
                    ));
                }
            }
            _ => {}
        }
        Ok(Action::Load { dst, value })
    }

    fn no_args(&mut self, name: &str) -> Result<(), ExprError> {
        self.lx.expect(&Token::LParen)?;
        if !self.lx.eat(&Token::RParen) {
            return Err(self.err(
                ErrorKind::Syntax,
                format!("{name} doesn't take any parameters"),
                self.lx.span(),
            ));
        }
        Ok(())
    }

    /// `dst = NAME(...)`; returns `None` if NAME is not a function (then it is a field).
    fn function(&mut self, name: &str, dst: &FieldRef) -> Result<Option<Action>, ExprError> {
        if let Some(func) = ResultFn::ALL.iter().copied().find(|f| f.name() == name) {
            self.check_arg(dst, Need::Bits(1))?;
            if func == ResultFn::DnsLookup {
                self.add_prereq(Some("udp"));
            }
            self.lx.advance();
            self.no_args(name)?;
            return Ok(Some(Action::Result {
                func,
                dst: dst.clone(),
            }));
        }
        let action = match name {
            "lookup_arp" | "lookup_nd" => {
                let family = if name == "lookup_arp" {
                    Family::V4
                } else {
                    Family::V6
                };
                self.check_arg(dst, Need::Bits(1))?;
                self.lx.advance();
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let ip = self.arg(Need::Bits(ip_bits(family)))?;
                self.lx.expect(&Token::Comma)?;
                let mac = self.arg(Need::Bits(48))?;
                self.lx.expect(&Token::RParen)?;
                Action::LookupMac {
                    family,
                    dst: dst.clone(),
                    port,
                    ip,
                    mac,
                }
            }
            "lookup_arp_ip" | "lookup_nd_ip" => {
                let family = if name == "lookup_arp_ip" {
                    Family::V4
                } else {
                    Family::V6
                };
                self.check_arg(dst, Need::Bits(1))?;
                self.lx.advance();
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let ip = self.arg(Need::Bits(ip_bits(family)))?;
                self.lx.expect(&Token::RParen)?;
                Action::LookupMacIp {
                    family,
                    dst: dst.clone(),
                    port,
                    ip,
                }
            }
            "put_dhcp_opts" | "put_dhcpv6_opts" | "put_nd_ra_opts" => {
                let kind = match name {
                    "put_dhcp_opts" => OptsKind::Dhcpv4,
                    "put_dhcpv6_opts" => OptsKind::Dhcpv6,
                    _ => OptsKind::NdRa,
                };
                self.check_arg(dst, Need::Bits(1))?;
                if kind == OptsKind::NdRa {
                    self.add_prereq(Some("ip6"));
                }
                self.lx.advance();
                self.put_opts(kind, dst)?
            }
            "check_pkt_larger" => {
                self.check_arg(dst, Need::Bits(1))?;
                self.lx.advance();
                self.lx.expect(&Token::LParen)?;
                let len = match self.lx.peek() {
                    Token::Int(IntConst {
                        value,
                        mask: None,
                        format: IntFormat::Decimal,
                    }) if *value <= u128::from(u16::MAX) => *value as u16,
                    _ => return Err(self.syntax("expecting `;'")),
                };
                self.lx.advance();
                self.lx.expect(&Token::RParen)?;
                Action::CheckPktLarger {
                    dst: dst.clone(),
                    len,
                }
            }
            "get_fdb" => {
                if !self.is_string(dst) {
                    self.check_arg(dst, Need::Bits(32))?;
                }
                self.lx.advance();
                self.lx.expect(&Token::LParen)?;
                let mac = self.arg(Need::Bits(48))?;
                self.lx.expect(&Token::RParen)?;
                Action::GetFdb {
                    dst: dst.clone(),
                    mac,
                }
            }
            "lookup_fdb" => {
                self.check_arg(dst, Need::Bits(1))?;
                self.lx.advance();
                self.lx.expect(&Token::LParen)?;
                let port = self.arg(Need::Str)?;
                self.lx.expect(&Token::Comma)?;
                let mac = self.arg(Need::Bits(48))?;
                self.lx.expect(&Token::RParen)?;
                Action::LookupFdb {
                    dst: dst.clone(),
                    port,
                    mac,
                }
            }
            "select" => {
                self.check_arg(dst, Need::AtLeast(16))?;
                self.lx.advance();
                self.select(dst)?
            }
            _ => return Ok(None),
        };
        Ok(Some(action))
    }

    fn put_opts(&mut self, kind: OptsKind, dst: &FieldRef) -> Result<Action, ExprError> {
        let (table, label) = match kind {
            OptsKind::Dhcpv4 => (self.dhcpv4, "DHCPv4 option"),
            OptsKind::Dhcpv6 => (self.dhcpv6, "DHCPv6 option"),
            OptsKind::NdRa => (self.nd_ra, "IPv6 ND RA option"),
        };
        self.lx.expect(&Token::LParen)?;
        let mut options = Vec::new();
        let start = self.lx.span();
        if !self.lx.eat(&Token::RParen) {
            loop {
                let Token::Id(oname) = self.lx.peek().clone() else {
                    return Err(self.syntax(""));
                };
                let Some(def) = table.get(&oname).copied() else {
                    let what = match kind {
                        OptsKind::Dhcpv4 => "expecting DHCPv4 option name",
                        OptsKind::Dhcpv6 => "expecting DHCPv6 option name",
                        OptsKind::NdRa => "expecting IPv6 ND RA option name",
                    };
                    return Err(self.syntax(what));
                };
                self.lx.advance();
                self.lx.expect(&Token::Equals)?;
                let value = parse_const_set(&mut self.lx)?;
                if value.values.len() > super::MAX_LIST {
                    return Err(self.err(ErrorKind::Limit, "Too many option values.", value.span));
                }
                let is_str = value.values.iter().any(|c| matches!(c, Const::Str(..)));
                let ok = match def.ty {
                    OptType::HostId => true,
                    t if t.is_string() => is_str,
                    _ => !is_str && value.values.iter().all(|c| matches!(c, Const::Int(..))),
                };
                if !ok {
                    let want = if def.ty.is_string() {
                        "string"
                    } else {
                        "numeric"
                    };
                    return Err(self.err(
                        ErrorKind::Type,
                        format!("{label} {} requires {want} value.", def.name),
                        value.span,
                    ));
                }
                options.push(GenOption {
                    name: oname.to_string(),
                    value,
                });
                if options.len() > super::MAX_LIST {
                    return Err(self.err(ErrorKind::Limit, "Too many options.", self.lx.span()));
                }
                if self.lx.eat(&Token::RParen) {
                    break;
                }
                self.lx.expect(&Token::Comma)?;
            }
        }
        let span = start.to(self.lx.span());
        match kind {
            OptsKind::Dhcpv4 if !options.iter().any(|o| o.name == "offerip") => {
                return Err(self.err(
                    ErrorKind::Type,
                    "put_dhcp_opts requires offerip to be specified.",
                    span,
                ));
            }
            OptsKind::NdRa => self.check_nd_ra(&options, span)?,
            _ => {}
        }
        Ok(Action::PutOpts {
            kind,
            dst: dst.clone(),
            options,
        })
    }

    fn check_nd_ra(&self, options: &[GenOption], span: Span) -> Result<(), ExprError> {
        let get = |n: &str| options.iter().find(|o| o.name == n);
        let str_of = |o: &GenOption| match o.value.values.first() {
            Some(Const::Str(s, _)) => Some(s.clone()),
            _ => None,
        };
        let invalid = |n: &str| {
            self.err(
                ErrorKind::Type,
                format!("Invalid value for \"{n}\" option"),
                span,
            )
        };
        let mode = get("addr_mode").and_then(str_of);
        match mode.as_deref() {
            Some("slaac" | "dhcpv6_stateful" | "dhcpv6_stateless") => {}
            _ => return Err(invalid("addr_mode")),
        }
        for o in options {
            let first = o.value.values.first();
            match o.name.as_str() {
                "mtu" => match first {
                    Some(Const::Int(i, _)) if i.format == IntFormat::Decimal => {}
                    _ => return Err(invalid("mtu")),
                },
                "prefix" => {
                    for c in &o.value.values {
                        match c {
                            Const::Int(i, _) if i.format == IntFormat::Ipv6 && i.mask.is_some() => {
                            }
                            _ => return Err(invalid("prefix")),
                        }
                    }
                }
                "slla" => match first {
                    Some(Const::Int(i, _)) if i.format == IntFormat::Ethernet => {}
                    _ => return Err(invalid("slla")),
                },
                _ => {}
            }
        }
        if get("slla").is_none() {
            return Err(self.err(ErrorKind::Type, "slla option not present", span));
        }
        if mode.as_deref() != Some("dhcpv6_stateful") && get("prefix").is_none() {
            return Err(self.err(
                ErrorKind::Type,
                "prefix option needs to be set when address mode is slaac/dhcpv6_stateless.",
                span,
            ));
        }
        Ok(())
    }

    fn select(&mut self, dst: &FieldRef) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let mut members = Vec::new();
        loop {
            let span = self.lx.span();
            let v = self.lx.expect_small_int()?;
            let v = u16::try_from(v)
                .map_err(|_| self.err(ErrorKind::Type, "select value too large", span))?;
            let mut w = 100;
            if self.lx.eat(&Token::Equals) {
                let wspan = self.lx.span();
                let ww = match self.lx.peek() {
                    Token::Int(IntConst {
                        value,
                        mask: None,
                        format: IntFormat::Decimal,
                    }) if *value <= 0xffff => *value as u16,
                    _ => return Err(self.syntax("expecting weight")),
                };
                self.lx.advance();
                if ww == 0 {
                    return Err(self.err(
                        ErrorKind::Syntax,
                        format!(
                            "Syntax error at `{}' weight can't be 0.",
                            &self.lx.input()[wspan.start..wspan.end]
                        ),
                        wspan,
                    ));
                }
                w = ww;
            }
            members.push((v, w));
            if members.len() > super::MAX_LIST {
                return Err(self.err(ErrorKind::Limit, "Too many select members.", span));
            }
            self.lx.eat(&Token::Comma);
            if *self.lx.peek() == Token::RParen {
                break;
            }
        }
        if members.len() < 2 {
            self.lx.advance();
            return Err(self.syntax("expecting at least 2 group members"));
        }
        self.lx.expect(&Token::RParen)?;
        Ok(Action::Select {
            dst: dst.clone(),
            members,
        })
    }

    fn log(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let mut log = Log {
            name: None,
            verdict: Verdict::Allow,
            severity: Severity::Info,
            meter: None,
        };
        let mut verdict = false;
        while !self.lx.eat(&Token::RParen) {
            if self.lx.eat_id("name") {
                self.lx.expect(&Token::Equals)?;
                log.name = Some(self.string("expecting string")?);
            } else if self.lx.eat_id("verdict") {
                self.lx.expect(&Token::Equals)?;
                log.verdict = if self.lx.eat_id("allow") {
                    Verdict::Allow
                } else if self.lx.eat_id("drop") {
                    Verdict::Drop
                } else if self.lx.eat_id("reject") {
                    Verdict::Reject
                } else {
                    return Err(self.syntax("unknown verdict"));
                };
                verdict = true;
            } else if self.lx.eat_id("severity") {
                self.lx.expect(&Token::Equals)?;
                let sev = [
                    ("alert", Severity::Alert),
                    ("warning", Severity::Warning),
                    ("notice", Severity::Notice),
                    ("info", Severity::Info),
                    ("debug", Severity::Debug),
                ];
                let Some((_, s)) = sev.iter().find(|(n, _)| self.peek_id(n)) else {
                    return Err(self.syntax("unknown severity"));
                };
                log.severity = *s;
                self.lx.advance();
            } else if self.lx.eat_id("meter") {
                self.lx.expect(&Token::Equals)?;
                log.meter = Some(self.string("expecting string")?);
            } else {
                return Err(self.syntax("expecting name, verdict, severity or meter"));
            }
            if !self.lx.eat(&Token::Comma) {
                self.lx.expect(&Token::RParen)?;
                break;
            }
        }
        if !verdict {
            return Err(self.syntax("expecting verdict"));
        }
        Ok(Action::Log(log))
    }

    fn string(&mut self, expect: &str) -> Result<String, ExprError> {
        let Token::Str(s) = self.lx.peek().clone() else {
            return Err(self.syntax(expect));
        };
        self.lx.advance();
        Ok(s)
    }

    fn key_string(&mut self) -> Result<(String, String), ExprError> {
        let Token::Id(k) = self.lx.peek().clone() else {
            return Err(self.syntax("expecting option name"));
        };
        self.lx.advance();
        self.lx.expect(&Token::Equals)?;
        let v = match self.lx.peek().clone() {
            Token::Str(s) => s,
            Token::Id(s) => s.to_string(),
            _ => return Err(self.syntax("expecting string")),
        };
        self.lx.advance();
        Ok((k.to_string(), v))
    }

    fn trigger_event(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let (k, event) = self.key_string()?;
        if k != "event" || event != "empty_lb_backends" {
            return Err(self.syntax("expecting event"));
        }
        let mut options = Vec::new();
        while self.lx.eat(&Token::Comma) {
            let span = self.lx.span();
            let (k, v) = self.key_string()?;
            if !["vip", "protocol", "load_balancer"].contains(&k.as_str()) {
                return Err(self.err(ErrorKind::Syntax, format!("Unknown event option {k}"), span));
            }
            if k == "protocol" && !["tcp", "udp", "sctp"].contains(&v.as_str()) {
                return Err(self.err(
                    ErrorKind::Type,
                    format!("Load balancer protocol '{v}' is not 'tcp', 'udp', or 'sctp'"),
                    span,
                ));
            }
            if k == "load_balancer" && !is_uuid(&v) {
                return Err(self.err(
                    ErrorKind::Type,
                    format!("Load balancer '{v}' is not a UUID"),
                    span,
                ));
            }
            options.push((k, v));
            if options.len() > super::MAX_LIST {
                return Err(self.err(ErrorKind::Limit, "Too many event options.", span));
            }
        }
        self.lx.expect(&Token::RParen)?;
        Ok(Action::TriggerEvent(TriggerEvent { event, options }))
    }

    fn commit_lb_aff(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let (mut vip, mut backend, mut proto, mut timeout) = (None, None, None, None);
        loop {
            let span = self.lx.span();
            if self.lx.eat_id("vip") || self.lx.eat_id("backend") {
                let which = &self.lx.input()[span.start..span.end];
                self.lx.expect(&Token::Equals)?;
                let sspan = self.lx.span();
                let s = self.string("expecting string")?;
                let ap = parse_addr_port(&s).ok_or_else(|| {
                    self.err(ErrorKind::Type, format!("Invalid {which} \"{s}\""), sspan)
                })?;
                if which == "vip" {
                    vip = Some(ap);
                } else {
                    backend = Some(ap);
                }
            } else if self.lx.eat_id("proto") {
                self.lx.expect(&Token::Equals)?;
                proto = Some(if self.lx.eat_id("tcp") {
                    6
                } else if self.lx.eat_id("udp") {
                    17
                } else if self.lx.eat_id("sctp") {
                    132
                } else {
                    return Err(self.syntax("invalid protocol"));
                });
            } else if self.lx.eat_id("timeout") {
                self.lx.expect(&Token::Equals)?;
                let t = self.lx.expect_small_int()?;
                timeout = Some(u16::try_from(t).unwrap_or(u16::MAX));
            } else {
                return Err(self.syntax("invalid parameter"));
            }
            if self.lx.eat(&Token::RParen) {
                break;
            }
            self.lx.expect(&Token::Comma)?;
        }
        let (Some((vip, vip_port)), Some((backend, backend_port)), Some(timeout)) =
            (vip, backend, timeout)
        else {
            return Err(self.syntax("commit_lb_aff requires vip, backend and timeout"));
        };
        Ok(Action::CommitLbAff(CommitLbAff {
            vip,
            vip_port,
            backend,
            backend_port,
            proto,
            timeout,
        }))
    }

    fn commit_ecmp_nh(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let (mut ipv6, mut proto) = (None, None);
        loop {
            if self.lx.eat_id("ipv6") {
                self.lx.expect(&Token::Equals)?;
                let v = match self.lx.peek().clone() {
                    Token::Str(s) => s,
                    Token::Id(s) => s.to_string(),
                    _ => return Err(self.syntax("invalid parameter")),
                };
                self.lx.advance();
                ipv6 = Some(v == "true");
            } else if self.lx.eat_id("proto") {
                self.lx.expect(&Token::Equals)?;
                proto = Some(if self.lx.eat_id("tcp") {
                    6
                } else if self.lx.eat_id("udp") {
                    17
                } else if self.lx.eat_id("sctp") {
                    132
                } else {
                    return Err(self.syntax("invalid parameter"));
                });
            } else {
                return Err(self.syntax("invalid parameter"));
            }
            if self.lx.eat(&Token::RParen) {
                break;
            }
            self.lx.expect(&Token::Comma)?;
        }
        let (Some(ipv6), Some(proto)) = (ipv6, proto) else {
            return Err(self.syntax("invalid parameter"));
        };
        Ok(Action::CommitEcmpNh { ipv6, proto })
    }

    fn fwd_group(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let mut liveness = false;
        if self.lx.eat_id("liveness") {
            self.lx.expect(&Token::Equals)?;
            let v = match self.lx.peek().clone() {
                Token::Str(s) => s,
                Token::Id(s) => s.to_string(),
                _ => String::new(),
            };
            liveness = match v.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(self.syntax("expecting true or false")),
            };
            self.lx.advance();
            self.lx.expect(&Token::Comma)?;
        }
        if !self.lx.eat_id("childports") {
            return Err(self.syntax("expecting `;'"));
        }
        self.lx.expect(&Token::Equals)?;
        let mut childports = Vec::new();
        loop {
            childports.push(self.string("expecting logical switch port")?);
            if childports.len() > super::MAX_LIST {
                return Err(self.err(ErrorKind::Limit, "Too many child ports.", self.lx.span()));
            }
            if !self.lx.eat(&Token::Comma) {
                break;
            }
        }
        self.lx.expect(&Token::RParen)?;
        Ok(Action::FwdGroup {
            liveness,
            childports,
        })
    }

    fn sample(&mut self) -> Result<Action, ExprError> {
        self.lx.expect(&Token::LParen)?;
        let mut s = Sample {
            probability: 0,
            collector_set: 0,
            obs_domain: 0,
            obs_point: ObsPoint::Id(0),
        };
        loop {
            let span = self.lx.span();
            let Token::Id(k) = self.lx.peek().clone() else {
                return Err(self.syntax("unknown argument"));
            };
            if !["probability", "collector_set", "obs_domain", "obs_point"].contains(&k.as_str()) {
                return Err(self.err(
                    ErrorKind::Syntax,
                    format!("Syntax error at `{k}' unknown argument."),
                    span,
                ));
            }
            self.lx.advance();
            self.lx.expect(&Token::Equals)?;
            let vspan = self.lx.span();
            if k.as_str() == "obs_point"
                && matches!(self.lx.peek(), Token::AddressSet(m) if m == "cookie")
            {
                self.lx.advance();
                s.obs_point = ObsPoint::Cookie;
            } else {
                let v = self.u32_arg()?;
                match k.as_str() {
                    "probability" => s.probability = u16::try_from(v).unwrap_or(u16::MAX),
                    "collector_set" => s.collector_set = v,
                    "obs_domain" => {
                        s.obs_domain = u8::try_from(v).map_err(|_| {
                            self.err(
                                ErrorKind::Syntax,
                                format!(
                                    "Syntax error at `{}' obs_domain must be 8-bit long.",
                                    &self.lx.input()[vspan.start..vspan.end]
                                ),
                                vspan,
                            )
                        })?;
                    }
                    "obs_point" => s.obs_point = ObsPoint::Id(v),
                    _ => {
                        return Err(self.err(
                            ErrorKind::Syntax,
                            format!("Syntax error at `{k}' unknown argument."),
                            span,
                        ))
                    }
                }
            }
            if self.lx.eat(&Token::RParen) {
                break;
            }
            self.lx.expect(&Token::Comma)?;
        }
        if s.probability == 0 {
            return Err(self.err(
                ErrorKind::Type,
                "probability must be greater than zero",
                self.lx.span(),
            ));
        }
        Ok(Action::Sample(s))
    }
}

fn is_action_name(name: &str) -> bool {
    matches!(
        name,
        "next"
            | "output"
            | "ip.ttl"
            | "ct_next"
            | "ct_commit"
            | "ct_commit_nat"
            | "ct_dnat"
            | "ct_snat"
            | "ct_dnat_in_czone"
            | "ct_snat_in_czone"
            | "ct_lb"
            | "ct_lb_mark"
            | "ct_clear"
            | "ct_snat_to_vip"
            | "get_arp"
            | "get_nd"
            | "put_arp"
            | "put_nd"
            | "put_fdb"
            | "push"
            | "pop"
            | "log"
            | "set_queue"
            | "set_meter"
            | "trigger_event"
            | "bind_vport"
            | "handle_svc_check"
            | "handle_dhcpv6_reply"
            | "handle_bfd_msg"
            | "igmp"
            | "commit_lb_aff"
            | "commit_ecmp_nh"
            | "fwd_group"
            | "sample"
    )
}

/// The prerequisite OVN adds for a nested-action packet generator.
fn nested_prereq(kind: NestedKind) -> Option<&'static str> {
    match kind {
        NestedKind::Arp => Some("ip4"),
        NestedKind::NdNs => Some("ip6"),
        NestedKind::NdNa | NestedKind::NdNaRouter => Some("nd_ns"),
        NestedKind::Icmp4 | NestedKind::Icmp4Error => Some("ip4"),
        NestedKind::Icmp6 | NestedKind::Icmp6Error => Some("ip6"),
        NestedKind::TcpReset => Some("tcp"),
        NestedKind::SctpAbort => Some("sctp"),
        NestedKind::Clone | NestedKind::Reject => None,
    }
}

fn ip_bits(f: Family) -> u32 {
    match f {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n)
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Parses `ip`, `ip:port`, `[ip6]` or `[ip6]:port`.
pub(super) fn parse_addr_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, tail) = rest.split_once(']')?;
        let ip: Ipv6Addr = a.parse().ok()?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if tail.is_empty() => None,
            None => return None,
        };
        return Some((IpAddr::V6(ip), port));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, None));
    }
    let (a, p) = s.rsplit_once(':')?;
    let ip: Ipv4Addr = a.parse().ok()?;
    Some((IpAddr::V4(ip), Some(p.parse().ok()?)))
}
