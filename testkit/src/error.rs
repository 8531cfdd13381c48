//! The one error type of this crate.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting or driving a sandbox.
///
/// Variants that concern a daemon carry the tail of its log file (and of its
/// captured stdout/stderr), so a failing test shows why without digging in the
/// temp dir, which is gone by the time the failure is printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program was not found on the tool search path.
    #[error("{program} not found in {searched} (install the Debian package {package})")]
    ToolMissing {
        /// Program name, e.g. `ovn-northd`.
        program: &'static str,
        /// Debian package that ships it.
        package: &'static str,
        /// The search path, `:`-separated.
        searched: String,
    },
    /// A schema file was not found in the schema directories nor through `dpkg -L`.
    #[error("schema {file} not found in {searched} (install the Debian package {package})")]
    SchemaMissing {
        /// File name, e.g. `ovn-nb.ovsschema`.
        file: &'static str,
        /// Debian package that ships it.
        package: &'static str,
        /// Directories searched, `:`-separated.
        searched: String,
    },
    /// A filesystem or socket operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, e.g. `creating temp dir`.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// Path of the program.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Exit status as text (`exit status: 1`, `signal: 9`).
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A command did not finish in time and was killed.
    #[error("`{command}` did not finish within {timeout:?}; stderr: {stderr}")]
    CommandTimedOut {
        /// The command line.
        command: String,
        /// How long it was given.
        timeout: Duration,
        /// What it had written to standard error.
        stderr: String,
    },
    /// A component did not become ready within the timeout.
    #[error(
        "{component} did not come up within {waited:?}: {detail}\n--- log tail ---\n{log_tail}"
    )]
    NotReady {
        /// Which component, e.g. `ovn-controller (chassis ch1)`.
        component: String,
        /// How long we waited.
        waited: Duration,
        /// The last probe failure.
        detail: String,
        /// Tail of the component's log and captured output.
        log_tail: String,
    },
    /// A daemon exited while it was expected to run.
    #[error("{component} exited unexpectedly ({status})\n--- log tail ---\n{log_tail}")]
    Exited {
        /// Which component.
        component: String,
        /// Its exit status as text.
        status: String,
        /// Tail of its log and captured output.
        log_tail: String,
    },
    /// Tool output did not have the expected shape.
    #[error("cannot parse {what}: {text:?}")]
    Parse {
        /// What was being parsed, e.g. `ofport`.
        what: &'static str,
        /// The offending text (possibly shortened).
        text: String,
    },
    /// The operation needs a component this stack was built without.
    #[error("this stack has no {component}")]
    NotConfigured {
        /// The missing component.
        component: &'static str,
    },
    /// An OVSDB remote string is not of a supported form (`unix:PATH` or `tcp:HOST:PORT`).
    #[error("unsupported OVSDB remote {remote:?} (expected unix:PATH or tcp:HOST:PORT)")]
    UnsupportedRemote {
        /// The remote as given.
        remote: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
