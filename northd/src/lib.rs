//! Compiles an OVN Northbound snapshot into Southbound content, as ovn-northd 23.03 does.
//!
//! What this crate does: a pure build from an NB snapshot to SB content (datapaths, port bindings,
//! multicast groups, logical flows) with stable tunnel keys, then a diff against the current SB
//! written as one transaction.
//!
//! What it does not do: I/O of its own (callers hand it snapshots and apply the diff), or OpenFlow
//! (that is `flowcompile`).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod tunnel_key;

pub use tunnel_key::{TunnelKeyAllocator, TunnelKeyError};
