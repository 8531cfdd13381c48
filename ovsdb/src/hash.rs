//! Hashers for the engine's internal maps (rows a transaction touches, reference counts, schema
//! names, index keys), cheaper than the standard library's SipHash for their short keys.
//!
//! [`FastState`] is keyed by a random number drawn once per process, so inputs crafted to collide
//! cannot be computed in advance; [`PrehashedHasher`] is for keys that already are such hashes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A `HashMap` with the [`FastState`] hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// A `HashMap` whose keys are already hashes.
pub(crate) type PrehashedMap<V> =
    std::collections::HashMap<u64, V, BuildHasherDefault<PrehashedHasher>>;

/// 64×64 → 128-bit multiplication folded back to 64 bits (the mixing step of foldhash/ahash).
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

fn process_key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| RandomState::new().hash_one(0x5eed_u64) | 1)
}

/// Builds [`FastHasher`]s keyed by a per-process random number.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    key: u64,
}

impl Default for FastState {
    fn default() -> Self {
        Self { key: process_key() }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            state: self.key,
            key: self.key,
        }
    }
}

/// A keyed multiply-and-fold hasher, fed eight bytes at a time.
#[derive(Debug, Clone, Copy)]
pub struct FastHasher {
    state: u64,
    key: u64,
}

impl FastHasher {
    fn mix(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, (self.key ^ 0x9e37_79b9_7f4a_7c15) | 1);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        folded_multiply(self.state, 0x2d35_8dcc_aa6c_78a5 ^ self.key)
    }

    // Inlined: the keys are mostly of a known, short length (a UUID's 16 bytes), for which
    // the loop folds into two steps.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

/// A hasher for keys that already are well-mixed 64-bit hashes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash<T: Hash>(x: T) -> u64 {
        FastState::default().hash_one(x)
    }

    #[test]
    fn distinguishes_close_keys() {
        assert_ne!(hash("a"), hash("a\0"));
        assert_ne!(hash("ab"), hash("ba"));
        assert_ne!(hash((1usize, 2u64)), hash((2usize, 1u64)));
        assert_eq!(hash("same"), hash("same"));
        let u = uuid::Uuid::from_u128(1);
        assert_ne!(hash(u), hash(uuid::Uuid::from_u128(2)));
    }
}
