//! An OVSDB server: a drop-in for ovsdb-server 3.1 serving standalone databases.
//!
//! Layers, as in quinn:
//! - [`Server`] (this module and [`session`]) is a sans-IO state machine. It owns the databases, the
//!   locks and every client session. Input goes in through [`Server::connect`],
//!   [`Server::handle_message`], [`Server::handle_timeout`] and [`Server::disconnect`], with the time
//!   passed in; output comes out through [`Server::poll_transmit`] (an [`Outgoing`] message for a
//!   session), [`Server::take_ready`] (sessions with output), [`Server::poll_timeout`] (when to call
//!   `handle_timeout` next) and [`Server::is_closed`].
//! - Commits are handed to a [`CommitLog`] per database before they are acknowledged; the file-backed
//!   one is [`FileStorage`] (standalone file format, `fsync` of durable commits, compaction).
//!   Group commit: the log only queues each commit's record; [`Server::flush_logs`] writes every
//!   record queued since the last flush at once (one write, and one `fsync` if any of them needs
//!   it), and [`Server::poll_transmit`] flushes before it hands out anything. So no reply or update
//!   leaves before the records of the commits it depends on are written, and an adapter that
//!   handles the input of several connections before it polls their output writes their commits
//!   with one write. A failed flush turns the replies of exactly the transactions whose records it
//!   held into `"I/O error"` results, as a failed write of one commit does.
//! - [`net`] is the thin tokio adapter: `punix:` and `ptcp:` listeners, one task per connection;
//!   [`unixctl`] answers `ovs-appctl` (`exit`, `ovsdb-server/compact`, ...).
//!
//! Initial monitor dumps are encoded once per database state and monitor shape and shared by every
//! session that asks for the same thing (as ovsdb-server's monitor JSON cache does).
//!
//! Methods: `list_dbs`, `get_schema`, `transact` (with `wait` retried after each commit and on
//! timeout), `cancel`, `monitor`, `monitor_cond`, `monitor_cond_since` (a transaction id per commit and
//! a bounded history, so a reconnecting client resumes without a full dump), `monitor_cond_change`,
//! `monitor_cancel`, `lock`/`steal`/`unlock` with `locked`/`stolen` notifications, `echo`,
//! `get_server_id`, `set_db_change_aware`, and the `_Server` database.
//!
//! What it does not do: clustered (Raft) or relay databases, SSL, online schema conversion
//! (`convert`), adding or removing databases at run time, most unixctl commands of ovsdb-server.

pub mod monitor;
pub mod net;
mod outgoing;
mod server_db;
pub mod session;
pub mod storage;
pub mod unixctl;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::db::{ChangeSet, Database};
use crate::jsonrpc::Message;

pub use monitor::{datum_apply_diff, datum_diff, MonitorVersion};
pub use outgoing::{encode_message, Outgoing};
pub use server_db::{SERVER_DB_NAME, SERVER_SCHEMA};
pub use session::SessionId;
pub use storage::{CommitLog, FileStorage, StorageError, StorageOptions};

use session::Session;

/// Errors of the server core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A database with this name is already served.
    #[error("database \"{0}\" is already served")]
    DuplicateDatabase(String),
    /// The name is reserved (`_Server`).
    #[error("database name \"{0}\" is reserved")]
    ReservedName(String),
    /// The `_Server` database could not be built.
    #[error("cannot build the _Server database: {0}")]
    ServerDb(#[source] crate::Error),
}

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How many recent commits per database are kept for `monitor_cond_since` (from the first
    /// transaction id given out on: before it, only the latest commit). 0 disables history
    /// (then, like a standalone ovsdb-server 3.1, every transaction id is all zeros and a
    /// reconnecting client always gets a full dump).
    pub txn_history: usize,
    /// The server id reported by `get_server_id` (random when `None`).
    pub server_id: Option<Uuid>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            txn_history: 100,
            server_id: None,
        }
    }
}

/// One served database.
#[derive(Debug)]
pub(crate) struct ServedDb {
    pub(crate) name: String,
    pub(crate) db: Database,
    pub(crate) log: Option<Box<dyn CommitLog>>,
    /// Recent commits, oldest first, with their transaction ids.
    pub(crate) history: VecDeque<(Uuid, Arc<ChangeSet>)>,
    /// Id of the latest commit (nil before the first one).
    pub(crate) last_txn: Uuid,
    /// Number of commits since the database was added.
    pub(crate) version: u64,
    /// Encoded initial dumps of the current version, by monitor shape, shared between sessions.
    pub(crate) dump_cache: HashMap<String, bytes::Bytes>,
    /// Whether commits are staged in `log`, not flushed yet.
    pub(crate) unflushed: bool,
    /// Set when a session adds a monitor on this database; cleared by a commit that finds no
    /// monitor on it, so that commits nobody monitors skip the walk over every session.
    pub(crate) maybe_monitored: bool,
    /// Set once a transaction id of this database has been given out (a `monitor_cond_since`
    /// request, [`Server::last_txn_id`]). Until then nobody can ask for the commits that
    /// followed one, and `history` holds only the latest commit (the one a first
    /// `monitor_cond_since` reply names): each commit frees its predecessor's changes while
    /// they are still in the cache, instead of those of a commit `txn_history` commits ago.
    pub(crate) txn_ids_out: AtomicBool,
}

/// Sessions marked as having output: a list (usually of one), deduplicated when it is taken,
/// or when it grows long because nobody takes it.
#[derive(Debug, Default)]
pub(crate) struct ReadySessions {
    ids: Vec<SessionId>,
}

impl ReadySessions {
    pub(crate) fn insert(&mut self, id: SessionId) {
        if self.ids.last() == Some(&id) {
            return;
        }
        self.ids.push(id);
        if self.ids.len() >= 1024 && self.ids.len().is_power_of_two() {
            self.ids.sort_unstable();
            self.ids.dedup();
        }
    }

    fn remove(&mut self, id: SessionId) {
        self.ids.retain(|&r| r != id);
    }
}

/// The sessions of a server in id order, looked up by a binary search over their ids, which are
/// kept apart from the sessions (one dense vector: a request looks its session up five to eight
/// times, and a walk over a B-tree's nodes for each cost more than the request's own reply).
/// Session ids only grow, so a new session goes last.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    ids: Vec<SessionId>,
    sessions: Vec<Session>,
}

impl Sessions {
    fn position(&self, id: SessionId) -> Result<usize, usize> {
        self.ids.binary_search(&id)
    }

    pub(crate) fn get(&self, id: &SessionId) -> Option<&Session> {
        let i = self.position(*id).ok()?;
        self.sessions.get(i)
    }

    pub(crate) fn get_mut(&mut self, id: &SessionId) -> Option<&mut Session> {
        let i = self.position(*id).ok()?;
        self.sessions.get_mut(i)
    }

    /// Adds (or replaces) session `id`.
    pub(crate) fn insert(&mut self, id: SessionId, session: Session) {
        match self.position(id) {
            Ok(i) => self.sessions[i] = session,
            Err(i) => {
                self.ids.insert(i, id);
                self.sessions.insert(i, session);
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &SessionId) -> Option<Session> {
        let i = self.position(*id).ok()?;
        self.ids.remove(i);
        Some(self.sessions.remove(i))
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Ids, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &SessionId> {
        self.ids.iter()
    }

    /// Sessions, in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter()
    }

    /// Ids and sessions, in id order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&SessionId, &mut Session)> {
        self.ids.iter().zip(self.sessions.iter_mut())
    }
}

#[cfg(test)]
impl std::ops::Index<&SessionId> for Sessions {
    type Output = Session;

    fn index(&self, id: &SessionId) -> &Session {
        match self.get(id) {
            Some(s) => s,
            None => panic!("no {id}"),
        }
    }
}

/// The sans-IO server core: databases, locks and sessions.
#[derive(Debug)]
pub struct Server {
    pub(crate) config: ServerConfig,
    pub(crate) server_id: Uuid,
    /// Served databases; `_Server` is always the last one.
    pub(crate) dbs: Vec<ServedDb>,
    pub(crate) sessions: Sessions,
    /// Lock name → owner first, then waiters in order.
    pub(crate) locks: HashMap<String, VecDeque<SessionId>>,
    /// Sessions with new output since the last [`Server::take_ready`].
    pub(crate) ready: ReadySessions,
    /// Whether any database has commits staged in its log, not flushed yet.
    pub(crate) unflushed: bool,
    /// Replies to the transactions whose commits are staged: session, position in its outbox
    /// (stable: outboxes are not drained while commits are staged) and database.
    pub(crate) held: Vec<(SessionId, usize, usize)>,
    /// Set when a deadline may have come earlier than any before it (a session with a probe, a
    /// `wait` blocked with a timeout), so that a timer sleeping to the earliest deadline
    /// ([`Server::poll_timeout`]) looks again; the network adapter clears it.
    pub(crate) timers_moved: bool,
    /// Set when a transaction blocks (a `wait`); cleared when a look finds no session with a
    /// blocked transaction, so that each commit does not walk every session to find none.
    pub(crate) maybe_pending: bool,
    /// Where commits' transaction ids come from.
    pub(crate) txn_ids: TxnIds,
    next_session: u64,
}

/// Transaction ids: version-4 UUIDs, distinct for the life of the server, made without a
/// random generator's block per commit: a random 128-bit base, its low half mixed with a
/// counter through a bijection (the splitmix64 finalizer), so consecutive ids share no visible
/// pattern. Only the variant's two bits are overwritten in the mixed half.
#[derive(Debug)]
pub(crate) struct TxnIds {
    base: [u8; 16],
    next: u64,
}

impl TxnIds {
    fn new() -> Self {
        Self {
            base: rand::random(),
            next: 0,
        }
    }

    /// The next transaction id.
    pub(crate) fn next_id(&mut self) -> Uuid {
        self.next = self.next.wrapping_add(1);
        let mut z = self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let mut bytes = self.base;
        let (_, low) = bytes.split_at_mut(8);
        for (b, m) in low.iter_mut().zip(z.to_le_bytes()) {
            *b ^= m;
        }
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl Server {
    /// A server without user databases (only `_Server`).
    pub fn new(config: ServerConfig) -> Result<Self, ServerError> {
        let server_id = config.server_id.unwrap_or_else(Uuid::new_v4);
        let mut s = Self {
            config,
            server_id,
            dbs: Vec::new(),
            sessions: Sessions::default(),
            locks: HashMap::new(),
            ready: ReadySessions::default(),
            unflushed: false,
            held: Vec::new(),
            timers_moved: false,
            maybe_pending: false,
            txn_ids: TxnIds::new(),
            next_session: 1,
        };
        s.rebuild_server_db()?;
        Ok(s)
    }

    fn rebuild_server_db(&mut self) -> Result<(), ServerError> {
        if self.dbs.last().is_some_and(|d| d.name == SERVER_DB_NAME) {
            self.dbs.pop();
        }
        let schemas: Vec<_> = self
            .dbs
            .iter()
            .map(|d| (d.name.clone(), d.db.schema().to_json()))
            .collect();
        let (db, _) = server_db::build(&schemas, None).map_err(ServerError::ServerDb)?;
        self.dbs.push(ServedDb {
            name: SERVER_DB_NAME.to_owned(),
            db,
            log: None,
            history: VecDeque::new(),
            last_txn: Uuid::nil(),
            version: 0,
            dump_cache: HashMap::new(),
            unflushed: false,
            maybe_monitored: false,
            txn_ids_out: AtomicBool::new(false),
        });
        Ok(())
    }

    /// Serves `db` (in memory only when `log` is `None`). Add databases before clients connect:
    /// the `_Server` database is rebuilt, and monitors on it are not told.
    pub fn add_database(
        &mut self,
        db: Database,
        log: Option<Box<dyn CommitLog>>,
    ) -> Result<(), ServerError> {
        let name = db.schema().name.clone();
        if name == SERVER_DB_NAME {
            return Err(ServerError::ReservedName(name));
        }
        if self.dbs.iter().any(|d| d.name == name) {
            return Err(ServerError::DuplicateDatabase(name));
        }
        let at = self.dbs.len().saturating_sub(1);
        self.dbs.insert(
            at,
            ServedDb {
                name,
                db,
                log,
                history: VecDeque::new(),
                last_txn: Uuid::nil(),
                version: 0,
                dump_cache: HashMap::new(),
                unflushed: false,
                maybe_monitored: false,
                txn_ids_out: AtomicBool::new(false),
            },
        );
        self.rebuild_server_db()
    }

    /// The server's id (`get_server_id`).
    pub fn server_id(&self) -> Uuid {
        self.server_id
    }

    /// Names of the served databases, `_Server` included, sorted as `list_dbs` returns them.
    pub fn database_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.dbs.iter().map(|d| d.name.clone()).collect();
        v.sort();
        v
    }

    /// A served database by name.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.dbs.iter().find(|d| d.name == name).map(|d| &d.db)
    }

    /// Id of the latest commit of database `name` (nil before the first, or without history).
    pub fn last_txn_id(&self, name: &str) -> Option<Uuid> {
        let d = self.dbs.iter().find(|d| d.name == name)?;
        d.txn_ids_out.store(true, Ordering::Relaxed);
        Some(d.last_txn)
    }

    /// Compacts the log of every database (or only of `name`), like `ovsdb-server/compact`.
    pub fn compact(&mut self, name: Option<&str>) -> Result<(), StorageError> {
        self.flush_logs();
        for d in &mut self.dbs {
            if name.is_some_and(|n| n != d.name) {
                continue;
            }
            if let Some(log) = &mut d.log {
                log.compact(&d.db)?;
            }
        }
        Ok(())
    }

    pub(crate) fn db_index(&self, name: &str) -> Option<usize> {
        self.dbs.iter().position(|d| d.name == name)
    }

    /// A new session (a client connected at `now`). With `probe_interval`, the session sends `echo`
    /// probes to an idle client and closes when it stays silent (ovsdb-server does this on TCP
    /// connections, not on Unix sockets).
    pub fn connect(&mut self, now: Instant, probe_interval: Option<Duration>) -> SessionId {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.timers_moved |= probe_interval.is_some();
        self.sessions.insert(id, Session::new(now, probe_interval));
        id
    }

    /// The client of session `id` went away: its monitors, pending transactions and locks end.
    pub fn disconnect(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.remove(&id) {
            for name in s.locks {
                self.release_lock(id, &name);
            }
        }
        self.ready.remove(id);
    }

    /// The next message to send to session `id`. Flushes the logs first if commits are staged
    /// ([`flush_logs`](Self::flush_logs)).
    pub fn poll_transmit(&mut self, id: SessionId) -> Option<Outgoing> {
        if self.unflushed {
            self.flush_logs();
        }
        self.sessions.get_mut(&id)?.outbox.pop_front()
    }

    /// Whether commits are staged in a log, waiting for [`flush_logs`](Self::flush_logs) (which
    /// the next [`poll_transmit`](Self::poll_transmit) does).
    pub fn has_unflushed(&self) -> bool {
        self.unflushed
    }

    /// Writes the commits staged in every database's log since the last flush. When a log fails,
    /// the replies to the transactions whose commits it held get an `"I/O error"` result.
    pub fn flush_logs(&mut self) {
        if !std::mem::take(&mut self.unflushed) {
            return;
        }
        let mut failed = Vec::new();
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if !std::mem::take(&mut d.unflushed) {
                continue;
            }
            if let Some(log) = &mut d.log {
                if let Err(e) = log.flush(&d.db) {
                    tracing::error!(db = %d.name, "cannot write commits: {e}");
                    failed.push((i, e));
                }
            }
        }
        for (sid, pos, db) in self.held.drain(..) {
            let Some((_, e)) = failed.iter().find(|(d, _)| *d == db) else {
                continue;
            };
            let reply = self
                .sessions
                .get_mut(&sid)
                .and_then(|s| s.outbox.get_mut(pos));
            match reply {
                Some(Outgoing::Message(Message::Response(r))) => {
                    if let Ok(results) = &mut r.result {
                        session::push_io_error(results, e);
                    }
                }
                Some(Outgoing::Encoded(parts)) => {
                    if let [part] = parts.as_mut_slice() {
                        let mut text = part.to_vec();
                        session::push_io_error_text(&mut text, e);
                        *part = bytes::Bytes::from(text);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether session `id` must be closed (after its output is flushed): the client stopped
    /// answering probes, or the session is unknown.
    pub fn is_closed(&self, id: SessionId) -> bool {
        self.sessions.get(&id).is_none_or(|s| s.closed)
    }

    /// Sessions that have output (or must close) since the last call, in order.
    pub fn take_ready(&mut self) -> Vec<SessionId> {
        let mut out = Vec::new();
        self.take_ready_into(&mut out);
        out
    }

    /// [`take_ready`](Self::take_ready) into `out` (cleared first), whose allocation a caller
    /// that asks after every message keeps.
    pub fn take_ready_into(&mut self, out: &mut Vec<SessionId>) {
        out.clear();
        out.append(&mut self.ready.ids);
        out.sort_unstable();
        out.dedup();
    }

    /// Number of connected sessions.
    pub fn n_sessions(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn send(&mut self, id: SessionId, msg: impl Into<Outgoing>) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.outbox.push_back(msg.into());
            self.ready.insert(id);
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod txn_id_tests {
    use super::TxnIds;

    #[test]
    fn txn_ids_are_distinct_v4_uuids() {
        let mut ids = TxnIds::new();
        let mut seen = std::collections::HashSet::new();
        let mut prev: Option<u128> = None;
        for _ in 0..200_000 {
            let u = ids.next_id();
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(u), "{u} twice");
            if let Some(p) = prev {
                // Consecutive ids differ in many bits, not just the counter's low ones.
                let diff = (u.as_u128() ^ p).count_ones();
                assert!(diff > 8, "{u} too close to the previous id");
            }
            prev = Some(u.as_u128());
        }
        // Two servers (two bases) do not make the same ids.
        let mut other = TxnIds::new();
        assert!(!seen.contains(&other.next_id()));
    }
}
