//! Reading JSON without owning it: [`JsonView`], the read-only view the engine parses operations,
//! conditions, mutations and datums through, and [`JsonRef`], a tree whose strings borrow from the
//! request bytes.
//!
//! A `transact` request is read once and dropped: building it as a `serde_json::Value` (a `String`
//! per string, an `IndexMap` with hashed keys per object) cost about as much as executing it. A
//! [`JsonRef`] keeps unescaped strings as slices of the input and objects as member lists, and reads
//! back exactly as the `Value` of the same bytes would: same numbers (parsed by serde_json when they
//! are not plain integers), same strings, a repeated member keeps its first position and its last
//! value. [`JsonView::to_value`] gives that `Value` for error texts.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// Read access to a JSON value, implemented by `serde_json::Value` and by [`JsonRef`].
pub trait JsonView: Sized {
    /// The string, for a JSON string.
    fn as_str(&self) -> Option<&str>;
    /// The elements, for a JSON array.
    fn as_array(&self) -> Option<&[Self]>;
    /// The boolean, for `true` and `false`.
    fn as_bool(&self) -> Option<bool>;
    /// The number, for a JSON number.
    fn as_number(&self) -> Option<&Number>;
    /// True for `null`.
    fn is_null(&self) -> bool;
    /// True for a JSON object.
    fn is_object(&self) -> bool;
    /// True for a JSON string.
    fn is_string(&self) -> bool {
        self.as_str().is_some()
    }
    /// True for a JSON array.
    fn is_array(&self) -> bool {
        self.as_array().is_some()
    }
    /// True for `true` and `false`.
    fn is_boolean(&self) -> bool {
        self.as_bool().is_some()
    }
    /// The number of members of an object (0 for anything else).
    fn object_len(&self) -> usize;
    /// Member `key` of an object, with its key as stored.
    fn get_key_value(&self, key: &str) -> Option<(&str, &Self)>;
    /// Member `key` of an object.
    fn get(&self, key: &str) -> Option<&Self> {
        self.get_key_value(key).map(|(_, v)| v)
    }
    /// The members of an object in their order (none for anything else).
    fn members(&self) -> impl Iterator<Item = (&str, &Self)>;
    /// The same value as a `serde_json::Value`.
    fn to_value(&self) -> Value;
    /// Compact JSON text, as `serde_json` writes it.
    fn to_json_string(&self) -> String {
        self.to_value().to_string()
    }
}

impl JsonView for Value {
    fn as_str(&self) -> Option<&str> {
        Self::as_str(self)
    }
    fn as_array(&self) -> Option<&[Self]> {
        Self::as_array(self).map(Vec::as_slice)
    }
    fn as_bool(&self) -> Option<bool> {
        Self::as_bool(self)
    }
    fn as_number(&self) -> Option<&Number> {
        Self::as_number(self)
    }
    fn is_null(&self) -> bool {
        Self::is_null(self)
    }
    fn is_object(&self) -> bool {
        Self::is_object(self)
    }
    fn object_len(&self) -> usize {
        self.as_object().map_or(0, Map::len)
    }
    fn get_key_value(&self, key: &str) -> Option<(&str, &Self)> {
        self.as_object()?
            .get_key_value(key)
            .map(|(k, v)| (k.as_str(), v))
    }
    fn members(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.as_object()
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn to_value(&self) -> Value {
        self.clone()
    }
    fn to_json_string(&self) -> String {
        self.to_string()
    }
}

/// A JSON value whose strings borrow from the text it was parsed from (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRef<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json reads it.
    Number(Number),
    /// A string: borrowed unless it had escapes.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Self>),
    /// An object's members in order, each key once.
    Object(Vec<(Cow<'a, str>, Self)>),
}

impl JsonView for JsonRef<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<&Number> {
        match self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
    fn is_object(&self) -> bool {
        matches!(self, Self::Object(_))
    }
    fn object_len(&self) -> usize {
        match self {
            Self::Object(m) => m.len(),
            _ => 0,
        }
    }
    fn get_key_value(&self, key: &str) -> Option<(&str, &Self)> {
        match self {
            Self::Object(m) => m
                .iter()
                .find(|(k, _)| k == key)
                .map(|(k, v)| (k.as_ref(), v)),
            _ => None,
        }
    }
    fn members(&self) -> impl Iterator<Item = (&str, &Self)> {
        let m: &[(Cow<'_, str>, Self)] = match self {
            Self::Object(m) => m,
            _ => &[],
        };
        m.iter().map(|(k, v)| (k.as_ref(), v))
    }
    fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String(s.to_string()),
            Self::Array(a) => Value::Array(a.iter().map(Self::to_value).collect()),
            Self::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Bytes that cannot appear as they are inside a JSON string (control characters, `"` and
/// backslash) among the 8 bytes of `w` (little-endian): 0 when there is none, else the lowest
/// set bit is bit 7 of the first such byte (higher bits may be set for other bytes).
#[inline]
pub(crate) fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let bs = w ^ (ONES * u64::from(b'\\'));
    let backslash = bs.wrapping_sub(ONES) & !bs;
    (control | quote | backslash) & HIGH
}

/// The position of the first byte of `b` at or after `i` that cannot appear as it is inside a
/// JSON string (see [`escape_mask`]), or `b.len()`.
#[inline]
pub(crate) fn find_escape(b: &[u8], mut i: usize) -> usize {
    while let Some(Ok(w)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let m = escape_mask(u64::from_le_bytes(w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c < 0x20 || c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// The text of a string literal's contents whose escapes are all of one character (`\"`,
/// `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`); `None` when it has another one. `body` has no
/// quote or control character but those escaped (the literal was scanned before): the next
/// escape is found eight bytes at a time.
fn unescape_simple(body: &str) -> Option<String> {
    let b = body.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut from = 0;
    loop {
        let at = find_escape(b, from);
        out.push_str(body.get(from..at)?);
        if at == b.len() {
            return Some(out);
        }
        if b[at] != b'\\' {
            return None;
        }
        let c = match b.get(at + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        };
        out.push(c);
        from = at + 2;
    }
}

/// Nesting deeper than this is left to serde_json (which refuses it).
const MAX_DEPTH: usize = 127;

/// Members an object may have before duplicate keys are looked up through a hash set.
const LINEAR_MEMBERS: usize = 16;

/// Parses one complete JSON text (surrounding whitespace allowed). `None` when it is not valid
/// JSON or nests deeper than serde_json accepts: then serde_json's own parse gives the error.
pub fn parse(text: &[u8]) -> Option<JsonRef<'_>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        values: Vec::new(),
        members: Vec::new(),
    };
    let v = p.value(0)?;
    p.skip_ws();
    (p.pos == p.b.len()).then_some(v)
}

/// A `transact` request read one operation at a time, so that a big transaction is never held
/// as one tree: [`TransactReader::start`] reads the request up to its first operation,
/// [`TransactReader::next_op`] reads the operations one by one, [`TransactReader::finish`]
/// the rest. Together they accept exactly the texts [`parse`] accepts, but only requests
/// shaped as the server's fast path wants them: an object whose members are `method`,
/// `params`, `id` and null `result`/`error`, each once, with `params` an array that starts
/// with a string. Anything else is `None` somewhere along the way, and the caller reads the
/// whole request again with [`parse`] (which gives the same answer as before).
pub(crate) struct TransactReader<'a> {
    p: Parser<'a>,
    /// Where the parser's text starts in the request's text.
    base: usize,
    db: Cow<'a, str>,
    id: Option<JsonRef<'a>>,
    method: Option<JsonRef<'a>>,
    /// Top-level members seen (`method`, `params`, `id`, `result`, `error`), as bits.
    seen: u8,
    /// Set once the `]` of `params` has been read.
    ops_done: bool,
}

impl<'a> TransactReader<'a> {
    /// Reads `text` up to the first operation of its `params` (see the type's doc).
    pub(crate) fn start(text: &'a [u8]) -> Option<Self> {
        let s = std::str::from_utf8(text).ok()?;
        let mut r = Self {
            p: Parser::new(s),
            base: 0,
            db: Cow::Borrowed(""),
            id: None,
            method: None,
            seen: 0,
            ops_done: false,
        };
        if r.p.peek()? != b'{' {
            return None;
        }
        r.p.pos += 1;
        if r.p.peek()? != b'"' {
            return None;
        }
        loop {
            if r.member()? {
                break;
            }
            // Members before `params`.
            match r.p.peek()? {
                b',' => r.p.pos += 1,
                _ => return None,
            }
            if r.p.peek()? != b'"' {
                return None;
            }
        }
        // `params`: the database name.
        if r.p.peek()? != b'[' {
            return None;
        }
        r.p.pos += 1;
        if r.p.peek()? != b'"' {
            return None;
        }
        r.db = r.p.string()?;
        Some(r)
    }

    /// A reader of the operations of a request that may still be arriving: `text` is its
    /// start, `at` a position between two operations (or just after the database name) that
    /// an earlier reader reached. `None` when `text[at..]` is not valid UTF-8 (a character
    /// cut at the end is left for later). Only [`TransactReader::next_whole_op`] and
    /// [`TransactReader::position`] are meant for it.
    pub(crate) fn ops_at(text: &'a [u8], at: usize) -> Option<Self> {
        let tail = text.get(at..)?;
        let s = match std::str::from_utf8(tail) {
            Ok(s) => s,
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&tail[..e.valid_up_to()]).ok()?
            }
            Err(_) => return None,
        };
        Some(Self {
            p: Parser::new(s),
            base: at,
            db: Cow::Borrowed(""),
            id: None,
            method: None,
            seen: 2,
            ops_done: false,
        })
    }

    /// Continues at `text[at..]`: `text` is the whole request, of which this reader read the
    /// start (up to the database name, with [`TransactReader::start`]), and `at` a position
    /// between operations that a reader of its start reached ([`TransactReader::ops_at`]).
    /// False when the rest is not valid UTF-8.
    pub(crate) fn continue_at(&mut self, text: &'a [u8], at: usize) -> bool {
        let Some(s) = text.get(at..).and_then(|t| std::str::from_utf8(t).ok()) else {
            return false;
        };
        let mut p = Parser::new(s);
        std::mem::swap(&mut p.values, &mut self.p.values);
        std::mem::swap(&mut p.members, &mut self.p.members);
        self.p = p;
        self.base = at;
        true
    }

    /// Reads the next operation with `read`, which gets the parser at the operation's value
    /// and must leave it just after it: `None` (the reader is where it was) when there is no
    /// next operation or `read` declines it, by returning `None`.
    pub(crate) fn direct_op<R>(
        &mut self,
        read: impl FnOnce(&mut Parser<'a>) -> Option<R>,
    ) -> Option<R> {
        if self.ops_done {
            return None;
        }
        let at = self.p.pos;
        let r = self.p.pull_byte(b',').and_then(|()| read(&mut self.p));
        if r.is_none() {
            self.p.pos = at;
        }
        r
    }

    /// Where the reader is in the request's text.
    pub(crate) fn position(&self) -> usize {
        self.base + self.p.pos
    }

    /// The next operation, if the text holds all of it and the `,` or `]` after it (so that
    /// it reads the same once more text has come); otherwise `None`, and the reader stays
    /// where it was (at the end of the operations too: [`TransactReader::next_op`] reads the
    /// end).
    pub(crate) fn next_whole_op(&mut self) -> Option<JsonRef<'a>> {
        let at = self.p.pos;
        let op = (|| {
            if self.p.peek()? != b',' {
                return None;
            }
            self.p.pos += 1;
            let v = self.p.value(2)?;
            matches!(self.p.peek()?, b',' | b']').then_some(v)
        })();
        if op.is_none() {
            self.p.pos = at;
            self.p.values.clear();
            self.p.members.clear();
        }
        op
    }

    /// Reads one top-level member (the parser is at its key); true when it is `params`, which
    /// is left at its value.
    fn member(&mut self) -> Option<bool> {
        // The names as clients write them (no escapes) are known by their bytes.
        const KEYS: [(&[u8], u8); 3] = [(b"\"method\"", 1), (b"\"params\"", 2), (b"\"id\"", 4)];
        let rest = &self.p.b[self.p.pos..];
        let bit = match KEYS.iter().find(|(raw, _)| rest.starts_with(raw)) {
            Some(&(raw, bit)) => {
                self.p.pos += raw.len();
                bit
            }
            None => match self.p.string()?.as_ref() {
                "method" => 1,
                "params" => 2,
                "id" => 4,
                "result" => 8,
                "error" => 16,
                _ => return None,
            },
        };
        if self.p.peek()? != b':' {
            return None;
        }
        self.p.pos += 1;
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        if bit == 2 {
            return Some(true);
        }
        let v = self.p.value(1)?;
        match bit {
            1 => self.method = Some(v),
            4 => self.id = Some(v),
            _ if v.is_null() => {}
            _ => return None,
        }
        Some(false)
    }

    /// The database name (the first element of `params`).
    pub(crate) fn db_name(&self) -> &str {
        &self.db
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.p.b.len() - self.p.pos
    }

    /// The next operation: `Some(None)` after the last one, `None` when the text is not valid
    /// JSON here.
    pub(crate) fn next_op(&mut self) -> Option<Option<JsonRef<'a>>> {
        if self.ops_done {
            return Some(None);
        }
        match self.p.peek()? {
            b',' => {
                self.p.pos += 1;
                // At the depth `parse` reads them: the request is depth 1, `params` 2.
                self.p.value(2).map(Some)
            }
            b']' => {
                self.p.pos += 1;
                self.ops_done = true;
                Some(None)
            }
            _ => None,
        }
    }

    /// Reads the rest of the request after the last operation; returns its `id` when the
    /// whole text is a valid `transact` request (a `method` of `"transact"`, an `id` that is
    /// not null), `None` otherwise.
    pub(crate) fn finish(&mut self) -> Option<JsonRef<'a>> {
        if !self.ops_done {
            return None;
        }
        loop {
            match self.p.peek()? {
                b',' => {
                    self.p.pos += 1;
                    if self.p.peek()? != b'"' || self.member()? {
                        return None;
                    }
                }
                b'}' => {
                    self.p.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.p.skip_ws();
        if self.p.pos != self.p.b.len() {
            return None;
        }
        if self.method.as_ref()?.as_str()? != "transact" {
            return None;
        }
        self.id.take().filter(|id| !id.is_null())
    }
}

/// The pull parser under [`parse`] and [`TransactReader`]. The engine also reads some
/// operations through it directly, value by value, without a tree (see
/// [`TransactReader::direct_op`]): its `pull_*` methods accept exactly the texts and give
/// exactly the values [`Parser::value`] does.
pub(crate) struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Elements of the arrays being read, innermost last: each array is moved out at its
    /// exact size when it ends (no spare capacity in the tree, no regrowing).
    values: Vec<JsonRef<'a>>,
    /// Members of the objects being read, likewise.
    members: Vec<(Cow<'a, str>, JsonRef<'a>)>,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            // Allocated when a tree is first built (see [`Parser::reserve_stacks`]): the
            // direct reader of `insert` operations builds none.
            values: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Room for the nesting of usual operations, once: the stacks do not regrow (a dozen
    /// reallocations) on every request that builds a tree.
    #[inline]
    fn reserve_stacks(&mut self) {
        if self.values.capacity() == 0 {
            self.values.reserve(16);
            self.members.reserve(16);
        }
    }

    fn skip_ws(&mut self) {
        // JSON's whitespace is all below `!`: one comparison for the usual case of none.
        if self.b.get(self.pos).is_some_and(|&c| c > b' ') {
            return;
        }
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next byte that is not whitespace (the parser stays at it).
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.pos).copied()
    }

    /// The parser's whole text.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.b
    }

    /// Where the parser is in its text.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back (or on) to `pos`, a position an earlier call reached.
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Consumes byte `c` (after whitespace); `None`, not moving, when another byte is next.
    pub(crate) fn pull_byte(&mut self, c: u8) -> Option<()> {
        if self.peek()? != c {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// Consumes `,` (then true) or `close` (then false) after whitespace.
    pub(crate) fn pull_comma_or(&mut self, close: u8) -> Option<bool> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b',' {
            Some(true)
        } else if c == close {
            Some(false)
        } else {
            self.pos -= 1;
            None
        }
    }

    /// A string (after whitespace), as [`Parser::value`] reads it.
    pub(crate) fn pull_str(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()
    }

    /// A value that is not an array or an object (after whitespace): a string, a number, a
    /// boolean or null, as [`Parser::value`] reads it; `None` for anything else.
    pub(crate) fn pull_leaf(&mut self) -> Option<JsonRef<'a>> {
        match self.peek()? {
            b'"' => self.string().map(JsonRef::Str),
            b't' => self.literal("true", JsonRef::Bool(true)),
            b'f' => self.literal("false", JsonRef::Bool(false)),
            b'n' => self.literal("null", JsonRef::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number (after whitespace) written as a plain integer that fits in an `i64` (not
    /// `-0`), which [`Parser::value`] reads as that integer; `None`, not moving, for any other
    /// number or text.
    pub(crate) fn pull_plain_i64(&mut self) -> Option<i64> {
        self.peek()?;
        let start = self.pos;
        let neg = self.b[start] == b'-';
        let first = start + usize::from(neg);
        let mut i = first;
        while self.b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // As in `Parser::number`: no fraction or exponent, at least one digit, no leading
        // zero but in "0" itself.
        if matches!(self.b.get(i), Some(b'.' | b'e' | b'E' | b'+' | b'-'))
            || i == first
            || (self.b[first] == b'0' && i > first + 1)
        {
            return None;
        }
        let tok = self.s.get(start..i)?;
        let n = if neg {
            tok.parse::<i64>().ok().filter(|&n| n != 0)?
        } else {
            i64::try_from(tok.parse::<u64>().ok()?).ok()?
        };
        self.pos = i;
        Some(n)
    }

    /// Skips one value that [`Parser::value`] at `depth` would accept, without building it.
    pub(crate) fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.skip_string()?;
                    self.pull_byte(b':')?;
                    self.skip_value(depth + 1)?;
                    if !self.pull_comma_or(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.pull_comma_or(b']')? {
                        return Some(());
                    }
                }
            }
            b'"' => self.skip_string(),
            _ => self.pull_leaf().map(drop),
        }
    }

    /// Skips a string starting at its opening quote, accepting what [`Parser::string`] does.
    fn skip_string(&mut self) -> Option<()> {
        let start = self.pos + 1;
        let mut i = find_escape(self.b, start);
        let mut simple = true;
        loop {
            match *self.b.get(i)? {
                b'"' => break,
                b'\\' => {
                    simple &= matches!(
                        self.b.get(i + 1)?,
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
                    );
                    i = find_escape(self.b, i + 2);
                }
                _ => return None,
            }
        }
        if !simple {
            serde_json::from_str::<String>(self.s.get(start - 1..=i)?).ok()?;
        }
        self.pos = i + 1;
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<JsonRef<'a>> {
        match self.peek()? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                self.object(depth + 1)
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(JsonRef::Array(Vec::new()));
                }
                self.reserve_stacks();
                let start = self.values.len();
                loop {
                    let v = self.value(depth + 1)?;
                    self.values.push(v);
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Some(JsonRef::Array(self.values.split_off(start)));
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(JsonRef::Str),
            b't' => self.literal("true", JsonRef::Bool(true)),
            b'f' => self.literal("false", JsonRef::Bool(false)),
            b'n' => self.literal("null", JsonRef::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<JsonRef<'a>> {
        let mut index: Option<std::collections::HashMap<Cow<'a, str>, usize>> = None;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(JsonRef::Object(Vec::new()));
        }
        self.reserve_stacks();
        let start = self.members.len();
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            let v = self.value(depth)?;
            // A repeated key keeps its first position and takes the last value, as in a
            // `serde_json::Map` with `preserve_order`.
            let out = &mut self.members;
            let existing = match &mut index {
                Some(ix) => ix.get(&key).copied(),
                None => out[start..].iter().position(|(k, _)| *k == key),
            };
            match existing {
                Some(i) => out[start + i].1 = v,
                None => {
                    if let Some(ix) = &mut index {
                        ix.insert(key.clone(), out.len() - start);
                    }
                    out.push((key, v));
                    if index.is_none() && out.len() - start > LINEAR_MEMBERS {
                        index = Some(
                            out[start..]
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                }
            }
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(JsonRef::Object(self.members.split_off(start)));
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &str, v: JsonRef<'a>) -> Option<JsonRef<'a>> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Some(v)
        } else {
            None
        }
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut i = find_escape(self.b, start);
        match *self.b.get(i)? {
            b'"' => {
                self.pos = i + 1;
                return Some(Cow::Borrowed(self.s.get(start..i)?));
            }
            b'\\' => {}
            _ => return None,
        }
        // Escapes: find the closing quote, then decode the whole literal.
        loop {
            match *self.b.get(i)? {
                b'"' => break,
                b'\\' => i = find_escape(self.b, i + 2),
                _ => return None,
            }
        }
        let literal = self.s.get(start - 1..=i)?;
        let s = match unescape_simple(&literal[1..literal.len() - 1]) {
            Some(s) => s,
            // `\u` escapes (and anything odd) are serde_json's to decode.
            None => serde_json::from_str(literal).ok()?,
        };
        self.pos = i + 1;
        Some(Cow::Owned(s))
    }

    fn number(&mut self) -> Option<JsonRef<'a>> {
        let start = self.pos;
        let mut i = start;
        let mut plain = true;
        while let Some(&c) = self.b.get(i) {
            match c {
                b'0'..=b'9' => {}
                b'-' if i == start => {}
                b'.' | b'e' | b'E' | b'+' | b'-' => plain = false,
                _ => break,
            }
            i += 1;
        }
        let tok = &self.s[start..i];
        self.pos = i;
        let digits = tok.strip_prefix('-').unwrap_or(tok);
        if plain && !digits.is_empty() && (digits == "0" || !digits.starts_with('0')) {
            let n = if tok.starts_with('-') {
                // serde_json reads `-0` as the real -0.0: left to it below.
                tok.parse::<i64>()
                    .ok()
                    .filter(|&n| n != 0)
                    .map(Number::from)
            } else {
                tok.parse::<u64>().ok().map(Number::from)
            };
            if let Some(n) = n {
                return Some(JsonRef::Number(n));
            }
        }
        serde_json::from_str::<Number>(tok)
            .ok()
            .map(JsonRef::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(text: &str) {
        let ours = parse(text.as_bytes()).map(|v| v.to_value());
        let theirs = serde_json::from_str::<Value>(text).ok();
        assert_eq!(ours, theirs, "{text}");
        if let (Some(a), Some(b)) = (&ours, &theirs) {
            assert_eq!(a.to_string(), b.to_string(), "{text}");
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"id":0,"method":"transact","params":["OVN_Northbound",{"op":"insert"}]}"#,
            r#" [1, -2, 0, -0, 1.5, 1e3, 1E-2, -1.0e+2, 18446744073709551615, 18446744073709551616] "#,
            r#"[-9223372036854775808, -9223372036854775809, 123456789012345678901234567890]"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"["\u00e9\n\"\\\/", "plain", "", "\ud83d\ude00", "é"]"#,
            r#"{"":null,"t":true,"f":false,"o":{},"a":[]}"#,
            r#"["inport == \"pod-1-2\" && eth.src == {0a:58}", "a\tb\r\n\b\f\/", "long plain text with no escapes at all, over several words", "x\"", "\\", "é\"é\u0041"]"#,
            r#"{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k1":19,"k17":20}"#,
        ] {
            same(text);
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "[",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "--1",
            "tru",
            "nul",
            "\"a\nb\"",
            "\"\\x\"",
            "\"\\u12\"",
            "[1] 2",
            "{1:2}",
            "'a'",
            "NaN",
            "\"\\ud800\"",
        ] {
            same(text);
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        same(&deep);
        assert!(parse(&[b'"', 0xff, b'"']).is_none());
    }

    /// Reads `text` with a [`TransactReader`]: the database name, the operations and the id,
    /// or `None` where the reader declines.
    fn read_transact(text: &str) -> Option<(String, Vec<Value>, Value)> {
        let mut r = TransactReader::start(text.as_bytes())?;
        let db = r.db_name().to_owned();
        let mut ops = Vec::new();
        while let Some(op) = r.next_op()? {
            ops.push(op.to_value());
        }
        let id = r.finish()?.to_value();
        Some((db, ops, id))
    }

    #[test]
    fn transact_reader_reads_what_parse_reads() {
        let accepted = [
            r#"{"id":1,"method":"transact","params":["DB",{"op":"insert","row":{"a":"x\"y"}},[1,2],"s"]}"#,
            r#" { "params" : [ "DB" ] , "method" : "transact" , "id" : "x" , "result" : null } "#,
            r#"{"method":"transact","error":null,"params":["D\u00e9",{}],"id":[1]}"#,
        ];
        for text in accepted {
            let (db, ops, id) = read_transact(text).expect(text);
            let v: Value = serde_json::from_str(text).unwrap();
            let params = v["params"].as_array().unwrap();
            assert_eq!(Value::String(db), params[0], "{text}");
            assert_eq!(ops, params[1..], "{text}");
            assert_eq!(id, v["id"], "{text}");
        }
        let declined = [
            "",
            "[]",
            "{}",
            r#"{"id":1,"method":"transact","params":[]}"#,
            r#"{"id":1,"method":"transact","params":[1]}"#,
            r#"{"id":1,"method":"transact","params":"DB"}"#,
            r#"{"id":null,"method":"transact","params":["DB"]}"#,
            r#"{"method":"transact","params":["DB"]}"#,
            r#"{"id":1,"params":["DB"]}"#,
            r#"{"id":1,"method":"echo","params":["DB"]}"#,
            r#"{"id":1,"method":"transact","params":["DB"],"id":2}"#,
            r#"{"id":1,"method":"transact","params":["DB"],"params":["DB"]}"#,
            r#"{"id":1,"method":"transact","params":["DB"],"result":0}"#,
            r#"{"id":1,"method":"transact","params":["DB"],"other":null}"#,
            r#"{"id":1,"method":"transact","params":["DB",{"op":tru}]}"#,
            r#"{"id":1,"method":"transact","params":["DB",{}]} 1"#,
            r#"{"id":1,"method":"transact","params":["DB",{}]"#,
            r#"{"id":1,"method":"transact","params":["DB",{},]}"#,
            r#"{"id":1,"method":"transact","params":["DB" {}]}"#,
        ];
        for text in declined {
            assert_eq!(read_transact(text), None, "{text}");
        }
    }

    #[test]
    fn plain_integers_read_as_value_reads_them() {
        for t in [
            "0",
            "-1",
            "7",
            "10",
            " 42",
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "-0",
            "00",
            "01",
            "-01",
            "1.0",
            "1e3",
            "1E3",
            "-",
            "1-2",
            "1+2",
            "",
            "x",
            "\"1\"",
            "18446744073709551616",
        ] {
            let mut p = Parser::new(t);
            let got = p.pull_plain_i64();
            let want = match parse(t.as_bytes()) {
                Some(JsonRef::Number(n)) if n.is_i64() || n.is_u64() => n.as_i64(),
                _ => None,
            };
            assert_eq!(got, want, "{t}");
            if got.is_none() {
                assert_eq!(p.pos(), t.len() - t.trim_start().len(), "{t}");
            } else {
                assert_eq!(p.pos(), t.len(), "{t}");
            }
        }
    }

    #[test]
    fn unescaped_strings_borrow() {
        let text = br#"["abc", "a\"b"]"#;
        let Some(JsonRef::Array(a)) = parse(text) else {
            panic!("not an array")
        };
        assert!(matches!(a[0], JsonRef::Str(Cow::Borrowed("abc"))));
        assert!(matches!(&a[1], JsonRef::Str(Cow::Owned(s)) if s == "a\"b"));
    }
}
