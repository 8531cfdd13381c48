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
    pub(crate) fn member(
        &mut self,
        name: &'a str,
        kind: Kind,
        optional: bool,
    ) -> Option<&'a Value> {
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

/// ovsdb-server's string hash (`hash_string(s, 0)`: murmur3-style word mixing).
fn ovs_hash_string(s: &str) -> u32 {
    fn add(hash: u32, data: u32) -> u32 {
        let mut h = hash;
        if data != 0 {
            let d = data
                .wrapping_mul(0xcc9e_2d51)
                .rotate_left(15)
                .wrapping_mul(0x1b87_3593);
            h ^= d;
        }
        h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
    }
    let b = s.as_bytes();
    let mut hash = 0u32;
    let mut chunks = b.chunks_exact(4);
    for c in &mut chunks {
        hash = add(hash, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut t = [0u8; 4];
        t[..rest.len()].copy_from_slice(rest);
        hash = add(hash, u32::from_le_bytes(t));
    }
    let mut h = hash ^ (b.len() as u32);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The order in which ovsdb-server visits the members of a JSON object (its hash-map iteration
/// order), given the member names in text order. Which error a row with several bad columns
/// reports depends on it.
pub(crate) fn ovs_member_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
    fn calc_mask(n: usize) -> usize {
        let mut m = n / 2;
        m |= m >> 1;
        m |= m >> 2;
        m |= m >> 4;
        m |= m >> 8;
        m |= m >> 16;
        m |= m >> 32;
        m |= (m & 1) << 1;
        m
    }
    // Buckets hold (index, hash), newest first.
    let mut mask = 0usize;
    let mut buckets: Vec<Vec<(usize, u32)>> = vec![Vec::new()];
    let mut n = 0usize;
    for (i, name) in names.into_iter().enumerate() {
        let h = ovs_hash_string(name);
        buckets[h as usize & mask].insert(0, (i, h));
        n += 1;
        if n / 2 > mask {
            let new_mask = calc_mask(n);
            if new_mask > mask {
                let mut nb: Vec<Vec<(usize, u32)>> = vec![Vec::new(); new_mask + 1];
                for b in &buckets {
                    for &(j, hj) in b {
                        nb[hj as usize & new_mask].insert(0, (j, hj));
                    }
                }
                buckets = nb;
                mask = new_mask;
            }
        }
    }
    buckets.into_iter().flatten().map(|(i, _)| i).collect()
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
