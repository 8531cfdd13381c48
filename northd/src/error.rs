//! Errors of the northd compiler.

use ovsdb::model::ModelError;

use crate::tunnel_key::TunnelKeyError;

/// An error building a snapshot, compiling it, or diffing against Southbound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NorthdError {
    /// A row did not match its table's model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The JSON given for a snapshot was not an object of table name to rows.
    #[error("{table}: expected an array or object of rows")]
    NotRows {
        /// The table whose rows were malformed.
        table: String,
    },
    /// No tunnel key was left.
    #[error(transparent)]
    TunnelKey(#[from] TunnelKeyError),
    /// The Southbound database rejected the transaction a run made.
    #[error("SB transaction failed: {0}")]
    SbTransaction(String),
    /// JSON that could not be read or written (e.g. a `select` reply).
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Southbound lacks a row an incremental update refers to (it is out of step with what
    /// northd last wrote; a full recompute repairs it).
    #[error("SB out of step: {0}")]
    SbOutOfStep(String),
}

/// A problem in the Northbound input that ovn-northd would log and work around; compilation
/// goes on without the offending item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NbWarning {
    /// A `Logical_Switch_Port` `addresses` or `port_security` entry does not parse.
    #[error("port {port}: bad address {text:?}: {reason}")]
    BadAddress {
        /// The port.
        port: String,
        /// The entry.
        text: String,
        /// Why.
        reason: String,
    },
    /// An option has a value of the wrong form.
    #[error("{owner}: option {key}={value:?} is invalid")]
    BadOption {
        /// Which row.
        owner: String,
        /// The option key.
        key: String,
        /// The value.
        value: String,
    },
    /// A logical router `NAT` rule is invalid; the rule is left out.
    #[error("router {router}: NAT {nat}: {reason}")]
    BadNat {
        /// The router.
        router: String,
        /// The rule (`type external_ip logical_ip`).
        nat: String,
        /// Why.
        reason: String,
    },
    /// A tunnel key could not be allocated; the object is left out.
    #[error("{0}")]
    TunnelKey(TunnelKeyError),
}
