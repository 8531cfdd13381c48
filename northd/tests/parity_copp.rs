//! Parity with real ovn-northd 23.03 on control plane protection: `Copp` rows on switches and
//! routers give the flows that send packets to ovn-controller a `controller_meter`, and NB
//! `Meter` rows (fair ones once per ACL using them) become SB `Meter` rows. The harness in
//! `common` compares every flow, every flow's meter, every `Meter` row and the bindings.
//!
//! (Every other parity scenario can also run with a CoPP metering all protocols on every
//! datapath: `PARITY_COPP=1 cargo test -p northd --test parity ...`.)

mod common;

use common::{compare_bindings, compare_flows, nb_snapshot};

/// Splits a command line into arguments: whitespace separates, single quotes group (and are
/// dropped); double quotes are kept, for ovn-nbctl's own value syntax.
fn args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Runs `script` (one ovn-nbctl command line per line) on a real stack with a chassis and
/// compares flows, meters and bindings; returns the number of metered flows (per datapath).
fn run(name: &str, script: &str) -> Option<usize> {
    let ovn = testkit::require_or_skip!(None);
    let stack = ovn.stack().chassis("ch1").build().expect("real stack");
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        stack.nbctl(args(line)).expect("nbctl");
    }
    stack.wait_sb().expect("wait sb");
    let snapshot = nb_snapshot(&stack);
    let (out, content) = compare_flows(&stack, &snapshot);
    common::print_outcome(name, &out);
    compare_bindings(name, &stack, &content);
    common::check_parses(&content);
    assert!(
        out.ours_only.is_empty() && out.real_only.is_empty(),
        "{name}: flow sets differ: {} equal, {} ours-only, {} real-only (see stderr)",
        out.equal,
        out.ours_only.len(),
        out.real_only.len()
    );
    Some(
        common::our_metered_flows(&content)
            .iter()
            .filter(|f| f.1.is_some())
            .count(),
    )
}

/// Meters for every protocol (`m-PROTO`), CoPP `c1` naming them all, and CoPP `c2` naming a
/// meter that does not exist (ignored) and one that does.
const METERS: &str = r#"
    meter-add m-arp drop 10 pktps
    meter-add m-arp-resolve drop 11 pktps
    meter-add m-dhcpv4-opts drop 12 pktps
    meter-add m-dhcpv6-opts drop 13 pktps
    meter-add m-dns drop 14 pktps
    meter-add m-event-elb drop 15 pktps
    meter-add m-icmp4-error drop 16 pktps
    meter-add m-icmp6-error drop 17 pktps
    meter-add m-igmp drop 18 pktps
    meter-add m-nd-na drop 19 pktps
    meter-add m-nd-ns drop 20 pktps
    meter-add m-nd-ns-resolve drop 21 pktps
    meter-add m-nd-ra-opts drop 22 pktps
    meter-add m-tcp-reset drop 23 kbps 100
    meter-add m-bfd drop 24 pktps
    meter-add m-reject drop 25 pktps
    meter-add m-svc-monitor drop 26 pktps
    copp-add c1 arp m-arp
    copp-add c1 arp-resolve m-arp-resolve
    copp-add c1 dhcpv4-opts m-dhcpv4-opts
    copp-add c1 dhcpv6-opts m-dhcpv6-opts
    copp-add c1 dns m-dns
    copp-add c1 event-elb m-event-elb
    copp-add c1 icmp4-error m-icmp4-error
    copp-add c1 icmp6-error m-icmp6-error
    copp-add c1 igmp m-igmp
    copp-add c1 nd-na m-nd-na
    copp-add c1 nd-ns m-nd-ns
    copp-add c1 nd-ns-resolve m-nd-ns-resolve
    copp-add c1 nd-ra-opts m-nd-ra-opts
    copp-add c1 tcp-reset m-tcp-reset
    copp-add c1 bfd m-bfd
    copp-add c1 reject m-reject
    copp-add c1 svc-monitor m-svc-monitor
    copp-add c2 igmp no-such-meter
    copp-add c2 reject m-reject
"#;

/// Switches with DHCP, DNS, IGMP snooping, load balancers (an empty one raising events, one
/// rejecting; health checks are not supported yet) and reject ACLs; a router with a distributed gateway port
/// (router advertisements, NAT, a BFD route) and a gateway router. `sw0`, `lr0` and `gr1` get
/// CoPP `c1`, `sw1` gets `c2`, `pub` none: flows equal on several datapaths but metered
/// differently are separate rows.
const TOPOLOGY: &str = r#"
    ls-add sw0
    ls-add sw1
    ls-add pub
    set logical_switch sw0 other_config:mcast_snoop=true other_config:mcast_querier=true other_config:mcast_eth_src=00:00:00:00:00:fe other_config:mcast_ip4_src=10.0.0.254
    set logical_switch sw1 other_config:mcast_snoop=true
    lsp-add sw0 p1
    lsp-set-addresses p1 '50:54:00:00:00:01 10.0.0.11 aef0::11'
    lsp-add sw0 p2
    lsp-set-addresses p2 '50:54:00:00:00:02 10.0.0.12'
    lsp-add sw1 p3
    lsp-set-addresses p3 '50:54:00:00:00:03 20.0.0.13'
    --id=@d create DHCP_Options cidr=10.0.0.0/24 options:server_id=10.0.0.1 options:server_mac=00:00:00:00:00:01 options:lease_time=3600 options:router=10.0.0.1 -- set logical_switch_port p1 dhcpv4_options=@d
    --id=@d create DHCP_Options cidr="aef0::/64" options:server_id=00:00:00:00:00:01 -- set logical_switch_port p1 dhcpv6_options=@d
    --id=@d create DNS records:vm1.ovn.org=10.0.0.11 -- add logical_switch sw0 dns_records @d
    lb-add lb0 10.0.0.100:80 10.0.0.11:80,10.0.0.12:80 tcp
    ls-lb-add sw0 lb0
    ls-lb-add sw1 lb0
    lb-add lb1 10.0.0.101:80 10.0.0.11:80 tcp
    ls-lb-add sw0 lb1
    --id=@lb create Load_Balancer name=lb-empty protocol=tcp vips:"10.0.0.102:80"="" options:event=true -- add logical_switch sw0 load_balancer @lb -- add logical_switch sw1 load_balancer @lb
    --id=@lb create Load_Balancer name=lb-reject protocol=udp vips:"10.0.0.103:53"="" options:reject=true -- add logical_switch sw0 load_balancer @lb -- add logical_switch sw1 load_balancer @lb
    acl-add sw0 from-lport 1000 'ip4.dst == 10.0.0.99' reject
    acl-add sw0 to-lport 1001 'tcp.dst == 23' reject
    acl-add sw1 to-lport 1001 'tcp.dst == 23' reject
    lr-add lr0
    lrp-add lr0 lr0-sw0 00:00:00:00:00:01 10.0.0.1/24 aef0::1/64
    set logical_router_port lr0-sw0 ipv6_ra_configs:address_mode=slaac ipv6_ra_configs:send_periodic=true
    lsp-add sw0 sw0-lr0
    lsp-set-type sw0-lr0 router
    lsp-set-addresses sw0-lr0 router
    lsp-set-options sw0-lr0 router-port=lr0-sw0
    lrp-add lr0 lr0-pub 00:00:00:00:01:01 172.16.0.1/24 2001::1/64
    lsp-add pub pub-lr0
    lsp-set-type pub-lr0 router
    lsp-set-addresses pub-lr0 router
    lsp-set-options pub-lr0 router-port=lr0-pub
    lsp-add pub ln
    lsp-set-type ln localnet
    lsp-set-addresses ln unknown
    lsp-set-options ln network_name=phys
    lrp-set-gateway-chassis lr0-pub ch1 10
    set logical_router_port lr0-pub options:gateway_mtu=1400
    lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
    lr-nat-add lr0 dnat_and_snat 172.16.0.50 10.0.0.11
    lr-lb-add lr0 lb0
    --id=@b create BFD logical_port=lr0-pub dst_ip=172.16.0.254 -- --id=@r create Logical_Router_Static_Route ip_prefix=0.0.0.0/0 nexthop=172.16.0.254 bfd=@b -- add logical_router lr0 static_routes @r
    lr-add gr1
    set logical_router gr1 options:chassis=ch1
    lrp-add gr1 gr1-sw1 00:00:00:00:02:01 20.0.0.1/24 fd20::1/64
    lsp-add sw1 sw1-gr1
    lsp-set-type sw1-gr1 router
    lsp-set-addresses sw1-gr1 router
    lsp-set-options sw1-gr1 router-port=gr1-sw1
    lr-nat-add gr1 snat 20.0.0.1 30.0.0.0/8
    lr-lb-add gr1 lb0
    lr-lb-add gr1 lb-reject
"#;

#[test]
fn copp_on_switches_and_routers() {
    let script = format!(
        "{METERS}{TOPOLOGY}
        ls-copp-add c1 sw0
        lr-copp-add c1 lr0
        lr-copp-add c1 gr1
        ls-copp-add c2 sw1"
    );
    if let Some(metered) = run("copp", &script) {
        // Every kind of metered action occurs (on at least one datapath).
        assert!(metered >= 30, "only {metered} metered flows");
    }
}

#[test]
fn copp_removed_and_meters_without_copp() {
    // The same topology with the CoPPs defined but attached to nothing: no flow has a meter,
    // every meter is still written to SB.
    let script = format!("{METERS}{TOPOLOGY}");
    if let Some(metered) = run("copp-unused", &script) {
        assert_eq!(metered, 0);
    }
}

#[test]
fn fair_meters_per_acl() {
    let script = r#"
        meter-add acl-logging drop 20 pktps 5
        set meter acl-logging fair=true
        meter-add shared drop 100 kbps
        meter-add two-bands drop 50 pktps
        --id=@b create Meter_Band action=drop rate=500 -- add meter two-bands bands @b
        ls-add sw0
        lsp-add sw0 p1
        lsp-set-addresses p1 '50:54:00:00:00:01 10.0.0.11'
        ls-add sw1
        --log --meter=acl-logging --name=a1 acl-add sw0 to-lport 900 'ip4.src == 1.1.1.1' drop
        --log --meter=acl-logging acl-add sw1 to-lport 900 'ip4.src == 1.1.1.2' allow-related
        --meter=acl-logging acl-add sw1 to-lport 901 'ip4.src == 1.1.1.3' allow
        --log --meter=shared acl-add sw0 from-lport 902 'ip4.dst == 1.1.1.4' drop
        pg-add pg1 p1
        --log --severity=alert --meter=acl-logging acl-add pg1 to-lport 903 'outport == @pg1 && ip4' drop
        --log --meter=no-such-meter acl-add sw0 to-lport 904 'ip4.src == 1.1.1.5' drop
    "#;
    run("fair-meters", script);
}
