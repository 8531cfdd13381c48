//! Side-by-side benchmark driver: our server and a real ovsdb-server 3.1, both as separate
//! processes serving the same database files, driven by the same clients over persistent Unix
//! connections. Ignored by default; run in release mode:
//!
//! ```text
//! cargo test --release -p ovsdb --test server -- --ignored bench --nocapture
//! ```
//!
//! `OVNKIT_BENCH_ROWS` sets the size of the Southbound used for the dump and memory figures
//! (default 300000 `Logical_Flow` rows); `OVNKIT_BENCH_DUMP_CLIENTS` the client counts of the
//! initial-dump figures (default `1,50`; the real server needs about half an hour for 50 clients
//! at the default size, so `1` is the quick choice); `OVNKIT_BENCH_TXNS_ONLY=1` stops after the
//! transaction figures (throughput and server CPU per transaction, from the threads' schedstat);
//! `OVNKIT_BENCH_STRACE=1` also counts the servers' system calls per transaction with `strace -c`
//! (which slows them down: the CPU figures of such a run mean nothing); `OVNKIT_BENCH_CLIENTS`
//! (default `1,4,16`), `OVNKIT_BENCH_WORKLOAD` (`single` or `port`; default both) and
//! `OVNKIT_BENCH_WHICH` (`ours` or `real`; default both, also for the dump and memory figures)
//! select cases (an empty `OVNKIT_BENCH_CLIENTS=` skips the transactions), and
//! `OVNKIT_BENCH_RUNS=N` runs each case N times, the two servers alternating, and reports
//! medians. Our server runs in a child
//! process on a one-thread runtime like `ovnkit ovsdb-server`; `OVNKIT_SERVER_THREADS=2` gives it
//! two worker threads instead. `OVNKIT_BENCH_BUSY_POLL_US=N` gives our server a busy-poll
//! budget of N µs (`NetOptions::busy_poll`; 0 turns it off; unset, the default adaptive
//! busy-poll of `ovnkit ovsdb-server`, `net::DEFAULT_BUSY_POLL`).
//! `OVNKIT_BENCH_DRIVER` picks how the clients of a timed run are driven: `epoll` (the default)
//! runs all connections from one thread with non-blocking sockets watched by epoll, each
//! connection closed-loop (one request outstanding); `poll` likewise with one poll(2) over all
//! connections per turn; `threads` gives each connection a blocking thread of its own. Both report the driver's CPU and context switches per transaction.
//! `OVNKIT_BENCH_CALLGRIND=OUT` (with `OVNKIT_BENCH_WHICH=ours`) runs our server under callgrind
//! and counts its instructions over each timed section only (OUT may hold `%p`; one file per
//! case, `OUT.1`: divide its `totals` by the transactions).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::crash::ChildServer;

/// Sends one request and waits for the reply with the same id, skipping notifications; returns
/// the reply's bytes. Replies are framed by bracket depth, without parsing.
struct RawClient {
    stream: UnixStream,
    buf: Vec<u8>,
    /// The read buffer, allocated once (a fresh zeroed megabyte per read cost the driver more
    /// CPU than the servers' work on a small transaction).
    chunk: Vec<u8>,
    next_id: u64,
}

impl RawClient {
    fn connect(sock: &Path) -> Self {
        Self {
            stream: UnixStream::connect(sock).unwrap(),
            buf: Vec::new(),
            chunk: vec![0u8; 1 << 20],
            next_id: 1,
        }
    }

    fn next_message(&mut self) -> Vec<u8> {
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let mut i = 0;
        loop {
            while i < self.buf.len() {
                let b = self.buf[i];
                i += 1;
                if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            let rest = self.buf.split_off(i);
                            return std::mem::replace(&mut self.buf, rest);
                        }
                    }
                    _ => {}
                }
            }
            wait_readable(&self.stream);
            let n = self.stream.read(&mut self.chunk).unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }

    /// The request's text and the `"id":N,` its reply starts with.
    fn encode(&mut self, method: &str, params: Value) -> (Vec<u8>, Vec<u8>) {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        (msg.into_bytes(), format!("\"id\":{id},").into_bytes())
    }

    /// Sends an encoded request and returns its reply.
    fn send_encoded(&mut self, (msg, want): &(Vec<u8>, Vec<u8>)) -> Vec<u8> {
        self.stream.write_all(msg).unwrap();
        loop {
            let m = self.next_message();
            // Replies start with "id" in both servers' encodings; notifications have "id":null.
            if m.windows(want.len()).take(64).any(|w| w == &want[..]) {
                return m;
            }
        }
    }

    fn call_raw(&mut self, method: &str, params: Value) -> Vec<u8> {
        let req = self.encode(method, params);
        self.send_encoded(&req)
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let raw = self.call_raw(method, params);
        let v: Value = serde_json::from_slice(&raw).unwrap();
        v["result"].clone()
    }
}

/// Waits until `stream` has something to read, with poll(2), as OVSDB clients wait for their
/// sockets. A thread blocked in read(2) instead is woken for nothing each time the server takes
/// a request off the socket (the kernel wakes the socket's writers then, and a blocked reader
/// waits on the same queue): a wasted wake-up per transaction that both servers paid for.
#[allow(unsafe_code)]
fn wait_readable(stream: &UnixStream) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `fd` is one valid, initialized pollfd that outlives the call.
    unsafe { libc::poll(&mut fd, 1, -1) };
}

/// A real ovsdb-server process, SIGKILLed on drop.
struct RealProcess(Child);

impl Drop for RealProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

enum Which {
    Ours(ChildServer),
    Real(RealProcess),
}

struct Served {
    which: Which,
    sock: PathBuf,
}

impl Served {
    fn ours(db: &Path, dir: &Path) -> Self {
        let sock = dir.join("ours.sock");
        Self {
            which: Which::Ours(ChildServer::start(db, &sock)),
            sock,
        }
    }

    /// A real ovsdb-server started directly (loading a big file takes longer than testkit's
    /// readiness probing tolerates), killed on drop.
    fn real(ovn: &testkit::Toolbox, db: &Path) -> Self {
        let dir = db.parent().unwrap();
        let sock = dir.join("real.sock");
        let _ = std::fs::remove_file(&sock);
        let program = ovn.find(testkit::Tool::OvsdbServer).unwrap();
        let child = Command::new(program)
            .arg("--no-chdir")
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.join("real.ctl").display()))
            .arg(format!("--log-file={}", dir.join("real.log").display()))
            .arg(db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let real = RealProcess(child);
        let deadline = Instant::now() + Duration::from_secs(600);
        while UnixStream::connect(&sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "real ovsdb-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            which: Which::Real(real),
            sock,
        }
    }

    fn pid(&self) -> u32 {
        match &self.which {
            Which::Ours(c) => c.pid(),
            Which::Real(p) => p.0.id(),
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

fn fresh_db(dir: &Path, name: &str, schema: &Path, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    ovsdb::file::write_database(&path, &schema, records).unwrap();
    path
}

/// What the kernel counted for a process so far.
#[derive(Clone, Copy, Default)]
struct ProcessCpu {
    /// On-CPU nanoseconds summed over its threads' schedstat.
    ns: u64,
    /// User ticks.
    user: u64,
    /// System ticks.
    sys: u64,
    /// Voluntary context switches (sleeps) summed over its threads.
    sleeps: u64,
    /// Involuntary context switches (preemptions) summed over its threads.
    preempted: u64,
    /// Minor page faults (pages the kernel gave it, zeroed, or mapped again).
    minflt: u64,
}

/// CPU time and context switches of process `pid` so far.
fn process_cpu(pid: u32) -> ProcessCpu {
    let mut c = ProcessCpu::default();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            c.ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            for l in status.lines() {
                let num = |v: &str| v.trim().parse::<u64>().unwrap_or(0);
                if let Some(v) = l.strip_prefix("voluntary_ctxt_switches:") {
                    c.sleeps += num(v);
                } else if let Some(v) = l.strip_prefix("nonvoluntary_ctxt_switches:") {
                    c.preempted += num(v);
                }
            }
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime is the 12th, stime the
    // 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    c.user = f.get(11).copied().unwrap_or(0);
    c.sys = f.get(12).copied().unwrap_or(0);
    c.minflt = f.get(7).copied().unwrap_or(0);
    c
}

/// On-CPU nanoseconds of the calling thread so far (its schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What a driver's threads spent over a timed section.
#[derive(Clone, Copy, Default)]
struct Spent {
    /// On-CPU nanoseconds (schedstat).
    ns: u64,
    /// Voluntary context switches (sleeps).
    sleeps: u64,
    /// Involuntary context switches (preemptions).
    preempted: u64,
}

impl std::ops::Sub for Spent {
    type Output = Self;

    fn sub(self, rhs: Self) -> Self {
        Self {
            ns: self.ns - rhs.ns,
            sleeps: self.sleeps - rhs.sleeps,
            preempted: self.preempted - rhs.preempted,
        }
    }
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, rhs: Self) {
        self.ns += rhs.ns;
        self.sleeps += rhs.sleeps;
        self.preempted += rhs.preempted;
    }
}

/// The calling thread's CPU and context switches so far.
#[allow(unsafe_code)]
fn thread_spent() -> Spent {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage that outlives the call.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    Spent {
        ns: thread_cpu_ns(),
        sleeps: u64::try_from(ru.ru_nvcsw).unwrap_or(0),
        preempted: u64::try_from(ru.ru_nivcsw).unwrap_or(0),
    }
}

/// How the clients of a timed run are driven (`OVNKIT_BENCH_DRIVER`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// One blocking thread per connection: write, poll(2), read (`threads`).
    Threads,
    /// All connections from one thread, non-blocking sockets, watched with one poll(2) over
    /// all of them per turn (`poll`) or with epoll (`epoll`, the default).
    One(Wait),
}

impl Driver {
    fn from_env() -> Self {
        match std::env::var("OVNKIT_BENCH_DRIVER").as_deref() {
            Ok("threads") => Self::Threads,
            Ok("poll") => Self::One(Wait::Poll),
            Ok("epoll") | Err(_) => Self::One(Wait::Epoll),
            Ok(other) => panic!("OVNKIT_BENCH_DRIVER={other}: want `epoll`, `poll` or `threads`"),
        }
    }
}

/// Panics unless `reply` is a successful `transact` reply: an operation's error is an object
/// starting with "error"; the reply's own "error" member (null) follows "result".
fn check_reply(reply: &[u8]) {
    assert!(
        reply.windows(10).any(|w| w == b"\"result\":[")
            && !reply.windows(9).any(|w| w == b"{\"error\":"),
        "{}",
        String::from_utf8_lossy(reply)
    );
}

/// Encoded requests per connection: the request's text and the `"id":N,` its reply starts with.
type Work = Vec<(RawClient, Vec<(Vec<u8>, Vec<u8>)>)>;

/// The thread-per-connection driver: each thread sends its connection's requests one after the
/// other, each when the previous reply is complete.
fn drive_threads(work: Work) -> Spent {
    let handles: Vec<_> = work
        .into_iter()
        .map(|(mut conn, reqs)| {
            std::thread::spawn(move || {
                let t0 = thread_spent();
                for req in &reqs {
                    check_reply(&conn.send_encoded(req));
                }
                thread_spent() - t0
            })
        })
        .collect();
    let mut spent = Spent::default();
    for h in handles {
        spent += h.join().unwrap();
    }
    spent
}

/// One connection of the one-thread driver: its requests, the one in flight, and its reply so
/// far, framed by bracket depth as `RawClient::next_message` does, but resumable.
struct PollConn {
    stream: UnixStream,
    reqs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The request in flight (all sent when `next == reqs.len()`).
    next: usize,
    /// Bytes of `reqs[next]` written so far.
    written: usize,
    buf: Vec<u8>,
    /// Where the scan of `buf` resumes, and its state there.
    scan: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
}

impl PollConn {
    /// Writes what the socket takes of the request in flight; true when all of it is written.
    fn write_some(&mut self) -> bool {
        let msg = &self.reqs[self.next].0;
        while self.written < msg.len() {
            match self.stream.write(&msg[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        true
    }

    /// Scans what was read for complete messages; for the reply to the request in flight,
    /// checks it and starts the next request. True while requests remain.
    fn take_replies(&mut self) -> bool {
        let mut i = self.scan;
        let mut start = 0;
        while i < self.buf.len() {
            let b = self.buf[i];
            i += 1;
            if self.in_str {
                if self.esc {
                    self.esc = false;
                } else if b == b'\\' {
                    self.esc = true;
                } else if b == b'"' {
                    self.in_str = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_str = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let m = &self.buf[start..i];
                        start = i;
                        let want = &self.reqs[self.next].1;
                        if m.windows(want.len()).take(64).any(|w| w == &want[..]) {
                            check_reply(m);
                            self.next += 1;
                            self.written = 0;
                            if self.next < self.reqs.len() {
                                self.write_some();
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.buf.drain(..start);
        self.scan = self.buf.len();
        self.next < self.reqs.len()
    }
}

/// How the one-thread driver waits for its sockets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// One poll(2) over all unfinished connections per turn.
    Poll,
    /// epoll: the sockets registered once, one epoll_wait(2) per turn returning the ready ones.
    Epoll,
}

/// The sockets the one-thread driver watches, with poll(2) or epoll.
struct Watch {
    /// poll(2)'s array, one entry per connection (a negative fd once finished).
    fds: Vec<libc::pollfd>,
    /// The epoll instance.
    epoll: Option<std::os::fd::OwnedFd>,
    events: Vec<libc::epoll_event>,
}

#[allow(unsafe_code)]
impl Watch {
    fn new(wait: Wait, conns: &[PollConn]) -> Self {
        use std::os::fd::{AsRawFd, FromRawFd};
        let fds = conns
            .iter()
            .map(|c| libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events: 0,
                revents: 0,
            })
            .collect();
        let epoll = (wait == Wait::Epoll).then(|| {
            // SAFETY: plain system call; the result is checked before use.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(
                fd >= 0,
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `fd` is a new descriptor owned by nobody else.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
        });
        let mut w = Self {
            fds,
            epoll,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; conns.len().max(1)],
        };
        for (i, c) in conns.iter().enumerate() {
            w.ctl(libc::EPOLL_CTL_ADD, i, c);
        }
        w
    }

    /// What connection `c` waits for: to write the rest of its request, or its reply.
    fn interest(c: &PollConn) -> i16 {
        if c.reqs.get(c.next).is_some_and(|r| c.written < r.0.len()) {
            libc::POLLOUT
        } else {
            libc::POLLIN
        }
    }

    /// Registers (or re-registers) connection `i`'s interest with epoll.
    fn ctl(&mut self, op: libc::c_int, i: usize, c: &PollConn) {
        use std::os::fd::AsRawFd;
        let Some(ep) = &self.epoll else { return };
        let events = if Self::interest(c) == libc::POLLOUT {
            libc::EPOLLOUT
        } else {
            libc::EPOLLIN
        };
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: i as u64,
        };
        // SAFETY: `ev` is a valid event that outlives the call; the fds are open.
        let r = unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, c.stream.as_raw_fd(), &mut ev) };
        assert_eq!(r, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    }

    /// Waits until some connection is ready; fills `ready` with their indices.
    fn wait(&mut self, conns: &[PollConn], ready: &mut Vec<usize>) {
        use std::os::fd::AsRawFd;
        ready.clear();
        match &self.epoll {
            Some(ep) => {
                // SAFETY: `events` is a valid, writable array of `events.len()` entries.
                let n = unsafe {
                    libc::epoll_wait(
                        ep.as_raw_fd(),
                        self.events.as_mut_ptr(),
                        self.events.len() as libc::c_int,
                        -1,
                    )
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "epoll_wait: {e}");
                    return;
                }
                ready.extend(self.events[..n as usize].iter().map(|e| e.u64 as usize));
            }
            None => {
                for (fd, c) in self.fds.iter_mut().zip(conns) {
                    if fd.fd >= 0 {
                        fd.events = Self::interest(c);
                    }
                }
                // SAFETY: `fds` is a valid array of `fds.len()` initialized pollfds that
                // outlives the call; negative fds (finished connections) are ignored.
                let n = unsafe {
                    libc::poll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, -1)
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "poll: {e}");
                    return;
                }
                ready.extend(
                    self.fds
                        .iter()
                        .enumerate()
                        .filter(|(_, fd)| fd.fd >= 0 && fd.revents != 0)
                        .map(|(i, _)| i),
                );
            }
        }
    }

    /// Connection `i` finished: stop watching it.
    fn done(&mut self, i: usize, c: &PollConn) {
        self.fds[i].fd = -1;
        self.ctl(libc::EPOLL_CTL_DEL, i, c);
    }
}

/// The one-thread driver: every connection closed-loop (one request outstanding, the next sent
/// when its reply is complete), all watched by one thread with poll(2) or epoll.
fn drive_one(work: Work, wait: Wait) -> Spent {
    let t0 = thread_spent();
    let mut conns: Vec<PollConn> = work
        .into_iter()
        .filter(|(_, reqs)| !reqs.is_empty())
        .map(|(conn, reqs)| {
            assert!(conn.buf.is_empty());
            conn.stream.set_nonblocking(true).unwrap();
            PollConn {
                stream: conn.stream,
                reqs,
                next: 0,
                written: 0,
                buf: Vec::with_capacity(1 << 16),
                scan: 0,
                depth: 0,
                in_str: false,
                esc: false,
            }
        })
        .collect();
    for c in &mut conns {
        c.write_some();
    }
    let mut watch = Watch::new(wait, &conns);
    let mut chunk = vec![0u8; 1 << 16];
    let mut ready = Vec::with_capacity(conns.len());
    let mut active = conns.len();
    while active > 0 {
        watch.wait(&conns, &mut ready);
        for &i in &ready {
            let c = &mut conns[i];
            if Watch::interest(c) == libc::POLLOUT {
                if c.write_some() {
                    watch.ctl(libc::EPOLL_CTL_MOD, i, c);
                }
                continue;
            }
            match c.stream.read(&mut chunk) {
                Ok(0) => panic!("server closed the connection"),
                Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => panic!("read: {e}"),
            }
            let more = c.take_replies();
            let c = &conns[i];
            if !more {
                watch.done(i, c);
                active -= 1;
            } else if Watch::interest(c) == libc::POLLOUT {
                watch.ctl(libc::EPOLL_CTL_MOD, i, c);
            }
        }
    }
    thread_spent() - t0
}

/// What one timed run measured.
struct Rate {
    txn_per_s: f64,
    /// Server CPU per transaction, microseconds.
    cpu_us: f64,
    /// Share of the server's CPU ticks spent in the kernel.
    sys_share: f64,
    /// The driver's (this process's) CPU per transaction, microseconds.
    driver_us: f64,
    /// The server's sleeps (voluntary context switches) per transaction.
    sleeps: f64,
    /// The server's preemptions (involuntary context switches) per transaction.
    preempted: f64,
    /// The driver's sleeps (voluntary context switches, all its threads) per transaction.
    driver_sleeps: f64,
    /// The driver's preemptions (involuntary context switches) per transaction.
    driver_preempted: f64,
    /// The share of the machine's CPU time the hypervisor stole during the run, percent
    /// (throughput of a run with more than a few percent is not a quiet machine's).
    steal_pct: f64,
}

/// Transactions per second with `clients` concurrent clients, each running `per_client`
/// transactions made by `txn(client, i)` one after the other, and the CPU the server process
/// `pid` spent on them.
fn throughput(
    sock: &Path,
    pid: u32,
    clients: usize,
    per_client: usize,
    setup: &dyn Fn(&mut RawClient, usize),
    txn: fn(usize, usize) -> Value,
) -> Rate {
    let mut conns: Vec<RawClient> = (0..clients).map(|_| RawClient::connect(sock)).collect();
    for (c, conn) in conns.iter_mut().enumerate() {
        setup(conn, c);
    }
    // `OVNKIT_BENCH_STRACE=1`: count the server's system calls over the timed section (which
    // strace slows down; the CPU figures of such a run mean nothing).
    let strace = std::env::var_os("OVNKIT_BENCH_STRACE").map(|_| {
        let out = std::env::temp_dir().join(format!("ovnkit-bench-strace-{pid}"));
        let child = Command::new("strace")
            .args(["-c", "-f", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        (child, out)
    });
    // The requests are encoded before the clock starts: the driver's own work per transaction
    // is then a write, a poll, a read and a scan of the reply for its id and for an error.
    let work: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            let reqs: Vec<_> = (0..per_client)
                .map(|i| conn.encode("transact", txn(c, i)))
                .collect();
            (conn, reqs)
        })
        .collect();
    // `OVNKIT_BENCH_CALLGRIND=OUT` (our server only): its instructions over the timed section.
    let callgrind = std::env::var_os("OVNKIT_BENCH_CALLGRIND").is_some();
    let callgrind_control = |args: &[&str]| {
        let _ = Command::new("callgrind_control")
            .args(args)
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    if callgrind {
        callgrind_control(&["-z"]);
        callgrind_control(&["-i", "on"]);
    }
    let driver = Driver::from_env();
    let cpu0 = process_cpu(pid);
    let steal0 = testkit::CpuSteal::now();
    let start = Instant::now();
    let spent = match driver {
        Driver::Threads => drive_threads(work),
        Driver::One(wait) => drive_one(work, wait),
    };
    let secs = start.elapsed().as_secs_f64();
    let cpu1 = process_cpu(pid);
    if callgrind {
        callgrind_control(&["-i", "off"]);
        callgrind_control(&["-d"]);
    }
    let n = (clients * per_client) as f64;
    if let Some((mut child, out)) = strace {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        let calls: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // % time, seconds, usecs/call, calls, [errors,] syscall
                let calls: f64 = f.get(3)?.parse().ok()?;
                Some(format!("{} {:.2}", f.last()?, calls / n))
            })
            .collect();
        eprintln!("  system calls per txn (pid {pid}): {}", calls.join(", "));
    }
    let (user, sys) = (cpu1.user - cpu0.user, cpu1.sys - cpu0.sys);
    Rate {
        sleeps: (cpu1.sleeps - cpu0.sleeps) as f64 / n,
        preempted: (cpu1.preempted - cpu0.preempted) as f64 / n,
        txn_per_s: n / secs,
        cpu_us: (cpu1.ns - cpu0.ns) as f64 / 1000.0 / n,
        sys_share: sys as f64 / (user + sys).max(1) as f64,
        driver_us: spent.ns as f64 / 1000.0 / n,
        driver_sleeps: spent.sleeps as f64 / n,
        driver_preempted: spent.preempted as f64 / n,
        steal_pct: testkit::CpuSteal::now().percent_since(&steal0),
    }
}

fn insert_switch(c: usize, i: usize) -> Value {
    json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch",
        "row": {"name": format!("ls-{c}-{i}"), "external_ids": ["map", [["k", "v"]]]}}])
}

fn insert_port(c: usize, i: usize) -> Value {
    json!(["OVN_Northbound",
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p",
         "row": {"name": format!("lsp-{c}-{i}"),
                 "addresses": ["set", [format!("00:00:00:{:02x}:{:02x}:{:02x} 10.{}.{}.{}", c, i / 256, i % 256, c, i / 256, i % 256)]]}},
        {"op": "mutate", "table": "Logical_Switch", "where": [["name", "==", format!("sw{c}")]],
         "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}])
}

/// A Southbound with `n` logical flows over 100 datapaths, as one snapshot record, and the number
/// of atoms it stores.
fn big_sb(n: usize) -> (Value, usize) {
    let mut dps = Map::new();
    let mut dp_uuids = Vec::new();
    let mut atoms = 0;
    for i in 0..100 {
        let u = uuid::Uuid::new_v4().to_string();
        dps.insert(
            u.clone(),
            json!({"tunnel_key": i + 1, "external_ids": ["map", [["name", format!("dp{i}")]]]}),
        );
        dp_uuids.push(u);
        atoms += 3;
    }
    let mut flows = Map::new();
    for i in 0..n {
        let m = format!(
            "ip4.src == 10.{}.{}.{} && tcp.dst == {}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255,
            i % 65536
        );
        flows.insert(
            uuid::Uuid::new_v4().to_string(),
            json!({
                "logical_datapath": ["uuid", dp_uuids[i % 100]],
                "pipeline": if i % 2 == 0 { "ingress" } else { "egress" },
                "table_id": i % 30,
                "priority": i % 1000,
                "match": m,
                "actions": "reg0[1] = 1; next;",
                "external_ids": ["map", [["source", "northd.c:8711"], ["stage-name", "ls_in_acl"]]],
            }),
        );
        atoms += 10;
    }
    (
        json!({"Datapath_Binding": dps, "Logical_Flow": flows}),
        atoms,
    )
}

/// The client counts of the initial-dump figures (`OVNKIT_BENCH_DUMP_CLIENTS`, default 1 and 50).
fn dump_clients() -> Vec<usize> {
    std::env::var("OVNKIT_BENCH_DUMP_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 50])
}

fn dump_secs(sock: &Path, clients: usize) -> f64 {
    let mut conns: Vec<RawClient> = (0..clients).map(|_| RawClient::connect(sock)).collect();
    let start = Instant::now();
    let handles: Vec<_> = conns
        .drain(..)
        .enumerate()
        .map(|(c, mut conn)| {
            std::thread::spawn(move || {
                let r = conn.call_raw(
                    "monitor_cond",
                    json!(["OVN_Southbound", format!("m{c}"), {"Logical_Flow": [{}], "Datapath_Binding": [{}]}]),
                );
                r.len()
            })
        })
        .collect();
    let mut bytes = 0;
    for h in handles {
        bytes = h.join().unwrap();
    }
    assert!(bytes > 1000);
    start.elapsed().as_secs_f64()
}

/// One line for one run (or the medians) of both servers: throughput, server CPU per
/// transaction and its kernel share, the driver's CPU per transaction, and the ratios.
fn describe((ours, real): &(Option<Rate>, Option<Rate>)) -> String {
    let one = |name: &str, r: &Rate| {
        format!(
            "{name} {:.0} txn/s, server CPU {:.1} µs/txn (sys {:.0}%, {:.2} sleeps and {:.2} \
             preemptions per txn), driver CPU {:.1} µs/txn ({:.2} sleeps and {:.2} preemptions \
             per txn), CPU stolen {:.0}%",
            r.txn_per_s,
            r.cpu_us,
            r.sys_share * 100.0,
            r.sleeps,
            r.preempted,
            r.driver_us,
            r.driver_sleeps,
            r.driver_preempted,
            r.steal_pct
        )
    };
    match (ours, real) {
        (Some(o), Some(r)) => format!(
            "ratio {:.2}, real/ours CPU {:.2}; {}; {}",
            o.txn_per_s / r.txn_per_s,
            r.cpu_us / o.cpu_us,
            one("ours", o),
            one("real", r)
        ),
        (Some(o), None) => one("ours", o),
        (None, Some(r)) => one("real", r),
        (None, None) => String::new(),
    }
}

/// Field-wise medians of several runs (the ratios of a median line are those of the medians).
fn medians(runs: &[(Option<Rate>, Option<Rate>)]) -> (Option<Rate>, Option<Rate>) {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let of = |rs: Vec<&Rate>| {
        if rs.is_empty() {
            return None;
        }
        Some(Rate {
            txn_per_s: median(rs.iter().map(|r| r.txn_per_s).collect()),
            cpu_us: median(rs.iter().map(|r| r.cpu_us).collect()),
            sys_share: median(rs.iter().map(|r| r.sys_share).collect()),
            driver_us: median(rs.iter().map(|r| r.driver_us).collect()),
            sleeps: median(rs.iter().map(|r| r.sleeps).collect()),
            preempted: median(rs.iter().map(|r| r.preempted).collect()),
            driver_sleeps: median(rs.iter().map(|r| r.driver_sleeps).collect()),
            driver_preempted: median(rs.iter().map(|r| r.driver_preempted).collect()),
            steal_pct: median(rs.iter().map(|r| r.steal_pct).collect()),
        })
    };
    (
        of(runs.iter().filter_map(|p| p.0.as_ref()).collect()),
        of(runs.iter().filter_map(|p| p.1.as_ref()).collect()),
    )
}

#[test]
#[ignore = "benchmark; run with --release -- --ignored bench --nocapture"]
fn bench_side_by_side() {
    let ovn = testkit::require_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let sb = ovn.schema(testkit::Schema::Southbound).unwrap();
    let total: usize = std::env::var("OVNKIT_BENCH_TXNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4800);
    let env_list = |name: &str, default: &[usize]| -> Vec<usize> {
        std::env::var(name)
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
    };
    let client_counts = env_list("OVNKIT_BENCH_CLIENTS", &[1, 4, 16]);
    let runs = env_list("OVNKIT_BENCH_RUNS", &[1])[0].max(1);
    let which = std::env::var("OVNKIT_BENCH_WHICH").unwrap_or_default();
    let workload = std::env::var("OVNKIT_BENCH_WORKLOAD").unwrap_or_default();
    let mut report = Vec::new();
    for clients in client_counts {
        for (label, txn) in [
            (
                "single-row inserts",
                insert_switch as fn(usize, usize) -> Value,
            ),
            ("NB port inserts", insert_port),
        ] {
            if (workload == "single" && label != "single-row inserts")
                || (workload == "port" && label != "NB port inserts")
            {
                continue;
            }
            // Per run: (ours, real); the two servers alternate.
            let mut rates: Vec<(Option<Rate>, Option<Rate>)> = Vec::new();
            for _ in 0..runs {
                let mut pair = (None, None);
                for ours in [true, false] {
                    if (ours && which == "real") || (!ours && which == "ours") {
                        continue;
                    }
                    let db = fresh_db(dir.path(), "nb.db", &nb, &[]);
                    let served = if ours {
                        Served::ours(&db, dir.path())
                    } else {
                        Served::real(&ovn, &db)
                    };
                    let setup = |c: &mut RawClient, n: usize| {
                        c.call("transact", json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": {"name": format!("sw{n}")}}]));
                    };
                    let rate = throughput(
                        &served.sock,
                        served.pid(),
                        clients,
                        total / clients,
                        &setup,
                        txn,
                    );
                    if ours {
                        pair.0 = Some(rate);
                    } else {
                        pair.1 = Some(rate);
                    }
                }
                if runs > 1 {
                    eprintln!("  {label}, {clients} clients: {}", describe(&pair));
                }
                rates.push(pair);
            }
            report.push(format!(
                "{label}, {clients} clients{}: {}",
                if runs > 1 {
                    format!(" (medians of {runs} runs)")
                } else {
                    String::new()
                },
                describe(&medians(&rates))
            ));
            eprintln!("{}", report.last().unwrap());
        }
    }
    if std::env::var_os("OVNKIT_BENCH_TXNS_ONLY").is_some() {
        eprintln!("\n{}", report.join("\n"));
        return;
    }
    let rows: usize = std::env::var("OVNKIT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let (snapshot, atoms) = big_sb(rows);
    let empty = fresh_db(dir.path(), "sb-empty.db", &sb, &[]);
    let full = fresh_db(dir.path(), "sb-full.db", &sb, &[snapshot]);
    drop(big_sb(0));
    let mut mem = Vec::new();
    let mut dumps = Vec::new();
    for ours in [true, false] {
        if (ours && which == "real") || (!ours && which == "ours") {
            continue;
        }
        let base = {
            let s = if ours {
                Served::ours(&empty, dir.path())
            } else {
                Served::real(&ovn, &empty)
            };
            std::thread::sleep(Duration::from_millis(300));
            s.rss_kib()
        };
        let t = Instant::now();
        let s = if ours {
            Served::ours(&full, dir.path())
        } else {
            Served::real(&ovn, &full)
        };
        let load = t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(300));
        let loaded = s.rss_kib();
        let per_atom = (loaded.saturating_sub(base) * 1024) as f64 / atoms as f64;
        mem.push(per_atom);
        let clients = dump_clients();
        let one = if clients.contains(&1) {
            dump_secs(&s.sock, 1)
        } else {
            f64::NAN
        };
        let fifty = if clients.contains(&50) {
            dump_secs(&s.sock, 50)
        } else {
            f64::NAN
        };
        dumps.push((one, fifty));
        report.push(format!(
            "{}: load {rows} flows {load:.1}s, RSS {loaded} KiB (empty {base} KiB), {per_atom:.1} B/atom, dump to 1 client {one:.2}s, to 50 clients {fifty:.2}s",
            if ours { "ours" } else { "real" }
        ));
        eprintln!("{}", report.last().unwrap());
    }
    if mem.len() == 2 {
        report.push(format!(
            "ratios ours/real: memory per atom {:.2}, dump time 1 client {:.2}, 50 clients {:.2}",
            mem[0] / mem[1],
            dumps[0].0 / dumps[1].0,
            dumps[0].1 / dumps[1].1
        ));
    }
    eprintln!("\n{}", report.join("\n"));
}

/// What the busy-poll costs where it cannot pay: our server's CPU while idle and while one
/// client sends single-row inserts with a pause between each reply and its next request (the
/// driver waits the pause out on its own CPU), with `NetOptions::busy_poll` off and at
/// `OVNKIT_BENCH_BUSY_POLL_US` µs (default: `net::DEFAULT_BUSY_POLL`); `OVNKIT_BENCH_RUNS` (default 3) alternating
/// runs of each, medians reported. For each pause: transactions per second, the server's CPU as
/// a share of one core and per transaction, and its sleeps per transaction.
#[test]
#[ignore = "benchmark; run with --release -- --ignored bench --nocapture"]
fn bench_busy_poll_cost() {
    let ovn = testkit::require_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let env_num = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let budget = env_num(
        "OVNKIT_BENCH_BUSY_POLL_US",
        u64::try_from(ovsdb::server::net::DEFAULT_BUSY_POLL.as_micros()).unwrap_or(50),
    );
    let runs = env_num("OVNKIT_BENCH_RUNS", 3).max(1);
    // Pauses between a reply and the next request, µs; `None` is the idle server (one second,
    // one client connected).
    let pauses = [
        None,
        Some(2000),
        Some(500),
        Some(200),
        Some(100),
        Some(50),
        Some(0),
    ];
    let segment = Duration::from_millis(500);
    // Per (pause, busy-poll on): (txn/s, CPU share of a core, CPU µs/txn, sleeps/txn) of each run.
    type Sample = (f64, f64, f64, f64);
    let mut samples: Vec<[Vec<Sample>; 2]> = vec![[Vec::new(), Vec::new()]; pauses.len()];
    for _ in 0..runs {
        for (on, us) in [(0, 0), (1, budget)] {
            let db = fresh_db(dir.path(), "nb.db", &nb, &[]);
            let sock = dir.path().join("ours.sock");
            let server = ChildServer::start_with(
                &db,
                &sock,
                &[("OVNKIT_BENCH_BUSY_POLL_US", us.to_string())],
            );
            let pid = server.pid();
            let mut c = RawClient::connect(&sock);
            c.call(
                "transact",
                json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0"}}]),
            );
            let mut next = 0;
            for (k, pause) in pauses.iter().enumerate() {
                let reqs: Vec<_> = match pause {
                    None => Vec::new(),
                    Some(_) => (0..4000)
                        .map(|i| c.encode("transact", insert_switch(0, next + i)))
                        .collect(),
                };
                next += reqs.len();
                let cpu0 = process_cpu(pid);
                let start = Instant::now();
                let mut n = 0usize;
                match pause {
                    None => std::thread::sleep(Duration::from_secs(1)),
                    Some(p) => {
                        let p = Duration::from_micros(*p);
                        for req in &reqs {
                            let r = c.send_encoded(req);
                            assert!(r.windows(10).any(|w| w == b"\"result\":["));
                            n += 1;
                            let t = Instant::now();
                            while t.elapsed() < p {
                                std::hint::spin_loop();
                            }
                            if start.elapsed() >= segment {
                                break;
                            }
                        }
                    }
                }
                let secs = start.elapsed().as_secs_f64();
                let cpu1 = process_cpu(pid);
                let ns = (cpu1.ns - cpu0.ns) as f64;
                let per = n.max(1) as f64;
                samples[k][on].push((
                    n as f64 / secs,
                    ns / 1e9 / secs,
                    ns / 1000.0 / per,
                    (cpu1.sleeps - cpu0.sleeps) as f64 / per,
                ));
            }
            drop(server);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    eprintln!("\nbusy-poll off / {budget} µs, one client, medians of {runs} runs:");
    for (k, pause) in pauses.iter().enumerate() {
        let m = |on: usize, f: fn(&Sample) -> f64| median(samples[k][on].iter().map(f).collect());
        match pause {
            None => eprintln!(
                "  idle: server CPU {:.3}% / {:.3}% of a core",
                m(0, |s| s.1) * 100.0,
                m(1, |s| s.1) * 100.0
            ),
            Some(p) => eprintln!(
                "  pause {p} µs: {:.0} / {:.0} txn/s, server CPU {:.1}% / {:.1}% of a core, \
                 {:.1} / {:.1} µs/txn, {:.2} / {:.2} sleeps/txn",
                m(0, |s| s.0),
                m(1, |s| s.0),
                m(0, |s| s.1) * 100.0,
                m(1, |s| s.1) * 100.0,
                m(0, |s| s.2),
                m(1, |s| s.2),
                m(0, |s| s.3),
                m(1, |s| s.3)
            ),
        }
    }
}

/// Where the time of one client's NB port inserts goes: the engine alone, the sans-IO server core
/// (sessions, monitors, history), and the core with the file log.
#[test]
#[ignore = "benchmark; run with --release -- --ignored bench --nocapture"]
fn bench_port_insert_layers() {
    let ovn = testkit::require_or_skip!();
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let text = std::fs::read_to_string(&nb).unwrap();
    let schema = ovsdb::Schema::from_str_json(&text).unwrap();
    let n = 4800;
    let setup = json!(["OVN_Northbound", {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0"}}]);
    // Engine only.
    let mut db = ovsdb::Database::new(schema.clone());
    let ctx = ovsdb::TxnContext::default();
    db.transact(&setup, &ctx);
    let t = Instant::now();
    for i in 0..n {
        db.transact(&insert_port(0, i), &ctx);
    }
    let engine = n as f64 / t.elapsed().as_secs_f64();
    // Server core, in memory and with a file.
    let mut rates = Vec::new();
    for with_file in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut server =
            ovsdb::server::Server::new(ovsdb::server::ServerConfig::default()).unwrap();
        let db = if with_file {
            let f = fresh_db(dir.path(), "nb.db", &nb, &[]);
            let (db, st, _) =
                ovsdb::server::FileStorage::open(&f, ovsdb::server::StorageOptions::default())
                    .unwrap();
            server.add_database(db, Some(Box::new(st))).unwrap();
            None
        } else {
            Some(ovsdb::Database::new(schema.clone()))
        };
        if let Some(db) = db {
            server.add_database(db, None).unwrap();
        }
        let now = Instant::now();
        let sid = server.connect(now, None);
        let send = |server: &mut ovsdb::server::Server, i: u64, params: Value| {
            server.handle_message(
                sid,
                ovsdb::jsonrpc::Message::Request(ovsdb::jsonrpc::Request {
                    method: "transact".into(),
                    params: params.as_array().cloned().unwrap_or_default(),
                    id: json!(i),
                }),
                now,
            );
            while server.poll_transmit(sid).is_some() {}
        };
        send(&mut server, 0, setup.clone());
        let t = Instant::now();
        for i in 0..n {
            send(&mut server, i as u64 + 1, insert_port(0, i));
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    // `OVNKIT_BENCH_LAYERS_SINGLE=1`: the bytes-to-bytes figure of single-row inserts instead.
    let single = std::env::var_os("OVNKIT_BENCH_LAYERS_SINGLE").is_some();
    let requests: Vec<Vec<u8>> = std::iter::once(setup.clone())
        .chain((0..n).map(|i| {
            if single {
                insert_switch(0, i)
            } else {
                insert_port(0, i)
            }
        }))
        .enumerate()
        .map(|(i, p)| {
            json!({"id": i, "method": "transact", "params": p})
                .to_string()
                .into_bytes()
        })
        .collect();
    let wire = bytes_to_bytes(&nb, &requests);
    if single {
        eprintln!("single-row inserts, {n} txns: bytes to bytes {wire:.0} txn/s");
        return;
    }
    eprintln!(
        "NB port inserts, one switch, {n} txns: engine {engine:.0} txn/s, server core {:.0} txn/s, server core + file {:.0} txn/s, bytes to bytes {wire:.0} txn/s",
        rates[0], rates[1]
    );
}

/// The whole per-message path of NB port inserts without sockets: request bytes decoded by the
/// connection's codec, the file-backed core, the reply encoded to bytes; txn/s. A function of
/// its own for callgrind's `--toggle-collect=*bytes_to_bytes*`.
#[inline(never)]
fn bytes_to_bytes(nb: &Path, requests: &[Vec<u8>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ovsdb::server::Server::new(ovsdb::server::ServerConfig::default()).unwrap();
    let f = fresh_db(dir.path(), "nb.db", nb, &[]);
    let (db, st, _) =
        ovsdb::server::FileStorage::open(&f, ovsdb::server::StorageOptions::default()).unwrap();
    server.add_database(db, Some(Box::new(st))).unwrap();
    let now = Instant::now();
    let sid = server.connect(now, None);
    let mut codec = ovsdb::jsonrpc::JsonRpcCodec::new();
    let mut out = bytes::BytesMut::new();
    let mut t = Instant::now();
    for (i, r) in requests.iter().enumerate() {
        if i == 1 {
            t = Instant::now();
        }
        let mut buf = bytes::BytesMut::from(&r[..]);
        while let Some(f) = codec.decode_frame(&mut buf).unwrap() {
            server.handle_frame(sid, &f, now).unwrap();
        }
        while let Some(m) = server.poll_transmit(sid) {
            m.encode(&mut out).unwrap();
        }
        out.clear();
    }
    (requests.len() - 1) as f64 / t.elapsed().as_secs_f64()
}

/// A transaction shaped like the one a northd round writes to an empty Southbound: `ops`
/// operations, one datapath per 150 (named, with a tunnel key), 20 ports per datapath, and
/// logical flows for the rest (match, actions and `external_ids` as northd writes them, about
/// 330 bytes each); returns the whole `transact` request's text.
fn big_sb_txn(ops: usize) -> String {
    let dps = (ops / 150).max(1);
    let ports = (dps * 20).min(ops - dps);
    let flows = ops - dps - ports;
    let mut params = vec![json!("OVN_Southbound")];
    for d in 0..dps {
        params.push(json!({
            "op": "insert", "table": "Datapath_Binding", "uuid-name": format!("dp{d}"),
            "row": {"tunnel_key": d + 1, "external_ids": ["map", [
                ["logical-switch", uuid::Uuid::from_u128(0x5eed_u128 << 64 | d as u128).to_string()], ["name", format!("node-{d}")]]]},
        }));
    }
    for p in 0..ports {
        let (d, i) = (p % dps, p / dps);
        params.push(json!({
            "op": "insert", "table": "Port_Binding",
            "row": {
                "logical_port": format!("pod-{d}-{i}"), "datapath": ["named-uuid", format!("dp{d}")],
                "tunnel_key": i + 1, "mac": format!("0a:58:0a:{:02x}:{:02x}:{:02x} 10.{}.{}.{}", d >> 8, d & 255, i, d >> 8, d & 255, i + 2),
                "options": ["map", [["requested-chassis", format!("node-{d}")]]],
                "external_ids": ["map", [["namespace", "default"], ["pod", "true"]]],
            },
        }));
    }
    for f in 0..flows {
        let d = f % dps;
        params.push(json!({
            "op": "insert", "table": "Logical_Flow",
            "row": {
                "logical_datapath": ["named-uuid", format!("dp{d}")],
                "pipeline": if f % 2 == 0 { "ingress" } else { "egress" },
                "table_id": f % 30, "priority": (f * 7) % 65536,
                "match": format!("inport == \"pod-{d}-{}\" && eth.src == {{0a:58:0a:00:{:02x}:{:02x}}} && ip4.src == 10.{}.{}.{}", f % 20, (f >> 8) & 255, f & 255, (f >> 16) & 255, (f >> 8) & 255, f & 255),
                "actions": "reg0[0] = 1; reg8[16] = 1; next;",
                "external_ids": ["map", [["source", "northd.c:6123"], ["stage-hint", format!("{:08x}", f)], ["stage-name", "ls_in_port_sec_ip"]]],
            },
        }));
    }
    json!({"id": 1, "method": "transact", "params": params}).to_string()
}

/// Peak and current resident memory of process `pid`, KiB (`VmHWM`, `VmRSS`).
fn peak_rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The big Southbound commit of a northd round: one client commits a `big_sb_txn` (75,000
/// operations unless `OVNKIT_BENCH_BIG_OPS` says otherwise) to an empty Southbound while
/// another monitors the tables it writes; prints the server's CPU from sending the request until
/// the monitor's update has arrived, and its peak memory. `OVNKIT_BENCH_BIG_RUNS` (1) runs of
/// ours then the real server; `OVNKIT_BENCH_BIG_WHICH=ours` (or `real`) runs only one of them;
/// `OVNKIT_BENCH_BIG_MON=northd` monitors as northd does (see [`big_commit_monitor`]).
/// `OVNKIT_BENCH_BIG_STREAM_MS=N` sends the request in 1 MiB pieces spread evenly over N ms (as
/// northd writes its transaction while it plans it: about 1.8 s at 250 nodes) instead of at
/// once, and also prints the time from its last byte to the reply and the server's CPU in that
/// time. The CPU in milliseconds counts the server's live threads (schedstat), the ticks
/// (`/proc/PID/stat`, 10 ms each) also those that have ended.
#[test]
#[ignore = "benchmark; run with --release -- --ignored bench --nocapture"]
fn bench_big_commit() {
    let ovn = testkit::require_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let sb = ovn.schema(testkit::Schema::Southbound).unwrap();
    let env_num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ops = env_num("OVNKIT_BENCH_BIG_OPS", 75_000);
    let runs = env_num("OVNKIT_BENCH_BIG_RUNS", 1);
    let stream_ms = env_num("OVNKIT_BENCH_BIG_STREAM_MS", 0);
    let which = std::env::var("OVNKIT_BENCH_BIG_WHICH").unwrap_or_default();
    let request = big_sb_txn(ops);
    eprintln!("transaction: {ops} operations, {} bytes", request.len());
    let mut report = Vec::new();
    for run in 0..runs {
        for ours in [true, false] {
            if (ours && which == "real") || (!ours && which == "ours") {
                continue;
            }
            let db = fresh_db(dir.path(), "sb.db", &sb, &[]);
            let served = if ours {
                Served::ours(&db, dir.path())
            } else {
                Served::real(&ovn, &db)
            };
            let pid = served.pid();
            let mut mon = RawClient::connect(&served.sock);
            mon.call(
                "monitor_cond",
                json!(["OVN_Southbound", "m", big_commit_monitor()]),
            );
            let watcher = std::thread::spawn(move || loop {
                let m = mon.next_message();
                if m.windows(9).take(64).any(|w| w == b"\"update2\"") {
                    return m.len();
                }
            });
            let mut writer = RawClient::connect(&served.sock);
            std::thread::sleep(Duration::from_millis(200));
            let (base_peak, base_rss) = peak_rss_kib(pid);
            let cpu0 = process_cpu(pid);
            let t = Instant::now();
            if stream_ms == 0 {
                writer.stream.write_all(request.as_bytes()).unwrap();
            } else {
                const PIECE: usize = 1 << 20;
                let pieces = request.len().div_ceil(PIECE).max(1);
                let every = Duration::from_millis(stream_ms as u64) / pieces as u32;
                for (i, piece) in request.as_bytes().chunks(PIECE).enumerate() {
                    let due = t + every * i as u32;
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    writer.stream.write_all(piece).unwrap();
                }
            }
            let sent_secs = t.elapsed().as_secs_f64();
            let cpu_sent = process_cpu(pid);
            let reply = loop {
                let m = writer.next_message();
                if m.windows(5).take(64).any(|w| w == b"\"id\":") && !m.starts_with(b"{\"id\":null")
                {
                    break m;
                }
            };
            let reply_secs = t.elapsed().as_secs_f64();
            let cpu_reply = process_cpu(pid);
            let update_len = watcher.join().unwrap();
            let secs = t.elapsed().as_secs_f64();
            let cpu1 = process_cpu(pid);
            let (peak, rss) = peak_rss_kib(pid);
            let v: Value = serde_json::from_slice(&reply).unwrap();
            let results = v["result"].as_array().expect("results");
            assert!(
                results.iter().all(|r| r.get("error").is_none()),
                "commit failed: {}",
                results.last().unwrap()
            );
            let streamed = if stream_ms == 0 {
                String::new()
            } else {
                // Ticks count the threads that have ended too (schedstat only the live ones).
                let ticks = |c: &ProcessCpu| c.user + c.sys;
                format!(
                    "; sent in {sent_secs:.2} s, reply {:.2} s after the last byte, CPU {:.0} ms ({} ticks) before the last byte and {:.0} ms ({} ticks) from it to the reply",
                    reply_secs - sent_secs,
                    (cpu_sent.ns - cpu0.ns) as f64 / 1e6,
                    ticks(&cpu_sent) - ticks(&cpu0),
                    (cpu_reply.ns - cpu_sent.ns) as f64 / 1e6,
                    ticks(&cpu_reply) - ticks(&cpu_sent),
                )
            };
            report.push(format!(
                "run {run} {}: CPU {:.0} ms (user {} + sys {} ticks, {} minor faults), reply after {reply_secs:.2} s, update ({update_len} bytes) after {secs:.2} s; \
                 peak RSS {} MiB (before {} MiB), RSS after {} MiB (before {} MiB){streamed}",
                if ours { "ours" } else { "real" },
                (cpu1.ns - cpu0.ns) as f64 / 1e6,
                cpu1.user - cpu0.user,
                cpu1.sys - cpu0.sys,
                cpu1.minflt - cpu0.minflt,
                peak / 1024,
                base_peak / 1024,
                rss / 1024,
                base_rss / 1024,
            ));
            eprintln!("{}", report.last().unwrap());
        }
    }
    eprintln!("\n{}", report.join("\n"));
}

/// The monitor requests of the big-commit benches: every row of the three tables, or with
/// `OVNKIT_BENCH_BIG_MON=northd` as northd asks (`Logical_Flow` without inserts).
fn big_commit_monitor() -> Value {
    if std::env::var("OVNKIT_BENCH_BIG_MON").as_deref() == Ok("northd") {
        json!({"Logical_Flow": [{"select": {"insert": false, "initial": true, "modify": true, "delete": true}}],
               "Datapath_Binding": [{}], "Port_Binding": [{}]})
    } else {
        json!({"Logical_Flow": [{}], "Datapath_Binding": [{}], "Port_Binding": [{}]})
    }
}

/// The big Southbound commit of [`bench_big_commit`] without sockets: the request's bytes
/// through the connection's codec into a file-backed core on a seeded database, with one
/// monitor session, then the reply and the monitor's update encoded to bytes. Prints the time
/// of each step. `OVNKIT_BENCH_BIG_MON=northd` monitors as northd does (`Logical_Flow` without
/// inserts; default: every row of the three tables); `OVNKIT_BENCH_BIG_DUMP=DIR` writes the
/// reply, the update and the database file there (to compare builds: same seed, same bytes but
/// for the record's `_date`). For callgrind: `--toggle-collect='*big_commit_in_process*'`.
/// `OVNKIT_BENCH_BIG_PIECE=N` feeds the request to the codec N bytes at a time, and the
/// message still arriving to [`ovsdb::server::Server::run_ahead`] after each piece once a MiB
/// of it is buffered, as a connection does.
#[test]
#[ignore = "benchmark; run with --release -- --ignored bench --nocapture"]
fn bench_big_commit_layers() {
    let ovn = testkit::require_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let sb = ovn.schema(testkit::Schema::Southbound).unwrap();
    let ops = std::env::var("OVNKIT_BENCH_BIG_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(75_000);
    let request = big_sb_txn(ops);
    let f = fresh_db(dir.path(), "sb.db", &sb, &[]);
    let (db, st, _) =
        ovsdb::server::FileStorage::open(&f, ovsdb::server::StorageOptions::default()).unwrap();
    let db = ovsdb::Database::with_seed(db.schema().as_ref().clone(), 1);
    let mut server = ovsdb::server::Server::new(ovsdb::server::ServerConfig::default()).unwrap();
    server.add_database(db, Some(Box::new(st))).unwrap();
    let now = Instant::now();
    let writer = server.connect(now, None);
    let mon = server.connect(now, None);
    let tables = big_commit_monitor();
    server.handle_message(
        mon,
        ovsdb::jsonrpc::Message::Request(ovsdb::jsonrpc::Request {
            method: "monitor_cond".into(),
            params: vec![json!("OVN_Southbound"), json!("m"), tables],
            id: json!(1),
        }),
        now,
    );
    while server.poll_transmit(mon).is_some() {}
    let t = Instant::now();
    let (reply, update) = big_commit_in_process(&mut server, writer, mon, request.as_bytes());
    eprintln!(
        "{ops} operations, {} bytes: {:.0} ms in process; reply {} bytes, update {} bytes, file {} bytes",
        request.len(),
        t.elapsed().as_secs_f64() * 1e3,
        reply.len(),
        update.len(),
        std::fs::metadata(&f).unwrap().len()
    );
    if let Ok(out) = std::env::var("OVNKIT_BENCH_BIG_DUMP") {
        let out = Path::new(&out);
        std::fs::create_dir_all(out).unwrap();
        std::fs::write(out.join("reply.json"), &reply).unwrap();
        std::fs::write(out.join("update.json"), &update).unwrap();
        std::fs::copy(&f, out.join("sb.db")).unwrap();
    }
}

/// The timed part of [`bench_big_commit_layers`]: returns the reply's and the update's bytes.
#[inline(never)]
fn big_commit_in_process(
    server: &mut ovsdb::server::Server,
    writer: ovsdb::server::SessionId,
    mon: ovsdb::server::SessionId,
    request: &[u8],
) -> (bytes::BytesMut, bytes::BytesMut) {
    let now = Instant::now();
    let mut codec = ovsdb::jsonrpc::JsonRpcCodec::new();
    let piece = std::env::var("OVNKIT_BENCH_BIG_PIECE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(request.len())
        .max(1);
    let mut buf = bytes::BytesMut::with_capacity(request.len());
    let t = Instant::now();
    let mut last_piece = t;
    let mut cpu_at_last = (0, 0);
    for chunk in request.chunks(piece) {
        last_piece = Instant::now();
        cpu_at_last = (thread_cpu_ns(), process_cpu_ns());
        buf.extend_from_slice(chunk);
        while let Some(f) = codec.decode_frame(&mut buf).unwrap() {
            server.handle_frame_owned(writer, f, now).unwrap();
        }
        // As the connection does with a big message still arriving.
        if buf.len() >= 1 << 20 {
            server.run_ahead(writer, codec.stream_offset(), &buf);
        }
    }
    let handled = t.elapsed();
    let mut reply = bytes::BytesMut::new();
    while let Some(m) = server.poll_transmit(writer) {
        m.encode(&mut reply).unwrap();
    }
    let replied = t.elapsed();
    let cpu_replied = (thread_cpu_ns(), process_cpu_ns());
    let mut update = bytes::BytesMut::new();
    while let Some(m) = server.poll_transmit(mon) {
        m.encode(&mut update).unwrap();
    }
    eprintln!(
        "handle_frame {:.0} ms ({:.0} ms from the last piece), flush + reply {:.0} ms, update {:.0} ms",
        handled.as_secs_f64() * 1e3,
        (handled - (last_piece - t)).as_secs_f64() * 1e3,
        (replied - handled).as_secs_f64() * 1e3,
        (t.elapsed() - replied).as_secs_f64() * 1e3
    );
    // On a loaded machine the wall-clock tail says little; the calling thread's CPU from the
    // last piece to the reply is what the tail would take with a core of its own (when the
    // threads it waits for have one too), the process's counts every thread.
    eprintln!(
        "CPU from the last piece to the reply: this thread {:.0} ms, all threads {:.0} ms",
        (cpu_replied.0 - cpu_at_last.0) as f64 / 1e6,
        (cpu_replied.1 - cpu_at_last.1) as f64 / 1e6
    );
    (reply, update)
}

/// CPU nanoseconds of the whole process so far, threads that ended included (`getrusage`).
#[allow(unsafe_code)]
fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage that outlives the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |tv: libc::timeval| {
        u64::try_from(tv.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(tv.tv_usec).unwrap_or(0)
    };
    (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
}
