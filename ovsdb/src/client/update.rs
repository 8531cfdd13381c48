//! Parsing `<table-updates>` (monitor, RFC 7047) and `<table-updates2>` (monitor_cond and
//! monitor_cond_since, ovsdb-server(7)) into typed row operations, checked against the schema.
//!
//! Parsing is complete before anything is applied, so a malformed notification never leaves the
//! replica half-updated.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{ClientError, Result};
use crate::atom::{parse_uuid_str, Atom, NoSymbols};
use crate::datum::Datum;
use crate::schema::{Schema, TableSchema};
use crate::types::{AtomicType, ColumnType};

/// Which notation a `<table-updates>` object uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFormat {
    /// `monitor` / `update`: `{"old": row, "new": row}` with whole column values.
    V1,
    /// `monitor_cond[_since]` / `update2` / `update3`: `initial`, `insert`, `modify` (diffs), `delete`.
    V2,
}

/// What happens to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOp {
    /// The row appears; unnamed columns have their default values.
    Insert(Vec<(usize, Datum)>),
    /// The named columns take these whole values (monitor v1 modifications).
    Replace(Vec<(usize, Datum)>),
    /// The named columns change by these diffs (update2 `modify`).
    Modify(Vec<(usize, Datum)>),
    /// The row disappears.
    Delete,
}

/// The changes to one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableUpdate {
    /// Index of the table in the schema.
    pub table: usize,
    /// Row operations, by row UUID.
    pub rows: Vec<(Uuid, RowOp)>,
    /// Insert notices: rows inserted into a table whose inserts the replica does not hold
    /// ([`super::TableSelection::inserts`]), read as their UUIDs alone (a big transaction's
    /// notices take 16 bytes each, no row operation).
    pub notices: Vec<Uuid>,
}

/// A parsed `<table-updates>` / `<table-updates2>` object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// Per-table changes.
    pub tables: Vec<TableUpdate>,
}

impl Update {
    /// Number of row operations.
    pub fn row_count(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.rows.len() + t.notices.len())
            .sum()
    }

    /// Parses `json` for `schema` in `format`. `what` names the message in errors.
    pub fn parse(schema: &Schema, json: &Value, format: UpdateFormat, what: &str) -> Result<Self> {
        let bad = |d: String| ClientError::malformed(what, d);
        let obj = json
            .as_object()
            .ok_or_else(|| bad(format!("table updates must be an object, got {json}")))?;
        let mut tables = Vec::with_capacity(obj.len());
        for (tname, rows_json) in obj {
            let table = schema
                .table_index(tname)
                .ok_or_else(|| bad(format!("unknown table {tname}")))?;
            let ts = &schema.tables[table];
            let rows_obj = rows_json
                .as_object()
                .ok_or_else(|| bad(format!("table {tname}: row updates must be an object")))?;
            let mut rows = Vec::with_capacity(rows_obj.len());
            for (uuid_s, ru) in rows_obj {
                let uuid = parse_uuid_str(uuid_s)
                    .ok_or_else(|| bad(format!("table {tname}: \"{uuid_s}\" is not a UUID")))?;
                let op = match format {
                    UpdateFormat::V1 => parse_v1(ts, ru),
                    UpdateFormat::V2 => parse_v2(ts, ru),
                }
                .map_err(|d| bad(format!("table {tname} row {uuid_s}: {d}")))?;
                rows.push((uuid, op));
            }
            tables.push(TableUpdate {
                table,
                rows,
                notices: Vec::new(),
            });
        }
        Ok(Self { tables })
    }
}

impl Update {
    /// [`parse`](Self::parse) from the JSON text of the `<table-updates>` object, row by row:
    /// no JSON tree of the whole update is built (only one column value at a time).
    pub fn parse_slice(
        schema: &Schema,
        json: &[u8],
        format: UpdateFormat,
        what: &str,
    ) -> Result<Self> {
        let read = |half: Half<'_>| {
            let mut de = serde_json::Deserializer::from_slice(json);
            UpdatesSeed {
                schema,
                format,
                notices: &[],
                half,
            }
            .deserialize(&mut de)
            .and_then(|u| de.end().map(|()| u))
        };
        if let Some(upd) = read_in_halves(json, &read, |u| u) {
            return Ok(upd);
        }
        read(Half::Whole).map_err(|e| ClientError::malformed(what, e.to_string()))
    }
}

/// Texts at least this long (a monitor's first reply: a whole database) are read on two
/// threads ([`read_in_halves`]).
const TWO_THREADS: usize = 1 << 20;

/// Which rows of the text one reading parses. A row belongs to the first half when its UUID
/// key starts before byte `at` of the text (positions are those of borrowed keys: a key with
/// escapes has none, and the halves are then given up).
#[derive(Clone, Copy)]
enum Half<'s> {
    /// Every row.
    Whole,
    /// The rows before `at`: the reading stops at the first key (of a row or a table) at or
    /// beyond it, leaving what it read in `stash`, and fails.
    First {
        base: usize,
        at: usize,
        stash: &'s Stash,
    },
    /// The rows from `at` on: earlier rows are skipped unparsed and tables that end before
    /// `at` are left out; `reached` tells, for the table being read, that it has rows from
    /// `at` on.
    Second {
        base: usize,
        at: usize,
        reached: &'s std::cell::Cell<bool>,
    },
}

/// What the first half read when it stopped.
#[derive(Default)]
struct Stash {
    /// The rows read of the table it stopped in.
    rows: std::cell::RefCell<Option<TableRows>>,
    /// The tables read, the one it stopped in last (with the rows of `rows`).
    update: std::cell::RefCell<Option<Update>>,
    /// It stopped inside a table (not at a table key).
    inside: std::cell::Cell<bool>,
}

/// The position of a key read from the text starting at address `base`, when it was borrowed.
// (Whether the key is borrowed is the point: `&str` would not tell.)
#[allow(clippy::ptr_arg)]
fn key_pos(base: usize, key: &std::borrow::Cow<'_, str>) -> Option<usize> {
    match key {
        std::borrow::Cow::Borrowed(s) => (s.as_ptr() as usize).checked_sub(base),
        std::borrow::Cow::Owned(_) => None,
    }
}

/// The error a half's reading stops with (it is never reported: see [`read_in_halves`]).
fn halves_off<E: de::Error>() -> E {
    E::custom("read in halves: stopped")
}

/// Where the second half starts: the first row key at or after 55% of the text found by its
/// look (`}},"` + a UUID + `":{`; the first half, which parses everything, is the slower one).
/// Any position is correct (the halves agree on it whatever it is); a good one balances them.
fn split_point(text: &[u8]) -> Option<usize> {
    let from = text.len() / 20 * 11;
    let mut i = from;
    while let Some(off) = text.get(i..)?.windows(4).position(|w| w == b"}},\"") {
        let k = i + off + 4;
        let key = text.get(k..k + 36)?;
        if key.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-')
            && text.get(k + 36..k + 39) == Some(b"\":{".as_slice())
        {
            return Some(k);
        }
        i = k;
    }
    None
}

/// Reads `text` on two threads when it is big: `read` reads the first half on this thread and
/// the second half on another, and the halves' updates are joined (`update_of` finds the
/// update in the second half's result). Both halves go through the same JSON text with the
/// same parser, so they agree on where each row is: the joined update is the one a whole
/// reading gives. `None` when the text is small, cannot be cut, or either half failed: the
/// caller then reads it whole (and reports its error, if any, as it always did).
fn read_in_halves<T: Send>(
    text: &[u8],
    read: &(dyn Fn(Half<'_>) -> std::result::Result<T, serde_json::Error> + Sync),
    update_of: fn(&mut T) -> &mut Update,
) -> Option<T> {
    if text.len() < TWO_THREADS {
        return None;
    }
    read_halves_at(text, split_point(text)?, read, update_of)
}

/// For fuzzing and tests: reads `text` as `<table-updates2>` of `schema` whole, and in two
/// halves cut at byte `at`; when the halves join, their update must be the whole reading's
/// (panics otherwise). Returns whether they joined.
#[doc(hidden)]
pub fn check_halves(schema: &Schema, text: &[u8], at: usize) -> bool {
    let read = |half: Half<'_>| {
        let mut de = serde_json::Deserializer::from_slice(text);
        UpdatesSeed {
            schema,
            format: UpdateFormat::V2,
            notices: &[],
            half,
        }
        .deserialize(&mut de)
        .and_then(|u| de.end().map(|()| u))
    };
    let Some(joined) = read_halves_at(text, at, &read, |u| u) else {
        return false;
    };
    match read(Half::Whole) {
        Ok(whole) => assert_eq!(joined, whole, "halves cut at {at}"),
        Err(e) => panic!("halves cut at {at} joined, the whole reading failed: {e}"),
    }
    true
}

/// [`read_in_halves`] with the second half starting at `at`, whatever the text's size.
fn read_halves_at<T: Send>(
    text: &[u8],
    at: usize,
    read: &(dyn Fn(Half<'_>) -> std::result::Result<T, serde_json::Error> + Sync),
    update_of: fn(&mut T) -> &mut Update,
) -> Option<T> {
    let base = text.as_ptr() as usize;
    let stash = Stash::default();
    let (first, second) = std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("ovsdb-read-half".into())
            .spawn_scoped(s, || {
                let reached = std::cell::Cell::new(false);
                read(Half::Second {
                    base,
                    at,
                    reached: &reached,
                })
            })
            .ok()?;
        let first = read(Half::First {
            base,
            at,
            stash: &stash,
        });
        let second = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Some((first, second))
    })?;
    let mut second = match first {
        // Nothing at or beyond the cut: the first half is the whole.
        Ok(whole) => return Some(whole),
        Err(_) => second.ok()?,
    };
    let Update { mut tables } = stash.update.into_inner()?;
    let rest = update_of(&mut second);
    let mut later = std::mem::take(&mut rest.tables).into_iter();
    if stash.inside.get() {
        let (Some(last), Some(cont)) = (tables.last_mut(), later.next()) else {
            return None;
        };
        if last.table != cont.table {
            return None;
        }
        last.rows.extend(cont.rows);
        last.rows.shrink_to_fit();
        last.notices.extend(cont.notices);
        last.notices.shrink_to_fit();
    }
    tables.extend(later);
    rest.tables = tables;
    Some(second)
}

/// The parts of a monitor notification's `params`, parsed from its JSON text.
#[derive(Debug)]
pub(crate) struct NotificationParams<T> {
    /// The monitor id (first parameter).
    pub(crate) id: String,
    /// `update3`'s last transaction id (second parameter).
    pub(crate) txn_id: Option<String>,
    /// The table updates, with what `pick` returned for the monitor id; `None` when `pick`
    /// returned `None` (the updates are skipped unparsed) or the parameter is missing.
    pub(crate) updates: Option<(T, Update)>,
}

/// Parses the `params` of an `update`, `update2` or `update3` notification (`method`) from
/// their JSON text: `[id, updates]`, or `[id, last-txn-id, updates]` for `update3`. `pick`
/// gives, for the monitor id, the schema to read the updates with (and a tag returned with
/// them, and the tables (schema indexes) whose inserts are insert notices:
/// [`MonitorSpec::insert_notices`](super::MonitorSpec)), or `None` to skip them. An insert into
/// a notice table is read as its UUID alone (the replica keeps nothing else of it), so that the
/// notices of a big transaction (hundreds of thousands of flows) cost no parsed columns.
pub(crate) fn parse_notification_params<'s, T>(
    method: &str,
    json: &[u8],
    pick: impl FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
) -> Result<NotificationParams<T>> {
    let (format, with_txn) = match method {
        "update" => (UpdateFormat::V1, false),
        "update3" => (UpdateFormat::V2, true),
        _ => (UpdateFormat::V2, false),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let seed = ParamsSeed {
        format,
        with_txn,
        pick,
    };
    seed.deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p))
        .map_err(|e| ClientError::malformed(method, e.to_string()))
}

/// Parses a `monitor_cond_since` reply from its JSON text: `[found, last-txn-id, updates]`.
pub(crate) fn parse_cond_since_reply(
    schema: &Schema,
    json: &[u8],
    what: &str,
) -> Result<(bool, String, Update)> {
    let read = |half: Half<'_>| {
        let mut de = serde_json::Deserializer::from_slice(json);
        CondSinceSeed { schema, half }
            .deserialize(&mut de)
            .and_then(|p| de.end().map(|()| p))
    };
    if let Some(r) = read_in_halves(json, &read, |r| &mut r.2) {
        return Ok(r);
    }
    read(Half::Whole).map_err(|e| ClientError::malformed(what, e.to_string()))
}

struct ParamsSeed<F> {
    format: UpdateFormat,
    with_txn: bool,
    pick: F,
}

impl<'de, 's, T, F> DeserializeSeed<'de> for ParamsSeed<F>
where
    F: FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
{
    type Value = NotificationParams<T>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 's, T, F> Visitor<'de> for ParamsSeed<F>
where
    F: FnOnce(&str) -> Option<(T, &'s Schema, &'s [usize])>,
{
    type Value = NotificationParams<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("notification params (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        // A null id (no monitor id) reads as "".
        let id: Option<String> = seq.next_element::<Option<String>>()?.flatten();
        let id = id.unwrap_or_default();
        let txn_id = if self.with_txn {
            seq.next_element::<Option<String>>()?.flatten()
        } else {
            None
        };
        let updates = match (self.pick)(&id) {
            Some((tag, schema, notices)) => seq
                .next_element_seed(UpdatesSeed {
                    schema,
                    format: self.format,
                    notices,
                    half: Half::Whole,
                })?
                .map(|u| (tag, u)),
            None => {
                let _ = seq.next_element::<IgnoredAny>()?;
                None
            }
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NotificationParams {
            id,
            txn_id,
            updates,
        })
    }
}

struct CondSinceSeed<'a> {
    schema: &'a Schema,
    half: Half<'a>,
}

impl<'de> DeserializeSeed<'de> for CondSinceSeed<'_> {
    type Value = (bool, String, Update);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CondSinceSeed<'_> {
    type Value = (bool, String, Update);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[found, last-txn-id, updates]")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let missing = || de::Error::custom("expected [found, last-txn-id, updates]");
        let found: bool = seq.next_element()?.ok_or_else(missing)?;
        let id: String = seq.next_element()?.ok_or_else(missing)?;
        let upd = seq
            .next_element_seed(UpdatesSeed {
                schema: self.schema,
                format: UpdateFormat::V2,
                notices: &[],
                half: self.half,
            })?
            .ok_or_else(missing)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(missing());
        }
        Ok((found, id, upd))
    }
}

/// A string of the text: borrowed unless it has escapes (row UUIDs and column names, once per
/// row and column of a whole database, cost no allocation).
struct Text<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `<table-updates>`: table name to the rows' updates.
struct UpdatesSeed<'a> {
    schema: &'a Schema,
    format: UpdateFormat,
    /// Tables whose `insert`s are notices (see [`parse_notification_params`]).
    notices: &'a [usize],
    /// Which rows to read.
    half: Half<'a>,
}

impl<'de> DeserializeSeed<'de> for UpdatesSeed<'_> {
    type Value = Update;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UpdatesSeed<'_> {
    type Value = Update;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("table updates (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Update, A::Error> {
        let mut tables = Vec::new();
        while let Some(Text(tname)) = m.next_key::<Text<'de>>()? {
            // A table starting beyond the first half's end is the second half's; one ending
            // before the second half's start is not.
            let mut whole_table = true;
            match self.half {
                Half::Whole => {}
                Half::First { base, at, stash } => {
                    if key_pos(base, &tname).is_none_or(|p| p >= at) {
                        *stash.update.borrow_mut() = Some(Update { tables });
                        return Err(halves_off());
                    }
                }
                Half::Second { base, at, reached } => {
                    whole_table = key_pos(base, &tname).ok_or_else(halves_off)? >= at;
                    reached.set(false);
                }
            }
            let table = self
                .schema
                .table_index(&tname)
                .ok_or_else(|| de::Error::custom(format!("unknown table {tname}")))?;
            let read = m.next_value_seed(RowsSeed {
                ts: &self.schema.tables[table],
                format: self.format,
                notices: self.notices.contains(&table),
                half: self.half,
            });
            let (rows, notices) = match (read, self.half) {
                (Ok(r), _) => r,
                (Err(e), Half::First { stash, .. }) => {
                    if let Some((rows, notices)) = stash.rows.take() {
                        tables.push(TableUpdate {
                            table,
                            rows,
                            notices,
                        });
                        stash.inside.set(true);
                        *stash.update.borrow_mut() = Some(Update { tables });
                    }
                    return Err(e);
                }
                (Err(e), _) => return Err(e),
            };
            if let Half::Second { reached, .. } = self.half {
                if !whole_table && !reached.get() {
                    continue;
                }
            }
            tables.push(TableUpdate {
                table,
                rows,
                notices,
            });
        }
        Ok(Update { tables })
    }
}

/// One table's row updates: UUID to row update.
struct RowsSeed<'a> {
    ts: &'a TableSchema,
    format: UpdateFormat,
    /// The table's `insert`s are notices: read as the UUID alone.
    notices: bool,
    /// Which rows to read.
    half: Half<'a>,
}

/// A table's row operations and insert notices.
type TableRows = (Vec<(Uuid, RowOp)>, Vec<Uuid>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = TableRows;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = TableRows;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: row updates (an object)", self.ts.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let tname = &self.ts.name;
        let mut rows = Vec::new();
        let mut notices = Vec::new();
        while let Some(Text(uuid_s)) = m.next_key::<Text<'de>>()? {
            match self.half {
                Half::Whole => {}
                Half::First { base, at, stash } => {
                    if key_pos(base, &uuid_s).is_none_or(|p| p >= at) {
                        *stash.rows.borrow_mut() = Some((rows, notices));
                        return Err(halves_off());
                    }
                }
                Half::Second { base, at, reached } => {
                    if !reached.get() {
                        if key_pos(base, &uuid_s).ok_or_else(halves_off)? < at {
                            m.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        reached.set(true);
                    }
                }
            }
            let uuid = uuid_from_text(&uuid_s).ok_or_else(|| {
                de::Error::custom(format!("table {tname}: \"{uuid_s}\" is not a UUID"))
            })?;
            let op = m
                .next_value_seed(RowUpdateSeed {
                    ts: self.ts,
                    format: self.format,
                    notices: self.notices,
                })
                .map_err(|e| de::Error::custom(format!("table {tname} row {uuid_s}: {e}")))?;
            match op {
                RowOp::Insert(cols) if self.notices && cols.is_empty() => notices.push(uuid),
                op => rows.push((uuid, op)),
            }
        }
        rows.shrink_to_fit();
        notices.shrink_to_fit();
        Ok((rows, notices))
    }
}

/// One row update: `{"old": .., "new": ..}` (V1) or `{"<kind>": row}` (V2).
struct RowUpdateSeed<'a> {
    ts: &'a TableSchema,
    format: UpdateFormat,
    /// An `insert` is a notice: its columns are skipped.
    notices: bool,
}

impl<'de> DeserializeSeed<'de> for RowUpdateSeed<'_> {
    type Value = RowOp;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowUpdateSeed<'_> {
    type Value = RowOp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row update (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<RowOp, A::Error> {
        let row = |diff| RowSeed { ts: self.ts, diff };
        match self.format {
            UpdateFormat::V1 => {
                let (mut old, mut new) = (false, None);
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "old" => {
                            m.next_value::<IgnoredAny>()?;
                            old = true;
                        }
                        "new" => new = Some(m.next_value_seed(row(false))?),
                        _ => return Err(de::Error::custom(format!("unexpected member \"{k}\""))),
                    }
                }
                Ok(match (old, new) {
                    (_, None) => RowOp::Delete,
                    (false, Some(cols)) => RowOp::Insert(cols),
                    (true, Some(cols)) => RowOp::Replace(cols),
                })
            }
            UpdateFormat::V2 => {
                let Some(Text(kind)) = m.next_key::<Text<'de>>()? else {
                    return Err(de::Error::custom(
                        "row update must have exactly one member, has 0",
                    ));
                };
                let op = match &*kind {
                    "insert" if self.notices => {
                        m.next_value::<IgnoredAny>()?;
                        RowOp::Insert(Vec::new())
                    }
                    "initial" | "insert" => RowOp::Insert(m.next_value_seed(row(false))?),
                    "modify" => RowOp::Modify(m.next_value_seed(row(true))?),
                    "delete" => {
                        m.next_value::<IgnoredAny>()?;
                        RowOp::Delete
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown row update kind \"{other}\""
                        )))
                    }
                };
                if m.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("row update must have exactly one member"));
                }
                Ok(op)
            }
        }
    }
}

/// A row's columns: name to value (or, with `diff`, an update2 diff).
struct RowSeed<'a> {
    ts: &'a TableSchema,
    diff: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<(usize, Datum)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<(usize, Datum)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(m.size_hint().unwrap_or(0));
        while let Some(Text(cname)) = m.next_key::<Text<'de>>()? {
            let col = self
                .ts
                .column(&cname)
                .ok_or_else(|| de::Error::custom(format!("unknown column {cname}")))?;
            // Read straight into a datum, as `parse_datum` reads the column's JSON value.
            let d = m
                .next_value_seed(DatumSeed {
                    ty: &col.type_,
                    diff: self.diff,
                })
                .map_err(|e| de::Error::custom(format!("column {cname}: {e}")))?;
            out.push((col.index, d));
        }
        // The whole update is parsed before it is applied: a big one (the echo of a big
        // transaction) would otherwise hold the room the vector grew by, up to as much again.
        out.shrink_to_fit();
        Ok(out)
    }
}

/// One atom of type `atomic`, read from the text as [`Atom::from_json_unchecked`] reads its
/// JSON value (no named UUIDs).
#[derive(Clone, Copy)]
struct AtomSeed(AtomicType);

fn atom_from_i64<E: de::Error>(atomic: AtomicType, i: i64) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Integer => Ok(Atom::Integer(i)),
        AtomicType::Real => Ok(Atom::Real(i as f64)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_u64<E: de::Error>(atomic: AtomicType, u: u64) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Integer => i64::try_from(u)
            .map(Atom::Integer)
            .map_err(|_| E::custom("expected integer")),
        AtomicType::Real => Ok(Atom::Real(u as f64)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_f64<E: de::Error>(atomic: AtomicType, f: f64) -> std::result::Result<Atom, E> {
    // 2^63: the first integral double beyond i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match atomic {
        AtomicType::Integer if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => {
            Ok(Atom::Integer(f as i64))
        }
        AtomicType::Real if f.is_finite() => Ok(Atom::Real(f)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_str<E: de::Error>(atomic: AtomicType, s: &str) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::String => Ok(Atom::String(s.into())),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

fn atom_from_bool<E: de::Error>(atomic: AtomicType, b: bool) -> std::result::Result<Atom, E> {
    match atomic {
        AtomicType::Boolean => Ok(Atom::Boolean(b)),
        other => Err(E::custom(format!("expected {}", other.name()))),
    }
}

/// [`parse_uuid_str`] in one pass (a whole database's row keys and references go through it):
/// the same 36-character form, 8-4-4-4-12 hex digits of either case.
fn uuid_from_text(s: &str) -> Option<Uuid> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b[i] != b'-' {
                return None;
            }
            i += 1;
            continue;
        }
        let hi = hex_value(b[i])?;
        let lo = hex_value(b[i + 1])?;
        out[n] = hi << 4 | lo;
        n += 1;
        i += 2;
    }
    Some(Uuid::from_bytes(out))
}

/// The value of hex digit `c`.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The rest of `["uuid", "<uuid>"]` once its first element (`kind`) is read.
fn uuid_rest<'de, A: SeqAccess<'de>>(
    kind: &str,
    seq: &mut A,
) -> std::result::Result<Atom, A::Error> {
    let bad = || de::Error::custom("expected [\"uuid\", <string>] or [\"named-uuid\", <string>]");
    let Some(Text(s)) = seq.next_element::<Text<'de>>()? else {
        return Err(bad());
    };
    if seq.next_element::<IgnoredAny>()?.is_some() {
        return Err(bad());
    }
    match kind {
        "uuid" => uuid_from_text(&s)
            .map(Atom::Uuid)
            .ok_or_else(|| de::Error::custom(format!("\"{s}\" is not a valid UUID"))),
        "named-uuid" => Err(de::Error::custom(format!(
            "named-uuid \"{s}\" not allowed here"
        ))),
        _ => Err(bad()),
    }
}

impl<'de> DeserializeSeed<'de> for AtomSeed {
    type Value = Atom;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AtomSeed {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.name())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Atom, E> {
        atom_from_bool(self.0, b)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Atom, E> {
        atom_from_i64(self.0, i)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<Atom, E> {
        atom_from_u64(self.0, u)
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Atom, E> {
        atom_from_f64(self.0, f)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Atom, E> {
        atom_from_str(self.0, s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Atom, A::Error> {
        let kind = seq.next_element::<Text<'de>>()?;
        match (self.0, kind) {
            (AtomicType::Uuid, Some(Text(kind))) => uuid_rest(&kind, &mut seq),
            _ => Err(de::Error::custom(format!("expected {}", self.0.name()))),
        }
    }
}

/// A column value (or, with `diff`, an update2 diff) read from the text as [`parse_datum`]
/// reads its JSON value, without a JSON tree of it.
struct DatumSeed<'a> {
    ty: &'a ColumnType,
    diff: bool,
}

impl DatumSeed<'_> {
    fn scalar<E: de::Error>(
        &self,
        atom: std::result::Result<Atom, E>,
    ) -> std::result::Result<Datum, E> {
        if self.ty.is_map() {
            return Err(E::custom("expected [\"map\", ...]"));
        }
        atom.map(Datum::scalar)
    }
}

impl<'de> DeserializeSeed<'de> for DatumSeed<'_> {
    type Value = Datum;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DatumSeed<'_> {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a datum")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_bool(self.ty.key.atomic, b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_i64(self.ty.key.atomic, i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_u64(self.ty.key.atomic, u))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_f64(self.ty.key.atomic, f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Datum, E> {
        self.scalar(atom_from_str(self.ty.key.atomic, s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Datum, A::Error> {
        let ty = self.ty;
        let class = if ty.is_map() { "map" } else { "set" };
        let Some(Text(kind)) = seq.next_element::<Text<'de>>()? else {
            return Err(de::Error::custom(format!("expected {class}")));
        };
        if *kind != *class {
            // Not `["set", ...]`: a scalar UUID (`["uuid", ...]`), or an error.
            return match ty.key.atomic {
                AtomicType::Uuid if !ty.is_map() => uuid_rest(&kind, &mut seq).map(Datum::scalar),
                _ if ty.is_map() => Err(de::Error::custom("expected [\"map\", ...]")),
                other => Err(de::Error::custom(format!("expected {}", other.name()))),
            };
        }
        let datum = match &ty.value {
            None => {
                let atoms = seq
                    .next_element_seed(AtomsSeed(ty.key.atomic))?
                    .ok_or_else(|| de::Error::custom(format!("expected {class}")))?;
                if !self.diff && (atoms.len() as u64) > ty.max {
                    return Err(de::Error::custom(format!(
                        "{} elements exceed the column's maximum {}",
                        atoms.len(),
                        ty.max
                    )));
                }
                Datum::set_from_vec(atoms).map_err(de::Error::custom)?
            }
            Some(vt) => {
                let pairs = seq
                    .next_element_seed(PairsSeed(ty.key.atomic, vt.atomic))?
                    .ok_or_else(|| de::Error::custom(format!("expected {class}")))?;
                if !self.diff && (pairs.len() as u64) > ty.max {
                    return Err(de::Error::custom(format!(
                        "{} elements exceed the column's maximum {}",
                        pairs.len(),
                        ty.max
                    )));
                }
                Datum::map_from_vec(pairs).map_err(de::Error::custom)?
            }
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!("expected {class}")));
        }
        Ok(datum)
    }
}

/// The elements of a `["set", [...]]`.
struct AtomsSeed(AtomicType);

impl<'de> DeserializeSeed<'de> for AtomsSeed {
    type Value = Vec<Atom>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AtomsSeed {
    type Value = Vec<Atom>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("set contents (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<Atom>, A::Error> {
        let mut atoms = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(a) = seq.next_element_seed(AtomSeed(self.0))? {
            atoms.push(a);
        }
        // The vector becomes the datum's storage, kept as long as the row: without the room
        // it grew by (the text gives no count, so it doubled as it went). A single atom is
        // held inline instead.
        if atoms.len() > 1 {
            atoms.shrink_to_fit();
        }
        Ok(atoms)
    }
}

/// The pairs of a `["map", [[k, v], ...]]`.
struct PairsSeed(AtomicType, AtomicType);

impl<'de> DeserializeSeed<'de> for PairsSeed {
    type Value = Vec<(Atom, Atom)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed {
    type Value = Vec<(Atom, Atom)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("map contents (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<(Atom, Atom)>, A::Error> {
        let mut pairs = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(p) = seq.next_element_seed(PairSeed(self.0, self.1))? {
            pairs.push(p);
        }
        // As for sets: the vector is kept as the datum's storage.
        pairs.shrink_to_fit();
        Ok(pairs)
    }
}

/// One `[k, v]` of a map.
struct PairSeed(AtomicType, AtomicType);

impl<'de> DeserializeSeed<'de> for PairSeed {
    type Value = (Atom, Atom);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed {
    type Value = (Atom, Atom);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("map pair must be a 2-element array")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(Atom, Atom), A::Error> {
        let bad = || de::Error::custom("map pair must be a 2-element array");
        let k = seq.next_element_seed(AtomSeed(self.0))?.ok_or_else(bad)?;
        let v = seq.next_element_seed(AtomSeed(self.1))?.ok_or_else(bad)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(bad());
        }
        Ok((k, v))
    }
}

fn parse_v1(ts: &TableSchema, ru: &Value) -> Result<RowOp, String> {
    let o = ru.as_object().ok_or("row update must be an object")?;
    if let Some(k) = o.keys().find(|k| *k != "old" && *k != "new") {
        return Err(format!("unexpected member \"{k}\""));
    }
    match (o.get("old"), o.get("new")) {
        (_, None) => Ok(RowOp::Delete),
        (None, Some(new)) => Ok(RowOp::Insert(parse_row(ts, new, false)?)),
        (Some(_), Some(new)) => Ok(RowOp::Replace(parse_row(ts, new, false)?)),
    }
}

fn parse_v2(ts: &TableSchema, ru: &Value) -> Result<RowOp, String> {
    let o = ru.as_object().ok_or("row update must be an object")?;
    if o.len() != 1 {
        return Err(format!(
            "row update must have exactly one member, has {}",
            o.len()
        ));
    }
    let Some((kind, body)) = o.iter().next() else {
        return Err("empty row update".into());
    };
    match kind.as_str() {
        "initial" | "insert" => Ok(RowOp::Insert(parse_row(ts, body, false)?)),
        "modify" => Ok(RowOp::Modify(parse_row(ts, body, true)?)),
        "delete" => Ok(RowOp::Delete),
        other => Err(format!("unknown row update kind \"{other}\"")),
    }
}

fn parse_row(ts: &TableSchema, row: &Value, diff: bool) -> Result<Vec<(usize, Datum)>, String> {
    let o: &Map<String, Value> = row.as_object().ok_or("row must be an object")?;
    let mut out = Vec::with_capacity(o.len());
    for (cname, v) in o {
        let col = ts
            .column(cname)
            .ok_or_else(|| format!("unknown column {cname}"))?;
        let d = parse_datum(v, &col.type_, diff).map_err(|e| format!("column {cname}: {e}"))?;
        out.push((col.index, d));
    }
    Ok(out)
}

/// Parses a column value (or, with `diff`, an update2 diff) without the schema's constraint and
/// size checks: the server already enforced them, and a diff may exceed the column's size bounds.
pub fn parse_datum(v: &Value, ty: &ColumnType, diff: bool) -> Result<Datum, String> {
    let class = if ty.is_map() { "map" } else { "set" };
    let tagged = matches!(v, Value::Array(a) if a.len() == 2 && a[0].as_str() == Some(class));
    if !tagged {
        if ty.is_map() {
            return Err(format!("expected [\"map\", ...], got {v}"));
        }
        let a = Atom::from_json_unchecked(v, ty.key.atomic, &mut NoSymbols)
            .map_err(|e| e.to_string())?;
        return Ok(Datum::scalar(a));
    }
    let inner = match v {
        Value::Array(a) => a[1]
            .as_array()
            .ok_or_else(|| format!("{class} contents must be an array"))?,
        _ => return Err(format!("expected {class}")),
    };
    if !diff && (inner.len() as u64) > ty.max {
        return Err(format!(
            "{} elements exceed the column's maximum {}",
            inner.len(),
            ty.max
        ));
    }
    match &ty.value {
        None => {
            let mut atoms = Vec::with_capacity(inner.len());
            for e in inner {
                atoms.push(
                    Atom::from_json_unchecked(e, ty.key.atomic, &mut NoSymbols)
                        .map_err(|e| e.to_string())?,
                );
            }
            Datum::set_from_vec(atoms).map_err(|e| e.to_string())
        }
        Some(vt) => {
            let mut pairs = Vec::with_capacity(inner.len());
            for e in inner {
                let p = e
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or("map pair must be a 2-element array")?;
                let k = Atom::from_json_unchecked(&p[0], ty.key.atomic, &mut NoSymbols)
                    .map_err(|e| e.to_string())?;
                let val = Atom::from_json_unchecked(&p[1], vt.atomic, &mut NoSymbols)
                    .map_err(|e| e.to_string())?;
                pairs.push((k, val));
            }
            Datum::map_from_vec(pairs).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parse time of a whole database as a monitor's first reply (`monitor_cond` updates):
    /// `OVSDB_BENCH_DUMP=FILE` (tables as `{table: [row...]}`, rows with `_uuid`, as
    /// `northd`'s scale test saves them), `OVSDB_BENCH_SCHEMA=FILE` (the database's schema).
    #[test]
    #[ignore = "benchmark: needs OVSDB_BENCH_DUMP and OVSDB_BENCH_SCHEMA"]
    fn bench_parse_initial_dump() {
        let (Ok(dump), Ok(schema)) = (
            std::env::var("OVSDB_BENCH_DUMP"),
            std::env::var("OVSDB_BENCH_SCHEMA"),
        ) else {
            eprintln!("skipped: set OVSDB_BENCH_DUMP and OVSDB_BENCH_SCHEMA");
            return;
        };
        let read = |p: &str| -> Value {
            serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
        };
        let schema = Schema::from_json(&read(&schema)).expect("schema");
        let mut updates = Map::new();
        // Every column value's text with its type, to time its parse alone.
        let mut values: Vec<(&ColumnType, String)> = Vec::new();
        for (table, rows) in read(&dump).as_object().expect("tables") {
            let ts = schema.table(table).expect("table");
            for row in rows.as_array().expect("rows") {
                for (c, v) in row.as_object().expect("row") {
                    if let Some(col) = ts.column(c).filter(|col| col.index >= 2) {
                        values.push((&col.type_, v.to_string()));
                    }
                }
            }
            let mut out = Map::new();
            for row in rows.as_array().expect("rows") {
                let mut cols = row.as_object().expect("row").clone();
                let uuid = cols.remove("_uuid").expect("_uuid");
                cols.remove("_version");
                let uuid = uuid[1].as_str().expect("uuid").to_owned();
                out.insert(uuid, json!({"initial": cols}));
            }
            updates.insert(table.clone(), Value::Object(out));
        }
        let text = serde_json::to_vec(&Value::Object(updates)).expect("text");
        // This thread's CPU time in ms (the first field of its schedstat, in ns).
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .map_or(0.0, |ns| ns / 1e6)
        };
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = cpu();
            let u = Update::parse_slice(&schema, &text, UpdateFormat::V2, "bench").expect("parse");
            times.push(cpu() - t);
            std::hint::black_box(u);
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "{} MB parsed: thread CPU ms {:?} (median {:.0})",
            text.len() >> 20,
            times.iter().map(|t| t.round()).collect::<Vec<_>>(),
            times[2]
        );
        // The column values alone: through a JSON tree and `parse_datum`, and straight.
        for round in 0..3 {
            let t = cpu();
            for (ty, v) in &values {
                let v: Value = serde_json::from_str(v).expect("json");
                std::hint::black_box(parse_datum(&v, ty, false).expect("datum"));
            }
            let tree = cpu() - t;
            let t = cpu();
            for (ty, v) in &values {
                let mut de = serde_json::Deserializer::from_str(v);
                let d = DatumSeed { ty, diff: false }.deserialize(&mut de);
                std::hint::black_box(d.expect("datum"));
            }
            let straight = cpu() - t;
            eprintln!(
                "round {round}: {} column values: JSON tree + parse_datum {tree:.0} ms, \
                 straight {straight:.0} ms",
                values.len()
            );
        }
    }

    /// Read in two halves cut anywhere, a text gives the update a whole reading gives (or
    /// no update, when a key's position is unknown); so does a `monitor_cond_since` reply.
    #[test]
    fn halves_join_into_the_whole() {
        let sch = Schema::from_json(&json!({
            "name": "D", "version": "1.0.0",
            "tables": {
                "A": {"columns": {"s": {"type": "string"},
                                  "m": {"type": {"key": "string", "value": "string",
                                                 "min": 0, "max": "unlimited"}}}},
                "B": {"columns": {"r": {"type": {"key": "uuid", "min": 0, "max": "unlimited"}}}},
                "C": {"columns": {"i": {"type": "integer"}}}
            }
        }))
        .expect("schema");
        let u = |i: u32| format!("{i:08x}-0000-4000-8000-000000000000");
        let mut a = Map::new();
        for i in 0..6 {
            a.insert(
                u(i),
                json!({"initial": {"s": format!("x}}}},\"{}\":{{", u(99)),
                                   "m": ["map", [["k", "v\"q"]]]}}),
            );
        }
        let mut b = Map::new();
        for i in 10..14 {
            b.insert(
                u(i),
                json!({"initial": {"r": ["set", [["uuid", u(i - 10)]]]}}),
            );
        }
        let tables = json!({"A": a, "C": {}, "B": b});
        let text = serde_json::to_vec(&tables).expect("text");
        // An escaped key (no position): the halves give up where it matters.
        let escaped = String::from_utf8(text.clone())
            .expect("utf-8")
            .replacen(&u(3), &u(3).replacen('0', "\\u0030", 1), 1)
            .into_bytes();
        for text in [&text, &escaped] {
            let want = Update::parse_slice(&sch, text, UpdateFormat::V2, "u").expect("whole");
            let read = |half: Half<'_>| {
                let mut de = serde_json::Deserializer::from_slice(text);
                UpdatesSeed {
                    schema: &sch,
                    format: UpdateFormat::V2,
                    notices: &[],
                    half,
                }
                .deserialize(&mut de)
                .and_then(|u| de.end().map(|()| u))
            };
            let mut joined = 0;
            for at in 0..=text.len() {
                if let Some(got) = read_halves_at(text, at, &read, |u| u) {
                    assert_eq!(got, want, "cut at {at}");
                    joined += 1;
                }
            }
            let least = if *text == escaped { 1 } else { text.len() / 2 };
            assert!(joined >= least, "{joined} of {} cuts joined", text.len());
            // The same inside a `monitor_cond_since` reply.
            let mut reply = b"[false, \"0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11\", ".to_vec();
            reply.extend_from_slice(text);
            reply.push(b']');
            let want = parse_cond_since_reply(&sch, &reply, "r").expect("whole");
            let read = |half: Half<'_>| {
                let mut de = serde_json::Deserializer::from_slice(&reply);
                CondSinceSeed { schema: &sch, half }
                    .deserialize(&mut de)
                    .and_then(|p| de.end().map(|()| p))
            };
            for at in (0..=reply.len()).step_by(7) {
                if let Some(got) = read_halves_at(&reply, at, &read, |r| &mut r.2) {
                    assert_eq!(got, want, "reply cut at {at}");
                }
            }
        }
        // The cut's look finds a row key, not the same look inside a string value.
        let at = split_point(&text).expect("a row key");
        let key = std::str::from_utf8(&text[at..at + 36]).expect("key");
        assert!((1..6).chain(10..14).any(|i| key == u(i)), "{key}");
        // A malformed text read by halves fails as a whole reading does.
        let bad = format!("{{\"A\": {{\"{}\": {{\"initial\": {{\"s\": 1}}}}}}}}", u(1));
        assert!(Update::parse_slice(&sch, bad.as_bytes(), UpdateFormat::V2, "u").is_err());
    }

    /// The one-pass UUID reader takes and rejects what `parse_uuid_str` does.
    #[test]
    fn uuids_read_as_parse_uuid_str_reads_them() {
        let good = "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11";
        let mut cases: Vec<String> = vec![
            good.into(),
            good.to_uppercase(),
            "00000000-0000-0000-0000-000000000000".into(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff".into(),
            String::new(),
            "0b8f2a469d4f4b8e8f5e2f0f7d4c8a11".into(),
            "{0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11}".into(),
            format!("{good}0"),
            good[1..].into(),
        ];
        // Every position with every kind of wrong byte.
        for i in 0..36 {
            for c in ['-', 'g', 'G', '0', 'é', ' '] {
                let mut v: Vec<char> = good.chars().collect();
                v[i] = c;
                cases.push(v.into_iter().collect());
            }
        }
        for c in &cases {
            assert_eq!(uuid_from_text(c), parse_uuid_str(c), "{c:?}");
        }
    }

    /// The datum read straight from the text is the one `parse_datum` reads from the JSON
    /// value, and both reject the same values.
    #[test]
    fn datums_read_from_text_as_from_json() {
        let types = [
            json!("string"),
            json!("integer"),
            json!("real"),
            json!("boolean"),
            json!("uuid"),
            json!({"key": "string", "min": 0, "max": 1}),
            json!({"key": "uuid", "min": 0, "max": "unlimited"}),
            json!({"key": "integer", "min": 0, "max": 2}),
            json!({"key": "real", "min": 0, "max": "unlimited"}),
            json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}),
            json!({"key": "integer", "value": "uuid", "min": 0, "max": "unlimited"}),
        ];
        let values = [
            json!("a"),
            json!(""),
            json!(7),
            json!(-7),
            json!(18446744073709551615u64),
            json!(2.0),
            json!(2.5),
            json!(true),
            json!(["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]),
            json!(["uuid", "not-a-uuid"]),
            json!(["named-uuid", "x"]),
            json!(["set", []]),
            json!(["set", ["b", "a"]]),
            json!(["set", ["a", "a"]]),
            json!(["set", [1, 2, 3]]),
            json!(["set", [1.5, 2]]),
            json!(["set", [["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]]]),
            json!(["set", "a"]),
            json!(["set", ["a"], 1]),
            json!(["set"]),
            json!(["map", []]),
            json!(["map", [["k", "v"], ["a", "b"]]]),
            json!(["map", [["k", "v"], ["k", "w"]]]),
            json!([
                "map",
                [[1, ["uuid", "0b8f2a46-9d4f-4b8e-8f5e-2f0f7d4c8a11"]]]
            ]),
            json!(["map", [["k"]]]),
            json!(["map", [["k", "v", "w"]]]),
            json!(null),
            json!({"a": 1}),
        ];
        for t in &types {
            let ty = ColumnType::from_json(t).expect("type");
            for v in &values {
                for diff in [false, true] {
                    let want = parse_datum(v, &ty, diff).ok();
                    let text = v.to_string();
                    let mut de = serde_json::Deserializer::from_str(&text);
                    let got = DatumSeed { ty: &ty, diff }.deserialize(&mut de).ok();
                    assert_eq!(got, want, "type {t}, value {v}, diff {diff}");
                }
            }
        }
    }
}
