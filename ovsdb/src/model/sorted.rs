//! [`SortedMap`]: the map type of the generated models' map columns.
//!
//! Most OVSDB maps hold a handful of pairs (`external_ids`, `options`). A `BTreeMap` allocates a
//! whole node (room for eleven keys and eleven values) as soon as it holds one pair; a model
//! snapshot of a large database holds tens of thousands of such maps. `SortedMap` keeps its pairs
//! in one vector sorted by key (as OVSDB orders a map datum), sized to what it holds when read
//! from a row, and offers the part of the `BTreeMap` API the models' users need: lookups by
//! borrowed key are binary searches, iteration is in key order, inserting and removing shift the
//! pairs after the position (fine for the small maps OVSDB rows hold).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::Index;

/// A map kept as a vector of `(key, value)` pairs sorted by key, keys unique.
///
/// Equality, ordering and hashing are those of the ordered sequence of pairs, as for a
/// `BTreeMap`; `Debug` prints it as a map.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedMap<K, V> {
    pairs: Vec<(K, V)>,
}

impl<K, V> SortedMap<K, V> {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        Self { pairs: Vec::new() }
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when the map holds no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Removes every pair.
    pub fn clear(&mut self) {
        self.pairs.clear();
    }

    /// The pairs, in key order.
    pub fn as_slice(&self) -> &[(K, V)] {
        &self.pairs
    }

    /// The pairs in key order, as `(&key, &value)`.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.pairs.iter(),
        }
    }

    /// The pairs in key order, with mutable values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut {
            inner: self.pairs.iter_mut(),
        }
    }

    /// The keys, in order.
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys {
            inner: self.pairs.iter(),
        }
    }

    /// The values, in key order.
    pub fn values(&self) -> Values<'_, K, V> {
        Values {
            inner: self.pairs.iter(),
        }
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.pairs.iter_mut().map(|(_, v)| v)
    }

    /// The keys, in order, by value.
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.pairs.into_iter().map(|(k, _)| k)
    }

    /// The values in key order, by value.
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.pairs.into_iter().map(|(_, v)| v)
    }

    /// The pair with the smallest key.
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.pairs.first().map(|(k, v)| (k, v))
    }

    /// The pair with the largest key.
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.pairs.last().map(|(k, v)| (k, v))
    }

    /// Keeps only the pairs for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.pairs.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.pairs.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.pairs[i].1)
    }

    /// The stored key equal to `key`, with its value.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| {
            let (k, v) = &self.pairs[i];
            (k, v)
        })
    }

    /// The value of `key`, mutable.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.find(key) {
            Ok(i) => Some(&mut self.pairs[i].1),
            Err(_) => None,
        }
    }

    /// True when the map holds `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets the value of `key`; returns the value it replaced (the stored key is kept, as a
    /// `BTreeMap` keeps it).
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.pairs[i].1, value)),
            Err(i) => {
                self.pairs.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`; returns the stored key and its value.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.pairs.remove(i))
    }

    /// The entry of `key`, to read or write in place.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        match self.find(&key) {
            Ok(index) => Entry::Occupied(OccupiedEntry { map: self, index }),
            Err(index) => Entry::Vacant(VacantEntry {
                map: self,
                index,
                key,
            }),
        }
    }

    /// A map of `pairs` already in strictly increasing key order (as a map datum holds them);
    /// `None` when they are not.
    pub fn from_sorted_vec(pairs: Vec<(K, V)>) -> Option<Self> {
        pairs
            .windows(2)
            .all(|w| w[0].0 < w[1].0)
            .then_some(Self { pairs })
    }

    /// Sorts `pairs` by key and keeps, of equal keys, the last pair (as collecting into a
    /// `BTreeMap` does).
    fn from_unsorted(mut pairs: Vec<(K, V)>) -> Self {
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            // Of a run of equal keys keep the last pair: `dedup_by` keeps the first of a run,
            // so move each later value onto it.
            pairs.dedup_by(|later, kept| {
                if later.0 == kept.0 {
                    std::mem::swap(&mut later.1, &mut kept.1);
                    true
                } else {
                    false
                }
            });
        }
        Self { pairs }
    }
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_unsorted(iter.into_iter().collect())
    }
}

impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K: Ord + Copy + 'a, V: Copy + 'a> Extend<(&'a K, &'a V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: I) {
        self.extend(iter.into_iter().map(|(k, v)| (*k, *v)));
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(pairs: [(K, V); N]) -> Self {
        Self::from_unsorted(Vec::from(pairs))
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for SortedMap<K, V> {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self {
            pairs: map.into_iter().collect(),
        }
    }
}

impl<K: Ord, V> From<SortedMap<K, V>> for BTreeMap<K, V> {
    fn from(map: SortedMap<K, V>) -> Self {
        map.pairs.into_iter().collect()
    }
}

impl<K: Ord, V> PartialEq<BTreeMap<K, V>> for SortedMap<K, V>
where
    V: PartialEq,
{
    fn eq(&self, other: &BTreeMap<K, V>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// `map[key]`: the value of `key`.
///
/// # Panics
///
/// When the map does not hold `key` (as indexing a `BTreeMap` does).
impl<K, V, Q> Index<&Q> for SortedMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("key not in SortedMap"),
        }
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut SortedMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// The pairs of a [`SortedMap`] in key order, as `(&key, &value)`.
#[derive(Debug, Clone)]
pub struct Iter<'a, K, V> {
    inner: std::slice::Iter<'a, (K, V)>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

/// The pairs of a [`SortedMap`] in key order, with mutable values.
#[derive(Debug)]
pub struct IterMut<'a, K, V> {
    inner: std::slice::IterMut<'a, (K, V)>,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for IterMut<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (&*k, v))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}
impl<K, V> FusedIterator for IterMut<'_, K, V> {}

/// The keys of a [`SortedMap`], in order.
#[derive(Debug, Clone)]
pub struct Keys<'a, K, V> {
    inner: std::slice::Iter<'a, (K, V)>,
}

impl<'a, K, V> Iterator for Keys<'a, K, V> {
    type Item = &'a K;
    fn next(&mut self) -> Option<&'a K> {
        self.inner.next().map(|(k, _)| k)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Keys<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, _)| k)
    }
}

impl<K, V> ExactSizeIterator for Keys<'_, K, V> {}
impl<K, V> FusedIterator for Keys<'_, K, V> {}

/// The values of a [`SortedMap`], in key order.
#[derive(Debug, Clone)]
pub struct Values<'a, K, V> {
    inner: std::slice::Iter<'a, (K, V)>,
}

impl<'a, K, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;
    fn next(&mut self) -> Option<&'a V> {
        self.inner.next().map(|(_, v)| v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Values<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(_, v)| v)
    }
}

impl<K, V> ExactSizeIterator for Values<'_, K, V> {}
impl<K, V> FusedIterator for Values<'_, K, V> {}

/// One key's place in a [`SortedMap`] ([`SortedMap::entry`]).
#[derive(Debug)]
pub enum Entry<'a, K, V> {
    /// The map holds the key.
    Occupied(OccupiedEntry<'a, K, V>),
    /// The map does not hold the key.
    Vacant(VacantEntry<'a, K, V>),
}

/// A key the map holds.
#[derive(Debug)]
pub struct OccupiedEntry<'a, K, V> {
    map: &'a mut SortedMap<K, V>,
    index: usize,
}

/// A key the map does not hold, with where it would go.
#[derive(Debug)]
pub struct VacantEntry<'a, K, V> {
    map: &'a mut SortedMap<K, V>,
    index: usize,
    key: K,
}

impl<'a, K, V> Entry<'a, K, V> {
    /// The value, inserting `default` first when the key is absent.
    pub fn or_insert(self, default: V) -> &'a mut V {
        self.or_insert_with(|| default)
    }

    /// The value, inserting `default()` first when the key is absent.
    pub fn or_insert_with(self, default: impl FnOnce() -> V) -> &'a mut V {
        match self {
            Self::Occupied(o) => o.into_mut(),
            Self::Vacant(v) => v.insert(default()),
        }
    }

    /// The value, inserting `V::default()` first when the key is absent.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    /// Applies `f` to the value when the key is present.
    pub fn and_modify(mut self, f: impl FnOnce(&mut V)) -> Self {
        if let Self::Occupied(o) = &mut self {
            f(o.get_mut());
        }
        self
    }

    /// The entry's key.
    pub fn key(&self) -> &K {
        match self {
            Self::Occupied(o) => o.key(),
            Self::Vacant(v) => &v.key,
        }
    }
}

impl<'a, K, V> OccupiedEntry<'a, K, V> {
    /// The stored key.
    pub fn key(&self) -> &K {
        &self.map.pairs[self.index].0
    }

    /// The value.
    pub fn get(&self) -> &V {
        &self.map.pairs[self.index].1
    }

    /// The value, mutable.
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.map.pairs[self.index].1
    }

    /// The value, mutable for as long as the map is borrowed.
    pub fn into_mut(self) -> &'a mut V {
        &mut self.map.pairs[self.index].1
    }

    /// Replaces the value; returns the old one.
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }

    /// Removes the pair; returns the value.
    pub fn remove(self) -> V {
        self.map.pairs.remove(self.index).1
    }
}

impl<'a, K, V> VacantEntry<'a, K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Inserts the key with `value`; returns the value, mutable.
    pub fn insert(self, value: V) -> &'a mut V {
        self.map.pairs.insert(self.index, (self.key, value));
        &mut self.map.pairs[self.index].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_btreemap() {
        let ops: Vec<(u8, u8, bool)> = (0..200u32)
            .map(|i| ((i * 37 % 23) as u8, (i * 11 % 7) as u8, i % 5 == 0))
            .collect();
        let mut s = SortedMap::new();
        let mut b = BTreeMap::new();
        for (k, v, rm) in ops {
            if rm {
                assert_eq!(s.remove(&k), b.remove(&k));
            } else {
                assert_eq!(s.insert(k, v), b.insert(k, v));
            }
            assert_eq!(s, b);
            assert_eq!(s.len(), b.len());
            assert_eq!(s.get(&k), b.get(&k));
        }
        assert!(s.keys().copied().eq(b.keys().copied()));
        assert!(s.values().rev().eq(b.values().rev()));
        assert_eq!(format!("{s:?}"), format!("{b:?}"));
        assert_eq!(BTreeMap::from(s.clone()), b);
        assert_eq!(SortedMap::from(b.clone()), s);
    }

    #[test]
    fn collecting_keeps_the_last_of_equal_keys() {
        let pairs = [(3, "a"), (1, "b"), (3, "c"), (2, "d"), (1, "e"), (3, "f")];
        let s: SortedMap<_, _> = pairs.iter().copied().collect();
        let b: BTreeMap<_, _> = pairs.iter().copied().collect();
        assert_eq!(s, b);
        assert_eq!(s.as_slice(), &[(1, "e"), (2, "d"), (3, "f")]);
        assert_eq!(SortedMap::from(pairs), s);
    }

    #[test]
    fn borrowed_lookups_entries_and_order() {
        let mut m: SortedMap<String, String> = [("b".into(), "2".into())].into();
        *m.entry("a".into()).or_default() += "1";
        m.entry("b".into()).and_modify(|v| v.push('!'));
        assert_eq!(m["a"], "1");
        assert_eq!(m.get("b").map(String::as_str), Some("2!"));
        assert!(m.contains_key("a") && !m.contains_key("c"));
        let other: SortedMap<String, String> = [("a".into(), "2".into())].into();
        assert!(m < other);
        assert!(SortedMap::from_sorted_vec(vec![(2, 0), (1, 0)]).is_none());
        assert_eq!(
            SortedMap::from_sorted_vec(vec![(1, 0), (2, 0)]).map(|m| m.len()),
            Some(2)
        );
        m.retain(|k, _| k != "a");
        assert_eq!(
            m.first_key_value(),
            Some((&"b".to_owned(), &"2!".to_owned()))
        );
    }
}
