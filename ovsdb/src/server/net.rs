//! The tokio adapter: listens on `punix:PATH` and `ptcp:PORT[:IP]` remotes and runs one task per
//! connection over a shared [`Server`].
//!
//! Each connection decodes messages with [`JsonRpcCodec`] (size and depth limits) and feeds them to
//! the server core, every message a read brought at once; after every step the sessions that got
//! output are woken to flush it, each with one write. The runtime watches a connection's socket for
//! input only, and for room to write only while a write waits for it (see `Socket`). A connection whose messages staged commits
//! steps back behind the other ready connections before it polls its output (which writes the
//! staged commits to the logs): the commits of all connections served in one runtime tick are
//! written with one write. A
//! connection that sends garbage, an oversize or too deeply nested message, or an invalid JSON-RPC
//! message is logged and closed, like ovsdb-server does; other connections are not affected. A timer
//! task drives [`Server::handle_timeout`] (`wait` timeouts and inactivity probes: TCP sessions are
//! probed with `echo` every [`NetOptions::tcp_probe`], Unix sessions by default not at all, as in
//! ovsdb-server); it sleeps until the earliest deadline, and without a timeout while there is
//! none. An adaptive, bounded busy-poll ([`NetOptions::busy_poll`], on by default) spares
//! back-to-back clients the server's sleep and wake-up per request; an idle server never spins.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::task::AtomicWaker;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::{Outgoing, Server, SessionId};
use crate::jsonrpc::{Frame, JsonRpcCodec, JsonRpcError, Limits};

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A passive remote, as given to ovsdb-server's `--remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// `punix:PATH`: a Unix socket.
    Punix(PathBuf),
    /// `ptcp:PORT[:IP]`: a TCP listener (port 0 picks a free port).
    Ptcp {
        /// Port.
        port: u16,
        /// Address to bind (all IPv4 addresses by default).
        ip: IpAddr,
    },
}

/// A `--remote` that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{remote}: unsupported or malformed remote (expected punix:PATH or ptcp:PORT[:IP])")]
pub struct BadRemote {
    /// The text given.
    pub remote: String,
}

impl FromStr for Remote {
    type Err = BadRemote;

    fn from_str(s: &str) -> Result<Self, BadRemote> {
        let bad = || BadRemote {
            remote: s.to_owned(),
        };
        if let Some(path) = s.strip_prefix("punix:") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Self::Punix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("ptcp:") {
            let (port, ip) = match rest.split_once(':') {
                Some((p, ip)) => {
                    let ip = ip.trim_start_matches('[').trim_end_matches(']');
                    (p, ip.parse::<IpAddr>().map_err(|_| bad())?)
                }
                None => (rest, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            };
            let port = port.parse::<u16>().map_err(|_| bad())?;
            return Ok(Self::Ptcp { port, ip });
        }
        Err(bad())
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Punix(p) => write!(f, "punix:{}", p.display()),
            Self::Ptcp { port, ip } => write!(f, "ptcp:{port}:{ip}"),
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetOptions {
    /// Message size and nesting limits.
    pub limits: Limits,
    /// Inactivity probe on TCP connections (ovsdb-server: 5 s).
    pub tcp_probe: Option<Duration>,
    /// Inactivity probe on Unix connections (ovsdb-server: none).
    pub unix_probe: Option<Duration>,
    /// Adaptive busy-poll budget: while requests come this fast, the runtime checks the
    /// sockets without sleeping when it runs out of work, for up to this long after its latest
    /// activity, yielding the CPU to any other runnable thread at each turn; it stops after a
    /// request that came later or when other threads want the CPU (see [`serve`]). An idle
    /// server never spins. Default [`DEFAULT_BUSY_POLL`]; `None` never spins.
    pub busy_poll: Option<Duration>,
}

impl Default for NetOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            tcp_probe: Some(crate::jsonrpc::echo::DEFAULT_PROBE_INTERVAL),
            unix_probe: None,
            busy_poll: Some(DEFAULT_BUSY_POLL),
        }
    }
}

/// The default [`NetOptions::busy_poll`] budget: it covers a client's turn-around on an idle
/// machine (the reply's delivery, the client's wake-up and work, its next request: 20-40 µs
/// measured with the benchmark's driver).
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(50);

/// A yield of the spinning thread that took longer than this ran another thread: the CPU is
/// wanted, so spinning backs off.
const CONTENDED_YIELD_NS: u64 = 25_000;

/// The first back-off after a contended yield; each further contended spin doubles it, up to
/// [`MAX_BACKOFF_NS`]; a spin that catches a request without contention resets it.
const MIN_BACKOFF_NS: u64 = 10_000_000;

/// The longest back-off.
const MAX_BACKOFF_NS: u64 = 1_000_000_000;

/// The adaptive busy-poll's state, shared by the connections and the spinning task.
///
/// Spinning starts only when a request was just handled and it came within the budget after
/// the server's previous activity (a request handled or output written): the next request will
/// likely come as fast, and instead of sleeping in the kernel until it arrives (a wake-up of an
/// idle CPU costs tens of microseconds on a virtual machine), the runtime keeps checking its
/// sockets without blocking, until the budget has passed since the latest activity. It stops
/// being worth it, and spinning stops until requests come fast again, when:
///
/// - a request comes later than the budget (a miss: an idle, slow or thinking client costs at
///   most one budget of spinning, and none at all while its requests keep coming slowly);
/// - a yield of the CPU inside the spin (each turn gives it to any other runnable thread) ran
///   another thread for longer than [`CONTENDED_YIELD_NS`]: the CPU is wanted by others, and
///   sleeping (woken ahead of them when the request comes) serves better than spinning. No spin
///   starts for a back-off time then (see [`MIN_BACKOFF_NS`]).
///
/// Times are nanoseconds since `base`; every decision takes the time as an argument.
struct Spin {
    budget_ns: u64,
    base: Instant,
    /// The latest activity.
    last: AtomicU64,
    /// Whether the latest request came within the budget after the activity before it.
    fast: AtomicBool,
    /// Whether the task spins (else it waits for `wake`).
    spinning: AtomicBool,
    /// No spin starts before this time.
    backoff_until: AtomicU64,
    /// The next back-off's length.
    backoff_ns: AtomicU64,
    wake: Notify,
}

impl Spin {
    fn new(budget: Duration) -> Self {
        Self {
            budget_ns: u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX),
            base: Instant::now(),
            last: AtomicU64::new(0),
            fast: AtomicBool::new(false),
            spinning: AtomicBool::new(false),
            backoff_until: AtomicU64::new(0),
            backoff_ns: AtomicU64::new(MIN_BACKOFF_NS),
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.at(Instant::now())
    }

    /// Instant `t` as nanoseconds since `base`.
    fn at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Requests were handled at `now`; returns whether the spinning task must be woken.
    fn on_input(&self, now: u64) -> bool {
        let before = self.last.swap(now, Ordering::Relaxed);
        let fast = now.saturating_sub(before) <= self.budget_ns
            && now >= self.backoff_until.load(Ordering::Relaxed);
        self.fast.store(fast, Ordering::Relaxed);
        let spinning = self.spinning.load(Ordering::Relaxed);
        if fast && spinning {
            // The spin caught this request: it pays.
            self.backoff_ns.store(MIN_BACKOFF_NS, Ordering::Relaxed);
        }
        fast && !spinning
    }

    /// Output was written at `now`.
    fn on_output(&self, now: u64) {
        self.last.store(now, Ordering::Relaxed);
    }

    /// Whether to keep spinning at `now`.
    fn keep_on(&self, now: u64) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        self.fast.load(Ordering::Relaxed) && now.saturating_sub(last) <= self.budget_ns
    }

    /// A yield of the CPU inside the spin, which returned at `now`, took `took_ns`: if another
    /// thread ran meanwhile, spinning stops and backs off.
    fn after_yield(&self, now: u64, took_ns: u64) {
        if took_ns <= CONTENDED_YIELD_NS {
            return;
        }
        self.fast.store(false, Ordering::Relaxed);
        let backoff = self.backoff_ns.load(Ordering::Relaxed);
        self.backoff_until
            .store(now.saturating_add(backoff), Ordering::Relaxed);
        self.backoff_ns
            .store((backoff * 2).min(MAX_BACKOFF_NS), Ordering::Relaxed);
    }

    /// The spinning task: waits until a fast request wakes it, then spins while it pays.
    async fn run(&self, shutdown: &mut watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            self.spinning.store(true, Ordering::Relaxed);
            loop {
                // Deferred: the runtime polls the sockets without blocking (and runs the tasks
                // that input made ready) before it polls this task again.
                tokio::task::yield_now().await;
                if self.keep_on(self.now()) {
                    // Any other runnable thread on this CPU (a client, a build thread) runs
                    // now; with none, this returns at once.
                    let t = self.now();
                    std::thread::yield_now();
                    let now = self.now();
                    self.after_yield(now, now.saturating_sub(t));
                    continue;
                }
                self.spinning.store(false, Ordering::Relaxed);
                // A request handled just before the flag fell did not wake this task.
                if !self.keep_on(self.now()) || *shutdown.borrow() {
                    break;
                }
                self.spinning.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A server shared between connection tasks.
pub type SharedServer = Arc<Mutex<Server>>;

struct Shared {
    server: SharedServer,
    spin: Option<Spin>,
    /// Open connections: with one, a commit has nobody to share its write with.
    conns: AtomicUsize,
    wakers: Mutex<HashMap<SessionId, Arc<Signal>>>,
    /// Set once the server stops: every connection is signalled and closes.
    stopping: AtomicBool,
    /// Wakes the timer task when a deadline may have come earlier than the one it sleeps to.
    timer: Notify,
    options: NetOptions,
}

/// A connection's wake-up call, from another connection (output queued for it), the timer or
/// the server stopping.
///
/// Cheaper to wait on than `tokio::sync::Notify` and a `watch` receiver, which the connection
/// loop polled twice per request (a lock each): waiting re-registers the task's waker only when
/// it changed, and signalling is a flag and, if the connection sleeps, one wake-up.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Signals the connection (a signal not yet taken is not repeated).
    fn notify(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Takes the signal, or registers the task to be woken by the next one.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A signal sent before the registration did not wake this task.
        if self.set.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent-enough state for serving others.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Wakes the connections of `ids`, except `except`'s (the caller's own).
    fn wake(&self, ids: &[SessionId], except: Option<SessionId>) {
        if ids.iter().all(|id| Some(*id) == except) {
            return;
        }
        let wakers = lock(&self.wakers);
        for id in ids {
            if Some(*id) == except {
                continue;
            }
            if let Some(n) = wakers.get(id) {
                n.notify();
            }
        }
    }

    /// Marks the server as stopping and signals every connection.
    fn stop_connections(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for n in lock(&self.wakers).values() {
            n.notify();
        }
    }
}

/// A running server: its listeners, connections and timer.
#[derive(Debug)]
pub struct Running {
    addrs: Vec<Remote>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    unix_paths: Vec<PathBuf>,
}

impl Running {
    /// The remotes actually bound (`ptcp:0` shows the chosen port).
    pub fn local_remotes(&self) -> &[Remote] {
        &self.addrs
    }

    /// Stops listening, closes every connection and removes the Unix sockets.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        for p in &self.unix_paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Binds every remote and starts serving `server` on them in the current tokio runtime.
///
/// With [`NetOptions::busy_poll`] (the default), one more task keeps the runtime checking its
/// sockets without sleeping while requests come back to back: it yields to the runtime (which
/// then polls for I/O with a zero timeout instead of sleeping) and the CPU to other threads
/// (`sched_yield`), until requests stop coming within the budget. A yield that ran another
/// thread for a while means the CPU is wanted: spinning then stops and backs off (10 ms,
/// doubling up to 1 s while it recurs), since a server that keeps yielding waits for other
/// threads' time slices when its request arrives (session 9 measured 0.5-2k transactions per
/// second instead of 20-30k under load with a spin that always yielded), while a sleeping
/// one is woken ahead of them.
pub async fn serve(
    server: SharedServer,
    remotes: &[Remote],
    options: NetOptions,
) -> io::Result<Running> {
    let spin = options.busy_poll.map(Spin::new);
    let shared = Arc::new(Shared {
        server,
        spin,
        conns: AtomicUsize::new(0),
        wakers: Mutex::new(HashMap::new()),
        stopping: AtomicBool::new(false),
        timer: Notify::new(),
        options,
    });
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    let mut unix_paths = Vec::new();
    for r in remotes {
        match r {
            Remote::Punix(path) => {
                if path.exists() {
                    std::fs::remove_file(path)?;
                }
                let l = UnixListener::bind(path)?;
                tracing::info!("listening on punix:{}", path.display());
                addrs.push(r.clone());
                unix_paths.push(path.clone());
                let (shared, rx) = (shared.clone(), rx.clone());
                tasks.push(tokio::spawn(async move {
                    accept_loop(rx, shared, Listener::Unix(l), options.unix_probe).await;
                }));
            }
            Remote::Ptcp { port, ip } => {
                let l = TcpListener::bind(SocketAddr::new(*ip, *port)).await?;
                let local = l.local_addr()?;
                tracing::info!("listening on ptcp:{}:{}", local.port(), local.ip());
                addrs.push(Remote::Ptcp {
                    port: local.port(),
                    ip: local.ip(),
                });
                let (shared, rx) = (shared.clone(), rx.clone());
                tasks.push(tokio::spawn(async move {
                    accept_loop(rx, shared, Listener::Tcp(l), options.tcp_probe).await;
                }));
            }
        }
    }
    let (timer_shared, mut timer_rx) = (shared.clone(), rx.clone());
    tasks.push(tokio::spawn(async move {
        timer_loop(&timer_shared, &mut timer_rx).await;
    }));
    if shared.spin.is_some() {
        let (spin_shared, mut spin_rx) = (shared.clone(), rx.clone());
        tasks.push(tokio::spawn(async move {
            if let Some(spin) = &spin_shared.spin {
                spin.run(&mut spin_rx).await;
            }
        }));
    }
    Ok(Running {
        addrs,
        shutdown: tx,
        tasks,
        unix_paths,
    })
}

/// The shortest time between two runs of [`Server::handle_timeout`]: deadlines that come due
/// within it of each other are handled together, as the fixed 50 ms tick this timer replaced
/// did, so that many sessions' staggered probes wake the server no more often than it did.
const TIMER_COALESCE: Duration = Duration::from_millis(50);

/// Drives [`Server::handle_timeout`] (inactivity probes, `wait` timeouts): sleeps until the
/// earliest deadline, and while there is none (Unix sessions without probes and without
/// blocked `wait`s: the usual case) without any timeout at all. A connection whose messages may
/// have brought a deadline earlier than the one it sleeps to wakes it through
/// [`Shared::timer`] (a new session with a probe, a `wait` that blocks with a timeout).
///
/// The fixed tick woke an idle server 20 times a second, and its deadline was the timeout of
/// every `epoll_wait` of the runtime: one more kernel timer armed and cancelled each time the
/// server slept between two requests.
async fn timer_loop(shared: &Shared, shutdown: &mut watch::Receiver<bool>) {
    let mut handled = Instant::now();
    loop {
        let now = Instant::now();
        let (ready, next) = {
            let mut s = lock(&shared.server);
            s.timers_moved = false;
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
                handled = now;
            }
            (s.take_ready(), s.poll_timeout())
        };
        shared.wake(&ready, None);
        // Not sooner than TIMER_COALESCE after the last run (which also keeps a deadline that
        // `handle_timeout` left due from spinning this loop).
        let next = next.map(|t| t.max(handled + TIMER_COALESCE).max(now));
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = shared.timer.notified() => {}
            () = sleep => {}
        }
    }
}

async fn accept_loop(
    mut shutdown: watch::Receiver<bool>,
    shared: Arc<Shared>,
    listener: Listener,
    probe: Option<Duration>,
) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = tokio::select! {
            r = async {
                match &listener {
                    Listener::Unix(l) => l.accept().await.and_then(|(s, _)| {
                        let s = s.into_std()?;
                        Ok(tokio::spawn(connection(s, shared.clone(), probe)))
                    }),
                    Listener::Tcp(l) => l.accept().await.and_then(|(s, peer)| {
                        let _ = s.set_nodelay(true);
                        tracing::debug!(%peer, "connection accepted");
                        let s = s.into_std()?;
                        Ok(tokio::spawn(connection(s, shared.clone(), probe)))
                    }),
                }
            } => r,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok(task) => {
                conns.retain(|c| !c.is_finished());
                conns.push(task);
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    shared.stop_connections();
    for c in conns {
        let _ = c.await;
    }
}

/// Initial size of a connection's read buffer.
const READ_CHUNK: usize = 64 * 1024;

/// A message still arriving once this much of it is buffered is handed to
/// [`Server::run_ahead`] after each read.
const RUN_AHEAD_MIN: usize = 1 << 20;

/// The first reads' size: the buffer they fill is zeroed, so every connection's memory holds it
/// (a request is usually far smaller).
const FIRST_READ: usize = 8 * 1024;

/// The largest read: a connection that receives a big message reads it this much at a time
/// (its reads double from [`FIRST_READ`] while they fill the buffer).
const MAX_READ: usize = 1024 * 1024;

/// A connected stream socket, read and written directly in non-blocking mode.
///
/// The runtime watches a connection's socket for input only. A socket registered for output
/// too (as tokio's own streams are) is reported writable each time the client reads what the
/// server sent, which wakes a sleeping server for nothing: one wasted wake-up per reply, as
/// costly as the one its request brings. Only when a write would block does the connection
/// watch for room to write, on a duplicate of the socket, for as long as it waits.
trait Socket: AsRawFd + Send + Sized + 'static {
    /// `read(2)`.
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// `send(2)`.
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;
    /// Another descriptor for the same socket.
    fn duplicate(&self) -> io::Result<Self>;
}

/// Registers `socket` with the runtime for `interest` only.
///
/// tokio deprecates the safe constructor for any `AsRawFd` type (its descriptor must stay the
/// same, open one while registered); a `Socket` owns its descriptor and never changes it, so the
/// condition holds, and this crate keeps `unsafe` out.
#[allow(deprecated)]
fn watch<S: Socket>(socket: S, interest: Interest) -> io::Result<AsyncFd<S>> {
    AsyncFd::with_interest(socket, interest)
}

impl Socket for std::os::unix::net::UnixStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
}

impl Socket for std::net::TcpStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
}

/// Reads a connection's requests and writes what the server queues for it.
///
/// Each wake-up reads whatever the socket holds, decodes every complete message in it, handles
/// them all under one lock, and then writes everything the session has queued (replies and
/// monitor updates) with one write, instead of one lock, one wake-up and one write per message.
async fn connection<S: Socket>(socket: S, shared: Arc<Shared>, probe: Option<Duration>) {
    let stream = match watch(socket, Interest::READABLE) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!("cannot watch an accepted connection: {e}");
            return;
        }
    };
    let signal = Arc::new(Signal::default());
    let (sid, timers_moved) = {
        let mut s = lock(&shared.server);
        let sid = s.connect(Instant::now(), probe);
        (sid, std::mem::take(&mut s.timers_moved))
    };
    if timers_moved {
        shared.timer.notify_one();
    }
    // Inserted before `stopping` is first read: `stop_connections` sets it before it signals
    // the connections it finds here.
    lock(&shared.wakers).insert(sid, signal.clone());
    shared.conns.fetch_add(1, Ordering::Relaxed);
    let mut codec = JsonRpcCodec::with_limits(shared.options.limits);
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    // What each read fills (then appended to `rbuf`), grown while reads fill it.
    let mut scratch = vec![0u8; FIRST_READ];
    let mut wbuf = BytesMut::new();
    let mut out = Vec::new();
    let mut msgs = Vec::new();
    let mut ready = Vec::new();
    // Set when the peer's input ended or failed: what is queued is still sent, then the
    // connection closes.
    let mut last_round = false;
    loop {
        let closed = {
            let mut s = lock(&shared.server);
            while let Some(m) = s.poll_transmit(sid) {
                out.push(m);
            }
            s.is_closed(sid)
        };
        let wrote = !out.is_empty();
        if let Err(e) = write_queued(&stream, &mut wbuf, &mut out).await {
            tracing::debug!(%sid, "send failed: {e}");
            break;
        }
        if wrote {
            if let Some(spin) = &shared.spin {
                spin.on_output(spin.now());
            }
        }
        if closed {
            tracing::info!(%sid, "no response to inactivity probe, disconnecting");
            break;
        }
        if last_round {
            break;
        }
        // A big message (a northd round's transaction, its reply) leaves big buffers behind:
        // give them back once they are empty.
        if rbuf.is_empty() && rbuf.capacity() > 4 * READ_CHUNK {
            rbuf = BytesMut::with_capacity(READ_CHUNK);
            scratch = vec![0u8; FIRST_READ];
        }
        if wbuf.capacity() > 4 * READ_CHUNK {
            wbuf = BytesMut::new();
        }
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        // Input first, then the signal (output queued by others, the timer, stopping): queued
        // output is polled at the top of the loop whichever comes. Both are polled in place (the
        // socket's own reader slot, the signal's waker), with no future to register and drop
        // at each turn.
        let input = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = stream.poll_read_ready(cx) {
                return Poll::Ready(Some(r));
            }
            signal.poll_take(cx).map(|()| None)
        })
        .await;
        let Some(r) = input else {
            continue;
        };
        let mut guard = match r {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(%sid, "receive failed: {e}");
                break;
            }
        };
        let n = match guard.try_io(|s| s.get_ref().read_some(&mut scratch)) {
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => {
                tracing::debug!(%sid, "receive failed: {e}");
                break;
            }
            // Nothing to read after all: the readiness is cleared.
            Err(_) => continue,
        };
        if n > 0 && n < scratch.len() {
            // The socket is drained (a stream socket fills the buffer when it can):
            // wait for the next input instead of reading again to learn it. Input that
            // came meanwhile is a new event, which this does not clear.
            guard.clear_ready();
        }
        drop(guard);
        rbuf.extend_from_slice(&scratch[..n]);
        if n == scratch.len() && n < MAX_READ {
            scratch = vec![0u8; 2 * n];
        }
        let eof = n == 0;
        let failed = decode_all(&mut codec, &mut rbuf, eof, &mut msgs);
        let mut bad = false;
        if let Some(e) = &failed {
            tracing::warn!(%sid, "closing connection: {e}");
        }
        if !msgs.is_empty() {
            // The messages share the read buffer's memory: once it holds no more than
            // the start of the next message, a big buffer is given up now, so that a
            // big request's bytes are freed as soon as it has run (before its commit
            // is written), not after.
            if rbuf.capacity() > 4 * READ_CHUNK && rbuf.len() <= READ_CHUNK {
                let mut fresh = BytesMut::with_capacity(READ_CHUNK);
                fresh.extend_from_slice(&rbuf);
                rbuf = fresh;
            }
            let now = Instant::now();
            let (unflushed, timers_moved) = {
                let mut s = lock(&shared.server);
                for m in msgs.drain(..) {
                    if let Err(e) = s.handle_frame_owned(sid, m, now) {
                        // The message is invalid: the connection closes, and the
                        // messages after it are not handled.
                        tracing::warn!(%sid, "closing connection: {e}");
                        bad = true;
                        break;
                    }
                }
                msgs.clear();
                s.take_ready_into(&mut ready);
                (s.has_unflushed(), std::mem::take(&mut s.timers_moved))
            };
            if timers_moved {
                shared.timer.notify_one();
            }
            if let Some(spin) = &shared.spin {
                // The time the messages were handled at, read once for both.
                if spin.on_input(spin.at(now)) {
                    spin.wake.notify_one();
                }
            }
            shared.wake(&ready, Some(sid));
            if unflushed && shared.conns.load(Ordering::Relaxed) > 1 {
                // Group commit: let the other connections that are ready handle their
                // input before this one polls its output, which flushes the logs.
                yield_to_ready_tasks().await;
            }
        }
        last_round = eof || failed.is_some() || bad;
        if !last_round && rbuf.len() >= RUN_AHEAD_MIN {
            // A big message still arriving: the server runs the operations that
            // have come (see `Server::run_ahead`).
            lock(&shared.server).run_ahead(sid, codec.stream_offset(), &rbuf);
        }
    }
    let ready = {
        let mut s = lock(&shared.server);
        s.disconnect(sid);
        // Commits staged by this or any connection are not left unwritten when the server stops.
        s.flush_logs();
        s.take_ready()
    };
    lock(&shared.wakers).remove(&sid);
    shared.conns.fetch_sub(1, Ordering::Relaxed);
    shared.wake(&ready, None);
}

/// Lets the tasks already queued in the runtime run before the current one continues. Unlike
/// `tokio::task::yield_now`, whose wake-up waits for the next poll of the I/O driver (a system
/// call), the task re-queues itself at the back of the run queue at once: when no other task is
/// ready, it simply continues.
async fn yield_to_ready_tasks() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Splits every complete message in `buf` into `msgs` (at the end of the input, `eof`, also
/// what [`JsonRpcCodec::decode_frame_eof`] makes of the rest); returns the framing error that
/// ends the connection, if any. Messages framed before an error are still handled, as they were
/// received first.
fn decode_all(
    codec: &mut JsonRpcCodec,
    buf: &mut BytesMut,
    eof: bool,
    msgs: &mut Vec<Frame>,
) -> Option<JsonRpcError> {
    loop {
        match codec.decode_frame(buf) {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => break,
            Err(e) => return Some(e),
        }
    }
    if eof {
        match codec.decode_frame_eof(buf) {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => {}
            Err(e) => return Some(e),
        }
    }
    None
}

/// Encodes the messages of `out` into `wbuf` and writes them; large pre-encoded messages (shared
/// initial dumps) go straight to the socket, without a copy into the buffer.
async fn write_queued<S: Socket>(
    stream: &AsyncFd<S>,
    wbuf: &mut BytesMut,
    out: &mut Vec<Outgoing>,
) -> Result<(), JsonRpcError> {
    if out.is_empty() {
        return Ok(());
    }
    // The usual case, one reply already encoded in one piece: written as it is.
    if let [Outgoing::Encoded(parts)] = out.as_slice() {
        if let [part] = parts.as_slice() {
            if wbuf.is_empty() {
                write_all(stream, part).await.map_err(JsonRpcError::Io)?;
                out.clear();
                return Ok(());
            }
        }
    }
    for m in out.drain(..) {
        let large = m.encoded_len().is_some_and(|n| n >= READ_CHUNK);
        match m {
            Outgoing::Encoded(parts) if large => {
                if !wbuf.is_empty() {
                    write_all(stream, wbuf).await.map_err(JsonRpcError::Io)?;
                    wbuf.clear();
                }
                for p in parts {
                    write_all(stream, &p).await.map_err(JsonRpcError::Io)?;
                }
            }
            m => m.encode(wbuf).map_err(JsonRpcError::Encode)?,
        }
    }
    if !wbuf.is_empty() {
        write_all(stream, wbuf).await.map_err(JsonRpcError::Io)?;
        wbuf.clear();
    }
    Ok(())
}

/// Writes all of `buf` to the socket of `stream`: directly while the socket takes it, and when
/// it is full, waiting for room through a duplicate of the socket registered for output (for
/// this call only; see [`Socket`]).
async fn write_all<S: Socket>(stream: &AsyncFd<S>, mut buf: &[u8]) -> io::Result<()> {
    let mut waiter: Option<AsyncFd<S>> = None;
    while !buf.is_empty() {
        let r = match &waiter {
            None => stream.get_ref().write_some(buf),
            Some(w) => {
                let mut guard = w.writable().await?;
                match guard.try_io(|s| s.get_ref().write_some(buf)) {
                    Ok(r) => r,
                    // Still full: the readiness is cleared; wait again.
                    Err(_) => continue,
                }
            }
        };
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && waiter.is_none() => {
                waiter = Some(watch(stream.get_ref().duplicate()?, Interest::WRITABLE)?);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    /// A server that was idle is woken by a request but does not spin: only a request that
    /// comes within the budget after the previous activity starts spinning, which lasts until
    /// the budget has passed since the latest activity.
    #[test]
    fn spin_starts_only_after_a_fast_request() {
        let spin = Spin::new(Duration::from_micros(50));
        // First request after a long idle time: no spin.
        assert!(!spin.on_input(10_000 * US));
        assert!(!spin.keep_on(10_000 * US));
        spin.on_output(10_010 * US);
        // The next one 30 µs after the reply: spin.
        assert!(spin.on_input(10_040 * US));
        spin.spinning.store(true, Ordering::Relaxed);
        spin.on_output(10_050 * US);
        assert!(spin.keep_on(10_090 * US));
        // The budget has passed since the reply: stop.
        assert!(!spin.keep_on(10_101 * US));
    }

    /// A client that thinks longer than the budget between a reply and its next request turns
    /// spinning off for as long as it does so, and a short gap turns it on again.
    #[test]
    fn a_slow_client_stops_the_spin() {
        let spin = Spin::new(Duration::from_micros(50));
        let mut t = 1_000 * US;
        spin.on_input(t);
        spin.on_output(t + 10 * US);
        t += 40 * US;
        assert!(spin.on_input(t));
        spin.spinning.store(true, Ordering::Relaxed);
        spin.on_output(t + 10 * US);
        // 200 µs of think time: the spin ran out after 50 µs and the request missed it.
        assert!(!spin.keep_on(t + 70 * US));
        spin.spinning.store(false, Ordering::Relaxed);
        for _ in 0..10 {
            t += 210 * US;
            assert!(!spin.on_input(t), "no spin while requests come slowly");
            assert!(!spin.keep_on(t));
            spin.on_output(t + 10 * US);
        }
        // Back to back again.
        t += 30 * US;
        assert!(spin.on_input(t));
    }

    /// A yield that ran another thread for a while stops the spin and backs off: no spin
    /// starts for 10 ms, then 20 ms after the next contended yield; a spin that catches a
    /// request uncontended resets the back-off.
    #[test]
    fn contended_yields_back_off() {
        let spin = Spin::new(Duration::from_micros(50));
        let mut t = 1_000 * US;
        spin.on_input(t);
        t += 20 * US;
        assert!(spin.on_input(t));
        spin.spinning.store(true, Ordering::Relaxed);
        // A yield that returned at once changes nothing.
        spin.after_yield(t + 5 * US, US);
        assert!(spin.keep_on(t + 6 * US));
        // One that ran another thread for 1 ms stops the spin.
        spin.after_yield(t + 1_010 * US, 1_000 * US);
        assert!(!spin.keep_on(t + 1_010 * US));
        spin.spinning.store(false, Ordering::Relaxed);
        // Fast requests within the back-off do not start it again.
        let until = t + 1_010 * US + MIN_BACKOFF_NS;
        t += 1_020 * US;
        while t < until {
            assert!(!spin.on_input(t));
            t += 20 * US;
        }
        assert!(spin.on_input(t));
        spin.spinning.store(true, Ordering::Relaxed);
        // Contended again: twice as long.
        spin.after_yield(t, 2_000 * US);
        spin.spinning.store(false, Ordering::Relaxed);
        assert!(!spin.on_input(t + 20 * US + MIN_BACKOFF_NS));
        t += 2 * MIN_BACKOFF_NS;
        assert!(!spin.on_input(t));
        assert!(spin.on_input(t + 10 * US));
        spin.spinning.store(true, Ordering::Relaxed);
        // This spin catches the next request: the back-off is short again.
        assert!(!spin.on_input(t + 30 * US));
        assert_eq!(spin.backoff_ns.load(Ordering::Relaxed), MIN_BACKOFF_NS);
    }

    #[test]
    fn parses_remotes() {
        assert_eq!(
            "punix:/tmp/x.sock".parse::<Remote>(),
            Ok(Remote::Punix("/tmp/x.sock".into()))
        );
        assert_eq!(
            "ptcp:6641:127.0.0.1".parse::<Remote>(),
            Ok(Remote::Ptcp {
                port: 6641,
                ip: "127.0.0.1".parse().unwrap()
            })
        );
        assert_eq!(
            "ptcp:0".parse::<Remote>(),
            Ok(Remote::Ptcp {
                port: 0,
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            })
        );
        assert!("tcp:1.2.3.4:5".parse::<Remote>().is_err());
        assert!("ptcp:x".parse::<Remote>().is_err());
    }
}
