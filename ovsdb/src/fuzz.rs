//! Entry points for fuzzers (cargo-fuzz targets call these; they must never panic).

use serde_json::{json, Value};

use crate::db::{Database, TxnContext};
use crate::schema::Schema;

/// The schema fuzzed transactions run against: strong and weak references, maps, bounded sets,
/// enums, ranges, indexes, `maxRows`, non-root tables.
pub const FUZZ_SCHEMA: &str = include_str!("../tests/data/test.ovsschema");

/// Feeds arbitrary bytes to the engine: as a schema, and as a sequence of transactions on the
/// fuzz schema (a JSON array of operation arrays, or one operation array). Never panics on any
/// input; returns nothing.
pub fn fuzz_transact(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // As a schema.
    if let Ok(schema) = Schema::from_json(&value) {
        let again = schema.to_json();
        let _ = Schema::from_json(&again);
    }
    let Ok(schema) = Schema::from_str_json(FUZZ_SCHEMA) else {
        return;
    };
    let mut db = Database::with_seed(schema, 0);
    let txns: Vec<Value> = match &value {
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_array) => a.clone(),
        other => vec![other.clone()],
    };
    for (i, ops) in txns.iter().enumerate() {
        let mut params = vec![json!("Test")];
        match ops {
            Value::Array(a) => params.extend(a.iter().cloned()),
            other => params.push(other.clone()),
        }
        let ctx = TxnContext {
            elapsed_ms: i as u64 * 100,
            ..TxnContext::default()
        };
        let _ = db.transact(&Value::Array(params), &ctx);
    }
    // The database must still serialize after whatever happened.
    for t in &db.schema().tables {
        if let Some(rows) = db.rows(&t.name) {
            for r in rows.values() {
                let cols: Vec<usize> = (0..t.columns.len()).collect();
                let _ = r.to_json(t, &cols);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_does_not_panic() {
        for s in [
            "",
            "null",
            "[]",
            "[[]]",
            "[{}]",
            r#"[{"op":"insert","table":"Parent","row":{"count":1e400}}]"#,
            r#"[{"op":"mutate","table":"Parent","where":[],"mutations":[["nums","insert",["set",[[]]]]]}]"#,
            r#"[[{"op":"insert","table":"Child","uuid-name":"a","row":{"sub":["named-uuid","a"]}}],[{"op":"delete","table":"Child","where":[]}]]"#,
            r#"{"name":"x","version":"1.0.0","tables":{"t":{"columns":{"c":{"type":{"key":{"type":"uuid","refTable":"t"},"min":0,"max":"unlimited"}}}}}}"#,
        ] {
            fuzz_transact(s.as_bytes());
        }
    }
}
