//! The transaction engine: executes the operations of one `transact` request against a working
//! copy, then checks integrity at commit (reference counts, garbage collection, `maxRows`, weak
//! references, unique indexes) exactly in ovsdb-server's order, all-or-nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rand::rngs::StdRng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::atom::{Atom, SymbolResolver};
use crate::condition::Condition;
use crate::datum::Datum;
use crate::db::{ChangeSet, Database, Row, RowChange, Table, TableChanges, TxnContext, TxnOutcome};
use crate::error::{Error, Result};
use crate::hash::{FastMap, FastState, PrehashedMap};
use crate::json::{JsonRef, JsonView, TransactReader};
use crate::mutation::Mutation;
use crate::parser::{Kind, ObjParser};
use crate::schema::{Schema, COL_UUID, COL_VERSION};
use crate::types::ColumnType;

mod direct;

/// A row touched by the transaction.
#[derive(Debug, Clone)]
struct TxnRow {
    old: Option<Arc<Row>>,
    new: Option<Row>,
    changed: Vec<bool>,
}

/// The rows a transaction touched, by table. Only the tables it touched have a map, kept in
/// table order, so that the commit checks visit those tables, not every table of the schema.
/// Indexing with a table the transaction has not touched reads an empty map, or adds the
/// table's map when the access is mutable.
#[derive(Debug, Default)]
struct TouchedTables {
    /// (table index, touched rows), by table index.
    tables: Vec<(usize, FastMap<Uuid, TxnRow>)>,
    /// What an untouched table reads as.
    empty: FastMap<Uuid, TxnRow>,
}

impl TouchedTables {
    fn position(&self, t: usize) -> Result<usize, usize> {
        // Almost always one or two tables: a linear scan beats a binary search.
        for (i, &(table, _)) in self.tables.iter().enumerate() {
            if table >= t {
                return if table == t { Ok(i) } else { Err(i) };
            }
        }
        Err(self.tables.len())
    }

    /// The touched tables and their rows, in table order.
    fn iter(&self) -> impl Iterator<Item = (usize, &FastMap<Uuid, TxnRow>)> {
        self.tables.iter().map(|(t, m)| (*t, m))
    }

    /// The indexes of the touched tables, in order.
    fn table_indexes(&self) -> Vec<usize> {
        self.tables.iter().map(|&(t, _)| t).collect()
    }
}

impl std::ops::Index<usize> for TouchedTables {
    type Output = FastMap<Uuid, TxnRow>;

    fn index(&self, t: usize) -> &Self::Output {
        match self.position(t) {
            Ok(i) => &self.tables[i].1,
            Err(_) => &self.empty,
        }
    }
}

impl std::ops::IndexMut<usize> for TouchedTables {
    fn index_mut(&mut self, t: usize) -> &mut Self::Output {
        let i = match self.position(t) {
            Ok(i) => i,
            Err(i) => {
                self.tables.insert(i, (t, FastMap::default()));
                i
            }
        };
        &mut self.tables[i].1
    }
}

/// A `uuid-name` of this transaction.
#[derive(Debug, Clone, Copy)]
struct Symbol {
    uuid: Uuid,
    created: bool,
}

struct Symbols<'a> {
    map: &'a mut FastMap<String, Symbol>,
    rng: &'a mut StdRng,
    strings: &'a mut Strings,
}

/// The short strings of a transaction's string atoms, each kept once and shared by every row
/// that has it: northd's logical flows repeat a few dozen `external_ids` keys and values,
/// pipelines and actions hundreds of thousands of times, and a new allocation for each (and
/// its release with the row) cost more than finding it here. A small transaction does not
/// pay for the set: its first [`Strings::UNSHARED`] short strings are not looked up.
#[derive(Debug, Default)]
struct Strings {
    set: HashSet<Arc<str>, FastState>,
    /// Short strings seen so far, up to [`Strings::UNSHARED`].
    seen: usize,
}

impl Strings {
    /// Longer strings (a flow's `match`) are rarely repeated: they are not looked up.
    const MAX_LEN: usize = 48;
    /// Distinct strings kept at most (unique short strings, such as port names, stop being
    /// added once the set is this big).
    const MAX_STRINGS: usize = 1 << 16;
    /// Short strings taken as they are before the set is used: a single-row insert has a few,
    /// and building a hash set from empty for them cost about 1,000 of its 32,000 instructions
    /// (whole server), while sharing them saves nothing.
    const UNSHARED: usize = 16;

    fn get(&mut self, s: &str) -> Arc<str> {
        if s.len() > Self::MAX_LEN {
            return s.into();
        }
        if self.seen < Self::UNSHARED {
            self.seen += 1;
            return s.into();
        }
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        if self.set.len() < Self::MAX_STRINGS {
            self.set.insert(a.clone());
        }
        a
    }
}

impl SymbolResolver for Symbols<'_> {
    fn resolve(&mut self, name: &str) -> Option<Uuid> {
        if let Some(s) = self.map.get(name) {
            return Some(s.uuid);
        }
        let uuid = Database::random_uuid(self.rng);
        self.map.insert(
            name.to_owned(),
            Symbol {
                uuid,
                created: false,
            },
        );
        Some(uuid)
    }

    fn string(&mut self, s: &str) -> Arc<str> {
        self.strings.get(s)
    }
}

/// The member names of the last row object of several members, the order ovsdb-server reads
/// them in, and their columns (consecutive rows of a big transaction name the same columns of
/// the same table); and what the direct reader keeps of the rows it read ([`direct::Scratch`]):
/// a client's transactions name the same columns, often with the same values, one transaction
/// after the other.
#[derive(Debug, Default)]
pub(crate) struct MemberOrder {
    table: usize,
    names: Vec<String>,
    order: Vec<usize>,
    columns: Vec<Option<usize>>,
    /// Kept from one transaction to the next: a transaction of a single insert would
    /// otherwise build its members' slots (a dozen allocations) only to drop them.
    scratch: direct::Scratch,
}

impl Clone for MemberOrder {
    /// The order and its columns; the direct reader's [`direct::Scratch`] is only a cache of
    /// what it read, and the clone's starts empty.
    fn clone(&self) -> Self {
        Self {
            table: self.table,
            names: self.names.clone(),
            order: self.order.clone(),
            columns: self.columns.clone(),
            scratch: direct::Scratch::default(),
        }
    }
}

/// The columns a row object named: bits for the first 128 columns, a list for any others.
#[derive(Debug, Default)]
struct NamedColumns {
    bits: u128,
    more: Vec<usize>,
}

impl NamedColumns {
    fn insert(&mut self, c: usize) {
        match u32::try_from(c).ok().and_then(|c| 1u128.checked_shl(c)) {
            Some(bit) => self.bits |= bit,
            None => self.more.push(c),
        }
    }

    fn contains(&self, c: usize) -> bool {
        match u32::try_from(c).ok().and_then(|c| 1u128.checked_shl(c)) {
            Some(bit) => self.bits & bit != 0,
            None => self.more.contains(&c),
        }
    }
}

/// A column, a row its changed value references (or no longer references), and +1 or -1.
type RefAdjustment = (usize, (usize, Uuid), i64);

/// Why execution stopped early.
enum Stop {
    Failed(Error),
    Blocked,
}

struct Txn<'a> {
    schema: &'a Schema,
    tables: &'a [Table],
    weak_refs: &'a HashMap<(usize, Uuid), HashSet<(usize, Uuid)>>,
    rng: &'a mut StdRng,
    rows: TouchedTables,
    symbols: FastMap<String, Symbol>,
    /// See [`Strings`].
    strings: Strings,
    /// See [`MemberOrder`].
    member_order: MemberOrder,
    comments: Vec<String>,
    durable: bool,
    elapsed_ms: u64,
    timeout_ms: Option<u64>,
    held_locks: &'a HashSet<String>,
}

/// Runs a whole `transact` request on `db` (see [`Database::transact`]).
pub(crate) fn execute<J: JsonView>(db: &mut Database, params: &J, ctx: &TxnContext) -> TxnOutcome {
    match execute_into::<J, ValueResults>(db, params, ctx) {
        Outcome::Complete { results, changes } => TxnOutcome::Complete {
            results: results.into_value(),
            changes,
        },
        Outcome::Blocked { timeout_ms } => TxnOutcome::Blocked { timeout_ms },
    }
}

/// What one operation returns.
pub(crate) enum OpResult {
    /// A JSON result.
    Json(Value),
    /// The result of an insert: `{"uuid": ["uuid", UUID]}`.
    Inserted(Uuid),
}

/// Where [`execute_into`] puts the results of a transaction's operations.
pub(crate) trait ResultSink: Sized {
    /// Room for `n` results.
    fn with_capacity(n: usize) -> Self;
    /// The whole `result` is `v` (not an array): the request itself was bad.
    fn whole(v: Value) -> Self;
    /// Appends one result.
    fn push(&mut self, r: OpResult);
    /// Number of results so far.
    fn len(&self) -> usize;
}

/// Results as a `Value` tree, for [`execute`].
struct ValueResults {
    items: Vec<Value>,
    whole: Option<Value>,
}

impl ValueResults {
    fn into_value(self) -> Value {
        self.whole.unwrap_or(Value::Array(self.items))
    }
}

impl ResultSink for ValueResults {
    fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
            whole: None,
        }
    }
    fn whole(v: Value) -> Self {
        Self {
            items: Vec::new(),
            whole: Some(v),
        }
    }
    fn push(&mut self, r: OpResult) {
        self.items.push(match r {
            OpResult::Json(v) => v,
            OpResult::Inserted(u) => {
                let mut m = serde_json::Map::with_capacity(1);
                m.insert("uuid".to_owned(), crate::atom::uuid_json(&u));
                Value::Object(m)
            }
        });
    }
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Results written straight as the JSON text of the reply's `result`, without a `Value` per
/// operation (a big commit has one insert result per row).
#[derive(Debug, Default)]
pub(crate) struct EncodedResults {
    text: Vec<u8>,
    n: usize,
    /// Set when `text` is a whole result, not the elements of an array.
    whole: bool,
}

impl EncodedResults {
    /// The `result` as JSON text.
    pub(crate) fn into_text(self) -> Vec<u8> {
        if self.whole {
            return self.text;
        }
        let mut text = self.text;
        text.push(b']');
        text
    }
}

impl ResultSink for EncodedResults {
    fn with_capacity(n: usize) -> Self {
        // About the size of an insert's result.
        let mut text = Vec::with_capacity(1 + n.min(1 << 20) * 56);
        text.push(b'[');
        Self {
            text,
            n: 0,
            whole: false,
        }
    }
    fn whole(v: Value) -> Self {
        Self {
            text: v.to_string().into_bytes(),
            n: 0,
            whole: true,
        }
    }
    fn push(&mut self, r: OpResult) {
        if self.n > 0 {
            self.text.push(b',');
        }
        self.n += 1;
        match r {
            OpResult::Json(v) => {
                // Writing a `Value` to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.text, &v);
            }
            OpResult::Inserted(u) => {
                self.text.extend_from_slice(b"{\"uuid\":[\"uuid\",\"");
                crate::atom::write_uuid(&mut self.text, &u);
                self.text.extend_from_slice(b"\"]}");
            }
        }
    }
    fn len(&self) -> usize {
        self.n
    }
}

/// The result of [`execute_into`]: [`TxnOutcome`] with results of any [`ResultSink`].
pub(crate) enum Outcome<R> {
    /// See [`TxnOutcome::Complete`].
    Complete {
        /// The `result` of the reply.
        results: R,
        /// What the commit changed; `None` when it failed, `Some(empty)` when it changed nothing.
        changes: Option<Arc<ChangeSet>>,
    },
    /// See [`TxnOutcome::Blocked`].
    Blocked {
        /// The smallest `timeout` of the transaction's `wait` operations, if any has one.
        timeout_ms: Option<u64>,
    },
}

/// [`execute`], with the results put in `R`.
pub(crate) fn execute_into<J: JsonView, R: ResultSink>(
    db: &mut Database,
    params: &J,
    ctx: &TxnContext,
) -> Outcome<R> {
    let complete_err = |e: Error| Outcome::Complete {
        results: R::whole(e.to_json()),
        changes: None,
    };
    let ops = match params.as_array() {
        Some(a) if a.first().and_then(J::as_str) == Some(db.schema.name.as_str()) => &a[1..],
        Some(_) => {
            return complete_err(Error::syntax_at(
                Some(params),
                "database name expected as first parameter",
            ));
        }
        _ => return complete_err(Error::syntax_at(Some(params), "array expected")),
    };
    let schema = db.schema.clone();
    let mut txn = Txn::new(&schema, db, ctx);
    let n = ops.len();
    let mut results = R::with_capacity(n + 1);
    let mut failed = false;
    for (i, op) in ops.iter().enumerate() {
        match txn.execute_op(op, i + 1, n) {
            Ok(r) => results.push(r),
            Err(Stop::Failed(e)) => {
                results.push(OpResult::Json(e.to_json()));
                failed = true;
                break;
            }
            Err(Stop::Blocked) => {
                let timeout_ms = txn.timeout_ms;
                let order = std::mem::take(&mut txn.member_order);
                drop(txn);
                db.member_order = order;
                return Outcome::Blocked { timeout_ms };
            }
        }
    }
    let order = std::mem::take(&mut txn.member_order);
    if failed {
        drop(txn);
        db.member_order = order;
        while results.len() < n {
            results.push(OpResult::Json(Value::Null));
        }
        return Outcome::Complete {
            results,
            changes: None,
        };
    }
    let concluded = txn.conclude();
    db.member_order = order;
    complete(db, concluded, results)
}

/// The outcome of a transaction whose operations all ran: its changes applied to `db` if the
/// commit checks passed, else their error added to the results.
fn complete<R: ResultSink>(
    db: &mut Database,
    concluded: Result<Prepared>,
    mut results: R,
) -> Outcome<R> {
    match concluded {
        Ok(Prepared { changes, refs }) => {
            db.apply(&changes, &refs);
            Outcome::Complete {
                results,
                changes: Some(Arc::new(changes)),
            }
        }
        Err(e) => {
            results.push(OpResult::Json(e.to_json()));
            Outcome::Complete {
                results,
                changes: None,
            }
        }
    }
}

/// A transaction whose operations all ran and whose commit checks were made, not applied to
/// the database yet: [`Concluded::apply`] gives what [`execute_stream`] gives, and
/// [`Concluded::take_big`] lets a big commit be applied while other work is done with its
/// change set.
pub(crate) struct Concluded<R> {
    results: R,
    prepared: Result<Prepared>,
}

impl<R: ResultSink> Concluded<R> {
    /// Applies the transaction to `db` (the database it ran on, unchanged since): the
    /// outcome [`execute_stream`] gives.
    pub(crate) fn apply(self, db: &mut Database) -> Outcome<R> {
        complete(db, self.prepared, self.results)
    }

    /// The results and the unapplied commit, when the commit checks passed and the change set
    /// has `min_rows` rows or more; else `self` back.
    pub(crate) fn take_big(self, min_rows: usize) -> std::result::Result<(R, Unapplied), Self> {
        match self.prepared {
            Ok(p) if p.changes.tables.iter().map(|t| t.rows.len()).sum::<usize>() >= min_rows => {
                Ok((
                    self.results,
                    Unapplied {
                        changes: Arc::new(p.changes),
                        refs: p.refs,
                    },
                ))
            }
            prepared => Err(Self {
                results: self.results,
                prepared,
            }),
        }
    }
}

/// A commit that passed its checks, to be applied with [`Unapplied::apply`] to the database
/// its transaction ran on, unchanged since. Its change set is final: it can be written out
/// (file record, monitor updates) on other threads while it is applied.
#[derive(Debug)]
pub(crate) struct Unapplied {
    /// What the commit changes.
    pub(crate) changes: Arc<ChangeSet>,
    refs: FastMap<(usize, Uuid), i64>,
}

impl Unapplied {
    /// Applies the commit to `db`.
    pub(crate) fn apply(&self, db: &mut Database) {
        db.apply(&self.changes, &self.refs);
    }
}

/// [`execute_into`] for a request read one operation at a time from `req` (each operation's
/// tree is dropped once it has run: a big transaction is never held as one tree). Returns the
/// outcome and the request's `id`, or `None` when the request must be run by [`execute_into`]
/// from its whole tree instead: it is not valid JSON or not a `transact` request (see
/// [`TransactReader`]), names another database, or an operation failed or blocked (the
/// results of those name the number of operations, not known before the last one is read).
/// Then nothing was applied and the database's random generator is as it was, so running the
/// request again gives the same result as running it once.
pub(crate) fn execute_stream<'a, R: ResultSink>(
    db: &mut Database,
    req: &mut TransactReader<'a>,
    ctx: &TxnContext,
) -> Option<(Outcome<R>, JsonRef<'a>)> {
    let (concluded, id) = execute_stream_concluded(db, req, ctx)?;
    Some((concluded.apply(db), id))
}

/// [`execute_stream`] without applying the transaction: [`Concluded::apply`] does.
pub(crate) fn execute_stream_concluded<'a, R: ResultSink>(
    db: &mut Database,
    req: &mut TransactReader<'a>,
    ctx: &TxnContext,
) -> Option<(Concluded<R>, JsonRef<'a>)> {
    if req.db_name() != db.schema.name {
        return None;
    }
    let saved_rng = db.rng.clone();
    let schema = db.schema.clone();
    let mut txn = Txn::new(&schema, db, ctx);
    // About the size of a northd operation; only a first guess for the results' buffer.
    // At least one result's room: a small request's reply does not regrow.
    let mut results = R::with_capacity(req.remaining() / 256 + 1);
    let mut n = 0;
    let id = txn.run_stream(req, &mut results, &mut n);
    let order = std::mem::take(&mut txn.member_order);
    let Some(id) = id else {
        drop(txn);
        db.rng = saved_rng;
        db.member_order = order;
        return None;
    };
    let prepared = txn.conclude();
    db.member_order = order;
    Some((Concluded { results, prepared }, id))
}

/// The operations of a `transact` request that is still arriving, run ahead of its last byte
/// against the database as it is (see [`Speculation::run`]); [`Speculation::finish`] runs the
/// rest once the request is complete. Running ahead changes nothing in the database: the
/// transaction draws its UUIDs from a copy of the database's generator and keeps its rows to
/// itself, and what it did is used only if the database has not changed in between (same
/// [`Database::generation`], same generator), so the outcome is the one running the whole
/// request at its last byte gives.
#[derive(Debug)]
pub(crate) struct Speculation {
    parts: TxnParts,
    /// The database's generator when the first operation ran.
    rng_start: StdRng,
    /// The generator after the operations run so far.
    rng: StdRng,
    /// The database's generation when the first operation ran.
    generation: u64,
    results: EncodedResults,
    /// Operations run so far.
    n: usize,
    /// Where the request's header ends: just after the database name in `params`.
    header_end: usize,
    /// Where the operations not run yet start (a `,` or the `]` of `params`, maybe after
    /// whitespace).
    resume: usize,
    /// The request's length at which to try reading the next operation again: an operation
    /// still arriving is read from its start at each try, so the tries are spaced as the text
    /// doubles past it (its bytes are read a few times at most, whatever its size).
    retry_at: usize,
    /// Set when an operation that depends on more than the database (`wait`, `assert`, ...)
    /// comes next: the rest is left to [`Speculation::finish`].
    paused: bool,
}

/// The operations run ahead by [`Speculation`]: those whose outcome depends only on the
/// database's rows and generator and on the transaction itself.
const AHEAD_OPS: &[&str] = &["insert", "update", "mutate", "delete", "select", "comment"];

impl Speculation {
    /// A transaction on `db` whose request text has its header (up to the database name)
    /// in `text[..header_end]`, as read by [`TransactReader::start`]; `len` is the length of
    /// the text received so far.
    pub(crate) fn new(db: &Database, header_end: usize, len: usize) -> Self {
        Self {
            parts: TxnParts {
                member_order: db.member_order.clone(),
                ..TxnParts::default()
            },
            rng_start: db.rng.clone(),
            rng: db.rng.clone(),
            generation: db.generation,
            results: EncodedResults::with_capacity(len / 256 + 1),
            n: 0,
            header_end,
            resume: header_end,
            retry_at: 0,
            paused: false,
        }
    }

    /// Runs the operations of `text` (the start of the request, longer than at the previous
    /// call) that are complete and not run yet. Returns false when running ahead must stop for
    /// this request (the database changed since the first operation, or an operation failed):
    /// the caller drops the speculation, and the request will run as if none had been made.
    pub(crate) fn run(&mut self, db: &Database, text: &[u8]) -> bool {
        if db.generation != self.generation || db.rng != self.rng_start {
            return false;
        }
        if self.paused || text.len() < self.retry_at {
            return true;
        }
        let Some(mut req) = TransactReader::ops_at(text, self.resume) else {
            // Not valid UTF-8: the request will be declined at its end.
            return false;
        };
        let empty = HashSet::new();
        let schema = db.schema.clone();
        let mut txn = Txn::resume(
            &schema,
            db,
            &mut self.rng,
            &empty,
            0,
            std::mem::take(&mut self.parts),
        );
        let mut ok = true;
        let mut scratch = std::mem::take(&mut txn.member_order.scratch);
        loop {
            if let Some(r) = req.direct_op(|p| txn.direct_op(p, &mut scratch)) {
                self.n += 1;
                match r {
                    Ok(r) => self.results.push(r),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
                self.resume = req.position();
                continue;
            }
            let Some(op) = req.next_whole_op() else {
                // The next operation has not fully arrived (or the text is not valid JSON,
                // which the request's end will show).
                let tail = text.len() - self.resume;
                self.retry_at = self.resume + (2 * tail).max(1 << 16);
                break;
            };
            if !op
                .get("op")
                .and_then(JsonRef::as_str)
                .is_some_and(|name| AHEAD_OPS.contains(&name))
            {
                self.paused = true;
                break;
            }
            self.n += 1;
            match txn.execute_op(&op, self.n, 0) {
                Ok(r) => self.results.push(r),
                Err(_) => {
                    ok = false;
                    break;
                }
            }
            self.resume = req.position();
        }
        txn.member_order.scratch = scratch;
        self.parts = txn.suspend();
        ok
    }

    /// How many operations have run ahead.
    pub(crate) fn ops_run(&self) -> usize {
        self.n
    }

    /// Runs the rest of the request, now complete in `text`, and commits it as
    /// [`execute_stream`] does (same outcome, same `None` cases). `None` also when the
    /// database changed since the speculation began: the caller runs the request anew.
    pub(crate) fn finish<'a>(
        self,
        db: &mut Database,
        text: &'a [u8],
        ctx: &TxnContext,
    ) -> Option<(Outcome<EncodedResults>, JsonRef<'a>)> {
        let (concluded, id) = self.finish_concluded(db, text, ctx)?;
        Some((concluded.apply(db), id))
    }

    /// [`Speculation::finish`] without applying the transaction: [`Concluded::apply`] does.
    pub(crate) fn finish_concluded<'a>(
        self,
        db: &mut Database,
        text: &'a [u8],
        ctx: &TxnContext,
    ) -> Option<(Concluded<EncodedResults>, JsonRef<'a>)> {
        if db.generation != self.generation || db.rng != self.rng_start {
            return None;
        }
        let mut req = TransactReader::start(text.get(..self.header_end)?)?;
        if req.db_name() != db.schema.name || !req.continue_at(text, self.resume) {
            return None;
        }
        let Self {
            parts,
            rng_start,
            rng,
            mut results,
            mut n,
            ..
        } = self;
        db.rng = rng;
        let schema = db.schema.clone();
        let mut txn = Txn::resume_mut(&schema, db, ctx, parts);
        let id = txn.run_stream(&mut req, &mut results, &mut n);
        let order = std::mem::take(&mut txn.member_order);
        let Some(id) = id else {
            drop(txn);
            db.rng = rng_start;
            db.member_order = order;
            return None;
        };
        let prepared = txn.conclude();
        db.member_order = order;
        Some((Concluded { results, prepared }, id))
    }
}

/// What a [`Txn`] owns: kept by a [`Speculation`] between its runs.
#[derive(Debug, Default)]
struct TxnParts {
    rows: TouchedTables,
    symbols: FastMap<String, Symbol>,
    strings: Strings,
    member_order: MemberOrder,
    comments: Vec<String>,
    durable: bool,
}

/// Replays one transaction record of the standalone file format on `db` (see
/// [`Database::replay_record`]).
pub(crate) fn replay(db: &mut Database, record: &Value) -> Result<Arc<ChangeSet>> {
    let obj = record
        .as_object()
        .ok_or_else(|| Error::syntax_at(Some(record), "transaction record must be an object"))?;
    let is_diff = obj.get("_is_diff") == Some(&Value::Bool(true));
    let schema = db.schema.clone();
    let empty = HashSet::new();
    let mut txn = Txn {
        schema: &schema,
        tables: &db.tables,
        weak_refs: &db.weak_refs,
        rng: &mut db.rng,
        rows: TouchedTables::default(),
        symbols: FastMap::default(),
        strings: Strings::default(),
        member_order: MemberOrder::default(),
        comments: Vec::new(),
        durable: false,
        elapsed_ms: 0,
        timeout_ms: None,
        held_locks: &empty,
    };
    for (tname, rows) in obj {
        if tname.starts_with('_') {
            continue;
        }
        let t = schema.table_index(tname).ok_or_else(|| {
            Error::syntax_at(
                None::<&Value>,
                format!("transaction record names unknown table {tname}"),
            )
        })?;
        let ts = &schema.tables[t];
        let rows = rows.as_object().ok_or_else(|| {
            Error::syntax_at(Some(rows), format!("table {tname}: object expected"))
        })?;
        for (us, rj) in rows {
            let u = crate::atom::parse_uuid_str(us).ok_or_else(|| {
                Error::syntax_at(
                    None::<&Value>,
                    format!("table {tname}: \"{us}\" is not a valid UUID"),
                )
            })?;
            let exists = txn.current(t, &u).is_some();
            match rj {
                Value::Null => {
                    if !exists {
                        return Err(Error::syntax_at(
                            None::<&Value>,
                            format!("transaction deletes nonexistent row {u}"),
                        ));
                    }
                    match txn.rows[t].get_mut(&u) {
                        Some(tr) if tr.old.is_none() => {
                            txn.rows[t].remove(&u);
                        }
                        Some(tr) => tr.new = None,
                        None => {
                            let old = txn.tables[t].rows.get(&u).cloned();
                            let n = ts.columns.len();
                            txn.rows[t].insert(
                                u,
                                TxnRow {
                                    old,
                                    new: None,
                                    changed: vec![false; n],
                                },
                            );
                        }
                    }
                }
                Value::Object(cols) => {
                    let mut parsed = Vec::with_capacity(cols.len());
                    for (cname, v) in cols {
                        let col = ts.column(cname).ok_or_else(|| Error::UnknownColumn {
                            details: format!("No column {cname} in table {tname}."),
                            syntax: None,
                        })?;
                        let mut ty = col.type_.clone();
                        if exists && is_diff && ty.max > 1 {
                            ty.min = 0;
                            ty.max = u64::MAX;
                        }
                        let d = Datum::from_json(v, &ty, &mut crate::atom::NoSymbols)?;
                        parsed.push((col.index, d));
                    }
                    if exists {
                        let Some((row, touched)) = txn.row_touch(t, u) else {
                            continue;
                        };
                        for (c, d) in parsed {
                            touched[c] = true;
                            if is_diff {
                                row.fields[c].apply_diff(&d, &ts.columns[c].type_);
                            } else {
                                row.fields[c] = d;
                            }
                        }
                    } else {
                        let mut fields: Vec<Datum> = ts.defaults().to_vec();
                        for (c, d) in parsed {
                            fields[c] = d;
                        }
                        fields[COL_UUID] = Datum::scalar(Atom::Uuid(u));
                        fields[COL_VERSION] =
                            Datum::scalar(Atom::Uuid(Database::random_uuid(txn.rng)));
                        let n = ts.columns.len();
                        txn.rows[t].insert(
                            u,
                            TxnRow {
                                old: None,
                                new: Some(Row { fields }),
                                changed: vec![true; n],
                            },
                        );
                    }
                }
                other => {
                    return Err(Error::syntax_at(
                        Some(other),
                        "row must be an object or null",
                    ))
                }
            }
        }
    }
    let Prepared { mut changes, refs } = txn.precommit()?;
    if let Some(Value::String(c)) = obj.get("_comment") {
        changes.comment = Some(c.clone());
    }
    db.apply(&changes, &refs);
    Ok(Arc::new(changes))
}

struct Prepared {
    changes: ChangeSet,
    refs: FastMap<(usize, Uuid), i64>,
}

const READ_ONLY_OPS: &[&str] = &["select", "wait", "abort", "comment", "assert"];

impl<'a> Txn<'a> {
    fn new(schema: &'a Schema, db: &'a mut Database, ctx: &'a TxnContext) -> Self {
        Txn {
            schema,
            tables: &db.tables,
            weak_refs: &db.weak_refs,
            rng: &mut db.rng,
            rows: TouchedTables::default(),
            symbols: FastMap::default(),
            strings: Strings::default(),
            // The order of the previous transaction's rows: a client's transactions name the
            // same columns again and again.
            member_order: std::mem::take(&mut db.member_order),
            comments: Vec::new(),
            durable: false,
            elapsed_ms: ctx.elapsed_ms,
            timeout_ms: None,
            held_locks: &ctx.held_locks,
        }
    }

    /// A transaction on `db`'s rows that draws its UUIDs from `rng` (not the database's), with
    /// the state an earlier run left in `parts`.
    fn resume(
        schema: &'a Schema,
        db: &'a Database,
        rng: &'a mut StdRng,
        held_locks: &'a HashSet<String>,
        elapsed_ms: u64,
        parts: TxnParts,
    ) -> Self {
        Txn {
            schema,
            tables: &db.tables,
            weak_refs: &db.weak_refs,
            rng,
            rows: parts.rows,
            symbols: parts.symbols,
            strings: parts.strings,
            member_order: parts.member_order,
            comments: parts.comments,
            durable: parts.durable,
            elapsed_ms,
            timeout_ms: None,
            held_locks,
        }
    }

    /// [`Txn::resume`] drawing from the database's own generator.
    fn resume_mut(
        schema: &'a Schema,
        db: &'a mut Database,
        ctx: &'a TxnContext,
        parts: TxnParts,
    ) -> Self {
        Txn {
            schema,
            tables: &db.tables,
            weak_refs: &db.weak_refs,
            rng: &mut db.rng,
            rows: parts.rows,
            symbols: parts.symbols,
            strings: parts.strings,
            member_order: parts.member_order,
            comments: parts.comments,
            durable: parts.durable,
            elapsed_ms: ctx.elapsed_ms,
            timeout_ms: None,
            held_locks: &ctx.held_locks,
        }
    }

    /// What the transaction owns, for a later [`Txn::resume`].
    fn suspend(self) -> TxnParts {
        TxnParts {
            rows: self.rows,
            symbols: self.symbols,
            strings: self.strings,
            member_order: self.member_order,
            comments: self.comments,
            durable: self.durable,
        }
    }

    /// Runs the operations `req` still holds, numbering them after the `n` already run, and
    /// reads the request's end: its `id`, or `None` when an operation failed or blocked or the
    /// request is not a valid `transact` (see [`execute_stream`]).
    fn run_stream<'r, R: ResultSink>(
        &mut self,
        req: &mut TransactReader<'r>,
        results: &mut R,
        n: &mut usize,
    ) -> Option<JsonRef<'r>> {
        // The direct reader's buffers and what it read last, kept from the previous
        // transaction (see [`MemberOrder::scratch`]).
        let mut scratch = std::mem::take(&mut self.member_order.scratch);
        let id = self.run_stream_with(req, results, n, &mut scratch);
        self.member_order.scratch = scratch;
        id
    }

    /// [`Txn::run_stream`] with the direct reader's `scratch`.
    fn run_stream_with<'r, R: ResultSink>(
        &mut self,
        req: &mut TransactReader<'r>,
        results: &mut R,
        n: &mut usize,
        scratch: &mut direct::Scratch,
    ) -> Option<JsonRef<'r>> {
        loop {
            if let Some(r) = req.direct_op(|p| self.direct_op(p, scratch)) {
                *n += 1;
                match r {
                    Ok(r) => results.push(r),
                    Err(_) => return None,
                }
                continue;
            }
            match req.next_op() {
                Some(Some(op)) => {
                    *n += 1;
                    match self.execute_op(&op, *n, 0) {
                        Ok(r) => results.push(r),
                        Err(_) => return None,
                    }
                }
                Some(None) => return req.finish(),
                None => return None,
            }
        }
    }

    /// The commit checks once every operation has run ([`Txn::precommit`]), with the
    /// transaction's `durable` flag and comments on the change set.
    fn conclude(mut self) -> Result<Prepared> {
        let mut prepared = self.precommit()?;
        prepared.changes.durable = self.durable;
        if !self.comments.is_empty() {
            prepared.changes.comment = Some(self.comments.join("\n"));
        }
        Ok(prepared)
    }
}

impl Txn<'_> {
    fn symbols(&mut self) -> Symbols<'_> {
        Symbols {
            map: &mut self.symbols,
            rng: self.rng,
            strings: &mut self.strings,
        }
    }

    fn execute_op<J: JsonView>(&mut self, op: &J, i: usize, n: usize) -> Result<OpResult, Stop> {
        let mut p = ObjParser::new(op, i, n);
        let name = p.member("op", Kind::Id, false).and_then(J::as_str);
        let mut result = Ok(json!({}));
        let mut inserted = None;
        if let Some(name) = name {
            result = match name {
                "insert" => self.op_insert(&mut p).map(|u| {
                    inserted = u;
                    json!({})
                }),
                "select" => self.op_select(&mut p),
                "update" => self.op_update(&mut p, op),
                "mutate" => self.op_mutate(&mut p),
                "delete" => self.op_delete(&mut p),
                "wait" => self.op_wait(&mut p),
                "commit" => {
                    if let Some(d) = p.member("durable", Kind::Boolean, false) {
                        if d.as_bool() == Some(true) {
                            self.durable = true;
                        }
                    }
                    Ok(json!({}))
                }
                "abort" => Err(Stop::Failed(Error::Aborted("aborted by request".into()))),
                "comment" => {
                    if let Some(c) = p.member("comment", Kind::Str, false).and_then(J::as_str) {
                        self.comments.push(c.to_owned());
                    }
                    Ok(json!({}))
                }
                "assert" => match p.member("lock", Kind::Id, false).and_then(J::as_str) {
                    Some(l) if !self.held_locks.contains(l) => Err(Stop::Failed(Error::NotOwner(
                        format!("Asserted lock {l} not held."),
                    ))),
                    _ => Ok(json!({})),
                },
                other => {
                    p.raise(format!("No operation \"{other}\""));
                    Ok(json!({}))
                }
            };
        }
        // A parse error overrides any other error; an error overrides any result.
        if let Some(pe) = p.finish() {
            return Err(Stop::Failed(pe));
        }
        let r = result?;
        if let Some(name) = name {
            if !READ_ONLY_OPS.contains(&name) && self.schema.name.starts_with('_') {
                return Err(Stop::Failed(Error::NotAllowed(format!(
                    "{name} operation not allowed on table in reserved database {}",
                    self.schema.name
                ))));
            }
        }
        Ok(match inserted {
            Some(u) => OpResult::Inserted(u),
            None => OpResult::Json(r),
        })
    }

    fn parse_table<J: JsonView>(&self, p: &mut ObjParser<'_, J>) -> Option<usize> {
        let name = p.member("table", Kind::Id, false)?.as_str()?;
        match self.schema.table_index(name) {
            Some(t) => Some(t),
            None => {
                p.raise(format!("No table named {name}."));
                None
            }
        }
    }

    fn parse_where<J: JsonView>(&mut self, t: usize, json: Option<&J>) -> Result<Condition> {
        let schema = self.schema;
        let clauses = json.and_then(J::as_array).unwrap_or(&[]);
        Condition::from_json(&schema.tables[t], clauses, &mut self.symbols())
    }

    /// Parses a row object; returns the row (defaults elsewhere) and the columns it named.
    fn parse_row<J: JsonView>(&mut self, t: usize, json: &J) -> Result<(Row, NamedColumns)> {
        let ts = &self.schema.tables[t];
        // The defaults, each replaced as its column is read (cloning a default is a step per
        // column: scalars are inline, sets and maps shared).
        let mut fields = ts.defaults().to_vec();
        let mut named = NamedColumns::default();
        self.parse_row_members(t, json, |c, d| {
            fields[c] = d;
            named.insert(c);
        })?;
        Ok((Row { fields }, named))
    }

    /// Parses a row object into the columns it names and their values (each column once), in the
    /// order ovsdb-server parses them.
    fn parse_row_columns<J: JsonView>(
        &mut self,
        t: usize,
        json: &J,
    ) -> Result<Vec<(usize, Datum)>> {
        let mut named: Vec<(usize, Datum)> = Vec::with_capacity(json.object_len());
        self.parse_row_members(t, json, |c, d| {
            match named.iter_mut().find(|(n, _)| *n == c) {
                Some(slot) => slot.1 = d,
                None => named.push((c, d)),
            }
        })?;
        Ok(named)
    }

    /// Parses the members of a row object in the order ovsdb-server parses them, handing each
    /// column and its value to `put`; the first error stops it.
    fn parse_row_members<J: JsonView>(
        &mut self,
        t: usize,
        json: &J,
        mut put: impl FnMut(usize, Datum),
    ) -> Result<()> {
        let ts = &self.schema.tables[t];
        if !json.is_object() {
            return Err(Error::syntax_at(Some(json), "row must be JSON object"));
        }
        let len = json.object_len();
        let mut symbols = Symbols {
            map: &mut self.symbols,
            rng: self.rng,
            strings: &mut self.strings,
        };
        let mut parse_member = |col: Option<usize>, name: &str, v: &J| -> Result<()> {
            let col = col
                .map(|c| &ts.columns[c])
                .ok_or_else(|| Error::UnknownColumn {
                    details: format!("No column {name} in table {}.", ts.name),
                    syntax: Some(json.to_json_string()),
                })?;
            put(col.index, Datum::from_json(v, &col.type_, &mut symbols)?);
            Ok(())
        };
        if len == 1 {
            for (name, v) in json.members() {
                parse_member(ts.column_index(name), name, v)?;
            }
        } else {
            let members: Vec<(&str, &J)> = json.members().collect();
            let mo = &mut self.member_order;
            let same = mo.table == t
                && mo.names.len() == members.len()
                && mo.names.iter().zip(&members).all(|(a, (b, _))| a == b);
            if !same {
                mo.table = t;
                mo.names = members.iter().map(|(k, _)| (*k).to_owned()).collect();
                mo.order = crate::parser::ovs_member_order(members.iter().map(|(k, _)| *k));
                mo.columns = mo.names.iter().map(|k| ts.column_index(k)).collect();
            }
            for &i in &mo.order {
                let (name, v) = members[i];
                parse_member(mo.columns[i], name, v)?;
            }
        }
        Ok(())
    }

    /// Parses a `columns` array (absent: every column).
    fn parse_columns<J: JsonView>(&self, t: usize, json: Option<&J>) -> Result<Vec<usize>> {
        let ts = &self.schema.tables[t];
        let Some(json) = json else {
            return Ok((0..ts.columns.len()).collect());
        };
        let arr = json.as_array().unwrap_or(&[]);
        let mut out = Vec::with_capacity(arr.len());
        for v in arr {
            let s = v
                .as_str()
                .ok_or_else(|| Error::syntax_at(Some(json), "array of column names expected"))?;
            let c = ts.column_index(s).ok_or_else(|| {
                Error::syntax_at(Some(json), format!("{s} is not a valid column name"))
            })?;
            if out.contains(&c) {
                return Err(Error::syntax_at(
                    Some(json),
                    "array of distinct column names expected",
                ));
            }
            out.push(c);
        }
        Ok(out)
    }

    /// The current (in-transaction) version of a row.
    fn current(&self, t: usize, u: &Uuid) -> Option<&Row> {
        match self.rows[t].get(u) {
            Some(tr) => tr.new.as_ref(),
            None => self.tables[t].rows.get(u).map(|r| &**r),
        }
    }

    /// UUIDs of the rows of table `t` that satisfy `cond`, in the transaction's view.
    fn query(&self, t: usize, cond: &Condition) -> Vec<Uuid> {
        let ts = &self.schema.tables[t];
        if let Some(u) = cond.uuid_equality() {
            return match self.current(t, &u) {
                Some(r) if cond.evaluate(ts, &r.fields) => vec![u],
                _ => Vec::new(),
            };
        }
        let txn_rows = &self.rows[t];
        // `==` on every column of a unique index: at most one committed row can match, plus rows
        // the transaction touched.
        for (i, cols) in ts.indexes.iter().enumerate() {
            let key: Option<Vec<&Datum>> = cols.iter().map(|&c| cond.equality_on(c)).collect();
            let Some(key) = key else { continue };
            let mut out = Vec::new();
            let table = &self.tables[t];
            if let Some(u) = table.indexes[i].find(&table.rows, cols, &key) {
                if let (false, Some(r)) = (txn_rows.contains_key(&u), table.rows.get(&u)) {
                    if cond.evaluate(ts, &r.fields) {
                        out.push(u);
                    }
                }
            }
            for (u, tr) in txn_rows {
                if let Some(n) = &tr.new {
                    if cond.evaluate(ts, &n.fields) {
                        out.push(*u);
                    }
                }
            }
            return out;
        }
        let mut out = Vec::new();
        for (u, r) in &self.tables[t].rows {
            let row: &Row = match txn_rows.get(u) {
                Some(tr) => match &tr.new {
                    Some(n) => n,
                    None => continue,
                },
                None => r,
            };
            if cond.evaluate(ts, &row.fields) {
                out.push(*u);
            }
        }
        for (u, tr) in txn_rows {
            if tr.old.is_none() {
                if let Some(n) = &tr.new {
                    if cond.evaluate(ts, &n.fields) {
                        out.push(*u);
                    }
                }
            }
        }
        out
    }

    /// Pulls row `u` of table `t` into the transaction (if not already) and returns it mutably.
    fn row_mut(&mut self, t: usize, u: Uuid) -> Option<&mut Row> {
        let ncols = self.schema.tables[t].columns.len();
        if !self.rows[t].contains_key(&u) {
            let old = self.tables[t].rows.get(&u)?.clone();
            let new = (*old).clone();
            self.rows[t].insert(
                u,
                TxnRow {
                    old: Some(old),
                    new: Some(new),
                    changed: vec![false; ncols],
                },
            );
        }
        self.rows[t].get_mut(&u).and_then(|tr| tr.new.as_mut())
    }

    /// Like [`Txn::row_mut`], also returning the row's per-column flags, in which the caller marks
    /// the columns it may modify: only marked columns are compared with the old row at commit.
    fn row_touch(&mut self, t: usize, u: Uuid) -> Option<(&mut Row, &mut [bool])> {
        self.row_mut(t, u)?;
        let tr = self.rows[t].get_mut(&u)?;
        Some((tr.new.as_mut()?, tr.changed.as_mut_slice()))
    }

    fn op_insert<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>) -> Result<Option<Uuid>, Stop> {
        let t = self.parse_table(p);
        let uuid_json = p.member("uuid", Kind::Str, true);
        let uuid_name = p.member("uuid-name", Kind::Id, true).and_then(J::as_str);
        let row_json = p.member("row", Kind::Object, false);
        let (Some(t), Some(row_json)) = (t, row_json) else {
            return Ok(None);
        };
        if p.has_error() {
            return Ok(None);
        }
        let mut explicit = None;
        if let Some(uj) = uuid_json {
            let s = uj.as_str().unwrap_or_default();
            let u = crate::atom::parse_uuid_str(s)
                .ok_or_else(|| Stop::Failed(Error::syntax_at(Some(uj), "bad uuid")))?;
            explicit = Some((u, uj));
        }
        self.insert_row(
            t,
            explicit.map(|(u, uj)| (u, move || uj.to_json_string())),
            uuid_name,
            |txn| txn.parse_row(t, row_json),
        )
    }

    /// The part of an `insert` after its members were read: the row's UUID (`explicit`, with
    /// the text of its member for an error, or drawn), its `uuid-name` symbol, the row itself
    /// (`parse_row`, which also gives the columns the row named), the constraints of the
    /// columns it did not name, its `_version`, in this order (the order of the random draws
    /// and of the errors).
    fn insert_row<S: FnOnce() -> String>(
        &mut self,
        t: usize,
        explicit: Option<(Uuid, S)>,
        uuid_name: Option<&str>,
        parse_row: impl FnOnce(&mut Self) -> Result<(Row, NamedColumns)>,
    ) -> Result<Option<Uuid>, Stop> {
        let explicit = match explicit {
            Some((u, syntax)) => {
                if self.rows[t].contains_key(&u) || self.tables[t].rows.contains_key(&u) {
                    return Err(Stop::Failed(Error::DuplicateUuid {
                        details: "This UUID would duplicate a UUID already present within the table or deleted \
                                  within the same transaction."
                            .into(),
                        syntax: Some(syntax()),
                    }));
                }
                Some(u)
            }
            None => None,
        };
        let uuid = if let Some(name) = uuid_name {
            let sym = self.symbols().resolve(name).unwrap_or_default();
            let entry = self.symbols.get_mut(name);
            if let Some(s) = entry {
                if s.created {
                    return Err(Stop::Failed(Error::DuplicateUuidName {
                        details: "This \"uuid-name\" appeared on an earlier \"insert\" operation."
                            .into(),
                        syntax: Some(json!(name).to_string()),
                    }));
                }
                s.created = true;
                if let Some(u) = explicit {
                    s.uuid = u;
                }
                s.uuid
            } else {
                sym
            }
        } else {
            match explicit {
                Some(u) => u,
                None => Database::random_uuid(self.rng),
            }
        };
        let (mut row, named) = parse_row(self).map_err(Stop::Failed)?;
        let ts = &self.schema.tables[t];
        for c in ts.user_columns() {
            let d = &row.fields[c.index];
            // A column the row named was checked atom by atom as it was read.
            if d.len() == 1 && !named.contains(c.index) {
                d.check_constraints(&c.type_).map_err(Stop::Failed)?;
            }
        }
        row.fields[COL_UUID] = Datum::scalar(Atom::Uuid(uuid));
        row.fields[COL_VERSION] = Datum::scalar(Atom::Uuid(Database::random_uuid(self.rng)));
        let ncols = ts.columns.len();
        self.rows[t].insert(
            uuid,
            TxnRow {
                old: None,
                new: Some(row),
                changed: vec![true; ncols],
            },
        );
        Ok(Some(uuid))
    }

    fn op_select<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>) -> Result<Value, Stop> {
        let t = self.parse_table(p);
        let where_ = p.member("where", Kind::Array, false);
        let columns = p.member("columns", Kind::Array, true);
        let sort = p.member("sort", Kind::Array, true);
        let Some(t) = t else { return Ok(json!({})) };
        if p.has_error() {
            return Ok(json!({}));
        }
        let cond = self.parse_where(t, where_).map_err(Stop::Failed)?;
        let cols = self.parse_columns(t, columns).map_err(Stop::Failed)?;
        let sort = match sort {
            Some(_) => self.parse_columns(t, sort).map_err(Stop::Failed)?,
            None => Vec::new(),
        };
        let ts = &self.schema.tables[t];
        let mut rows: Vec<&Row> = self
            .query(t, &cond)
            .iter()
            .filter_map(|u| self.current(t, u))
            .collect();
        if !cols.contains(&COL_UUID) {
            // Datums as keys: their only interior mutability is a set's build-once slice cache
            // (`datum::Atoms`), which never changes its hash or equality.
            #[allow(clippy::mutable_key_type)]
            let mut seen = HashSet::new();
            rows.retain(|r| {
                seen.insert(
                    cols.iter()
                        .map(|&c| r.fields[c].clone())
                        .collect::<Vec<_>>(),
                )
            });
        }
        if !sort.is_empty() {
            rows.sort_by(|a, b| {
                sort.iter()
                    .map(|&c| a.fields[c].compare_3way(&b.fields[c]))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        let out: Vec<Value> = rows.iter().map(|r| r.to_json(ts, &cols)).collect();
        Ok(json!({ "rows": out }))
    }

    fn op_update<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>, op: &J) -> Result<Value, Stop> {
        let t = self.parse_table(p);
        let where_ = p.member("where", Kind::Array, false);
        let row_json = p.member("row", Kind::Object, false);
        let (Some(t), Some(row_json)) = (t, row_json) else {
            return Ok(json!({}));
        };
        if p.has_error() {
            return Ok(json!({}));
        }
        let named = self.parse_row_columns(t, row_json).map_err(Stop::Failed)?;
        let ts = &self.schema.tables[t];
        for &(c, _) in &named {
            if !ts.columns[c].mutable {
                return Err(Stop::Failed(Error::ConstraintViolation {
                    details: format!(
                        "Cannot update immutable column {} in table {}.",
                        ts.columns[c].name, ts.name
                    ),
                    syntax: Some(op.to_json_string()),
                }));
            }
        }
        let cond = self.parse_where(t, where_).map_err(Stop::Failed)?;
        let matches = self.query(t, &cond);
        for u in &matches {
            let same = self
                .current(t, u)
                .is_some_and(|r| named.iter().all(|(c, d)| r.fields[*c] == *d));
            if !same {
                if let Some((r, touched)) = self.row_touch(t, *u) {
                    for (c, d) in &named {
                        touched[*c] = true;
                        r.fields[*c] = d.clone();
                    }
                }
            }
        }
        Ok(json!({ "count": matches.len() }))
    }

    fn op_mutate<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>) -> Result<Value, Stop> {
        let t = self.parse_table(p);
        let where_ = p.member("where", Kind::Array, false);
        let muts = p.member("mutations", Kind::Array, false);
        let (Some(t), Some(muts)) = (t, muts) else {
            return Ok(json!({}));
        };
        if p.has_error() {
            return Ok(json!({}));
        }
        let schema = self.schema;
        let ts = &schema.tables[t];
        let mut mutations = Vec::new();
        for m in muts.as_array().unwrap_or(&[]) {
            mutations.push(Mutation::from_json(ts, m, &mut self.symbols()).map_err(Stop::Failed)?);
        }
        let cond = self.parse_where(t, where_).map_err(Stop::Failed)?;
        let matches = self.query(t, &cond);
        for u in &matches {
            if let Some((r, touched)) = self.row_touch(t, *u) {
                for m in &mutations {
                    touched[m.column] = true;
                    m.apply(&mut r.fields[m.column], &ts.columns[m.column].type_)
                        .map_err(Stop::Failed)?;
                }
            }
        }
        Ok(json!({ "count": matches.len() }))
    }

    fn op_delete<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>) -> Result<Value, Stop> {
        let where_ = p.member("where", Kind::Array, false);
        let t = self.parse_table(p);
        let Some(t) = t else { return Ok(json!({})) };
        if p.has_error() {
            return Ok(json!({}));
        }
        let cond = self.parse_where(t, where_).map_err(Stop::Failed)?;
        let matches = self.query(t, &cond);
        let ncols = self.schema.tables[t].columns.len();
        for u in &matches {
            match self.rows[t].get_mut(u) {
                Some(tr) if tr.old.is_none() => {
                    self.rows[t].remove(u);
                }
                Some(tr) => tr.new = None,
                None => {
                    let old = self.tables[t].rows.get(u).cloned();
                    self.rows[t].insert(
                        *u,
                        TxnRow {
                            old,
                            new: None,
                            changed: vec![false; ncols],
                        },
                    );
                }
            }
        }
        Ok(json!({ "count": matches.len() }))
    }

    fn op_wait<J: JsonView>(&mut self, p: &mut ObjParser<'_, J>) -> Result<Value, Stop> {
        let timeout = p.member("timeout", Kind::Integer, true);
        let where_ = p.member("where", Kind::Array, false);
        let columns = p.member("columns", Kind::Array, true);
        let until = p.member("until", Kind::Str, false).and_then(J::as_str);
        let rows = p.member("rows", Kind::Array, false);
        let t = self.parse_table(p);
        let (Some(t), Some(until), Some(rows)) = (t, until, rows) else {
            return Ok(json!({}));
        };
        if p.has_error() {
            return Ok(json!({}));
        }
        let cond = self.parse_where(t, where_).map_err(Stop::Failed)?;
        let cols = self.parse_columns(t, columns).map_err(Stop::Failed)?;
        let timeout_ms = match timeout {
            Some(tj) => {
                let v = crate::atom::json_to_i64(tj).unwrap_or(0);
                if v < 0 {
                    return Err(Stop::Failed(Error::syntax_at(
                        Some(tj),
                        "timeout must be nonnegative",
                    )));
                }
                let v = v as u64;
                self.timeout_ms = Some(self.timeout_ms.map_or(v, |x| x.min(v)));
                Some(v)
            }
            None => None,
        };
        if until != "==" && until != "!=" {
            return Err(Stop::Failed(Error::syntax_at(
                p_until_json(until).as_ref(),
                "\"until\" must be \"==\" or \"!=\"",
            )));
        }
        // Datums as keys: their only interior mutability is a set's build-once slice cache
        // (`datum::Atoms`), which never changes its hash or equality.
        #[allow(clippy::mutable_key_type)]
        let mut expected: HashSet<Vec<Datum>> = HashSet::new();
        for rj in rows.as_array().unwrap_or(&[]) {
            let (row, _) = self.parse_row(t, rj).map_err(Stop::Failed)?;
            expected.insert(cols.iter().map(|&c| row.fields[c].clone()).collect());
        }
        #[allow(clippy::mutable_key_type)]
        let mut actual: HashSet<Vec<Datum>> = HashSet::new();
        let mut equal = true;
        for u in self.query(t, &cond) {
            if let Some(r) = self.current(t, &u) {
                let key: Vec<Datum> = cols.iter().map(|&c| r.fields[c].clone()).collect();
                if !expected.contains(&key) {
                    equal = false;
                    break;
                }
                actual.insert(key);
            }
        }
        if equal {
            equal = actual.len() == expected.len();
        }
        if (until == "==") != equal {
            match timeout_ms {
                Some(to) if self.elapsed_ms >= to => {
                    let details = if self.elapsed_ms > 0 {
                        format!("\"wait\" timed out after {} ms", self.elapsed_ms)
                    } else {
                        "\"where\" clause test failed".to_owned()
                    };
                    return Err(Stop::Failed(Error::TimedOut(details)));
                }
                _ => return Err(Stop::Blocked),
            }
        }
        Ok(json!({}))
    }

    // ----- commit -----

    fn refs_of(&self, refs: &FastMap<(usize, Uuid), i64>, t: usize, u: Uuid) -> i64 {
        refs.get(&(t, u))
            .copied()
            .unwrap_or_else(|| self.tables[t].refs.get(&u).map_or(0, |&n| n as i64))
    }

    /// Adjusts the reference count of `target` (referenced from column `col` of row `src` of
    /// table `t`) by `delta`; an added reference to a missing row is a referential integrity
    /// violation.
    fn adjust_ref(
        &mut self,
        refs: &mut FastMap<(usize, Uuid), i64>,
        t: usize,
        col: usize,
        src: Uuid,
        (rt, u): (usize, Uuid),
        delta: i64,
    ) -> Result<()> {
        let schema = self.schema;
        let exists = self.rows[rt].contains_key(&u) || self.row_mut(rt, u).is_some();
        if !exists {
            if delta > 0 {
                return Err(Error::ReferentialIntegrity(format!(
                    "Table {} column {} row {src} references nonexistent row {u} in table {}.",
                    schema.tables[t].name,
                    schema.tables[t].columns[col].name,
                    schema.tables[rt].name
                )));
            }
            return Ok(());
        }
        let committed = &self.tables[rt].refs;
        *refs
            .entry((rt, u))
            .or_insert_with(|| committed.get(&u).map_or(0, |&n| n as i64)) += delta;
        Ok(())
    }

    /// Deletes an unreferenced row of a non-root table and, transitively, the rows only it kept
    /// alive (iteratively: reference chains may be long).
    fn delete_garbage_row(&mut self, refs: &mut FastMap<(usize, Uuid), i64>, t: usize, u: Uuid) {
        let schema = self.schema;
        let mut stack = vec![(t, u)];
        while let Some((t, u)) = stack.pop() {
            if schema.tables[t].is_root {
                continue;
            }
            let Some(tr) = self.rows[t].get_mut(&u) else {
                continue;
            };
            let Some(row) = tr.new.take() else { continue };
            tr.changed.iter_mut().for_each(|c| *c = true);
            let mut targets = Vec::new();
            for c in schema.tables[t].user_columns() {
                strong_targets(&c.type_, &row.fields[c.index], u, &mut targets);
            }
            for (rt, x) in targets {
                if !self.rows[rt].contains_key(&x) && self.row_mut(rt, x).is_none() {
                    continue;
                }
                let n = self.refs_of(refs, rt, x) - 1;
                refs.insert((rt, x), n);
                if n == 0 {
                    stack.push((rt, x));
                }
            }
        }
    }

    fn exists_after(&self, t: usize, u: &Uuid) -> bool {
        self.current(t, u).is_some()
    }

    fn precommit(&mut self) -> Result<Prepared> {
        let schema = self.schema;
        // 1. What actually changed; drop no-op modifications.
        for (_, m) in &mut self.rows.tables {
            m.retain(|_, tr| match (&tr.old, &tr.new) {
                (Some(old), Some(new)) => {
                    // Columns never touched by an operation are still equal to the old ones.
                    let mut any = false;
                    for (i, c) in tr.changed.iter_mut().enumerate() {
                        *c = *c && old.fields[i] != new.fields[i];
                        any |= *c;
                    }
                    any
                }
                (None, None) => false,
                // Inserted rows have every column flagged from their insert on (nothing
                // clears a flag but the arm above): their flags are not read or written
                // here (each is a cache miss in a commit of hundreds of thousands of rows).
                (None, Some(_)) => {
                    debug_assert!(
                        tr.changed.iter().all(|&c| c),
                        "inserted row not all flagged"
                    );
                    true
                }
                (Some(_), None) => {
                    tr.changed.iter_mut().for_each(|c| *c = true);
                    true
                }
            });
        }
        if self.rows.iter().all(|(_, m)| m.is_empty()) {
            return Ok(Prepared {
                changes: ChangeSet::default(),
                refs: FastMap::default(),
            });
        }

        // 2. Reference counts and referential integrity.
        let mut refs: FastMap<(usize, Uuid), i64> = FastMap::default();
        let work: Vec<(usize, Uuid)> = self
            .rows
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |u| (t, *u)))
            .collect();
        // (column, target, delta) of every row, computed under a shared borrow (a big
        // transaction's on two threads, each half of the rows: reading each row's columns is
        // a cache miss), then applied in the rows' order, so the first error is the same.
        let rows = &self.rows;
        let compute = |part: &[(usize, Uuid)]| {
            let mut adjustments: Vec<RefAdjustment> = Vec::new();
            let mut ends = Vec::with_capacity(part.len());
            let (mut plus, mut minus) = (Vec::new(), Vec::new());
            for &(t, u) in part {
                if let Some(tr) = rows[t].get(&u) {
                    let ts = &schema.tables[t];
                    ref_adjustments(ts, u, tr, &mut plus, &mut minus, &mut adjustments);
                }
                ends.push(adjustments.len());
            }
            (adjustments, ends)
        };
        let parts = if work.len() >= PARALLEL_ROWS {
            let (first, second) = work.split_at(work.len() / 2);
            let (a, b) = std::thread::scope(|scope| {
                let later = scope.spawn(|| compute(second));
                let a = compute(first);
                // A panic in the thread is the same bug as one here: pass it on.
                let b = later
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (a, b)
            });
            vec![(first, a), (second, b)]
        } else {
            vec![(&work[..], compute(&work))]
        };
        for (part, (adjustments, ends)) in parts {
            let mut start = 0;
            for (&(t, u), &end) in part.iter().zip(&ends) {
                for &(col, target, delta) in &adjustments[start..end] {
                    self.adjust_ref(&mut refs, t, col, u, target, delta)?;
                }
                start = end;
            }
        }
        for (t, m) in self.rows.iter() {
            for (u, tr) in m {
                if tr.old.is_some() && tr.new.is_none() {
                    let n = self.refs_of(&refs, t, *u);
                    if n > 0 {
                        return Err(Error::ReferentialIntegrity(format!(
                            "cannot delete {} row {u} because of {n} remaining reference(s)",
                            schema.tables[t].name
                        )));
                    }
                }
            }
        }

        // 3. Garbage-collect unreferenced rows of non-root tables.
        loop {
            let mut candidates = Vec::new();
            for (t, m) in self.rows.iter() {
                if schema.tables[t].is_root {
                    continue;
                }
                for (u, tr) in m {
                    if tr.new.is_some() && self.refs_of(&refs, t, *u) == 0 {
                        candidates.push((t, *u));
                    }
                }
            }
            if candidates.is_empty() {
                break;
            }
            for (t, u) in candidates {
                self.delete_garbage_row(&mut refs, t, u);
            }
        }

        // 4. maxRows.
        for (t, m) in self.rows.iter() {
            if m.is_empty() {
                continue;
            }
            if let Some(max) = schema.tables[t].max_rows {
                let mut n = self.tables[t].rows.len() as i64;
                for tr in m.values() {
                    match (&tr.old, &tr.new) {
                        (Some(_), None) => n -= 1,
                        (None, Some(_)) => n += 1,
                        _ => {}
                    }
                }
                if n > max as i64 {
                    return Err(Error::constraint(format!(
                        "transaction causes \"{}\" table to contain {n} rows, greater than the schema-defined \
                         limit of {max} row(s)",
                        schema.tables[t].name
                    )));
                }
            }
        }

        // 5. Weak references: rows referring to deleted rows get those references removed.
        let mut deleted = Vec::new();
        for (t, m) in self.rows.iter() {
            for (u, tr) in m {
                if tr.old.is_some() && tr.new.is_none() {
                    deleted.push((t, *u));
                }
            }
        }
        for key in deleted {
            if let Some(srcs) = self.weak_refs.get(&key) {
                let srcs: Vec<(usize, Uuid)> = srcs.iter().copied().collect();
                for (st, su) in srcs {
                    if !self.rows[st].contains_key(&su) {
                        let _ = self.row_mut(st, su);
                    }
                }
            }
        }
        for t in self.rows.table_indexes() {
            if self.rows[t].is_empty() {
                continue;
            }
            let ts = &schema.tables[t];
            let weak_cols: Vec<usize> = ts
                .user_columns()
                .iter()
                .filter(|c| c.type_.has_weak_refs())
                .map(|c| c.index)
                .collect();
            if weak_cols.is_empty() {
                continue;
            }
            let uuids: Vec<Uuid> = self.rows[t].keys().copied().collect();
            for u in uuids {
                for &c in &weak_cols {
                    let ty = &ts.columns[c].type_;
                    let Some(datum) = self.rows[t]
                        .get(&u)
                        .and_then(|tr| tr.new.as_ref())
                        .map(|r| &r.fields[c])
                    else {
                        continue;
                    };
                    let kt = ty
                        .key
                        .is_weak_ref()
                        .then(|| ty.key.ref_table_index())
                        .flatten();
                    let vt = ty
                        .value
                        .as_ref()
                        .and_then(|v| v.is_weak_ref().then(|| v.ref_table_index()).flatten());
                    let dangling = |a: &Atom, rt: Option<usize>| -> bool {
                        match (rt, a.as_uuid()) {
                            (Some(rt), Some(x)) => {
                                !(self.exists_after(rt, &x) || (x == u && rt == t))
                            }
                            _ => false,
                        }
                    };
                    let mut any = false;
                    datum.for_each_atom(|a, is_key| {
                        any |= dangling(a, if is_key { kt } else { vt })
                    });
                    if !any {
                        continue;
                    }
                    let mut zero = false;
                    let mut d = datum.clone();
                    let removed = d.remove_where(|k, v| {
                        let drop = dangling(k, kt) || v.is_some_and(|v| dangling(v, vt));
                        if drop
                            && (k.as_uuid() == Some(Uuid::nil())
                                || v.and_then(Atom::as_uuid) == Some(Uuid::nil()))
                        {
                            zero = true;
                        }
                        drop
                    });
                    if removed == 0 {
                        continue;
                    }
                    let too_small = (d.len() as u64) < ty.min;
                    let Some(tr) = self.rows[t].get_mut(&u) else {
                        continue;
                    };
                    let inserted = tr.old.is_none();
                    if too_small {
                        let cname = &ts.columns[c].name;
                        return Err(Error::constraint(if zero && inserted {
                            format!(
                                "Weak reference column \"{cname}\" in \"{}\" row {u} (inserted within this \
                                 transaction) contained all-zeros UUID (probably as the default value for this \
                                 column) but deleting this value caused a constraint volation because this column \
                                 is not allowed to be empty.",
                                ts.name
                            )
                        } else {
                            format!(
                                "Deletion of {removed} weak reference(s) to deleted (or never-existing) rows from \
                                 column \"{cname}\" in \"{}\" row {u} {}caused this column to become empty, but \
                                 constraints on this column disallow an empty column.",
                                ts.name,
                                if inserted { "(inserted within this transaction) " } else { "" }
                            )
                        }));
                    }
                    tr.changed[c] = true;
                    if let Some(n) = tr.new.as_mut() {
                        n.fields[c] = d;
                    }
                }
            }
        }

        // 6. Unique indexes. Keys are compared through their hashes: `seen` maps a hash to the
        // latest row of this transaction with that hash, `chain` links earlier ones.
        const END: usize = usize::MAX;
        for (t, m) in self.rows.iter() {
            if m.is_empty() {
                continue;
            }
            let ts = &schema.tables[t];
            let table = &self.tables[t];
            for (i, cols) in ts.indexes.iter().enumerate() {
                let index = &table.indexes[i];
                let same_key = |a: &Row, b: &Row| cols.iter().all(|&c| a.fields[c] == b.fields[c]);
                // A transaction touching one row has nothing to compare within itself.
                let capacity = if m.len() > 1 { m.len() } else { 0 };
                let mut seen: PrehashedMap<usize> =
                    PrehashedMap::with_capacity_and_hasher(capacity, Default::default());
                let mut chain: Vec<(&Row, Uuid, usize)> = Vec::with_capacity(capacity);
                for (u, tr) in m {
                    let Some(new) = &tr.new else { continue };
                    let hash = index.hash_key(cols.iter().map(|&c| &new.fields[c]));
                    let mut other = None;
                    let mut at = seen.get(&hash).copied().unwrap_or(END);
                    while at != END {
                        let (row, ou, next) = chain[at];
                        if same_key(row, new) {
                            other = Some(ou);
                            break;
                        }
                        at = next;
                    }
                    if other.is_none() {
                        other = index.candidates(hash).iter().copied().find(|o| {
                            o != u
                                && !m.contains_key(o)
                                && table.rows.get(o).is_some_and(|r| same_key(r, new))
                        });
                    }
                    if let Some(o) = other {
                        let names: Vec<&str> =
                            cols.iter().map(|&c| ts.columns[c].name.as_str()).collect();
                        let vals: Vec<String> = cols
                            .iter()
                            .map(|&c| new.fields[c].to_json().to_string())
                            .collect();
                        return Err(Error::constraint(format!(
                            "Transaction causes multiple rows in \"{}\" table to have identical values ({}) for \
                             index on column{} \"{}\".  First row, with UUID {o}, and second row, with UUID {u}.",
                            ts.name,
                            vals.join(", "),
                            if names.len() > 1 { "s" } else { "" },
                            names.join("\", \"")
                        )));
                    }
                    if m.len() > 1 {
                        let next = seen.insert(hash, chain.len()).unwrap_or(END);
                        chain.push((new, *u, next));
                    }
                }
            }
        }

        // 7. New _version for modified rows; build the change set.
        let mut changes = ChangeSet::default();
        for (t, entries) in std::mem::take(&mut self.rows.tables) {
            let mut rows = Vec::new();
            for (u, mut tr) in entries {
                match (&tr.old, &mut tr.new) {
                    (None, None) => continue,
                    (Some(_), Some(_)) if !tr.changed.iter().any(|&c| c) => continue,
                    (Some(_), Some(n)) => {
                        n.fields[COL_VERSION] =
                            Datum::scalar(Atom::Uuid(Database::random_uuid(self.rng)));
                        tr.changed[COL_VERSION] = true;
                    }
                    _ => {}
                }
                rows.push(RowChange {
                    uuid: u,
                    old: tr.old,
                    new: tr.new.map(Arc::new),
                    changed: tr.changed,
                });
            }
            if !rows.is_empty() {
                // UUIDs are unique: an unstable sort gives the same order, cheaper. As 128-bit
                // numbers they sort as their bytes do, in one comparison.
                rows.sort_unstable_by_key(|r| r.uuid.as_u128());
                changes.tables.push(TableChanges {
                    table: t,
                    name: schema.tables[t].name.clone(),
                    rows,
                });
            }
        }
        Ok(Prepared { changes, refs })
    }
}

fn p_until_json(until: &str) -> Option<Value> {
    Some(json!(until))
}

/// The tables that keys and values of type `ty` strongly reference, if they do.
fn strong_ref_tables(ty: &ColumnType) -> (Option<usize>, Option<usize>) {
    let kt = ty
        .key
        .is_strong_ref()
        .then(|| ty.key.ref_table_index())
        .flatten();
    let vt = ty
        .value
        .as_ref()
        .and_then(|v| v.is_strong_ref().then(|| v.ref_table_index()).flatten());
    (kt, vt)
}

/// Transactions touching this many rows have their reference counts' changes computed on
/// two threads.
const PARALLEL_ROWS: usize = 1 << 15;

/// Appends to `out` the reference count changes `(column, target, ±1)` that row `u` of table
/// `ts`, touched as `tr`, makes: a column's removed references before its added ones.
/// `plus` and `minus` are scratch buffers.
fn ref_adjustments(
    ts: &crate::schema::TableSchema,
    u: Uuid,
    tr: &TxnRow,
    plus: &mut Vec<(usize, Uuid)>,
    minus: &mut Vec<(usize, Uuid)>,
    out: &mut Vec<RefAdjustment>,
) {
    // Inserted and deleted rows have every column flagged (precommit's step 1).
    let all_changed = tr.old.is_none() || tr.new.is_none();
    for c in ts.user_columns() {
        if !c.type_.has_strong_refs() || !(all_changed || tr.changed[c.index]) {
            continue;
        }
        let ty = &c.type_;
        plus.clear();
        minus.clear();
        match (&tr.old, &tr.new) {
            (Some(o), None) => strong_targets(ty, &o.fields[c.index], u, minus),
            (None, Some(n)) => strong_targets(ty, &n.fields[c.index], u, plus),
            (Some(o), Some(n)) => {
                let (kt, vt) = strong_ref_tables(ty);
                let mut push = |a: &Atom, rt: Option<usize>, added: bool| {
                    if let (Some(rt), Some(x)) = (rt, a.as_uuid()) {
                        if x != u {
                            if added { &mut *plus } else { &mut *minus }.push((rt, x));
                        }
                    }
                };
                o.fields[c.index].for_each_difference(&n.fields[c.index], |k, v, added| {
                    push(k, kt, added);
                    if let Some(v) = v {
                        push(v, vt, added);
                    }
                });
            }
            (None, None) => {}
        }
        out.extend(minus.iter().map(|&target| (c.index, target, -1)));
        out.extend(plus.iter().map(|&target| (c.index, target, 1)));
    }
}

/// Collects the strong references in `datum` (a value of type `ty` in row `src`), skipping
/// self-references, which do not count.
fn strong_targets(ty: &ColumnType, datum: &Datum, src: Uuid, out: &mut Vec<(usize, Uuid)>) {
    let (kt, vt) = strong_ref_tables(ty);
    if kt.is_none() && vt.is_none() {
        return;
    }
    datum.for_each_atom(|a, is_key| {
        if let (Some(rt), Some(u)) = (if is_key { kt } else { vt }, a.as_uuid()) {
            if u != src {
                out.push((rt, u));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::TxnContext;

    fn db() -> Database {
        let text = include_str!("../tests/data/test.ovsschema");
        Database::with_seed(Schema::from_str_json(text).unwrap(), 7)
    }

    fn run(db: &mut Database, ops: Value) -> TxnOutcome {
        let mut params = vec![json!("Test")];
        params.extend(ops.as_array().unwrap().iter().cloned());
        db.transact(&Value::Array(params), &TxnContext::default())
    }

    fn results(o: &TxnOutcome) -> &Value {
        o.results().unwrap()
    }

    #[test]
    fn change_set_shapes() {
        let mut d = db();
        let o = run(
            &mut d,
            json!([
                {"op": "insert", "table": "Child", "uuid-name": "c", "row": {"value": 1}},
                {"op": "insert", "table": "Parent", "row": {"name": "a", "children": ["named-uuid", "c"]}},
                {"op": "insert", "table": "Child", "row": {"value": 2}},
                {"op": "comment", "comment": "hi"},
                {"op": "commit", "durable": true}
            ]),
        );
        let TxnOutcome::Complete {
            changes: Some(ch), ..
        } = &o
        else {
            panic!("{o:?}")
        };
        assert!(ch.durable);
        assert_eq!(ch.comment.as_deref(), Some("hi"));
        // The unreferenced child was garbage-collected before it ever existed.
        let n: usize = ch.tables.iter().map(|t| t.rows.len()).sum();
        assert_eq!(n, 2);
        assert_eq!(d.rows("Child").unwrap().len(), 1);
        // Unlinking the child deletes it; the change set shows the parent modified and the child deleted.
        let o = run(
            &mut d,
            json!([{"op": "update", "table": "Parent", "where": [], "row": {"children": ["set", []]}}]),
        );
        let TxnOutcome::Complete {
            changes: Some(ch), ..
        } = &o
        else {
            panic!("{o:?}")
        };
        let child = ch.tables.iter().find(|t| t.name == "Child").unwrap();
        assert!(child.rows[0].new.is_none() && child.rows[0].old.is_some());
        let parent = ch.tables.iter().find(|t| t.name == "Parent").unwrap();
        let pc = &parent.rows[0];
        let col = d
            .schema()
            .table("Parent")
            .unwrap()
            .column_index("children")
            .unwrap();
        assert!(pc.changed[col] && pc.changed[COL_VERSION] && !pc.changed[COL_UUID]);
        assert_ne!(
            pc.old.as_ref().unwrap().version(),
            pc.new.as_ref().unwrap().version()
        );
        assert!(d.rows("Child").unwrap().is_empty());
        // A no-op update yields an empty change set.
        let o = run(
            &mut d,
            json!([{"op": "update", "table": "Parent", "where": [], "row": {"name": "a"}}]),
        );
        let TxnOutcome::Complete {
            changes: Some(ch), ..
        } = &o
        else {
            panic!("{o:?}")
        };
        assert!(ch.is_empty());
    }

    #[test]
    fn wait_blocks_until_timeout() {
        let mut d = db();
        let wait = |timeout: Option<u64>| {
            let mut w =
                json!({"op": "wait", "table": "Parent", "where": [], "until": "!=", "rows": []});
            if let Some(t) = timeout {
                w["timeout"] = json!(t);
            }
            json!(["Test", w])
        };
        let ctx = TxnContext::default();
        assert_eq!(
            d.transact(&wait(None), &ctx),
            TxnOutcome::Blocked { timeout_ms: None }
        );
        assert_eq!(
            d.transact(&wait(Some(500)), &ctx),
            TxnOutcome::Blocked {
                timeout_ms: Some(500)
            }
        );
        let late = TxnContext {
            elapsed_ms: 600,
            ..TxnContext::default()
        };
        let o = d.transact(&wait(Some(500)), &late);
        assert_eq!(results(&o)[0]["error"], "timed out");
        let o = d.transact(&wait(Some(0)), &ctx);
        assert_eq!(results(&o)[0]["error"], "timed out");
    }

    #[test]
    fn assert_uses_held_locks() {
        let mut d = db();
        let mut ctx = TxnContext::default();
        let req = json!(["Test", {"op": "assert", "lock": "l"}]);
        assert_eq!(
            d.transact(&req, &ctx).results().unwrap()[0]["error"],
            "not owner"
        );
        ctx.held_locks.insert("l".into());
        assert_eq!(d.transact(&req, &ctx).results().unwrap(), &json!([{}]));
    }

    #[test]
    fn params_errors_and_padding() {
        let mut d = db();
        let ctx = TxnContext::default();
        assert_eq!(
            d.transact(&json!({}), &ctx).results().unwrap()["error"],
            "syntax error"
        );
        assert_eq!(
            d.transact(&json!(["Other"]), &ctx).results().unwrap()["error"],
            "syntax error"
        );
        assert_eq!(
            d.transact(&json!(["Test"]), &ctx).results().unwrap(),
            &json!([])
        );
        let o = run(
            &mut d,
            json!([{"op": "abort"}, {"op": "comment", "comment": "x"}, {"op": "comment", "comment": "y"}]),
        );
        assert_eq!(
            results(&o),
            &json!([{"error": "aborted", "details": "aborted by request"}, null, null])
        );
    }

    #[test]
    fn reserved_database_is_read_only() {
        let schema = Schema::from_json(&json!({"name": "_Server", "version": "1.0.0", "tables": {
            "Database": {"columns": {"name": {"type": "string"}}}}}))
        .unwrap();
        let mut d = Database::new(schema);
        let ctx = TxnContext::default();
        let o = d.transact(
            &json!(["_Server", {"op": "insert", "table": "Database", "row": {}}]),
            &ctx,
        );
        assert_eq!(o.results().unwrap()[0]["error"], "not allowed");
        let o = d.transact(
            &json!(["_Server", {"op": "select", "table": "Database", "where": []}]),
            &ctx,
        );
        assert_eq!(o.results().unwrap(), &json!([{"rows": []}]));
    }

    #[test]
    fn long_garbage_chain_does_not_recurse() {
        let mut d = db();
        let n = 20_000;
        let mut ops = Vec::new();
        for i in 0..n {
            let mut row = json!({"value": i});
            if i + 1 < n {
                row["sub"] = json!(["named-uuid", format!("c{}", i + 1)]);
            }
            ops.push(
                json!({"op": "insert", "table": "Child", "uuid-name": format!("c{i}"), "row": row}),
            );
        }
        ops.push(json!({"op": "insert", "table": "Parent", "row": {"name": "p", "children": ["named-uuid", "c0"]}}));
        let o = run(&mut d, Value::Array(ops));
        assert!(o
            .results()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("error").is_none()));
        assert_eq!(d.rows("Child").unwrap().len(), n);
        let o = run(
            &mut d,
            json!([{"op": "delete", "table": "Parent", "where": []}]),
        );
        assert_eq!(results(&o), &json!([{"count": 1}]));
        assert!(d.rows("Child").unwrap().is_empty());
    }

    #[test]
    fn member_order_matches_ovs_hash_iteration() {
        // Order of a one- and two-member object is stable regardless of hashing details.
        assert_eq!(crate::parser::ovs_member_order(["a"]), vec![0]);
        let o = crate::parser::ovs_member_order(["a", "b", "c", "d", "e"]);
        let mut sorted = o.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
    }

    /// A database with rows the test requests refer to (by `uuid`).
    fn ahead_db() -> Database {
        let mut d = db();
        let o = run(
            &mut d,
            json!([
                {"op": "insert", "table": "Parent", "uuid-name": "p", "row": {"name": "old", "count": 3}},
                {"op": "insert", "table": "Target", "row": {"tag": "t1", "kind": 1}}
            ]),
        );
        assert!(
            matches!(
                o,
                TxnOutcome::Complete {
                    changes: Some(_),
                    ..
                }
            ),
            "{o:?}"
        );
        d
    }

    /// Every committed row of a database, by table, and its generator.
    type State = (Vec<Vec<(Uuid, Row)>>, StdRng);

    /// [`State`] of `d`.
    fn state(d: &Database) -> State {
        let tables = d
            .tables
            .iter()
            .map(|t| {
                let mut rows: Vec<(Uuid, Row)> =
                    t.rows.iter().map(|(u, r)| (*u, Row::clone(r))).collect();
                rows.sort_by_key(|(u, _)| *u);
                rows
            })
            .collect();
        (tables, d.rng.clone())
    }

    /// The reply's `result` text and the request's id, or `None` where the request runs
    /// from its tree.
    type Ran = Option<(Vec<u8>, Value)>;

    fn ran(o: Option<(Outcome<EncodedResults>, JsonRef<'_>)>) -> Ran {
        o.map(|(o, id)| match o {
            Outcome::Complete { results, .. } => (results.into_text(), id.to_value()),
            Outcome::Blocked { .. } => (b"blocked".to_vec(), id.to_value()),
        })
    }

    /// The request run at its end ([`execute_stream`]) on a fresh [`ahead_db`].
    fn at_end(text: &[u8]) -> (Ran, State) {
        let mut d = ahead_db();
        let r = TransactReader::start(text).and_then(|mut req| {
            execute_stream::<EncodedResults>(&mut d, &mut req, &TxnContext::default())
        });
        (ran(r), state(&d))
    }

    /// The request run ahead over its prefixes ending at `cuts`, then finished (or, when
    /// finishing declines, run anew at its end, as the server does), on a fresh
    /// [`ahead_db`]; `meddle` runs on the database after the first prefix.
    fn ahead(
        text: &[u8],
        cuts: &[usize],
        meddle: impl FnOnce(&mut Database),
    ) -> (Ran, State, bool) {
        let mut d = ahead_db();
        let header_end = TransactReader::start(text).map(|r| r.position());
        let mut spec = header_end.map(|h| Speculation::new(&d, h, text.len()));
        let mut meddle = Some(meddle);
        for &c in cuts {
            if let Some(s) = &mut spec {
                if !s.run(&d, &text[..c]) {
                    spec = None;
                }
            }
            if let Some(m) = meddle.take() {
                m(&mut d);
            }
        }
        let ctx = TxnContext::default();
        let finished = spec.and_then(|s| ran(s.finish(&mut d, text, &ctx)));
        let used = finished.is_some();
        let r = match finished {
            Some(r) => Some(r),
            None => ran(TransactReader::start(text)
                .and_then(|mut req| execute_stream::<EncodedResults>(&mut d, &mut req, &ctx))),
        };
        (r, state(&d), used)
    }

    const AHEAD_REQUESTS: &[&str] = &[
        r#"{"id":1,"method":"transact","params":["Test",{"op":"insert","table":"Child","uuid-name":"c","row":{"value":1,"label":"\u00e9t\u00e9 \"q\""}},{"op":"insert","table":"Parent","row":{"name":"a\u00e9é","children":["named-uuid","c"],"ext":["map",[["k","v"]]]}},{"op":"insert","table":"Child","uuid-name":"d","row":{"value":2,"sub":["named-uuid","c"]}},{"op":"update","table":"Parent","where":[["name","==","old"]],"row":{"count":4,"children":["set",[["named-uuid","d"]]]}},{"op":"mutate","table":"Parent","where":[],"mutations":[["nums","insert",["set",[1,2]]]]},{"op":"select","table":"Parent","where":[["name","==","old"]],"columns":["name","count"]},{"op":"comment","comment":"hi"},{"op":"delete","table":"Target","where":[["tag","==","t1"]]}]}"#,
        // Operations not run ahead (`wait`, `commit`, `assert`) stop running ahead.
        r#"{"method":"transact","params":["Test",{"op":"insert","table":"Parent","row":{"name":"x"}},{"op":"wait","table":"Parent","where":[],"columns":["name"],"until":"!=","rows":[]},{"op":"insert","table":"Parent","row":{"name":"y"}},{"op":"commit","durable":false}],"id":"s"}"#,
        // An operation that fails; a commit that fails (duplicate index key).
        r#"{"id":2,"method":"transact","params":["Test",{"op":"insert","table":"Parent","row":{"name":"z"}},{"op":"insert","table":"Nope","row":{}},{"op":"insert","table":"Parent","row":{"name":"w"}}]}"#,
        r#"{"id":3,"method":"transact","params":["Test",{"op":"insert","table":"Parent","row":{"name":"dup"}},{"op":"insert","table":"Parent","row":{"name":"dup"}}]}"#,
        // Not a transact request, or not a valid one: run from the tree.
        r#"{"id":4,"method":"echo","params":["Test",{"op":"insert","table":"Parent","row":{"name":"e"}}]}"#,
        r#"{"id":5,"method":"transact","params":["Test",{"op":"insert","table":"Parent","row":{"name":"e"}} {}]}"#,
        r#"{"id":6,"method":"transact","params":["Test",{"op":"insert","table":"Parent","row":{"name":"e"}},{"op":"insert","table":"Parent","row":{"count":12}}],"id":7}"#,
        r#"{"id":8,"method":"transact","params":["Test", 1, {"op":"insert","table":"Parent","row":{"name":"e"}}]}"#,
    ];

    /// Whatever prefixes a request arrives in, running its operations ahead gives the reply,
    /// the rows and the generator that running it at its end gives.
    #[test]
    fn running_ahead_gives_what_the_end_gives() {
        for text in AHEAD_REQUESTS {
            let text = text.as_bytes();
            let want = at_end(text);
            let mut used = false;
            for cut in 0..=text.len() {
                for cuts in [vec![cut], vec![cut / 2, cut], vec![cut, cut, text.len()]] {
                    let (r, st, u) = ahead(text, &cuts, |_| {});
                    used |= u;
                    assert_eq!(
                        r,
                        want.0,
                        "{} cut at {cuts:?}",
                        String::from_utf8_lossy(text)
                    );
                    assert!(
                        st == want.1,
                        "{} cut at {cuts:?}: rows differ",
                        String::from_utf8_lossy(text)
                    );
                }
            }
            // Text in one piece, one byte at a time.
            let all: Vec<usize> = (1..=text.len()).collect();
            let (r, st, u) = ahead(text, &all, |_| {});
            used |= u;
            assert_eq!(r, want.0);
            assert!(st == want.1);
            if text.starts_with(br#"{"id":1,"#) {
                assert!(used, "never finished from what ran ahead");
            }
        }
    }

    /// A commit (or a failed transaction, which draws UUIDs too) between running ahead and the
    /// end: the request runs anew, on the database as it then is.
    #[test]
    fn running_ahead_is_dropped_when_the_database_changed() {
        let text = AHEAD_REQUESTS[0].as_bytes();
        let other = json!([{"op": "insert", "table": "Parent", "row": {"name": "other"}}]);
        let failing =
            json!([{"op": "insert", "table": "Parent", "row": {"name": "f"}}, {"op": "abort"}]);
        for change in [other, failing] {
            let mut d = ahead_db();
            run(&mut d, change.clone());
            let r = TransactReader::start(text).and_then(|mut req| {
                execute_stream::<EncodedResults>(&mut d, &mut req, &TxnContext::default())
            });
            let want = (ran(r), state(&d));
            for cut in [text.len() / 3, text.len() / 2, text.len()] {
                let (r, st, used) = ahead(text, &[cut, text.len()], |d| {
                    run(d, change.clone());
                });
                assert!(!used);
                assert_eq!(r, want.0);
                assert!(st == want.1);
            }
        }
    }

    /// Inserts the direct reader ([`Txn::direct_op`]) reads or declines, with the members in
    /// several orders, and the values, errors and symbols that matter to it.
    const DIRECT_OPS: &[&str] = &[
        r#"{"op":"insert","table":"Parent","row":{"name":"a","count":-100,"color":"red","ratio":1.5,"flag":true,"tags":["set",["x","yy"]],"nums":["set",[3,1,2]],"reals":["set",[1,2.5,-0,1e2]],"opt_int":["set",[]],"ext":["map",[["k\"q","v\u00e9"],["a","b"]]],"weights":["map",[[3,0.5],[1,2]]],"fixed":7,"scratch":"s"}}"#,
        r#"{"row":{"name":"b","count":1.0,"nums":["set",[1e1,-5]]},"table":"Parent","op":"insert"}"#,
        r#"{"uuid-name":"c1","table":"Child","op":"insert","row":{"value":1,"label":"l"}}"#,
        r#"{"op":"insert","table":"Child","uuid-name":"c2","row":{"sub":["named-uuid","c1"],"value":2,"target":["named-uuid","later"]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"name":"c","children":["set",[["named-uuid","c1"],["named-uuid","c2"]]],"child_map":["map",[["x",["named-uuid","c3"]],["y",["named-uuid","c1"]]]],"one_target":["named-uuid","t9"],"targets":["set",[]],"target_map":["map",[[["named-uuid","t8"],4]]]}}"#,
        r#"{"op":"insert","table":"Child","uuid-name":"c3","row":{"value":3}}"#,
        r#"{"op":"insert","table":"Parent","uuid":"5a5a5a5a-0000-4000-8000-000000000001","row":{"name":"d"}}"#,
        r#"{"op":"insert","table":"Child","uuid":"5a5a5a5a-0000-4000-8000-000000000002","uuid-name":"c4","row":{"value":4}}"#,
        r#"{"op":"insert","table":"Child","row":{"value":5,"sub":["uuid","5a5a5a5a-0000-4000-8000-000000000002"]}}"#,
        r#"{"op":"insert","table":"Target","row":{"tag":"t","kind":2,"port":["set",[80]]}}"#,
        r#"{"op":"insert","table":"Holder","row":{"must":["named-uuid","t9"],"pair":["set",["p","q"]],"uid":["uuid","5a5a5a5a-0000-4000-8000-000000000009"]}}"#,
        r#"{ "op" : "insert" , "table" : "Parent" , "row" : { "name" : "sp" , "ext" : [ "map" , [ [ "k" , "v" ] ] ] } }"#,
        r#"{"op":"insert","table":"Parent","row":{}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[0,-9223372036854775808,9223372036854775807,-1,10]],"opt_int":-7,"count":0}}"#,
        // Errors, each alone after a good insert.
        r#"{"op":"insert","table":"Parent","row":{"count":101}}"#,
        r#"{"op":"insert","table":"Parent","row":{"color":"pink"}}"#,
        r#"{"op":"insert","table":"Parent","row":{"tags":["set",["a","b","c","d"]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"tags":["set",[""]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[1,1]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"ext":["map",[["k","v"],["k","w"]]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nope":1}}"#,
        r#"{"op":"insert","table":"Parent","row":{"name":"x","name":"y"}}"#,
        r#"{"op":"insert","table":"Parent","row":{"_uuid":["uuid","5a5a5a5a-0000-4000-8000-000000000001"]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"count":"1"}}"#,
        r#"{"op":"insert","table":"Parent","row":{"count":1.5}}"#,
        r#"{"op":"insert","table":"Parent","row":{"count":18446744073709551615}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[9223372036854775808]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[-9223372036854775809]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[-0,1]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"count":-101}}"#,
        r#"{"op":"insert","table":"Parent","row":{"ratio":11}}"#,
        r#"{"op":"insert","table":"Parent","row":{"ext":["set",[]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["map",[]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"nums":["set",[1],2]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"children":["set",[["named-uuid","c1"],["uuid","bad"]]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"children":["named-uuid","new1"],"child_map":["map",[["k",["uuid","bad"]]]]}}"#,
        r#"{"op":"insert","table":"Parent","row":{"children":["set",[["named-uuid","c1"],["named-uuid","c1"]]]}}"#,
        r#"{"op":"insert","table":"Child","uuid-name":"c1","row":{"value":9}}"#,
        r#"{"op":"insert","table":"Child","uuid-name":"9bad","row":{"value":9}}"#,
        r#"{"op":"insert","table":"Child","uuid":"5a5a5a5a-0000-4000-8000-000000000002","row":{"value":9}}"#,
        r#"{"op":"insert","table":"Child","uuid":"not-a-uuid","row":{"value":9}}"#,
        r#"{"op":"insert","table":"Holder","row":{"pair":"p"}}"#,
        r#"{"op":"insert","table":"Nope","row":{}}"#,
        r#"{"op":"insert","table":"Parent"}"#,
        r#"{"op":"insert","row":{}}"#,
        r#"{"op":"insert","table":"Parent","row":{},"extra":1}"#,
        r#"{"op":"insert","table":"Parent","row":[]}"#,
        r#"{"op":"insert","op":"insert","table":"Parent","row":{}}"#,
        r#"{"table":"Parent","row":{}}"#,
        r#"{}"#,
        r#"{"op":"select","table":"Parent","where":[]}"#,
    ];

    /// The first operations of [`DIRECT_OPS`], well-formed.
    const DIRECT_GOOD: usize = 14;

    /// Requests made of [`DIRECT_OPS`]: each alone, after each other one, and all in order.
    fn direct_requests() -> Vec<String> {
        let wrap = |ops: &[&str]| {
            format!(
                r#"{{"id":1,"method":"transact","params":["Test",{}]}}"#,
                ops.join(",")
            )
        };
        let mut out = vec![wrap(DIRECT_OPS)];
        for (i, a) in DIRECT_OPS.iter().enumerate() {
            out.push(wrap(&[a]));
            for b in &DIRECT_OPS[..i] {
                out.push(wrap(&[b, a]));
            }
        }
        out
    }

    /// One database running every request of [`direct_requests`], twice over, one after the
    /// other (the direct reader keeps what it read from one transaction to the next): each
    /// reply, the rows and the generator are what a database running the same requests from
    /// their trees gives.
    #[test]
    fn kept_reader_state_gives_what_the_tree_gives() {
        let ctx = TxnContext::default();
        let mut tree_db = ahead_db();
        let mut stream_db = ahead_db();
        let texts = direct_requests();
        let mut streamed = 0;
        for text in texts.iter().chain(&texts) {
            let tree = crate::json::parse(text.as_bytes()).unwrap();
            let params = tree.get("params").unwrap();
            let want = match execute_into::<_, EncodedResults>(&mut tree_db, params, &ctx) {
                Outcome::Complete { results, .. } => results.into_text(),
                Outcome::Blocked { .. } => b"blocked".to_vec(),
            };
            let got = ran(TransactReader::start(text.as_bytes()).and_then(|mut req| {
                execute_stream::<EncodedResults>(&mut stream_db, &mut req, &ctx)
            }));
            let got = match got {
                Some((r, _)) => {
                    streamed += 1;
                    r
                }
                None => match execute_into::<_, EncodedResults>(&mut stream_db, params, &ctx) {
                    Outcome::Complete { results, .. } => results.into_text(),
                    Outcome::Blocked { .. } => b"blocked".to_vec(),
                },
            };
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{text}"
            );
            assert!(state(&stream_db) == state(&tree_db), "{text}: rows differ");
        }
        assert!(streamed > 100, "only {streamed} requests ran streamed");
    }

    /// Inserts read straight from the text give the reply, the rows and the generator that
    /// the whole request's tree gives (whether the request ran one operation at a time, or
    /// was declined and ran from its tree as the server then does).
    #[test]
    fn direct_inserts_give_what_the_tree_gives() {
        let ctx = TxnContext::default();
        let mut streamed = 0;
        for text in direct_requests() {
            let mut d = ahead_db();
            let tree = crate::json::parse(text.as_bytes()).unwrap();
            let params = tree.get("params").unwrap();
            let want = match execute_into::<_, EncodedResults>(&mut d, params, &ctx) {
                Outcome::Complete { results, .. } => results.into_text(),
                Outcome::Blocked { .. } => b"blocked".to_vec(),
            };
            let want_state = state(&d);
            let mut d = ahead_db();
            let got = ran(TransactReader::start(text.as_bytes())
                .and_then(|mut req| execute_stream::<EncodedResults>(&mut d, &mut req, &ctx)));
            let got = match got {
                Some((r, _)) => {
                    streamed += 1;
                    r
                }
                None => match execute_into::<_, EncodedResults>(&mut d, params, &ctx) {
                    Outcome::Complete { results, .. } => results.into_text(),
                    Outcome::Blocked { .. } => b"blocked".to_vec(),
                },
            };
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{text}"
            );
            assert!(state(&d) == want_state, "{text}: rows differ");
        }
        assert!(streamed > 100, "only {streamed} requests ran streamed");
        let direct = direct::RAN.with(std::cell::Cell::get);
        assert!(direct > 500, "only {direct} operations ran directly");
        // The well-formed inserts (those before the errors) are all read directly.
        for op in &DIRECT_OPS[..DIRECT_GOOD] {
            let text = format!(r#"{{"id":1,"method":"transact","params":["Test",{op}]}}"#);
            let before = direct::RAN.with(std::cell::Cell::get);
            let mut d = ahead_db();
            let mut req = TransactReader::start(text.as_bytes()).unwrap();
            let _ = execute_stream::<EncodedResults>(&mut d, &mut req, &ctx);
            let after = direct::RAN.with(std::cell::Cell::get);
            assert_eq!(after, before + 1, "{op} not read directly");
        }
    }
}
