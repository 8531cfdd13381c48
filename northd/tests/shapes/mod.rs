//! Generated Northbound shapes for scale runs, shared by the scale and side-by-side benchmarks.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use northd::NbSnapshot;
use ovn_nb::model as nb;
use ovsdb::model::{Ref, Uuid};

/// A UUID made of a kind tag and an index, so generated rows are stable run to run.
pub fn uuid(kind: u128, i: u128) -> Uuid {
    Uuid::from_u128((kind << 96) | i)
}

/// 500 switches x 50 ports, 2,000 allow-related ACLs in 500 port groups of 10 ports, 1,000
/// TCP load balancers in one group attached to every switch.
pub fn switches_only() -> NbSnapshot {
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
            vips: ovsdb::model::SortedMap::from([(
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
        let set = nb::AddressSet {
            uuid: Ref::new(uuid(7, g)),
            name: format!("as{g}"),
            addresses: (0..10u128)
                .map(|k| format!("10.{}.{}.{}", 200 + g / 250, g % 250, k + 1))
                .collect(),
            ..Default::default()
        };
        s.address_sets.insert(set.uuid, set);
    }
    s
}

/// The rows of one table, by UUID.
pub type Rows<T> = BTreeMap<Ref<T>, T>;

fn push_rows<T: ovsdb::model::Model>(rows: &BTreeMap<Ref<T>, T>, ops: &mut Vec<serde_json::Value>) {
    for (r, row) in rows {
        let cols = row.columns_json().expect("generated rows fit the schema");
        ops.push(serde_json::json!({
            "op": "insert",
            "table": T::TABLE,
            "uuid": r.uuid().to_string(),
            "row": cols,
        }));
    }
}

/// One `transact` (params, with the database name first) inserting every row of `s` with its
/// own UUID, plus an `NB_Global` row with `nb_cfg` = 1 when `s` has none.
pub fn insert_transaction(s: &NbSnapshot) -> Vec<serde_json::Value> {
    let mut ops = vec![serde_json::json!("OVN_Northbound")];
    match &s.nb_global {
        Some(g) => ops.push(serde_json::json!({
            "op": "insert", "table": "NB_Global", "uuid": g.uuid.uuid().to_string(),
            "row": ovsdb::model::Model::columns_json(g).expect("NB_Global"),
        })),
        None => ops.push(serde_json::json!({
            "op": "insert", "table": "NB_Global", "row": {"nb_cfg": 1},
        })),
    }
    push_rows(&s.switches, &mut ops);
    push_rows(&s.switch_ports, &mut ops);
    push_rows(&s.routers, &mut ops);
    push_rows(&s.router_ports, &mut ops);
    push_rows(&s.acls, &mut ops);
    push_rows(&s.address_sets, &mut ops);
    push_rows(&s.port_groups, &mut ops);
    push_rows(&s.load_balancers, &mut ops);
    push_rows(&s.lb_groups, &mut ops);
    push_rows(&s.qos, &mut ops);
    push_rows(&s.meters, &mut ops);
    push_rows(&s.dhcp_options, &mut ops);
    push_rows(&s.dns, &mut ops);
    push_rows(&s.static_routes, &mut ops);
    push_rows(&s.policies, &mut ops);
    push_rows(&s.nats, &mut ops);
    push_rows(&s.gateway_chassis, &mut ops);
    push_rows(&s.ha_chassis_groups, &mut ops);
    push_rows(&s.ha_chassis, &mut ops);
    push_rows(&s.bfd, &mut ops);
    push_rows(&s.static_mac_bindings, &mut ops);
    push_rows(&s.copp, &mut ops);
    ops
}

pub mod ovnk;
pub mod pods;
