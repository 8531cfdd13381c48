//! Acceptance tests of the OVSDB server against real OVS/OVN clients and a real ovsdb-server 3.1.
//!
//! Every test starts its own servers in its own temp dir; real programs are skipped (or fail under
//! `CI=true`) when not installed.

// The allocator of `ovnkit ovsdb-server`, for the child servers the benchmarks start from this
// binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod harness;

mod bench;
mod client_compare;
mod crash;
mod ctl_scripts;
mod file_compat;
mod python_idl;
mod robustness;
mod stack;
