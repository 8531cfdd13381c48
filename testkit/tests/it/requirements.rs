//! Missing packages: a skip outside CI, a failure naming the package with `CI=true`.

use std::os::unix::fs::symlink;
use std::panic::catch_unwind;

use testkit::{Error, Missing, Tool, Toolbox};

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// A search path holding the Open vSwitch programs but none of OVN's.
fn ovs_only_dir(system: &Toolbox) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in Tool::ALL
        .into_iter()
        .filter(|t| t.program().starts_with("ovs"))
    {
        if let Ok(p) = system.find(tool) {
            symlink(p, dir.path().join(tool.program())).unwrap();
        }
    }
    dir
}

#[test]
fn ci_with_ovn_missing_fails_naming_packages() {
    let system = Toolbox::system();
    let ovs_only = ovs_only_dir(&system);
    let tb = system
        .clone()
        .with_search_path([ovs_only.path()])
        .with_ci(true);
    let msg = panic_text(catch_unwind(|| tb.require_all()).unwrap_err());
    assert!(msg.contains("CI=true"), "{msg}");
    assert!(
        msg.contains("ovn-northd (Debian package ovn-central)"),
        "{msg}"
    );
    assert!(
        msg.contains("ovn-controller (Debian package ovn-host)"),
        "{msg}"
    );
    assert!(
        msg.contains("ovn-nbctl (Debian package ovn-common)"),
        "{msg}"
    );
    if system.find(Tool::OvsdbServer).is_ok() {
        assert!(!msg.contains("openvswitch-common"), "OVS is present: {msg}");
    }
}

#[test]
fn ci_with_nothing_installed_names_every_package() {
    let tb = Toolbox::system()
        .with_search_path(["/nonexistent-testkit"])
        .with_schema_dirs(["/nonexistent-testkit"])
        .with_ci(true);
    let msg = panic_text(catch_unwind(|| tb.require_all()).unwrap_err());
    for pkg in [
        "openvswitch-switch",
        "openvswitch-common",
        "ovn-central",
        "ovn-host",
        "ovn-common",
    ] {
        assert!(msg.contains(pkg), "{pkg} not named in: {msg}");
    }
    assert!(msg.contains("ovn-sb.ovsschema"), "{msg}");
}

#[test]
fn outside_ci_missing_is_a_skip() {
    let tb = Toolbox::system()
        .with_search_path(["/nonexistent-testkit"])
        .with_ci(false);
    let skip = tb.require(&[Tool::OvnController], &[]).unwrap_err();
    assert_eq!(skip.missing(), [Missing::Tool(Tool::OvnController)]);
    assert_eq!(skip.packages(), ["ovn-host"]);
    assert!(skip.to_string().starts_with("skipped:"), "{skip}");
}

#[test]
fn building_a_stack_without_tools_is_an_error_naming_the_package() {
    let tb = Toolbox::system().with_search_path(["/nonexistent-testkit"]);
    let err = tb.stack().build().unwrap_err();
    assert!(
        matches!(err, Error::ToolMissing { package, .. } if package.starts_with("o")),
        "{err}"
    );
    assert!(
        err.to_string().contains("install the Debian package"),
        "{err}"
    );
}

/// Child half of the macro tests: just the one-liner.
#[test]
fn child_uses_macro() {
    if std::env::var_os("TESTKIT_IT_MACRO_CHILD").is_none() {
        return;
    }
    let _ovn = testkit::require_or_skip!();
    println!("TOOLS FOUND");
}

fn run_macro_child(ci: bool) -> (bool, String) {
    let mut cmd = crate::child::command("requirements::child_uses_macro");
    cmd.env("TESTKIT_IT_MACRO_CHILD", "1")
        .env(testkit::SEARCH_PATH_VAR, "/nonexistent-testkit");
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = crate::child::output(cmd);
    (out.status.success(), crate::child::text(&out))
}

#[test]
fn macro_skips_outside_ci() {
    let (ok, text) = run_macro_child(false);
    assert!(ok, "{text}");
    assert!(text.contains("skipped:"), "{text}");
    assert!(!text.contains("TOOLS FOUND"), "{text}");
}

#[test]
fn macro_fails_under_ci_naming_the_package() {
    let (ok, text) = run_macro_child(true);
    assert!(!ok, "{text}");
    assert!(
        text.contains("ovsdb-server (Debian package openvswitch-common)"),
        "{text}"
    );
    assert!(
        text.contains("ovn-northd (Debian package ovn-central)"),
        "{text}"
    );
}
