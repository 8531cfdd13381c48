//! Parity with real ovn-northd 23.03 on load balancer health checks: `Service_Monitor` rows,
//! the backends a health-checked VIP keeps (monitored ones only), the ARP replies for the
//! monitors' source addresses, on switches and routers (harness in `common`, which compares
//! every flow, the binding rows and the `Service_Monitor` rows).

mod common;

use common::{compare_bindings, compare_flows, nb_snapshot};

fn run(name: &str, script: &[&[&str]]) {
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().chassis("ch1").build().expect("real stack");
    for cmd in script {
        stack.nbctl(*cmd).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    let snapshot = nb_snapshot(&stack);
    let (out, content) = compare_flows(&stack, &snapshot);
    common::print_outcome(name, &out);
    eprintln!("parity {name}: monitors {}", content.service_monitors.len());
    compare_bindings(name, &stack, &content);
    common::check_parses(&content);
    assert!(
        out.ours_only.is_empty() && out.real_only.is_empty(),
        "{name}: flow sets differ (see stderr)"
    );
    assert!(!content.service_monitors.is_empty(), "{name}: no monitor");
}

/// Switches `sw0` (ports p1, p2, dual stack) and `sw1` (port p3), router `lr0` on both, and
/// gateway router `gr` on `sw1`.
const TOPOLOGY: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["lsp-add", "sw0", "p1"],
    &[
        "lsp-set-addresses",
        "p1",
        "50:54:00:00:00:01 10.0.0.11 aef0::11",
    ],
    &["lsp-add", "sw0", "p2"],
    &["lsp-set-addresses", "p2", "50:54:00:00:00:02 10.0.0.12"],
    &["ls-add", "sw1"],
    &["lsp-add", "sw1", "p3"],
    &["lsp-set-addresses", "p3", "50:54:00:00:00:03 20.0.0.13"],
    &["lr-add", "lr0"],
    &[
        "lrp-add",
        "lr0",
        "lr0-sw0",
        "00:00:00:00:00:01",
        "10.0.0.1/24",
        "aef0::1/64",
    ],
    &["lsp-add", "sw0", "sw0-lr0"],
    &["lsp-set-type", "sw0-lr0", "router"],
    &["lsp-set-addresses", "sw0-lr0", "router"],
    &["lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"],
    &[
        "lrp-add",
        "lr0",
        "lr0-sw1",
        "00:00:00:00:00:02",
        "20.0.0.1/24",
    ],
    &["lsp-add", "sw1", "sw1-lr0"],
    &["lsp-set-type", "sw1-lr0", "router"],
    &["lsp-set-addresses", "sw1-lr0", "router"],
    &["lsp-set-options", "sw1-lr0", "router-port=lr0-sw1"],
    &["lr-add", "gr"],
    &["set", "logical_router", "gr", "options:chassis=ch1"],
    &[
        "lrp-add",
        "gr",
        "gr-sw1",
        "00:00:00:00:00:03",
        "20.0.0.2/24",
    ],
    &["lsp-add", "sw1", "sw1-gr"],
    &["lsp-set-type", "sw1-gr", "router"],
    &["lsp-set-addresses", "sw1-gr", "router"],
    &["lsp-set-options", "sw1-gr", "router-port=gr-sw1"],
];

fn with(extra: &[&'static [&'static str]]) -> Vec<&'static [&'static str]> {
    TOPOLOGY
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

#[test]
fn health_checks_on_switches_and_routers() {
    let script = with(&[
        // Four backends: two mapped on sw0, one on sw1 (another switch than the load
        // balancer's), one mapped to a port that does not exist, one not mapped.
        &[
            "lb-add",
            "lb1",
            "10.0.0.101:80",
            "10.0.0.11:80,10.0.0.12:80,20.0.0.13:80,10.0.0.98:80,10.0.0.99:80",
            "tcp",
        ],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"10.0.0.101:80\"",
            "options:interval=5",
            "options:failure_count=3",
            "--",
            "add",
            "Load_Balancer",
            "lb1",
            "health_check",
            "@hc",
        ],
        &[
            "set",
            "load_balancer",
            "lb1",
            "ip_port_mappings:10.0.0.11=p1:10.0.0.1",
            "ip_port_mappings:10.0.0.12=p2:10.0.0.1",
            "ip_port_mappings:20.0.0.13=p3:20.0.0.1",
            "ip_port_mappings:10.0.0.98=nope:10.0.0.1",
        ],
        // A second VIP of the same load balancer without a health check keeps every backend.
        &[
            "set",
            "load_balancer",
            "lb1",
            "vips:\"10.0.0.102:8080\"=\"10.0.0.11:8080,10.0.0.99:8080\"",
        ],
        &["ls-lb-add", "sw0", "lb1"],
        &["lr-lb-add", "lr0", "lb1"],
        &["lr-lb-add", "gr", "lb1"],
        // UDP, with session affinity (its flows list every backend) and reject.
        &[
            "lb-add",
            "lbu",
            "20.0.0.100:53",
            "20.0.0.13:53,20.0.0.99:53",
            "udp",
        ],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"20.0.0.100:53\"",
            "--",
            "add",
            "Load_Balancer",
            "lbu",
            "health_check",
            "@hc",
        ],
        &[
            "set",
            "load_balancer",
            "lbu",
            "ip_port_mappings:20.0.0.13=p3:20.0.0.1",
            "options:affinity_timeout=60",
        ],
        &["ls-lb-add", "sw1", "lbu"],
        &["lr-lb-add", "gr", "lbu"],
        // Only unmonitored backends: dropped, or rejected with options:reject.
        &["lb-add", "lbd", "10.0.0.103:80", "10.0.0.99:80", "tcp"],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"10.0.0.103:80\"",
            "--",
            "add",
            "Load_Balancer",
            "lbd",
            "health_check",
            "@hc",
        ],
        &["ls-lb-add", "sw0", "lbd"],
        &["lb-add", "lbr", "10.0.0.104:80", "10.0.0.99:80", "tcp"],
        &["set", "load_balancer", "lbr", "options:reject=true"],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"10.0.0.104:80\"",
            "--",
            "add",
            "Load_Balancer",
            "lbr",
            "health_check",
            "@hc",
        ],
        &["ls-lb-add", "sw0", "lbr"],
        &["lr-lb-add", "gr", "lbr"],
        // IPv6: never monitored in 23.03.
        &["lb-add", "lb6", "[aef0::100]:80", "[aef0::11]:80", "tcp"],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"[aef0::100]:80\"",
            "--",
            "add",
            "Load_Balancer",
            "lb6",
            "health_check",
            "@hc",
        ],
        &[
            "set",
            "load_balancer",
            "lb6",
            "ip_port_mappings:\"aef0::11\"=\"p1:aef0::1\"",
        ],
        &["ls-lb-add", "sw0", "lb6"],
    ]);
    run("lb-health", &script);
}

/// Found by `parity_random`: an SCTP load balancer is not health checked (every backend kept,
/// no monitor), and a backend mapped to a disabled port is not monitored (so not used) though
/// its monitor source address is still answered.
#[test]
fn health_checks_sctp_and_disabled_port() {
    let script = with(&[
        &["lsp-set-enabled", "p2", "disabled"],
        &[
            "lb-add",
            "lb1",
            "10.0.0.101:80",
            "10.0.0.11:80,10.0.0.12:80",
            "tcp",
        ],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"10.0.0.101:80\"",
            "--",
            "add",
            "Load_Balancer",
            "lb1",
            "health_check",
            "@hc",
        ],
        &[
            "set",
            "load_balancer",
            "lb1",
            "ip_port_mappings:10.0.0.11=p1:10.0.0.2",
            "ip_port_mappings:10.0.0.12=p2:10.0.0.3",
        ],
        &[
            "lb-add",
            "lb2",
            "10.0.0.102:80",
            "10.0.0.11:80,10.0.0.12:80",
            "sctp",
        ],
        &[
            "--id=@hc",
            "create",
            "Load_Balancer_Health_Check",
            "vip=\"10.0.0.102:80\"",
            "--",
            "add",
            "Load_Balancer",
            "lb2",
            "health_check",
            "@hc",
        ],
        &[
            "set",
            "load_balancer",
            "lb2",
            "ip_port_mappings:10.0.0.11=p1:10.0.0.2",
        ],
        &["ls-lb-add", "sw0", "lb1"],
        &["ls-lb-add", "sw0", "lb2"],
        &["lr-lb-add", "lr0", "lb2"],
    ]);
    run("health-sctp-disabled", &script);
}
