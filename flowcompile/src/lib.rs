//! OVN's logical flow language compiled to OpenFlow, as ovn-controller 23.03 does.
//!
//! What this crate does: lexes and parses logical-flow match expressions and actions (ovn-sb(5)),
//! runs OVN's passes over them (annotate, simplify, evaluate conditions, normalize, to_matches with
//! conjunctive matches), and encodes them as OpenFlow rules for one chassis, as `ovs-ofctl dump-flows`
//! text and as OpenFlow 1.5 flow_mod bytes.
//!
//! What it does not do: read a database by itself or install flows on a switch.  The language
//! core does no I/O and depends on nothing: callers provide the symbol table, the address sets
//! and port groups ([`annotate::SetResolver`]), chassis residency
//! ([`condition::ChassisResident`]) and port tunnel keys ([`matches::PortLookup`]).
//!
//! # The match pipeline
//!
//! Each stage is one module with a stated contract and a printer in OVN's syntax:
//!
//! ```text
//!  text ──lex──► tokens ──parse──► Ast ──annotate──► Expr ──condition──► Expr
//!       ──simplify──► Expr ──normalize──► Expr (DNF) ──to_matches──► Matches
//! ```
//!
//! 1. [`lex`]: tokens with byte spans (also the action parser's lexer).
//! 2. [`parse`]: the syntax tree, as written; checks fields against the [`symtab::Symtab`].
//! 3. [`annotate`]: resolves `$sets`/`@groups`, type-checks constants, expands subfields,
//!    predicates and prerequisites.  Output: comparisons on real fields only.
//! 4. [`condition`]: replaces `is_chassis_resident(...)` by true or false for one chassis.
//! 5. [`simplify`]: rewrites `!=`, `<`, `<=`, `>`, `>=` into ORs of masked equalities.
//! 6. [`normalize`]: disjunctive normal form, where an AND may keep ORs over one field as
//!    conjunctive-match dimensions.
//! 7. [`matches`](mod@matches): OpenFlow matches, with `conjunction(id, k/n)` flows exactly where
//!    ovn-controller makes them.
//!
//! [`compile_match`] runs them all; [`debug::run`] runs up to one stage and prints it.
//! [`conjuncts::ConjunctCache`] gives the same results for many matches in one environment,
//! running stages 1 to 5 once per distinct top-level conjunct.
//!
//! ```
//! use flowcompile::{compile_match, annotate::NoSets, symtab::Symtab};
//! let m = compile_match("ip4 && tcp.dst == {80, 443}", Symtab::ovn(), &NoSets, &|_: &str| false,
//!                       &|_: &str, _: &str| None).unwrap();
//! let text: Vec<String> = m.matches.iter().map(|m| m.to_string()).collect();
//! assert_eq!(text, ["tcp,tp_dst=80", "tcp,tp_dst=443"]);
//! ```
//!
//! # One chassis
//!
//! [`chassis`] builds a [`chassis::ChassisView`] from Southbound rows (local datapaths as
//! ovn-controller decides them, port keys and residency, sets, multicast groups) and
//! [`chassis::compile_chassis_flows`] turns the logical flows into the OpenFlow rules of the
//! logical tables (8+N ingress, 42+N egress), as `ovs-ofctl dump-flows` text and as
//! OpenFlow 1.5 flow_mod bytes ([`chassis::flow_mod`]).
//!
//! # Limits
//!
//! Hostile input fails with [`error::ErrorKind::Limit`] instead of exhausting memory:
//! nesting deeper than [`parse::MAX_NESTING`], normalization growing past
//! [`normalize::MAX_TERMS`] terms, more than [`matches::MAX_MATCHES`] flows, or a conjunction
//! of more than [`matches::MAX_CLAUSES`] clauses.  [`fuzz_expr`] is the fuzzing entry point.
//!
//! # Testing
//!
//! `testdata/expr/*.txt` are golden files per pass (`OVNKIT_BLESS=1` rewrites them);
//! `testdata/real/` holds what the real ovn-northd and ovn-controller 23.03 produced (and the
//! scripts that harvested it), compared flow for flow in `tests/it/real.rs`;
//! `tests/it/exhaustive.rs` checks that every pass preserves the meaning of every small
//! expression on every packet of a small packet space.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod actions;
pub mod annotate;
pub mod chassis;
pub mod condition;
pub mod conjuncts;
pub mod debug;
pub mod error;
pub mod expr;
mod fxhash;
pub mod lex;
pub mod matches;
pub mod normalize;
pub mod parse;
pub mod simplify;
pub mod symtab;

pub use error::{ErrorKind, ExprError, Span};

use annotate::SetResolver;
use condition::ChassisResident;
use matches::{Matches, PortLookup};
use symtab::Symtab;

/// Runs every pass on arbitrary bytes with a permissive environment (every port known and
/// resident, no sets); the entry point for the expression fuzz target.  Never panics.
pub fn fuzz_expr(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let symtab = Symtab::ovn();
    let _ = compile_match(
        &text,
        symtab,
        &annotate::NoSets,
        &|_: &str| true,
        &|_: &str, _: &str| Some(1),
    );
    if let Ok(ast) = parse::parse(&text, symtab) {
        let printed = ast.to_string();
        let _ = parse::parse(&printed, symtab);
    }
}

/// Compiles one match expression through every pass to OpenFlow matches.
pub fn compile_match(
    input: &str,
    symtab: &Symtab,
    sets: &dyn SetResolver,
    resident: &dyn ChassisResident,
    ports: &dyn PortLookup,
) -> Result<Matches, ExprError> {
    let ast = parse::parse(input, symtab)?;
    let e = annotate::annotate(&ast, symtab, sets)?;
    let e = simplify::evaluate_and_simplify(e, resident, symtab);
    let e = normalize::normalize(e, symtab)?;
    matches::to_matches(&e, symtab, ports)
}
