//! Errors of the OVSDB client.

use serde_json::Value;

use crate::jsonrpc::JsonRpcError;

/// Everything the client can report. Matching on the variant tells what to do next: retry
/// ([`ClientError::OutcomeUnknown`], [`ClientError::Disconnected`]), fix the configuration
/// ([`ClientError::InvalidRemote`], [`ClientError::SchemaMismatch`], [`ClientError::InvalidMonitor`]),
/// or look at the server's answer ([`ClientError::Server`], [`ClientError::TxnFailed`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A remote string that is not `unix:PATH` or `tcp:HOST:PORT`.
    #[error("invalid remote \"{0}\": expected unix:PATH or tcp:HOST:PORT")]
    InvalidRemote(String),
    /// An empty list of remotes.
    #[error("no remote given")]
    NoRemotes,
    /// Connecting to or talking with a remote failed at the socket level.
    #[error("{remote}: {detail}")]
    Io {
        /// The remote.
        remote: String,
        /// The I/O error text.
        detail: String,
    },
    /// The byte stream from the server is not valid JSON-RPC (e.g. the socket closed mid-message).
    #[error("{remote}: protocol error: {detail}")]
    Protocol {
        /// The remote.
        remote: String,
        /// What the JSON-RPC layer reported.
        detail: String,
    },
    /// The server answered a request with an error object.
    #[error("server rejected {method}: {error}")]
    Server {
        /// The request method.
        method: String,
        /// The `error` member of the response.
        error: Value,
    },
    /// A response or notification whose shape is not what RFC 7047 prescribes.
    #[error("malformed {what} from server: {detail}")]
    Malformed {
        /// What was being read (`"update2"`, `"monitor_cond_since reply"`, ...).
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// The server's schema lacks a monitored table or column, or differs from the expected schema.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// The database is not served by the remote.
    #[error("database {0} is not served by the remote")]
    UnknownDatabase(String),
    /// A monitor request (tables, columns, conditions, indexes) that does not fit the schema.
    #[error("invalid monitor request: {0}")]
    InvalidMonitor(String),
    /// A transaction operation failed; the transaction was not committed.
    #[error("transaction failed{}: {error}{}", op_index.map(|i| format!(" at operation {i}")).unwrap_or_default(), details.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TxnFailed {
        /// Index of the failing operation, or `None` for a commit-level failure.
        op_index: Option<usize>,
        /// The RFC 7047 error tag (`"timed out"`, `"constraint violation"`, ...).
        error: String,
        /// The server's details, if any.
        details: Option<String>,
    },
    /// The connection was lost after a transaction was sent and before its reply arrived: it may or
    /// may not have been committed. Retry it with a `wait` guard that makes it idempotent.
    #[error("connection lost before the transaction's reply: outcome unknown")]
    OutcomeUnknown,
    /// The connection was lost while a request other than `transact` was pending, or no connection
    /// was up when the request was made and the client was told not to queue.
    #[error("disconnected from the server")]
    Disconnected,
    /// No remote in the list is usable (unreachable, or not the leader when leader-only).
    #[error("no usable remote among {tried:?}: {last}")]
    NoUsableRemote {
        /// The remotes tried.
        tried: Vec<String>,
        /// Why the last one was rejected.
        last: String,
    },
    /// The server canceled the monitor (the database was removed or its schema changed).
    #[error("the server canceled the monitor")]
    MonitorCanceled,
    /// An operation did not finish in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The client was shut down.
    #[error("client is shut down")]
    Closed,
}

impl ClientError {
    pub(crate) fn malformed(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn rpc(remote: &str, e: &JsonRpcError) -> Self {
        match e {
            JsonRpcError::Io(io) => Self::Io {
                remote: remote.to_owned(),
                detail: io.to_string(),
            },
            other => Self::Protocol {
                remote: remote.to_owned(),
                detail: other.to_string(),
            },
        }
    }

    /// True for errors after which reconnecting (to the same or another remote) may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Io { .. }
                | Self::Protocol { .. }
                | Self::Malformed { .. }
                | Self::OutcomeUnknown
                | Self::Disconnected
                | Self::NoUsableRemote { .. }
                | Self::Timeout(_)
                | Self::MonitorCanceled
        )
    }
}

/// Result with [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
