//! The whole real OVN stack on our servers: real ovn-northd with NB and SB served by ovnkit, real
//! ovn-controller on our SB, real ovs-vswitchd on our Open_vSwitch database. Logical flows, OpenFlow
//! flows and `ofproto/trace` results equal those of the all-real stack.

use crate::harness::{self, OurServer};

/// Two switches, a router, ACLs and a load balancer; tunnel keys and the service monitor MAC are
/// pinned so that the two stacks are comparable.
const SCENARIO: &[&[&str]] = &[
    &[
        "set",
        "NB_Global",
        ".",
        "options:svc_monitor_mac=0a:00:00:00:00:99",
    ],
    &[
        "ls-add",
        "sw0",
        "--",
        "set",
        "Logical_Switch",
        "sw0",
        "other_config:requested-tnl-key=1",
    ],
    &[
        "ls-add",
        "sw1",
        "--",
        "set",
        "Logical_Switch",
        "sw1",
        "other_config:requested-tnl-key=2",
    ],
    &[
        "lr-add",
        "lr0",
        "--",
        "set",
        "Logical_Router",
        "lr0",
        "options:requested-tnl-key=3",
    ],
    &[
        "lsp-add",
        "sw0",
        "p1",
        "--",
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.11",
        "--",
        "set",
        "Logical_Switch_Port",
        "p1",
        "options:requested-tnl-key=1",
    ],
    &[
        "lsp-add",
        "sw0",
        "p2",
        "--",
        "lsp-set-addresses",
        "p2",
        "00:00:00:00:00:02 10.0.0.12",
        "--",
        "set",
        "Logical_Switch_Port",
        "p2",
        "options:requested-tnl-key=2",
    ],
    &[
        "lsp-add",
        "sw1",
        "p3",
        "--",
        "lsp-set-addresses",
        "p3",
        "00:00:00:00:01:03 10.0.1.13",
        "--",
        "set",
        "Logical_Switch_Port",
        "p3",
        "options:requested-tnl-key=1",
    ],
    &[
        "lrp-add",
        "lr0",
        "lrp0",
        "00:00:00:00:ff:01",
        "10.0.0.1/24",
        "--",
        "set",
        "Logical_Router_Port",
        "lrp0",
        "options:requested-tnl-key=1",
    ],
    &[
        "lrp-add",
        "lr0",
        "lrp1",
        "00:00:00:00:ff:02",
        "10.0.1.1/24",
        "--",
        "set",
        "Logical_Router_Port",
        "lrp1",
        "options:requested-tnl-key=2",
    ],
    &[
        "lsp-add",
        "sw0",
        "sw0-lr0",
        "--",
        "set",
        "Logical_Switch_Port",
        "sw0-lr0",
        "type=router",
        "options:router-port=lrp0",
        "options:requested-tnl-key=3",
        "--",
        "lsp-set-addresses",
        "sw0-lr0",
        "router",
    ],
    &[
        "lsp-add",
        "sw1",
        "sw1-lr0",
        "--",
        "set",
        "Logical_Switch_Port",
        "sw1-lr0",
        "type=router",
        "options:router-port=lrp1",
        "options:requested-tnl-key=3",
        "--",
        "lsp-set-addresses",
        "sw1-lr0",
        "router",
    ],
    &[
        "acl-add",
        "sw0",
        "to-lport",
        "1000",
        "ip4.src == 10.0.1.13 && tcp.dst == 22",
        "drop",
    ],
    &[
        "acl-add",
        "sw0",
        "from-lport",
        "900",
        "ip4",
        "allow-related",
    ],
    &["acl-add", "sw1", "to-lport", "800", "icmp4", "allow"],
    &[
        "lb-add",
        "lb0",
        "10.0.0.100:80",
        "10.0.0.11:8080,10.0.0.12:8080",
        "tcp",
    ],
    &["ls-lb-add", "sw0", "lb0"],
    &["lr-lb-add", "lr0", "lb0"],
];

const PACKETS: &[&str] = &[
    // p1 -> p2, same switch.
    "in_port=P1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,tcp,nw_src=10.0.0.11,nw_dst=10.0.0.12,tp_src=1000,tp_dst=80",
    // p1 -> p3 through the router.
    "in_port=P1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:ff:01,icmp,nw_src=10.0.0.11,nw_dst=10.0.1.13,nw_ttl=64",
    // p3 -> p1 ssh: dropped by the to-lport ACL.
    "in_port=P3,dl_src=00:00:00:00:01:03,dl_dst=00:00:00:00:ff:02,tcp,nw_src=10.0.1.13,nw_dst=10.0.0.11,tp_src=1000,tp_dst=22,nw_ttl=64",
    // p1 -> load balancer VIP.
    "in_port=P1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,tcp,nw_src=10.0.0.11,nw_dst=10.0.0.100,tp_src=1000,tp_dst=80",
    // ARP for the router port.
    "in_port=P1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_spa=10.0.0.11,arp_tpa=10.0.0.1,arp_op=1",
    // Port security: wrong source MAC on p2.
    "in_port=P2,dl_src=00:00:00:00:00:99,dl_dst=00:00:00:00:00:01,tcp,nw_src=10.0.0.12,nw_dst=10.0.0.11,tp_dst=80",
];

/// Replaces the digits after each of `keys` by `N`.
fn mask_numbers(text: &str, keys: &[&str]) -> String {
    let mut out = text.to_owned();
    for key in keys {
        let mut res = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(key) {
            res.push_str(&rest[..i + key.len()]);
            rest = &rest[i + key.len()..];
            let n = rest
                .find(|c: char| !(c.is_ascii_hexdigit() || c == 'x'))
                .unwrap_or(rest.len());
            if n > 0 {
                res.push('N');
            }
            rest = &rest[n..];
        }
        res.push_str(rest);
        out = res;
    }
    out
}

/// Conntrack zones (`reg11`/`reg12` per datapath, `reg13` per port) are allocated by
/// ovn-controller in hash order, which differs from run to run even on the all-real stack.
fn mask_zone_registers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("set_field:0x") {
        let after = &rest[i + "set_field:0x".len()..];
        let n = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        let tail = &after[n..];
        if ["->reg11", "->reg12", "->reg13"]
            .iter()
            .any(|r| tail.starts_with(r))
        {
            out.push_str(&rest[..i]);
            out.push_str("set_field:ZONE");
        } else {
            out.push_str(&rest[..i + "set_field:0x".len() + n]);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Multicast group flows (`reg15=0x8...`) output to the group's ports in the order of the SB
/// `Multicast_Group.ports` set, i.e. of random row UUIDs: sort the per-port action chunks.
fn sort_multicast_chunks(line: String) -> String {
    if !line.contains("reg15=0x80") {
        return line;
    }
    let Some((head, actions)) = line.split_once(" actions=") else {
        return line;
    };
    let mut chunks = Vec::new();
    let mut rest = actions;
    while let Some(i) = rest.find("resubmit(,") {
        let end = rest[i..].find(')').map_or(rest.len(), |e| i + e + 1);
        chunks.push(rest[..end].trim_start_matches(',').to_owned());
        rest = &rest[end..];
    }
    chunks.sort();
    format!("{head} actions={}{rest}", chunks.join(","))
}

struct Observed {
    lflows: Vec<String>,
    flows: Vec<String>,
    traces: Vec<String>,
}

fn observe(stack: &testkit::Stack) -> Observed {
    for cmd in SCENARIO {
        stack.nbctl(cmd.iter()).unwrap();
    }
    let ports = [
        stack.bind_port("vif1", "p1").unwrap(),
        stack.bind_port("vif2", "p2").unwrap(),
        stack.bind_port("vif3", "p3").unwrap(),
    ];
    stack.wait_hv().unwrap();
    let mut lflows: Vec<String> = stack
        .logical_flows()
        .unwrap()
        .into_iter()
        .map(|f| {
            format!(
                "{} {:?} {} {} {} match=({}) actions=({})",
                f.datapath, f.pipeline, f.table, f.stage, f.priority, f.match_expr, f.actions
            )
        })
        .collect();
    lflows.sort();
    let dump = stack.dump_flows().unwrap();
    let mut flows: Vec<String> = dump
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = sort_multicast_chunks(mask_zone_registers(l.trim()));
            mask_numbers(
                &l,
                &[
                    "reg13=0x",
                    "reg11=0x",
                    "reg12=0x",
                    "cookie=0x",
                    "conjunction(",
                    "conj_id=",
                    "group:",
                    "group_id=",
                    "meter_id=",
                    "meter:",
                ],
            )
        })
        .collect();
    flows.sort();
    let traces = PACKETS
        .iter()
        .map(|p| {
            let flow = p
                .replace("P1", &ports[0].ofport.to_string())
                .replace("P2", &ports[1].ofport.to_string())
                .replace("P3", &ports[2].ofport.to_string());
            let t = stack.ofproto_trace(&flow).unwrap();
            mask_numbers(t.datapath_actions(), &["recirc(0x", "zone="])
        })
        .collect();
    Observed {
        lflows,
        flows,
        traces,
    }
}

fn diff_lists(what: &str, want: &[String], got: &[String]) -> Option<String> {
    if want == got {
        return None;
    }
    let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).take(20).collect();
    let extra: Vec<&String> = got.iter().filter(|g| !want.contains(g)).take(20).collect();
    Some(format!(
        "{what}: {} real vs {} ours\nonly real: {missing:#?}\nonly ours: {extra:#?}",
        want.len(),
        got.len()
    ))
}

#[test]
fn real_ovn_stack_on_our_servers() {
    let ovn = testkit::require_or_skip!();
    let want = {
        let stack = ovn.stack().build().unwrap();
        observe(&stack)
    };
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let sb = ovn.schema(testkit::Schema::Southbound).unwrap();
    let vs = ovn.schema(testkit::Schema::OpenVswitch).unwrap();
    let central = OurServer::start(&[&nb, &sb]);
    let local = OurServer::start(&[&vs]);
    let stack = ovn
        .stack()
        .nb(testkit::DbSource::External {
            remote: central.remote(),
        })
        .sb(testkit::DbSource::External {
            remote: central.remote(),
        })
        .open_vswitch(testkit::DbSource::External {
            remote: local.remote(),
        })
        .build()
        .unwrap();
    let got = observe(&stack);
    if std::env::var_os("OVNKIT_SHOW").is_some() {
        for c in [
            testkit::Component::Controller,
            testkit::Component::Northd,
            testkit::Component::Vswitchd,
        ] {
            if let Some(d) = stack.daemon(c) {
                eprintln!("=== {c:?}\n{}", d.log_tail());
            }
        }
        eprintln!("{}", stack.sbctl(["show"]).unwrap_or_default());
        eprintln!("{}", stack.vsctl(["show"]).unwrap_or_default());
    }
    let problems: Vec<String> = [
        diff_lists("logical flows", &want.lflows, &got.lflows),
        diff_lists("OpenFlow flows", &want.flows, &got.flows),
        diff_lists("ofproto/trace datapath actions", &want.traces, &got.traces),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(
        want.lflows.len() > 100 && want.flows.len() > 100,
        "scenario too small"
    );
    assert!(
        want.traces.iter().any(|t| t.contains("drop")) || want.traces.iter().any(|t| t.is_empty())
    );
    eprintln!(
        "equal: {} logical flows, {} OpenFlow flows, {} traces",
        want.lflows.len(),
        want.flows.len(),
        want.traces.len()
    );
    drop(harness::erase_uuids(""));
}
