//! `ovn-nbctl`/`ovn-sbctl` (with real ovn-northd and `--wait=sb`) and `ovs-vsctl` scripts: the same
//! output against our servers as against real ovsdb-servers.

use crate::harness::{self, OurServer};

/// Output normalized for comparison: UUIDs erased, lines of each block and the blocks sorted
/// (`list` prints rows in hash order).
fn normalize(text: &str) -> String {
    let mut blocks: Vec<String> = harness::erase_uuids_sorted(text)
        .split("\n\n")
        .map(str::to_owned)
        .collect();
    blocks.sort();
    blocks.join("\n\n")
}

const NB_SCRIPT: &[&[&str]] = &[
    &["ls-add", "sw0"],
    &["ls-add", "sw1"],
    &["lsp-add", "sw0", "p1"],
    &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.11"],
    &["lsp-set-port-security", "p1", "00:00:00:00:00:01 10.0.0.11"],
    &["lsp-add", "sw0", "p2"],
    &["lsp-set-addresses", "p2", "00:00:00:00:00:02 10.0.0.12"],
    &["lsp-add", "sw1", "p3"],
    &["lsp-set-addresses", "p3", "00:00:00:00:01:03 10.0.1.13"],
    &["lr-add", "lr0"],
    &["lrp-add", "lr0", "lrp0", "00:00:00:00:ff:01", "10.0.0.1/24"],
    &["lrp-add", "lr0", "lrp1", "00:00:00:00:ff:02", "10.0.1.1/24"],
    &["lsp-add", "sw0", "sw0-lr0"],
    &["lsp-set-type", "sw0-lr0", "router"],
    &["lsp-set-addresses", "sw0-lr0", "router"],
    &["lsp-set-options", "sw0-lr0", "router-port=lrp0"],
    &[
        "lsp-add",
        "sw1",
        "sw1-lr0",
        "--",
        "set",
        "Logical_Switch_Port",
        "sw1-lr0",
        "type=router",
        "options:router-port=lrp1",
        "--",
        "lsp-set-addresses",
        "sw1-lr0",
        "router",
    ],
    &[
        "acl-add",
        "sw0",
        "to-lport",
        "1000",
        "ip4.src==10.0.1.13",
        "drop",
    ],
    &[
        "acl-add",
        "sw0",
        "from-lport",
        "900",
        "ip4",
        "allow-related",
    ],
    &["acl-list", "sw0"],
    &[
        "lb-add",
        "lb0",
        "10.0.0.100:80",
        "10.0.0.11:8080,10.0.0.12:8080",
        "tcp",
    ],
    &["ls-lb-add", "sw0", "lb0"],
    &["lr-lb-add", "lr0", "lb0"],
    &["lb-list"],
    &["lr-route-add", "lr0", "0.0.0.0/0", "10.0.0.254"],
    &["lr-nat-add", "lr0", "snat", "172.16.0.1", "10.0.0.0/24"],
    &["lr-nat-list", "lr0"],
    &["lr-route-list", "lr0"],
    &["--wait=sb", "sync"],
    &["show"],
    &["ls-list"],
    &["lr-list"],
    &["lsp-list", "sw0"],
    &["lrp-list", "lr0"],
    &["get", "Logical_Switch", "sw0", "name"],
    &[
        "set",
        "Logical_Switch",
        "sw0",
        "other_config:subnet=10.0.0.0/24",
    ],
    &[
        "--columns=name,addresses",
        "find",
        "Logical_Switch_Port",
        "name=p1",
    ],
    &["--columns=name,other_config", "list", "Logical_Switch"],
    &["lsp-del", "p2"],
    &["acl-del", "sw0", "to-lport", "1000", "ip4.src==10.0.1.13"],
    &["--may-exist", "ls-add", "sw0"],
    &["ls-add", "sw0"],
    &["pg-add", "pg0", "p1", "p3"],
    &[
        "--type=port-group",
        "acl-add",
        "pg0",
        "to-lport",
        "1001",
        "outport==@pg0 && ip4",
        "allow",
    ],
    &["--wait=sb", "sync"],
    &["--columns=name,ports", "list", "Port_Group"],
];

const SB_SCRIPT: &[&[&str]] = &[
    &["--columns=external_ids", "list", "Datapath_Binding"],
    &[
        "--columns=logical_port,type",
        "find",
        "Port_Binding",
        "type=patch",
    ],
    &["chassis-add", "ch9", "geneve", "127.0.0.9"],
    &["lsp-bind", "p1", "ch9"],
    &["show"],
    &["lsp-unbind", "p1"],
    &["chassis-del", "ch9"],
    &["--columns=name,ports", "list", "Port_Group"],
    &[
        "--columns=name,addresses",
        "find",
        "Address_Set",
        "name!=svc_monitor_mac",
    ],
];

/// The tool's own message, without the command line (which names the sandbox's socket).
fn error_text(e: &str) -> String {
    let last = e.lines().last().unwrap_or("");
    format!("ERROR {}", last.rsplit_once("): ").map_or(last, |(_, m)| m))
}

fn run_script(stack: &testkit::Stack) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for cmd in NB_SCRIPT {
        let text = match stack.nbctl(cmd.iter()) {
            Ok(s) => s,
            Err(e) => error_text(&e.to_string()),
        };
        out.push((format!("ovn-nbctl {}", cmd.join(" ")), normalize(&text)));
    }
    for cmd in SB_SCRIPT {
        let text = match stack.sbctl(cmd.iter()) {
            Ok(s) => s,
            Err(e) => error_text(&e.to_string()),
        };
        out.push((format!("ovn-sbctl {}", cmd.join(" ")), normalize(&text)));
    }
    out
}

fn compare(want: &[(String, String)], got: &[(String, String)]) {
    let diffs: Vec<String> = want
        .iter()
        .zip(got)
        .filter(|(w, g)| w.1 != g.1)
        .map(|(w, g)| format!("=== {}\n--- real:\n{}\n--- ours:\n{}", w.0, w.1, g.1))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} of {} commands differ:\n{}",
        diffs.len(),
        want.len(),
        diffs.join("\n")
    );
}

#[test]
fn nbctl_sbctl_script_with_real_northd() {
    let ovn = testkit::require_or_skip!();
    assert!(NB_SCRIPT.len() + SB_SCRIPT.len() >= 30);
    let want = {
        let stack = ovn.stack().no_chassis().build().unwrap();
        run_script(&stack)
    };
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let sb = ovn.schema(testkit::Schema::Southbound).unwrap();
    let ours = OurServer::start(&[&nb, &sb]);
    let stack = ovn
        .stack()
        .no_chassis()
        .nb(testkit::DbSource::External {
            remote: ours.remote(),
        })
        .sb(testkit::DbSource::External {
            remote: ours.remote(),
        })
        .build()
        .unwrap();
    let got = run_script(&stack);
    compare(&want, &got);
}

const VSCTL_SCRIPT: &[&[&str]] = &[
    &["--no-wait", "init"],
    &["--no-wait", "add-br", "br0"],
    &[
        "--no-wait",
        "add-br",
        "br1",
        "--",
        "set",
        "Bridge",
        "br1",
        "fail_mode=secure",
    ],
    &[
        "--no-wait",
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "Interface",
        "p1",
        "type=internal",
    ],
    &["--no-wait", "add-port", "br0", "p2", "tag=10"],
    &["--no-wait", "add-bond", "br1", "bond0", "e1", "e2"],
    &[
        "--no-wait",
        "set",
        "Interface",
        "p2",
        "external_ids:iface-id=lsp2",
        "mtu_request=1400",
    ],
    &[
        "--no-wait",
        "set",
        "Open_vSwitch",
        ".",
        "external_ids:system-id=ch1",
    ],
    &["list-br"],
    &["list-ports", "br0"],
    &["list-ifaces", "br1"],
    &["port-to-br", "p2"],
    &["get", "Interface", "p2", "external_ids:iface-id"],
    &[
        "--columns=name,type,mtu_request,external_ids",
        "list",
        "Interface",
    ],
    &["--columns=name,tag,interfaces", "find", "Port", "name=p2"],
    &["--columns=name,fail_mode", "list", "Bridge"],
    &["--no-wait", "del-port", "br0", "p1"],
    &["--no-wait", "--if-exists", "del-port", "br0", "nosuch"],
    &["--no-wait", "del-br", "br1"],
    &["show"],
    &["--columns=name", "list", "Port"],
];

#[test]
fn vsctl_script() {
    let ovn = testkit::require_or_skip!();
    let Some(vsctl) = harness::require_program("ovs-vsctl", "openvswitch-switch") else {
        return;
    };
    let schema = ovn.schema(testkit::Schema::OpenVswitch).unwrap();
    let run_all = |remote: &str| -> Vec<(String, String)> {
        let db = format!("--db={remote}");
        VSCTL_SCRIPT
            .iter()
            .map(|cmd| {
                let mut args = vec![db.as_str(), "--timeout=20"];
                args.extend(cmd.iter());
                let (ok, out, err) = harness::run(&vsctl, &args, &[]);
                let text = if ok { out } else { format!("ERROR {err}") };
                (format!("ovs-vsctl {}", cmd.join(" ")), normalize(&text))
            })
            .collect()
    };
    let mut sandbox = ovn.sandbox().unwrap();
    let real = harness::real_server(&mut sandbox, "ovs", &schema);
    let want = run_all(&real.remote());
    let ours = OurServer::start(&[&schema]);
    let got = run_all(&ours.remote());
    compare(&want, &got);
    assert!(want.iter().any(|(_, t)| t.contains("br0")));
}
