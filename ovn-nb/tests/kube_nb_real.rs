//! End to end on the real OVN 23.03 stack: the kube layer's NB, written through our ovsdb client
//! to a real NB ovsdb-server, compiled by real ovn-northd; `ovn-trace` checks policy allow/deny
//! and a ClusterIP Service with affinity reaching a backend. The node is named like the chassis,
//! since pod ports ask for `requested-chassis` = node name, as in OVN-Kubernetes. Skipped when OVN is not installed.

use std::time::Duration;

use ovn_nb::kube::config::ClusterConfig;
use ovn_nb::kube::{build_nb, stage, ManifestSet, PreviousState};
use ovsdb::client::{Client, ClientConfig};

const CLUSTER: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: ch1
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.11/16"}'
    k8s.ovn.org/node-subnets: '{"default": ["10.128.0.0/23"]}'
---
apiVersion: v1
kind: Node
metadata:
  name: n2
  labels: {k8s.ovn.org/egress-assignable: ""}
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.12/16"}'
    k8s.ovn.org/node-subnets: '{"default": ["10.128.2.0/23"]}'
    k8s.ovn.org/node-chassis-id: ch2
---
apiVersion: k8s.ovn.org/v1
kind: EgressIP
metadata: {name: eip-client}
spec:
  egressIPs: [172.18.1.50]
  namespaceSelector: {matchLabels: {team: client}}
---
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: app}}
---
apiVersion: v1
kind: Namespace
metadata: {name: client, labels: {team: client}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: app, labels: {app: web}}
spec: {nodeName: ch1, containers: [{name: c, image: x}]}
status: {podIPs: [{ip: 10.128.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: caller, namespace: client, labels: {app: caller}}
spec: {nodeName: ch1, containers: [{name: c, image: x}]}
status: {podIPs: [{ip: 10.128.0.20}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  clusterIP: 172.16.1.10
  clusterIPs: [172.16.1.10]
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: app, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.128.0.10], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-8080, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: client}}}]
    ports: [{protocol: TCP, port: 8080}]
"#;

fn trace(stack: &testkit::Stack, flow: &str) -> String {
    stack
        .ovn_trace(["--minimal", "ch1", flow])
        .expect("ovn-trace")
}

#[test]
fn real_northd_enforces_policy_and_service_affinity() {
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().chassis("ch1").build().expect("stack");
    let mut set = ManifestSet::new();
    set.add_str("cluster.yaml", CLUSTER).expect("manifests");
    let desired =
        build_nb(&set, &ClusterConfig::default(), &PreviousState::default()).expect("build");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let remote = stack.nb_remote().to_owned();
    let stats = rt.block_on(async {
        let client = Client::connect(
            ClientConfig::new(&remote, "OVN_Northbound"),
            Duration::from_secs(30),
        )
        .await
        .expect("connect");
        let mut nb = ovn_nb::nbctl::remote::start(&client).expect("replica");
        let stats = stage(&mut nb, &desired).expect("stage");
        ovn_nb::nbctl::remote::commit(nb, &client)
            .await
            .expect("commit");
        stats
    });
    assert!(stats.inserted > 20, "{stats:?}");
    stack.wait_sb().expect("northd");
    let lsp = stack.nbctl(["lsp-list", "ch1"]).expect("lsp-list");
    assert!(
        lsp.contains("app_server") && lsp.contains("client_caller"),
        "{lsp}"
    );
    let base = "inport == \"client_caller\" && eth.src == 0a:58:0a:80:00:14 && \
                ip4.src == 10.128.0.20 && eth.dst == 0a:58:0a:80:00:0a && \
                ip4.dst == 10.128.0.10 && ip.ttl == 64 && tcp";
    // Allowed: TCP 8080 from the client namespace reaches the server port.
    let allowed = trace(&stack, &format!("{base} && tcp.dst == 8080"));
    assert!(allowed.contains("output(\"app_server\")"), "{allowed}");
    // Denied: another port hits the namespace default deny.
    let denied = trace(&stack, &format!("{base} && tcp.dst == 9090"));
    assert!(!denied.contains("output("), "{denied}");
    // ClusterIP with affinity: load balanced to the backend.
    let vip = "inport == \"client_caller\" && eth.src == 0a:58:0a:80:00:14 && \
               ip4.src == 10.128.0.20 && eth.dst == 0a:58:0a:80:00:01 && \
               ip4.dst == 172.16.1.10 && ip.ttl == 64 && tcp && tcp.dst == 80";
    let lb = stack
        .ovn_trace(["--ct=new", "--ct=new", "ch1", vip])
        .expect("ovn-trace");
    assert!(lb.contains("ct_lb_mark(backends=10.128.0.10:8080)"), "{lb}");
    assert!(
        lb.contains("commit_lb_aff(vip = \"172.16.1.10:80\", backend = \"10.128.0.10:8080\", proto = tcp, timeout = 300)"),
        "{lb}"
    );
    // EgressIP: traffic leaving the cluster is rerouted to n2's join IP and SNATed there.
    let out = "inport == \"client_caller\" && eth.src == 0a:58:0a:80:00:14 && \
               ip4.src == 10.128.0.20 && eth.dst == 0a:58:0a:80:00:01 && \
               ip4.dst == 8.8.8.8 && ip.ttl == 64 && tcp && tcp.dst == 443";
    // The gateway router resolves the node's default gateway 172.18.0.1 by ARP; a MAC_Binding
    // row (what ovn-controller writes when it learns the neighbor) lets ovn-trace follow the IP
    // packet itself to lr_out_snat instead of the ARP request.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let gr_dp = stack
        .sbctl([
            "--bare",
            "--columns=_uuid",
            "find",
            "Datapath_Binding",
            "external_ids:name=GR_n2",
        ])
        .expect("find GR_n2");
    stack
        .sbctl([
            "create",
            "MAC_Binding",
            "logical_port=rtoe-GR_n2",
            "ip=172.18.0.1",
            "mac=\"0a:00:00:00:00:01\"",
            &format!("datapath={}", gr_dp.trim()),
            // Learned now: the gateway router ages MAC bindings out
            // (`mac_binding_age_threshold`), and a zero timestamp is already expired.
            &format!("timestamp={now_ms}"),
        ])
        .expect("create MAC_Binding");
    let eg = stack
        .ovn_trace(["--ct=new", "--ct=new", "--ct=new", "--ct=new", "ch1", out])
        .expect("ovn-trace");
    assert!(eg.contains("100.64.0.3"), "{eg}");
    assert!(
        eg.contains("egress(dp=\"GR_n2\", inport=\"rtoj-GR_n2\", outport=\"rtoe-GR_n2\")"),
        "{eg}"
    );
    // On n2's gateway router the packet leaves with the egress IP as its source, through the
    // node's external switch and its localnet port.
    assert!(eg.contains("ct_snat(ip4.src=172.18.1.50)"), "{eg}");
    let after_snat = &eg[eg.find("ct_snat(ip4.src=172.18.1.50)").unwrap_or(0)..];
    assert!(
        after_snat.contains("output to \"br-ex_n2\", type \"localnet\""),
        "{eg}"
    );
    // OpenFlow on the real ovn-controller: bind both pods and trace through br-int.
    let caller = stack.bind_port("caller0", "client_caller").expect("bind");
    let server = stack.bind_port("server0", "app_server").expect("bind");
    stack.wait_hv().expect("ovn-controller");
    let of = |port: u16| {
        format!(
            "in_port={},tcp,dl_src=0a:58:0a:80:00:14,dl_dst=0a:58:0a:80:00:0a,\
             nw_src=10.128.0.20,nw_dst=10.128.0.10,nw_ttl=64,tp_dst={port}",
            caller.ofport
        )
    };
    let ok = stack.ofproto_trace(&of(8080)).expect("ofproto/trace");
    assert!(ok.output_ports().contains(&server.dp_port), "{}", ok.text());
    let no = stack.ofproto_trace(&of(9090)).expect("ofproto/trace");
    assert!(
        !no.output_ports().contains(&server.dp_port),
        "{}",
        no.text()
    );
    let lflows = stack.lflow_list().expect("lflows");
    assert!(
        lflows.lines().any(|l| l.contains("lr_out_snat")
            && l.contains("ip4.src == 10.128.0.20")
            && l.contains("ct_snat(172.18.1.50)")),
        "egress IP SNAT flow missing"
    );
    assert!(lflows.contains("commit_lb_aff"), "affinity flows missing");
}
