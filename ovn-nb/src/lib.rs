//! The OVN Northbound database for ovnkit.
//!
//! What this crate does: a typed model of OVN_Northbound 7.0.0 generated from the installed schema,
//! an ovn-nbctl-style API (one typed function per verb, composing into one transaction), and the
//! Kubernetes-level layer (`kube`) that writes NB the way OVN-Kubernetes does.
//!
//! What it does not do: compile NB into SB (that is `northd`) or talk to a server by itself (it uses
//! `ovsdb`'s embedded database or client).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod addr;
pub mod kube;
pub mod model;
pub mod nbctl;

pub use addr::{AddrError, IpNet, LspAddress, MacAddr};
