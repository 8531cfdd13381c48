//! Integration tests for ovn-nb, compiled into one binary.

mod kube_egressip;
mod kube_manifest;
