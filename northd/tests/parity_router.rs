//! Parity with real ovn-northd 23.03 on basic router scenarios (harness in `common`).

mod common;

use common::{assert_full, scenario};

/// A router with a dual-stack port towards a switch and an IPv4 port with no peer.
#[test]
fn basic_router() {
    assert_full(scenario(
        "basic-router",
        &[
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "r1-s1",
                "00:00:00:00:01:01",
                "10.0.1.1/24",
                "fd01::1/64",
            ],
            &["lrp-add", "r1", "r1-s2", "00:00:00:00:01:02", "10.0.2.1/24"],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "router"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:11 10.0.1.11"],
        ],
    ));
}
