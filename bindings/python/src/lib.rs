//! The `ovnkit` Python module: a thin pyo3 layer over the Rust crates, sharing its Rust side
//! (`embedded.rs`) with the C bindings.
//!
//! ```python
//! import ovnkit
//! nb, sb = ovnkit.Database("nb"), ovnkit.Database("sb")
//! nb.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "p1")
//! ovnkit.run_northd(nb, sb)
//! ```

#[path = "../../c/src/embedded.rs"]
mod embedded;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use embedded::{BindingError, Category, DbKind, EmbeddedDb, RemoteDb};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::Value;

/// The exception classes, one per error category, all under `ovnkit.Error`.
#[allow(missing_docs, unreachable_pub)]
mod exc {
    use pyo3::create_exception;
    use pyo3::exceptions::PyException;

    create_exception!(
        ovnkit,
        Error,
        PyException,
        "Base class of every ovnkit error."
    );
    create_exception!(
        ovnkit,
        OvsdbError,
        Error,
        "The OVSDB layer failed: database file, schema, or a transaction error."
    );
    create_exception!(
        ovnkit,
        NbctlError,
        Error,
        "An nbctl command line was refused."
    );
    create_exception!(
        ovnkit,
        NorthdError,
        Error,
        "northd could not compile NB or write SB."
    );
    create_exception!(
        ovnkit,
        CompileError,
        Error,
        "Flow compilation failed (unknown chassis, bad match expression)."
    );
    create_exception!(
        ovnkit,
        ConnectionError,
        Error,
        "The remote OVSDB server could not be reached, timed out, or answered with an error."
    );
    create_exception!(
        ovnkit,
        ManifestError,
        Error,
        "Kubernetes manifests do not parse (bad YAML, unknown kind) or do not build a topology."
    );
    create_exception!(
        ovnkit,
        InvalidArgumentError,
        Error,
        "An argument is invalid: bad JSON, unknown table, wrong kind of database."
    );
}

fn to_py(e: BindingError) -> PyErr {
    let msg = e.message;
    match e.category {
        Category::Json | Category::InvalidArgument => exc::InvalidArgumentError::new_err(msg),
        Category::Ovsdb => exc::OvsdbError::new_err(msg),
        Category::Nbctl => exc::NbctlError::new_err(msg),
        Category::Northd => exc::NorthdError::new_err(msg),
        Category::Compile => exc::CompileError::new_err(msg),
        Category::Connection => exc::ConnectionError::new_err(msg),
        Category::Manifest => exc::ManifestError::new_err(msg),
    }
}

/// `json.dumps(obj)`.
fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text: String = obj
        .py()
        .import("json")?
        .call_method1("dumps", (obj,))?
        .extract()?;
    embedded::parse_json(&text).map_err(to_py)
}

/// `json.loads(value)`.
fn from_json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

/// Raises `OvsdbError` for the first failed operation of a `transact` result when `check`.
fn checked(results: Value, check: bool) -> PyResult<Value> {
    match embedded::first_error(&results) {
        Some(e) if check => Err(exc::OvsdbError::new_err(e)),
        _ => Ok(results),
    }
}

/// The `transact` params `[database, op...]` from Python operation objects.
fn params(database: &str, ops: &Bound<'_, PyTuple>) -> PyResult<Value> {
    let mut params = vec![Value::String(database.to_owned())];
    for op in ops.iter() {
        params.push(to_json(&op)?);
    }
    Ok(Value::Array(params))
}

/// An embedded OVN_Northbound (`"nb"`) or OVN_Southbound (`"sb"`) database, in memory or kept in
/// a standalone OVSDB file (`path=`; created when missing, each commit appended).
#[pyclass(frozen, module = "ovnkit")]
struct Database {
    inner: Mutex<EmbeddedDb>,
}

impl Database {
    fn lock(&self) -> MutexGuard<'_, EmbeddedDb> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[pymethods]
impl Database {
    #[new]
    #[pyo3(signature = (kind = "nb", *, path = None))]
    fn new(kind: &str, path: Option<PathBuf>) -> PyResult<Self> {
        let kind = match kind {
            "nb" | "OVN_Northbound" => DbKind::Northbound,
            "sb" | "OVN_Southbound" => DbKind::Southbound,
            other => {
                return Err(exc::InvalidArgumentError::new_err(format!(
                    "unknown database kind {other:?}: expected \"nb\" or \"sb\""
                )))
            }
        };
        let inner = match path {
            None => EmbeddedDb::in_memory(kind),
            Some(p) => EmbeddedDb::open_file(kind, &p).map_err(to_py)?,
        };
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// `"nb"` or `"sb"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.lock().kind() {
            DbKind::Northbound => "nb",
            DbKind::Southbound => "sb",
        }
    }

    /// `"OVN_Northbound"` or `"OVN_Southbound"`.
    #[getter]
    fn name(&self) -> String {
        self.lock().schema_name().to_owned()
    }

    fn __repr__(&self) -> String {
        format!("ovnkit.Database({:?})", self.kind())
    }

    /// Runs the operations as one RFC 7047 transaction and returns the result list. With
    /// `check=True` a failed operation raises `OvsdbError`.
    #[pyo3(signature = (*ops, check = true))]
    fn transact<'py>(
        &self,
        py: Python<'py>,
        ops: &Bound<'py, PyTuple>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut db = self.lock();
        let params = params(db.schema_name(), ops)?;
        let results = checked(db.transact_value(&params).map_err(to_py)?, check)?;
        from_json(py, &results)
    }

    /// The rows of `table` (every table when `None`) as `{table: [row, ...]}`, each row a dict of
    /// every column in OVSDB JSON notation.
    #[pyo3(signature = (table = None))]
    fn dump<'py>(&self, py: Python<'py>, table: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let dump = self.lock().dump_value(table).map_err(to_py)?;
        from_json(py, &dump)
    }

    /// Runs an ovn-nbctl command line (`"ls-add", "sw0", "--", "lsp-add", "sw0", "p1"`) as one
    /// transaction; returns what ovn-nbctl prints.
    #[pyo3(signature = (*args))]
    fn nbctl(&self, args: Vec<String>) -> PyResult<String> {
        self.lock().nbctl(&args).map_err(to_py)
    }

    /// Applies Kubernetes manifests (YAML or JSON documents separated by `---`) to this NB
    /// database as OVN-Kubernetes would, writing only the difference; returns
    /// `{"inserted": n, "updated": n, "deleted": n, "ops": n}`. Raises `ManifestError` when the
    /// manifests do not parse or build.
    fn kube_apply<'py>(&self, py: Python<'py>, manifests: &str) -> PyResult<Bound<'py, PyAny>> {
        let stats = self.lock().kube_apply(manifests).map_err(to_py)?;
        from_json(py, &stats)
    }

    /// The OpenFlow rules `chassis` installs for this SB database, one `ovs-ofctl dump-flows`
    /// line each.
    fn chassis_flows(&self, chassis: &str) -> PyResult<Vec<String>> {
        let (text, _skipped) = self.lock().chassis_flows(chassis).map_err(to_py)?;
        Ok(text.lines().map(str::to_owned).collect())
    }
}

/// Runs northd once: compiles `nb` and writes the result to `sb`; returns northd's warnings.
#[pyfunction]
fn run_northd(nb: &Bound<'_, Database>, sb: &Bound<'_, Database>) -> PyResult<Vec<String>> {
    if nb.is(sb) {
        return Err(exc::InvalidArgumentError::new_err(
            "nb and sb are the same database",
        ));
    }
    let nb = nb.get().lock();
    let mut sb = sb.get().lock();
    nb.northd_once(&mut sb).map_err(to_py)
}

/// Compiles an OVN match expression to its OpenFlow matches, one string each.
#[pyfunction]
fn compile_match(expr: &str) -> PyResult<Vec<String>> {
    let text = embedded::compile_match(expr).map_err(to_py)?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// A connection to a remote OVSDB server (`"unix:PATH"` or `"tcp:HOST:PORT"`), used
/// synchronously; `timeout` (seconds) bounds the connect and every reply.
#[pyclass(frozen, module = "ovnkit")]
struct Remote {
    inner: Mutex<Option<RemoteDb>>,
}

impl Remote {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut RemoteDb) -> embedded::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let remote = guard
                .as_mut()
                .ok_or_else(|| BindingError::new(Category::Connection, "connection closed"))?;
            f(remote)
        })
        .map_err(to_py)
    }
}

#[pymethods]
impl Remote {
    #[new]
    #[pyo3(signature = (remote, *, timeout = 5.0))]
    fn new(py: Python<'_>, remote: String, timeout: f64) -> PyResult<Self> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|e| exc::InvalidArgumentError::new_err(format!("timeout: {e}")))?;
        let inner = py
            .detach(|| RemoteDb::connect(&remote, timeout))
            .map_err(to_py)?;
        Ok(Self {
            inner: Mutex::new(Some(inner)),
        })
    }

    /// Runs the operations as one transaction on `database`; with `check=True` a failed
    /// operation raises `OvsdbError`.
    #[pyo3(signature = (database, *ops, check = true))]
    fn transact<'py>(
        &self,
        py: Python<'py>,
        database: &str,
        ops: &Bound<'py, PyTuple>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = params(database, ops)?;
        let results = self.with(py, move |r| r.call_value("transact", params))?;
        from_json(py, &checked(results, check)?)
    }

    /// Sends a JSON-RPC request (e.g. `call("list_dbs")`) and returns its result.
    #[pyo3(signature = (method, params = None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = match params {
            Some(p) => to_json(p)?,
            None => Value::Array(Vec::new()),
        };
        let result = self.with(py, move |r| r.call_value(method, params))?;
        from_json(py, &result)
    }

    /// Closes the connection; later calls raise `ConnectionError`.
    fn close(&self) {
        drop(
            self.inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }
}

/// The `ovnkit` extension module.
#[pymodule]
#[pyo3(name = "ovnkit")]
fn ovnkit_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<exc::Error>())?;
    m.add("OvsdbError", py.get_type::<exc::OvsdbError>())?;
    m.add("NbctlError", py.get_type::<exc::NbctlError>())?;
    m.add("NorthdError", py.get_type::<exc::NorthdError>())?;
    m.add("CompileError", py.get_type::<exc::CompileError>())?;
    m.add("ConnectionError", py.get_type::<exc::ConnectionError>())?;
    m.add("ManifestError", py.get_type::<exc::ManifestError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<exc::InvalidArgumentError>(),
    )?;
    m.add_class::<Database>()?;
    m.add_class::<Remote>()?;
    m.add_function(wrap_pyfunction!(run_northd, m)?)?;
    m.add_function(wrap_pyfunction!(compile_match, m)?)?;
    Ok(())
}
