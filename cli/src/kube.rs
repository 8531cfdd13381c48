//! `ovnkit kube apply --ovnnb-db URL [FILE...]`: Kubernetes manifests in, the OVN-Kubernetes
//! shaped Northbound database out, written incrementally (only the difference, one
//! transaction) to a server (ours or a real ovsdb-server) through the ovsdb client. Without
//! files the built-in example cluster is used; `--dry-run` applies to an empty in-memory
//! database instead and prints what would be written.

use std::time::Duration;

use clap::{Args, Subcommand};
use ovn_nb::kube::{self, config::ClusterConfig, ManifestSet, PreviousState};
use ovn_nb::nbctl;
use ovsdb::client::{Client, ClientConfig};

/// Arguments of `ovnkit kube`.
#[derive(Debug, Args)]
pub(crate) struct KubeArgs {
    #[command(subcommand)]
    command: KubeCommand,
}

#[derive(Debug, Subcommand)]
enum KubeCommand {
    /// Write the Northbound database OVN-Kubernetes would write for the manifests.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// Northbound database (`unix:PATH`, `tcp:HOST:PORT`, comma-separated for a cluster);
    /// default `$OVN_NB_DB`, else `unix:/var/run/ovn/ovnnb_db.sock`.
    #[arg(long = "ovnnb-db")]
    ovnnb_db: Option<String>,
    /// Apply to an empty in-memory database and only report.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for the connection.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Manifest files (YAML or JSON); none: the built-in example cluster.
    files: Vec<String>,
}

fn load(files: &[String]) -> Result<ManifestSet, String> {
    if files.is_empty() {
        return kube::builtin::try_builtin_manifests().map_err(|e| e.to_string());
    }
    let mut set = ManifestSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        set.add_str(f, &text).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

fn report(set: &ManifestSet, nb: &kube::DesiredNb, stats: &kube::ApplyStats) {
    let objects: Vec<String> = set
        .counts()
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!("objects: {}", objects.join(", "));
    let rows: Vec<String> = nb
        .counts()
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    println!("desired rows: {}", rows.join(", "));
    println!(
        "written: {} inserted, {} updated, {} deleted ({} operations)",
        stats.inserted, stats.updated, stats.deleted, stats.ops
    );
}

fn apply(args: &ApplyArgs) -> Result<(), String> {
    let set = load(&args.files)?;
    let desired = kube::build_nb(&set, &ClusterConfig::default(), &PreviousState::default())
        .map_err(|e| e.to_string())?;
    if args.dry_run {
        let mut db = ovsdb::Database::new(ovn_nb::model::schema().clone());
        let stats = kube::apply(&desired, &mut db).map_err(|e| e.to_string())?;
        report(&set, &desired, &stats);
        return Ok(());
    }
    let remote = args
        .ovnnb_db
        .clone()
        .or_else(|| std::env::var("OVN_NB_DB").ok())
        .unwrap_or_else(|| "unix:/var/run/ovn/ovnnb_db.sock".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stats = rt.block_on(async {
        let cfg = ClientConfig::new(&remote, "OVN_Northbound");
        let client = Client::connect(cfg, Duration::from_secs(args.timeout))
            .await
            .map_err(|e| format!("{remote}: database connection failed ({e})"))?;
        let mut nb = nbctl::remote::start(&client).map_err(|e| e.to_string())?;
        let stats = kube::stage(&mut nb, &desired).map_err(|e| e.to_string())?;
        nbctl::remote::commit(nb, &client)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(stats)
    })?;
    report(&set, &desired, &stats);
    Ok(())
}

pub(crate) fn run(args: &KubeArgs) -> Result<(), String> {
    match &args.command {
        KubeCommand::Apply(a) => apply(a),
    }
}
