//! NetworkPolicy: a `Port_Group` per policy holding the selected pods, address sets for the
//! peers (per namespace, and per rule for pod-selector peers, `_v4`/`_v6`), `allow-related`
//! ACLs (`to-lport` for ingress, `from-lport` for egress) at priority 1001, and per namespace a
//! default-deny port group per direction with a drop ACL (1000) and an ARP/ND allow ACL (1001).
//! ACLs log with the namespace's `k8s.ovn.org/acl-logging` severities.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::annotations::{self as ann, AclLogging};
use super::build::{db_ids, family, hash_for_ovn, ip_field, BuildError, Input};
use super::desired::{DesiredNb, Row};
use super::pods::Pods;
use super::selector::Selector;
use crate::addr::IpNet;

/// Priority of the policy allow ACLs.
pub const ALLOW_PRIORITY: i64 = 1001;
/// Priority of the default-deny drop ACLs.
pub const DEFAULT_DENY_PRIORITY: i64 = 1000;
/// Priority of the ARP/ND allow ACLs on default-deny port groups.
pub const ARP_ALLOW_PRIORITY: i64 = 1001;
/// The meter logging ACLs use.
pub const ACL_LOGGING_METER: &str = "acl-logging";

/// Ingress or egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dir {
    Ingress,
    Egress,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Self::Ingress => "Ingress",
            Self::Egress => "Egress",
        }
    }
    fn acl_direction(self) -> &'static str {
        match self {
            Self::Ingress => "to-lport",
            Self::Egress => "from-lport",
        }
    }
    /// The peer side of the packet.
    fn peer(self) -> &'static str {
        match self {
            Self::Ingress => "src",
            Self::Egress => "dst",
        }
    }
    fn port(self, pg: &str) -> String {
        match self {
            Self::Ingress => format!("outport == @{pg}"),
            Self::Egress => format!("inport == @{pg}"),
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Self::Ingress => "ingressDefaultDeny",
            Self::Egress => "egressDefaultDeny",
        }
    }
}

/// A namespace's address set name for one family.
pub fn namespace_address_set(ns: &str, v4: bool) -> (String, BTreeMap<String, String>) {
    let ids = db_ids(
        "Namespace",
        &[
            ("name", ns.to_owned()),
            ("ip-family", family(v4).to_owned()),
        ],
    );
    let name = hash_for_ovn(ids.get("k8s.ovn.org/id").map_or("", String::as_str));
    (name, ids)
}

/// The port group name of a policy (`HashForOVN("NS_POLICY")`).
pub fn policy_port_group(ns: &str, policy: &str) -> String {
    hash_for_ovn(&format!("{ns}_{policy}"))
}

/// The default-deny port group of a namespace for ingress (`true`) or egress.
pub fn default_deny_port_group(ns: &str, ingress: bool) -> String {
    let d = if ingress { Dir::Ingress } else { Dir::Egress };
    format!("{}_{}", hash_for_ovn(ns), d.suffix())
}

fn acl_name(s: &str) -> String {
    s.chars().take(63).collect()
}

fn selector(object: &str, sel: &LabelSelector) -> Result<Selector, BuildError> {
    Selector::new(sel).map_err(|error| BuildError::Selector {
        object: object.into(),
        error,
    })
}

fn ns_labels(input: &Input<'_>, ns: &str) -> BTreeMap<String, String> {
    let mut l = input
        .set
        .namespaces
        .get(ns)
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default();
    l.insert("kubernetes.io/metadata.name".into(), ns.into());
    l
}

fn logging(input: &Input<'_>, ns: &str) -> Result<AclLogging, BuildError> {
    let v = input
        .set
        .namespaces
        .get(ns)
        .and_then(|n| n.metadata.annotations.as_ref())
        .and_then(|a| a.get(ann::ACL_LOGGING));
    match v {
        None => Ok(AclLogging::default()),
        Some(v) => ann::parse_acl_logging(v).map_err(|error| BuildError::Annotation {
            object: format!("Namespace {ns}"),
            error,
        }),
    }
}

fn acl(
    dir: Dir,
    priority: i64,
    m: String,
    action: &str,
    name: &str,
    severity: Option<&String>,
    ext: BTreeMap<String, String>,
) -> Row {
    let mut r = Row::new()
        .i("priority", priority)
        .s("direction", dir.acl_direction())
        .s("match", m)
        .s("action", action)
        .s("name", acl_name(name))
        .map("external_ids", ext);
    if let Some(sev) = severity {
        r = r
            .b("log", true)
            .s("severity", sev.clone())
            .s("meter", ACL_LOGGING_METER);
    }
    if dir == Dir::Egress {
        r = r.map("options", [("apply-after-lb", "true")]);
    }
    r
}

fn l4_matches(
    object: &str,
    ports: Option<&Vec<NetworkPolicyPort>>,
) -> Result<Vec<String>, BuildError> {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return Ok(vec![String::new()]);
    };
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
        match (&p.port, p.end_port) {
            (None, _) => out.push(proto),
            (Some(IntOrString::Int(a)), None) => out.push(format!("{proto} && {proto}.dst=={a}")),
            (Some(IntOrString::Int(a)), Some(b)) => {
                out.push(format!("{proto} && {a}<={proto}.dst<={b}"));
            }
            (Some(IntOrString::String(n)), _) => {
                return Err(BuildError::Invalid {
                    object: object.into(),
                    field: format!("ports[{i}].port"),
                    reason: format!("named port {n:?} is not supported"),
                })
            }
        }
    }
    Ok(out)
}

fn join_and(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" && ")
}

#[allow(clippy::too_many_arguments)]
fn gress(
    input: &Input<'_>,
    pods: &Pods,
    nb: &mut DesiredNb,
    ns: &str,
    pname: &str,
    pg: &str,
    dir: Dir,
    index: usize,
    peers: Option<&Vec<NetworkPolicyPeer>>,
    ports: Option<&Vec<NetworkPolicyPort>>,
    severity: Option<&String>,
) -> Result<(), BuildError> {
    let object = format!("NetworkPolicy {ns}/{pname}");
    let (v4_on, v6_on) = input.config.families();
    let fams: Vec<bool> = [(true, v4_on), (false, v6_on)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
    let key_name = format!("{ns}:{pname}");
    let base_keys = |fam: Option<bool>| {
        let mut k = vec![
            ("name", key_name.clone()),
            ("policy-direction", dir.name().to_owned()),
            ("gress-index", index.to_string()),
        ];
        if let Some(v4) = fam {
            k.push(("ip-family", family(v4).to_owned()));
        }
        k
    };
    // L3 alternatives: address-set based (one) and one per ipBlock.
    let mut l3: Vec<(String, i64)> = Vec::new();
    let peers = peers.filter(|p| !p.is_empty());
    match peers {
        None => {
            let all = if fams.len() == 2 {
                "(ip4 || ip6)".to_owned()
            } else {
                ip_field(fams.first().copied().unwrap_or(true)).to_owned()
            };
            l3.push((all, -1));
        }
        Some(peers) => {
            let mut sets: BTreeMap<bool, BTreeSet<String>> = BTreeMap::new();
            let mut gress_ips: BTreeSet<std::net::IpAddr> = BTreeSet::new();
            let mut uses_gress_set = false;
            let mut block_index = 0i64;
            for (pi, peer) in peers.iter().enumerate() {
                let field = format!(
                    "spec.{}[{index}].peers[{pi}]",
                    dir.name().to_ascii_lowercase()
                );
                if let Some(b) = &peer.ip_block {
                    let cidr: IpNet = b.cidr.parse().map_err(|_| BuildError::Invalid {
                        object: object.clone(),
                        field: format!("{field}.ipBlock.cidr"),
                        reason: format!("{:?} is not a CIDR", b.cidr),
                    })?;
                    let f = ip_field(cidr.addr().is_ipv4());
                    let side = dir.peer();
                    let mut m = format!("{f}.{side} == {cidr}");
                    let except: Vec<&String> = b.except.iter().flatten().collect();
                    if !except.is_empty() {
                        let list = except
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ");
                        m = format!("{m} && {f}.{side} != {{{list}}}");
                    }
                    l3.push((m, block_index));
                    block_index += 1;
                    continue;
                }
                let ns_sel = match &peer.namespace_selector {
                    Some(s) => Some(selector(&object, s)?),
                    None => None,
                };
                let pod_sel = match &peer.pod_selector {
                    Some(s) => Some(selector(&object, s)?),
                    None => None,
                };
                let namespaces: Vec<String> = match &ns_sel {
                    None => vec![ns.to_owned()],
                    Some(sel) => {
                        let mut all: BTreeSet<String> =
                            input.set.namespaces.keys().cloned().collect();
                        all.extend(pods.values().map(|p| p.namespace.clone()));
                        all.into_iter()
                            .filter(|n| sel.matches(&ns_labels(input, n)))
                            .collect()
                    }
                };
                match pod_sel {
                    None => {
                        for n in &namespaces {
                            for v4 in &fams {
                                sets.entry(*v4)
                                    .or_default()
                                    .insert(namespace_address_set(n, *v4).0);
                            }
                        }
                    }
                    Some(ps) => {
                        uses_gress_set = true;
                        for p in pods.values() {
                            if namespaces.contains(&p.namespace) && ps.matches(&p.labels) {
                                gress_ips.extend(p.ips.iter().copied());
                            }
                        }
                    }
                }
            }
            if uses_gress_set {
                for v4 in &fams {
                    let ids = db_ids("NetworkPolicy", &base_keys(Some(*v4)));
                    let name = hash_for_ovn(ids.get("k8s.ovn.org/id").map_or("", String::as_str));
                    let addrs: Vec<String> = gress_ips
                        .iter()
                        .filter(|ip| ip.is_ipv4() == *v4)
                        .map(ToString::to_string)
                        .collect();
                    nb.put(
                        "Address_Set",
                        &name,
                        Row::new().set("addresses", addrs).map("external_ids", ids),
                    );
                    sets.entry(*v4).or_default().insert(name);
                }
            }
            let alts: Vec<String> = sets
                .iter()
                .rev()
                .filter(|(_, s)| !s.is_empty())
                .map(|(v4, s)| {
                    let list = s
                        .iter()
                        .map(|n| format!("${n}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("{}.{} == {{{list}}}", ip_field(*v4), dir.peer())
                })
                .collect();
            if !alts.is_empty() {
                let m = if alts.len() == 1 {
                    alts.join("")
                } else {
                    format!("({})", alts.join(" || "))
                };
                l3.insert(0, (m, -1));
            }
        }
    }
    let port_match = dir.port(pg);
    for (pi, l4) in l4_matches(&object, ports)?.iter().enumerate() {
        for (l3m, block) in &l3 {
            let mut keys = base_keys(None);
            keys.push((
                "port-policy-index",
                if l4.is_empty() {
                    "-1".into()
                } else {
                    pi.to_string()
                },
            ));
            keys.push(("ip-block-index", block.to_string()));
            let ids = db_ids("NetworkPolicy", &keys);
            let m = join_and(&[l4, l3m, &port_match]);
            let name = format!("{ns}_{pname}_{index}");
            nb.add_child(
                "Port_Group",
                pg,
                "acls",
                "ACL",
                acl(
                    dir,
                    ALLOW_PRIORITY,
                    m,
                    "allow-related",
                    &name,
                    severity,
                    ids,
                ),
            );
        }
    }
    Ok(())
}

/// Writes the namespace address sets, the policies' port groups, address sets and ACLs, and the
/// default-deny port groups.
pub(crate) fn build(input: &Input<'_>, pods: &Pods, nb: &mut DesiredNb) -> Result<(), BuildError> {
    let (v4_on, v6_on) = input.config.families();
    // Namespace address sets.
    let mut namespaces: BTreeSet<String> = input.set.namespaces.keys().cloned().collect();
    namespaces.extend(pods.values().map(|p| p.namespace.clone()));
    for ns in &namespaces {
        for (v4, on) in [(true, v4_on), (false, v6_on)] {
            if !on {
                continue;
            }
            let (name, ids) = namespace_address_set(ns, v4);
            let addrs: Vec<String> = pods
                .values()
                .filter(|p| &p.namespace == ns)
                .flat_map(|p| p.ips.iter())
                .filter(|ip| ip.is_ipv4() == v4)
                .map(ToString::to_string)
                .collect();
            nb.put(
                "Address_Set",
                &name,
                Row::new().set("addresses", addrs).map("external_ids", ids),
            );
        }
    }
    // Default-deny membership per (namespace, direction).
    let mut deny: BTreeMap<(String, Dir), BTreeSet<String>> = BTreeMap::new();
    for ((ns, pname), np) in &input.set.network_policies {
        let object = format!("NetworkPolicy {ns}/{pname}");
        let Some(spec) = np.spec.as_ref() else {
            continue;
        };
        let log = logging(input, ns)?;
        let sel = match &spec.pod_selector {
            Some(s) => selector(&object, s)?,
            None => Selector::everything(),
        };
        let selected: BTreeSet<String> = pods
            .values()
            .filter(|p| &p.namespace == ns && sel.matches(&p.labels))
            .map(|p| p.lsp.clone())
            .collect();
        let types: Vec<String> = match &spec.policy_types {
            Some(t) => t.clone(),
            None => {
                let mut t = vec!["Ingress".to_owned()];
                if spec.egress.is_some() {
                    t.push("Egress".into());
                }
                t
            }
        };
        let pg = policy_port_group(ns, pname);
        let mut pg_ids = BTreeMap::new();
        pg_ids.insert("name".to_owned(), format!("{ns}_{pname}"));
        nb.put("Port_Group", &pg, Row::new().map("external_ids", pg_ids));
        nb.add_refs(
            "Port_Group",
            &pg,
            "ports",
            "Logical_Switch_Port",
            selected.clone(),
        );
        for t in &types {
            let dir = if t == "Egress" {
                Dir::Egress
            } else {
                Dir::Ingress
            };
            deny.entry((ns.clone(), dir))
                .or_default()
                .extend(selected.iter().cloned());
            match dir {
                Dir::Ingress => {
                    for (i, r) in spec.ingress.iter().flatten().enumerate() {
                        gress(
                            input,
                            pods,
                            nb,
                            ns,
                            pname,
                            &pg,
                            dir,
                            i,
                            r.from.as_ref(),
                            r.ports.as_ref(),
                            log.allow.as_ref(),
                        )?;
                    }
                }
                Dir::Egress => {
                    for (i, r) in spec.egress.iter().flatten().enumerate() {
                        gress(
                            input,
                            pods,
                            nb,
                            ns,
                            pname,
                            &pg,
                            dir,
                            i,
                            r.to.as_ref(),
                            r.ports.as_ref(),
                            log.allow.as_ref(),
                        )?;
                    }
                }
            }
        }
    }
    for ((ns, dir), members) in deny {
        let log = logging(input, &ns)?;
        let pg = default_deny_port_group(&ns, dir == Dir::Ingress);
        let mut ext = BTreeMap::new();
        ext.insert("name".to_owned(), format!("{ns}_{}", dir.suffix()));
        nb.put("Port_Group", &pg, Row::new().map("external_ids", ext));
        nb.add_refs("Port_Group", &pg, "ports", "Logical_Switch_Port", members);
        let keys = |ty: &str| {
            db_ids(
                "NetpolNamespace",
                &[
                    ("name", ns.clone()),
                    ("policy-direction", dir.name().to_owned()),
                    ("type", ty.to_owned()),
                ],
            )
        };
        let port = dir.port(&pg);
        nb.add_child(
            "Port_Group",
            &pg,
            "acls",
            "ACL",
            acl(
                dir,
                DEFAULT_DENY_PRIORITY,
                port.clone(),
                "drop",
                &format!("{ns}_{}", dir.suffix()),
                log.deny.as_ref(),
                keys("defaultDeny"),
            ),
        );
        nb.add_child(
            "Port_Group",
            &pg,
            "acls",
            "ACL",
            acl(
                dir,
                ARP_ALLOW_PRIORITY,
                format!("{port} && (arp || nd)"),
                "allow",
                &format!("{ns}_ARPallowPolicy"),
                None,
                keys("arpAllow"),
            ),
        );
    }
    Ok(())
}
