//! Pieces of the stack served by someone else, or replaced, or absent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use testkit::{DbSource, Error, NorthdSource, Result, Schema, Tool};

#[test]
fn external_databases_with_real_northd() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    // "Some other code" serving NB and SB: here a separate sandbox.
    let mut other = ovn.sandbox()?;
    let nb = other.start_ovsdb_server("nb", &ovn.schema(Schema::Northbound)?)?;
    let sb = other.start_ovsdb_server("sb", &ovn.schema(Schema::Southbound)?)?;
    let stack = ovn
        .stack()
        .nb(DbSource::External {
            remote: nb.remote(),
        })
        .sb(DbSource::External {
            remote: sb.remote(),
        })
        .no_chassis()
        .build()?;
    assert_eq!(stack.pids().len(), 1, "only northd is ours");
    stack.nbctl(["ls-add", "ext0"])?;
    stack.wait_sb()?;
    let sb_remote = format!("--db={}", sb.remote());
    let dps = other.run(
        Tool::OvnSbctl,
        [
            sb_remote.as_str(),
            "--bare",
            "--columns=external_ids",
            "list",
            "Datapath_Binding",
        ],
    )?;
    assert!(dps.contains("name=ext0"), "{dps}");
    drop(stack);
    // The external servers are not ours to stop.
    assert!(testkit::process_alive(nb.daemon().pid()));
    Ok(())
}

#[test]
fn northd_replaced_by_a_command_with_placeholders() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    // Stand-in for our own northd binary: the real one, started as a plain command.
    let program = ovn.find(Tool::OvnNorthd)?;
    let args = [
        "--ovnnb-db={nb}",
        "--ovnsb-db={sb}",
        "--unixctl={dir}/alt.ctl",
        "--log-file={dir}/alt.log",
    ]
    .map(String::from)
    .to_vec();
    let stack = ovn
        .stack()
        .northd(NorthdSource::Command { program, args })
        .no_chassis()
        .build()?;
    stack.nbctl(["ls-add", "alt0"])?;
    stack.wait_sb()?;
    assert!(stack.dir().join("alt.ctl").exists());
    assert!(stack.dir().join("alt.log").exists());
    Ok(())
}

#[test]
fn replacement_that_exits_is_reported_with_its_output() {
    let ovn = testkit::require_or_skip!();
    let err = ovn
        .stack()
        .northd(NorthdSource::Command {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "echo cannot reach {nb} >&2; exit 3".into()],
        })
        .no_chassis()
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Exited { .. }), "{text}");
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("cannot reach unix:/tmp/tk"), "{text}");
}

#[test]
fn without_northd_waits_time_out_with_a_clear_error() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    let mut stack = ovn
        .stack()
        .northd(NorthdSource::None)
        .controller(false)
        .build()?;
    stack.sandbox_mut().set_timeout(Duration::from_millis(700));
    assert_eq!(stack.pids().len(), 4, "nb, sb, ovs db, vswitchd");
    assert!(
        stack.dump_flows()?.trim().lines().count() <= 1,
        "no controller, no flows"
    );
    let started = Instant::now();
    let err = stack.wait_sb().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    assert!(err.to_string().contains("--wait=sb"), "{err}");
    Ok(())
}
