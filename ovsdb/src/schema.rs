//! `.ovsschema` parsing, validation and serialization (RFC 7047 section 3.2).

use serde_json::{json, Map, Value};

use crate::datum::Datum;
use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::parser::is_id;
use crate::types::{AtomicType, ColumnType};

/// Column index of `_uuid` in every table.
pub const COL_UUID: usize = 0;
/// Column index of `_version` in every table.
pub const COL_VERSION: usize = 1;

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Column type.
    pub type_: ColumnType,
    /// False when updates and mutations may not change the column.
    pub mutable: bool,
    /// True when the column need not be persisted.
    pub ephemeral: bool,
    /// Position in [`TableSchema::columns`] and in a row's fields.
    pub index: usize,
}

/// One table of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// Columns: `_uuid` and `_version` first, then the schema's columns in file order.
    pub columns: Vec<ColumnSchema>,
    /// True for root tables (rows are never garbage-collected).
    pub is_root: bool,
    /// `maxRows`, if any.
    pub max_rows: Option<u64>,
    /// Unique indexes, as lists of column indexes.
    pub indexes: Vec<Vec<usize>>,
    by_name: FastMap<String, usize>,
    /// The default value of every column, by column index (computed once).
    defaults: Vec<Datum>,
}

impl TableSchema {
    /// The column named `name` (including `_uuid` and `_version`).
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.by_name.get(name).map(|&i| &self.columns[i])
    }

    /// Index of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The user-defined columns (everything but `_uuid` and `_version`).
    pub fn user_columns(&self) -> &[ColumnSchema] {
        &self.columns[2..]
    }

    /// The default value of every column (what an insert stores in the columns it does not
    /// name), by column index: each column type's [`ColumnType::default_datum`], computed once.
    pub fn defaults(&self) -> &[Datum] {
        &self.defaults
    }

    fn from_json(name: &str, json: &Value) -> Result<Self> {
        let ctx = |e: Error| prefix_error(e, &format!("table {name}"));
        let obj = json.as_object().ok_or_else(|| {
            Error::syntax_at(Some(json), format!("table {name}: object expected"))
        })?;
        check_members(json, obj, &["columns", "maxRows", "isRoot", "indexes"]).map_err(ctx)?;
        let cols = obj
            .get("columns")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                Error::syntax_at(
                    Some(json),
                    format!("table {name}: \"columns\" object required"),
                )
            })?;
        if cols.is_empty() {
            return Err(Error::syntax_at(
                Some(json),
                format!("table {name} must have at least one column"),
            ));
        }
        let mut columns = vec![
            ColumnSchema {
                name: "_uuid".into(),
                type_: ColumnType::scalar(AtomicType::Uuid),
                mutable: false,
                ephemeral: false,
                index: COL_UUID,
            },
            ColumnSchema {
                name: "_version".into(),
                type_: ColumnType::scalar(AtomicType::Uuid),
                mutable: false,
                ephemeral: false,
                index: COL_VERSION,
            },
        ];
        for (cname, cjson) in cols {
            if !is_id(cname) {
                return Err(Error::syntax_at(
                    Some(cjson),
                    format!("table {name}: column name \"{cname}\" is not a valid identifier"),
                ));
            }
            if cname.starts_with('_') {
                return Err(Error::syntax_at(
                    Some(cjson),
                    format!("table {name}: column name \"{cname}\": names beginning with \"_\" are reserved"),
                ));
            }
            let cctx = |e: Error| prefix_error(e, &format!("table {name} column {cname}"));
            let cobj = cjson.as_object().ok_or_else(|| {
                Error::syntax_at(
                    Some(cjson),
                    format!("table {name} column {cname}: object expected"),
                )
            })?;
            check_members(cjson, cobj, &["type", "ephemeral", "mutable"]).map_err(cctx)?;
            let tjson = cobj.get("type").ok_or_else(|| {
                Error::syntax_at(
                    Some(cjson),
                    format!("table {name} column {cname}: Required 'type' member is missing."),
                )
            })?;
            let type_ = ColumnType::from_json(tjson).map_err(cctx)?;
            let flag = |m: &str, default: bool| -> Result<bool> {
                match cobj.get(m) {
                    None => Ok(default),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(v) => Err(Error::syntax_at(
                        Some(v),
                        format!("table {name} column {cname}: {m} must be a boolean"),
                    )),
                }
            };
            let index = columns.len();
            columns.push(ColumnSchema {
                name: cname.clone(),
                type_,
                mutable: flag("mutable", true)?,
                ephemeral: flag("ephemeral", false)?,
                index,
            });
        }
        let by_name: FastMap<String, usize> =
            columns.iter().map(|c| (c.name.clone(), c.index)).collect();
        let is_root = match obj.get("isRoot") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(Error::syntax_at(
                    Some(v),
                    format!("table {name}: isRoot must be a boolean"),
                ))
            }
        };
        let max_rows =
            match obj.get("maxRows") {
                None => None,
                Some(v) => Some(crate::atom::json_to_i64(v).filter(|n| *n >= 1).ok_or_else(
                    || {
                        Error::syntax_at(
                            Some(v),
                            format!("table {name}: maxRows must be at least 1"),
                        )
                    },
                )? as u64),
            };
        let mut indexes = Vec::new();
        if let Some(ij) = obj.get("indexes") {
            let arr = ij.as_array().ok_or_else(|| {
                Error::syntax_at(Some(ij), format!("table {name}: indexes must be an array"))
            })?;
            for idx in arr {
                let names = idx.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    Error::syntax_at(
                        Some(idx),
                        format!("table {name}: index must be a nonempty array of column names"),
                    )
                })?;
                let mut cols_ix = Vec::new();
                for n in names {
                    let s = n.as_str().ok_or_else(|| {
                        Error::syntax_at(
                            Some(idx),
                            format!("table {name}: array of column names expected"),
                        )
                    })?;
                    let ci = *by_name.get(s).ok_or_else(|| {
                        Error::syntax_at(
                            Some(idx),
                            format!("table {name}: {s} is not a valid column name"),
                        )
                    })?;
                    if columns[ci].ephemeral {
                        return Err(Error::syntax_at(
                            Some(idx),
                            format!("table {name}: ephemeral columns (such as {s}) may not be indexed because they are not persistent"),
                        ));
                    }
                    if cols_ix.contains(&ci) {
                        return Err(Error::syntax_at(
                            Some(idx),
                            format!("table {name}: array of distinct column names expected"),
                        ));
                    }
                    cols_ix.push(ci);
                }
                indexes.push(cols_ix);
            }
        }
        let defaults = columns.iter().map(|c| c.type_.default_datum()).collect();
        Ok(Self {
            name: name.to_owned(),
            columns,
            is_root,
            max_rows,
            indexes,
            by_name,
            defaults,
        })
    }

    fn to_json(&self, default_is_root: bool) -> Value {
        let mut cols = Map::new();
        for c in self.user_columns() {
            let mut m = Map::new();
            m.insert("type".into(), c.type_.to_json());
            if c.ephemeral {
                m.insert("ephemeral".into(), json!(true));
            }
            if !c.mutable {
                m.insert("mutable".into(), json!(false));
            }
            cols.insert(c.name.clone(), Value::Object(m));
        }
        let mut t = Map::new();
        t.insert("columns".into(), Value::Object(cols));
        if let Some(m) = self.max_rows {
            t.insert("maxRows".into(), json!(m));
        }
        if self.is_root != default_is_root {
            t.insert("isRoot".into(), json!(self.is_root));
        }
        if !self.indexes.is_empty() {
            let ix: Vec<Value> = self
                .indexes
                .iter()
                .map(|i| {
                    json!(i
                        .iter()
                        .map(|&c| self.columns[c].name.clone())
                        .collect::<Vec<_>>())
                })
                .collect();
            t.insert("indexes".into(), json!(ix));
        }
        Value::Object(t)
    }
}

/// A database schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Database name.
    pub name: String,
    /// Version, "x.y.z".
    pub version: String,
    /// Checksum string, if the schema has one.
    pub cksum: Option<String>,
    /// Tables in file order.
    pub tables: Vec<TableSchema>,
    by_name: FastMap<String, usize>,
}

impl Schema {
    /// Parses and validates a schema from JSON.
    pub fn from_json(json: &Value) -> Result<Self> {
        let obj = json
            .as_object()
            .ok_or_else(|| Error::syntax_at(Some(json), "schema must be a JSON object"))?;
        check_members(json, obj, &["name", "version", "cksum", "tables"])?;
        let name = match obj.get("name") {
            Some(Value::String(s)) if is_id(s) => s.clone(),
            Some(v) => {
                return Err(Error::syntax_at(
                    Some(v),
                    "schema name must be an identifier",
                ))
            }
            None => {
                return Err(Error::syntax_at(
                    Some(json),
                    "Required 'name' member is missing.",
                ))
            }
        };
        let version = match obj.get("version") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(Error::syntax_at(Some(v), "schema version must be a string")),
            None => {
                return Err(Error::syntax_at(
                    Some(json),
                    "Required 'version' member is missing.",
                ))
            }
        };
        if !is_version(&version) {
            return Err(Error::syntax_at(
                obj.get("version"),
                format!("schema version \"{version}\" not in format x.y.z"),
            ));
        }
        let cksum = match obj.get("cksum") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(Error::syntax_at(Some(v), "cksum must be a string")),
        };
        let tj = obj
            .get("tables")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::syntax_at(Some(json), "Required 'tables' object is missing."))?;
        let mut tables = Vec::new();
        for (tname, tjson) in tj {
            if !is_id(tname) {
                return Err(Error::syntax_at(
                    Some(tjson),
                    format!("table name \"{tname}\" is not a valid identifier"),
                ));
            }
            if tname.starts_with('_') {
                return Err(Error::syntax_at(
                    Some(tjson),
                    format!("table name \"{tname}\": names beginning with \"_\" are reserved"),
                ));
            }
            tables.push(TableSchema::from_json(tname, tjson)?);
        }
        let by_name: FastMap<String, usize> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        // Resolve references.
        for t in &mut tables {
            for c in &mut t.columns {
                for base in std::iter::once(&mut c.type_.key).chain(c.type_.value.as_mut()) {
                    if let Some(rt) = &base.constraints.ref_table {
                        let idx = *by_name.get(rt).ok_or_else(|| {
                            Error::syntax_at(
                                None::<&Value>,
                                format!(
                                    "table {} column {} refers to undefined table {rt}",
                                    t.name, c.name
                                ),
                            )
                        })?;
                        base.ref_table_idx = Some(idx);
                    }
                }
            }
        }
        // Before "isRoot" existed every table was a root: keep that meaning when none is marked.
        if !tables.iter().any(|t| t.is_root) {
            for t in &mut tables {
                t.is_root = true;
            }
        }
        Ok(Self {
            name,
            version,
            cksum,
            tables,
            by_name,
        })
    }

    /// Parses a schema from `.ovsschema` text.
    pub fn from_str_json(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::syntax_at(None::<&Value>, format!("schema is not valid JSON: {e}"))
        })?;
        Self::from_json(&v)
    }

    /// Serializes the schema as ovsdb-server's `get_schema` returns it.
    pub fn to_json(&self) -> Value {
        let default_is_root = self.tables.iter().all(|t| t.is_root);
        let mut tables = Map::new();
        for t in &self.tables {
            tables.insert(t.name.clone(), t.to_json(default_is_root));
        }
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("version".into(), json!(self.version));
        if let Some(c) = &self.cksum {
            m.insert("cksum".into(), json!(c));
        }
        m.insert("tables".into(), Value::Object(tables));
        Value::Object(m)
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    /// Index of the table named `name`.
    pub fn table_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_members(json: &Value, obj: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::syntax_at(
            Some(json),
            format!("Member '{k}' is present but not allowed here."),
        )),
        None => Ok(()),
    }
}

fn prefix_error(e: Error, prefix: &str) -> Error {
    e.prefixed(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_schemas_round_trip() {
        for path in [
            "/usr/share/ovn/ovn-nb.ovsschema",
            "/usr/share/ovn/ovn-sb.ovsschema",
            "/usr/share/openvswitch/vswitch.ovsschema",
        ] {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let s = Schema::from_str_json(&text).unwrap();
            let again = Schema::from_json(&s.to_json()).unwrap();
            assert_eq!(s, again, "{path}");
        }
    }

    #[test]
    fn bad_schemas() {
        let base = |tables: Value| json!({"name": "T", "version": "1.0.0", "tables": tables});
        let cases = [
            json!({"name": "T", "tables": {}}),
            json!({"name": "T", "version": "1.0", "tables": {}}),
            json!({"name": "T-x", "version": "1.0.0", "tables": {}}),
            base(json!({"_a": {"columns": {"x": {"type": "integer"}}}})),
            base(json!({"a": {"columns": {}}})),
            base(json!({"a": {"columns": {"_x": {"type": "integer"}}}})),
            base(json!({"a": {"columns": {"x": {"type": "int"}}}})),
            base(
                json!({"a": {"columns": {"x": {"type": {"key": {"type": "uuid", "refTable": "b"}}}}}}),
            ),
            base(json!({"a": {"columns": {"x": {"type": "integer"}}, "indexes": [["y"]]}})),
            base(
                json!({"a": {"columns": {"x": {"type": "integer", "ephemeral": true}}, "indexes": [["x"]]}}),
            ),
            base(json!({"a": {"columns": {"x": {"type": "integer"}}, "maxRows": 0}})),
            base(json!({"a": {"columns": {"x": {"type": "integer"}}, "bogus": 0}})),
        ];
        for c in cases {
            assert!(Schema::from_json(&c).is_err(), "{c}");
        }
    }

    #[test]
    fn all_root_when_none_marked() {
        let s = Schema::from_json(&json!({"name": "T", "version": "1.0.0", "tables": {
            "a": {"columns": {"x": {"type": "integer"}}}}}))
        .unwrap();
        assert!(s.tables[0].is_root);
        assert!(s.to_json()["tables"]["a"].get("isRoot").is_none());
    }
}
