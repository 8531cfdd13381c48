//! A built-in example cluster: 12 nodes (4 egress-assignable), 216 pods in 8 namespaces,
//! 32 Services (ClusterIP, some with ClientIP affinity, NodePort, one LoadBalancer with an
//! ingress IP), 16 NetworkPolicies, 5 EgressIPs, 1 EgressService and two secondary networks
//! (layer2 and localnet). Used by tests and by the `cluster` example.

use super::manifest::ManifestSet;

/// The built-in manifests as (source name, text).
pub const BUILTIN_FILES: [(&str, &str); 5] = [
    ("builtin/nodes.yaml", include_str!("builtin/nodes.yaml")),
    ("builtin/pods.yaml", include_str!("builtin/pods.yaml")),
    (
        "builtin/services.yaml",
        include_str!("builtin/services.yaml"),
    ),
    (
        "builtin/policies.yaml",
        include_str!("builtin/policies.yaml"),
    ),
    ("builtin/egress.yaml", include_str!("builtin/egress.yaml")),
];

/// The built-in cluster, loaded. The files are checked by the tests, so loading them cannot
/// fail in a released build; should it, the objects loaded so far are returned.
pub fn builtin_manifests() -> ManifestSet {
    let mut set = ManifestSet::new();
    for (source, text) in BUILTIN_FILES {
        // A failure is a bug in the embedded files, caught by `tests/kube_nb.rs`.
        let _ = set.add_str(source, text);
    }
    set
}

/// The built-in cluster, with any loading error reported.
pub fn try_builtin_manifests() -> Result<ManifestSet, super::manifest::ManifestError> {
    let mut set = ManifestSet::new();
    for (source, text) in BUILTIN_FILES {
        set.add_str(source, text)?;
    }
    Ok(set)
}
