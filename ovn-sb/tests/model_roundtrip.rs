//! Round-trips every row of a real OVN_Southbound database (filled by the real ovn-northd and
//! ovn-controller from a rich NB) and of a real Open_vSwitch database through the generated models:
//! JSON row → typed struct → JSON row must be unchanged, and typed struct → `Row` → typed struct too.

use std::collections::BTreeMap;

use ovn_sb::{model, vswitch};
use serde_json::{json, Value};

mod real_db {
    include!("../../ovn-nb/tests/support/real_db.rs");
}

/// Round-trips every row of `rows` through the model whose `AnyRow` and `schema` are given.
macro_rules! round_trip {
    ($any:ty, $schema:expr, $rows:expr) => {
        for (table, rows) in $rows {
            let layout = $schema.table(table).expect("table");
            for row in rows {
                let typed = <$any>::from_json(table, row).unwrap_or_else(|e| panic!("{e}\n{row}"));
                assert_eq!(typed.table(), table);
                let back = typed.to_json().unwrap_or_else(|e| panic!("{e}\n{row}"));
                assert_eq!(&back, row, "{table} JSON round trip");
                let db_row = typed.to_row(layout).expect("to_row");
                assert_eq!(db_row.uuid(), typed.uuid());
                let again = <$any>::from_row(table, &db_row, layout).expect("from_row");
                assert_eq!(again, typed, "{table} Row round trip");
            }
        }
    };
}

/// Loads every typed row into our own engine (`ovsdb::Database` with the embedded schema) with one
/// transaction, and checks each row reads back equal (but for `_version`, which the engine assigns).
macro_rules! load_into_engine {
    ($any:ty, $schema:expr, $tables:expr, $rows:expr) => {{
        let mut ops = vec![json!($schema.name)];
        let mut typed_rows = BTreeMap::new();
        for (table, rows) in $rows {
            for row in rows {
                let mut row = row.clone();
                row.as_object_mut().unwrap().remove("_version");
                let typed = <$any>::from_json(table, &row).unwrap();
                let Value::Object(mut columns) = typed.to_json().unwrap() else {
                    panic!("not an object")
                };
                columns.remove("_uuid");
                let uuid = typed.uuid().to_string();
                ops.push(json!({"op": "insert", "table": table, "uuid": uuid, "row": columns}));
                typed_rows.insert(typed.uuid(), typed);
            }
        }
        let mut db = ovsdb::Database::new($schema.clone());
        let outcome = db.transact(&Value::Array(ops), &ovsdb::TxnContext::default());
        let results = outcome.results().expect("complete");
        let errors: Vec<&Value> = results
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r.get("error").is_some())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(db.n_rows(), typed_rows.len());
        for table in $tables {
            let layout = $schema.table(table).unwrap();
            for (uuid, row) in db.rows(table).unwrap() {
                let mut read = <$any>::from_row(table, row, layout).unwrap();
                let mut json = read.to_json().unwrap();
                json.as_object_mut().unwrap().remove("_version");
                read = <$any>::from_json(table, &json).unwrap();
                assert_eq!(read, typed_rows[uuid], "{table} via ovsdb::Database");
            }
        }
    }};
}

fn uuid_of(rows: &BTreeMap<String, Vec<Value>>, table: &str) -> String {
    rows[table]
        .first()
        .and_then(|r| r["_uuid"][1].as_str())
        .unwrap_or_else(|| panic!("no {table} row"))
        .to_owned()
}

fn empty_tables(rows: &BTreeMap<String, Vec<Value>>) -> Vec<&str> {
    rows.iter()
        .filter(|(_, r)| r.is_empty())
        .map(|(t, _)| t.as_str())
        .collect()
}

#[test]
fn embedded_schemas() {
    assert_eq!(model::schema().version, "20.27.0");
    assert_eq!(model::schema().tables.len(), model::TABLES.len());
    assert_eq!(vswitch::DATABASE, "Open_vSwitch");
    assert_eq!(vswitch::schema().name, vswitch::DATABASE);
    assert_eq!(vswitch::schema().version, vswitch::VERSION);
}

#[test]
fn real_sb_and_open_vswitch_rows_round_trip() {
    let ovn = testkit::require_or_skip!();
    let stack = ovn
        .stack()
        .chassis(real_db::CHASSIS)
        .build()
        .expect("stack");
    for cmd in real_db::RICH_NB {
        stack
            .nbctl(cmd.iter().copied())
            .unwrap_or_else(|e| panic!("ovn-nbctl {cmd:?}: {e}"));
    }
    stack.wait_sb().expect("northd sync");

    // Rows that neither northd nor ovn-controller write in this setup.
    let sb = real_db::dump(stack.sb_remote(), model::DATABASE, model::TABLES);
    let dp = uuid_of(&sb, "Datapath_Binding");
    let ch = uuid_of(&sb, "Chassis");
    let pb = uuid_of(&sb, "Port_Binding");
    let sbctl: &[&[&str]] = &[
        &[
            "create",
            "MAC_Binding",
            "logical_port=sw0-p1",
            "ip=10.0.0.77",
            "mac=\"00:00:00:00:77:77\"",
            &format!("datapath={dp}"),
        ],
        &[
            "create",
            "FDB",
            "mac=\"00:00:00:00:88:88\"",
            "dp_key=1",
            "port_key=1",
        ],
        &[
            "create",
            "Controller_Event",
            "event_type=empty_lb_backends",
            "event_info:vip=\"10.96.0.9:80\"",
            "event_info:protocol=tcp",
            "seq_num=1",
            &format!("chassis={ch}"),
        ],
        &[
            "create",
            "IGMP_Group",
            "address=239.0.0.1",
            &format!("datapath={dp}"),
            &format!("chassis={ch}"),
            &format!("ports={pb}"),
        ],
        &[
            "--id=@gc",
            "create",
            "Gateway_Chassis",
            "name=gc0",
            &format!("chassis={ch}"),
            "priority=5",
            "options:x=y",
            "--",
            "add",
            "Port_Binding",
            &pb,
            "gateway_chassis",
            "@gc",
        ],
        &[
            "--id=@c",
            "create",
            "Connection",
            "target=\"ptcp:0:127.0.0.1\"",
            "role=ovn-controller",
            "--",
            "add",
            "SB_Global",
            ".",
            "connections",
            "@c",
        ],
        &[
            "--id=@s",
            "create",
            "SSL",
            "private_key=/nonexistent/key.pem",
            "certificate=/nonexistent/cert.pem",
            "ca_cert=/nonexistent/ca.pem",
            "--",
            "set",
            "SB_Global",
            ".",
            "ssl=@s",
        ],
    ];
    for cmd in sbctl {
        stack
            .sbctl(cmd.iter().copied())
            .unwrap_or_else(|e| panic!("ovn-sbctl {cmd:?}: {e}"));
    }
    let sb = real_db::dump(stack.sb_remote(), model::DATABASE, model::TABLES);
    round_trip!(model::AnyRow, model::schema(), &sb);
    load_into_engine!(model::AnyRow, model::schema(), model::TABLES, &sb);
    let (total, summary) = real_db::summary(&sb);
    eprintln!("SB rows round-tripped: {total} ({summary})");

    let vsctl: &[&[&str]] = &[
        &[
            "add-br",
            "br-ex",
            "--",
            "set",
            "Bridge",
            "br-ex",
            "fail_mode=standalone",
            "protocols=OpenFlow13,OpenFlow15",
            "other_config:disable-in-band=true",
        ],
        &[
            "set",
            "Open_vSwitch",
            ".",
            "external_ids:ovn-bridge-mappings=physnet:br-ex",
        ],
        &[
            "add-port",
            "br-int",
            "patch-br-int-to-br-ex",
            "--",
            "set",
            "Interface",
            "patch-br-int-to-br-ex",
            "type=patch",
            "options:peer=patch-br-ex-to-br-int",
            "--",
            "add-port",
            "br-ex",
            "patch-br-ex-to-br-int",
            "--",
            "set",
            "Interface",
            "patch-br-ex-to-br-int",
            "type=patch",
            "options:peer=patch-br-int-to-br-ex",
        ],
        &[
            "add-port",
            "br-int",
            "vif1",
            "--",
            "set",
            "Interface",
            "vif1",
            "type=internal",
            "external_ids:iface-id=sw0-p1",
        ],
        &[
            "add-port",
            "br-ex",
            "eth1",
            "--",
            "set",
            "Port",
            "eth1",
            "tag=5",
            "trunks=10,20",
            "vlan_mode=native-untagged",
        ],
        &[
            "add-bond",
            "br-ex",
            "bond0",
            "eth2",
            "eth3",
            "--",
            "set",
            "Port",
            "bond0",
            "bond_mode=balance-slb",
            "lacp=active",
        ],
        &[
            "set",
            "Port",
            "eth1",
            "qos=@q",
            "--",
            "--id=@q",
            "create",
            "QoS",
            "type=linux-htb",
            "other-config:max-rate=1000000",
            "queues:0=@q0",
            "--",
            "--id=@q0",
            "create",
            "Queue",
            "other-config:min-rate=1000",
            "dscp=10",
        ],
        &[
            "--id=@p",
            "get",
            "Port",
            "eth1",
            "--",
            "--id=@m",
            "create",
            "Mirror",
            "name=m0",
            "select_all=true",
            "output_port=@p",
            "--",
            "add",
            "Bridge",
            "br-ex",
            "mirrors",
            "@m",
        ],
        &[
            "set",
            "Bridge",
            "br-ex",
            "netflow=@nf",
            "--",
            "--id=@nf",
            "create",
            "NetFlow",
            "targets=\"127.0.0.1:5566\"",
            "active_timeout=30",
        ],
        &[
            "--id=@s",
            "create",
            "sFlow",
            "agent=lo",
            "targets=\"127.0.0.1:6343\"",
            "header=128",
            "sampling=64",
            "polling=10",
            "--",
            "set",
            "Bridge",
            "br-ex",
            "sflow=@s",
        ],
        &[
            "--id=@br",
            "get",
            "Bridge",
            "br-ex",
            "--",
            "--id=@i",
            "create",
            "IPFIX",
            "targets=\"127.0.0.1:4739\"",
            "obs_domain_id=123",
            "obs_point_id=456",
            "cache_active_timeout=60",
            "--",
            "set",
            "Bridge",
            "br-ex",
            "ipfix=@i",
            "--",
            "create",
            "Flow_Sample_Collector_Set",
            "id=1",
            "bridge=@br",
            "ipfix=@i",
        ],
        &[
            "--id=@ft",
            "create",
            "Flow_Table",
            "name=t0",
            "flow_limit=1000",
            "overflow_policy=refuse",
            "prefixes=ip_dst,ip_src",
            "--",
            "set",
            "Bridge",
            "br-ex",
            "flow_tables:0=@ft",
        ],
        &["set-controller", "br-ex", "tcp:127.0.0.1:6653"],
        &["set-manager", "ptcp:0:127.0.0.1"],
        &[
            "set-ssl",
            "/nonexistent/key.pem",
            "/nonexistent/cert.pem",
            "/nonexistent/ca.pem",
        ],
        &[
            "--id=@dp",
            "create",
            "Datapath",
            "external_ids:test=yes",
            "--",
            "add",
            "Open_vSwitch",
            ".",
            "datapaths",
            "netdev=@dp",
        ],
        &[
            "add-zone-tp",
            "netdev",
            "zone=5",
            "udp_first=30",
            "udp_single=20",
        ],
        &["add-aa-mapping", "br-ex", "100", "200"],
    ];
    for cmd in vsctl {
        stack
            .vsctl(cmd.iter().copied())
            .unwrap_or_else(|e| panic!("ovs-vsctl {cmd:?}: {e}"));
    }
    let ovs_remote = stack.ovs_remote().expect("a chassis has Open_vSwitch");
    let ovs = real_db::dump(ovs_remote, vswitch::DATABASE, vswitch::TABLES);
    round_trip!(vswitch::AnyRow, vswitch::schema(), &ovs);
    load_into_engine!(vswitch::AnyRow, vswitch::schema(), vswitch::TABLES, &ovs);
    let (total, summary) = real_db::summary(&ovs);
    eprintln!("Open_vSwitch rows round-tripped: {total} ({summary})");

    assert_eq!(
        empty_tables(&sb),
        Vec::<&str>::new(),
        "SB tables without rows"
    );
    assert_eq!(
        empty_tables(&ovs),
        Vec::<&str>::new(),
        "Open_vSwitch tables without rows"
    );
}
