//! The committed models (ovn-nb/src/model.rs, ovn-sb/src/model.rs, ovn-sb/src/vswitch.rs) must be
//! exactly what the generator makes from the installed schemas. Regenerate with
//! `cargo run -p modelgen -- --write`.

use modelgen::Freshness;

#[test]
fn committed_models_are_up_to_date() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing: Vec<_> = modelgen::targets()
        .into_iter()
        .filter(|t| !t.schema_path.exists())
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|t| format!("{} (Debian package {})", t.schema_path.display(), t.package))
            .collect();
        let msg = format!("installed schemas missing: {}", list.join(", "));
        if ci {
            panic!("CI=true and {msg}");
        }
        eprintln!("skipping: {msg}");
        return;
    }
    let workspace = modelgen::default_workspace();
    let results = modelgen::check_targets(&workspace).expect("generation");
    let stale: Vec<String> = results
        .iter()
        .filter(|(_, f)| *f != Freshness::UpToDate)
        .map(|(t, f)| format!("{}: {f:?}", t.output.display()))
        .collect();
    assert!(
        stale.is_empty(),
        "generated models are stale; run `cargo run -p modelgen -- --write`: {stale:?}"
    );
}

#[test]
fn embedded_serialization_is_lossless() {
    for t in modelgen::targets() {
        let Ok(text) = std::fs::read_to_string(&t.schema_path) else {
            eprintln!("skipping {}: not installed", t.schema_path.display());
            continue;
        };
        let installed = ovsdb::Schema::from_str_json(&text).expect("installed schema parses");
        let embedded = serde_json::to_string_pretty(&installed.to_json()).expect("serialize");
        let again = ovsdb::Schema::from_str_json(&embedded).expect("embedded schema parses");
        assert_eq!(again, installed, "{}", t.schema_path.display());
    }
}
