//! OVSDB datums: the value of one column, a set of atoms or a map of atom pairs, kept in
//! canonical (sorted, duplicate-free) order.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use crate::atom::{Atom, SymbolResolver};
use crate::error::{Error, Result};
use crate::json::JsonView;
use crate::types::ColumnType;

pub use crate::atom::NoSymbols;

/// The value of a column: a sorted set of atoms, or a map sorted by key.
///
/// Scalars are one-element sets. Which variant a datum is follows its column type.
///
/// Cloning a datum is O(1): the elements of sets with more than one atom and of non-empty maps
/// live in shared, copy-on-write storage ([`Atoms`], [`Pairs`]), and empty and one-atom sets
/// (every scalar) are stored inline, without a heap allocation. Copying a row therefore costs one
/// step per column, and modifying a set copies its elements only while they are shared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Datum {
    /// Set (or scalar): distinct atoms in ascending order.
    Set(Atoms),
    /// Map: pairs with distinct keys in ascending key order.
    Map(Pairs),
}

/// The atoms of a set datum: a slice (through `Deref`) held inline when it has at most one atom,
/// else in shared copy-on-write storage. Which order the atoms are in is up to whoever builds
/// it; a [`Datum::Set`] keeps them sorted and distinct. Loops that index elements one by one
/// should take [`Atoms::as_slice`] once: each access through `Deref` looks at the storage kind.
///
/// A few atoms inserted into or deleted from a big set whose storage is shared (a transaction
/// mutating a committed row's set) are recorded as a delta on top of the shared elements instead
/// of copying them all: [`Datum::union_with`], [`Datum::subtract`], [`Atoms::len`], equality and
/// [`Datum::for_each_difference`] (so strong-reference bookkeeping, monitor and file-log diffs)
/// work on the delta in O(changed elements). The sorted slice is built the first time something
/// reads it (and kept); a delta grown past about the square root of the set's size is folded
/// into plain storage.
#[derive(Clone, Default)]
pub struct Atoms(AtomsRepr);

#[derive(Clone, Default)]
enum AtomsRepr {
    #[default]
    Empty,
    One(Atom),
    Many(Arc<Vec<Atom>>),
    Delta(Arc<Delta>),
}

/// A sorted, distinct set stored as `base` plus `added` minus `removed`.
struct Delta {
    /// Sorted, distinct atoms, shared with the version this one was derived from.
    base: Arc<Vec<Atom>>,
    /// Sorted, distinct atoms not in `base`.
    added: Vec<Atom>,
    /// Sorted, distinct atoms of `base` that are not in this set.
    removed: Vec<Atom>,
    /// The set as one sorted vector, built on first read.
    flat: OnceLock<Arc<Vec<Atom>>>,
}

/// Sets smaller than this are copied on change, never stored as a delta.
const DELTA_MIN: usize = 64;

/// The largest delta (added plus removed atoms) kept on top of a set of `n` base atoms: about
/// the square root of `n`, which balances copying the delta on each change against folding it
/// into a new base.
fn delta_limit(n: usize) -> usize {
    n.isqrt().max(8)
}

impl Delta {
    fn len(&self) -> usize {
        self.base.len() + self.added.len() - self.removed.len()
    }

    fn contains(&self, x: &Atom) -> bool {
        if self.added.binary_search(x).is_ok() {
            return true;
        }
        self.base.binary_search(x).is_ok() && self.removed.binary_search(x).is_err()
    }

    /// The elements in order, in a new vector with room for one more: runs of `base` copied
    /// between the places where an atom is added or removed (found by binary search).
    fn materialize(&self) -> Vec<Atom> {
        let base = self.base.as_slice();
        let at = |x: &Atom| base.binary_search(x).unwrap_or_else(|i| i);
        let added: Vec<usize> = self.added.iter().map(at).collect();
        let removed: Vec<usize> = self.removed.iter().map(at).collect();
        let mut out = Vec::with_capacity(self.len() + 1);
        let (mut start, mut a, mut r) = (0, 0, 0);
        loop {
            // An atom added at position p sorts before `base[p]`, so it goes before a removal
            // of `base[p]`.
            let next_add = added.get(a).copied();
            let next_remove = removed.get(r).copied();
            match (next_add, next_remove) {
                (Some(p), q) if q.is_none_or(|q| p <= q) => {
                    out.extend(base[start..p].iter().cloned());
                    out.push(self.added[a].clone());
                    start = p;
                    a += 1;
                }
                (_, Some(q)) => {
                    out.extend(base[start..q].iter().cloned());
                    start = q + 1;
                    r += 1;
                }
                _ => break,
            }
        }
        out.extend(base[start..].iter().cloned());
        out
    }

    /// The set as one shared sorted vector (built once).
    fn flat(&self) -> &Arc<Vec<Atom>> {
        self.flat.get_or_init(|| Arc::new(self.materialize()))
    }
}

/// `v` (sorted, distinct) with `x` inserted (`add`) or removed; returns false when nothing
/// changed.
fn toggle_sorted(v: &mut Vec<Atom>, x: &Atom, add: bool) -> bool {
    match (v.binary_search(x), add) {
        (Err(i), true) => {
            v.insert(i, x.clone());
            true
        }
        (Ok(i), false) => {
            v.remove(i);
            true
        }
        _ => false,
    }
}

/// One version of a set seen as `base` plus `added` minus `removed` (see [`Delta`]); plain
/// storage is its own base with nothing added or removed.
type Parts<'a> = (&'a Arc<Vec<Atom>>, &'a [Atom], &'a [Atom]);

impl Atoms {
    /// No atoms (no allocation; usable in constants).
    pub const fn new() -> Self {
        Self(AtomsRepr::Empty)
    }

    /// One atom, stored inline.
    pub const fn one(atom: Atom) -> Self {
        Self(AtomsRepr::One(atom))
    }

    /// The atoms as a slice (for a set stored as a delta, built on the first call and kept).
    pub fn as_slice(&self) -> &[Atom] {
        match &self.0 {
            AtomsRepr::Empty => &[],
            AtomsRepr::One(a) => std::slice::from_ref(a),
            AtomsRepr::Many(v) => v,
            AtomsRepr::Delta(d) => d.flat(),
        }
    }

    /// Number of atoms (without building the slice of a delta).
    pub fn len(&self) -> usize {
        match &self.0 {
            AtomsRepr::Empty => 0,
            AtomsRepr::One(_) => 1,
            AtomsRepr::Many(v) => v.len(),
            AtomsRepr::Delta(d) => d.len(),
        }
    }

    /// True when there are no atoms.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the sorted atoms contain `x` (binary search; a delta is not built into a slice).
    pub fn contains_sorted(&self, x: &Atom) -> bool {
        match &self.0 {
            AtomsRepr::Empty => false,
            AtomsRepr::One(a) => a == x,
            AtomsRepr::Many(v) => v.binary_search(x).is_ok(),
            AtomsRepr::Delta(d) => match d.flat.get() {
                Some(f) => f.binary_search(x).is_ok(),
                None => d.contains(x),
            },
        }
    }

    /// The atoms as a vector to modify in place: copies them only while their storage is shared
    /// with another clone. Call [`Atoms::compact`] afterwards to store a result of at most one
    /// atom inline again ([`Atoms::modify`] does both).
    pub fn make_mut(&mut self) -> &mut Vec<Atom> {
        match self.0 {
            AtomsRepr::Many(ref mut v) => {
                if Arc::get_mut(v).is_none() {
                    *v = Arc::new(copy_for_growth(v));
                }
                Arc::make_mut(v)
            }
            _ => {
                let v = match std::mem::take(&mut self.0) {
                    AtomsRepr::One(a) => vec![a],
                    AtomsRepr::Delta(d) => delta_into_vec(d),
                    _ => Vec::new(),
                };
                self.0 = AtomsRepr::Many(Arc::new(v));
                self.make_mut()
            }
        }
    }

    /// Stores a result of at most one atom inline.
    pub fn compact(&mut self) {
        if let AtomsRepr::Many(v) = &self.0 {
            match v.len() {
                0 => self.0 = AtomsRepr::Empty,
                1 => self.0 = AtomsRepr::One(v[0].clone()),
                _ => {}
            }
        }
    }

    /// Runs `f` on the atoms as a vector ([`Atoms::make_mut`]), then [`Atoms::compact`]s them.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Vec<Atom>) -> R) -> R {
        let r = f(self.make_mut());
        self.compact();
        r
    }

    /// True when `self` and `other` share their storage (so are equal without comparing).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (AtomsRepr::Many(a), AtomsRepr::Many(b)) => Arc::ptr_eq(a, b),
            (AtomsRepr::Delta(a), AtomsRepr::Delta(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The atoms as an owned vector (moved out when not shared).
    pub fn into_vec(self) -> Vec<Atom> {
        match self.0 {
            AtomsRepr::Empty => Vec::new(),
            AtomsRepr::One(a) => vec![a],
            AtomsRepr::Many(v) => Arc::try_unwrap(v).unwrap_or_else(|v| v.as_ref().clone()),
            AtomsRepr::Delta(d) => delta_into_vec(d),
        }
    }

    /// The ways to see this set as a base plus a delta: plain storage as itself; a delta as its
    /// base and changes, and (once built) as its slice.
    fn parts(&self) -> [Option<Parts<'_>>; 2] {
        match &self.0 {
            AtomsRepr::Many(v) => [Some((v, &[], &[])), None],
            AtomsRepr::Delta(d) => [
                Some((&d.base, &d.added, &d.removed)),
                d.flat.get().map(|f| (f, &[][..], &[][..])),
            ],
            _ => [None, None],
        }
    }

    /// `self` and `other` as changes to one shared base, when they are.
    fn common_base<'a>(&'a self, other: &'a Self) -> Option<(Parts<'a>, Parts<'a>)> {
        let (x, y) = (self.parts(), other.parts());
        x.into_iter().flatten().find_map(|p| {
            y.iter()
                .flatten()
                .find(|q| Arc::ptr_eq(p.0, q.0))
                .map(|q| (p, *q))
        })
    }

    /// Calls `f(atom, added)` in order for each atom of exactly one of `self` (`added` false) and
    /// `new` (`added` true) when both are changes to one shared base, in O(changed atoms);
    /// returns false (calling nothing) when they are not.
    fn for_each_delta_difference(&self, new: &Self, mut f: impl FnMut(&Atom, bool)) -> bool {
        let Some(((_, a1, r1), (_, a2, r2))) = self.common_base(new) else {
            return false;
        };
        // Atoms outside the base are in a version exactly when it added them; atoms of the base,
        // exactly when it did not remove them.
        let mut outside = Vec::new();
        sym_diff(a1, a2, false, &mut outside);
        let mut inside = Vec::new();
        sym_diff(r1, r2, true, &mut inside);
        let (mut i, mut j) = (0, 0);
        while i < outside.len() && j < inside.len() {
            if outside[i].0 < inside[j].0 {
                f(outside[i].0, outside[i].1);
                i += 1;
            } else {
                f(inside[j].0, inside[j].1);
                j += 1;
            }
        }
        outside[i..].iter().for_each(|&(x, b)| f(x, b));
        inside[j..].iter().for_each(|&(x, b)| f(x, b));
        true
    }

    /// Inserts `add` (sorted atoms not in the set) and deletes `remove` (sorted atoms in it) by
    /// recording them as a delta, when the set is big and its storage shared, or already a
    /// delta. Returns false, changing nothing, when the caller should change the set in place.
    fn try_delta(&mut self, add: &[Atom], remove: &[Atom]) -> bool {
        let n = add.len() + remove.len();
        let (base, mut added, mut removed) = match &mut self.0 {
            AtomsRepr::Many(v) => {
                if v.len() < DELTA_MIN || n > delta_limit(v.len()) || Arc::get_mut(v).is_some() {
                    return false;
                }
                (v.clone(), Vec::new(), Vec::new())
            }
            AtomsRepr::Delta(d) => {
                let unique = Arc::get_mut(d).is_some();
                if let Some(f) = d.flat.get() {
                    // Already built: unshared, change it in place; shared, start from it.
                    if n > delta_limit(f.len()) || unique {
                        return false;
                    }
                    (f.clone(), Vec::new(), Vec::new())
                } else if let Some(d) = Arc::get_mut(d) {
                    (
                        d.base.clone(),
                        std::mem::take(&mut d.added),
                        std::mem::take(&mut d.removed),
                    )
                } else {
                    (d.base.clone(), d.added.clone(), d.removed.clone())
                }
            }
            _ => return false,
        };
        for x in add {
            if !toggle_sorted(&mut removed, x, false) {
                toggle_sorted(&mut added, x, true);
            }
        }
        for x in remove {
            if !toggle_sorted(&mut added, x, false) {
                toggle_sorted(&mut removed, x, true);
            }
        }
        self.0 = if added.is_empty() && removed.is_empty() {
            AtomsRepr::Many(base)
        } else {
            let over = added.len() + removed.len() > delta_limit(base.len());
            let d = Delta {
                base,
                added,
                removed,
                flat: OnceLock::new(),
            };
            if over {
                // Fold the delta into a new base.
                AtomsRepr::Many(Arc::new(d.materialize()))
            } else {
                AtomsRepr::Delta(Arc::new(d))
            }
        };
        true
    }
}

/// The atoms of a delta as a vector, reusing its built slice when it has one and nothing else
/// holds it.
fn delta_into_vec(d: Arc<Delta>) -> Vec<Atom> {
    match Arc::try_unwrap(d) {
        Ok(mut d) => match d.flat.take() {
            Some(f) => Arc::try_unwrap(f).unwrap_or_else(|f| copy_for_growth(&f)),
            None => d.materialize(),
        },
        Err(d) => match d.flat.get() {
            Some(f) => copy_for_growth(f),
            None => d.materialize(),
        },
    }
}

/// Appends `(atom, flag)` in order for atoms only in `x` and `(atom, !flag)` for atoms only in
/// `y` (both sorted).
fn sym_diff<'a>(x: &'a [Atom], y: &'a [Atom], flag: bool, out: &mut Vec<(&'a Atom, bool)>) {
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                out.push((&x[i], flag));
                i += 1;
            }
            Ordering::Greater => {
                out.push((&y[j], !flag));
                j += 1;
            }
        }
    }
    out.extend(x[i..].iter().map(|a| (a, flag)));
    out.extend(y[j..].iter().map(|a| (a, !flag)));
}

/// The pairs of a map datum: a slice (through `Deref`) in shared copy-on-write storage; an empty
/// map needs no allocation. A [`Datum::Map`] keeps the pairs sorted by key with distinct keys.
#[derive(Clone, Default)]
pub struct Pairs(Option<Arc<Vec<(Atom, Atom)>>>);

impl Pairs {
    /// No pairs (no allocation; usable in constants).
    pub const fn new() -> Self {
        Self(None)
    }

    /// The pairs as a slice.
    pub fn as_slice(&self) -> &[(Atom, Atom)] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The pairs as a vector to modify in place: copies them only while their storage is shared
    /// with another clone.
    pub fn make_mut(&mut self) -> &mut Vec<(Atom, Atom)> {
        let v = self.0.get_or_insert_with(Default::default);
        if Arc::get_mut(v).is_none() {
            *v = Arc::new(copy_for_growth(v));
        }
        Arc::make_mut(v)
    }

    /// Runs `f` on the pairs as a vector ([`Pairs::make_mut`]); an empty result frees the storage.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Vec<(Atom, Atom)>) -> R) -> R {
        let r = f(self.make_mut());
        if self.is_empty() {
            self.0 = None;
        }
        r
    }

    /// True when `self` and `other` share their storage (so are equal without comparing).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        matches!((&self.0, &other.0), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
    }

    /// The pairs as an owned vector (moved out when not shared).
    pub fn into_vec(self) -> Vec<(Atom, Atom)> {
        match self.0 {
            None => Vec::new(),
            Some(v) => Arc::try_unwrap(v).unwrap_or_else(|v| v.as_ref().clone()),
        }
    }
}

/// A copy of shared elements about to be modified: one tight loop (cheaper than `to_vec`'s
/// per-element drop guard), with room for one more so that inserting one element does not move
/// them all again.
fn copy_for_growth<T: Clone>(v: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len() + 1);
    out.extend(v.iter().cloned());
    out
}

macro_rules! slice_storage {
    ($ty:ident, $elem:ty) => {
        impl std::ops::Deref for $ty {
            type Target = [$elem];
            fn deref(&self) -> &[$elem] {
                self.as_slice()
            }
        }

        impl AsRef<[$elem]> for $ty {
            fn as_ref(&self) -> &[$elem] {
                self.as_slice()
            }
        }

        impl std::borrow::Borrow<[$elem]> for $ty {
            fn borrow(&self) -> &[$elem] {
                self.as_slice()
            }
        }

        impl Eq for $ty {}

        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $ty {
            fn cmp(&self, other: &Self) -> Ordering {
                if self.ptr_eq(other) {
                    return Ordering::Equal;
                }
                self.as_slice().cmp(other.as_slice())
            }
        }

        impl Hash for $ty {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_slice().hash(state);
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.as_slice()).finish()
            }
        }

        impl From<Vec<$elem>> for $ty {
            fn from(v: Vec<$elem>) -> Self {
                Self::from_vec(v)
            }
        }

        impl From<&[$elem]> for $ty {
            fn from(v: &[$elem]) -> Self {
                Self::from_vec(v.to_vec())
            }
        }

        impl<const N: usize> From<[$elem; N]> for $ty {
            fn from(v: [$elem; N]) -> Self {
                Self::from_vec(Vec::from(v))
            }
        }

        impl FromIterator<$elem> for $ty {
            fn from_iter<I: IntoIterator<Item = $elem>>(iter: I) -> Self {
                Self::from_vec(iter.into_iter().collect())
            }
        }

        impl<'a> IntoIterator for &'a $ty {
            type Item = &'a $elem;
            type IntoIter = std::slice::Iter<'a, $elem>;
            fn into_iter(self) -> Self::IntoIter {
                self.as_slice().iter()
            }
        }

        impl IntoIterator for $ty {
            type Item = $elem;
            type IntoIter = std::vec::IntoIter<$elem>;
            fn into_iter(self) -> Self::IntoIter {
                self.into_vec().into_iter()
            }
        }

        impl PartialEq<[$elem]> for $ty {
            fn eq(&self, other: &[$elem]) -> bool {
                self.as_slice() == other
            }
        }

        impl PartialEq<Vec<$elem>> for $ty {
            fn eq(&self, other: &Vec<$elem>) -> bool {
                self.as_slice() == other.as_slice()
            }
        }
    };
}

slice_storage!(Atoms, Atom);
slice_storage!(Pairs, (Atom, Atom));

impl PartialEq for Atoms {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (AtomsRepr::Empty, AtomsRepr::Empty) => return true,
            (AtomsRepr::One(a), AtomsRepr::One(b)) => return a == b,
            (AtomsRepr::Many(a), AtomsRepr::Many(b)) => return Arc::ptr_eq(a, b) || a == b,
            _ => {}
        }
        if self.ptr_eq(other) {
            return true;
        }
        if self.len() != other.len() {
            return false;
        }
        // Two versions of one set differ exactly where their deltas do.
        if let Some(((_, a1, r1), (_, a2, r2))) = self.common_base(other) {
            return a1 == a2 && r1 == r2;
        }
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq for Pairs {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.as_slice() == other.as_slice()
    }
}

impl Atoms {
    fn from_vec(mut v: Vec<Atom>) -> Self {
        if v.len() > 1 {
            return Self(AtomsRepr::Many(Arc::new(v)));
        }
        match v.pop() {
            Some(a) => Self::one(a),
            None => Self::new(),
        }
    }
}

impl Pairs {
    fn from_vec(v: Vec<(Atom, Atom)>) -> Self {
        if v.is_empty() {
            Self::new()
        } else {
            Self(Some(Arc::new(v)))
        }
    }
}

/// Writes the same JSON as [`Datum::to_json`], without building a [`Value`].
impl Datum {
    /// Appends this datum's JSON text to `out`: the bytes `serde_json` writes for
    /// [`Datum::to_json`], written without it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::Set(v) => {
                let atoms = v.as_slice();
                if let [a] = atoms {
                    return a.write_json(out);
                }
                out.extend_from_slice(b"[\"set\",[");
                for (i, a) in atoms.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    a.write_json(out);
                }
            }
            Self::Map(v) => {
                out.extend_from_slice(b"[\"map\",[");
                for (i, (k, val)) in v.as_slice().iter().enumerate() {
                    out.extend_from_slice(if i > 0 { b",[" } else { b"[" });
                    k.write_json(out);
                    out.push(b',');
                    val.write_json(out);
                    out.push(b']');
                }
            }
        }
        out.extend_from_slice(b"]]");
    }
}

impl serde::Serialize for Datum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        /// The elements of a set or map, as a JSON array.
        struct Elements<'a>(&'a Datum);
        impl serde::Serialize for Elements<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                match self.0 {
                    Datum::Set(v) => s.collect_seq(v.iter()),
                    Datum::Map(v) => s.collect_seq(v.iter().map(|(k, val)| (k, val))),
                }
            }
        }
        let tag = match self {
            Self::Set(v) if v.len() == 1 => return v[0].serialize(s),
            Self::Set(_) => "set",
            Self::Map(_) => "map",
        };
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(tag)?;
        t.serialize_element(&Elements(self))?;
        t.end()
    }
}

impl Datum {
    /// The empty datum of `ty`.
    pub fn empty(ty: &ColumnType) -> Self {
        if ty.is_map() {
            Self::Map(Pairs::new())
        } else {
            Self::Set(Atoms::new())
        }
    }

    /// A one-atom datum.
    pub const fn scalar(atom: Atom) -> Self {
        Self::Set(Atoms::one(atom))
    }

    /// The empty set (no allocation; usable in constants).
    pub const fn empty_set() -> Self {
        Self::Set(Atoms::new())
    }

    /// The empty map (no allocation; usable in constants).
    pub const fn empty_map() -> Self {
        Self::Map(Pairs::new())
    }

    /// Number of elements (atoms or pairs).
    pub fn len(&self) -> usize {
        match self {
            Self::Set(v) => v.len(),
            Self::Map(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The atoms of a set (empty for maps).
    pub fn set_atoms(&self) -> &[Atom] {
        match self {
            Self::Set(v) => v,
            Self::Map(_) => &[],
        }
    }

    /// The pairs of a map (empty for sets).
    pub fn map_pairs(&self) -> &[(Atom, Atom)] {
        match self {
            Self::Map(v) => v,
            Self::Set(_) => &[],
        }
    }

    /// The first atom of a set (the value of a scalar).
    pub fn first(&self) -> Option<&Atom> {
        self.set_atoms().first()
    }

    /// Calls `f` on every key atom and every value atom.
    pub fn for_each_atom(&self, mut f: impl FnMut(&Atom, bool)) {
        match self {
            Self::Set(v) => v.iter().for_each(|a| f(a, true)),
            Self::Map(v) => v.iter().for_each(|(k, val)| {
                f(k, true);
                f(val, false);
            }),
        }
    }

    /// Parses a datum of type `ty` from JSON (RFC 7047 `<value>`), with ovsdb-server's checks in
    /// its order: set size, then each atom (type and constraints), then duplicates.
    pub fn from_json<J: JsonView>(
        json: &J,
        ty: &ColumnType,
        symbols: &mut dyn SymbolResolver,
    ) -> Result<Self> {
        let is_set_notation =
            json.as_array().and_then(<[J]>::first).and_then(J::as_str) == Some("set");
        if !ty.is_map() && !is_set_notation {
            return Ok(Self::scalar(Atom::from_json(json, &ty.key, symbols)?));
        }
        let class = if ty.is_map() { "map" } else { "set" };
        let inner = match json.as_array() {
            Some(a) if a.len() == 2 && a[0].as_str() == Some(class) => match a[1].as_array() {
                Some(inner) => inner,
                None => {
                    return Err(Error::syntax_at(
                        Some(json),
                        format!("{class} value must be an array"),
                    ))
                }
            },
            _ => {
                return Err(Error::syntax_at(
                    Some(json),
                    format!("\"{class}\" expected"),
                ))
            }
        };
        let n = inner.len() as u64;
        if n < ty.min || n > ty.max {
            let details = if ty.min == 1 && ty.max == 1 {
                format!("{class} must have exactly one member but {n} are present")
            } else {
                format!(
                    "{class} must have {} to {} members but {n} are present",
                    ty.min,
                    ty.max.min(u64::from(u32::MAX))
                )
            };
            return Err(Error::syntax_at(Some(json), details));
        }
        match &ty.value {
            None => {
                let mut atoms = Vec::with_capacity(inner.len());
                for e in inner {
                    atoms.push(Atom::from_json(e, &ty.key, symbols)?);
                }
                Self::set_from_vec(atoms)
            }
            Some(vt) => {
                let mut pairs = Vec::with_capacity(inner.len());
                for e in inner {
                    let (k, v) = match e.as_array() {
                        Some(p) if p.len() == 2 => (&p[0], &p[1]),
                        _ => return Err(Error::syntax_at(Some(e), "2-element array expected")),
                    };
                    let k = Atom::from_json(k, &ty.key, symbols)?;
                    let v = Atom::from_json(v, vt, symbols)?;
                    pairs.push((k, v));
                }
                Self::map_from_vec(pairs)
            }
        }
    }

    /// Builds a set from atoms in any order; duplicates are an error ("set contains duplicate").
    pub fn set_from_vec(mut atoms: Vec<Atom>) -> Result<Self> {
        atoms.sort();
        if atoms.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Generic("set contains duplicate".into()));
        }
        Ok(Self::Set(atoms.into()))
    }

    /// Builds a map from pairs in any order; duplicate keys are an error.
    pub fn map_from_vec(mut pairs: Vec<(Atom, Atom)>) -> Result<Self> {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::Generic("map contains duplicate key".into()));
        }
        Ok(Self::Map(pairs.into()))
    }

    /// JSON as ovsdb-server prints it: a one-element set as the bare atom, other sets as
    /// `["set", [...]]`, maps always as `["map", [[k, v], ...]]`.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Set(v) if v.len() == 1 => v[0].to_json(),
            Self::Set(v) => json!(["set", v.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Self::Map(v) => json!([
                "map",
                v.iter()
                    .map(|(k, val)| json!([k.to_json(), val.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    /// Three-way comparison as ovsdb-server sorts rows: by size, then element by element.
    pub fn compare_3way(&self, other: &Self) -> Ordering {
        self.len()
            .cmp(&other.len())
            .then_with(|| match (self, other) {
                (Self::Set(a), Self::Set(b)) => a.cmp(b),
                (Self::Map(a), Self::Map(b)) => {
                    let keys = a.iter().map(|p| &p.0).cmp(b.iter().map(|p| &p.0));
                    keys.then_with(|| a.iter().map(|p| &p.1).cmp(b.iter().map(|p| &p.1)))
                }
                (Self::Set(_), Self::Map(_)) => Ordering::Less,
                (Self::Map(_), Self::Set(_)) => Ordering::Greater,
            })
    }

    fn contains_element(&self, other: &Self, i: usize) -> bool {
        match (self, other) {
            (Self::Set(a), Self::Set(b)) => a.binary_search(&b[i]).is_ok(),
            (Self::Map(a), Self::Map(b)) => a
                .binary_search_by(|p| p.0.cmp(&b[i].0))
                .is_ok_and(|j| a[j].1 == b[i].1),
            (Self::Map(a), Self::Set(b)) => a.binary_search_by(|p| p.0.cmp(&b[i])).is_ok(),
            (Self::Set(_), Self::Map(_)) => false,
        }
    }

    /// True when every element of `self` is in `field` (`includes` of a condition).
    pub fn is_subset_of(&self, field: &Self) -> bool {
        (0..self.len()).all(|i| field.contains_element(self, i))
    }

    /// True when no element of `self` is in `field` (`excludes` of a condition).
    pub fn is_disjoint_from(&self, field: &Self) -> bool {
        (0..self.len()).all(|i| !field.contains_element(self, i))
    }

    /// Adds the elements of `other` whose keys are not yet present (the `insert` mutator: existing
    /// map keys keep their values).
    pub fn union_with(&mut self, other: &Self) {
        match (self, other) {
            (Self::Set(a), Self::Set(b)) => {
                if a.is_empty() {
                    *a = b.clone();
                    return;
                }
                let extra: Vec<Atom> = b
                    .iter()
                    .filter(|x| !a.contains_sorted(x))
                    .cloned()
                    .collect();
                if extra.is_empty() || a.try_delta(&extra, &[]) {
                    return;
                }
                a.modify(|a| {
                    if extra.len() <= 8 {
                        for x in extra {
                            if let Err(i) = a.binary_search(&x) {
                                a.insert(i, x);
                            }
                        }
                    } else {
                        a.extend(extra);
                        a.sort();
                    }
                });
            }
            (Self::Map(a), Self::Map(b)) => {
                if a.is_empty() {
                    *a = b.clone();
                    return;
                }
                let extra: Vec<(Atom, Atom)> = b
                    .iter()
                    .filter(|x| a.binary_search_by(|p| p.0.cmp(&x.0)).is_err())
                    .cloned()
                    .collect();
                if extra.is_empty() {
                    return;
                }
                a.modify(|a| {
                    if extra.len() <= 8 {
                        for x in extra {
                            if let Err(i) = a.binary_search_by(|p| p.0.cmp(&x.0)) {
                                a.insert(i, x);
                            }
                        }
                    } else {
                        a.extend(extra);
                        a.sort_by(|p, q| p.0.cmp(&q.0));
                    }
                });
            }
            _ => {}
        }
    }

    /// Removes the elements of `other` (the `delete` mutator): for a map, `other` may be a map
    /// (pairs must match key and value) or a set of keys.
    pub fn subtract(&mut self, other: &Self) {
        match (self, other) {
            // A few elements out of many: find each instead of testing every element.
            (Self::Set(a), Self::Set(b))
                if b.len() <= 8.max(delta_limit(a.len())) && a.len() > 64 =>
            {
                let gone: Vec<Atom> = b.iter().filter(|x| a.contains_sorted(x)).cloned().collect();
                if gone.is_empty() || a.try_delta(&[], &gone) {
                    return;
                }
                if gone.len() <= 8 {
                    a.modify(|a| {
                        for x in &gone {
                            if let Ok(i) = a.binary_search(x) {
                                a.remove(i);
                            }
                        }
                    });
                } else {
                    a.modify(|a| a.retain(|x| gone.binary_search(x).is_err()));
                }
            }
            (Self::Set(a), Self::Set(b)) => {
                if a.iter().any(|x| b.binary_search(x).is_ok()) {
                    a.modify(|a| a.retain(|x| b.binary_search(x).is_err()));
                }
            }
            (Self::Map(a), Self::Map(b)) => {
                let keep = |x: &(Atom, Atom)| {
                    b.binary_search_by(|p| p.0.cmp(&x.0))
                        .map_or(true, |j| b[j].1 != x.1)
                };
                if !a.iter().all(keep) {
                    a.modify(|a| a.retain(keep));
                }
            }
            (Self::Map(a), Self::Set(b)) => {
                if a.iter().any(|x| b.binary_search(&x.0).is_ok()) {
                    a.modify(|a| a.retain(|x| b.binary_search(&x.0).is_err()));
                }
            }
            (Self::Set(_), Self::Map(_)) => {}
        }
    }

    /// Removes the elements for which `drop(key, value)` is true (value is `None` for sets);
    /// returns how many were removed.
    pub fn remove_where(&mut self, mut drop: impl FnMut(&Atom, Option<&Atom>) -> bool) -> usize {
        let before = self.len();
        match self {
            Self::Set(a) => {
                let keep: Vec<bool> = a.iter().map(|x| !drop(x, None)).collect();
                if keep.contains(&false) {
                    let mut k = keep.into_iter();
                    a.modify(|a| a.retain(|_| k.next().unwrap_or(true)));
                }
            }
            Self::Map(a) => {
                let keep: Vec<bool> = a.iter().map(|(k, v)| !drop(k, Some(v))).collect();
                if keep.contains(&false) {
                    let mut k = keep.into_iter();
                    a.modify(|a| a.retain(|_| k.next().unwrap_or(true)));
                }
            }
        }
        before - self.len()
    }

    /// The difference from `old` to `self` as ovsdb-server writes it in `_is_diff` file records:
    /// for columns with at most one element, the new value; for sets, the symmetric difference;
    /// for maps, the pairs added or changed (with their new values) and the pairs removed.
    pub fn diff_from(&self, old: &Self, ty: &ColumnType) -> Self {
        if ty.max == 1 {
            return self.clone();
        }
        match (old, self) {
            (Self::Set(o), Self::Set(n)) => {
                if o.ptr_eq(n) {
                    return Self::empty_set();
                }
                // Symmetric difference, in order, by one merge of the two sorted sets.
                let mut v: Vec<Atom> = Vec::new();
                old.for_each_difference(self, |a, _, _| v.push(a.clone()));
                Self::Set(v.into())
            }
            (Self::Map(o), Self::Map(n)) => {
                let find = |v: &[(Atom, Atom)], k: &Atom| {
                    v.binary_search_by(|p| p.0.cmp(k))
                        .ok()
                        .map(|i| v[i].1.clone())
                };
                let mut v: Vec<(Atom, Atom)> = Vec::new();
                for (k, val) in n {
                    if find(o, k).as_ref() != Some(val) {
                        v.push((k.clone(), val.clone()));
                    }
                }
                for (k, val) in o {
                    if find(n, k).is_none() {
                        v.push((k.clone(), val.clone()));
                    }
                }
                v.sort_by(|a, b| a.0.cmp(&b.0));
                Self::Map(v.into())
            }
            _ => self.clone(),
        }
    }

    /// Applies a diff made by [`Datum::diff_from`] (the inverse operation).
    pub fn apply_diff(&mut self, diff: &Self, ty: &ColumnType) {
        if ty.max == 1 {
            *self = diff.clone();
            return;
        }
        match (&mut *self, diff) {
            (Self::Set(_), Self::Set(d)) if d.is_empty() => {}
            // A few changes to a set: as a delta, or toggle each in place.
            (Self::Set(a), Self::Set(d)) if d.len() <= 8 => {
                let (remove, add): (Vec<Atom>, Vec<Atom>) =
                    d.iter().cloned().partition(|x| a.contains_sorted(x));
                if a.try_delta(&add, &remove) {
                    return;
                }
                a.modify(|a| {
                    for x in d {
                        match a.binary_search(x) {
                            Ok(i) => {
                                a.remove(i);
                            }
                            Err(i) => a.insert(i, x.clone()),
                        }
                    }
                })
            }
            // The symmetric difference, by one merge.
            (Self::Set(a), Self::Set(_)) => {
                let cur = Self::Set(a.clone());
                let mut out = Vec::with_capacity(a.len() + diff.len());
                cur.for_each_difference(diff, |x, _, _| out.push(x.clone()));
                *a = out.into();
            }
            (Self::Map(_), Self::Map(d)) if d.is_empty() => {}
            (Self::Map(a), Self::Map(d)) => a.modify(|a| {
                for (k, v) in d {
                    match a.binary_search_by(|p| p.0.cmp(k)) {
                        Ok(i) if a[i].1 == *v => {
                            a.remove(i);
                        }
                        Ok(i) => a[i].1 = v.clone(),
                        Err(i) => a.insert(i, (k.clone(), v.clone())),
                    }
                }
            }),
            _ => {}
        }
    }

    /// Calls `f(key, value, added)` for every element of `self` not in `new` (`added` false) and
    /// every element of `new` not in `self` (`added` true), in one merge pass over both sorted
    /// datums; `value` is `None` for sets. For maps, a key whose value changed counts as one pair
    /// removed and one pair added.
    pub fn for_each_difference(&self, new: &Self, mut f: impl FnMut(&Atom, Option<&Atom>, bool)) {
        match (self, new) {
            (Self::Set(a), Self::Set(b)) if a.ptr_eq(b) => {}
            (Self::Map(a), Self::Map(b)) if a.ptr_eq(b) => {}
            (Self::Set(a), Self::Set(b)) => {
                if a.for_each_delta_difference(b, |x, added| f(x, None, added)) {
                    return;
                }
                // Plain slices: indexing through `Deref` would re-match the storage each time.
                let (a, b) = (a.as_slice(), b.as_slice());
                let (mut i, mut j) = (0, 0);
                while i < a.len() && j < b.len() {
                    match a[i].cmp(&b[j]) {
                        Ordering::Equal => {
                            i += 1;
                            j += 1;
                        }
                        Ordering::Less => {
                            f(&a[i], None, false);
                            i += 1;
                        }
                        Ordering::Greater => {
                            f(&b[j], None, true);
                            j += 1;
                        }
                    }
                }
                a[i..].iter().for_each(|x| f(x, None, false));
                b[j..].iter().for_each(|x| f(x, None, true));
            }
            (Self::Map(a), Self::Map(b)) => {
                let (a, b) = (a.as_slice(), b.as_slice());
                let (mut i, mut j) = (0, 0);
                while i < a.len() && j < b.len() {
                    match a[i].0.cmp(&b[j].0) {
                        Ordering::Equal => {
                            if a[i].1 != b[j].1 {
                                f(&a[i].0, Some(&a[i].1), false);
                                f(&b[j].0, Some(&b[j].1), true);
                            }
                            i += 1;
                            j += 1;
                        }
                        Ordering::Less => {
                            f(&a[i].0, Some(&a[i].1), false);
                            i += 1;
                        }
                        Ordering::Greater => {
                            f(&b[j].0, Some(&b[j].1), true);
                            j += 1;
                        }
                    }
                }
                a[i..].iter().for_each(|(k, v)| f(k, Some(v), false));
                b[j..].iter().for_each(|(k, v)| f(k, Some(v), true));
            }
            (old, new) => {
                old.for_each_pair(|k, v| f(k, v, false));
                new.for_each_pair(|k, v| f(k, v, true));
            }
        }
    }

    fn for_each_pair(&self, mut f: impl FnMut(&Atom, Option<&Atom>)) {
        match self {
            Self::Set(v) => v.iter().for_each(|a| f(a, None)),
            Self::Map(v) => v.iter().for_each(|(k, val)| f(k, Some(val))),
        }
    }

    /// True when the number of elements is within `ty`'s bounds.
    pub fn conforms_to(&self, ty: &ColumnType) -> bool {
        let n = self.len() as u64;
        n >= ty.min && n <= ty.max
    }

    /// Checks every atom against `ty`'s constraints.
    pub fn check_constraints(&self, ty: &ColumnType) -> Result<()> {
        match self {
            Self::Set(v) => v.iter().try_for_each(|a| ty.key.check_constraints(a)),
            Self::Map(v) => v.iter().try_for_each(|(k, val)| {
                ty.key.check_constraints(k)?;
                match &ty.value {
                    Some(vt) => vt.check_constraints(val),
                    None => Ok(()),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ColumnType;

    #[test]
    fn written_datums_are_what_serde_json_writes() {
        let s = |t: &str| Atom::String(t.into());
        let big: Vec<Atom> = (0..100).map(Atom::Integer).collect();
        let mut delta = Datum::set_from_vec(big.clone()).unwrap();
        let shared = delta.clone();
        delta.union_with(&Datum::scalar(Atom::Integer(1000)));
        delta.subtract(&Datum::scalar(Atom::Integer(5)));
        for d in [
            Datum::empty_set(),
            Datum::Map(Pairs::new()),
            Datum::scalar(s("a\"b")),
            Datum::set_from_vec(vec![s("x"), s("y")]).unwrap(),
            Datum::set_from_vec(big).unwrap(),
            Datum::map_from_vec(vec![(s("k"), s("v"))]).unwrap(),
            Datum::map_from_vec(vec![
                (s("a"), Atom::Integer(1)),
                (s("b\n"), Atom::Integer(2)),
            ])
            .unwrap(),
            delta,
            shared,
        ] {
            let mut out = Vec::new();
            d.write_json(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&d.to_json()).unwrap(),
                "{d:?}"
            );
        }
    }

    fn ty(j: Value) -> ColumnType {
        ColumnType::from_json(&j).unwrap()
    }

    #[test]
    fn parse_and_print() {
        let t = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let d = Datum::from_json(&json!(["set", [3, 1, 2]]), &t, &mut NoSymbols).unwrap();
        assert_eq!(d.to_json(), json!(["set", [1, 2, 3]]));
        let d = Datum::from_json(&json!(5), &t, &mut NoSymbols).unwrap();
        assert_eq!(d.to_json(), json!(5));
        let d = Datum::from_json(&json!(["set", [5]]), &t, &mut NoSymbols).unwrap();
        assert_eq!(d.to_json(), json!(5));
        let d = Datum::from_json(&json!(["set", []]), &t, &mut NoSymbols).unwrap();
        assert_eq!(d.to_json(), json!(["set", []]));
        let e = Datum::from_json(&json!(["set", [1, 1]]), &t, &mut NoSymbols).unwrap_err();
        assert_eq!(e.tag(), "ovsdb error");
        let m = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
        let d = Datum::from_json(
            &json!(["map", [["b", "1"], ["a", "2"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        assert_eq!(d.to_json(), json!(["map", [["a", "2"], ["b", "1"]]]));
        assert_eq!(Datum::empty(&m).to_json(), json!(["map", []]));
        assert_eq!(
            Datum::from_json(&json!("x"), &m, &mut NoSymbols)
                .unwrap_err()
                .tag(),
            "syntax error"
        );
        let bounded = ty(json!({"key": "string", "min": 0, "max": 3}));
        let e = Datum::from_json(
            &json!(["set", ["a", "b", "c", "d"]]),
            &bounded,
            &mut NoSymbols,
        )
        .unwrap_err();
        assert_eq!(
            e.details(),
            "set must have 0 to 3 members but 4 are present"
        );
    }

    #[test]
    fn file_diffs_round_trip() {
        let m = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
        let old = Datum::from_json(
            &json!(["map", [["a", "1"], ["b", "2"], ["d", "4"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        let new = Datum::from_json(
            &json!(["map", [["a", "1"], ["b", "9"], ["c", "3"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        let d = new.diff_from(&old, &m);
        assert_eq!(
            d.to_json(),
            json!(["map", [["b", "9"], ["c", "3"], ["d", "4"]]])
        );
        let mut x = old.clone();
        x.apply_diff(&d, &m);
        assert_eq!(x, new);
        let s = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let old = Datum::from_json(&json!(["set", [1, 2]]), &s, &mut NoSymbols).unwrap();
        let new = Datum::from_json(&json!(["set", [2, 3]]), &s, &mut NoSymbols).unwrap();
        let d = new.diff_from(&old, &s);
        assert_eq!(d.to_json(), json!(["set", [1, 3]]));
        let mut x = old.clone();
        x.apply_diff(&d, &s);
        assert_eq!(x, new);
    }

    #[test]
    fn storage_is_small_and_shared() {
        assert_eq!(size_of::<Atoms>(), size_of::<Atom>());
        assert_eq!(size_of::<Datum>(), size_of::<Atom>());
        let t = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let big: Vec<i64> = (0..100).collect();
        let a = Datum::from_json(&json!(["set", big]), &t, &mut NoSymbols).unwrap();
        let mut b = a.clone();
        let (Datum::Set(x), Datum::Set(y)) = (&a, &b) else {
            panic!("sets expected")
        };
        assert!(x.ptr_eq(y));
        b.union_with(&Datum::scalar(Atom::Integer(5)));
        assert!(matches!((&a, &b), (Datum::Set(x), Datum::Set(y)) if x.ptr_eq(y)));
        b.union_with(&Datum::scalar(Atom::Integer(500)));
        assert_eq!(a.len(), 100);
        assert_eq!(b.len(), 101);
        b.subtract(&Datum::scalar(Atom::Integer(500)));
        assert_eq!(a, b);
        let mut one = Datum::scalar(Atom::Integer(1));
        one.union_with(&Datum::scalar(Atom::Integer(2)));
        assert_eq!(one.to_json(), json!(["set", [1, 2]]));
        one.subtract(&Datum::scalar(Atom::Integer(1)));
        assert_eq!(one, Datum::scalar(Atom::Integer(2)));
        assert!(matches!(&one, Datum::Set(x) if matches!(x.0, AtomsRepr::One(_))));
        assert_eq!(one.remove_where(|a, _| *a == Atom::Integer(2)), 1);
        assert_eq!(one, Datum::empty_set());
    }

    /// Versions of a big set changed by inserts and deletes (kept as deltas on shared storage)
    /// behave like plain sets: contents, length, equality, hashing, differences and file diffs.
    #[test]
    fn delta_versions_match_a_model() {
        use proptest::prelude::*;
        use std::collections::BTreeSet;
        use std::hash::DefaultHasher;

        fn hash(d: &Datum) -> u64 {
            let mut h = DefaultHasher::new();
            d.hash(&mut h);
            h.finish()
        }
        fn plain(m: &BTreeSet<i64>) -> Datum {
            Datum::Set(m.iter().map(|&i| Atom::Integer(i)).collect())
        }
        fn arg(xs: &[i64]) -> Datum {
            Datum::set_from_vec(
                xs.iter()
                    .copied()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(Atom::Integer)
                    .collect(),
            )
            .unwrap()
        }
        let t = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        // (insert?, elements, read the slice of the result?, keep the old version alive?)
        let step = (
            any::<bool>(),
            prop::collection::vec(0i64..300, 0..12),
            any::<bool>(),
            any::<bool>(),
        );
        proptest!(ProptestConfig::with_cases(200), |(n in 60usize..200, steps in prop::collection::vec(step, 1..40))| {
            let mut model: BTreeSet<i64> = (0..n as i64).map(|i| i * 2).collect();
            let mut cur = plain(&model);
            let mut kept = cur.clone();
            let mut kept_model = model.clone();
            for (insert, xs, read, keep) in steps {
                let old = cur.clone();
                let old_model = model.clone();
                let a = arg(&xs);
                if insert {
                    cur.union_with(&a);
                    model.extend(xs.iter().copied());
                } else {
                    cur.subtract(&a);
                    xs.iter().for_each(|x| { model.remove(x); });
                }
                let want = plain(&model);
                prop_assert_eq!(cur.len(), model.len());
                for x in &xs {
                    let Datum::Set(v) = &cur else { unreachable!() };
                    prop_assert_eq!(v.contains_sorted(&Atom::Integer(*x)), model.contains(x));
                }
                prop_assert_eq!(&cur, &want);
                prop_assert_eq!(&want, &cur);
                prop_assert_eq!(hash(&cur), hash(&want));
                prop_assert_eq!(old == cur, old_model == model);
                prop_assert_eq!(kept == cur, kept_model == model);
                // Differences against the previous and an older version, both ways.
                for (o, om) in [(&old, &old_model), (&kept, &kept_model)] {
                    let mut got = Vec::new();
                    o.for_each_difference(&cur, |x, _, added| got.push((x.clone(), added)));
                    let mut exp: Vec<(Atom, bool)> = om
                        .symmetric_difference(&model)
                        .map(|&i| (Atom::Integer(i), model.contains(&i)))
                        .collect();
                    exp.sort();
                    prop_assert_eq!(&got, &exp);
                    let d = cur.diff_from(o, &t);
                    prop_assert_eq!(&d, &plain(&om.symmetric_difference(&model).copied().collect()));
                    let mut back = o.clone();
                    back.apply_diff(&d, &t);
                    prop_assert_eq!(&back, &want);
                }
                if read {
                    prop_assert_eq!(cur.set_atoms(), want.set_atoms());
                }
                if keep {
                    kept = cur.clone();
                    kept_model = model.clone();
                }
            }
            prop_assert_eq!(cur.to_json(), plain(&model).to_json());
        });
    }

    #[test]
    fn set_algebra() {
        let m = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
        let mut d = Datum::from_json(
            &json!(["map", [["a", "1"], ["b", "2"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        let ins = Datum::from_json(
            &json!(["map", [["a", "9"], ["c", "3"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        d.union_with(&ins);
        assert_eq!(
            d.to_json(),
            json!(["map", [["a", "1"], ["b", "2"], ["c", "3"]]])
        );
        let del = Datum::from_json(
            &json!(["map", [["b", "3"], ["a", "1"]]]),
            &m,
            &mut NoSymbols,
        )
        .unwrap();
        d.subtract(&del);
        assert_eq!(d.to_json(), json!(["map", [["b", "2"], ["c", "3"]]]));
        d.subtract(&Datum::scalar(Atom::String("c".into())));
        assert_eq!(d.to_json(), json!(["map", [["b", "2"]]]));
    }
}
