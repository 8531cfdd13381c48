//! An ovn-nbctl-style API: one typed function per `ovn-nbctl` verb, composing into one
//! transaction.
//!
//! A command list is an [`Nbctl`]: it starts from a [`Snapshot`] of the database (the embedded
//! [`ovsdb::Database`] through [`TxnTarget`], or a client replica through [`remote`]), every verb
//! reads the rows as the earlier verbs left them and validates its arguments against them, and
//! [`Nbctl::commit`] sends the difference as one RFC 7047 transaction (inserts with `uuid-name`s
//! referenced by `named-uuid`, updates of changed columns, deletes). A refused argument leaves
//! nothing written: drop the `Nbctl`.
//!
//! The verbs write the same rows and columns as `ovn-nbctl` 23.03 and refuse the same arguments
//! with the same message (see the differential tests in `tests/nbctl.rs`). The generic commands
//! (`list`, `get`, `set`, `add`, `remove`, `clear`, `create`, `destroy`, `find`) and the command
//! line syntax (`[OPTIONS] VERB ARGS [-- [OPTIONS] VERB ARGS]...`) are in [`command`].
//!
//! ```
//! use ovn_nb::nbctl::{AddOpts, Nbctl, TxnTarget};
//! let mut db = ovsdb::Database::new(ovn_nb::model::schema().clone());
//! let mut nb = Nbctl::on(&db)?;
//! nb.ls_add(Some("sw0"), AddOpts::default())?;
//! nb.lsp_add("sw0", "p1", None, false)?;
//! nb.lsp_set_addresses("p1", &["00:00:00:00:00:01 10.0.0.2"])?;
//! nb.commit(&mut db)?;
//! assert!(Nbctl::on(&db)?.lsp_set_addresses("p1", &["zz"]).is_err());
//! # Ok::<(), ovn_nb::nbctl::NbctlError>(())
//! ```

mod acl;
pub mod command;
mod error;
mod generic;
mod ha;
mod lb;
mod lookup;
pub mod remote;
mod router;
mod show;
mod switch;
pub mod text;
mod txn;

pub use acl::{AclOpts, SEVERITIES};
pub use command::{parse_args, Command, Invocation, Wait};
pub use error::{NbctlError, Result};
pub use lb::LbOpts;
pub use router::{NatOpts, RouteOpts};
pub use switch::{AddOpts, LSP_TYPES};
pub use txn::{Committed, Nbctl, Snapshot, TableRows, TxnTarget};

/// Runs a parsed command line against `target` as one transaction and returns what ovn-nbctl
/// would print.
pub fn execute<T: TxnTarget + ?Sized>(target: &mut T, invocation: &Invocation) -> Result<String> {
    let mut nb = Nbctl::on(target)?;
    nb.set_bare_output(invocation.bare);
    nb.run_commands(&invocation.commands)?;
    Ok(nb.commit(target)?.output)
}
