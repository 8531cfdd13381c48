//! `ovnkit ovsdb-tool`: standalone database file utilities, as `ovsdb-tool`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ovsdb::server::FileStorage;

/// Arguments of `ovnkit ovsdb-tool`.
#[derive(Debug, Args)]
pub(crate) struct OvsdbToolArgs {
    #[command(subcommand)]
    command: ToolCommand,
}

#[derive(Debug, Subcommand)]
enum ToolCommand {
    /// Create DB_FILE holding an empty database with the schema in SCHEMA_FILE.
    Create {
        /// The database file to create (must not exist).
        db_file: PathBuf,
        /// The `.ovsschema` file.
        schema_file: PathBuf,
    },
}

pub(crate) fn run(args: &OvsdbToolArgs) -> Result<(), String> {
    match &args.command {
        ToolCommand::Create {
            db_file,
            schema_file,
        } => {
            let text = std::fs::read_to_string(schema_file)
                .map_err(|e| format!("{}: {e}", schema_file.display()))?;
            let schema: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", schema_file.display()))?;
            FileStorage::create(db_file, &schema).map_err(|e| e.to_string())
        }
    }
}
