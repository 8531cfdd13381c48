//! `ovnkit ovsdb-server`: serve standalone database files like ovsdb-server 3.1.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use ovsdb::server::net::{self, NetOptions, Remote};
use ovsdb::server::unixctl::Unixctl;
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};

/// `--busy-poll-us`'s default: [`net::DEFAULT_BUSY_POLL`].
#[allow(clippy::cast_possible_truncation)]
const DEFAULT_BUSY_POLL_US: u64 = net::DEFAULT_BUSY_POLL.as_micros() as u64;

/// Arguments of `ovnkit ovsdb-server`.
#[derive(Debug, Args)]
pub(crate) struct OvsdbServerArgs {
    /// Listen on this remote: `punix:PATH` or `ptcp:PORT[:IP]` (repeatable).
    #[arg(long = "remote", value_name = "REMOTE", required = true)]
    remotes: Vec<String>,
    /// Write the process id to FILE (removed on exit); without `=FILE`,
    /// `$OVS_RUNDIR/ovsdb-server.pid`.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pidfile: Option<PathBuf>,
    /// Serve `ovs-appctl` commands (`exit`, `version`, `ovsdb-server/compact`,
    /// `ovsdb-server/list-dbs`) on this Unix socket.
    #[arg(long, value_name = "SOCKET")]
    unixctl: Option<PathBuf>,
    /// Write the log to FILE instead of stderr; without `=FILE`, `$OVS_LOGDIR/ovsdb-server.log`.
    #[arg(long = "log-file", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    log_file: Option<PathBuf>,
    /// Accepted for compatibility with ovsdb-server (ovnkit never changes directory).
    #[arg(long)]
    no_chdir: bool,
    /// `fdatasync` every commit, not only those asking for durability.
    #[arg(long)]
    sync_every_commit: bool,
    /// Number of recent commits kept for `monitor_cond_since` (0: none, like a standalone
    /// ovsdb-server 3.1).
    #[arg(long, default_value_t = 100)]
    txn_history: usize,
    /// Busy-poll budget: after serving a request that came back to back (within this many
    /// microseconds of the previous one's reply), keep checking the sockets for up to this long
    /// instead of sleeping, yielding the CPU to any other thread that wants it. Adaptive: an idle
    /// server never spins, a client that pauses longer turns it off, and so does a CPU wanted
    /// by other threads (for 10 ms to 1 s). It saves the wake-up of an idle CPU per request
    /// (tens of microseconds on a virtual machine). 0 turns it off.
    #[arg(
        long = "busy-poll-us",
        value_name = "MICROSECONDS",
        default_value_t = DEFAULT_BUSY_POLL_US
    )]
    busy_poll_us: u64,
    /// Database files (created with `ovsdb-tool create` or `ovnkit ovsdb-tool create`).
    #[arg(value_name = "DB_FILE", required = true)]
    databases: Vec<PathBuf>,
}

fn init_logging(log_file: Option<&PathBuf>) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let result = match log_file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            builder.with_writer(Mutex::new(f)).try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// An option given as `--opt` without `=FILE` means `DIR/NAME`, DIR from `env` or `default_dir`.
fn default_path(
    given: Option<&PathBuf>,
    env: &str,
    default_dir: &str,
    name: &str,
) -> Option<PathBuf> {
    let p = given?;
    if !p.as_os_str().is_empty() {
        return Some(p.clone());
    }
    let dir = std::env::var_os(env).map_or_else(|| PathBuf::from(default_dir), PathBuf::from);
    Some(dir.join(name))
}

pub(crate) fn run(args: &OvsdbServerArgs) -> Result<(), String> {
    let log_file = default_path(
        args.log_file.as_ref(),
        "OVS_LOGDIR",
        "/var/log/openvswitch",
        "ovsdb-server.log",
    );
    let pidfile = default_path(
        args.pidfile.as_ref(),
        "OVS_RUNDIR",
        "/var/run/openvswitch",
        "ovsdb-server.pid",
    );
    init_logging(log_file.as_ref())?;
    let remotes: Vec<Remote> = args
        .remotes
        .iter()
        .map(|r| r.parse::<Remote>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut server = Server::new(ServerConfig {
        txn_history: args.txn_history,
        server_id: None,
    })
    .map_err(|e| e.to_string())?;
    let options = StorageOptions {
        sync_every_commit: args.sync_every_commit,
        ..StorageOptions::default()
    };
    for path in &args.databases {
        let (db, storage, _tail) = FileStorage::open(path, options).map_err(|e| e.to_string())?;
        tracing::info!(
            file = %path.display(),
            db = %db.schema().name,
            rows = db.n_rows(),
            "opened database"
        );
        server
            .add_database(db, Some(Box::new(storage)))
            .map_err(|e| e.to_string())?;
    }
    // What loading the files allocated and freed goes back to the system now, not at some later
    // allocation.
    crate::alloc::release_free_memory();
    if let Some(pidfile) = &pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| format!("{}: {e}", pidfile.display()))?;
    }
    // One thread, like ovsdb-server: every message goes through the one locked server core
    // anyway, and a second worker only adds wake-ups between threads (futex calls) per message.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async {
        let shared = Arc::new(Mutex::new(server));
        let running = net::serve(
            shared.clone(),
            &remotes,
            NetOptions {
                busy_poll: (args.busy_poll_us > 0)
                    .then(|| std::time::Duration::from_micros(args.busy_poll_us)),
                ..NetOptions::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        // Memory freed by a big commit is given back while the server is idle, not by
        // whichever small request allocates next (see `alloc::purge_expired`). On this
        // thread, between requests: the server's allocations are made here.
        let purger = tokio::spawn(async {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                crate::alloc::purge_expired();
            }
        });
        let (exit_tx, mut exit_rx) = tokio::sync::watch::channel(false);
        let unixctl = match &args.unixctl {
            Some(path) => Some(
                Unixctl::start(path, shared, exit_tx)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            ),
            None => None,
        };
        tokio::select! {
            () = wait_for_signal() => {}
            _ = exit_rx.changed() => {}
        }
        tracing::info!("exiting");
        purger.abort();
        running.shutdown().await;
        if let Some(u) = unixctl {
            u.shutdown().await;
        }
        Ok::<(), String>(())
    });
    if let Some(pidfile) = &pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
