//! Whole-Southbound parity with real ovn-northd 23.03 (the comparison is in
//! `common::sbtables`): fixed scenarios, `testkit::nbscript` seeds (`sb_tables_random`,
//! ignored: `PARITY_RANDOM_SEED`, `PARITY_RANDOM_CASES` as in `parity_random`), and in-memory
//! checks of what northd does to rows other clients wrote (RBAC, stale `MAC_Binding`/`FDB`).

mod common;

use ovsdb::Database;
use serde_json::{json, Value};

use common::sbtables::{check_stack, limit, transact};
use testkit::nbscript;

/// Runs `setup` (nbctl commands, or sbctl ones after `#sbctl`) on a fresh stack and compares every SB table.
fn scenario(name: &str, chassis: bool, setup: &[&[&str]]) -> Vec<String> {
    let ovn = testkit::require_or_skip!(Vec::new());
    let builder = if chassis {
        ovn.stack().chassis("ch1")
    } else {
        ovn.stack().no_chassis()
    };
    let stack = builder.build().expect("real stack");
    for cmd in setup {
        if let Some((&"#sbctl", rest)) = cmd.split_first() {
            stack.sbctl(rest).expect("sbctl");
            continue;
        }
        let args: Vec<String> = cmd
            .iter()
            .map(|a| nbscript::resolve_arg(&stack, a))
            .collect();
        stack.nbctl(&args).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    let d = check_stack(&stack, limit());
    eprintln!("{name}: {} differences", d.len());
    d
}

/// Runs scenario `name` ([`scenario`]) and asserts that every SB table matched.
fn check(name: &str, chassis: bool, setup: &[&[&str]]) {
    assert_clean(name, &scenario(name, chassis, setup));
}

fn assert_clean(name: &str, diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "{name}: SB tables differ:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn sb_tables_empty_nb() {
    check("empty", false, &[]);
}

#[test]
fn sb_tables_basic_switch() {
    check(
        "basic",
        true,
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
        ],
    );
}

/// Runs the generated script of each seed and compares every SB table; returns the seeds that
/// differ.
fn run_seeds(seeds: std::ops::Range<u64>) -> Vec<u64> {
    let ovn = testkit::require_or_skip!(Vec::new());
    let mut bad = Vec::new();
    for seed in seeds {
        let mut script = nbscript::generate(seed);
        let stack = loop {
            let stack = ovn.stack().no_chassis().build().expect("real stack");
            match nbscript::run_script(&stack, &script, true) {
                Ok(()) => break stack,
                Err(i) => {
                    if std::env::var_os("PARITY_SHOW_DROPPED").is_some() {
                        eprintln!("seed {seed}: dropped {:?}", script[i]);
                    }
                    script.remove(i);
                }
            }
        };
        if stack.wait_sb().is_err() {
            eprintln!(
                "seed {seed}: real ovn-northd did not catch up, skipped\n{}",
                nbscript::show(&script)
            );
            continue;
        }
        let d = check_stack(&stack, limit());
        if d.is_empty() {
            eprintln!("seed {seed}: clean");
        } else {
            eprintln!(
                "seed {seed}: DIFFERS\n{}\nscript:\n{}",
                d.join("\n"),
                nbscript::show(&script)
            );
            bad.push(seed);
        }
    }
    bad
}

#[test]
#[ignore]
fn sb_tables_random() {
    let (seeds, _) = nbscript::seeds_from_env();
    // `PARITY_SHOW=1`: print the scripts of the seeds (as `sb_tables_script` reads them) only.
    if std::env::var_os("PARITY_SHOW").is_some() {
        for seed in seeds {
            eprintln!(
                "# seed {seed}\n{}",
                nbscript::show(&nbscript::generate(seed))
            );
        }
        return;
    }
    let bad = run_seeds(seeds);
    assert!(bad.is_empty(), "differing seeds {bad:?}");
}

/// Two routers peered directly, one of them disabled (it gets no datapath): the enabled
/// router's port binding names no peer (random seed 96183).
#[test]
fn sb_tables_peer_on_disabled_router() {
    check(
        "peer-on-disabled-router",
        false,
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:01:00:0b 10.1.0.11"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "p2", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "p3"],
            &["lsp-set-type", "p3", "router"],
            &["lsp-set-addresses", "p3", "router"],
            &["lsp-set-options", "p3", "router-port=p2"],
            &["lr-add", "r2"],
            &[
                "lrp-add",
                "r1",
                "p4",
                "00:00:00:00:c0:01",
                "100.64.0.1/30",
                "peer=p5",
            ],
            &[
                "lrp-add",
                "r2",
                "p5",
                "00:00:00:00:c0:02",
                "100.64.0.2/30",
                "peer=p4",
            ],
            &["lr-route-add", "r1", "10.250.0.0/16", "100.64.0.2"],
            &["set", "logical_router", "r2", "enabled=false"],
        ],
    );
}

/// An external port on a switch with a localnet port and a `router` switch port that lists
/// its addresses (`MAC IPv4 IPv6`, one not the router port's) instead of `router`: the drops of
/// `ls_in_external_port` cover those addresses (random seed 96185).
#[test]
fn sb_tables_external_port_router_addresses() {
    check(
        "external-port-router-addresses",
        true,
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-type", "p1", "localnet"],
            &["lsp-set-addresses", "p1", "unknown"],
            &["lsp-set-options", "p1", "network_name=phys"],
            &["lsp-add", "s1", "p2"],
            &["lsp-set-type", "p2", "external"],
            &["lsp-set-addresses", "p2", "00:00:00:01:0c:6b 10.1.0.12"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "p3", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "p4"],
            &["lsp-set-type", "p4", "router"],
            &[
                "lsp-set-addresses",
                "p4",
                "00:00:00:00:f1:01 10.1.0.1 fd00::1",
            ],
            &["lsp-set-options", "p4", "router-port=p3"],
            &[
                "lrp-add",
                "r1",
                "p5",
                "00:00:00:00:f1:02",
                "10.2.0.1/24",
                "fd02::1/64",
            ],
            &["lsp-add", "s1", "p6"],
            &["lsp-set-type", "p6", "router"],
            &[
                "lsp-set-addresses",
                "p6",
                "router",
                "00:00:00:00:f1:09 10.1.0.9",
            ],
            &["lsp-set-options", "p6", "router-port=p5"],
        ],
    );
}

/// BFD sessions that only the static routes of a disabled router use stay administratively
/// down (random dense seed 97159).
#[test]
fn sb_tables_bfd_on_disabled_router() {
    check(
        "bfd-on-disabled-router",
        true,
        &[
            &["ls-add", "pub"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "p1", "00:00:00:00:e1:01", "172.16.1.2/24"],
            &["lsp-add", "pub", "p2"],
            &["lsp-set-type", "p2", "router"],
            &["lsp-set-addresses", "p2", "router"],
            &["lsp-set-options", "p2", "router-port=p1"],
            &[
                "--bfd",
                "lr-route-add",
                "r1",
                "0.0.0.0/0",
                "172.16.1.51",
                "p1",
            ],
            &["lr-add", "r2"],
            &["lrp-add", "r2", "p3", "00:00:00:00:e2:01", "172.16.1.3/24"],
            &["lsp-add", "pub", "p4"],
            &["lsp-set-type", "p4", "router"],
            &["lsp-set-addresses", "p4", "router"],
            &["lsp-set-options", "p4", "router-port=p3"],
            &[
                "--bfd",
                "lr-route-add",
                "r2",
                "0.0.0.0/0",
                "172.16.1.52",
                "p3",
            ],
            &["set", "logical_router", "r1", "enabled=false"],
        ],
    );
}

/// A switch port peering a distributed gateway port on a switch with a localnet port, listing
/// the router port's MAC and address instead of `router`: its L2 lookup is not limited to the
/// gateway chassis (only a `router` entry is); script `s34.txt`.
#[test]
fn sb_tables_dgp_peer_explicit_addresses() {
    check(
        "dgp-peer-explicit-addresses",
        true,
        &[
            &["ls-add", "s3"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "p08", "00:00:00:00:e1:01", "172.16.1.2/24"],
            &["lsp-add", "s3", "p09"],
            &["lsp-set-type", "p09", "router"],
            &[
                "lsp-set-addresses",
                "p09",
                "00:00:00:00:e1:01 172.16.1.2",
                "router",
            ],
            &["lsp-set-options", "p09", "router-port=p08"],
            &["lrp-set-gateway-chassis", "p08", "ch1", "10"],
            &["lsp-add", "s3", "p10"],
            &["lsp-set-type", "p10", "localnet"],
            &["lsp-set-addresses", "p10", "unknown"],
            &["lsp-set-options", "p10", "network_name=phys"],
        ],
    );
}

/// Distributed NAT rules whose `external_mac` is written in upper or mixed case: ARP/ND
/// replies, next-hop resolution, gateway redirection and the too-big ICMP error of
/// `gateway_mtu` write it as written (script `s36.txt`, dense seed 97330).
#[test]
fn sb_tables_nat_external_mac_case() {
    check(
        "nat-external-mac-case",
        true,
        &[
            &["ls-add", "s1"],
            &["ls-add", "s2"],
            &["lsp-add", "s1", "p01"],
            &[
                "lsp-set-addresses",
                "p01",
                "00:00:00:01:00:0b 10.1.0.11 fd01::b",
            ],
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "p04",
                "00:00:00:00:f1:01",
                "10.1.0.1/24",
                "fd01::1/64",
            ],
            &["lsp-add", "s1", "p05"],
            &["lsp-set-type", "p05", "router"],
            &["lsp-set-addresses", "p05", "router"],
            &["lsp-set-options", "p05", "router-port=p04"],
            &[
                "lrp-add",
                "r1",
                "p06",
                "00:00:00:00:e1:01",
                "172.16.1.2/24",
                "2001:db1::2/64",
            ],
            &["lsp-add", "s2", "p07"],
            &["lsp-set-type", "p07", "router"],
            &["lsp-set-addresses", "p07", "router"],
            &["lsp-set-options", "p07", "router-port=p06"],
            &["lrp-set-gateway-chassis", "p06", "ch1", "10"],
            &["lrp-set-options", "p06", "gateway_mtu=1400"],
            &[
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "2001:db1::60",
                "fd01::b",
                "p01",
                "00:00:00:00:AA:01",
            ],
            &[
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.1.62",
                "10.1.0.11",
                "p01",
                "00:00:00:00:Aa:03",
            ],
        ],
    );
}

/// DHCP server MACs written in upper case (`server_mac`, DHCPv6 `server_id`): the replies and
/// their ACL bypass write them as written (script `s37.txt`).
#[test]
fn sb_tables_dhcp_server_mac_case() {
    check(
        "dhcp-server-mac-case",
        true,
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p02"],
            &[
                "lsp-set-addresses",
                "p02",
                "00:00:00:01:00:0c 10.1.0.12 fd01::c",
            ],
            &["acl-add", "s1", "to-lport", "100", "ip4", "allow-related"],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.1.0.0/24",
                "external_ids:n=v4",
                "options:lease_time=3600",
                "options:router=10.1.0.1",
                "options:server_id=10.1.0.1",
                "options:server_mac=C0:FF:EE:00:00:01",
            ],
            &["set", "logical_switch_port", "p02", "dhcpv4_options=@dhcp4"],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd01\\:\\:/64",
                "external_ids:n=v6",
                "options:server_id=00:00:00:10:00:AB",
            ],
            &["set", "logical_switch_port", "p02", "dhcpv6_options=@dhcp6"],
        ],
    );
}

/// `svc_monitor_mac` written in upper case: the SB address set and service monitors have it
/// normalized, `SB_Global` options as written (script `s38.txt`).
#[test]
fn sb_tables_svc_monitor_mac_case() {
    check(
        "svc-monitor-mac-case",
        true,
        &[
            &[
                "set",
                "nb_global",
                ".",
                "options:svc_monitor_mac=00:00:00:AA:BB:CC",
            ],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p01"],
            &["lsp-set-addresses", "p01", "00:00:00:01:00:0b 10.1.0.11"],
            &["lb-add", "lb1", "30.0.0.1:80", "10.1.0.11:8080", "tcp"],
            &[
                "set",
                "load_balancer",
                "lb1",
                "ip_port_mappings:10.1.0.11=p01:10.1.0.2",
            ],
            &[
                "--id=@hc",
                "create",
                "Load_Balancer_Health_Check",
                "vip=\"30.0.0.1:80\"",
                "--",
                "add",
                "Load_Balancer",
                "lb1",
                "health_check",
                "@hc",
            ],
            &["ls-lb-add", "s1", "lb1"],
        ],
    );
}

/// A disabled distributed gateway port still has the MACs of its distributed NAT rules
/// delivered on its switch; a gateway router's port with a gateway chassis names a
/// chassis-redirect port in its binding (script `s40.txt`, whose two switch ports naming one
/// router port are left out here: which one the router port peers with follows hash order).
#[test]
fn sb_tables_disabled_dgp_gateway_router_chassis() {
    check(
        "disabled-dgp-gateway-router-chassis",
        true,
        &[
            &["ls-add", "s1"],
            &["ls-add", "s3"],
            &["lsp-add", "s1", "p01"],
            &["lsp-set-addresses", "p01", "00:00:00:01:00:0b 10.1.0.11"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "p02", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "p03"],
            &["lsp-set-type", "p03", "router"],
            &["lsp-set-addresses", "p03", "router"],
            &["lsp-set-options", "p03", "router-port=p02"],
            &["lrp-add", "r1", "p08", "00:00:00:00:e1:01", "172.16.1.2/24"],
            &["lsp-add", "s3", "p09"],
            &["lsp-set-type", "p09", "router"],
            &["lsp-set-addresses", "p09", "router"],
            &[
                "lsp-set-options",
                "p09",
                "router-port=p08",
                "nat-addresses=router",
            ],
            &["lrp-set-gateway-chassis", "p08", "ch1", "10"],
            &["lr-nat-add", "r1", "snat", "172.16.1.2", "10.1.0.0/24"],
            &[
                "lr-nat-add",
                "r1",
                "dnat_and_snat",
                "172.16.1.60",
                "10.1.0.11",
                "p01",
                "00:00:00:00:aa:01",
            ],
            &["lrp-set-enabled", "p08", "disabled"],
            &["lr-add", "r2"],
            &["set", "logical_router", "r2", "options:chassis=ch1"],
            &["lrp-add", "r2", "p10", "00:00:00:00:e2:01", "172.16.1.3/24"],
            &["lsp-add", "s3", "p11"],
            &["lsp-set-type", "p11", "router"],
            &["lsp-set-addresses", "p11", "router"],
            &["lsp-set-options", "p11", "router-port=p10"],
            &["lrp-set-gateway-chassis", "p10", "ch1", "10"],
        ],
    );
}

/// A remote chassis (`other_config:is-remote=true`, another availability zone's, as OVN
/// interconnection registers them) publishes no features: it does not turn the flows to the
/// spellings of old ovn-controllers.
#[test]
fn sb_tables_remote_chassis_features() {
    check(
        "remote-chassis-features",
        false,
        &[
            &["#sbctl", "chassis-add", "ch1", "geneve", "127.0.0.11"],
            &[
                "#sbctl",
                "set",
                "chassis",
                "ch1",
                "other_config:ct-no-masked-label=true",
                "other_config:ovn-ct-lb-related=true",
                "other_config:mac-binding-timestamp=true",
            ],
            &["#sbctl", "chassis-add", "rch1", "geneve", "127.0.0.21"],
            &[
                "#sbctl",
                "set",
                "chassis",
                "rch1",
                "other_config:is-remote=true",
            ],
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
            &[
                "acl-add",
                "sw0",
                "from-lport",
                "1000",
                "ip4",
                "allow-related",
            ],
            &["lb-add", "lb1", "30.0.0.1:80", "10.0.0.1:8080", "tcp"],
            &["ls-lb-add", "sw0", "lb1"],
        ],
    );
}

/// `options:install_ls_lb_from_router=true`: the load balancers of a router (own and from a
/// group) go to the switches it is connected to (flows and `Load_Balancer` datapaths) without
/// making them load-balancing switches; a virtual port with an IPv6 virtual IP is claimed by
/// ND and resolved by the router.
#[test]
fn sb_tables_ls_lb_from_router_and_virtual_ipv6() {
    check(
        "ls-lb-from-router",
        true,
        &[
            &[
                "set",
                "NB_Global",
                ".",
                "options:install_ls_lb_from_router=true",
            ],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &[
                "lsp-set-addresses",
                "p1",
                "00:00:00:01:00:01 10.1.0.11 fd01::11",
            ],
            &["lsp-add", "s1", "p4"],
            &[
                "lsp-set-addresses",
                "p4",
                "00:00:00:01:00:04 10.1.0.14 fd01::14",
            ],
            &["lsp-add", "s1", "v1"],
            &["lsp-set-type", "v1", "virtual"],
            &["lsp-set-addresses", "v1", "00:00:00:01:00:99 fd01::100"],
            &[
                "lsp-set-options",
                "v1",
                "virtual-ip=fd01::100",
                "virtual-parents=p1,p4",
            ],
            &["ls-add", "s2"],
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "rp1",
                "00:00:00:00:f1:01",
                "10.1.0.1/24",
                "fd01::1/64",
            ],
            &["lsp-add", "s1", "sp1"],
            &["lsp-set-type", "sp1", "router"],
            &["lsp-set-addresses", "sp1", "router"],
            &["lsp-set-options", "sp1", "router-port=rp1"],
            &["lrp-add", "r1", "rp2", "00:00:00:00:f1:02", "10.2.0.1/24"],
            &["lsp-add", "s2", "sp2"],
            &["lsp-set-type", "sp2", "router"],
            &["lsp-set-addresses", "sp2", "router"],
            &["lsp-set-options", "sp2", "router-port=rp2"],
            &["set", "logical_router", "r1", "options:chassis=ch1"],
            &[
                "lb-add",
                "lb1",
                "30.0.0.1:80",
                "10.1.0.11:8080,10.1.0.14:8080",
                "tcp",
            ],
            &["lb-add", "lb1", "[fd99::1]:80", "[fd01::11]:8080", "tcp"],
            &["lr-lb-add", "r1", "lb1"],
            &["lb-add", "lb2", "30.0.0.2", "10.1.0.14"],
            &["ls-lb-add", "s2", "lb2"],
            &["lb-add", "lb3", "30.0.0.3", "10.1.0.11"],
            &["create", "load_balancer_group", "name=g1"],
            &[
                "add",
                "load_balancer_group",
                "g1",
                "load_balancer",
                "=Load_Balancer/lb3",
            ],
            &[
                "add",
                "logical_router",
                "r1",
                "load_balancer_group",
                "=Load_Balancer_Group/g1",
            ],
        ],
    );
}

/// Drop sampling (`debug_drop_collector_set`, `debug_drop_domain_id`): every `drop;` and the
/// `/* drop */` of drop and reject ACLs become a `sample` action; a load balancer affinity
/// learn flow keeps its `/* drop */`.
#[test]
fn sb_tables_drop_sampling() {
    check(
        "drop-sampling",
        true,
        &[
            &[
                "set",
                "NB_Global",
                ".",
                "options:debug_drop_collector_set=7",
                "options:debug_drop_domain_id=5",
            ],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:01:00:01 10.1.0.11"],
            &["lsp-set-port-security", "p1", "00:00:00:01:00:01 10.1.0.11"],
            &[
                "acl-add",
                "s1",
                "from-lport",
                "1000",
                "ip4",
                "allow-related",
            ],
            &[
                "--log",
                "--severity=alert",
                "--name=a1",
                "acl-add",
                "s1",
                "to-lport",
                "900",
                "tcp",
                "drop",
            ],
            &["acl-add", "s1", "to-lport", "800", "udp", "reject"],
            &["lb-add", "lb1", "30.0.0.1:80", "10.1.0.11:8080", "tcp"],
            &["set", "load_balancer", "lb1", "options:affinity_timeout=60"],
            &["ls-lb-add", "s1", "lb1"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "rp1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "sp1"],
            &["lsp-set-type", "sp1", "router"],
            &["lsp-set-addresses", "sp1", "router"],
            &["lsp-set-options", "sp1", "router-port=rp1"],
            &["lr-lb-add", "r1", "lb1"],
            &["set", "logical_router", "r1", "options:chassis=ch1"],
        ],
    );
}

/// Port bindings carry the `external_ids` of their switch port (plus `name` from a non-empty
/// `neutron:port_name`) or router port (also on its `chassisredirect` binding); a distributed
/// gateway port without a peer has no `chassis-redirect-port` option.
#[test]
fn sb_tables_port_binding_external_ids() {
    check(
        "port-binding-external-ids",
        false,
        &[
            &["#sbctl", "chassis-add", "ch1", "geneve", "127.0.0.11"],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:01:00:01 10.1.0.11"],
            &[
                "set",
                "logical_switch_port",
                "p1",
                "external_ids:neutron\\:port_name=port1",
                "external_ids:pod=true",
                "external_ids:namespace=ns1",
            ],
            &["lsp-add", "s1", "p2", "p1", "10"],
            &[
                "set",
                "logical_switch_port",
                "p2",
                "external_ids:neutron\\:port_name=\"\"",
                "external_ids:a=b",
            ],
            &["lsp-add", "s1", "p3"],
            &["set", "logical_switch_port", "p3", "external_ids:name=orig"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "rp1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &[
                "set",
                "logical_router_port",
                "rp1",
                "external_ids:neutron\\:port_name=rport",
                "external_ids:foo=bar",
            ],
            &["lsp-add", "s1", "sp1"],
            &["lsp-set-type", "sp1", "router"],
            &["lsp-set-addresses", "sp1", "router"],
            &["lsp-set-options", "sp1", "router-port=rp1"],
            &[
                "set",
                "logical_switch_port",
                "sp1",
                "external_ids:neutron\\:port_name=sport",
            ],
            &["lrp-add", "r1", "rp2", "00:00:00:00:f1:02", "172.16.0.1/24"],
            &["lrp-set-gateway-chassis", "rp2", "ch1", "10"],
            &["set", "logical_router_port", "rp2", "external_ids:x=y"],
        ],
    );
}

/// A router port with a configured link-local network (and several others): the switch's
/// router port still answers ND for the link-local address derived from the MAC.
#[test]
fn sb_tables_router_port_link_local_network() {
    check(
        "router-port-link-local",
        false,
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &[
                "lsp-set-addresses",
                "p1",
                "00:00:00:01:00:02 10.1.0.13/25 fe80::5 fd01::13/120",
            ],
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "rp1",
                "00:00:00:00:f1:01",
                "10.1.0.1/24",
                "fd01::1/64",
                "fe80::1/64",
                "fd01:0:0:1::1/126",
            ],
            &["lsp-add", "s1", "sp1"],
            &["lsp-set-type", "sp1", "router"],
            &["lsp-set-addresses", "sp1", "router"],
            &["lsp-set-options", "sp1", "router-port=rp1"],
            &["lr-route-add", "r1", "fd99::/64", "fe80::5", "rp1"],
        ],
    );
}

/// Distributed NAT rules on a router with three gateway ports, one bridged: the next-hop
/// resolution flow of every rule names the router's first gateway port in UUID order,
/// whichever the rule uses (the order differs from run to run).
#[test]
fn sb_tables_bridged_distributed_nat_several_gateways() {
    let mut setup: Vec<Vec<String>> = vec![
        vec!["#sbctl", "chassis-add", "ch1", "geneve", "127.0.0.11"],
        vec!["ls-add", "s1"],
        vec!["lsp-add", "s1", "vm"],
        vec!["lsp-set-addresses", "vm", "00:00:00:01:0d:de 10.1.0.13"],
        vec!["lsp-add", "s1", "vm2"],
        vec!["lsp-set-addresses", "vm2", "00:00:00:01:0d:df 10.1.0.14"],
        vec!["lr-add", "r1"],
        vec!["lrp-add", "r1", "rp", "00:00:00:00:f1:01", "10.1.0.1/24"],
        vec!["lsp-add", "s1", "srp"],
        vec!["lsp-set-type", "srp", "router"],
        vec!["lsp-set-addresses", "srp", "router"],
        vec!["lsp-set-options", "srp", "router-port=rp"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(str::to_owned).collect())
    .collect();
    for k in 1..=3 {
        let (pubsw, gw, sp) = (format!("pub{k}"), format!("gw{k}"), format!("sgw{k}"));
        for c in [
            vec!["ls-add".to_owned(), pubsw.clone()],
            vec![
                "lrp-add".to_owned(),
                "r1".to_owned(),
                gw.clone(),
                format!("00:00:00:00:e1:0{k}"),
                format!("172.16.{k}.2/24"),
            ],
            vec!["lsp-add".to_owned(), pubsw.clone(), sp.clone()],
            vec!["lsp-set-type".to_owned(), sp.clone(), "router".to_owned()],
            vec![
                "lsp-set-addresses".to_owned(),
                sp.clone(),
                "router".to_owned(),
            ],
            vec![
                "lsp-set-options".to_owned(),
                sp.clone(),
                format!("router-port={gw}"),
            ],
            vec![
                "lrp-set-gateway-chassis".to_owned(),
                gw.clone(),
                "ch1".to_owned(),
                "20".to_owned(),
            ],
        ] {
            setup.push(c);
        }
    }
    for c in [
        vec![
            "set",
            "logical_router_port",
            "gw1",
            "options:redirect-type=bridged",
        ],
        vec![
            "--gateway-port=gw1",
            "lr-nat-add",
            "r1",
            "dnat_and_snat",
            "172.16.1.102",
            "10.1.0.13",
            "vm",
            "00:00:00:00:aa:00",
        ],
        // A rule on a gateway port that is not bridged (seed 94238).
        vec![
            "lr-nat-add",
            "r1",
            "dnat_and_snat",
            "172.16.2.102",
            "10.1.0.14",
            "vm2",
            "00:00:00:00:aa:01",
        ],
    ] {
        setup.push(c.into_iter().map(str::to_owned).collect());
    }
    let refs: Vec<Vec<&str>> = setup
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let cmds: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    let d = scenario("bridged-distributed-nat", false, &cmds);
    assert_clean("bridged-distributed-nat", &d);
}

/// `lb_force_snat_ip` / `dnat_force_snat_ip` addresses on a router with a distributed gateway
/// port (and on one without gateway): its own addresses among them are SNAT addresses
/// (`lr_in_ip_input`, `lr_in_arp_resolve`), load-balanced traffic is flagged for forced SNAT;
/// no SNAT flows (gateway routers only). `router_ip` does nothing there.
#[test]
fn sb_tables_force_snat_ip_on_distributed_routers() {
    let mut setup: Vec<Vec<&str>> = vec![
        vec!["#sbctl", "chassis-add", "ch1", "geneve", "127.0.0.11"],
        vec!["ls-add", "s1"],
        vec!["lsp-add", "s1", "p1"],
        vec![
            "lsp-set-addresses",
            "p1",
            "00:00:00:01:00:01 10.1.0.11 fd01::11",
        ],
        vec!["ls-add", "pub"],
        vec!["lsp-add", "pub", "ln"],
        vec!["lsp-set-type", "ln", "localnet"],
        vec!["lsp-set-addresses", "ln", "unknown"],
        vec!["lsp-set-options", "ln", "network_name=phys"],
        vec![
            "lb-add",
            "lb6",
            "[2001:db8::200]:80",
            "[fd01::11]:8080",
            "tcp",
        ],
        vec!["lb-add", "lb4", "172.16.0.200:80", "10.1.0.11:8080", "tcp"],
    ];
    let routers = [
        ("r1", "lb_force_snat_ip", "\"172.16.0.1 2001:db8::1\"", true),
        (
            "r2",
            "dnat_force_snat_ip",
            "\"172.16.1.1 2001:db9::1\"",
            true,
        ),
        ("r3", "lb_force_snat_ip", "router_ip", true),
        ("r4", "lb_force_snat_ip", "172.16.3.1", false),
    ];
    let cmds: Vec<Vec<String>> = routers
        .iter()
        .enumerate()
        .flat_map(|(k, (r, key, value, dgp))| {
            let (rp, sp, pp, spp) = (
                format!("{r}a"),
                format!("s{r}a"),
                format!("{r}b"),
                format!("s{r}b"),
            );
            let mut v = vec![
                vec!["lr-add".to_owned(), (*r).to_owned()],
                vec![
                    "lrp-add".to_owned(),
                    (*r).to_owned(),
                    rp.clone(),
                    format!("00:00:00:00:f{k}:01"),
                    format!("10.1.{}.1/24", k + 10),
                ],
                vec!["lsp-add".to_owned(), "s1".to_owned(), sp.clone()],
                vec!["lsp-set-type".to_owned(), sp.clone(), "router".to_owned()],
                vec![
                    "lsp-set-addresses".to_owned(),
                    sp.clone(),
                    "router".to_owned(),
                ],
                vec![
                    "lsp-set-options".to_owned(),
                    sp,
                    format!("router-port={rp}"),
                ],
                vec![
                    "lrp-add".to_owned(),
                    (*r).to_owned(),
                    pp.clone(),
                    format!("00:00:00:00:f{k}:02"),
                    format!("172.16.{k}.1/24"),
                    format!("2001:db{}::1/64", 8 + k),
                ],
                vec!["lsp-add".to_owned(), "pub".to_owned(), spp.clone()],
                vec!["lsp-set-type".to_owned(), spp.clone(), "router".to_owned()],
                vec![
                    "lsp-set-addresses".to_owned(),
                    spp.clone(),
                    "router".to_owned(),
                ],
                vec![
                    "lsp-set-options".to_owned(),
                    spp,
                    format!("router-port={pp}"),
                ],
                vec![
                    "set".to_owned(),
                    "logical_router".to_owned(),
                    (*r).to_owned(),
                    format!("options:{key}={value}"),
                ],
                vec!["lr-lb-add".to_owned(), (*r).to_owned(), "lb6".to_owned()],
                vec!["lr-lb-add".to_owned(), (*r).to_owned(), "lb4".to_owned()],
                vec![
                    "lr-nat-add".to_owned(),
                    (*r).to_owned(),
                    "snat".to_owned(),
                    format!("172.16.{k}.100"),
                    "10.1.0.0/24".to_owned(),
                ],
            ];
            if *dgp {
                v.push(vec![
                    "lrp-set-gateway-chassis".to_owned(),
                    pp,
                    "ch1".to_owned(),
                    "10".to_owned(),
                ]);
            }
            v
        })
        .collect();
    setup.extend(cmds.iter().map(|c| c.iter().map(String::as_str).collect()));
    let refs: Vec<&[&str]> = setup.iter().map(Vec::as_slice).collect();
    let d = scenario("force-snat-ip-distributed", false, &refs);
    assert_clean("force-snat-ip-distributed", &d);
}

/// A chassis with a VXLAN encapsulation turns `SB_Global` `options:max_tunid` to the VXLAN
/// limit (4095).
#[test]
fn sb_tables_vxlan_chassis() {
    check(
        "vxlan-chassis",
        false,
        &[
            &["#sbctl", "chassis-add", "ch1", "vxlan", "127.0.0.11"],
            &["#sbctl", "chassis-add", "ch2", "geneve", "127.0.0.12"],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:01:00:01 10.1.0.11"],
        ],
    );
}

/// A router with IPv6-only routable addresses (a load balancer VIP with `add_route`) on a
/// distributed gateway port: a gateway router on the same switch resolves its (empty) IPv4
/// routable set, `reg0 == {}` (random seed 94127).
#[test]
fn sb_tables_ipv6_only_routable_addresses() {
    check(
        "ipv6-only-routable",
        false,
        &[
            &["#sbctl", "chassis-add", "ch1", "geneve", "127.0.0.11"],
            &["ls-add", "pub"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "a1", "00:00:00:00:e1:01", "172.16.1.2/24"],
            &["lsp-add", "pub", "sa1"],
            &["lsp-set-type", "sa1", "router"],
            &["lsp-set-addresses", "sa1", "router"],
            &["lsp-set-options", "sa1", "router-port=a1"],
            &["lrp-set-gateway-chassis", "a1", "ch1", "20"],
            &["lr-add", "r2"],
            &["set", "logical_router", "r2", "options:chassis=ch1"],
            &["lrp-add", "r2", "b1", "00:00:00:00:e2:01", "172.16.1.3/24"],
            &["lsp-add", "pub", "sb1"],
            &["lsp-set-type", "sb1", "router"],
            &["lsp-set-addresses", "sb1", "router"],
            &["lsp-set-options", "sb1", "router-port=b1"],
            &["lb-add", "lb1", "[fd99::1]:80", "[fd01::20]:8080", "udp"],
            &["set", "load_balancer", "lb1", "options:add_route=true"],
            &["lr-lb-add", "r1", "lb1"],
        ],
    );
}

/// Splits a shell-like line into arguments: whitespace separates, single quotes keep what they
/// hold as is.
fn split_line(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    args
}

/// Exploration: the script in the file `PARITY_SCRIPT` (lines as `nbscript::show` prints
/// them: `ovn-nbctl ARGS`, `ovn-sbctl ARGS`, `#copp`, ...; `# ` comments; single quotes group)
/// run on a fresh stack, every SB table compared. `tests/common/scripts/*.txt` are the
/// session-8 exploration scripts (features the generator does not draw); all are clean.
#[test]
#[ignore]
fn sb_tables_script() {
    let Some(path) = std::env::var_os("PARITY_SCRIPT") else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("PARITY_SCRIPT file");
    let script: nbscript::Script = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("# "))
        .map(|l| {
            let mut a = split_line(l);
            match a.first().map(String::as_str) {
                Some("ovn-nbctl") => {
                    a.remove(0);
                }
                Some("ovn-sbctl") => a[0] = "#sbctl".into(),
                _ => {}
            }
            a
        })
        .collect();
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().no_chassis().build().expect("real stack");
    if let Err(i) = nbscript::run_script(&stack, &script, true) {
        panic!("command {i} failed: {:?}", script[i]);
    }
    stack.wait_sb().expect("wait sb");
    let d = check_stack(&stack, limit());
    assert_clean("script", &d);
}

/// Mirrors (one shared by two ports, one unused), chassis template variables (for a chassis
/// that exists and one that does not), BFD sessions (one a route uses, one unused with
/// explicit timers) and DNS records shared by two switches.
#[test]
fn sb_tables_mirrors_templates_bfd_dns() {
    check(
        "mirrors-templates-bfd-dns",
        false,
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
            &["lsp-add", "sw0", "p2"],
            &["ls-add", "sw1"],
            &["mirror-add", "m1", "gre", "10", "to-lport", "192.168.1.1"],
            &[
                "mirror-add",
                "m2",
                "erspan",
                "11",
                "from-lport",
                "192.168.1.2",
            ],
            &["mirror-add", "m3", "gre", "12", "from-lport", "192.168.1.3"],
            &["lsp-attach-mirror", "p1", "m1"],
            &["lsp-attach-mirror", "p1", "m2"],
            &["lsp-attach-mirror", "p2", "m1"],
            &[
                "create",
                "Chassis_Template_Var",
                "chassis=ch1",
                "variables:VIP=\"10.99.0.1\"",
                "external_ids:x=y",
            ],
            &["create", "Chassis_Template_Var", "chassis=ch9"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "rp1", "00:00:00:00:ff:01", "10.0.0.254/24"],
            &[
                "--bfd",
                "lr-route-add",
                "r1",
                "192.168.50.0/24",
                "10.0.0.50",
                "rp1",
            ],
            &[
                "create",
                "BFD",
                "logical_port=rp1",
                "dst_ip=10.0.0.60",
                "min_tx=300",
                "detect_mult=3",
                "options:a=b",
            ],
            &[
                "create",
                "DNS",
                "records:vm1.ovn.org=10.0.0.11",
                "external_ids:n=dns",
            ],
            &["add", "logical_switch", "sw0", "dns_records", "@dns"],
            &["add", "logical_switch", "sw1", "dns_records", "@dns"],
        ],
    );
}

/// `NB_Global` `ipsec` is copied into `SB_Global` (`external_ids` are not).
#[test]
fn sb_tables_ipsec() {
    check(
        "ipsec",
        false,
        &[
            &["set", "NB_Global", ".", "ipsec=true", "external_ids:a=b"],
            &["ls-add", "sw0"],
        ],
    );
}

/// A chassis without the `ct-no-masked-label` feature: `SB_Global`
/// `options:lb_hairpin_use_ct_mark=false`.
#[test]
fn sb_tables_legacy_chassis() {
    check(
        "legacy-chassis",
        false,
        &[
            &["#sbctl", "chassis-add", "legacy", "geneve", "127.0.0.99"],
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
        ],
    );
}

/// `options:requested-chassis` naming chassis that do not exist: they are skipped, the first
/// chassis found is `requested_chassis`, the others `requested_additional_chassis`.
#[test]
fn sb_tables_requested_chassis_skips_unknown() {
    check(
        "requested-chassis",
        false,
        &[
            &["#sbctl", "chassis-add", "cA", "geneve", "127.0.0.11"],
            &["#sbctl", "chassis-add", "cB", "geneve", "127.0.0.12"],
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
            &["lsp-set-options", "p1", "requested-chassis=cZ,cA,cY,cB"],
            &["lsp-add", "sw0", "p2"],
            &["lsp-set-options", "p2", "requested-chassis=cZ"],
        ],
    );
}

/// Load balancers on two switches and flows on both: ovn-northd keeps separate datapath
/// groups for load balancers and for flows, even with the same datapaths.
#[test]
fn sb_tables_lb_and_flow_groups_apart() {
    check(
        "lb-groups",
        false,
        &[
            &["ls-add", "s1"],
            &["ls-add", "s2"],
            &["lb-add", "lb1", "10.96.0.1:80", "10.0.0.2:8080", "tcp"],
            &["lb-add", "lb2", "10.96.0.2:80", "10.0.0.3:8080", "tcp"],
            &["ls-lb-add", "s1", "lb1"],
            &["ls-lb-add", "s2", "lb1"],
            &["ls-lb-add", "s1", "lb2"],
            &["ls-lb-add", "s2", "lb2"],
        ],
    );
}

// In-memory checks (no real stack): what real ovn-northd does to rows other clients wrote.

fn db_transact(db: &mut Database, txn: Value) -> Value {
    transact(db, &txn)
}

fn run(nb: &Database, sb: &mut Database) {
    northd::run_once(nb, sb).expect("northd run");
    let again = northd::run_once(nb, sb).expect("northd run");
    assert_eq!(again.operations, 0, "second run not a no-op");
}

fn rows_of(db: &Database, table: &str) -> Vec<Value> {
    let r = transact(
        &mut db.clone(),
        &json!(["OVN_Southbound", {"op": "select", "table": table, "where": []}]),
    );
    r[0]["rows"].as_array().cloned().unwrap_or_default()
}

/// The `ovn-controller` role and its permissions are put back as they must be: other roles
/// and permissions go, a changed permission is replaced.
#[test]
fn rbac_rows_restored() {
    let nb = Database::new(ovn_nb::model::schema().clone());
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    run(&nb, &mut sb);
    let check = |sb: &Database| {
        let roles = rows_of(sb, "RBAC_Role");
        assert_eq!(roles.len(), 1, "{roles:?}");
        assert_eq!(roles[0]["name"], "ovn-controller");
        let perms = rows_of(sb, "RBAC_Permission");
        assert_eq!(perms.len(), northd::rbac::PERMISSIONS.len());
        let map = roles[0]["permissions"][1]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(map.len(), northd::rbac::PERMISSIONS.len());
        for kv in map {
            let p = perms
                .iter()
                .find(|p| p["_uuid"] == kv[1])
                .expect("permission row");
            assert_eq!(p["table"], kv[0]);
        }
        let chassis = perms
            .iter()
            .find(|p| p["table"] == "Chassis")
            .expect("Chassis");
        assert_eq!(chassis["authorization"], "name");
        assert_eq!(chassis["update"][1].as_array().map(Vec::len), Some(6));
    };
    check(&sb);
    db_transact(
        &mut sb,
        json!(["OVN_Southbound",
            {"op": "insert", "table": "RBAC_Role", "row": {"name": "other"}},
            {"op": "insert", "table": "RBAC_Permission", "row": {"table": "X"}},
            {"op": "update", "table": "RBAC_Permission", "where": [["table", "==", "Chassis"]],
             "row": {"update": ["set", ["encaps"]]}},
            {"op": "insert", "table": "RBAC_Permission",
             "row": {"table": "FDB", "authorization": "", "insert_delete": true,
                     "update": ["set", ["dp_key", "mac", "port_key"]]}}
        ]),
    );
    run(&nb, &mut sb);
    check(&sb);
}

fn nb_router_and_switch() -> Database {
    let mut nb = Database::new(ovn_nb::model::schema().clone());
    db_transact(
        &mut nb,
        json!(["OVN_Northbound",
            {"op": "insert", "table": "NB_Global", "row": {}},
            {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p1",
             "row": {"name": "p1", "addresses": "00:00:00:00:00:01 10.0.0.1"}},
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "sw0",
             "ports": ["named-uuid", "p1"]}},
            {"op": "insert", "table": "Logical_Router_Port", "uuid-name": "rp1",
             "row": {"name": "rp1", "mac": "00:00:00:00:ff:01", "networks": "10.0.0.254/24"}},
            {"op": "insert", "table": "Logical_Router", "row": {"name": "r1",
             "ports": ["named-uuid", "rp1"]}}
        ]),
    );
    nb
}

/// `MAC_Binding` rows of ports or datapaths that are gone and `FDB` rows of unknown
/// datapath or port keys are deleted; deleting a router whose datapath a `MAC_Binding` row
/// names works (the row would otherwise block the datapath's deletion).
#[test]
fn stale_mac_bindings_and_fdbs_deleted() {
    let mut nb = nb_router_and_switch();
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    run(&nb, &mut sb);
    let dps = rows_of(&sb, "Datapath_Binding");
    let dp = |name: &str| {
        dps.iter()
            .find(|d| {
                d["external_ids"][1]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|kv| kv[1] == name))
            })
            .cloned()
            .expect("datapath")
    };
    let (r1, sw0) = (dp("r1"), dp("sw0"));
    let p1_key = rows_of(&sb, "Port_Binding")
        .into_iter()
        .find(|p| p["logical_port"] == "p1")
        .expect("p1")["tunnel_key"]
        .clone();
    db_transact(
        &mut sb,
        json!(["OVN_Southbound",
            {"op": "insert", "table": "MAC_Binding", "row": {"logical_port": "rp1",
             "ip": "10.0.0.9", "mac": "00:00:00:00:00:09", "datapath": r1["_uuid"]}},
            {"op": "insert", "table": "MAC_Binding", "row": {"logical_port": "nosuch",
             "ip": "10.0.0.8", "mac": "00:00:00:00:00:08", "datapath": r1["_uuid"]}},
            {"op": "insert", "table": "FDB", "row": {"mac": "00:00:00:00:00:10",
             "dp_key": sw0["tunnel_key"], "port_key": p1_key}},
            {"op": "insert", "table": "FDB", "row": {"mac": "00:00:00:00:00:11",
             "dp_key": sw0["tunnel_key"], "port_key": 77}},
            {"op": "insert", "table": "FDB", "row": {"mac": "00:00:00:00:00:12",
             "dp_key": 999, "port_key": 1}}
        ]),
    );
    run(&nb, &mut sb);
    let ports: Vec<Value> = rows_of(&sb, "MAC_Binding")
        .iter()
        .map(|m| m["logical_port"].clone())
        .collect();
    assert_eq!(ports, vec![json!("rp1")]);
    let macs: Vec<Value> = rows_of(&sb, "FDB")
        .iter()
        .map(|m| m["mac"].clone())
        .collect();
    assert_eq!(macs, vec![json!("00:00:00:00:00:10")]);
    db_transact(
        &mut nb,
        json!(["OVN_Northbound",
            {"op": "delete", "table": "Logical_Router", "where": []}]),
    );
    run(&nb, &mut sb);
    assert!(rows_of(&sb, "MAC_Binding").is_empty());
    assert_eq!(rows_of(&sb, "Datapath_Binding").len(), 1);
}

/// BFD sessions: source ports from 49152, kept across runs; `admin_down` until a route uses
/// the session (then `down`), back to `admin_down` when none does; rows of deleted NB
/// sessions go.
#[test]
fn bfd_ports_and_status() {
    let mut nb = nb_router_and_switch();
    db_transact(
        &mut nb,
        json!(["OVN_Northbound",
            {"op": "insert", "table": "BFD", "row": {"logical_port": "rp1", "dst_ip": "10.0.0.5"}},
            {"op": "insert", "table": "BFD", "row": {"logical_port": "rp1", "dst_ip": "10.0.0.6",
             "min_tx": 300}}
        ]),
    );
    let mut sb = Database::new(ovn_sb::model::schema().clone());
    run(&nb, &mut sb);
    let sessions = |sb: &Database| {
        let mut v: Vec<(String, i64, String, i64)> = rows_of(sb, "BFD")
            .iter()
            .map(|b| {
                (
                    b["dst_ip"].as_str().unwrap_or_default().to_owned(),
                    b["src_port"].as_i64().unwrap_or_default(),
                    b["status"].as_str().unwrap_or_default().to_owned(),
                    b["min_tx"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let first = sessions(&sb);
    assert_eq!(
        first,
        vec![
            ("10.0.0.5".to_owned(), 49152, "admin_down".to_owned(), 1000),
            ("10.0.0.6".to_owned(), 49153, "admin_down".to_owned(), 300),
        ]
    );
    let bfd6 = rows_of_nb(&nb, "BFD", "10.0.0.6");
    db_transact(
        &mut nb,
        json!(["OVN_Northbound",
            {"op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": "r",
             "row": {"ip_prefix": "192.168.0.0/24", "nexthop": "10.0.0.6",
                     "output_port": "rp1",
                     "bfd": ["uuid", bfd6]}},
            {"op": "mutate", "table": "Logical_Router", "where": [],
             "mutations": [["static_routes", "insert", ["named-uuid", "r"]]]},
            {"op": "delete", "table": "BFD", "where": [["dst_ip", "==", "10.0.0.5"]]},
            {"op": "insert", "table": "BFD", "row": {"logical_port": "rp1", "dst_ip": "10.0.0.7"}}
        ]),
    );
    run(&nb, &mut sb);
    assert_eq!(
        sessions(&sb),
        vec![
            ("10.0.0.6".to_owned(), 49153, "down".to_owned(), 300),
            ("10.0.0.7".to_owned(), 49152, "admin_down".to_owned(), 1000),
        ]
    );
    db_transact(
        &mut nb,
        json!(["OVN_Northbound",
            {"op": "update", "table": "Logical_Router", "where": [],
             "row": {"static_routes": ["set", []]}}]),
    );
    run(&nb, &mut sb);
    assert_eq!(sessions(&sb)[0].2, "admin_down");
}

/// The UUID of the NB `table` row whose `dst_ip` is `ip`.
fn rows_of_nb(nb: &Database, table: &str, ip: &str) -> String {
    let r = transact(
        &mut nb.clone(),
        &json!(["OVN_Northbound", {"op": "select", "table": table,
                 "where": [["dst_ip", "==", ip]], "columns": ["_uuid"]}]),
    );
    r[0]["rows"][0]["_uuid"][1]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
