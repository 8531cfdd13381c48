//! OVN logical-flow actions (ovn-sb(5), `Logical_Flow` `actions`): parse, print, encode.
//!
//! ```text
//!  text ──parse──► Actions ──Display──► normalized text (OVN's ovnacts_format)
//!                     └──────encode───► [OfAction] ──► `ovs-ofctl -O OpenFlow15` text / bytes
//! ```
//!
//! * [`parse_actions`] reads an action list with OVN's grammar, reusing the match
//!   language's lexer, symbol table and field/constant parsers; it type-checks fields
//!   (writability, widths, string vs integer) and option values, and reports errors worded
//!   as ovn-controller 23.03 words them (`Syntax error at `x' expecting action.`).
//! * [`Actions`] prints back in OVN's normalized form; printing then parsing with the same
//!   [`ParseContext`] gives the same text.  [`Actions::prereqs`] lists the prerequisites
//!   ovn-controller ANDs into the flow's match (`ip`, `tcp`, `nd_ns`, ...).
//! * [`template::ActionTemplates`] parses many texts that differ only in the constants they
//!   assign (`eth.dst = 0a:58:..; next;`) once per shape, as [`parse_actions`] would.
//! * [`encode_actions`] turns actions into OpenFlow actions for one chassis in ovn-controller
//!   23.03's table layout ([`encode::tables`]), asking the caller's [`EncodeContext`] for
//!   port keys, meter ids and group ids.
//!
//! What it does not do: change the flow's match (the caller ANDs in the prerequisites), or
//! install groups and meters (the caller gets their descriptions through [`EncodeContext`]).
//! Byte encoding ([`ofp::encode_of15`]) covers the actions OVN nests inside
//! `controller(userdata=...)`, not yet every action of a flow_mod.
//!
//! Faithful to 23.03, including its quirks: `ct_next(dnat)`, `ct_commit_nat(snat)`,
//! `log(verdict=pass)` and `select(values=...)` are rejected (later OVN versions), and a
//! `ct_commit` that is not the first action of a flow is lost together with every action
//! between the first one and it (ovn-controller 23.03 finishes the `ct` action at the start of
//! the buffer; seen on real ACL reject flows in `testdata/actions/oracle-23.03.txt`).
//!
//! # Limits
//!
//! `{ ... }` blocks nest at most [`MAX_NESTING`] deep, a flow has at most [`MAX_ACTIONS`]
//! actions in all, and lists inside one action (backends, options, members) have at most
//! [`MAX_LIST`] entries; beyond that parsing fails with
//! [`ErrorKind::Limit`](crate::error::ErrorKind::Limit).
//! [`fuzz_actions`] exercises all of it and never panics.

pub mod ast;
pub mod encode;
pub mod ofp;
pub mod options;
mod parse;
pub mod template;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use ast::{Action, Actions, Pipeline};
pub use encode::{EncodeContext, FlowPosition};
pub use ofp::{format_of_actions, OfAction};

use crate::error::ExprError;
use crate::symtab::Symtab;
use options::{OptTable, DHCPV4_OPTIONS, DHCPV6_OPTIONS, ND_RA_OPTIONS};

/// Deepest nesting of `{ ... }` blocks (`clone`, `arp`, `ct_commit`, ...).
pub const MAX_NESTING: usize = 16;

/// Most actions in one action list, counting nested ones.
pub const MAX_ACTIONS: usize = 1024;

/// Most entries in one action's list (backends, options, select members, child ports).
pub const MAX_LIST: usize = 4096;

/// Number of logical tables per pipeline in ovn-controller 23.03 (`next` may not go beyond).
pub const LOG_PIPELINE_LEN: u8 = 29;

/// An error from encoding parsed actions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A nested action list contains an OpenFlow action that cannot be carried as bytes in a
    /// `controller` payload.
    #[error("action {0} cannot be nested in a controller action")]
    Unsupported(String),
    /// An encoded action or payload exceeds 65535 bytes.
    #[error("encoded action exceeds 65535 bytes")]
    TooLarge,
    /// Nesting exceeds [`MAX_NESTING`] (only for hand-built trees; the parser enforces it).
    #[error("action nesting exceeds the limit of {MAX_NESTING} levels")]
    TooDeep,
    /// A field reference does not name an OpenFlow field.
    #[error("{0} is not an OpenFlow field")]
    NotAField(String),
}

/// Where an action list is parsed: the symbol table and the flow's table (for `next`).
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// Symbol table (usually [`Symtab::ovn`]).
    pub symtab: &'a Symtab,
    /// Pipeline of the flow.
    pub pipeline: Pipeline,
    /// Logical table of the flow.
    pub table: u8,
    /// Tables per pipeline ([`LOG_PIPELINE_LEN`]).
    pub n_tables: u8,
}

impl<'a> ParseContext<'a> {
    /// A context for a flow in `pipeline`, table `table`, with OVN's symbol table.
    pub fn new(pipeline: Pipeline, table: u8) -> ParseContext<'static> {
        ParseContext {
            symtab: Symtab::ovn(),
            pipeline,
            table,
            n_tables: LOG_PIPELINE_LEN,
        }
    }

    /// The same position with another symbol table.
    pub fn with_symtab(self, symtab: &'a Symtab) -> Self {
        Self {
            symtab,
            pipeline: self.pipeline,
            table: self.table,
            n_tables: self.n_tables,
        }
    }
}

fn option_tables() -> &'static (OptTable, OptTable, OptTable) {
    static T: OnceLock<(OptTable, OptTable, OptTable)> = OnceLock::new();
    T.get_or_init(|| {
        (
            OptTable::new(DHCPV4_OPTIONS),
            OptTable::new(DHCPV6_OPTIONS),
            OptTable::new(ND_RA_OPTIONS),
        )
    })
}

/// Parses a `Logical_Flow` `actions` string.
pub fn parse_actions(input: &str, ctx: &ParseContext<'_>) -> Result<Actions, ExprError> {
    let t = option_tables();
    parse::Parser::new(input, ctx, (&t.0, &t.1, &t.2)).parse_all()
}

/// An encoder for a flow at `pos`, with the option tables.
fn encoder<'a>(
    symtab: &'a Symtab,
    pos: FlowPosition,
    ctx: &'a mut dyn EncodeContext,
) -> encode::Encoder<'a> {
    let t = option_tables();
    encode::Encoder {
        symtab,
        pos,
        ctx,
        dhcpv4: &t.0,
        dhcpv6: &t.1,
        nd_ra: &t.2,
        depth: 0,
    }
}

/// Encodes parsed actions as OpenFlow actions for a flow at `pos`.
pub fn encode_actions(
    actions: &Actions,
    symtab: &Symtab,
    pos: FlowPosition,
    ctx: &mut dyn EncodeContext,
) -> Result<Vec<OfAction>, EncodeError> {
    let mut e = encoder(symtab, pos, ctx);
    // Most actions encode to one or two OpenFlow actions: room for them at once.
    let mut out = Vec::with_capacity(2 * actions.actions.len() + 2);
    e.encode_list(&actions.actions, &mut out)?;
    Ok(out)
}

/// [`encode_actions`], also writing into `starts` (emptied first) where the OpenFlow actions
/// of each top-level action start in the result, then the result's length.
pub(crate) fn encode_actions_marked(
    actions: &Actions,
    symtab: &Symtab,
    pos: FlowPosition,
    ctx: &mut dyn EncodeContext,
    starts: &mut Vec<usize>,
) -> Result<Vec<OfAction>, EncodeError> {
    let mut e = encoder(symtab, pos, ctx);
    let mut out = Vec::with_capacity(2 * actions.actions.len() + 2);
    starts.clear();
    for a in &actions.actions {
        starts.push(out.len());
        e.encode_list(std::slice::from_ref(a), &mut out)?;
    }
    starts.push(out.len());
    Ok(out)
}

/// An [`EncodeContext`] with no ports and no meters that numbers groups from 1 in order of
/// first use (for tests, fuzzing and the debug CLI).
#[derive(Debug, Clone, Default)]
pub struct SimpleEncodeContext {
    /// `(name, tunnel key)` of known ports and multicast groups.
    pub ports: Vec<(String, u32)>,
    /// `(name, id)` of known meters.
    pub meters: Vec<(String, u32)>,
    /// Group descriptions, in allocation order (id = index + 1).
    pub groups: Vec<String>,
}

impl EncodeContext for SimpleEncodeContext {
    fn port_key(&self, name: &str) -> Option<u32> {
        self.ports.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    fn meter_id(&mut self, name: &str) -> Option<u32> {
        self.meters.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    fn group_id(&mut self, description: &str) -> u32 {
        if let Some(i) = self.groups.iter().position(|g| g == description) {
            return i as u32 + 1;
        }
        self.groups.push(description.to_owned());
        self.groups.len() as u32
    }
}

/// Fuzz entry point: parses `data` (as UTF-8, lossily) as actions in a few positions, checks
/// that the printed form re-parses to the same tree, and encodes it.  Never panics on any
/// input, except where the template cache disagrees with a full parse (`fuzz_templates`: a
/// finding); a round-trip mismatch is reported by `debug_assert!` only.
pub fn fuzz_actions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    fuzz_templates(&text);
    for (pipeline, table) in [(Pipeline::Ingress, 0), (Pipeline::Egress, 5)] {
        let ctx = ParseContext::new(pipeline, table);
        let Ok(parsed) = parse_actions(&text, &ctx) else {
            continue;
        };
        let printed = parsed.to_string();
        let again = parse_actions(&printed, &ctx).map(|a| a.to_string());
        debug_assert_eq!(again.as_deref().ok(), Some(printed.as_str()), "round trip");
        let mut ectx = SimpleEncodeContext::default();
        for is_switch in [true, false] {
            let pos = FlowPosition {
                pipeline,
                table,
                is_switch,
            };
            if let Ok(of) = encode_actions(&parsed, ctx.symtab, pos, &mut ectx) {
                let _ = format_of_actions(&of);
            }
        }
    }
}

/// The template cache ([`template::ActionTemplates`]) must give what a full parse gives (the
/// printed actions, or the error's text) for a text that follows another of the same shape:
/// `text` then `text` with every digit changed, and the halves of `text` around its first
/// newline, in both pipelines.
fn fuzz_templates(text: &str) {
    let shifted: String = text
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 7) % 10, 10).unwrap_or(c),
            None => c,
        })
        .collect();
    let mut pairs = vec![(text, shifted.as_str())];
    if let Some((a, b)) = text.split_once('\n') {
        pairs.push((a, b));
    }
    for (pipeline, table) in [(Pipeline::Ingress, 0), (Pipeline::Egress, 5)] {
        let ctx = ParseContext::new(pipeline, table);
        for (first, second) in &pairs {
            let mut templates = template::ActionTemplates::new();
            let _ = templates.parse(first, pipeline, table);
            let cached = templates
                .parse(second, pipeline, table)
                .map(|a| a.to_string())
                .map_err(|e| e.to_string());
            let full = parse_actions(second, &ctx)
                .map(|a| a.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(cached, full, "template cache after {first:?}");
        }
    }
}
