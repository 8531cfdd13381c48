//! Member-by-member parsing of JSON objects with ovsdb-server's error behaviour: the first problem
//! wins, later lookups are skipped, and members nobody asked for are a syntax error.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::Error;

/// True for an RFC 7047 `<id>`: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_id(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// What a member must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string that is an `<id>`.
    Id,
    /// Any string.
    Str,
    /// An array.
    Array,
    /// An object.
    Object,
    /// An integer.
    Integer,
    /// A boolean.
    Boolean,
}

/// Parser over one JSON object (one operation of a transaction).
pub(crate) struct ObjParser<'a> {
    json: &'a Value,
    obj: Option<&'a Map<String, Value>>,
    used: HashSet<&'a str>,
    error: Option<Error>,
    name: String,
}

impl<'a> ObjParser<'a> {
    /// Starts parsing `json`; `name` prefixes error details ("ovsdb operation 1 of 2").
    pub(crate) fn new(json: &'a Value, name: String) -> Self {
        let mut p = Self {
            json,
            obj: json.as_object(),
            used: HashSet::new(),
            error: None,
            name,
        };
        if p.obj.is_none() {
            p.error = Some(Error::Syntax {
                details: format!("Parsing {} failed: Object expected.", p.name),
                syntax: None,
            });
        }
        p
    }

    /// Records a parse error (the first one wins).
    pub(crate) fn raise(&mut self, details: impl AsRef<str>) {
        if self.error.is_none() {
            self.error = Some(Error::Syntax {
                details: format!("Parsing {} failed: {}", self.name, details.as_ref()),
                syntax: Some(self.json.to_string()),
            });
        }
    }

    /// True once a parse error has been recorded.
    pub(crate) fn has_error(&self) -> bool {
        self.error.is_some()
    }

    /// Looks up member `name`, which must be of `kind`; `None` (and a recorded error unless
    /// `optional`) when absent, mistyped, or after an earlier error.
    pub(crate) fn member(&mut self, name: &'a str, kind: Kind, optional: bool) -> Option<&'a Value> {
        if self.error.is_some() {
            return None;
        }
        let obj = self.obj?;
        let Some((key, v)) = obj.get_key_value(name) else {
            if !optional {
                self.raise(format!("Required '{name}' member is missing."));
            }
            return None;
        };
        self.used.insert(key.as_str());
        let ok = match kind {
            Kind::Id => v.as_str().is_some_and(is_id),
            Kind::Str => v.is_string(),
            Kind::Array => v.is_array(),
            Kind::Object => v.is_object(),
            Kind::Integer => crate::atom::json_to_i64(v).is_some(),
            Kind::Boolean => v.is_boolean(),
        };
        if ok {
            Some(v)
        } else {
            self.raise(format!("Type mismatch for member '{name}'."));
            None
        }
    }

    /// Ends parsing: the recorded error, else an error for the first member nobody asked for.
    pub(crate) fn finish(mut self) -> Option<Error> {
        if self.error.is_none() {
            if let Some(obj) = self.obj {
                if let Some(k) = obj.keys().find(|k| !self.used.contains(k.as_str())) {
                    let k = k.clone();
                    self.raise(format!("Member '{k}' is present but not allowed here."));
                }
            }
        }
        self.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        assert!(is_id("a_B9"));
        assert!(is_id("_x"));
        assert!(!is_id("9a"));
        assert!(!is_id("a-b"));
        assert!(!is_id(""));
    }

    #[test]
    fn members() {
        let j = json!({"op": "select", "x": 1});
        let mut p = ObjParser::new(&j, "op".into());
        assert!(p.member("op", Kind::Id, false).is_some());
        let e = p.finish().unwrap();
        assert!(e.details().contains("Member 'x'"));
        let j = json!({"op": 5});
        let mut p = ObjParser::new(&j, "op".into());
        assert!(p.member("op", Kind::Id, false).is_none());
        assert!(p.finish().unwrap().details().contains("Type mismatch"));
    }
}
