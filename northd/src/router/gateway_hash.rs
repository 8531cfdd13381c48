//! The iteration order of Open vSwitch's string hash tables (`sset`, `smap`), which ovn-northd
//! sometimes lets show in what it writes (e.g. the load balancer VIPs in `nat_addresses`).
//!
//! OVS hashes a string with its 32-bit Murmur3-style `hash_bytes` (basis 0) and keeps an `hmap`:
//! `mask + 1` buckets, each a list with the newest node first; once it holds more than twice
//! `mask + 1` nodes (`n / 2 > mask`) the buckets are rebuilt (walking the old buckets in order
//! and pushing each node onto the front of its new bucket). Iteration walks buckets in order.

/// `hash_bytes(s, strlen(s), 0)` as OVS computes it (without the SSE4.2 CRC32 variant).
pub fn hash_string(s: &str) -> u32 {
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
    let bytes = s.as_bytes();
    let mut h = 0u32;
    let mut chunks = bytes.chunks_exact(4);
    for c in chunks.by_ref() {
        h = add(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 4];
        w[..rest.len()].copy_from_slice(rest);
        h = add(h, u32::from_le_bytes(w));
    }
    // `hash_finish(hash, n)`: the length mixed in, then Murmur3's final avalanche.
    let mut h = h ^ u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// A string hash table with OVS's bucket layout, to read back its iteration order.
#[derive(Debug, Clone)]
pub struct HashOrder {
    mask: usize,
    buckets: Vec<Vec<(String, u32)>>,
    n: usize,
}

impl Default for HashOrder {
    fn default() -> Self {
        Self {
            mask: 0,
            buckets: vec![Vec::new()],
            n: 0,
        }
    }
}

fn calc_mask(capacity: usize) -> usize {
    let mut mask = capacity / 2;
    for s in [1, 2, 4, 8, 16, 32] {
        mask |= mask >> s;
    }
    mask | ((mask & 1) << 1)
}

impl HashOrder {
    fn insert_fast(&mut self, key: String, hash: u32) {
        let i = usize::try_from(hash).unwrap_or(0) & self.mask;
        if let Some(b) = self.buckets.get_mut(i) {
            b.insert(0, (key, hash));
        }
    }

    /// Inserts `key` (as `hmap_insert`: duplicates are kept).
    pub fn insert(&mut self, key: &str) {
        self.insert_fast(key.to_owned(), hash_string(key));
        self.n += 1;
        if self.n / 2 > self.mask {
            let new_mask = calc_mask(self.n);
            if new_mask > self.mask {
                let old = std::mem::replace(&mut self.buckets, vec![Vec::new(); new_mask + 1]);
                self.mask = new_mask;
                for (k, h) in old.into_iter().flatten() {
                    self.insert_fast(k, h);
                }
            }
        }
    }

    /// Inserts `key` unless present (as `sset_add`).
    pub fn add(&mut self, key: &str) {
        if !self.contains(key) {
            self.insert(key);
        }
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        let i = usize::try_from(hash_string(key)).unwrap_or(0) & self.mask;
        self.buckets
            .get(i)
            .is_some_and(|b| b.iter().any(|(k, _)| k == key))
    }

    /// The keys in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.buckets.iter().flatten().map(|(k, _)| k.as_str())
    }
}

/// The iteration order of an `smap` built from a map column (keys inserted in sorted order).
pub fn smap_order<'a>(keys: impl IntoIterator<Item = &'a String>) -> Vec<&'a String> {
    let mut sorted: Vec<&String> = keys.into_iter().collect();
    sorted.sort();
    let mut h = HashOrder::default();
    for k in &sorted {
        h.insert(k);
    }
    let mut out = Vec::with_capacity(sorted.len());
    for k in h.iter() {
        if let Some(s) = sorted.iter().find(|s| s.as_str() == k) {
            out.push(*s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order ovn-northd 23.03 wrote these VIPs in (`nat_addresses` of a gateway router with
    /// two load balancers).
    #[test]
    fn matches_ovn_northd_order() {
        let lbs = [
            ["172.20.0.200:80", "172.20.0.201:80", "172.20.0.202:80"],
            ["172.20.0.150:80", "9.9.9.9:80", "[fd20::99]:80"],
        ];
        let mut v4 = HashOrder::default();
        for lb in lbs {
            let keys: Vec<String> = lb.iter().map(|s| (*s).to_owned()).collect();
            for k in smap_order(&keys) {
                if let Some((ip, _)) = k.rsplit_once(':') {
                    if !ip.starts_with('[') {
                        v4.add(ip);
                    }
                }
            }
        }
        assert_eq!(
            v4.iter().collect::<Vec<_>>(),
            [
                "172.20.0.200",
                "172.20.0.150",
                "9.9.9.9",
                "172.20.0.202",
                "172.20.0.201"
            ]
        );
    }
}
