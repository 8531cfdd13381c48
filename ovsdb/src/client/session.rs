//! The connection task: connects to the remotes in turn, checks cluster membership through
//! `_Server`, (re)establishes the monitor, multiplexes the caller's requests by id, answers and
//! sends inactivity probes, and applies updates to the shared replica.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::conn::{Connection, Incoming, RawNotification, RawReply, Remote};
use super::error::{ClientError, Result};
use super::monitor::{
    check_status, Backoff, ClusterMemory, DatabaseStatus, MonitorMethod, ZERO_TXN_ID,
};
use super::replica::{Replica, TableSelection};
use super::txn::{Txn, TxnReply};
use super::update::{parse_cond_since_reply, parse_notification_params, Update, UpdateFormat};
use super::{ClientConfig, Status};
use crate::atom::parse_uuid_str;
use crate::jsonrpc::echo::KeepaliveAction;
use crate::jsonrpc::{Message, Notification, Response};
use crate::schema::Schema;

const DB_MONITOR: &str = "ovnkit-db";
const SERVER_MONITOR: &str = "ovnkit-server";

pub(crate) struct Shared {
    pub(crate) replica: RwLock<Option<Replica>>,
    pub(crate) status: watch::Sender<Status>,
}

pub(crate) enum Cmd {
    Transact(Txn, oneshot::Sender<Result<TxnReply>>),
    /// A transaction already serialized (`Client::transact_bytes`).
    TransactBytes {
        params: bytes::Bytes,
        n_ops: usize,
        inserts: super::Inserts,
        reply: oneshot::Sender<Result<TxnReply>>,
    },
    /// A transaction written as it is produced (`Client::transact_stream`).
    TransactStream {
        parts: mpsc::UnboundedReceiver<super::StreamPart>,
        meta: oneshot::Receiver<super::StreamMeta>,
        reply: oneshot::Sender<Result<TxnReply>>,
    },
    Request(String, Vec<Value>, oneshot::Sender<Result<Value>>),
    SetCondition(String, Option<Vec<Value>>, oneshot::Sender<Result<()>>),
    Lock(String, bool, oneshot::Sender<Result<bool>>),
    Unlock(String, oneshot::Sender<Result<()>>),
    Reconnect,
}

enum Pending {
    Transact {
        reply: oneshot::Sender<Result<TxnReply>>,
        n_ops: usize,
        inserts: super::Inserts,
    },
    /// A streamed transaction: its operation count and inserts come through `meta` once its
    /// text is complete (before the server can answer).
    Streamed {
        reply: oneshot::Sender<Result<TxnReply>>,
        meta: oneshot::Receiver<super::StreamMeta>,
    },
    Raw(String, oneshot::Sender<Result<Value>>),
    Cond(oneshot::Sender<Result<()>>),
    Lock(String, oneshot::Sender<Result<bool>>),
    Unlock(oneshot::Sender<Result<()>>),
    Ignore,
}

/// A committed transaction whose inserted rows the replica does not show yet.
struct RwWait {
    rows: Vec<(String, Uuid)>,
    reply: oneshot::Sender<Result<TxnReply>>,
    result: TxnReply,
    deadline: tokio::time::Instant,
}

struct Live {
    conn: Connection,
    method: Option<MonitorMethod>,
    server: Option<Replica>,
    pending: HashMap<u64, Pending>,
    started: Instant,
}

enum End {
    Shutdown,
    Requested,
    Failed(ClientError),
}

pub(crate) struct Session {
    cfg: ClientConfig,
    remotes: Vec<Remote>,
    shared: Arc<Shared>,
    memory: ClusterMemory,
    last_txn_id: Option<Uuid>,
    locks: BTreeMap<String, bool>,
    queued: VecDeque<Cmd>,
    waiting: Vec<RwWait>,
}

fn replica_write(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, Option<Replica>> {
    shared
        .replica
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Session {
    pub(crate) fn new(cfg: ClientConfig, remotes: Vec<Remote>, shared: Arc<Shared>) -> Self {
        Self {
            cfg,
            remotes,
            shared,
            memory: ClusterMemory::default(),
            last_txn_id: None,
            locks: BTreeMap::new(),
            queued: VecDeque::new(),
            waiting: Vec::new(),
        }
    }

    fn status(&self, f: impl FnOnce(&mut Status)) {
        self.shared.status.send_modify(f);
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut backoff = Backoff::new(self.cfg.backoff_min, self.cfg.backoff_max);
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let n = self.remotes.len();
        let mut next = 0usize;
        let mut failures = 0usize;
        loop {
            let remote = self.remotes[next % n].clone();
            next += 1;
            match self.establish(&remote).await {
                Ok(live) => {
                    backoff.reset();
                    let started = live.started;
                    let name = remote.to_string();
                    self.status(|s| {
                        s.connected = true;
                        s.remote = Some(name);
                        s.connections += 1;
                        s.monitor_method = live.method;
                    });
                    let end = self.serve(live, &mut rx).await;
                    self.status(|s| {
                        s.connected = false;
                        s.remote = None;
                    });
                    match end {
                        End::Shutdown => return,
                        End::Requested => {
                            failures = 0;
                            continue;
                        }
                        End::Failed(e) => {
                            tracing::warn!(remote = %remote, error = %e, "ovsdb client: connection ended");
                            self.status(|s| s.last_error = Some(e));
                        }
                    }
                    // A session that dies at once counts as a failed attempt, so a server that
                    // accepts and drops cannot make us spin.
                    failures = if started.elapsed() < Duration::from_secs(1) {
                        failures + 1
                    } else {
                        0
                    };
                }
                Err(e) => {
                    tracing::debug!(remote = %remote, error = %e, "ovsdb client: remote rejected");
                    if !e.is_transient()
                        && !matches!(
                            e,
                            ClientError::UnknownDatabase(_) | ClientError::Server { .. }
                        )
                    {
                        self.fail_forever(e, &mut rx).await;
                        return;
                    }
                    self.status(|s| s.last_error = Some(e));
                    failures += 1;
                }
            }
            if failures >= n {
                failures = 0;
                let delay = backoff.next_delay(&mut rng);
                let sleep = tokio::time::sleep(delay);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = &mut sleep => break,
                        c = rx.recv() => match c {
                            None => return,
                            Some(Cmd::Reconnect) => {}
                            Some(c) => self.queued.push_back(c),
                        }
                    }
                }
            }
        }
    }

    async fn fail_forever(&mut self, e: ClientError, rx: &mut mpsc::UnboundedReceiver<Cmd>) {
        tracing::error!(error = %e, "ovsdb client: giving up");
        self.status(|s| {
            s.fatal = Some(e.clone());
            s.last_error = Some(e.clone());
        });
        for w in self.waiting.drain(..) {
            let _ = w.reply.send(Ok(w.result));
        }
        while let Some(c) = self.queued.pop_front() {
            fail_cmd(c, &e);
        }
        while let Some(c) = rx.recv().await {
            fail_cmd(c, &e);
        }
    }

    async fn establish(&mut self, remote: &Remote) -> Result<Live> {
        let t = self.cfg.request_timeout;
        let mut conn =
            Connection::connect(remote, self.cfg.connect_timeout, self.cfg.probe_interval).await?;
        // Updates are parsed from their text row by row (no JSON tree of a whole update).
        conn.set_raw_updates(true);
        let db = self.cfg.database.clone();

        // Cluster membership, through _Server when the server has it.
        let mut server = None;
        if let Ok(sj) = conn.call("get_schema", vec![json!("_Server")], t).await? {
            let schema = Arc::new(
                Schema::from_json(&sj)
                    .map_err(|e| ClientError::malformed("_Server schema", e.to_string()))?,
            );
            let cols = ["name", "model", "connected", "leader", "index", "cid"];
            let sel = TableSelection {
                table: "Database".into(),
                columns: Some(cols.iter().map(|c| (*c).to_owned()).collect()),
                inserts: true,
            };
            let mut rep = Replica::new(schema.clone(), &[sel], &[])?;
            rep.set_tracking(false);
            let req = json!({"Database": [{"columns": cols, "where": [["name", "==", db]]}]});
            let r = conn
                .call_ok(
                    "monitor_cond",
                    vec![json!("_Server"), json!(SERVER_MONITOR), req],
                    t,
                )
                .await?;
            rep.reset(&Update::parse(
                &schema,
                &r,
                UpdateFormat::V2,
                "_Server monitor reply",
            )?)?;
            let st = DatabaseStatus::from_server_replica(&rep, &db)
                .ok_or_else(|| ClientError::UnknownDatabase(db.clone()))?;
            check_status(&st, self.cfg.leader_only, &self.memory).map_err(|last| {
                ClientError::NoUsableRemote {
                    tried: vec![remote.to_string()],
                    last,
                }
            })?;
            self.memory.remember(&st);
            server = Some(rep);
        }

        // The database schema.
        let sj = match conn.call("get_schema", vec![json!(db)], t).await? {
            Ok(v) => v,
            Err(_) => return Err(ClientError::UnknownDatabase(db)),
        };
        let schema = Schema::from_json(&sj)
            .map_err(|e| ClientError::malformed("get_schema reply", e.to_string()))?;
        if let Some(expected) = &self.cfg.expected_schema {
            check_expected(expected, &schema, &self.cfg)?;
        }
        let spec = self.cfg.monitor.clone();
        if let Some(spec) = &spec {
            spec.validate(&schema)?;
        }
        let schema = {
            let mut guard = replica_write(&self.shared);
            let same = guard.as_ref().is_some_and(|r| **r.schema() == schema);
            if !same {
                let schema = Arc::new(schema);
                let sels = spec
                    .as_ref()
                    .map(|s| s.selections(&schema))
                    .unwrap_or_default();
                let mut rep = Replica::new(schema, &sels, &self.cfg.indexes)?;
                rep.set_tracking(self.cfg.track_changes);
                if guard.is_some() {
                    tracing::info!("ovsdb client: schema changed, replica rebuilt");
                }
                *guard = Some(rep);
                self.last_txn_id = None;
            }
            guard.as_ref().map(|r| r.schema().clone())
        };
        let Some(schema) = schema else {
            return Err(ClientError::Closed);
        };

        if server.is_some() {
            // Ask to be told about schema changes instead of being disconnected; errors are harmless.
            let _ = conn
                .call("set_db_change_aware", vec![json!(true)], t)
                .await?;
        }

        // The monitor, newest method first.
        let mut method = None;
        if let Some(spec) = &spec {
            let mut m = MonitorMethod::CondSince;
            loop {
                let req = {
                    let guard = self
                        .shared
                        .replica
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match guard.as_ref() {
                        Some(r) => spec.requests(r, m),
                        None => return Err(ClientError::Closed),
                    }
                };
                let mut params = vec![json!(db), json!(DB_MONITOR), req];
                if m == MonitorMethod::CondSince {
                    params.push(json!(self.last_txn_id.unwrap_or(ZERO_TXN_ID).to_string()));
                }
                let params = serde_json::to_vec(&params)
                    .map_err(|e| ClientError::malformed(m.name(), e.to_string()))?;
                // The reply (the whole database at first) is parsed from its text.
                match conn.call_raw(m.name(), params.into(), t).await? {
                    Ok(reply) => {
                        self.apply_monitor_reply(m, &schema, reply)?;
                        method = Some(m);
                        break;
                    }
                    Err(error) => match m.fallback() {
                        Some(f) => {
                            tracing::debug!(%error, "ovsdb client: {} refused, falling back to {}", m.name(), f.name());
                            m = f;
                        }
                        None => {
                            return Err(ClientError::Server {
                                method: m.name().into(),
                                error,
                            })
                        }
                    },
                }
            }
        }

        // Locks this client holds or waits for are asked for again (never stolen on our own).
        let locks: Vec<String> = self.locks.keys().cloned().collect();
        for name in locks {
            let r = conn.call_ok("lock", vec![json!(name)], t).await?;
            let got = r.get("locked").and_then(Value::as_bool).unwrap_or(false);
            self.status(|s| {
                s.locks.insert(name, got);
            });
        }

        let mut live = Live {
            conn,
            method,
            server,
            pending: HashMap::new(),
            started: Instant::now(),
        };
        while let Some(n) = live.conn.deferred.pop_front() {
            self.incoming(&mut live, n)?;
        }
        self.check_waiting();
        Ok(live)
    }

    fn apply_monitor_reply(
        &mut self,
        m: MonitorMethod,
        schema: &Schema,
        reply: RawReply,
    ) -> Result<()> {
        let what = format!("{} reply", m.name());
        // The text (a whole database at first) is freed once parsed, before the rows are
        // applied.
        match m {
            MonitorMethod::CondSince => {
                let (found, id, upd) = parse_cond_since_reply(schema, reply.result(), &what)?;
                drop(reply);
                let id = parse_uuid_str(&id)
                    .ok_or_else(|| ClientError::malformed(&what, "last-txn-id is not a UUID"))?;
                let mut guard = replica_write(&self.shared);
                let rep = guard.as_mut().ok_or(ClientError::Closed)?;
                let found = found && self.last_txn_id.is_some();
                if found {
                    rep.apply_owned(upd)?;
                } else {
                    rep.reset_owned(upd)?;
                }
                drop(guard);
                self.last_txn_id = Some(id);
                self.status(|s| {
                    s.last_txn_id = Some(id);
                    s.updates += 1;
                    s.resumed = found;
                    s.resumptions += u64::from(found);
                });
            }
            MonitorMethod::Cond | MonitorMethod::Plain => {
                let f = if m == MonitorMethod::Cond {
                    UpdateFormat::V2
                } else {
                    UpdateFormat::V1
                };
                let upd = Update::parse_slice(schema, reply.result(), f, &what)?;
                drop(reply);
                replica_write(&self.shared)
                    .as_mut()
                    .ok_or(ClientError::Closed)?
                    .reset_owned(upd)?;
                self.last_txn_id = None;
                self.status(|s| {
                    s.updates += 1;
                    s.resumed = false;
                });
            }
        }
        Ok(())
    }

    async fn serve(&mut self, mut live: Live, rx: &mut mpsc::UnboundedReceiver<Cmd>) -> End {
        let end = 'outer: loop {
            while let Some(c) = self.queued.pop_front() {
                if matches!(c, Cmd::Reconnect) {
                    continue;
                }
                if let Err(e) = self.dispatch(&mut live, c).await {
                    break 'outer End::Failed(e);
                }
            }
            let probe_at = live
                .conn
                .keepalive
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            let rw_at = self.waiting.iter().map(|w| w.deadline).min();
            let step = tokio::select! {
                m = live.conn.next_incoming() => match m {
                    Ok(Incoming::Message(m)) => self.message(&mut live, m).await,
                    Ok(n @ Incoming::Update(_)) => self.incoming(&mut live, n),
                    Ok(Incoming::Raw(id, reply)) => {
                        self.raw_reply(&mut live, id, reply.result());
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                c = rx.recv() => match c {
                    None => break End::Shutdown,
                    Some(Cmd::Reconnect) => break End::Requested,
                    Some(c) => self.dispatch(&mut live, c).await,
                },
                () = sleep_until(probe_at) => match live.conn.poll_keepalive() {
                    KeepaliveAction::Wait => Ok(()),
                    KeepaliveAction::SendProbe(r) => live.conn.send(Message::Request(r)).await,
                    KeepaliveAction::Disconnect => Err(ClientError::Timeout(format!(
                        "any message from {} (inactivity probe)", live.conn.remote()
                    ))),
                },
                () = sleep_until(rw_at) => {
                    self.expire_waiting();
                    Ok(())
                }
            };
            if let Err(e) = step {
                break End::Failed(e);
            }
        };
        // The cause is in the status before the pending requests learn that they failed, so
        // that their callers can report it.
        if let End::Failed(e) = &end {
            self.status(|s| s.last_error = Some(e.clone()));
        }
        for (_, p) in live.pending.drain() {
            fail_pending(p);
        }
        end
    }

    async fn dispatch(&mut self, live: &mut Live, cmd: Cmd) -> Result<()> {
        let (method, params, pending) = match cmd {
            Cmd::Transact(txn, reply) => {
                let p = Pending::Transact {
                    reply,
                    n_ops: txn.ops().len(),
                    inserts: txn.inserts().to_vec(),
                };
                (
                    "transact".to_owned(),
                    txn.into_params(&self.cfg.database),
                    p,
                )
            }
            Cmd::TransactBytes {
                params,
                n_ops,
                inserts,
                reply,
            } => {
                let pending = Pending::Transact {
                    reply,
                    n_ops,
                    inserts,
                };
                // The reply comes back as text, read straight into UUIDs (no JSON tree of
                // tens of thousands of results).
                let sent = live.conn.request_raw_reply("transact", params);
                return live.sent(sent, pending);
            }
            Cmd::TransactStream { parts, meta, reply } => {
                let pending = Pending::Streamed { reply, meta };
                let sent = live.conn.request_stream("transact", parts);
                return live.sent(sent, pending);
            }
            Cmd::Request(m, params, reply) => (m.clone(), params, Pending::Raw(m, reply)),
            Cmd::SetCondition(table, cond, reply) => {
                let valid = {
                    let guard = self
                        .shared
                        .replica
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match (guard.as_ref(), &cond) {
                        (Some(r), Some(c)) => {
                            super::monitor::validate_condition(r.schema(), &table, c)
                        }
                        (Some(r), None) if r.table(&table).is_some() => Ok(()),
                        (Some(_), None) => Err(ClientError::InvalidMonitor(format!(
                            "table {table} is not monitored"
                        ))),
                        (None, _) => Err(ClientError::Disconnected),
                    }
                };
                if let Err(e) = valid {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
                let Some(spec) = self.cfg.monitor.as_mut() else {
                    let _ = reply.send(Err(ClientError::InvalidMonitor(
                        "this client monitors nothing".into(),
                    )));
                    return Ok(());
                };
                spec.set_condition(&table, cond.clone());
                match live.method {
                    Some(MonitorMethod::Cond | MonitorMethod::CondSince) => {}
                    _ => {
                        let _ = reply.send(Err(ClientError::InvalidMonitor(
                            "the server does not support conditional monitoring".into(),
                        )));
                        return Ok(());
                    }
                }
                let w = cond.unwrap_or_else(|| vec![json!(true)]);
                let req = json!({ table: [{"where": w}] });
                (
                    "monitor_cond_change".to_owned(),
                    vec![json!(DB_MONITOR), json!(DB_MONITOR), req],
                    Pending::Cond(reply),
                )
            }
            Cmd::Lock(name, steal, reply) => {
                // The server wants a session's earlier request for a lock released before a steal.
                if steal && self.locks.contains_key(&name) {
                    let id = live.conn.request("unlock", vec![json!(name)]).await?;
                    live.pending.insert(id, Pending::Ignore);
                }
                self.locks.insert(name.clone(), steal);
                let m = if steal { "steal" } else { "lock" };
                (m.to_owned(), vec![json!(name)], Pending::Lock(name, reply))
            }
            Cmd::Unlock(name, reply) => {
                self.locks.remove(&name);
                self.status(|s| {
                    s.locks.remove(&name);
                });
                (
                    "unlock".to_owned(),
                    vec![json!(name)],
                    Pending::Unlock(reply),
                )
            }
            Cmd::Reconnect => return Err(ClientError::Disconnected),
        };
        let sent = live.conn.request(&method, params).await;
        live.sent(sent, pending)
    }

    async fn message(&mut self, live: &mut Live, m: Message) -> Result<()> {
        match m {
            Message::Request(r) => {
                let resp = Response::error(
                    r.id,
                    json!({"error": "unknown method", "details": r.method}),
                );
                live.conn.send(Message::Response(resp)).await
            }
            Message::Notification(n) => self.notification(live, n),
            Message::Response(r) => {
                let Some(id) = r.id.as_u64() else {
                    return Ok(());
                };
                live.conn.forget_raw_reply(id);
                let Some(p) = live.pending.remove(&id) else {
                    return Ok(());
                };
                self.complete(p, r.result);
                Ok(())
            }
        }
    }

    /// A successful response kept as JSON text (`result`): the reply to a transaction sent
    /// with [`Connection::request_raw_reply`].
    fn raw_reply(&mut self, live: &mut Live, id: u64, result: &[u8]) {
        match live.pending.remove(&id) {
            Some(Pending::Transact {
                reply,
                n_ops,
                inserts,
            }) => {
                let r = TxnReply::from_slice(result, n_ops);
                self.transacted(reply, &inserts, r);
            }
            Some(Pending::Streamed { reply, mut meta }) => {
                let (n_ops, inserts) = meta.try_recv().unwrap_or_default();
                let r = TxnReply::from_slice(result, n_ops);
                self.transacted(reply, &inserts, r);
            }
            Some(p) => {
                let r = serde_json::from_slice(result)
                    .map_err(|e| json!({"error": "malformed reply", "details": e.to_string()}));
                self.complete(p, r);
            }
            None => {}
        }
    }

    /// Hands a transaction's outcome to its caller, once the replica shows the rows it
    /// inserted (read-your-writes) when it succeeded.
    fn transacted(
        &mut self,
        reply: oneshot::Sender<Result<TxnReply>>,
        inserts: &[(usize, Arc<str>)],
        r: Result<TxnReply>,
    ) {
        match r {
            Ok(ok) => {
                self.forget_own_notices(&ok, inserts);
                let rows = self.missing_inserts(&ok, inserts);
                if rows.is_empty() {
                    let _ = reply.send(Ok(ok));
                } else {
                    self.waiting.push(RwWait {
                        rows,
                        reply,
                        result: ok,
                        deadline: tokio::time::Instant::now() + self.cfg.read_your_writes_timeout,
                    });
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn complete(&mut self, p: Pending, result: std::result::Result<Value, Value>) {
        match p {
            Pending::Transact {
                reply,
                n_ops,
                inserts,
            } => {
                let r = match result {
                    Ok(v) => TxnReply::from_owned(v, n_ops),
                    Err(error) => Err(ClientError::Server {
                        method: "transact".into(),
                        error,
                    }),
                };
                self.transacted(reply, &inserts, r);
            }
            Pending::Streamed { reply, mut meta } => {
                let (n_ops, inserts) = meta.try_recv().unwrap_or_default();
                let r = match result {
                    Ok(v) => TxnReply::from_owned(v, n_ops),
                    Err(error) => Err(ClientError::Server {
                        method: "transact".into(),
                        error,
                    }),
                };
                // Read compactly as its raw reply would have been.
                let r = r.map(|full| {
                    let uuids = (0..full.results.len()).map(|i| full.inserted_uuid(i));
                    TxnReply::from_uuids(uuids.collect())
                });
                self.transacted(reply, &inserts, r);
            }
            Pending::Raw(method, reply) => {
                let _ = reply.send(result.map_err(|error| ClientError::Server { method, error }));
            }
            Pending::Cond(reply) => {
                let _ = reply.send(result.map(drop).map_err(|error| ClientError::Server {
                    method: "monitor_cond_change".into(),
                    error,
                }));
            }
            Pending::Lock(name, reply) => match result {
                Ok(v) => {
                    let got = v.get("locked").and_then(Value::as_bool).unwrap_or(false);
                    self.status(|s| {
                        s.locks.insert(name, got);
                    });
                    let _ = reply.send(Ok(got));
                }
                Err(error) => {
                    let _ = reply.send(Err(ClientError::Server {
                        method: "lock".into(),
                        error,
                    }));
                }
            },
            Pending::Unlock(reply) => {
                let _ = reply.send(result.map(drop).map_err(|error| ClientError::Server {
                    method: "unlock".into(),
                    error,
                }));
            }
            Pending::Ignore => {}
        }
    }

    /// Drops the insert notices of the rows a committed transaction inserted into tables
    /// monitored without inserts (see [`MonitorSpec::insert_notices`]): the caller has the
    /// reply, and a notice left is another client's insert. (The server sends a transaction's
    /// update before its reply: the notices are in already.)
    fn forget_own_notices(&self, reply: &TxnReply, inserts: &[(usize, Arc<str>)]) {
        let Some(spec) = self.cfg.monitor.as_ref() else {
            return;
        };
        if spec.insert_notices.is_empty() {
            return;
        }
        let mut guard = replica_write(&self.shared);
        let Some(rep) = guard.as_mut() else { return };
        let mut last: Option<(&str, Option<usize>)> = None;
        for (i, table) in inserts {
            let ti = match last {
                Some((t, ti)) if *t == **table => ti,
                _ => {
                    let ti = spec
                        .insert_notices
                        .iter()
                        .any(|(t, _)| **t == **table)
                        .then(|| rep.schema().table_index(table))
                        .flatten();
                    last = Some((&**table, ti));
                    ti
                }
            };
            if let (Some(ti), Some(u)) = (ti, reply.inserted_uuid(*i)) {
                rep.forget_insert_notice(ti, u);
            }
        }
    }

    /// Inserted rows of unconditionally monitored tables that the replica does not show yet.
    fn missing_inserts(
        &self,
        reply: &TxnReply,
        inserts: &[(usize, Arc<str>)],
    ) -> Vec<(String, Uuid)> {
        let guard = self
            .shared
            .replica
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(rep) = guard.as_ref() else {
            return Vec::new();
        };
        let spec = self.cfg.monitor.as_ref();
        inserts
            .iter()
            .filter_map(|(i, table)| {
                let t = rep.table(table)?;
                // Rows of conditionally monitored tables may never show; nor do the inserts of
                // a table monitored without them.
                if spec.is_some_and(|s| s.condition(table).is_some() || !s.select(table).insert) {
                    return None;
                }
                let u = reply.inserted_uuid(*i)?;
                t.get(&u).is_none().then(|| (table.to_string(), u))
            })
            .collect()
    }

    fn check_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let guard = self
            .shared
            .replica
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(rep) = guard.as_ref() else { return };
        let mut still = Vec::new();
        for w in self.waiting.drain(..) {
            let done = w
                .rows
                .iter()
                .all(|(t, u)| rep.table(t).is_none_or(|t| t.get(u).is_some()));
            if done {
                let _ = w.reply.send(Ok(w.result));
            } else {
                still.push(w);
            }
        }
        self.waiting = still;
    }

    fn expire_waiting(&mut self) {
        let now = tokio::time::Instant::now();
        let (expired, keep): (Vec<RwWait>, Vec<RwWait>) =
            self.waiting.drain(..).partition(|w| w.deadline <= now);
        self.waiting = keep;
        for w in expired {
            tracing::warn!("ovsdb client: committed rows not seen in the replica in time");
            let _ = w.reply.send(Ok(w.result));
        }
    }

    /// A notification kept for later, or a raw monitor update.
    fn incoming(&mut self, live: &mut Live, n: Incoming) -> Result<()> {
        match n {
            Incoming::Message(Message::Notification(n)) => self.notification(live, n),
            Incoming::Update(u) => self.raw_update(live, u),
            Incoming::Message(_) | Incoming::Raw(..) => Ok(()),
        }
    }

    /// A monitor update kept as JSON text, parsed row by row with the schema of its monitor;
    /// the text is freed before the rows are applied.
    fn raw_update(&mut self, live: &mut Live, u: RawNotification) -> Result<()> {
        let (db_schema, db_notices) = {
            let guard = self
                .shared
                .replica
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            guard
                .as_ref()
                .map(|r| (r.schema().clone(), r.notice_tables()))
                .ok_or(ClientError::Closed)?
        };
        let server_schema = live.server.as_ref().map(|r| r.schema().clone());
        let p = parse_notification_params(&u.method, u.params(), |id| match id {
            SERVER_MONITOR => server_schema.as_deref().map(|s| (true, s, &[][..])),
            DB_MONITOR => Some((false, &*db_schema, &db_notices[..])),
            _ => None,
        })?;
        let txn_id = match (&p.txn_id, u.method.as_str()) {
            (Some(t), _) => Some(parse_uuid_str(t).ok_or_else(|| {
                ClientError::malformed("update3", "last-txn-id is missing or not a UUID")
            })?),
            (None, "update3") if p.id == DB_MONITOR => {
                return Err(ClientError::malformed(
                    "update3",
                    "last-txn-id is missing or not a UUID",
                ))
            }
            (None, _) => None,
        };
        let method = u.method.clone();
        drop(u);
        match p.updates {
            Some((true, upd)) => self.apply_server_update(live, &upd),
            Some((false, upd)) => self.apply_db_update(upd, txn_id),
            None if p.id == DB_MONITOR => {
                Err(ClientError::malformed(&method, "missing table updates"))
            }
            None if p.id == SERVER_MONITOR && live.server.is_some() => Err(ClientError::malformed(
                "_Server update2",
                "missing table updates",
            )),
            None => Ok(()),
        }
    }

    /// Applies a parsed update of the database's monitor.
    fn apply_db_update(&mut self, upd: Update, txn_id: Option<Uuid>) -> Result<()> {
        replica_write(&self.shared)
            .as_mut()
            .ok_or(ClientError::Closed)?
            .apply_owned(upd)?;
        if let Some(id) = txn_id {
            self.last_txn_id = Some(id);
        }
        self.status(|s| {
            s.updates += 1;
            if txn_id.is_some() {
                s.last_txn_id = txn_id;
            }
        });
        self.check_waiting();
        Ok(())
    }

    fn notification(&mut self, live: &mut Live, n: Notification) -> Result<()> {
        match n.method.as_str() {
            "update" | "update2" | "update3" => {
                let id = n.params.first().and_then(Value::as_str).unwrap_or_default();
                if id == SERVER_MONITOR {
                    return self.server_update(live, &n);
                }
                if id != DB_MONITOR {
                    return Ok(());
                }
                let (fmt, body, txn_id) = match n.method.as_str() {
                    "update" => (UpdateFormat::V1, n.params.get(1), None),
                    "update2" => (UpdateFormat::V2, n.params.get(1), None),
                    _ => {
                        let id = n
                            .params
                            .get(1)
                            .and_then(Value::as_str)
                            .and_then(parse_uuid_str)
                            .ok_or_else(|| {
                                ClientError::malformed(
                                    "update3",
                                    "last-txn-id is missing or not a UUID",
                                )
                            })?;
                        (UpdateFormat::V2, n.params.get(2), Some(id))
                    }
                };
                let body =
                    body.ok_or_else(|| ClientError::malformed(&n.method, "missing table updates"))?;
                let schema = {
                    let guard = self
                        .shared
                        .replica
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    guard
                        .as_ref()
                        .map(|r| r.schema().clone())
                        .ok_or(ClientError::Closed)?
                };
                let upd = Update::parse(&schema, body, fmt, &n.method)?;
                self.apply_db_update(upd, txn_id)
            }
            "monitor_canceled" => Err(ClientError::MonitorCanceled),
            "locked" | "stolen" => {
                let got = n.method == "locked";
                if let Some(name) = n.params.first().and_then(Value::as_str) {
                    let name = name.to_owned();
                    self.status(|s| {
                        s.locks.insert(name, got);
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn server_update(&mut self, live: &mut Live, n: &Notification) -> Result<()> {
        let Some(rep) = live.server.as_mut() else {
            return Ok(());
        };
        let body = n
            .params
            .get(1)
            .ok_or_else(|| ClientError::malformed("_Server update2", "missing table updates"))?;
        let upd = Update::parse(
            &rep.schema().clone(),
            body,
            UpdateFormat::V2,
            "_Server update2",
        )?;
        self.apply_server_update(live, &upd)
    }

    /// Applies an update of the `_Server` monitor and checks the database's status again.
    fn apply_server_update(&mut self, live: &mut Live, upd: &Update) -> Result<()> {
        let Some(rep) = live.server.as_mut() else {
            return Ok(());
        };
        rep.apply(upd)?;
        let db = &self.cfg.database;
        let st = DatabaseStatus::from_server_replica(rep, db)
            .ok_or_else(|| ClientError::UnknownDatabase(db.clone()))?;
        check_status(&st, self.cfg.leader_only, &self.memory).map_err(|last| {
            ClientError::NoUsableRemote {
                tried: vec![live.conn.remote().to_owned()],
                last,
            }
        })?;
        self.memory.remember(&st);
        Ok(())
    }
}

fn check_expected(expected: &Schema, actual: &Schema, cfg: &ClientConfig) -> Result<()> {
    if expected.name != actual.name {
        return Err(ClientError::SchemaMismatch(format!(
            "expected database {}, the server has {}",
            expected.name, actual.name
        )));
    }
    let tables: Vec<String> = match &cfg.monitor {
        Some(s) if !s.tables.is_empty() => s.tables.iter().map(|t| t.table.clone()).collect(),
        _ => expected.tables.iter().map(|t| t.name.clone()).collect(),
    };
    for tname in tables {
        let Some(et) = expected.table(&tname) else {
            continue;
        };
        let at = actual.table(&tname).ok_or_else(|| {
            ClientError::SchemaMismatch(format!("the server has no table {tname}"))
        })?;
        for c in et.user_columns() {
            match at.column(&c.name) {
                None => {
                    return Err(ClientError::SchemaMismatch(format!(
                        "the server's table {tname} has no column {}",
                        c.name
                    )))
                }
                Some(ac) if ac.type_ != c.type_ => {
                    return Err(ClientError::SchemaMismatch(format!(
                        "column {tname}.{} has type {} on the server, {} expected",
                        c.name,
                        ac.type_.to_english(),
                        c.type_.to_english()
                    )))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Live {
    /// Records `pending` under the request id `sent` gives, or fails it when sending failed
    /// (the bytes may have been partly written: a transaction's outcome is unknown then).
    fn sent(&mut self, sent: Result<u64>, pending: Pending) -> Result<()> {
        match sent {
            Ok(id) => {
                self.pending.insert(id, pending);
                Ok(())
            }
            Err(e) => {
                fail_pending(pending);
                Err(e)
            }
        }
    }
}

fn fail_pending(p: Pending) {
    match p {
        Pending::Transact { reply, .. } | Pending::Streamed { reply, .. } => {
            let _ = reply.send(Err(ClientError::OutcomeUnknown));
        }
        Pending::Raw(_, r) => {
            let _ = r.send(Err(ClientError::Disconnected));
        }
        Pending::Cond(r) | Pending::Unlock(r) => {
            let _ = r.send(Err(ClientError::Disconnected));
        }
        Pending::Lock(_, r) => {
            let _ = r.send(Err(ClientError::Disconnected));
        }
        Pending::Ignore => {}
    }
}

fn fail_cmd(c: Cmd, e: &ClientError) {
    match c {
        Cmd::Transact(_, r)
        | Cmd::TransactBytes { reply: r, .. }
        | Cmd::TransactStream { reply: r, .. } => {
            let _ = r.send(Err(e.clone()));
        }
        Cmd::Request(_, _, r) => {
            let _ = r.send(Err(e.clone()));
        }
        Cmd::SetCondition(_, _, r) | Cmd::Unlock(_, r) => {
            let _ = r.send(Err(e.clone()));
        }
        Cmd::Lock(_, _, r) => {
            let _ = r.send(Err(e.clone()));
        }
        Cmd::Reconnect => {}
    }
}
