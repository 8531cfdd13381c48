//! Compiles an OVN Northbound snapshot into Southbound content, as ovn-northd 23.03 does.
//!
//! The pipeline is: [`NbSnapshot`] (typed NB rows, from an in-memory [`ovsdb::Database`] or
//! JSON rows) and [`SbState`] (tunnel keys already in SB, chassis features) go into the pure
//! [`build()`], which returns [`SbContent`] (datapaths, port bindings, multicast groups, address
//! sets, port groups and logical flows shared between datapaths); [`diff::diff`] then compares it
//! with the current SB rows and returns one SB transaction.
//!
//! Flows are made by typed builders ([`flow`]) in one module per group of stages
//! ([`switch`]); stage names and tables come from [`ovn_sb::stage::Stage`].
//!
//! What it does not do: I/O of its own (callers hand it snapshots and apply the diff), or OpenFlow
//! (that is `flowcompile`).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod bfd;
pub mod build;
pub mod content;
pub mod copp;
pub mod debug_drop;
pub mod dhcp_catalogue;
pub mod diff;
pub mod dns;
pub mod embedded;
pub mod error;
pub mod flow;
pub mod igmp;
pub mod incremental;
pub mod ipam;
pub mod lb;
pub mod mcast;
pub mod mirror;
pub mod rbac;
pub mod router;
pub mod sb_flows;
pub mod snapshot;
mod stale;
pub mod state;
pub mod svc_monitor;
pub mod switch;
pub mod template_var;
pub mod tunnel_key;

pub use build::build;
pub use content::SbContent;
pub use embedded::{plan_once, run_once, RunPlan, RunStats};
pub use error::{NbWarning, NorthdError};
pub use snapshot::NbSnapshot;
pub use state::{ChassisFeatures, SbState};
pub use tunnel_key::{TunnelKeyAllocator, TunnelKeyError};
