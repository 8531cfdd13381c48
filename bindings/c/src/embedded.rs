//! The Rust side shared by both bindings: an embedded NB or SB database (in memory or kept in a
//! standalone OVSDB file) and the calls the bindings expose, each a few lines over the library API.
//!
//! `bindings/python` includes this file with `#[path]`, so the C and Python bindings cannot drift
//! apart and neither depends on the other.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use flowcompile::chassis::{compile_chassis_flows, ChassisView, SbTables};
use ovn_nb::nbctl::{self, NbctlError, Snapshot, TxnTarget};
use ovsdb::client::{Connection, Remote};
use ovsdb::server::{CommitLog, FileStorage, StorageOptions};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Map, Value};

/// Which embedded schema a database uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbKind {
    /// `OVN_Northbound`.
    Northbound,
    /// `OVN_Southbound`.
    Southbound,
}

impl DbKind {
    fn schema_json(self) -> &'static str {
        match self {
            Self::Northbound => ovn_nb::model::SCHEMA_JSON,
            Self::Southbound => ovn_sb::model::SCHEMA_JSON,
        }
    }

    fn schema(self) -> &'static ovsdb::Schema {
        match self {
            Self::Northbound => ovn_nb::model::schema(),
            Self::Southbound => ovn_sb::model::schema(),
        }
    }
}

/// The error categories both bindings report (C result codes, Python exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// Input is not valid JSON (or not the expected shape).
    Json,
    /// The OVSDB layer: file storage, schema, a failed or blocked transaction.
    Ovsdb,
    /// An nbctl command line was refused.
    Nbctl,
    /// northd could not read NB/SB or its SB transaction failed.
    Northd,
    /// Flow compilation (chassis view, match expression) failed.
    Compile,
    /// The remote OVSDB server could not be reached or refused a request.
    Connection,
    /// An argument is wrong (e.g. a NB database where an SB one is needed).
    InvalidArgument,
    /// Kubernetes manifests do not parse or do not build a Northbound topology.
    Manifest,
}

/// An error with its category and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BindingError {
    pub(crate) category: Category,
    pub(crate) message: String,
}

impl BindingError {
    pub(crate) fn new(category: Category, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
        }
    }
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) type Result<T> = std::result::Result<T, BindingError>;

fn json_err(e: serde_json::Error) -> BindingError {
    BindingError::new(Category::Json, format!("invalid JSON: {e}"))
}

/// Parses JSON text.
pub(crate) fn parse_json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(json_err)
}

/// An embedded database; commits are appended to its file when it has one.
#[derive(Debug)]
pub(crate) struct EmbeddedDb {
    kind: DbKind,
    db: Database,
    storage: Option<FileStorage>,
}

impl EmbeddedDb {
    /// An empty in-memory database.
    pub(crate) fn in_memory(kind: DbKind) -> Self {
        Self {
            kind,
            db: Database::new(kind.schema().clone()),
            storage: None,
        }
    }

    /// Opens the standalone database file at `path`, creating it with the embedded schema when it
    /// does not exist. Every later commit is appended to the file.
    pub(crate) fn open_file(kind: DbKind, path: &Path) -> Result<Self> {
        let ovsdb_err = |e: &dyn fmt::Display| {
            BindingError::new(Category::Ovsdb, format!("{}: {e}", path.display()))
        };
        if !path.exists() {
            let schema: Value = serde_json::from_str(kind.schema_json()).map_err(json_err)?;
            FileStorage::create(path, &schema).map_err(|e| ovsdb_err(&e))?;
        }
        let (db, storage, _tail) =
            FileStorage::open(path, StorageOptions::default()).map_err(|e| ovsdb_err(&e))?;
        if db.schema().name != kind.schema().name {
            return Err(ovsdb_err(&format_args!(
                "holds database {}, not {}",
                db.schema().name,
                kind.schema().name
            )));
        }
        Ok(Self {
            kind,
            db,
            storage: Some(storage),
        })
    }

    /// Which schema this database uses.
    pub(crate) fn kind(&self) -> DbKind {
        self.kind
    }

    /// The schema name: `OVN_Northbound` or `OVN_Southbound`.
    pub(crate) fn schema_name(&self) -> &str {
        &self.db.schema().name
    }

    /// Runs one RFC 7047 `transact` (`params` is `["DB-NAME", op...]`) and returns the `result`
    /// array. Failed operations are reported inside the array, as an OVSDB server replies.
    pub(crate) fn transact_value(&mut self, params: &Value) -> Result<Value> {
        match self.db.transact(params, &TxnContext::default()) {
            TxnOutcome::Complete { results, changes } => {
                if let (Some(changes), Some(storage)) = (changes, self.storage.as_mut()) {
                    storage
                        .commit(&self.db, &changes)
                        .map_err(|e| BindingError::new(Category::Ovsdb, e.to_string()))?;
                }
                Ok(results)
            }
            TxnOutcome::Blocked { .. } => Err(BindingError::new(
                Category::Ovsdb,
                "transaction blocked on a \"wait\" operation",
            )),
        }
    }

    /// The rows of `table` (every table when `None`) as `{"TABLE": [row, ...]}`, each row an
    /// object of every column in OVSDB JSON notation, rows sorted by `_uuid`.
    pub(crate) fn dump_value(&self, table: Option<&str>) -> Result<Value> {
        let schema = self.db.schema();
        let mut out = Map::new();
        for ts in schema.tables.iter() {
            if table.is_some_and(|t| t != ts.name) {
                continue;
            }
            let cols: Vec<usize> = (0..ts.columns.len()).collect();
            let rows: BTreeMap<_, _> = self
                .db
                .rows(&ts.name)
                .into_iter()
                .flatten()
                .map(|(u, r)| (*u, r.to_json(ts, &cols)))
                .collect();
            out.insert(ts.name.clone(), Value::Array(rows.into_values().collect()));
        }
        if let Some(t) = table {
            if out.is_empty() {
                return Err(BindingError::new(
                    Category::InvalidArgument,
                    format!("no table {t} in {}", schema.name),
                ));
            }
        }
        Ok(Value::Object(out))
    }

    /// Runs an `ovn-nbctl` argument list (without the program name, e.g.
    /// `["ls-add", "sw0", "--", "lsp-add", "sw0", "p1"]`) as one transaction and returns what
    /// ovn-nbctl would print.
    pub(crate) fn nbctl<S: AsRef<str>>(&mut self, args: &[S]) -> Result<String> {
        self.expect(DbKind::Northbound, "nbctl")?;
        let nb_err = |e: NbctlError| BindingError::new(Category::Nbctl, e.to_string());
        let inv = nbctl::parse_args(args).map_err(nb_err)?;
        if inv.db.is_some() {
            return Err(BindingError::new(
                Category::Nbctl,
                "--db is not supported: the command runs against this database",
            ));
        }
        nbctl::execute(self, &inv).map_err(nb_err)
    }

    /// Applies Kubernetes manifests (YAML or JSON, `---`-separated) to this NB database as
    /// OVN-Kubernetes would, with the default cluster configuration: parses them, builds the
    /// desired NB content and writes only the difference. Returns the apply statistics as
    /// `{"inserted": N, "updated": N, "deleted": N, "ops": N}`.
    pub(crate) fn kube_apply(&mut self, manifests: &str) -> Result<Value> {
        use ovn_nb::kube;
        self.expect(DbKind::Northbound, "kube apply")?;
        let manifest_err =
            |e: &dyn fmt::Display| BindingError::new(Category::Manifest, e.to_string());
        let mut set = kube::ManifestSet::new();
        set.add_str("manifests", manifests)
            .map_err(|e| manifest_err(&e))?;
        let desired = kube::build_nb(
            &set,
            &kube::config::ClusterConfig::default(),
            &kube::PreviousState::default(),
        )
        .map_err(|e| manifest_err(&e))?;
        let stats = kube::apply(&desired, self)
            .map_err(|e| BindingError::new(Category::Nbctl, e.to_string()))?;
        Ok(json!({"inserted": stats.inserted, "updated": stats.updated,
                  "deleted": stats.deleted, "ops": stats.ops}))
    }

    /// Runs northd once: compiles this NB database and writes the difference to `sb` as one
    /// transaction (with `SB_Global` `nb_cfg`). Returns northd's warnings.
    pub(crate) fn northd_once(&self, sb: &mut Self) -> Result<Vec<String>> {
        self.expect(DbKind::Northbound, "northd (NB side)")?;
        sb.expect(DbKind::Southbound, "northd (SB side)")?;
        let northd_err = |e: &dyn fmt::Display| BindingError::new(Category::Northd, e.to_string());
        let plan = northd::plan_once(&self.db, &sb.db).map_err(|e| northd_err(&e))?;
        if let Some(params) = &plan.transaction {
            let results = sb.transact_value(params)?;
            if let Some(e) = first_error(&results) {
                return Err(northd_err(&format_args!("SB transaction failed: {e}")));
            }
        }
        Ok(plan.warnings.iter().map(ToString::to_string).collect())
    }

    /// The OpenFlow rules chassis `chassis` installs for this SB database, as
    /// `ovs-ofctl dump-flows` prints them (one per line), and the logical flows skipped because
    /// they did not compile.
    pub(crate) fn chassis_flows(&self, chassis: &str) -> Result<(String, Vec<String>)> {
        self.expect(DbKind::Southbound, "chassis flows")?;
        let compile_err =
            |e: &dyn fmt::Display| BindingError::new(Category::Compile, e.to_string());
        let mut sb = SbTables::default();
        let Value::Object(tables) = self.dump_value(None)? else {
            unreachable!("dump_value returns an object")
        };
        for (name, rows) in &tables {
            let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
            sb.add_json_rows(name, rows).map_err(|e| compile_err(&e))?;
        }
        let view = ChassisView::new(&sb, chassis).map_err(|e| compile_err(&e))?;
        let flows = compile_chassis_flows(&sb.logical_flows, &view);
        let errors = flows.errors.iter().map(ToString::to_string).collect();
        Ok((flows.to_text(), errors))
    }

    fn expect(&self, kind: DbKind, what: &str) -> Result<()> {
        if self.kind == kind {
            return Ok(());
        }
        Err(BindingError::new(
            Category::InvalidArgument,
            format!("{what} needs an {} database", kind.schema().name),
        ))
    }
}

/// The first `{"error": ...}` of a `transact` result array, as `error: details`.
pub(crate) fn first_error(results: &Value) -> Option<String> {
    northd::embedded::first_error(results)
}

impl TxnTarget for EmbeddedDb {
    fn snapshot(&self) -> nbctl::Result<Snapshot> {
        Ok(Snapshot::of_database(&self.db))
    }

    fn transact(&mut self, ops: Vec<Value>) -> nbctl::Result<Vec<Value>> {
        let mut params = vec![json!(self.schema_name())];
        params.extend(ops);
        let results = self
            .transact_value(&Value::Array(params))
            .map_err(|e| NbctlError::Connection(e.message))?;
        if let Some(arr) = results.as_array() {
            for r in arr {
                if let Some(e) = r.get("error") {
                    return Err(NbctlError::Transaction {
                        error: e.as_str().unwrap_or_default().to_owned(),
                        details: r
                            .get("details")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
            }
            return Ok(arr.clone());
        }
        Err(NbctlError::Connection(format!(
            "unexpected transact reply {results}"
        )))
    }
}

/// Compiles an OVN match expression (no address sets, port groups or ports defined) to the
/// OpenFlow matches it stands for, one per line.
pub(crate) fn compile_match(expr: &str) -> Result<String> {
    use flowcompile::debug::{run_with, DebugEnv, Pass};
    run_with(Pass::Flows, expr, &DebugEnv::default())
        .map(|s| s.trim_end().to_owned())
        .map_err(|e| BindingError::new(Category::Compile, e.render(expr)))
}

/// A JSON-RPC connection to a remote OVSDB server, driven synchronously by its own runtime.
#[derive(Debug)]
pub(crate) struct RemoteDb {
    runtime: tokio::runtime::Runtime,
    conn: Connection,
    timeout: Duration,
}

impl RemoteDb {
    /// Connects to `remote` (`unix:PATH` or `tcp:HOST:PORT`) within `timeout`; later requests wait
    /// at most `timeout` for their reply.
    pub(crate) fn connect(remote: &str, timeout: Duration) -> Result<Self> {
        let conn_err =
            |e: &dyn fmt::Display| BindingError::new(Category::Connection, e.to_string());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| conn_err(&e))?;
        let parsed = Remote::parse(remote).map_err(|e| conn_err(&e))?;
        let conn = runtime
            .block_on(Connection::connect(&parsed, timeout, None))
            .map_err(|e| conn_err(&e))?;
        Ok(Self {
            runtime,
            conn,
            timeout,
        })
    }

    /// Sends one JSON-RPC request (`method`, `params` as a JSON array) and returns its result.
    /// An error reply is a [`Category::Connection`] error carrying the server's error object.
    pub(crate) fn call_value(&mut self, method: &str, params: Value) -> Result<Value> {
        let Value::Array(params) = params else {
            return Err(BindingError::new(
                Category::Json,
                "params must be a JSON array",
            ));
        };
        let Self {
            runtime,
            conn,
            timeout,
        } = self;
        runtime
            .block_on(conn.call_ok(method, params, *timeout))
            .map_err(|e| BindingError::new(Category::Connection, e.to_string()))
    }
}
