//! Parity with real ovn-northd 23.03 on dynamic IP multicast groups: `IGMP_Group` rows (as
//! ovn-controller writes them when it snoops IGMP/MLD reports) become `Multicast_Group` rows
//! named by address, `ls_in_l2_lkup` flows on the switches and, through a router relaying
//! multicast, router groups and `lr_in_ip_routing` flows; stale rows are deleted.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::model as sb;

use common::{compare_bindings, compare_flows_with, nb_snapshot, sb_rows};
use northd::igmp::{IgmpState, MAX_KEY, MIN_KEY};
use northd::{build, SbState};

/// Switches `sw0` (snooping, ports p1-p3), `sw1` (snooping, q1, q2 flooding multicast, a
/// localnet port), `sw2` (no snooping, r1) and `sw3` (s1); router `lr0` relays multicast
/// between sw0, sw1 and (through a distributed gateway port) sw3; router `lr1` (no relay) on
/// sw2.
const TOPOLOGY: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &[
        "set",
        "logical_switch",
        "sw0",
        "other_config:mcast_snoop=true",
        "other_config:mcast_querier=false",
    ],
    &["lsp-add", "sw0", "p1"],
    &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
    &["lsp-add", "sw0", "p2"],
    &["lsp-set-addresses", "p2", "00:00:00:00:00:02 10.0.0.2"],
    &["lsp-add", "sw0", "p3"],
    &["lsp-set-addresses", "p3", "00:00:00:00:00:03 10.0.0.3"],
    &["ls-add", "sw1"],
    &[
        "set",
        "logical_switch",
        "sw1",
        "other_config:mcast_snoop=true",
        "other_config:mcast_table_size=3",
    ],
    &["lsp-add", "sw1", "q1"],
    &["lsp-set-addresses", "q1", "00:00:00:00:01:01 10.0.1.1"],
    &["lsp-add", "sw1", "q2"],
    &["lsp-set-addresses", "q2", "00:00:00:00:01:02 10.0.1.2"],
    &["lsp-set-options", "q2", "mcast_flood=true"],
    &["lsp-add", "sw1", "ln1"],
    &["lsp-set-type", "ln1", "localnet"],
    &["lsp-set-addresses", "ln1", "unknown"],
    &["lsp-set-options", "ln1", "network_name=phys"],
    &["ls-add", "sw2"],
    &["lsp-add", "sw2", "r1"],
    &["lsp-set-addresses", "r1", "00:00:00:00:02:01 10.0.2.1"],
    &["ls-add", "sw3"],
    &["lsp-add", "sw3", "s1"],
    &["lsp-set-addresses", "s1", "00:00:00:00:03:01 10.0.3.1"],
    &["lr-add", "lr0"],
    &["set", "logical_router", "lr0", "options:mcast_relay=true"],
    &[
        "lrp-add",
        "lr0",
        "lr0-sw0",
        "00:00:00:00:ff:00",
        "10.0.0.254/24",
        "aef0::ff00/64",
    ],
    &[
        "lrp-add",
        "lr0",
        "lr0-sw1",
        "00:00:00:00:ff:01",
        "10.0.1.254/24",
    ],
    &[
        "lrp-add",
        "lr0",
        "lr0-sw3",
        "00:00:00:00:ff:03",
        "10.0.3.254/24",
    ],
    &["lrp-set-gateway-chassis", "lr0-sw3", "ch1", "10"],
    &["lsp-add", "sw0", "sw0-lr0"],
    &["lsp-set-type", "sw0-lr0", "router"],
    &["lsp-set-addresses", "sw0-lr0", "router"],
    &["lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"],
    &["lsp-add", "sw1", "sw1-lr0"],
    &["lsp-set-type", "sw1-lr0", "router"],
    &["lsp-set-addresses", "sw1-lr0", "router"],
    &["lsp-set-options", "sw1-lr0", "router-port=lr0-sw1"],
    &["lsp-add", "sw3", "sw3-lr0"],
    &["lsp-set-type", "sw3-lr0", "router"],
    &["lsp-set-addresses", "sw3-lr0", "router"],
    &["lsp-set-options", "sw3-lr0", "router-port=lr0-sw3"],
    &["lr-add", "lr1"],
    &[
        "lrp-add",
        "lr1",
        "lr1-sw2",
        "00:00:00:00:fe:02",
        "10.0.2.254/24",
    ],
    &["lsp-add", "sw2", "sw2-lr1"],
    &["lsp-set-type", "sw2-lr1", "router"],
    &["lsp-set-addresses", "sw2-lr1", "router"],
    &["lsp-set-options", "sw2-lr1", "router-port=lr1-sw2"],
];

/// IGMP groups: (datapath, address, chassis or "" for none, member ports).
const GROUPS: &[(&str, &str, &str, &[&str])] = &[
    ("sw0", "239.0.0.1", "ch1", &["p1", "p2"]),
    ("sw0", "239.0.0.1", "ch2", &["p3"]),
    ("sw0", "ff0e::1", "ch2", &["p3"]),
    ("sw0", "ff02::1:3", "ch1", &["p1"]),
    ("sw0", "ff02::1", "ch1", &["p1"]),
    ("sw0", "ff05::2", "ch1", &["p2"]),
    ("sw0", "224.0.0.5", "ch1", &["p1"]),
    ("sw0", "mrouters", "ch1", &["p2"]),
    // Only a port towards the relaying router: no group.
    ("sw0", "239.0.0.6", "ch1", &["sw0-lr0"]),
    // No chassis: stale, deleted.
    ("sw0", "239.0.0.4", "", &["p1"]),
    // Not an address: ignored.
    ("sw0", "bogus", "ch1", &["p1"]),
    ("sw1", "239.0.0.2", "ch1", &["q1", "q2"]),
    // Only a flooding port: no group.
    ("sw1", "239.0.0.7", "ch1", &["q2"]),
    ("sw1", "239.0.0.8", "ch2", &["q1"]),
    ("sw1", "239.0.0.9", "ch2", &["q1"]),
    ("sw1", "ff15::7", "ch2", &["q1"]),
    ("sw2", "239.0.0.3", "ch1", &["r1"]),
    ("sw2", "ff05::3", "ch1", &["r1"]),
    ("sw3", "239.0.1.1", "ch1", &["s1"]),
];

fn uuid_of(stack: &testkit::Stack, table: &str, cond: &str) -> String {
    stack
        .sbctl(["--bare", "--columns", "_uuid", "find", table, cond])
        .expect("sbctl find")
        .trim()
        .to_owned()
}

fn add_groups(stack: &testkit::Stack) {
    for (ch, ip) in [("ch1", "127.0.0.1"), ("ch2", "127.0.0.2")] {
        stack
            .sbctl(["chassis-add", ch, "geneve", ip])
            .expect("chassis-add");
        // The features a 23.03 ovn-controller publishes.
        for f in [
            "ct-no-masked-label",
            "ovn-ct-lb-related",
            "mac-binding-timestamp",
            "fdb-timestamp",
            "ls-dpg-column",
            "port-up-notif",
        ] {
            stack
                .sbctl(["set", "chassis", ch, &format!("other_config:{f}=true")])
                .expect("chassis features");
        }
    }
    stack.wait_sb().expect("wait sb");
    for (dp, addr, ch, ports) in GROUPS {
        let dp = uuid_of(
            stack,
            "Datapath_Binding",
            &format!("external_ids:name={dp}"),
        );
        let pbs: Vec<String> = ports
            .iter()
            .map(|p| uuid_of(stack, "Port_Binding", &format!("logical_port={p}")))
            .collect();
        let mut args = vec![
            "create".to_owned(),
            "IGMP_Group".to_owned(),
            format!("address=\"{addr}\""),
            format!("datapath={dp}"),
            format!("ports=[{}]", pbs.join(",")),
        ];
        if !ch.is_empty() {
            args.push(format!(
                "chassis={}",
                uuid_of(stack, "Chassis", &format!("name={ch}"))
            ));
        }
        stack.sbctl(&args).expect("create IGMP_Group");
    }
    // Real ovn-northd recomputes on the SB change; give it the change before the NB barrier.
    std::thread::sleep(std::time::Duration::from_millis(300));
    stack.wait_sb().expect("wait sb");
}

/// The SB state ours reads from the stack: chassis, IGMP groups and (with `keys`) the tunnel
/// keys real ovn-northd gave the groups.
fn state(stack: &testkit::Stack, keys: bool) -> SbState {
    let chassis: Vec<sb::Chassis> = sb_rows(stack);
    let mut state = SbState::from_rows(&[], &[], &chassis);
    let igmp: Vec<sb::IgmpGroup> = sb_rows(stack);
    let dps: Vec<sb::DatapathBinding> = sb_rows(stack);
    let pbs: Vec<sb::PortBinding> = sb_rows(stack);
    let mcs: Vec<sb::MulticastGroup> = if keys { sb_rows(stack) } else { Vec::new() };
    state.igmp = IgmpState::from_rows(&igmp, &dps, &pbs, &mcs);
    state
}

/// Multicast groups by (datapath name, group name): key and ports.
type McRows = BTreeMap<(String, String), (u32, BTreeSet<String>)>;

fn our_groups(content: &northd::SbContent) -> McRows {
    content
        .multicast_groups
        .iter()
        .map(|m| {
            (
                (content.datapaths[m.datapath].name.clone(), m.name.clone()),
                (m.tunnel_key, m.ports.clone()),
            )
        })
        .collect()
}

fn real_groups(stack: &testkit::Stack) -> McRows {
    let dp_name = common::datapath_names(stack);
    let pbs: Vec<sb::PortBinding> = sb_rows(stack);
    let pb: BTreeMap<_, _> = pbs
        .iter()
        .map(|p| (p.uuid.uuid(), p.logical_port.clone()))
        .collect();
    let mcs: Vec<sb::MulticastGroup> = sb_rows(stack);
    mcs.iter()
        .map(|m| {
            (
                (dp_name[&m.datapath.uuid()].clone(), m.name.clone()),
                (
                    u32::try_from(m.tunnel_key).unwrap_or(0),
                    m.ports.iter().map(|p| pb[&p.uuid()].clone()).collect(),
                ),
            )
        })
        .collect()
}

fn run(name: &str, extra: &[&[&str]]) {
    let ovn = testkit::require_or_skip!();
    let stack = ovn.stack().no_chassis().build().expect("real stack");
    for cmd in TOPOLOGY.iter().chain(extra) {
        stack.nbctl(*cmd).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    add_groups(&stack);
    let snapshot = nb_snapshot(&stack);

    // With the keys real ovn-northd handed out: every flow and row equal.
    let (out, content) = compare_flows_with(&stack, &snapshot, &state(&stack, true));
    common::print_outcome(name, &out);
    common::check_parses(&content);
    compare_bindings(name, &stack, &content);
    assert!(
        out.ours_only.is_empty() && out.real_only.is_empty(),
        "{name}: flow sets differ (see stderr)"
    );
    let dynamic = content
        .multicast_groups
        .iter()
        .filter(|m| !m.name.starts_with("_MC_"))
        .count();
    assert!(dynamic >= 10, "{name}: only {dynamic} dynamic groups");
    // The stale row (no chassis) is gone, the others stay.
    let rows: Vec<sb::IgmpGroup> = sb_rows(&stack);
    assert_eq!(rows.len(), GROUPS.len() - 1, "{name}: IGMP_Group rows");

    // From an SB without groups: same groups with keys of our own, in range, distinct per
    // datapath; flows equal once the keys are renamed (flows do not name keys).
    let fresh = build(&snapshot, &state(&stack, false));
    let ours = our_groups(&fresh);
    let real = real_groups(&stack);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        real.keys().collect::<Vec<_>>(),
        "{name}: group names"
    );
    let mut per_dp: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for ((dp, g), (key, ports)) in &ours {
        let (real_key, real_ports) = &real[&(dp.clone(), g.clone())];
        assert_eq!(ports, real_ports, "{name}: ports of {g} on {dp}");
        if g.starts_with("_MC_") {
            assert_eq!(key, real_key, "{name}: key of {g} on {dp}");
        } else {
            assert!((MIN_KEY..=MAX_KEY).contains(key), "{name}: key {key}");
            assert!(
                per_dp.entry(dp).or_default().insert(*key),
                "{name}: key {key} twice on {dp}"
            );
        }
    }
    assert_eq!(
        common::our_flows(&fresh),
        common::our_flows(&content),
        "{name}: flows depend on the keys"
    );
    // A recompile against what SB now holds deletes nothing more and keeps every key.
    let again = build(&snapshot, &state(&stack, true));
    assert_eq!(our_groups(&again), real, "{name}: keys not kept");
}

#[test]
fn igmp_groups_on_switches_and_relaying_routers() {
    run("igmp", &[]);
}

/// A router port flooding multicast: its router keeps no group towards it and copies group
/// traffic to `_MC_static`.
#[test]
fn igmp_groups_with_a_flooding_router_port() {
    run(
        "igmp_router_flood",
        &[&[
            "set",
            "logical_router_port",
            "lr0-sw1",
            "options:mcast_flood=true",
        ]],
    );
}
