//! Dev-only test harness: starts the real OVN 23.03 / OVS 3.1 stack in a
//! private temp dir per test, so ovnkit can be compared against the reference.
//!
//! # What it does
//! - Finds the installed programs and schema files ([`Toolbox`]); when some are
//!   missing, a test is skipped, or fails with the Debian package names when
//!   `CI=true` ([`require_or_skip!`], [`require_real_ovn`]).
//! - Starts single daemons in a [`Sandbox`] (e.g. one `ovsdb-server` for any
//!   schema file: [`Sandbox::start_ovsdb_server`]) or a whole [`Stack`] — NB and
//!   SB `ovsdb-server`s, `ovn-northd`, an Open_vSwitch `ovsdb-server`,
//!   `ovs-vswitchd` with dummy netdevs and a dummy `br-int`, and
//!   `ovn-controller` for one chassis — where databases may be served by
//!   someone else ([`DbSource::External`]) and northd replaced by another
//!   program or left out ([`NorthdSource`]).
//! - Waits for readiness by probing (OVSDB `list_dbs`, `appctl version`, the
//!   Chassis row, `ovn-nbctl --wait=sb|hv sync`), bounded by a timeout; errors
//!   name what did not come up and carry the tail of its log.
//! - Runs the command-line tools with the sandbox's sockets and environment
//!   ([`Stack::nbctl`], [`Stack::sbctl`], [`Stack::vsctl`], [`Stack::ofctl`],
//!   [`Stack::appctl`], [`Stack::ovn_trace`]), and offers parsed logical flows,
//!   OpenFlow dumps, port binding and `ofproto/trace`.
//! - Owns every daemon as a direct child: dropping the sandbox (also during a
//!   panic) terminates them by pid and removes the directory; if the test
//!   process dies outright, the kernel kills them (`PR_SET_PDEATHSIG`).
//!
//! # What it does not do
//! - Install packages, or work on anything but Linux.
//! - Support SSL remotes, Raft clusters it starts itself, or more than one chassis per stack.
//! - Remove the temp dir if the test process is killed with SIGKILL (the
//!   daemons still die; the directory under `/tmp` stays).
//! - Touch the test process's environment: everything is passed per command,
//!   so stacks in parallel tests do not interfere.
//!
//! # Example
//! ```no_run
//! # fn main() -> testkit::Result<()> {
//! let ovn = testkit::require_or_skip!(Ok(()));
//! let stack = ovn.stack().chassis("ch1").build()?;
//! stack.nbctl(["ls-add", "sw0"])?;
//! stack.wait_hv()?;
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
// `pre_exec` (parent-death signal) and `kill(2)` need unsafe; each use has a SAFETY note.
#![allow(unsafe_code)]

mod error;
mod lflow;
pub mod nbscript;
mod process;
mod sandbox;
mod stack;
mod steal;
mod toolbox;
mod trace;

pub use error::{Error, Result};
pub use lflow::{parse_lflow_list, LogicalFlow, Pipeline};
pub use process::{process_alive, DaemonInfo};
pub use sandbox::{OvsdbServer, Sandbox};
pub use stack::{
    BoundPort, Component, DbSource, NorthdSource, Stack, StackBuilder, BRIDGE, DIR_PLACEHOLDER,
    NB_PLACEHOLDER, SB_PLACEHOLDER,
};
pub use steal::CpuSteal;
pub use toolbox::{
    require_real_ovn, Missing, Schema, Skip, Tool, Toolbox, DEFAULT_TIMEOUT, SEARCH_PATH_VAR,
};
pub use trace::{parse_dpif_show, DatapathPort, OfprotoTrace};

/// Gets a [`Toolbox`] for the installed real OVN, or skips the current test.
///
/// `let ovn = testkit::require_or_skip!();` evaluates to the toolbox when every
/// program and schema is present. Otherwise it prints why to stderr and
/// `return`s from the enclosing function (with the given value, e.g.
/// `require_or_skip!(Ok(()))` in a test returning `Result`). With `CI=true` a
/// missing prerequisite panics instead, naming the Debian packages.
#[macro_export]
macro_rules! require_or_skip {
    () => {
        $crate::require_or_skip!(())
    };
    ($ret:expr) => {
        match $crate::require_real_ovn() {
            ::std::result::Result::Ok(toolbox) => toolbox,
            ::std::result::Result::Err(skip) => {
                ::std::eprintln!("{skip}");
                return $ret;
            }
        }
    };
}
