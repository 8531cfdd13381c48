//! `ovnkit ovsdb-client`: talk to an OVSDB server or Raft cluster like ovsdb-client 3.1.
//!
//! REMOTES is a comma-separated list (`unix:PATH`, `tcp:HOST:PORT`) tried in turn as one cluster;
//! with `--leader-only`, `transact`, `dump` and `monitor` use only the cluster leader.

use std::time::Duration;

use clap::{Args, Subcommand};
use ovsdb::client::{
    ChangeKind, Client, ClientConfig, ClientError, Connection, MonitorSpec, Remote, Replica,
    TableMonitor,
};
use serde_json::{json, Map, Value};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `ovnkit ovsdb-client`.
#[derive(Debug, Args)]
pub(crate) struct OvsdbClientArgs {
    /// Use only the leader of a clustered database (transact, dump, monitor).
    #[arg(long)]
    leader_only: bool,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Print the databases served, one per line.
    ListDbs {
        /// Comma-separated remotes.
        remotes: String,
    },
    /// Print the schema of DB as JSON.
    GetSchema {
        /// Comma-separated remotes.
        remotes: String,
        /// The database (default: the first one served besides _Server).
        db: Option<String>,
    },
    /// Run TRANSACTION (a JSON array: the database name, then operations); print the result.
    Transact {
        /// Comma-separated remotes.
        remotes: String,
        /// The transaction, e.g. '["DB", {"op": "select", "table": "T", "where": []}]'.
        transaction: String,
    },
    /// Print the content of DB (or of TABLE, optionally only COLUMNs) as JSON:
    /// `{table: {uuid: {column: value}}}`.
    Dump {
        /// Comma-separated remotes.
        remotes: String,
        /// Optional DB, then optional TABLE and its COLUMNs.
        args: Vec<String>,
    },
    /// Print the rows of TABLE (optionally only COLUMNs), then every change, one JSON object per
    /// line, until interrupted.
    Monitor {
        /// Comma-separated remotes.
        remotes: String,
        /// Optional DB, then TABLE and optional COLUMNs.
        args: Vec<String>,
    },
}

pub(crate) fn run(args: &OvsdbClientArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run_async(args)).map_err(|e| e.to_string())
}

async fn first_connection(remotes: &str) -> Result<Connection, ClientError> {
    let mut last = ClientError::NoRemotes;
    for r in Remote::parse_list(remotes)? {
        match Connection::connect(&r, TIMEOUT, None).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn list_dbs(conn: &mut Connection) -> Result<Vec<String>, ClientError> {
    let v = conn.call_ok("list_dbs", Vec::new(), TIMEOUT).await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Splits `[DB] REST...`: the first argument is the database if the server serves one by that name.
async fn db_and_rest(remotes: &str, args: &[String]) -> Result<(String, Vec<String>), ClientError> {
    let mut conn = first_connection(remotes).await?;
    let dbs = list_dbs(&mut conn).await?;
    if let Some(first) = args.first() {
        if dbs.contains(first) {
            return Ok((first.clone(), args[1..].to_vec()));
        }
    }
    let db = dbs
        .into_iter()
        .find(|d| d != "_Server")
        .ok_or_else(|| ClientError::UnknownDatabase("(none served)".into()))?;
    Ok((db, args.to_vec()))
}

fn spec(rest: &[String]) -> Option<MonitorSpec> {
    let mut spec = MonitorSpec::default();
    if let Some((table, cols)) = rest.split_first() {
        spec.tables.push(TableMonitor {
            table: table.clone(),
            columns: (!cols.is_empty()).then(|| cols.to_vec()),
            condition: None,
            select: ovsdb::client::MonitorSelect::ALL,
        });
    }
    Some(spec)
}

fn row_json(r: &Replica, table: &str, row: &ovsdb::client::Row) -> Value {
    let mut m = Map::new();
    if let (Some(ts), Some(cols)) = (r.schema().table(table), r.monitored_columns(table)) {
        for &c in cols {
            m.insert(ts.columns[c].name.clone(), row.field(c).to_json());
        }
    }
    Value::Object(m)
}

async fn run_async(args: &OvsdbClientArgs) -> Result<(), ClientError> {
    match &args.command {
        ClientCommand::ListDbs { remotes } => {
            let mut conn = first_connection(remotes).await?;
            for db in list_dbs(&mut conn).await? {
                println!("{db}");
            }
        }
        ClientCommand::GetSchema { remotes, db } => {
            let (db, _) = db_and_rest(remotes, &db.iter().cloned().collect::<Vec<_>>()).await?;
            let mut conn = first_connection(remotes).await?;
            let schema = conn.call_ok("get_schema", vec![json!(db)], TIMEOUT).await?;
            println!("{schema}");
        }
        ClientCommand::Transact {
            remotes,
            transaction,
        } => {
            let bad = |detail: String| ClientError::Malformed {
                what: "transaction argument".into(),
                detail,
            };
            let txn: Value = serde_json::from_str(transaction).map_err(|e| bad(e.to_string()))?;
            let params = txn.as_array().cloned().unwrap_or_default();
            let db = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| bad("expected [\"DB\", operation...]".into()))?
                .to_owned();
            let mut cfg = ClientConfig::new(remotes, &db).leader_only(args.leader_only);
            cfg.monitor = None;
            let client = Client::connect(cfg, TIMEOUT).await?;
            let result = client.request("transact", params).await?;
            println!("{result}");
        }
        ClientCommand::Dump {
            remotes,
            args: rest,
        } => {
            let (db, rest) = db_and_rest(remotes, rest).await?;
            let mut cfg = ClientConfig::new(remotes, &db).leader_only(args.leader_only);
            cfg.monitor = spec(&rest);
            let client = Client::connect(cfg, TIMEOUT).await?;
            let dump = client.with_replica(Replica::to_json).unwrap_or(Value::Null);
            println!("{dump}");
        }
        ClientCommand::Monitor {
            remotes,
            args: rest,
        } => {
            let (db, rest) = db_and_rest(remotes, rest).await?;
            if rest.is_empty() {
                return Err(ClientError::InvalidMonitor("monitor needs a TABLE".into()));
            }
            let mut cfg = ClientConfig::new(remotes, &db).leader_only(args.leader_only);
            cfg.monitor = spec(&rest);
            let client = Client::connect(cfg, TIMEOUT).await?;
            let mut rx = client.subscribe();
            loop {
                let changes = client.take_changes();
                client.with_replica(|r| {
                    for c in &changes {
                        let kind = match c.kind {
                            ChangeKind::Insert => "insert",
                            ChangeKind::Modify => "modify",
                            ChangeKind::Delete => "delete",
                        };
                        let row = c.new.as_ref().or(c.old.as_ref());
                        let row = row.map_or(Value::Null, |row| row_json(r, &c.table, row));
                        println!(
                            "{}",
                            json!({"table": c.table, "uuid": c.uuid.to_string(), "kind": kind, "row": row})
                        );
                    }
                });
                if rx.changed().await.is_err() {
                    return Ok(());
                }
                if let Some(e) = rx.borrow_and_update().fatal.clone() {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}
