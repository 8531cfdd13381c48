//! Parity with real ovn-northd 23.03: each scenario builds an NB through ovn-nbctl on a real
//! stack, lets real ovn-northd compile it, then compiles the dumped NB with ours and compares
//! Logical_Flow sets (expanded per datapath), Port_Binding and Multicast_Group rows.
//!
//! Every flow we emit is also parsed with `flowcompile` (match and actions).

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::model as sb;
use ovsdb::model::Model;
use serde_json::{Map, Value};

use northd::{build, NbSnapshot, SbContent, SbState};

type Flow = (String, String, u8, u16, String, String);

/// NB tables the snapshot reads.
const NB_TABLES: &[&str] = &[
    "NB_Global",
    "Logical_Switch",
    "Logical_Switch_Port",
    "Logical_Router",
    "Logical_Router_Port",
    "ACL",
    "Address_Set",
    "Port_Group",
    "Load_Balancer",
    "Load_Balancer_Group",
    "QoS",
    "Meter",
    "DHCP_Options",
    "DNS",
];

/// `ovn-[ns]bctl --format=json list TABLE` output to JSON rows.
fn json_rows(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("json list output");
    let headings: Vec<String> = v["headings"]
        .as_array()
        .expect("headings")
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_owned())
        .collect();
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| {
            let mut m = Map::new();
            for (h, cell) in headings.iter().zip(row.as_array().expect("row")) {
                m.insert(h.clone(), cell.clone());
            }
            Value::Object(m)
        })
        .collect()
}

fn sb_rows<T: Model>(stack: &testkit::Stack) -> Vec<T> {
    let text = stack
        .sbctl(["--format=json", "list", T::TABLE])
        .expect("sbctl list");
    json_rows(&text)
        .iter()
        .map(|r| T::from_json(r).expect("SB row"))
        .collect()
}

struct Outcome {
    equal: usize,
    ours_only: Vec<Flow>,
    real_only: Vec<Flow>,
}

fn our_flows(content: &SbContent) -> BTreeSet<Flow> {
    content
        .expanded_flows()
        .into_iter()
        .map(|(d, p, t, pr, m, a)| (d, p.to_owned(), t, pr, m, a))
        .collect()
}

fn check_parses(content: &SbContent) {
    use flowcompile::actions::{parse_actions, ParseContext, Pipeline};
    use flowcompile::debug::{run, Pass};
    let mut bad = Vec::new();
    for (k, _) in content.flows.iter() {
        if let Err(e) = run(Pass::Parse, &k.match_) {
            bad.push(format!("match {:?}: {e}", k.match_));
        }
        let pipeline = match k.stage.pipeline() {
            ovn_sb::Pipeline::Ingress => Pipeline::Ingress,
            ovn_sb::Pipeline::Egress => Pipeline::Egress,
        };
        if let Err(e) = parse_actions(&k.actions, &ParseContext::new(pipeline, k.stage.table())) {
            bad.push(format!("actions {:?}: {e}", k.actions));
        }
    }
    assert!(
        bad.is_empty(),
        "flows that do not parse:\n{}",
        bad.join("\n")
    );
}

/// Resolves references in an nbctl argument: `=@dhcp4`/`=@dhcp6`/`=@dhcp6s`/`@dns` (rows
/// tagged `external_ids:n=...`), `=Table/name` (a whole argument) and `col==Table/name`
/// (`col=<uuid>`), by the row's `name`.
fn resolve_arg(stack: &testkit::Stack, a: &str) -> String {
    let by_name = |table: &str, name: &str| {
        stack
            .nbctl([
                "--bare",
                "--columns=_uuid",
                "find",
                table,
                &format!("name={name}"),
            ])
            .expect("find")
            .trim()
            .to_owned()
    };
    for (tag, table, n) in [
        ("=@dhcp4", "DHCP_Options", "v4"),
        ("=@dhcp6s", "DHCP_Options", "v6s"),
        ("=@dhcp6", "DHCP_Options", "v6"),
    ] {
        if let Some(col) = a.strip_suffix(tag) {
            return format!("{col}={}", ext_uuid(stack, table, n));
        }
    }
    if a == "@dns" {
        return ext_uuid(stack, "DNS", "dns");
    }
    if let Some((table, name)) = a.strip_prefix('=').and_then(|r| r.split_once('/')) {
        return by_name(table, name);
    }
    if let Some((col, r)) = a.split_once("==") {
        if let Some((table, name)) = r.split_once('/') {
            return format!("{col}={}", by_name(table, name));
        }
    }
    a.to_owned()
}

/// The UUID of the row of `table` with `external_ids:n=name` (empty if none).
fn ext_uuid(stack: &testkit::Stack, table: &str, name: &str) -> String {
    stack
        .nbctl([
            "--bare",
            "--columns=_uuid",
            "find",
            table,
            &format!("external_ids:n={name}"),
        ])
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Runs a scenario without a chassis: `setup` issues nbctl commands on the real stack.
fn scenario(name: &str, setup: &[&[&str]]) -> Option<Outcome> {
    scenario_on(name, false, setup)
}

/// Runs a scenario; with `chassis`, a real ovn-controller registers chassis `ch1` (and its
/// features) before the NB is built.
fn scenario_on(name: &str, chassis: bool, setup: &[&[&str]]) -> Option<Outcome> {
    let ovn = testkit::require_or_skip!(None);
    let builder = if chassis {
        ovn.stack().chassis("ch1")
    } else {
        ovn.stack().no_chassis()
    };
    let stack = builder.build().expect("real stack");
    for cmd in setup {
        let args: Vec<String> = cmd.iter().map(|a| resolve_arg(&stack, a)).collect();
        stack.nbctl(&args).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");

    let mut tables = Map::new();
    for t in NB_TABLES {
        let text = stack
            .nbctl(["--format=json", "list", t])
            .expect("nbctl list");
        tables.insert((*t).to_owned(), Value::Array(json_rows(&text)));
    }
    let snapshot = NbSnapshot::from_json(&Value::Object(tables)).expect("snapshot");
    check_ipam(name, &snapshot);
    let chassis: Vec<sb::Chassis> = sb_rows(&stack);
    let state = SbState::from_rows(&[], &[], &chassis);
    let content = build(&snapshot, &state);
    assert!(
        content.warnings.is_empty(),
        "{name}: warnings {:?}",
        content.warnings
    );
    check_parses(&content);

    let real: BTreeSet<Flow> = stack
        .logical_flows()
        .expect("lflow-list")
        .into_iter()
        .map(|f| {
            let p = match f.pipeline {
                testkit::Pipeline::Ingress => "ingress",
                testkit::Pipeline::Egress => "egress",
            };
            (
                f.datapath,
                p.to_owned(),
                f.table,
                f.priority,
                f.match_expr,
                f.actions,
            )
        })
        .collect();
    let ours = our_flows(&content);
    let out = Outcome {
        equal: ours.intersection(&real).count(),
        ours_only: ours.difference(&real).cloned().collect(),
        real_only: real.difference(&ours).cloned().collect(),
    };
    eprintln!(
        "parity {name}: equal {} ours-only {} real-only {}",
        out.equal,
        out.ours_only.len(),
        out.real_only.len()
    );
    for f in &out.ours_only {
        eprintln!("  ours-only: {f:?}");
    }
    for f in &out.real_only {
        eprintln!("  real-only: {f:?}");
    }
    compare_bindings(name, &stack, &content);
    Some(out)
}

/// Our IPAM, run on the NB with every `dynamic_addresses` cleared, allocates what real
/// ovn-northd allocated.
fn check_ipam(name: &str, snapshot: &NbSnapshot) {
    let mut cleared = snapshot.clone();
    for p in cleared.switch_ports.values_mut() {
        p.dynamic_addresses = None;
    }
    let prefix = snapshot.global_options()["mac_prefix"].clone();
    let mut warnings = Vec::new();
    let ours = northd::ipam::allocate(&cleared, &prefix, &mut warnings);
    let ours: BTreeMap<String, Option<String>> = ours
        .into_iter()
        .map(|(r, v)| (snapshot.switch_ports[&r].name.clone(), v))
        .collect();
    let real: BTreeMap<String, Option<String>> = snapshot
        .switch_ports
        .values()
        .filter(|p| ours.contains_key(&p.name))
        .map(|p| (p.name.clone(), p.dynamic_addresses.clone()))
        .collect();
    assert_eq!(ours, real, "{name}: IPAM allocations differ");
}

/// Port_Binding and Multicast_Group rows, tunnel keys renamed through port names.
fn compare_bindings(name: &str, stack: &testkit::Stack, content: &SbContent) {
    let dps: Vec<sb::DatapathBinding> = sb_rows(stack);
    let dp_name: BTreeMap<_, _> = dps
        .iter()
        .map(|d| {
            (
                d.uuid.uuid(),
                d.external_ids.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let pbs: Vec<sb::PortBinding> = sb_rows(stack);
    let pb_name: BTreeMap<_, _> = pbs
        .iter()
        .map(|p| (p.uuid.uuid(), p.logical_port.clone()))
        .collect();
    type PbRow = (
        String,
        String,
        BTreeSet<String>,
        BTreeSet<String>,
        BTreeMap<String, String>,
        Option<String>,
        Option<i64>,
    );
    let real_pb: BTreeMap<String, PbRow> = pbs
        .iter()
        .map(|p| {
            (
                p.logical_port.clone(),
                (
                    dp_name[&p.datapath.uuid()].clone(),
                    p.type_.clone(),
                    p.mac.clone(),
                    p.port_security.clone(),
                    p.options.clone(),
                    p.parent_port.clone(),
                    p.tag,
                ),
            )
        })
        .collect();
    let our_pb: BTreeMap<String, PbRow> = content
        .ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                (
                    content.datapaths[p.datapath].name.clone(),
                    p.type_.clone(),
                    p.mac.clone(),
                    p.port_security.clone(),
                    p.options.clone(),
                    p.parent_port.clone(),
                    p.tag,
                ),
            )
        })
        .collect();
    assert_eq!(our_pb, real_pb, "{name}: Port_Binding rows differ");
    // Port keys are unique per datapath in both; datapath keys unique globally.
    let mut seen = BTreeSet::new();
    for p in &content.ports {
        assert!(
            seen.insert((p.datapath, p.tunnel_key)),
            "duplicate port key"
        );
    }

    let mcs: Vec<sb::MulticastGroup> = sb_rows(stack);
    let real_mc: BTreeSet<(String, String, i64, BTreeSet<String>)> = mcs
        .iter()
        .map(|m| {
            (
                dp_name[&m.datapath.uuid()].clone(),
                m.name.clone(),
                m.tunnel_key,
                m.ports.iter().map(|p| pb_name[&p.uuid()].clone()).collect(),
            )
        })
        .collect();
    let our_mc: BTreeSet<(String, String, i64, BTreeSet<String>)> = content
        .multicast_groups
        .iter()
        .map(|m| {
            (
                content.datapaths[m.datapath].name.clone(),
                m.name.clone(),
                i64::from(m.tunnel_key),
                m.ports.clone(),
            )
        })
        .collect();
    assert_eq!(our_mc, real_mc, "{name}: Multicast_Group rows differ");

    // Address sets by name; port groups by name with the datapath key renamed to its name.
    let sets: Vec<sb::AddressSet> = sb_rows(stack);
    let real_as: BTreeMap<String, BTreeSet<String>> = sets
        .iter()
        .map(|a| (a.name.clone(), a.addresses.clone()))
        .collect();
    assert_eq!(
        content.address_sets, real_as,
        "{name}: Address_Set rows differ"
    );
    let real_key_name: BTreeMap<String, String> = dps
        .iter()
        .map(|d| (d.tunnel_key.to_string(), dp_name[&d.uuid.uuid()].clone()))
        .collect();
    let our_key_name: BTreeMap<String, String> = content
        .datapaths
        .iter()
        .map(|d| (d.tunnel_key.to_string(), d.name.clone()))
        .collect();
    let rename = |n: &str, keys: &BTreeMap<String, String>| match n.split_once('_') {
        Some((k, rest)) if keys.contains_key(k) => format!("{}_{rest}", keys[k]),
        _ => n.to_owned(),
    };
    let pgs: Vec<sb::PortGroup> = sb_rows(stack);
    let real_pg: BTreeMap<String, BTreeSet<String>> = pgs
        .iter()
        .map(|p| (rename(&p.name, &real_key_name), p.ports.clone()))
        .collect();
    let our_pg: BTreeMap<String, BTreeSet<String>> = content
        .port_groups
        .iter()
        .map(|(n, p)| (rename(n, &our_key_name), p.clone()))
        .collect();
    assert_eq!(our_pg, real_pg, "{name}: Port_Group rows differ");

    // Load balancers, datapaths by name.
    let groups: Vec<sb::LogicalDpGroup> = sb_rows(stack);
    let group_dps: BTreeMap<_, BTreeSet<String>> = groups
        .iter()
        .map(|g| {
            (
                g.uuid.uuid(),
                g.datapaths
                    .iter()
                    .map(|d| dp_name[&d.uuid()].clone())
                    .collect(),
            )
        })
        .collect();
    type LbRow = (
        BTreeMap<String, String>,
        Option<String>,
        BTreeMap<String, String>,
        BTreeSet<String>,
    );
    let lbs: Vec<sb::LoadBalancer> = sb_rows(stack);
    let real_lb: BTreeMap<String, LbRow> = lbs
        .iter()
        .map(|l| {
            let mut dps: BTreeSet<String> = l
                .datapaths
                .iter()
                .map(|d| dp_name[&d.uuid()].clone())
                .collect();
            if let Some(g) = l.datapath_group {
                dps.extend(group_dps[&g.uuid()].iter().cloned());
            }
            (
                l.name.clone(),
                (
                    l.vips.clone(),
                    l.protocol.map(|p| p.as_str().to_owned()),
                    l.options.clone(),
                    dps,
                ),
            )
        })
        .collect();
    let our_lb: BTreeMap<String, LbRow> = content
        .load_balancers
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                (
                    l.vips.clone(),
                    l.protocol.clone(),
                    l.options.clone(),
                    l.datapaths
                        .iter()
                        .map(|d| content.datapaths[*d].name.clone())
                        .collect(),
                ),
            )
        })
        .collect();
    assert_eq!(our_lb, real_lb, "{name}: Load_Balancer rows differ");

    let ipm: Vec<sb::IpMulticast> = sb_rows(stack);
    let real_ipm: BTreeMap<String, String> = ipm
        .iter()
        .map(|m| {
            (
                dp_name[&m.datapath.uuid()].clone(),
                format!(
                    "{:?} {:?} {} {} {} {:?} {:?} {:?} {:?}",
                    m.enabled,
                    m.querier,
                    m.eth_src,
                    m.ip4_src,
                    m.ip6_src,
                    m.table_size,
                    m.idle_timeout,
                    m.query_interval,
                    m.query_max_resp
                ),
            )
        })
        .collect();
    let our_ipm: BTreeMap<String, String> = content
        .ip_multicast
        .iter()
        .map(|(dp, c)| {
            (
                content.datapaths[*dp].name.clone(),
                format!(
                    "{:?} {:?} {} {} {} {:?} {:?} {:?} {:?}",
                    Some(c.snoop),
                    Some(c.querier),
                    c.eth_src,
                    c.ip4_src,
                    c.ip6_src,
                    Some(c.table_size),
                    Some(c.idle_timeout),
                    Some(c.query_interval),
                    Some(c.query_max_resp)
                ),
            )
        })
        .collect();
    assert_eq!(our_ipm, real_ipm, "{name}: IP_Multicast rows differ");
}

fn assert_full(out: Option<Outcome>) {
    if let Some(o) = out {
        assert!(
            o.ours_only.is_empty() && o.real_only.is_empty(),
            "flow sets differ: {} equal, {} ours-only, {} real-only (see stderr)",
            o.equal,
            o.ours_only.len(),
            o.real_only.len()
        );
    }
}

#[test]
fn basic_switch() {
    assert_full(scenario(
        "basic",
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
            &["lsp-add", "sw0", "p2"],
            &[
                "lsp-set-addresses",
                "p2",
                "00:00:00:00:00:02 10.0.0.2 fd00::2",
            ],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "q1"],
            &[
                "lsp-set-addresses",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 10.1.0.11",
            ],
            &["ls-add", "empty"],
        ],
    ));
}

#[test]
fn port_security_unknown_disabled() {
    assert_full(scenario(
        "port-security",
        &[
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "q1"],
            &[
                "lsp-set-addresses",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 fd01::1",
            ],
            &[
                "lsp-set-port-security",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 fd01::1",
            ],
            &["lsp-add", "sw1", "q2"],
            &["lsp-set-addresses", "q2", "00:00:00:00:01:02", "unknown"],
            &["lsp-set-port-security", "q2", "00:00:00:00:01:02"],
            &["lsp-add", "sw1", "q3"],
            &["lsp-set-addresses", "q3", "unknown"],
            &["lsp-add", "sw1", "q4"],
            &["lsp-set-enabled", "q4", "disabled"],
            &["lsp-set-addresses", "q4", "00:00:00:00:01:04 10.1.0.4"],
            &["lsp-add", "sw1", "q5"],
            &[
                "lsp-set-addresses",
                "q5",
                "00:00:00:00:01:05 10.1.0.5",
                "00:00:00:00:01:15 10.1.0.15",
            ],
        ],
    ));
}

#[test]
fn acls() {
    assert_full(scenario_on(
        "acls",
        true,
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "a1"],
            &["lsp-set-addresses", "a1", "00:00:00:00:02:01 10.2.0.1"],
            &["lsp-add", "sw0", "a2"],
            &[
                "lsp-set-addresses",
                "a2",
                "00:00:00:00:02:02 10.2.0.2 fd02::2",
            ],
            &[
                "acl-add",
                "sw0",
                "from-lport",
                "1000",
                "ip4.src == 10.2.0.1",
                "allow-related",
            ],
            &["acl-add", "sw0", "to-lport", "900", "tcp.dst == 80", "drop"],
            &[
                "acl-add",
                "sw0",
                "to-lport",
                "800",
                "udp.dst == 53",
                "reject",
            ],
            &["acl-add", "sw0", "from-lport", "700", "ip6", "allow"],
            &[
                "acl-add",
                "sw0",
                "from-lport",
                "600",
                "arp",
                "allow-stateless",
            ],
            &[
                "--log",
                "--name=n1",
                "--severity=warning",
                "acl-add",
                "sw0",
                "to-lport",
                "500",
                "icmp4",
                "allow-related",
            ],
            &[
                "--label=1234",
                "acl-add",
                "sw0",
                "from-lport",
                "400",
                "tcp.dst == 22",
                "allow-related",
            ],
            &[
                "--apply-after-lb",
                "acl-add",
                "sw0",
                "from-lport",
                "300",
                "udp",
                "drop",
            ],
            &["meter-add", "m1", "drop", "10", "pktps"],
            &["--fair", "meter-add", "m2", "drop", "20", "pktps"],
            &[
                "--log",
                "--meter=m1",
                "--name=telnet",
                "acl-add",
                "sw0",
                "to-lport",
                "450",
                "tcp.dst == 23",
                "reject",
            ],
            &[
                "--log",
                "--meter=m2",
                "--severity=debug",
                "acl-add",
                "sw0",
                "from-lport",
                "250",
                "tcp.dst == 25",
                "drop",
            ],
            &[
                "--log",
                "--label=99",
                "acl-add",
                "sw0",
                "to-lport",
                "150",
                "udp.dst == 123",
                "allow",
            ],
            &[
                "--apply-after-lb",
                "acl-add",
                "sw0",
                "from-lport",
                "120",
                "udp.dst == 124",
                "reject",
            ],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "b1"],
            &["lsp-set-addresses", "b1", "00:00:00:00:03:01 10.3.0.1"],
            &[
                "acl-add",
                "sw1",
                "from-lport",
                "1000",
                "ip4.src == 10.3.0.9",
                "drop",
            ],
            &[
                "--log", "acl-add", "sw1", "to-lport", "900", "tcp", "reject",
            ],
            &["acl-add", "sw1", "to-lport", "800", "udp", "allow"],
        ],
    ));
}

#[test]
fn port_groups_and_address_sets() {
    assert_full(scenario(
        "port-groups",
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "a1"],
            &["lsp-set-addresses", "a1", "00:00:00:00:02:01 10.2.0.1"],
            &["lsp-add", "sw0", "a2"],
            &["lsp-set-addresses", "a2", "00:00:00:00:02:02 10.2.0.2"],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "b1"],
            &[
                "lsp-set-addresses",
                "b1",
                "00:00:00:00:03:01 10.3.0.1 fd03::1",
            ],
            &["ls-add", "sw2"],
            &["lsp-add", "sw2", "c1"],
            &["lsp-set-addresses", "c1", "00:00:00:00:04:01 10.4.0.1"],
            &["pg-add", "pg1", "a1", "b1"],
            &["pg-add", "pg2", "a2"],
            &[
                "create",
                "Address_Set",
                "name=as1",
                "addresses=\"10.9.0.1\",\"10.9.0.2\"",
            ],
            &[
                "acl-add",
                "pg1",
                "to-lport",
                "1001",
                "outport == @pg1 && ip4.src == $as1",
                "allow-related",
            ],
            &[
                "acl-add",
                "pg1",
                "from-lport",
                "1001",
                "inport == @pg1 && ip4",
                "drop",
            ],
            &[
                "acl-add",
                "pg2",
                "to-lport",
                "1002",
                "outport == @pg2 && ip4.src == $pg1_ip4",
                "allow",
            ],
        ],
    ));
}

#[test]
fn load_balancers() {
    assert_full(scenario_on(
        "load-balancers",
        true,
        &[
            &["ls-add", "lbs"],
            &["lsp-add", "lbs", "l1"],
            &["lsp-set-addresses", "l1", "00:00:00:00:05:01 10.5.0.1"],
            &[
                "lb-add",
                "lb1",
                "10.96.0.1:80",
                "10.5.0.1:8080,10.5.0.2:8080",
                "tcp",
            ],
            &["lb-add", "lb2", "10.96.0.2", "10.5.0.3"],
            &["lb-add", "lb3", "[fd96::1]:53", "[fd05::1]:53", "udp"],
            &["ls-lb-add", "lbs", "lb1"],
            &["ls-lb-add", "lbs", "lb2"],
            &["ls-lb-add", "lbs", "lb3"],
            &["ls-add", "lb2s"],
            &["lsp-add", "lb2s", "m1"],
            &["lsp-set-addresses", "m1", "00:00:00:00:06:01 10.6.0.1"],
            &["lsp-add", "lb2s", "ln"],
            &["lsp-set-type", "ln", "localnet"],
            &["lsp-set-addresses", "ln", "unknown"],
            &["lsp-set-options", "ln", "network_name=phys"],
            &[
                "lb-add",
                "lba",
                "10.97.0.1:80",
                "10.6.0.1:8080,10.6.0.2:8080",
                "tcp",
            ],
            &["set", "load_balancer", "lba", "options:affinity_timeout=60"],
            &["lb-add", "lbr", "10.97.0.2:80", "", "tcp"],
            &["set", "load_balancer", "lbr", "options:reject=true"],
            &["lb-add", "lbe", "10.97.0.3:80", "", "tcp"],
            &["set", "load_balancer", "lbe", "options:event=true"],
            &["lb-add", "lbh", "10.97.0.4:80", "10.6.0.1:80", "tcp"],
            &[
                "set",
                "load_balancer",
                "lbh",
                "options:hairpin_snat_ip=10.6.0.254",
            ],
            &["create", "Load_Balancer_Group", "name=g1"],
            &[
                "add",
                "Load_Balancer_Group",
                "=Load_Balancer_Group/g1",
                "load_balancer",
                "=Load_Balancer/lba",
            ],
            &[
                "add",
                "Load_Balancer_Group",
                "=Load_Balancer_Group/g1",
                "load_balancer",
                "=Load_Balancer/lbr",
            ],
            &[
                "add",
                "logical_switch",
                "lb2s",
                "load_balancer_group",
                "=Load_Balancer_Group/g1",
            ],
            &["ls-lb-add", "lb2s", "lbe"],
            &["ls-lb-add", "lb2s", "lbh"],
            &["ls-add", "plain"],
            &["lsp-add", "plain", "z1"],
            &["lsp-add", "plain", "zln"],
            &["lsp-set-type", "zln", "localnet"],
            &["lsp-set-addresses", "zln", "unknown"],
            &["lsp-set-options", "zln", "network_name=phys"],
        ],
    ));
}

#[test]
fn port_types() {
    assert_full(scenario(
        "port-types",
        &[
            &["ls-add", "pt"],
            &["lsp-add", "pt", "v1"],
            &["lsp-set-addresses", "v1", "00:00:00:00:07:01 10.7.0.1"],
            &["lsp-add", "pt", "v2"],
            &["lsp-set-addresses", "v2", "00:00:00:00:07:02 10.7.0.2"],
            &["lsp-add", "pt", "lp1"],
            &["lsp-set-type", "lp1", "localport"],
            &["lsp-set-addresses", "lp1", "00:00:00:00:07:03 10.7.0.3"],
            &["lsp-add", "pt", "ext1"],
            &["lsp-set-type", "ext1", "external"],
            &["lsp-set-addresses", "ext1", "00:00:00:00:07:04 10.7.0.4"],
            &["lsp-add", "pt", "vip1"],
            &["lsp-set-type", "vip1", "virtual"],
            &["lsp-set-addresses", "vip1", "00:00:00:00:07:05 10.7.0.100"],
            &[
                "lsp-set-options",
                "vip1",
                "virtual-ip=10.7.0.100",
                "virtual-parents=v1,v2,nope",
            ],
            &["lsp-add", "pt", "l2gw"],
            &["lsp-set-type", "l2gw", "l2gateway"],
            &["lsp-set-addresses", "l2gw", "unknown"],
            &[
                "lsp-set-options",
                "l2gw",
                "network_name=phys",
                "l2gateway-chassis=ch1",
            ],
            &["lsp-add", "pt", "ln2"],
            &["lsp-set-type", "ln2", "localnet"],
            &["lsp-set-addresses", "ln2", "unknown"],
            &["lsp-set-options", "ln2", "network_name=phys2"],
            &["set", "logical_switch_port", "ln2", "tag_request=100"],
            &["lsp-add", "pt", "c1", "v1", "10"],
            &["lsp-set-addresses", "c1", "00:00:00:00:07:06 10.7.0.6"],
            &["lsp-add", "pt", "r1"],
            &["lsp-set-type", "r1", "router"],
            &["lsp-set-addresses", "r1", "router"],
            &["lsp-set-options", "r1", "router-port=nowhere"],
            &["lsp-add", "pt", "vt"],
            &["lsp-set-type", "vt", "vtep"],
            &[
                "lsp-set-options",
                "vt",
                "vtep-physical-switch=ps",
                "vtep-logical-switch=ls",
            ],
        ],
    ));
}

#[test]
fn dhcp_and_dns() {
    assert_full(scenario(
        "dhcp-dns",
        &[
            &["ls-add", "dh"],
            &["lsp-add", "dh", "d1"],
            &[
                "lsp-set-addresses",
                "d1",
                "00:00:00:00:08:01 10.8.0.11 fd08::11",
            ],
            &["lsp-add", "dh", "d2"],
            &["lsp-set-addresses", "d2", "00:00:00:00:08:02 10.8.0.12"],
            &["lsp-add", "dh", "d3"],
            &["lsp-set-addresses", "d3", "00:00:00:00:08:03 10.9.0.13"],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.8.0.0/24",
                "external_ids:n=v4",
                "options:lease_time=3600",
                "options:router=10.8.0.1",
                "options:server_id=10.8.0.1",
                "options:server_mac=c0:ff:ee:00:00:01",
                "options:dns_server={8.8.8.8,1.1.1.1}",
                "options:domain_name=\"\\\"ovn.org\\\"\"",
                "options:mtu=1400",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd08\\:\\:/64",
                "external_ids:n=v6",
                "options:server_id=00:00:00:10:00:01",
                "options:dns_server=fd08::1",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd09\\:\\:/64",
                "external_ids:n=v6s",
                "options:server_id=00:00:00:10:00:02",
                "options:dhcpv6_stateless=true",
            ],
            &[
                "set",
                "logical_switch_port",
                "d1",
                "dhcpv4_options=@dhcp4",
                "dhcpv6_options=@dhcp6",
            ],
            &["set", "logical_switch_port", "d2", "dhcpv4_options=@dhcp4"],
            &["set", "logical_switch_port", "d3", "dhcpv4_options=@dhcp4"],
            &[
                "create",
                "DNS",
                "records={\"vm1.ovn.org\"=\"10.8.0.11 fd08::11\",\"vm2.ovn.org\"=\"10.8.0.12\"}",
                "external_ids:n=dns",
            ],
            &["add", "logical_switch", "dh", "dns_records", "@dns"],
            &["lsp-add", "dh", "d4"],
            &[
                "lsp-set-addresses",
                "d4",
                "00:00:00:00:08:04 10.8.0.14 fd09::14",
            ],
            &["set", "logical_switch_port", "d4", "dhcpv6_options=@dhcp6s"],
            &["ls-add", "dh2"],
            &["lsp-add", "dh2", "e1"],
            &["lsp-set-addresses", "e1", "00:00:00:00:09:01 10.8.0.21"],
            &["set", "logical_switch_port", "e1", "dhcpv4_options=@dhcp4"],
            &[
                "acl-add",
                "dh2",
                "from-lport",
                "100",
                "ip4",
                "allow-related",
            ],
            &["add", "logical_switch", "dh2", "dns_records", "@dns"],
            &["ls-add", "ex"],
            &["lsp-add", "ex", "x1"],
            &["lsp-set-type", "x1", "external"],
            &["lsp-set-addresses", "x1", "00:00:00:00:0f:01 10.8.0.31"],
            &["set", "logical_switch_port", "x1", "dhcpv4_options=@dhcp4"],
            &["ha-chassis-group-add", "hg1"],
            &["ha-chassis-group-add-chassis", "hg1", "ch1", "10"],
            &[
                "set",
                "logical_switch_port",
                "x1",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
            &["lsp-add", "ex", "x2"],
            &["lsp-set-type", "x2", "external"],
            &["lsp-set-addresses", "x2", "00:00:00:00:0f:02 10.8.0.32"],
            &["set", "logical_switch_port", "x2", "dhcpv4_options=@dhcp4"],
            &["lsp-add", "ex", "xln"],
            &["lsp-set-type", "xln", "localnet"],
            &["lsp-set-addresses", "xln", "unknown"],
            &["lsp-set-options", "xln", "network_name=phys"],
        ],
    ));
}

#[test]
fn qos() {
    assert_full(scenario(
        "qos",
        &[
            &["ls-add", "qs"],
            &["lsp-add", "qs", "s1"],
            &["lsp-set-addresses", "s1", "00:00:00:00:0a:01 10.10.0.1"],
            &[
                "qos-add",
                "qs",
                "from-lport",
                "100",
                "ip4.src == 10.10.0.1",
                "dscp=10",
            ],
            &[
                "qos-add",
                "qs",
                "to-lport",
                "200",
                "udp",
                "rate=1000",
                "burst=100",
            ],
            &[
                "qos-add",
                "qs",
                "from-lport",
                "300",
                "tcp",
                "dscp=12",
                "rate=2000",
            ],
            &["qos-add", "qs", "to-lport", "400", "icmp4", "dscp=1"],
        ],
    ));
}

#[test]
fn mcast_snoop() {
    assert_full(scenario(
        "mcast-snoop",
        &[
            &["ls-add", "mc"],
            &["lsp-add", "mc", "k1"],
            &["lsp-set-addresses", "k1", "00:00:00:00:0b:01 10.11.0.1"],
            &["lsp-add", "mc", "k2"],
            &["lsp-set-addresses", "k2", "00:00:00:00:0b:02 10.11.0.2"],
            &[
                "set",
                "logical_switch_port",
                "k2",
                "options:mcast_flood=true",
            ],
            &["lsp-add", "mc", "k3"],
            &["lsp-set-addresses", "k3", "unknown"],
            &[
                "set",
                "logical_switch_port",
                "k3",
                "options:mcast_flood_reports=true",
            ],
            &[
                "set",
                "logical_switch",
                "mc",
                "other_config:mcast_snoop=true",
                "other_config:mcast_querier=true",
                "other_config:mcast_eth_src=00:00:00:00:0b:ff",
                "other_config:mcast_ip4_src=10.11.0.254",
                "other_config:mcast_ip6_src=fe80::1",
                "other_config:mcast_idle_timeout=100",
                "other_config:mcast_table_size=100",
            ],
            &["ls-add", "mc2"],
            &["lsp-add", "mc2", "j1"],
            &["lsp-set-addresses", "j1", "00:00:00:00:0c:01"],
            &[
                "set",
                "logical_switch",
                "mc2",
                "other_config:mcast_snoop=true",
                "other_config:mcast_flood_unregistered=true",
                "other_config:mcast_querier=false",
            ],
            &["ls-add", "mc3"],
            &["lsp-add", "mc3", "h1"],
            &[
                "set",
                "logical_switch_port",
                "h1",
                "options:mcast_flood=true",
            ],
            &[
                "set",
                "logical_switch",
                "mc3",
                "other_config:mcast_snoop=true",
            ],
        ],
    ));
}

#[test]
fn ipam() {
    // One transaction, so that real ovn-northd allocates everything in one pass, as ours does.
    assert_full(scenario(
        "ipam",
        &[&[
            "ls-add",
            "ip",
            "--",
            "set",
            "logical_switch",
            "ip",
            "other_config:subnet=10.12.0.0/24",
            "other_config:exclude_ips=10.12.0.3 10.12.0.5..10.12.0.7",
            "other_config:ipv6_prefix=fd12::",
            "--",
            "lsp-add",
            "ip",
            "i1",
            "--",
            "lsp-set-addresses",
            "i1",
            "dynamic",
            "--",
            "lsp-add",
            "ip",
            "i2",
            "--",
            "lsp-set-addresses",
            "i2",
            "00:00:00:00:0c:02 10.12.0.2",
            "--",
            "lsp-add",
            "ip",
            "i3",
            "--",
            "lsp-set-addresses",
            "i3",
            "dynamic",
            "--",
            "lsp-add",
            "ip",
            "i4",
            "--",
            "lsp-set-addresses",
            "i4",
            "0a:0b:0c:0d:0e:0f dynamic",
            "--",
            "lsp-add",
            "ip",
            "i5",
            "--",
            "lsp-set-addresses",
            "i5",
            "dynamic 10.12.0.100",
            "--",
            "lsp-add",
            "ip",
            "i6",
            "--",
            "lsp-set-addresses",
            "i6",
            "dynamic",
            "--",
            "lsp-set-port-security",
            "i6",
            "dynamic",
            "--",
            "ls-add",
            "ip6",
            "--",
            "set",
            "logical_switch",
            "ip6",
            "other_config:ipv6_prefix=fd13::",
            "--",
            "lsp-add",
            "ip6",
            "j1",
            "--",
            "lsp-set-addresses",
            "j1",
            "00:00:00:00:0d:01 dynamic",
            "--",
            "ls-add",
            "macs",
            "--",
            "set",
            "logical_switch",
            "macs",
            "other_config:mac_only=true",
            "other_config:subnet=10.14.0.0/24",
            "--",
            "lsp-add",
            "macs",
            "k1",
            "--",
            "lsp-set-addresses",
            "k1",
            "00:00:00:00:0e:01 dynamic",
        ]],
    ));
}
