//! ovnkit's own database servers for the side-by-side tests (`OVNKIT_STACK=1`): `ovnkit
//! ovsdb-server` processes in a test sandbox, one per database, as the real stack has.

use std::path::Path;
use std::time::{Duration, Instant};

/// Whether `OVNKIT_STACK` asks for ovnkit's own database servers under our northd.
pub(crate) fn ovnkit_stack() -> bool {
    std::env::var("OVNKIT_STACK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Starts `ovnkit ovsdb-server` serving a fresh `name` database (NB or SB) in `sandbox`, on
/// `DIR/NAME.sock`; returns its remote once the socket exists.
pub(crate) fn start_our_server(
    sandbox: &mut testkit::Sandbox,
    name: &str,
    schema: &Path,
) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_ovnkit"));
    let db = sandbox.dir().join(format!("{name}.db"));
    let st = std::process::Command::new(bin)
        .arg("ovsdb-tool")
        .arg("create")
        .arg(&db)
        .arg(schema)
        .status()
        .expect("ovnkit ovsdb-tool create");
    assert!(st.success(), "ovnkit ovsdb-tool create {name}");
    let sock = sandbox.dir().join(format!("{name}.sock"));
    let log = sandbox.dir().join(format!("{name}-server.log"));
    let remote = format!("unix:{}", sock.display());
    let name = format!("ovnkit-ovsdb-server-{name}");
    let info = sandbox
        .start_program(
            &name,
            bin,
            [
                "ovsdb-server".to_owned(),
                format!("--remote=p{remote}"),
                format!("--log-file={}", log.display()),
                db.display().to_string(),
            ],
        )
        .expect("start ovnkit ovsdb-server");
    let t = Instant::now();
    while !sock.exists() {
        let alive = testkit::process_alive(info.pid());
        if !alive || t.elapsed() > Duration::from_secs(120) {
            panic!(
                "{name} did not start (alive: {alive}): {} {}",
                std::fs::read_to_string(info.output_file()).unwrap_or_default(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    remote
}
