//! `ovnkit flows`: the OpenFlow rules ovn-controller 23.03 would install in the logical tables
//! of one chassis, compiled from the Southbound database.
//!
//! SB is read once with a single `transact` of `select`s (of the columns
//! [`SbTables::kept_columns`]) over the ovsdb client's [`Connection`]; the reply's text is read
//! straight into [`SbTables`] ([`SbTables::from_select_reply`]) and dropped. The compilation is
//! [`flowcompile::chassis::compile_chassis_flows`]; the text goes out through a buffered
//! writer, without being held whole ([`flowcompile::chassis::Flows::write_text`]).

use std::io::{BufWriter, Write};
use std::time::Duration;

use clap::Args;
use flowcompile::chassis::{compile_chassis_flows, flow_mod, ChassisView, SbTables};
use ovsdb::client::{ClientError, Connection, Remote};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `ovnkit flows`.
#[derive(Debug, Args)]
pub(crate) struct FlowsArgs {
    /// The Southbound database (`unix:PATH`, `tcp:HOST:PORT`; comma-separated tried in turn).
    #[arg(long = "ovnsb-db")]
    ovnsb_db: String,
    /// The chassis name (`Chassis:name`, the OVS `external_ids:system-id`).
    #[arg(long)]
    chassis: String,
    /// Print each flow as OpenFlow 1.5 flow_mod bytes in hex after its text.
    #[arg(long)]
    hex: bool,
    /// The id of a `Flow_Sample_Collector_Set` row of the chassis' integration bridge (OVS
    /// database, not SB); repeatable. `sample` actions (e.g. northd's drop sampling) encode to
    /// nothing unless their `collector_set` is one of these, as in ovn-controller 23.03.
    #[arg(long = "sample-collector-set", value_name = "ID")]
    sample_collector_sets: Vec<u32>,
}

/// Reads SB, compiles, prints.
pub(crate) fn run(args: &FlowsArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sb = rt
        .block_on(read_sb(&args.ovnsb_db))
        .map_err(|e| e.to_string())?;
    drop(rt);
    let flows = {
        let mut view = ChassisView::new(&sb, &args.chassis).map_err(|e| e.to_string())?;
        view.sample_collectors
            .extend(args.sample_collector_sets.iter().copied());
        compile_chassis_flows(&sb.logical_flows, &view)
    };
    drop(sb);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    write_flows(&flows, args.hex, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing the flows: {e}"))?;
    drop(out);
    for e in &flows.errors {
        eprintln!("ovnkit: skipped {e}");
    }
    Ok(())
}

/// Writes the flows as text ([`flowcompile::chassis::Flows::write_text`]), or with `hex`
/// each flow (in the order produced) followed by its flow_mod bytes in hex.
fn write_flows(
    flows: &flowcompile::chassis::Flows,
    hex: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if !hex {
        return flows.write_text(out);
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut line = Vec::new();
    for f in &flows.flows {
        writeln!(out, "{f}")?;
        match flow_mod(f, 0) {
            Ok(b) => {
                line.clear();
                line.extend_from_slice(b"  ");
                for x in b {
                    line.push(DIGITS[usize::from(x >> 4)]);
                    line.push(DIGITS[usize::from(x & 0xf)]);
                }
                line.push(b'\n');
                out.write_all(&line)?;
            }
            Err(e) => writeln!(out, "  ({e})")?,
        }
    }
    Ok(())
}

#[cfg(test)]
fn render(flows: &flowcompile::chassis::Flows, hex: bool) -> String {
    let mut out = Vec::new();
    let _ = write_flows(flows, hex, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_sb(remotes: &str) -> Result<SbTables, ClientError> {
    let mut last = ClientError::NoRemotes;
    for r in Remote::parse_list(remotes)? {
        match Connection::connect(&r, TIMEOUT, None).await {
            Ok(mut conn) => {
                let reply = conn
                    .call_raw_ok("transact", select_params().into(), TIMEOUT)
                    .await?;
                // Parsed straight from the reply's text, which is dropped at once.
                return SbTables::from_select_reply(reply.result()).map_err(|e| {
                    ClientError::Malformed {
                        what: "select reply".into(),
                        detail: e.to_string(),
                    }
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The `transact` params: one `select` per table [`SbTables`] reads, of the columns it keeps.
fn select_params() -> Vec<u8> {
    let mut params = vec![json!("OVN_Southbound")];
    for t in SbTables::TABLES {
        params.push(json!({
            "op": "select",
            "table": t,
            "where": [],
            "columns": SbTables::kept_columns(t).unwrap_or_default(),
        }));
    }
    Value::Array(params).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the real stack: SB read over the socket, compiled, equals what ovn-controller
    /// installed in the logical tables (a small switch, no conjunctions).
    #[test]
    fn flows_from_real_sb_match_ovn_controller() {
        let ovn = testkit::require_or_skip!();
        let stack = ovn.stack().chassis("ch1").build().unwrap();
        stack.nbctl(["ls-add", "sw0"]).unwrap();
        stack.nbctl(["lsp-add", "sw0", "vm1"]).unwrap();
        stack
            .nbctl(["lsp-set-addresses", "vm1", "00:00:00:00:00:01 10.0.0.1"])
            .unwrap();
        stack.bind_port("vif1", "vm1").unwrap();
        stack.wait_hv().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sb = rt.block_on(read_sb(stack.sb_remote())).unwrap();
        let view = ChassisView::new(&sb, "ch1").unwrap();
        let flows = compile_chassis_flows(&sb.logical_flows, &view);
        assert!(flows.errors.is_empty(), "{:?}", flows.errors);
        let logical = |t: u32| (8..=34).contains(&t) || (42..=51).contains(&t);
        let mut real: Vec<String> = stack
            .dump_flows()
            .unwrap()
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| {
                l.split("table=")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .and_then(|t| t.parse().ok())
                    .is_some_and(logical)
            })
            .collect();
        real.sort();
        let mut ours: Vec<String> = flows.to_text().lines().map(str::to_owned).collect();
        ours.sort();
        assert!(real.len() > 50);
        assert_eq!(ours, real);
        let hex = render(&flows, true);
        assert!(hex.lines().count() >= 2 * flows.flows.len());
    }
}
