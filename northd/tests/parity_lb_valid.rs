//! Parity with real ovn-northd 23.03 on load balancer `vips` entries it rejects and on
//! template load balancers (`options:template=true`), on switches, gateway routers and routers
//! with a distributed gateway port (harness in `common`).
//!
//! The entries are written with `ovn-nbctl set` (which, unlike `lb-add`, does not check them),
//! so ours must leave out exactly the entries real ovn-northd leaves out (and report each one
//! as a warning), and write the template VIPs, ports and backends into the flows as text.

mod common;

use common::{compare_bindings, compare_flows, nb_snapshot, resolve_arg};
use northd::SbContent;

/// Runs `setup` (nbctl commands) on a real stack and compares every flow and SB binding row;
/// ours must report exactly `bad_vips` load balancer `vips` entries.
fn run(name: &str, setup: &[Vec<String>], bad_vips: usize) {
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().no_chassis().build().expect("real stack");
    for cmd in setup {
        let args: Vec<String> = cmd.iter().map(|a| resolve_arg(&stack, a)).collect();
        stack.nbctl(&args).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    let snapshot = nb_snapshot(&stack);
    let (out, content) = compare_flows(&stack, &snapshot);
    check_parses_untemplated(&content);
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
    for w in &content.warnings {
        eprintln!("  warning: {w}");
    }
    compare_bindings(name, &stack, &content);
    let vip_warnings = content
        .warnings
        .iter()
        .filter(|w| w.to_string().contains("vips"))
        .count();
    assert_eq!(vip_warnings, bad_vips, "{name}: rejected VIPs reported");
    assert!(
        out.ours_only.is_empty() && out.real_only.is_empty(),
        "{name}: flow sets differ: {} equal, {} ours-only, {} real-only (see stderr)",
        out.equal,
        out.ours_only.len(),
        out.real_only.len()
    );
}

/// Our flows parse, except those with template variables (`^NAME`), which ovn-controller
/// expands per chassis before parsing.
fn check_parses_untemplated(content: &SbContent) {
    use flowcompile::actions::{parse_actions, ParseContext, Pipeline};
    use flowcompile::debug::{run, Pass};
    let mut bad = Vec::new();
    for (k, _) in content.flows.iter() {
        if k.match_.contains('^') || k.actions.contains('^') {
            continue;
        }
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

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A switch `sw` with a VIF and a port to router port `lrp` (when given).
fn switch(sw: &str, lrp: Option<&str>) -> Vec<Vec<String>> {
    let vif = format!("{sw}-vm");
    let mut c = vec![
        cmd(&["ls-add", sw]),
        cmd(&["lsp-add", sw, &vif]),
        cmd(&["lsp-set-addresses", &vif, "00:00:00:00:aa:01 10.0.0.2"]),
    ];
    if let Some(lrp) = lrp {
        let lsp = format!("{sw}-{lrp}");
        c.push(cmd(&["lsp-add", sw, &lsp]));
        c.push(cmd(&["lsp-set-type", &lsp, "router"]));
        c.push(cmd(&["lsp-set-addresses", &lsp, "router"]));
        c.push(cmd(&[
            "lsp-set-options",
            &lsp,
            &format!("router-port={lrp}"),
        ]));
    }
    c
}

/// Switch `sw0` (no router), gateway router `gr` on switch `sw1`, and router `dr` with a
/// distributed gateway port on switch `sw2`, each dual stack.
fn topology() -> Vec<Vec<String>> {
    let mut c = switch("sw0", None);
    c.push(cmd(&["lr-add", "gr"]));
    c.push(cmd(&["set", "logical_router", "gr", "options:chassis=ch1"]));
    c.push(cmd(&[
        "lrp-add",
        "gr",
        "gr-sw1",
        "00:00:00:00:01:01",
        "10.0.1.1/24",
        "fd01::1/64",
    ]));
    c.extend(switch("sw1", Some("gr-sw1")));
    c.push(cmd(&["lr-add", "dr"]));
    c.push(cmd(&[
        "lrp-add",
        "dr",
        "dr-sw2",
        "00:00:00:00:02:01",
        "10.0.2.1/24",
        "fd02::1/64",
    ]));
    c.push(cmd(&["lrp-set-gateway-chassis", "dr-sw2", "ch1", "10"]));
    c.extend(switch("sw2", Some("dr-sw2")));
    c
}

/// Creates load balancer `name` (protocol `proto`) with one valid VIP, then sets its `vips`
/// entries and options as written (unchecked), and attaches it to `sw0`, `gr` and `dr`.
fn lb(name: &str, proto: &str, vips: &[(&str, &str)], options: &[&str]) -> Vec<Vec<String>> {
    let mut c = vec![cmd(&["lb-add", name, "192.0.2.1:1", "192.0.2.2:1", proto])];
    c.push(cmd(&["clear", "load_balancer", name, "vips"]));
    for (k, v) in vips {
        c.push(cmd(&[
            "set",
            "load_balancer",
            name,
            &format!("vips:\"{k}\"=\"{v}\""),
        ]));
    }
    for o in options {
        c.push(cmd(&[
            "set",
            "load_balancer",
            name,
            &format!("options:{o}"),
        ]));
    }
    c.push(cmd(&["ls-lb-add", "sw0", name]));
    c.push(cmd(&["lr-lb-add", "gr", name]));
    c.push(cmd(&["lr-lb-add", "dr", name]));
    c
}

/// Entries ovn-northd 23.03 rejects (backends of the other family, a port on one side only,
/// backends that do not parse, space-padded or port-0 forms) next to valid ones, IPv4 and
/// IPv6, and a load balancer whose every entry is rejected.
#[test]
fn rejected_vips() {
    let mut c = topology();
    let vips = [
        // Valid.
        ("10.96.0.1:80", "10.0.0.2:8080,10.0.0.3:8080"),
        ("10.96.0.8:0", "10.0.0.2"),
        ("10.96.0.11:80", ""),
        ("[fd96::a]", "fd00::2"),
        ("[fd96::b]:80", "[fd00::2]:8080,[fd00::3]:8080"),
        ("fd96::c", "[fd00::2]"),
        // Rejected.
        ("10.96.0.2:80", "10.0.0.2"),
        ("10.96.0.3", "10.0.0.2:80"),
        ("10.96.0.4:80", "[fd00::2]:80"),
        ("[fd96::5]:80", "10.0.0.2:80"),
        ("10.96.0.6:80", "10.0.0.2:80, 10.0.0.3:80"),
        (" 10.96.0.7:80", "10.0.0.2:80"),
        ("10.96.0.12:80", "10.0.0.2:80,junk"),
        ("10.96.0.13:0", "10.0.0.2:80"),
        ("10.96.0.14:80", "10.0.0.2:0"),
        ("10.96.0.15:x", "10.0.0.2"),
        ("[fd96::d]:80", "[fd00::2]"),
    ];
    c.extend(lb("lb_mixed", "tcp", &vips, &["reject=true"]));
    c.extend(lb(
        "lb_bad",
        "udp",
        &[("10.96.1.1:53", "10.0.0.2"), ("10.96.1.2", "[fd00::2]")],
        &["event=true"],
    ));
    // A load balancer without VIPs at all, with `skip_snat`.
    c.extend(lb("lb_empty", "tcp", &[], &["skip_snat=true"]));
    run("lb-rejected-vips", &c, 13);
}

/// A gateway router whose only load balancer has only rejected entries: still a router with
/// load balancer VIPs for ovn-northd (`has_lb_vip` counts the NB entries).
#[test]
fn only_rejected_vips() {
    let mut c = topology();
    c.extend(lb(
        "lb_bad",
        "tcp",
        &[
            ("10.96.1.1:80", "10.0.0.2"),
            ("[fd96::1]:80", "10.0.0.2:80"),
        ],
        &["skip_snat=true"],
    ));
    run("lb-only-rejected-vips", &c, 2);
}

/// Template load balancers: `^VIP[:PORT]` keys, template backends (`^BACKENDS`,
/// `^IP:^PORT`, `IP:PORT` as words) and explicit ones (IPv6 in brackets), IPv4 and IPv6
/// address families, VIPs without backends (drop, reject, event), `skip_snat`, session
/// affinity, rejected entries.
#[test]
fn template_lbs() {
    let mut c = topology();
    c.extend(lb(
        "lbt4",
        "udp",
        &[
            ("^VIP:^PORT", "^BK"),
            ("^VIP2:80", "^IP:^PORT,^IP2:8080"),
            ("^VIP3", "^B3"),
            ("^VIP4:80", "10.0.0.2:8080"),
            ("^VIP5:80", ""),
            ("10.96.2.1:80", "10.0.0.2:8080"),
            ("^BAD:80", "^A:b:c"),
            ("^BAD2:80:90", "^B"),
        ],
        &["template=true", "event=true"],
    ));
    c.extend(lb(
        "lbt6",
        "tcp",
        &[
            ("^V6:80", "[fd00::2]:8080,[fd00::3]:8080"),
            ("^V6B:80", "^B6"),
            ("^V6D:80", ""),
            ("^V6BAD:80", "10.0.0.2:8080,^A:b:c"),
        ],
        &[
            "template=TRUE",
            "address-family=ipv6",
            "reject=true",
            "neighbor_responder=all",
        ],
    ));
    c.extend(lb(
        "lbt_skip",
        "tcp",
        &[("^VS:80", "^BS:^PS"), ("^VS2", "^BS2,^BS3")],
        &["template=true", "skip_snat=true", "affinity_timeout=60"],
    ));
    // An explicit load balancer with session affinity next to them, a VIP without a port.
    c.extend(lb(
        "lb_aff",
        "tcp",
        &[
            ("10.96.3.1", "10.0.0.2,10.0.0.3"),
            ("10.96.3.2:80", "10.0.0.2:8080"),
        ],
        &["affinity_timeout=30"],
    ));
    run("lb-templates", &c, 3);
}
