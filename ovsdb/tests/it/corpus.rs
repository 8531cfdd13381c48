//! Hand-written differential corpus on the test schema (tests/data/test.ovsschema): every
//! operation, mutator, condition function, constraint and error, compared with ovsdb-server.

use serde_json::{json, Value};

use crate::oracle::{run_cases, test_schema_path};

const U1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const U2: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const U3: &str = "aaaaaaaa-0000-4000-8000-000000000003";
const T1: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const T2: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const C1: &str = "cccccccc-0000-4000-8000-000000000001";
const C2: &str = "cccccccc-0000-4000-8000-000000000002";

fn ins(table: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "row": row})
}
fn ins_u(table: &str, uuid: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "uuid": uuid, "row": row})
}
fn ins_n(table: &str, name: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "uuid-name": name, "row": row})
}
fn sel(table: &str, wh: Value) -> Value {
    json!({"op": "select", "table": table, "where": wh})
}
fn sel_c(table: &str, wh: Value, cols: Value) -> Value {
    json!({"op": "select", "table": table, "where": wh, "columns": cols})
}
fn upd(table: &str, wh: Value, row: Value) -> Value {
    json!({"op": "update", "table": table, "where": wh, "row": row})
}
fn mutate(table: &str, wh: Value, m: Value) -> Value {
    json!({"op": "mutate", "table": table, "where": wh, "mutations": m})
}
fn del(table: &str, wh: Value) -> Value {
    json!({"op": "delete", "table": table, "where": wh})
}
fn uuid(u: &str) -> Value {
    json!(["uuid", u])
}
fn named(n: &str) -> Value {
    json!(["named-uuid", n])
}
fn by_name(n: &str) -> Value {
    json!([["name", "==", n]])
}

/// One case: a name and transactions (each an array of operations).
fn c(name: &'static str, txns: Vec<Value>) -> (&'static str, Vec<Value>) {
    (name, txns)
}

/// Three Parent rows used by many cases.
fn seed() -> Value {
    json!([
        {"op": "insert", "table": "Parent", "uuid": U1, "row": {"name": "a", "count": 1, "nums": ["set", [1, 2, 3]], "reals": ["set", [1.5, -2.25]], "ext": ["map", [["k1", "v1"], ["k2", "v2"]]], "tags": ["set", ["x", "y"]], "opt_int": 7, "color": "red", "ratio": 0.5, "flag": true, "weights": ["map", [[1, 0.5], [2, 1.5]]]}},
        {"op": "insert", "table": "Parent", "uuid": U2, "row": {"name": "b", "count": -5, "nums": ["set", []], "ext": ["map", [["k1", "other"]]], "tags": "z", "color": "blue", "flag": false}},
        {"op": "insert", "table": "Parent", "uuid": U3, "row": {"name": "c", "count": 50, "nums": 9, "ratio": -3.75, "reals": 2.5}}
    ])
}

pub(crate) fn cases() -> Vec<(&'static str, Vec<Value>)> {
    let mut v = vec![
        // ---------- insert ----------
        c(
            "insert_defaults",
            vec![json!([ins("Parent", json!({"name": "a"}))])],
        ),
        c(
            "insert_select_same_txn",
            vec![json!([
                ins("Parent", json!({"name": "a"})),
                sel("Parent", json!([]))
            ])],
        ),
        c(
            "insert_all_columns",
            vec![seed(), json!([sel("Parent", json!([]))])],
        ),
        c(
            "insert_explicit_uuid",
            vec![json!([
                ins_u("Parent", U1, json!({"name": "a"})),
                sel("Parent", json!([["_uuid", "==", uuid(U1)]]))
            ])],
        ),
        c(
            "insert_duplicate_uuid_same_txn",
            vec![json!([
                ins_u("Parent", U1, json!({"name": "a"})),
                ins_u("Parent", U1, json!({"name": "b"}))
            ])],
        ),
        c(
            "insert_duplicate_uuid_existing",
            vec![
                json!([ins_u("Parent", U1, json!({"name": "a"}))]),
                json!([ins_u("Parent", U1, json!({"name": "b"}))]),
            ],
        ),
        c(
            "insert_uuid_of_deleted_row",
            vec![
                json!([ins_u("Parent", U1, json!({"name": "a"}))]),
                json!([
                    del("Parent", json!([])),
                    ins_u("Parent", U1, json!({"name": "b"}))
                ]),
            ],
        ),
        c(
            "insert_same_uuid_other_table",
            vec![
                json!([
                    ins_u("Parent", U1, json!({"name": "a"})),
                    ins_u("Target", U1, json!({"tag": "t", "kind": 1}))
                ]),
                json!([sel_c("Target", json!([]), json!(["_uuid", "tag"]))]),
            ],
        ),
        c(
            "insert_bad_uuid",
            vec![json!([{"op": "insert", "table": "Parent", "uuid": "nope", "row": {}}])],
        ),
        c(
            "insert_uuid_not_string",
            vec![json!([{"op": "insert", "table": "Parent", "uuid": 5, "row": {}}])],
        ),
        c(
            "insert_duplicate_uuid_name",
            vec![json!([
                ins_n("Parent", "p", json!({"name": "a"})),
                ins_n("Parent", "p", json!({"name": "b"}))
            ])],
        ),
        c(
            "insert_bad_uuid_name",
            vec![json!([ins_n("Parent", "p-1", json!({"name": "a"}))])],
        ),
        c(
            "insert_uuid_name_and_uuid",
            vec![
                json!([{"op": "insert", "table": "Parent", "uuid": U2, "uuid-name": "p", "row": {"name": "a"}}, ins("Holder", json!({"pair": "q", "uid": named("p")}))]),
                json!([sel_c("Holder", json!([]), json!(["uid"]))]),
            ],
        ),
        c(
            "insert_forward_named_uuid",
            vec![json!([
                ins("Parent", json!({"name": "a", "children": named("c1")})),
                ins_n("Child", "c1", json!({"value": 3})),
                sel("Child", json!([]))
            ])],
        ),
        c(
            "insert_backward_named_uuid",
            vec![json!([
                ins_n("Child", "c1", json!({"value": 3})),
                ins(
                    "Parent",
                    json!({"name": "a", "children": ["set", [named("c1")]], "child_map": ["map", [["x", named("c1")]]]})
                ),
                sel("Parent", json!([]))
            ])],
        ),
        c(
            "insert_unresolved_named_uuid_strong",
            vec![json!([ins(
                "Parent",
                json!({"name": "a", "children": named("nope")})
            )])],
        ),
        c(
            "insert_unresolved_named_uuid_weak",
            vec![
                json!([
                    ins("Parent", json!({"name": "a", "targets": named("nope")})),
                    sel_c("Parent", json!([]), json!(["targets"]))
                ]),
                json!([sel_c("Parent", json!([]), json!(["targets"]))]),
            ],
        ),
        c(
            "insert_unknown_table",
            vec![json!([ins("Nope", json!({}))])],
        ),
        c(
            "insert_missing_row",
            vec![json!([{"op": "insert", "table": "Parent"}])],
        ),
        c(
            "insert_row_not_object",
            vec![json!([{"op": "insert", "table": "Parent", "row": []}])],
        ),
        c(
            "insert_unknown_column",
            vec![json!([ins("Parent", json!({"name": "a", "bogus": 1}))])],
        ),
        c(
            "insert_uuid_columns_ignored",
            vec![json!([
                ins(
                    "Parent",
                    json!({"name": "a", "_uuid": uuid(U1), "_version": uuid(U2)})
                ),
                sel_c(
                    "Parent",
                    json!([["_uuid", "==", uuid(U1)]]),
                    json!(["name"])
                )
            ])],
        ),
        c(
            "insert_wrong_types",
            vec![
                json!([ins("Parent", json!({"name": 1}))]),
                json!([ins("Parent", json!({"count": "x"}))]),
                json!([ins("Parent", json!({"count": 1.5}))]),
                json!([ins("Parent", json!({"flag": 1}))]),
                json!([ins("Parent", json!({"ratio": "1"}))]),
                json!([ins("Parent", json!({"children": "x"}))]),
                json!([ins("Parent", json!({"children": ["uuid", "zzz"]}))]),
                json!([ins("Parent", json!({"children": ["uuid"]}))]),
                json!([ins("Parent", json!({"ext": ["set", []]}))]),
                json!([ins("Parent", json!({"ext": "x"}))]),
                json!([ins("Parent", json!({"ext": ["map", [["a"]]]}))]),
                json!([ins("Parent", json!({"ext": ["map", [["a", 1]]]}))]),
                json!([ins("Parent", json!({"nums": ["map", []]}))]),
                json!([ins("Parent", json!({"nums": ["set", [1, "x"]]}))]),
                json!([ins("Parent", json!({"nums": ["set", 1]}))]),
                json!([ins("Parent", json!({"nums": ["set"]}))]),
                json!([
                    ins("Parent", json!({"count": ["set", [1]]})),
                    sel_c("Parent", json!([]), json!(["count"]))
                ]),
                json!([ins("Parent", json!({"count": ["set", []]}))]),
                json!([ins("Parent", json!({"count": ["set", [1, 2]]}))]),
                json!([ins("Parent", json!({"count": null}))]),
            ],
        ),
        c(
            "row_member_error_precedence",
            vec![
                json!([upd(
                    "Parent",
                    by_name("a"),
                    json!({"color": "red", "ratio": 11, "tags": ["set", ["", "w", "x", "z"]]})
                )]),
                json!([ins("Parent", json!({"bogus": 1, "count": "x"}))]),
                json!([ins("Parent", json!({"count": "x", "bogus": 1}))]),
                json!([ins(
                    "Parent",
                    json!({"nums": ["set", [1, 1]], "count": 1000, "tags": ["set", ["a", "b", "c", "d"]], "zzz": 1, "ext": 5})
                )]),
                json!([ins(
                    "Parent",
                    json!({"a1": 1, "b2": 2, "c3": 3, "d4": 4, "e5": 5, "f6": 6, "g7": 7, "h8": 8, "i9": 9, "count": "x"})
                )]),
                json!([ins(
                    "Parent",
                    json!({"name": 5, "count": 1.5, "flag": "x", "ratio": 99, "color": "pink", "weights": 1, "reals": "r", "opt_int": ["set", [1, 2]], "one_target": 3})
                )]),
            ],
        ),
        c(
            "insert_integral_reals_are_integers",
            vec![json!([
                ins(
                    "Parent",
                    json!({"name": "a", "count": 2.0, "nums": ["set", [1e2, 3]]})
                ),
                sel_c("Parent", json!([]), json!(["count", "nums"]))
            ])],
        ),
        c(
            "insert_duplicates",
            vec![
                json!([ins("Parent", json!({"nums": ["set", [1, 1]]}))]),
                json!([ins("Parent", json!({"nums": ["set", [1, 1.0]]}))]),
                json!([ins(
                    "Parent",
                    json!({"ext": ["map", [["a", "1"], ["a", "2"]]]})
                )]),
                json!([ins(
                    "Parent",
                    json!({"ext": ["map", [["a", "1"], ["a", "1"]]]})
                )]),
            ],
        ),
        c(
            "insert_set_bounds",
            vec![
                json!([ins(
                    "Parent",
                    json!({"tags": ["set", ["a", "b", "c", "d"]]})
                )]),
                json!([ins(
                    "Parent",
                    json!({"weights": ["map", [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]]})
                )]),
                json!([ins("Holder", json!({"pair": ["set", []]}))]),
                json!([
                    ins("Holder", json!({"pair": ["set", ["a", "b", "c"]]})),
                    sel_c("Holder", json!([]), json!(["pair"]))
                ]),
            ],
        ),
        c(
            "insert_constraints",
            vec![
                json!([ins("Parent", json!({"count": 1000}))]),
                json!([ins("Parent", json!({"count": -101}))]),
                json!([
                    ins("Parent", json!({"count": 100})),
                    ins("Parent", json!({"name": "n", "count": -100}))
                ]),
                json!([ins("Parent", json!({"color": "pink"}))]),
                json!([ins("Parent", json!({"ratio": 10.6}))]),
                json!([ins("Parent", json!({"name": "r", "ratio": 10.5}))]),
                json!([ins("Parent", json!({"tags": ""}))]),
                json!([ins("Parent", json!({"tags": "123456789"}))]),
                json!([ins("Parent", json!({"name": "u", "tags": "ééééééé"}))]),
                json!([ins("Parent", json!({"weights": ["map", [[11, 1.0]]]}))]),
                json!([ins("Target", json!({"tag": "t"}))]),
                json!([ins("Target", json!({"tag": "t", "kind": 4}))]),
                json!([ins("Target", json!({"tag": "t", "kind": 3, "port": 0}))]),
                json!([
                    ins("Target", json!({"tag": "t", "kind": 3, "port": 65535})),
                    sel_c("Target", json!([]), json!(["kind", "port"]))
                ]),
            ],
        ),
        c(
            "reals_formatting",
            vec![json!([
                ins(
                    "Parent",
                    json!({"name": "r", "reals": ["set", [1, 0.1, 1e20, 1e-7, 123456789012345678i64, 2.5, 1e300, 3.14159265358979e5, 1e15, 1e16, 0.30000000000000004, 1234567.125, 0.000123, 1e-5, 0.0001, 1.5e300, 1e21, -2.5, 1e-300, 100.5, 123456789012345.0, 12345678901234.5]]})
                ),
                sel_c("Parent", json!([]), json!(["reals"]))
            ])],
        ),
        c(
            "strings",
            vec![json!([
                ins(
                    "Parent",
                    json!({"name": "héllo \"q\" \\ \n\t\u{1}", "tags": ["set", ["B", "a", "Z", "é"]]})
                ),
                sel_c("Parent", json!([]), json!(["name", "tags"]))
            ])],
        ),
        // ---------- select ----------
        c(
            "select_columns",
            vec![
                seed(),
                json!([
                    sel_c("Parent", json!([]), json!(["name", "count"])),
                    sel_c("Parent", json!([]), json!(["_uuid"])),
                    sel_c("Parent", json!([]), json!([]))
                ]),
            ],
        ),
        c(
            "select_distinct",
            vec![
                seed(),
                json!([
                    sel_c("Parent", json!([]), json!(["fixed"])),
                    sel_c("Parent", json!([]), json!(["flag"])),
                    sel_c("Parent", json!([]), json!(["flag", "_uuid"]))
                ]),
            ],
        ),
        c(
            "select_sort",
            vec![
                seed(),
                json!([{"op": "select", "table": "Parent", "where": [], "columns": ["name", "count"], "sort": ["count"]}]),
            ],
        ),
        c(
            "select_bad_columns",
            vec![
                seed(),
                json!([sel_c("Parent", json!([]), json!(["nope"]))]),
                json!([sel_c("Parent", json!([]), json!(["name", "name"]))]),
                json!([sel_c("Parent", json!([]), json!([1]))]),
                json!([{"op": "select", "table": "Parent", "where": [], "columns": "name"}]),
                json!([{"op": "select", "table": "Parent", "where": {}}]),
                json!([{"op": "select", "table": "Parent"}]),
                json!([{"op": "select", "where": []}]),
                json!([{"op": "select", "table": "Parent", "where": [], "extra": 1}]),
                json!([{"op": "select", "table": "Parent", "where": [["nope", "==", 1]], "extra": 1}]),
            ],
        ),
        // ---------- conditions ----------
        c(
            "cond_scalar_int",
            vec![
                seed(),
                json!([
                    sel_c("Parent", json!([["count", "<", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", "<=", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", "==", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", "!=", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", ">=", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", ">", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", "includes", 1]]), json!(["name"])),
                    sel_c("Parent", json!([["count", "excludes", 1]]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([["count", ">", -10], ["count", "<", 10]]),
                        json!(["name"])
                    ),
                ]),
            ],
        ),
        c(
            "cond_scalar_other",
            vec![
                seed(),
                json!([
                    sel_c("Parent", json!([["name", "==", "b"]]), json!(["name"])),
                    sel_c("Parent", json!([["name", "!=", "b"]]), json!(["name"])),
                    sel_c("Parent", json!([["flag", "==", true]]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([["_uuid", "==", uuid(U2)]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["_uuid", "!=", uuid(U2)]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["_uuid", "includes", uuid(U2)]]),
                        json!(["name"])
                    ),
                    sel_c("Parent", json!([["fixed", "==", 0]]), json!(["name"])),
                ]),
            ],
        ),
        c(
            "cond_optional",
            vec![
                seed(),
                json!([
                    sel_c(
                        "Parent",
                        json!([["opt_int", "==", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["opt_int", "!=", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c("Parent", json!([["opt_int", "==", 7]]), json!(["name"])),
                    sel_c("Parent", json!([["opt_int", "<", 8]]), json!(["name"])),
                    sel_c("Parent", json!([["opt_int", ">", 8]]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([["opt_int", "includes", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["opt_int", "excludes", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["opt_int", "excludes", 7]]),
                        json!(["name"])
                    ),
                    sel_c("Parent", json!([["ratio", ">=", 0]]), json!(["name"])),
                    sel_c("Parent", json!([["ratio", "<", 0.0]]), json!(["name"])),
                    sel_c("Parent", json!([["color", "==", "red"]]), json!(["name"])),
                ]),
                json!([sel_c(
                    "Parent",
                    json!([["opt_int", "<", ["set", []]]]),
                    json!(["name"])
                )]),
            ],
        ),
        c(
            "cond_sets",
            vec![
                seed(),
                json!([
                    sel_c(
                        "Parent",
                        json!([["nums", "==", ["set", [1, 2, 3]]]]),
                        json!(["name"])
                    ),
                    sel_c("Parent", json!([["nums", "==", 9]]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([["nums", "!=", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c("Parent", json!([["nums", "includes", 2]]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([["nums", "includes", ["set", [1, 3]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["nums", "includes", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["nums", "excludes", ["set", [9, 4]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["nums", "excludes", ["set", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["tags", "includes", ["set", ["x", "y"]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["tags", "excludes", ["set", ["x", "y", "z", "w"]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["reals", "includes", 1.5]]),
                        json!(["name"])
                    ),
                ]),
            ],
        ),
        c(
            "cond_maps",
            vec![
                seed(),
                json!([
                    sel_c(
                        "Parent",
                        json!([["ext", "==", ["map", [["k1", "other"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["ext", "!=", ["map", []]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["ext", "includes", ["map", [["k1", "v1"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["ext", "includes", ["map", [["k1", "other"], ["k2", "v2"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["ext", "excludes", ["map", [["k1", "v1"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["ext", "excludes", ["map", [["k1", "zzz"]]]]]),
                        json!(["name"])
                    ),
                    sel_c(
                        "Parent",
                        json!([["weights", "includes", ["map", [[1, 0.5]]]]]),
                        json!(["name"])
                    ),
                ]),
            ],
        ),
        c(
            "cond_bool_literals",
            vec![
                seed(),
                json!([
                    sel_c("Parent", json!([true]), json!(["name"])),
                    sel_c("Parent", json!([false]), json!(["name"])),
                    sel_c(
                        "Parent",
                        json!([true, ["name", "==", "a"]]),
                        json!(["name"])
                    )
                ]),
            ],
        ),
        c(
            "cond_errors",
            vec![
                seed(),
                json!([sel("Parent", json!([["nums", "<", 3]]))]),
                json!([sel("Parent", json!([["name", "<", "a"]]))]),
                json!([sel("Parent", json!([["ext", ">", 1]]))]),
                json!([sel("Parent", json!([["flag", "<", true]]))]),
                json!([sel("Parent", json!([["name", "===", "a"]]))]),
                json!([sel("Parent", json!([["name", "==", "a", 1]]))]),
                json!([sel("Parent", json!([["name", "=="]]))]),
                json!([sel("Parent", json!([[1, "==", "a"]]))]),
                json!([sel("Parent", json!(["name"]))]),
                json!([sel("Parent", json!([5]))]),
                json!([sel("Parent", json!([["nope", "==", 1]]))]),
                json!([sel("Parent", json!([["count", "==", "x"]]))]),
                json!([sel("Parent", json!([["count", "==", 1000]]))]),
                json!([sel("Parent", json!([["count", "<", 1000]]))]),
                json!([sel("Parent", json!([["color", "==", "pink"]]))]),
                json!([sel("Parent", json!([["count", "includes", ["set", []]]]))]),
                json!([sel(
                    "Parent",
                    json!([["tags", "includes", ["set", ["a", "b", "c", "d"]]]])
                )]),
                json!([sel("Parent", json!([["name", "==", ["named-uuid", "x"]]]))]),
                json!([sel(
                    "Parent",
                    json!([["children", "includes", ["named-uuid", "x"]]])
                )]),
            ],
        ),
        // ---------- update ----------
        c(
            "update_basic",
            vec![
                seed(),
                json!([
                    upd(
                        "Parent",
                        by_name("a"),
                        json!({"count": 42, "ext": ["map", [["n", "m"]]]})
                    ),
                    sel_c("Parent", json!([]), json!(["name", "count", "ext"]))
                ]),
            ],
        ),
        c(
            "update_all_rows",
            vec![
                seed(),
                json!([
                    upd("Parent", json!([]), json!({"flag": true})),
                    sel_c("Parent", json!([]), json!(["name", "flag"]))
                ]),
            ],
        ),
        c(
            "update_no_match",
            vec![
                seed(),
                json!([upd("Parent", by_name("zz"), json!({"count": 3}))]),
            ],
        ),
        c(
            "update_version_changes",
            vec![
                seed(),
                json!([sel_c("Parent", by_name("a"), json!(["_version"]))]),
                json!([upd("Parent", by_name("a"), json!({"count": 2}))]),
                json!([sel_c("Parent", by_name("a"), json!(["_version"]))]),
            ],
        ),
        c(
            "update_noop_keeps_version",
            vec![
                seed(),
                json!([sel_c("Parent", json!([]), json!(["_uuid", "_version"]))]),
                json!([upd("Parent", by_name("a"), json!({"count": 1}))]),
                json!([sel_c("Parent", json!([]), json!(["_uuid", "_version"]))]),
            ],
        ),
        c(
            "update_immutable",
            vec![
                seed(),
                json!([upd("Parent", by_name("a"), json!({"fixed": 1}))]),
                json!([upd("Parent", by_name("a"), json!({"_uuid": uuid(U3)}))]),
                json!([upd("Parent", by_name("a"), json!({"_version": uuid(U3)}))]),
            ],
        ),
        c(
            "update_errors",
            vec![
                seed(),
                json!([upd("Parent", by_name("a"), json!({"nope": 1}))]),
                json!([upd("Parent", by_name("a"), json!({"count": 101}))]),
                json!([upd(
                    "Parent",
                    json!([["nope", "==", 1]]),
                    json!({"count": 1})
                )]),
                json!([upd(
                    "Parent",
                    json!([["nope", "==", 1]]),
                    json!({"fixed": 1})
                )]),
                json!([{"op": "update", "table": "Parent", "row": {}}]),
                json!([{"op": "update", "table": "Parent", "where": []}]),
            ],
        ),
        c(
            "update_error_mid_txn",
            vec![
                seed(),
                json!([upd("Parent", by_name("a"), json!({"count": 3})), upd("Parent", by_name("a"), json!({"count": 300})), sel("Parent", json!([])), {"op": "comment", "comment": "x"}]),
                json!([sel_c("Parent", by_name("a"), json!(["count"]))]),
            ],
        ),
        c(
            "update_then_select_in_txn",
            vec![
                seed(),
                json!([
                    upd("Parent", by_name("a"), json!({"count": 3})),
                    sel_c("Parent", json!([["count", "==", 3]]), json!(["name"])),
                    upd("Parent", json!([["count", "==", 3]]), json!({"count": 4})),
                    sel_c("Parent", json!([]), json!(["name", "count"]))
                ]),
            ],
        ),
        // ---------- mutate ----------
        c(
            "mutate_arith_int",
            vec![
                seed(),
                json!([
                    mutate("Parent", by_name("a"), json!([["count", "+=", 5]])),
                    mutate("Parent", by_name("a"), json!([["count", "-=", 2]])),
                    mutate("Parent", by_name("a"), json!([["count", "*=", 3]])),
                    mutate("Parent", by_name("a"), json!([["count", "/=", 2]])),
                    mutate("Parent", by_name("a"), json!([["count", "%=", 4]])),
                    sel_c("Parent", by_name("a"), json!(["count"])),
                    mutate(
                        "Parent",
                        by_name("b"),
                        json!([["count", "%=", 3], ["count", "/=", -1]])
                    ),
                    sel_c("Parent", by_name("b"), json!(["count"])),
                ]),
            ],
        ),
        c(
            "mutate_arith_sets",
            vec![
                seed(),
                json!([
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([["nums", "+=", 10], ["reals", "*=", 2], ["opt_int", "-=", 1]])
                    ),
                    mutate(
                        "Parent",
                        by_name("b"),
                        json!([["opt_int", "+=", 1], ["nums", "*=", 5]])
                    ),
                    mutate(
                        "Parent",
                        by_name("c"),
                        json!([
                            ["reals", "/=", 4],
                            ["ratio", "+=", 1.25],
                            ["reals", "-=", 0.5]
                        ])
                    ),
                    sel_c(
                        "Parent",
                        json!([]),
                        json!(["name", "nums", "reals", "opt_int", "ratio"])
                    ),
                ]),
            ],
        ),
        c(
            "mutate_arith_arg_forms",
            vec![
                seed(),
                json!([
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([["count", "+=", ["set", [2]]], ["reals", "+=", 1]])
                    ),
                    sel_c("Parent", by_name("a"), json!(["count", "reals"]))
                ]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "+=", ["set", []]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "+=", 1.5]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["reals", "+=", "x"]])
                )]),
            ],
        ),
        c(
            "mutate_arith_errors",
            vec![
                seed(),
                json!([mutate("Parent", by_name("a"), json!([["count", "/=", 0]]))]),
                json!([mutate("Parent", by_name("a"), json!([["count", "%=", 0]]))]),
                json!([mutate("Parent", by_name("a"), json!([["reals", "/=", 0]]))]),
                json!([mutate("Parent", by_name("a"), json!([["reals", "%=", 2]]))]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["reals", "*=", 1e300], ["reals", "*=", 1e300]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([
                        ["nums", "-=", 9223372036854775807i64],
                        ["nums", "-=", 9223372036854775807i64]
                    ])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["nums", "+=", 9223372036854775807i64]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["nums", "*=", 4611686018427387904i64]])
                )]),
                json!([mutate("Parent", by_name("a"), json!([["nums", "*=", 0]]))]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "+=", 1000]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "*=", -200]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["ratio", "*=", 100]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["weights", "+=", 1]])
                )]),
                json!([mutate("Parent", by_name("a"), json!([["name", "+=", 1]]))]),
                json!([mutate("Parent", by_name("a"), json!([["flag", "+=", 1]]))]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["children", "+=", 1]])
                )]),
                json!([mutate("Parent", by_name("a"), json!([["count", "^=", 1]]))]),
                json!([mutate("Parent", by_name("a"), json!([["nope", "+=", 1]]))]),
                json!([mutate("Parent", by_name("a"), json!([["fixed", "+=", 1]]))]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["_uuid", "insert", 1]])
                )]),
                json!([mutate("Parent", by_name("a"), json!([["count", "+="]]))]),
                json!([mutate("Parent", by_name("a"), json!([5]))]),
                json!([{"op": "mutate", "table": "Parent", "where": [], "mutations": {}}]),
            ],
        ),
        c(
            "mutate_mul_edges",
            vec![
                json!([ins(
                    "Parent",
                    json!({"name": "m", "nums": ["set", [-2, 1, 3]]})
                )]),
                json!([
                    mutate("Parent", json!([]), json!([["nums", "*=", -3]])),
                    sel_c("Parent", json!([]), json!(["nums"]))
                ]),
                json!([mutate(
                    "Parent",
                    json!([]),
                    json!([["nums", "*=", 3074457345618258602i64]])
                )]),
                json!([mutate(
                    "Parent",
                    json!([]),
                    json!([["nums", "*=", -3074457345618258602i64]])
                )]),
                json!([
                    mutate(
                        "Parent",
                        json!([]),
                        json!([["nums", "/=", -1], ["nums", "%=", 2]])
                    ),
                    sel_c("Parent", json!([]), json!(["nums"]))
                ]),
            ],
        ),
        c(
            "mutate_set_insert_delete",
            vec![
                seed(),
                json!([
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([
                            ["nums", "insert", ["set", [3, 4, 5]]],
                            ["tags", "delete", "x"],
                            ["reals", "insert", 7]
                        ])
                    ),
                    mutate(
                        "Parent",
                        by_name("b"),
                        json!([
                            ["nums", "insert", 1],
                            ["nums", "delete", ["set", [1, 99]]],
                            ["tags", "insert", ["set", ["z", "q"]]]
                        ])
                    ),
                    mutate(
                        "Parent",
                        by_name("c"),
                        json!([
                            ["opt_int", "insert", 5],
                            ["opt_int", "delete", 5],
                            ["opt_int", "insert", ["set", [6]]]
                        ])
                    ),
                    sel_c(
                        "Parent",
                        json!([]),
                        json!(["name", "nums", "tags", "reals", "opt_int"])
                    ),
                ]),
            ],
        ),
        c(
            "mutate_map_insert_delete",
            vec![
                seed(),
                json!([
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([
                            ["ext", "insert", ["map", [["k1", "new"], ["k3", "v3"]]]],
                            ["ext", "delete", ["set", ["k2", "zz"]]]
                        ])
                    ),
                    mutate(
                        "Parent",
                        by_name("b"),
                        json!([["ext", "delete", ["map", [["k1", "nope"]]]]])
                    ),
                    mutate(
                        "Parent",
                        by_name("c"),
                        json!([
                            ["ext", "insert", ["map", []]],
                            ["weights", "insert", ["map", [[3, 2.5]]]]
                        ])
                    ),
                    sel_c("Parent", json!([]), json!(["name", "ext", "weights"])),
                    mutate(
                        "Parent",
                        by_name("b"),
                        json!([["ext", "delete", ["map", [["k1", "other"]]]]])
                    ),
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([["ext", "delete", "k1"], ["weights", "delete", ["set", [1]]]])
                    ),
                    sel_c("Parent", json!([]), json!(["name", "ext", "weights"])),
                ]),
            ],
        ),
        c(
            "mutate_set_errors",
            vec![
                seed(),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["tags", "insert", ["set", ["c", "d"]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["tags", "insert", ""]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["tags", "insert", ["set", ["a", "b", "c", "d"]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["opt_int", "insert", 3]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "insert", 3]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["count", "delete", 3]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["ext", "insert", ["set", ["a"]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["ext", "insert", ["map", [["a", 1]]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["ext", "delete", ["map", [["a", 1]]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["weights", "insert", ["map", [[20, 1]]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["weights", "insert", ["map", [[3, 1], [4, 1], [5, 1]]]]])
                )]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["nums", "bogus", 1]])
                )]),
            ],
        ),
        c(
            "mutate_holder_min",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins(
                        "Holder",
                        json!({"must": uuid(T1), "pair": ["set", ["a", "b"]]})
                    )
                ]),
                json!([
                    mutate("Holder", json!([]), json!([["pair", "delete", "a"]])),
                    sel_c("Holder", json!([]), json!(["pair"]))
                ]),
                json!([mutate(
                    "Holder",
                    json!([]),
                    json!([["pair", "delete", "b"]])
                )]),
                json!([mutate(
                    "Holder",
                    json!([]),
                    json!([["must", "delete", uuid(T1)]])
                )]),
            ],
        ),
        c(
            "mutate_no_match_and_count",
            vec![
                seed(),
                json!([
                    mutate("Parent", by_name("zz"), json!([["count", "+=", 1]])),
                    mutate("Parent", json!([]), json!([["count", "+=", 1]])),
                    mutate("Parent", json!([]), json!([]))
                ]),
            ],
        ),
        c(
            "mutate_error_after_partial",
            vec![
                seed(),
                json!([mutate("Parent", json!([]), json!([["count", "+=", 60]]))]),
                json!([sel_c("Parent", json!([]), json!(["name", "count"]))]),
            ],
        ),
        // ---------- delete ----------
        c(
            "delete_basic",
            vec![
                seed(),
                json!([
                    del("Parent", by_name("a")),
                    del("Parent", by_name("a")),
                    sel_c("Parent", json!([]), json!(["name"]))
                ]),
                json!([del("Parent", json!([])), sel("Parent", json!([]))]),
            ],
        ),
        c(
            "delete_inserted_same_txn",
            vec![json!([
                ins("Parent", json!({"name": "a"})),
                del("Parent", json!([])),
                sel("Parent", json!([]))
            ])],
        ),
        c(
            "delete_errors",
            vec![
                seed(),
                json!([del("Nope", json!([]))]),
                json!([{"op": "delete", "table": "Parent"}]),
                json!([del("Parent", json!([["nope", "==", 1]]))]),
            ],
        ),
        // ---------- strong references and garbage collection ----------
        c(
            "strong_ref_dangling",
            vec![
                json!([ins("Parent", json!({"name": "a", "children": uuid(C1)}))]),
                json!([ins(
                    "Parent",
                    json!({"name": "a", "child_map": ["map", [["x", uuid(C1)]]]})
                )]),
            ],
        ),
        c(
            "strong_ref_delete_referenced",
            vec![
                json!([
                    ins_u("Child", C1, json!({"value": 1})),
                    ins("Parent", json!({"name": "a", "children": uuid(C1)}))
                ]),
                json!([del("Child", json!([]))]),
                json!([del("Child", json!([])), del("Parent", json!([]))]),
                json!([sel("Child", json!([]))]),
            ],
        ),
        c(
            "gc_unreferenced_insert",
            vec![
                json!([
                    ins_u("Child", C1, json!({"value": 1})),
                    sel("Child", json!([]))
                ]),
                json!([sel("Child", json!([]))]),
            ],
        ),
        c(
            "gc_on_unlink",
            vec![
                json!([
                    ins_u("Child", C1, json!({"value": 1})),
                    ins_u("Child", C2, json!({"value": 2})),
                    ins(
                        "Parent",
                        json!({"name": "a", "children": ["set", [uuid(C1), uuid(C2)]]})
                    ),
                    ins(
                        "Parent",
                        json!({"name": "b", "child_map": ["map", [["k", uuid(C2)]]]})
                    )
                ]),
                json!([
                    mutate(
                        "Parent",
                        by_name("a"),
                        json!([["children", "delete", uuid(C2)]])
                    ),
                    sel_c("Child", json!([]), json!(["value"]))
                ]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
                json!([mutate(
                    "Parent",
                    by_name("a"),
                    json!([["children", "delete", uuid(C1)]])
                )]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
                json!([upd(
                    "Parent",
                    by_name("b"),
                    json!({"child_map": ["map", []]})
                )]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
            ],
        ),
        c(
            "gc_cascade_and_self_ref",
            vec![
                json!([
                    ins_n("Child", "c1", json!({"value": 1, "sub": named("c2")})),
                    ins_n("Child", "c2", json!({"value": 2, "sub": named("c3")})),
                    ins_n("Child", "c3", json!({"value": 3, "sub": named("c3")})),
                    ins("Parent", json!({"name": "a", "children": named("c1")}))
                ]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
                json!([del("Parent", json!([]))]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
            ],
        ),
        c(
            "gc_cycle_kept",
            vec![
                json!([
                    ins_n("Child", "c1", json!({"value": 1, "sub": named("c2")})),
                    ins_n("Child", "c2", json!({"value": 2, "sub": named("c1")}))
                ]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
            ],
        ),
        c(
            "strong_ref_to_root_from_child",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins_n("Child", "c", json!({"value": 1, "target": uuid(T1)})),
                    ins("Parent", json!({"name": "a", "children": named("c")}))
                ]),
                json!([del("Target", json!([]))]),
                json!([del("Parent", json!([])), del("Target", json!([]))]),
                json!([sel("Target", json!([]))]),
            ],
        ),
        c(
            "strong_ref_replace_child",
            vec![
                json!([
                    ins_n("Child", "c", json!({"value": 1})),
                    ins("Parent", json!({"name": "a", "children": named("c")}))
                ]),
                json!([
                    ins_n("Child", "d", json!({"value": 2})),
                    upd("Parent", json!([]), json!({"children": named("d")}))
                ]),
                json!([sel_c("Child", json!([]), json!(["value"]))]),
            ],
        ),
        // ---------- weak references ----------
        c(
            "weak_ref_removed_on_delete",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins_u("Target", T2, json!({"tag": "t2", "kind": 2})),
                    ins(
                        "Parent",
                        json!({"name": "a", "targets": ["set", [uuid(T1), uuid(T2)]], "target_map": ["map", [[uuid(T1), 1], [uuid(T2), 2]]], "one_target": uuid(T1)})
                    )
                ]),
                json!([sel_c(
                    "Parent",
                    json!([]),
                    json!(["targets", "target_map", "one_target", "_version"])
                )]),
                json!([del("Target", json!([["tag", "==", "t1"]]))]),
                json!([sel_c(
                    "Parent",
                    json!([]),
                    json!(["targets", "target_map", "one_target", "_version"])
                )]),
            ],
        ),
        c(
            "weak_ref_dangling_insert",
            vec![
                json!([
                    ins(
                        "Parent",
                        json!({"name": "a", "targets": ["set", [uuid(T1)]], "one_target": uuid(T2)})
                    ),
                    sel_c("Parent", json!([]), json!(["targets", "one_target"]))
                ]),
                json!([sel_c("Parent", json!([]), json!(["targets", "one_target"]))]),
            ],
        ),
        c(
            "weak_ref_insert_and_delete_same_txn",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins("Parent", json!({"name": "a", "targets": uuid(T1)})),
                    del("Target", json!([]))
                ]),
                json!([sel_c("Parent", json!([]), json!(["targets"]))]),
            ],
        ),
        c(
            "weak_ref_min_violation",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins("Holder", json!({"must": uuid(T1), "pair": "p"}))
                ]),
                json!([del("Target", json!([]))]),
                json!([sel_c("Holder", json!([]), json!(["must"]))]),
            ],
        ),
        c(
            "weak_ref_zero_default",
            vec![json!([ins("Holder", json!({"pair": "p"}))])],
        ),
        c(
            "weak_ref_dangling_min",
            vec![json!([ins(
                "Holder",
                json!({"must": uuid(T1), "pair": "p"})
            )])],
        ),
        c(
            "weak_ref_two_of_two",
            vec![
                json!([
                    ins_u("Target", T1, json!({"tag": "t1", "kind": 1})),
                    ins_u("Target", T2, json!({"tag": "t2", "kind": 2})),
                    ins(
                        "Holder",
                        json!({"must": ["set", [uuid(T1), uuid(T2)]], "pair": "p"})
                    )
                ]),
                json!([del("Target", json!([["tag", "==", "t1"]]))]),
                json!([sel_c("Holder", json!([]), json!(["must"]))]),
            ],
        ),
        // ---------- indexes ----------
        c(
            "index_dup_same_txn",
            vec![json!([
                ins("Parent", json!({"name": "x"})),
                ins("Parent", json!({"name": "x"}))
            ])],
        ),
        c(
            "index_dup_existing",
            vec![
                seed(),
                json!([ins("Parent", json!({"name": "a"}))]),
                json!([upd("Parent", by_name("b"), json!({"name": "a"}))]),
            ],
        ),
        c(
            "index_swap",
            vec![
                seed(),
                json!([
                    upd("Parent", by_name("a"), json!({"name": "tmp"})),
                    upd("Parent", by_name("b"), json!({"name": "a"})),
                    upd("Parent", by_name("tmp"), json!({"name": "b"}))
                ]),
                json!([sel_c("Parent", json!([]), json!(["_uuid", "name"]))]),
            ],
        ),
        c(
            "index_reuse_after_delete",
            vec![
                seed(),
                json!([
                    del("Parent", by_name("a")),
                    ins("Parent", json!({"name": "a"}))
                ]),
                json!([sel_c("Parent", json!([]), json!(["name"]))]),
            ],
        ),
        c(
            "index_composite",
            vec![
                json!([
                    ins("Target", json!({"tag": "t1", "kind": 1})),
                    ins("Target", json!({"tag": "t2", "kind": 1, "port": 5}))
                ]),
                json!([ins("Target", json!({"tag": "t3", "kind": 1}))]),
                json!([ins("Target", json!({"tag": "t3", "kind": 1, "port": 5}))]),
                json!([ins("Target", json!({"tag": "t3", "kind": 2, "port": 5}))]),
                json!([sel_c("Target", json!([]), json!(["tag"]))]),
            ],
        ),
        // ---------- maxRows ----------
        c(
            "max_rows",
            vec![
                json!([
                    ins("Target", json!({"tag": "1", "kind": 1})),
                    ins("Target", json!({"tag": "2", "kind": 2})),
                    ins("Target", json!({"tag": "3", "kind": 3})),
                    ins("Target", json!({"tag": "4", "kind": 1, "port": 1})),
                    ins("Target", json!({"tag": "5", "kind": 1, "port": 2}))
                ]),
                json!([ins("Target", json!({"tag": "6", "kind": 1, "port": 3}))]),
                json!([
                    del("Target", json!([["tag", "==", "1"]])),
                    ins("Target", json!({"tag": "6", "kind": 1, "port": 3}))
                ]),
                json!([sel_c("Target", json!([]), json!(["tag"]))]),
            ],
        ),
        // ---------- wait ----------
        c(
            "wait_ops",
            vec![
                seed(),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "columns": ["name", "count"], "until": "==", "rows": [{"name": "a", "count": 1}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "columns": ["name", "count"], "until": "==", "rows": [{"name": "a", "count": 2}], "timeout": 0}, sel("Parent", json!([]))]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "columns": ["name", "count"], "until": "!=", "rows": [{"name": "a", "count": 2}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "columns": ["name", "count"], "until": "!=", "rows": [{"name": "a", "count": 1}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "columns": ["fixed"], "until": "==", "rows": [{"fixed": 0}, {"fixed": 0}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "columns": ["flag"], "until": "==", "rows": [{"flag": true}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "zz"]], "until": "==", "rows": [], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "until": "==", "rows": [{"name": "a"}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "<", "rows": [], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "rows": [], "timeout": -1}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "rows": [{"nope": 1}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "rows": [5], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "rows": {}, "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "until": "==", "rows": [], "timeout": "x"}]),
                json!([{"op": "wait", "table": "Parent", "where": [["name", "==", "a"]], "columns": ["_uuid"], "until": "==", "rows": [{"_uuid": ["uuid", U1]}], "timeout": 0}]),
                json!([{"op": "wait", "table": "Parent", "where": [], "columns": ["nope"], "until": "==", "rows": [], "timeout": 0}]),
                json!([ins("Parent", json!({"name": "w"})), {"op": "wait", "table": "Parent", "where": [["name", "==", "w"]], "columns": ["name"], "until": "==", "rows": [{"name": "w"}], "timeout": 0}]),
            ],
        ),
        // ---------- commit, abort, comment, assert ----------
        c(
            "misc_ops",
            vec![
                json!([]),
                json!([{"op": "commit", "durable": false}]),
                json!([{"op": "commit", "durable": true}, ins("Parent", json!({"name": "a"}))]),
                json!([{"op": "commit"}]),
                json!([{"op": "commit", "durable": 1}]),
                json!([ins("Parent", json!({"name": "b"})), {"op": "abort"}, ins("Parent", json!({"name": "c"}))]),
                json!([{"op": "comment", "comment": "hello"}, ins("Parent", json!({"name": "d"}))]),
                json!([{"op": "comment"}]),
                json!([{"op": "comment", "comment": 5}]),
                json!([{"op": "assert", "lock": "mylock"}]),
                json!([{"op": "assert", "lock": "my-lock"}]),
                json!([{"op": "assert"}]),
                json!([{"op": "bogus"}]),
                json!([{"op": 5}]),
                json!([{"table": "Parent"}]),
                json!([5]),
                json!([[]]),
                json!([
                    sel_c("Parent", json!([]), json!(["name"])),
                    5,
                    sel("Parent", json!([]))
                ]),
                json!([sel_c("Parent", json!([]), json!(["name"]))]),
            ],
        ),
        c(
            "commit_failure_trailing_error",
            vec![
                json!([
                    ins("Parent", json!({"name": "a"})),
                    ins("Parent", json!({"name": "a"})),
                    sel_c("Parent", json!([]), json!(["name"]))
                ]),
                json!([sel("Parent", json!([]))]),
            ],
        ),
    ];
    v.push(c("many_rows", vec![Value::Array((0..40).map(|i| ins("Parent", json!({"name": format!("n{i}"), "count": i % 100, "nums": ["set", [i, i + 1]]}))).collect()), json!([mutate("Parent", json!([["count", ">=", 20]]), json!([["nums", "insert", 1000]])), del("Parent", json!([["count", "<", 10]])), sel_c("Parent", json!([["nums", "includes", 1000]]), json!(["name"]))])]));
    v
}

#[test]
fn differential_corpus_test_schema() {
    let cases = cases();
    let n_txns: usize = cases.iter().map(|c| c.1.len()).sum();
    eprintln!(
        "test-schema corpus: {} cases, {} transactions",
        cases.len(),
        n_txns
    );
    run_cases(&test_schema_path(), &cases);
}
