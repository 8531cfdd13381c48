//! The main job: Kubernetes manifests in; logical topology, logical flows and OpenFlow out.
//!
//! `cargo run --release --example cluster` uses the built-in multi-node cluster (pods, Services
//! with session affinity, NetworkPolicies, EgressIPs, an EgressService, secondary networks);
//! `cargo run --release --example cluster -- [--out DIR] FILE...` uses your manifests instead.
//! Everything runs in process on embedded databases: no server is needed. The Northbound and
//! Southbound databases (JSON, table → rows) and each node's OpenFlow rules are written to
//! `DIR` (default `out/cluster`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ovnkit::cluster::{self, Progress};
use ovnkit::ovn_nb::kube::config::ClusterConfig;
use ovnkit::ovn_nb::kube::{builtin_manifests, ManifestSet};

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = PathBuf::from("out/cluster");
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().ok_or("--out needs a directory")?.into(),
            "-h" | "--help" => {
                println!("usage: cluster [--out DIR] [MANIFEST.yaml...]");
                return Ok(());
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }

    let start = Instant::now();
    let manifests = if files.is_empty() {
        println!("input: the built-in cluster");
        builtin_manifests()
    } else {
        let mut set = ManifestSet::new();
        for f in &files {
            let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            set.add_str(&f.display().to_string(), &text)?;
        }
        println!("input: {} manifest file(s)", files.len());
        set
    };
    println!(
        "objects: {} nodes, {} namespaces, {} pods, {} services, {} endpoint slices, \
         {} network policies, {} egress IPs, {} egress services, {} network attachments",
        manifests.nodes.len(),
        manifests.namespaces.len(),
        manifests.pods.len(),
        manifests.services.len(),
        manifests.endpoint_slices.len(),
        manifests.network_policies.len(),
        manifests.egress_ips.len(),
        manifests.egress_services.len(),
        manifests.network_attachment_definitions.len(),
    );

    let mut progress = |p: Progress<'_>| match p {
        Progress::Start(name) => {
            print!("{name} ...");
            let _ = std::io::stdout().flush();
        }
        Progress::Item { done, total, .. } => {
            print!("\r  {done}/{total} nodes compiled");
            let _ = std::io::stdout().flush();
        }
        Progress::Done(step) => println!("\r{:<40} {:>9.1} ms", step.name, ms(step.elapsed)),
    };
    let mut result = cluster::run(&manifests, &ClusterConfig::default(), &mut progress)?;

    println!();
    let s = &result.apply_stats;
    println!(
        "Northbound: {} rows written ({} inserted, {} updated, {} deleted)",
        s.inserted + s.updated + s.deleted,
        s.inserted,
        s.updated,
        s.deleted
    );
    let nb = cluster::dump(&mut result.nb)?;
    print_row_counts("Northbound", &nb);
    let sb = cluster::dump(&mut result.sb)?;
    print_row_counts("Southbound", &sb);

    println!("\nlogical flows per stage (Southbound rows):");
    let mut per_stage: BTreeMap<(String, String, i64), usize> = BTreeMap::new();
    for f in sb["Logical_Flow"].as_array().into_iter().flatten() {
        let stage = f["external_ids"][1]
            .as_array()
            .and_then(|pairs| {
                pairs
                    .iter()
                    .find(|p| p[0] == "stage-name")
                    .and_then(|p| p[1].as_str())
            })
            .unwrap_or("?")
            .to_owned();
        let pipe = f["pipeline"].as_str().unwrap_or("?").to_owned();
        let table = f["table_id"].as_i64().unwrap_or(-1);
        *per_stage.entry((stage, pipe, table)).or_default() += 1;
    }
    for ((stage, pipe, table), n) in &per_stage {
        println!("  {stage:<24} {pipe:<8} table {table:>2}  {n:>6}");
    }

    println!("\nOpenFlow rules per node (logical tables):");
    fs::create_dir_all(out.join("openflow"))?;
    for node in &result.nodes {
        println!(
            "  {:<20} {:>7} rules  {:>4} groups  {:>3} logical flows not compiled",
            node.node,
            node.flows.flows.len(),
            node.flows.groups.len(),
            node.flows.errors.len()
        );
        fs::write(
            out.join("openflow").join(format!("{}.txt", node.node)),
            node.flows.to_text(),
        )?;
    }
    fs::write(out.join("nb.json"), serde_json::to_string_pretty(&nb)?)?;
    fs::write(out.join("sb.json"), serde_json::to_string_pretty(&sb)?)?;
    if !result.warnings.is_empty() {
        println!("\nnorthd warnings ({}):", result.warnings.len());
        for w in result.warnings.iter().take(10) {
            println!("  {w}");
        }
    }

    println!("\ntime per step:");
    for step in &result.steps {
        println!("  {:<40} {:>9.1} ms", step.name, ms(step.elapsed));
    }
    println!("  {:<40} {:>9.1} ms", "total", ms(start.elapsed()));
    println!(
        "\nwritten to {}/ (nb.json, sb.json, openflow/NODE.txt)",
        out.display()
    );
    Ok(())
}

fn print_row_counts(name: &str, dump: &serde_json::Value) {
    let mut parts: Vec<String> = dump
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(t, rows)| {
            let n = rows.as_array().map_or(0, Vec::len);
            (n > 0).then(|| format!("{t} {n}"))
        })
        .collect();
    parts.sort();
    println!("{name} rows: {}", parts.join(", "));
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
