//! Client sessions: what the server does with each incoming JSON-RPC message, without I/O.
//!
//! Replies and notifications are queued per session ([`Server::poll_transmit`]). Within a session,
//! the updates a commit causes on the committing session's own monitors are queued before the reply
//! to its `transact`, as ovsdb-server does. Error replies have ovsdb-server's shapes: a bare string
//! for `"unknown method"` / `"unknown monitor"` / `"canceled"`, otherwise an error object with
//! `error`, `details` and `syntax`.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use super::monitor::{self, Monitor, MonitorVersion};
use super::{Outgoing, Server};
use crate::db::{ChangeSet, TxnContext};
use crate::json::{JsonRef, JsonView};
use crate::jsonrpc::echo::{Keepalive, KeepaliveAction};
use crate::jsonrpc::{Frame, JsonRpcError, Message, Notification, Request, Response};
use crate::transaction::{EncodedResults, Outcome};

/// Identifies one client session of a [`Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
    }
}

/// The reply to a monitor request: a value, or an encoded dump between two bits of JSON text.
enum MonitorReply {
    Value(Value),
    Dump {
        prefix: String,
        body: Bytes,
        suffix: String,
    },
}

/// The parameters of a `transact`.
#[derive(Debug, Clone)]
enum TxnParams {
    /// As a `Value` tree (from [`Server::handle_message`]).
    Tree(Value),
    /// The bytes of the whole request (from [`Server::handle_frame`]), read again by each run.
    Frame(Bytes),
}

/// The `params` of a well-formed `transact` request: an object whose members are among `method`,
/// `params`, `result`, `error` and `id`, with `"method": "transact"`, an array `params`, a non-null
/// `id` and no `result` nor `error` (`null` counting as absent), as [`Message::from_json`] checks.
fn transact_params<'t, 'a>(msg: &'t JsonRef<'a>) -> Option<(&'t JsonRef<'a>, &'t JsonRef<'a>)> {
    let JsonRef::Object(members) = msg else {
        return None;
    };
    let (mut method, mut params, mut id) = (None, None, None);
    for (k, v) in members {
        match k.as_ref() {
            "method" => method = Some(v),
            "params" => params = Some(v),
            "id" => id = Some(v),
            "result" | "error" if v.is_null() => {}
            _ => return None,
        }
    }
    if method?.as_str()? != "transact" {
        return None;
    }
    let params = params.filter(|p| p.is_array())?;
    let id = id.filter(|i| !i.is_null())?;
    Some((id, params))
}

/// A `transact` waiting for its `wait` operations.
#[derive(Debug, Clone)]
pub(crate) struct PendingTxn {
    id: Value,
    params: TxnParams,
    db: usize,
    received: Instant,
    timeout_ms: Option<u64>,
}

/// Per-client state.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) outbox: VecDeque<Outgoing>,
    /// Monitor id (its JSON text) → (id, monitor), in creation order.
    monitors: Vec<(String, Value, Monitor)>,
    /// Locks held or waited for.
    pub(crate) locks: BTreeSet<String>,
    pending: Vec<PendingTxn>,
    keepalive: Keepalive,
    pub(crate) closed: bool,
    db_change_aware: bool,
}

impl Session {
    pub(crate) fn new(now: Instant, probe: Option<Duration>) -> Self {
        Self {
            outbox: VecDeque::new(),
            monitors: Vec::new(),
            locks: BTreeSet::new(),
            pending: Vec::new(),
            keepalive: Keepalive::new(probe, now),
            closed: false,
            db_change_aware: false,
        }
    }

    fn monitor_index(&self, id: &Value) -> Option<usize> {
        let key = id.to_string();
        self.monitors.iter().position(|(k, _, _)| *k == key)
    }
}

fn syntax_error(syntax: &Value, details: impl Into<String>) -> Value {
    json!({"error": "syntax error", "details": details.into(), "syntax": syntax.to_string()})
}

/// Appends the `"I/O error"` result of a transaction whose commit was not written.
pub(crate) fn push_io_error(results: &mut Value, e: &super::StorageError) {
    if let Value::Array(a) = results {
        a.push(io_error(e));
    }
}

fn io_error(e: &super::StorageError) -> Value {
    json!({"error": "I/O error", "details": e.to_string()})
}

/// How the reply to a `transact` ends, after its results.
const REPLY_END: &[u8] = b",\"error\":null}";

/// [`push_io_error`] on the encoded reply to a `transact` (`{"id":..,"result":[..],"error":null}`).
pub(crate) fn push_io_error_text(reply: &mut Vec<u8>, e: &super::StorageError) {
    let Some(end) = reply.len().checked_sub(REPLY_END.len() + 1) else {
        return;
    };
    if !reply.ends_with(REPLY_END) || reply[end] != b']' {
        return;
    }
    let empty = reply[..end].ends_with(b"[");
    reply.truncate(end);
    if !empty {
        reply.push(b',');
    }
    // Writing a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *reply, &io_error(e));
    reply.push(b']');
    reply.extend_from_slice(REPLY_END);
}

fn notification(method: &str, params: Vec<Value>) -> Message {
    Message::Notification(Notification {
        method: method.to_owned(),
        params,
    })
}

impl Server {
    /// Handles one message received on session `sid` at `now`, from its bytes. Does what
    /// [`Server::handle_message`] does with [`Frame::to_message`]'s message, and returns that
    /// function's error (the connection should then close); a `transact` is executed straight
    /// from the bytes, without building a `Value` tree.
    pub fn handle_frame(
        &mut self,
        sid: SessionId,
        frame: &Frame,
        now: Instant,
    ) -> Result<(), JsonRpcError> {
        self.handle_frame_owned(sid, frame.clone(), now)
    }

    /// [`Server::handle_frame`] taking the frame: when the caller keeps no other reference to
    /// its bytes, a `transact` request's bytes are freed once its operations have run, before
    /// its commit is written and its monitor updates are built (a northd round's transaction
    /// is hundreds of megabytes at 250 nodes).
    pub fn handle_frame_owned(
        &mut self,
        sid: SessionId,
        frame: Frame,
        now: Instant,
    ) -> Result<(), JsonRpcError> {
        let Err(frame) = self.transact_streamed(sid, frame, now) else {
            return Ok(());
        };
        let frame = &frame;
        let tree = crate::json::parse(&frame.bytes);
        if let Some((id, params)) = tree.as_ref().and_then(transact_params) {
            let db = params
                .as_array()
                .and_then(<[JsonRef<'_>]>::first)
                .and_then(JsonRef::as_str)
                .and_then(|name| self.db_index(name));
            if let Some(db) = db {
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return Ok(());
                };
                s.keepalive.on_receive(now);
                let pending = PendingTxn {
                    id: id.to_value(),
                    params: TxnParams::Frame(frame.bytes.clone()),
                    db,
                    received: now,
                    timeout_ms: None,
                };
                let outcome = self.execute_transact(sid, &pending, now, Some(params));
                // The request's tree is not needed to commit: a big transaction's commit
                // (file record, monitor updates) does not hold it too.
                drop(tree);
                self.complete_transact(sid, pending, outcome);
                self.retry_pending(Some(db), now);
                return Ok(());
            }
        }
        // Anything else (and every error) as before.
        let msg = match &tree {
            Some(t) => Message::from_json(t.to_value())?,
            None => frame.to_message()?,
        };
        self.handle_message(sid, msg, now);
        Ok(())
    }

    /// Runs a well-formed `transact` frame one operation at a time
    /// ([`crate::transaction::execute_stream`]): a big transaction is never held as one tree.
    /// The frame is given back when it is anything else, or when the transaction must be run
    /// from its whole tree instead (an operation failed or blocked): then nothing happened.
    fn transact_streamed(
        &mut self,
        sid: SessionId,
        frame: Frame,
        now: Instant,
    ) -> Result<(), Frame> {
        let Some((outcome, id, db)) = self.run_streamed(sid, &frame) else {
            return Err(frame);
        };
        drop(frame);
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.keepalive.on_receive(now);
        }
        let pending = PendingTxn {
            id,
            // It completed: nothing is run again.
            params: TxnParams::Tree(Value::Null),
            db,
            received: now,
            timeout_ms: None,
        };
        self.complete_transact(sid, pending, outcome);
        self.retry_pending(Some(db), now);
        Ok(())
    }

    /// The execution part of [`Server::transact_streamed`]: the outcome, the request's id and
    /// the database, or `None` (nothing happened).
    fn run_streamed(
        &mut self,
        sid: SessionId,
        frame: &Frame,
    ) -> Option<(Outcome<EncodedResults>, Value, usize)> {
        let mut req = crate::json::TransactReader::start(&frame.bytes)?;
        let db = self.db_index(req.db_name())?;
        if !self.sessions.contains_key(&sid) {
            return None;
        }
        let ctx = TxnContext {
            held_locks: self.held_locks(sid),
            elapsed_ms: 0,
        };
        let (outcome, id) =
            crate::transaction::execute_stream(&mut self.dbs[db].db, &mut req, &ctx)?;
        Some((outcome, id.to_value(), db))
    }

    /// Handles one message received on session `sid` at `now`.
    pub fn handle_message(&mut self, sid: SessionId, msg: Message, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.keepalive.on_receive(now);
        match msg {
            Message::Request(req) => self.handle_request(sid, req, now),
            Message::Notification(n) if n.method == "cancel" => {
                if let Some(id) = n.params.first() {
                    self.cancel(sid, id);
                }
            }
            // Replies to our echo probes, and notifications ovsdb-server ignores too.
            Message::Notification(_) | Message::Response(_) => {}
        }
    }

    fn reply(&mut self, sid: SessionId, id: Value, result: Result<Value, Value>) {
        let resp = match result {
            Ok(v) => Response::ok(id, v),
            Err(e) => Response::error(id, e),
        };
        self.send(sid, Message::Response(resp));
    }

    fn handle_request(&mut self, sid: SessionId, req: Request, now: Instant) {
        let Request { method, params, id } = req;
        if method == "transact" {
            // The parameters move into the transaction without a copy.
            let params_json = Value::Array(params);
            let params = params_json.as_array().map_or(&[][..], Vec::as_slice);
            match self.lookup_db(&method, params, &params_json) {
                Ok(db) => {
                    let pending = PendingTxn {
                        id,
                        params: TxnParams::Tree(params_json),
                        db,
                        received: now,
                        timeout_ms: None,
                    };
                    self.run_transact(sid, pending, now);
                    self.retry_pending(Some(db), now);
                }
                Err(e) => self.reply(sid, id, Err(e)),
            }
            return;
        }
        let params_json = Value::Array(params.clone());
        let result = match method.as_str() {
            "echo" => Ok(params_json),
            "list_dbs" => Ok(json!(self.database_names())),
            "get_schema" => self
                .lookup_db(&method, &params, &params_json)
                .map(|d| self.dbs[d].db.schema().to_json()),
            "get_server_id" => Ok(json!(self.server_id.to_string())),
            "set_db_change_aware" => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.db_change_aware = params.first().and_then(Value::as_bool).unwrap_or(true);
                }
                Ok(json!({}))
            }
            "monitor" | "monitor_cond" | "monitor_cond_since" => {
                let version = match method.as_str() {
                    "monitor" => MonitorVersion::V1,
                    "monitor_cond" => MonitorVersion::V2,
                    _ => MonitorVersion::V3,
                };
                match self.monitor(sid, version, &params) {
                    Ok(MonitorReply::Value(v)) => Ok(v),
                    Ok(MonitorReply::Dump {
                        prefix,
                        body,
                        suffix,
                    }) => {
                        let id_text = serde_json::to_string(&id).unwrap_or_else(|_| "null".into());
                        let parts = vec![
                            Bytes::from(format!("{{\"id\":{id_text},\"result\":{prefix}")),
                            body,
                            Bytes::from(format!("{suffix},\"error\":null}}")),
                        ];
                        self.send(sid, Outgoing::Encoded(parts));
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            "monitor_cond_change" => self.monitor_cond_change(sid, &params),
            "monitor_cancel" => self.monitor_cancel(sid, &params),
            "lock" => self.lock(sid, &params, false),
            "steal" => self.lock(sid, &params, true),
            "unlock" => self.unlock(sid, &params),
            _ => Err(json!("unknown method")),
        };
        self.reply(sid, id, result);
    }

    fn lookup_db(
        &self,
        method: &str,
        params: &[Value],
        params_json: &Value,
    ) -> Result<usize, Value> {
        let Some(name) = params.first().and_then(Value::as_str) else {
            return Err(syntax_error(
                params_json,
                "database name expected as first parameter",
            ));
        };
        self.db_index(name).ok_or_else(|| {
            json!({
                "error": "unknown database",
                "details": format!("{method} request specifies unknown database {name}"),
                "syntax": params_json.to_string(),
            })
        })
    }

    fn held_locks(&self, sid: SessionId) -> std::collections::HashSet<String> {
        self.sessions
            .get(&sid)
            .map(|s| {
                s.locks
                    .iter()
                    .filter(|l| self.locks.get(*l).and_then(|q| q.front()) == Some(&sid))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs (or re-runs) a transaction; returns true when it completed.
    fn run_transact(&mut self, sid: SessionId, p: PendingTxn, now: Instant) -> bool {
        let outcome = self.execute_transact(sid, &p, now, None);
        self.complete_transact(sid, p, outcome)
    }

    /// Executes a transaction, with its parameters already read when `parsed`; the results
    /// come as the JSON text of the reply's `result`.
    fn execute_transact(
        &mut self,
        sid: SessionId,
        p: &PendingTxn,
        now: Instant,
        parsed: Option<&JsonRef<'_>>,
    ) -> Outcome<EncodedResults> {
        let elapsed = now.saturating_duration_since(p.received);
        let ctx = TxnContext {
            held_locks: self.held_locks(sid),
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        };
        let db = &mut self.dbs[p.db].db;
        match (parsed, &p.params) {
            (Some(params), _) => db.transact_encoded(params, &ctx),
            (None, TxnParams::Tree(params)) => db.transact_encoded(params, &ctx),
            (None, TxnParams::Frame(bytes)) => {
                // Parsed before, when the request arrived.
                let tree = crate::json::parse(bytes);
                let params = tree.as_ref().and_then(transact_params).map(|(_, p)| p);
                db.transact_encoded(params.unwrap_or(&JsonRef::Null), &ctx)
            }
        }
    }

    /// Commits and answers a transaction that completed, or queues it again while it is blocked;
    /// returns true when it completed.
    fn complete_transact(
        &mut self,
        sid: SessionId,
        mut p: PendingTxn,
        outcome: Outcome<EncodedResults>,
    ) -> bool {
        match outcome {
            Outcome::Complete { results, changes } => {
                let mut staged = false;
                let mut io_error = None;
                if let Some(ch) = changes.filter(|c| !c.is_empty()) {
                    match self.commit(p.db, ch) {
                        Ok(s) => staged = s,
                        Err(e) => {
                            tracing::error!(db = %self.dbs[p.db].name, "cannot write commit: {e}");
                            io_error = Some(e);
                        }
                    }
                }
                // The reply as `encode_message` writes a `Response`, from the results' text.
                let results = results.into_text();
                let mut text = Vec::with_capacity(results.len() + 64);
                text.extend_from_slice(b"{\"id\":");
                // Writing a `Value` to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut text, &p.id);
                text.extend_from_slice(b",\"result\":");
                text.extend_from_slice(&results);
                drop(results);
                text.extend_from_slice(REPLY_END);
                if let Some(e) = io_error {
                    push_io_error_text(&mut text, &e);
                }
                self.send(sid, Outgoing::Encoded(vec![Bytes::from(text)]));
                if staged {
                    // The reply waits in the outbox for the log's flush, which turns it into an
                    // error if the write fails.
                    if let Some(s) = self.sessions.get(&sid) {
                        self.held.push((sid, s.outbox.len() - 1, p.db));
                    }
                }
                true
            }
            Outcome::Blocked { timeout_ms } => {
                p.timeout_ms = timeout_ms;
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.pending.push(p);
                }
                false
            }
        }
    }

    /// Stages a commit in the database's log, records its transaction id and notifies monitors.
    /// Returns whether the commit waits for the log's flush ([`Server::flush_logs`]).
    fn commit(&mut self, db: usize, changes: Arc<ChangeSet>) -> Result<bool, super::StorageError> {
        let history_len = self.config.txn_history;
        let sdb = &mut self.dbs[db];
        sdb.version += 1;
        sdb.dump_cache.clear();
        let logged = match &mut sdb.log {
            Some(log) => log.stage(&sdb.db, &changes).map(|()| {
                sdb.unflushed = true;
                self.unflushed = true;
                true
            }),
            None => Ok(false),
        };
        if history_len > 0 {
            // A v4 UUID from the thread's user-space generator (`Uuid::new_v4` makes a system
            // call for each one).
            let txn_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            sdb.last_txn = txn_id;
            sdb.history.push_back((txn_id, changes.clone()));
            while sdb.history.len() > history_len {
                sdb.history.pop_front();
            }
        }
        let last = sdb.last_txn;
        let schema = sdb.db.schema().clone();
        for (sid, s) in self.sessions.iter_mut() {
            let mut any = false;
            for (id_text, _, m) in &s.monitors {
                if m.db != db {
                    continue;
                }
                // The notification is written as text straight away: the bytes
                // `encode_message` would write for it, without a JSON tree.
                let mut text = Vec::with_capacity(256);
                text.extend_from_slice(b"{\"id\":null,\"method\":\"");
                text.extend_from_slice(m.version.method().as_bytes());
                text.extend_from_slice(b"\",\"params\":[");
                text.extend_from_slice(id_text.as_bytes());
                text.push(b',');
                if m.version == MonitorVersion::V3 {
                    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                    text.push(b'"');
                    text.extend_from_slice(last.hyphenated().encode_lower(&mut buf).as_bytes());
                    text.extend_from_slice(b"\",");
                }
                if !m.write_updates(&schema, &changes, &mut text) {
                    continue;
                }
                text.extend_from_slice(b"]}");
                s.outbox
                    .push_back(Outgoing::Encoded(vec![Bytes::from(text)]));
                any = true;
            }
            if any {
                self.ready.insert(*sid);
            }
        }
        logged
    }

    /// Re-runs blocked transactions (of database `db`, or all when `None`) until none completes.
    fn retry_pending(&mut self, db: Option<usize>, now: Instant) {
        if self.sessions.values().all(|s| s.pending.is_empty()) {
            return;
        }
        loop {
            let mut progress = false;
            let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
            for sid in sids {
                let Some(s) = self.sessions.get_mut(&sid) else {
                    continue;
                };
                let taken: Vec<PendingTxn> = std::mem::take(&mut s.pending);
                let mut keep = Vec::new();
                for p in taken {
                    if db.is_some_and(|d| d != p.db) {
                        keep.push(p);
                        continue;
                    }
                    // run_transact re-queues it when still blocked.
                    if self.run_transact(sid, p, now) {
                        progress = true;
                    }
                }
                if let Some(s) = self.sessions.get_mut(&sid) {
                    keep.append(&mut s.pending);
                    s.pending = keep;
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn cancel(&mut self, sid: SessionId, id: &Value) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if let Some(i) = s.pending.iter().position(|p| p.id == *id) {
            let p = s.pending.remove(i);
            self.reply(sid, p.id, Err(json!("canceled")));
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for s in self.sessions.values() {
            if let Some(t) = s.keepalive.next_deadline() {
                consider(t);
            }
            for p in &s.pending {
                if let Some(ms) = p.timeout_ms {
                    consider(p.received + Duration::from_millis(ms));
                }
            }
        }
        next
    }

    /// Advances timers to `now`: inactivity probes, idle disconnects and `wait` timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
        let mut expired = false;
        for sid in sids {
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            match s.keepalive.poll(now) {
                KeepaliveAction::Wait => {}
                KeepaliveAction::SendProbe(req) => self.send(sid, Message::Request(req)),
                KeepaliveAction::Disconnect => {
                    s.closed = true;
                    self.ready.insert(sid);
                }
            }
            if let Some(s) = self.sessions.get(&sid) {
                expired |= s.pending.iter().any(|p| {
                    p.timeout_ms
                        .is_some_and(|ms| now >= p.received + Duration::from_millis(ms))
                });
            }
        }
        if expired {
            self.retry_pending(None, now);
        }
    }

    fn monitor(
        &mut self,
        sid: SessionId,
        version: MonitorVersion,
        params: &[Value],
    ) -> Result<MonitorReply, Value> {
        let method = match version {
            MonitorVersion::V1 => "monitor",
            MonitorVersion::V2 => "monitor_cond",
            MonitorVersion::V3 => "monitor_cond_since",
        };
        let params_json = Value::Array(params.to_vec());
        let want = if version == MonitorVersion::V3 { 4 } else { 3 };
        if params.len() != want {
            return Err(syntax_error(
                &params_json,
                format!("{method} requires {want} parameters"),
            ));
        }
        let db = self.lookup_db(method, params, &params_json)?;
        let mon_id = params[1].clone();
        let Some(s) = self.sessions.get(&sid) else {
            return Err(json!("session closed"));
        };
        if s.monitor_index(&mon_id).is_some() {
            return Err(syntax_error(&mon_id, "duplicate monitor ID"));
        }
        let sdb = &self.dbs[db];
        let tables = monitor::parse_requests(sdb.db.schema(), version, &params[2])
            .map_err(|e| e.to_json())?;
        let m = Monitor {
            db,
            version,
            tables,
        };
        let since = params
            .get(3)
            .and_then(Value::as_str)
            .and_then(crate::atom::parse_uuid_str)
            .filter(|u| !u.is_nil());
        let found = since.and_then(|u| sdb.history.iter().position(|(id, _)| *id == u));
        let last = sdb.last_txn.to_string();
        let result = match (version, found) {
            (MonitorVersion::V3, Some(i)) => {
                let commits: Vec<Arc<ChangeSet>> = sdb
                    .history
                    .iter()
                    .skip(i + 1)
                    .map(|(_, c)| c.clone())
                    .collect();
                MonitorReply::Value(json!([
                    true,
                    last,
                    m.merged_updates(sdb.db.schema(), &commits)
                ]))
            }
            _ => {
                let body = self.initial_dump(db, &m);
                let (prefix, suffix) = match version {
                    MonitorVersion::V3 => (format!("[false,\"{last}\","), "]".to_owned()),
                    _ => (String::new(), String::new()),
                };
                MonitorReply::Dump {
                    prefix,
                    body,
                    suffix,
                }
            }
        };
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.monitors.push((mon_id.to_string(), mon_id, m));
        }
        Ok(result)
    }

    /// The encoded initial contents for monitor `m` on database `db`, shared between sessions
    /// asking for the same thing while the database does not change.
    fn initial_dump(&mut self, db: usize, m: &Monitor) -> Bytes {
        let key = m.cache_key();
        let sdb = &mut self.dbs[db];
        if let Some(b) = sdb.dump_cache.get(&key) {
            return b.clone();
        }
        let body = Bytes::from(m.initial_encoded(&sdb.db));
        sdb.dump_cache.insert(key, body.clone());
        body
    }

    fn monitor_cond_change(&mut self, sid: SessionId, params: &[Value]) -> Result<Value, Value> {
        let params_json = Value::Array(params.to_vec());
        if params.len() != 3 {
            return Err(syntax_error(
                &params_json,
                "monitor_cond_change requires 3 parameters",
            ));
        }
        let (old_id, new_id) = (&params[0], &params[1]);
        let Some(s) = self.sessions.get(&sid) else {
            return Err(json!("session closed"));
        };
        let Some(idx) = s.monitor_index(old_id) else {
            return Err(syntax_error(old_id, "unknown monitor session"));
        };
        if old_id != new_id && s.monitor_index(new_id).is_some() {
            return Err(syntax_error(new_id, "duplicate monitor ID"));
        }
        let m = &s.monitors[idx].2;
        if m.version == MonitorVersion::V1 {
            return Err(syntax_error(
                old_id,
                "monitor_cond_change is not supported for monitor",
            ));
        }
        let sdb = &self.dbs[m.db];
        let tables = monitor::parse_condition_change(sdb.db.schema(), &m.tables, &params[2])
            .map_err(|e| e.to_json())?;
        let updates = m.condition_change_updates(&sdb.db, &tables);
        let version = m.version;
        let last = sdb.last_txn.to_string();
        let has_updates = updates.as_object().is_some_and(|o| !o.is_empty());
        if let Some(s) = self.sessions.get_mut(&sid) {
            let entry = &mut s.monitors[idx];
            entry.0 = new_id.to_string();
            entry.1 = new_id.clone();
            entry.2.tables = tables;
        }
        if has_updates {
            let p = match version {
                MonitorVersion::V3 => vec![new_id.clone(), json!(last), updates],
                _ => vec![new_id.clone(), updates],
            };
            self.send(sid, notification(version.method(), p));
        }
        Ok(json!({}))
    }

    fn monitor_cancel(&mut self, sid: SessionId, params: &[Value]) -> Result<Value, Value> {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Err(json!("session closed"));
        };
        let idx = params.first().and_then(|id| s.monitor_index(id));
        match idx {
            Some(i) => {
                s.monitors.remove(i);
                Ok(json!({}))
            }
            None => Err(json!("unknown monitor")),
        }
    }

    fn lock(&mut self, sid: SessionId, params: &[Value], steal: bool) -> Result<Value, Value> {
        let params_json = Value::Array(params.to_vec());
        let method = if steal { "steal" } else { "lock" };
        let Some(name) = params.first().and_then(Value::as_str).map(str::to_owned) else {
            return Err(syntax_error(&params_json, "lock name expected"));
        };
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Err(json!("session closed"));
        };
        if s.locks.contains(&name) {
            return Err(syntax_error(
                &params_json,
                format!("must issue \"unlock\" before new \"{method}\""),
            ));
        }
        s.locks.insert(name.clone());
        let queue = self.locks.entry(name.clone()).or_default();
        if steal {
            let victim = queue.front().copied();
            queue.push_front(sid);
            if let Some(v) = victim {
                self.send(v, notification("stolen", vec![json!(name)]));
            }
            Ok(json!({"locked": true}))
        } else {
            queue.push_back(sid);
            let locked = queue.front() == Some(&sid);
            Ok(json!({ "locked": locked }))
        }
    }

    fn unlock(&mut self, sid: SessionId, params: &[Value]) -> Result<Value, Value> {
        let params_json = Value::Array(params.to_vec());
        let Some(name) = params.first().and_then(Value::as_str).map(str::to_owned) else {
            return Err(syntax_error(&params_json, "lock name expected"));
        };
        let held = self
            .sessions
            .get_mut(&sid)
            .is_some_and(|s| s.locks.remove(&name));
        if !held {
            return Err(syntax_error(
                &params_json,
                "unlock: \"unlock\" without \"lock\" or \"steal\"",
            ));
        }
        self.release_lock(sid, &name);
        Ok(json!({}))
    }

    /// Removes `sid` from lock `name`'s queue; the next waiter, if it becomes owner, is told.
    pub(crate) fn release_lock(&mut self, sid: SessionId, name: &str) {
        let Some(queue) = self.locks.get_mut(name) else {
            return;
        };
        let was_owner = queue.front() == Some(&sid);
        queue.retain(|s| *s != sid);
        let next = queue.front().copied();
        if queue.is_empty() {
            self.locks.remove(name);
        }
        if let (true, Some(n)) = (was_owner, next) {
            self.send(n, notification("locked", vec![json!(name)]));
        }
    }

    /// Whether session `sid` asked to be told about schema changes (`set_db_change_aware`).
    pub fn is_db_change_aware(&self, sid: SessionId) -> bool {
        self.sessions.get(&sid).is_some_and(|s| s.db_change_aware)
    }

    /// Pending (blocked) transactions of session `sid`.
    pub fn n_pending(&self, sid: SessionId) -> usize {
        self.sessions.get(&sid).map_or(0, |s| s.pending.len())
    }

    /// The JSON-RPC ids of the monitors of session `sid`.
    pub fn monitor_ids(&self, sid: SessionId) -> Vec<Value> {
        self.sessions
            .get(&sid)
            .map(|s| s.monitors.iter().map(|(_, id, _)| id.clone()).collect())
            .unwrap_or_default()
    }

    /// Monitors per database index, for diagnostics.
    pub fn n_monitors(&self) -> usize {
        self.sessions.values().map(|s| s.monitors.len()).sum()
    }
}
