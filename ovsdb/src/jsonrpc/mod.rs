//! The JSON-RPC 1.0 wire protocol as OVSDB speaks it (RFC 7047 section 4).
//!
//! What this module does:
//! - splits a byte stream of concatenated JSON values into values ([`JsonSplitter`]); OVSDB has no
//!   framing: values follow each other directly, optionally separated by JSON whitespace, and each
//!   top-level value is an object (OVS's JSON parser rejects scalars at the top level, so do we);
//! - enforces a message size limit and a nesting depth limit ([`Limits`]) while scanning, before any
//!   parsing, and reports them as [`JsonRpcError::MessageTooLarge`] / [`JsonRpcError::TooDeep`];
//! - classifies and validates values as [`Message`]s (request, notification, response) with the same
//!   rules as OVS's `lib/jsonrpc.c`: unknown members, a non-string `method`, non-array `params`, a
//!   response without `id` or with both `result` and `error` are errors;
//! - provides a `tokio_util::codec` [`JsonRpcCodec`] (`Decoder<Item = Message>` and `Encoder<Message>`);
//! - handles `echo` in both directions without I/O ([`echo`]): answering the peer's probes, and sending
//!   our own inactivity probes with the time passed in.
//!
//! What it does not do: sockets, sessions, reconnection or OVSDB method semantics (`transact`,
//! `monitor`, ...). Every error from the decoder is fatal for the connection, as in ovsdb-server, which
//! closes a connection on a protocol error; [`JsonSplitter`] and [`Message::from_json`] are public so a
//! server can still answer an invalid-but-parseable message before closing.
//!
//! Why not a JSON-RPC 2.0 crate (jsonrpsee & co.): JSON-RPC 2.0 requires `"jsonrpc": "2.0"` in every
//! message (OVSDB peers never send it and reject unknown members), marks notifications by the absence of
//! `id` rather than `"id": null`, has responses carrying only one of `result`/`error` (1.0 carries both,
//! one of them null), and those crates frame messages by HTTP, WebSocket or newlines, while OVSDB sends
//! bare concatenated JSON values over a TCP or Unix stream. Both ends also send `echo` requests as
//! inactivity probes. We therefore use tokio, a `tokio-util` codec, `serde_json` and `bytes` directly.

mod codec;
pub mod echo;
mod message;
mod split;

pub use codec::{Frame, JsonRpcCodec};
pub use message::{Message, Notification, Request, Response};
pub(crate) use split::find_quote_or_backslash;
pub use split::{
    JsonSplitter, Limits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_MESSAGE_SIZE, MAX_SUPPORTED_DEPTH,
};

/// Errors of the JSON-RPC layer: framing (stream level), JSON syntax, message validation and I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonRpcError {
    /// A byte other than JSON whitespace or `{`/`[` where a message must start.
    #[error("byte {byte:#04x} at stream offset {offset} cannot start a JSON-RPC message")]
    UnexpectedByte {
        /// Offset of the byte in the stream.
        offset: u64,
        /// The byte found.
        byte: u8,
    },
    /// A message grew beyond [`Limits::max_message_size`] before it ended.
    #[error("message starting at stream offset {offset} exceeds the size limit of {limit} bytes")]
    MessageTooLarge {
        /// Stream offset where the message starts.
        offset: u64,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A message nests arrays/objects deeper than [`Limits::max_depth`].
    #[error(
        "message starting at stream offset {offset} exceeds the nesting depth limit of {limit}"
    )]
    TooDeep {
        /// Stream offset where the message starts.
        offset: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The bytes of one message are not valid JSON.
    #[error("invalid JSON in message starting at stream offset {offset}: {source}")]
    Json {
        /// Stream offset where the message starts.
        offset: u64,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// The stream ended in the middle of a message.
    #[error(
        "stream ended inside a message starting at offset {offset} ({buffered} bytes buffered)"
    )]
    Truncated {
        /// Stream offset where the unfinished message starts.
        offset: u64,
        /// Bytes of it received.
        buffered: usize,
    },
    /// The value is not a JSON object.
    #[error("message is not a JSON object")]
    NotAnObject,
    /// The object has a member other than `method`, `params`, `result`, `error` and `id`.
    #[error("message has unexpected member \"{0}\"")]
    UnexpectedMember(String),
    /// `method` is present but not a string.
    #[error("\"method\" is not a JSON string")]
    MethodNotString,
    /// `params` is present but not an array.
    #[error("\"params\" must be JSON array")]
    ParamsNotArray,
    /// A request or notification without `params`.
    #[error("\"{method}\" message has no \"params\"")]
    MissingParams {
        /// The method named.
        method: String,
    },
    /// A request or notification that also carries a non-null `result` or `error`.
    #[error("\"{method}\" message has \"result\" or \"error\"")]
    MethodWithResult {
        /// The method named.
        method: String,
    },
    /// A message without `method` and without non-null `result` or `error`.
    #[error("message has no \"method\", \"result\" or \"error\" (missing method)")]
    MissingMethod,
    /// A response with both a non-null `result` and a non-null `error`.
    #[error("response has both \"result\" and \"error\"")]
    ResultAndError,
    /// A response whose `id` is missing or null (only notifications have `"id": null`).
    #[error("response has no \"id\" (or \"id\": null)")]
    MissingId,
    /// Serializing a message failed.
    #[error("cannot encode message: {0}")]
    Encode(#[source] serde_json::Error),
    /// The underlying transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Fuzzing entry point: decodes `data` as a JSON-RPC stream in several chunkings and checks that every
/// decoded message survives `encode` then `decode` unchanged.
///
/// Never panics on any input; a panic means a bug in this module (a broken round trip or a splitter that
/// depends on how the input was chunked), which is what a fuzzer should find.
pub fn fuzz_decode(data: &[u8]) {
    use bytes::BytesMut;
    use tokio_util::codec::{Decoder, Encoder};

    let limits = Limits {
        max_message_size: 1 << 16,
        max_depth: 32,
    };
    let decode_all = |chunk: usize| -> (Vec<Message>, bool) {
        let mut codec = JsonRpcCodec::with_limits(limits);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => break,
                    Err(_) => return (out, true),
                }
            }
        }
        let failed = codec.decode_eof(&mut buf).is_err();
        (out, failed)
    };
    let (whole, whole_failed) = decode_all(data.len());
    let first = data.first().copied().unwrap_or(1) as usize;
    for chunk in [1, first % 7 + 2] {
        let (parts, failed) = decode_all(chunk);
        // Validation errors are found at the same message whatever the chunking; only the error
        // itself may be reported a bit earlier (e.g. depth) or later, so compare decoded prefixes.
        let n = whole.len().min(parts.len());
        assert_eq!(whole[..n], parts[..n], "chunking changed decoded messages");
        if !whole_failed && !failed {
            assert_eq!(whole.len(), parts.len(), "chunking changed message count");
        }
    }
    for msg in whole {
        let mut codec = JsonRpcCodec::new();
        let mut buf = BytesMut::new();
        if codec.encode(&msg, &mut buf).is_err() {
            continue;
        }
        match codec.decode(&mut buf) {
            Ok(Some(back)) => assert!(
                json_eq_up_to_float_rounding(&back.to_json(), &msg.to_json()),
                "encode/decode round trip changed a message: {msg:?} became {back:?}"
            ),
            other => panic!("re-decoding an encoded message failed: {other:?}"),
        }
    }
}

/// Equality of JSON values where floating-point numbers may differ in the last bit: serde_json, without
/// its `float_roundtrip` feature, does not always parse back exactly the float it printed.
fn json_eq_up_to_float_rounding(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || ((x - y) / x).abs() < 1e-15,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(x, y)| json_eq_up_to_float_rounding(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_eq_up_to_float_rounding(vx, vy))
        }
        _ => a == b,
    }
}
