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
//! Writing the Northbound database as OVN-Kubernetes shapes it:
//! - [`build_nb`] (in [`build`]): a pure function from a [`ManifestSet`], a
//!   [`config::ClusterConfig`] and the [`PreviousState`] (allocations) to a [`DesiredNb`]: the
//!   per-node topology ([`topology`]), pod ports ([`pods`]), Service load balancers
//!   ([`services`]), NetworkPolicy port groups, address sets and ACLs ([`policy`]), EgressIP
//!   and EgressService policies and NATs ([`egress`]) and secondary networks ([`secondary`]).
//! - [`apply()`] / [`stage`]: the difference between a [`DesiredNb`] and the database, written
//!   through the nbctl-style API as one transaction (embedded or remote); applying the same
//!   content twice writes nothing.
//! - [`builtin_manifests`]: an example cluster (12 nodes, 216 pods, 32 Services, ...).
//!
//! Nothing here does I/O or reads a clock; node reachability is an input.

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
pub mod pods;
pub mod policy;
pub mod secondary;
pub mod services;
pub mod topology;

pub use apply::{apply, stage, ApplyError, ApplyStats};
pub use build::{build_nb, BuildError, PreviousState};
pub use builtin::builtin_manifests;
pub use desired::{DesiredNb, Row, Val};
