//! Re-running this test binary for one test, with extra environment, to test
//! what must happen in a separate process (real panics, SIGKILL, `CI=true`).

use std::process::{Child, Command, Output, Stdio};

/// The command that runs only `test` (full path like `cleanup::child_panics`).
pub(crate) fn command(test: &str) -> Command {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to completion, capturing its output.
pub(crate) fn output(mut cmd: Command) -> Output {
    cmd.output().expect("run test binary")
}

/// Starts `cmd` in the background, output discarded.
pub(crate) fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn test binary")
}

/// Stdout and stderr as one string.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
