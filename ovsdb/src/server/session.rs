//! Client sessions: what the server does with each incoming JSON-RPC message, without I/O.
//!
//! Replies and notifications are queued per session ([`Server::poll_transmit`]). Within a session,
//! the updates a commit causes on the committing session's own monitors are queued before the reply
//! to its `transact`, as ovsdb-server does. Error replies have ovsdb-server's shapes: a bare string
//! for `"unknown method"` / `"unknown monitor"` / `"canceled"`, otherwise an error object with
//! `error`, `details` and `syntax`.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::atomic::Ordering;
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
use crate::transaction::{Concluded, EncodedResults, Outcome, Speculation, Unapplied};

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
    /// The `transact` request still arriving whose operations run ahead (see
    /// [`Server::run_ahead`]).
    ahead: Option<Box<Ahead>>,
}

/// A `transact` request still arriving on a session, and what ran of it.
#[derive(Debug)]
struct Ahead {
    /// Stream offset of the request's first byte (its [`Frame::offset`] once complete).
    offset: u64,
    /// The database it names.
    db: usize,
    /// `None` once running ahead has stopped for this request.
    spec: Option<Speculation>,
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
            ahead: None,
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

/// How the reply to a `transact` starts, before its id.
const REPLY_START: &[u8] = b"{\"id\":";

/// What comes between the reply's id and its results.
const REPLY_RESULT: &[u8] = b",\"result\":";

/// How the reply to a `transact` ends, after its results.
const REPLY_END: &[u8] = b",\"error\":null}";

/// The length of `n` written in decimal (as [`crate::atom::write_i64`] writes it).
fn decimal_len(n: i64) -> usize {
    let mut len = usize::from(n < 0) + 1;
    let mut m = n.unsigned_abs();
    while m >= 10 {
        m /= 10;
        len += 1;
    }
    len
}

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

/// A change set leaving the history with at least this many rows is freed on a thread of its
/// own: freeing a full northd round's (half a million rows: one reference count per row, each
/// a cache miss) took ~20 ms of the next commit's reply, typically a one-row change.
const FREE_ASIDE_ROWS: usize = 8192;

/// Frees `changes` (a change set leaving the history): a big one that nothing else holds on a
/// short-lived thread, off the path of the commit that retires it; anything else here.
fn free_aside(changes: Arc<ChangeSet>) {
    if Arc::strong_count(&changes) == 1
        && changes.tables.iter().map(|t| t.rows.len()).sum::<usize>() >= FREE_ASIDE_ROWS
    {
        // If the thread cannot be started, the closure (and the change set) is dropped here.
        let _ = std::thread::Builder::new()
            .name("ovsdb-free".into())
            .spawn(move || drop(changes));
    }
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
        let Some((concluded, id, db)) = self.run_streamed(sid, &frame) else {
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
        match concluded.take_big(BESIDE_ROWS) {
            Ok((results, unapplied)) => {
                let (staged, io_error) = match self.commit_beside(db, unapplied) {
                    Ok(staged) => (staged, None),
                    Err(e) => {
                        tracing::error!(db = %self.dbs[db].name, "cannot write commit: {e}");
                        (false, Some(e))
                    }
                };
                self.send_transact_reply(sid, &pending, results, staged, io_error);
            }
            Err(concluded) => {
                let outcome = concluded.apply(&mut self.dbs[db].db);
                self.complete_transact(sid, pending, outcome);
            }
        }
        self.retry_pending(Some(db), now);
        Ok(())
    }

    /// The execution part of [`Server::transact_streamed`]: the outcome, the request's id and
    /// the database, or `None` (nothing happened). Continues from what ran ahead of the
    /// request's end ([`Server::run_ahead`]) when the database is as it was then.
    fn run_streamed(
        &mut self,
        sid: SessionId,
        frame: &Frame,
    ) -> Option<(Concluded<EncodedResults>, Value, usize)> {
        let ahead = self.sessions.get_mut(&sid)?.ahead.take();
        if let Some(Ahead {
            offset,
            db,
            spec: Some(spec),
        }) = ahead.map(|a| *a)
        {
            if offset == frame.offset {
                tracing::debug!(%sid, ops = spec.ops_run(), "transaction continues from operations run ahead");
                let ctx = TxnContext {
                    held_locks: self.held_locks(sid),
                    elapsed_ms: 0,
                };
                let finished = spec.finish_concluded(&mut self.dbs[db].db, &frame.bytes, &ctx);
                if let Some((concluded, id)) = finished {
                    return Some((concluded, id.to_value(), db));
                }
            }
        }
        let mut req = crate::json::TransactReader::start(&frame.bytes)?;
        let db = self.db_index(req.db_name())?;
        let ctx = TxnContext {
            held_locks: self.held_locks(sid),
            elapsed_ms: 0,
        };
        let (concluded, id) =
            crate::transaction::execute_stream_concluded(&mut self.dbs[db].db, &mut req, &ctx)?;
        Some((concluded, id.to_value(), db))
    }

    /// Runs ahead the operations of a big `transact` request that is still arriving: `bytes`
    /// is the start of session `sid`'s next message (at stream offset `offset`), longer than
    /// at the previous call for the same message. The operations complete in it run against
    /// the database as it is now, without changing it (see [`Speculation`]); the request's
    /// end ([`Server::handle_frame_owned`]) runs the rest and commits, or runs it all anew
    /// when the database has changed meanwhile. Nothing is sent, and whether it ran ahead
    /// changes nothing in what the session or any other sees. Each call reads only what
    /// arrived since the previous one (an operation cut at the end is read again later, as
    /// the text doubles past it), so the work it does is the work the request's end would
    /// have done.
    pub fn run_ahead(&mut self, sid: SessionId, offset: u64, bytes: &[u8]) {
        /// The request's start, up to the database name, must be within this many bytes.
        const HEADER_MAX: usize = 4096;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let ahead = match s.ahead.take() {
            Some(a) if a.offset == offset => a,
            _ => {
                let mut end = bytes.len().min(HEADER_MAX);
                // Not inside a UTF-8 character.
                while end < bytes.len() && end > 0 && bytes[end] & 0xC0 == 0x80 {
                    end -= 1;
                }
                let header = crate::json::TransactReader::start(&bytes[..end]);
                let Some((db, header_end)) =
                    header.and_then(|r| Some((self.db_index(r.db_name())?, r.position())))
                else {
                    if bytes.len() > HEADER_MAX {
                        // Not a transaction for a database served here: not run ahead.
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            s.ahead = Some(Box::new(Ahead {
                                offset,
                                db: 0,
                                spec: None,
                            }));
                        }
                    }
                    return;
                };
                Box::new(Ahead {
                    offset,
                    db,
                    spec: Some(Speculation::new(&self.dbs[db].db, header_end, bytes.len())),
                })
            }
        };
        let mut ahead = ahead;
        if let Some(spec) = &mut ahead.spec {
            if !spec.run(&self.dbs[ahead.db].db, bytes) {
                ahead.spec = None;
            }
        }
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.ahead = Some(ahead);
        }
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
        match self.sessions.get(&sid) {
            Some(s) if !s.locks.is_empty() => s
                .locks
                .iter()
                .filter(|l| self.locks.get(*l).and_then(|q| q.front()) == Some(&sid))
                .cloned()
                .collect(),
            _ => std::collections::HashSet::new(),
        }
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
                self.send_transact_reply(sid, &p, results, staged, io_error);
                true
            }
            Outcome::Blocked { timeout_ms } => {
                p.timeout_ms = timeout_ms;
                self.timers_moved |= timeout_ms.is_some();
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.pending.push(p);
                    self.maybe_pending = true;
                }
                false
            }
        }
    }

    /// Queues the reply to the committed transaction `p` with its `results`; `staged` when its
    /// commit waits in the log for the next flush, `io_error` when staging it failed.
    fn send_transact_reply(
        &mut self,
        sid: SessionId,
        p: &PendingTxn,
        results: EncodedResults,
        staged: bool,
        io_error: Option<super::StorageError>,
    ) {
        // The reply as `encode_message` writes a `Response`, from the results' text.
        let results = results.into_text();
        // An integer id (what clients send) as serde_json writes it, without its
        // serializer; any other id through it (writing a `Value` to a Vec cannot fail).
        let mut id_text = Vec::new();
        let id_len = match p.id.as_i64() {
            Some(n) => decimal_len(n),
            None => {
                let _ = serde_json::to_writer(&mut id_text, &p.id);
                id_text.len()
            }
        };
        // Exactly the reply's size: `Bytes` then takes the vector as it is, without
        // a second allocation for its reference count.
        let len = REPLY_START.len() + id_len + REPLY_RESULT.len() + results.len() + REPLY_END.len();
        let mut text = Vec::with_capacity(len);
        text.extend_from_slice(REPLY_START);
        match p.id.as_i64() {
            Some(n) => crate::atom::write_i64(&mut text, n),
            None => text.extend_from_slice(&id_text),
        }
        text.extend_from_slice(REPLY_RESULT);
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
        keep_history(sdb, &mut self.txn_ids, history_len, &changes);
        if !sdb.maybe_monitored {
            return logged;
        }
        let last = sdb.last_txn;
        let schema = sdb.db.schema().clone();
        if !write_monitor_updates(
            &mut self.sessions,
            &mut self.ready,
            db,
            &schema,
            &changes,
            last,
        ) {
            self.dbs[db].maybe_monitored = false;
        }
        logged
    }

    /// [`Server::commit`] for a big commit not applied yet: it is applied, and the monitor
    /// updates written, on one thread while the log writes its record on another, which the
    /// first joins once done ([`super::CommitLog::stage_beside`]). Same outcome, same bytes.
    fn commit_beside(
        &mut self,
        db: usize,
        unapplied: Unapplied,
    ) -> Result<bool, super::StorageError> {
        let history_len = self.config.txn_history;
        let Self {
            dbs,
            sessions,
            ready,
            txn_ids,
            unflushed,
            ..
        } = self;
        let sdb = &mut dbs[db];
        sdb.version += 1;
        sdb.dump_cache.clear();
        let changes = unapplied.changes.clone();
        keep_history(sdb, txn_ids, history_len, &changes);
        let last = sdb.last_txn;
        let schema = sdb.db.schema().clone();
        let monitors = sdb.maybe_monitored;
        let mut monitored = false;
        let database = &mut sdb.db;
        let mut beside = || {
            unapplied.apply(database);
            if monitors {
                monitored = write_monitor_updates(sessions, ready, db, &schema, &changes, last);
            }
        };
        let logged = match &mut sdb.log {
            Some(log) => match log.stage_beside(&schema, &changes, &mut beside) {
                Some(staged) => staged.map(|()| true),
                None => log.stage(&sdb.db, &changes).map(|()| true),
            },
            None => {
                beside();
                Ok(false)
            }
        };
        if matches!(logged, Ok(true)) {
            sdb.unflushed = true;
            *unflushed = true;
        }
        if monitors && !monitored {
            sdb.maybe_monitored = false;
        }
        logged
    }

    /// Re-runs blocked transactions (of database `db`, or all when `None`) until none completes.
    fn retry_pending(&mut self, db: Option<usize>, now: Instant) {
        if !self.maybe_pending {
            return;
        }
        if self.sessions.values().all(|s| s.pending.is_empty()) {
            self.maybe_pending = false;
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
        if version == MonitorVersion::V3 {
            // Its reply names the latest commit: from now on the history is kept whole.
            self.dbs[db].txn_ids_out.store(true, Ordering::Relaxed);
        }
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
            self.dbs[db].maybe_monitored = true;
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

/// Gives a commit of `sdb` its transaction id and keeps it in the history (see
/// [`super::ServedDb::history`]), when `history_len` is not 0.
fn keep_history(
    sdb: &mut super::ServedDb,
    txn_ids: &mut super::TxnIds,
    history_len: usize,
    changes: &Arc<ChangeSet>,
) {
    if history_len == 0 {
        return;
    }
    let txn_id = txn_ids.next_id();
    sdb.last_txn = txn_id;
    sdb.history.push_back((txn_id, changes.clone()));
    // Only the latest commit while no transaction id has gone out (see
    // `ServedDb::txn_ids_out`).
    let keep = if sdb.txn_ids_out.load(Ordering::Relaxed) {
        history_len
    } else {
        1
    };
    while sdb.history.len() > keep {
        if let Some((_, old)) = sdb.history.pop_front() {
            free_aside(old);
        }
    }
}

/// Queues the updates of the monitors of database `db` that `changes` concern (the commit
/// whose transaction id is `last`), in every session, and marks those sessions ready.
/// Returns whether any session monitors `db`.
fn write_monitor_updates(
    sessions: &mut super::Sessions,
    ready: &mut super::ReadySessions,
    db: usize,
    schema: &crate::schema::Schema,
    changes: &ChangeSet,
    last: uuid::Uuid,
) -> bool {
    let mut monitored = false;
    for (sid, s) in sessions.iter_mut() {
        let mut any = false;
        for (id_text, _, m) in &s.monitors {
            if m.db != db {
                continue;
            }
            monitored = true;
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
            if !m.write_updates(schema, changes, &mut text) {
                continue;
            }
            text.extend_from_slice(b"]}");
            s.outbox
                .push_back(Outgoing::Encoded(vec![Bytes::from(text)]));
            any = true;
        }
        if any {
            ready.insert(*sid);
        }
    }
    monitored
}

/// Commits with this many changed rows or more are applied while their record is written
/// ([`Server::commit_beside`]): a northd round's Southbound transaction (80k+ rows), not a
/// client's usual commit, which gets no thread.
const BESIDE_ROWS: usize = 1 << 15;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::JsonRpcCodec;
    use crate::{Database, Schema};

    const SCHEMA: &str = r#"{"name":"T","version":"1.0.0","tables":{
      "A":{"columns":{"name":{"type":"string"},"n":{"type":{"key":"integer","min":0,"max":1}},
           "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}},
           "indexes":[["name"]],"isRoot":true}}}"#;

    fn seeded() -> (Server, SessionId, SessionId) {
        let mut s = Server::new(super::super::ServerConfig::default()).unwrap();
        let db = Database::with_seed(Schema::from_str_json(SCHEMA).unwrap(), 7);
        s.add_database(db, None).unwrap();
        let t = Instant::now();
        let a = s.connect(t, None);
        let other = s.connect(t, None);
        (s, a, other)
    }

    /// A change set leaving the history is freed: a small one at once, a big one (which its
    /// own thread frees) soon after; one something else still holds is left to its holder.
    #[test]
    fn retired_change_sets_are_freed() {
        let change_set = |rows: usize| {
            let row = Arc::new(crate::db::Row { fields: Vec::new() });
            let rows = (0..rows)
                .map(|i| crate::db::RowChange {
                    uuid: uuid::Uuid::from_u128(i as u128),
                    old: None,
                    new: Some(row.clone()),
                    changed: Vec::new(),
                })
                .collect();
            let tables = vec![crate::db::TableChanges {
                table: 0,
                name: "A".into(),
                rows,
            }];
            (
                Arc::new(ChangeSet {
                    tables,
                    ..ChangeSet::default()
                }),
                row,
            )
        };
        let (small, row) = change_set(3);
        free_aside(small);
        assert_eq!(Arc::strong_count(&row), 1);
        let (big, row) = change_set(FREE_ASIDE_ROWS);
        let weak = Arc::downgrade(&big);
        free_aside(big);
        let t = Instant::now();
        while weak.upgrade().is_some() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(weak.upgrade().is_none(), "the big change set was not freed");
        // The freeing thread may still be dropping the rows' references: wait for it too.
        while Arc::strong_count(&row) > 1 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(Arc::strong_count(&row), 1);
        let (held, _row) = change_set(FREE_ASIDE_ROWS);
        let holder = held.clone();
        free_aside(held);
        assert_eq!(Arc::strong_count(&holder), 1);
    }

    /// What a session was sent, as text.
    fn sent(s: &mut Server, sid: SessionId) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(m) = s.poll_transmit(sid) {
            v.push(m.to_json().to_string());
        }
        v
    }

    /// A stream of requests: transactions of many operations (one of them fails at its
    /// commit), one naming an unknown database, one that is not a transaction.
    fn stream() -> String {
        let inserts = |from: usize, to: usize| {
            (from..to)
                .map(|i| {
                    format!(
                        r#"{{"op":"insert","table":"A","uuid-name":"r{i}","row":{{"name":"n{i} \u00e9","n":{i},"m":["map",[["k","v{i}"]]]}}}}"#
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        [
            format!(r#"{{"id":1,"method":"transact","params":["T",{}]}}"#, inserts(0, 40)),
            format!(
                r#"{{"method":"transact","params":["T",{},{{"op":"mutate","table":"A","where":[["_uuid","==",["named-uuid","r41"]]],"mutations":[["n","+=",1]]}}],"id":"two"}}"#,
                inserts(40, 60)
            ),
            format!(r#"{{"id":3,"method":"transact","params":["T",{},{}]}}"#, inserts(60, 70), inserts(65, 66)),
            format!(r#"{{"id":4,"method":"transact","params":["U",{}]}}"#, inserts(70, 80)),
            format!(r#"{{"id":5,"method":"echo","params":["T",{}]}}"#, inserts(80, 90)),
            format!(r#"{{"id":6,"method":"transact","params":["T",{}]}}"#, inserts(90, 130)),
        ]
        .join(" \n")
    }

    /// A commit big enough to be applied beside its record ([`Server::commit_beside`], from a
    /// streamed request) gives the reply, the monitor update, the file and the rows that the
    /// same request gives through the usual path (its tree).
    #[test]
    fn big_commits_applied_beside_their_record_are_the_same() {
        let n = BESIDE_ROWS + 3;
        let mut ops: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"op":"insert","table":"A","row":{{"name":"n{i} \u00e9","n":{i},"m":["map",[["k","v{}"]]]}}}}"#,
                    i % 5
                )
            })
            .collect();
        ops.push(r#"{"op":"comment","comment":"big"}"#.to_string());
        let req = format!(
            r#"{{"id":9,"method":"transact","params":["T",{}]}}"#,
            ops.join(",")
        );
        let dir = tempfile::tempdir().unwrap();
        let schema_json: Value = serde_json::from_str(SCHEMA).unwrap();
        let mut outputs = Vec::new();
        for beside in [true, false] {
            let path = dir.path().join(format!("{beside}.db"));
            super::super::FileStorage::create(&path, &schema_json).unwrap();
            let (_, log, _) =
                super::super::FileStorage::open(&path, super::super::StorageOptions::default())
                    .unwrap();
            let mut s = Server::new(super::super::ServerConfig::default()).unwrap();
            let db = Database::with_seed(Schema::from_str_json(SCHEMA).unwrap(), 7);
            s.add_database(db, Some(Box::new(log))).unwrap();
            let t = Instant::now();
            let (a, m) = (s.connect(t, None), s.connect(t, None));
            let monitor = Request {
                method: "monitor_cond".into(),
                params: vec![json!("T"), json!("m"), json!({"A": [{}]})],
                id: json!(1),
            };
            s.handle_message(m, Message::Request(monitor), t);
            sent(&mut s, m);
            if beside {
                let f = Frame {
                    offset: 0,
                    bytes: Bytes::from(req.clone()),
                };
                s.handle_frame_owned(a, f, t).unwrap();
            } else {
                let msg = Message::from_json(serde_json::from_str(&req).unwrap()).unwrap();
                s.handle_message(a, msg, t);
            }
            let reply = sent(&mut s, a);
            let update = sent(&mut s, m);
            assert_eq!((reply.len(), update.len()), (1, 1));
            let end = &reply[0][reply[0].len() - 100..];
            assert!(end.ends_with(r#"{}],"error":null}"#), "{end}");
            let file = std::fs::read_to_string(&path).unwrap();
            // The records but for their headers (lengths equal, digests over different dates)
            // and the commit's date.
            let file: Vec<String> = file
                .lines()
                .filter(|l| !l.starts_with("OVSDB JSON "))
                .map(|l| match (l.find(r#""_date":"#), l.find(',')) {
                    (Some(0..=1), Some(comma)) => l[comma..].to_string(),
                    _ => l.to_string(),
                })
                .collect();
            let (reopened, _, _) =
                super::super::FileStorage::open(&path, super::super::StorageOptions::default())
                    .unwrap();
            let rows = |d: &Database| {
                let mut v: Vec<String> = d
                    .rows_by_index(0)
                    .into_iter()
                    .flatten()
                    // `_version` aside: a replayed row gets a new one.
                    .map(|(u, r)| format!("{u} {:?} {:?}", r.fields[0], &r.fields[2..]))
                    .collect();
                v.sort();
                v
            };
            let served = rows(&s.dbs[s.db_index("T").unwrap()].db);
            assert_eq!(served.len(), n);
            assert_eq!(
                rows(&reopened),
                served,
                "the file replays to the rows served"
            );
            outputs.push((reply, update, file, served));
        }
        assert!(outputs[0] == outputs[1], "beside and usual commits differ");
    }

    /// `decimal_len` is the length of what `write_i64` writes.
    #[test]
    fn decimal_len_is_what_write_i64_writes() {
        let mut values = vec![0, 1, -1, 9, -9, 10, -10, 99, 100, i64::MIN, i64::MAX];
        let mut p = 1i64;
        while let Some(q) = p.checked_mul(10) {
            values.extend([p - 1, p, p + 1, -p, 1 - p, q - 1]);
            p = q;
        }
        for n in values {
            let mut v = Vec::new();
            crate::atom::write_i64(&mut v, n);
            assert_eq!(decimal_len(n), v.len(), "{n}");
        }
    }

    /// A `transact` reply is the bytes `encode_message` writes for its `Response`, whatever its
    /// id, and takes exactly its size.
    #[test]
    fn transact_replies_are_encoded_responses() {
        let (mut s, a, _) = seeded();
        let t = Instant::now();
        for (i, id) in [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "1.5",
            "\"x\\\"y\"",
            "[1,{\"a\":null}]",
        ]
        .iter()
        .enumerate()
        {
            let req = format!(
                r#"{{"id":{id},"method":"transact","params":["T",{{"op":"insert","table":"A","row":{{"name":"r{i}"}}}}]}}"#
            );
            let f = Frame {
                offset: 0,
                bytes: Bytes::from(req.clone()),
            };
            s.handle_frame_owned(a, f, t).unwrap();
            let Some(Outgoing::Encoded(parts)) = s.poll_transmit(a) else {
                panic!("no encoded reply to {req}");
            };
            let [part] = parts.as_slice() else {
                panic!("reply in {} parts", parts.len());
            };
            let msg = Outgoing::Encoded(parts.clone()).to_json();
            let Some(Message::Response(resp)) = Message::from_json(msg).ok() else {
                panic!("not a response: {part:?}");
            };
            let mut want = bytes::BytesMut::new();
            super::super::encode_message(&Message::Response(resp), &mut want).unwrap();
            assert_eq!(
                std::str::from_utf8(part).unwrap(),
                std::str::from_utf8(&want).unwrap()
            );
            assert!(s.poll_transmit(a).is_none());
        }
    }

    /// The operations that have arrived run ahead; the request's end continues from them.
    #[test]
    fn the_end_continues_from_what_ran_ahead() {
        let text = stream();
        let (mut s, a, _) = seeded();
        let t = Instant::now();
        let first = text.find(" \n").unwrap();
        let mut codec = JsonRpcCodec::new();
        let mut buf = bytes::BytesMut::from(&text.as_bytes()[..first - 1]);
        assert!(codec.decode_frame(&mut buf).unwrap().is_none());
        s.run_ahead(a, codec.stream_offset(), &buf);
        let ran = |s: &Server| {
            s.sessions[&a]
                .ahead
                .as_ref()
                .and_then(|x| x.spec.as_ref())
                .map(Speculation::ops_run)
        };
        assert_eq!(ran(&s), Some(40));
        buf.extend_from_slice(b"}");
        let f = codec.decode_frame(&mut buf).unwrap().unwrap();
        s.handle_frame_owned(a, f, t).unwrap();
        assert_eq!(ran(&s), None);
        let reply = sent(&mut s, a);
        assert_eq!(reply.len(), 1);
        assert_eq!(reply[0].matches(r#"["uuid","#).count(), 40, "{}", reply[0]);
        assert_eq!(s.dbs[0].db.tables[0].rows.len(), 40);
    }

    /// A request arriving in pieces, its operations run ahead after each piece, is answered
    /// as one handled at its end only; so is a commit of another session in between.
    #[test]
    fn running_ahead_changes_nothing_seen() {
        let text = stream();
        let other = r#"{"id":99,"method":"transact","params":["T",{"op":"insert","table":"A","row":{"name":"other"}}]}"#;
        for piece in [1, 7, 100, 1000, text.len()] {
            for meddle_at in [None, Some(text.len() / 3)] {
                let (mut whole, wa, wo) = seeded();
                let (mut ahead, aa, ao) = seeded();
                let t = Instant::now();
                let mut codec = JsonRpcCodec::new();
                let mut buf = bytes::BytesMut::new();
                let mut in_whole = JsonRpcCodec::new();
                let mut whole_buf = bytes::BytesMut::new();
                let mut meddled = false;
                for (i, chunk) in text.as_bytes().chunks(piece).enumerate() {
                    if meddle_at.is_some_and(|m| i * piece >= m) && !meddled {
                        meddled = true;
                        // The other session commits while a request is arriving: in `whole`,
                        // before the request (its end has not come yet either).
                        for s in [(&mut whole, wo), (&mut ahead, ao)] {
                            let f = Frame {
                                offset: 0,
                                bytes: Bytes::from(other),
                            };
                            s.0.handle_frame_owned(s.1, f, t).unwrap();
                        }
                    }
                    buf.extend_from_slice(chunk);
                    whole_buf.extend_from_slice(chunk);
                    while let Some(f) = codec.decode_frame(&mut buf).unwrap() {
                        ahead.handle_frame_owned(aa, f, t).unwrap();
                    }
                    if !buf.is_empty() {
                        ahead.run_ahead(aa, codec.stream_offset(), &buf);
                    }
                    while let Some(f) = in_whole.decode_frame(&mut whole_buf).unwrap() {
                        whole.handle_frame_owned(wa, f, t).unwrap();
                    }
                }
                assert_eq!(
                    sent(&mut ahead, aa),
                    sent(&mut whole, wa),
                    "pieces of {piece}"
                );
                assert_eq!(
                    sent(&mut ahead, ao),
                    sent(&mut whole, wo),
                    "pieces of {piece}"
                );
                let rows = |s: &Server| {
                    let mut v: Vec<_> = s.dbs[0].db.tables[0]
                        .rows
                        .iter()
                        .map(|(u, r)| (*u, crate::db::Row::clone(r)))
                        .collect();
                    v.sort_by_key(|(u, _)| *u);
                    v
                };
                assert!(rows(&ahead) == rows(&whole), "pieces of {piece}");
                assert_eq!(rows(&ahead).len(), 40 + 20 + 40 + usize::from(meddled));
            }
        }
    }
}
