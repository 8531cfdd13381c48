//! Runtime support for typed table models generated from a schema (by `ovnkit-modelgen`).
//!
//! A generated model is one struct per table implementing [`Model`]: a typed field per column,
//! [`Ref<T>`] for references (a reference to one table is not interchangeable with one to
//! another), enums for enum columns, `Option` for 0..1 columns, `BTreeSet`/`Vec` for sets and
//! `BTreeMap` or [`SortedMap`] for maps. This module holds what every generated model shares: the [`Ref`] newtype,
//! the [`AtomValue`] conversions of Rust values to and from [`Atom`]s, the [`FieldReader`] and
//! datum builders the generated code calls, and the conversions to and from [`Row`]s and JSON rows
//! (provided methods of [`Model`]), which check set sizes and constraints against the embedded
//! schema and report errors naming the table and column.
//!
//! Nothing here knows any particular schema.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use serde_json::{Map, Value};

pub use uuid::Uuid;

pub mod sorted;

pub use sorted::SortedMap;

use crate::atom::{Atom, NoSymbols};
use crate::datum::Datum;
use crate::db::Row;
use crate::schema::{Schema, TableSchema, COL_UUID, COL_VERSION};
use crate::types::{AtomicType, ColumnType};

/// A typed reference to a row of the table modelled by `T`: a UUID that cannot be mixed up with a
/// reference to another table.
pub struct Ref<T> {
    uuid: Uuid,
    table: PhantomData<fn() -> T>,
}

impl<T> Ref<T> {
    /// A reference to the row with this UUID.
    pub const fn new(uuid: Uuid) -> Self {
        Self {
            uuid,
            table: PhantomData,
        }
    }

    /// The nil reference (the `_uuid` of a row that was not read from a database).
    pub const fn nil() -> Self {
        Self::new(Uuid::nil())
    }

    /// The referenced row's UUID.
    pub const fn uuid(self) -> Uuid {
        self.uuid
    }

    /// True for the nil UUID.
    pub fn is_nil(self) -> bool {
        self.uuid.is_nil()
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ref<T> {}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<T> Eq for Ref<T> {}

impl<T> PartialOrd for Ref<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders as the UUIDs do, which is how OVSDB orders uuid atoms.
impl<T> Ord for Ref<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.uuid.cmp(&other.uuid)
    }
}

impl<T> Hash for Ref<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<T> Default for Ref<T> {
    fn default() -> Self {
        Self::nil()
    }
}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.uuid)
    }
}

impl<T> fmt::Display for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

impl<T> From<Ref<T>> for Uuid {
    fn from(r: Ref<T>) -> Self {
        r.uuid
    }
}

/// A Rust value that is stored as one OVSDB atom.
pub trait AtomValue: Sized {
    /// The atomic type it is stored as.
    const ATOMIC: AtomicType;
    /// What a valid value is, for error messages ("string", "ACL action", ...).
    const EXPECTED: &'static str;
    /// The value of `atom`, or `None` when the atom has another type or is not an allowed value.
    fn from_atom(atom: &Atom) -> Option<Self>;
    /// The atom storing this value.
    fn to_atom(&self) -> Atom;
}

impl AtomValue for i64 {
    const ATOMIC: AtomicType = AtomicType::Integer;
    const EXPECTED: &'static str = "integer";
    fn from_atom(atom: &Atom) -> Option<Self> {
        match atom {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }
    fn to_atom(&self) -> Atom {
        Atom::Integer(*self)
    }
}

impl AtomValue for f64 {
    const ATOMIC: AtomicType = AtomicType::Real;
    const EXPECTED: &'static str = "real";
    fn from_atom(atom: &Atom) -> Option<Self> {
        match atom {
            Atom::Real(r) => Some(*r),
            _ => None,
        }
    }
    fn to_atom(&self) -> Atom {
        Atom::Real(*self)
    }
}

impl AtomValue for bool {
    const ATOMIC: AtomicType = AtomicType::Boolean;
    const EXPECTED: &'static str = "boolean";
    fn from_atom(atom: &Atom) -> Option<Self> {
        match atom {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }
    fn to_atom(&self) -> Atom {
        Atom::Boolean(*self)
    }
}

impl AtomValue for String {
    const ATOMIC: AtomicType = AtomicType::String;
    const EXPECTED: &'static str = "string";
    fn from_atom(atom: &Atom) -> Option<Self> {
        match atom {
            Atom::String(s) => Some(Self::from(&**s)),
            _ => None,
        }
    }
    fn to_atom(&self) -> Atom {
        Atom::String(self.as_str().into())
    }
}

impl AtomValue for Uuid {
    const ATOMIC: AtomicType = AtomicType::Uuid;
    const EXPECTED: &'static str = "uuid";
    fn from_atom(atom: &Atom) -> Option<Self> {
        atom.as_uuid()
    }
    fn to_atom(&self) -> Atom {
        Atom::Uuid(*self)
    }
}

impl<T> AtomValue for Ref<T> {
    const ATOMIC: AtomicType = AtomicType::Uuid;
    const EXPECTED: &'static str = "uuid";
    fn from_atom(atom: &Atom) -> Option<Self> {
        atom.as_uuid().map(Self::new)
    }
    fn to_atom(&self) -> Atom {
        Atom::Uuid(self.uuid)
    }
}

/// Why a conversion between a typed model and an OVSDB row failed. Every variant names the table
/// and, where it applies, the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An atom of the wrong type, or a value an enum column does not allow.
    #[error("table {table} column {column}: {value} is not a valid {expected}")]
    BadValue {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// The offending atom, as OVSDB displays it.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A set or map with too few or too many elements for the column.
    #[error("table {table} column {column}: {len} elements, but the column takes {min} to {max}")]
    Size {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// Number of elements.
        len: usize,
        /// Minimum allowed.
        min: u64,
        /// Maximum allowed (`u64::MAX` for unlimited).
        max: u64,
    },
    /// A set with a repeated element or a map with a repeated key.
    #[error("table {table} column {column}: duplicate element {value}")]
    Duplicate {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// The repeated atom, as OVSDB displays it.
        value: String,
    },
    /// A set where a map was expected or the reverse.
    #[error("table {table} column {column}: expected a {expected}")]
    Shape {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// "set" or "map".
        expected: &'static str,
    },
    /// A value OVSDB rejects for the column: bad JSON, or outside the column's constraints
    /// (integer range, string length).
    #[error("table {table} column {column}: {source}")]
    Datum {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: String,
        /// The OVSDB error.
        source: crate::error::Error,
    },
    /// A JSON row member that is not a column of the table.
    #[error("table {table} has no column {column}")]
    UnknownColumn {
        /// Table name.
        table: &'static str,
        /// The member name.
        column: String,
    },
    /// A JSON row that is not an object.
    #[error("table {table}: a row must be a JSON object")]
    NotAnObject {
        /// Table name.
        table: &'static str,
    },
    /// A table name the schema does not have.
    #[error("database {database} has no table {table}")]
    UnknownTable {
        /// Database name.
        database: &'static str,
        /// The table name asked for.
        table: String,
    },
}

/// A string that names no value of an enum (the error of the generated enums' `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\" is not a valid {expected}")]
pub struct EnumParseError {
    /// What was expected (the enum's description, with its allowed values).
    pub expected: &'static str,
    /// The rejected text.
    pub value: String,
}

/// The column values of one row, aligned with a model's [`Model::COLUMNS`], for
/// [`Model::from_fields`]. A missing value means the column's default.
#[derive(Debug, Clone)]
pub struct FieldReader<'a> {
    table: &'static str,
    columns: &'static [&'static str],
    uuid: Uuid,
    version: Option<Uuid>,
    datums: Vec<Option<&'a Datum>>,
}

impl<'a> FieldReader<'a> {
    /// A reader over `datums` (one per entry of `columns`).
    pub fn new(
        table: &'static str,
        columns: &'static [&'static str],
        uuid: Uuid,
        version: Option<Uuid>,
        datums: Vec<Option<&'a Datum>>,
    ) -> Self {
        Self {
            table,
            columns,
            uuid,
            version,
            datums,
        }
    }

    /// The row's `_uuid`, typed.
    pub fn uuid<T>(&self) -> Ref<T> {
        Ref::new(self.uuid)
    }

    /// The row's `_version`, when known.
    pub fn version(&self) -> Option<Uuid> {
        self.version
    }

    fn column(&self, i: usize) -> &'static str {
        self.columns.get(i).copied().unwrap_or("?")
    }

    fn datum(&self, i: usize) -> Option<&'a Datum> {
        self.datums.get(i).copied().flatten()
    }

    fn atom<T: AtomValue>(&self, i: usize, atom: &Atom) -> Result<T, ModelError> {
        T::from_atom(atom).ok_or_else(|| ModelError::BadValue {
            table: self.table,
            column: self.column(i),
            value: atom.to_display(),
            expected: T::EXPECTED,
        })
    }

    fn set_atoms(&self, i: usize) -> Result<&'a [Atom], ModelError> {
        match self.datum(i) {
            None => Ok(&[]),
            Some(Datum::Set(atoms)) => Ok(atoms),
            Some(Datum::Map(_)) => Err(self.shape(i, "set")),
        }
    }

    fn shape(&self, i: usize, expected: &'static str) -> ModelError {
        ModelError::Shape {
            table: self.table,
            column: self.column(i),
            expected,
        }
    }

    fn size(&self, i: usize, len: usize, min: u64, max: u64) -> ModelError {
        ModelError::Size {
            table: self.table,
            column: self.column(i),
            len,
            min,
            max,
        }
    }

    /// Column `i` holding exactly one atom (its default when absent).
    pub fn scalar<T: AtomValue + Default>(&self, i: usize) -> Result<T, ModelError> {
        match self.set_atoms(i)? {
            [] if self.datum(i).is_none() => Ok(T::default()),
            [atom] => self.atom(i, atom),
            atoms => Err(self.size(i, atoms.len(), 1, 1)),
        }
    }

    /// Column `i` holding zero or one atom.
    pub fn optional<T: AtomValue>(&self, i: usize) -> Result<Option<T>, ModelError> {
        match self.set_atoms(i)? {
            [] => Ok(None),
            [atom] => self.atom(i, atom).map(Some),
            atoms => Err(self.size(i, atoms.len(), 0, 1)),
        }
    }

    /// Column `i` holding a set, as an ordered set.
    ///
    /// A set datum's atoms are in OVSDB order, which is the Rust order of every element type
    /// but enums: values found in strictly increasing order make the set at once (built
    /// bottom-up, no search per element); otherwise they are inserted one by one (which finds
    /// a repeated element, reported as before).
    pub fn set<T: AtomValue + Ord>(&self, i: usize) -> Result<BTreeSet<T>, ModelError> {
        let atoms = self.set_atoms(i)?;
        if atoms.len() > 1 {
            let mut values: Vec<T> = Vec::with_capacity(atoms.len());
            let mut increasing = true;
            for atom in atoms {
                let v = self.atom(i, atom)?;
                if values.last().is_some_and(|last| *last >= v) {
                    increasing = false;
                    break;
                }
                values.push(v);
            }
            if increasing {
                return Ok(values.into_iter().collect());
            }
        }
        let mut out = BTreeSet::new();
        for atom in atoms {
            if !out.insert(self.atom(i, atom)?) {
                return Err(self.duplicate(i, atom));
            }
        }
        Ok(out)
    }

    /// Column `i` holding a set of values without a total order (reals), in OVSDB order.
    pub fn list<T: AtomValue>(&self, i: usize) -> Result<Vec<T>, ModelError> {
        self.set_atoms(i)?.iter().map(|a| self.atom(i, a)).collect()
    }

    /// Column `i` holding a map.
    pub fn map<K: AtomValue + Ord, V: AtomValue>(
        &self,
        i: usize,
    ) -> Result<BTreeMap<K, V>, ModelError> {
        let mut out = BTreeMap::new();
        for (k, v) in self.map_pairs(i)? {
            if out.insert(self.atom(i, k)?, self.atom(i, v)?).is_some() {
                return Err(self.duplicate(i, k));
            }
        }
        Ok(out)
    }

    /// Column `i` holding a map, as a [`SortedMap`] sized to its pairs.
    pub fn sorted_map<K: AtomValue + Ord, V: AtomValue>(
        &self,
        i: usize,
    ) -> Result<SortedMap<K, V>, ModelError> {
        let atoms = self.map_pairs(i)?;
        let mut pairs: Vec<(K, V)> = Vec::with_capacity(atoms.len());
        for (k, v) in atoms {
            pairs.push((self.atom(i, k)?, self.atom(i, v)?));
        }
        // A map datum's keys are in OVSDB order, which is the Rust order of every key type but
        // enums (declaration order): sort when it differs.
        if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(self.duplicate(i, &w[0].0.to_atom()));
        }
        SortedMap::from_sorted_vec(pairs).ok_or_else(|| self.shape(i, "map"))
    }

    /// Column `i` holding a map whose keys have no total order (reals), in OVSDB order.
    pub fn pairs<K: AtomValue, V: AtomValue>(&self, i: usize) -> Result<Vec<(K, V)>, ModelError> {
        self.map_pairs(i)?
            .iter()
            .map(|(k, v)| Ok((self.atom(i, k)?, self.atom(i, v)?)))
            .collect()
    }

    fn map_pairs(&self, i: usize) -> Result<&'a [(Atom, Atom)], ModelError> {
        match self.datum(i) {
            None => Ok(&[]),
            Some(Datum::Map(pairs)) => Ok(pairs),
            Some(Datum::Set(atoms)) if atoms.is_empty() => Ok(&[]),
            Some(Datum::Set(_)) => Err(self.shape(i, "map")),
        }
    }

    fn duplicate(&self, i: usize, atom: &Atom) -> ModelError {
        ModelError::Duplicate {
            table: self.table,
            column: self.column(i),
            value: atom.to_display(),
        }
    }
}

/// The datum of a scalar column.
pub fn scalar_datum<T: AtomValue>(value: &T) -> Datum {
    Datum::scalar(value.to_atom())
}

/// The datum of an optional column.
pub fn optional_datum<T: AtomValue>(value: Option<&T>) -> Datum {
    Datum::Set(value.map(AtomValue::to_atom).into_iter().collect())
}

/// The datum of a set column, in OVSDB order (duplicates are kept, for the checks to report).
pub fn set_datum<'v, T: AtomValue + 'v>(values: impl IntoIterator<Item = &'v T>) -> Datum {
    let mut atoms: Vec<Atom> = values.into_iter().map(AtomValue::to_atom).collect();
    atoms.sort();
    Datum::Set(atoms.into())
}

/// The datum of a map column, in OVSDB key order (duplicate keys are kept, for the checks to
/// report).
pub fn map_datum<'v, K: AtomValue + 'v, V: AtomValue + 'v>(
    pairs: impl IntoIterator<Item = (&'v K, &'v V)>,
) -> Datum {
    let mut pairs: Vec<(Atom, Atom)> = pairs
        .into_iter()
        .map(|(k, v)| (k.to_atom(), v.to_atom()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Datum::Map(pairs.into())
}

/// Checks a datum built from a model against its column type: size bounds, duplicates and
/// constraints.
fn check_datum(
    table: &'static str,
    column: &'static str,
    ty: &ColumnType,
    datum: &Datum,
) -> Result<(), ModelError> {
    check_datum_as(table, column, ty, has_constraints(ty), datum)
}

/// True when a base type of `ty` constrains its atoms (an enum, a range, a length): only then
/// can [`Datum::check_constraints`] fail.
fn has_constraints(ty: &ColumnType) -> bool {
    ty.key.constrains_atoms() || ty.value.as_ref().is_some_and(|v| v.constrains_atoms())
}

/// [`check_datum`] with `constrained` ([`has_constraints`] of `ty`) known: the atoms are only
/// visited for a type that constrains them (the outcome is the same).
fn check_datum_as(
    table: &'static str,
    column: &'static str,
    ty: &ColumnType,
    constrained: bool,
    datum: &Datum,
) -> Result<(), ModelError> {
    if !datum.conforms_to(ty) {
        return Err(ModelError::Size {
            table,
            column,
            len: datum.len(),
            min: ty.min,
            max: ty.max,
        });
    }
    let dup = match datum {
        Datum::Set(a) => a.windows(2).find(|w| w[0] == w[1]).map(|w| &w[0]),
        Datum::Map(p) => p.windows(2).find(|w| w[0].0 == w[1].0).map(|w| &w[0].0),
    };
    if let Some(atom) = dup {
        return Err(ModelError::Duplicate {
            table,
            column,
            value: atom.to_display(),
        });
    }
    if !constrained {
        return Ok(());
    }
    datum
        .check_constraints(ty)
        .map_err(|source| ModelError::Datum {
            table,
            column: column.to_owned(),
            source,
        })
}

fn uuid_of(datum: Option<&Datum>) -> Option<Uuid> {
    datum.and_then(Datum::first).and_then(Atom::as_uuid)
}

/// Where a model's columns are in rows laid out as one table schema says, with their types in the
/// embedded schema ([`Model::row_layout`]): looked up once for a whole table's rows instead of
/// by name for each row.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// Per entry of [`Model::COLUMNS`]: its index in the rows, its type in the embedded schema
    /// and whether that type constrains its atoms ([`has_constraints`]).
    columns: Vec<(Option<usize>, Option<CheckedType>)>,
}

/// A column's type in the embedded schema, and whether it constrains its atoms.
type CheckedType = (&'static ColumnType, bool);

/// A typed row of one table, as generated by `ovnkit-modelgen`.
///
/// The generated code supplies the names and the field-by-field conversion
/// ([`Model::from_fields`], [`Model::to_datums`]); the provided methods convert whole rows and
/// check sizes and constraints against the embedded schema ([`Model::table_schema`]).
///
/// Conversions from rows and JSON treat an absent column as holding its default value; the `_uuid`
/// of a row not read from a database is nil and its `_version` is `None`.
pub trait Model: Sized + 'static {
    /// The table name.
    const TABLE: &'static str;
    /// The column names, in schema order, without `_uuid` and `_version`.
    const COLUMNS: &'static [&'static str];

    /// The embedded schema of the database the table belongs to.
    fn schema() -> &'static Schema;
    /// The table's schema in [`Model::schema`].
    fn table_schema() -> &'static TableSchema;
    /// The row's `_uuid`.
    fn uuid(&self) -> Ref<Self>;
    /// The row's `_version`, when read from a database.
    fn version(&self) -> Option<Uuid>;
    /// Builds the model from its column values.
    fn from_fields(fields: &FieldReader<'_>) -> Result<Self, ModelError>;
    /// The column values, one per entry of [`Model::COLUMNS`].
    fn to_datums(&self) -> Vec<Datum>;

    /// Reads a row laid out as `table` says (for example a row of a [`crate::Database`] whose
    /// schema differs from the embedded one). Columns `table` lacks take their default values;
    /// columns the model lacks are ignored.
    fn from_row(row: &Row, table: &TableSchema) -> Result<Self, ModelError> {
        Self::from_row_in(row, &Self::row_layout(table))
    }

    /// Where the model's columns are in rows laid out as `table` says (for
    /// [`Model::from_row_in`]).
    fn row_layout(table: &TableSchema) -> RowLayout {
        let ours = Self::table_schema();
        RowLayout {
            columns: Self::COLUMNS
                .iter()
                .map(|&name| {
                    (
                        table.column_index(name),
                        ours.column(name)
                            .map(|c| (&c.type_, has_constraints(&c.type_))),
                    )
                })
                .collect(),
        }
    }

    /// [`Model::from_row`] with the columns found once for many rows of one table.
    fn from_row_in(row: &Row, layout: &RowLayout) -> Result<Self, ModelError> {
        let mut datums = Vec::with_capacity(Self::COLUMNS.len());
        for (&name, &(at, ty)) in Self::COLUMNS.iter().zip(&layout.columns) {
            let datum = at.and_then(|i| row.get(i));
            if let (Some(d), Some((ty, constrained))) = (datum, ty) {
                check_datum_as(Self::TABLE, name, ty, constrained, d)?;
            }
            datums.push(datum);
        }
        let uuid = uuid_of(row.get(COL_UUID)).unwrap_or_default();
        let version = uuid_of(row.get(COL_VERSION));
        Self::from_fields(&FieldReader::new(
            Self::TABLE,
            Self::COLUMNS,
            uuid,
            version,
            datums,
        ))
    }

    /// Writes a row laid out as `table` says, checking sizes and constraints. Columns the model
    /// lacks get their default values; a `None` version is written as the nil UUID.
    fn to_row(&self, table: &TableSchema) -> Result<Row, ModelError> {
        let ours = self.checked_datums()?;
        let fields = table
            .columns
            .iter()
            .map(|col| match col.index {
                COL_UUID => Datum::scalar(Atom::Uuid(self.uuid().uuid())),
                COL_VERSION => Datum::scalar(Atom::Uuid(self.version().unwrap_or_default())),
                _ => Self::COLUMNS
                    .iter()
                    .position(|c| *c == col.name)
                    .and_then(|i| ours.get(i).cloned())
                    .unwrap_or_else(|| col.type_.default_datum()),
            })
            .collect();
        Ok(Row { fields })
    }

    /// The column values, checked against the embedded schema.
    fn checked_datums(&self) -> Result<Vec<Datum>, ModelError> {
        let ours = Self::table_schema();
        let datums = self.to_datums();
        for (i, (name, d)) in Self::COLUMNS.iter().zip(&datums).enumerate() {
            // The schema lists the model's columns in the same order after `_uuid` and
            // `_version`: found by position first, by name otherwise.
            let at = ours.columns.get(i + 2).filter(|c| c.name == *name);
            if let Some(col) = at.or_else(|| ours.column(name)) {
                check_datum(Self::TABLE, name, &col.type_, d)?;
            }
        }
        Ok(datums)
    }

    /// Reads a JSON row (an object of column name to `<value>`, as `select` and `ovsdb-client
    /// dump -f json` give it), including `_uuid` and `_version` when present. Unknown members are
    /// an error.
    fn from_json(json: &Value) -> Result<Self, ModelError> {
        let obj = json
            .as_object()
            .ok_or(ModelError::NotAnObject { table: Self::TABLE })?;
        let ours = Self::table_schema();
        let mut parsed: Vec<Option<Datum>> = vec![None; Self::COLUMNS.len()];
        let mut uuid = Uuid::nil();
        let mut version = None;
        for (name, value) in obj {
            let col = ours.column(name).ok_or_else(|| ModelError::UnknownColumn {
                table: Self::TABLE,
                column: name.clone(),
            })?;
            let datum = Datum::from_json(value, &col.type_, &mut NoSymbols).map_err(|source| {
                ModelError::Datum {
                    table: Self::TABLE,
                    column: name.clone(),
                    source,
                }
            })?;
            match col.index {
                COL_UUID => uuid = uuid_of(Some(&datum)).unwrap_or_default(),
                COL_VERSION => version = uuid_of(Some(&datum)),
                _ => match Self::COLUMNS.iter().position(|c| c == name) {
                    Some(i) => parsed[i] = Some(datum),
                    None => {
                        return Err(ModelError::UnknownColumn {
                            table: Self::TABLE,
                            column: name.clone(),
                        })
                    }
                },
            }
        }
        let datums = parsed.iter().map(Option::as_ref).collect();
        Self::from_fields(&FieldReader::new(
            Self::TABLE,
            Self::COLUMNS,
            uuid,
            version,
            datums,
        ))
    }

    /// The JSON row: every column, plus `_uuid` when not nil and `_version` when known; checked
    /// against the embedded schema.
    fn to_json(&self) -> Result<Value, ModelError> {
        let mut m = Map::new();
        if !self.uuid().is_nil() {
            m.insert("_uuid".into(), Atom::Uuid(self.uuid().uuid()).to_json());
        }
        if let Some(v) = self.version() {
            m.insert("_version".into(), Atom::Uuid(v).to_json());
        }
        m.extend(self.columns_json()?);
        Ok(Value::Object(m))
    }

    /// The columns whose values differ from `old`, as a JSON `<row>` for an `update` operation
    /// that writes only what changed; checked against the embedded schema.
    fn changed_columns_json(&self, old: &Self) -> Result<Map<String, Value>, ModelError> {
        let new = self.checked_datums()?;
        let old = old.to_datums();
        Ok(Self::COLUMNS
            .iter()
            .zip(new)
            .zip(old)
            .filter(|((_, n), o)| n != o)
            .map(|((name, n), _)| ((*name).to_owned(), n.to_json()))
            .collect())
    }

    /// The columns as a JSON `<row>` for `insert` or `update` operations (no `_uuid`, no
    /// `_version`), checked against the embedded schema.
    fn columns_json(&self) -> Result<Map<String, Value>, ModelError> {
        let datums = self.checked_datums()?;
        Ok(Self::COLUMNS
            .iter()
            .zip(datums)
            .map(|(name, d)| ((*name).to_owned(), d.to_json()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;

    #[test]
    fn refs_are_typed_and_ordered_as_uuids() {
        let u1 = Uuid::from_u128(1);
        let u2 = Uuid::from_u128(2);
        let a1: Ref<A> = Ref::new(u1);
        let a2: Ref<A> = Ref::new(u2);
        let b1: Ref<B> = Ref::new(u1);
        assert!(a1 < a2);
        assert_eq!(a1.uuid(), b1.uuid());
        assert_eq!(Ref::<A>::from_atom(&a1.to_atom()), Some(a1));
        assert!(Ref::<A>::default().is_nil());
    }

    #[test]
    fn reader_checks_shapes_and_values() {
        let set = Datum::Set(vec![Atom::Integer(1), Atom::Integer(2)].into());
        let one = Datum::Set(vec![Atom::String("x".into())].into());
        let map = Datum::Map(vec![(Atom::String("k".into()), Atom::String("v".into()))].into());
        let r = FieldReader::new(
            "T",
            &["s", "o", "m"],
            Uuid::nil(),
            None,
            vec![Some(&set), Some(&one), Some(&map)],
        );
        assert_eq!(r.set::<i64>(0).unwrap().len(), 2);
        assert_eq!(r.optional::<String>(1).unwrap().as_deref(), Some("x"));
        assert!(matches!(
            r.optional::<i64>(0),
            Err(ModelError::Size { column: "s", .. })
        ));
        let e = r.scalar::<i64>(1).unwrap_err();
        assert_eq!(e.to_string(), "table T column o: x is not a valid integer");
        assert!(matches!(r.set::<String>(2), Err(ModelError::Shape { .. })));
        assert_eq!(r.map::<String, String>(2).unwrap()["k"], "v");
        assert_eq!(r.sorted_map::<String, String>(2).unwrap()["k"], "v");
        let dup = Datum::Map(
            vec![
                (Atom::String("k".into()), Atom::String("v".into())),
                (Atom::String("k".into()), Atom::String("w".into())),
            ]
            .into(),
        );
        let r = FieldReader::new("T", &["m"], Uuid::nil(), None, vec![Some(&dup)]);
        assert!(matches!(
            r.sorted_map::<String, String>(0),
            Err(ModelError::Duplicate { .. })
        ));
        assert!(matches!(
            r.map::<String, String>(0),
            Err(ModelError::Duplicate { .. })
        ));
        assert_eq!(r.scalar::<i64>(5).unwrap(), 0);
    }
}
