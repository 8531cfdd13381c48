//! Typed custom resources that have no k8s-openapi type: OVN-Kubernetes' EgressIP and
//! EgressService (`k8s.ovn.org/v1`) and the Network Plumbing Working Group's
//! NetworkAttachmentDefinition (`k8s.cni.cncf.io/v1`) with the OVN-Kubernetes CNI configuration
//! carried in its `spec.config` string.
//!
//! Field names are the upstream JSON names exactly. Unknown fields are ignored, as the API server
//! does for these CRDs' pruned schemas; checks beyond the JSON shape live in the manifest loader.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

/// API version of EgressIP and EgressService.
pub const K8S_OVN_ORG_V1: &str = "k8s.ovn.org/v1";
/// API version of NetworkAttachmentDefinition.
pub const K8S_CNI_CNCF_IO_V1: &str = "k8s.cni.cncf.io/v1";
/// The CNI plugin type OVN-Kubernetes secondary networks use in `spec.config`.
pub const OVN_CNI_TYPE: &str = "ovn-k8s-cni-overlay";

/// An EgressIP (cluster-scoped): a fixed source IP for egress traffic of the selected pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EgressIP {
    /// `k8s.ovn.org/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `EgressIP`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata (name; no namespace).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The requested egress IPs and the pods they apply to.
    pub spec: EgressIPSpec,
    /// Where the IPs are assigned (written by the controller).
    #[serde(default, skip_serializing_if = "EgressIPStatus::is_empty")]
    pub status: EgressIPStatus,
}

/// `EgressIP.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EgressIPSpec {
    /// The egress IP addresses (IPv4 and/or IPv6). Required.
    #[serde(rename = "egressIPs")]
    pub egress_ips: Vec<String>,
    /// Namespaces whose pods use these IPs. Required.
    #[serde(rename = "namespaceSelector")]
    pub namespace_selector: LabelSelector,
    /// Pods (within the selected namespaces) that use these IPs; absent means all of them.
    #[serde(rename = "podSelector", default)]
    pub pod_selector: LabelSelector,
}

/// `EgressIP.status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressIPStatus {
    /// One entry per assigned egress IP.
    #[serde(default)]
    pub items: Vec<EgressIPStatusItem>,
}

impl EgressIPStatus {
    /// True when nothing is assigned.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One assigned egress IP in `EgressIP.status.items`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressIPStatusItem {
    /// The node hosting the IP.
    pub node: String,
    /// The egress IP.
    #[serde(rename = "egressIP")]
    pub egress_ip: String,
}

/// An EgressService (namespaced, named like the LoadBalancer Service it applies to).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EgressService {
    /// `k8s.ovn.org/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `EgressService`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata (namespace and name of the Service).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// How the Service's endpoints leave the cluster.
    #[serde(default)]
    pub spec: EgressServiceSpec,
    /// The node chosen to handle the traffic (written by the controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EgressServiceStatus>,
}

/// `EgressService.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EgressServiceSpec {
    /// Source IP of the endpoints' egress traffic; absent leaves the source unchanged.
    #[serde(
        rename = "sourceIPBy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_by: Option<SourceIPMode>,
    /// Nodes allowed to handle the traffic (with `LoadBalancerIP`); absent means any node.
    #[serde(
        rename = "nodeSelector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub node_selector: Option<LabelSelector>,
    /// Host routing table (name or number) for the traffic; absent means the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// `EgressService.spec.sourceIPBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceIPMode {
    /// The source becomes the Service's LoadBalancer ingress IP.
    LoadBalancerIP,
    /// The source is whatever the outgoing interface of `network` masquerades to.
    Network,
}

/// `EgressService.status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressServiceStatus {
    /// The node handling the traffic (`ALL` with `sourceIPBy: Network`).
    #[serde(default)]
    pub host: String,
}

/// A NetworkAttachmentDefinition (namespaced): a secondary network for pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkAttachmentDefinition {
    /// `k8s.cni.cncf.io/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `NetworkAttachmentDefinition`.
    #[serde(default)]
    pub kind: String,
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The CNI configuration.
    pub spec: NetworkAttachmentDefinitionSpec,
}

/// `NetworkAttachmentDefinition.spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachmentDefinitionSpec {
    /// The CNI configuration, a JSON document in a string.
    pub config: String,
}

/// The OVN-Kubernetes CNI configuration inside `spec.config`, with the upstream JSON names.
/// Lists (`subnets`, `excludeSubnets`, `joinSubnet`) are comma-separated strings, as upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvnNetConf {
    /// CNI spec version.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// The network name (shared by every NAD attaching to the same network).
    #[serde(default)]
    pub name: String,
    /// The CNI plugin; OVN-Kubernetes networks use [`OVN_CNI_TYPE`].
    #[serde(rename = "type", default)]
    pub plugin_type: String,
    /// `layer3`, `layer2` or `localnet`.
    #[serde(default)]
    pub topology: String,
    /// `NAMESPACE/NAME` of the NAD this configuration belongs to.
    #[serde(rename = "netAttachDefName", default)]
    pub net_attach_def_name: String,
    /// MTU of the network's interfaces; 0 or absent means the cluster default.
    #[serde(default)]
    pub mtu: u32,
    /// Comma-separated subnets to allocate pod IPs from (layer2/localnet: `10.1.130.0/24`).
    #[serde(default)]
    pub subnets: String,
    /// Comma-separated subnets whose addresses are never given to pods.
    #[serde(rename = "excludeSubnets", default)]
    pub exclude_subnets: String,
    /// VLAN tag on the physical network (localnet only); 0 means untagged.
    #[serde(rename = "vlanID", default)]
    pub vlan_id: u32,
    /// `primary` or `secondary` (absent means secondary).
    #[serde(default)]
    pub role: String,
    /// Comma-separated join subnets (primary user-defined networks).
    #[serde(rename = "joinSubnet", default)]
    pub join_subnet: String,
    /// Whether IP allocations outlive the pod (e.g. a VM migrating).
    #[serde(rename = "allowPersistentIPs", default)]
    pub allow_persistent_ips: bool,
    /// The bridge mapping name on the hosts (localnet); absent means `name`.
    #[serde(rename = "physicalNetworkName", default)]
    pub physical_network_name: String,
}
