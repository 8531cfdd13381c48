//! `ovnkit flows`: the OpenFlow rules ovn-controller 23.03 would install in the logical tables
//! of one chassis, compiled from the Southbound database.
//!
//! SB is read once with a single `transact` of `select`s over the ovsdb client's
//! [`Connection`]; the compilation is [`flowcompile::chassis::compile_chassis_flows`].

use std::fmt::Write as _;
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
    let mut view = ChassisView::new(&sb, &args.chassis).map_err(|e| e.to_string())?;
    view.sample_collectors
        .extend(args.sample_collector_sets.iter().copied());
    let flows = compile_chassis_flows(&sb.logical_flows, &view);
    print!("{}", render(&flows, args.hex));
    for e in &flows.errors {
        eprintln!("ovnkit: skipped {e}");
    }
    Ok(())
}

fn render(flows: &flowcompile::chassis::Flows, hex: bool) -> String {
    if !hex {
        return flows.to_text();
    }
    let mut out = String::new();
    for f in &flows.flows {
        let _ = writeln!(out, "{f}");
        match flow_mod(f, 0) {
            Ok(b) => {
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                let _ = writeln!(out, "  {h}");
            }
            Err(e) => {
                let _ = writeln!(out, "  ({e})");
            }
        }
    }
    out
}

async fn read_sb(remotes: &str) -> Result<SbTables, ClientError> {
    let mut last = ClientError::NoRemotes;
    for r in Remote::parse_list(remotes)? {
        match Connection::connect(&r, TIMEOUT, None).await {
            Ok(mut conn) => {
                let mut params = vec![json!("OVN_Southbound")];
                for t in SbTables::TABLES {
                    params.push(json!({"op": "select", "table": t, "where": []}));
                }
                let reply = conn.call_ok("transact", params, TIMEOUT).await?;
                return tables_from_reply(&reply);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn tables_from_reply(reply: &Value) -> Result<SbTables, ClientError> {
    let bad = |detail: String| ClientError::Malformed {
        what: "select reply".into(),
        detail,
    };
    let results = reply.as_array().ok_or_else(|| bad("not an array".into()))?;
    let mut sb = SbTables::default();
    for (t, r) in SbTables::TABLES.iter().zip(results) {
        if let Some(err) = r.get("error") {
            return Err(bad(format!("{t}: {err}")));
        }
        let rows = r
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("{t}: no rows")))?;
        sb.add_json_rows(t, rows).map_err(|e| bad(e.to_string()))?;
    }
    Ok(sb)
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
