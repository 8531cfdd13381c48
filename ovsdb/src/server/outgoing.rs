//! What a session sends: JSON-RPC messages, and pre-encoded messages whose large parts are shared.
//!
//! An initial monitor dump of a big database is the largest thing a server sends, often to many
//! clients asking for the same tables and columns. Like ovsdb-server's monitor JSON cache, the server
//! encodes such a dump once and every reply refers to the same bytes ([`Outgoing::Encoded`]).

use bytes::{BufMut, Bytes, BytesMut};
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

/// Encodes `msg` as compact JSON (the same bytes as [`Message::to_json`] would give, members in
/// the order `id`, `method`, `params` or `id`, `result`, `error`) without copying it first.
pub fn encode_message(msg: &Message, dst: &mut BytesMut) -> Result<(), serde_json::Error> {
    match msg {
        Message::Request(r) => encode_request(&r.id, &r.method, &r.params, dst),
        Message::Notification(n) => encode_request(&Value::Null, &n.method, &n.params, dst),
        Message::Response(r) => {
            let (result, error) = match &r.result {
                Ok(v) => (v, &Value::Null),
                Err(e) => (&Value::Null, e),
            };
            dst.put_slice(b"{\"id\":");
            write_value(&r.id, dst)?;
            dst.put_slice(b",\"result\":");
            write_value(result, dst)?;
            dst.put_slice(b",\"error\":");
            write_value(error, dst)?;
            dst.put_u8(b'}');
            Ok(())
        }
    }
}

fn encode_request(
    id: &Value,
    method: &str,
    params: &[Value],
    dst: &mut BytesMut,
) -> Result<(), serde_json::Error> {
    dst.put_slice(b"{\"id\":");
    write_value(id, dst)?;
    dst.put_slice(b",\"method\":");
    write_str(method, dst)?;
    dst.put_slice(b",\"params\":");
    write_array(params, dst)?;
    dst.put_u8(b'}');
    Ok(())
}

/// Writes `v` as serde_json's compact serializer does: integers, strings without characters to
/// escape, and the structure are written here; every other number and every string to escape go
/// through serde_json, so the bytes are the same.
fn write_value(v: &Value, dst: &mut BytesMut) -> Result<(), serde_json::Error> {
    match v {
        Value::Null => dst.put_slice(b"null"),
        Value::Bool(true) => dst.put_slice(b"true"),
        Value::Bool(false) => dst.put_slice(b"false"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_u64(u, dst),
            (None, Some(i)) => {
                dst.put_u8(b'-');
                write_u64(i.unsigned_abs(), dst);
            }
            _ => serde_json::to_writer(dst.writer(), n)?,
        },
        Value::String(s) => write_str(s, dst)?,
        Value::Array(a) => write_array(a, dst)?,
        Value::Object(m) => {
            dst.put_u8(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    dst.put_u8(b',');
                }
                write_str(k, dst)?;
                dst.put_u8(b':');
                write_value(x, dst)?;
            }
            dst.put_u8(b'}');
        }
    }
    Ok(())
}

fn write_array(a: &[Value], dst: &mut BytesMut) -> Result<(), serde_json::Error> {
    dst.put_u8(b'[');
    for (i, x) in a.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        write_value(x, dst)?;
    }
    dst.put_u8(b']');
    Ok(())
}

/// A string: as is between quotes when nothing in it needs escaping (serde_json escapes `"`,
/// `\\` and control characters), else through serde_json.
fn write_str(s: &str, dst: &mut BytesMut) -> Result<(), serde_json::Error> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        dst.reserve(s.len() + 2);
        dst.put_u8(b'"');
        dst.put_slice(s.as_bytes());
        dst.put_u8(b'"');
        Ok(())
    } else {
        serde_json::to_writer(dst.writer(), s)
    }
}

fn write_u64(mut n: u64, dst: &mut BytesMut) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        // n % 10 < 10: the cast cannot truncate.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&buf[at..]);
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

    /// The bytes are serde_json's compact encoding of the message, for every kind of value.
    #[test]
    fn encodes_the_bytes_serde_json_writes() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(7),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(0.5),
            json!(-2.5e-300),
            json!(1e300),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f}"),
            json!("unicode é ☃ 😀"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {"a": [], "b": {}}]]]),
            json!({"z": 1, "a": 2, "m": {"é\"": [null, true, "x"]}}),
            json!([{"uuid": ["uuid", "5f0c0f3e-0a1b-4c2d-8e9f-0123456789ab"]}, {"count": 3}]),
        ];
        for v in values {
            for m in [
                Message::Response(Response::ok(json!(1), v.clone())),
                Message::Response(Response::error(v.clone(), v.clone())),
                Message::Request(Request {
                    method: "m\"x".into(),
                    params: vec![v.clone(), v.clone()],
                    id: v.clone(),
                }),
                Message::Notification(Notification {
                    method: "update".into(),
                    params: vec![v.clone()],
                }),
            ] {
                let mut b = BytesMut::new();
                encode_message(&m, &mut b).unwrap();
                let want = serde_json::to_vec(&m.to_json()).unwrap();
                assert_eq!(
                    std::str::from_utf8(&b).unwrap(),
                    std::str::from_utf8(&want).unwrap()
                );
            }
        }
    }
}
