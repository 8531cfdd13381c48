//! `tokio_util::codec` adapter: bytes ⇄ [`Message`].

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{JsonRpcError, JsonSplitter, Limits, Message};

/// Decodes a byte stream into [`Message`]s and encodes messages as compact JSON, one after the other
/// with nothing in between (which is what ovsdb-server writes).
///
/// Use it with `tokio_util::codec::Framed` over a `TcpStream` or `UnixStream`. Decoding errors are
/// fatal for the connection (as in ovsdb-server); `Framed` ends the stream after one. Framing errors
/// (garbage, size, depth, invalid JSON) discard the buffered input; a validation error (valid JSON that
/// is not a valid message) consumes only that message, so a caller driving the codec by hand may answer
/// it and go on.
#[derive(Debug, Clone, Default)]
pub struct JsonRpcCodec {
    splitter: JsonSplitter,
}

impl JsonRpcCodec {
    /// A codec with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            splitter: JsonSplitter::new(limits),
        }
    }

    /// Stream offset of the first byte not yet decoded.
    pub fn stream_offset(&self) -> u64 {
        self.splitter.stream_offset()
    }
}

impl JsonRpcCodec {
    /// Like [`Decoder::decode`], but stops after framing: the next complete value's bytes, not yet
    /// parsed ([`Frame::to_message`] does what `decode` would do with them). Framing errors
    /// discard the buffered input, as in `decode`.
    pub fn decode_frame(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, JsonRpcError> {
        match self.splitter.next_frame(src) {
            Ok(Some(bytes)) => Ok(Some(Frame {
                offset: self.splitter.stream_offset() - bytes.len() as u64,
                bytes: bytes.freeze(),
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                self.splitter.reset();
                src.clear();
                Err(e)
            }
        }
    }

    /// Like [`Decoder::decode_eof`], for frames: the input has ended, so bytes left after the
    /// last complete value are a truncated message.
    pub fn decode_frame_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, JsonRpcError> {
        if let Some(frame) = self.decode_frame(src)? {
            return Ok(Some(frame));
        }
        self.splitter.finish(src)?;
        Ok(None)
    }
}

/// The bytes of one complete JSON value from the stream (see [`JsonRpcCodec::decode_frame`]).
#[derive(Debug, Clone)]
pub struct Frame {
    /// Stream offset of the first byte.
    pub offset: u64,
    /// The value's text.
    pub bytes: Bytes,
}

impl Frame {
    /// Parses and validates the message, with the errors [`Decoder::decode`] gives.
    pub fn to_message(&self) -> Result<Message, JsonRpcError> {
        let value = serde_json::from_slice(&self.bytes).map_err(|source| JsonRpcError::Json {
            offset: self.offset,
            source,
        })?;
        Message::from_json(value)
    }
}

impl Decoder for JsonRpcCodec {
    type Item = Message;
    type Error = JsonRpcError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, JsonRpcError> {
        match self.splitter.next_value(src) {
            Ok(Some(value)) => Message::from_json(value).map(Some),
            Ok(None) => Ok(None),
            Err(e) => {
                self.splitter.reset();
                src.clear();
                Err(e)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, JsonRpcError> {
        if let Some(msg) = self.decode(src)? {
            return Ok(Some(msg));
        }
        self.splitter.finish(src)?;
        Ok(None)
    }
}

impl Encoder<&Message> for JsonRpcCodec {
    type Error = JsonRpcError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), JsonRpcError> {
        serde_json::to_writer(dst.writer(), &item.to_json()).map_err(JsonRpcError::Encode)
    }
}

impl Encoder<Message> for JsonRpcCodec {
    type Error = JsonRpcError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), JsonRpcError> {
        self.encode(&item, dst)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::jsonrpc::{Notification, Request, Response};

    fn decode_all(codec: &mut JsonRpcCodec, data: &[u8]) -> Result<Vec<Message>, JsonRpcError> {
        let mut buf = BytesMut::from(data);
        let mut out = Vec::new();
        while let Some(m) = codec.decode(&mut buf)? {
            out.push(m);
        }
        if let Some(m) = codec.decode_eof(&mut buf)? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn decodes_what_ovsdb_client_sends() {
        // Captured shape of `ovsdb-client list-dbs` followed by a server echo probe reply.
        let data =
            br#"{"id":0,"method":"list_dbs","params":[]}{"id":"echo","result":[],"error":null}"#;
        let msgs = decode_all(&mut JsonRpcCodec::new(), data).unwrap();
        assert_eq!(msgs[0].method(), Some("list_dbs"));
        assert_eq!(
            msgs[1],
            Message::Response(Response::ok(json!("echo"), json!([])))
        );
    }

    #[test]
    fn truncated_stream_is_an_error_at_eof() {
        let mut codec = JsonRpcCodec::new();
        let err = decode_all(&mut codec, b"{\"id\":0} {\"id\":").unwrap_err();
        // The first message is invalid (no result), reported before truncation.
        assert!(matches!(err, JsonRpcError::MissingMethod), "{err}");
        let mut codec = JsonRpcCodec::new();
        let err = decode_all(&mut codec, b"{\"id\":0,\"result\":1} \n{\"id\":").unwrap_err();
        assert!(
            matches!(
                err,
                JsonRpcError::Truncated {
                    offset: 21,
                    buffered: 6
                }
            ),
            "{err}"
        );
        // Trailing whitespace is fine.
        assert_eq!(decode_all(&mut codec, b"  \n").unwrap(), vec![]);
    }

    #[test]
    fn encoding_is_compact_and_concatenated() {
        let mut codec = JsonRpcCodec::new();
        let mut buf = BytesMut::new();
        let req = Message::Request(Request {
            method: "echo".into(),
            params: vec![],
            id: json!("echo"),
        });
        codec.encode(&req, &mut buf).unwrap();
        codec
            .encode(
                Message::Response(Response::ok(json!(1), json!({}))),
                &mut buf,
            )
            .unwrap();
        assert_eq!(
            &buf[..],
            br#"{"id":"echo","method":"echo","params":[]}{"id":1,"result":{},"error":null}"#
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> + Clone {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
            "[\\\\\"{}\\[\\] a-z\u{e9}\u{1F600}]*".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((".*", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let id = arb_json().prop_filter("non-null id", |v| !v.is_null());
        let non_null = arb_json().prop_filter("non-null", |v| !v.is_null());
        let params = prop::collection::vec(arb_json(), 0..4);
        prop_oneof![
            ("[a-z_]{1,12}", params.clone(), id.clone()).prop_map(|(method, params, id)| {
                Message::Request(Request { method, params, id })
            }),
            ("[a-z_]{1,12}", params).prop_map(|(method, params)| Message::Notification(
                Notification { method, params }
            )),
            (any::<bool>(), non_null, id).prop_map(|(ok, v, id)| Message::Response(Response {
                result: if ok { Ok(v) } else { Err(v) },
                id,
            })),
        ]
    }

    proptest! {
        #[test]
        fn decode_of_encode_is_identity(
            msgs in prop::collection::vec(arb_message(), 1..5),
            seps in prop::collection::vec("[ \t\r\n]{0,3}", 5),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut codec = JsonRpcCodec::new();
            let mut wire = BytesMut::new();
            for (m, sep) in msgs.iter().zip(&seps) {
                codec.encode(m, &mut wire).unwrap();
                wire.extend_from_slice(sep.as_bytes());
            }
            // Deliver in two pieces split at an arbitrary byte.
            let cut = cut.index(wire.len() + 1);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                buf.extend_from_slice(part);
                while let Some(m) = codec.decode(&mut buf).unwrap() {
                    got.push(m);
                }
            }
            prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
            prop_assert_eq!(got.len(), msgs.len());
            for (g, m) in got.iter().zip(&msgs) {
                prop_assert!(
                    crate::jsonrpc::json_eq_up_to_float_rounding(&g.to_json(), &m.to_json()),
                    "{:?} != {:?}", g, m
                );
            }
        }

        #[test]
        fn fuzz_decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            crate::jsonrpc::fuzz_decode(&data);
        }

        #[test]
        fn fuzz_decode_never_panics_on_jsonish(data in "[{}\\[\\]\":,\\\\ a-z0-9\\-.]{0,120}") {
            crate::jsonrpc::fuzz_decode(data.as_bytes());
        }
    }

    #[test]
    fn fuzz_decode_on_valid_stream() {
        crate::jsonrpc::fuzz_decode(
            br#"{"id":1,"method":"transact","params":["db",{"op":"select","table":"t","where":[]}]} {"id":null,"method":"update","params":[null,{}]}"#,
        );
    }
}
