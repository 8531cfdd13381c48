//! `ovnkit ovsdb-server`: serve standalone database files like ovsdb-server 3.1.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use ovsdb::server::net::{self, NetOptions, Remote};
use ovsdb::server::{FileStorage, Server, ServerConfig, StorageOptions};

/// Arguments of `ovnkit ovsdb-server`.
#[derive(Debug, Args)]
pub(crate) struct OvsdbServerArgs {
    /// Listen on this remote: `punix:PATH` or `ptcp:PORT[:IP]` (repeatable).
    #[arg(long = "remote", value_name = "REMOTE", required = true)]
    remotes: Vec<String>,
    /// Write the process id to FILE (removed on exit).
    #[arg(long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// Accepted for compatibility with ovsdb-server; ovnkit has no unixctl commands yet.
    #[arg(long, value_name = "SOCKET")]
    unixctl: Option<PathBuf>,
    /// Write the log to FILE instead of stderr.
    #[arg(long = "log-file", value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// `fdatasync` every commit, not only those asking for durability.
    #[arg(long)]
    sync_every_commit: bool,
    /// Number of recent commits kept for `monitor_cond_since` (0: none, like a standalone
    /// ovsdb-server 3.1).
    #[arg(long, default_value_t = 100)]
    txn_history: usize,
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

pub(crate) fn run(args: &OvsdbServerArgs) -> Result<(), String> {
    init_logging(args.log_file.as_ref())?;
    if args.unixctl.is_some() {
        tracing::warn!("--unixctl is accepted but no unixctl commands are served");
    }
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
    if let Some(pidfile) = &args.pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| format!("{}: {e}", pidfile.display()))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async {
        let shared = Arc::new(Mutex::new(server));
        let running = net::serve(shared, &remotes, NetOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        wait_for_signal().await;
        tracing::info!("exiting");
        running.shutdown().await;
        Ok::<(), String>(())
    });
    if let Some(pidfile) = &args.pidfile {
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
