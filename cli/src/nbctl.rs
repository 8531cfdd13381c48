//! `ovnkit nbctl`: ovn-nbctl's command line over the `ovn_nb::nbctl` API.
//!
//! `ovnkit nbctl [--db=DB] [--wait=sb|hv] [OPTIONS] COMMAND ARGS [-- [OPTIONS] COMMAND ARGS]...`
//! runs every command in one transaction, like ovn-nbctl. Where the database is:
//! - `--db=unix:PATH`, `tcp:HOST:PORT` (comma-separated for a cluster): a server (ours or a real
//!   ovsdb-server) through the ovsdb client; `--wait=sb|hv` bumps `NB_Global:nb_cfg` in the same
//!   transaction and waits until `sb_cfg` / `hv_cfg` catch up (bounded by `--timeout`, default
//!   forever like ovn-nbctl).
//! - `--db=file:PATH`: a standalone database file (as `ovsdb-tool create` makes it), opened,
//!   changed and appended to in-process, with no server (the file must not be served at the
//!   same time); `--wait` is ignored since no northd follows a file.
//! - no `--db`: `$OVN_NB_DB`, else `unix:/var/run/ovn/ovnnb_db.sock`, as ovn-nbctl.

use std::time::Duration;

use clap::Args;
use ovn_nb::nbctl::{self, Invocation, Nbctl, NbctlError, TxnTarget, Wait};
use ovsdb::client::{Client, ClientConfig};
use ovsdb::server::{CommitLog, FileStorage, StorageOptions};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

/// Arguments of `ovnkit nbctl`: everything ovn-nbctl takes.
#[derive(Debug, Args)]
pub(crate) struct NbctlArgs {
    /// Global options, then commands separated by `--`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    args: Vec<String>,
}

pub(crate) fn run(args: &NbctlArgs) -> Result<(), String> {
    let inv = nbctl::parse_args(&args.args).map_err(|e| e.to_string())?;
    let db = inv
        .db
        .clone()
        .or_else(|| std::env::var("OVN_NB_DB").ok())
        .unwrap_or_else(|| "unix:/var/run/ovn/ovnnb_db.sock".to_owned());
    let out = match db.strip_prefix("file:") {
        Some(path) => run_file(path, &inv),
        None => run_remote(&db, &inv),
    }
    .map_err(|e| e.to_string())?;
    print!("{out}");
    Ok(())
}

/// A standalone database file: the in-memory database plus its log.
struct FileTarget {
    db: Database,
    storage: FileStorage,
}

impl TxnTarget for FileTarget {
    fn snapshot(&self) -> nbctl::Result<nbctl::Snapshot> {
        self.db.snapshot()
    }

    fn transact(&mut self, ops: Vec<Value>) -> nbctl::Result<Vec<Value>> {
        let mut params = vec![json!(self.db.schema().name)];
        params.extend(ops);
        match self
            .db
            .transact(&Value::Array(params), &TxnContext::default())
        {
            TxnOutcome::Complete { results, changes } => {
                let arr = results.as_array().cloned().unwrap_or_default();
                if let Some(e) = arr.iter().find_map(|r| r.get("error")) {
                    let details = arr
                        .iter()
                        .find_map(|r| r.get("details"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    return Err(NbctlError::Transaction {
                        error: e.as_str().unwrap_or_default().to_owned(),
                        details: details.to_owned(),
                    });
                }
                if let Some(changes) = changes {
                    self.storage
                        .commit(&self.db, &changes)
                        .map_err(|e| NbctlError::Connection(e.to_string()))?;
                }
                Ok(arr)
            }
            TxnOutcome::Blocked { .. } => Err(NbctlError::Connection("transaction blocked".into())),
        }
    }
}

fn run_file(path: &str, inv: &Invocation) -> nbctl::Result<String> {
    let (db, storage, _) = FileStorage::open(path, StorageOptions::default())
        .map_err(|e| NbctlError::Connection(format!("{path}: {e}")))?;
    let mut target = FileTarget { db, storage };
    nbctl::execute(&mut target, inv)
}

fn run_remote(remote: &str, inv: &Invocation) -> nbctl::Result<String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| NbctlError::Connection(e.to_string()))?;
    let timeout = inv.timeout.filter(|t| *t > 0).map(Duration::from_secs);
    rt.block_on(async {
        let cfg = ClientConfig::new(remote, "OVN_Northbound");
        let connect = timeout.unwrap_or(Duration::from_secs(3600 * 24));
        let client = Client::connect(cfg, connect).await.map_err(|e| {
            NbctlError::Connection(format!("{remote}: database connection failed ({e})"))
        })?;
        let mut nb = nbctl::remote::start(&client)?;
        nb.set_bare_output(inv.bare);
        nb.run_commands(&inv.commands)?;
        let next_cfg = match inv.wait {
            Some(_) => Some(bump_nb_cfg(&mut nb)?),
            None => None,
        };
        let committed = nbctl::remote::commit(nb, &client).await?;
        if let (Some(wait), Some(next)) = (inv.wait, next_cfg) {
            let column = match wait {
                Wait::Sb => "sb_cfg",
                _ => "hv_cfg",
            };
            let done = client.wait_for(connect, |r| {
                r.table("NB_Global").is_some_and(|t| {
                    t.rows().any(|row| {
                        t.value(row, column)
                            .and_then(|d| d.first())
                            .is_some_and(|a| matches!(a, ovsdb::Atom::Integer(i) if *i >= next))
                    })
                })
            });
            done.await
                .map_err(|e| NbctlError::Connection(format!("--wait={column}: {e}")))?;
        }
        Ok(committed.output)
    })
}

/// Increments `NB_Global:nb_cfg` in the transaction (as ovn-nbctl does for `--wait`); returns the
/// new value.
fn bump_nb_cfg(nb: &mut Nbctl) -> nbctl::Result<i64> {
    nb.ensure_nb_global()?;
    let cur = nb
        .db_get("NB_Global", ".", &["nb_cfg"], false)?
        .trim()
        .parse::<i64>()
        .unwrap_or(0);
    let next = cur + 1;
    nb.db_set(
        "NB_Global",
        ".",
        &[&format!("nb_cfg={next}")],
        &Default::default(),
    )?;
    Ok(next)
}
