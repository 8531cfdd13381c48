//! RFC 7047 OVSDB for ovnkit.
//!
//! What this crate does: parses and validates `.ovsschema` files, represents OVSDB data (atoms, sets,
//! maps) with exact JSON round-tripping, executes transactions exactly as ovsdb-server 3.1 decides them
//! (the engine has no I/O and reads no clock), speaks the JSON-RPC 1.0 wire protocol, serves databases,
//! keeps them in the standalone file format `ovsdb-tool` reads, and replicates remote databases into a
//! cached, indexed client-side replica.
//!
//! What it does not do: it implements no consensus of its own (clustered databases are real
//! ovsdb-server Raft clusters reached through the client) and knows nothing about OVN.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod file;
pub mod jsonrpc;

pub mod atom;
pub mod client;
pub mod condition;
pub mod datum;
pub mod db;
pub mod error;
pub mod fuzz;
mod hash;
pub mod json;
pub mod model;
pub mod mutation;
pub mod parser;
pub mod schema;
pub mod server;
pub mod transaction;
pub mod types;

pub use atom::Atom;
pub use datum::Datum;
pub use db::{ChangeSet, Database, Row, RowChange, TableChanges, TxnContext, TxnOutcome};
pub use error::Error;
pub use fuzz::fuzz_transact;
pub use schema::{ColumnSchema, Schema, TableSchema};
pub use types::{AtomicType, BaseType, ColumnType, RefType};
