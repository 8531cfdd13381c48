//! Scale check (ignored by default; run with `cargo test --release -p northd --test scale --
//! --ignored --nocapture`): 500 switches x 50 ports, 2,000 ACLs in port groups, 1,000 load
//! balancers in one group attached to every switch — the switches-only benchmark shape.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use northd::{build, NbSnapshot, SbState};
use ovn_nb::model as nb;
use ovsdb::model::{Ref, Uuid};

fn uuid(kind: u128, i: u128) -> Uuid {
    Uuid::from_u128((kind << 96) | i)
}

fn cluster() -> NbSnapshot {
    let mut s = NbSnapshot::default();
    let mut group = nb::LoadBalancerGroup {
        uuid: Ref::new(uuid(1, 0)),
        name: "cluster".into(),
        ..Default::default()
    };
    for l in 0..1000u128 {
        let lb = nb::LoadBalancer {
            uuid: Ref::new(uuid(2, l)),
            name: format!("svc{l}"),
            protocol: Some(nb::LoadBalancerProtocol::Tcp),
            vips: BTreeMap::from([(
                format!("172.30.{}.{}:80", l / 250, l % 250 + 1),
                format!(
                    "10.128.{}.{}:8080,10.128.{}.{}:8080",
                    l % 200,
                    10,
                    (l + 1) % 200,
                    11
                ),
            )]),
            ..Default::default()
        };
        group.load_balancer.insert(lb.uuid);
        s.load_balancers.insert(lb.uuid, lb);
    }
    s.lb_groups.insert(group.uuid, group);
    let mut all_ports = Vec::new();
    for w in 0..500u128 {
        let mut ls = nb::LogicalSwitch {
            uuid: Ref::new(uuid(3, w)),
            name: format!("node{w}"),
            load_balancer_group: BTreeSet::from([Ref::new(uuid(1, 0))]),
            ..Default::default()
        };
        for p in 0..50u128 {
            let id = w * 50 + p;
            let lsp = nb::LogicalSwitchPort {
                uuid: Ref::new(uuid(4, id)),
                name: format!("ns_pod{id}"),
                addresses: BTreeSet::from([format!(
                    "0a:58:0a:{:02x}:{:02x}:{:02x} 10.{}.{}.{}",
                    (w >> 8) & 0xff,
                    w & 0xff,
                    p + 2,
                    128 + w / 256,
                    w % 256,
                    p + 2
                )]),
                ..Default::default()
            };
            ls.ports.insert(lsp.uuid);
            all_ports.push(lsp.uuid);
            s.switch_ports.insert(lsp.uuid, lsp);
        }
        s.switches.insert(ls.uuid, ls);
    }
    // 500 port groups (policies) of 10 pods each, 4 ACLs each.
    for g in 0..500u128 {
        let mut pg = nb::PortGroup {
            uuid: Ref::new(uuid(5, g)),
            name: format!("pg{g}"),
            ..Default::default()
        };
        for k in 0..10 {
            pg.ports
                .insert(all_ports[((g * 37 + k * 101) % 25000) as usize]);
        }
        for a in 0..4u128 {
            let acl = nb::Acl {
                uuid: Ref::new(uuid(6, g * 4 + a)),
                priority: 1000 + a as i64,
                direction: if a % 2 == 0 {
                    nb::AclDirection::ToLport
                } else {
                    nb::AclDirection::FromLport
                },
                match_: format!("outport == @pg{g} && ip4.src == $as{g}"),
                action: nb::AclAction::AllowRelated,
                ..Default::default()
            };
            pg.acls.insert(acl.uuid);
            s.acls.insert(acl.uuid, acl);
        }
        s.port_groups.insert(pg.uuid, pg);
    }
    s
}

#[test]
#[ignore = "scale run; use --release -- --ignored"]
fn switches_only_cluster() {
    let nb = cluster();
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
