//! Child processes: spawning with a parent-death signal, running commands with
//! a deadline, and stopping daemons by pid.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a daemon gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// Makes the child die with SIGKILL when the thread that spawned it exits, and
/// refuses to exec if the parent is already gone.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs in the forked child between fork and exec. It
    // only calls `prctl` and `getppid`, both async-signal-safe, touches no
    // locks and does not allocate (`io::Error` from an errno is not boxed).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// A thread that lives as long as the process and spawns every daemon.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not
/// the process. Test threads end while a stack may still be in use elsewhere
/// (e.g. a stack shared through a `static`), so daemons are forked from this
/// thread, which only ends with the process.
fn spawner() -> Option<&'static mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<SpawnRequest>();
            thread::Builder::new()
                .name("testkit-spawner".into())
                .spawn(move || {
                    for (mut cmd, reply) in rx {
                        // The requester may have given up; nothing to do then.
                        let _ = reply.send(cmd.spawn());
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Spawns a long-lived child from the process-lifetime spawner thread.
pub(crate) fn spawn_daemon(mut cmd: Command) -> io::Result<Child> {
    die_with_parent(&mut cmd);
    let Some(tx) = spawner() else {
        return cmd.spawn();
    };
    let (reply_tx, reply_rx) = mpsc::channel();
    match tx.send((cmd, reply_tx)) {
        Ok(()) => reply_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("testkit spawner thread is gone"))),
        Err(mpsc::SendError((mut cmd, _))) => cmd.spawn(),
    }
}

/// Output of a finished command.
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` to completion, killing it after `timeout`.
pub(crate) fn run_with_timeout(
    mut cmd: Command,
    timeout: Duration,
    display: &str,
) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let program = PathBuf::from(cmd.get_program());
    let mut child = cmd
        .spawn()
        .map_err(|source| Error::Spawn { program, source })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::scope(|s| {
        let out = s.spawn(move || read_all(stdout));
        let err = s.spawn(move || read_all(stderr));
        let status = wait_deadline(&mut child, Instant::now() + timeout);
        let status = match status {
            Ok(Some(st)) => Ok(st),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(None)
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(Some(e))
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        match status {
            Ok(status) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
            Err(None) => Err(Error::CommandTimedOut {
                command: display.to_owned(),
                timeout,
                stderr: stderr.trim().to_owned(),
            }),
            Err(Some(e)) => Err(Error::io(format!("waiting for `{display}`"), e)),
        }
    })
}

fn read_all<R: Read>(r: Option<R>) -> String {
    let mut buf = Vec::new();
    if let Some(mut r) = r {
        let _ = r.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Polls `child` until it exits (`Some`) or `deadline` passes (`None`).
fn wait_deadline(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut delay = Duration::from_millis(1);
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

/// Facts about one daemon a sandbox started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) output_file: PathBuf,
    pub(crate) control_socket: Option<PathBuf>,
}

impl DaemonInfo {
    /// Short name, unique in its sandbox (`nb`, `northd`, `ovn-controller`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The daemon's own log file (`--log-file`), if it has one.
    pub fn log_file(&self) -> Option<&Path> {
        self.log_file.as_deref()
    }

    /// File receiving its stdout and stderr.
    pub fn output_file(&self) -> &Path {
        &self.output_file
    }

    /// Its unixctl socket, for `ovs-appctl -t`, if it has one.
    pub fn control_socket(&self) -> Option<&Path> {
        self.control_socket.as_deref()
    }

    /// Last lines of the log file and of the captured output.
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Some(log) = &self.log_file {
            s.push_str(&format!("{}:\n{}", log.display(), tail(log, 25)));
        }
        let out = tail(&self.output_file, 15);
        if !out.is_empty() {
            s.push_str(&format!("{}:\n{}", self.output_file.display(), out));
        }
        s
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut s = all[start..].join("\n");
    s.push('\n');
    s
}

/// A running daemon owned by a sandbox.
pub(crate) struct Daemon {
    pub(crate) info: DaemonInfo,
    child: Child,
    status: Option<ExitStatus>,
}

impl Daemon {
    pub(crate) fn new(info: DaemonInfo, child: Child) -> Self {
        Self {
            info,
            child,
            status: None,
        }
    }

    /// The exit status if the daemon has exited (and is now reaped).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Sends `sig` to the daemon's process group (it leads one) unless reaped.
    fn signal(&mut self, sig: libc::c_int) {
        if self.exited().is_none() {
            if let Ok(pid) = libc::pid_t::try_from(self.info.pid) {
                // SAFETY: plain syscall; the pid is our unreaped child, so it
                // (and the group it leads) cannot have been recycled.
                unsafe {
                    libc::kill(-pid, sig);
                }
            }
        }
    }
}

/// Stops `daemons` in reverse order: SIGTERM, up to [`TERM_GRACE`], then SIGKILL.
/// Every daemon is reaped when this returns.
pub(crate) fn stop_all(daemons: &mut [Daemon]) {
    for d in daemons.iter_mut().rev() {
        d.signal(libc::SIGTERM);
    }
    let deadline = Instant::now() + TERM_GRACE;
    let mut delay = Duration::from_millis(1);
    while daemons.iter_mut().any(|d| d.exited().is_none()) && Instant::now() < deadline {
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
    for d in daemons.iter_mut() {
        if d.exited().is_none() {
            d.signal(libc::SIGKILL);
            d.status = d.child.wait().ok();
        }
    }
}

/// Whether `pid` names a live process (a zombie counts as dead).
pub fn process_alive(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission.
    if unsafe { libc::kill(p, 0) } != 0 {
        // EPERM: it exists but belongs to someone else.
        return io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Format: "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
