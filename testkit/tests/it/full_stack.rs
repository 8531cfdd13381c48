//! The whole real stack: a logical switch with two ports, bound on the
//! chassis, and a packet traced from one to the other.

use testkit::{Component, Pipeline, Result};

const MAC1: &str = "50:54:00:00:00:01";
const MAC2: &str = "50:54:00:00:00:02";

#[test]
fn packet_from_port1_reaches_port2() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    let stack = ovn.stack().chassis("ch1").build()?;

    let addr1 = format!("{MAC1} 10.0.0.1");
    let addr2 = format!("{MAC2} 10.0.0.2");
    stack.nbctl([
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "lsp1",
        "--",
        "lsp-set-addresses",
        "lsp1",
        &addr1,
        "--",
        "lsp-add",
        "sw0",
        "lsp2",
        "--",
        "lsp-set-addresses",
        "lsp2",
        &addr2,
    ])?;
    let p1 = stack.bind_port("p1", "lsp1")?;
    let p2 = stack.bind_port("p2", "lsp2")?;
    assert_ne!(p1.ofport, p2.ofport);
    stack.wait_hv()?;

    // Both ports are claimed by our chassis.
    let chassis = stack.sbctl(["--bare", "--columns=_uuid", "find", "Chassis", "name=ch1"])?;
    for lsp in ["lsp1", "lsp2"] {
        let cond = format!("logical_port={lsp}");
        let bound = stack.sbctl(["--bare", "--columns=chassis", "find", "Port_Binding", &cond])?;
        assert_eq!(bound.trim(), chassis.trim(), "{lsp} not bound to ch1");
    }

    // The switch's L2 lookup flow for port 2, and the OpenFlow made from it.
    let flows = stack.logical_flows()?;
    let l2 = flows
        .iter()
        .find(|f| {
            f.datapath == "sw0"
                && f.pipeline == Pipeline::Ingress
                && f.stage == "ls_in_l2_lkup"
                && f.match_expr == format!("eth.dst == {MAC2}")
        })
        .unwrap_or_else(|| {
            panic!(
                "no l2 lookup flow for lsp2 in:\n{}",
                stack.lflow_list().unwrap()
            )
        });
    assert!(l2.actions.contains(r#"outport = "lsp2""#), "{l2:?}");
    // dump-flows prints the cookie without leading zeros (a UUID starting with 0 gives a
    // shorter cookie than its 8-digit prefix in lflow-list).
    let cookie = format!("cookie={:#x},", l2.cookie().expect("--uuid"));
    let openflow = stack.dump_flows()?;
    assert!(
        openflow.contains(&cookie),
        "{cookie} not installed:\n{openflow}"
    );

    // ofproto/trace: from p1 to lsp2's MAC leaves through p2 only.
    let flow = format!(
        "in_port={},dl_src={MAC1},dl_dst={MAC2},ip,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64",
        p1.ofport
    );
    let trace = stack.ofproto_trace(&flow)?;
    assert_eq!(trace.output_ports(), [p2.dp_port], "{}", trace.text());
    assert!(
        trace.text().contains(&format!("output:{}", p2.ofport)),
        "{}",
        trace.text()
    );

    // A destination MAC nobody owns goes nowhere (no port has "unknown").
    let stray = flow.replace(MAC2, "50:54:00:00:00:99");
    let trace = stack.ofproto_trace(&stray)?;
    assert!(
        !trace.output_ports().contains(&p2.dp_port),
        "{}",
        trace.text()
    );

    // The logical view agrees.
    let micro = format!(
        r#"inport == "lsp1" && eth.src == {MAC1} && eth.dst == {MAC2} && ip4.src == 10.0.0.1 && ip4.dst == 10.0.0.2 && ip.ttl == 64"#
    );
    let logical = stack.ovn_trace(["sw0", &micro])?;
    assert!(logical.contains(r#"output to "lsp2""#), "{logical}");

    // Every daemon answers on its control socket.
    for c in [
        Component::Nb,
        Component::Sb,
        Component::OpenVswitch,
        Component::Vswitchd,
    ] {
        assert!(
            stack.appctl(c, ["version"])?.contains("Open vSwitch"),
            "{c:?}"
        );
    }
    assert!(stack
        .appctl(Component::Northd, ["version"])?
        .contains("ovn-northd"));
    assert!(stack
        .appctl(Component::Controller, ["version"])?
        .contains("ovn-controller"));
    Ok(())
}

#[test]
fn stack_without_chassis_has_nb_sb_northd_only() -> Result<()> {
    let ovn = testkit::require_or_skip!(Ok(()));
    let stack = ovn.stack().no_chassis().build()?;
    assert_eq!(stack.pids().len(), 3);
    stack.nbctl(["ls-add", "sw0"])?;
    stack.wait_sb()?;
    let dp = stack.sbctl([
        "--bare",
        "--columns=external_ids",
        "list",
        "Datapath_Binding",
    ])?;
    assert!(dp.contains("name=sw0"), "{dp}");
    assert!(matches!(
        stack.vsctl(["show"]),
        Err(testkit::Error::NotConfigured { .. })
    ));
    Ok(())
}
