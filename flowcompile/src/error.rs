//! The error type shared by every expression pass.

use std::fmt;

/// A byte range `[start, end)` in the input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// Creates a span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    #[must_use]
    pub fn to(self, other: Self) -> Self {
        Self::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// What category of problem an [`ExprError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The lexer rejected the input (bad number, unterminated string, stray character).
    Lex,
    /// The token stream does not follow the grammar (`Syntax error at ...`).
    Syntax,
    /// A field was used in a way its symbol does not allow (bad subfield, nominal field misuse).
    Field,
    /// A constant does not fit the field (string vs integer, too wide, bad operator for it).
    Type,
    /// An `$address_set` or `@port_group` is not known to the caller's resolver.
    UnknownSet,
    /// A predicate or prerequisite expansion failed (including recursive expansion).
    Expansion,
    /// A documented resource limit was hit (nesting depth, set size, flow count).
    Limit,
    /// A pass was given input not in the form its contract requires (e.g. `to_matches` on an
    /// expression that was not normalized).
    Form,
}

/// An error from lexing, parsing or any expression pass.
///
/// `message` reads like the corresponding ovn-controller 23.03 message; `span`, when known,
/// points at the offending bytes of the input text given to the pass that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// The category.
    pub kind: ErrorKind,
    /// The message text, worded as OVN words it.
    pub message: String,
    /// Where in the input, when known.
    pub span: Option<Span>,
}

impl ExprError {
    /// Creates an error.
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            kind,
            message: message.into(),
            span,
        }
    }

    /// Renders the error with a caret line under the span, for a terminal.
    pub fn render(&self, input: &str) -> String {
        match self.span {
            Some(span) if span.start <= input.len() => {
                let end = span
                    .end
                    .clamp(span.start + 1, input.len().max(span.start + 1));
                format!(
                    "{}\n{}\n{}{}",
                    self.message,
                    input,
                    " ".repeat(input[..span.start].chars().count()),
                    "^".repeat(end - span.start)
                )
            }
            _ => self.message.clone(),
        }
    }
}
