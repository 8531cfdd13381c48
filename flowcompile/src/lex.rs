//! The lexer: OVN's token language, shared by the match parser and (later) the action parser.
//!
//! [`tokenize`] turns text into [`Spanned`] tokens; [`Lexer`] is a cursor over them with the
//! helpers both parsers need (`peek`, `lookahead`, `eat`, `expect`, `expect_end`,
//! `syntax_error`).  Lexical errors do not abort tokenizing eagerly: the stream ends in a
//! [`Token::Error`] token at the bad spot, and whichever parser reaches it reports the lexical
//! message (as OVN does) with its span.
//!
//! Integers carry up to 128 bits and remember their written [`IntFormat`] so that printers can
//! write them back the way they were written (`10.0.0.0/8`, `00:00:00:00:00:01`, `0x800`, `80`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ErrorKind, ExprError, Span};

/// How an integer constant was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntFormat {
    /// `80`
    Decimal,
    /// `0x800`
    Hex,
    /// `10.0.0.1`
    Ipv4,
    /// `fe80::1`
    Ipv6,
    /// `00:00:00:00:00:01`
    Ethernet,
}

/// An integer constant, optionally masked (`value/mask`, CIDR prefixes become masks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntConst {
    /// The value; never has 1-bits outside `mask` when masked.
    pub value: u128,
    /// The mask, if the constant was written with `/`.
    pub mask: Option<u128>,
    /// How it was written.
    pub format: IntFormat,
}

impl IntConst {
    /// An unmasked constant.
    pub const fn new(value: u128, format: IntFormat) -> Self {
        Self {
            value,
            mask: None,
            format,
        }
    }

    /// The format to print in: the written one, unless the value does not fit it (then hex).
    pub fn effective_format(&self) -> IntFormat {
        let limit_bits = match self.format {
            IntFormat::Decimal => 64,
            IntFormat::Hex | IntFormat::Ipv6 => 128,
            IntFormat::Ipv4 => 32,
            IntFormat::Ethernet => 48,
        };
        let fits = |v: u128| limit_bits == 128 || v >> limit_bits == 0;
        if fits(self.value) && self.mask.is_none_or(fits) {
            self.format
        } else {
            IntFormat::Hex
        }
    }
}

/// Writes `v` the way OVS's `mf_format_subvalue` does: `0` or `0x` and minimal hex digits.
pub fn format_hex(v: u128) -> String {
    if v == 0 {
        "0".to_owned()
    } else {
        format!("{v:#x}")
    }
}

fn format_value(v: u128, format: IntFormat, out: &mut String) {
    match format {
        IntFormat::Decimal => out.push_str(&v.to_string()),
        IntFormat::Hex => out.push_str(&format_hex(v)),
        IntFormat::Ipv4 => out.push_str(&Ipv4Addr::from(v as u32).to_string()),
        IntFormat::Ipv6 => out.push_str(&Ipv6Addr::from(v).to_string()),
        IntFormat::Ethernet => out.push_str(&format_mac(v as u64)),
    }
}

/// Formats the low 48 bits of `v` as `xx:xx:xx:xx:xx:xx`.
pub fn format_mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// Returns the prefix length if `mask` is a CIDR mask of `width` bits.
pub fn cidr_len(mask: u128, width: u32) -> Option<u32> {
    let full = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if mask & !full != 0 {
        return None;
    }
    let ones = mask.count_ones();
    let expect = if ones == 0 {
        0
    } else {
        full & !((1u128 << (width - ones)) - 1)
    };
    (mask == expect).then_some(ones)
}

impl fmt::Display for IntConst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = self.effective_format();
        let mut s = String::new();
        format_value(self.value, format, &mut s);
        if let Some(mask) = self.mask {
            s.push('/');
            match (format, self.format) {
                (IntFormat::Ipv4, _) if cidr_len(mask, 32).is_some() => {
                    s.push_str(&cidr_len(mask, 32).unwrap_or(0).to_string());
                }
                (_, IntFormat::Ipv6) if cidr_len(mask, 128).is_some() => {
                    s.push_str(&cidr_len(mask, 128).unwrap_or(0).to_string());
                }
                _ => format_value(mask, format, &mut s),
            }
        }
        f.write_str(&s)
    }
}

/// Longest identifier [`Ident`] holds without a heap allocation.
const IDENT_INLINE: usize = 22;

/// An identifier's text.  Short ones (nearly all: field names, action names) are held inline,
/// so that lexing an identifier allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ident(IdentRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum IdentRepr {
    Inline { len: u8, bytes: [u8; IDENT_INLINE] },
    Heap(Box<str>),
}

impl Ident {
    /// An identifier with this text.
    pub fn new(s: &str) -> Self {
        if s.len() <= IDENT_INLINE {
            let mut bytes = [0; IDENT_INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Self(IdentRepr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            Self(IdentRepr::Heap(s.into()))
        }
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdentRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdentRepr::Heap(s) => s.as_bytes(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes are a whole `str` (copied in `new`), so this never fails.
            IdentRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            IdentRepr::Heap(s) => s,
        }
    }
}

impl std::ops::Deref for Ident {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Ident {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Ident {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Ident {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// End of input.
    End,
    /// A lexical error; the parser that reaches it reports this message.
    Error(String),
    /// An identifier: `[A-Za-z_.][A-Za-z0-9_.]*`.
    Id(Ident),
    /// A quoted string, unescaped.
    Str(String),
    /// An integer, possibly masked.
    Int(IntConst),
    /// `$name`, an address set reference.
    AddressSet(String),
    /// `@name`, a port group reference.
    PortGroup(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LCurly,
    /// `}`
    RCurly,
    /// `[`
    LSquare,
    /// `]`
    RSquare,
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
    /// `!`
    Not,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `..`
    Ellipsis,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `=`
    Equals,
    /// `<->`
    Exchange,
    /// `--`
    Decrement,
    /// `-` (port ranges in actions, `1000-2000`)
    Hyphen,
    /// `:`
    Colon,
}

impl Token {
    /// True for the kinds that carry a value (two tokens of another kind are equal).
    fn has_payload(&self) -> bool {
        matches!(
            self,
            Self::Error(_)
                | Self::Id(_)
                | Self::Str(_)
                | Self::Int(_)
                | Self::AddressSet(_)
                | Self::PortGroup(_)
        )
    }
}

/// Writes `s` as a JSON string literal, as OVN does for string constants.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::End => f.write_str("$"),
            Self::Error(m) => write!(f, "error({})", quote(m)),
            Self::Id(s) => f.write_str(s),
            Self::Str(s) => f.write_str(&quote(s)),
            Self::Int(i) => write!(f, "{i}"),
            Self::AddressSet(s) => write!(f, "${s}"),
            Self::PortGroup(s) => write!(f, "@{s}"),
            Self::LParen => f.write_str("("),
            Self::RParen => f.write_str(")"),
            Self::LCurly => f.write_str("{"),
            Self::RCurly => f.write_str("}"),
            Self::LSquare => f.write_str("["),
            Self::RSquare => f.write_str("]"),
            Self::Eq => f.write_str("=="),
            Self::Ne => f.write_str("!="),
            Self::Lt => f.write_str("<"),
            Self::Le => f.write_str("<="),
            Self::Gt => f.write_str(">"),
            Self::Ge => f.write_str(">="),
            Self::Not => f.write_str("!"),
            Self::And => f.write_str("&&"),
            Self::Or => f.write_str("||"),
            Self::Ellipsis => f.write_str(".."),
            Self::Comma => f.write_str(","),
            Self::Semicolon => f.write_str(";"),
            Self::Equals => f.write_str("="),
            Self::Exchange => f.write_str("<->"),
            Self::Decrement => f.write_str("--"),
            Self::Hyphen => f.write_str("-"),
            Self::Colon => f.write_str(":"),
        }
    }
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    /// The token.
    pub token: Token,
    /// Its bytes in the input.
    pub span: Span,
}

/// Character classes of [`CLASS`].
const ID1: u8 = 1;
const DIGIT: u8 = 2;
const ALPHA: u8 = 4;

/// Per byte: [`ID1`] for `[A-Za-z_.]`, [`DIGIT`] for `[0-9]`, [`ALPHA`] for `[A-Za-z]`.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphabetic() {
            t[c] = ID1 | ALPHA;
        } else if b.is_ascii_digit() {
            t[c] = DIGIT;
        } else if b == b'_' || b == b'.' {
            t[c] = ID1;
        }
        c += 1;
    }
    t
};

fn is_id1(c: u8) -> bool {
    CLASS[usize::from(c)] & ID1 != 0
}

fn is_idn(c: u8) -> bool {
    CLASS[usize::from(c)] & (ID1 | DIGIT) != 0
}

fn is_alnum(c: u8) -> bool {
    CLASS[usize::from(c)] & (ALPHA | DIGIT) != 0
}

struct Scanner<'a> {
    s: &'a [u8],
    text: &'a str,
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    fn id_end(&self, p: usize) -> usize {
        let rest = self.s.get(p + 1..).unwrap_or_default();
        p + 1 + rest.iter().position(|&c| !is_idn(c)).unwrap_or(rest.len())
    }

    /// Scans an unmasked integer at `p`; returns its end and result.
    fn integer(&self, p: usize) -> (usize, Result<IntConst, String>) {
        let s = self.s;
        let mut end = p;
        let mut saw_dot = false;
        while let Some(&c) = s.get(end) {
            if is_alnum(c) || (c == b':' && !saw_dot) {
                end += 1;
            } else if c == b'.' && s.get(end + 1) != Some(&b'.') {
                saw_dot = true;
                end += 1;
            } else {
                break;
            }
        }
        let text = &self.text[p..end];
        (end, parse_integer_text(text))
    }

    /// The common constants (a MAC, a decimal, a dotted quad) at `p`, read in one pass:
    /// `Some` only when [`Self::integer`] would end at the same byte with the same value;
    /// `None` leaves the constant to it.
    fn simple_integer(&self, p: usize) -> Option<(usize, IntConst)> {
        let s = self.s;
        if let Some(t) = s.get(p..p + 17) {
            if t[2] == b':' {
                let v = parse_mac_bytes(t)?;
                let c = self.at(p + 17);
                let more = is_alnum(c) || c == b':' || (c == b'.' && self.at(p + 18) != b'.');
                return (!more).then_some((p + 17, IntConst::new(v, IntFormat::Ethernet)));
            }
        }
        // Digits and dots, as `integer` scans them.
        let mut q = p;
        let mut dots = 0;
        loop {
            let c = self.at(q);
            if c.is_ascii_digit() {
                q += 1;
            } else if c == b'.' && self.at(q + 1) != b'.' {
                dots += 1;
                q += 1;
            } else {
                break;
            }
        }
        let c = self.at(q);
        if q == p || is_alnum(c) || (dots == 0 && c == b':') {
            return None;
        }
        let t = &s[p..q];
        if dots > 0 {
            let v = parse_dotted_quad(t)?;
            return Some((q, IntConst::new(u128::from(v), IntFormat::Ipv4)));
        }
        if t.len() > 1 && t[0] == b'0' {
            return None;
        }
        let mut v: u64 = 0;
        for &d in t {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        Some((q, IntConst::new(u128::from(v), IntFormat::Decimal)))
    }

    fn masked_integer(&self, p: usize) -> (usize, Result<IntConst, String>) {
        if let Some((end, v)) = self.simple_integer(p) {
            if self.at(end) != b'/' {
                return (end, Ok(v));
            }
        }
        let (end, r) = self.integer(p);
        let Ok(mut value) = r else { return (end, r) };
        if self.at(end) != b'/' {
            return (end, Ok(value));
        }
        let (end, m) = self.integer(end + 1);
        let mask = match m {
            Ok(m) => m,
            Err(e) => return (end, Err(e)),
        };
        let prefix = mask.value;
        let mask_value = if value.format == mask.format {
            mask.value
        } else if value.format == IntFormat::Ipv4
            && mask.format == IntFormat::Decimal
            && prefix <= 32
        {
            prefix_mask(prefix as u32, 32)
        } else if value.format == IntFormat::Ipv6
            && mask.format == IntFormat::Decimal
            && prefix <= 128
        {
            prefix_mask(prefix as u32, 128)
        } else if value.format == IntFormat::Decimal
            && mask.format == IntFormat::Hex
            && value.value == 0
        {
            value.format = IntFormat::Hex;
            mask.value
        } else {
            return (end, Err("Value and mask have incompatible formats.".into()));
        };
        if value.value & !mask_value != 0 {
            return (end, Err("Value contains unmasked 1-bits.".into()));
        }
        value.mask = Some(mask_value);
        (end, Ok(value))
    }

    fn string(&self, p: usize) -> (usize, Token) {
        let start = p + 1;
        let mut q = start;
        loop {
            match self.at(q) {
                0 if q >= self.s.len() => {
                    return (q, Token::Error("Input ends inside quoted string.".into()));
                }
                b'"' => {
                    return (
                        q + 1,
                        unescape(&self.text[start..q]).map_or_else(Token::Error, Token::Str),
                    );
                }
                b'\\' => {
                    q += 1;
                    if q < self.s.len() {
                        q += 1;
                    }
                }
                _ => q += 1,
            }
        }
    }
}

/// A mask with the high `n` bits of a `width`-bit field set.
pub fn prefix_mask(n: u32, width: u32) -> u128 {
    let full = if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if n == 0 {
        0
    } else if n >= width {
        full
    } else {
        full & !((1u128 << (width - n)) - 1)
    }
}

/// Per byte: its value as a hex digit, or 0xff.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

fn hex_digit(c: u8) -> Option<u8> {
    let d = HEX[usize::from(c)];
    (d != 0xff).then_some(d)
}

/// `xx:xx:xx:xx:xx:xx` with hex digits.
fn parse_mac(text: &str) -> Option<u128> {
    parse_mac_bytes(text.as_bytes())
}

/// [`parse_mac`] on bytes.
fn parse_mac_bytes(b: &[u8]) -> Option<u128> {
    if b.len() != 17 {
        return None;
    }
    let mut v: u64 = 0;
    for i in 0..6 {
        let at = i * 3;
        if i > 0 && b[at - 1] != b':' {
            return None;
        }
        let byte = (hex_digit(b[at])? << 4) | hex_digit(b[at + 1])?;
        v = (v << 8) | u64::from(byte);
    }
    Some(u128::from(v))
}

/// IPv6 addresses of hex groups only (`fe80::1`, `fd00:10:244::5`, `::`), parsed without the
/// general parser: `None` for anything else (embedded IPv4, malformed text), which the
/// general parser then decides on.  Accepts exactly what it accepts of that form: eight groups
/// of 1 to 4 hex digits, or fewer around one `::` that stands for at least one zero group.
fn parse_ipv6_groups(b: &[u8]) -> Option<u128> {
    let mut head: u128 = 0;
    let mut n_head = 0u32;
    let mut tail: u128 = 0;
    let mut n_tail = 0u32;
    let mut gap = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap = true;
        i = 2;
    }
    while i < b.len() {
        let start = i;
        let mut group: u128 = 0;
        while let Some(d) = b.get(i).and_then(|&c| hex_digit(c)) {
            group = (group << 4) | u128::from(d);
            i += 1;
        }
        let len = i - start;
        if len == 0 || len > 4 {
            return None;
        }
        if gap {
            tail = (tail << 16) | group;
            n_tail += 1;
        } else {
            head = (head << 16) | group;
            n_head += 1;
        }
        match (b.get(i), b.get(i + 1)) {
            (None, _) => break,
            (Some(b':'), Some(b':')) if !gap => {
                gap = true;
                i += 2;
            }
            (Some(b':'), Some(_)) => i += 1,
            _ => return None,
        }
    }
    let groups = n_head + n_tail;
    if gap {
        if groups > 7 {
            return None;
        }
        Some(
            if n_head == 0 {
                0
            } else {
                head << (16 * (8 - n_head))
            } | tail,
        )
    } else if groups == 8 {
        Some(head)
    } else {
        None
    }
}

/// A canonical dotted-quad IPv4 address (four decimal octets of 1 to 3 digits, no leading
/// zeros, each at most 255), parsed without the general parser; `None` for anything else,
/// which the general parser then decides on.
fn parse_dotted_quad(bytes: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    let mut octets = 0;
    let mut i = 0;
    while octets < 4 {
        let start = i;
        let mut octet: u32 = 0;
        while let Some(c) = bytes.get(i).filter(|c| c.is_ascii_digit()) {
            octet = octet * 10 + u32::from(c - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let len = i - start;
        if len == 0 || octet > 255 || (len > 1 && bytes[start] == b'0') {
            return None;
        }
        v = (v << 8) | octet;
        octets += 1;
        if octets < 4 {
            if bytes.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == bytes.len()).then_some(v)
}

fn parse_integer_text(text: &str) -> Result<IntConst, String> {
    if text.is_empty() {
        return Err("Integer constant expected.".into());
    }
    if let Some(v) = parse_mac(text) {
        return Ok(IntConst::new(v, IntFormat::Ethernet));
    }
    let bytes = text.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) {
        if bytes[0] == b'0' && bytes.len() > 1 {
            return Err("Decimal constants must not have leading zeros.".into());
        }
        let mut v: u64 = 0;
        for &c in bytes {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or("Decimal constants must be less than 2**64.")?;
        }
        return Ok(IntConst::new(u128::from(v), IntFormat::Decimal));
    }
    if bytes[0] == b'0' && (bytes[1] == b'x' || bytes[1] == b'X') {
        let digits = &text[2..];
        if digits.is_empty() {
            return Err(format!(
                "Hex digits expected following 0{}.",
                bytes[1] as char
            ));
        }
        let mut v: u128 = 0;
        for (i, c) in digits.bytes().enumerate() {
            let d = (c as char)
                .to_digit(16)
                .ok_or("Invalid syntax in hexadecimal constant.")?;
            let significant = digits.len() - i;
            if d != 0 && significant > 32 {
                return Err("Hexadecimal constant requires more than 128 bits.".into());
            }
            v = (v << 4) | u128::from(d);
        }
        return Ok(IntConst::new(v, IntFormat::Hex));
    }
    if let Some(v) = parse_dotted_quad(bytes) {
        return Ok(IntConst::new(u128::from(v), IntFormat::Ipv4));
    }
    // Never IPv4 text (it has a `:`), so trying it before the IPv4 parser changes nothing.
    if let Some(v) = parse_ipv6_groups(bytes) {
        return Ok(IntConst::new(v, IntFormat::Ipv6));
    }
    if text.len() < 46 {
        if let Ok(a) = text.parse::<Ipv4Addr>() {
            return Ok(IntConst::new(u128::from(u32::from(a)), IntFormat::Ipv4));
        }
        if let Ok(a) = text.parse::<Ipv6Addr>() {
            return Ok(IntConst::new(u128::from(a), IntFormat::Ipv6));
        }
    }
    Err("Invalid numeric constant.".into())
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\0' {
            return Err("null bytes not supported in quoted strings".into());
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("malformed \\u escape \"{hex}\""))?;
                if code == 0 {
                    return Err("null bytes not supported in quoted strings".into());
                }
                out.push(char::from_u32(code).ok_or("invalid UTF-16 escape in quoted string")?);
            }
            Some(c) => return Err(format!("bad escape \\{c}")),
            None => return Err("quoted string may not end with backslash".into()),
        }
    }
    Ok(out)
}

/// Parses `text` as exactly one integer constant (an address set entry such as `10.0.0.0/8`,
/// `fe80::1`, a MAC or a number), as OVN does for `Address_Set` rows.
pub fn parse_constant(text: &str) -> Result<IntConst, ExprError> {
    let lx = Lexer::new(text);
    match lx.peek() {
        Token::Int(i) if *lx.lookahead() == Token::End => Ok(*i),
        _ => Err(lx.lex_error().unwrap_or_else(|| {
            ExprError::new(
                ErrorKind::Lex,
                format!("Invalid constant set entry: '{text}'"),
                None,
            )
        })),
    }
}

/// Splits `input` into tokens.  The result always ends with [`Token::End`] or, at the first
/// lexical error, [`Token::Error`].
pub fn tokenize(input: &str) -> Vec<Spanned> {
    tokenize_into(input, Vec::new())
}

/// About one token per four bytes of typical flow text.
fn token_estimate(input: &str) -> usize {
    input.len() / 4 + 2
}

/// The token of `text` if `text` is exactly one integer or string constant, as
/// [`tokenize`] reads it (then followed by [`Token::End`]); `None` otherwise (and for some
/// texts that [`tokenize`] reads as a constant followed by a comment).
pub(crate) fn lone_constant(text: &str) -> Option<Token> {
    let sc = Scanner {
        s: text.as_bytes(),
        text,
    };
    let (end, token) = match sc.at(0) {
        b':' if sc.at(1) != b':' => return None,
        b':' | b'0'..=b'9' => {
            let (end, r) = sc.masked_integer(0);
            (end, Token::Int(r.ok()?))
        }
        b'"' => sc.string(0),
        b'a'..=b'f' | b'A'..=b'F' => {
            let mut q = 0;
            while sc.at(q).is_ascii_hexdigit() {
                q += 1;
            }
            if sc.at(q) != b':' {
                return None;
            }
            let (end, r) = sc.masked_integer(0);
            (end, Token::Int(r.ok()?))
        }
        _ => return None,
    };
    (end == text.len() && matches!(token, Token::Int(_) | Token::Str(_))).then_some(token)
}

/// [`tokenize`] into `out` (emptied first), reusing its memory.
fn tokenize_into(input: &str, mut out: Vec<Spanned>) -> Vec<Spanned> {
    let sc = Scanner {
        s: input.as_bytes(),
        text: input,
    };
    out.clear();
    out.reserve(token_estimate(input));
    let mut p = 0;
    loop {
        // Skip white space and comments.
        loop {
            match sc.at(p) {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => p += 1,
                b'/' if sc.at(p + 1) == b'/' => {
                    while p < input.len() && sc.at(p) != b'\n' {
                        p += 1;
                    }
                }
                b'/' if sc.at(p + 1) == b'*' => {
                    let open = p;
                    p += 2;
                    loop {
                        if sc.at(p) == b'*' && sc.at(p + 1) == b'/' {
                            p += 2;
                            break;
                        } else if p >= input.len() || sc.at(p) == b'\n' {
                            out.push(Spanned {
                                token: Token::Error("`/*' without matching `*/'.".into()),
                                span: Span::new(open, p),
                            });
                            return out;
                        }
                        p += 1;
                    }
                }
                _ => break,
            }
        }
        let start = p;
        if p >= input.len() {
            out.push(Spanned {
                token: Token::End,
                span: Span::new(p, p),
            });
            return out;
        }
        let c = sc.at(p);
        let two = |t2: u8| sc.at(p + 1) == t2;
        let (end, token) = match c {
            b'(' => (p + 1, Token::LParen),
            b')' => (p + 1, Token::RParen),
            b'{' => (p + 1, Token::LCurly),
            b'}' => (p + 1, Token::RCurly),
            b'[' => (p + 1, Token::LSquare),
            b']' => (p + 1, Token::RSquare),
            b',' => (p + 1, Token::Comma),
            b';' => (p + 1, Token::Semicolon),
            b'=' if two(b'=') => (p + 2, Token::Eq),
            b'=' => (p + 1, Token::Equals),
            b'!' if two(b'=') => (p + 2, Token::Ne),
            b'!' => (p + 1, Token::Not),
            b'&' if two(b'&') => (p + 2, Token::And),
            b'&' => (
                p + 1,
                Token::Error("`&' is only valid as part of `&&'.".into()),
            ),
            b'|' if two(b'|') => (p + 2, Token::Or),
            b'|' => (
                p + 1,
                Token::Error("`|' is only valid as part of `||'.".into()),
            ),
            b'<' if two(b'=') => (p + 2, Token::Le),
            b'<' if two(b'-') && sc.at(p + 2) == b'>' => (p + 3, Token::Exchange),
            b'<' => (p + 1, Token::Lt),
            b'>' if two(b'=') => (p + 2, Token::Ge),
            b'>' => (p + 1, Token::Gt),
            b'.' if two(b'.') => (p + 2, Token::Ellipsis),
            b'.' => (
                p + 1,
                Token::Error("`.' is only valid as part of `..' or a number.".into()),
            ),
            b'-' if two(b'-') => (p + 2, Token::Decrement),
            b'-' => (p + 1, Token::Hyphen),
            b'/' => (
                p + 1,
                Token::Error("`/' is only valid as part of `//' or `/*'.".into()),
            ),
            b'$' | b'@' => {
                if is_id1(sc.at(p + 1)) {
                    let end = sc.id_end(p + 1);
                    let name = input[p + 1..end].to_owned();
                    (
                        end,
                        if c == b'$' {
                            Token::AddressSet(name)
                        } else {
                            Token::PortGroup(name)
                        },
                    )
                } else {
                    let msg = format!("`{}' must be followed by a valid identifier.", c as char);
                    (p + 1, Token::Error(msg))
                }
            }
            b':' if !two(b':') => (p + 1, Token::Colon),
            b':' | b'0'..=b'9' => {
                let (end, r) = sc.masked_integer(p);
                (end, r.map_or_else(Token::Error, Token::Int))
            }
            b'"' => sc.string(p),
            b'a'..=b'f' | b'A'..=b'F' => {
                let mut q = p;
                while sc.at(q).is_ascii_hexdigit() {
                    q += 1;
                }
                if sc.at(q) == b':' {
                    let (end, r) = sc.masked_integer(p);
                    (end, r.map_or_else(Token::Error, Token::Int))
                } else {
                    let end = sc.id_end(p);
                    (end, Token::Id(Ident::new(&input[p..end])))
                }
            }
            c if is_id1(c) => {
                let end = sc.id_end(p);
                (end, Token::Id(Ident::new(&input[p..end])))
            }
            _ => {
                let ch = input[p..].chars().next().unwrap_or('\0');
                let msg = if ch.is_ascii_graphic() || ch == ' ' {
                    format!("Invalid character `{ch}' in input.")
                } else {
                    format!("Invalid byte 0x{c:x} in input.")
                };
                (p + ch.len_utf8().max(1), Token::Error(msg))
            }
        };
        let is_error = matches!(token, Token::Error(_));
        out.push(Spanned {
            token,
            span: Span::new(start, end),
        });
        if is_error {
            return out;
        }
        p = end;
    }
}

/// A cursor over the tokens of one input, with the error conventions of OVN's lexer.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    input: &'a str,
    tokens: Vec<Spanned>,
    pos: usize,
}

/// Most tokens a vector kept for reuse may hold (a huge expression's vector is freed).
const MAX_SPARE_TOKENS: usize = 4096;

thread_local! {
    /// The token vector of the last [`Lexer`] dropped on this thread, for the next one: one
    /// flow's tokens take over a KiB, and allocating that afresh per expression costs glibc's
    /// malloc a consolidation pass each time.
    static SPARE_TOKENS: std::cell::RefCell<Vec<Spanned>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for Lexer<'_> {
    fn drop(&mut self) {
        let mut tokens = std::mem::take(&mut self.tokens);
        if tokens.capacity() > MAX_SPARE_TOKENS {
            return;
        }
        tokens.clear();
        let _ = SPARE_TOKENS.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.capacity() < tokens.capacity() {
                    *s = tokens;
                }
            }
        });
    }
}

impl<'a> Lexer<'a> {
    /// Tokenizes `input` and positions the cursor on the first token.
    pub fn new(input: &'a str) -> Self {
        let spare = SPARE_TOKENS
            .try_with(|s| s.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)))
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Self {
            input,
            tokens: tokenize_into(input, spare),
            pos: 0,
        }
    }

    /// The input text.
    pub fn input(&self) -> &'a str {
        self.input
    }

    fn at(&self, i: usize) -> &Spanned {
        // `tokens` is never empty and ends with End or Error, which the cursor never passes.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[i.min(last)]
    }

    /// The current token.
    pub fn peek(&self) -> &Token {
        &self.at(self.pos).token
    }

    /// The current token's span.
    pub fn span(&self) -> Span {
        self.at(self.pos).span
    }

    /// The token after the current one.
    pub fn lookahead(&self) -> &Token {
        if matches!(self.peek(), Token::End | Token::Error(_)) {
            return self.peek();
        }
        &self.at(self.pos + 1).token
    }

    /// Moves to the next token (never past the end or an error).
    pub fn advance(&mut self) {
        if !matches!(self.peek(), Token::End | Token::Error(_)) {
            self.pos += 1;
        }
    }

    /// The current token, moved out, and the cursor advanced past it (the cursor never moves
    /// back, so the token is not needed again).  At the end or an error, a copy, and the
    /// cursor stays, as [`Self::advance`] does.
    pub fn take(&mut self) -> Token {
        if matches!(self.peek(), Token::End | Token::Error(_)) {
            return self.peek().clone();
        }
        let pos = self.pos;
        self.pos += 1;
        match self.tokens.get_mut(pos) {
            Some(t) => std::mem::replace(&mut t.token, Token::End),
            None => Token::End,
        }
    }

    /// Consumes the current token if it equals `t`.
    pub fn eat(&mut self, t: &Token) -> bool {
        // Most calls meet another kind of token: comparing the kinds first, inline, skips
        // the full comparison for them.
        // Tokens without a payload are equal when their kinds are.
        let cur = self.peek();
        if std::mem::discriminant(cur) == std::mem::discriminant(t)
            && (!t.has_payload() || cur == t)
        {
            self.advance();
            true
        } else {
            false
        }
    }

    /// Consumes the identifier `id` if it is the current token.
    pub fn eat_id(&mut self, id: &str) -> bool {
        if matches!(self.peek(), Token::Id(s) if s.as_bytes() == id.as_bytes()) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// Consumes `t` or fails with "Syntax error at `x' expecting `t'."
    pub fn expect(&mut self, t: &Token) -> Result<(), ExprError> {
        if self.eat(t) {
            Ok(())
        } else if *t == Token::End {
            self.expect_end()
        } else {
            Err(self.syntax_error(&format!("expecting `{t}'")))
        }
    }

    /// Fails unless the input is exhausted.
    pub fn expect_end(&self) -> Result<(), ExprError> {
        if matches!(self.peek(), Token::End) {
            Ok(())
        } else {
            Err(self.syntax_error("expecting end of input"))
        }
    }

    /// Consumes a small nonnegative decimal integer (what OVN calls `lexer_force_int`).
    pub fn expect_small_int(&mut self) -> Result<u32, ExprError> {
        if let Token::Int(IntConst {
            value,
            mask: None,
            format: IntFormat::Decimal,
        }) = self.peek()
        {
            if let Ok(v) = u32::try_from(*value) {
                if v <= i32::MAX as u32 {
                    self.advance();
                    return Ok(v);
                }
            }
        }
        Err(self.syntax_error("expecting small integer"))
    }

    /// If the current token is a lexical error, that error.
    pub fn lex_error(&self) -> Option<ExprError> {
        match self.peek() {
            Token::Error(m) => Some(ExprError::new(ErrorKind::Lex, m.clone(), Some(self.span()))),
            _ => None,
        }
    }

    /// "Syntax error at `TOKEN' MESSAGE." at the current token (or the lexical error there).
    pub fn syntax_error(&self, message: &str) -> ExprError {
        if let Some(e) = self.lex_error() {
            return e;
        }
        let span = self.span();
        let mut s = String::from("Syntax error");
        if *self.peek() == Token::End {
            s.push_str(" at end of input");
        } else {
            s.push_str(&format!(" at `{}'", &self.input[span.start..span.end]));
        }
        if !message.is_empty() {
            s.push(' ');
            s.push_str(message);
        }
        s.push('.');
        ExprError::new(ErrorKind::Syntax, s, Some(span))
    }

    /// An error of `kind` with `message` at `span` (or the lexical error at the cursor).
    pub fn error(&self, kind: ErrorKind, message: impl Into<String>, span: Span) -> ExprError {
        self.lex_error()
            .unwrap_or_else(|| ExprError::new(kind, message, Some(span)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_constant_agrees_with_tokenize() {
        let texts = [
            "1",
            "0",
            "65536",
            "0x1f",
            "0X1F",
            "10.0.0.1",
            "10.0.0.0/8",
            "10.0.0.1/255.0.0.0",
            "0a:58:64:40:00:57",
            "ca:fe:00:00:00:01",
            "ca:fe",
            "cafe",
            "::1",
            "fe80::1/64",
            ":",
            ":1",
            "\"x\"",
            "\"a\\\"b\"",
            "\"unterminated",
            "1 2",
            "1;",
            "1/",
            "/8",
            "1//x",
            "1.2.3",
            "0x",
            "09",
            "1e5",
            "abc",
            "a:",
            "\"\"",
            "1.2.3.4/33",
            "",
        ];
        for t in texts {
            let toks = tokenize(t);
            let whole = match toks.as_slice() {
                [c, end]
                    if end.token == Token::End
                        && matches!(c.token, Token::Int(_) | Token::Str(_)) =>
                {
                    Some(c.token.clone())
                }
                _ => None,
            };
            let ours = lone_constant(t);
            if ours.is_some() || !t.contains("//") {
                assert_eq!(ours, whole, "{t:?}");
            }
        }
    }

    #[test]
    fn ipv6_fast_path_agrees_with_std() {
        let cases = [
            "::",
            "::1",
            "1::",
            "fe80::1",
            "fe80::858:64ff:fe40:57",
            "fd00:10:244::5",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2::3",
            "1:",
            ":1",
            "1:::2",
            ":::",
            "12345::1",
            "ABCD:EF01::",
            "::ffff:1.2.3.4",
            "0:0:0:0:0:0:0:0",
            "a:b",
            "0000:0000::0001",
            "fe80:::1",
            "1:2:3:4:5:6::7:8",
            "g::1",
        ];
        for c in cases {
            let fast = parse_ipv6_groups(c.as_bytes());
            let std = c.parse::<Ipv6Addr>().ok().map(u128::from);
            if fast.is_some() {
                assert_eq!(fast, std, "{c}");
            }
        }
        assert_eq!(parse_ipv6_groups(b"fe80::1"), Some(0xfe80_u128 << 112 | 1));
        assert_eq!(parse_ipv6_groups(b"1:2:3:4:5:6:7:8:9"), None);
    }

    #[test]
    fn mac_and_decimal_parse_as_before() {
        let old_mac = |text: &str| -> Option<u128> {
            if text.len() != 17 {
                return None;
            }
            let mut v: u128 = 0;
            for (i, part) in text.split(':').enumerate() {
                if i >= 6 || part.len() != 2 {
                    return None;
                }
                v = (v << 8) | u128::from(u8::from_str_radix(part, 16).ok()?);
            }
            Some(v)
        };
        for c in [
            "0a:58:64:40:00:57",
            "FF:ff:00:00:00:01",
            "0a:58:64:40:00:5",
            "0a:58:64:40:00:5g",
            "0a:58:64:40:0057:",
            "0a-58-64-40-00-57",
            "0a:58:64:40:00:57:",
        ] {
            assert_eq!(parse_mac(c), old_mac(c), "{c}");
        }
        for c in [
            "0",
            "1",
            "65535",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
        ] {
            let old = c.parse::<u64>().ok().map(u128::from);
            assert_eq!(parse_integer_text(c).ok().map(|i| i.value), old, "{c}");
        }
    }

    #[test]
    fn simple_integers_read_as_the_general_path_reads_them() {
        let heads = [
            "0",
            "7",
            "80",
            "0080",
            "65535",
            "18446744073709551615",
            "18446744073709551616",
            "10.0.0.1",
            "10.128.34.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "256.1.1.1",
            "0a:58:0a:80:22:01",
            "0a:58:0a:80:22:0g",
            "0a:58:0a:80:22",
            "00:00:00:00:00:01",
            "10:20",
            "0x800",
            "1e3",
            "fe80::1",
            "fd00:10:244::5",
        ];
        let tails = [
            "", ";", " ", ",", ")", "}", "]", "..5", ".", ".x", ":", ":80", "/8", "/0xff", "x",
            "0", "-", "\"",
        ];
        let mut fast = 0;
        for h in heads {
            for t in tails {
                let text = format!("{h}{t}");
                let sc = Scanner {
                    s: text.as_bytes(),
                    text: &text,
                };
                if let Some((end, v)) = sc.simple_integer(0) {
                    fast += 1;
                    let (gend, g) = sc.integer(0);
                    assert_eq!((end, Ok(v)), (gend, g), "{text}");
                }
            }
        }
        assert!(fast > 50, "{fast}");
    }

    #[test]
    fn dotted_quad_fast_path_agrees_with_std() {
        let cases = [
            "10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4.",
            ".1.2.3",
            "1..2.3",
            "1.2.3.0004",
            "192.168.100.200",
            "1.2.3.a",
            "1234.1.1.1",
            "0.00.0.0",
            "9.99.199.249",
        ];
        for c in cases {
            let fast = parse_dotted_quad(c.as_bytes());
            let std = c.parse::<Ipv4Addr>().ok().map(u32::from);
            if let Some(v) = fast {
                assert_eq!(Some(v), std, "{c}");
            }
        }
        assert_eq!(parse_dotted_quad(b"10.1.2.3"), Some(0x0a01_0203));
        assert_eq!(parse_dotted_quad(b"01.2.3.4"), None);
    }

    #[test]
    fn identifiers_short_and_long_read_back() {
        let long = "a_very_long_identifier_name.with_more_than_22_bytes";
        let toks = tokenize(&format!("ip4.dst {long} x"));
        let ids: Vec<&str> = toks
            .iter()
            .filter_map(|t| match &t.token {
                Token::Id(i) => Some(i.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["ip4.dst", long, "x"]);
        assert_eq!(Ident::new(long), Ident::from(long));
        assert!(Ident::new("ip4") == "ip4" && Ident::new("ip4") != "ip6");
        assert_eq!(format!("{:?}", Ident::new("tcp")), "\"tcp\"");
    }
}
