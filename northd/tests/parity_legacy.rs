//! Parity with real ovn-northd 23.03 when a chassis publishes no features (an ovn-controller
//! older than 22.06): `ct_lb` instead of `ct_lb_mark`, conntrack bits in `ct_label`, related
//! traffic not committed with `ct_commit_nat`, no SNAT argument on router `ct_lb`. (Every other
//! parity scenario can run this way too: `PARITY_LEGACY_CHASSIS=1 cargo test -p northd --test
//! 'parity*'`.) The router's ports are created in name order, so that real ovn-northd's port keys
//! (creation order) agree with ours (name order, from an empty SB).

mod common;

use common::{compare_bindings, compare_flows, legacy_chassis, nb_snapshot};

/// Switches with ACLs (allow-related, drop, reject, port groups), load balancers (one with
/// affinity) on switches and a gateway router with `lb_force_snat_ip`, `skip_snat`, NAT and
/// ECMP symmetric reply routes.
const SCRIPT: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["lsp-add", "sw0", "p1"],
    &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
    &["lsp-add", "sw0", "p2"],
    &["lsp-set-addresses", "p2", "00:00:00:00:00:02 10.0.0.2"],
    &["ls-add", "sw1"],
    &["lsp-add", "sw1", "q1"],
    &["lsp-set-addresses", "q1", "00:00:00:00:01:01 10.0.1.1"],
    &["pg-add", "pg1", "p1", "p2"],
    &[
        "acl-add",
        "pg1",
        "from-lport",
        "1001",
        "ip4 && tcp",
        "allow-related",
    ],
    &["acl-add", "pg1", "to-lport", "1002", "ip4 && udp", "drop"],
    &[
        "acl-add",
        "sw0",
        "to-lport",
        "900",
        "tcp.dst == 81",
        "reject",
    ],
    &[
        "lb-add",
        "lb0",
        "10.0.0.100:80",
        "10.0.0.1:8080,10.0.0.2:8080",
        "tcp",
    ],
    &["ls-lb-add", "sw0", "lb0"],
    &["lb-add", "lb1", "172.16.0.10:80", "10.0.1.1:80", "tcp"],
    &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
    &["ls-lb-add", "sw1", "lb1"],
    &["lb-add", "lb2", "172.16.0.11:80", "10.0.1.1:80", "tcp"],
    &["set", "load_balancer", "lb2", "options:skip_snat=true"],
    &["lr-add", "gr0"],
    &[
        "set",
        "logical_router",
        "gr0",
        "options:chassis=legacy",
        "options:lb_force_snat_ip=router_ip",
    ],
    &[
        "lrp-add",
        "gr0",
        "gr0-ext",
        "00:00:00:00:ee:02",
        "172.16.1.1/24",
    ],
    &[
        "lrp-add",
        "gr0",
        "gr0-sw1",
        "00:00:00:00:ee:01",
        "10.0.1.254/24",
    ],
    &["lsp-add", "sw1", "sw1-gr0"],
    &["lsp-set-type", "sw1-gr0", "router"],
    &["lsp-set-addresses", "sw1-gr0", "router"],
    &["lsp-set-options", "sw1-gr0", "router-port=gr0-sw1"],
    &["lr-lb-add", "gr0", "lb1"],
    &["lr-lb-add", "gr0", "lb2"],
    &["lr-nat-add", "gr0", "snat", "172.16.1.1", "10.0.0.0/16"],
    &[
        "lr-nat-add",
        "gr0",
        "dnat_and_snat",
        "172.16.1.2",
        "10.0.1.1",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gr0",
        "0.0.0.0/0",
        "172.16.1.200",
    ],
    &[
        "--ecmp-symmetric-reply",
        "lr-route-add",
        "gr0",
        "0.0.0.0/0",
        "172.16.1.201",
    ],
];

#[test]
fn chassis_without_features() {
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().no_chassis().build().expect("real stack");
    legacy_chassis(&stack);
    for cmd in SCRIPT {
        stack.nbctl(*cmd).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    let snapshot = nb_snapshot(&stack);
    let (out, content) = compare_flows(&stack, &snapshot);
    common::print_outcome("legacy", &out);
    compare_bindings("legacy", &stack, &content);
    common::check_parses(&content);
    assert!(
        out.ours_only.is_empty() && out.real_only.is_empty(),
        "legacy: flow sets differ (see stderr)"
    );
    let text: Vec<String> = common::our_flows(&content)
        .into_iter()
        .map(|f| format!("{} {}", f.3, f.4))
        .collect();
    assert!(text.iter().any(|t| t.contains("ct_lb(backends=")));
    assert!(text.iter().any(|t| t.contains("ct_label.blocked")));
    assert!(text.iter().any(|t| t.contains("ct_label.ecmp_reply_port")));
}
