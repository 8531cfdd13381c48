//! Random transaction sequences on the test schema, run through our engine and through a real
//! ovsdb-server; results must agree (after UUID renaming). Row references use fixed pools of
//! explicit UUIDs so that both sides refer to the same rows.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

use crate::oracle::{compare, test_schema_path, Oracle};

/// Number of random sequences per run.
const SEQUENCES: u32 = 2000;

fn pool(prefix: &str, i: usize) -> String {
    format!("{prefix}-0000-4000-8000-00000000000{i}")
}
fn parent_uuid() -> impl Strategy<Value = String> {
    (0..4usize).prop_map(|i| pool("aaaaaaaa", i))
}
fn child_uuid() -> impl Strategy<Value = String> {
    (0..4usize).prop_map(|i| pool("cccccccc", i))
}
fn target_uuid() -> impl Strategy<Value = String> {
    (0..4usize).prop_map(|i| pool("bbbbbbbb", i))
}
fn uuid_ref(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    s.prop_map(|u| json!(["uuid", u])).boxed()
}
fn name() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("a")),
        Just(json!("b")),
        Just(json!("c")),
        Just(json!("d"))
    ]
}
fn small_int() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -3i64..4, 1 => Just(100i64), 1 => Just(-101i64), 1 => Just(i64::MAX), 1 => Just(0)]
}
fn int_set(max: usize) -> impl Strategy<Value = Value> {
    prop::collection::vec(-3i64..5, 0..max).prop_map(|v| {
        let mut v = v;
        v.sort();
        v.dedup();
        if v.len() == 1 {
            json!(v[0])
        } else {
            json!(["set", v])
        }
    })
}
fn tag_set() -> impl Strategy<Value = Value> {
    prop::collection::btree_set(
        prop_oneof![Just("x"), Just("y"), Just("z"), Just("w"), Just("")],
        0..5,
    )
    .prop_map(|s| json!(["set", s.into_iter().collect::<Vec<_>>()]))
}
fn ext_map() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop_oneof![Just("k1"), Just("k2"), Just("k3")],
        prop_oneof![Just("v1"), Just("v2")],
        0..4,
    )
    .prop_map(|m| {
        json!([
            "map",
            m.into_iter()
                .map(|(k, v)| json!([k, v]))
                .collect::<Vec<_>>()
        ])
    })
}
fn refs(s: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec(s, 0..3).prop_map(|v| {
        let mut seen = Vec::new();
        for x in v {
            if !seen.contains(&x) {
                seen.push(x);
            }
        }
        json!(["set", seen])
    })
}
fn child_ref() -> BoxedStrategy<Value> {
    prop_oneof![3 => uuid_ref(child_uuid()), 1 => Just(json!(["named-uuid", "nc"]))].boxed()
}

/// A random subset of Parent columns with random (mostly valid) values.
fn parent_row() -> impl Strategy<Value = Value> {
    (
        prop::option::of(name()),
        prop::option::of(small_int()),
        prop::option::of(prop_oneof![
            Just(json!("red")),
            Just(json!("blue")),
            Just(json!(["set", []])),
            Just(json!("pink"))
        ]),
        prop::option::of(prop_oneof![
            Just(json!(0.5)),
            Just(json!(-10.5)),
            Just(json!(11)),
            Just(json!(["set", []]))
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(tag_set()),
        prop::option::of(int_set(4)),
        prop::option::of(ext_map()),
        prop::option::of(refs(child_ref())),
        prop::option::of(refs(uuid_ref(target_uuid()))),
        prop::option::of(prop_oneof![
            uuid_ref(target_uuid()),
            Just(json!(["set", []]))
        ]),
        prop::option::of(prop::collection::vec((target_uuid(), -2i64..3), 0..3)),
    )
        .prop_map(
            |(n, cnt, color, ratio, flag, tags, nums, ext, children, targets, one, tmap)| {
                let mut m = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                };
                put("name", n);
                put("count", cnt.map(|c| json!(c)));
                put("color", color);
                put("ratio", ratio);
                put("flag", flag.map(|b| json!(b)));
                put("tags", tags);
                put("nums", nums);
                put("ext", ext);
                put("children", children);
                put("targets", targets);
                put("one_target", one);
                put(
                    "target_map",
                    tmap.map(|v| {
                        let mut seen: Vec<String> = Vec::new();
                        let mut pairs = Vec::new();
                        for (u, i) in v {
                            if !seen.contains(&u) {
                                pairs.push(json!([["uuid", u.clone()], i]));
                                seen.push(u);
                            }
                        }
                        json!(["map", pairs])
                    }),
                );
                Value::Object(m)
            },
        )
}

fn parent_cond() -> impl Strategy<Value = Value> {
    prop_oneof![
        name().prop_map(|n| json!([["name", "==", n]])),
        name().prop_map(|n| json!([["name", "!=", n]])),
        (-3i64..4).prop_map(|k| json!([["count", "<", k]])),
        (-3i64..4).prop_map(|k| json!([["count", ">=", k]])),
        (-3i64..5).prop_map(|k| json!([["nums", "includes", k]])),
        (-3i64..5).prop_map(|k| json!([["nums", "excludes", ["set", [k]]]])),
        ext_map().prop_map(|m| json!([["ext", "includes", m]])),
        uuid_ref(parent_uuid()).prop_map(|u| json!([["_uuid", "==", u]])),
        uuid_ref(child_uuid()).prop_map(|u| json!([["children", "includes", u]])),
        uuid_ref(target_uuid()).prop_map(|u| json!([["targets", "includes", u]])),
        Just(json!([["opt_int", "==", ["set", []]]])),
        Just(json!([["color", "==", "red"]])),
        Just(json!([])),
        Just(json!([true])),
    ]
}

/// ovsdb-server 3.1 dies of SIGFPE on `*= 0` applied to a negative integer (its overflow check
/// divides by the argument); our engine returns 0. Keep the oracle alive: never multiply by 0.
fn avoid_server_crash(m: &str, k: i64) -> i64 {
    if m == "*=" && k == 0 {
        2
    } else {
        k
    }
}

fn mutation() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop_oneof![Just("+="), Just("-="), Just("*="), Just("/="), Just("%=")],
            small_int()
        )
            .prop_map(|(m, k)| json!(["count", m, avoid_server_crash(m, k)])),
        (
            prop_oneof![Just("+="), Just("-="), Just("*="), Just("/="), Just("%=")],
            -2i64..3
        )
            .prop_map(|(m, k)| json!(["nums", m, avoid_server_crash(m, k)])),
        (prop_oneof![Just("+="), Just("*="), Just("/=")], -2i64..3)
            .prop_map(|(m, k)| json!(["reals", m, k])),
        (prop_oneof![Just("+="), Just("-=")], -2i64..3).prop_map(|(m, k)| json!(["opt_int", m, k])),
        (prop_oneof![Just("insert"), Just("delete")], int_set(3))
            .prop_map(|(m, v)| json!(["nums", m, v])),
        (prop_oneof![Just("insert"), Just("delete")], -2i64..3)
            .prop_map(|(m, v)| json!(["opt_int", m, v])),
        (prop_oneof![Just("insert"), Just("delete")], tag_set())
            .prop_map(|(m, v)| json!(["tags", m, v])),
        (prop_oneof![Just("insert"), Just("delete")], ext_map())
            .prop_map(|(m, v)| json!(["ext", m, v])),
        Just(json!(["ext", "delete", ["set", ["k1"]]])),
        (
            prop_oneof![Just("insert"), Just("delete")],
            refs(child_ref())
        )
            .prop_map(|(m, v)| json!(["children", m, v])),
        (
            prop_oneof![Just("insert"), Just("delete")],
            refs(uuid_ref(target_uuid()))
        )
            .prop_map(|(m, v)| json!(["targets", m, v])),
        uuid_ref(target_uuid()).prop_map(|u| json!(["target_map", "insert", ["map", [[u, 1]]]])),
        uuid_ref(target_uuid()).prop_map(|u| json!(["target_map", "delete", ["set", [u]]])),
        Just(json!(["fixed", "+=", 1])),
        Just(json!(["name", "insert", "x"])),
    ]
}

fn op() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Parent
        4 => (prop::option::of(parent_uuid()), parent_row()).prop_map(|(u, row)| {
            let mut o = json!({"op": "insert", "table": "Parent", "row": row});
            if let Some(u) = u {
                o["uuid"] = json!(u);
            }
            o
        }),
        3 => (parent_cond(), parent_row()).prop_map(|(w, row)| json!({"op": "update", "table": "Parent", "where": w, "row": row})),
        4 => (parent_cond(), prop::collection::vec(mutation(), 1..3)).prop_map(|(w, m)| json!({"op": "mutate", "table": "Parent", "where": w, "mutations": m})),
        2 => parent_cond().prop_map(|w| json!({"op": "delete", "table": "Parent", "where": w})),
        2 => parent_cond().prop_map(|w| json!({"op": "select", "table": "Parent", "where": w, "columns": ["name", "count", "nums", "children", "targets", "target_map", "one_target"]})),
        // Child (non-root)
        3 => (child_uuid(), -2i64..3, prop::option::of(child_ref()), prop::option::of(uuid_ref(target_uuid())), any::<bool>()).prop_map(|(u, v, sub, t, named)| {
            let mut row = json!({"value": v});
            if let Some(s) = sub {
                row["sub"] = s;
            }
            if let Some(t) = t {
                row["target"] = t;
            }
            if named {
                json!({"op": "insert", "table": "Child", "uuid-name": "nc", "row": row})
            } else {
                json!({"op": "insert", "table": "Child", "uuid": u, "row": row})
            }
        }),
        1 => (-2i64..3).prop_map(|v| json!({"op": "delete", "table": "Child", "where": [["value", "==", v]]})),
        1 => (-2i64..3, -2i64..3).prop_map(|(a, b)| json!({"op": "update", "table": "Child", "where": [["value", "==", a]], "row": {"value": b}})),
        // Target (root, weak-referenced, maxRows 5, two indexes)
        3 => (target_uuid(), 0usize..4, 0i64..4, prop::option::of(0i64..3)).prop_map(|(u, tag, kind, port)| {
            let mut row = json!({"tag": format!("t{tag}"), "kind": kind});
            if let Some(p) = port {
                row["port"] = json!(p);
            }
            json!({"op": "insert", "table": "Target", "uuid": u, "row": row})
        }),
        2 => (0usize..4).prop_map(|t| json!({"op": "delete", "table": "Target", "where": [["tag", "==", format!("t{t}")]]})),
        1 => (0usize..4, 0usize..4).prop_map(|(a, b)| json!({"op": "update", "table": "Target", "where": [["tag", "==", format!("t{a}")]], "row": {"tag": format!("t{b}")}})),
        // Holder (weak refs with min 1)
        1 => (refs(uuid_ref(target_uuid())), tag_set()).prop_map(|(m, p)| json!({"op": "insert", "table": "Holder", "row": {"must": m, "pair": p}})),
        // wait, misc
        1 => (name(), small_int()).prop_map(|(n, c)| json!({"op": "wait", "table": "Parent", "where": [["name", "==", n]], "columns": ["count"], "until": "==", "rows": [{"count": c}], "timeout": 0})),
        1 => Just(json!({"op": "comment", "comment": "c"})),
        1 => Just(json!({"op": "abort"})),
        1 => Just(json!({"op": "insert", "table": "Parent", "row": {"bogus": 1}})),
    ]
}

/// ovsdb-server 3.1 leaves a dangling weak reference when one transaction first writes a `Parent`
/// row (which holds weak references to `Target`) and then deletes a `Target` that row refers to
/// through a column the transaction did not write: it assesses weak references row by row in
/// the order the transaction touched them, and the already-assessed `Parent` row is not looked at
/// again. Our engine removes the reference, as RFC 7047 says. Keep the oracle to the cases where
/// its answer is not order-dependent: no `Target` delete after a `Parent` write in one
/// transaction. (Known divergence, noted on the engine issue.)
fn order_dependent_weak_refs(ops: &[Value]) -> bool {
    let mut parent_written = false;
    for op in ops {
        let table = op.get("table").and_then(Value::as_str);
        let kind = op.get("op").and_then(Value::as_str);
        match (table, kind) {
            (Some("Parent"), Some("insert" | "update" | "mutate")) => parent_written = true,
            (Some("Target"), Some("delete")) if parent_written => return true,
            _ => {}
        }
    }
    false
}

fn sequence() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(
        prop::collection::vec(op(), 1..5)
            .prop_filter("order-dependent weak refs in ovsdb-server", |ops| {
                !order_dependent_weak_refs(ops)
            })
            .prop_map(Value::Array),
        1..6,
    )
}

#[test]
fn differential_random_sequences() {
    let Some(oracle) = Oracle::start(&test_schema_path()) else {
        return;
    };
    let oracle = std::cell::RefCell::new(oracle);
    let cases = std::env::var("OVSDB_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEQUENCES);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    });
    let start = std::time::Instant::now();
    let result = runner.run(&sequence(), |txns| {
        compare(&mut oracle.borrow_mut(), &txns).map_err(TestCaseError::fail)
    });
    eprintln!("{cases} random sequences in {:?}", start.elapsed());
    if let Err(e) = result {
        panic!("{e}");
    }
}
