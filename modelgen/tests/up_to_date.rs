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
