//! The ovnkit C API: a thin layer over the Rust crates (`ovsdb`, `ovn-nb`, `northd`,
//! `flowcompile`).
//!
//! Conventions (as rustls-ffi):
//! - Every fallible function returns an [`ovnkit_result`]; on failure [`ovnkit_last_error`] gives a
//!   readable message (thread-local, valid until the next ovnkit call on the same thread).
//! - Out-parameters are written only when the function returns `OVNKIT_RESULT_OK`.
//! - Every pointer argument is checked for NULL (`OVNKIT_RESULT_NULL_ARGUMENT`); strings must be
//!   NUL-terminated UTF-8 (`OVNKIT_RESULT_INVALID_UTF8`).
//! - Handles are opaque, created by `*_new`/`*_connect` and released by `*_free` (NULL is a no-op).
//! - Returned strings are owned by the caller and released with [`ovnkit_string_free`].
//! - No panic crosses the boundary: each function catches it and returns `OVNKIT_RESULT_PANIC`.
//!
//! The header `include/ovnkit.h` is generated from this file by cbindgen (see `tests/header.rs`).
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

mod embedded;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;
use std::time::Duration;

use embedded::{BindingError, Category, DbKind, EmbeddedDb, RemoteDb};

/// The outcome of an ovnkit call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ovnkit_result {
    /// Success; out-parameters were written.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument has the wrong value (unknown table, NB database where SB is needed, ...).
    InvalidArgument = 3,
    /// A JSON argument does not parse or has the wrong shape.
    JsonError = 4,
    /// The OVSDB layer failed: database file, schema, blocked transaction.
    OvsdbError = 5,
    /// An nbctl command line was refused (usage, not found, already exists, transaction error).
    NbctlError = 6,
    /// northd could not compile NB or write SB.
    NorthdError = 7,
    /// Flow compilation failed (unknown chassis, bad match expression).
    CompileError = 8,
    /// The remote OVSDB server could not be reached, timed out, or answered with an error.
    ConnectionError = 9,
    /// ovnkit panicked; the message is in `ovnkit_last_error()`. Handles involved may be
    /// inconsistent and should be freed.
    Panic = 10,
    /// Kubernetes manifests do not parse (bad YAML, unknown kind, invalid field) or do not build
    /// a Northbound topology (bad annotation, exhausted subnet).
    ManifestError = 11,
}

/// Which embedded schema a database uses.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ovnkit_db_kind {
    /// `OVN_Northbound`.
    Northbound = 0,
    /// `OVN_Southbound`.
    Southbound = 1,
}

/// An embedded OVN_Northbound or OVN_Southbound database, in memory or backed by a standalone
/// OVSDB file (each commit appended; the file is readable by `ovsdb-tool`).
pub struct ovnkit_db {
    inner: EmbeddedDb,
}

/// A JSON-RPC connection to a remote OVSDB server, used synchronously.
pub struct ovnkit_remote {
    inner: RemoteDb,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The failure of one call: its result code and message.
struct Failure(ovnkit_result, String);

impl From<BindingError> for Failure {
    fn from(e: BindingError) -> Self {
        let code = match e.category {
            Category::Json => ovnkit_result::JsonError,
            Category::Ovsdb => ovnkit_result::OvsdbError,
            Category::Nbctl => ovnkit_result::NbctlError,
            Category::Northd => ovnkit_result::NorthdError,
            Category::Compile => ovnkit_result::CompileError,
            Category::Connection => ovnkit_result::ConnectionError,
            Category::InvalidArgument => ovnkit_result::InvalidArgument,
            Category::Manifest => ovnkit_result::ManifestError,
        };
        Self(code, e.message)
    }
}

/// Runs `f` behind the panic boundary and records its error, if any, as the last error.
fn guard(what: &str, f: impl FnOnce() -> Result<(), Failure>) -> ovnkit_result {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(Failure(ovnkit_result::Panic, format!("panic: {msg}")))
    });
    match outcome {
        Ok(()) => {
            set_last_error("");
            ovnkit_result::Ok
        }
        Err(Failure(code, msg)) => {
            set_last_error(&format!("{what}: {msg}"));
            code
        }
    }
}

/// Fails with `NullArgument` when `p` is NULL.
fn non_null<T>(p: *const T, name: &str) -> Result<(), Failure> {
    if p.is_null() {
        return Err(Failure(
            ovnkit_result::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    Ok(())
}

/// Borrows the NUL-terminated UTF-8 string `p`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    non_null(p, name)?;
    // SAFETY: p is non-null and, by the caller's contract, NUL-terminated and live for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| Failure(ovnkit_result::InvalidUtf8, format!("{name}: {e}")))
}

/// Moves `s` into a C string the caller frees with [`ovnkit_string_free`].
fn owned_string(s: String) -> *mut c_char {
    CString::new(s.replace('\0', "\\0"))
        .unwrap_or_default()
        .into_raw()
}

/// Writes `value` to the out-parameter `out`.
///
/// # Safety
/// `out` is non-null, aligned and writable.
unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: guaranteed by the caller (checked non-null before the work was done).
    unsafe { out.write(value) };
}

/// The message of the last failed ovnkit call on this thread ("" after a successful call).
///
/// The pointer stays valid until the next ovnkit call on the same thread; never free it.
#[no_mangle]
pub extern "C" fn ovnkit_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_ptr())).unwrap_or(c"panic".as_ptr())
}

/// A static, readable name of `result` (e.g. "nbctl error"). Never free it.
#[no_mangle]
pub extern "C" fn ovnkit_result_name(result: ovnkit_result) -> *const c_char {
    let s: &'static CStr = match result {
        ovnkit_result::Ok => c"ok",
        ovnkit_result::NullArgument => c"null argument",
        ovnkit_result::InvalidUtf8 => c"invalid UTF-8",
        ovnkit_result::InvalidArgument => c"invalid argument",
        ovnkit_result::JsonError => c"JSON error",
        ovnkit_result::OvsdbError => c"OVSDB error",
        ovnkit_result::NbctlError => c"nbctl error",
        ovnkit_result::NorthdError => c"northd error",
        ovnkit_result::CompileError => c"compile error",
        ovnkit_result::ConnectionError => c"connection error",
        ovnkit_result::Panic => c"panic",
        ovnkit_result::ManifestError => c"manifest error",
    };
    s.as_ptr()
}

/// Frees a string returned by ovnkit. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a string returned by ovnkit that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: s came from CString::into_raw in owned_string and is freed once (caller contract).
    let _ = catch_unwind(|| drop(unsafe { CString::from_raw(s) }));
}

/// Opens an embedded database of `kind`: in memory when `path` is NULL, otherwise the standalone
/// OVSDB file at `path` (created with the embedded schema when it does not exist). Free the
/// handle with `ovnkit_db_free`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_db_new(
    kind: ovnkit_db_kind,
    path: *const c_char,
    out: *mut *mut ovnkit_db,
) -> ovnkit_result {
    guard("ovnkit_db_new", || {
        non_null(out, "out")?;
        let kind = match kind {
            ovnkit_db_kind::Northbound => DbKind::Northbound,
            ovnkit_db_kind::Southbound => DbKind::Southbound,
        };
        let inner = if path.is_null() {
            EmbeddedDb::in_memory(kind)
        } else {
            // SAFETY: path is non-null and NUL-terminated (caller contract).
            let path = unsafe { str_arg(path, "path") }?;
            EmbeddedDb::open_file(kind, Path::new(path))?
        };
        let db = Box::into_raw(Box::new(ovnkit_db { inner }));
        // SAFETY: out was checked non-null; it is writable by the caller's contract.
        unsafe { write_out(out, db) };
        Ok(())
    })
}

/// Frees a database handle (closing its file). NULL is a no-op.
///
/// # Safety
/// `db` is NULL or a handle from `ovnkit_db_new` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_db_free(db: *mut ovnkit_db) {
    if db.is_null() {
        return;
    }
    // SAFETY: db came from Box::into_raw in ovnkit_db_new and is freed once (caller contract).
    let _ = catch_unwind(|| drop(unsafe { Box::from_raw(db) }));
}

/// Whether `db` is a Northbound or Southbound database.
///
/// # Safety
/// `db` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_db_kind_of(
    db: *const ovnkit_db,
    out: *mut ovnkit_db_kind,
) -> ovnkit_result {
    guard("ovnkit_db_kind_of", || {
        non_null(db, "db")?;
        non_null(out, "out")?;
        // SAFETY: db is non-null and live (caller contract).
        let kind = match unsafe { &*db }.inner.kind() {
            DbKind::Northbound => ovnkit_db_kind::Northbound,
            DbKind::Southbound => ovnkit_db_kind::Southbound,
        };
        // SAFETY: out was checked non-null.
        unsafe { write_out(out, kind) };
        Ok(())
    })
}

/// Runs one RFC 7047 transaction: `params_json` is the `transact` params array
/// (`["OVN_Northbound", {"op": "insert", ...}, ...]`). On `OVNKIT_RESULT_OK`, `*out_json` is the
/// `result` array; operations that failed are reported inside it (`{"error": ..., "details":
/// ...}`), as an OVSDB server replies. Commits of a file-backed database are appended to its file.
///
/// # Safety
/// `db` is NULL or a live handle; `params_json` is NULL or NUL-terminated; `out_json` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_db_transact(
    db: *mut ovnkit_db,
    params_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_db_transact", || {
        non_null(db, "db")?;
        non_null(out_json, "out_json")?;
        // SAFETY: params_json is NUL-terminated or NULL (checked).
        let params = unsafe { str_arg(params_json, "params_json") }?;
        let params = embedded::parse_json(params)?;
        // SAFETY: db is non-null, live and not aliased during the call (caller contract).
        let result = unsafe { &mut *db }.inner.transact_value(&params)?;
        // SAFETY: out_json was checked non-null.
        unsafe { write_out(out_json, owned_string(result.to_string())) };
        Ok(())
    })
}

/// Dumps the rows of `table` (every table when `table` is NULL) as the JSON object
/// `{"TABLE": [row, ...]}`, each row with every column (`_uuid` and `_version` included) in OVSDB
/// JSON notation, rows sorted by `_uuid`.
///
/// # Safety
/// `db` is NULL or a live handle; `table` is NULL or NUL-terminated; `out_json` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_db_dump(
    db: *const ovnkit_db,
    table: *const c_char,
    out_json: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_db_dump", || {
        non_null(db, "db")?;
        non_null(out_json, "out_json")?;
        let table = if table.is_null() {
            None
        } else {
            // SAFETY: table is non-null and NUL-terminated (caller contract).
            Some(unsafe { str_arg(table, "table") }?)
        };
        // SAFETY: db is non-null and live (caller contract).
        let dump = unsafe { &*db }.inner.dump_value(table)?;
        // SAFETY: out_json was checked non-null.
        unsafe { write_out(out_json, owned_string(dump.to_string())) };
        Ok(())
    })
}

/// Runs an `ovn-nbctl` command line against a Northbound database as one transaction. `argv`
/// holds `argc` arguments without the program name, e.g. `{"ls-add", "sw0", "--", "lsp-add",
/// "sw0", "p1"}`. On success `*out_text` is what ovn-nbctl would print (possibly "").
///
/// # Safety
/// `db` is NULL or a live handle; `argv` is NULL or points to `argc` NUL-terminated strings;
/// `out_text` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_nbctl(
    db: *mut ovnkit_db,
    argc: usize,
    argv: *const *const c_char,
    out_text: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_nbctl", || {
        non_null(db, "db")?;
        non_null(argv, "argv")?;
        non_null(out_text, "out_text")?;
        // SAFETY: argv is non-null and points to argc pointers (caller contract).
        let ptrs = unsafe { std::slice::from_raw_parts(argv, argc) };
        let mut args = Vec::with_capacity(argc);
        for (i, p) in ptrs.iter().enumerate() {
            // SAFETY: each argv[i] is NULL or NUL-terminated (caller contract).
            args.push(unsafe { str_arg(*p, &format!("argv[{i}]")) }?);
        }
        // SAFETY: db is non-null, live and not aliased during the call (caller contract).
        let text = unsafe { &mut *db }.inner.nbctl(&args)?;
        // SAFETY: out_text was checked non-null.
        unsafe { write_out(out_text, owned_string(text)) };
        Ok(())
    })
}

/// Applies Kubernetes manifests to the Northbound database `nb` as OVN-Kubernetes would (default
/// cluster configuration): `manifests_yaml` holds YAML or JSON documents separated by `---`
/// (Nodes, Pods, Namespaces, Services, NetworkPolicies, ...). Only the difference is written, as
/// one transaction. `*stats_json` receives `{"inserted":N,"updated":N,"deleted":N,"ops":N}`.
/// Manifests that do not parse or build return `OVNKIT_RESULT_MANIFEST_ERROR`.
///
/// # Safety
/// `nb` is NULL or a live handle; `manifests_yaml` is NULL or NUL-terminated; `stats_json` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_kube_apply(
    nb: *mut ovnkit_db,
    manifests_yaml: *const c_char,
    stats_json: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_kube_apply", || {
        non_null(nb, "nb")?;
        non_null(stats_json, "stats_json")?;
        // SAFETY: manifests_yaml is NULL or NUL-terminated (caller contract).
        let text = unsafe { str_arg(manifests_yaml, "manifests_yaml") }?;
        // SAFETY: nb is non-null, live and not aliased during the call (caller contract).
        let stats = unsafe { &mut *nb }.inner.kube_apply(text)?;
        // SAFETY: stats_json was checked non-null.
        unsafe { write_out(stats_json, owned_string(stats.to_string())) };
        Ok(())
    })
}

/// Runs northd once: compiles the Northbound database `nb` and writes the resulting Southbound
/// content to `sb` as one transaction. When `out_warnings` is not NULL, `*out_warnings` receives
/// northd's warnings, one per line (possibly "").
///
/// # Safety
/// `nb` and `sb` are NULL or distinct live handles; `out_warnings` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_northd_run(
    nb: *const ovnkit_db,
    sb: *mut ovnkit_db,
    out_warnings: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_northd_run", || {
        non_null(nb, "nb")?;
        non_null(sb, "sb")?;
        if ptr::eq(nb, sb) {
            return Err(Failure(
                ovnkit_result::InvalidArgument,
                "nb and sb are the same database".into(),
            ));
        }
        // SAFETY: nb and sb are non-null, live and distinct (checked), sb not aliased.
        let (nb, sb) = unsafe { (&*nb, &mut *sb) };
        let warnings = nb.inner.northd_once(&mut sb.inner)?;
        if !out_warnings.is_null() {
            // SAFETY: out_warnings is non-null and writable (caller contract).
            unsafe { write_out(out_warnings, owned_string(warnings.join("\n"))) };
        }
        Ok(())
    })
}

/// Computes the OpenFlow rules chassis `chassis` (its `Chassis` `name`) installs for the
/// Southbound database `sb`, as `ovs-ofctl dump-flows` prints them, one per line. Logical flows
/// that do not compile are skipped.
///
/// # Safety
/// `sb` is NULL or a live handle; `chassis` is NULL or NUL-terminated; `out_text` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_chassis_flows(
    sb: *const ovnkit_db,
    chassis: *const c_char,
    out_text: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_chassis_flows", || {
        non_null(sb, "sb")?;
        non_null(out_text, "out_text")?;
        // SAFETY: chassis is NULL or NUL-terminated (caller contract).
        let chassis = unsafe { str_arg(chassis, "chassis") }?;
        // SAFETY: sb is non-null and live (caller contract).
        let (text, _skipped) = unsafe { &*sb }.inner.chassis_flows(chassis)?;
        // SAFETY: out_text was checked non-null.
        unsafe { write_out(out_text, owned_string(text)) };
        Ok(())
    })
}

/// Compiles an OVN logical-flow match expression (e.g. `"ip4.src == 10.0.0.0/8 && tcp"`) to the
/// OpenFlow matches it stands for, one per line. No address sets, port groups or ports are
/// defined.
///
/// # Safety
/// `expr` is NULL or NUL-terminated; `out_text` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_compile_match(
    expr: *const c_char,
    out_text: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_compile_match", || {
        non_null(out_text, "out_text")?;
        // SAFETY: expr is NULL or NUL-terminated (caller contract).
        let expr = unsafe { str_arg(expr, "expr") }?;
        let text = embedded::compile_match(expr)?;
        // SAFETY: out_text was checked non-null.
        unsafe { write_out(out_text, owned_string(text)) };
        Ok(())
    })
}

/// Connects to the OVSDB server at `remote` (`unix:PATH` or `tcp:HOST:PORT`) within `timeout_ms`
/// milliseconds; later requests wait at most as long for their reply. The connection is driven
/// by an internal single-threaded runtime. Free it with `ovnkit_remote_free`.
///
/// # Safety
/// `remote` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_remote_connect(
    remote: *const c_char,
    timeout_ms: u32,
    out: *mut *mut ovnkit_remote,
) -> ovnkit_result {
    guard("ovnkit_remote_connect", || {
        non_null(out, "out")?;
        // SAFETY: remote is NULL or NUL-terminated (caller contract).
        let remote = unsafe { str_arg(remote, "remote") }?;
        let inner = RemoteDb::connect(remote, Duration::from_millis(timeout_ms.into()))?;
        let handle = Box::into_raw(Box::new(ovnkit_remote { inner }));
        // SAFETY: out was checked non-null.
        unsafe { write_out(out, handle) };
        Ok(())
    })
}

/// Closes and frees a remote connection. NULL is a no-op.
///
/// # Safety
/// `remote` is NULL or a handle from `ovnkit_remote_connect` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_remote_free(remote: *mut ovnkit_remote) {
    if remote.is_null() {
        return;
    }
    // SAFETY: remote came from Box::into_raw in ovnkit_remote_connect, freed once.
    let _ = catch_unwind(|| drop(unsafe { Box::from_raw(remote) }));
}

/// Runs one `transact` on the remote server (`params_json` as for `ovnkit_db_transact`) and
/// returns its `result` array.
///
/// # Safety
/// `remote` is NULL or a live handle; `params_json` is NULL or NUL-terminated; `out_json` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_remote_transact(
    remote: *mut ovnkit_remote,
    params_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_remote_transact", || {
        non_null(remote, "remote")?;
        non_null(out_json, "out_json")?;
        // SAFETY: params_json is NULL or NUL-terminated (caller contract).
        let params = unsafe { str_arg(params_json, "params_json") }?;
        // SAFETY: remote is non-null, live and not aliased during the call (caller contract).
        let result = unsafe { &mut *remote }
            .inner
            .call_value("transact", embedded::parse_json(params)?)?;
        // SAFETY: out_json was checked non-null.
        unsafe { write_out(out_json, owned_string(result.to_string())) };
        Ok(())
    })
}

/// Sends any JSON-RPC request (`method`, e.g. `"list_dbs"`, with `params_json` a JSON array) to
/// the remote server and returns its `result`. An error reply is `OVNKIT_RESULT_CONNECTION_ERROR`
/// with the server's error in the message.
///
/// # Safety
/// `remote` is NULL or a live handle; `method` and `params_json` are NULL or NUL-terminated;
/// `out_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ovnkit_remote_call(
    remote: *mut ovnkit_remote,
    method: *const c_char,
    params_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ovnkit_result {
    guard("ovnkit_remote_call", || {
        non_null(remote, "remote")?;
        non_null(out_json, "out_json")?;
        // SAFETY: method and params_json are NULL or NUL-terminated (caller contract).
        let (method, params) = unsafe {
            (
                str_arg(method, "method")?,
                str_arg(params_json, "params_json")?,
            )
        };
        let params = embedded::parse_json(params)?;
        // SAFETY: remote is non-null, live and not aliased during the call (caller contract).
        let result = unsafe { &mut *remote }.inner.call_value(method, params)?;
        // SAFETY: out_json was checked non-null.
        unsafe { write_out(out_json, owned_string(result.to_string())) };
        Ok(())
    })
}
