//! Member-by-member parsing of JSON objects with ovsdb-server's error behaviour: the first problem
//! wins, later lookups are skipped, and members nobody asked for are a syntax error.

use crate::error::Error;
use crate::json::JsonView;

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

/// The member names asked for so far: operations have a handful, so a list beats a hash set,
/// and the first few are kept without an allocation.
struct UsedMembers<'a> {
    first: [&'a str; 8],
    n_first: usize,
    more: Vec<&'a str>,
}

impl<'a> UsedMembers<'a> {
    fn new() -> Self {
        Self {
            first: [""; 8],
            n_first: 0,
            more: Vec::new(),
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.first[..self.n_first].contains(&name) || self.more.contains(&name)
    }

    fn push(&mut self, name: &'a str) {
        match self.first.get_mut(self.n_first) {
            Some(slot) => {
                *slot = name;
                self.n_first += 1;
            }
            None => self.more.push(name),
        }
    }
}

/// Parser over one JSON object (operation `index` of the `count` operations of a transaction).
pub(crate) struct ObjParser<'a, J> {
    json: &'a J,
    /// Members asked for so far.
    used: UsedMembers<'a>,
    error: Option<Error>,
    index: usize,
    count: usize,
}

impl<'a, J: JsonView> ObjParser<'a, J> {
    /// Starts parsing `json`, operation `index` (from 1) of `count`: error details start with
    /// "Parsing ovsdb operation INDEX of COUNT failed".
    pub(crate) fn new(json: &'a J, index: usize, count: usize) -> Self {
        let mut p = Self {
            json,
            used: UsedMembers::new(),
            error: None,
            index,
            count,
        };
        if !json.is_object() {
            p.error = Some(Error::Syntax {
                details: format!("Parsing {} failed: Object expected.", p.name()),
                syntax: None,
            });
        }
        p
    }

    fn name(&self) -> String {
        format!("ovsdb operation {} of {}", self.index, self.count)
    }

    /// Records a parse error (the first one wins).
    pub(crate) fn raise(&mut self, details: impl AsRef<str>) {
        if self.error.is_none() {
            self.error = Some(Error::Syntax {
                details: format!("Parsing {} failed: {}", self.name(), details.as_ref()),
                syntax: Some(self.json.to_json_string()),
            });
        }
    }

    /// True once a parse error has been recorded.
    pub(crate) fn has_error(&self) -> bool {
        self.error.is_some()
    }

    /// Looks up member `name`, which must be of `kind`; `None` (and a recorded error unless
    /// `optional`) when absent, mistyped, or after an earlier error.
    pub(crate) fn member(&mut self, name: &'a str, kind: Kind, optional: bool) -> Option<&'a J> {
        if self.error.is_some() {
            return None;
        }
        let Some((key, v)) = self.json.get_key_value(name) else {
            if !optional {
                self.raise(format!("Required '{name}' member is missing."));
            }
            return None;
        };
        if !self.used.contains(key) {
            self.used.push(key);
        }
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
            if let Some((k, _)) = self.json.members().find(|(k, _)| !self.used.contains(k)) {
                self.raise(format!("Member '{k}' is present but not allowed here."));
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
    const NIL: usize = usize::MAX;
    let hashes: Vec<u32> = names.into_iter().map(ovs_hash_string).collect();
    let n = hashes.len();
    if n <= 1 {
        return (0..n).collect();
    }
    // Buckets are singly linked lists through `next`, newest first, as in OVS's hmap; growing the
    // map moves nodes bucket by bucket, each to the front of its new bucket.
    let mut mask = 0usize;
    let mut heads: Vec<usize> = vec![NIL];
    let mut next: Vec<usize> = vec![NIL; n];
    for i in 0..n {
        let b = hashes[i] as usize & mask;
        next[i] = heads[b];
        heads[b] = i;
        let count = i + 1;
        if count / 2 > mask {
            let new_mask = calc_mask(count);
            if new_mask > mask {
                let mut new_heads = vec![NIL; new_mask + 1];
                for &h in &heads {
                    let mut j = h;
                    while j != NIL {
                        let following = next[j];
                        let nb = hashes[j] as usize & new_mask;
                        next[j] = new_heads[nb];
                        new_heads[nb] = j;
                        j = following;
                    }
                }
                heads = new_heads;
                mask = new_mask;
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for &h in &heads {
        let mut j = h;
        while j != NIL {
            out.push(j);
            j = next[j];
        }
    }
    out
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
        let mut p = ObjParser::new(&j, 1, 1);
        assert!(p.member("op", Kind::Id, false).is_some());
        let e = p.finish().unwrap();
        assert!(e.details().contains("Member 'x'"));
        let j = json!({"op": 5});
        let mut p = ObjParser::new(&j, 1, 1);
        assert!(p.member("op", Kind::Id, false).is_none());
        assert!(p.finish().unwrap().details().contains("Type mismatch"));
    }

    /// The straightforward simulation of OVS's hmap (a vector per bucket) that
    /// `ovs_member_order` must agree with.
    fn member_order_by_vectors(names: &[String]) -> Vec<usize> {
        let calc_mask = |n: usize| {
            let mut m = n / 2;
            for s in [1, 2, 4, 8, 16, 32] {
                m |= m >> s;
            }
            m | (m & 1) << 1
        };
        let mut mask = 0usize;
        let mut buckets: Vec<Vec<(usize, u32)>> = vec![Vec::new()];
        for (i, name) in names.iter().enumerate() {
            let h = ovs_hash_string(name);
            buckets[h as usize & mask].insert(0, (i, h));
            let n = i + 1;
            if n / 2 > mask && calc_mask(n) > mask {
                let new_mask = calc_mask(n);
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
        buckets.into_iter().flatten().map(|(i, _)| i).collect()
    }

    #[test]
    fn member_order_matches_bucket_simulation() {
        for n in 0..40 {
            let names: Vec<String> = (0..n).map(|i| format!("col{}", i * 7 % 13 + i)).collect();
            assert_eq!(
                ovs_member_order(names.iter().map(String::as_str)),
                member_order_by_vectors(&names),
                "{names:?}"
            );
        }
    }
}
