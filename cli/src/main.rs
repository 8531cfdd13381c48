//! `ovnkit`: the command-line front end over the ovnkit libraries.
//!
//! Every subcommand is a thin wrapper: parsing arguments, calling a library function, printing.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc for `ovnkit ovsdb-server`, glibc's malloc for the rest (see `alloc`).
#[global_allocator]
static ALLOCATOR: alloc::PerCommand = alloc::PerCommand;

mod alloc;
mod expr;
mod flows;
mod kube;
mod nbctl;
mod northd;
mod ovsdb_client;
mod ovsdb_server;
mod ovsdb_tool;
mod stages;

/// An OVN control plane as a Rust library: command-line tools.
#[derive(Debug, Parser)]
#[command(name = "ovnkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print OVN 23.03's logical pipeline stages with their logical and OpenFlow table numbers.
    Stages(stages::StagesArgs),
    /// Run a match expression through flowcompile's passes: lex, parse, annotate, condition,
    /// simplify, normalize, flows.
    Expr(expr::ExprArgs),
    /// Print the OpenFlow rules of the logical tables that ovn-controller 23.03 installs on a
    /// chassis, compiled from the Southbound database's logical flows.
    Flows(flows::FlowsArgs),
    /// Manage the OVN Northbound database like ovn-nbctl 23.03 (`--db=unix:PATH|tcp:..|file:PATH`).
    Nbctl(nbctl::NbctlArgs),
    /// Write the Northbound database OVN-Kubernetes would write for Kubernetes manifests
    /// (`kube apply --ovnnb-db URL FILE...`; no files: the built-in example cluster).
    Kube(kube::KubeArgs),
    /// Keep the Southbound database in step with the Northbound one, like ovn-northd 23.03
    /// (switches; `--once` computes, writes and exits).
    Northd(northd::NorthdArgs),
    /// Talk to an OVSDB server or Raft cluster, like ovsdb-client 3.1 (list-dbs, get-schema,
    /// transact, dump, monitor).
    OvsdbClient(ovsdb_client::OvsdbClientArgs),
    /// Serve OVSDB database files, like ovsdb-server 3.1 (standalone databases).
    OvsdbServer(ovsdb_server::OvsdbServerArgs),
    /// OVSDB database file utilities, like ovsdb-tool.
    OvsdbTool(ovsdb_tool::OvsdbToolArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stages(args) => stages::run(&args),
        Command::Expr(args) => expr::run(&args),
        Command::Flows(args) => flows::run(&args),
        Command::Nbctl(args) => nbctl::run(&args),
        Command::Kube(args) => kube::run(&args),
        Command::Northd(args) => northd::run(&args),
        Command::OvsdbClient(args) => ovsdb_client::run(&args),
        Command::OvsdbServer(args) => ovsdb_server::run(&args),
        Command::OvsdbTool(args) => ovsdb_tool::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovnkit: {e}");
            ExitCode::FAILURE
        }
    }
}
