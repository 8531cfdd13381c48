//! Parsing many action texts that differ only in the constants they assign
//! (`eth.dst = 0a:58:64:40:00:57; next;` for every neighbour, the ARP replies of every
//! address), each shape parsed once.
//!
//! [`ActionTemplates::parse`] gives what [`super::parse_actions`] gives, but for the source
//! spans inside the tree (those of a copied template are its first text's).  It tokenizes the
//! text and reads its *shape*: the tokens, with every integer or string constant that is
//! preceded by `=` and followed by `;` replaced by a placeholder of its kind.  The first text
//! of a shape is parsed in full; its tree is kept as the shape's template, with the position
//! of the `field = constant` load each placeholder feeds.  A later text of the same shape gets
//! a copy of the template with its own constants put in those loads.
//!
//! Why that is what parsing it would give: the parser is a function of the tokens (and the
//! position in the pipeline, part of the shape); tokens other than the placeholders are the
//! same; a constant between `=` and `;` outside `{ ... }` can only be the source of a
//! `field = constant;` load at the top level, which the parser takes as it is, after checking
//! that its kind suits the field (the kind is part of the shape) and that it fits in the
//! field's width (checked here again for each constant).  The template is kept only if its
//! loads are exactly the placeholders' constants, in order.
//!
//! Whenever that might not hold the text is parsed in full (so errors are reported exactly as
//! there): a shape whose first text fails to parse or whose loads do not match, a text with
//! `{` or `}`, a lexical error, a byte below 3 (the key's separators), or a constant too wide
//! for its field.

use crate::error::ExprError;
use crate::fxhash::FxHashMap;
use crate::lex::{Lexer, Token};
use crate::symtab::Symtab;

use super::ast::{Action, Actions, Pipeline, Value};
use super::{parse_lexed, ParseContext};

/// Most shapes kept: beyond that the cache starts over (a bound on memory for inputs whose
/// texts share no shape).
const MAX_SHAPES: usize = 8192;

/// Key bytes of a placeholder: an integer constant, a string constant, the end of a token.
const INT: u8 = 1;
const STR: u8 = 2;
const END: u8 = 0;

/// A shape's parsed first text.
#[derive(Debug)]
struct Template {
    actions: Actions,
    /// For each placeholder, in order: the index of the load it feeds in `actions.actions`,
    /// and the width in bits of the load's destination.
    loads: Box<[(usize, u32)]>,
}

/// Parsed action texts by shape; see the module documentation.
#[derive(Debug, Default)]
pub struct ActionTemplates {
    /// By key ([`Self::key`]); `None` for a shape parsed in full every time.
    shapes: FxHashMap<Box<[u8]>, Option<Template>>,
    /// The key of the text being parsed (reused).
    key: Vec<u8>,
    /// Token indices of its placeholders (reused).
    consts: Vec<usize>,
}

impl ActionTemplates {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `input` as [`super::parse_actions`] does with
    /// [`ParseContext::new`]`(pipeline, table)`; see the module documentation.
    pub fn parse(
        &mut self,
        input: &str,
        pipeline: Pipeline,
        table: u8,
    ) -> Result<Actions, ExprError> {
        let ctx = ParseContext::new(pipeline, table);
        let lx = Lexer::new(input);
        if !self.key(input, &lx, pipeline, table) {
            return parse_lexed(lx, &ctx);
        }
        if let Some(shape) = self.shapes.get(self.key.as_slice()) {
            if let Some(a) = shape
                .as_ref()
                .and_then(|t| instantiate(t, lx.tokens(), &self.consts))
            {
                return Ok(a);
            }
            return parse_lexed(lx, &ctx);
        }
        // The first text of this shape: its constants, before the parser takes them.
        let constants: Vec<Token> = self
            .consts
            .iter()
            .filter_map(|&i| lx.tokens().get(i).map(|t| t.token.clone()))
            .collect();
        let result = parse_lexed(lx, &ctx);
        let template = result.as_ref().ok().and_then(|a| {
            template(a, &constants, ctx.symtab).map(|loads| Template {
                actions: a.clone(),
                loads,
            })
        });
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
        }
        self.shapes.insert(self.key.as_slice().into(), template);
        result
    }

    /// Writes the shape key of `input` (tokenized in `lx`) into `self.key` and its
    /// placeholders into `self.consts`; false if the text has no usable shape.
    fn key(&mut self, input: &str, lx: &Lexer<'_>, pipeline: Pipeline, table: u8) -> bool {
        self.key.clear();
        self.consts.clear();
        if input.bytes().any(|b| b <= STR) {
            return false;
        }
        self.key.push(match pipeline {
            Pipeline::Ingress => b'i',
            Pipeline::Egress => b'e',
        });
        self.key.push(table);
        let tokens = lx.tokens();
        for (i, t) in tokens.iter().enumerate() {
            match &t.token {
                Token::LCurly | Token::RCurly | Token::Error(_) => return false,
                Token::Int(_) | Token::Str(_)
                    if i > 0
                        && tokens.get(i - 1).map(|p| &p.token) == Some(&Token::Equals)
                        && tokens.get(i + 1).map(|n| &n.token) == Some(&Token::Semicolon) =>
                {
                    self.consts.push(i);
                    self.key
                        .push(if matches!(t.token, Token::Int(_)) { INT } else { STR });
                }
                _ => match input.get(t.span.start..t.span.end) {
                    Some(s) => self.key.extend_from_slice(s.as_bytes()),
                    None => return false,
                },
            }
            self.key.push(END);
        }
        true
    }
}

/// The loads of `actions` fed by `constants` (in order), with their widths; `None` unless
/// the top-level loads of `actions` are exactly those constants, in order.
fn template(actions: &Actions, constants: &[Token], symtab: &Symtab) -> Option<Box<[(usize, u32)]>> {
    let mut loads = Vec::with_capacity(constants.len());
    let mut next = constants.iter();
    for (i, a) in actions.actions.iter().enumerate() {
        let Action::Load { dst, value } = a else {
            continue;
        };
        let same = match (value, next.next()?) {
            (Value::Int(v), Token::Int(c)) => v == c,
            (Value::Str(v), Token::Str(c)) => v == c,
            _ => false,
        };
        if !same {
            return None;
        }
        loads.push((i, dst.range(symtab).1));
    }
    next.next().is_none().then(|| loads.into_boxed_slice())
}

/// A copy of `t` with the constants at `consts` in `tokens`; `None` if one does not fit its
/// field (the parser then reports it).
fn instantiate(t: &Template, tokens: &[crate::lex::Spanned], consts: &[usize]) -> Option<Actions> {
    if consts.len() != t.loads.len() {
        return None;
    }
    let mut actions = t.actions.clone();
    for (&(at, n_bits), &ti) in t.loads.iter().zip(consts) {
        let Some(Action::Load { value, .. }) = actions.actions.get_mut(at) else {
            return None;
        };
        match (&tokens.get(ti)?.token, value) {
            (Token::Int(c), Value::Int(v)) => {
                // The parser's check: the constant's bits (value and mask) fit the field.
                let bits = 128 - (c.value | c.mask.unwrap_or(0)).leading_zeros();
                if bits > n_bits {
                    return None;
                }
                *v = *c;
            }
            (Token::Str(c), Value::Str(v)) => c.clone_into(v),
            _ => return None,
        }
    }
    Some(actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::parse_actions;

    #[test]
    fn same_as_parse_actions() {
        let texts = [
            "eth.dst = 0a:58:64:40:00:57; next;",
            "eth.dst = 0a:58:64:40:00:58; next;",
            "eth.dst = 10.0.0.1; next;",
            "eth.dst = \"x\"; next;",
            "outport = \"ns2_pod23x2\"; output;",
            "outport = \"ns2_pod23x3\"; output;",
            "outport = 5; output;",
            "eth.dst = eth.src; eth.src = 0a:58:0a:80:72:0b; arp.op = 2; /* ARP reply */ \
             arp.tha = arp.sha; arp.sha = 0a:58:0a:80:72:0b; arp.tpa = arp.spa; \
             arp.spa = 10.128.114.11; outport = inport; flags.loopback = 1; output;",
            "eth.dst = eth.src; eth.src = 0a:58:0a:80:72:0c; arp.op = 2; /* ARP reply */ \
             arp.tha = arp.sha; arp.sha = 0a:58:0a:80:72:0c; arp.tpa = arp.spa; \
             arp.spa = 10.128.114.12; outport = inport; flags.loopback = 1; output;",
            "eth.dst = eth.src; eth.src = 0a:58:0a:80:72:0c; arp.op = 3; /* ARP reply */ \
             arp.tha = arp.sha; arp.sha = 0a:58:0a:80:72:0c; arp.tpa = arp.spa; \
             arp.spa = 10.128.114.12; outport = inport; flags.loopback = 1; output;",
            "reg9[3] = 1; next;",
            "reg9[3] = 0; next;",
            "reg9[3] = 2; next;",
            "reg9[3] = 1/1; next;",
            "reg9[3] = 3/3; next;",
            "ip4.dst = 10.0.0.0/8; next;",
            "ip4.dst = 10.0.0.0/16; next;",
            "ip4.dst = 0x10; next;",
            "ip4.dst = 16; next;",
            "ip4.dst = 0x100000000; next;",
            "reg0 = 10.0.0.1; ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80; skip_snat);",
            "reg0 = 10.0.0.5; ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80; skip_snat);",
            "ip.ttl--; reg8[0..15] = 0; reg0 = ip4.dst; next;",
            "ip.ttl--; reg8[0..15] = 7; reg0 = ip4.dst; next;",
            "ip.ttl--; reg8[0..15] = 65536; reg0 = ip4.dst; next;",
            "drop;",
            "next; garbage",
            "clone { outport = \"x\"; output; }; next;",
            "ct_commit { ct_mark.blocked = 1; }; next;",
            "ct_commit { ct_mark.blocked = 0; }; next;",
            "tcp.dst = 80; ip6.src = ::1; next;",
            "tcp.dst = 81; ip6.src = ::2; next;",
            "outport = \"unterminated",
            "next(pipeline=egress, table=3);",
            "next(pipeline=egress, table=4);",
            "eth.dst = 0a:58:64:40:00:57 ; next ;",
            "inport = \"a\"; outport = \"b\"; output;",
            "inport = \"c\"; outport = \"d\"; output;",
            "inport = \"c\"; outport = 1; output;",
            "ip4.src = 1.2.3.4; ip4.dst = 1.2.3.4; next;",
            "ip4.src = 1.2.3.5; ip4.dst = 1.2.3.5; next;",
            "ct_label.label = 5; next;",
            "",
        ];
        let mut cache = ActionTemplates::new();
        for round in 0..2 {
            for t in texts {
                for (p, table) in [(Pipeline::Ingress, 3), (Pipeline::Egress, 5)] {
                    let ours = cache.parse(t, p, table);
                    let whole = parse_actions(t, &ParseContext::new(p, table));
                    match (ours, whole) {
                        (Ok(a), Ok(b)) => {
                            assert_eq!(a.to_string(), b.to_string(), "{t} (round {round})");
                            assert_eq!(a.prereqs, b.prereqs, "{t}");
                            assert_eq!(a.actions.len(), b.actions.len(), "{t}");
                        }
                        (Err(a), Err(b)) => assert_eq!(a, b, "{t}"),
                        (a, b) => panic!("{t}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
    }
}
