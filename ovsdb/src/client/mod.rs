//! The OVSDB client: a cached, indexed replica of a remote database that follows a real
//! ovsdb-server, standalone or a Raft cluster, across reconnections and leader changes.
//!
//! Layers, bottom up:
//! - sans-IO, unit-tested: [`update`] parses `update`/`update2`/`update3` bodies against the schema;
//!   [`Replica`] applies them atomically, keeps [indexes](IndexSpec) and tracks changes for
//!   incremental consumers ([`Replica::take_changes`]); [`monitor`] builds monitor requests, checks
//!   a server's `_Server.Database` row ([`monitor::check_status`]) and paces reconnection
//!   ([`monitor::Backoff`]); [`Txn`] builds transactions with optimistic `wait` guards.
//! - tokio: [`Connection`] (one JSON-RPC stream) and a connection task that owns it, multiplexes the
//!   caller's requests by id, answers and sends `echo` probes, and applies notifications to the
//!   shared replica. [`Client`] is the handle.
//!
//! Guarantees:
//! - The monitor is `monitor_cond_since` when the server has it (else `monitor_cond`, else
//!   `monitor`); after a reconnection it resumes from the last transaction id and the replica is
//!   purged only when the server reports the history as not found. Tracked changes are complete and
//!   never duplicated across reconnections: a purge reports only rows that really differ.
//! - With `leader_only`, only a clustered server that says it is connected and the leader is used; a
//!   server whose Raft index is behind one already seen is never used (no going back in time).
//! - Read-your-writes: when [`Client::transact`] returns success, the replica already reflects the
//!   transaction. ovsdb-server sends a transaction's `update` before its reply on the same
//!   connection, and the connection task applies messages in order; as a safety net, rows inserted
//!   into unconditionally monitored tables are awaited in the replica before the reply is released.
//! - A transaction whose reply is lost with the connection fails with
//!   [`ClientError::OutcomeUnknown`]; retry it with a guard ([`Txn::wait_absent`]) so that it
//!   applies at most once.
//! - A malformed update is rejected as a whole (nothing applied) and causes a reconnection and
//!   resynchronization, never a silently stale replica.

#![forbid(unsafe_code)]

mod conn;
mod error;
mod index;
pub mod monitor;
mod replica;
mod session;
mod txn;
pub mod update;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

pub use conn::{Connection, RawReply, Remote};
pub use error::{ClientError, Result};
pub use index::{IndexColumn, IndexSpec};
pub use monitor::{MonitorMethod, MonitorSelect, MonitorSpec, TableMonitor};
pub use replica::{ChangeKind, Replica, Row, TableSelection, TableView, TrackedChange};
pub use txn::{uuid_clause, Txn, TxnReply};

use crate::schema::Schema;
use session::{Cmd, Session, Shared};

/// How to reach and what to replicate.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Remotes tried in turn (`unix:PATH`, `tcp:HOST:PORT`).
    pub remotes: Vec<String>,
    /// The database name.
    pub database: String,
    /// What to monitor; `None` replicates nothing (transactions only).
    pub monitor: Option<MonitorSpec>,
    /// User-defined indexes.
    pub indexes: Vec<IndexSpec>,
    /// Use only the leader of a clustered database.
    pub leader_only: bool,
    /// Inactivity probe interval (`None` disables probing). [`ClientConfig::new`] sets OVS's
    /// 5 s unless every remote is a Unix socket: like OVS (`stream_or_pstream_needs_probes`),
    /// Unix sockets are not probed by default, so a local server busy for a while (committing a
    /// large transaction) does not cost the connection and the outcome of that transaction.
    pub probe_interval: Option<Duration>,
    /// Bound on connecting to one remote.
    pub connect_timeout: Duration,
    /// Bound on each request of the connection handshake.
    pub request_timeout: Duration,
    /// First reconnection delay (jittered, doubling).
    pub backoff_min: Duration,
    /// Largest reconnection delay.
    pub backoff_max: Duration,
    /// How long a committed transaction waits for its inserted rows to show in the replica.
    pub read_your_writes_timeout: Duration,
    /// When set, the server's tables and columns that the client uses must have these types.
    pub expected_schema: Option<Schema>,
    /// Keep tracked changes for [`Client::take_changes`] (on by default).
    pub track_changes: bool,
}

impl ClientConfig {
    /// Replicates every table of `database` from `remotes` (comma-separated).
    pub fn new(remotes: &str, database: &str) -> Self {
        let remotes: Vec<String> = remotes
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let probe_interval = remotes
            .iter()
            .any(|r| !r.starts_with("unix:"))
            .then_some(crate::jsonrpc::echo::DEFAULT_PROBE_INTERVAL);
        Self {
            remotes,
            database: database.to_owned(),
            monitor: Some(MonitorSpec::default()),
            indexes: Vec::new(),
            leader_only: false,
            probe_interval,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(4),
            read_your_writes_timeout: Duration::from_secs(5),
            expected_schema: None,
            track_changes: true,
        }
    }

    /// Monitors `table` with `columns` (all when empty) instead of every table.
    pub fn table(mut self, table: &str, columns: &[&str]) -> Self {
        let spec = self.monitor.get_or_insert_with(MonitorSpec::default);
        spec.tables.push(TableMonitor {
            table: table.to_owned(),
            columns: (!columns.is_empty())
                .then(|| columns.iter().map(|c| (*c).to_owned()).collect()),
            condition: None,
            select: MonitorSelect::ALL,
        });
        self
    }

    /// Sets what the server reports of a table added with [`table`](Self::table) (see
    /// [`MonitorSelect`]: without `insert`, the transactions' replies are the only record of the
    /// rows this client inserts).
    pub fn select(mut self, table: &str, select: MonitorSelect) -> Self {
        if let Some(t) = self
            .monitor
            .as_mut()
            .and_then(|s| s.tables.iter_mut().find(|t| t.table == table))
        {
            t.select = select;
        }
        self
    }

    /// Announces the rows inserted into a table monitored without `insert` (see
    /// [`MonitorSpec::insert_notices`]): the server sends each inserted row's UUID and
    /// `column` (pick a small one), and [`Client::take_changes`] reports the insert without
    /// row contents. This client's own inserts are not reported: their notices are dropped
    /// when the transaction's reply comes, before [`Client::transact`] returns.
    pub fn insert_notices(mut self, table: &str, column: &str) -> Self {
        let spec = self.monitor.get_or_insert_with(MonitorSpec::default);
        spec.insert_notices
            .push((table.to_owned(), column.to_owned()));
        self
    }

    /// Sets the initial condition of a table added with [`table`](Self::table).
    pub fn condition(mut self, table: &str, condition: Vec<Value>) -> Self {
        if let Some(spec) = self.monitor.as_mut() {
            spec.set_condition(table, Some(condition));
        }
        self
    }

    /// Adds an index.
    pub fn index(mut self, spec: IndexSpec) -> Self {
        self.indexes.push(spec);
        self
    }

    /// Sets leader-only mode.
    pub fn leader_only(mut self, on: bool) -> Self {
        self.leader_only = on;
        self
    }
}

/// A piece of a streamed transaction's text, or its end ([`Client::transact_stream`]).
#[derive(Debug)]
pub(crate) enum StreamPart {
    /// More of the `transact` params.
    Bytes(Piece),
    /// The params are complete.
    End,
}

/// Bytes of a streamed transaction that a producer handed over and the connection has not
/// yet written ([`Client::transact_stream`]'s bound; see
/// [`Client::transact_stream_bounded`]).
pub const STREAM_BUDGET: usize = 16 << 20;

/// The bytes of a streamed transaction between its producers and the socket: a producer
/// outside the async runtime waits while `limit` bytes are queued, so a producer faster
/// than the server reads does not pile the request up in memory.
#[derive(Debug)]
struct Budget {
    queued: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes, none queued.
    fn new(limit: usize) -> Self {
        Self {
            queued: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            limit,
        }
    }

    /// Counts `n` more queued bytes, first waiting for room if the caller may block (a thread
    /// outside the async runtime; a runtime thread never waits, the writer may need it). A
    /// piece bigger than the whole budget goes when nothing else is queued.
    fn take(&self, n: usize) {
        let mut queued = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tokio::runtime::Handle::try_current().is_err() {
            while *queued > 0 && *queued + n > self.limit {
                queued = self
                    .freed
                    .wait(queued)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        *queued += n;
    }

    /// `n` queued bytes were written (or dropped).
    fn give(&self, n: usize) {
        let mut queued = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *queued = queued.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// A piece of a streamed transaction, counted in its stream's [`Budget`] until dropped
/// (written, or thrown away with a failed connection).
#[derive(Debug)]
pub(crate) struct Piece {
    bytes: bytes::Bytes,
    budget: Arc<Budget>,
}

impl Piece {
    fn new(bytes: bytes::Bytes, budget: &Arc<Budget>) -> Self {
        budget.take(bytes.len());
        Self {
            bytes,
            budget: Arc::clone(budget),
        }
    }
}

impl std::ops::Deref for Piece {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        self.budget.give(self.bytes.len());
    }
}

/// The `insert` operations of a transaction, as (operation index, table): what its reply is
/// read with for read-your-writes. The table names are shared (a transaction inserting
/// hundreds of thousands of rows into a few tables holds a few names, not one per row).
pub type Inserts = Vec<(usize, Arc<str>)>;

/// What the reply to a streamed transaction is read with: its number of operations and its
/// inserts (operation index, table), known once the text is complete.
pub(crate) type StreamMeta = (usize, Inserts);

/// A transaction being written to the server ([`Client::transact_stream`]).
#[derive(Debug)]
pub struct TxnStream {
    parts: mpsc::UnboundedSender<StreamPart>,
    budget: Arc<Budget>,
    meta: Option<oneshot::Sender<StreamMeta>>,
    reply: oneshot::Receiver<Result<TxnReply>>,
}

impl TxnStream {
    /// Sends the next piece of the `transact` params (`[database, op...]` as JSON text, in
    /// pieces cut anywhere). Pieces sent after the connection failed are dropped: the failure
    /// comes out of [`finish`](Self::finish).
    ///
    /// Called outside the async runtime, it waits while the stream's budget of bytes handed
    /// over earlier is not yet written to the socket.
    pub fn send(&self, piece: bytes::Bytes) {
        let _ = self
            .parts
            .send(StreamPart::Bytes(Piece::new(piece, &self.budget)));
    }

    /// A cloneable function that [`send`](Self::send)s each piece it is given (for a
    /// producer on another thread; it waits for room as `send` does). A stream dropped unfinished is abandoned only once these
    /// are dropped too.
    pub fn sender(&self) -> impl Fn(Vec<u8>) + Send + Sync + Clone + 'static {
        let parts = self.parts.clone();
        let budget = Arc::clone(&self.budget);
        move |piece: Vec<u8>| {
            let _ = parts.send(StreamPart::Bytes(Piece::new(piece.into(), &budget)));
        }
    }

    /// Ends the request, whose params hold `n_ops` operations of which `inserts` are the
    /// `insert`s (operation index, table), and waits for the reply as
    /// [`Client::transact_bytes`] does.
    pub async fn finish(mut self, n_ops: usize, inserts: Inserts) -> Result<TxnReply> {
        // The reply is read with these; they are handed over before the request can end.
        if let Some(meta) = self.meta.take() {
            let _ = meta.send((n_ops, inserts));
        }
        let _ = self.parts.send(StreamPart::End);
        (&mut self.reply).await.map_err(|_| ClientError::Closed)?
    }
}

/// The connection state, observable through [`Client::subscribe`].
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// True while a connection is up and the replica is in sync.
    pub connected: bool,
    /// The remote in use.
    pub remote: Option<String>,
    /// Connections established so far.
    pub connections: u64,
    /// Updates applied to the replica so far (monitor replies included).
    pub updates: u64,
    /// The last transaction id seen (`monitor_cond_since` only).
    pub last_txn_id: Option<Uuid>,
    /// Whether the last (re)connection resumed from history instead of a full snapshot.
    pub resumed: bool,
    /// How many (re)connections resumed from history (`monitor_cond_since` found the last id).
    pub resumptions: u64,
    /// The monitor method the server accepted.
    pub monitor_method: Option<MonitorMethod>,
    /// Locks asked for, and whether this client holds them.
    pub locks: std::collections::BTreeMap<String, bool>,
    /// Why the last connection ended or the last remote was rejected.
    pub last_error: Option<ClientError>,
    /// Set when the client gave up (schema mismatch, invalid monitor): every request fails with it.
    pub fatal: Option<ClientError>,
}

struct Inner {
    tx: mpsc::UnboundedSender<Cmd>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A handle on a replicated database. Cheap to clone; the connection task stops when the last
/// clone is dropped. Must be created inside a tokio runtime.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("status", &self.status())
            .finish()
    }
}

impl Client {
    /// Starts the connection task without waiting for a connection.
    pub fn start(cfg: ClientConfig) -> Result<Self> {
        let remotes = cfg
            .remotes
            .iter()
            .map(|r| Remote::parse(r))
            .collect::<Result<Vec<_>>>()?;
        if remotes.is_empty() {
            return Err(ClientError::NoRemotes);
        }
        let (status, _) = watch::channel(Status::default());
        let shared = Arc::new(Shared {
            replica: RwLock::new(None),
            status,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Session::new(cfg, remotes, shared.clone());
        let task = tokio::spawn(session.run(rx));
        Ok(Self {
            inner: Arc::new(Inner { tx, shared, task }),
        })
    }

    /// Starts the client and waits (at most `timeout`) until the replica is in sync.
    pub async fn connect(cfg: ClientConfig, timeout: Duration) -> Result<Self> {
        let c = Self::start(cfg)?;
        c.wait_connected(timeout).await?;
        Ok(c)
    }

    /// Waits until connected and in sync, or fails with the fatal error or a timeout (carrying the
    /// last connection error).
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.subscribe();
        let r = tokio::time::timeout(timeout, async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if let Some(e) = &s.fatal {
                        return Err(e.clone());
                    }
                    if s.connected {
                        return Ok(());
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
        })
        .await;
        match r {
            Ok(r) => r,
            Err(_) => Err(match self.status().last_error {
                Some(e) => e,
                None => ClientError::Timeout("the first connection".into()),
            }),
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.inner.shared.status.borrow().clone()
    }

    /// A receiver notified on every status change (connections, applied updates, locks).
    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.inner.shared.status.subscribe()
    }

    /// Runs `f` on the replica (`None` before the first connection fetched the schema). Do not block
    /// inside `f`: updates wait for it.
    pub fn with_replica<R>(&self, f: impl FnOnce(&Replica) -> R) -> Option<R> {
        let g = self
            .inner
            .shared
            .replica
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.as_ref().map(f)
    }

    /// Runs `f` on the replica under the write lock (`None` before the first connection).
    fn with_replica_mut<R>(&self, f: impl FnOnce(&mut Replica) -> R) -> Option<R> {
        let mut g = self
            .inner
            .shared
            .replica
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.as_mut().map(f)
    }

    /// The changes since the last call (see [`Replica::take_changes`]).
    pub fn take_changes(&self) -> Vec<TrackedChange> {
        self.with_replica_mut(Replica::take_changes)
            .unwrap_or_default()
    }

    /// Drops the changes since the last call without listing them (see
    /// [`Replica::drop_changes`]): for a consumer about to read the whole replica.
    pub fn drop_changes(&self) {
        self.with_replica_mut(Replica::drop_changes);
    }

    /// Waits (at most `timeout`) until `pred` holds on the replica, re-checking after every update.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Replica) -> bool,
    ) -> Result<()> {
        let mut rx = self.subscribe();
        tokio::time::timeout(timeout, async {
            loop {
                rx.borrow_and_update();
                if self.with_replica(&mut pred).unwrap_or(false) {
                    return Ok(());
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout("a replica condition".into()))?
    }

    fn send(&self, cmd: Cmd) -> Result<()> {
        self.inner.tx.send(cmd).map_err(|_| ClientError::Closed)
    }

    /// Commits `txn`. On success the replica already reflects it. Requests made while disconnected
    /// wait for the next connection; bound them with `tokio::time::timeout` if needed.
    pub async fn transact(&self, txn: Txn) -> Result<TxnReply> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Transact(txn, tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// [`transact`](Self::transact) of a transaction already serialized, sent as it is (no JSON
    /// tree, no copy): `params` is the JSON text of the `transact` params (`[database, op...]`)
    /// with `n_ops` operations, of which `inserts` lists the `insert`s (operation index, table)
    /// for read-your-writes, as [`Txn`] would have recorded them.
    pub async fn transact_bytes(
        &self,
        params: bytes::Bytes,
        n_ops: usize,
        inserts: Inserts,
    ) -> Result<TxnReply> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::TransactBytes {
            params,
            n_ops,
            inserts,
            reply: tx,
        })?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Starts a transaction whose `transact` params are written while they are produced:
    /// each piece handed to [`TxnStream::send`] goes to the server as it is (the whole text
    /// of a big transaction never sits in memory at once), and [`TxnStream::finish`] ends
    /// the request and waits for its reply, read compactly ([`TxnReply::from_slice`]).
    ///
    /// While the request is being written nothing else is sent on the connection. If the
    /// stream is dropped unfinished, the connection is closed (the server got a partial
    /// request) and the client reconnects.
    pub fn transact_stream(&self) -> Result<TxnStream> {
        self.transact_stream_bounded(STREAM_BUDGET)
    }

    /// [`transact_stream`](Self::transact_stream) with producers waiting only once `budget`
    /// bytes are queued and not yet written to the socket ([`STREAM_BUDGET`] there). A producer
    /// whose time counts more than the memory (a daemon's full recompute, whose text the server
    /// reads slower than it is made) takes a bigger one; the queue holds at most `budget` bytes
    /// plus one piece.
    pub fn transact_stream_bounded(&self, budget: usize) -> Result<TxnStream> {
        let (parts, parts_rx) = mpsc::unbounded_channel();
        let (meta, meta_rx) = oneshot::channel();
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::TransactStream {
            parts: parts_rx,
            meta: meta_rx,
            reply: tx,
        })?;
        Ok(TxnStream {
            parts,
            budget: Arc::new(Budget::new(budget)),
            meta: Some(meta),
            reply: rx,
        })
    }

    /// Sends any request on the current connection and returns its result.
    pub async fn request(&self, method: &str, params: Vec<Value>) -> Result<Value> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Request(method.to_owned(), params, tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Changes the condition of a monitored table (`None`: every row) with `monitor_cond_change`;
    /// the new condition also applies after reconnections. The server then sends the rows that
    /// enter and leave; use [`wait_for`](Self::wait_for) to wait for them.
    pub async fn set_condition(&self, table: &str, condition: Option<Vec<Value>>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::SetCondition(table.to_owned(), condition, tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Asks for lock `name`; returns whether it is held now. If not, the server grants it later
    /// (a `locked` notification, visible in [`Status::locks`]). Re-requested after reconnections.
    pub async fn lock(&self, name: &str) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Lock(name.to_owned(), false, tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Takes lock `name` from its holder (who gets a `stolen` notification).
    pub async fn steal(&self, name: &str) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Lock(name.to_owned(), true, tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Releases lock `name`.
    pub async fn unlock(&self, name: &str) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Unlock(name.to_owned(), tx))?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Whether this client holds lock `name`.
    pub fn has_lock(&self, name: &str) -> bool {
        self.inner
            .shared
            .status
            .borrow()
            .locks
            .get(name)
            .copied()
            .unwrap_or(false)
    }

    /// Drops the current connection and moves on to the next remote.
    pub fn reconnect(&self) {
        let _ = self.send(Cmd::Reconnect);
    }
}

#[cfg(test)]
mod tests;
