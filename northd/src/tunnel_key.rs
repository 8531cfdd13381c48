//! Tunnel key allocation with stable identity.
//!
//! Datapaths, ports and multicast groups are identified on the wire by tunnel keys drawn from fixed
//! ranges. Keys already present in the Southbound database are reserved first so that a recompile of
//! unchanged input keeps every key; new objects then take the next free key after the last one
//! handed out, wrapping around the range, the same policy ovn-northd follows.

use std::collections::HashSet;

/// Smallest datapath tunnel key.
pub const MIN_DP_KEY: u32 = 1;
/// Largest datapath tunnel key with Geneve or STT encapsulation (24 bits).
pub const MAX_DP_KEY: u32 = (1 << 24) - 1;
/// Largest datapath tunnel key when a VXLAN chassis exists (12 bits).
pub const MAX_DP_VXLAN_KEY: u32 = (1 << 12) - 1;
/// Smallest logical port tunnel key.
pub const MIN_PORT_KEY: u32 = 1;
/// Largest logical port tunnel key (unicast keys are 15 bits).
pub const MAX_PORT_KEY: u32 = (1 << 15) - 1;
/// Largest logical port tunnel key when a VXLAN chassis exists (12 bits).
pub const MAX_PORT_VXLAN_KEY: u32 = (1 << 12) - 1;
/// Multicast group key of `_MC_flood`.
pub const MC_FLOOD_KEY: u32 = 32768;
/// Multicast group key of `_MC_unknown`.
pub const MC_UNKNOWN_KEY: u32 = 32769;
/// Multicast group key of `_MC_mrouter_flood`.
pub const MC_MROUTER_FLOOD_KEY: u32 = 32770;
/// Multicast group key of `_MC_static` (23.03 has no `_MC_mrouter_static` key: `_MC_static`
/// follows `_MC_mrouter_flood`).
pub const MC_STATIC_KEY: u32 = 32771;
/// Multicast group key of `_MC_flood_l2`.
pub const MC_FLOOD_L2_KEY: u32 = 32772;
/// Smallest key of a dynamically learnt IP multicast group.
pub const MIN_IP_MULTICAST_KEY: u32 = 32773;
/// Largest multicast group key.
pub const MAX_MULTICAST_KEY: u32 = 65535;

/// Errors from key allocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TunnelKeyError {
    /// Every key of the range is in use.
    #[error("all tunnel keys from {min} to {max} are in use (allocating for {what})")]
    Exhausted {
        /// Smallest key of the range.
        min: u32,
        /// Largest key of the range.
        max: u32,
        /// What the key was for, for the message.
        what: String,
    },
    /// A requested key lies outside the range.
    #[error("requested tunnel key {key} for {what} is outside {min}..={max}")]
    OutOfRange {
        /// The requested key.
        key: u32,
        /// Smallest key of the range.
        min: u32,
        /// Largest key of the range.
        max: u32,
        /// What the key was for.
        what: String,
    },
    /// A requested key is already taken.
    #[error("requested tunnel key {key} for {what} is already in use")]
    InUse {
        /// The requested key.
        key: u32,
        /// What the key was for.
        what: String,
    },
}

/// Hands out unused keys from `min..=max`.
#[derive(Debug, Clone)]
pub struct TunnelKeyAllocator {
    min: u32,
    max: u32,
    used: HashSet<u32>,
    hint: u32,
}

impl TunnelKeyAllocator {
    /// An allocator over `min..=max` with nothing in use (`min <= max`, `min >= 1`).
    pub fn new(min: u32, max: u32) -> Self {
        let min = min.max(1);
        Self {
            min,
            max: max.max(min),
            used: HashSet::new(),
            hint: min - 1,
        }
    }

    /// Marks `key` as in use (a key already in SB). Returns false if it was outside the range or
    /// already reserved; the caller then gives that object a new key.
    pub fn reserve(&mut self, key: u32) -> bool {
        (self.min..=self.max).contains(&key) && self.used.insert(key)
    }

    /// Takes a key that a user asked for (`options:requested-tnl-key`).
    pub fn request(&mut self, key: u32, what: &str) -> Result<u32, TunnelKeyError> {
        if !(self.min..=self.max).contains(&key) {
            return Err(TunnelKeyError::OutOfRange {
                key,
                min: self.min,
                max: self.max,
                what: what.to_owned(),
            });
        }
        if !self.used.insert(key) {
            return Err(TunnelKeyError::InUse {
                key,
                what: what.to_owned(),
            });
        }
        Ok(key)
    }

    /// Takes the next free key after the last one allocated, wrapping around the range.
    pub fn allocate(&mut self, what: &str) -> Result<u32, TunnelKeyError> {
        let span = u64::from(self.max - self.min) + 1;
        let mut key = self.hint;
        for _ in 0..span {
            key = if key >= self.max { self.min } else { key + 1 };
            if self.used.insert(key) {
                self.hint = key;
                return Ok(key);
            }
        }
        Err(TunnelKeyError::Exhausted {
            min: self.min,
            max: self.max,
            what: what.to_owned(),
        })
    }

    /// Returns a key to the pool.
    pub fn release(&mut self, key: u32) {
        self.used.remove(&key);
    }

    /// How many keys are in use.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// True when no key is in use.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_in_order_skipping_reserved_and_wraps() {
        let mut a = TunnelKeyAllocator::new(1, 5);
        assert!(a.reserve(2));
        assert!(!a.reserve(2));
        assert!(!a.reserve(9));
        assert_eq!(a.allocate("x"), Ok(1));
        assert_eq!(a.allocate("x"), Ok(3));
        a.release(1);
        assert_eq!(a.allocate("x"), Ok(4));
        assert_eq!(a.allocate("x"), Ok(5));
        assert_eq!(a.allocate("x"), Ok(1));
        assert!(matches!(
            a.allocate("sw0"),
            Err(TunnelKeyError::Exhausted { min: 1, max: 5, .. })
        ));
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn requested_keys() {
        let mut a = TunnelKeyAllocator::new(MIN_PORT_KEY, MAX_PORT_KEY);
        assert_eq!(a.request(7, "p"), Ok(7));
        assert!(matches!(
            a.request(7, "q"),
            Err(TunnelKeyError::InUse { key: 7, .. })
        ));
        assert!(matches!(
            a.request(40000, "q"),
            Err(TunnelKeyError::OutOfRange { .. })
        ));
        assert_eq!(a.allocate("r"), Ok(1));
    }

    #[test]
    fn stable_across_recompiles() {
        // First compile hands out keys; the second reserves what SB has and allocates nothing new.
        let mut first = TunnelKeyAllocator::new(MIN_DP_KEY, MAX_DP_KEY);
        let keys: Vec<u32> = (0..100).map(|_| first.allocate("dp").unwrap()).collect();
        let mut second = TunnelKeyAllocator::new(MIN_DP_KEY, MAX_DP_KEY);
        assert!(keys.iter().all(|k| second.reserve(*k)));
        assert_eq!(second.allocate("new").unwrap(), 101);
    }
}
