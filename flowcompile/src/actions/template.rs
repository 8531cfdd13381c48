//! Parsing many action texts that differ only in the constants they assign
//! (`eth.dst = 0a:58:64:40:00:57; next;` for every neighbour, the ARP replies of every
//! address), each shape parsed once.
//!
//! [`ActionTemplates::parse`] gives what [`super::parse_actions`] gives, but for the source
//! spans inside the tree (those of a copied template are its first text's).  It reads the
//! text's *shape*: its bytes, with every lone integer or string constant between an `=`
//! token and a `;` (white space aside) replaced by a placeholder of its kind.  The first text
//! of a shape is parsed in full; its tree is kept as the shape's template, with the position
//! of the `field = constant` load each placeholder feeds.  A later text of the same shape puts
//! its own constants in those loads, without being tokenized, and gets (a copy of) the
//! template ([`ActionTemplates::parse_with`] lends it without a copy).
//!
//! Why that is what parsing it would give: texts of one shape have the same bytes outside the
//! placeholders, and each placeholder is one constant token of the same kind (lexed on its
//! own: the `=` before it and the white space or `;` after it end tokens), so their token
//! streams differ only in those constants.  The parser is a function of the tokens (and of the
//! position in the pipeline, part of the shape).  Outside `{ ... }`, a constant between `=`
//! and `;` can only be the value of a top-level `field = constant;` load, which the parser
//! takes as it is, after checking that its kind suits the field (the kind is part of the
//! shape) and that it fits in the field's width (checked here again for each constant).  The
//! template is kept only if its top-level loads are exactly the placeholders' constants, in
//! order.
//!
//! Whenever that might not hold the text is parsed in full (so errors are reported exactly as
//! there): a shape whose first text fails to parse or whose loads do not match, a text with
//! `{` or `}`, a `//` comment, a string or `/* */` comment that does not end, a byte below 3
//! (the key's placeholders), or a constant too wide for its field.

use crate::error::ExprError;
use crate::fxhash::FxHashMap;
use crate::lex::{lone_constant, Token};
use crate::symtab::Symtab;

use super::ast::{Action, Actions, Pipeline, Value};
use super::{parse_actions, ParseContext};

/// Most shapes kept: beyond that the cache starts over (a bound on memory for inputs whose
/// texts share no shape).
const MAX_SHAPES: usize = 8192;

/// Key bytes of a placeholder: an integer constant, a string constant.
const INT: u8 = 1;
const STR: u8 = 2;

/// Bytes [`ActionTemplates::key`] looks at; every other byte is copied to the key as it is.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[0] = true;
    t[INT as usize] = true;
    t[STR as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'"' as usize] = true;
    t[b'/' as usize] = true;
    t[b'=' as usize] = true;
    t
};

/// A shape's parsed first text.
#[derive(Debug)]
struct Template {
    /// Never reused for another shape by this cache (see [`Shape`]).
    id: u64,
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
    /// Its placeholders' constants, in order (reused).
    consts: Vec<Token>,
    /// Templates made so far (the next one's id).
    made: u64,
}

/// The template a text was parsed from or filled into (given by
/// [`ActionTemplates::parse_with_shape`]): texts with the same `id` have the same bytes but
/// for the constants of the top-level loads at `loads`.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The template's id, unique within one [`ActionTemplates`].
    pub id: u64,
    /// For each placeholder, in order: the index in `actions` of the `field = constant` load
    /// it feeds, and the width in bits of the load's destination.
    pub loads: &'a [(usize, u32)],
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
        self.parse_with(input, pipeline, table, |r| match r {
            Ok(a) => Ok(a.clone()),
            Err(e) => Err(e.clone()),
        })
    }

    /// [`Self::parse`], handing the result to `f` instead of returning it: a text of a known
    /// shape is then not copied out of its template (which it overwrites).
    pub fn parse_with<R>(
        &mut self,
        input: &str,
        pipeline: Pipeline,
        table: u8,
        f: impl FnOnce(Result<&Actions, &ExprError>) -> R,
    ) -> R {
        self.parse_with_shape(input, pipeline, table, |r, _| f(r))
    }

    /// [`Self::parse_with`], also handing `f` the template the text was filled into or made
    /// (`None` for a text parsed in full without one).
    pub fn parse_with_shape<R>(
        &mut self,
        input: &str,
        pipeline: Pipeline,
        table: u8,
        f: impl FnOnce(Result<&Actions, &ExprError>, Option<Shape<'_>>) -> R,
    ) -> R {
        let ctx = ParseContext::new(pipeline, table);
        if !self.key(input, pipeline, table) {
            return f(parse_actions(input, &ctx).as_ref(), None);
        }
        if let Some(shape) = self.shapes.get_mut(self.key.as_slice()) {
            if let Some(t) = shape.as_mut() {
                if fill(t, &self.consts) {
                    let shape = Shape {
                        id: t.id,
                        loads: &t.loads,
                    };
                    return f(Ok(&t.actions), Some(shape));
                }
            }
            return f(parse_actions(input, &ctx).as_ref(), None);
        }
        // The first text of this shape.
        let result = parse_actions(input, &ctx);
        let template = result.as_ref().ok().and_then(|a| {
            template(a, &self.consts, ctx.symtab).map(|loads| Template {
                id: self.made,
                actions: a.clone(),
                loads,
            })
        });
        self.made += 1;
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
        }
        let shape = template.as_ref().map(|t| Shape {
            id: t.id,
            loads: &t.loads,
        });
        let r = f(result.as_ref(), shape);
        self.shapes.insert(self.key.as_slice().into(), template);
        r
    }

    /// Writes the shape key of `input` into `self.key` and its placeholders' constants into
    /// `self.consts`; false if the text has no usable shape.
    fn key(&mut self, input: &str, pipeline: Pipeline, table: u8) -> bool {
        self.key.clear();
        self.consts.clear();
        self.key.push(match pipeline {
            Pipeline::Ingress => b'i',
            Pipeline::Egress => b'e',
        });
        self.key.push(table);
        let b = input.as_bytes();
        // Bytes up to `copied` are in the key.
        let mut copied = 0;
        let mut i = 0;
        while i < b.len() {
            if !SPECIAL[usize::from(b[i])] {
                i += 1;
                continue;
            }
            match b[i] {
                0..=STR | b'{' | b'}' => return false,
                b'"' => match string_end(b, i) {
                    Some(e) => i = e,
                    None => return false,
                },
                b'/' => match b.get(i + 1) {
                    Some(b'/') => return false,
                    Some(b'*') => {
                        i += 2;
                        loop {
                            match b.get(i) {
                                Some(b'*') if b.get(i + 1) == Some(&b'/') => break,
                                None | Some(b'\n') => return false,
                                _ => i += 1,
                            }
                        }
                        i += 2;
                    }
                    _ => i += 1,
                },
                b'=' if b.get(i + 1) != Some(&b'=')
                    && !matches!(
                        i.checked_sub(1).and_then(|j| b.get(j)),
                        Some(b'=' | b'!' | b'<' | b'>')
                    ) =>
                {
                    i += 1;
                    if let Some((s, e, token)) = constant(input, i) {
                        let kind = if matches!(token, Token::Int(_)) {
                            INT
                        } else {
                            STR
                        };
                        self.key.extend_from_slice(&b[copied..s]);
                        self.key.push(kind);
                        self.consts.push(token);
                        copied = e;
                        i = e;
                    }
                }
                _ => i += 1,
            }
        }
        self.key.extend_from_slice(&b[copied..]);
        true
    }
}

/// One past the closing quote of the string that starts at `b[i]`, if it ends.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    (i < b.len()).then_some(i + 1)
}

/// The white space the lexer skips.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// After an `=` token ending at `i`: the range and token of a lone integer or string
/// constant followed (after white space) by `;`, if that is what follows.
fn constant(input: &str, i: usize) -> Option<(usize, usize, Token)> {
    let b = input.as_bytes();
    let mut s = i;
    while s < b.len() && is_space(b[s]) {
        s += 1;
    }
    let e = if b.get(s) == Some(&b'"') {
        string_end(b, s)?
    } else {
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || matches!(b[e], b':' | b'.' | b'/')) {
            e += 1;
        }
        e
    };
    let mut f = e;
    while f < b.len() && is_space(b[f]) {
        f += 1;
    }
    if s == e || b.get(f) != Some(&b';') {
        return None;
    }
    // Exactly one constant token.
    Some((s, e, lone_constant(input.get(s..e)?)?))
}

/// The loads of `actions` fed by `constants` (in order), with their widths; `None` unless
/// the top-level loads of `actions` are exactly those constants, in order.
fn template(
    actions: &Actions,
    constants: &[Token],
    symtab: &Symtab,
) -> Option<Box<[(usize, u32)]>> {
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

/// Puts the constants `consts` in the loads of `t`; false if one does not fit its field (the
/// parser then reports it), leaving `t` with some loads changed (every use fills them all).
fn fill(t: &mut Template, consts: &[Token]) -> bool {
    if consts.len() != t.loads.len() {
        return false;
    }
    for (&(at, n_bits), c) in t.loads.iter().zip(consts) {
        let Some(Action::Load { value, .. }) = t.actions.actions.get_mut(at) else {
            return false;
        };
        match (c, value) {
            (Token::Int(c), Value::Int(v)) => {
                // The parser's check: the constant's bits (value and mask) fit the field.
                let bits = 128 - (c.value | c.mask.unwrap_or(0)).leading_zeros();
                if bits > n_bits {
                    return false;
                }
                *v = *c;
            }
            (Token::Str(c), Value::Str(v)) => c.clone_into(v),
            _ => return false,
        }
    }
    true
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
            "outport = \"a=b;\"; output;",
            "outport = \"a=c;\"; output;",
            "reg0[1] = 1 ; /* c = 1; */ next;",
            "reg0[1] = 0 ; /* c = 2; */ next;",
            "eth.src <-> eth.dst; reg0 = 5; next;",
            "eth.src <-> eth.dst; reg0 = 6; next;",
            "reg0 = 1 2; next;",
            "reg0 = 0x1f; next;",
            "reg0 = 0x1; next;",
            "reg0 = ab:cd; next;",
            "reg0 = cd:ef; next;",
            "reg0 = 1.2.3.4/24; next;",
            "reg0 = 1.2.3.4/255.255.0.0; next;",
            "reg0=1;next;",
            "reg0=2;next;",
            "reg0 = \"s\"; next;",
            "outport = \"x\\\"y\"; output;",
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
