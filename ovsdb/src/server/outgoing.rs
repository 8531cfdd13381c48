//! What a session sends: JSON-RPC messages, and pre-encoded messages whose large parts are shared.
//!
//! An initial monitor dump of a big database is the largest thing a server sends, often to many
//! clients asking for the same tables and columns. Like ovsdb-server's monitor JSON cache, the server
//! encodes such a dump once and every reply refers to the same bytes ([`Outgoing::Encoded`]).

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::Value;

use crate::jsonrpc::Message;

/// One message queued for a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A message to encode.
    Message(Message),
    /// A message already encoded as JSON, in pieces to write one after the other (some of which
    /// may be shared with other sessions).
    Encoded(Vec<Bytes>),
}

impl From<Message> for Outgoing {
    fn from(m: Message) -> Self {
        Self::Message(m)
    }
}

#[derive(Serialize)]
struct RequestRef<'a> {
    id: &'a Value,
    method: &'a str,
    params: &'a [Value],
}

#[derive(Serialize)]
struct ResponseRef<'a> {
    id: &'a Value,
    result: &'a Value,
    error: &'a Value,
}

/// Encodes `msg` as compact JSON (the same bytes as [`Message::to_json`] would give) without
/// copying it first.
pub fn encode_message(msg: &Message, dst: &mut BytesMut) -> Result<(), serde_json::Error> {
    let w = dst.writer();
    match msg {
        Message::Request(r) => serde_json::to_writer(
            w,
            &RequestRef {
                id: &r.id,
                method: &r.method,
                params: &r.params,
            },
        ),
        Message::Notification(n) => serde_json::to_writer(
            w,
            &RequestRef {
                id: &Value::Null,
                method: &n.method,
                params: &n.params,
            },
        ),
        Message::Response(r) => {
            let (result, error) = match &r.result {
                Ok(v) => (v, &Value::Null),
                Err(e) => (&Value::Null, e),
            };
            serde_json::to_writer(
                w,
                &ResponseRef {
                    id: &r.id,
                    result,
                    error,
                },
            )
        }
    }
}

impl Outgoing {
    /// Appends the encoded message to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), serde_json::Error> {
        match self {
            Self::Message(m) => encode_message(m, dst),
            Self::Encoded(parts) => {
                for p in parts {
                    dst.extend_from_slice(p);
                }
                Ok(())
            }
        }
    }

    /// The message as a JSON value (for tests and logging; parses encoded messages).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Message(m) => m.to_json(),
            Self::Encoded(parts) => {
                let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            }
        }
    }

    /// Size of the encoded message, when known without encoding.
    pub fn encoded_len(&self) -> Option<usize> {
        match self {
            Self::Message(_) => None,
            Self::Encoded(parts) => Some(parts.iter().map(Bytes::len).sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jsonrpc::{Notification, Request, Response};

    #[test]
    fn encodes_like_to_json() {
        for m in [
            Message::Request(Request {
                method: "echo".into(),
                params: vec![json!(1)],
                id: json!("echo"),
            }),
            Message::Notification(Notification {
                method: "update".into(),
                params: vec![json!("m"), json!({"T": {}})],
            }),
            Message::Response(Response::ok(json!(3), json!({"a": [1, 2]}))),
            Message::Response(Response::error(json!(4), json!("unknown method"))),
        ] {
            let mut b = BytesMut::new();
            encode_message(&m, &mut b).unwrap();
            let back: Value = serde_json::from_slice(&b).unwrap();
            assert_eq!(back, m.to_json());
            assert_eq!(Outgoing::from(m.clone()).to_json(), m.to_json());
        }
    }
}
