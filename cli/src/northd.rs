//! `ovnkit northd`: keeps the Southbound database in step with the Northbound one, like
//! ovn-northd.
//!
//! Each round reads NB and SB with one `select` transaction each, compiles with
//! `northd::build`, writes the `northd::diff::diff` as one SB transaction (with `SB_Global`
//! `nb_cfg`), then writes back to NB what northd owns there: IPAM `dynamic_addresses`, the
//! `mac_prefix`/`svc_monitor_mac`/`max_tunid` options, and `sb_cfg` (so `ovn-nbctl --wait=sb`
//! returns). Without `--once` it polls NB every `--interval-ms` and recomputes on change
//! (full recompute; no incremental processing yet).

use std::time::Duration;

use clap::Args;
use northd::diff::{diff, SbRows};
use northd::NbSnapshot;
use ovsdb::client::{ClientError, Connection, Remote};
use serde_json::{json, Map, Value};

const TIMEOUT: Duration = Duration::from_secs(30);

/// SB tables read each round: what the diff needs ([`SbRows::TABLES`]), plus `Chassis_Private`
/// for `hv_cfg`.
fn sb_tables() -> Vec<&'static str> {
    let mut t = SbRows::TABLES.to_vec();
    t.push("Chassis_Private");
    t
}

/// Arguments of `ovnkit northd`.
#[derive(Debug, Args)]
pub(crate) struct NorthdArgs {
    /// Northbound database remote(s), e.g. `unix:/run/ovn/ovnnb_db.sock` or `tcp:IP:PORT`
    /// (comma-separated for a cluster).
    #[arg(long = "ovnnb-db")]
    ovnnb_db: String,
    /// Southbound database remote(s).
    #[arg(long = "ovnsb-db")]
    ovnsb_db: String,
    /// Compute and write once, then exit.
    #[arg(long)]
    once: bool,
    /// Poll interval in milliseconds when running continuously.
    #[arg(long = "interval-ms", default_value_t = 100)]
    interval_ms: u64,
}

pub(crate) fn run(args: &NorthdArgs) -> Result<(), String> {
    // One line per round with the time of each step (RUST_LOG=warn silences it).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut nb = connect(&args.ovnnb_db).await.map_err(|e| e.to_string())?;
        let mut sb = connect(&args.ovnsb_db).await.map_err(|e| e.to_string())?;
        let mut last: Option<(Value, Value)> = None;
        loop {
            let t = std::time::Instant::now();
            let nb_tables = select(&mut nb, "OVN_Northbound", NbSnapshot::TABLES)
                .await
                .map_err(|e| e.to_string())?;
            let sb_tables = select(&mut sb, "OVN_Southbound", &sb_tables())
                .await
                .map_err(|e| e.to_string())?;
            let seen = (nb_tables, sb_tables);
            if last.as_ref() != Some(&seen) {
                tracing::info!(read_ms = t.elapsed().as_millis() as u64, "read NB and SB");
                round(&mut nb, &mut sb, &seen.0, &seen.1).await?;
                last = Some(seen);
            }
            if args.once {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    })
}

async fn connect(remotes: &str) -> Result<Connection, ClientError> {
    let mut last = ClientError::NoRemotes;
    for r in Remote::parse_list(remotes)? {
        match Connection::connect(&r, TIMEOUT, None).await {
            Ok(conn) => return Ok(conn),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `{table: [rows]}` for `tables` of database `db`.
async fn select(conn: &mut Connection, db: &str, tables: &[&str]) -> Result<Value, ClientError> {
    let mut params = vec![json!(db)];
    for t in tables {
        params.push(json!({"op": "select", "table": t, "where": []}));
    }
    let reply = conn.call_ok("transact", params, TIMEOUT).await?;
    let mut out = Map::new();
    for (t, r) in tables.iter().zip(reply.as_array().into_iter().flatten()) {
        let rows = r.get("rows").cloned().unwrap_or(Value::Array(Vec::new()));
        out.insert((*t).to_owned(), rows);
    }
    Ok(Value::Object(out))
}

fn check_reply(what: &str, reply: &Value) -> Result<(), String> {
    for r in reply.as_array().into_iter().flatten() {
        if let Some(e) = r.get("error") {
            return Err(format!(
                "{what}: {e} {}",
                r.get("details").unwrap_or(&Value::Null)
            ));
        }
    }
    Ok(())
}

/// `NB_Global` `hv_cfg`: the smallest `nb_cfg` any chassis has caught up with (`nb_cfg` when
/// there is no chassis).
fn hv_cfg(sb_tables: &Value, nb_cfg: i64) -> i64 {
    sb_tables["Chassis_Private"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["nb_cfg"].as_i64())
        .min()
        .map_or(nb_cfg, |m| m.min(nb_cfg))
}

/// `Logical_Switch_Port` `up` as ovn-northd derives it from the port's binding: router ports
/// are always up; a bound port is up when its binding says so (or has no `up` column yet).
fn lsp_up(current: &SbRows, lsp: &ovn_nb::model::LogicalSwitchPort) -> bool {
    if lsp.type_ == "router" {
        return true;
    }
    current
        .ports
        .values()
        .find(|pb| pb.logical_port == lsp.name)
        .is_some_and(|pb| pb.chassis.is_some() && pb.up.unwrap_or(true))
}

async fn round(
    nb: &mut Connection,
    sb: &mut Connection,
    nb_tables: &Value,
    sb_tables: &Value,
) -> Result<(), String> {
    let t = std::time::Instant::now();
    let snapshot = NbSnapshot::from_json(nb_tables).map_err(|e| e.to_string())?;
    let current = SbRows::from_json(sb_tables).map_err(|e| e.to_string())?;
    let parse_ms = t.elapsed().as_millis() as u64;
    let t = std::time::Instant::now();
    let content = northd::build(&snapshot, &current.state());
    let build_ms = t.elapsed().as_millis() as u64;
    for w in &content.warnings {
        eprintln!("ovnkit northd: {w}");
    }
    let nb_cfg = snapshot.nb_global.as_ref().map_or(0, |g| g.nb_cfg);

    let t = std::time::Instant::now();
    let mut ops = vec![json!("OVN_Southbound")];
    ops.extend(diff(&current, &content).map_err(|e| e.to_string())?);
    let diff_ms = t.elapsed().as_millis() as u64;
    let t = std::time::Instant::now();
    if current.sb_global.as_ref().map(|g| g.nb_cfg) != Some(nb_cfg) {
        ops.push(
            json!({"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": nb_cfg}}),
        );
    }
    if ops.len() > 1 {
        let reply = sb
            .call_ok("transact", ops, TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        check_reply("SB transaction", &reply)?;
    }
    tracing::info!(
        parse_ms,
        build_ms,
        diff_ms,
        sb_write_ms = t.elapsed().as_millis() as u64,
        flows = content.flows.len(),
        "SB written"
    );

    let mut ops = vec![json!("OVN_Northbound")];
    for lsp in snapshot.switch_ports.values() {
        let up = lsp_up(&current, lsp);
        if lsp.up != Some(up) {
            ops.push(json!({
                "op": "update",
                "table": "Logical_Switch_Port",
                "where": [["_uuid", "==", ["uuid", lsp.uuid.to_string()]]],
                "row": {"up": up},
            }));
        }
    }
    for (port, value) in &content.nb_dynamic_addresses {
        let v = match value {
            Some(s) => json!(s),
            None => json!(["set", []]),
        };
        ops.push(json!({
            "op": "update",
            "table": "Logical_Switch_Port",
            "where": [["_uuid", "==", ["uuid", port.to_string()]]],
            "row": {"dynamic_addresses": v},
        }));
    }
    if let Some(g) = &snapshot.nb_global {
        let mut options = g.options.clone();
        for key in ["mac_prefix", "svc_monitor_mac", "max_tunid"] {
            if let Some(v) = content.global_options.get(key) {
                options.insert(key.to_owned(), v.clone());
            }
        }
        let hv = hv_cfg(sb_tables, nb_cfg);
        if options != g.options || g.sb_cfg != nb_cfg || g.hv_cfg != hv {
            let pairs: Vec<Value> = options.iter().map(|(k, v)| json!([k, v])).collect();
            ops.push(json!({
                "op": "update",
                "table": "NB_Global",
                "where": [["_uuid", "==", ["uuid", g.uuid.to_string()]]],
                "row": {"sb_cfg": nb_cfg, "hv_cfg": hv, "options": ["map", pairs]},
            }));
        }
    }
    if ops.len() > 1 {
        let reply = nb
            .call_ok("transact", ops, TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        check_reply("NB transaction", &reply)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use testkit::{NorthdSource, NB_PLACEHOLDER, SB_PLACEHOLDER};

    /// Our northd drives a real NB/SB pair: `ovn-nbctl --wait=sb` returns and the flows are
    /// there. Needs the built `ovnkit` binary next to the test's `deps` directory
    /// (`cargo build -p ovnkit-cli` first); skipped otherwise.
    #[test]
    fn keeps_sb_in_step_with_nb() {
        let ovn = testkit::require_or_skip!();
        let Some(program) = std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.parent()?.join("ovnkit")))
            .filter(|p| p.exists())
        else {
            eprintln!("skipped: build the ovnkit binary first (cargo build -p ovnkit-cli)");
            return;
        };
        let stack = ovn
            .stack()
            .no_chassis()
            .northd(NorthdSource::Command {
                program,
                args: vec![
                    "northd".into(),
                    "--ovnnb-db".into(),
                    NB_PLACEHOLDER.into(),
                    "--ovnsb-db".into(),
                    SB_PLACEHOLDER.into(),
                ],
            })
            .build()
            .expect("stack");
        stack.nbctl(["ls-add", "sw0"]).expect("nbctl");
        stack
            .nbctl([
                "lsp-add",
                "sw0",
                "p1",
                "--",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:01 10.0.0.1",
            ])
            .expect("nbctl");
        stack.wait_sb().expect("wait sb");
        let flows = stack.logical_flows().expect("flows");
        assert!(flows.iter().any(|f| f.stage == "ls_in_l2_lkup"
            && f.match_expr == "eth.dst == 00:00:00:00:00:01"
            && f.actions == "outport = \"p1\"; output;"));
        let pb = stack
            .sbctl(["--bare", "--columns=logical_port", "list", "Port_Binding"])
            .expect("sbctl");
        assert_eq!(pb.trim(), "p1");
        // A second change is reflected too, and an unbound port is down.
        stack
            .nbctl(["--wait=sb", "lsp-add", "sw0", "p2"])
            .expect("nbctl");
        let up = stack
            .nbctl(["get", "Logical_Switch_Port", "p2", "up"])
            .expect("nbctl");
        assert_eq!(up.trim(), "false");
        stack
            .nbctl(["--wait=hv", "sync"])
            .expect("wait hv without chassis");
    }
}
