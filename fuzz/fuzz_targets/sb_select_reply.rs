//! `ovnkit flows`' Southbound read: any bytes as the `result` of a `transact` of `select`s either
//! read into `SbTables` or fail with an error, and whatever reads must read the same through a
//! JSON tree and `SbTables::add_json_rows`, table by table.
#![no_main]

use flowcompile::chassis::SbTables;
use serde_json::Value;

/// The reply read through a JSON tree, as `ovnkit flows` read it before.
fn through_tree(data: &[u8]) -> Option<SbTables> {
    let Ok(Value::Array(results)) = serde_json::from_slice::<Value>(data) else {
        return None;
    };
    let mut sb = SbTables::default();
    for (t, r) in SbTables::TABLES.iter().zip(&results) {
        if r.get("error").is_some() {
            return None;
        }
        let rows = r.get("rows")?.as_array()?;
        sb.add_json_rows(t, rows).ok()?;
    }
    Some(sb)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(direct) = SbTables::from_select_reply(data) {
        // The streaming read may refuse more (a member given twice), never less.
        let Some(tree) = through_tree(data) else {
            panic!("read directly but not through a tree");
        };
        assert_eq!(format!("{direct:?}"), format!("{tree:?}"));
    }
});
