//! Randomized differential parity with real ovn-northd 23.03: random but valid ovn-nbctl scripts
//! (switches with every port type, IPv4, IPv6-only and dual-stack ports, port security
//! variants; routers with several networks per port, gateway routers with the OVN-Kubernetes
//! options, one or several distributed gateway ports, routes (ECMP, route tables, BFD, IPv6),
//! policies, NAT (port ranges, stateless, add_route, gateway_port, exempted/allowed external
//! IPs); load balancers and groups with their options, dual-stack and empty VIPs, health
//! checks and templates; ACLs with logging, labels, log-related and default drop; QoS, DHCPv4
//! and DHCPv6 options, DNS, multicast, forwarding groups, static MAC bindings, CoPP, chassis
//! with and without features) are built on a real stack, compiled by both northds and compared
//! with the shared harness (`common`).
//!
//! `random_cases` is ignored by default: `cargo test -p northd --test parity_random --
//! --ignored --nocapture`, with `PARITY_RANDOM_CASES=N` (default 20) and
//! `PARITY_RANDOM_SEED=S` (first seed, default 1; case `k` uses seed `S + k`). A mismatching
//! case prints its seed and script, then shrinks the script (dropping commands while the same
//! kind of mismatch persists and every command still succeeds) and prints the minimal one.
//! `PARITY_RANDOM_DENSE=1` takes every rare choice (below 30%) three times as often: fewer
//! cases, more features each.
//! `random_fixed_seeds` runs a few fixed seeds always.

mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{check_parses, compare_bindings, compare_flows, nb_snapshot};
use testkit::nbscript;
use testkit::nbscript::Finding as _;

/// What a case's comparison found: nothing, flows only one side has (with their stages), or a
/// failed row check (its first line).
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Clean,
    Flows(BTreeSet<String>, String),
    Rows(String, String),
}

impl nbscript::Finding for Verdict {
    /// The same kind of mismatch (for shrinking): a stage in common, or the same row check.
    fn same_kind(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Flows(a, _), Self::Flows(b, _)) => a.intersection(b).next().is_some(),
            (Self::Rows(a, _), Self::Rows(b, _)) => a == b,
            _ => false,
        }
    }
    fn detail(&self) -> &str {
        match self {
            Self::Clean => "",
            Self::Flows(_, d) | Self::Rows(_, d) => d,
        }
    }
}

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Runs `script` on a fresh real stack and compares. `Err(i)` if command `i` fails.
fn run_case(ovn: &testkit::Toolbox, script: &[Vec<String>]) -> Result<Verdict, usize> {
    let stack = ovn.stack().no_chassis().build().expect("real stack");
    nbscript::run_script(&stack, script, true)?;
    if let Err(e) = stack.wait_sb() {
        // Real ovn-northd never caught up (it may loop on some NB contents).
        let text = format!("real ovn-northd did not catch up: {e}");
        let first = text.chars().take(60).collect();
        return Ok(Verdict::Rows(first, text));
    }
    let snapshot = nb_snapshot(&stack);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(|| {
        // No `check_ipam`: real ovn-northd allocated one command at a time, in creation
        // order, where a from-scratch allocation goes by NB order (the flows compare against
        // the allocations real ovn-northd made).
        let (out, content) = compare_flows(&stack, &snapshot);
        // Warnings (e.g. a static route without a path) are NB problems real ovn-northd logs
        // too: only the output counts.
        check_parses(&content);
        if !out.ours_only.is_empty() || !out.real_only.is_empty() {
            let stages: BTreeSet<String> = out
                .ours_only
                .iter()
                .chain(&out.real_only)
                .map(|f| f.1.clone())
                .collect();
            let mut d = String::new();
            for f in &out.ours_only {
                d.push_str(&format!("  ours-only: {f:?}\n"));
            }
            for f in &out.real_only {
                d.push_str(&format!("  real-only: {f:?}\n"));
            }
            return Verdict::Flows(stages, d);
        }
        compare_bindings("random", &stack, &content);
        Verdict::Clean
    }));
    std::panic::set_hook(prev);
    Ok(match r {
        Ok(v) => v,
        Err(e) => {
            let text = panic_text(&*e);
            let first = text.lines().next().unwrap_or_default().to_owned();
            Verdict::Rows(first, text)
        }
    })
}

/// Generates and checks cases `first..first + n`; returns the seeds that mismatched.
fn run_seeds(seeds: std::ops::Range<u64>, do_shrink: bool) -> Vec<u64> {
    let ovn = testkit::require_or_skip!(Vec::new());
    let mut bad = Vec::new();
    for seed in seeds {
        let mut script = nbscript::generate(seed);
        // Generated commands that fail (e.g. a reference that does not resolve) are dropped.
        let verdict = loop {
            match run_case(&ovn, &script) {
                Ok(v) => break v,
                Err(i) => {
                    eprintln!("seed {seed}: dropping failing command {:?}", script[i]);
                    script.remove(i);
                }
            }
        };
        if verdict == Verdict::Clean {
            eprintln!("seed {seed}: clean ({} commands)", script.len());
            continue;
        }
        bad.push(seed);
        eprintln!(
            "seed {seed}: MISMATCH\n{}script:\n{}",
            verdict.detail(),
            nbscript::show(&script)
        );
        if do_shrink {
            nbscript::print_minimal(seed, script, &verdict, |cand| run_case(&ovn, cand).ok());
        }
    }
    bad
}

#[test]
#[ignore]
fn random_cases() {
    let (seeds, shrink) = nbscript::seeds_from_env();
    let (first, n) = (seeds.start, seeds.end - seeds.start);
    let bad = run_seeds(seeds, shrink);
    eprintln!("random parity: {n} cases from seed {first}, mismatching seeds {bad:?}");
    assert!(bad.is_empty(), "mismatching seeds {bad:?}");
}

#[test]
fn random_fixed_seeds() {
    let bad = run_seeds(1..4, false);
    assert!(bad.is_empty(), "mismatching seeds {bad:?}");
}
