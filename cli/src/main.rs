//! `ovnkit`: the command-line front end over the ovnkit libraries.
//!
//! Every subcommand is a thin wrapper: parsing arguments, calling a library function, printing.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod expr;
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
