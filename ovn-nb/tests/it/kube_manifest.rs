//! Manifest loading: every supported kind, YAML and JSON, multi-document files, Lists, and the
//! errors for invalid or unsupported input.

use ovn_nb::kube::manifest::{
    parse_manifests, Kind, KubeObject, ManifestError, ManifestSet, Problem, SecondaryNetwork,
    SourceIPMode, Topology,
};
use ovn_nb::kube::selector::Selector;

const CLUSTER: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels:
    k8s.ovn.org/egress-assignable: ""
  annotations:
    k8s.ovn.org/node-subnets: '{"default":["10.128.2.0/23"]}'
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4":"172.18.0.3/16"}'
    k8s.ovn.org/host-cidrs: '["172.18.0.3/16"]'
    cloud.network.openshift.io/egress-ipconfig: '[{"interface":"eni-1","ifaddr":{"ipv4":"172.18.0.0/16"},"capacity":{"ipv4":14,"ipv6":15}}]'
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.3
  - type: Hostname
    address: worker-1
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: a}
  annotations:
    k8s.ovn.org/acl-logging: '{"deny":"alert","allow":"notice"}'
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  nodeName: worker-1
  containers: [{name: c, image: nginx}]
status:
  podIP: 10.128.2.5
  podIPs: [{ip: 10.128.2.5}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 172.30.0.10
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30080}
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.10}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.128.2.5]
  conditions: {ready: true}
  nodeName: worker-1
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-fe, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [a, b]}]}
      podSelector: {matchLabels: {role: fe}}
    - ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}
    ports:
    - {protocol: TCP, port: 8000, endPort: 8100}
    - {protocol: UDP, port: dns}
  egress:
  - to: [{podSelector: {}}]
---
apiVersion: k8s.ovn.org/v1
kind: EgressIP
metadata: {name: eip-shop}
spec:
  egressIPs: [172.18.0.100, 172.18.0.101]
  namespaceSelector:
    matchLabels: {team: a}
  podSelector:
    matchExpressions:
    - {key: app, operator: NotIn, values: [batch]}
status:
  items:
  - {node: worker-1, egressIP: 172.18.0.100}
---
apiVersion: k8s.ovn.org/v1
kind: EgressService
metadata: {name: web, namespace: shop}
spec:
  sourceIPBy: LoadBalancerIP
  nodeSelector: {matchLabels: {egress: "true"}}
  network: "100"
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: tenant-blue, namespace: shop}
spec:
  config: |
    {"cniVersion":"0.3.1","name":"blue","type":"ovn-k8s-cni-overlay",
     "topology":"localnet","netAttachDefName":"shop/tenant-blue",
     "subnets":"192.168.100.0/24, fd10::/64","excludeSubnets":"192.168.100.0/29",
     "vlanID":20,"mtu":1500,"physicalNetworkName":"tenantnet"}
"#;

#[test]
fn loads_every_kind_from_yaml() {
    let docs = parse_manifests("cluster.yaml", CLUSTER).unwrap();
    let kinds: Vec<Kind> = docs.iter().map(|d| d.object.kind()).collect();
    assert_eq!(kinds, Kind::ALL.to_vec());
    assert_eq!(docs[2].at.document, 3);
    assert_eq!(docs[2].object.namespace(), Some("shop"));
    assert_eq!(docs[0].object.namespace(), None);

    let mut set = ManifestSet::new();
    for d in docs {
        set.insert(d).unwrap();
    }
    assert_eq!(set.len(), 9);
    let svc = &set.services[&("shop".to_owned(), "web".to_owned())];
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.session_affinity.as_deref(), Some("ClientIP"));
    let eip = &set.egress_ips["eip-shop"];
    assert_eq!(eip.spec.egress_ips, ["172.18.0.100", "172.18.0.101"]);
    assert_eq!(eip.status.items[0].node, "worker-1");
    let sel = Selector::new(&eip.spec.pod_selector).unwrap();
    assert!(sel.matches(&[("app".to_owned(), "web".to_owned())].into()));
    let es = &set.egress_services[&("shop".to_owned(), "web".to_owned())];
    assert_eq!(es.spec.source_ip_by, Some(SourceIPMode::LoadBalancerIP));
    assert_eq!(es.spec.network.as_deref(), Some("100"));
    let nad = &set.network_attachment_definitions[&("shop".to_owned(), "tenant-blue".to_owned())];
    let net = SecondaryNetwork::from_nad(nad).unwrap();
    assert_eq!(net.topology, Topology::Localnet);
    assert_eq!(net.vlan_id, Some(20));
    assert_eq!(net.subnets.len(), 2);
    assert_eq!(net.physical_network_name, "tenantnet");
    assert_eq!(net.nad_name, "shop/tenant-blue");
}

#[test]
fn json_documents_and_lists() {
    let json = r#"
    {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}
    {"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"containers":[]}},
        {"apiVersion":"k8s.ovn.org/v1","kind":"EgressIP","metadata":{"name":"e"},
         "spec":{"egressIPs":["fd00::5"],"namespaceSelector":{}}}]}
    "#;
    let docs = parse_manifests("", json).unwrap();
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[1].at.item, Some(0));
    assert_eq!(docs[1].object.namespace(), Some("default"));
    assert!(matches!(docs[2].object, KubeObject::EgressIP(_)));

    // A typed list whose items omit apiVersion/kind, and empty YAML documents.
    let yaml = "---\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p, namespace: x}\n  spec: {containers: []}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n";
    let docs = parse_manifests("", yaml).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].object.kind(), Kind::Pod);
    assert_eq!(docs[1].at.document, 3);
}

fn err(text: &str) -> ManifestError {
    parse_manifests("f.yaml", text).unwrap_err()
}

fn invalid(text: &str) -> (usize, Kind, String, String, Problem) {
    match err(text) {
        ManifestError::Invalid {
            at,
            kind,
            object,
            error,
        } => (at.document, kind, object, error.field, error.problem),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn unknown_kind_and_syntax_errors() {
    let e = err("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
    match &e {
        ManifestError::UnsupportedKind {
            at,
            kind,
            api_version,
        } => {
            assert_eq!(at.document, 2);
            assert_eq!(kind, "Deployment");
            assert_eq!(api_version, "apps/v1");
        }
        other => panic!("{other:?}"),
    }
    assert!(e
        .to_string()
        .starts_with("f.yaml: document 2: unsupported kind \"Deployment\""));
    // Right kind, wrong group.
    assert!(matches!(
        err("apiVersion: v2\nkind: Pod\n"),
        ManifestError::UnsupportedKind { .. }
    ));
    assert!(matches!(
        err("kind: Pod\nmetadata: {name: a}\n"),
        ManifestError::MissingTypeMeta {
            field: "apiVersion",
            ..
        }
    ));
    assert!(matches!(err("a: [b\n"), ManifestError::Syntax { .. }));
    assert!(matches!(err("- 1\n- 2\n"), ManifestError::Syntax { .. }));
}

#[test]
fn missing_required_fields() {
    let (doc, kind, object, field, problem) =
        invalid("apiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {name: e}\nspec:\n  namespaceSelector: {}\n");
    assert_eq!((doc, kind, object.as_str()), (1, Kind::EgressIP, "e"));
    assert_eq!(field, "spec.egressIPs");
    assert_eq!(problem, Problem::Missing);

    let (_, kind, object, field, _) =
        invalid("apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\nspec: {containers: []}\n");
    assert_eq!(
        (kind, object.as_str(), field.as_str()),
        (Kind::Pod, "x/<unnamed>", "metadata.name")
    );

    let (_, _, _, field, _) =
        invalid("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n");
    assert_eq!(field, "spec");

    let (_, _, _, field, _) = invalid(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\naddressType: IPv4\nendpoints: []\n",
    );
    assert_eq!(field, "metadata.labels[\"kubernetes.io/service-name\"]");
}

#[test]
fn bad_addresses_are_named() {
    let (_, kind, object, field, problem) = invalid(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\nspec:\n  clusterIP: 10.0.0.300\n",
    );
    assert_eq!(
        (kind, object.as_str(), field.as_str()),
        (Kind::Service, "n/s", "spec.clusterIP")
    );
    assert_eq!(problem, Problem::BadIp("10.0.0.300".into()));

    let (_, _, _, field, problem) = invalid(
        "apiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {name: e}\nspec:\n  egressIPs: [1.2.3.4, nope]\n  namespaceSelector: {}\n",
    );
    assert_eq!(field, "spec.egressIPs[1]");
    assert_eq!(problem, Problem::BadIp("nope".into()));

    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.1/8}\n";
    let (_, _, _, field, problem) = invalid(np);
    assert_eq!(field, "spec.ingress[0].from[0].ipBlock.cidr");
    assert_eq!(problem, Problem::BadCidr("10.0.0.1/8".into()));

    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/24]}\n";
    let (_, _, _, field, _) = invalid(np);
    assert_eq!(field, "spec.egress[0].to[0].ipBlock.except[0]");

    let node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  annotations:\n    k8s.ovn.org/host-cidrs: '[\"1.2.3.4\"]'\n";
    let (_, kind, object, field, problem) = invalid(node);
    assert_eq!((kind, object.as_str()), (Kind::Node, "n1"));
    assert_eq!(field, "metadata.annotations[\"k8s.ovn.org/host-cidrs\"]");
    assert!(matches!(problem, Problem::Annotation(_)));
}

#[test]
fn bad_selector_operator() {
    let text = "apiVersion: k8s.ovn.org/v1\nkind: EgressIP\nmetadata: {name: e}\nspec:\n  egressIPs: [1.2.3.4]\n  namespaceSelector:\n    matchExpressions:\n    - {key: a, operator: Equals, values: [b]}\n";
    let e = err(text);
    let (_, _, _, field, problem) = invalid(text);
    assert_eq!(field, "spec.namespaceSelector.matchExpressions[0].operator");
    assert!(matches!(problem, Problem::Selector(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("document 1: EgressIP e: spec.namespaceSelector.matchExpressions[0].operator"),
        "{msg}"
    );
    assert!(msg.contains("Equals"), "{msg}");
}

#[test]
fn decode_errors_carry_the_path() {
    let (_, _, _, field, problem) = invalid(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: http}\n",
    );
    assert_eq!(field, "spec.ports[0].port");
    assert!(matches!(problem, Problem::Decode(_)));
    let (_, _, _, field, _) = invalid(
        "apiVersion: k8s.ovn.org/v1\nkind: EgressService\nmetadata: {name: s}\nspec: {sourceIPBy: Magic}\n",
    );
    assert_eq!(field, "spec.sourceIPBy");
}

#[test]
fn service_and_policy_value_checks() {
    let svc = |extra: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n{extra}")
    };
    let (_, _, _, field, _) = invalid(&svc("  ports: [{port: 70000}]\n"));
    assert_eq!(field, "spec.ports[0].port");
    let (_, _, _, field, _) = invalid(&svc("  ports: [{port: 80, protocol: ICMP}]\n"));
    assert_eq!(field, "spec.ports[0].protocol");
    let (_, _, _, field, _) = invalid(&svc(
        "  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\n",
    ));
    assert_eq!(field, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
    let (_, _, _, field, _) = invalid(&svc("  type: Weird\n"));
    assert_eq!(field, "spec.type");

    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 90, endPort: 80}]\n";
    let (_, _, _, field, _) = invalid(np);
    assert_eq!(field, "spec.ingress[0].ports[0].endPort");
    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  policyTypes: [Sideways]\n";
    let (_, _, _, field, _) = invalid(np);
    assert_eq!(field, "spec.policyTypes[0]");
}

#[test]
fn nad_config_checks() {
    let nad = |config: &str| {
        format!(
            "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {{name: n, namespace: ns}}\nspec:\n  config: '{config}'\n"
        )
    };
    let ok = nad(
        r#"{"name":"l2","type":"ovn-k8s-cni-overlay","topology":"layer2","netAttachDefName":"ns/n","subnets":"10.9.0.0/24"}"#,
    );
    let docs = parse_manifests("", &ok).unwrap();
    let KubeObject::NetworkAttachmentDefinition(n) = &docs[0].object else {
        panic!("not a NAD")
    };
    assert_eq!(
        SecondaryNetwork::from_nad(n).unwrap().topology,
        Topology::Layer2
    );

    let cases = [
        (
            r#"{"name":"x","type":"bridge","topology":"layer2","netAttachDefName":"ns/n"}"#,
            "spec.config.type",
        ),
        (
            r#"{"name":"x","type":"ovn-k8s-cni-overlay","topology":"layer3","netAttachDefName":"ns/n"}"#,
            "spec.config.topology",
        ),
        (
            r#"{"name":"x","type":"ovn-k8s-cni-overlay","topology":"layer2","netAttachDefName":"other/n"}"#,
            "spec.config.netAttachDefName",
        ),
        (
            r#"{"name":"x","type":"ovn-k8s-cni-overlay","topology":"layer2","netAttachDefName":"ns/n","vlanID":5}"#,
            "spec.config.vlanID",
        ),
        (
            r#"{"name":"x","type":"ovn-k8s-cni-overlay","topology":"localnet","netAttachDefName":"ns/n","subnets":"10.0.0.0/24","excludeSubnets":"10.1.0.0/29"}"#,
            "spec.config.excludeSubnets",
        ),
        (
            r#"{"name":"x","type":"ovn-k8s-cni-overlay","topology":"localnet","netAttachDefName":"ns/n","subnets":"10.0.0.0/33"}"#,
            "spec.config.subnets",
        ),
        (r#"not json"#, "spec.config"),
    ];
    for (config, want) in cases {
        let (_, kind, object, field, _) = invalid(&nad(config));
        assert_eq!(
            (kind, object.as_str()),
            (Kind::NetworkAttachmentDefinition, "ns/n")
        );
        assert_eq!(field, want, "{config}");
    }
}

#[test]
fn duplicates_are_rejected() {
    let mut set = ManifestSet::new();
    set.add_str(
        "a.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
    )
    .unwrap();
    let e = set
        .add_str(
            "b.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "b.yaml: document 1: Namespace x is defined twice (first in a.yaml: document 1)"
    );
    // Same name, other namespace or kind: fine.
    set.add_str("c.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: a}\nspec: {containers: []}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: b}\nspec: {containers: []}\n").unwrap();
    assert_eq!(set.counts()[&Kind::Pod], 2);
}

#[test]
fn empty_and_comment_only_input() {
    assert!(parse_manifests("", "").unwrap().is_empty());
    assert!(parse_manifests("", "# nothing here\n---\n")
        .unwrap()
        .is_empty());
    assert!(parse_manifests("", "  \n").unwrap().is_empty());
}
