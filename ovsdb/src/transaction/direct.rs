//! `insert` operations read straight from the request's text into the row's datums, without a
//! [`JsonRef`](crate::json::JsonRef) tree: the operation's members, in any order, then each
//! column's value as its atoms (a big Southbound commit is hundreds of thousands of inserts,
//! and building and dropping a tree of ~35 nodes for each cost about a third of its time).
//!
//! The reader only ever gives the outcome the tree path ([`Txn::execute_op`]) gives. It runs in
//! two phases:
//!
//! 1. Reading, without side effect: the members (`op` must be `"insert"`, then `table`, `row`,
//!    optionally `uuid` and `uuid-name`, each once, nothing else) and the row's columns whose
//!    values cannot hold a UUID, parsed and checked as [`Datum::from_json`] does. Values that
//!    may hold a UUID are only skipped: a `named-uuid` in them draws a random UUID, so they are
//!    read in phase 2, in ovsdb-server's member order. Anything unusual or wrong (another
//!    operation, an unknown or repeated member or column, a number that is not a plain
//!    integer, an error of any kind) declines: nothing happened, the parser is back at the
//!    operation's start, and the tree path runs the operation (and reports its error).
//! 2. Running, as [`Txn::insert_row`] does for the tree path: the UUID or symbol, the deferred
//!    columns, the defaults' constraints, `_version`. An error here is a failed operation; the
//!    callers ([`Txn::run_stream`], [`Speculation::run`]) then drop what they did and the
//!    request runs anew from its tree, which gives the error ovsdb-server gives.

use std::borrow::Cow;

use uuid::Uuid;

use super::{NamedColumns, OpResult, Stop, Strings, Txn};
use crate::atom::{Atom, SymbolResolver};
use crate::datum::Datum;
use crate::db::Row;
use crate::error::Error;
use crate::json::Parser;
use crate::parser::is_id;
use crate::schema::{COL_UUID, COL_VERSION};
use crate::types::{AtomicType, BaseType, ColumnType};

/// The depth [`Parser::value`] reads an operation's row values at (request 1, `params` 2,
/// operation 3, row 4).
const ROW_VALUE_DEPTH: usize = 4;

/// Buffers reused from one operation to the next, and from one transaction to the next (a
/// database keeps them between transactions, see [`super::MemberOrder`]): a set's atoms and a
/// map's pairs are gathered here, then moved into a vector of their exact size (what the tree
/// path allocates).
#[derive(Debug, Default)]
pub(super) struct Scratch {
    bufs: Buffers,
    /// Deferred columns of the row being read: (column, position of its value).
    deferred: Vec<(usize, usize)>,
    /// What the last rows read had as their members, by position: consecutive rows of a big
    /// transaction name the same columns in the same order, and often repeat values.
    members: Vec<MemberSlot>,
    /// The `table` of the last operation read, as written (quotes included), and its index:
    /// the same bytes name the same table, without reading the name and looking it up.
    table: Option<(Vec<u8>, usize)>,
}

/// The members of an `insert` operation as they are usually written (no escapes, no
/// whitespace inside the quotes), with their bits in [`Txn::read_insert`]'s `seen`.
const OP_MEMBERS: [(&[u8], u8); 5] = [
    (b"\"op\"", 1),
    (b"\"table\"", 2),
    (b"\"uuid\"", 4),
    (b"\"uuid-name\"", 8),
    (b"\"row\"", 16),
];

/// Reads an operation's member name (after whitespace) and gives its bit (see [`OP_MEMBERS`]),
/// `Some(0)` for any other name: names written as usual are recognized by their bytes,
/// others read as [`Parser::pull_str`] reads them.
fn pull_member(p: &mut Parser<'_>) -> Option<u8> {
    p.peek()?;
    let at = p.pos();
    let rest = &p.bytes()[at..];
    for (raw, bit) in OP_MEMBERS {
        if rest.starts_with(raw) {
            p.seek(at + raw.len());
            return Some(bit);
        }
    }
    let key = p.pull_str()?;
    Some(match key.as_ref() {
        "op" => 1,
        "table" => 2,
        "uuid" => 4,
        "uuid-name" => 8,
        "row" => 16,
        _ => 0,
    })
}

/// A set's atoms and a map's pairs, gathered before they are moved into a vector of their
/// exact size.
#[derive(Debug, Default)]
struct Buffers {
    atoms: Vec<Atom>,
    pairs: Vec<(Atom, Atom)>,
}

/// The string atoms of the last values read for one member, by their place in the value
/// (a map's keys and values alternate), as written (quotes included) and as atoms: a string
/// written the same way is the same atom (a clone shares its text), found without reading it
/// or looking it up among the transaction's strings.
type KeptAtoms = Vec<(Vec<u8>, Atom)>;

/// Member `i` of the last row objects read (see [`Scratch::members`]).
#[derive(Debug)]
struct MemberSlot {
    table: usize,
    /// The member's name as it was written, quotes included: the same bytes at the same
    /// place in the next row are the same name, and comparing them costs less than reading
    /// the name and looking it up.
    key: Vec<u8>,
    column: usize,
    /// The last two values read for it, most recent first, as written and as datums (only
    /// for columns that cannot hold a UUID, so that a datum does not depend on anything but
    /// its text and its column's type): the same bytes, followed by `,` or `}`, are the same
    /// datum, which is shared (a clone shares the storage of its sets and maps).
    values: [Option<(Vec<u8>, Datum)>; 2],
    /// See [`KeptAtoms`].
    atoms: KeptAtoms,
}

/// Values longer than this are not kept in a [`MemberSlot`] (comparing them costs more, and
/// long values, such as a flow's `match`, rarely repeat).
const MAX_KEPT_VALUE: usize = 256;

/// A resolver for phase 1: strings shared through the transaction's [`Strings`], named UUIDs
/// refused (no column read in phase 1 can hold one).
struct StringsOnly<'s>(&'s mut Strings);

impl SymbolResolver for StringsOnly<'_> {
    fn resolve(&mut self, _name: &str) -> Option<Uuid> {
        None
    }

    fn string(&mut self, s: &str) -> std::sync::Arc<str> {
        self.0.get(s)
    }
}

/// True when a value of `ty` may hold a UUID atom.
fn holds_uuid(ty: &ColumnType) -> bool {
    ty.key.atomic == AtomicType::Uuid
        || ty
            .value
            .as_ref()
            .is_some_and(|v| v.atomic == AtomicType::Uuid)
}

/// One atom of `base` (after whitespace), parsed and checked as [`Atom::from_json`] does;
/// `None` on anything it would refuse (or that is not an atom). A string atom, atom number `n`
/// of its value, is read through the strings `kept` from earlier values (see [`KeptAtoms`]),
/// which it updates.
fn read_atom(
    p: &mut Parser<'_>,
    base: &BaseType,
    r: &mut dyn SymbolResolver,
    kept: Option<(&mut KeptAtoms, usize)>,
) -> Option<Atom> {
    let first = p.peek()?;
    if first == b'"' && base.atomic == AtomicType::String {
        if let Some((kept, n)) = kept {
            let at = p.pos();
            let bytes = p.bytes();
            if let Some((raw, atom)) = kept.get(n) {
                if bytes[at..].starts_with(raw) {
                    p.seek(at + raw.len());
                    return Some(atom.clone());
                }
            }
            let leaf = p.pull_leaf()?;
            let atom = Atom::from_json(&leaf, base, r).ok()?;
            let raw = &bytes[at..p.pos()];
            if raw.len() <= MAX_KEPT_VALUE {
                if let Some((v, a)) = kept.get_mut(n) {
                    v.clear();
                    v.extend_from_slice(raw);
                    *a = atom.clone();
                } else if kept.len() == n {
                    kept.push((raw.to_vec(), atom.clone()));
                }
            }
            return Some(atom);
        }
    }
    if first == b'[' {
        // `["uuid", "..."]` or `["named-uuid", "..."]`.
        if base.atomic != AtomicType::Uuid {
            return None;
        }
        p.pull_byte(b'[')?;
        let kind = p.pull_str()?;
        p.pull_byte(b',')?;
        let s = p.pull_str()?;
        p.pull_byte(b']')?;
        let u = match kind.as_ref() {
            "uuid" => crate::atom::parse_uuid_str(&s)?,
            "named-uuid" => r.resolve(&s)?,
            _ => return None,
        };
        let atom = Atom::Uuid(u);
        base.check_constraints(&atom).ok()?;
        return Some(atom);
    }
    if base.atomic == AtomicType::Integer {
        if let Some(n) = p.pull_plain_i64() {
            let atom = Atom::Integer(n);
            base.check_constraints(&atom).ok()?;
            return Some(atom);
        }
    }
    let leaf = p.pull_leaf()?;
    Atom::from_json(&leaf, base, r).ok()
}

/// One datum of `ty` (after whitespace), parsed and checked as [`Datum::from_json`] does;
/// `None` on anything it would refuse.
fn read_datum(
    p: &mut Parser<'_>,
    ty: &ColumnType,
    r: &mut dyn SymbolResolver,
    bufs: &mut Buffers,
    mut kept: Option<&mut KeptAtoms>,
) -> Option<Datum> {
    let mut n = 0;
    let mut atom = |p: &mut Parser<'_>, base: &BaseType, r: &mut dyn SymbolResolver| {
        let a = read_atom(p, base, r, kept.as_deref_mut().map(|k| (k, n)));
        n += 1;
        a
    };
    if p.peek()? != b'[' {
        if ty.is_map() {
            return None;
        }
        return atom(p, &ty.key, r).map(Datum::scalar);
    }
    let start = p.pos();
    p.pull_byte(b'[')?;
    let class = p.pull_str()?;
    match class.as_ref() {
        "set" if !ty.is_map() => {}
        "map" if ty.is_map() => {}
        "uuid" | "named-uuid" if !ty.is_map() => {
            p.seek(start);
            return atom(p, &ty.key, r).map(Datum::scalar);
        }
        _ => return None,
    }
    p.pull_byte(b',')?;
    p.pull_byte(b'[')?;
    let empty = p.peek()? == b']';
    let datum = match &ty.value {
        None => {
            bufs.atoms.clear();
            if empty {
                p.pull_byte(b']')?;
            } else {
                loop {
                    let a = atom(p, &ty.key, r)?;
                    bufs.atoms.push(a);
                    if !p.pull_comma_or(b']')? {
                        break;
                    }
                }
            }
            let len = bufs.atoms.len() as u64;
            if len < ty.min || len > ty.max {
                return None;
            }
            Datum::set_from_vec(bufs.atoms.drain(..).collect()).ok()?
        }
        Some(vt) => {
            bufs.pairs.clear();
            if empty {
                p.pull_byte(b']')?;
            } else {
                loop {
                    p.pull_byte(b'[')?;
                    let k = atom(p, &ty.key, r)?;
                    p.pull_byte(b',')?;
                    let v = atom(p, vt, r)?;
                    p.pull_byte(b']')?;
                    bufs.pairs.push((k, v));
                    if !p.pull_comma_or(b']')? {
                        break;
                    }
                }
            }
            let len = bufs.pairs.len() as u64;
            if len < ty.min || len > ty.max {
                return None;
            }
            Datum::map_from_vec(bufs.pairs.drain(..).collect()).ok()?
        }
    };
    p.pull_byte(b']')?;
    Some(datum)
}

#[cfg(test)]
thread_local! {
    /// Operations this thread ran directly (phase 2 reached), for tests.
    pub(super) static RAN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What phase 1 read of an `insert`.
struct Insert<'a> {
    table: usize,
    uuid: Option<(Uuid, Cow<'a, str>)>,
    uuid_name: Option<Cow<'a, str>>,
    /// The row: the table's defaults with the columns read so far replaced.
    row: Row,
    named: NamedColumns,
    /// Where the row object starts (its `{`).
    row_at: usize,
}

impl Txn<'_> {
    /// Runs the operation at the parser (the start of its value) if it is an `insert` phase 1
    /// reads (see the module doc), leaving the parser after it; `None` when it declines (the
    /// parser is then back where it was, and nothing happened).
    pub(super) fn direct_op(
        &mut self,
        p: &mut Parser<'_>,
        scratch: &mut Scratch,
    ) -> Option<Result<OpResult, Stop>> {
        let start = p.pos();
        let read = self.read_insert(p, scratch);
        let Some(ins) = read else {
            p.seek(start);
            return None;
        };
        #[cfg(test)]
        RAN.with(|n| n.set(n.get() + 1));
        Some(self.run_insert(p, ins, scratch).map(OpResult::Inserted))
    }

    /// Phase 1: the operation's members and the row's columns that cannot hold a UUID.
    fn read_insert<'t>(&mut self, p: &mut Parser<'t>, scratch: &mut Scratch) -> Option<Insert<'t>> {
        // Writes to a reserved database are refused after the operation ran.
        if self.schema.name.starts_with('_') {
            return None;
        }
        p.pull_byte(b'{')?;
        let mut is_insert = false;
        let mut table = None;
        let mut uuid = None;
        let mut uuid_name = None;
        let mut row: Option<(Row, NamedColumns)> = None;
        let mut row_at = None;
        // Members seen, as bits: op, table, uuid, uuid-name, row.
        let mut seen = 0u8;
        if p.peek()? == b'}' {
            return None;
        }
        let bytes = p.bytes();
        loop {
            let key = pull_member(p)?;
            p.pull_byte(b':')?;
            let bit = match key {
                1 => {
                    p.peek()?;
                    let at = p.pos();
                    if bytes[at..].starts_with(b"\"insert\"") {
                        p.seek(at + b"\"insert\"".len());
                        is_insert = true;
                    } else {
                        is_insert = p.pull_str()? == "insert";
                    }
                    if !is_insert {
                        return None;
                    }
                    1
                }
                2 => {
                    p.peek()?;
                    let at = p.pos();
                    let t = match &scratch.table {
                        Some((raw, t)) if bytes[at..].starts_with(raw) => {
                            p.seek(at + raw.len());
                            *t
                        }
                        _ => {
                            let t = self.schema.table_index(&p.pull_str()?)?;
                            scratch.table = Some((bytes[at..p.pos()].to_vec(), t));
                            t
                        }
                    };
                    table = Some(t);
                    2
                }
                4 => {
                    let s = p.pull_str()?;
                    uuid = Some((crate::atom::parse_uuid_str(&s)?, s));
                    4
                }
                8 => {
                    let s = p.pull_str()?;
                    if !is_id(&s) {
                        return None;
                    }
                    uuid_name = Some(s);
                    8
                }
                16 => {
                    if p.peek()? != b'{' {
                        return None;
                    }
                    row_at = Some(p.pos());
                    match table {
                        Some(t) => row = Some(self.read_row(p, t, scratch)?),
                        // The table comes later: the row is read again once it is known.
                        None => p.skip_value(ROW_VALUE_DEPTH - 1)?,
                    }
                    16
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            if !p.pull_comma_or(b'}')? {
                break;
            }
        }
        // The `,` or `]` after the operation must be there too (a request still arriving may
        // end anywhere).
        if !matches!(p.peek()?, b',' | b']') {
            return None;
        }
        let (Some(table), Some(row_at), true) = (table, row_at, is_insert) else {
            return None;
        };
        let (row, named) = match row {
            Some(r) => r,
            None => {
                let end = p.pos();
                p.seek(row_at);
                let r = self.read_row(p, table, scratch)?;
                p.seek(end);
                r
            }
        };
        Some(Insert {
            table,
            uuid,
            uuid_name,
            row,
            named,
            row_at,
        })
    }

    /// Reads a row object of table `t` (the parser at its `{`) into a copy of the table's
    /// defaults: the columns that cannot hold a UUID parsed, the others left to phase 2 (in
    /// `scratch.deferred`).
    fn read_row(
        &mut self,
        p: &mut Parser<'_>,
        t: usize,
        scratch: &mut Scratch,
    ) -> Option<(Row, NamedColumns)> {
        let ts = &self.schema.tables[t];
        p.pull_byte(b'{')?;
        let mut fields = ts.defaults().to_vec();
        let mut named = NamedColumns::default();
        scratch.deferred.clear();
        if p.peek()? == b'}' {
            p.pull_byte(b'}')?;
            return Some((Row { fields }, named));
        }
        let mut strings = StringsOnly(&mut self.strings);
        let bytes = p.bytes();
        for i in 0.. {
            p.peek()?;
            let key_at = p.pos();
            let c = match scratch.members.get(i) {
                Some(m) if m.table == t && bytes[key_at..].starts_with(&m.key) => {
                    p.seek(key_at + m.key.len());
                    m.column
                }
                _ => {
                    let key = p.pull_str()?;
                    let c = ts.column_index(&key)?;
                    scratch.members.truncate(i);
                    scratch.members.push(MemberSlot {
                        table: t,
                        key: bytes[key_at..p.pos()].to_vec(),
                        column: c,
                        values: [None, None],
                        atoms: Vec::new(),
                    });
                    c
                }
            };
            p.pull_byte(b':')?;
            if c == COL_UUID || c == COL_VERSION || named.contains(c) {
                return None;
            }
            named.insert(c);
            let ty = &ts.columns[c].type_;
            if holds_uuid(ty) {
                scratch.deferred.push((c, p.pos()));
                p.skip_value(ROW_VALUE_DEPTH)?;
            } else {
                p.peek()?;
                let at = p.pos();
                let kept = scratch.members[i].values.iter().flatten().find(|(raw, _)| {
                    bytes[at..].starts_with(raw)
                        && matches!(bytes.get(at + raw.len()), Some(b',' | b'}'))
                });
                if let Some((raw, d)) = kept {
                    p.seek(at + raw.len());
                    fields[c] = d.clone();
                } else {
                    let slot = &mut scratch.members[i];
                    let d = read_datum(
                        p,
                        ty,
                        &mut strings,
                        &mut scratch.bufs,
                        Some(&mut slot.atoms),
                    )?;
                    let raw = &bytes[at..p.pos()];
                    if raw.len() <= MAX_KEPT_VALUE {
                        let values = &mut scratch.members[i].values;
                        values.swap(0, 1);
                        match &mut values[0] {
                            Some((v, kept)) => {
                                v.clear();
                                v.extend_from_slice(raw);
                                *kept = d.clone();
                            }
                            slot => *slot = Some((raw.to_vec(), d.clone())),
                        }
                    }
                    fields[c] = d;
                }
            }
            if !p.pull_comma_or(b'}')? {
                break;
            }
        }
        Some((Row { fields }, named))
    }

    /// Phase 2: [`Txn::insert_row`] with the deferred columns read in ovsdb-server's member
    /// order. Leaves the parser where phase 1 left it.
    fn run_insert(
        &mut self,
        p: &mut Parser<'_>,
        ins: Insert<'_>,
        scratch: &mut Scratch,
    ) -> Result<Uuid, Stop> {
        let Insert {
            table: t,
            uuid,
            uuid_name,
            row,
            named,
            row_at,
        } = ins;
        let end = p.pos();
        let mut deferred = std::mem::take(&mut scratch.deferred);
        let inserted = self.insert_row(
            t,
            uuid.map(|(u, s)| (u, move || serde_json::Value::from(s.as_ref()).to_string())),
            uuid_name.as_deref(),
            |txn| {
                let mut row = row;
                if deferred.len() > 1 {
                    let order = member_order(p, row_at).ok_or_else(declined)?;
                    deferred.sort_by_key(|&(_, at)| order.iter().position(|&o| o == at));
                }
                let ts = &txn.schema.tables[t];
                let mut symbols = txn.symbols();
                for &(c, at) in &deferred {
                    p.seek(at);
                    let ty = &ts.columns[c].type_;
                    row.fields[c] = read_datum(p, ty, &mut symbols, &mut scratch.bufs, None)
                        .ok_or_else(declined)?;
                }
                Ok((row, named))
            },
        );
        p.seek(end);
        deferred.clear();
        scratch.deferred = deferred;
        inserted.and_then(|u| u.ok_or_else(|| Stop::Failed(declined())))
    }
}

/// The error of a phase 2 that found a value it does not read: the callers only see that the
/// operation failed, and run the request again from its tree (which reports the real error).
fn declined() -> Error {
    Error::Generic("operation left to the JSON tree".into())
}

/// The positions of the values of the row object at `row_at`, in the order ovsdb-server
/// visits its members.
fn member_order(p: &mut Parser<'_>, row_at: usize) -> Option<Vec<usize>> {
    p.seek(row_at);
    p.pull_byte(b'{')?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    loop {
        names.push(p.pull_str()?);
        p.pull_byte(b':')?;
        values.push(p.pos());
        p.skip_value(ROW_VALUE_DEPTH)?;
        if !p.pull_comma_or(b'}')? {
            break;
        }
    }
    let order = crate::parser::ovs_member_order(names.iter().map(AsRef::as_ref));
    Some(order.into_iter().map(|i| values[i]).collect())
}
