//! Loading Kubernetes manifests into typed objects.
//!
//! Input is YAML or JSON text holding one or more documents (YAML separated by `---`, JSON as
//! concatenated values); a document may also be a `kind: List` (or `PodList`, ...) whose `items`
//! are objects. Each object is dispatched on `apiVersion` and `kind` to its typed form:
//! k8s-openapi types for the built-in kinds (Node, Namespace, Pod, Service, EndpointSlice,
//! NetworkPolicy) and this crate's [`crd`] types for EgressIP, EgressService and
//! NetworkAttachmentDefinition. Each object is then checked for what the kube layer relies on
//! (names, IPs and CIDRs, selectors, ports, the OVN-Kubernetes annotations and the OVN CNI
//! configuration of a NAD); every error names the document, the kind, `namespace/name` and the
//! field.
//!
//! Namespaced objects without `metadata.namespace` are put in `default`, as `kubectl apply` does.
//! Empty documents are skipped (but still counted, so document numbers match the file).
//!
//! What this does not do: talk to an API server, apply defaults the API server would (cluster IP
//! allocation, EndpointSlice mirroring), or write anything to the Northbound database.

pub mod crd;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::addr::IpNet;
use crate::kube::annotations::AnnotationError;
use crate::kube::selector::SelectorError;

pub use crd::{
    EgressIP, EgressIPSpec, EgressIPStatus, EgressIPStatusItem, EgressService, EgressServiceSpec,
    EgressServiceStatus, NetworkAttachmentDefinition, NetworkAttachmentDefinitionSpec, OvnNetConf,
    SourceIPMode,
};
pub use validate::{SecondaryNetwork, Topology};

/// The kinds this layer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// `v1` Node.
    Node,
    /// `v1` Namespace.
    Namespace,
    /// `v1` Pod.
    Pod,
    /// `v1` Service.
    Service,
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `k8s.ovn.org/v1` EgressIP.
    EgressIP,
    /// `k8s.ovn.org/v1` EgressService.
    EgressService,
    /// `k8s.cni.cncf.io/v1` NetworkAttachmentDefinition.
    NetworkAttachmentDefinition,
}

impl Kind {
    /// Every supported kind.
    pub const ALL: [Self; 9] = [
        Self::Node,
        Self::Namespace,
        Self::Pod,
        Self::Service,
        Self::EndpointSlice,
        Self::NetworkPolicy,
        Self::EgressIP,
        Self::EgressService,
        Self::NetworkAttachmentDefinition,
    ];

    /// The `kind` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "Node",
            Self::Namespace => "Namespace",
            Self::Pod => "Pod",
            Self::Service => "Service",
            Self::EndpointSlice => "EndpointSlice",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::EgressIP => "EgressIP",
            Self::EgressService => "EgressService",
            Self::NetworkAttachmentDefinition => "NetworkAttachmentDefinition",
        }
    }

    /// The `apiVersion` field value.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Node | Self::Namespace | Self::Pod | Self::Service => "v1",
            Self::EndpointSlice => "discovery.k8s.io/v1",
            Self::NetworkPolicy => "networking.k8s.io/v1",
            Self::EgressIP | Self::EgressService => crd::K8S_OVN_ORG_V1,
            Self::NetworkAttachmentDefinition => crd::K8S_CNI_CNCF_IO_V1,
        }
    }

    /// True for kinds that live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(self, Self::Node | Self::Namespace | Self::EgressIP)
    }

    /// The kind with this `apiVersion` and `kind`.
    pub fn from_type_meta(api_version: &str, kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == kind && k.api_version() == api_version)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an object came from: the source name (a file, or empty), the 1-based document number
/// in it, and the 0-based index in a List's `items`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file or other source name given to the loader (may be empty).
    pub source: String,
    /// 1-based document number within the source.
    pub document: usize,
    /// Index in the document's `items` when the document is a List.
    pub item: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.source.is_empty() {
            write!(f, "{}: ", self.source)?;
        }
        write!(f, "document {}", self.document)?;
        if let Some(i) = self.item {
            write!(f, ", items[{i}]")?;
        }
        Ok(())
    }
}

/// What is wrong with one field of an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent or empty.
    #[error("required field is missing")]
    Missing,
    /// The JSON shape does not fit the type (wrong type, unknown enum value, ...).
    #[error("{0}")]
    Decode(String),
    /// Not an IP address.
    #[error("{0:?} is not an IP address")]
    BadIp(String),
    /// Not a network `IP/PREFIX` (or it has host bits set where a network is required).
    #[error("{0:?} is not a valid CIDR")]
    BadCidr(String),
    /// A value outside what is allowed.
    #[error("invalid value {value:?}: expected {expected}")]
    BadValue {
        /// The value as written.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A label selector that is invalid.
    #[error("{0}")]
    Selector(SelectorError),
    /// An OVN-Kubernetes annotation whose value is malformed.
    #[error("{0}")]
    Annotation(AnnotationError),
    /// A feature this layer does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Problem {
    /// A [`Problem::BadValue`].
    pub fn bad_value(value: impl fmt::Display, expected: impl Into<String>) -> Self {
        Self::BadValue {
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// A problem at a field path inside one object (`spec.ports[0].port`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// Dotted path of the field, with `[i]` for list positions.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

/// An error loading manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The text is not valid YAML or JSON.
    #[error("{at}: syntax error: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// The parser's message.
        message: String,
    },
    /// A document is not an object with `apiVersion` and `kind` strings.
    #[error("{at}: {field}: required field is missing (every document needs apiVersion and kind)")]
    MissingTypeMeta {
        /// Where.
        at: Location,
        /// `apiVersion` or `kind`.
        field: &'static str,
    },
    /// A kind this layer does not handle.
    #[error(
        "{at}: unsupported kind {kind:?} with apiVersion {api_version:?} (supported: Node, \
         Namespace, Pod, Service (v1), EndpointSlice (discovery.k8s.io/v1), NetworkPolicy \
         (networking.k8s.io/v1), EgressIP, EgressService (k8s.ovn.org/v1), \
         NetworkAttachmentDefinition (k8s.cni.cncf.io/v1), List)"
    )]
    UnsupportedKind {
        /// Where.
        at: Location,
        /// The `apiVersion` as written.
        api_version: String,
        /// The `kind` as written.
        kind: String,
    },
    /// An object of a supported kind with an invalid or unsupported field.
    #[error("{at}: {kind} {object}: {error}")]
    Invalid {
        /// Where.
        at: Location,
        /// The object's kind.
        kind: Kind,
        /// `namespace/name` (or `name` for cluster-scoped kinds; `<unnamed>` when absent).
        object: String,
        /// The field and what is wrong with it.
        error: Box<FieldError>,
    },
    /// Two objects with the same kind, namespace and name.
    #[error("{at}: {kind} {object} is defined twice (first in {first})")]
    Duplicate {
        /// Where the second definition is.
        at: Location,
        /// Where the first definition is.
        first: Box<Location>,
        /// The kind.
        kind: Kind,
        /// `namespace/name` or `name`.
        object: String,
    },
}

/// A typed object from a manifest.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KubeObject {
    /// A Node.
    Node(Box<Node>),
    /// A Namespace.
    Namespace(Box<Namespace>),
    /// A Pod.
    Pod(Box<Pod>),
    /// A Service.
    Service(Box<Service>),
    /// An EndpointSlice.
    EndpointSlice(Box<EndpointSlice>),
    /// A NetworkPolicy.
    NetworkPolicy(Box<NetworkPolicy>),
    /// An EgressIP.
    EgressIP(Box<EgressIP>),
    /// An EgressService.
    EgressService(Box<EgressService>),
    /// A NetworkAttachmentDefinition.
    NetworkAttachmentDefinition(Box<NetworkAttachmentDefinition>),
}

impl KubeObject {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Node(_) => Kind::Node,
            Self::Namespace(_) => Kind::Namespace,
            Self::Pod(_) => Kind::Pod,
            Self::Service(_) => Kind::Service,
            Self::EndpointSlice(_) => Kind::EndpointSlice,
            Self::NetworkPolicy(_) => Kind::NetworkPolicy,
            Self::EgressIP(_) => Kind::EgressIP,
            Self::EgressService(_) => Kind::EgressService,
            Self::NetworkAttachmentDefinition(_) => Kind::NetworkAttachmentDefinition,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::Node(o) => &o.metadata,
            Self::Namespace(o) => &o.metadata,
            Self::Pod(o) => &o.metadata,
            Self::Service(o) => &o.metadata,
            Self::EndpointSlice(o) => &o.metadata,
            Self::NetworkPolicy(o) => &o.metadata,
            Self::EgressIP(o) => &o.metadata,
            Self::EgressService(o) => &o.metadata,
            Self::NetworkAttachmentDefinition(o) => &o.metadata,
        }
    }

    /// `metadata.name` (never empty for a loaded object).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace` for namespaced kinds (set to `default` by the loader when absent).
    pub fn namespace(&self) -> Option<&str> {
        if self.kind().is_namespaced() {
            self.metadata().namespace.as_deref()
        } else {
            None
        }
    }

    /// The key the object is known by: (kind, namespace or empty, name).
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            kind: self.kind(),
            namespace: self.namespace().unwrap_or_default().to_owned(),
            name: self.name().to_owned(),
        }
    }
}

/// Identity of an object: kind, namespace (empty for cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    /// `namespace/name`, or `name` for cluster-scoped kinds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// One loaded object with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Where the object was defined.
    pub at: Location,
    /// The checked, typed object.
    pub object: KubeObject,
}

/// Parses manifest text (YAML or JSON, one or more documents, Lists expanded) into checked,
/// typed objects in file order. `source` names the text in errors (a file name, or `""`).
pub fn parse_manifests(source: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut out = Vec::new();
    for (i, doc) in split_documents(source, text)?.into_iter().enumerate() {
        let at = Location {
            source: source.to_owned(),
            document: i + 1,
            item: None,
        };
        if doc.is_null() {
            continue;
        }
        load_value(at, doc, &mut out)?;
    }
    Ok(out)
}

/// Splits text into documents as JSON values (YAML unless the text starts with `{` or `[`).
fn split_documents(source: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let syntax = |document: usize, e: &dyn fmt::Display| ManifestError::Syntax {
        at: Location {
            source: source.to_owned(),
            document,
            item: None,
        },
        message: e.to_string(),
    };
    let trimmed = text.trim_start();
    let mut docs = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            docs.push(v.map_err(|e| syntax(docs.len() + 1, &e))?);
        }
    } else {
        for d in serde_norway::Deserializer::from_str(text) {
            docs.push(Value::deserialize(d).map_err(|e| syntax(docs.len() + 1, &e))?);
        }
    }
    Ok(docs)
}

fn type_meta(at: &Location, v: &Value) -> Result<(String, String), ManifestError> {
    let get = |field: &'static str| -> Result<String, ManifestError> {
        match v.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ManifestError::MissingTypeMeta {
                at: at.clone(),
                field,
            }),
        }
    };
    if !v.is_object() {
        return Err(ManifestError::Syntax {
            at: at.clone(),
            message: "a document must be a mapping (an object)".into(),
        });
    }
    Ok((get("apiVersion")?, get("kind")?))
}

fn load_value(at: Location, v: Value, out: &mut Vec<Document>) -> Result<(), ManifestError> {
    let (api_version, kind_name) = type_meta(&at, &v)?;
    let list_of = kind_name
        .strip_suffix("List")
        .filter(|_| at.item.is_none() && v.get("items").is_some());
    if let Some(inner) = list_of {
        let element = Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == inner && k.api_version() == api_version);
        if !inner.is_empty() && element.is_none() {
            return Err(ManifestError::UnsupportedKind {
                at,
                api_version,
                kind: kind_name,
            });
        }
        let items = match v {
            Value::Object(mut m) => m.remove("items"),
            _ => None,
        };
        let items = match items {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(ManifestError::Syntax {
                    at,
                    message: "items: a List's items must be a sequence".into(),
                })
            }
        };
        for (i, mut item) in items.into_iter().enumerate() {
            // Typed lists (PodList, ...) may leave apiVersion/kind out of their items.
            if let (Some(k), Value::Object(m)) = (element, &mut item) {
                m.entry("apiVersion")
                    .or_insert_with(|| Value::String(k.api_version().into()));
                m.entry("kind")
                    .or_insert_with(|| Value::String(k.as_str().into()));
            }
            let at = Location {
                item: Some(i),
                ..at.clone()
            };
            load_value(at, item, out)?;
        }
        return Ok(());
    }
    let Some(kind) = Kind::from_type_meta(&api_version, &kind_name) else {
        return Err(ManifestError::UnsupportedKind {
            at,
            api_version,
            kind: kind_name,
        });
    };
    let object = decode(&at, kind, v)?;
    out.push(Document { at, object });
    Ok(())
}

/// `namespace/name` read from the raw value, for errors raised before the typed decode.
fn raw_object_name(kind: Kind, v: &Value) -> String {
    let meta = v.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("<unnamed>");
    if !kind.is_namespaced() {
        return name.to_owned();
    }
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    format!("{ns}/{name}")
}

fn typed<T: DeserializeOwned>(v: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        if let Some(rest) = message.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let field = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return FieldError::new(field, Problem::Missing);
        }
        let field = if path == "." { "(object)".into() } else { path };
        FieldError::new(field, Problem::Decode(message))
    })
}

fn decode(at: &Location, kind: Kind, v: Value) -> Result<KubeObject, ManifestError> {
    let object = raw_object_name(kind, &v);
    let invalid = |error: FieldError| ManifestError::Invalid {
        at: at.clone(),
        kind,
        object: object.clone(),
        error: Box::new(error),
    };
    let mut obj = match kind {
        Kind::Node => KubeObject::Node(typed(v).map_err(invalid)?),
        Kind::Namespace => KubeObject::Namespace(typed(v).map_err(invalid)?),
        Kind::Pod => KubeObject::Pod(typed(v).map_err(invalid)?),
        Kind::Service => KubeObject::Service(typed(v).map_err(invalid)?),
        Kind::EndpointSlice => KubeObject::EndpointSlice(typed(v).map_err(invalid)?),
        Kind::NetworkPolicy => KubeObject::NetworkPolicy(typed(v).map_err(invalid)?),
        Kind::EgressIP => KubeObject::EgressIP(typed(v).map_err(invalid)?),
        Kind::EgressService => KubeObject::EgressService(typed(v).map_err(invalid)?),
        Kind::NetworkAttachmentDefinition => {
            KubeObject::NetworkAttachmentDefinition(typed(v).map_err(invalid)?)
        }
    };
    validate::check(&mut obj).map_err(invalid)?;
    Ok(obj)
}

/// A set of loaded objects, one map per kind keyed by (namespace, name) — namespace empty for
/// cluster-scoped kinds — so iteration order is sorted and independent of file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManifestSet {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Pods by (namespace, name).
    pub pods: BTreeMap<(String, String), Pod>,
    /// Services by (namespace, name).
    pub services: BTreeMap<(String, String), Service>,
    /// EndpointSlices by (namespace, name).
    pub endpoint_slices: BTreeMap<(String, String), EndpointSlice>,
    /// NetworkPolicies by (namespace, name).
    pub network_policies: BTreeMap<(String, String), NetworkPolicy>,
    /// EgressIPs by name.
    pub egress_ips: BTreeMap<String, EgressIP>,
    /// EgressServices by (namespace, name).
    pub egress_services: BTreeMap<(String, String), EgressService>,
    /// NetworkAttachmentDefinitions by (namespace, name).
    pub network_attachment_definitions: BTreeMap<(String, String), NetworkAttachmentDefinition>,
    locations: BTreeMap<ObjectKey, Location>,
}

impl ManifestSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `text` (see [`parse_manifests`]) and adds its objects.
    pub fn add_str(&mut self, source: &str, text: &str) -> Result<(), ManifestError> {
        for doc in parse_manifests(source, text)? {
            self.insert(doc)?;
        }
        Ok(())
    }

    /// Adds one object; an object with the same kind, namespace and name is an error.
    pub fn insert(&mut self, doc: Document) -> Result<(), ManifestError> {
        let key = doc.object.key();
        if let Some(first) = self.locations.get(&key) {
            return Err(ManifestError::Duplicate {
                at: doc.at,
                first: Box::new(first.clone()),
                kind: key.kind,
                object: key.to_string(),
            });
        }
        let nn = (key.namespace.clone(), key.name.clone());
        match doc.object {
            KubeObject::Node(o) => {
                self.nodes.insert(key.name.clone(), *o);
            }
            KubeObject::Namespace(o) => {
                self.namespaces.insert(key.name.clone(), *o);
            }
            KubeObject::Pod(o) => {
                self.pods.insert(nn, *o);
            }
            KubeObject::Service(o) => {
                self.services.insert(nn, *o);
            }
            KubeObject::EndpointSlice(o) => {
                self.endpoint_slices.insert(nn, *o);
            }
            KubeObject::NetworkPolicy(o) => {
                self.network_policies.insert(nn, *o);
            }
            KubeObject::EgressIP(o) => {
                self.egress_ips.insert(key.name.clone(), *o);
            }
            KubeObject::EgressService(o) => {
                self.egress_services.insert(nn, *o);
            }
            KubeObject::NetworkAttachmentDefinition(o) => {
                self.network_attachment_definitions.insert(nn, *o);
            }
        }
        self.locations.insert(key, doc.at);
        Ok(())
    }

    /// Where an object was defined.
    pub fn location(&self, key: &ObjectKey) -> Option<&Location> {
        self.locations.get(key)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// True when no object was added.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    /// Object count per kind, for summaries.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        let mut out = BTreeMap::new();
        for k in self.locations.keys() {
            *out.entry(k.kind).or_insert(0) += 1;
        }
        out
    }
}

/// Parses a comma-separated CIDR list as NAD configurations write them (`"10.1.0.0/24, fd00::/64"`).
pub(crate) fn parse_cidr_list(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<IpNet>().map_err(|_| p.to_owned()))
        .collect()
}
