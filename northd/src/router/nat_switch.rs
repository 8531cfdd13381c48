//! The switch side of router ports in `ls_in_l2_lkup`: ARP requests and neighbor solicitations
//! for addresses the router owns (its port IPs, the external IPs of its DNAT rules, and its load
//! balancer VIPs in the port's subnets) go to the router port; ARP requests the router sends
//! (from its MAC or a NAT `external_mac`) flood the switch; and a distributed NAT's
//! `external_mac` is delivered to the distributed gateway port on the chassis of its logical
//! port.
//!
//! Facts (ovn-northd 23.03), as observed:
//! - Priority 80, `flags[1] == 0 && arp.op == 1 && arp.tpa == IP` (or `nd_ns && nd.target ==
//!   IP`), one flow per address: to the router port, and also flooded to `_MC_flood_l2` when
//!   the switch has ports other than router ports.
//! - Priority 75, only when the switch has ports other than router ports: `eth.src == {router
//!   MAC, NAT external MACs}` ARP/RARP requests and solicitations flood `_MC_flood_l2`. The MACs
//!   (router MAC, then the `external_mac`, as written, of each rule but `snat` ones) go through
//!   a string set and print in its hash order.
//! - Nothing for a disabled router port.
//! - Priority 50 on the switch of each distributed gateway port (its switch port listing
//!   `router`): `eth.dst == EXTERNAL_MAC && is_chassis_resident(LOGICAL_PORT)` to the router
//!   port (dropped when the switch port is disabled), for each `dnat_and_snat` rule with a
//!   `logical_port` and a valid `external_mac`, whichever gateway port the rule uses.

use std::net::IpAddr;

use ovn_sb::stage::Stage;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Value};
use crate::mcast;
use crate::switch::LspType;

use super::super::{Peer, Router, RouterCtx, RouterPort};

/// `flags[1]`: the packet was already flooded to routers (no second delivery).
const FLOODED: Field = Field("flags[1]");

/// The string hash of Open vSwitch's `sset` (`hash_string(s, 0)`): 32-bit words mixed
/// murmur3-style, then finalized with the length.
fn string_hash(s: &str) -> u32 {
    fn mix(hash: u32, word: u32) -> u32 {
        let mut h = hash;
        if word != 0 {
            h ^= word
                .wrapping_mul(0xcc9e_2d51)
                .rotate_left(15)
                .wrapping_mul(0x1b87_3593);
        }
        h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
    }
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(4);
    let mut h = 0u32;
    for w in &mut words {
        h = mix(h, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 4];
        w[..tail.len()].copy_from_slice(tail);
        h = mix(h, u32::from_le_bytes(w));
    }
    // The length is mixed in modulo 2^32, as the C code does.
    let len = u32::try_from(bytes.len() & 0xffff_ffff).unwrap_or(u32::MAX);
    let mut f = h ^ len;
    f ^= f >> 16;
    f = f.wrapping_mul(0x85eb_ca6b);
    f ^= f >> 13;
    f = f.wrapping_mul(0xc2b2_ae35);
    f ^ (f >> 16)
}

/// The bucket mask an Open vSwitch hash map grows to for `n` entries.
fn grown_mask(n: usize) -> usize {
    let mut m = n / 2;
    for s in [1, 2, 4, 8, 16, 32] {
        m |= m >> s;
    }
    m | ((m & 1) << 1)
}

/// The iteration order of an Open vSwitch hash map (as used by `sset`) after inserting `items`
/// in order: indexes into `items`. Buckets hold their newest entry first, and growing the map
/// moves entries bucket by bucket to the front of their new bucket.
fn hash_set_order(items: &[String]) -> Vec<usize> {
    let hashes: Vec<usize> = items
        .iter()
        .map(|s| usize::try_from(string_hash(s)).unwrap_or(0))
        .collect();
    let mut mask = 0usize;
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new()];
    for (i, h) in hashes.iter().enumerate() {
        if let Some(b) = buckets.get_mut(h & mask) {
            b.insert(0, i);
        }
        let n = i + 1;
        if n / 2 > mask {
            let new_mask = grown_mask(n);
            if new_mask > mask {
                let mut grown: Vec<Vec<usize>> = vec![Vec::new(); new_mask + 1];
                for j in buckets.iter().flatten() {
                    let hj = hashes.get(*j).copied().unwrap_or(0);
                    if let Some(b) = grown.get_mut(hj & new_mask) {
                        b.insert(0, *j);
                    }
                }
                buckets = grown;
                mask = new_mask;
            }
        }
    }
    buckets.into_iter().flatten().collect()
}

/// True when `ip` is in one of the subnets of `p`.
fn port_reaches(p: &RouterPort, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => p.ipv4.iter().any(|n| {
            let m = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(n.plen)))
                .unwrap_or(0);
            u32::from(a) & m == u32::from(n.addr) & m
        }),
        IpAddr::V6(a) => p.ipv6.iter().any(|n| {
            let m = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(n.plen)))
                .unwrap_or(0);
            u128::from(a) & m == u128::from(n.addr) & m
        }),
    }
}

/// The addresses switch traffic resolves at router port `p` (IPv6 or not, and the address as
/// printed: NAT external IPs as written in the NB).
fn owned_ips(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    vips: &crate::router::lb::VipSet,
    p: &RouterPort,
) -> Vec<(bool, Value)> {
    let mut ips: Vec<(bool, Value)> = p
        .ipv4
        .iter()
        .map(|n| (false, Value::Ip(IpAddr::V4(n.addr))))
        .collect();
    ips.extend(p.ipv6.iter().map(|n| (true, Value::Ip(IpAddr::V6(n.addr)))));
    // A DNAT external IP that is also one of the router's VIPs is forwarded through the VIP
    // path below, and only when the port's networks reach it (`vips`: the router's VIPs).
    ips.extend(
        lr.nat_rules
            .iter()
            .filter(|r| r.kind.has_dnat() && !vips.contains(&r.external))
            .map(|r| (r.is_v6(), r.external_value())),
    );
    ips.extend(
        crate::router::lb::router_lb_info(ctx, lr)
            .vips
            .iter()
            .map(|(ip, _)| *ip)
            .filter(|ip| port_reaches(p, *ip))
            .map(|ip| (ip.is_ipv6(), Value::Ip(ip))),
    );
    ips
}

/// Builds the switch-side flows of every router port of `lr` peering a switch port.
pub(super) fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let info = crate::router::lb::router_lb_info(ctx, lr);
    let vips = &info.ips;
    for p in &lr.ports {
        let Some(Peer::Switch { port: peer }) = &p.peer else {
            continue;
        };
        let Some(peer_sw) = crate::router::routing::switch_with_port(ctx, peer) else {
            continue;
        };
        let mut targets = vec![(peer_sw, peer.clone())];
        targets.extend(crate::router::routing::other_switch_peers(
            ctx, &p.name, peer,
        ));
        for (sw, port) in &targets {
            switch_side(ctx, lr, vips, p, sw, port, flows);
        }
    }
}

/// The flows of router port `p` on switch `sw`, through its switch port `port`.
fn switch_side(
    ctx: &RouterCtx<'_>,
    lr: &Router,
    vips: &crate::router::lb::VipSet,
    p: &RouterPort,
    sw: &crate::switch::Switch,
    port: &str,
    flows: &mut FlowTable,
) {
    let dp = sw.dp;
    let to_router = vec![
        Action::Assign(Field::OUTPORT, Value::port(port)),
        Action::Output,
    ];
    // (A disabled router port gets only the delivery of its distributed NAT MACs.)
    if p.enabled {
        // Flooded too unless every port of the switch is a router port with a peer (a
        // `router` switch port naming no port of an enabled router counts as another port).
        let flood = sw
            .ports
            .iter()
            .any(|sp| sp.type_ != LspType::Router || !sp.router_peer);
        let to_flood = vec![
            Action::Assign(Field::OUTPORT, Value::port(mcast::FLOOD_L2)),
            Action::Output,
        ];
        let actions = if flood {
            let mut a = vec![Action::NestedTight("clone", to_router.clone())];
            a.extend(to_flood.clone());
            Actions(a)
        } else {
            Actions(to_router.clone())
        };
        for (v6, ip) in owned_ips(ctx, lr, vips, p) {
            let m = Match::eq(FLOODED, 0u64);
            let m = if v6 {
                m.and_pred(crate::flow::Pred::NdNs)
                    .and_eq(Field::ND_TARGET, ip)
            } else {
                m.and_eq(Field::ARP_OP, 1u64).and_eq(Field::ARP_TPA, ip)
            };
            flows.add(dp, Stage::LsInL2Lkup, 80, &m, &actions);
        }
        if flood {
            // The `external_mac` (as written) of every rule but `snat` ones.
            let mut macs = vec![p.mac.to_string()];
            for r in &lr.nat_rules {
                if r.kind != super::NatKind::Snat {
                    if let Some(mac) = &r.external_mac_text {
                        if !macs.contains(mac) {
                            macs.push(mac.clone());
                        }
                    }
                }
            }
            // ovn-northd collects the MACs in a string set and prints them in its hash order.
            let macs: Vec<Value> = hash_set_order(&macs)
                .into_iter()
                .filter_map(|i| macs.get(i))
                .map(|m| Value::Raw(m.clone()))
                .collect();
            let m = Match::eq(Field::ETH_SRC, Value::Set(macs)).and_pred(crate::flow::Pred::Fixed(
                "(arp.op == 1 || rarp.op == 3 || nd_ns)",
            ));
            flows.add(dp, Stage::LsInL2Lkup, 75, &m, &Actions(to_flood));
        }
    }
    // The switch port's address lookup also delivers the `external_mac` of every
    // `dnat_and_snat` rule with a `logical_port` (whichever gateway port the rule uses, and
    // even when it is otherwise unusable), when it lists `router` among its addresses.
    let sp = sw.ports.iter().find(|sp| sp.name == port);
    let lists_router = sp
        .and_then(|sp| ctx.nb.switch_ports.get(&sp.nb))
        .is_some_and(|lsp| lsp.addresses.iter().any(|a| a == "router"));
    if p.is_dgp && lists_router {
        let deliver = if sp.is_some_and(|sp| sp.enabled) {
            Actions(to_router.clone())
        } else {
            Actions::one(Action::Drop)
        };
        for r in lr.nat_rules.iter().filter(|r| r.distributed) {
            if let (Some(mac), Some(lp)) = (r.external_mac, &r.logical_port) {
                flows.add(
                    dp,
                    Stage::LsInL2Lkup,
                    50,
                    &Match::eq(Field::ETH_DST, mac).and_resident(lp),
                    &deliver,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_set_order_matches_ovn() {
        // Orders observed from ovn-northd 23.03.
        let macs = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let a = macs(&[
            "00:00:00:00:01:01",
            "00:00:00:00:03:31",
            "00:00:00:00:03:32",
        ]);
        assert_eq!(hash_set_order(&a), vec![0, 2, 1]);
        let b = macs(&[
            "00:00:00:00:01:01",
            "00:00:00:00:03:33",
            "00:00:00:00:03:50",
        ]);
        assert_eq!(hash_set_order(&b), vec![2, 0, 1]);
    }
}
