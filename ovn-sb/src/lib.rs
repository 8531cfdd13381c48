//! The OVN Southbound and Open_vSwitch databases for ovnkit.
//!
//! What this crate does: typed models of OVN_Southbound 20.27.0 and Open_vSwitch generated from the
//! installed schemas, and the vocabulary shared by northd and flowcompile: the logical pipeline
//! stages of OVN 23.03 with their table numbers; and the Open_vSwitch side of a chassis
//! ([`chassis`]: br-int, br-ex, patch and internal ports, OVN's `external_ids`) with an
//! `ovs-vsctl show` renderer ([`chassis_show`]).
//!
//! What it does not do: compute SB contents (`northd`) or OpenFlow (`flowcompile`).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod chassis;
pub mod chassis_show;
pub mod model;
pub mod stage;
pub mod vswitch;

pub use stage::{DatapathKind, Pipeline, Stage};
