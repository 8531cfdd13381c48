//! A scripted fake server that misbehaves: closes the socket in the middle of a message, sends a
//! malformed update, sends garbage. The client reports a clear error and resynchronizes; it never
//! panics and never keeps a stale replica.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ovsdb::client::{Client, ClientConfig, ClientError, MonitorMethod};
use ovsdb::jsonrpc::{JsonRpcCodec, Message, Response};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio_util::codec::Framed;

use crate::harness::{self, DB};

const U1: &str = "11111111-1111-1111-1111-111111111111";
const U2: &str = "22222222-2222-2222-2222-222222222222";
const TXN1: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const TXN2: &str = "aaaaaaaa-0000-0000-0000-000000000002";

/// What the fake does after answering the monitor request of connection `n`.
#[derive(Clone, Copy)]
enum Script {
    /// Answers the monitor with half a message, then closes.
    TruncatedReply,
    /// Answers correctly, then sends an update3 with an unknown column.
    MalformedUpdate,
    /// Answers correctly, then sends bytes that are not JSON.
    Garbage,
    /// Answers correctly, sends one good update, then stays.
    Good,
}

async fn serve_fake(
    listener: UnixListener,
    scripts: Vec<Script>,
    conns: Arc<AtomicUsize>,
    since_ids: Arc<std::sync::Mutex<Vec<String>>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let n = conns.fetch_add(1, Ordering::SeqCst);
        let script = scripts.get(n).copied().unwrap_or(Script::Good);
        let since_ids = since_ids.clone();
        tokio::spawn(async move {
            let mut f = Framed::new(stream, JsonRpcCodec::new());
            while let Some(Ok(Message::Request(r))) = f.next().await {
                let reply = |v: Value| Message::Response(Response::ok(r.id.clone(), v));
                match r.method.as_str() {
                    "get_schema" if r.params[0] == json!("_Server") => {
                        let e = Response::error(r.id.clone(), json!({"error": "unknown database"}));
                        let _ = f.send(Message::Response(e)).await;
                    }
                    "get_schema" => {
                        let _ = f.send(reply(harness::schema_json())).await;
                    }
                    "monitor_cond_since" => {
                        since_ids
                            .lock()
                            .unwrap()
                            .push(r.params[3].as_str().unwrap_or("").to_owned());
                        let snapshot = json!([false, TXN1, {"Item": {U1: {"initial": {"uid": 1, "value": "one"}}}}]);
                        if let Script::TruncatedReply = script {
                            let text = reply(snapshot).to_json().to_string();
                            let mut inner = f.into_inner();
                            let _ = inner.write_all(&text.as_bytes()[..text.len() / 2]).await;
                            let _ = inner.shutdown().await;
                            return;
                        }
                        let _ = f.send(reply(snapshot)).await;
                        let id = r.params[1].clone();
                        match script {
                            Script::MalformedUpdate => {
                                let bad = json!({"id": null, "method": "update3",
                                    "params": [id, TXN2, {"Item": {U2: {"insert": {"no_such_column": 1}}}}]});
                                let _ = f.send(Message::from_json(bad).unwrap()).await;
                            }
                            Script::Garbage => {
                                let mut inner = f.into_inner();
                                let _ = inner.write_all(b"}}}} not json").await;
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                return;
                            }
                            Script::Good => {
                                let good = json!({"id": null, "method": "update3",
                                    "params": [id, TXN2, {"Item": {U2: {"insert": {"uid": 2, "value": "two"}}}}]});
                                let _ = f.send(Message::from_json(good).unwrap()).await;
                            }
                            Script::TruncatedReply => {}
                        }
                    }
                    _ => {
                        let e = Response::error(r.id.clone(), json!({"error": "unknown method"}));
                        let _ = f.send(Message::Response(e)).await;
                    }
                }
            }
        });
    }
}

fn run(scripts: Vec<Script>) -> (Vec<String>, usize, Option<ClientError>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("fake.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = UnixListener::bind(&sock).unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let n_bad = scripts.len();
        tokio::spawn(serve_fake(listener, scripts, conns.clone(), ids.clone()));
        let mut cfg = ClientConfig::new(&format!("unix:{}", sock.display()), DB);
        cfg.backoff_min = Duration::from_millis(10);
        cfg.backoff_max = Duration::from_millis(50);
        let c = Client::start(cfg).unwrap();
        // Whatever the bad connections did, the client ends up with the good server's content.
        c.wait_for(Duration::from_secs(20), |r| {
            r.table("Item").is_some_and(|t| t.len() == 2)
        })
        .await
        .unwrap();
        let status = c.status();
        assert!(status.connected);
        assert!(status.connections >= 1);
        assert!(conns.load(Ordering::SeqCst) > n_bad);
        let content = c.with_replica(|r| r.to_json()).unwrap();
        let ids = ids.lock().unwrap().clone();
        (
            ids,
            conns.load(Ordering::SeqCst),
            status.last_error,
            content,
        )
    })
}

fn expected() -> Value {
    json!({"Item": {
        U1: {"uid": 1, "value": "one", "tags": ["set", []], "ext": ["map", []], "opt": ["set", []]},
        U2: {"uid": 2, "value": "two", "tags": ["set", []], "ext": ["map", []], "opt": ["set", []]}},
        "Named": {}})
}

#[test]
fn closed_socket_mid_message_reconnects() {
    let (_, conns, err, content) = run(vec![Script::TruncatedReply, Script::TruncatedReply]);
    assert_eq!(content, expected());
    assert!(conns >= 3);
    // The error seen was the truncation (the last error is from the last bad connection).
    let e = err.expect("an error was recorded");
    assert!(
        matches!(e, ClientError::Protocol { ref detail, .. } if detail.contains("ended inside a message")),
        "{e}"
    );
}

#[test]
fn malformed_update_resynchronizes_instead_of_going_stale() {
    let (ids, _, err, content) = run(vec![Script::MalformedUpdate]);
    // The second connection resumed from the last id the client really applied (TXN1), not TXN2.
    assert_eq!(
        ids.first().map(String::as_str),
        Some("00000000-0000-0000-0000-000000000000")
    );
    assert_eq!(ids.get(1).map(String::as_str), Some(TXN1));
    assert_eq!(content, expected());
    let e = err.expect("an error was recorded");
    assert!(
        matches!(e, ClientError::Malformed { ref detail, .. } if detail.contains("no_such_column")),
        "{e}"
    );
}

#[test]
fn garbage_on_the_wire_reconnects() {
    let (_, _, err, content) = run(vec![Script::Garbage]);
    assert_eq!(content, expected());
    let e = err.expect("an error was recorded");
    assert!(matches!(e, ClientError::Protocol { .. }), "{e}");
}

/// A server that only knows the monitor methods up to `level`, answers our probes only if
/// `answer_echo`, and first sends its own `echo` probe, which the client must answer.
async fn serve_old(
    listener: UnixListener,
    level: MonitorMethod,
    answer_echo: bool,
    conns: Arc<AtomicUsize>,
    echoed: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        conns.fetch_add(1, Ordering::SeqCst);
        let echoed = echoed.clone();
        tokio::spawn(async move {
            let mut f = Framed::new(stream, JsonRpcCodec::new());
            let probe = json!({"id": "echo", "method": "echo", "params": []});
            let _ = f.send(Message::from_json(probe).unwrap()).await;
            while let Some(Ok(m)) = f.next().await {
                let r = match m {
                    Message::Request(r) => r,
                    Message::Response(r) if r.id == json!("echo") => {
                        echoed.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    _ => continue,
                };
                let reply = |v: Value| Message::Response(Response::ok(r.id.clone(), v));
                let refuse = Message::Response(Response::error(
                    r.id.clone(),
                    json!({"error": "unknown method"}),
                ));
                let id = r.params.get(1).cloned().unwrap_or(Value::Null);
                let msg = match r.method.as_str() {
                    "echo" if answer_echo => reply(Value::Array(r.params.clone())),
                    "echo" => continue,
                    "get_schema" if r.params[0] == json!("_Server") => refuse,
                    "get_schema" => reply(harness::schema_json()),
                    "monitor_cond_since" => refuse,
                    "monitor_cond" if level == MonitorMethod::Plain => refuse,
                    "monitor_cond" => {
                        let _ = f
                            .send(reply(
                                json!({"Item": {U1: {"initial": {"uid": 1, "value": "one"}}}}),
                            ))
                            .await;
                        let n = json!({"id": null, "method": "update2", "params": [id, {"Item": {
                            U1: {"modify": {"value": "uno"}}, U2: {"insert": {"uid": 2, "value": "two"}}}}]});
                        Message::from_json(n).unwrap()
                    }
                    "monitor" => {
                        let _ = f
                            .send(reply(
                                json!({"Item": {U1: {"new": {"uid": 1, "value": "one"}}}}),
                            ))
                            .await;
                        let n = json!({"id": null, "method": "update", "params": [id, {"Item": {
                            U1: {"old": {"value": "one"}, "new": {"uid": 1, "value": "uno"}},
                            U2: {"new": {"uid": 2, "value": "two"}}}}]});
                        Message::from_json(n).unwrap()
                    }
                    _ => refuse,
                };
                let _ = f.send(msg).await;
            }
        });
    }
}

fn run_old(
    level: MonitorMethod,
    answer_echo: bool,
    probe: Duration,
    hold: Duration,
    wait: impl Fn(&ovsdb::client::Status, usize) -> bool,
) -> (Value, ovsdb::client::Status, usize) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("old.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = UnixListener::bind(&sock).unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let echoed = Arc::new(AtomicUsize::new(0));
        tokio::spawn(serve_old(
            listener,
            level,
            answer_echo,
            conns.clone(),
            echoed.clone(),
        ));
        let mut cfg = ClientConfig::new(&format!("unix:{}", sock.display()), DB);
        cfg.probe_interval = Some(probe);
        cfg.backoff_min = Duration::from_millis(10);
        let c = Client::start(cfg).unwrap();
        c.wait_for(Duration::from_secs(20), |r| {
            r.table("Item").is_some_and(|t| t.len() == 2)
        })
        .await
        .unwrap();
        let mut rx = c.subscribe();
        let n = conns.clone();
        tokio::time::timeout(
            Duration::from_secs(20),
            rx.wait_for(|s| wait(s, n.load(Ordering::SeqCst))),
        )
        .await
        .unwrap()
        .unwrap();
        drop(rx);
        tokio::time::sleep(hold).await;
        let content = c.with_replica(|r| r.to_json()).unwrap();
        (content, c.status(), echoed.load(Ordering::SeqCst))
    })
}

fn expected_old() -> Value {
    let mut e = expected();
    e["Item"][U1]["value"] = json!("uno");
    e
}

#[test]
fn falls_back_to_monitor_cond_and_monitor() {
    for level in [MonitorMethod::Cond, MonitorMethod::Plain] {
        let (content, status, _) = run_old(
            level,
            true,
            Duration::from_secs(5),
            Duration::ZERO,
            |s, _| s.connected,
        );
        assert_eq!(status.monitor_method, Some(level));
        assert_eq!(content, expected_old(), "{level:?}");
    }
}

#[test]
fn inactivity_probe_drops_a_silent_server_and_answers_the_servers_probe() {
    // The server answers everything but our echo: after two probe intervals the client reconnects.
    let (content, status, _) = run_old(
        MonitorMethod::Cond,
        false,
        Duration::from_millis(200),
        Duration::ZERO,
        |s, conns| s.connections >= 2 && conns >= 2 && s.connected,
    );
    assert_eq!(content, expected_old());
    let e = status.last_error.expect("the probe timeout is recorded");
    assert!(
        matches!(e, ClientError::Timeout(ref m) if m.contains("inactivity probe")),
        "{e}"
    );
    // A server that answers probes keeps the connection; the client answered the server's probe.
    let (_, status, echoed) = run_old(
        MonitorMethod::Cond,
        true,
        Duration::from_millis(100),
        Duration::from_millis(800),
        |s, _| s.connected && s.updates >= 2,
    );
    assert_eq!(status.connections, 1, "{status:?}");
    assert!(echoed >= 1);
}
