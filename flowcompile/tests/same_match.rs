//! Which logical flow's rule is kept when several logical flows give the same OpenFlow table,
//! priority and match with different actions (`install_rank` in `chassis`): ordinary actions
//! over a drop over conjunction clauses, then the flow ovn-controller 23.03 meets last in a
//! full recompute (highest cookie masked by the bucket mask of its `Logical_Flow` table, whose
//! size is the number of logical flows it monitors).  Checked against the real ovn-controller
//! in `parity_recompute.rs`; these are the rule's cases without a real stack.

use flowcompile::chassis::{compile_chassis_flows, ChassisView, Flows, SbTables};
use serde_json::{json, Value};

const CH1: &str = "00000000-0000-0000-0000-0000000000c1";
const DP1: &str = "00000000-0000-0000-0000-0000000000d1";
const DP2: &str = "00000000-0000-0000-0000-0000000000d2";

fn uuid(u: &str) -> Value {
    json!(["uuid", u])
}

/// A logical flow of `dp` whose UUID starts with `cookie`.
fn lflow(cookie: u32, dp: &str, table: u32, m: &str, a: &str) -> Value {
    json!({"_uuid": uuid(&format!("{cookie:08x}-0000-0000-0000-{table:012x}")),
           "logical_datapath": uuid(dp), "pipeline": "ingress",
           "table_id": table, "priority": 100, "match": m, "actions": a,
           "tags": ["map", []]})
}

/// SB with chassis `ch1` (with `ovn-monitor-all` as given), local datapath 1 (a VIF bound
/// here), datapath 2 elsewhere, and `flows`.
fn compile(monitor_all: bool, flows: Vec<Value>) -> Flows {
    let mut sb = SbTables::default();
    let mut add = |t: &str, rows: Vec<Value>| sb.add_json_rows(t, &rows).unwrap();
    add(
        "Chassis",
        vec![json!({"_uuid": uuid(CH1), "name": "ch1", "other_config":
            ["map", [["ovn-monitor-all", if monitor_all { "true" } else { "false" }]]]})],
    );
    add(
        "Datapath_Binding",
        vec![
            json!({"_uuid": uuid(DP1), "tunnel_key": 1,
                   "external_ids": ["map", [["logical-switch", "x"]]]}),
            json!({"_uuid": uuid(DP2), "tunnel_key": 2,
                   "external_ids": ["map", [["logical-switch", "y"]]]}),
        ],
    );
    add(
        "Port_Binding",
        vec![
            json!({"_uuid": uuid("00000000-0000-0000-0001-000000000001"),
                    "logical_port": "vm1", "datapath": uuid(DP1), "tunnel_key": 1,
                    "chassis": uuid(CH1)}),
        ],
    );
    add("Logical_Flow", flows);
    let view = ChassisView::new(&sb, "ch1").unwrap();
    let out = compile_chassis_flows(&sb.logical_flows, &view);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out
}

/// The rules of table `8 + table` as text.
fn rules(out: &Flows, table: u8) -> Vec<String> {
    out.flows
        .iter()
        .filter(|f| f.table == 8 + table)
        .map(ToString::to_string)
        .collect()
}

const M: &str = "ip4.src == 10.0.0.1";

#[test]
fn actions_beat_drop_whatever_the_order() {
    for (a, b) in [(0x10, 0x20), (0x20, 0x10)] {
        for flows in [
            vec![lflow(a, DP1, 5, M, "next;"), lflow(b, DP1, 5, M, "drop;")],
            vec![lflow(b, DP1, 5, M, "drop;"), lflow(a, DP1, 5, M, "next;")],
        ] {
            let r = rules(&compile(false, flows), 5);
            assert_eq!(r.len(), 1, "{r:?}");
            assert!(
                r[0].starts_with(&format!("cookie={a:#x},")) && r[0].contains("resubmit(,14)"),
                "{r:?}"
            );
        }
    }
}

#[test]
fn drop_and_actions_beat_conjunction_clauses() {
    // The conjunctive flow's clause `ip,nw_src=10.0.0.1` has the match of the other flow.
    let conj = "ip4.src == {10.0.0.1, 10.0.0.2} && ip4.dst == {10.0.1.1, 10.0.1.2}";
    for other in ["drop;", "next;"] {
        for flows in [
            vec![
                lflow(0x10, DP1, 5, conj, "next;"),
                lflow(0x20, DP1, 5, M, other),
            ],
            vec![
                lflow(0x20, DP1, 5, M, other),
                lflow(0x10, DP1, 5, conj, "next;"),
            ],
        ] {
            let r = rules(&compile(false, flows), 5);
            let src1: Vec<&String> = r
                .iter()
                .filter(|l| l.contains("nw_src=10.0.0.1 ") || l.ends_with("nw_src=10.0.0.1"))
                .collect();
            assert_eq!(src1.len(), 1, "{r:?}");
            assert!(src1[0].starts_with("cookie=0x20,"), "{r:?}");
            // The other clauses stay.
            assert!(r.iter().any(|l| l.contains("nw_src=10.0.0.2")), "{r:?}");
            assert!(r.iter().any(|l| l.contains("nw_dst=10.0.1.1")), "{r:?}");
        }
    }
}

#[test]
fn same_kind_highest_masked_cookie_wins() {
    // Two monitored logical flows: the table has 4 buckets (mask 3), so cookie 0x13 (bucket 3)
    // beats 0x24 (bucket 0) although it is smaller, in either order.
    for flows in [
        vec![
            lflow(0x13, DP1, 5, M, "reg0 = 1; next;"),
            lflow(0x24, DP1, 5, M, "reg0 = 2; next;"),
        ],
        vec![
            lflow(0x24, DP1, 5, M, "reg0 = 2; next;"),
            lflow(0x13, DP1, 5, M, "reg0 = 1; next;"),
        ],
    ] {
        let r = rules(&compile(false, flows), 5);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].starts_with("cookie=0x13,"), "{r:?}");
    }
}

#[test]
fn the_mask_counts_the_monitored_flows() {
    // With 8 monitored logical flows the mask is 7: 0x24 (bucket 4) beats 0x13 (bucket 3).
    // Six flows of the remote datapath 2 count only with `ovn-monitor-all`.
    let mut flows = vec![
        lflow(0x13, DP1, 5, M, "reg0 = 1; next;"),
        lflow(0x24, DP1, 5, M, "reg0 = 2; next;"),
    ];
    for t in 0..6 {
        flows.push(lflow(0x100 + t, DP2, t, "1", "next;"));
    }
    let r = rules(&compile(false, flows.clone()), 5);
    assert!(r[0].starts_with("cookie=0x13,"), "{r:?}");
    let r = rules(&compile(true, flows), 5);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("cookie=0x24,"), "{r:?}");
}

/// An IPv6 address whose first 96 bits are zero is printed `::a.b.c.d`, as ovs-ofctl does
/// (parity_random seed 1009: a template VIP of the wrong family).
#[test]
fn ipv4_compatible_ipv6_addresses_print_dotted() {
    let flows = vec![
        lflow(0x10, DP1, 5, "ip6.dst == 10.99.0.155", "next;"),
        lflow(0x11, DP1, 6, "ip6.dst == ::ffff:10.99.0.155", "next;"),
        lflow(0x12, DP1, 7, "ip6.dst == ::1", "next;"),
        lflow(0x13, DP1, 8, "ip6.dst == ::1:0", "next;"),
    ];
    let out = compile(false, flows);
    let text = |t: u8| rules(&out, t).join("\n");
    assert!(text(5).contains("ipv6_dst=::10.99.0.155 "), "{}", text(5));
    assert!(
        text(6).contains("ipv6_dst=::ffff:10.99.0.155 "),
        "{}",
        text(6)
    );
    assert!(text(7).contains("ipv6_dst=::1 "), "{}", text(7));
    assert!(text(8).contains("ipv6_dst=::0.1.0.0 "), "{}", text(8));
}
