//! Errors of the ovn-nbctl-style API.

/// Why a command was refused or a transaction failed.
///
/// The `Display` text of the argument errors is what `ovn-nbctl` prints after its `ovn-nbctl: `
/// prefix, so a user sees the same message from both tools.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NbctlError {
    /// A named or UUID-identified record does not exist (`sw0: switch name not found`).
    #[error("{0}")]
    NotFound(String),
    /// A record with this name or these values already exists and `--may-exist` was not given.
    #[error("{0}")]
    AlreadyExists(String),
    /// An argument is malformed or out of range (bad MAC, bad CIDR, bad priority, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Several records match a name; the user must name one by UUID.
    #[error("{0}")]
    Ambiguous(String),
    /// The command line is wrong: unknown command or option, wrong number of arguments.
    #[error("{0}")]
    Usage(String),
    /// The database refused the transaction (RFC 7047 error tag and details).
    #[error("transaction error: {{\"details\":{details:?},\"error\":{error:?}}}")]
    Transaction {
        /// The RFC 7047 error tag (`constraint violation`, `referential integrity violation`, ...).
        error: String,
        /// The server's explanation.
        details: String,
    },
    /// The database could not be reached or answered something unexpected.
    #[error("{0}")]
    Connection(String),
}

impl NbctlError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub(crate) fn exists(msg: impl Into<String>) -> Self {
        Self::AlreadyExists(msg.into())
    }
}

/// Result of the API.
pub type Result<T, E = NbctlError> = std::result::Result<T, E>;
