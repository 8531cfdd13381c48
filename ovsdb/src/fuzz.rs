//! Entry points for fuzzers (cargo-fuzz targets call these; they must never panic).

use serde_json::{json, Value};

use crate::db::{Database, TxnContext};
use crate::json::JsonView;
use crate::schema::Schema;

/// The schema fuzzed transactions run against: strong and weak references, maps, bounded sets,
/// enums, ranges, indexes, `maxRows`, non-root tables.
pub const FUZZ_SCHEMA: &str = include_str!("../tests/data/test.ovsschema");

/// Feeds arbitrary bytes to the engine: as a schema, and as a sequence of transactions on the
/// fuzz schema (a JSON array of operation arrays, or one operation array). Never panics on any
/// input, except to report that the borrowed JSON reader ([`crate::json`]) and serde_json
/// disagree: on the bytes, or on a transaction's results read through each of them.
pub fn fuzz_transact(data: &[u8]) {
    let parsed = crate::json::parse(data).map(|t| t.to_value());
    let value = serde_json::from_slice::<Value>(data).ok();
    if parsed.is_some() {
        assert_eq!(parsed, value, "json::parse and serde_json disagree");
    }
    let Some(value) = value else {
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
    let mut db = Database::with_seed(schema.clone(), 0);
    let mut db_ref = Database::with_seed(schema.clone(), 0);
    let mut db_stream = Database::with_seed(schema.clone(), 0);
    let mut db_ahead = Database::with_seed(schema, 0);
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
        let params = Value::Array(params);
        let outcome = db.transact(&params, &ctx);
        let text = params.to_string();
        if let Some(tree) = crate::json::parse(text.as_bytes()) {
            let by_ref = db_ref.transact_json(&tree, &ctx);
            assert_eq!(
                outcome.results(),
                by_ref.results(),
                "results differ read from Value and from JsonRef"
            );
        }
        // As the server reads a `transact` request: one operation at a time, or (when that
        // declines) from the whole tree.
        let request = format!(r#"{{"id":{i},"method":"transact","params":{text}}}"#);
        let streamed =
            crate::json::TransactReader::start(request.as_bytes()).and_then(|mut req| {
                crate::transaction::execute_stream::<crate::transaction::EncodedResults>(
                    &mut db_stream,
                    &mut req,
                    &ctx,
                )
            });
        let results = match streamed {
            Some((crate::transaction::Outcome::Complete { results, .. }, _)) => {
                serde_json::from_slice::<Value>(&results.into_text()).ok()
            }
            Some((crate::transaction::Outcome::Blocked { .. }, _)) => {
                panic!("a streamed transaction blocked")
            }
            None => db_stream.transact(&params, &ctx).results().cloned(),
        };
        assert_eq!(
            outcome.results(),
            results.as_ref(),
            "results differ read one operation at a time"
        );
        // As the server reads a big one: operations run ahead as two prefixes arrive, the
        // rest at its end (or all of it anew when that declines).
        let ahead = crate::json::TransactReader::start(request.as_bytes())
            .map(|r| crate::transaction::Speculation::new(&db_ahead, r.position(), 0))
            .and_then(|mut spec| {
                let len = request.len();
                let ran = [len / 3, len * 2 / 3]
                    .iter()
                    .all(|&cut| spec.run(&db_ahead, &request.as_bytes()[..cut]));
                ran.then_some(spec)
            })
            .and_then(|spec| spec.finish(&mut db_ahead, request.as_bytes(), &ctx))
            .or_else(|| {
                crate::json::TransactReader::start(request.as_bytes()).and_then(|mut req| {
                    crate::transaction::execute_stream(&mut db_ahead, &mut req, &ctx)
                })
            });
        let results = match ahead {
            Some((crate::transaction::Outcome::Complete { results, .. }, _)) => {
                serde_json::from_slice::<Value>(&results.into_text()).ok()
            }
            Some((crate::transaction::Outcome::Blocked { .. }, _)) => {
                panic!("a streamed transaction blocked")
            }
            None => db_ahead.transact(&params, &ctx).results().cloned(),
        };
        assert_eq!(
            outcome.results(),
            results.as_ref(),
            "results differ with operations run ahead"
        );
        // And the same rows (inserts are read straight from the text when streamed).
        for t in &db.schema().tables {
            assert!(
                db.rows(&t.name) == db_stream.rows(&t.name),
                "rows of {} differ read one operation at a time",
                t.name
            );
            assert!(
                db.rows(&t.name) == db_ahead.rows(&t.name),
                "rows of {} differ with operations run ahead",
                t.name
            );
        }
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

    /// The fuzz seeds, and the engine's own test transactions, read both ways agree.
    #[test]
    fn seeds_read_alike_from_value_and_json_ref() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/transact");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                fuzz_transact(&bytes);
            }
        }
        let mixed = r#"[[{"op":"insert","table":"Parent","uuid-name":"p","row":{"name":"a\"b\u00e9","count":1.0}},{"op":"mutate","table":"Parent","where":[["_uuid","==",["named-uuid","p"]]],"mutations":[["count","+=",2]]}],[{"op":"select","table":"Parent","where":[["count","<",1e1]],"columns":["name","count"]}],[{"op":"update","table":"Parent","where":[],"row":{"x":1}}],[{"op":"insert","table":"Parent","row":{},"bogus":1}]]"#;
        fuzz_transact(mixed.as_bytes());
    }
}
