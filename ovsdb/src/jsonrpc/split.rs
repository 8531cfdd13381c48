//! Incremental splitting of a stream of concatenated JSON values.

use bytes::{Buf, BytesMut};
use serde_json::Value;

use super::JsonRpcError;

/// Default [`Limits::max_message_size`]: 256 MiB. ovsdb-server has no limit; the largest legitimate
/// messages are initial monitor replies of big Southbound databases, which stay well below this.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 256 << 20;

/// Default [`Limits::max_depth`]: 64. Real OVSDB messages nest about 10 deep (a `monitor_cond_since`
/// update of a map column); OVS itself allows 1000.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// The largest usable [`Limits::max_depth`]: serde_json refuses to parse deeper than 127 levels, so
/// larger configured values are clamped to this.
pub const MAX_SUPPORTED_DEPTH: usize = 127;

/// Size and nesting limits for one message, checked while scanning, before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message in bytes, from its first byte (`{`) to its last.
    pub max_message_size: usize,
    /// Deepest nesting of arrays and objects; the message object itself is depth 1.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The bytes that matter to [`JsonSplitter`] outside strings: `"` and the brackets.
static STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// The position of the first `"` or `\\` in `b` at or after `i`, or `b.len()`. Eight bytes
/// are checked at once (most of a northd transaction's bytes are inside strings).
#[inline]
pub(crate) fn find_quote_or_backslash(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(Ok(w)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let w = u64::from_le_bytes(w);
        let q = w ^ (ONES * u64::from(b'"'));
        let bs = w ^ (ONES * u64::from(b'\\'));
        // A zero byte of `q` or `bs` sets its high bit here; bits above the first one found
        // may be wrong (borrows), the lowest set bit is exact.
        let m = ((q.wrapping_sub(ONES) & !q) | (bs.wrapping_sub(ONES) & !bs)) & HIGH;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Finds the boundaries of concatenated top-level JSON values in a growing buffer, without re-scanning
/// bytes already seen, then parses each complete value with serde_json.
///
/// It tracks only what a boundary depends on: whether it is inside a string, whether the previous byte
/// was a backslash inside a string, and the bracket depth. Everything else (tokens, numbers, UTF-8,
/// matching of `{` with `}`) is checked by serde_json once the value is complete. Whitespace between
/// values is discarded as soon as it is seen.
#[derive(Debug, Clone)]
pub struct JsonSplitter {
    limits: Limits,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Whether `buf[0]` starts a value (`{` or `[` seen).
    in_value: bool,
    /// Bytes of the current value already scanned.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Default for JsonSplitter {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl JsonSplitter {
    /// A splitter with the given limits (`max_depth` clamped to [`MAX_SUPPORTED_DEPTH`]).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits: Limits {
                max_message_size: limits.max_message_size,
                max_depth: limits.max_depth.min(MAX_SUPPORTED_DEPTH),
            },
            offset: 0,
            in_value: false,
            scanned: 0,
            depth: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Stream offset of the first byte not yet consumed.
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    /// Whether part of a value is buffered (the stream may not end here).
    pub fn is_mid_value(&self) -> bool {
        self.in_value
    }

    /// Forgets any partial value, e.g. after an error, and keeps the stream offset.
    pub fn reset(&mut self) {
        self.in_value = false;
        self.scanned = 0;
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    /// The end of the stream, once every complete value has been taken from `buf`: nothing
    /// when `buf` is empty, otherwise the bytes left are a truncated message, which are dropped
    /// (the splitter is reset) and reported.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Result<(), JsonRpcError> {
        if buf.is_empty() {
            return Ok(());
        }
        let err = JsonRpcError::Truncated {
            offset: self.offset,
            buffered: buf.len(),
        };
        self.reset();
        buf.clear();
        Err(err)
    }

    /// Takes the next complete value from the front of `buf`, or returns `Ok(None)` when more bytes are
    /// needed. Bytes of a partial value stay in `buf`; they are not scanned again on the next call.
    ///
    /// After an error the splitter must be [`reset`](Self::reset) and the stream abandoned (or `buf`
    /// cleared): the position of the next message is unknown.
    pub fn next_value(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, JsonRpcError> {
        let Some(frame) = self.next_frame(buf)? else {
            return Ok(None);
        };
        let offset = self.offset - frame.len() as u64;
        serde_json::from_slice(&frame)
            .map(Some)
            .map_err(|source| JsonRpcError::Json { offset, source })
    }

    /// Like [`next_value`](Self::next_value), but returns the value's bytes unparsed (its
    /// brackets balance outside strings; whether it is valid JSON is the caller's to check).
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, JsonRpcError> {
        if !self.in_value {
            let skip = buf.iter().take_while(|b| is_json_whitespace(**b)).count();
            buf.advance(skip);
            self.offset += skip as u64;
            match buf.first() {
                None => return Ok(None),
                Some(b'{' | b'[') => {
                    self.in_value = true;
                    self.scanned = 0;
                }
                Some(&byte) => {
                    return Err(JsonRpcError::UnexpectedByte {
                        offset: self.offset,
                        byte,
                    })
                }
            }
        }
        let limit = self.limits.max_message_size;
        let end = buf.len().min(limit);
        let bytes = &buf[..end];
        // The scan state lives in locals (written back below) so that the loop keeps it in
        // registers. A string is skipped to its end at once (eight bytes at a time), and outside
        // strings the bytes that do not matter (names' separators, numbers, literals) in a
        // tight loop over a table.
        let (mut depth, mut in_string, mut escaped) = (self.depth, self.in_string, self.escaped);
        let max_depth = self.limits.max_depth;
        let mut i = self.scanned;
        let mut complete = None;
        'scan: loop {
            if in_string {
                loop {
                    if escaped {
                        if i >= end {
                            break 'scan;
                        }
                        escaped = false;
                        i += 1;
                    }
                    i = find_quote_or_backslash(bytes, i);
                    let Some(&c) = bytes.get(i) else {
                        break 'scan;
                    };
                    i += 1;
                    if c == b'"' {
                        in_string = false;
                        break;
                    }
                    escaped = true;
                }
            }
            while bytes.get(i).is_some_and(|&b| !STRUCTURAL[usize::from(b)]) {
                i += 1;
            }
            let Some(&b) = bytes.get(i) else {
                break;
            };
            i += 1;
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max_depth {
                        return Err(JsonRpcError::TooDeep {
                            offset: self.offset,
                            limit: max_depth,
                        });
                    }
                }
                _ => {
                    // A closing bracket; depth >= 1 here: the value starts with an opening
                    // bracket and ends when the depth returns to zero.
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        complete = Some(i);
                        break;
                    }
                }
            }
        }
        (self.depth, self.in_string, self.escaped) = (depth, in_string, escaped);
        self.scanned = i;
        let Some(len) = complete else {
            if buf.len() >= limit && self.scanned >= limit {
                return Err(JsonRpcError::MessageTooLarge {
                    offset: self.offset,
                    limit,
                });
            }
            return Ok(None);
        };
        let frame = buf.split_to(len);
        self.offset += len as u64;
        self.reset();
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn split_all(data: &[u8], limits: Limits) -> Result<Vec<Value>, JsonRpcError> {
        let mut s = JsonSplitter::new(limits);
        let mut buf = BytesMut::from(data);
        let mut out = Vec::new();
        while let Some(v) = s.next_value(&mut buf)? {
            out.push(v);
        }
        Ok(out)
    }

    #[test]
    fn splits_concatenated_values_with_tricky_strings() {
        let data = br#" {"a":"}{\"]"}{"b":["\\",{"c":[]}]}
	[1,2]  {}"#;
        let vals = split_all(data, Limits::default()).unwrap();
        assert_eq!(
            vals,
            vec![
                json!({"a":"}{\"]"}),
                json!({"b":["\\",{"c":[]}]}),
                json!([1, 2]),
                json!({})
            ]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_values() {
        let data = br#"{"id":1,"method":"echo","params":["\\\"{["]} {"x":"\u00e9\\"}[{"y":[[]]}]"#;
        let want = split_all(data, Limits::default()).unwrap();
        assert_eq!(want.len(), 3);
        for cut in 0..=data.len() {
            let mut s = JsonSplitter::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&data[..cut], &data[cut..]] {
                buf.extend_from_slice(part);
                while let Some(v) = s.next_value(&mut buf).unwrap() {
                    got.push(v);
                }
            }
            assert_eq!(got, want, "cut at {cut}");
            assert!(buf.is_empty() && !s.is_mid_value());
        }
        // One byte at a time.
        let mut s = JsonSplitter::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in data {
            buf.extend_from_slice(&[*b]);
            while let Some(v) = s.next_value(&mut buf).unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn garbage_is_rejected_with_its_offset() {
        let err = split_all(b"{} \n hello", Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                JsonRpcError::UnexpectedByte {
                    offset: 5,
                    byte: b'h'
                }
            ),
            "{err}"
        );
        let err = split_all(b"  {\"a\":tru}", Limits::default()).unwrap_err();
        assert!(matches!(err, JsonRpcError::Json { offset: 2, .. }), "{err}");
        let err = split_all(b"{]", Limits::default()).unwrap_err();
        assert!(matches!(err, JsonRpcError::Json { offset: 0, .. }), "{err}");
        let err = split_all(b"\"str\"", Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            JsonRpcError::UnexpectedByte { byte: b'"', .. }
        ));
        let err = split_all(b"{\"a\":\"\xff\"}", Limits::default()).unwrap_err();
        assert!(matches!(err, JsonRpcError::Json { .. }), "{err}");
    }

    #[test]
    fn oversize_is_rejected_before_the_end_arrives() {
        let limits = Limits {
            max_message_size: 16,
            max_depth: 8,
        };
        // Exactly at the limit: accepted.
        let ok = br#"{"a":"01234567"}"#;
        assert_eq!(ok.len(), 16);
        assert_eq!(split_all(ok, limits).unwrap().len(), 1);
        // One byte over, unterminated: rejected as soon as 16 bytes are buffered.
        let mut s = JsonSplitter::new(limits);
        let mut buf = BytesMut::from(&b"   {\"a\":\"0123456789ab"[..]);
        let err = s.next_value(&mut buf).unwrap_err();
        assert!(
            matches!(
                err,
                JsonRpcError::MessageTooLarge {
                    offset: 3,
                    limit: 16
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("size limit of 16 bytes"));
    }

    #[test]
    fn deep_nesting_is_rejected_and_depth_limit_is_exact() {
        let limits = Limits {
            max_message_size: 1 << 20,
            max_depth: 5,
        };
        assert!(split_all(b"[[[[[]]]]]", limits).is_ok());
        let err = split_all(b"[[[[[[", limits).unwrap_err();
        assert!(
            matches!(err, JsonRpcError::TooDeep { limit: 5, .. }),
            "{err}"
        );
        // Brackets inside strings do not count.
        assert!(split_all(br#"[[[[["[[[[[["]]]]]"#, limits).is_ok());
        // The largest supported depth parses with serde_json.
        let max = Limits {
            max_message_size: 1 << 20,
            max_depth: usize::MAX,
        };
        let s = JsonSplitter::new(max);
        assert_eq!(s.limits().max_depth, MAX_SUPPORTED_DEPTH);
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_SUPPORTED_DEPTH),
            "]".repeat(MAX_SUPPORTED_DEPTH)
        );
        assert_eq!(split_all(deep.as_bytes(), max).unwrap().len(), 1);
        let deeper = "[".repeat(MAX_SUPPORTED_DEPTH + 1);
        assert!(matches!(
            split_all(deeper.as_bytes(), max),
            Err(JsonRpcError::TooDeep { .. })
        ));
    }

    /// The frames (or the error kind) a byte-at-a-time reading of `data` gives: the boundaries
    /// the splitter must find, fed in pieces of any size.
    fn reference_frames(data: &[u8], max_depth: usize) -> Result<Vec<Vec<u8>>, &'static str> {
        let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, None);
        let mut out = Vec::new();
        for (i, &b) in data.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            if start.is_none() {
                match b {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'{' | b'[' => start = Some(i),
                    _ => return Err("unexpected byte"),
                }
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max_depth {
                        return Err("too deep");
                    }
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        out.extend(start.take().map(|s| data[s..=i].to_vec()));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Random streams over the bytes that matter (brackets, quotes, backslashes) and others,
    /// fed in random pieces: the same frames and errors as the byte-at-a-time reference.
    #[test]
    fn random_streams_split_like_the_reference() {
        let alphabet = b"{}[]\"\\\\ab ,:0123456789xyz";
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let limits = Limits {
            max_message_size: 1 << 20,
            max_depth: 6,
        };
        for _ in 0..3000 {
            // A value starts the stream; the rest is random, often with long plain runs.
            let len = (next() % 120) as usize;
            let mut data = vec![b'{'];
            for _ in 0..len {
                let r = next();
                if r % 4 == 0 {
                    data.extend(std::iter::repeat_n(b'q', (r >> 8) as usize % 20));
                } else {
                    data.push(alphabet[(r >> 8) as usize % alphabet.len()]);
                }
            }
            let want = reference_frames(&data, limits.max_depth);
            let mut s = JsonSplitter::new(limits);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut err = None;
            let mut pos = 0;
            'feed: while pos < data.len() {
                let n = 1 + (next() % 24) as usize;
                let piece = &data[pos..(pos + n).min(data.len())];
                pos += piece.len();
                buf.extend_from_slice(piece);
                loop {
                    match s.next_frame(&mut buf) {
                        Ok(Some(f)) => got.push(f.to_vec()),
                        Ok(None) => break,
                        Err(JsonRpcError::TooDeep { .. }) => {
                            err = Some("too deep");
                            break 'feed;
                        }
                        Err(JsonRpcError::UnexpectedByte { .. }) => {
                            err = Some("unexpected byte");
                            break 'feed;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            match (want, err) {
                (Ok(w), None) => assert_eq!(got, w, "{}", String::from_utf8_lossy(&data)),
                (Err(w), Some(e)) => assert_eq!(w, e, "{}", String::from_utf8_lossy(&data)),
                (w, e) => panic!("{w:?} vs {e:?}: {}", String::from_utf8_lossy(&data)),
            }
        }
    }
}
