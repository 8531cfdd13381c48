//! A private temp dir plus the daemons started in it.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process::{self, Daemon, DaemonInfo};
use crate::toolbox::{Tool, Toolbox};

/// A fresh directory under `/tmp` (short, so unix socket paths stay far below
/// the 107-byte limit) and the daemons started in it.
///
/// Every daemon is a direct child started without `--detach`, leading its own
/// process group, with its pidfile, log file, captured stdout/stderr
/// (`NAME.out`) and unixctl socket in the directory. Dropping the sandbox —
/// also while unwinding from a panic — sends SIGTERM to each, SIGKILL after a
/// short grace period, reaps them, then removes the directory. Daemons also get
/// SIGKILL from the kernel if the test process dies without unwinding.
///
/// Commands run through [`run`](Self::run) get `OVS_RUNDIR`, `OVN_RUNDIR` (and
/// the log/db dir variables) pointing into the directory through their own
/// environment; the test process's environment is never modified.
pub struct Sandbox {
    toolbox: Toolbox,
    daemons: Vec<Daemon>,
    // Declared last: removed after `Drop::drop` has stopped the daemons.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("dir", &self.dir.path())
            .field(
                "daemons",
                &self.daemons.iter().map(|d| &d.info).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A running `ovsdb-server` serving one database file on a unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvsdbServer {
    daemon: DaemonInfo,
    socket: PathBuf,
    db_file: PathBuf,
    db_name: String,
}

impl OvsdbServer {
    /// The unix socket it listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The remote string for clients: `unix:SOCKET`.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The database file it serves.
    pub fn db_file(&self) -> &Path {
        &self.db_file
    }

    /// The database name it reported through `list_dbs`.
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// The daemon (pid, log, unixctl socket).
    pub fn daemon(&self) -> &DaemonInfo {
        &self.daemon
    }
}

impl Sandbox {
    /// Creates an empty sandbox in a fresh temp dir.
    pub fn new(toolbox: &Toolbox) -> Result<Self> {
        let base = Path::new("/tmp");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("tk")
            .rand_bytes(6)
            .tempdir_in(&base)
            .map_err(|e| Error::io(format!("creating a temp dir in {}", base.display()), e))?;
        Ok(Self {
            toolbox: toolbox.clone(),
            daemons: Vec::new(),
            dir,
        })
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The toolbox it was created with.
    pub fn toolbox(&self) -> &Toolbox {
        &self.toolbox
    }

    /// Changes the bound on later readiness waits and commands.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.toolbox = self.toolbox.clone().with_timeout(timeout);
    }

    /// Pids of the daemons started here that have not been stopped.
    pub fn pids(&self) -> Vec<u32> {
        self.daemons.iter().map(|d| d.info.pid).collect()
    }

    /// The daemons started here, in start order.
    pub fn daemons(&self) -> impl Iterator<Item = &DaemonInfo> {
        self.daemons.iter().map(|d| &d.info)
    }

    /// The daemon called `name`, if any.
    pub fn daemon(&self, name: &str) -> Option<&DaemonInfo> {
        self.daemons().find(|d| d.name == name)
    }

    /// A command for `tool` with the sandbox environment and working directory,
    /// for callers that need more control than [`run`](Self::run).
    pub fn command(&self, tool: Tool) -> Result<Command> {
        Ok(self.command_for(&self.toolbox.find(tool)?))
    }

    fn command_for(&self, program: &Path) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.current_dir(d);
        for var in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVS_SYSCONFDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
            "OVN_DBDIR",
            "OVN_SYSCONFDIR",
        ] {
            cmd.env(var, d);
        }
        for var in ["OVN_NB_DB", "OVN_SB_DB", "OVS_DB"] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs `tool ARGS...` in the sandbox environment, bounded by the toolbox
    /// timeout. Returns stdout, or [`Error::CommandFailed`] with stderr.
    pub fn run<I, S>(&self, tool: Tool, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_timeout(tool, args, self.toolbox.timeout())
    }

    /// [`run`](Self::run) with an explicit bound.
    pub fn run_with_timeout<I, S>(&self, tool: Tool, args: I, timeout: Duration) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(tool)?;
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        cmd.args(&args);
        let display = display_command(tool.program(), &args);
        let out = process::run_with_timeout(cmd, timeout, &display)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(Error::CommandFailed {
                command: display,
                status: out.status.to_string(),
                stderr: out.stderr.trim().to_owned(),
            })
        }
    }

    /// Creates `NAME.db` in the sandbox from `schema` with `ovsdb-tool create`.
    pub fn create_db(&self, name: &str, schema: &Path) -> Result<PathBuf> {
        let db = self.dir().join(format!("{name}.db"));
        self.run(
            Tool::OvsdbTool,
            [OsStr::new("create"), db.as_os_str(), schema.as_os_str()],
        )?;
        Ok(db)
    }

    /// Creates a database from `schema` (any schema file) and serves it with a
    /// real `ovsdb-server` on `DIR/NAME.sock`; returns once it answers `list_dbs`.
    pub fn start_ovsdb_server(&mut self, name: &str, schema: &Path) -> Result<OvsdbServer> {
        let db = self.create_db(name, schema)?;
        self.start_ovsdb_server_on(name, &db)
    }

    /// Serves an existing database file (e.g. one our code wrote) with a real
    /// `ovsdb-server` on `DIR/NAME.sock`; returns once it answers `list_dbs`.
    pub fn start_ovsdb_server_on(&mut self, name: &str, db_file: &Path) -> Result<OvsdbServer> {
        let d = self.dir().to_path_buf();
        let socket = d.join(format!("{name}.sock"));
        let ctl = d.join(format!("{name}.ctl"));
        let log = d.join(format!("{name}.log"));
        let args: Vec<OsString> = vec![
            "--no-chdir".into(),
            arg("--pidfile=", &d.join(format!("{name}.pid"))),
            arg("--log-file=", &log),
            arg("--remote=punix:", &socket),
            arg("--unixctl=", &ctl),
            db_file.into(),
        ];
        let program = self.toolbox.find(Tool::OvsdbServer)?;
        let info = self.spawn(name, &program, &args, Some(log), |_| Some(ctl))?;
        let remote = format!("unix:{}", socket.display());
        let mut db_name = String::new();
        self.wait_for(&format!("ovsdb-server {name}"), &[info.pid], |_, _| {
            let dbs = list_dbs(&remote)?;
            match dbs.into_iter().find(|n| n != "_Server") {
                Some(n) => {
                    db_name = n;
                    Ok(())
                }
                None => Err("list_dbs returned no database".to_owned()),
            }
        })?;
        Ok(OvsdbServer {
            daemon: info,
            socket,
            db_file: db_file.to_path_buf(),
            db_name,
        })
    }

    /// Starts the real `ovn-northd` against `nb` and `sb` (remote strings);
    /// returns once its unixctl socket answers.
    pub fn start_northd(&mut self, nb: &str, sb: &str) -> Result<DaemonInfo> {
        let d = self.dir().to_path_buf();
        let (log, ctl) = (d.join("northd.log"), d.join("northd.ctl"));
        let args: Vec<OsString> = vec![
            "--no-chdir".into(),
            arg("--pidfile=", &d.join("northd.pid")),
            arg("--log-file=", &log),
            arg("--unixctl=", &ctl),
            format!("--ovnnb-db={nb}").into(),
            format!("--ovnsb-db={sb}").into(),
        ];
        let program = self.toolbox.find(Tool::OvnNorthd)?;
        let info = self.spawn("northd", &program, &args, Some(log), |_| Some(ctl))?;
        self.wait_control_socket("ovn-northd", &info, Tool::OvnAppctl)?;
        Ok(info)
    }

    /// Starts the real `ovs-vswitchd` with dummy netdevs only
    /// (`--enable-dummy=override --disable-system`) against the Open_vSwitch
    /// database at `ovs_remote`; returns once its unixctl socket answers.
    pub fn start_vswitchd(&mut self, ovs_remote: &str) -> Result<DaemonInfo> {
        let d = self.dir().to_path_buf();
        let (log, ctl) = (d.join("vswitchd.log"), d.join("vswitchd.ctl"));
        let args: Vec<OsString> = vec![
            ovs_remote.into(),
            "--no-chdir".into(),
            arg("--pidfile=", &d.join("vswitchd.pid")),
            arg("--log-file=", &log),
            arg("--unixctl=", &ctl),
            "--enable-dummy=override".into(),
            "--disable-system".into(),
        ];
        let program = self.toolbox.find(Tool::OvsVswitchd)?;
        let info = self.spawn("vswitchd", &program, &args, Some(log), |_| Some(ctl))?;
        self.wait_control_socket("ovs-vswitchd", &info, Tool::OvsAppctl)?;
        Ok(info)
    }

    /// Starts the real `ovn-controller` against the Open_vSwitch database at
    /// `ovs_remote` (which must already name the chassis and the SB remote in
    /// `Open_vSwitch` `external_ids`); returns once its unixctl socket answers.
    /// Its socket is `DIR/ovn-controller.PID.ctl` (23.03 has no `--unixctl`).
    pub fn start_controller(&mut self, ovs_remote: &str) -> Result<DaemonInfo> {
        let d = self.dir().to_path_buf();
        let log = d.join("ovn-controller.log");
        let args: Vec<OsString> = vec![
            ovs_remote.into(),
            "--no-chdir".into(),
            arg("--pidfile=", &d.join("ovn-controller.pid")),
            arg("--log-file=", &log),
        ];
        let program = self.toolbox.find(Tool::OvnController)?;
        let info = self.spawn("ovn-controller", &program, &args, Some(log), |pid| {
            Some(d.join(format!("ovn-controller.{pid}.ctl")))
        })?;
        self.wait_control_socket("ovn-controller", &info, Tool::OvnAppctl)?;
        Ok(info)
    }

    /// Starts an arbitrary program as a daemon called `name` (working directory
    /// and environment as for [`run`](Self::run), stdout/stderr to `DIR/NAME.out`).
    /// Does not wait for anything: the caller knows what readiness means.
    pub fn start_program<I, S>(&mut self, name: &str, program: &Path, args: I) -> Result<DaemonInfo>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.spawn(name, program, &args, None, |_| None)
    }

    /// Stops the daemon called `name` (SIGTERM, then SIGKILL) and forgets it.
    /// Returns whether there was such a daemon.
    pub fn stop(&mut self, name: &str) -> bool {
        let Some(i) = self.daemons.iter().position(|d| d.info.name == name) else {
            return false;
        };
        let mut d = self.daemons.remove(i);
        process::stop_all(std::slice::from_mut(&mut d));
        true
    }

    fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[OsString],
        log_file: Option<PathBuf>,
        control_socket: impl FnOnce(u32) -> Option<PathBuf>,
    ) -> Result<DaemonInfo> {
        if self.daemon(name).is_some() {
            return Err(Error::io(
                format!("starting {name}"),
                io::Error::new(io::ErrorKind::AlreadyExists, "name already used in sandbox"),
            ));
        }
        let output_file = self.dir().join(format!("{name}.out"));
        let out = std::fs::File::create(&output_file)
            .map_err(|e| Error::io(format!("creating {}", output_file.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(format!("duplicating {}", output_file.display()), e))?;
        let mut cmd = self.command_for(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = process::spawn_daemon(cmd).map_err(|source| Error::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
        let pid = child.id();
        let info = DaemonInfo {
            name: name.to_owned(),
            pid,
            log_file,
            output_file,
            control_socket: control_socket(pid),
        };
        self.daemons.push(Daemon::new(info.clone(), child));
        Ok(info)
    }

    fn wait_control_socket(
        &mut self,
        component: &str,
        info: &DaemonInfo,
        appctl: Tool,
    ) -> Result<()> {
        let Some(ctl) = info.control_socket.clone() else {
            return Ok(());
        };
        self.wait_for(component, &[info.pid], |sb, left| {
            if !ctl.exists() {
                return Err(format!("{} does not exist yet", ctl.display()));
            }
            sb.run_with_timeout(
                appctl,
                [OsStr::new("-t"), ctl.as_os_str(), OsStr::new("version")],
                left,
            )
            .map(drop)
            .map_err(|e| e.to_string())
        })
    }

    /// Polls `probe` until it succeeds, one of the daemons in `watch` exits,
    /// or the toolbox timeout passes. The probe gets a time budget for any
    /// blocking command it runs; budgets start short and double, so a daemon
    /// that died is noticed quickly while a slow one still gets long waits.
    pub(crate) fn wait_for(
        &mut self,
        component: &str,
        watch: &[u32],
        mut probe: impl FnMut(&Self, Duration) -> Result<(), String>,
    ) -> Result<()> {
        let timeout = self.toolbox.timeout();
        let start = Instant::now();
        let mut delay = Duration::from_millis(2);
        let mut budget = Duration::from_millis(500);
        loop {
            let left = timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(100));
            let slice = budget.min(left);
            // Grow the probe's own time budget, but never past the overall timeout (an unbounded
            // doubling overflows `Duration` when a daemon is slow to come up).
            budget = budget
                .saturating_mul(2)
                .min(timeout.max(Duration::from_millis(500)));
            let detail = match probe(self, slice) {
                Ok(()) => return Ok(()),
                Err(detail) => detail,
            };
            for d in self
                .daemons
                .iter_mut()
                .filter(|d| watch.contains(&d.info.pid))
            {
                if let Some(status) = d.exited() {
                    return Err(Error::Exited {
                        component: format!("{component} ({})", d.info.name),
                        status: status.to_string(),
                        log_tail: d.info.log_tail(),
                    });
                }
            }
            if start.elapsed() >= timeout {
                return Err(Error::NotReady {
                    component: component.to_owned(),
                    waited: start.elapsed(),
                    detail,
                    log_tail: self.log_tails(watch),
                });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    pub(crate) fn log_tails(&self, pids: &[u32]) -> String {
        self.daemons()
            .filter(|d| pids.contains(&d.pid))
            .map(DaemonInfo::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        process::stop_all(&mut self.daemons);
    }
}

fn arg(prefix: &str, path: &Path) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(path);
    s
}

fn display_command(program: &str, args: &[OsString]) -> String {
    let mut s = program.to_owned();
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Asks the OVSDB server at `remote` (`unix:PATH` or `tcp:HOST:PORT`; the
/// first of a comma-separated list) for its databases, with a short timeout.
pub(crate) fn list_dbs(remote: &str) -> Result<Vec<String>, String> {
    let first = remote.split(',').next().unwrap_or(remote).trim();
    let io_timeout = Some(Duration::from_secs(2));
    let request = br#"{"id":0,"method":"list_dbs","params":[]}"#;
    if let Some(path) = first.strip_prefix("unix:") {
        let mut s = UnixStream::connect(path).map_err(|e| format!("connect {path}: {e}"))?;
        s.set_read_timeout(io_timeout).map_err(|e| e.to_string())?;
        exchange(&mut s, request)
    } else if let Some(addr) = first.strip_prefix("tcp:") {
        let mut s =
            std::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(io_timeout).map_err(|e| e.to_string())?;
        exchange(&mut s, request)
    } else {
        Err(Error::UnsupportedRemote {
            remote: remote.to_owned(),
        }
        .to_string())
    }
}

fn exchange<S: Read + Write>(s: &mut S, request: &[u8]) -> Result<Vec<String>, String> {
    s.write_all(request).map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("connection closed before a reply".to_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
            return v
                .get("result")
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .ok_or_else(|| format!("unexpected reply {v}"));
        }
    }
}
