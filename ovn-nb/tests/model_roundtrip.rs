//! Round-trips every row of a real OVN_Northbound database through the generated model: a NB built
//! with the real ovn-nbctl is read with a `select` of every table, and each JSON row must come back
//! unchanged from JSON row → typed struct → JSON row, and from typed struct → `Row` → typed struct.

use ovn_nb::model::{self, AnyRow};
use ovsdb::model::Model;
use serde_json::{json, Value};

mod real_db {
    include!("support/real_db.rs");
}

#[test]
fn embedded_schema_matches_constants() {
    let s = model::schema();
    assert_eq!(s.name, model::DATABASE);
    assert_eq!(s.version, model::VERSION);
    assert_eq!(s.version, "7.0.0");
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, model::TABLES);
    assert_eq!(model::Acl::table_schema().name, "ACL");
    for t in &s.tables {
        let cols: Vec<&str> = t.user_columns().iter().map(|c| c.name.as_str()).collect();
        let empty = AnyRow::from_json(&t.name, &json!({})).unwrap();
        let j = empty.to_json();
        // Defaults of columns with a minimum of one element may be invalid (an empty enum
        // string); everything else must serialize.
        if let Ok(Value::Object(m)) = j {
            assert_eq!(
                m.keys().map(String::as_str).collect::<Vec<_>>(),
                cols,
                "{}",
                t.name
            );
        }
    }
}

#[test]
fn typed_rows_reject_bad_values() {
    use std::str::FromStr;
    let e = model::Acl::from_json(&json!({"action": "permit"})).unwrap_err();
    assert!(e.to_string().contains("ACL"), "{e}");
    assert!(e.to_string().contains("action"), "{e}");
    let e = model::LogicalSwitch::from_json(&json!({"bogus": 1})).unwrap_err();
    assert_eq!(e.to_string(), "table Logical_Switch has no column bogus");
    assert_eq!(
        model::AclAction::from_str("allow-related"),
        Ok(model::AclAction::AllowRelated)
    );
    assert!(model::AclAction::from_str("permit").is_err());
    let mut lrp = model::LogicalRouterPort {
        name: "p".into(),
        mac: "00:00:00:00:00:01".into(),
        ..Default::default()
    };
    let e = lrp.to_json().unwrap_err();
    assert!(e.to_string().contains("networks"), "{e}");
    lrp.networks.insert("10.0.0.1/24".into());
    assert!(lrp.to_json().is_ok());
}

#[test]
fn real_nb_rows_round_trip() {
    let ovn = testkit::require_or_skip!();
    let stack = ovn
        .stack()
        .chassis(real_db::CHASSIS)
        .build()
        .expect("stack");
    for cmd in real_db::RICH_NB {
        stack
            .nbctl(cmd.iter().copied())
            .unwrap_or_else(|e| panic!("ovn-nbctl {cmd:?}: {e}"));
    }
    stack.wait_sb().expect("northd sync");
    let rows = real_db::dump(stack.nb_remote(), model::DATABASE, model::TABLES);
    for (table, rows) in &rows {
        let layout = model::schema().table(table).expect("table");
        for row in rows {
            let typed = AnyRow::from_json(table, row).unwrap_or_else(|e| panic!("{e}\n{row}"));
            assert_eq!(typed.table(), table);
            let back = typed.to_json().unwrap_or_else(|e| panic!("{e}\n{row}"));
            assert_eq!(&back, row, "{table} JSON round trip");
            let db_row = typed.to_row(layout).expect("to_row");
            assert_eq!(db_row.uuid(), typed.uuid());
            let again = AnyRow::from_row(table, &db_row, layout).expect("from_row");
            assert_eq!(again, typed, "{table} Row round trip");
        }
    }
    // The typed rows load into our own engine with the embedded schema, and read back equal.
    let mut ops = vec![json!(model::DATABASE)];
    let mut typed_rows = std::collections::BTreeMap::new();
    for (table, rows) in &rows {
        for row in rows {
            let typed = AnyRow::from_json(table, row).unwrap();
            let Value::Object(mut columns) = typed.to_json().unwrap() else {
                panic!("not an object")
            };
            columns.remove("_uuid");
            columns.remove("_version");
            let uuid = typed.uuid().to_string();
            ops.push(json!({"op": "insert", "table": table, "uuid": uuid, "row": columns}));
            typed_rows.insert(typed.uuid(), typed);
        }
    }
    let mut db = ovsdb::Database::new(model::schema().clone());
    let outcome = db.transact(&Value::Array(ops), &ovsdb::TxnContext::default());
    let results = outcome.results().expect("complete");
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("error").is_none()),
        "{results}"
    );
    assert_eq!(db.n_rows(), typed_rows.len());
    for table in model::TABLES {
        let layout = model::schema().table(table).unwrap();
        for (uuid, row) in db.rows(table).unwrap() {
            let mut read = AnyRow::from_row(table, row, layout).unwrap();
            let mut want = typed_rows[uuid].clone();
            clear_version(&mut read);
            clear_version(&mut want);
            assert_eq!(read, want, "{table} via ovsdb::Database");
        }
    }
    let (total, summary) = real_db::summary(&rows);
    eprintln!("NB rows round-tripped: {total} ({summary})");
    let nonempty = rows.values().filter(|r| !r.is_empty()).count();
    assert_eq!(
        nonempty,
        model::TABLES.len(),
        "only {nonempty} NB tables have rows: {summary:?}"
    );
}

/// Forgets the `_version` of a row (a database assigns its own).
fn clear_version(row: &mut AnyRow) {
    let Ok(Value::Object(mut m)) = row.to_json() else {
        panic!("row does not serialize")
    };
    m.remove("_version");
    *row = AnyRow::from_json(row.table(), &Value::Object(m)).unwrap();
}
