//! The Kubernetes-level layer: Kubernetes objects in, the OVN-Kubernetes view of the cluster out.
//!
//! What is here so far (the foundations that need no Northbound model):
//! - [`manifest`]: YAML/JSON manifests loaded into typed, checked objects (k8s-openapi types for
//!   built-in kinds, typed CRDs for EgressIP, EgressService and NetworkAttachmentDefinition).
//! - [`selector`]: label selectors, checked once and matched against label sets.
//! - [`annotations`]: the OVN-Kubernetes node and namespace annotations, parsed.
//! - [`config`]: cluster settings as OVN-Kubernetes has them (cluster and service networks, join
//!   subnet, MTU, gateway bridge mapping), with defaults, validation, the per-node subnet and join
//!   IP allocators, and the per-subnet address conventions.
//! - [`egressip`]: the EgressIP-to-node assignment as a pure, deterministic function.
//!
//! What it does not do (yet): write Northbound rows. Nothing here does I/O or reads a clock; node
//! reachability is an input.

pub mod annotations;
pub mod config;
pub mod egressip;
pub mod manifest;
pub mod selector;

pub use manifest::{
    parse_manifests, Document, Kind, KubeObject, Location, ManifestError, ManifestSet, ObjectKey,
};
pub use selector::{Selector, SelectorError};

pub mod apply;
pub mod build;
pub mod builtin;
pub mod desired;
pub mod egress;
pub mod policy;
pub mod pods;
pub mod secondary;
pub mod services;
pub mod topology;

pub use apply::{apply, stage, ApplyError, ApplyStats};
pub use build::{build_nb, BuildError, PreviousState};
pub use builtin::builtin_manifests;
pub use desired::{DesiredNb, Row, Val};
