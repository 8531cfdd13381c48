//! `ovnkit nbctl` end to end: through the ovsdb client against a real NB ovsdb-server (output and
//! errors as ovn-nbctl prints them), and on a standalone database file a real ovsdb-server then
//! serves.

use std::process::Command;

fn ovnkit(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ovnkit"))
        .args(args)
        .env_remove("OVN_NB_DB")
        .output()
        .expect("run ovnkit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nbctl_cli_matches_ovn_nbctl() {
    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().expect("sandbox");
    let schema = ovn.schema(testkit::Schema::Northbound).expect("schema");
    let server = sandbox.start_ovsdb_server("nb", &schema).expect("server");
    let db = format!("--db={}", server.remote());

    let (ok, _, err) = ovnkit(&[
        "nbctl",
        &db,
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "p1",
        "--",
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.1",
        "--",
        "lr-add",
        "lr0",
        "--",
        "lrp-add",
        "lr0",
        "lrp0",
        "00:00:00:00:ff:01",
        "10.0.0.254/24",
    ]);
    assert!(ok, "{err}");
    for cmd in [
        &["show", "sw0"][..],
        &["show", "lr0"],
        &["ls-list"],
        &["get", "logical_switch_port", "p1", "addresses"],
    ] {
        let mut args = vec!["nbctl", db.as_str()];
        args.extend_from_slice(cmd);
        let (ok, ours, err) = ovnkit(&args);
        assert!(ok, "{err}");
        let mut real_args = vec![db.clone()];
        real_args.extend(cmd.iter().map(|s| (*s).to_owned()));
        let real = sandbox
            .run(testkit::Tool::OvnNbctl, &real_args)
            .expect("ovn-nbctl");
        assert_eq!(ours, real, "{cmd:?}");
    }
    let (ok, _, err) = ovnkit(&["nbctl", &db, "ls-add", "sw0"]);
    assert!(!ok);
    assert!(
        err.contains("sw0: a switch with this name already exists"),
        "{err}"
    );

    // A standalone file, written in-process, then served by the real ovsdb-server.
    let file = sandbox.dir().join("file.db");
    let file_s = file.to_string_lossy().into_owned();
    let (ok, _, err) = ovnkit(&["ovsdb-tool", "create", &file_s, &schema.to_string_lossy()]);
    assert!(ok, "{err}");
    let fdb = format!("--db=file:{file_s}");
    let (ok, _, err) = ovnkit(&["nbctl", &fdb, "ls-add", "fsw", "--", "lsp-add", "fsw", "fp"]);
    assert!(ok, "{err}");
    let (ok, _, err) = ovnkit(&["nbctl", &fdb, "lsp-set-type", "fp", "localnet"]);
    assert!(ok, "{err}");
    let served = sandbox
        .start_ovsdb_server_on("fnb", &file)
        .expect("serve the file");
    let real = sandbox
        .run(
            testkit::Tool::OvnNbctl,
            [
                format!("--db={}", served.remote()),
                "get".into(),
                "logical_switch_port".into(),
                "fp".into(),
                "type".into(),
            ],
        )
        .expect("ovn-nbctl on our file");
    assert_eq!(real, "localnet\n");
}
