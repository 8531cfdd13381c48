//! Our `ovs-vsctl show` rendering equals the real one for a chassis database built by
//! `ovn_sb::chassis` (br-int with fail_mode secure and a controller, br-ex, a patch port pair,
//! internal ports, a bound pod port with a VLAN tag, a Geneve tunnel port and a manager), served
//! by a real ovsdb-server.

use std::collections::BTreeMap;
use std::process::Command;

use ovn_sb::chassis::{Chassis, ChassisConfig};
use ovn_sb::chassis_show::{render, VswitchView};
use serde_json::{json, Value};

fn chassis() -> Chassis {
    let mut cfg = ChassisConfig::new("ch1", "172.18.0.2");
    cfg.bridge_mappings = vec![("physnet".into(), "br-ex".into())];
    cfg.sb_remote = Some("tcp:172.18.0.1:6642".into());
    cfg.hostname = Some("node1".into());
    cfg.ovs_version = Some("3.1.0".into());
    let mut c = Chassis::new(&cfg);
    c.add_bridge("br-ex").expect("br-ex");
    c.add_patch_ports(
        "br-ex",
        "patch-br-ex_node1-to-br-int",
        "br-int",
        "patch-br-int-to-br-ex_node1",
    )
    .expect("patch ports");
    c.add_internal_port("br-int", "ovn-k8s-mp0", Some("k8s-node1"))
        .expect("management port");
    c.add_port("br-ex", "eth0", "").expect("uplink");
    c.add_port("br-int", "vm1", "").expect("pod port");
    c.bind("vm1", "ns_pod1").expect("bind");
    c.set_tag("vm1", Some(5)).expect("tag");
    c.add_port("br-int", "ovn-ch2-0", "geneve").expect("tunnel");
    for (k, v) in [
        ("remote_ip", "172.18.0.3"),
        ("key", "flow"),
        ("csum", "true"),
    ] {
        c.set_interface_option("ovn-ch2-0", k, v).expect("option");
    }
    c.set_controller("br-int", "tcp:127.0.0.1:6653")
        .expect("controller");
    c.add_manager("ptcp:6640");
    c
}

fn transact(remote: &str, params: &Value) -> Value {
    let out = Command::new("ovsdb-client")
        .args(["transact", remote, &params.to_string()])
        .output()
        .expect("run ovsdb-client");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v.as_array()
            .is_some_and(|a| a.iter().all(|r| r.get("error").is_none())),
        "transaction failed: {v}"
    );
    v
}

#[test]
fn show_matches_real_ovs_vsctl() {
    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().expect("sandbox");
    let schema = ovn.schema(testkit::Schema::OpenVswitch).expect("schema");
    let server = sandbox
        .start_ovsdb_server("conf", &schema)
        .expect("ovsdb-server");
    let remote = server.remote();
    let c = chassis();

    let mut params = vec![json!("Open_vSwitch")];
    params.extend(c.transaction().expect("ops"));
    transact(&remote, &Value::Array(params));

    let real = sandbox
        .run(
            testkit::Tool::OvsVsctl,
            [format!("--db={remote}"), "--no-wait".into(), "show".into()],
        )
        .expect("ovs-vsctl show");

    let tables = [
        "Open_vSwitch",
        "Bridge",
        "Port",
        "Interface",
        "Controller",
        "Manager",
    ];
    let mut params = vec![json!("Open_vSwitch")];
    for t in tables {
        params.push(json!({"op": "select", "table": t, "where": []}));
    }
    let reply = transact(&remote, &Value::Array(params));
    let mut rows = BTreeMap::new();
    for (t, r) in tables.iter().zip(reply.as_array().expect("array")) {
        let list: Vec<Value> = r["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| {
                let mut row = row.clone();
                if let Some(o) = row.as_object_mut() {
                    o.remove("_version");
                }
                row
            })
            .collect();
        rows.insert((*t).to_owned(), list);
    }
    let view = VswitchView::of_json(&rows).expect("view");
    let ours = render(&view);
    assert_eq!(ours, real, "--- ours\n{ours}--- real\n{real}");
    for needle in [
        "fail_mode: secure",
        "type: patch",
        "options: {peer=patch-br-int-to-br-ex_node1}",
        "type: internal",
        "Manager \"ptcp:6640\"",
        "Controller \"tcp:127.0.0.1:6653\"",
        "ovs_version: \"3.1.0\"",
    ] {
        assert!(real.contains(needle), "missing {needle:?} in\n{real}");
    }

    // The embedded database holds the same picture (bridges and ports come in UUID order, so
    // compare line multisets).
    let db = c.to_database().expect("embedded database");
    let embedded = render(&VswitchView::of_database(&db).expect("view"));
    let lines = |s: &str| {
        let mut v: Vec<String> = s.lines().skip(1).map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(lines(&embedded), lines(&real));
}

/// Canonical text of the chassis tables: UUIDs renamed by row content, `_version` and the
/// columns ovs-vsctl leaves to ovs-vswitchd ignored.
fn canonical(remote: &str) -> Vec<String> {
    let tables = [
        "Open_vSwitch",
        "Bridge",
        "Port",
        "Interface",
        "Controller",
        "Manager",
    ];
    let mut params = vec![json!("Open_vSwitch")];
    for t in tables {
        params.push(json!({"op": "select", "table": t, "where": []}));
    }
    let reply = transact(remote, &Value::Array(params));
    let mut rows: Vec<(String, String, Value)> = Vec::new();
    for (t, r) in tables.iter().zip(reply.as_array().expect("array")) {
        for row in r["rows"].as_array().expect("rows") {
            let mut row = row.clone();
            if let Some(o) = row.as_object_mut() {
                o.remove("_version");
            }
            let masked = mask_uuids(&row);
            rows.push(((*t).to_owned(), masked.to_string(), row));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut names = BTreeMap::new();
    for (i, (_, _, row)) in rows.iter().enumerate() {
        if let Some(u) = row["_uuid"][1].as_str() {
            names.insert(u.to_owned(), format!("<{i}>"));
        }
    }
    let mut text = serde_json::to_string(&rows.iter().map(|r| (&r.0, &r.2)).collect::<Vec<_>>())
        .expect("json");
    for (u, n) in &names {
        text = text.replace(u.as_str(), n);
    }
    let v: Vec<(String, Value)> = serde_json::from_str(&text).expect("json");
    let mut lines: Vec<String> = v
        .iter()
        .map(|(t, r)| format!("{t} {}", sort_sets(r)))
        .collect();
    lines.sort();
    lines
}

fn mask_uuids(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => json!("<uuid>"),
        Value::Array(a) => Value::Array(a.iter().map(mask_uuids).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), mask_uuids(x))).collect())
        }
        other => other.clone(),
    }
}

fn sort_sets(v: &Value) -> String {
    match v {
        Value::Array(a) if a.len() == 2 && (a[0] == "set" || a[0] == "map") => {
            let mut items: Vec<String> = a[1]
                .as_array()
                .map(|x| x.iter().map(sort_sets).collect())
                .unwrap_or_default();
            items.sort();
            format!("{}{:?}", a[0], items)
        }
        Value::Array(a) => format!("{:?}", a.iter().map(sort_sets).collect::<Vec<_>>()),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .filter(|(k, _)| k.as_str() != "_uuid")
                .map(|(k, x)| format!("{k}:{}", sort_sets(x)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

#[test]
fn chassis_rows_equal_what_ovs_vsctl_writes() {
    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().expect("sandbox");
    let schema = ovn.schema(testkit::Schema::OpenVswitch).expect("schema");
    let ours = sandbox.start_ovsdb_server("ours", &schema).expect("server");
    let theirs = sandbox
        .start_ovsdb_server("theirs", &schema)
        .expect("server");

    let mut params = vec![json!("Open_vSwitch")];
    params.extend(chassis().transaction().expect("ops"));
    transact(&ours.remote(), &Value::Array(params));

    let script = "init \
        -- set open . external_ids:system-id=ch1 external_ids:ovn-encap-type=geneve \
           external_ids:ovn-encap-ip=172.18.0.2 external_ids:ovn-bridge-mappings=physnet:br-ex \
           external_ids:ovn-remote=tcp:172.18.0.1:6642 external_ids:hostname=node1 \
           ovs_version=3.1.0 \
        -- add-br br-int -- set bridge br-int fail_mode=secure other_config:disable-in-band=true \
        -- add-br br-ex \
        -- add-port br-ex patch-br-ex_node1-to-br-int \
        -- set interface patch-br-ex_node1-to-br-int type=patch options:peer=patch-br-int-to-br-ex_node1 \
        -- add-port br-int patch-br-int-to-br-ex_node1 \
        -- set interface patch-br-int-to-br-ex_node1 type=patch options:peer=patch-br-ex_node1-to-br-int \
        -- add-port br-int ovn-k8s-mp0 -- set interface ovn-k8s-mp0 type=internal external_ids:iface-id=k8s-node1 \
        -- add-port br-ex eth0 \
        -- add-port br-int vm1 tag=5 -- set interface vm1 external_ids:iface-id=ns_pod1 \
        -- add-port br-int ovn-ch2-0 -- set interface ovn-ch2-0 type=geneve \
           options:remote_ip=172.18.0.3 options:key=flow options:csum=true \
        -- set-controller br-int tcp:127.0.0.1:6653 -- set-manager ptcp:6640";
    let mut args = vec![format!("--db={}", theirs.remote()), "--no-wait".to_owned()];
    args.extend(script.split_whitespace().map(str::to_owned));
    sandbox
        .run(testkit::Tool::OvsVsctl, &args)
        .expect("ovs-vsctl");

    let (a, b) = (canonical(&ours.remote()), canonical(&theirs.remote()));
    // Open_vSwitch, 2 bridges, 8 ports and interfaces, a controller and a manager.
    assert_eq!(a.len(), 21, "{a:#?}");
    let only_ours: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_theirs: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    assert!(
        a == b,
        "ours only: {only_ours:#?}\novs-vsctl only: {only_theirs:#?}"
    );
}
