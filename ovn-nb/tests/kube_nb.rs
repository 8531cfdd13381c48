//! The kube layer's Northbound shapes on the built-in cluster, and incremental apply.

use std::collections::BTreeSet;

use ovn_nb::kube::build::hash_for_ovn;
use ovn_nb::kube::builtin::try_builtin_manifests;
use ovn_nb::kube::config::ClusterConfig;
use ovn_nb::kube::policy::{default_deny_port_group, namespace_address_set, policy_port_group};
use ovn_nb::kube::{apply, build_nb, DesiredNb, ManifestSet, PreviousState, Row};

fn built() -> DesiredNb {
    let set = try_builtin_manifests().expect("builtin manifests load");
    build_nb(&set, &ClusterConfig::default(), &PreviousState::default()).expect("build")
}

fn row<'a>(nb: &'a DesiredNb, t: &str, name: &str) -> &'a Row {
    nb.get(t, name)
        .unwrap_or_else(|| panic!("missing {t} {name}"))
}

fn opt(r: &Row, col: &str, k: &str) -> String {
    r.get_map(col).get(k).cloned().unwrap_or_default()
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn builtin_cluster_is_big_enough() {
    let set = try_builtin_manifests().expect("load");
    assert_eq!(set.nodes.len(), 12);
    assert!(set.pods.len() >= 200);
    assert!(set.services.len() >= 30);
    assert!(set.network_policies.len() >= 15);
    assert!(set.egress_ips.len() >= 5);
    assert_eq!(set.egress_services.len(), 1);
    assert_eq!(set.network_attachment_definitions.len(), 2);
    assert_eq!(ovn_nb::kube::builtin_manifests().len(), set.len());
}

#[allow(dead_code)]
fn dump_for_debug() {
    let nb = built();
    if std::env::var("KUBE_NB_DUMP").is_ok() {
        for t in ["Logical_Switch", "Logical_Router"] {
            for (n, r) in nb.rows(t) {
                if n.contains("node-01") || n == "ovn_cluster_router" || n.contains("ovn_") {
                    eprintln!("{t} {n}: {:?}\n", r);
                }
            }
        }
        for (n, r) in nb.rows("Port_Group").take(3) {
            eprintln!("PG {n}: {:?}\n", r);
        }
        eprintln!("{:?}", nb.counts());
    }
}

fn fresh_db() -> ovsdb::Database {
    ovsdb::Database::new(ovn_nb::model::schema().clone())
}

#[test]
fn apply_then_reapply_writes_nothing() {
    let nb = built();
    let mut db = fresh_db();
    let first = apply(&nb, &mut db).expect("apply");
    assert_eq!(
        first.inserted,
        nb.counts().values().sum::<usize>(),
        "{first:?}"
    );
    let again = apply(&nb, &mut db).expect("reapply");
    assert_eq!(again.ops, 0, "{again:?}");
}

fn kids<'a>(nb: &'a DesiredNb, t: &str, name: &str, col: &str) -> &'a [Row] {
    row(nb, t, name).kids(col)
}

#[test]
fn node_topology_matches_ovn_kubernetes() {
    let nb = built();
    let ls = row(&nb, "Logical_Switch", "node-01");
    assert_eq!(opt(ls, "other_config", "subnet"), "10.128.0.0/23");
    assert!(ls.refs("ports").contains("stor-node-01"));
    assert!(ls.refs("ports").contains("k8s-node-01"));
    assert_eq!(ls.refs("load_balancer_group"), set_of(&["clusterLBGroup"]));
    let stor = row(&nb, "Logical_Switch_Port", "stor-node-01");
    assert_eq!(stor.str("type"), Some("router"));
    assert_eq!(opt(stor, "options", "router-port"), "rtos-node-01");
    assert_eq!(stor.strs("addresses"), set_of(&["router"]));
    let rtos = row(&nb, "Logical_Router_Port", "rtos-node-01");
    assert_eq!(rtos.strs("networks"), set_of(&["10.128.0.1/23"]));
    assert_eq!(rtos.str("mac"), Some("0a:58:0a:80:00:01"));
    let mgmt = row(&nb, "Logical_Switch_Port", "k8s-node-01");
    assert_eq!(
        mgmt.strs("addresses"),
        set_of(&["0a:58:0a:80:00:02 10.128.0.2"])
    );
    assert_eq!(
        mgmt.strs("port_security"),
        set_of(&["0a:58:0a:80:00:02 10.128.0.2"])
    );
    // Cluster router and join.
    let cr = row(&nb, "Logical_Router", "ovn_cluster_router");
    assert!(cr.refs("ports").contains("rtos-node-12"));
    assert_eq!(
        row(&nb, "Logical_Router_Port", "rtoj-ovn_cluster_router").strs("networks"),
        set_of(&["100.64.0.1/16"])
    );
    let join = row(&nb, "Logical_Switch", "join");
    assert!(join.refs("ports").contains("jtor-ovn_cluster_router"));
    assert!(join.refs("ports").contains("jtor-GR_node-01"));
    let routes = kids(&nb, "Logical_Router", "ovn_cluster_router", "static_routes");
    assert_eq!(routes.len(), 12);
    assert!(routes
        .iter()
        .any(|r| r.str("ip_prefix") == Some("10.128.0.0/23")
            && r.str("nexthop") == Some("100.64.0.2")
            && r.str("policy") == Some("src-ip")));
    let pols = kids(&nb, "Logical_Router", "ovn_cluster_router", "policies");
    assert!(pols.iter().any(|p| p.int("priority") == Some(1004)
        && p.str("match")
            == Some("inport == \"rtos-node-01\" && ip4.dst == 172.18.0.11 /* node-01 */")
        && p.str("action") == Some("reroute")
        && p.strs("nexthops") == set_of(&["10.128.0.2"])));
    for m in [
        "ip4.src == 10.128.0.0/14 && ip4.dst == 10.128.0.0/14",
        "ip4.src == 10.128.0.0/14 && ip4.dst == 100.64.0.0/16",
    ] {
        assert!(
            pols.iter().any(|p| p.int("priority") == Some(102)
                && p.str("match") == Some(m)
                && p.str("action") == Some("allow")),
            "{m}"
        );
    }
    // Gateway router.
    let gr = row(&nb, "Logical_Router", "GR_node-01");
    assert_eq!(opt(gr, "options", "chassis"), "chassis-01");
    assert_eq!(opt(gr, "options", "lb_force_snat_ip"), "router_ip");
    assert_eq!(opt(gr, "options", "always_learn_from_arp_request"), "false");
    assert_eq!(opt(gr, "options", "dynamic_neigh_routers"), "true");
    assert_eq!(opt(gr, "options", "snat-ct-zone"), "0");
    assert_eq!(
        gr.refs("ports"),
        set_of(&["rtoe-GR_node-01", "rtoj-GR_node-01"])
    );
    assert_eq!(
        row(&nb, "Logical_Router_Port", "rtoj-GR_node-01").strs("networks"),
        set_of(&["100.64.0.2/16"])
    );
    assert_eq!(
        row(&nb, "Logical_Router_Port", "rtoe-GR_node-01").strs("networks"),
        set_of(&["172.18.0.11/16"])
    );
    let ext = row(&nb, "Logical_Switch", "ext_node-01");
    assert_eq!(
        ext.refs("ports"),
        set_of(&["br-ex_node-01", "etor-GR_node-01"])
    );
    let ln = row(&nb, "Logical_Switch_Port", "br-ex_node-01");
    assert_eq!(ln.str("type"), Some("localnet"));
    assert_eq!(opt(ln, "options", "network_name"), "physnet");
    let gr_routes = kids(&nb, "Logical_Router", "GR_node-01", "static_routes");
    assert!(gr_routes
        .iter()
        .any(|r| r.str("ip_prefix") == Some("0.0.0.0/0")
            && r.str("nexthop") == Some("172.18.0.1")
            && r.str("output_port") == Some("rtoe-GR_node-01")));
    assert!(gr_routes
        .iter()
        .any(|r| r.str("ip_prefix") == Some("10.128.0.0/14")
            && r.str("nexthop") == Some("100.64.0.1")));
    let nat = kids(&nb, "Logical_Router", "GR_node-01", "nat");
    assert!(nat.iter().any(|n| n.str("type") == Some("snat")
        && n.str("logical_ip") == Some("10.128.0.0/14")
        && n.str("external_ip") == Some("172.18.0.11")));
}

#[test]
fn pod_ports_carry_mac_and_ip() {
    let nb = built();
    let p = row(&nb, "Logical_Switch_Port", "frontend_app-0-000");
    assert_eq!(
        p.strs("addresses"),
        set_of(&["0a:58:0a:80:00:03 10.128.0.3"])
    );
    assert_eq!(
        p.strs("port_security"),
        set_of(&["0a:58:0a:80:00:03 10.128.0.3"])
    );
    assert_eq!(opt(p, "options", "requested-chassis"), "node-01");
    assert_eq!(opt(p, "external_ids", "namespace"), "frontend");
    let pods = nb
        .rows("Logical_Switch_Port")
        .filter(|(_, r)| {
            opt(r, "external_ids", "pod") == "true"
                && !r.get_map("external_ids").contains_key("k8s.ovn.org/nad")
        })
        .count();
    assert_eq!(pods, 216);
}

#[test]
fn services_become_load_balancers() {
    let nb = built();
    // svc-00: ClientIP affinity 600 s, app-0 pods in frontend.
    let lb = row(&nb, "Load_Balancer", "Service_frontend/svc-00_TCP_cluster");
    assert_eq!(lb.str("protocol"), Some("tcp"));
    assert_eq!(opt(lb, "options", "affinity_timeout"), "600");
    assert_eq!(opt(lb, "options", "event"), "false");
    assert_eq!(opt(lb, "options", "reject"), "true");
    assert_eq!(opt(lb, "options", "skip_snat"), "false");
    assert_eq!(
        opt(lb, "options", "hairpin_snat_ip"),
        "169.254.169.5 fd69::5"
    );
    assert_eq!(opt(lb, "external_ids", "k8s.ovn.org/kind"), "Service");
    assert_eq!(
        opt(lb, "external_ids", "k8s.ovn.org/owner"),
        "frontend/svc-00"
    );
    let vips = lb.get_map("vips");
    let backends = vips.get("172.16.1.10:80").cloned().unwrap_or_default();
    assert!(backends.contains("10.128.0.3:8080"), "{backends}");
    assert_eq!(backends.split(',').count(), 7);
    // No affinity on svc-02.
    let lb2 = row(&nb, "Load_Balancer", "Service_db/svc-02_TCP_cluster");
    assert!(!lb2.get_map("options").contains_key("affinity_timeout"));
    // Two protocols → two load balancers.
    assert!(nb
        .get("Load_Balancer", "Service_monitoring/svc-03_UDP_cluster")
        .is_some());
    let udp = row(
        &nb,
        "Load_Balancer",
        "Service_monitoring/svc-03_UDP_cluster",
    );
    assert_eq!(udp.str("protocol"), Some("udp"));
    assert!(udp.get_map("vips").contains_key("172.16.1.13:53"));
    // Cluster LBs in the group.
    let group = row(&nb, "Load_Balancer_Group", "clusterLBGroup");
    assert_eq!(group.refs("load_balancer").len(), 36);
    for n in 1..=12 {
        assert!(row(&nb, "Logical_Router", &format!("GR_node-{n:02}"))
            .refs("load_balancer_group")
            .contains("clusterLBGroup"));
    }
    // NodePort svc-01 (nodePort 30002) on every node's IP.
    let np = row(
        &nb,
        "Load_Balancer",
        "Service_backend/svc-01_TCP_node_router+switch_node-03",
    );
    assert!(np.get_map("vips").contains_key("172.18.0.13:30002"));
    assert!(row(&nb, "Logical_Switch", "node-03")
        .refs("load_balancer")
        .contains("Service_backend/svc-01_TCP_node_router+switch_node-03"));
    assert!(row(&nb, "Logical_Router", "GR_node-03")
        .refs("load_balancer")
        .contains("Service_backend/svc-01_TCP_node_router+switch_node-03"));
    // LoadBalancer ingress IP.
    let lbi = row(
        &nb,
        "Load_Balancer",
        "Service_tenant-a/svc-lb_TCP_node_router+switch_node-01",
    );
    assert!(lbi.get_map("vips").contains_key("192.168.100.10:80"));
    assert!(lbi.get_map("vips").contains_key("172.18.0.11:31000"));
}

#[test]
fn network_policies_become_port_groups_address_sets_and_acls() {
    let nb = built();
    // backend/allow-from-frontend: ingress from namespaces tier=web on TCP 8080.
    let pg = policy_port_group("backend", "allow-from-frontend");
    assert_eq!(pg, hash_for_ovn("backend_allow-from-frontend"));
    let prow = row(&nb, "Port_Group", &pg);
    assert_eq!(
        opt(prow, "external_ids", "name"),
        "backend_allow-from-frontend"
    );
    assert_eq!(prow.refs("ports").len(), 7);
    let acls = prow.kids("acls");
    assert_eq!(acls.len(), 1);
    let (fe, _) = namespace_address_set("frontend", true);
    let (web, _) = namespace_address_set("web", true);
    let a = &acls[0];
    assert_eq!(a.int("priority"), Some(1001));
    assert_eq!(a.str("direction"), Some("to-lport"));
    assert_eq!(a.str("action"), Some("allow-related"));
    let mut sets = [fe.clone(), web.clone()];
    sets.sort();
    assert_eq!(
        a.str("match"),
        Some(
            format!(
                "tcp && tcp.dst==8080 && ip4.src == {{${}, ${}}} && outport == @{pg}",
                sets[0], sets[1]
            )
            .as_str()
        )
    );
    assert_eq!(
        opt(a, "external_ids", "k8s.ovn.org/owner-type"),
        "NetworkPolicy"
    );
    assert_eq!(
        opt(a, "external_ids", "k8s.ovn.org/name"),
        "backend:allow-from-frontend"
    );
    assert_eq!(
        opt(a, "external_ids", "k8s.ovn.org/policy-direction"),
        "Ingress"
    );
    assert_eq!(opt(a, "external_ids", "k8s.ovn.org/gress-index"), "0");
    // Namespace address set holds the namespace's pod IPs.
    let ns_as = row(&nb, "Address_Set", &fe);
    assert_eq!(ns_as.strs("addresses").len(), 27);
    assert_eq!(
        opt(ns_as, "external_ids", "k8s.ovn.org/owner-type"),
        "Namespace"
    );
    assert_eq!(opt(ns_as, "external_ids", "k8s.ovn.org/ip-family"), "v4");
    assert_eq!(
        opt(ns_as, "external_ids", "k8s.ovn.org/id"),
        "default-network-controller:Namespace:frontend:v4"
    );
    // db/allow-db-from-backend: pod-selector peer → a per-rule address set.
    let pg = policy_port_group("db", "allow-db-from-backend");
    let a = &row(&nb, "Port_Group", &pg).kids("acls")[0];
    let gress = hash_for_ovn(
        "default-network-controller:NetworkPolicy:db:allow-db-from-backend:Ingress:0:v4",
    );
    assert_eq!(
        a.str("match"),
        Some(
            format!("tcp && tcp.dst==5432 && ip4.src == {{${gress}}} && outport == @{pg}").as_str()
        )
    );
    let gas = row(&nb, "Address_Set", &gress);
    assert!(!gas.strs("addresses").is_empty());
    assert_eq!(opt(gas, "external_ids", "k8s.ovn.org/gress-index"), "0");
    // ipBlock with except.
    let pg = policy_port_group("monitoring", "allow-ipblock");
    let a = &row(&nb, "Port_Group", &pg).kids("acls")[0];
    assert_eq!(
        a.str("match"),
        Some(
            format!(
                "ip4.src == 172.18.0.0/16 && ip4.src != {{172.18.0.128/25}} && outport == @{pg}"
            )
            .as_str()
        )
    );
    // Egress with port range, from-lport, apply-after-lb; payments logs.
    let pg = policy_port_group("payments", "egress-dns-and-db");
    let acls = row(&nb, "Port_Group", &pg).kids("acls");
    assert_eq!(acls.len(), 3);
    let range = acls
        .iter()
        .find(|a| {
            a.str("match")
                .is_some_and(|m| m.contains("30000<=tcp.dst<=32767"))
        })
        .expect("range acl");
    assert_eq!(
        range.str("match"),
        Some(format!("tcp && 30000<=tcp.dst<=32767 && ip4 && inport == @{pg}").as_str())
    );
    assert_eq!(range.str("direction"), Some("from-lport"));
    assert_eq!(opt(range, "options", "apply-after-lb"), "true");
    assert_eq!(range.cols.get("log"), Some(&ovn_nb::kube::Val::Bool(true)));
    assert_eq!(range.str("severity"), Some("notice"));
    // Default deny per namespace.
    let dd = default_deny_port_group("payments", true);
    assert_eq!(
        dd,
        format!("{}_ingressDefaultDeny", hash_for_ovn("payments"))
    );
    let ddr = row(&nb, "Port_Group", &dd);
    assert_eq!(ddr.refs("ports").len(), 27);
    let drop = ddr
        .kids("acls")
        .iter()
        .find(|a| a.str("action") == Some("drop"))
        .expect("drop");
    assert_eq!(drop.int("priority"), Some(1000));
    assert_eq!(
        drop.str("match"),
        Some(format!("outport == @{dd}").as_str())
    );
    assert_eq!(drop.str("severity"), Some("alert"));
    let arp = ddr
        .kids("acls")
        .iter()
        .find(|a| a.str("action") == Some("allow"))
        .expect("arp");
    assert_eq!(arp.int("priority"), Some(1001));
    assert_eq!(
        arp.str("match"),
        Some(format!("outport == @{dd} && (arp || nd)").as_str())
    );
    assert!(nb
        .get("Port_Group", &default_deny_port_group("payments", false))
        .is_some());
    assert!(nb
        .get("Port_Group", &default_deny_port_group("web", false))
        .is_none());
}

#[test]
fn egress_ips_reroute_and_snat() {
    let nb = built();
    let eg = &nb.state.egress;
    assert_eq!(eg.values().map(|m| m.len()).sum::<usize>(), 7);
    let backend_node = eg["eip-backend"].values().next().cloned().expect("placed");
    assert!(["node-01", "node-02", "node-03", "node-04"].contains(&backend_node.as_str()));
    let idx: usize = backend_node[5..].parse().expect("n");
    let join = format!("100.64.0.{}", idx + 1);
    // backend pod app-1-001 at 10.128.0.4.
    let pols = kids(&nb, "Logical_Router", "ovn_cluster_router", "policies");
    let p = pols
        .iter()
        .find(|p| p.int("priority") == Some(100) && p.str("match") == Some("ip4.src == 10.128.0.4"))
        .expect("eip policy");
    assert_eq!(p.str("action"), Some("reroute"));
    assert_eq!(p.strs("nexthops"), set_of(&[join.as_str()]));
    assert_eq!(opt(p, "external_ids", "k8s.ovn.org/owner-type"), "EgressIP");
    let nat = kids(&nb, "Logical_Router", &format!("GR_{backend_node}"), "nat");
    let n = nat
        .iter()
        .find(|n| n.str("logical_ip") == Some("10.128.0.4"))
        .expect("eip snat");
    assert_eq!(n.str("external_ip"), Some("172.18.1.20"));
    assert_eq!(
        n.str("logical_port"),
        Some(format!("k8s-{backend_node}").as_str())
    );
    // Two IPs on two nodes → ECMP.
    let fe_nodes: BTreeSet<&String> = eg["eip-prod-frontend"].values().collect();
    assert_eq!(fe_nodes.len(), 2);
    let p = pols
        .iter()
        .find(|p| p.int("priority") == Some(100) && p.str("match") == Some("ip4.src == 10.128.0.3"))
        .expect("frontend pod policy");
    assert_eq!(p.strs("nexthops").len(), 2);
    // eip-db selects only role=db pods in db.
    let db_pols = pols
        .iter()
        .filter(|p| opt(p, "external_ids", "k8s.ovn.org/name").starts_with("eip-db_"))
        .count();
    assert_eq!(db_pols, 6);
}

#[test]
fn egress_service_reroutes_endpoints_and_snats_to_ingress_ip() {
    let nb = built();
    let pols = kids(&nb, "Logical_Router", "ovn_cluster_router", "policies");
    let es: Vec<&Row> = pols
        .iter()
        .filter(|p| p.int("priority") == Some(101))
        .collect();
    assert_eq!(es.len(), 6); // app-31 has 6 pods
    for p in &es {
        assert_eq!(p.strs("nexthops"), set_of(&["10.128.8.2"])); // node-05 mgmt port
        assert_eq!(
            opt(p, "external_ids", "k8s.ovn.org/owner-type"),
            "EgressService"
        );
        assert_eq!(
            opt(p, "external_ids", "k8s.ovn.org/name"),
            "tenant-a/svc-lb"
        );
    }
    let nat = kids(&nb, "Logical_Router", "GR_node-05", "nat");
    assert_eq!(
        nat.iter()
            .filter(|n| n.str("external_ip") == Some("192.168.100.10"))
            .count(),
        6
    );
}

#[test]
fn secondary_networks_are_named_as_ovn_kubernetes() {
    let nb = built();
    let l2 = row(&nb, "Logical_Switch", "tenant.blue_ovn_layer2_switch");
    assert_eq!(opt(l2, "external_ids", "k8s.ovn.org/topology"), "layer2");
    assert_eq!(
        opt(l2, "external_ids", "k8s.ovn.org/network"),
        "tenant-blue"
    );
    assert_eq!(opt(l2, "other_config", "subnet"), "192.168.50.0/24");
    assert_eq!(l2.refs("ports").len(), 9);
    let ln = row(&nb, "Logical_Switch", "phys.net_ovn_localnet_switch");
    assert!(ln.refs("ports").contains("phys.net_ovn_localnet_port"));
    let lp = row(&nb, "Logical_Switch_Port", "phys.net_ovn_localnet_port");
    assert_eq!(lp.str("type"), Some("localnet"));
    assert_eq!(lp.int("tag_request"), Some(100));
    let pod = row(&nb, "Logical_Switch_Port", "tenant.blue_tenant-a_app-7-039");
    assert_eq!(
        opt(pod, "external_ids", "k8s.ovn.org/nad"),
        "tenant-a/blue-l2"
    );
}

fn rebuild(set: &ManifestSet, prev: &PreviousState) -> DesiredNb {
    build_nb(set, &ClusterConfig::default(), prev).expect("build")
}

#[test]
fn incremental_changes_write_minimal_ops() {
    let mut set = try_builtin_manifests().expect("load");
    let nb = rebuild(&set, &PreviousState::default());
    let mut db = fresh_db();
    apply(&nb, &mut db).expect("apply");
    let prev = nb.state.clone();
    // Relabel one pod out of a policy: port group membership only.
    let key = ("backend".to_owned(), "app-1-001".to_owned());
    if let Some(p) = set.pods.get_mut(&key) {
        p.metadata.labels = Some([("app".to_owned(), "other".to_owned())].into());
    }
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!((s.inserted, s.deleted), (0, 0), "{s:?}");
    assert!(s.updated >= 1 && s.updated <= 4, "{s:?}");
    // Change one Service's affinity timeout: one load balancer row.
    let key = ("frontend".to_owned(), "svc-00".to_owned());
    if let Some(svc) = set.services.get_mut(&key) {
        if let Some(c) = svc
            .spec
            .as_mut()
            .and_then(|s| s.session_affinity_config.as_mut())
            .and_then(|c| c.client_ip.as_mut())
        {
            c.timeout_seconds = Some(42);
        }
    }
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!(
        (s.inserted, s.updated, s.deleted, s.ops),
        (0, 1, 0, 1),
        "{s:?}"
    );
    // Change a policy port: one ACL replaced.
    let key = ("backend".to_owned(), "allow-from-frontend".to_owned());
    if let Some(np) = set.network_policies.get_mut(&key) {
        if let Some(p) = np
            .spec
            .as_mut()
            .and_then(|s| s.ingress.as_mut())
            .and_then(|i| i.first_mut())
            .and_then(|r| r.ports.as_mut())
            .and_then(|p| p.first_mut())
        {
            p.port = Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9090));
        }
    }
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!((s.inserted, s.updated, s.deleted), (1, 1, 1), "{s:?}");
    // Delete a Service: its load balancers go.
    set.services.remove(&("db".to_owned(), "svc-02".to_owned()));
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!((s.inserted, s.deleted), (0, 1), "{s:?}");
    // Delete a pod: its port and memberships.
    set.pods
        .remove(&("frontend".to_owned(), "app-0-000".to_owned()));
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!(s.inserted, 0, "{s:?}");
    assert!(s.deleted >= 1, "{s:?}");
    // Remove a node (its pods first, as Kubernetes would): its switch, gateway router,
    // external switch, ports, routes and policies go; nothing is inserted.
    set.pods
        .retain(|_, p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some("node-12"));
    set.nodes.remove("node-12");
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!(s.inserted, 0, "{s:?}");
    assert!(s.deleted > 20, "{s:?}");
    let snap = ovn_nb::nbctl::Snapshot::of_database(&db);
    let ls = snap
        .schema()
        .tables
        .iter()
        .position(|t| t.name == "Logical_Switch")
        .expect("LS");
    assert_eq!(snap.rows(ls).map_or(0, |r| r.len()), 27 - 2);
    // Reapply: nothing.
    let s = apply(&rebuild(&set, &prev), &mut db).expect("apply");
    assert_eq!(s.ops, 0, "{s:?}");
    // What is in the database equals a fresh apply of the same input.
    let mut fresh = fresh_db();
    let full = apply(&rebuild(&set, &prev), &mut fresh).expect("apply");
    let counts = |db: &ovsdb::Database| -> Vec<usize> {
        let snap = ovn_nb::nbctl::Snapshot::of_database(db);
        (0..snap.schema().tables.len())
            .map(|t| snap.rows(t).map_or(0, |r| r.len()))
            .collect()
    };
    assert_eq!(counts(&db), counts(&fresh), "{full:?}");
}

const DUAL: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: d1
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.11/16", "ipv6": "fc00:f853:ccd:e793::11/64"}'
---
apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: ns1, labels: {app: a}}
spec: {nodeName: d1, containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-ns, namespace: ns1}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]
"#;

#[test]
fn dual_stack_writes_both_families() {
    let mut cfg = ClusterConfig::default();
    cfg.cluster_networks
        .push(ovn_nb::kube::config::ClusterNetwork::new(
            "fd00:10:128::/48".parse().expect("net"),
            64,
        ));
    cfg.service_networks
        .push("fd00:172:16::/112".parse().expect("net"));
    let mut set = ManifestSet::new();
    set.add_str("dual.yaml", DUAL).expect("manifests");
    let nb = build_nb(&set, &cfg, &PreviousState::default()).expect("build");
    let ls = row(&nb, "Logical_Switch", "d1");
    assert_eq!(opt(ls, "other_config", "subnet"), "10.128.0.0/23");
    let v6 = nb.state.node_subnets["d1"]
        .iter()
        .find(|s| !s.addr().is_ipv4())
        .copied()
        .expect("v6 subnet");
    let p6 = v6.network().to_string();
    assert_eq!(opt(ls, "other_config", "ipv6_prefix"), p6);
    let rtos = row(&nb, "Logical_Router_Port", "rtos-d1");
    let gw6 = format!("{p6}1/64");
    assert_eq!(
        rtos.strs("networks"),
        set_of(&["10.128.0.1/23", gw6.as_str()])
    );
    assert_eq!(
        row(&nb, "Logical_Router_Port", "rtoj-GR_d1").strs("networks"),
        set_of(&["100.64.0.2/16", "fd98::2/64"])
    );
    // The pod had no IPs: allocated from both subnets, recorded for the next build.
    let p = row(&nb, "Logical_Switch_Port", "ns1_p1");
    assert_eq!(
        p.strs("addresses"),
        set_of(&[format!("0a:58:0a:80:00:03 10.128.0.3 {p6}3").as_str()])
    );
    assert_eq!(nb.state.pod_ips.len(), 1);
    assert!(nb
        .get("Address_Set", &namespace_address_set("ns1", false).0)
        .is_some());
    let pg = policy_port_group("ns1", "same-ns");
    let m = row(&nb, "Port_Group", &pg).kids("acls")[0]
        .str("match")
        .unwrap_or_default()
        .to_owned();
    assert!(
        m.starts_with("(ip4.src == {$a") && m.contains(" || ip6.src == {$a"),
        "{m}"
    );
    let gr_routes = kids(&nb, "Logical_Router", "GR_d1", "static_routes");
    assert!(gr_routes
        .iter()
        .any(|r| r.str("ip_prefix") == Some("::/0")
            && r.str("nexthop") == Some("fc00:f853:ccd:e793::1")));
    assert!(gr_routes
        .iter()
        .any(|r| r.str("ip_prefix") == Some("fd00:10:128::/48")
            && r.str("nexthop") == Some("fd98::1")));
    // Stable: rebuilding with the returned state gives the same content.
    let again = build_nb(&set, &cfg, &nb.state).expect("rebuild");
    assert_eq!(again, nb);
    let mut db = fresh_db();
    apply(&nb, &mut db).expect("apply");
    assert_eq!(apply(&again, &mut db).expect("reapply").ops, 0);
}

#[test]
fn naming_helpers_match_ovn_kubernetes() {
    assert_eq!(hash_for_ovn(""), "a14695981039346656037");
    assert_eq!(
        ovn_nb::kube::build::mac_from_ip("10.244.1.5".parse().expect("ip")),
        "0a:58:0a:f4:01:05"
    );
    assert_eq!(
        ovn_nb::kube::secondary::network_prefix("tenant-blue"),
        "tenant.blue_"
    );
}

const ETP_LOCAL: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: na
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.11/16"}'
    k8s.ovn.org/node-subnets: '{"default": ["10.128.0.0/23"]}'
---
apiVersion: v1
kind: Node
metadata:
  name: nb
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.12/16"}'
    k8s.ovn.org/node-subnets: '{"default": ["10.128.2.0/23"]}'
---
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Pod
metadata: {name: w1, namespace: web, labels: {app: w}}
spec: {nodeName: na, containers: [{name: c, image: x}]}
status: {podIPs: [{ip: 10.128.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: w2, namespace: web, labels: {app: w}}
spec: {nodeName: nb, containers: [{name: c, image: x}]}
status: {podIPs: [{ip: 10.128.2.10}]}
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: web}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: 172.30.0.5
  clusterIPs: [172.30.0.5]
  selector: {app: w}
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30500, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-1, namespace: web, labels: {kubernetes.io/service-name: local}}
addressType: IPv4
endpoints:
- {addresses: [10.128.0.10], conditions: {ready: true}, nodeName: na}
- {addresses: [10.128.2.10], conditions: {ready: true}, nodeName: nb}
ports: [{name: http, port: 8080, protocol: TCP}]
"#;

/// `externalTrafficPolicy: Local`: each node's gateway router sends NodePort traffic only to the
/// node's own endpoints, without SNAT; the node's switch keeps every endpoint.
#[test]
fn external_traffic_policy_local_splits_router_and_switch() {
    let mut set = ManifestSet::new();
    set.add_str("etp.yaml", ETP_LOCAL).expect("manifests");
    let nb = build_nb(&set, &ClusterConfig::default(), &PreviousState::default()).expect("build");
    assert!(nb
        .get(
            "Load_Balancer",
            "Service_web/local_TCP_node_router+switch_na"
        )
        .is_none());
    for (node, ip, local) in [
        ("na", "172.18.0.11", "10.128.0.10:8080"),
        ("nb", "172.18.0.12", "10.128.2.10:8080"),
    ] {
        let r = row(
            &nb,
            "Load_Balancer",
            &format!("Service_web/local_TCP_node_router_{node}"),
        );
        let vip = format!("{ip}:30500");
        assert_eq!(r.get_map("vips")[&vip], local);
        assert_eq!(opt(r, "options", "skip_snat"), "true");
        let s = row(
            &nb,
            "Load_Balancer",
            &format!("Service_web/local_TCP_node_switch_{node}"),
        );
        assert_eq!(s.get_map("vips")[&vip], "10.128.0.10:8080,10.128.2.10:8080");
        assert_eq!(opt(s, "options", "skip_snat"), "false");
        assert!(row(&nb, "Logical_Router", &format!("GR_{node}"))
            .refs("load_balancer")
            .contains(&format!("Service_web/local_TCP_node_router_{node}")));
        assert!(row(&nb, "Logical_Switch", node)
            .refs("load_balancer")
            .contains(&format!("Service_web/local_TCP_node_switch_{node}")));
    }
    // The ClusterIP stays cluster-wide, on every endpoint.
    let c = row(&nb, "Load_Balancer", "Service_web/local_TCP_cluster");
    assert_eq!(
        c.get_map("vips")["172.30.0.5:80"],
        "10.128.0.10:8080,10.128.2.10:8080"
    );
}
