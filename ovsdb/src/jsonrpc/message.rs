//! JSON-RPC 1.0 messages: classification of a JSON value and its inverse.

use serde_json::{Map, Value};

use super::JsonRpcError;

/// A request: `{"method": M, "params": [...], "id": ID}` with a non-null `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Method name, e.g. `"transact"`.
    pub method: String,
    /// Positional parameters.
    pub params: Vec<Value>,
    /// Request id, any non-null JSON value; echoed in the response.
    pub id: Value,
}

/// A notification: a request with `"id": null`, never answered (e.g. `update`, `locked`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Method name, e.g. `"update2"`.
    pub method: String,
    /// Positional parameters.
    pub params: Vec<Value>,
}

/// A response: `{"result": R, "error": E, "id": ID}` where exactly one of `result` and `error` is
/// non-null.
///
/// Invariant kept by the decoder: the value inside `Ok` or `Err` is not `null` (a peer sending both
/// null is rejected with [`JsonRpcError::MissingMethod`]). Encoding `Ok(Value::Null)` writes
/// `"result": null, "error": null`, which real peers reject too, so do not construct it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The `result` (`Ok`) or the `error` (`Err`).
    pub result: Result<Value, Value>,
    /// The id of the request answered; never null.
    pub id: Value,
}

impl Response {
    /// A successful response to the request with id `id`.
    pub fn ok(id: Value, result: Value) -> Self {
        Self {
            result: Ok(result),
            id,
        }
    }

    /// An error response to the request with id `id`.
    pub fn error(id: Value, error: Value) -> Self {
        Self {
            result: Err(error),
            id,
        }
    }
}

/// One JSON-RPC 1.0 message as exchanged between OVSDB peers.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request expecting a response with the same id.
    Request(Request),
    /// A request with `"id": null`.
    Notification(Notification),
    /// A response (result or error).
    Response(Response),
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Self::Request(r)
    }
}

impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Self::Notification(n)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Self::Response(r)
    }
}

/// Treats JSON `null` like an absent member, as OVS does.
fn non_null(v: Option<Value>) -> Option<Value> {
    v.filter(|v| !v.is_null())
}

impl Message {
    /// Classifies and validates a JSON value.
    ///
    /// Rules (those of OVS `jsonrpc_msg_from_json` / `jsonrpc_is_valid`): the value is an object whose
    /// members are among `method`, `params`, `result`, `error`, `id`; a member whose value is `null`
    /// counts as absent. With `method` (a string) and `params` (an array): a request if `id` is present,
    /// else a notification, and neither `result` nor `error` may be present. Without `method`: a
    /// response, which needs an `id` and exactly one of `result` and `error`.
    pub fn from_json(value: Value) -> Result<Self, JsonRpcError> {
        let Value::Object(mut obj) = value else {
            return Err(JsonRpcError::NotAnObject);
        };
        let method = obj.remove("method");
        let params = non_null(obj.remove("params"));
        let result = non_null(obj.remove("result"));
        let error = non_null(obj.remove("error"));
        let id = non_null(obj.remove("id"));
        if let Some(key) = obj.keys().next() {
            return Err(JsonRpcError::UnexpectedMember(key.clone()));
        }
        let method = match method {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m),
            Some(_) => return Err(JsonRpcError::MethodNotString),
        };
        let params = match params {
            None => None,
            Some(Value::Array(p)) => Some(p),
            Some(_) => return Err(JsonRpcError::ParamsNotArray),
        };
        match method {
            Some(method) => {
                if result.is_some() || error.is_some() {
                    return Err(JsonRpcError::MethodWithResult { method });
                }
                let Some(params) = params else {
                    return Err(JsonRpcError::MissingParams { method });
                };
                Ok(match id {
                    Some(id) => Self::Request(Request { method, params, id }),
                    None => Self::Notification(Notification { method, params }),
                })
            }
            None => {
                let result = match (result, error) {
                    (Some(_), Some(_)) => return Err(JsonRpcError::ResultAndError),
                    (Some(r), None) => Ok(r),
                    (None, Some(e)) => Err(e),
                    (None, None) => return Err(JsonRpcError::MissingMethod),
                };
                let Some(id) = id else {
                    return Err(JsonRpcError::MissingId);
                };
                Ok(Self::Response(Response { result, id }))
            }
        }
    }

    /// The JSON value of this message, with members in the order ovsdb-server writes them.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        match self {
            Self::Request(r) => {
                obj.insert("id".into(), r.id.clone());
                obj.insert("method".into(), Value::String(r.method.clone()));
                obj.insert("params".into(), Value::Array(r.params.clone()));
            }
            Self::Notification(n) => {
                obj.insert("id".into(), Value::Null);
                obj.insert("method".into(), Value::String(n.method.clone()));
                obj.insert("params".into(), Value::Array(n.params.clone()));
            }
            Self::Response(r) => {
                obj.insert("id".into(), r.id.clone());
                let (result, error) = match &r.result {
                    Ok(v) => (v.clone(), Value::Null),
                    Err(e) => (Value::Null, e.clone()),
                };
                obj.insert("result".into(), result);
                obj.insert("error".into(), error);
            }
        }
        Value::Object(obj)
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match self {
            Self::Request(r) => Some(&r.method),
            Self::Notification(n) => Some(&n.method),
            Self::Response(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<Message, JsonRpcError> {
        Message::from_json(v)
    }

    #[test]
    fn classifies_the_three_kinds() {
        let m = parse(json!({"method":"echo","params":[],"id":"echo"})).unwrap();
        assert_eq!(
            m,
            Message::Request(Request {
                method: "echo".into(),
                params: vec![],
                id: json!("echo")
            })
        );
        let m = parse(json!({"method":"update","params":[null,{}],"id":null})).unwrap();
        assert!(matches!(m, Message::Notification(ref n) if n.method == "update"));
        // A missing id is the same as null.
        let m = parse(json!({"method":"update","params":[]})).unwrap();
        assert!(matches!(m, Message::Notification(_)));
        let m = parse(json!({"id":0,"result":["a"],"error":null})).unwrap();
        assert_eq!(m, Message::Response(Response::ok(json!(0), json!(["a"]))));
        let m = parse(json!({"id":[1,2],"result":null,"error":"unknown method"})).unwrap();
        assert_eq!(
            m,
            Message::Response(Response::error(json!([1, 2]), json!("unknown method")))
        );
    }

    #[test]
    fn rejects_invalid_messages() {
        let cases = [
            (json!([1]), "message is not a JSON object"),
            (
                json!({"method":"x","params":[],"id":1,"jsonrpc":"2.0"}),
                "unexpected member \"jsonrpc\"",
            ),
            (
                json!({"method":1,"params":[],"id":1}),
                "\"method\" is not a JSON string",
            ),
            (
                json!({"method":"x","params":{},"id":1}),
                "\"params\" must be JSON array",
            ),
            (
                json!({"method":"x","id":1}),
                "\"x\" message has no \"params\"",
            ),
            (
                json!({"method":"x","params":[],"result":1,"id":1}),
                "has \"result\" or \"error\"",
            ),
            (json!({"id":1}), "missing method"),
            (json!({"id":1,"result":null,"error":null}), "missing method"),
            (
                json!({"id":1,"result":1,"error":"e"}),
                "both \"result\" and \"error\"",
            ),
            (json!({"result":1,"error":null}), "no \"id\""),
            (json!({"id":null,"result":1,"error":null}), "no \"id\""),
        ];
        for (v, want) in cases {
            let err = parse(v.clone()).unwrap_err().to_string();
            assert!(err.contains(want), "{v}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn to_json_round_trips() {
        for m in [
            Message::Request(Request {
                method: "transact".into(),
                params: vec![
                    json!("OVN_Northbound"),
                    json!({"op":"comment","comment":"x"}),
                ],
                id: json!(7),
            }),
            Message::Notification(Notification {
                method: "locked".into(),
                params: vec![json!("lock")],
            }),
            Message::Response(Response::ok(json!("echo"), json!([]))),
            Message::Response(Response::error(json!(3), json!({"error":"syntax error"}))),
        ] {
            assert_eq!(parse(m.to_json()).unwrap(), m);
        }
        let n = Message::Notification(Notification {
            method: "update".into(),
            params: vec![],
        });
        assert_eq!(
            serde_json::to_string(&n.to_json()).unwrap(),
            r#"{"id":null,"method":"update","params":[]}"#
        );
    }
}
