//! One ovsdb-server alone, for an installed schema and for a schema of our own.

use testkit::{Result, Schema, Tool};

#[test]
fn ovsdb_server_for_installed_schema() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    let mut sandbox = ovn.sandbox()?;
    let server = sandbox.start_ovsdb_server("nb", &ovn.schema(Schema::Northbound)?)?;
    assert_eq!(server.db_name(), "OVN_Northbound");
    assert!(server.socket().starts_with(sandbox.dir()));
    assert!(server.socket().as_os_str().len() < 100);
    let remote = server.remote();
    sandbox.run(Tool::OvnNbctl, [&format!("--db={remote}"), "ls-add", "x"])?;
    let out = sandbox.run(Tool::OvnNbctl, [&format!("--db={remote}"), "ls-list"])?;
    assert!(out.contains("(x)"), "{out}");
    Ok(())
}

#[test]
fn ovsdb_server_for_any_schema_file() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    let mut sandbox = ovn.sandbox()?;
    let schema = sandbox.dir().join("tiny.ovsschema");
    std::fs::write(
        &schema,
        r#"{"name": "Tiny", "version": "1.0.0",
            "tables": {"T": {"columns": {"n": {"type": "integer"}}}}}"#,
    )
    .unwrap();
    let server = sandbox.start_ovsdb_server("tiny", &schema)?;
    assert_eq!(server.db_name(), "Tiny");
    let pid = server.daemon().pid();
    assert!(testkit::process_alive(pid));
    assert!(sandbox.stop("tiny"));
    assert!(!testkit::process_alive(pid));
    Ok(())
}

#[test]
fn daemon_that_dies_at_start_is_reported_with_its_output() {
    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().unwrap();
    let bogus = sandbox.dir().join("not-a-schema.ovsschema");
    std::fs::write(&bogus, "{}").unwrap();
    let err = sandbox.start_ovsdb_server("bad", &bogus).unwrap_err();
    // ovsdb-tool refuses the schema before any server starts.
    assert!(matches!(err, testkit::Error::CommandFailed { .. }), "{err}");
    assert!(err.to_string().contains("ovsdb-tool create"), "{err}");

    let db = sandbox.dir().join("missing.db");
    let err = sandbox.start_ovsdb_server_on("gone", &db).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, testkit::Error::Exited { .. }), "{text}");
    assert!(text.contains("missing.db"), "{text}");
}
