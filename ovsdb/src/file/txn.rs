//! A typed view of transaction records.

use serde_json::{Map, Value};

use super::FileError;

/// A transaction record: `{"_date": ms, "_comment": text, "_is_diff": true, TABLE: {UUID: ROW|null}}`.
///
/// Rows stay JSON (`Value::Object` of column → OVSDB datum JSON, or `Value::Null` for a deleted row); the
/// module docs describe how to apply them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransactionRecord {
    /// `"_date"`: commit time in milliseconds since the epoch.
    pub date_ms: Option<i64>,
    /// `"_comment"`.
    pub comment: Option<String>,
    /// `"_is_diff": true`: modified rows list column diffs instead of new values.
    pub is_diff: bool,
    /// Table name → row UUID (string) → row object, or `null` for a deleted row, in file order.
    pub tables: Map<String, Value>,
}

impl TransactionRecord {
    /// Checks the shape of a transaction record and splits off its `_`-prefixed members. Unknown
    /// `_`-prefixed members are ignored, as ovsdb-server does.
    pub fn from_json(record: &Value) -> Result<Self, FileError> {
        let bad = |table: Option<&str>, reason| FileError::BadTransaction {
            table: table.map(str::to_owned),
            reason,
        };
        let Value::Object(obj) = record else {
            return Err(FileError::NotAnObject);
        };
        let mut txn = Self::default();
        for (key, value) in obj {
            match key.as_str() {
                "_date" => {
                    let date = value
                        .as_i64()
                        .or_else(|| value.as_f64().map(|f| f as i64))
                        .ok_or_else(|| bad(None, "\"_date\" is not a number"))?;
                    txn.date_ms = Some(date);
                }
                "_comment" => {
                    let c = value
                        .as_str()
                        .ok_or_else(|| bad(None, "\"_comment\" is not a string"))?;
                    txn.comment = Some(c.to_owned());
                }
                "_is_diff" => {
                    txn.is_diff = value
                        .as_bool()
                        .ok_or_else(|| bad(None, "\"_is_diff\" is not a boolean"))?;
                }
                k if k.starts_with('_') => {}
                table => {
                    let Value::Object(rows) = value else {
                        return Err(bad(Some(table), "table member is not an object"));
                    };
                    for (uuid, row) in rows {
                        if !is_uuid(uuid) {
                            return Err(bad(Some(table), "row key is not a UUID"));
                        }
                        if !(row.is_object() || row.is_null()) {
                            return Err(bad(Some(table), "row is neither an object nor null"));
                        }
                    }
                    txn.tables.insert(table.to_owned(), value.clone());
                }
            }
        }
        Ok(txn)
    }

    /// The record's JSON, members in the order ovsdb-server 3.1 happens to write most often
    /// (`_date` first, `_is_diff` and `_comment` after the tables).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        if let Some(date) = self.date_ms {
            obj.insert("_date".into(), Value::from(date));
        }
        for (table, rows) in &self.tables {
            obj.insert(table.clone(), rows.clone());
        }
        if self.is_diff {
            obj.insert("_is_diff".into(), Value::Bool(true));
        }
        if let Some(c) = &self.comment {
            obj.insert("_comment".into(), Value::String(c.clone()));
        }
        Value::Object(obj)
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits, as OVSDB prints UUIDs.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
