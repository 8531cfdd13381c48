//! `ovnkit-modelgen`: turns an OVSDB schema (`.ovsschema`) into typed Rust.
//!
//! What it does: parses the schema with `ovsdb`'s parser and writes one Rust module with one
//! struct per table (implementing `ovsdb::model::Model`), typed references (`Ref<T>`), an enum per
//! string or integer enum column, `Option` for 0..1 columns, `BTreeSet` for sets, `BTreeMap` for
//! maps (or `ovsdb::model::SortedMap` when a target's [`Options`] ask for it, as the NB one does),
//! column-name constants, an `AnyRow` enum dispatching on table names, and the schema itself
//! embedded in our own serialization (`Schema::to_json`), so the generated crates work with no OVN
//! installed. The output is already formatted as rustfmt formats it, and byte-for-byte
//! reproducible: [`check_targets`] regenerates and compares.
//!
//! What it does not do: copy the schema's prose documentation (docs are derived from column types)
//! or generate any API beyond the typed rows.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod emit;
mod naming;

use std::path::{Path, PathBuf};

pub use emit::{generate, generate_with, Options};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// The schema file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The schema does not parse.
    #[error("{path}: {source}")]
    Schema {
        /// The file (or a description of the text).
        path: String,
        /// The parser's error.
        source: ovsdb::Error,
    },
    /// Two tables, columns or enum values map to the same Rust name.
    #[error("name collision: {0}")]
    Collision(String),
}

/// What to generate one module from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the installed schema lives.
    pub schema_path: PathBuf,
    /// The Debian package shipping it.
    pub package: &'static str,
    /// The generated file, relative to the workspace root.
    pub output: PathBuf,
    /// How the generated code holds values.
    pub options: Options,
}

impl Target {
    /// The schema's file name, as named in the generated header.
    pub fn schema_file_name(&self) -> String {
        self.schema_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The models ovnkit commits: NB, SB and Open_vSwitch, from the installed Debian schemas.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            schema_path: "/usr/share/ovn/ovn-nb.ovsschema".into(),
            package: "ovn-central",
            output: "ovn-nb/src/model.rs".into(),
            // northd holds a typed snapshot of the whole NB database: tens of thousands of small
            // `external_ids`/`options` maps at OVN-Kubernetes scale.
            options: Options { sorted_maps: true },
        },
        Target {
            schema_path: "/usr/share/ovn/ovn-sb.ovsschema".into(),
            package: "ovn-central",
            output: "ovn-sb/src/model.rs".into(),
            options: Options::default(),
        },
        Target {
            schema_path: "/usr/share/openvswitch/vswitch.ovsschema".into(),
            package: "openvswitch-switch",
            output: "ovn-sb/src/vswitch.rs".into(),
            options: Options::default(),
        },
    ]
}

/// The workspace root this crate was built in.
pub fn default_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Generates the module of one target from its installed schema.
pub fn generate_target(target: &Target) -> Result<String, GenError> {
    let text = std::fs::read_to_string(&target.schema_path).map_err(|source| GenError::Read {
        path: target.schema_path.clone(),
        source,
    })?;
    let schema = ovsdb::Schema::from_str_json(&text).map_err(|source| GenError::Schema {
        path: target.schema_path.display().to_string(),
        source,
    })?;
    generate_with(&schema, &target.schema_file_name(), target.options)
}

/// How a committed file compares with a fresh generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Byte-identical.
    UpToDate,
    /// The committed file is missing.
    Missing,
    /// They differ; the first differing line (1-based) is given.
    Differs {
        /// First differing line.
        line: usize,
    },
}

/// Compares `committed` (or its absence) with `generated`.
pub fn compare(committed: Option<&str>, generated: &str) -> Freshness {
    match committed {
        None => Freshness::Missing,
        Some(c) if c == generated => Freshness::UpToDate,
        Some(c) => {
            let line = c
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| c.lines().count().min(generated.lines().count()))
                + 1;
            Freshness::Differs { line }
        }
    }
}

/// Regenerates every target and compares with the files under `workspace`.
pub fn check_targets(workspace: &Path) -> Result<Vec<(Target, Freshness)>, GenError> {
    targets()
        .into_iter()
        .map(|t| {
            let generated = generate_target(&t)?;
            let committed = std::fs::read_to_string(workspace.join(&t.output)).ok();
            let f = compare(committed.as_deref(), &generated);
            Ok((t, f))
        })
        .collect()
}

/// Regenerates every target into the files under `workspace`; returns the paths and sizes.
pub fn write_targets(workspace: &Path) -> Result<Vec<(PathBuf, usize)>, GenError> {
    let mut out = Vec::new();
    for t in targets() {
        let generated = generate_target(&t)?;
        let path = workspace.join(&t.output);
        std::fs::write(&path, &generated).map_err(|source| GenError::Write {
            path: path.clone(),
            source,
        })?;
        out.push((path, generated.len()));
    }
    Ok(out)
}
