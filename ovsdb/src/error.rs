//! OVSDB errors, each mapped to the RFC 7047 / ovsdb-server error tag.
//!
//! An error carries a human-readable `details` sentence and, for errors about a piece of JSON input,
//! the offending JSON text (`syntax`), exactly the members ovsdb-server puts into an error object.

use serde_json::{json, Map, Value};

/// Every error the schema parser, the data layer and the transaction engine can report.
///
/// [`Error::tag`] gives the RFC 7047 / ovsdb-server `error` string; [`Error::to_json`] gives the
/// complete error object as ovsdb-server puts it into a transaction result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input: bad JSON shape, wrong member type, bad identifier, bad set size.
    #[error("syntax error: {details}")]
    Syntax {
        /// What is wrong.
        details: String,
        /// The offending JSON text, when there is one.
        syntax: Option<String>,
    },
    /// A column name that the table does not have.
    #[error("unknown column: {details}")]
    UnknownColumn {
        /// What is wrong.
        details: String,
        /// The offending JSON text.
        syntax: Option<String>,
    },
    /// A mutator name that RFC 7047 does not define.
    #[error("unknown mutator: {0}")]
    UnknownMutator(String),
    /// A condition function name that RFC 7047 does not define.
    #[error("unknown function: {0}")]
    UnknownFunction(String),
    /// A value outside its column's constraints (range, enum, length, set size, immutable column,
    /// unique index, maxRows, weak references that leave a column too small).
    #[error("constraint violation: {details}")]
    ConstraintViolation {
        /// What is wrong.
        details: String,
        /// The offending JSON text, when there is one.
        syntax: Option<String>,
    },
    /// A strong reference to a missing row, or the deletion of a row still strongly referenced.
    #[error("referential integrity violation: {0}")]
    ReferentialIntegrity(String),
    /// Division by zero in a mutation.
    #[error("domain error: {0}")]
    Domain(String),
    /// Arithmetic overflow in a mutation.
    #[error("range error: {0}")]
    Range(String),
    /// A `wait` whose condition did not hold before its timeout.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// An `assert` on a lock the session does not own.
    #[error("not owner: {0}")]
    NotOwner(String),
    /// The transaction was aborted by an `abort` operation.
    #[error("aborted: {0}")]
    Aborted(String),
    /// A write operation on a database that does not accept writes (reserved `_` databases).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// An explicit `uuid` in `insert` that already names a row of the table.
    #[error("duplicate uuid: {details}")]
    DuplicateUuid {
        /// What is wrong.
        details: String,
        /// The offending JSON text.
        syntax: Option<String>,
    },
    /// A `uuid-name` used by two `insert` operations.
    #[error("duplicate uuid-name: {details}")]
    DuplicateUuidName {
        /// What is wrong.
        details: String,
        /// The offending JSON text.
        syntax: Option<String>,
    },
    /// An error ovsdb-server reports with its generic tag "ovsdb error" (duplicate set elements or
    /// map keys in input).
    #[error("ovsdb error: {0}")]
    Generic(String),
}

impl Error {
    /// The RFC 7047 / ovsdb-server `error` tag of this error.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "syntax error",
            Self::UnknownColumn { .. } => "unknown column",
            Self::UnknownMutator(_) => "unknown mutator",
            Self::UnknownFunction(_) => "unknown function",
            Self::ConstraintViolation { .. } => "constraint violation",
            Self::ReferentialIntegrity(_) => "referential integrity violation",
            Self::Domain(_) => "domain error",
            Self::Range(_) => "range error",
            Self::TimedOut(_) => "timed out",
            Self::NotOwner(_) => "not owner",
            Self::Aborted(_) => "aborted",
            Self::NotAllowed(_) => "not allowed",
            Self::DuplicateUuid { .. } => "duplicate uuid",
            Self::DuplicateUuidName { .. } => "duplicate uuid-name",
            Self::Generic(_) => "ovsdb error",
        }
    }

    /// The `details` sentence.
    pub fn details(&self) -> &str {
        match self {
            Self::Syntax { details, .. }
            | Self::UnknownColumn { details, .. }
            | Self::ConstraintViolation { details, .. }
            | Self::DuplicateUuid { details, .. }
            | Self::DuplicateUuidName { details, .. } => details,
            Self::UnknownMutator(d)
            | Self::UnknownFunction(d)
            | Self::ReferentialIntegrity(d)
            | Self::Domain(d)
            | Self::Range(d)
            | Self::TimedOut(d)
            | Self::NotOwner(d)
            | Self::Aborted(d)
            | Self::NotAllowed(d)
            | Self::Generic(d) => d,
        }
    }

    /// The offending JSON text, for errors about a piece of input.
    pub fn syntax(&self) -> Option<&str> {
        match self {
            Self::Syntax { syntax, .. }
            | Self::UnknownColumn { syntax, .. }
            | Self::ConstraintViolation { syntax, .. }
            | Self::DuplicateUuid { syntax, .. }
            | Self::DuplicateUuidName { syntax, .. } => syntax.as_deref(),
            _ => None,
        }
    }

    /// The error object as ovsdb-server returns it: `{"error": tag, "details": ..., "syntax": ...}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), json!(self.tag()));
        m.insert("details".into(), json!(self.details()));
        if let Some(s) = self.syntax() {
            m.insert("syntax".into(), json!(s));
        }
        Value::Object(m)
    }

    /// A syntax error about `json` (which may be absent).
    pub(crate) fn syntax_at<J: crate::json::JsonView>(
        json: Option<&J>,
        details: impl Into<String>,
    ) -> Self {
        Self::Syntax {
            details: details.into(),
            syntax: json.map(J::to_json_string),
        }
    }

    /// A constraint violation without JSON context.
    pub(crate) fn constraint(details: impl Into<String>) -> Self {
        Self::ConstraintViolation {
            details: details.into(),
            syntax: None,
        }
    }

    /// Prefixes the details of a syntax error (used for "Parsing ovsdb operation N of M failed").
    pub(crate) fn prefixed(self, prefix: &str) -> Self {
        match self {
            Self::Syntax { details, syntax } => Self::Syntax {
                details: format!("{prefix}: {details}"),
                syntax,
            },
            other => other,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_json() {
        let e = Error::syntax_at(Some(&json!([1])), "bad");
        assert_eq!(e.tag(), "syntax error");
        assert_eq!(
            e.to_json(),
            json!({"error": "syntax error", "details": "bad", "syntax": "[1]"})
        );
        assert_eq!(
            Error::ReferentialIntegrity("x".into()).tag(),
            "referential integrity violation"
        );
        assert_eq!(Error::Generic("d".into()).to_json()["error"], "ovsdb error");
    }
}
