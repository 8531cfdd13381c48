//! The engine never panics on malformed or ill-typed input: random JSON shaped like transactions
//! (keys, operation names, tables, columns, mutators and functions from the test schema's
//! vocabulary) fed through `ovsdb::fuzz_transact`.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

const WORDS: &[&str] = &[
    "op",
    "table",
    "row",
    "where",
    "mutations",
    "columns",
    "until",
    "rows",
    "timeout",
    "uuid",
    "uuid-name",
    "durable",
    "comment",
    "lock",
    "sort",
    "insert",
    "select",
    "update",
    "mutate",
    "delete",
    "wait",
    "commit",
    "abort",
    "assert",
    "Parent",
    "Child",
    "Target",
    "Holder",
    "name",
    "count",
    "color",
    "ratio",
    "flag",
    "tags",
    "nums",
    "reals",
    "opt_int",
    "ext",
    "weights",
    "children",
    "child_map",
    "targets",
    "target_map",
    "one_target",
    "fixed",
    "scratch",
    "value",
    "sub",
    "target",
    "tag",
    "kind",
    "port",
    "must",
    "pair",
    "uid",
    "_uuid",
    "_version",
    "set",
    "map",
    "named-uuid",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "includes",
    "excludes",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "red",
    "",
    "n1",
    "aaaaaaaa-0000-4000-8000-000000000001",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(100),
            Just(i64::MAX),
            Just(i64::MIN),
            -5i64..5
        ]
        .prop_map(|i| json!(i)),
        prop_oneof![
            Just(0.5f64),
            Just(-10.5),
            Just(1e300),
            Just(-0.0),
            Just(1e-300)
        ]
        .prop_map(|f| json!(f)),
        prop::sample::select(WORDS).prop_map(|w| json!(w)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            (
                prop::sample::select(&["set", "map", "uuid", "named-uuid"][..]),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(tag, v)| json!([tag, v])),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn op() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(
            &[
                "insert", "select", "update", "mutate", "delete", "wait", "commit", "abort",
                "comment", "assert",
            ][..],
        ),
        prop::sample::select(&["Parent", "Child", "Target", "Holder"][..]),
        prop::collection::vec((prop::sample::select(WORDS), value()), 0..6),
    )
        .prop_map(|(op, table, extra)| {
            let mut m = Map::new();
            m.insert("op".into(), json!(op));
            m.insert("table".into(), json!(table));
            for (k, v) in extra {
                m.insert(k.to_owned(), v);
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_never_panic(txns in prop::collection::vec(prop::collection::vec(prop_oneof![4 => op(), 1 => value()], 0..5), 1..4)) {
        let v = Value::Array(txns.into_iter().map(Value::Array).collect());
        ovsdb::fuzz_transact(v.to_string().as_bytes());
    }

    #[test]
    fn random_json_never_panics(v in value()) {
        ovsdb::fuzz_transact(v.to_string().as_bytes());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        ovsdb::fuzz_transact(&bytes);
    }
}
