//! A database kept in a standalone OVSDB file, as ovsdb-server 3.1 keeps it.
//!
//! - Opening replays the file's records into a [`Database`] (the first record is the schema; every
//!   further record is applied as one transaction, `_is_diff` records as column diffs). A truncated
//!   or corrupt tail is logged and cut off before the next write, as ovsdb-server does.
//! - Each commit is appended as one `_is_diff` record; the file is `fdatasync`ed before the commit is
//!   acknowledged when the transaction asked for durability (`{"op":"commit","durable":true}`), or
//!   always with [`StorageOptions::sync_every_commit`]. ovsdb-server 3.1 syncs only durable commits;
//!   other commits are written before the reply (so they survive a crash of the server process, not
//!   of the machine).
//! - Online compaction replaces the file by the schema and one snapshot record when the file has
//!   grown past [`StorageOptions::compact_min_size`] and to [`StorageOptions::compact_factor`] times
//!   its size after the previous compaction, holds at least
//!   [`StorageOptions::compact_min_records`] records, and
//!   [`StorageOptions::compact_min_interval`] has passed since the file was opened or last
//!   compacted (ovsdb-server's rules: right after a big first commit, such as northd's first
//!   Southbound round, neither server rewrites the whole database).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha1::{Digest, Sha1};

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::atom::{Atom, NoSymbols};
use crate::datum::Datum;
use crate::db::{ChangeSet, Database, Row, RowChange, TableChanges, TxnContext, TxnOutcome};
use crate::file::{self, FileError, LogFile, TransactionRecord};
use crate::schema::{Schema, COL_UUID, COL_VERSION};
use crate::server::monitor::{datum_apply_diff, datum_diff};
use crate::types::ColumnType;

/// Errors of file-backed storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The file layer failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The schema record is not a valid schema.
    #[error("{path}: bad schema: {source}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// Why the schema is invalid.
        #[source]
        source: crate::Error,
    },
    /// A transaction record could not be applied.
    #[error("{path}: record at offset {offset} cannot be applied: {details}")]
    Replay {
        /// The file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// What went wrong.
        details: String,
    },
}

/// Tuning of [`FileStorage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageOptions {
    /// `fdatasync` after every commit, not only durable ones.
    pub sync_every_commit: bool,
    /// Never compact a file smaller than this (bytes). ovsdb-server uses 10 MiB.
    pub compact_min_size: u64,
    /// Compact when the file reaches this multiple of its size after the last compaction.
    pub compact_factor: u64,
    /// Never compact a file of fewer records (the schema included). ovsdb-server uses 100.
    pub compact_min_records: u64,
    /// Never compact sooner than this after opening the file or compacting it. ovsdb-server waits
    /// 10 minutes plus a random part of up to 10 more.
    pub compact_min_interval: Duration,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            sync_every_commit: false,
            compact_min_size: 10 << 20,
            compact_factor: 4,
            compact_min_records: 100,
            compact_min_interval: Duration::from_secs(10 * 60),
        }
    }
}

/// Where a served database's commits go.
///
/// The server core calls [`CommitLog::stage`] after the engine applied a transaction, and
/// [`CommitLog::flush`] before it sends the reply (or anything else): the commits of several
/// transactions are written together. An error from either makes the server answer the
/// transactions concerned with an `"I/O error"`.
pub trait CommitLog: Send + std::fmt::Debug {
    /// Records one commit now. `db` is the database after the commit.
    fn commit(&mut self, db: &Database, changes: &ChangeSet) -> Result<(), StorageError>;

    /// Queues one commit's record for the next [`flush`](Self::flush). The default records it
    /// now, with [`commit`](Self::commit).
    fn stage(&mut self, db: &Database, changes: &ChangeSet) -> Result<(), StorageError> {
        self.commit(db, changes)
    }

    /// Stages the record of a big commit whose changes are not applied to the database yet,
    /// while `beside` (which applies them, among other things) runs on another thread; once
    /// `beside` returns, that thread may help with the record. `schema` is the database's.
    /// Returns `None`, having only run `beside`, when this log does not stage records that
    /// way (the default): the caller then calls [`stage`](Self::stage) with the database
    /// after the commit.
    fn stage_beside(
        &mut self,
        schema: &Schema,
        changes: &ChangeSet,
        beside: &mut (dyn FnMut() + Send),
    ) -> Option<Result<(), StorageError>> {
        let _ = (schema, changes);
        beside();
        None
    }

    /// Writes what [`stage`](Self::stage) queued since the last flush. `db` is the database after
    /// the last staged commit. On error, none of the queued commits is recorded. The default
    /// does nothing, for logs whose `stage` writes.
    fn flush(&mut self, db: &Database) -> Result<(), StorageError> {
        let _ = db;
        Ok(())
    }

    /// Rewrites the log as a snapshot of `db` now (`ovsdb-server/compact`). The default does
    /// nothing, for logs that cannot be compacted.
    fn compact(&mut self, db: &Database) -> Result<(), StorageError> {
        let _ = db;
        Ok(())
    }
}

/// A database file opened for appending commits.
#[derive(Debug)]
pub struct FileStorage {
    log: LogFile,
    options: StorageOptions,
    base_size: u64,
    schema_json: Value,
    /// Encoded records of the commits staged since the last flush.
    staged: file::StagedRecords,
    /// Big records staged since the last flush (by [`CommitLog::stage_beside`]), each in parts,
    /// with the length of `staged`'s bytes they follow.
    staged_big: Vec<(usize, BigRecord)>,
    /// Whether a staged commit must be synced (durable, or [`StorageOptions::sync_every_commit`]).
    staged_sync: bool,
    /// Records read when the file was opened plus records written since.
    n_records: u64,
    /// No compaction before this time.
    next_compact: Instant,
    /// The column names of commit records, written once per table rather than per commit.
    record_keys: RecordKeys,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl FileStorage {
    /// Opens the database file at `path` and replays it. A corrupt tail is logged with `tracing`
    /// and returned so callers can report it.
    pub fn open(
        path: impl AsRef<Path>,
        options: StorageOptions,
    ) -> Result<(Database, Self, Option<file::CorruptTail>), StorageError> {
        let path = path.as_ref();
        // Records are applied as they are read, each dropped before the next is read.
        let mut loaded: Option<(Database, Value)> = None;
        let mut n_records = 0;
        let on_record = |raw: file::RawRecord| -> Result<Option<file::Corruption>, StorageError> {
            n_records += 1;
            if let Some((db, _)) = &mut loaded {
                if replay_inserts_text(db, &raw.data).is_some() {
                    return Ok(None);
                }
            }
            let rec = match raw.parse() {
                Ok(rec) => rec,
                Err(FileError::Corrupt(tail)) => return Ok(Some(tail.reason)),
                Err(e) => return Err(e.into()),
            };
            match &mut loaded {
                Some((db, _)) => {
                    replay_record(db, &rec.json).map_err(|details| StorageError::Replay {
                        path: path.to_path_buf(),
                        offset: rec.offset,
                        details,
                    })?;
                }
                None => {
                    let schema =
                        Schema::from_json(&rec.json).map_err(|source| StorageError::Schema {
                            path: path.to_path_buf(),
                            source,
                        })?;
                    loaded = Some((Database::new(schema), rec.json));
                }
            }
            Ok(None)
        };
        let (log, end) = LogFile::open_streaming(path, on_record)?;
        if let Some(tail) = &end.corrupt_tail {
            tracing::warn!(file = %path.display(), "{tail}; ignoring the rest of the file");
        }
        let Some((db, schema_json)) = loaded else {
            return Err(FileError::NoSchema {
                path: path.to_path_buf(),
                tail: end.corrupt_tail,
            }
            .into());
        };
        let base_size = log.len();
        Ok((
            db,
            Self {
                log,
                options,
                base_size,
                schema_json,
                staged: file::StagedRecords::default(),
                staged_big: Vec::new(),
                staged_sync: false,
                n_records,
                next_compact: Instant::now() + options.compact_min_interval,
                record_keys: RecordKeys::default(),
            },
            end.corrupt_tail,
        ))
    }

    /// Creates a new database file holding only `schema` (like `ovsdb-tool create`).
    pub fn create(path: impl AsRef<Path>, schema: &Value) -> Result<(), StorageError> {
        let path = path.as_ref();
        Schema::from_json(schema).map_err(|source| StorageError::Schema {
            path: path.to_path_buf(),
            source,
        })?;
        LogFile::create(path, schema)?;
        Ok(())
    }

    /// The file's current length.
    pub fn len(&self) -> u64 {
        self.log.len()
    }

    /// Whether the file is empty (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Compacts now: rewrites the file as the schema plus one snapshot of `db` (which holds the
    /// staged commits too: they are dropped).
    pub fn compact(&mut self, db: &Database) -> Result<(), StorageError> {
        self.staged.clear();
        self.staged_big.clear();
        self.staged_sync = false;
        let snapshot = snapshot_record(db);
        self.log.compact(&self.schema_json, &snapshot)?;
        self.base_size = self.log.len();
        self.next_compact = Instant::now() + self.options.compact_min_interval;
        tracing::info!(file = %self.log.path().display(), size = self.base_size, "compacted database");
        Ok(())
    }
}

impl CommitLog for FileStorage {
    fn compact(&mut self, db: &Database) -> Result<(), StorageError> {
        Self::compact(self, db)
    }

    fn commit(&mut self, db: &Database, changes: &ChangeSet) -> Result<(), StorageError> {
        self.stage(db, changes)?;
        self.flush(db)
    }

    fn stage(&mut self, db: &Database, changes: &ChangeSet) -> Result<(), StorageError> {
        let date_ms = now_ms();
        let schema = db.schema();
        let keys = &mut self.record_keys;
        if self
            .staged
            .append_with(|out| write_commit_record(out, schema, changes, date_ms, keys))
        {
            self.n_records += 1;
            self.staged_sync |= changes.durable || self.options.sync_every_commit;
        }
        Ok(())
    }

    fn stage_beside(
        &mut self,
        schema: &Schema,
        changes: &ChangeSet,
        beside: &mut (dyn FnMut() + Send),
    ) -> Option<Result<(), StorageError>> {
        let date_ms = now_ms();
        let job = RecordJob::new(schema, changes, date_ms, &mut self.record_keys);
        std::thread::scope(|scope| {
            let helper = scope.spawn(|| {
                beside();
                job.work();
            });
            job.work();
            // A panic in the thread is the same bug as one here: pass it on.
            helper
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
        });
        if let Some(record) = job.finish() {
            self.staged_big.push((self.staged.bytes().len(), record));
            self.n_records += 1;
            self.staged_sync |= changes.durable || self.options.sync_every_commit;
        }
        Some(Ok(()))
    }

    fn flush(&mut self, db: &Database) -> Result<(), StorageError> {
        if self.staged.is_empty() && self.staged_big.is_empty() {
            return Ok(());
        }
        let sync = std::mem::take(&mut self.staged_sync);
        let written = if self.staged_big.is_empty() {
            self.log.append_encoded_records(self.staged.bytes())
        } else {
            let small = self.staged.bytes();
            let mut parts = Vec::new();
            let mut from = 0;
            for (at, record) in &self.staged_big {
                parts.push(&small[from..*at]);
                record.push_parts(&mut parts);
                from = *at;
            }
            parts.push(&small[from..]);
            parts.retain(|p| !p.is_empty());
            self.log.append_encoded_parts(&parts)
        };
        // After a big commit, its buffer goes back.
        self.staged.clear();
        self.staged_big.clear();
        written?;
        if sync {
            self.log.sync()?;
        }
        let threshold = self
            .options
            .compact_min_size
            .max(self.base_size.saturating_mul(self.options.compact_factor));
        if self.log.len() >= threshold
            && self.n_records >= self.options.compact_min_records
            && Instant::now() >= self.next_compact
        {
            if let Err(e) = self.compact(db) {
                // The commit itself is safely in the old file; compaction is retried later.
                tracing::warn!("compaction failed: {e}");
            }
        }
        Ok(())
    }
}

/// The `_is_diff` transaction record ovsdb-server 3.1 writes for `changes`, or `None` when nothing
/// persistent changed. Inserted rows list their non-default columns, modified rows the diffs of their
/// changed columns, deleted rows are `null`; ephemeral columns are not written.
pub fn commit_record(schema: &Schema, changes: &ChangeSet, date_ms: i64) -> Option<Value> {
    // Built in place in `TransactionRecord::to_json`'s member order (`_date`, the tables,
    // `_is_diff`, `_comment`), without a second copy of the rows.
    let mut record = Map::new();
    record.insert("_date".into(), Value::from(date_ms));
    for tc in &changes.tables {
        let Some(ts) = schema.tables.get(tc.table) else {
            continue;
        };
        let mut rows = Map::new();
        for rc in &tc.rows {
            match (&rc.old, &rc.new) {
                (_, None) => {
                    if rc.old.is_some() {
                        rows.insert(rc.uuid.to_string(), Value::Null);
                    }
                }
                (None, Some(new)) => {
                    let mut m = Map::new();
                    for col in ts.user_columns() {
                        if col.ephemeral {
                            continue;
                        }
                        let d = &new.fields[col.index];
                        if *d != ts.defaults()[col.index] {
                            m.insert(col.name.clone(), d.to_json());
                        }
                    }
                    rows.insert(rc.uuid.to_string(), Value::Object(m));
                }
                (Some(old), Some(new)) => {
                    let mut m = Map::new();
                    for col in ts.user_columns() {
                        if col.ephemeral {
                            continue;
                        }
                        let (o, n) = (&old.fields[col.index], &new.fields[col.index]);
                        if o != n {
                            m.insert(col.name.clone(), datum_diff(o, n, &col.type_).to_json());
                        }
                    }
                    if !m.is_empty() {
                        rows.insert(rc.uuid.to_string(), Value::Object(m));
                    }
                }
            }
        }
        if !rows.is_empty() {
            record.insert(ts.name.clone(), Value::Object(rows));
        }
    }
    if record.len() == 1 {
        return None;
    }
    record.insert("_is_diff".into(), Value::Bool(true));
    if let Some(c) = &changes.comment {
        record.insert("_comment".into(), Value::String(c.clone()));
    }
    Some(Value::Object(record))
}

/// [`commit_record`] as the compact JSON text `serde_json` would write for it, written straight
/// from `changes` without building the record's `Value` tree (the file log's per-commit path).
pub fn commit_record_text(schema: &Schema, changes: &ChangeSet, date_ms: i64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_commit_record(
        &mut out,
        schema,
        changes,
        date_ms,
        &mut RecordKeys::default(),
    )
    .then_some(out)
}

/// Each table's columns as a commit record writes them before their values (`"name":`), escaped
/// once per table rather than once per commit: a single-row commit wrote a dozen of them.
#[derive(Debug, Default)]
struct RecordKeys {
    /// By table index in the schema.
    tables: Vec<Option<TableKeys>>,
}

impl RecordKeys {
    /// The keys of table `ts`, at `index` in the schema (made on first use, and again should
    /// the schema at that index be another table).
    fn table(&mut self, index: usize, ts: &crate::schema::TableSchema) -> &TableKeys {
        if self.tables.len() <= index {
            self.tables.resize_with(index + 1, || None);
        }
        let slot = &mut self.tables[index];
        if !slot.as_ref().is_some_and(|k| k.is_for(ts)) {
            *slot = None;
        }
        slot.get_or_insert_with(|| TableKeys::new(ts))
    }

    /// The keys [`table`](Self::table) made for the table at `index`.
    fn made(&self, index: usize) -> Option<&TableKeys> {
        self.tables.get(index)?.as_ref()
    }
}

/// One table's column keys, one after the other in one buffer.
#[derive(Debug)]
struct TableKeys {
    /// The table's name and column count, to check that a schema is the one these were made for.
    table: String,
    text: Vec<u8>,
    /// Where each column's key ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
}

impl TableKeys {
    fn new(ts: &crate::schema::TableSchema) -> Self {
        let mut text = Vec::new();
        let ends = ts
            .columns
            .iter()
            .map(|c| {
                crate::atom::write_json_str(&mut text, &c.name);
                text.push(b':');
                text.len()
            })
            .collect();
        Self {
            table: ts.name.clone(),
            text,
            ends,
        }
    }

    fn is_for(&self, ts: &crate::schema::TableSchema) -> bool {
        self.ends.len() == ts.columns.len() && self.table == ts.name
    }

    /// Column `col`'s `"name":`.
    fn key(&self, col: usize) -> &[u8] {
        let start = col.checked_sub(1).map_or(0, |p| self.ends[p]);
        &self.text[start..self.ends[col]]
    }
}

/// After this many rows of a table, [`write_commit_record`] reserves room for the table's
/// other rows.
const RESERVE_AFTER_ROWS: usize = 1024;

/// Appends [`commit_record_text`]'s text to `out`; returns false, with nothing appended, when
/// nothing persistent changed.
fn write_commit_record(
    out: &mut Vec<u8>,
    schema: &Schema,
    changes: &ChangeSet,
    date_ms: i64,
    keys: &mut RecordKeys,
) -> bool {
    use crate::atom::{write_i64, write_json_str};
    let start = out.len();
    out.extend_from_slice(b"{\"_date\":");
    write_i64(out, date_ms);
    let mut any_table = false;
    for tc in &changes.tables {
        let Some(ts) = schema.tables.get(tc.table) else {
            continue;
        };
        let keys = keys.table(tc.table, ts);
        let table_start = out.len();
        out.push(b',');
        write_json_str(out, &ts.name);
        out.extend_from_slice(b":{");
        let any_row = if tc.rows.len() >= SPLIT_ROWS {
            // A big commit's rows (a northd round's flows) are written on two threads: the
            // second half into a buffer of its own, appended after the first.
            let (first, second) = tc.rows.split_at(tc.rows.len() / 2);
            let mut rest = Vec::new();
            let (any_first, any_second) = std::thread::scope(|scope| {
                let later = scope
                    .spawn(|| write_record_rows(&mut rest, ts, keys, second, second.len(), false));
                // Room for both halves in `out`: the second is appended to it.
                let any_first = write_record_rows(out, ts, keys, first, tc.rows.len(), false);
                // A panic in the thread is the same bug as one here: pass it on.
                let any_second = later
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (any_first, any_second)
            });
            if any_first && any_second {
                out.push(b',');
            }
            out.extend_from_slice(&rest);
            any_first || any_second
        } else {
            write_record_rows(out, ts, keys, &tc.rows, tc.rows.len(), false)
        };
        if any_row {
            out.push(b'}');
            any_table = true;
        } else {
            out.truncate(table_start);
        }
    }
    if !any_table {
        out.truncate(start);
        return false;
    }
    out.extend_from_slice(b",\"_is_diff\":true");
    if let Some(c) = &changes.comment {
        out.extend_from_slice(b",\"_comment\":");
        write_json_str(out, c);
    }
    out.push(b'}');
    true
}

/// Tables with this many changed rows in a commit have their record text written on two
/// threads.
const SPLIT_ROWS: usize = 1 << 15;

/// Appends the members of a table's object in a commit record for `rows` (comma-separated,
/// without braces); returns whether it appended any. `keys` are the table's column keys;
/// `room_for` is how many rows' text `out` will get from here, these and any appended after them.
/// With `lead_comma`, the first row appended has a comma before it too.
fn write_record_rows(
    out: &mut Vec<u8>,
    ts: &crate::schema::TableSchema,
    keys: &TableKeys,
    rows: &[RowChange],
    room_for: usize,
    lead_comma: bool,
) -> bool {
    use crate::atom::write_uuid;
    fn put_uuid_key(out: &mut Vec<u8>, u: &Uuid) {
        out.push(b'"');
        write_uuid(out, u);
        out.extend_from_slice(b"\":");
    }
    let mut any_row = false;
    let rows_start = out.len();
    for (i, rc) in rows.iter().enumerate() {
        if i == RESERVE_AFTER_ROWS {
            // A big commit's record (hundreds of MB for a northd round) gets room for its
            // other rows at once, estimated from the first ones, instead of being grown
            // (and copied, and its fresh pages faulted in) one doubling at a time.
            let per_row = (out.len() - rows_start) / RESERVE_AFTER_ROWS + 1;
            out.reserve(per_row.saturating_mul(room_for.saturating_sub(i)) / 8 * 9);
        }
        let row_start = out.len();
        if any_row || lead_comma {
            out.push(b',');
        }
        match (&rc.old, &rc.new) {
            (None, None) => {
                out.truncate(row_start);
                continue;
            }
            (Some(_), None) => {
                put_uuid_key(out, &rc.uuid);
                out.extend_from_slice(b"null");
            }
            (None, Some(new)) => {
                put_uuid_key(out, &rc.uuid);
                out.push(b'{');
                let mut first = true;
                for col in ts.user_columns() {
                    let d = &new.fields[col.index];
                    if col.ephemeral || *d == ts.defaults()[col.index] {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(keys.key(col.index));
                    d.write_json(out);
                }
                out.push(b'}');
            }
            (Some(old), Some(new)) => {
                put_uuid_key(out, &rc.uuid);
                out.push(b'{');
                let mut first = true;
                for col in ts.user_columns() {
                    // Columns the commit did not change are not compared (a big set
                    // costs a walk); the flags say which may differ.
                    let flagged = rc.changed.get(col.index).copied().unwrap_or(true);
                    let (o, n) = (&old.fields[col.index], &new.fields[col.index]);
                    debug_assert!(flagged || o == n, "column {} changed unflagged", col.name);
                    if col.ephemeral || !flagged || o == n {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(keys.key(col.index));
                    datum_diff(o, n, &col.type_).write_json(out);
                }
                if first {
                    // Nothing persistent changed in this row.
                    out.truncate(row_start);
                    continue;
                }
                out.push(b'}');
            }
        }
        any_row = true;
    }
    any_row
}

/// Rows of a table per chunk of a [`RecordJob`].
const CHUNK_ROWS: usize = 1024;

/// The commit record of a big change set, written by [`RecordJob::work`] on every thread that
/// calls it: the tables' rows in chunks of [`CHUNK_ROWS`], each chunk's text in a buffer of its
/// own, taken in turn by whichever thread is free; the finished chunks are hashed (SHA-1, in
/// record order) as soon as those before them are, by whichever thread finished one. The
/// record is never copied into one buffer: it is written to the file in its parts.
struct RecordJob<'a> {
    changes: &'a ChangeSet,
    chunks: Vec<Chunk<'a>>,
    /// The next chunk to write.
    next: AtomicUsize,
    /// Each chunk's text once written: its rows' members, each after a comma.
    texts: Vec<OnceLock<Vec<u8>>>,
    /// Bytes per row of the first chunk written (0 before), to size the others' buffers.
    per_row: AtomicUsize,
    /// The hashed prefix of the record; `None` while a thread is adding to it.
    order: Mutex<Option<RecordOrder>>,
}

/// One chunk of a [`RecordJob`].
struct Chunk<'a> {
    /// The table's position in the change set.
    table: usize,
    ts: &'a crate::schema::TableSchema,
    keys: &'a TableKeys,
    rows: &'a [RowChange],
}

/// A [`RecordJob`]'s record as far as it is hashed: its parts in record order.
struct RecordOrder {
    /// The next chunk to add.
    next: usize,
    sha1: Sha1,
    /// Bytes hashed.
    len: usize,
    /// The text between chunks (`{"_date":...`, table names, braces, the end).
    glue: Vec<u8>,
    parts: Vec<RecordPart>,
    /// The change set's table whose object is open (its first member written).
    open: Option<usize>,
}

/// A part of a [`BigRecord`]'s data.
#[derive(Debug, Clone, Copy)]
enum RecordPart {
    /// `glue[start..end]`.
    Glue(usize, usize),
    /// Chunk `n`'s text without its first `skip` bytes (a table's first member has no comma).
    Chunk(usize, usize),
}

impl RecordOrder {
    fn push_glue(&mut self, text: &[u8]) {
        let start = self.glue.len();
        self.glue.extend_from_slice(text);
        self.sha1.update(text);
        self.len += text.len();
        match self.parts.last_mut() {
            Some(RecordPart::Glue(_, end)) if *end == start => *end = self.glue.len(),
            _ => self.parts.push(RecordPart::Glue(start, self.glue.len())),
        }
    }

    /// Closes the open table's object.
    fn close_table(&mut self) {
        if self.open.take().is_some() {
            self.push_glue(b"}");
        }
    }

    /// Adds chunk `n` of `job`, written as `text`.
    fn add(&mut self, job: &RecordJob<'_>, n: usize, text: &[u8]) {
        let chunk = &job.chunks[n];
        if self.open.is_some_and(|t| t != chunk.table) {
            self.close_table();
        }
        if text.is_empty() {
            return;
        }
        let skip = if self.open.is_some() {
            0
        } else {
            let mut name = Vec::with_capacity(chunk.ts.name.len() + 5);
            name.push(b',');
            crate::atom::write_json_str(&mut name, &chunk.ts.name);
            name.extend_from_slice(b":{");
            self.push_glue(&name);
            self.open = Some(chunk.table);
            1
        };
        let data = &text[skip..];
        self.sha1.update(data);
        self.len += data.len();
        self.parts.push(RecordPart::Chunk(n, skip));
    }
}

impl<'a> RecordJob<'a> {
    fn new(
        schema: &'a Schema,
        changes: &'a ChangeSet,
        date_ms: i64,
        keys: &'a mut RecordKeys,
    ) -> Self {
        for tc in &changes.tables {
            if let Some(ts) = schema.tables.get(tc.table) {
                keys.table(tc.table, ts);
            }
        }
        let keys = &*keys;
        let mut chunks = Vec::new();
        for (table, tc) in changes.tables.iter().enumerate() {
            let (Some(ts), Some(keys)) = (schema.tables.get(tc.table), keys.made(tc.table)) else {
                continue;
            };
            chunks.extend(tc.rows.chunks(CHUNK_ROWS).map(|rows| Chunk {
                table,
                ts,
                keys,
                rows,
            }));
        }
        let mut order = RecordOrder {
            next: 0,
            sha1: Sha1::new(),
            len: 0,
            glue: Vec::with_capacity(256),
            parts: Vec::with_capacity(chunks.len() + 8),
            open: None,
        };
        let mut start = Vec::with_capacity(32);
        start.extend_from_slice(b"{\"_date\":");
        crate::atom::write_i64(&mut start, date_ms);
        order.push_glue(&start);
        Self {
            changes,
            texts: chunks.iter().map(|_| OnceLock::new()).collect(),
            chunks,
            next: AtomicUsize::new(0),
            per_row: AtomicUsize::new(0),
            order: Mutex::new(Some(order)),
        }
    }

    /// Writes chunks until none is left, hashing the finished ones in order as it can.
    fn work(&self) {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = self.chunks.get(n) else {
                return;
            };
            let per_row = self.per_row.load(Ordering::Relaxed);
            let mut text = Vec::with_capacity(per_row * chunk.rows.len() / 8 * 9);
            write_record_rows(
                &mut text,
                chunk.ts,
                chunk.keys,
                chunk.rows,
                chunk.rows.len(),
                true,
            );
            if per_row == 0 {
                self.per_row
                    .store(text.len() / chunk.rows.len().max(1) + 1, Ordering::Relaxed);
            }
            // Each chunk is written once (its number was drawn once).
            let _ = self.texts[n].set(text);
            self.hash_ready();
        }
    }

    /// Adds the chunks that are written and follow the hashed ones, unless another thread is
    /// adding chunks (it then adds ours too: it looks again before it lets go).
    fn hash_ready(&self) {
        loop {
            let taken = self.lock_order().take();
            let Some(mut order) = taken else {
                return;
            };
            let mut added = false;
            while let Some(text) = self.texts.get(order.next).and_then(OnceLock::get) {
                order.add(self, order.next, text);
                order.next += 1;
                added = true;
            }
            *self.lock_order() = Some(order);
            if !added {
                return;
            }
        }
    }

    fn lock_order(&self) -> std::sync::MutexGuard<'_, Option<RecordOrder>> {
        // A panic while hashing leaves `None`, never a half-made state behind the lock.
        self.order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record once every [`work`](Self::work) call has returned, or `None` when nothing
    /// persistent changed.
    fn finish(self) -> Option<BigRecord> {
        self.hash_ready();
        let mut order = self.lock_order().take()?;
        while order.next < self.chunks.len() {
            // Never: every `work` call wrote the chunks it drew, and they were all drawn.
            let n = order.next;
            if self.texts[n].get().is_none() {
                let chunk = &self.chunks[n];
                let mut text = Vec::new();
                write_record_rows(&mut text, chunk.ts, chunk.keys, chunk.rows, 0, true);
                let _ = self.texts[n].set(text);
            }
            if let Some(text) = self.texts[n].get() {
                order.add(&self, n, text);
            }
            order.next += 1;
        }
        if !order
            .parts
            .iter()
            .any(|p| matches!(p, RecordPart::Chunk(..)))
        {
            return None;
        }
        order.close_table();
        order.push_glue(b",\"_is_diff\":true");
        if let Some(c) = &self.changes.comment {
            let mut comment = b",\"_comment\":".to_vec();
            crate::atom::write_json_str(&mut comment, c);
            order.push_glue(&comment);
        }
        order.push_glue(b"}\n");
        let header = file::record_header_of(order.len, &order.sha1.finalize().into());
        Some(BigRecord {
            header,
            glue: order.glue,
            chunks: self
                .texts
                .into_iter()
                .map(|t| t.into_inner().unwrap_or_default())
                .collect(),
            parts: order.parts,
        })
    }
}

/// An encoded record in parts, as [`RecordJob`] wrote it.
struct BigRecord {
    header: file::EncodedHeader,
    glue: Vec<u8>,
    chunks: Vec<Vec<u8>>,
    parts: Vec<RecordPart>,
}

impl std::fmt::Debug for BigRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigRecord")
            .field("chunks", &self.chunks.len())
            .field("parts", &self.parts.len())
            .finish_non_exhaustive()
    }
}

impl BigRecord {
    /// Appends the record's bytes, in order, as slices.
    fn push_parts<'s>(&'s self, out: &mut Vec<&'s [u8]>) {
        out.push(&*self.header);
        for part in &self.parts {
            out.push(match *part {
                RecordPart::Glue(start, end) => &self.glue[start..end],
                RecordPart::Chunk(n, skip) => &self.chunks[n][skip..],
            });
        }
    }
}

/// A snapshot record of every row of `db` (full rows, non-default persistent columns).
pub fn snapshot_record(db: &Database) -> Value {
    let schema = db.schema();
    let mut obj = Map::new();
    obj.insert("_date".into(), json!(now_ms()));
    for (t, ts) in schema.tables.iter().enumerate() {
        let Some(rows) = db.rows_by_index(t) else {
            continue;
        };
        if rows.is_empty() {
            continue;
        }
        let mut rm = Map::new();
        for (uuid, row) in rows {
            let mut m = Map::new();
            for col in ts.user_columns() {
                if col.ephemeral {
                    continue;
                }
                let d = &row.fields[col.index];
                if *d != ts.defaults()[col.index] {
                    m.insert(col.name.clone(), d.to_json());
                }
            }
            rm.insert(uuid.to_string(), Value::Object(m));
        }
        obj.insert(ts.name.clone(), Value::Object(rm));
    }
    obj.insert(
        "_comment".into(),
        json!(format!("compacted by ovnkit {}", env!("CARGO_PKG_VERSION"))),
    );
    Value::Object(obj)
}

/// Fast path for records that only insert new rows (snapshots, and most commits): builds the rows
/// directly instead of running them through the transaction engine, which keeps the load of a big
/// snapshot fast and its transient memory small. Values are type-checked; the file is trusted for
/// referential integrity beyond "the referenced row exists", and for unique indexes. Returns `None`
/// when the record does anything else.
fn replay_inserts(db: &mut Database, txn: &TransactionRecord) -> Option<Result<(), String>> {
    let schema = db.schema().clone();
    let mut tables: Vec<(usize, &Map<String, Value>)> = Vec::new();
    for (name, rows) in &txn.tables {
        let t = schema.table_index(name)?;
        let rows = rows.as_object()?;
        let existing = db.rows_by_index(t)?;
        for (u, row) in rows {
            let uuid = crate::atom::parse_uuid_str(u)?;
            if !row.is_object() || existing.contains_key(&uuid) {
                return None;
            }
        }
        tables.push((t, rows));
    }
    tables.sort_by_key(|(t, _)| *t);
    let mut new_rows = Vec::new();
    for (t, rows) in &tables {
        let ts = &schema.tables[*t];
        for (u, row) in rows.iter() {
            let Some(uuid) = crate::atom::parse_uuid_str(u) else {
                return Some(Err(format!("bad row UUID \"{u}\"")));
            };
            let cols = row.as_object().into_iter().flatten();
            match new_row_fields(ts, uuid, cols) {
                Ok(fields) => new_rows.push((*t, uuid, fields)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
    Some(insert_new_rows(db, new_rows))
}

/// The fields of a new row `uuid` of `ts` with the values of `cols` (column name → datum JSON) and
/// defaults elsewhere; `_version` is left for [`insert_new_rows`] to fill in.
fn new_row_fields<'a>(
    ts: &crate::schema::TableSchema,
    uuid: Uuid,
    cols: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Result<Vec<Datum>, String> {
    let mut fields: Vec<Datum> = ts.defaults().to_vec();
    fields[COL_UUID] = Datum::scalar(Atom::Uuid(uuid));
    for (cname, cval) in cols {
        let Some(col) = ts.column(cname) else {
            return Err(format!("unknown column \"{}.{cname}\"", ts.name));
        };
        match Datum::from_json(cval, &col.type_, &mut NoSymbols) {
            Ok(d) => fields[col.index] = d,
            Err(e) => return Err(format!("{}.{cname}: {e}", ts.name)),
        }
    }
    Ok(fields)
}

/// Commits new rows `(table, uuid, fields)` (tables in schema order, no UUID already present) as
/// one change, with fresh `_version`s; fails when a strong reference names a row that exists
/// neither before nor among the new rows.
fn insert_new_rows(
    db: &mut Database,
    new_rows: Vec<(usize, Uuid, Vec<Datum>)>,
) -> Result<(), String> {
    let schema = db.schema().clone();
    let present: crate::hash::FastMap<(usize, Uuid), ()> =
        new_rows.iter().map(|(t, u, _)| ((*t, *u), ())).collect();
    let mut changes = ChangeSet::default();
    for (t, uuid, mut fields) in new_rows {
        let ts = &schema.tables[t];
        fields[COL_VERSION] = Datum::scalar(Atom::Uuid(Database::random_uuid(&mut db.rng)));
        if changes.tables.last().is_none_or(|tc| tc.table != t) {
            changes.tables.push(TableChanges {
                table: t,
                name: ts.name.clone(),
                rows: Vec::new(),
            });
        }
        if let Some(tc) = changes.tables.last_mut() {
            tc.rows.push(RowChange {
                uuid,
                old: None,
                new: Some(Arc::new(Row { fields })),
                changed: vec![true; ts.columns.len()],
            });
        }
    }
    // Reference counts: existing counts plus the strong references of the new rows.
    let mut refs: crate::hash::FastMap<(usize, Uuid), i64> = Default::default();
    for tc in &changes.tables {
        let ts = &schema.tables[tc.table];
        for rc in &tc.rows {
            let Some(row) = &rc.new else { continue };
            for col in ts.user_columns() {
                let ty = &col.type_;
                if !ty.has_strong_refs() {
                    continue;
                }
                let kt = ty
                    .key
                    .is_strong_ref()
                    .then(|| ty.key.ref_table_index())
                    .flatten();
                let vt = ty
                    .value
                    .as_ref()
                    .and_then(|v| v.is_strong_ref().then(|| v.ref_table_index()).flatten());
                let mut missing = None;
                row.fields[col.index].for_each_atom(|a, is_key| {
                    let target = if is_key { kt } else { vt };
                    if let (Some(t), Some(u)) = (target, a.as_uuid()) {
                        let exists = present.contains_key(&(t, u))
                            || db.rows_by_index(t).is_some_and(|r| r.contains_key(&u));
                        if !exists {
                            missing = Some(u);
                        }
                        let base = db.tables[t].refs.get(&u).copied().unwrap_or(0) as i64;
                        *refs.entry((t, u)).or_insert(base) += 1;
                    }
                });
                if let Some(u) = missing {
                    return Err(format!(
                        "{}.{} refers to missing row {u}",
                        ts.name, col.name
                    ));
                }
            }
        }
    }
    db.apply(&changes, &refs);
    Ok(())
}

/// The insert-only fast path straight from a record's JSON text: each row is parsed, converted
/// and dropped in turn, so the record is never held as one JSON tree (which, for a big snapshot,
/// would take several times the memory of the database and leave the heap that large). Returns
/// `None`, having changed nothing, for anything but a record that only inserts new rows with
/// valid values; the caller then parses the record and replays it the general way, which also
/// produces the errors.
fn replay_inserts_text(db: &mut Database, text: &[u8]) -> Option<()> {
    let mut rows = Vec::new();
    {
        let seed = stream::RecordSeed {
            db: &*db,
            rows: &mut rows,
        };
        let mut de = serde_json::Deserializer::from_slice(text);
        serde::de::DeserializeSeed::deserialize(seed, &mut de).ok()?;
        de.end().ok()?;
    }
    // Tables in schema order, rows in file order; a UUID twice is for the general path.
    rows.sort_by_key(|(t, _, _)| *t);
    let mut ids: Vec<(usize, Uuid)> = rows.iter().map(|(t, u, _)| (*t, *u)).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    insert_new_rows(db, rows).ok()
}

mod stream {
    //! serde visitors for [`super::replay_inserts_text`]: any error aborts the fast path.

    use std::fmt;

    use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
    use serde_json::Value;
    use uuid::Uuid;

    use crate::datum::Datum;
    use crate::db::Database;

    type NewRows = Vec<(usize, Uuid, Vec<Datum>)>;

    /// The whole record: `_`-prefixed members checked as ovsdb-server checks them, tables parsed
    /// row by row.
    pub(super) struct RecordSeed<'a> {
        pub(super) db: &'a Database,
        pub(super) rows: &'a mut NewRows,
    }

    impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for RecordSeed<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a transaction record")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let schema = self.db.schema();
            let mut seen = vec![false; schema.tables.len()];
            while let Some(key) = map.next_key::<String>()? {
                if let Some(member) = key.strip_prefix('_') {
                    let v: Value = map.next_value()?;
                    let ok = match member {
                        "date" => v.is_number(),
                        "comment" => v.is_string(),
                        "is_diff" => v.is_boolean(),
                        _ => true,
                    };
                    if !ok {
                        return Err(A::Error::custom("bad record member"));
                    }
                    continue;
                }
                let t = schema
                    .table_index(&key)
                    .filter(|&t| !seen[t])
                    .ok_or_else(|| A::Error::custom("not a new table"))?;
                seen[t] = true;
                map.next_value_seed(TableSeed {
                    db: self.db,
                    t,
                    rows: &mut *self.rows,
                })?;
            }
            Ok(())
        }
    }

    /// One table's rows: each must be a new row (an object whose UUID the table does not hold).
    struct TableSeed<'a> {
        db: &'a Database,
        t: usize,
        rows: &'a mut NewRows,
    }

    impl<'de> DeserializeSeed<'de> for TableSeed<'_> {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for TableSeed<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of rows")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let ts = &self.db.schema().tables[self.t];
            let existing = &self.db.tables[self.t].rows;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                let uuid = crate::atom::parse_uuid_str(&key)
                    .filter(|u| !existing.contains_key(u))
                    .ok_or_else(|| A::Error::custom("not a new row"))?;
                let row: Value = map.next_value()?;
                let Value::Object(cols) = row else {
                    return Err(A::Error::custom("not a row object"));
                };
                let fields = super::new_row_fields(ts, uuid, &cols).map_err(A::Error::custom)?;
                self.rows.push((self.t, uuid, fields));
            }
            Ok(())
        }
    }
}

fn relaxed(ty: &ColumnType) -> ColumnType {
    let mut t = ty.clone();
    t.min = 0;
    t.max = u64::MAX;
    t
}

/// Applies one transaction record to `db` through the engine (inserts with their recorded UUIDs,
/// updates of the columns whose value changes, deletes), as one transaction.
pub fn replay_record(db: &mut Database, record: &Value) -> Result<(), String> {
    let txn = TransactionRecord::from_json(record).map_err(|e| e.to_string())?;
    if let Some(result) = replay_inserts(db, &txn) {
        return result;
    }
    let schema = db.schema().clone();
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    let mut deletes = Vec::new();
    for (table, rows) in &txn.tables {
        let ts = schema
            .table(table)
            .ok_or_else(|| format!("unknown table \"{table}\""))?;
        let Value::Object(rows) = rows else {
            continue;
        };
        for (uuid_s, row) in rows {
            let uuid = crate::atom::parse_uuid_str(uuid_s)
                .ok_or_else(|| format!("bad row UUID \"{uuid_s}\""))?;
            let existing = db.row(table, &uuid).cloned();
            let where_ = json!([["_uuid", "==", ["uuid", uuid_s]]]);
            match (row, existing) {
                (Value::Null, Some(_)) => deletes.push(json!({
                    "op": "delete", "table": table, "where": where_
                })),
                (Value::Null, None) => {
                    tracing::warn!(%table, %uuid, "file deletes a row that does not exist");
                }
                (Value::Object(cols), None) => inserts.push(json!({
                    "op": "insert", "table": table, "uuid": uuid_s, "row": cols
                })),
                (Value::Object(cols), Some(old)) => {
                    let mut set = Map::new();
                    for (cname, cval) in cols {
                        let col = ts
                            .column(cname)
                            .ok_or_else(|| format!("unknown column \"{table}.{cname}\""))?;
                        let od = &old.fields[col.index];
                        let nd = if txn.is_diff {
                            let diff = Datum::from_json(cval, &relaxed(&col.type_), &mut NoSymbols)
                                .map_err(|e| format!("{table}.{cname}: {e}"))?;
                            datum_apply_diff(od, &diff, &col.type_)
                        } else {
                            Datum::from_json(cval, &col.type_, &mut NoSymbols)
                                .map_err(|e| format!("{table}.{cname}: {e}"))?
                        };
                        if nd != *od {
                            set.insert(cname.clone(), nd.to_json());
                        }
                    }
                    if !set.is_empty() {
                        updates.push(json!({
                            "op": "update", "table": table, "where": where_, "row": set
                        }));
                    }
                }
                _ => return Err(format!("bad row for \"{table}\"")),
            }
        }
    }
    if inserts.is_empty() && updates.is_empty() && deletes.is_empty() {
        return Ok(());
    }
    let mut params = vec![json!(schema.name)];
    params.extend(inserts);
    params.extend(updates);
    params.extend(deletes);
    let outcome = db.transact(&Value::Array(params), &TxnContext::default());
    match outcome {
        TxnOutcome::Complete {
            changes: Some(_), ..
        } => Ok(()),
        TxnOutcome::Complete { results, .. } => {
            let err = results
                .as_array()
                .and_then(|a| a.iter().find(|r| r.get("error").is_some()))
                .cloned()
                .unwrap_or(results);
            Err(err.to_string())
        }
        TxnOutcome::Blocked { .. } => Err("replayed transaction blocked".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"name":"S","version":"1.0.0","tables":{
      "P":{"columns":{"name":{"type":"string"},"tags":{"type":{"key":"string","min":0,"max":"unlimited"}},
          "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
          "o":{"type":{"key":"integer","min":0,"max":1}},
          "kids":{"type":{"key":{"type":"uuid","refTable":"C"},"min":0,"max":"unlimited"}},
          "eph":{"type":{"key":"string","min":0,"max":1},"ephemeral":true},
          "r":{"type":{"key":"real","min":0,"max":1}},"b":{"type":"boolean"}},"isRoot":true},
      "C":{"columns":{"v":{"type":"integer"}},"isRoot":false}}}"#;

    fn rows(db: &Database) -> Vec<String> {
        let mut out = Vec::new();
        for (t, ts) in db.schema().tables.iter().enumerate() {
            for (u, r) in db.rows_by_index(t).into_iter().flatten() {
                let cols: Vec<usize> = ts
                    .user_columns()
                    .iter()
                    .filter(|c| !c.ephemeral)
                    .map(|c| c.index)
                    .collect();
                out.push(format!("{} {u} {}", ts.name, r.to_json(ts, &cols)));
            }
        }
        out.sort();
        out
    }

    /// A table with enough changed rows for its record text to be written on two threads:
    /// inserted, modified (some columns of some rows), deleted.
    #[test]
    fn big_commit_records_are_the_value_written() {
        let schema = Schema::from_str_json(SCHEMA).unwrap();
        let mut db = Database::new(schema);
        let n = SPLIT_ROWS + 7;
        let mut ops = vec![json!("S")];
        for i in 0..n {
            ops.push(json!({"op": "insert", "table": "P", "row": {
                "name": format!("p{i}"), "o": i as i64, "m": ["map", [["k", format!("v{}", i % 3)]]]}}));
        }
        let txns = [
            Value::Array(ops),
            json!(["S", {"op":"update","table":"P","where":[["o","<",20000]],"row":{"tags":["set",["t"]]}},
                        {"op":"mutate","table":"P","where":[["o",">=",20000]],"mutations":[["o","+=",1]]}]),
            json!(["S", {"op":"delete","table":"P","where":[["o",">=",1000]]}]),
        ];
        for t in &txns {
            let TxnOutcome::Complete {
                changes: Some(ch), ..
            } = db.transact(t, &TxnContext::default())
            else {
                panic!("{t}");
            };
            assert!(ch.tables[0].rows.len() >= 1000);
            let text = commit_record_text(db.schema(), &ch, 1);
            assert_eq!(
                text,
                commit_record(db.schema(), &ch, 1).map(|r| serde_json::to_vec(&r).unwrap()),
                "the record written as text differs from the Value"
            );
        }
    }

    /// A big commit's record written in chunks on two threads ([`RecordJob`]) is the record
    /// [`commit_record_text`] writes, header included: tables of several chunks, chunks and
    /// tables with nothing persistent to write (ephemeral changes only), a comment.
    #[test]
    fn big_records_in_chunks_are_the_record_text() {
        let schema = Schema::from_str_json(SCHEMA).unwrap();
        let mut db = Database::new(schema);
        let n = 3 * CHUNK_ROWS + 5;
        let mut ops = vec![json!("S")];
        for i in 0..n {
            ops.push(json!({"op": "insert", "table": "P", "uuid-name": format!("p{i}"), "row": {
                "name": format!("p{i}\u{1}\""), "o": i as i64, "m": ["map", [["k", format!("v{}", i % 3)]]],
                "kids": ["set", if i % 2 == 0 { vec![json!(["named-uuid", format!("c{i}")])] } else { vec![] }]}}));
            if i % 2 == 0 {
                ops.push(json!({"op": "insert", "table": "C", "uuid-name": format!("c{i}"), "row": {"v": i}}));
            }
        }
        ops.push(json!({"op": "comment", "comment": "big \"one\""}));
        let txns = [
            Value::Array(ops),
            // Every row's ephemeral column, one row's persistent one: chunks with nothing.
            json!(["S", {"op":"update","table":"P","where":[],"row":{"eph":"e"}},
                        {"op":"update","table":"P","where":[["o","==",7]],"row":{"b":true}}]),
            // Nothing persistent at all: no record.
            json!(["S", {"op":"update","table":"P","where":[],"row":{"eph":"f"}}]),
            json!(["S", {"op":"update","table":"P","where":[["o","<",2000]],"row":{"tags":["set",["t"]]}},
                        {"op":"mutate","table":"P","where":[["o",">=",2000]],"mutations":[["o","+=",1]]}]),
            json!(["S", {"op":"delete","table":"P","where":[["o",">=",1000]]}]),
        ];
        for t in &txns {
            let TxnOutcome::Complete {
                changes: Some(ch), ..
            } = db.transact(t, &TxnContext::default())
            else {
                panic!("{t}");
            };
            assert!(ch.tables[0].rows.len() >= 1000);
            let mut keys = RecordKeys::default();
            let job = RecordJob::new(db.schema(), &ch, 1, &mut keys);
            std::thread::scope(|scope| {
                scope.spawn(|| job.work());
                job.work();
            });
            let chunked = job.finish().map(|r| {
                let mut parts = Vec::new();
                r.push_parts(&mut parts);
                parts.concat()
            });
            let whole = commit_record_text(db.schema(), &ch, 1).map(|text| {
                let mut out = Vec::new();
                file::append_encoded_record_text(&mut out, text);
                out
            });
            assert_eq!(
                chunked.as_deref().map(String::from_utf8_lossy),
                whole.as_deref().map(String::from_utf8_lossy),
                "{t}"
            );
        }
    }

    #[test]
    fn commit_records_replay_to_the_same_rows() {
        let schema = Schema::from_str_json(SCHEMA).unwrap();
        let mut db = Database::new(schema.clone());
        let mut records = Vec::new();
        let txns = [
            json!(["S", {"op":"insert","table":"C","row":{"v":1},"uuid-name":"c"},
                        {"op":"insert","table":"P","row":{"name":"a","tags":["set",["x","y"]],
                         "m":["map",[["k","v"],["k2","v2"]]],"o":5,"kids":["named-uuid","c"],"eph":"e"}}]),
            json!(["S", {"op":"update","table":"P","where":[],"row":{"tags":["set",["y","z"]],
                         "m":["map",[["k","w"],["k3","v3"]]],"o":["set",[]],"eph":"f"}}]),
            json!(["S", {"op":"insert","table":"C","row":{"v":2},"uuid-name":"c"},
                        {"op":"mutate","table":"P","where":[],"mutations":[["kids","insert",["set",[["named-uuid","c"]]]]]}]),
            json!(["S", {"op":"update","table":"P","where":[],"row":{"kids":["set",[]]}}]),
            json!(["S", {"op":"insert","table":"P","row":{"name":"b"}},{"op":"delete","table":"P","where":[["name","==","a"]]}]),
            json!(["S", {"op":"insert","table":"P","row":{"name":"q\"\\\u{e9}\u{1}","r":1.5,"b":true}},
                        {"op":"comment","comment":"a \"c\""}]),
            json!(["S", {"op":"update","table":"P","where":[["b","==",true]],"row":{"r":0.1,"b":false}}]),
        ];
        for t in &txns {
            match db.transact(t, &TxnContext::default()) {
                TxnOutcome::Complete {
                    changes: Some(ch),
                    results,
                } => {
                    let text = commit_record_text(db.schema(), &ch, 1);
                    assert_eq!(
                        text,
                        commit_record(db.schema(), &ch, 1).map(|r| serde_json::to_vec(&r).unwrap()),
                        "the record written as text differs from the Value"
                    );
                    if let Some(r) = commit_record(db.schema(), &ch, 1) {
                        assert_eq!(r["_is_diff"], json!(true));
                        assert!(
                            !r.to_string().contains("eph"),
                            "ephemeral column written: {r}"
                        );
                        records.push(r);
                    }
                    assert!(
                        results
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|x| x.get("error").is_none()),
                        "{results}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let mut replayed = Database::new(schema);
        for r in &records {
            replay_record(&mut replayed, r).unwrap();
        }
        assert_eq!(rows(&replayed), rows(&db));
        // A snapshot replays to the same rows too.
        let mut from_snapshot = Database::new(Schema::from_str_json(SCHEMA).unwrap());
        replay_record(&mut from_snapshot, &snapshot_record(&db)).unwrap();
        assert_eq!(rows(&from_snapshot), rows(&db));
    }

    #[test]
    fn staged_commits_are_written_by_one_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let schema_json: Value = serde_json::from_str(SCHEMA).unwrap();
        FileStorage::create(&path, &schema_json).unwrap();
        let (mut db, mut storage, _) = FileStorage::open(&path, StorageOptions::default()).unwrap();
        let empty = storage.len();
        for name in ["a", "b", "c"] {
            let t = json!(["S", {"op":"insert","table":"P","row":{"name":name}}]);
            let TxnOutcome::Complete {
                changes: Some(ch), ..
            } = db.transact(&t, &TxnContext::default())
            else {
                panic!("insert failed");
            };
            storage.stage(&db, &ch).unwrap();
        }
        assert_eq!(storage.len(), empty, "staged, not written");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), empty);
        storage.flush(&db).unwrap();
        assert!(storage.len() > empty);
        storage.flush(&db).unwrap();
        let (reopened, _, tail) = FileStorage::open(&path, StorageOptions::default()).unwrap();
        assert!(tail.is_none());
        assert_eq!(rows(&reopened), rows(&db));
        assert_eq!(rows(&db).len(), 3);
    }

    /// The column keys a `FileStorage` keeps between commits write the records `commit_record`
    /// builds, commit after commit, over both tables (keys cached per table index).
    #[test]
    fn staged_records_with_kept_keys_are_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let schema_json: Value = serde_json::from_str(SCHEMA).unwrap();
        FileStorage::create(&path, &schema_json).unwrap();
        let (mut db, mut storage, _) = FileStorage::open(&path, StorageOptions::default()).unwrap();
        let txns = [
            json!(["S", {"op":"insert","table":"C","row":{"v":1},"uuid-name":"c"},
                        {"op":"insert","table":"P","row":{"name":"a","kids":["named-uuid","c"],"o":3}}]),
            json!(["S", {"op":"insert","table":"P","row":{"name":"b","m":["map",[["k","v"]]],"eph":"e"}}]),
            json!(["S", {"op":"update","table":"P","where":[["name","==","a"]],"row":{"tags":["set",["x","y"]],"b":true}},
                        {"op":"mutate","table":"C","where":[],"mutations":[["v","+=",4]]}]),
            json!(["S", {"op":"update","table":"P","where":[["name","==","b"]],"row":{"eph":"f"}}]),
            json!(["S", {"op":"delete","table":"P","where":[["name","==","a"]]}]),
        ];
        let mut want = Vec::new();
        for t in &txns {
            let TxnOutcome::Complete {
                changes: Some(ch), ..
            } = db.transact(t, &TxnContext::default())
            else {
                panic!("{t}");
            };
            storage.stage(&db, &ch).unwrap();
            if let Some(r) = commit_record(db.schema(), &ch, 1) {
                want.push(r);
            }
        }
        storage.flush(&db).unwrap();
        let mut reader = file::RecordReader::new(std::fs::File::open(&path).unwrap());
        let mut got = Vec::new();
        while let Some(rec) = reader.next_record().unwrap() {
            got.push(rec.json);
        }
        // The schema first, then one record per commit that changed something persistent.
        let mut got = got.split_off(1);
        for r in &mut got {
            r["_date"] = json!(1);
        }
        assert_eq!(got, want);
        assert_eq!(want.len(), 4, "the ephemeral-only update writes no record");
    }
}
