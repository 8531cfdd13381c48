//! Nothing survives a stack: no daemon, no temp dir — also when the test
//! panics, and (daemons only) when the test process is SIGKILLed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::process_alive;

/// Environment variable telling a child run where to write its pids and dir.
const REPORT: &str = "TESTKIT_IT_CHILD_REPORT";

fn assert_all_gone(pids: &[u32], dir: &Path) {
    for &pid in pids {
        assert!(!process_alive(pid), "daemon {pid} survived");
    }
    assert!(!dir.exists(), "{} survived", dir.display());
}

#[test]
fn panic_in_test_stops_daemons_and_removes_dir() {
    let ovn = testkit::require_or_skip!();
    let mut seen: Option<(Vec<u32>, PathBuf)> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let stack = ovn.stack().build().unwrap();
        seen = Some((stack.pids(), stack.dir().to_path_buf()));
        for &pid in &stack.pids() {
            assert!(process_alive(pid));
        }
        panic!("deliberate panic with a running stack");
    }));
    assert!(result.is_err());
    let (pids, dir) = seen.expect("stack was built");
    assert_eq!(
        pids.len(),
        6,
        "nb, sb, northd, ovs db, vswitchd, controller"
    );
    assert_all_gone(&pids, &dir);
}

/// Writes "pid pid ...\ndir" to the report file once the stack is up.
fn report_stack(path: &str, stack: &testkit::Stack) {
    let pids: Vec<String> = stack.pids().iter().map(u32::to_string).collect();
    let tmp = format!("{path}.tmp");
    std::fs::write(
        &tmp,
        format!("{}\n{}\n", pids.join(" "), stack.dir().display()),
    )
    .unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn read_report(path: &Path) -> (Vec<u32>, PathBuf) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let pids = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    (pids, PathBuf::from(lines.next().unwrap()))
}

/// Child half of `real_panic_in_child_process_leaves_nothing`.
#[test]
fn child_panics_with_stack() {
    let Ok(path) = std::env::var(REPORT) else {
        return; // Only meaningful when run by the parent test.
    };
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().build().unwrap();
    report_stack(&path, &stack);
    panic!("deliberate panic in child");
}

#[test]
fn real_panic_in_child_process_leaves_nothing() {
    let _ovn = testkit::require_or_skip!();
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report");
    let mut cmd = crate::child::command("cleanup::child_panics_with_stack");
    cmd.env(REPORT, &report);
    let out = crate::child::output(cmd);
    let text = crate::child::text(&out);
    assert!(!out.status.success(), "child should have failed:\n{text}");
    assert!(text.contains("deliberate panic in child"), "{text}");
    let (pids, dir) = read_report(&report);
    assert_eq!(pids.len(), 6);
    assert_all_gone(&pids, &dir);
}

/// Child half of `sigkilled_test_process_takes_daemons_along`.
#[test]
fn child_waits_to_be_killed() {
    let Ok(path) = std::env::var(REPORT) else {
        return;
    };
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().build().unwrap();
    report_stack(&path, &stack);
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn sigkilled_test_process_takes_daemons_along() {
    let _ovn = testkit::require_or_skip!();
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report");
    let mut cmd = crate::child::command("cleanup::child_waits_to_be_killed");
    cmd.env(REPORT, &report);
    let mut child = crate::child::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(25);
    while !report.exists() {
        assert!(Instant::now() < deadline, "child never reported its stack");
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (pids, dir) = read_report(&report);
    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop.
    child.wait().unwrap();
    // The kernel delivers PR_SET_PDEATHSIG asynchronously; allow a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| process_alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for &pid in &pids {
        assert!(
            !process_alive(pid),
            "daemon {pid} outlived the SIGKILLed test"
        );
    }
    // Documented limitation: nobody was left to remove the directory.
    std::fs::remove_dir_all(&dir).unwrap();
}
