//! The main job, end to end in process: Kubernetes objects → Northbound → Southbound → OpenFlow
//! for every node.
//!
//! [`run`] builds the Northbound database the way OVN-Kubernetes shapes it (`ovn_nb::kube`), in an
//! embedded [`ovsdb::Database`]; registers one chassis per node in an embedded Southbound database
//! and compiles NB into SB with `northd`; claims each pod's port for the chassis its
//! `requested-chassis` option names (what ovn-controller does when the pod's interface appears);
//! and compiles the logical flows local to every node into OpenFlow with `flowcompile`.
//!
//! What it does not do: talk to any server, start any process, or write files (the `cluster`
//! example writes the results out).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flowcompile::chassis::{compile_chassis_flows, ChassisView, Flows, SbTables};
use northd::diff::SbRows;
use northd::NbSnapshot;
use ovn_nb::kube::config::ClusterConfig;
use ovn_nb::kube::{apply, build_nb, ApplyStats, ManifestSet, PreviousState};
use ovsdb::{Database, TxnContext, TxnOutcome};
use serde_json::{json, Value};

/// Everything that can stop the main job, each naming the step that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The manifests do not describe a cluster the kube layer can build.
    #[error("building the Northbound database: {0}")]
    Build(#[from] ovn_nb::kube::BuildError),
    /// Writing the Northbound database failed.
    #[error("writing the Northbound database: {0}")]
    Apply(#[from] ovn_nb::kube::ApplyError),
    /// northd could not read the Northbound or Southbound contents.
    #[error("northd: {0}")]
    Northd(#[from] northd::NorthdError),
    /// A transaction on an embedded database was refused.
    #[error("{step}: transaction failed: {detail}")]
    Transaction {
        /// The step that wrote.
        step: &'static str,
        /// The error object the database returned.
        detail: String,
    },
    /// The chassis view of a node could not be built.
    #[error("chassis {node}: {error}")]
    Chassis {
        /// The node.
        node: String,
        /// What was wrong.
        error: flowcompile::chassis::ChassisError,
    },
}

/// One timed step of the job.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step did.
    pub name: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// The OpenFlow rules compiled for one node.
#[derive(Debug)]
pub struct NodeFlows {
    /// The node (and chassis) name.
    pub node: String,
    /// The compiled flows, with any per-logical-flow errors.
    pub flows: Flows,
}

/// What [`run`] produces.
#[derive(Debug)]
pub struct ClusterOutput {
    /// The Northbound database.
    pub nb: Database,
    /// The Southbound database.
    pub sb: Database,
    /// What the Northbound apply wrote.
    pub apply_stats: ApplyStats,
    /// Per node, the OpenFlow rules of the logical tables.
    pub nodes: Vec<NodeFlows>,
    /// The steps with their timings.
    pub steps: Vec<Step>,
    /// Warnings northd reported about the Northbound contents.
    pub warnings: Vec<String>,
}

/// Progress of a long step, reported to the caller as it happens.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// A step starts.
    Start(&'a str),
    /// A step ended.
    Done(&'a Step),
    /// Within a step: `done` of `total` items.
    Item {
        /// Items finished.
        done: usize,
        /// Items in all.
        total: usize,
        /// The item just finished.
        name: &'a str,
    },
}

/// Runs the whole job on `manifests` with `config`.
pub fn run(
    manifests: &ManifestSet,
    config: &ClusterConfig,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ClusterOutput, ClusterError> {
    let mut steps = Vec::new();
    let mut timed = |name: &str, progress: &mut dyn FnMut(Progress<'_>), start: Instant| {
        let step = Step {
            name: name.to_owned(),
            elapsed: start.elapsed(),
        };
        progress(Progress::Done(&step));
        steps.push(step);
    };

    progress(Progress::Start("kube → Northbound"));
    let t = Instant::now();
    let desired = build_nb(manifests, config, &PreviousState::default())?;
    let mut nb = Database::new(ovn_nb::model::schema().clone());
    let apply_stats = apply(&desired, &mut nb)?;
    timed("kube → Northbound", progress, t);

    progress(Progress::Start("register chassis"));
    let t = Instant::now();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    let chassis = register_chassis(&mut sb, manifests)?;
    timed("register chassis", progress, t);

    progress(Progress::Start("northd: Northbound → Southbound"));
    let t = Instant::now();
    let snapshot = NbSnapshot::from_database(&nb)?;
    let current = SbRows::from_database(&sb)?;
    let content = northd::build(&snapshot, &current.state());
    let warnings = content.warnings.iter().map(ToString::to_string).collect();
    let ops = northd::diff::diff(&current, &content)?;
    transact(&mut sb, "OVN_Southbound", ops, "northd")?;
    timed("northd: Northbound → Southbound", progress, t);

    progress(Progress::Start("claim ports"));
    let t = Instant::now();
    claim_ports(&mut sb, &mut nb, &chassis)?;
    timed("claim ports", progress, t);

    progress(Progress::Start("flowcompile: OpenFlow per node"));
    let t = Instant::now();
    let mut tables = SbTables::default();
    for table in SbTables::TABLES {
        let rows = select_all(&mut sb, "OVN_Southbound", table)?;
        tables
            .add_json_rows(table, &rows)
            .map_err(|error| ClusterError::Chassis {
                node: String::from("(all)"),
                error,
            })?;
    }
    let mut nodes = Vec::new();
    for (i, node) in chassis.keys().enumerate() {
        let view = ChassisView::new(&tables, node).map_err(|error| ClusterError::Chassis {
            node: node.clone(),
            error,
        })?;
        let flows = compile_chassis_flows(&tables.logical_flows, &view);
        nodes.push(NodeFlows {
            node: node.clone(),
            flows,
        });
        progress(Progress::Item {
            done: i + 1,
            total: chassis.len(),
            name: node,
        });
    }
    timed("flowcompile: OpenFlow per node", progress, t);

    Ok(ClusterOutput {
        nb,
        sb,
        apply_stats,
        nodes,
        steps,
        warnings,
    })
}

/// Runs one transaction on an embedded database; any error result fails the step.
fn transact(
    db: &mut Database,
    name: &str,
    ops: Vec<Value>,
    step: &'static str,
) -> Result<Value, ClusterError> {
    let mut params = vec![json!(name)];
    params.extend(ops);
    match db.transact(&Value::Array(params), &TxnContext::default()) {
        TxnOutcome::Complete { results, .. } => {
            let failed = results
                .as_array()
                .and_then(|r| r.iter().find(|r| r.get("error").is_some()));
            match failed {
                Some(err) => Err(ClusterError::Transaction {
                    step,
                    detail: err.to_string(),
                }),
                None => Ok(results),
            }
        }
        TxnOutcome::Blocked { .. } => Err(ClusterError::Transaction {
            step,
            detail: String::from("a wait operation blocked"),
        }),
    }
}

/// Every row of `table`, as `select` returns them.
pub fn select_all(db: &mut Database, name: &str, table: &str) -> Result<Vec<Value>, ClusterError> {
    let results = transact(
        db,
        name,
        vec![json!({"op": "select", "table": table, "where": []})],
        "select",
    )?;
    Ok(results
        .get(0)
        .and_then(|r| r.get("rows"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Dumps every table of `db` as `{table: [rows]}`, tables in schema order.
pub fn dump(db: &mut Database) -> Result<Value, ClusterError> {
    let schema = db.schema().clone();
    let mut out = serde_json::Map::new();
    for table in schema.tables.iter().map(|t| t.name.clone()) {
        let rows = select_all(db, &schema.name, &table)?;
        out.insert(table, Value::Array(rows));
    }
    Ok(Value::Object(out))
}

/// Registers one chassis per node (name = node name, Geneve encap on the node's InternalIP), as
/// ovn-controller does when it starts. Returns node name → chassis row UUID.
fn register_chassis(
    sb: &mut Database,
    manifests: &ManifestSet,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let mut ops = Vec::new();
    let names: Vec<String> = manifests.nodes.keys().cloned().collect();
    for (i, (name, node)) in manifests.nodes.iter().enumerate() {
        let ip = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map_or_else(|| String::from("127.0.0.1"), |a| a.address.clone());
        ops.push(
            json!({"op": "insert", "table": "Encap", "uuid-name": format!("encap{i}"),
            "row": {"type": "geneve", "ip": ip, "chassis_name": name,
                    "options": ["map", [["csum", "true"]]]}}),
        );
        ops.push(
            json!({"op": "insert", "table": "Chassis", "uuid-name": format!("ch{i}"),
            "row": {"name": name, "hostname": name,
                    "encaps": ["named-uuid", format!("encap{i}")],
                    "other_config": ["map", [["ct-no-masked-label", "true"],
                        ["ovn-ct-lb-related", "true"], ["mac-binding-timestamp", "true"],
                        ["fdb-timestamp", "true"], ["ls-dpg-column", "true"],
                        ["port-up-notif", "true"]]]}}),
        );
    }
    let results = transact(sb, "OVN_Southbound", ops, "register chassis")?;
    let mut out = BTreeMap::new();
    for (i, name) in names.into_iter().enumerate() {
        let uuid = results
            .get(2 * i + 1)
            .and_then(|r| r.get("uuid"))
            .and_then(|u| u.get(1))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.insert(name, uuid);
    }
    Ok(out)
}

/// Claims port bindings for their chassis, as ovn-controller would once the interfaces exist: a
/// logical switch port with `options:requested-chassis=NODE`, and an `l3gateway` port pinned by
/// `options:l3gateway-chassis=NODE`.
fn claim_ports(
    sb: &mut Database,
    nb: &mut Database,
    chassis: &BTreeMap<String, String>,
) -> Result<(), ClusterError> {
    let mut requested: BTreeMap<String, String> = BTreeMap::new();
    for lsp in select_all(nb, "OVN_Northbound", "Logical_Switch_Port")? {
        if let (Some(name), Some(node)) = (
            lsp.get("name").and_then(Value::as_str),
            map_get(lsp.get("options"), "requested-chassis"),
        ) {
            requested.insert(name.to_owned(), node);
        }
    }
    let mut ops = Vec::new();
    for pb in select_all(sb, "OVN_Southbound", "Port_Binding")? {
        let name = pb.get("logical_port").and_then(Value::as_str).unwrap_or("");
        let node = requested
            .get(name)
            .cloned()
            .or_else(|| map_get(pb.get("options"), "l3gateway-chassis"));
        let (Some(node), Some(uuid)) = (node, pb.get("_uuid")) else {
            continue;
        };
        if let Some(ch) = chassis.get(&node) {
            ops.push(json!({"op": "update", "table": "Port_Binding",
                "where": [["_uuid", "==", uuid]],
                "row": {"chassis": ["uuid", ch], "up": true}}));
        }
    }
    if !ops.is_empty() {
        transact(sb, "OVN_Southbound", ops, "claim ports")?;
    }
    Ok(())
}

/// `map[key]` of an OVSDB `["map", [[k, v], ...]]` value.
fn map_get(map: Option<&Value>, key: &str) -> Option<String> {
    map?.get(1)?.as_array()?.iter().find_map(|pair| {
        let pair = pair.as_array()?;
        (pair.first()?.as_str()? == key)
            .then(|| pair.get(1)?.as_str().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lookup() {
        let m = json!(["map", [["a", "1"], ["requested-chassis", "n1"]]]);
        assert_eq!(
            map_get(Some(&m), "requested-chassis").as_deref(),
            Some("n1")
        );
        assert_eq!(map_get(Some(&m), "b"), None);
        assert_eq!(map_get(None, "a"), None);
    }
}
