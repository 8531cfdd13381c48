//! Scale check (ignored by default; run with `cargo test --release -p northd --test scale --
//! --ignored --nocapture`): 500 switches x 50 ports, 2,000 ACLs in port groups, 1,000 load
//! balancers in one group attached to every switch — the switches-only benchmark shape.

use std::time::Instant;

mod shapes;

use northd::{build, SbState};

#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn switches_only_cluster() {
    let nb = shapes::switches_only();
    let t = Instant::now();
    let content = build(&nb, &SbState::default());
    let dt = t.elapsed();
    let expanded: usize = content.flows.iter().map(|(_, d)| d.len()).sum();
    eprintln!(
        "build: {:?}; {} distinct flows ({} per datapath), {} ports, {} warnings",
        dt,
        content.flows.len(),
        expanded,
        content.ports.len(),
        content.warnings.len()
    );
    let t = Instant::now();
    let ops = northd::diff::diff(&northd::diff::SbRows::default(), &content).unwrap();
    eprintln!(
        "diff against empty SB: {:?}, {} ops",
        t.elapsed(),
        ops.len()
    );
}
