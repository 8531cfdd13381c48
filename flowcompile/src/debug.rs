//! Entry points for the `ovnkit expr parse|annotate|simplify|normalize|flows 'EXPR'` debug CLI.
//!
//! [`run`] compiles with the OVN symbol table and an empty [`DebugEnv`]; [`run_with`] takes
//! address sets, port groups, port keys and resident ports.  Output is the printer of the
//! last pass run, in OVN's syntax (or `ovs-ofctl` match syntax for [`Pass::Flows`]).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use crate::annotate::{annotate, SetTable};
use crate::error::{ErrorKind, ExprError};
use crate::lex::{tokenize, Token};
use crate::symtab::Symtab;
use crate::{condition, matches, normalize, parse, simplify};

/// How far to run the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    /// Print the tokens, one per line with their byte spans.
    Lex,
    /// Parse and print the syntax tree back.
    Parse,
    /// Annotate (sets resolved, predicates and prerequisites expanded).
    Annotate,
    /// Annotate and evaluate `is_chassis_resident`.
    Condition,
    /// ... and simplify.
    Simplify,
    /// ... and normalize.
    Normalize,
    /// ... and produce OpenFlow matches.
    Flows,
}

impl FromStr for Pass {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "lex" => Self::Lex,
            "parse" => Self::Parse,
            "annotate" => Self::Annotate,
            "condition" | "evaluate" => Self::Condition,
            "simplify" => Self::Simplify,
            "normalize" => Self::Normalize,
            "flows" | "matches" => Self::Flows,
            _ => {
                return Err(ExprError::new(
                    ErrorKind::Syntax,
                    format!(
                        "unknown pass `{s}' (expecting lex, parse, annotate, condition, simplify, normalize or flows)"
                    ),
                    None,
                ))
            }
        })
    }
}

/// The environment the debug CLI compiles in.
#[derive(Debug, Clone, Default)]
pub struct DebugEnv {
    /// Address sets and port groups.
    pub sets: SetTable,
    /// Port name → tunnel key, for string comparisons in [`Pass::Flows`].
    pub ports: HashMap<String, u32>,
    /// Ports for which `is_chassis_resident` is true.
    pub resident: HashSet<String>,
}

/// Runs `input` through the pipeline up to `pass` with an empty environment.
pub fn run(pass: Pass, input: &str) -> Result<String, ExprError> {
    run_with(pass, input, &DebugEnv::default())
}

/// Runs `input` through the pipeline up to `pass` in `env`.
pub fn run_with(pass: Pass, input: &str, env: &DebugEnv) -> Result<String, ExprError> {
    let symtab = Symtab::ovn();
    if pass == Pass::Lex {
        let mut out = String::new();
        for t in tokenize(input) {
            if let Token::Error(m) = &t.token {
                return Err(ExprError::new(ErrorKind::Lex, m.clone(), Some(t.span)));
            }
            out.push_str(&format!("{} {}\n", t.span, t.token));
        }
        return Ok(out);
    }
    let ast = parse::parse(input, symtab)?;
    if pass == Pass::Parse {
        return Ok(format!("{ast}\n"));
    }
    let e = annotate(&ast, symtab, &env.sets)?;
    if pass == Pass::Annotate {
        return Ok(format!("{}\n", e.display(symtab)));
    }
    let e = condition::evaluate(e, &|p: &str| env.resident.contains(p));
    if pass == Pass::Condition {
        return Ok(format!("{}\n", e.display(symtab)));
    }
    let e = simplify::simplify(e, symtab);
    if pass == Pass::Simplify {
        return Ok(format!("{}\n", e.display(symtab)));
    }
    let e = normalize::normalize(e, symtab)?;
    if pass == Pass::Normalize {
        return Ok(format!("{}\n", e.display(symtab)));
    }
    let m = matches::to_matches(&e, symtab, &|_: &str, p: &str| env.ports.get(p).copied())?;
    Ok(m.to_string())
}
