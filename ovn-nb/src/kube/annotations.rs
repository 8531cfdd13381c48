//! The node and namespace annotations and labels OVN-Kubernetes reads and writes, with typed
//! parsers for their JSON values.
//!
//! Names and value shapes follow OVN-Kubernetes (and, for `egress-ipconfig`, OpenShift's
//! cloud-network-config-controller). Every parser names the annotation and the text on error.
//!
//! What this does not do: write annotations back, or read annotations this layer has no use for.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::addr::IpNet;

/// Node label that makes a node eligible to host egress IPs (its value is ignored).
pub const EGRESS_ASSIGNABLE_LABEL: &str = "k8s.ovn.org/egress-assignable";
/// Node annotation with the node's pod subnet(s) per network:
/// `{"default":["10.128.0.0/23"]}` (older releases wrote a single string instead of a list).
pub const NODE_SUBNETS: &str = "k8s.ovn.org/node-subnets";
/// Node annotation with the address of the node's primary interface, per family:
/// `{"ipv4":"172.18.0.2/16","ipv6":"fc00::2/64"}`.
pub const NODE_PRIMARY_IFADDR: &str = "k8s.ovn.org/node-primary-ifaddr";
/// Node annotation listing every host address with its prefix: `["172.18.0.2/16","10.1.0.5/24"]`.
pub const HOST_CIDRS: &str = "k8s.ovn.org/host-cidrs";
/// Node annotation with the cloud's egress subnet and per-node IP capacity:
/// `[{"interface":"eni-1","ifaddr":{"ipv4":"10.0.128.0/18"},"capacity":{"ipv4":14,"ipv6":15}}]`
/// (AWS, per family) or `..."capacity":{"ip":10}` (Azure, GCP, shared by both families).
pub const CLOUD_EGRESS_IP_CONFIG: &str = "cloud.network.openshift.io/egress-ipconfig";
/// Node annotation with the gateway router's join address per family (older single-network form):
/// `{"ipv4":"100.64.0.2/16"}`.
pub const NODE_GATEWAY_ROUTER_LRP_IFADDR: &str = "k8s.ovn.org/node-gateway-router-lrp-ifaddr";
/// Node annotation with the gateway router's join address per network:
/// `{"default":{"ipv4":"100.64.0.2/16"}}`.
pub const NODE_GATEWAY_ROUTER_LRP_IFADDRS: &str = "k8s.ovn.org/node-gateway-router-lrp-ifaddrs";
/// Node annotation with the cluster-wide node number (a decimal integer).
pub const NODE_ID: &str = "k8s.ovn.org/node-id";
/// Namespace annotation turning on ACL logging for its network policies:
/// `{"deny":"alert","allow":"notice"}`.
pub const ACL_LOGGING: &str = "k8s.ovn.org/acl-logging";
/// The network name OVN-Kubernetes uses for the cluster's default (primary) network.
pub const DEFAULT_NETWORK: &str = "default";

/// An annotation whose value does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {annotation}: {reason} (value {value:?})")]
pub struct AnnotationError {
    /// The annotation key.
    pub annotation: &'static str,
    /// The value as written.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn err(annotation: &'static str, value: &str, reason: impl Into<String>) -> AnnotationError {
    AnnotationError {
        annotation,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn json<'a, T: Deserialize<'a>>(
    annotation: &'static str,
    value: &'a str,
) -> Result<T, AnnotationError> {
    serde_json::from_str(value).map_err(|e| err(annotation, value, e.to_string()))
}

fn net(annotation: &'static str, value: &str, text: &str) -> Result<IpNet, AnnotationError> {
    text.trim()
        .parse()
        .map_err(|_| err(annotation, value, format!("{text:?} is not an IP/PREFIX")))
}

fn family_ok(
    annotation: &'static str,
    value: &str,
    n: IpNet,
    v4: bool,
) -> Result<IpNet, AnnotationError> {
    if n.addr().is_ipv4() == v4 {
        Ok(n)
    } else {
        let want = if v4 { "ipv4" } else { "ipv6" };
        Err(err(
            annotation,
            value,
            format!("{n} under {want:?} is of the other family"),
        ))
    }
}

/// Addresses per IP family, as several OVN-Kubernetes annotations write them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerFamily {
    /// The IPv4 entry.
    pub ipv4: Option<IpNet>,
    /// The IPv6 entry.
    pub ipv6: Option<IpNet>,
}

impl PerFamily {
    /// The entries present, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.ipv4.iter().chain(self.ipv6.iter()).copied()
    }

    /// The entry of `ip`'s family.
    pub fn for_family_of(&self, ip: IpAddr) -> Option<IpNet> {
        if ip.is_ipv4() {
            self.ipv4
        } else {
            self.ipv6
        }
    }
}

#[derive(Deserialize)]
struct RawPerFamily {
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
}

fn per_family(
    annotation: &'static str,
    value: &str,
    raw: RawPerFamily,
) -> Result<PerFamily, AnnotationError> {
    let ipv4 = raw
        .ipv4
        .filter(|s| !s.is_empty())
        .map(|s| net(annotation, value, &s).and_then(|n| family_ok(annotation, value, n, true)))
        .transpose()?;
    let ipv6 = raw
        .ipv6
        .filter(|s| !s.is_empty())
        .map(|s| net(annotation, value, &s).and_then(|n| family_ok(annotation, value, n, false)))
        .transpose()?;
    Ok(PerFamily { ipv4, ipv6 })
}

/// Parses `k8s.ovn.org/node-primary-ifaddr`.
pub fn parse_primary_ifaddr(value: &str) -> Result<PerFamily, AnnotationError> {
    let raw: RawPerFamily = json(NODE_PRIMARY_IFADDR, value)?;
    per_family(NODE_PRIMARY_IFADDR, value, raw)
}

/// Parses `k8s.ovn.org/node-gateway-router-lrp-ifaddr` (the single-network form).
pub fn parse_gateway_router_lrp_ifaddr(value: &str) -> Result<PerFamily, AnnotationError> {
    let raw: RawPerFamily = json(NODE_GATEWAY_ROUTER_LRP_IFADDR, value)?;
    per_family(NODE_GATEWAY_ROUTER_LRP_IFADDR, value, raw)
}

/// Parses `k8s.ovn.org/node-gateway-router-lrp-ifaddrs` (per network name).
pub fn parse_gateway_router_lrp_ifaddrs(
    value: &str,
) -> Result<BTreeMap<String, PerFamily>, AnnotationError> {
    let raw: BTreeMap<String, RawPerFamily> = json(NODE_GATEWAY_ROUTER_LRP_IFADDRS, value)?;
    raw.into_iter()
        .map(|(k, v)| Ok((k, per_family(NODE_GATEWAY_ROUTER_LRP_IFADDRS, value, v)?)))
        .collect()
}

/// Parses `k8s.ovn.org/host-cidrs`.
pub fn parse_host_cidrs(value: &str) -> Result<Vec<IpNet>, AnnotationError> {
    let raw: Vec<String> = json(HOST_CIDRS, value)?;
    raw.iter().map(|s| net(HOST_CIDRS, value, s)).collect()
}

/// Parses `k8s.ovn.org/node-subnets`: subnets per network name; a single string is accepted as a
/// one-element list, as older releases wrote it. Subnets must have no host bits set.
pub fn parse_node_subnets(value: &str) -> Result<BTreeMap<String, Vec<IpNet>>, AnnotationError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let raw: BTreeMap<String, OneOrMany> = json(NODE_SUBNETS, value)?;
    let mut out = BTreeMap::new();
    for (name, v) in raw {
        let list = match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        let mut nets = Vec::new();
        for s in &list {
            let n = net(NODE_SUBNETS, value, s)?;
            if n.addr() != n.network() {
                return Err(err(NODE_SUBNETS, value, format!("{n} has host bits set")));
            }
            nets.push(n);
        }
        out.insert(name, nets);
    }
    Ok(out)
}

/// Parses `k8s.ovn.org/node-id`.
pub fn parse_node_id(value: &str) -> Result<u32, AnnotationError> {
    value
        .trim()
        .parse()
        .map_err(|_| err(NODE_ID, value, "not a non-negative integer"))
}

/// A node's egress IP capacity as the cloud reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloudCapacity {
    /// Separate limits per family (AWS): `{"ipv4":14,"ipv6":15}`. A missing family means none.
    PerFamily {
        /// IPv4 addresses the node may host.
        ipv4: u32,
        /// IPv6 addresses the node may host.
        ipv6: u32,
    },
    /// One limit shared by both families (Azure, GCP): `{"ip":10}`.
    Shared {
        /// Addresses the node may host, either family.
        ip: u32,
    },
}

/// The first entry of `cloud.network.openshift.io/egress-ipconfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEgressConfig {
    /// The cloud interface name.
    pub interface: String,
    /// The cloud subnet(s) egress IPs must come from, per family.
    pub ifaddr: PerFamily,
    /// How many egress IPs the node may host.
    pub capacity: CloudCapacity,
}

/// Parses `cloud.network.openshift.io/egress-ipconfig` (its first entry, as OVN-Kubernetes
/// does; the list must not be empty).
pub fn parse_cloud_egress_ip_config(value: &str) -> Result<CloudEgressConfig, AnnotationError> {
    #[derive(Deserialize)]
    struct RawCapacity {
        #[serde(default)]
        ipv4: Option<u32>,
        #[serde(default)]
        ipv6: Option<u32>,
        #[serde(default)]
        ip: Option<u32>,
    }
    #[derive(Deserialize)]
    struct RawEntry {
        #[serde(default)]
        interface: String,
        ifaddr: RawPerFamily,
        capacity: RawCapacity,
    }
    const A: &str = CLOUD_EGRESS_IP_CONFIG;
    let raw: Vec<RawEntry> = json(A, value)?;
    let first = raw
        .into_iter()
        .next()
        .ok_or_else(|| err(A, value, "empty list"))?;
    let ifaddr = per_family(A, value, first.ifaddr)?;
    let c = first.capacity;
    let capacity = match (c.ip, c.ipv4, c.ipv6) {
        (Some(ip), None, None) => CloudCapacity::Shared { ip },
        (None, v4, v6) if v4.is_some() || v6.is_some() => CloudCapacity::PerFamily {
            ipv4: v4.unwrap_or(0),
            ipv6: v6.unwrap_or(0),
        },
        (Some(_), _, _) => {
            return Err(err(
                A,
                value,
                "capacity mixes \"ip\" with \"ipv4\"/\"ipv6\"",
            ))
        }
        _ => {
            return Err(err(
                A,
                value,
                "capacity has none of \"ip\", \"ipv4\", \"ipv6\"",
            ))
        }
    };
    Ok(CloudEgressConfig {
        interface: first.interface,
        ifaddr,
        capacity,
    })
}

/// ACL log severities ovn-nb(5) accepts.
pub const ACL_SEVERITIES: [&str; 5] = ["alert", "warning", "notice", "info", "debug"];

/// The `k8s.ovn.org/acl-logging` settings of a namespace: the severity to log denied and
/// allowed connections at, when logging is on for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclLogging {
    /// Severity for connections a policy denies.
    pub deny: Option<String>,
    /// Severity for connections a policy allows.
    pub allow: Option<String>,
}

/// Parses `k8s.ovn.org/acl-logging`; severities must be one of [`ACL_SEVERITIES`].
pub fn parse_acl_logging(value: &str) -> Result<AclLogging, AnnotationError> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        deny: Option<String>,
        #[serde(default)]
        allow: Option<String>,
    }
    let raw: Raw = json(ACL_LOGGING, value)?;
    let check = |s: Option<String>| -> Result<Option<String>, AnnotationError> {
        match s {
            Some(s) if s.is_empty() => Ok(None),
            Some(s) if ACL_SEVERITIES.contains(&s.as_str()) => Ok(Some(s)),
            Some(s) => Err(err(
                ACL_LOGGING,
                value,
                format!("unknown severity {s:?} (expected one of {ACL_SEVERITIES:?})"),
            )),
            None => Ok(None),
        }
    };
    Ok(AclLogging {
        deny: check(raw.deny)?,
        allow: check(raw.allow)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_subnets_both_shapes() {
        let one = parse_node_subnets(r#"{"default":"10.128.0.0/23"}"#).unwrap();
        assert_eq!(one["default"][0].to_string(), "10.128.0.0/23");
        let many =
            parse_node_subnets(r#"{"default":["10.128.2.0/23","fd01:0:0:1::/64"]}"#).unwrap();
        assert_eq!(many["default"].len(), 2);
        assert!(parse_node_subnets(r#"{"default":"10.128.0.1/23"}"#).is_err());
        let e = parse_node_subnets("nope").unwrap_err();
        assert_eq!(e.annotation, NODE_SUBNETS);
    }

    #[test]
    fn primary_and_host_cidrs() {
        let p = parse_primary_ifaddr(r#"{"ipv4":"172.18.0.2/16","ipv6":"fc00::2/64"}"#).unwrap();
        assert_eq!(p.ipv4.unwrap().to_string(), "172.18.0.2/16");
        assert_eq!(p.iter().count(), 2);
        assert!(parse_primary_ifaddr(r#"{"ipv4":"fc00::2/64"}"#).is_err());
        let h = parse_host_cidrs(r#"["172.18.0.2/16","10.1.0.5/24"]"#).unwrap();
        assert_eq!(h.len(), 2);
        assert!(parse_host_cidrs(r#"["172.18.0.2"]"#).is_err());
    }

    #[test]
    fn cloud_config() {
        let aws = parse_cloud_egress_ip_config(
            r#"[{"interface":"eni-1","ifaddr":{"ipv4":"10.0.128.0/18"},"capacity":{"ipv4":14,"ipv6":15}}]"#,
        )
        .unwrap();
        assert_eq!(
            aws.capacity,
            CloudCapacity::PerFamily { ipv4: 14, ipv6: 15 }
        );
        let gcp = parse_cloud_egress_ip_config(
            r#"[{"interface":"nic0","ifaddr":{"ipv4":"10.0.128.0/17"},"capacity":{"ip":10}}]"#,
        )
        .unwrap();
        assert_eq!(gcp.capacity, CloudCapacity::Shared { ip: 10 });
        assert_eq!(gcp.ifaddr.ipv4.unwrap().to_string(), "10.0.128.0/17");
        assert!(parse_cloud_egress_ip_config("[]").is_err());
        assert!(
            parse_cloud_egress_ip_config(r#"[{"ifaddr":{},"capacity":{"ip":1,"ipv4":2}}]"#)
                .is_err()
        );
    }

    #[test]
    fn lrp_and_ids_and_logging() {
        let a = parse_gateway_router_lrp_ifaddr(r#"{"ipv4":"100.64.0.2/16"}"#).unwrap();
        assert_eq!(a.ipv4.unwrap().to_string(), "100.64.0.2/16");
        let b =
            parse_gateway_router_lrp_ifaddrs(r#"{"default":{"ipv4":"100.64.0.3/16"}}"#).unwrap();
        assert_eq!(b["default"].ipv4.unwrap().to_string(), "100.64.0.3/16");
        assert_eq!(parse_node_id("7").unwrap(), 7);
        assert!(parse_node_id("-1").is_err());
        let l = parse_acl_logging(r#"{"deny":"alert","allow":"notice"}"#).unwrap();
        assert_eq!(l.deny.as_deref(), Some("alert"));
        assert!(parse_acl_logging(r#"{"deny":"loud"}"#).is_err());
    }
}
