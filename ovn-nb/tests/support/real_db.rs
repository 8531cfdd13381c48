// Support for the model round-trip tests of ovn-nb and ovn-sb (ovn-sb includes this file): a
// reasonably rich OVN_Northbound built through the real ovn-nbctl, and a dump of every row of a
// database over an ovsdb-server unix socket.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;

use serde_json::{json, Value};

/// The chassis name the stack is started with.
pub(crate) const CHASSIS: &str = "ch1";

/// The ovn-nbctl invocations, in order: each slice is one invocation (commands within it are
/// separated by "--").
pub(crate) const RICH_NB: &[&[&str]] = &[
    &["set", "NB_Global", ".", "options:mac_prefix=0a:00:00", "external_ids:test=yes"],
    &["ls-add", "sw0", "--", "ls-add", "sw1", "--", "ls-add", "ext"],
    &["set", "Logical_Switch", "sw1", "other_config:subnet=20.0.0.0/24", "other_config:ipv6_prefix=fd01::"],
    &["lsp-add", "sw0", "sw0-p1", "--", "lsp-set-addresses", "sw0-p1", "50:54:00:00:00:01 10.0.0.11"],
    &["lsp-set-port-security", "sw0-p1", "50:54:00:00:00:01 10.0.0.11"],
    &["lsp-add", "sw0", "sw0-p2", "--", "lsp-set-addresses", "sw0-p2", "50:54:00:00:00:02 10.0.0.12 fd00::12"],
    &["lsp-add", "sw1", "sw1-p1", "--", "lsp-set-addresses", "sw1-p1", "dynamic"],
    &["lsp-set-enabled", "sw1-p1", "disabled"],
    &["lsp-add", "ext", "ext-ln", "--", "lsp-set-type", "ext-ln", "localnet", "--", "lsp-set-addresses", "ext-ln", "unknown"],
    &["lsp-set-options", "ext-ln", "network_name=physnet"],
    &["lr-add", "lr0"],
    &["lrp-add", "lr0", "lr0-sw0", "00:00:00:00:ff:01", "10.0.0.1/24", "fd00::1/64"],
    &["lrp-add", "lr0", "lr0-sw1", "00:00:00:00:ff:02", "20.0.0.1/24"],
    &["lrp-add", "lr0", "lr0-ext", "00:00:00:00:ff:03", "172.16.0.1/24"],
    &["lsp-add", "sw0", "sw0-lr0", "--", "lsp-set-type", "sw0-lr0", "router", "--", "lsp-set-addresses", "sw0-lr0", "router", "--", "lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"],
    &["lsp-add", "sw1", "sw1-lr0", "--", "lsp-set-type", "sw1-lr0", "router", "--", "lsp-set-addresses", "sw1-lr0", "router", "--", "lsp-set-options", "sw1-lr0", "router-port=lr0-sw1"],
    &["lsp-add", "ext", "ext-lr0", "--", "lsp-set-type", "ext-lr0", "router", "--", "lsp-set-addresses", "ext-lr0", "router", "--", "lsp-set-options", "ext-lr0", "router-port=lr0-ext"],
    &["lrp-set-gateway-chassis", "lr0-ext", CHASSIS, "20"],
    &["lr-nat-add", "lr0", "snat", "172.16.0.1", "10.0.0.0/24"],
    &["lr-nat-add", "lr0", "dnat_and_snat", "172.16.0.100", "10.0.0.11", "sw0-p1", "00:00:00:00:00:99"],
    &["lr-nat-add", "lr0", "dnat", "172.16.0.101", "10.0.0.12"],
    &["lr-route-add", "lr0", "0.0.0.0/0", "172.16.0.254"],
    &["--policy=src-ip", "lr-route-add", "lr0", "20.0.0.0/24", "172.16.0.253"],
    &["--ecmp", "lr-route-add", "lr0", "192.168.0.0/16", "172.16.0.2"],
    &["--ecmp", "lr-route-add", "lr0", "192.168.0.0/16", "172.16.0.3"],
    &["lr-policy-add", "lr0", "100", "ip4.src == 10.0.0.11", "reroute", "20.0.0.5"],
    &["lr-policy-add", "lr0", "90", "ip4.dst == 1.1.1.1", "drop"],
    &["lr-policy-add", "lr0", "80", "ip4.src == 10.0.0.12", "allow"],
    &["lb-add", "lb0", "10.96.0.1:80", "10.0.0.11:8080,10.0.0.12:8080", "tcp"],
    &["set", "Load_Balancer", "lb0", "options:affinity_timeout=60", "selection_fields=ip_src,ip_dst"],
    &["lb-add", "lb1", "10.96.0.2:53", "10.0.0.11:53", "udp"],
    &["lb-add", "lb2", "10.96.0.3:443", "10.0.0.12:8443"],
    &["ls-lb-add", "sw0", "lb0", "--", "lr-lb-add", "lr0", "lb0"],
    &["--id=@lb", "get", "Load_Balancer", "lb1", "--", "--id=@g", "create", "Load_Balancer_Group", "name=lbg0", "load_balancer=@lb", "--", "add", "Logical_Switch", "sw1", "load_balancer_group", "@g", "--", "add", "Logical_Router", "lr0", "load_balancer_group", "@g"],
    &["--id=@hc", "create", "Load_Balancer_Health_Check", "vip=\"10.96.0.3:443\"", "options:interval=5", "options:timeout=20", "--", "add", "Load_Balancer", "lb2", "health_check", "@hc", "--", "set", "Load_Balancer", "lb2", "ip_port_mappings:10.0.0.12=sw0-p2:10.0.0.1"],
    &["ls-lb-add", "sw0", "lb2"],
    &["create", "Address_Set", "name=as0", "addresses=\"10.0.0.11\",\"10.0.0.12\""],
    &["meter-add", "meter0", "drop", "10", "pktps"],
    &["--fair", "meter-add", "meter1", "drop", "1000", "kbps", "100"],
    &["pg-add", "pg0", "sw0-p1", "sw0-p2"],
    &["acl-add", "sw0", "to-lport", "1000", "ip4.src == $as0", "allow-related"],
    &["acl-add", "pg0", "from-lport", "1001", "ip4 && inport == @pg0", "drop"],
    &["--log", "--severity=alert", "--name=acl1", "--label=5", "acl-add", "pg0", "to-lport", "900", "outport == @pg0 && tcp", "allow-related"],
    &["--log", "--severity=warning", "--meter=meter0", "acl-add", "pg0", "to-lport", "800", "outport == @pg0 && udp", "reject"],
    &["--type=switch", "acl-add", "sw1", "from-lport", "100", "udp", "allow-stateless"],
    &["--id=@d", "create", "DHCP_Options", "cidr=10.0.0.0/24", "options:lease_time=3600", "options:router=10.0.0.1", "options:server_id=10.0.0.1", "options:server_mac=c0:ff:ee:00:00:01", "--", "set", "Logical_Switch_Port", "sw0-p1", "dhcpv4_options=@d"],
    &["--id=@d", "create", "DHCP_Options", "cidr=\"fd00::/64\"", "options:server_id=\"00:00:00:00:10:02\"", "--", "set", "Logical_Switch_Port", "sw0-p2", "dhcpv6_options=@d"],
    &["qos-add", "sw0", "from-lport", "100", "ip4", "rate=1000", "burst=100", "dscp=10"],
    &["copp-add", "copp0", "arp", "meter0", "--", "ls-copp-add", "copp0", "sw0"],
    &["ha-chassis-group-add", "hcg0", "--", "ha-chassis-group-add-chassis", "hcg0", CHASSIS, "30"],
    &["ha-chassis-group-add-chassis", "hcg0", "ch2", "20"],
    &["lr-add", "gr0", "--", "set", "Logical_Router", "gr0", "options:chassis=ch1", "options:lb_force_snat_ip=router_ip"],
    &["lrp-add", "gr0", "gr0-ext", "00:00:00:00:ff:10", "172.16.0.10/24", "--", "lrp-set-enabled", "gr0-ext", "enabled"],
    &["--id=@dns", "create", "DNS", "records:vm1=10.0.0.11", "records:vm2=\"10.0.0.12 fd00::12\"", "--", "add", "Logical_Switch", "sw0", "dns_records", "@dns"],
    &["static-mac-binding-add", "lr0-sw0", "10.0.0.200", "00:00:00:00:01:00"],
    &["create", "BFD", "logical_port=lr0-ext", "dst_ip=172.16.0.2", "min_tx=1000", "detect_mult=5"],
    &["fwd-group-add", "fwd0", "sw0", "10.0.0.222", "00:00:00:00:00:aa", "sw0-p1", "sw0-p2"],
    &["create", "Chassis_Template_Var", "chassis=ch1", "variables:vip=10.96.0.9"],
    &["mirror-add", "mirror0", "gre", "1", "to-lport", "10.10.10.10", "--", "lsp-attach-mirror", "sw0-p1", "mirror0"],
    &["lsp-add", "sw0", "sw0-vif", "sw0-p1", "42", "--", "lsp-set-addresses", "sw0-vif", "50:54:00:00:00:42"],
    &["--id=@c", "create", "Connection", "target=\"ptcp:0:127.0.0.1\"", "inactivity_probe=30000", "other_config:dscp=8", "--", "add", "NB_Global", ".", "connections", "@c"],
    &["--id=@s", "create", "SSL", "private_key=/nonexistent/key.pem", "certificate=/nonexistent/cert.pem", "ca_cert=/nonexistent/ca.pem", "bootstrap_ca_cert=false", "--", "set", "NB_Global", ".", "ssl=@s"],
];

/// Runs one JSON-RPC request on a `unix:` remote and returns its `result`.
pub(crate) fn rpc(remote: &str, method: &str, params: Value) -> Value {
    let path = remote.strip_prefix("unix:").expect("a unix: remote");
    let mut stream = UnixStream::connect(path).expect("connect");
    let req = json!({"method": method, "params": params, "id": 1});
    stream.write_all(req.to_string().as_bytes()).expect("send");
    let reader = BufReader::new(stream);
    for msg in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
        let msg = msg.expect("JSON reply");
        if msg["id"] == json!(1) {
            assert!(msg["error"].is_null(), "{msg}");
            return msg["result"].clone();
        }
    }
    panic!("no reply to {method}");
}

/// Every row of every table (all columns, `_uuid` and `_version` included): table name → rows.
pub(crate) fn dump(remote: &str, db: &str, tables: &[&str]) -> BTreeMap<String, Vec<Value>> {
    let mut params = vec![json!(db)];
    params.extend(tables.iter().map(|t| json!({"op": "select", "table": t, "where": []})));
    let result = rpc(remote, "transact", Value::Array(params));
    tables
        .iter()
        .zip(result.as_array().expect("results"))
        .map(|(t, r)| (t.to_string(), r["rows"].as_array().expect("rows").clone()))
        .collect()
}

/// "Table=rows ..." for a dump, and the number of rows.
pub(crate) fn summary(rows: &BTreeMap<String, Vec<Value>>) -> (usize, String) {
    let total = rows.values().map(Vec::len).sum();
    let text: Vec<String> = rows.iter().map(|(t, r)| format!("{t}={}", r.len())).collect();
    (total, text.join(" "))
}
