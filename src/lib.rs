//! ovnkit: an OVN control plane as a Rust library.
//!
//! This facade re-exports the layers; each crate's own documentation says what it does and what it
//! does not.
#![forbid(unsafe_code)]

pub mod cluster;

pub use flowcompile;
pub use northd;
pub use ovn_nb;
pub use ovn_sb;
pub use ovsdb;
