//! Property tests for the EgressIP assignment, one per rule.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ovn_nb::kube::annotations::{CloudCapacity, CloudEgressConfig, PerFamily};
use ovn_nb::kube::egressip::{
    assign_egress_ips, EgressAssignment, EgressIpRequest, EgressNode, PreviousAssignment,
    Unassigned,
};
use ovn_nb::IpNet;
use proptest::prelude::*;

/// Egress IPs drawn from: the primary subnets (10.0.0.0/24, 10.0.1.0/24), a range only a /16
/// host CIDR covers (10.0.2.x), IPv6, an address no node can host, and one that may be node
/// n0's own address.
const IP_POOL: &[&str] = &[
    "10.0.0.100",
    "10.0.0.101",
    "10.0.0.102",
    "10.0.0.103",
    "10.0.0.104",
    "10.0.0.105",
    "10.0.1.100",
    "10.0.1.101",
    "10.0.1.102",
    "10.0.2.100",
    "10.0.2.101",
    "fd00::100",
    "fd00::101",
    "fd00::102",
    "192.168.77.1",
    "10.0.0.10",
];

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test literal")
}

fn net(s: &str) -> IpNet {
    s.parse().expect("test literal")
}

fn node_strategy(i: usize) -> impl Strategy<Value = EgressNode> {
    (
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.85),
        0..3u8,
        prop::bool::ANY,
        prop::bool::ANY,
        prop::option::weighted(0.3, (0..4u32, 0..4u32, prop::bool::ANY)),
    )
        .prop_map(move |(assignable, reachable, v4, v6, wide, cloud)| {
            let primary = PerFamily {
                ipv4: match v4 {
                    0 => Some(net(&format!("10.0.0.{}/24", 10 + i))),
                    1 => Some(net(&format!("10.0.1.{}/24", 10 + i))),
                    _ => None,
                },
                ipv6: v6.then(|| net(&format!("fd00::{:x}/64", 10 + i))),
            };
            let mut host_cidrs: Vec<IpNet> = primary.iter().collect();
            if wide {
                host_cidrs.push(net(&format!("10.0.9.{}/16", 10 + i)));
            }
            let cloud = cloud.map(|(a, b, shared)| CloudEgressConfig {
                interface: "eni".into(),
                ifaddr: PerFamily {
                    ipv4: Some(net("10.0.0.0/24")),
                    ipv6: Some(net("fd00::/64")),
                },
                capacity: if shared {
                    CloudCapacity::Shared { ip: a + b }
                } else {
                    CloudCapacity::PerFamily { ipv4: a, ipv6: b }
                },
            });
            EgressNode {
                name: format!("n{i}"),
                assignable,
                reachable,
                primary,
                host_cidrs,
                cloud,
            }
        })
}

fn nodes_strategy() -> impl Strategy<Value = Vec<EgressNode>> {
    (1..7usize).prop_flat_map(|n| (0..n).map(node_strategy).collect::<Vec<_>>())
}

fn requests_strategy() -> impl Strategy<Value = Vec<EgressIpRequest>> {
    prop::collection::vec(prop::collection::vec(0..IP_POOL.len(), 1..5), 0..6).prop_map(|objs| {
        objs.into_iter()
            .enumerate()
            .map(|(j, ips)| EgressIpRequest {
                name: format!("e{j}"),
                ips: ips.into_iter().map(|k| ip(IP_POOL[k])).collect(),
            })
            .collect()
    })
}

/// An arbitrary (possibly invalid) previous assignment over the requested IPs.
fn previous_strategy(
    reqs: &[EgressIpRequest],
    nodes: usize,
) -> impl Strategy<Value = PreviousAssignment> {
    let slots: Vec<(String, IpAddr)> = reqs
        .iter()
        .flat_map(|r| r.ips.iter().map(move |i| (r.name.clone(), *i)))
        .collect();
    let n = slots.len();
    prop::collection::vec(prop::option::of(0..nodes + 1), n).prop_map(move |picks| {
        let mut prev = PreviousAssignment::new();
        for ((name, i), pick) in slots.iter().zip(picks) {
            if let Some(k) = pick {
                prev.entry(name.clone())
                    .or_default()
                    .insert(*i, format!("n{k}"));
            }
        }
        prev
    })
}

fn input() -> impl Strategy<Value = (Vec<EgressNode>, Vec<EgressIpRequest>, PreviousAssignment)> {
    (nodes_strategy(), requests_strategy()).prop_flat_map(|(nodes, reqs)| {
        let prev = previous_strategy(&reqs, nodes.len());
        (Just(nodes), Just(reqs), prev)
    })
}

fn counts(a: &EgressAssignment) -> BTreeMap<String, (u32, u32)> {
    let mut out: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (i, p) in a.assigned.values().flat_map(|m| m.iter()) {
        let e = out.entry(p.node.clone()).or_default();
        if i.is_ipv4() {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    out
}

fn fits_at_end(a: &EgressAssignment, node: &EgressNode, object: &str, i: IpAddr) -> bool {
    let (v4, v6) = counts(a).get(&node.name).copied().unwrap_or_default();
    let room = match node.cloud.as_ref().map(|c| c.capacity) {
        None => true,
        Some(CloudCapacity::Shared { ip }) => v4 + v6 < ip,
        Some(CloudCapacity::PerFamily { ipv4, ipv6 }) => {
            if i.is_ipv4() {
                v4 < ipv4
            } else {
                v6 < ipv6
            }
        }
    };
    let same_object = a
        .assigned
        .get(object)
        .is_some_and(|m| m.values().any(|p| p.node == node.name));
    node.eligible() && room && !same_object && node.interface_for(i).is_some()
}

proptest! {
    /// Assignments go only to assignable, reachable nodes, on the interface the subnet rules pick.
    #[test]
    fn only_eligible_nodes_in_matching_subnet((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        for (i, p) in a.assigned.values().flat_map(|m| m.iter()) {
            let n = nodes.iter().find(|n| n.name == p.node).expect("placement on a known node");
            prop_assert!(n.assignable && n.reachable);
            prop_assert_eq!(n.interface_for(*i), Some(p.interface));
        }
    }

    /// No IP is on two nodes, and every requested IP is either assigned or explained, once.
    #[test]
    fn one_node_per_ip((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        let mut seen = BTreeSet::new();
        for i in a.assigned.values().flat_map(|m| m.keys()) {
            prop_assert!(seen.insert(*i), "{} assigned twice", i);
        }
        for r in &reqs {
            for i in &r.ips {
                let assigned = a.assigned.get(&r.name).is_some_and(|m| m.contains_key(i));
                let unassigned = a.unassigned.get(&r.name).is_some_and(|m| m.contains_key(i));
                prop_assert!(assigned != unassigned, "{} {}: assigned={} unassigned={}", r.name, i, assigned, unassigned);
            }
        }
    }

    /// The IPs of one EgressIP object are on different nodes.
    #[test]
    fn object_ips_on_distinct_nodes((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        for m in a.assigned.values() {
            let nodes: BTreeSet<&str> = m.values().map(|p| p.node.as_str()).collect();
            prop_assert_eq!(nodes.len(), m.len());
        }
    }

    /// Cloud capacity (per family or shared) is never exceeded.
    #[test]
    fn capacity_respected((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        for (name, (v4, v6)) in counts(&a) {
            let n = nodes.iter().find(|n| n.name == name).expect("known node");
            match n.cloud.as_ref().map(|c| c.capacity) {
                None => {}
                Some(CloudCapacity::Shared { ip }) => prop_assert!(v4 + v6 <= ip),
                Some(CloudCapacity::PerFamily { ipv4, ipv6 }) => {
                    prop_assert!(v4 <= ipv4);
                    prop_assert!(v6 <= ipv6);
                }
            }
        }
    }

    /// An IP is left without a node only when no node could take it, even at the end.
    #[test]
    fn unassigned_only_when_nothing_fits((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        for (object, m) in &a.unassigned {
            for (i, why) in m {
                if matches!(why, Unassigned::DuplicateIp { .. } | Unassigned::NodeAddress { .. }) {
                    continue;
                }
                for n in &nodes {
                    prop_assert!(!fits_at_end(&a, n, object, *i), "{} {} fits on {}", object, i, n.name);
                }
            }
        }
    }

    /// Feeding the output back as the previous assignment changes nothing.
    #[test]
    fn idempotent((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        let b = assign_egress_ips(&nodes, &reqs, &a.to_previous());
        prop_assert_eq!(a, b);
    }

    /// Deterministic: node and request order in the input do not matter.
    #[test]
    fn order_independent((nodes, reqs, prev) in input()) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        let mut rn = nodes.clone();
        rn.reverse();
        let mut rr = reqs.clone();
        rr.reverse();
        prop_assert_eq!(a, assign_egress_ips(&rn, &rr, &prev));
    }

    /// When nodes fail, assignments on healthy nodes stay put and only the failed nodes' IPs move.
    #[test]
    fn minimal_moves((nodes, reqs, prev) in input(), fail in prop::collection::vec(prop::bool::weighted(0.3), 6)) {
        let a = assign_egress_ips(&nodes, &reqs, &prev);
        let mut after = nodes.clone();
        for (n, f) in after.iter_mut().zip(&fail) {
            if *f {
                n.reachable = false;
            }
        }
        let b = assign_egress_ips(&after, &reqs, &a.to_previous());
        let failed: BTreeSet<&str> = after.iter().filter(|n| !n.reachable).map(|n| n.name.as_str()).collect();
        let mut moved = 0;
        let mut on_failed = 0;
        for (object, m) in &a.assigned {
            for (i, p) in m {
                if failed.contains(p.node.as_str()) {
                    on_failed += 1;
                    prop_assert_ne!(b.node_of(object, *i), Some(p.node.as_str()));
                } else {
                    prop_assert_eq!(b.node_of(object, *i), Some(p.node.as_str()));
                }
                if b.node_of(object, *i) != Some(p.node.as_str()) {
                    moved += 1;
                }
            }
        }
        prop_assert!(moved <= on_failed);
    }

    /// With nothing in the way (one subnet, no capacity limits, all nodes eligible, nothing
    /// assigned before), IPs spread evenly: node loads differ by at most one.
    #[test]
    fn even_spread(n in 1..7usize, objs in prop::collection::vec(prop::collection::btree_set(0..6usize, 1..5), 0..7)) {
        let nodes: Vec<EgressNode> = (0..n)
            .map(|i| EgressNode {
                primary: PerFamily { ipv4: Some(net(&format!("10.0.0.{}/24", 10 + i))), ipv6: None },
                ..EgressNode::new(format!("n{i}"))
            })
            .collect();
        let mut next = 100;
        let reqs: Vec<EgressIpRequest> = objs
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let ips = s.iter().map(|_| { next += 1; ip(&format!("10.0.0.{next}")) }).collect();
                EgressIpRequest { name: format!("e{j}"), ips }
            })
            .collect();
        let a = assign_egress_ips(&nodes, &reqs, &PreviousAssignment::new());
        let per = a.per_node();
        let loads: Vec<usize> = nodes.iter().map(|n| per.get(n.name.as_str()).copied().unwrap_or(0)).collect();
        let (min, max) = (loads.iter().min().copied().unwrap_or(0), loads.iter().max().copied().unwrap_or(0));
        prop_assert!(max - min <= 1, "loads {:?}", loads);
        // Only IPs beyond the node count of their object stay unassigned.
        for r in &reqs {
            let placed = a.assigned.get(&r.name).map_or(0, BTreeMap::len);
            prop_assert_eq!(placed, r.ips.len().min(n));
        }
    }
}
