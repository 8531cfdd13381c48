//! Parity with real ovn-northd 23.03 on switch-only scenarios (harness in `common`).

mod common;

use common::{assert_full, scenario, scenario_on};

#[test]
fn basic_switch() {
    assert_full(scenario(
        "basic",
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.1"],
            &["lsp-add", "sw0", "p2"],
            &[
                "lsp-set-addresses",
                "p2",
                "00:00:00:00:00:02 10.0.0.2 fd00::2",
            ],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "q1"],
            &[
                "lsp-set-addresses",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 10.1.0.11",
            ],
            &["ls-add", "empty"],
        ],
    ));
}

#[test]
fn port_security_unknown_disabled() {
    assert_full(scenario(
        "port-security",
        &[
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "q1"],
            &[
                "lsp-set-addresses",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 fd01::1",
            ],
            &[
                "lsp-set-port-security",
                "q1",
                "00:00:00:00:01:01 10.1.0.1 fd01::1",
            ],
            &["lsp-add", "sw1", "q2"],
            &["lsp-set-addresses", "q2", "00:00:00:00:01:02", "unknown"],
            &["lsp-set-port-security", "q2", "00:00:00:00:01:02"],
            &["lsp-add", "sw1", "q3"],
            &["lsp-set-addresses", "q3", "unknown"],
            &["lsp-add", "sw1", "q4"],
            &["lsp-set-enabled", "q4", "disabled"],
            &["lsp-set-addresses", "q4", "00:00:00:00:01:04 10.1.0.4"],
            &["lsp-add", "sw1", "q5"],
            &[
                "lsp-set-addresses",
                "q5",
                "00:00:00:00:01:05 10.1.0.5",
                "00:00:00:00:01:15 10.1.0.15",
            ],
        ],
    ));
}

#[test]
fn acls() {
    assert_full(scenario_on(
        "acls",
        true,
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "a1"],
            &["lsp-set-addresses", "a1", "00:00:00:00:02:01 10.2.0.1"],
            &["lsp-add", "sw0", "a2"],
            &[
                "lsp-set-addresses",
                "a2",
                "00:00:00:00:02:02 10.2.0.2 fd02::2",
            ],
            &[
                "acl-add",
                "sw0",
                "from-lport",
                "1000",
                "ip4.src == 10.2.0.1",
                "allow-related",
            ],
            &["acl-add", "sw0", "to-lport", "900", "tcp.dst == 80", "drop"],
            &[
                "acl-add",
                "sw0",
                "to-lport",
                "800",
                "udp.dst == 53",
                "reject",
            ],
            &["acl-add", "sw0", "from-lport", "700", "ip6", "allow"],
            &[
                "acl-add",
                "sw0",
                "from-lport",
                "600",
                "arp",
                "allow-stateless",
            ],
            &[
                "--log",
                "--name=n1",
                "--severity=warning",
                "acl-add",
                "sw0",
                "to-lport",
                "500",
                "icmp4",
                "allow-related",
            ],
            &[
                "--label=1234",
                "acl-add",
                "sw0",
                "from-lport",
                "400",
                "tcp.dst == 22",
                "allow-related",
            ],
            &[
                "--apply-after-lb",
                "acl-add",
                "sw0",
                "from-lport",
                "300",
                "udp",
                "drop",
            ],
            &["meter-add", "m1", "drop", "10", "pktps"],
            &["--fair", "meter-add", "m2", "drop", "20", "pktps"],
            &[
                "--log",
                "--meter=m1",
                "--name=telnet",
                "acl-add",
                "sw0",
                "to-lport",
                "450",
                "tcp.dst == 23",
                "reject",
            ],
            &[
                "--log",
                "--meter=m2",
                "--severity=debug",
                "acl-add",
                "sw0",
                "from-lport",
                "250",
                "tcp.dst == 25",
                "drop",
            ],
            &[
                "--log",
                "--label=99",
                "acl-add",
                "sw0",
                "to-lport",
                "150",
                "udp.dst == 123",
                "allow",
            ],
            &[
                "--apply-after-lb",
                "acl-add",
                "sw0",
                "from-lport",
                "120",
                "udp.dst == 124",
                "reject",
            ],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "b1"],
            &["lsp-set-addresses", "b1", "00:00:00:00:03:01 10.3.0.1"],
            &[
                "acl-add",
                "sw1",
                "from-lport",
                "1000",
                "ip4.src == 10.3.0.9",
                "drop",
            ],
            &[
                "--log", "acl-add", "sw1", "to-lport", "900", "tcp", "reject",
            ],
            &["acl-add", "sw1", "to-lport", "800", "udp", "allow"],
        ],
    ));
}

#[test]
fn port_groups_and_address_sets() {
    assert_full(scenario(
        "port-groups",
        &[
            &["ls-add", "sw0"],
            &["lsp-add", "sw0", "a1"],
            &["lsp-set-addresses", "a1", "00:00:00:00:02:01 10.2.0.1"],
            &["lsp-add", "sw0", "a2"],
            &["lsp-set-addresses", "a2", "00:00:00:00:02:02 10.2.0.2"],
            &["ls-add", "sw1"],
            &["lsp-add", "sw1", "b1"],
            &[
                "lsp-set-addresses",
                "b1",
                "00:00:00:00:03:01 10.3.0.1 fd03::1",
            ],
            &["ls-add", "sw2"],
            &["lsp-add", "sw2", "c1"],
            &["lsp-set-addresses", "c1", "00:00:00:00:04:01 10.4.0.1"],
            &["pg-add", "pg1", "a1", "b1"],
            &["pg-add", "pg2", "a2"],
            &[
                "create",
                "Address_Set",
                "name=as1",
                "addresses=\"10.9.0.1\",\"10.9.0.2\"",
            ],
            &[
                "acl-add",
                "pg1",
                "to-lport",
                "1001",
                "outport == @pg1 && ip4.src == $as1",
                "allow-related",
            ],
            &[
                "acl-add",
                "pg1",
                "from-lport",
                "1001",
                "inport == @pg1 && ip4",
                "drop",
            ],
            &[
                "acl-add",
                "pg2",
                "to-lport",
                "1002",
                "outport == @pg2 && ip4.src == $pg1_ip4",
                "allow",
            ],
        ],
    ));
}

#[test]
fn load_balancers() {
    assert_full(scenario_on(
        "load-balancers",
        true,
        &[
            &["ls-add", "lbs"],
            &["lsp-add", "lbs", "l1"],
            &["lsp-set-addresses", "l1", "00:00:00:00:05:01 10.5.0.1"],
            &[
                "lb-add",
                "lb1",
                "10.96.0.1:80",
                "10.5.0.1:8080,10.5.0.2:8080",
                "tcp",
            ],
            &["lb-add", "lb2", "10.96.0.2", "10.5.0.3"],
            &["lb-add", "lb3", "[fd96::1]:53", "[fd05::1]:53", "udp"],
            &["ls-lb-add", "lbs", "lb1"],
            &["ls-lb-add", "lbs", "lb2"],
            &["ls-lb-add", "lbs", "lb3"],
            &["ls-add", "lb2s"],
            &["lsp-add", "lb2s", "m1"],
            &["lsp-set-addresses", "m1", "00:00:00:00:06:01 10.6.0.1"],
            &["lsp-add", "lb2s", "ln"],
            &["lsp-set-type", "ln", "localnet"],
            &["lsp-set-addresses", "ln", "unknown"],
            &["lsp-set-options", "ln", "network_name=phys"],
            &[
                "lb-add",
                "lba",
                "10.97.0.1:80",
                "10.6.0.1:8080,10.6.0.2:8080",
                "tcp",
            ],
            &["set", "load_balancer", "lba", "options:affinity_timeout=60"],
            &["lb-add", "lbr", "10.97.0.2:80", "", "tcp"],
            &["set", "load_balancer", "lbr", "options:reject=true"],
            &["lb-add", "lbe", "10.97.0.3:80", "", "tcp"],
            &["set", "load_balancer", "lbe", "options:event=true"],
            &["lb-add", "lbh", "10.97.0.4:80", "10.6.0.1:80", "tcp"],
            &[
                "set",
                "load_balancer",
                "lbh",
                "options:hairpin_snat_ip=10.6.0.254",
            ],
            &["create", "Load_Balancer_Group", "name=g1"],
            &[
                "add",
                "Load_Balancer_Group",
                "=Load_Balancer_Group/g1",
                "load_balancer",
                "=Load_Balancer/lba",
            ],
            &[
                "add",
                "Load_Balancer_Group",
                "=Load_Balancer_Group/g1",
                "load_balancer",
                "=Load_Balancer/lbr",
            ],
            &[
                "add",
                "logical_switch",
                "lb2s",
                "load_balancer_group",
                "=Load_Balancer_Group/g1",
            ],
            &["ls-lb-add", "lb2s", "lbe"],
            &["ls-lb-add", "lb2s", "lbh"],
            &["ls-add", "plain"],
            &["lsp-add", "plain", "z1"],
            &["lsp-add", "plain", "zln"],
            &["lsp-set-type", "zln", "localnet"],
            &["lsp-set-addresses", "zln", "unknown"],
            &["lsp-set-options", "zln", "network_name=phys"],
        ],
    ));
}

#[test]
fn port_types() {
    assert_full(scenario(
        "port-types",
        &[
            &["ls-add", "pt"],
            &["lsp-add", "pt", "v1"],
            &["lsp-set-addresses", "v1", "00:00:00:00:07:01 10.7.0.1"],
            &["lsp-add", "pt", "v2"],
            &["lsp-set-addresses", "v2", "00:00:00:00:07:02 10.7.0.2"],
            &["lsp-add", "pt", "lp1"],
            &["lsp-set-type", "lp1", "localport"],
            &["lsp-set-addresses", "lp1", "00:00:00:00:07:03 10.7.0.3"],
            &["lsp-add", "pt", "ext1"],
            &["lsp-set-type", "ext1", "external"],
            &["lsp-set-addresses", "ext1", "00:00:00:00:07:04 10.7.0.4"],
            &["lsp-add", "pt", "vip1"],
            &["lsp-set-type", "vip1", "virtual"],
            &["lsp-set-addresses", "vip1", "00:00:00:00:07:05 10.7.0.100"],
            &[
                "lsp-set-options",
                "vip1",
                "virtual-ip=10.7.0.100",
                "virtual-parents=v1,v2,nope",
            ],
            &["lsp-add", "pt", "l2gw"],
            &["lsp-set-type", "l2gw", "l2gateway"],
            &["lsp-set-addresses", "l2gw", "unknown"],
            &[
                "lsp-set-options",
                "l2gw",
                "network_name=phys",
                "l2gateway-chassis=ch1",
            ],
            &["lsp-add", "pt", "ln2"],
            &["lsp-set-type", "ln2", "localnet"],
            &["lsp-set-addresses", "ln2", "unknown"],
            &["lsp-set-options", "ln2", "network_name=phys2"],
            &["set", "logical_switch_port", "ln2", "tag_request=100"],
            &["lsp-add", "pt", "c1", "v1", "10"],
            &["lsp-set-addresses", "c1", "00:00:00:00:07:06 10.7.0.6"],
            &["lsp-add", "pt", "r1"],
            &["lsp-set-type", "r1", "router"],
            &["lsp-set-addresses", "r1", "router"],
            &["lsp-set-options", "r1", "router-port=nowhere"],
            &["lsp-add", "pt", "vt"],
            &["lsp-set-type", "vt", "vtep"],
            &[
                "lsp-set-options",
                "vt",
                "vtep-physical-switch=ps",
                "vtep-logical-switch=ls",
            ],
        ],
    ));
}

/// The port's `options:hostname` replaces the DHCPv4 row's `hostname` (as written: unquoted, the
/// action would not parse, as with real ovn-northd); an explicit `netmask` option is passed
/// with the subnet's, after it unless adding the hostname grew ovn-northd's option map
/// (ovn-northd 23.03; random seed 93166).
#[test]
fn dhcp_hostname_and_netmask() {
    assert_full(scenario(
        "dhcp-hostname-netmask",
        &[
            &["ls-add", "dh"],
            &["lsp-add", "dh", "d1"],
            &["lsp-set-addresses", "d1", "00:00:00:00:08:01 10.8.0.11"],
            &["lsp-set-options", "d1", "hostname=\"vm1\""],
            &["lsp-add", "dh", "d2"],
            &["lsp-set-addresses", "d2", "00:00:00:00:08:02 10.8.0.12"],
            &["lsp-set-options", "d2", "hostname=\"vm2\""],
            &["lsp-add", "dh", "d3"],
            &["lsp-set-addresses", "d3", "00:00:00:00:08:03 10.8.0.13"],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.8.0.0/24",
                "external_ids:n=v4",
                "options:lease_time=3600",
                "options:router=10.8.0.1",
                "options:server_id=10.8.0.1",
                "options:server_mac=c0:ff:ee:00:00:01",
                "options:netmask=255.255.0.0",
                "options:hostname=\"\\\"host1\\\"\"",
                "options:T2=3000",
            ],
            &["set", "logical_switch_port", "d1", "dhcpv4_options=@dhcp4"],
            &["set", "logical_switch_port", "d2", "dhcpv4_options=@dhcp4"],
            &["set", "logical_switch_port", "d3", "dhcpv4_options=@dhcp4"],
            &["ls-add", "dh2"],
            &["lsp-add", "dh2", "e1"],
            &["lsp-set-addresses", "e1", "00:00:00:00:09:01 10.9.0.11"],
            &["lsp-set-options", "e1", "hostname=\"vm3\""],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.9.0.0/16",
                "external_ids:n=v6s",
                "options:lease_time=60",
                "options:server_id=10.9.0.1",
                "options:server_mac=c0:ff:ee:00:00:02",
                // Seven options and the port's hostname added: the two netmasks swap.
                "options:netmask=255.255.255.128",
                "options:router=10.9.0.1",
                "options:T1=1000",
                "options:bootfile_name=\"\\\"pxe.0\\\"\"",
            ],
            &["set", "logical_switch_port", "e1", "dhcpv4_options=@dhcp6s"],
        ],
    ));
}

#[test]
fn dhcp_and_dns() {
    assert_full(scenario(
        "dhcp-dns",
        &[
            &["ls-add", "dh"],
            &["lsp-add", "dh", "d1"],
            &[
                "lsp-set-addresses",
                "d1",
                "00:00:00:00:08:01 10.8.0.11 fd08::11",
            ],
            &["lsp-add", "dh", "d2"],
            &["lsp-set-addresses", "d2", "00:00:00:00:08:02 10.8.0.12"],
            &["lsp-add", "dh", "d3"],
            &["lsp-set-addresses", "d3", "00:00:00:00:08:03 10.9.0.13"],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.8.0.0/24",
                "external_ids:n=v4",
                "options:lease_time=3600",
                "options:router=10.8.0.1",
                "options:server_id=10.8.0.1",
                "options:server_mac=c0:ff:ee:00:00:01",
                "options:dns_server={8.8.8.8,1.1.1.1}",
                "options:domain_name=\"\\\"ovn.org\\\"\"",
                "options:mtu=1400",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd08\\:\\:/64",
                "external_ids:n=v6",
                "options:server_id=00:00:00:10:00:01",
                "options:dns_server=fd08::1",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd09\\:\\:/64",
                "external_ids:n=v6s",
                "options:server_id=00:00:00:10:00:02",
                "options:dhcpv6_stateless=true",
            ],
            &[
                "set",
                "logical_switch_port",
                "d1",
                "dhcpv4_options=@dhcp4",
                "dhcpv6_options=@dhcp6",
            ],
            &["set", "logical_switch_port", "d2", "dhcpv4_options=@dhcp4"],
            &["set", "logical_switch_port", "d3", "dhcpv4_options=@dhcp4"],
            &[
                "create",
                "DNS",
                "records={\"vm1.ovn.org\"=\"10.8.0.11 fd08::11\",\"vm2.ovn.org\"=\"10.8.0.12\"}",
                "external_ids:n=dns",
            ],
            &["add", "logical_switch", "dh", "dns_records", "@dns"],
            &["lsp-add", "dh", "d4"],
            &[
                "lsp-set-addresses",
                "d4",
                "00:00:00:00:08:04 10.8.0.14 fd09::14",
            ],
            &["set", "logical_switch_port", "d4", "dhcpv6_options=@dhcp6s"],
            &["ls-add", "dh2"],
            &["lsp-add", "dh2", "e1"],
            &["lsp-set-addresses", "e1", "00:00:00:00:09:01 10.8.0.21"],
            &["set", "logical_switch_port", "e1", "dhcpv4_options=@dhcp4"],
            &[
                "acl-add",
                "dh2",
                "from-lport",
                "100",
                "ip4",
                "allow-related",
            ],
            &["add", "logical_switch", "dh2", "dns_records", "@dns"],
            &["ls-add", "ex"],
            &["lsp-add", "ex", "x1"],
            &["lsp-set-type", "x1", "external"],
            &["lsp-set-addresses", "x1", "00:00:00:00:0f:01 10.8.0.31"],
            &["set", "logical_switch_port", "x1", "dhcpv4_options=@dhcp4"],
            &["ha-chassis-group-add", "hg1"],
            &["ha-chassis-group-add-chassis", "hg1", "ch1", "10"],
            &[
                "set",
                "logical_switch_port",
                "x1",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
            &["lsp-add", "ex", "x2"],
            &["lsp-set-type", "x2", "external"],
            &["lsp-set-addresses", "x2", "00:00:00:00:0f:02 10.8.0.32"],
            &["set", "logical_switch_port", "x2", "dhcpv4_options=@dhcp4"],
            // DHCPv6 for an external port (residency before the result bit in the reply).
            &["lsp-add", "ex", "x3"],
            &["lsp-set-type", "x3", "external"],
            &[
                "lsp-set-addresses",
                "x3",
                "00:00:00:00:0f:03 10.8.0.33 fd08::33",
            ],
            &[
                "set",
                "logical_switch_port",
                "x3",
                "dhcpv4_options=@dhcp4",
                "dhcpv6_options=@dhcp6",
            ],
            &[
                "set",
                "logical_switch_port",
                "x3",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
            &["lsp-add", "ex", "xln"],
            &["lsp-set-type", "xln", "localnet"],
            &["lsp-set-addresses", "xln", "unknown"],
            &["lsp-set-options", "xln", "network_name=phys"],
        ],
    ));
}

#[test]
fn qos() {
    assert_full(scenario(
        "qos",
        &[
            &["ls-add", "qs"],
            &["lsp-add", "qs", "s1"],
            &["lsp-set-addresses", "s1", "00:00:00:00:0a:01 10.10.0.1"],
            &[
                "qos-add",
                "qs",
                "from-lport",
                "100",
                "ip4.src == 10.10.0.1",
                "dscp=10",
            ],
            &[
                "qos-add",
                "qs",
                "to-lport",
                "200",
                "udp",
                "rate=1000",
                "burst=100",
            ],
            &[
                "qos-add",
                "qs",
                "from-lport",
                "300",
                "tcp",
                "dscp=12",
                "rate=2000",
            ],
            &["qos-add", "qs", "to-lport", "400", "icmp4", "dscp=1"],
        ],
    ));
}

#[test]
fn mcast_snoop() {
    assert_full(scenario(
        "mcast-snoop",
        &[
            &["ls-add", "mc"],
            &["lsp-add", "mc", "k1"],
            &["lsp-set-addresses", "k1", "00:00:00:00:0b:01 10.11.0.1"],
            &["lsp-add", "mc", "k2"],
            &["lsp-set-addresses", "k2", "00:00:00:00:0b:02 10.11.0.2"],
            &[
                "set",
                "logical_switch_port",
                "k2",
                "options:mcast_flood=true",
            ],
            &["lsp-add", "mc", "k3"],
            &["lsp-set-addresses", "k3", "unknown"],
            &[
                "set",
                "logical_switch_port",
                "k3",
                "options:mcast_flood_reports=true",
            ],
            &[
                "set",
                "logical_switch",
                "mc",
                "other_config:mcast_snoop=true",
                "other_config:mcast_querier=true",
                "other_config:mcast_eth_src=00:00:00:00:0b:ff",
                "other_config:mcast_ip4_src=10.11.0.254",
                "other_config:mcast_ip6_src=fe80::1",
                "other_config:mcast_idle_timeout=100",
                "other_config:mcast_table_size=100",
            ],
            &["ls-add", "mc2"],
            &["lsp-add", "mc2", "j1"],
            &["lsp-set-addresses", "j1", "00:00:00:00:0c:01"],
            &[
                "set",
                "logical_switch",
                "mc2",
                "other_config:mcast_snoop=true",
                "other_config:mcast_flood_unregistered=true",
                "other_config:mcast_querier=false",
            ],
            &["ls-add", "mc3"],
            &["lsp-add", "mc3", "h1"],
            &[
                "set",
                "logical_switch_port",
                "h1",
                "options:mcast_flood=true",
            ],
            &[
                "set",
                "logical_switch",
                "mc3",
                "other_config:mcast_snoop=true",
            ],
        ],
    ));
}

#[test]
fn ipam() {
    // One transaction, so that real ovn-northd allocates everything in one pass, as ours does.
    assert_full(scenario(
        "ipam",
        &[&[
            "ls-add",
            "ip",
            "--",
            "set",
            "logical_switch",
            "ip",
            "other_config:subnet=10.12.0.0/24",
            "other_config:exclude_ips=10.12.0.3 10.12.0.5..10.12.0.7",
            "other_config:ipv6_prefix=fd12::",
            "--",
            "lsp-add",
            "ip",
            "i1",
            "--",
            "lsp-set-addresses",
            "i1",
            "dynamic",
            "--",
            "lsp-add",
            "ip",
            "i2",
            "--",
            "lsp-set-addresses",
            "i2",
            "00:00:00:00:0c:02 10.12.0.2",
            "--",
            "lsp-add",
            "ip",
            "i3",
            "--",
            "lsp-set-addresses",
            "i3",
            "dynamic",
            "--",
            "lsp-add",
            "ip",
            "i4",
            "--",
            "lsp-set-addresses",
            "i4",
            "0a:0b:0c:0d:0e:0f dynamic",
            "--",
            "lsp-add",
            "ip",
            "i5",
            "--",
            "lsp-set-addresses",
            "i5",
            "dynamic 10.12.0.100",
            "--",
            "lsp-add",
            "ip",
            "i6",
            "--",
            "lsp-set-addresses",
            "i6",
            "dynamic",
            "--",
            "lsp-set-port-security",
            "i6",
            "dynamic",
            "--",
            "ls-add",
            "ip6",
            "--",
            "set",
            "logical_switch",
            "ip6",
            "other_config:ipv6_prefix=fd13::",
            "--",
            "lsp-add",
            "ip6",
            "j1",
            "--",
            "lsp-set-addresses",
            "j1",
            "00:00:00:00:0d:01 dynamic",
            "--",
            "ls-add",
            "macs",
            "--",
            "set",
            "logical_switch",
            "macs",
            "other_config:mac_only=true",
            "other_config:subnet=10.14.0.0/24",
            "--",
            "lsp-add",
            "macs",
            "k1",
            "--",
            "lsp-set-addresses",
            "k1",
            "00:00:00:00:0e:01 dynamic",
        ]],
    ));
}

/// External ports behind a localnet port on a switch with a router port: other chassis drop
/// their ARP/ND and unicast towards the router (`ls_in_external_port`).
#[test]
fn external_ports() {
    assert_full(scenario_on(
        "external-ports",
        true,
        &[
            &["lr-add", "r1"],
            &[
                "lrp-add",
                "r1",
                "r1-e1",
                "00:00:00:00:01:0e",
                "10.5.0.1/24",
                "fd05::1/64",
            ],
            &["ls-add", "e1"],
            &["lsp-add", "e1", "ln1"],
            &["lsp-set-type", "ln1", "localnet"],
            &["lsp-set-addresses", "ln1", "unknown"],
            &["lsp-set-options", "ln1", "network_name=phys"],
            &["lsp-add", "e1", "e1-r1"],
            &["lsp-set-type", "e1-r1", "router"],
            &["lsp-set-addresses", "e1-r1", "router"],
            &["lsp-set-options", "e1-r1", "router-port=r1-e1"],
            &["lsp-add", "e1", "ext1"],
            &["lsp-set-type", "ext1", "external"],
            &[
                "lsp-set-addresses",
                "ext1",
                "00:00:00:00:0e:01 10.5.0.5",
                "00:00:00:00:0e:11 10.5.0.15",
            ],
            &["lsp-add", "e1", "ext2"],
            &["lsp-set-type", "ext2", "external"],
            &["lsp-set-addresses", "ext2", "00:00:00:00:0e:02 10.5.0.6"],
            &["ha-chassis-group-add", "hg1"],
            &["ha-chassis-group-add-chassis", "hg1", "ch1", "10"],
            &[
                "set",
                "Logical_Switch_Port",
                "ext1",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
        ],
    ));
}

/// Found by `parity_random`: a `MAC dynamic` port on a switch without IPAM still gets its MAC
/// in `ls_in_l2_lkup`; DHCP answers every address entry of a port, and no disabled port;
/// `use_ct_inv_match=false`
/// takes `ct.inv` out of the ACL defaults.
#[test]
fn random_found_switch() {
    assert_full(scenario(
        "random-switch",
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:02:0d:4a dynamic"],
            &["lsp-add", "s1", "p2"],
            &[
                "lsp-set-addresses",
                "p2",
                "00:00:00:02:0b:2c 10.2.0.11 fd02::11",
                "00:00:00:02:6f:c6 10.2.0.111 fd02::111",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=10.2.0.0/24",
                "external_ids:n=v4",
                "options:lease_time=3600",
                "options:router=10.2.0.1",
                "options:server_id=10.2.0.1",
                "options:server_mac=c0:ff:ee:00:00:01",
            ],
            &[
                "create",
                "DHCP_Options",
                "cidr=fd02\\:\\:/64",
                "external_ids:n=v6",
                "options:server_id=00:00:00:10:00:01",
            ],
            &[
                "set",
                "logical_switch_port",
                "p2",
                "dhcpv4_options=@dhcp4",
                "dhcpv6_options=@dhcp6",
            ],
            // A disabled port gets no DHCP replies (its egress ACL bypass stays).
            &["lsp-add", "s1", "p3"],
            &[
                "lsp-set-addresses",
                "p3",
                "00:00:00:02:0b:33 10.2.0.33 fd02::33",
            ],
            &["lsp-set-enabled", "p3", "disabled"],
            &[
                "set",
                "logical_switch_port",
                "p3",
                "dhcpv4_options=@dhcp4",
                "dhcpv6_options=@dhcp6",
            ],
            &["acl-add", "s1", "from-lport", "100", "ip4", "allow-related"],
            &["set", "nb_global", ".", "options:use_ct_inv_match=false"],
        ],
    ));
}

/// Found by `parity_random`: a disabled port with `unknown` does not make the switch flood
/// unknown destinations; external ports skip router ports whose addresses are not `router`.
#[test]
fn random_found_unknown_external() {
    assert_full(scenario_on(
        "random-unknown-external",
        true,
        &[
            &["ls-add", "s2"],
            &["lsp-add", "s2", "p1"],
            &[
                "lsp-set-addresses",
                "p1",
                "00:00:00:02:0b:46 10.2.0.11",
                "unknown",
            ],
            &["ls-add", "s1"],
            &["lsp-set-enabled", "p1", "disabled"],
            &["lsp-add", "s1", "ln"],
            &["lsp-set-type", "ln", "localnet"],
            &["lsp-set-addresses", "ln", "unknown"],
            &["lsp-set-options", "ln", "network_name=phys"],
            &["lsp-set-enabled", "ln", "disabled"],
            &["lsp-add", "s1", "x1"],
            &["lsp-set-type", "x1", "external"],
            &["lsp-set-addresses", "x1", "00:00:00:02:0c:9e 10.2.0.12"],
            &["ha-chassis-group-add", "hg1"],
            &["ha-chassis-group-add-chassis", "hg1", "ch1", "10"],
            &[
                "set",
                "logical_switch_port",
                "x1",
                "ha_chassis_group==HA_Chassis_Group/hg1",
            ],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s1", "00:00:00:00:f1:02", "10.2.0.1/24"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "unknown"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
        ],
    ));
}

/// Found by `parity_random`: `ignore_lsp_down=false` keeps ARP/ND answers for ports that are
/// not up (router ports and localports still answer); a switch load balancer's
/// `selection_fields` become `hash_fields` of `ct_lb_mark`.
#[test]
fn random_found_lsp_down_selection_fields() {
    assert_full(scenario(
        "random-lsp-down-selection",
        &[
            &["set", "nb_global", ".", "options:ignore_lsp_down=false"],
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &[
                "lsp-set-addresses",
                "p1",
                "00:00:00:01:0b:01 10.1.0.11 fd01::11",
            ],
            &["lsp-add", "s1", "p2"],
            &["lsp-set-type", "p2", "localport"],
            &["lsp-set-addresses", "p2", "00:00:00:01:0b:02 10.1.0.12"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "router"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
            &["lb-add", "lb1", "30.0.0.1:80", "10.1.0.11:8080", "tcp"],
            &["lb-add", "lb1", "[fd99::1]:80", "[fd01::11]:8080", "tcp"],
            &[
                "set",
                "load_balancer",
                "lb1",
                "selection_fields=ip_src,ip_dst,tp_src",
            ],
            &["ls-lb-add", "s1", "lb1"],
            &["lr-lb-add", "r1", "lb1"],
        ],
    ));
}

/// Found by `parity_random`: `other_config:vlan-passthru=true` admits tagged packets and
/// leaves the ports' addresses without ARP/ND answers (localnet and virtual ports keep
/// theirs).
#[test]
fn random_found_vlan_passthru() {
    assert_full(scenario(
        "random-vlan-passthru",
        &[
            &["ls-add", "s1"],
            &[
                "set",
                "logical_switch",
                "s1",
                "other_config:vlan-passthru=true",
            ],
            &["lsp-add", "s1", "v1"],
            &[
                "lsp-set-addresses",
                "v1",
                "00:00:00:01:0b:01 10.1.0.11 fd01::11",
            ],
            &["lsp-add", "s1", "ln"],
            &["lsp-set-type", "ln", "localnet"],
            &["lsp-set-addresses", "ln", "unknown"],
            &["lsp-set-options", "ln", "network_name=phys"],
            &["lsp-add", "s1", "vip"],
            &["lsp-set-type", "vip", "virtual"],
            &["lsp-set-addresses", "vip", "00:00:00:01:0b:99 10.1.0.100"],
            &[
                "lsp-set-options",
                "vip",
                "virtual-ip=10.1.0.100",
                "virtual-parents=v1",
            ],
            &["lsp-add", "s1", "lp"],
            &["lsp-set-type", "lp", "localport"],
            &["lsp-set-addresses", "lp", "00:00:00:01:0b:02 10.1.0.12"],
            &["lr-add", "r1"],
            &["lrp-add", "r1", "r1-s1", "00:00:00:00:f1:01", "10.1.0.1/24"],
            &["lsp-add", "s1", "s1-r1"],
            &["lsp-set-type", "s1-r1", "router"],
            &["lsp-set-addresses", "s1-r1", "router"],
            &["lsp-set-options", "s1-r1", "router-port=r1-s1"],
        ],
    ));
}

/// Found by `parity_random`: `NB_Global` `options:default_acl_drop=true` drops what no ACL
/// allows (switches with ACLs, with only a load balancer, with only stateless ACLs), and
/// `options:log-related=true` on a logged, labelled `allow-related` ACL logs its related and
/// reply traffic.
#[test]
fn random_found_default_acl_drop_log_related() {
    // With and without chassis features, and without `ct.inv` in the matches.
    for (chassis, inv) in [(false, "true"), (true, "true"), (true, "false")] {
        let inv = format!("options:use_ct_inv_match={inv}");
        assert_full(scenario_on(
            "random-default-acl-drop",
            chassis,
            &[
                &["set", "nb_global", ".", "options:default_acl_drop=true"],
                &["set", "nb_global", ".", &inv],
                &["ls-add", "s1"],
                &["lsp-add", "s1", "p1"],
                &["lsp-set-addresses", "p1", "00:00:00:01:0b:01 10.1.0.11"],
                &[
                    "--log",
                    "--name=a1",
                    "--label=104",
                    "acl-add",
                    "s1",
                    "from-lport",
                    "1000",
                    "ip4",
                    "allow-related",
                ],
                &[
                    "--log",
                    "--name=a2",
                    "--label=105",
                    "acl-add",
                    "s1",
                    "to-lport",
                    "900",
                    "tcp",
                    "allow-related",
                ],
                &[
                    "--log",
                    "--name=a3",
                    "--label=106",
                    "--apply-after-lb",
                    "acl-add",
                    "s1",
                    "from-lport",
                    "800",
                    "udp",
                    "allow-related",
                ],
                &[
                    "--log",
                    "--name=a4",
                    "acl-add",
                    "s1",
                    "to-lport",
                    "700",
                    "udp",
                    "allow-related",
                ],
                &["set", "acl", "a1", "options:log-related=true"],
                &["set", "acl", "a2", "options:log-related=true"],
                &["set", "acl", "a3", "options:log-related=true"],
                &["set", "acl", "a4", "options:log-related=true"],
                &[
                    "--log",
                    "--name=a5",
                    "--label=107",
                    "acl-add",
                    "s1",
                    "to-lport",
                    "600",
                    "icmp4",
                    "allow",
                ],
                &["set", "acl", "a5", "options:log-related=true"],
                &[
                    "--log",
                    "--name=a6",
                    "acl-add",
                    "s1",
                    "from-lport",
                    "550",
                    "icmp4",
                    "allow",
                ],
                &["set", "acl", "a6", "options:log-related=true"],
                &["ls-add", "s2"],
                &["lb-add", "lb1", "30.0.0.1", "10.2.0.5"],
                &["ls-lb-add", "s2", "lb1"],
                &["ls-add", "s3"],
                &["ls-add", "s4"],
                &[
                    "acl-add",
                    "s4",
                    "from-lport",
                    "100",
                    "ip4",
                    "allow-stateless",
                ],
                &["ls-add", "s5"],
                &["acl-add", "s5", "to-lport", "100", "ip4", "drop"],
            ],
        ));
    }
}

/// Found by `parity_random`: a localnet port with `options:localnet_learn_fdb=true` (and
/// `unknown`) learns FDB entries like an `unknown` VIF; one without `unknown` does not.
#[test]
fn random_found_localnet_learn_fdb() {
    assert_full(scenario(
        "random-localnet-learn-fdb",
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "ln1"],
            &["lsp-set-type", "ln1", "localnet"],
            &["lsp-set-addresses", "ln1", "unknown"],
            &[
                "lsp-set-options",
                "ln1",
                "network_name=phys",
                "localnet_learn_fdb=true",
            ],
            &["ls-add", "s2"],
            &["lsp-add", "s2", "ln2"],
            &["lsp-set-type", "ln2", "localnet"],
            &[
                "lsp-set-options",
                "ln2",
                "network_name=phys",
                "localnet_learn_fdb=true",
            ],
            &["lsp-add", "s2", "ln3"],
            &["lsp-set-type", "ln3", "localnet"],
            &["lsp-set-addresses", "ln3", "unknown"],
            &["lsp-set-options", "ln3", "network_name=phys2"],
        ],
    ));
}

/// Forwarding groups (not generated by `parity_random` before): ARP replies for the VIP and
/// `fwd_group()` for the virtual MAC, with and without liveness; two groups on one switch.
#[test]
fn forwarding_groups() {
    assert_full(scenario(
        "forwarding-groups",
        &[
            &["ls-add", "s1"],
            &["lsp-add", "s1", "p1"],
            &["lsp-set-addresses", "p1", "00:00:00:01:0b:01 10.1.0.11"],
            &["lsp-add", "s1", "p2"],
            &["lsp-set-addresses", "p2", "00:00:00:01:0b:02 10.1.0.12"],
            &["lsp-add", "s1", "p3"],
            &["lsp-set-addresses", "p3", "00:00:00:01:0b:03 10.1.0.13"],
            &[
                "fwd-group-add",
                "fg1",
                "s1",
                "10.1.0.100",
                "00:00:00:01:0b:64",
                "p1",
                "p2",
            ],
            &[
                "--liveness",
                "fwd-group-add",
                "fg2",
                "s1",
                "10.1.0.101",
                "00:00:00:01:0b:65",
                "p3",
                "p1",
                "p2",
            ],
            &["ls-add", "s2"],
            &["lsp-add", "s2", "q1"],
            &[
                "fwd-group-add",
                "fg3",
                "s2",
                "10.2.0.100",
                "00:00:00:02:0b:64",
                "q1",
            ],
        ],
    ));
}
