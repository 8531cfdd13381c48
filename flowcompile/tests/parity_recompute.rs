//! Logical flows that real ovn-northd emits with the same datapaths, table, priority and match
//! but different actions, checked against the real ovn-controller 23.03 after a full
//! recompute (`inc-engine/recompute`): it installs the rule of one of them, and after a
//! recompute that is the one `compile_chassis_flows` keeps (its rule is in
//! `tests/same_match.rs`).  Without the recompute, ovn-controller keeps the rule of the flow it
//! met first while applying SB changes one by one, which depends on the order the changes came
//! in, not on SB content; `conflicts_incremental` reports how many such choices then differ.

mod common;

use common::{check, run_scenario};

/// Conflicting logical flows of several kinds: two virtual ports with one VIP and the same
/// parents (`bind_vport`), two load balancers with affinity and a backend in common, two
/// routers with the same NAT address on one switch, a distributed gateway port here with NAT
/// and a load balancer, IPv4 and IPv6.
const CONFLICTS: &str = r#"
nb ls-add sw0 -- set Logical_Switch sw0 other_config:subnet=10.0.0.0/24
nb lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11"
nb lsp-add sw0 vm2 -- lsp-set-addresses vm2 "00:00:00:00:01:02 10.0.0.12 fd00::12"
nb lsp-add sw0 vm3 -- lsp-set-addresses vm3 "00:00:00:00:01:03 10.0.0.13"
nb lsp-add sw0 vip1 -- lsp-set-type vip1 virtual -- lsp-set-options vip1 virtual-ip=10.0.0.100 virtual-parents=vm1,vm2
nb lsp-add sw0 vip2 -- lsp-set-type vip2 virtual -- lsp-set-options vip2 virtual-ip=10.0.0.100 virtual-parents=vm1,vm2
nb lsp-add sw0 vip3 -- lsp-set-type vip3 virtual -- lsp-set-options vip3 virtual-ip=10.0.0.100 virtual-parents=vm2,vm3
nb lb-add lba 10.96.0.10:80 10.0.0.11:8080,10.0.0.12:8080 tcp -- set Load_Balancer lba options:affinity_timeout=60
nb lb-add lbb 10.96.0.11:80 10.0.0.11:8080,10.0.0.13:8080 tcp -- set Load_Balancer lbb options:affinity_timeout=120
nb lb-add lbc [fd96::10]:80 [fd00::11]:8080,[fd00::12]:8080 tcp -- set Load_Balancer lbc options:affinity_timeout=30
nb lb-add lbd [fd96::11]:80 [fd00::11]:8080 tcp -- set Load_Balancer lbd options:affinity_timeout=30
nb ls-lb-add sw0 lba -- ls-lb-add sw0 lbb -- ls-lb-add sw0 lbc -- ls-lb-add sw0 lbd
nb lr-add lr0 -- lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64
nb lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
nb ls-add pub -- lsp-add pub ln-pub -- lsp-set-type ln-pub localnet -- lsp-set-addresses ln-pub unknown -- lsp-set-options ln-pub network_name=phys
nb lrp-add lr0 lr0-pub 00:00:00:00:ff:02 172.16.0.1/24 2001:db8::1/64
nb lsp-add pub pub-lr0 -- lsp-set-type pub-lr0 router -- lsp-set-addresses pub-lr0 router -- lsp-set-options pub-lr0 router-port=lr0-pub
nb lrp-set-gateway-chassis lr0-pub ch1 20
nb lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
nb lr-nat-add lr0 dnat_and_snat 172.16.0.50 10.0.0.11
nb lr-nat-add lr0 dnat_and_snat 2001:db8::50 fd00::11
nb lr-lb-add lr0 lba -- lr-lb-add lr0 lbb -- lr-lb-add lr0 lbc
nb set Logical_Router lr0 options:lb_force_snat_ip=router_ip
nb ls-add sw1 -- lsp-add sw1 vm4 -- lsp-set-addresses vm4 "00:00:00:00:02:01 10.0.1.11"
nb lr-add lr1 -- lrp-add lr1 lr1-sw1 00:00:00:00:ff:11 10.0.1.1/24
nb lsp-add sw1 sw1-lr1 -- lsp-set-type sw1-lr1 router -- lsp-set-addresses sw1-lr1 router -- lsp-set-options sw1-lr1 router-port=lr1-sw1
nb lrp-add lr1 lr1-pub 00:00:00:00:ff:12 172.16.0.2/24 2001:db8::2/64
nb lsp-add pub pub-lr1 -- lsp-set-type pub-lr1 router -- lsp-set-addresses pub-lr1 router -- lsp-set-options pub-lr1 router-port=lr1-pub
nb lrp-set-gateway-chassis lr1-pub ch1 10
nb lr-nat-add lr1 dnat_and_snat 172.16.0.50 10.0.1.11
nb lr-nat-add lr1 dnat_and_snat 2001:db8::50 fd00::11
nb lr-nat-add lr1 snat 172.16.0.2 10.0.1.0/24
"#;

/// Fails if `o` has a same-match choice that differs, or no conflicting logical flows at all
/// (then the scenario tests nothing).
fn check_recomputed(name: &str, o: Option<common::Outcome>) {
    let Some(o) = o else { return };
    assert!(
        o.conflicting > 0,
        "{name}: no logical flows share a match: nothing checked"
    );
    assert_eq!(
        o.choices, 0,
        "{name}: same-match choices differ after a recompute"
    );
    check(name, Some(o));
}

#[test]
fn conflicts_recomputed() {
    let o = run_scenario("conflicts", CONFLICTS, &["vm1", "vm2", "vm4"], true);
    check_recomputed("conflicts", o);
}

/// The same, with `ovn-monitor-all` (every logical flow monitored: another hash table size).
#[test]
fn conflicts_recomputed_monitor_all() {
    let script = format!("vs set Open_vSwitch . external_ids:ovn-monitor-all=true\n{CONFLICTS}");
    let o = run_scenario(
        "conflicts_monitor_all",
        &script,
        &["vm1", "vm2", "vm4"],
        true,
    );
    check_recomputed("conflicts_monitor_all", o);
}

/// Without the recompute: only reports the differing choices (they depend on history).
#[test]
#[ignore]
fn conflicts_incremental() {
    let o = run_scenario(
        "conflicts_incremental",
        CONFLICTS,
        &["vm1", "vm2", "vm4"],
        false,
    );
    if let Some(o) = o {
        eprintln!(
            "conflicts_incremental: {}/{} match, {} same-match choices differ, {} logical flows \
             share a match",
            o.matched, o.total, o.choices, o.conflicting
        );
    }
}
