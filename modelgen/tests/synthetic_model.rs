//! The generator on a schema of our own that exercises what the OVN schemas lack: integer enums
//! (also as map values), reals in sets and as map keys, bounded sets, constrained atoms, weak
//! references and keyword column names. `synthetic/mod.rs` is generated from
//! `synthetic.ovsschema` and compiled here.

use std::collections::BTreeMap;

use ovsdb::model::{Model, ModelError, Ref, Uuid};
use serde_json::json;

// A generated module is a library's public API; here only part of it is used.
#[allow(
    dead_code,
    unreachable_pub,
    reason = "generated public API used in part by this test"
)]
mod synthetic;

use synthetic::{Other, Thing, ThingFlags, ThingFlagsValue, ThingLevel, ThingLevels, ThingMode};

fn generated() -> String {
    let text = include_str!("synthetic.ovsschema");
    let schema = ovsdb::Schema::from_str_json(text).unwrap();
    modelgen::generate(&schema, "synthetic.ovsschema").unwrap()
}

#[test]
fn synthetic_model_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/synthetic/mod.rs");
    if std::env::var_os("OVNKIT_BLESS").is_some() {
        std::fs::write(path, generated()).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(committed == generated(), "stale: rerun with OVNKIT_BLESS=1");
}

/// With `sorted_maps`, the same module but for the maps with ordered keys: their type, their
/// reader, and the imports.
#[test]
fn sorted_maps_change_only_the_ordered_maps() {
    let text = include_str!("synthetic.ovsschema");
    let schema = ovsdb::Schema::from_str_json(text).unwrap();
    let options = modelgen::Options { sorted_maps: true };
    let sorted = modelgen::generate_with(&schema, "synthetic.ovsschema", options).unwrap();
    assert!(sorted.contains("pub flags: SortedMap<ThingFlags, ThingFlagsValue>,"));
    assert!(sorted.contains("flags: f.sorted_map("));
    // Reals as map keys have no total order: still pairs.
    assert!(sorted.contains("pub by_weight: Vec<(f64, String)>,"));
    let expected = generated()
        .replace("use std::collections::{BTreeMap, BTreeSet};", "use std::collections::BTreeSet;")
        .replace(
            "use ovsdb::model::{self, AtomValue, EnumParseError, FieldReader, Model, ModelError, Ref, Uuid};",
            "use ovsdb::model::{\n    self, AtomValue, EnumParseError, FieldReader, Model, ModelError, Ref, SortedMap, Uuid,\n};",
        )
        .replace(": BTreeMap<", ": SortedMap<")
        .replace("f.map(", "f.sorted_map(");
    assert_eq!(sorted, expected);
    assert!(sorted
        .lines()
        .filter(|l| l.starts_with("use "))
        .all(|l| l.len() <= 100));
}

fn thing() -> Thing {
    Thing {
        uuid: Ref::new(Uuid::from_u128(7)),
        version: Some(Uuid::from_u128(8)),
        level: ThingLevel::VNeg3,
        levels: [ThingLevels::V1, ThingLevels::V2].into(),
        weight: 2.5,
        weights: vec![0.5, 1.0],
        by_weight: vec![(1.5, "x".into())],
        mode: Some(ThingMode::V8021q),
        flags: BTreeMap::from([(ThingFlags::A, ThingFlagsValue::V1)]),
        type_: "t".into(),
        peer: Some(Ref::<Other>::new(Uuid::from_u128(9))),
        raw: [Uuid::from_u128(10)].into(),
        small: [0, 10].into(),
        on: true,
    }
}

#[test]
fn round_trips_and_checks() {
    let t = thing();
    let j = t.to_json().unwrap();
    assert_eq!(j["level"], json!(-3));
    assert_eq!(j["mode"], json!("802.1q"));
    assert_eq!(j["flags"], json!(["map", [["a", 1]]]));
    assert_eq!(j["type"], json!("t"));
    assert_eq!(j["by_weight"], json!(["map", [[1.5, "x"]]]));
    assert_eq!(Thing::from_json(&j).unwrap(), t);
    let row = t.to_row(Thing::table_schema()).unwrap();
    assert_eq!(Thing::from_row(&row, Thing::table_schema()).unwrap(), t);

    let mut changed = thing();
    changed.on = false;
    changed.mode = None;
    let diff = changed.changed_columns_json(&t).unwrap();
    assert_eq!(
        serde_json::Value::Object(diff),
        json!({"on": false, "mode": ["set", []]})
    );

    assert_eq!("-3".parse::<ThingLevel>(), Ok(ThingLevel::VNeg3));
    assert!("4".parse::<ThingLevel>().is_err());
    assert_eq!(ThingMode::SlowPath.to_string(), "slow_path");

    let mut bad = thing();
    bad.small = [1, 2, 3, 4].into();
    assert!(matches!(
        bad.to_json(),
        Err(ModelError::Size {
            column: "small",
            len: 4,
            ..
        })
    ));
    bad.small = [11].into();
    let e = bad.to_json().unwrap_err();
    assert!(e.to_string().contains("table Thing column small"), "{e}");
    let mut bad = thing();
    bad.weights = vec![1.0, 1.0];
    assert!(matches!(
        bad.to_json(),
        Err(ModelError::Duplicate {
            column: "weights",
            ..
        })
    ));
    let e = Thing::from_json(&json!({"level": 5})).unwrap_err();
    assert!(e.to_string().starts_with("table Thing column level"), "{e}");
    let e = Other::from_json(&json!({"name": "much too long"})).unwrap_err();
    assert!(e.to_string().starts_with("table Other column name"), "{e}");
}
