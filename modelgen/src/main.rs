//! `ovnkit-modelgen`: generates ovnkit's typed models from the installed OVSDB schemas.
//!
//! ```text
//! ovnkit-modelgen --write [--workspace DIR]   regenerate ovn-nb/src/model.rs, ovn-sb/src/model.rs,
//!                                             ovn-sb/src/vswitch.rs from the installed schemas
//! ovnkit-modelgen --check [--workspace DIR]   exit 1 when a committed file differs
//! ovnkit-modelgen SCHEMA [-o OUT]             generate one module (stdout by default)
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use modelgen::{Freshness, GenError};

const USAGE: &str = "usage: ovnkit-modelgen --write|--check [--workspace DIR]\n       \
                     ovnkit-modelgen SCHEMA.ovsschema [-o OUT.rs]";

enum Mode {
    Write,
    Check,
    One {
        schema: PathBuf,
        out: Option<PathBuf>,
    },
}

fn parse_args() -> Result<(Mode, PathBuf), String> {
    let mut mode = None;
    let mut workspace = modelgen::default_workspace();
    let mut schema = None;
    let mut out = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--write") => mode = Some(Mode::Write),
            Some("--check") => mode = Some(Mode::Check),
            Some("--workspace") => {
                workspace = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--workspace needs a directory")?;
            }
            Some("-o") => out = Some(args.next().map(PathBuf::from).ok_or("-o needs a file")?),
            Some("-h" | "--help") => return Err(String::new()),
            Some(s) if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => schema = Some(PathBuf::from(a)),
        }
    }
    let mode = match (mode, schema) {
        (Some(m), None) => m,
        (None, Some(schema)) => Mode::One { schema, out },
        _ => return Err("give either --write, --check or one schema file".into()),
    };
    Ok((mode, workspace))
}

fn run(mode: Mode, workspace: PathBuf) -> Result<bool, GenError> {
    match mode {
        Mode::Write => {
            for (path, len) in modelgen::write_targets(&workspace)? {
                println!("wrote {} ({len} bytes)", path.display());
            }
            Ok(true)
        }
        Mode::Check => {
            let mut ok = true;
            for (t, f) in modelgen::check_targets(&workspace)? {
                let out = t.output.display();
                match f {
                    Freshness::UpToDate => println!("{out}: up to date"),
                    Freshness::Missing => {
                        ok = false;
                        println!("{out}: missing; run ovnkit-modelgen --write");
                    }
                    Freshness::Differs { line } => {
                        ok = false;
                        println!("{out}: differs from line {line}; run ovnkit-modelgen --write");
                    }
                }
            }
            Ok(ok)
        }
        Mode::One { schema, out } => {
            let target = modelgen::Target {
                schema_path: schema,
                package: "",
                output: out.clone().unwrap_or_default(),
                options: modelgen::Options::default(),
            };
            let code = modelgen::generate_target(&target)?;
            match out {
                Some(path) => std::fs::write(&path, code)
                    .map_err(|source| GenError::Write { path, source })?,
                None => print!("{code}"),
            }
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let (mode, workspace) = match parse_args() {
        Ok(x) => x,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ovnkit-modelgen: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(mode, workspace) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ovnkit-modelgen: {e}");
            ExitCode::FAILURE
        }
    }
}
