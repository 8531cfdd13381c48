//! `ovnkit`: the command-line front end over the ovnkit libraries.
//!
//! Every subcommand is a thin wrapper: parsing arguments, calling a library function, printing.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stages(args) => stages::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovnkit: {e}");
            ExitCode::FAILURE
        }
    }
}
