//! Per-logical-flow parity with the real ovn-controller 23.03: each scenario builds a topology
//! on the real stack (northd + controller for chassis `ch1`), reads SB, compiles its logical
//! flows with `flowcompile::chassis`, and compares, for every logical flow, the OpenFlow rules
//! of the logical tables with those ovn-controller installed, grouped by cookie (the comparison
//! lives in `common`, shared with `parity_random`).  `PARITY_VERBOSE=1` prints every mismatch;
//! `PARITY_RECOMPUTE=1` has ovn-controller recompute before each comparison.

mod common;

use common::{check, check_exact, run_scenario};

const SWITCH_ACLS: &str = r#"
nb ls-add sw0 -- set Logical_Switch sw0 other_config:subnet=10.0.0.0/24
nb lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11" -- lsp-set-port-security vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11"
nb lsp-add sw0 vm2 -- lsp-set-addresses vm2 "00:00:00:00:01:02 10.0.0.12"
nb lsp-add sw0 vm3 -- lsp-set-addresses vm3 "00:00:00:00:01:03 10.0.0.13"
nb lsp-add sw0 vm4 -- lsp-set-addresses vm4 unknown
nb pg-add pg_allow vm1 vm2 -- pg-add pg_deny vm3 vm2 -- pg-add pg_empty
nb create Address_Set name=as_v4 addresses='"10.0.0.11","10.0.0.12","10.0.2.0/24","10.1.0.0/16"'
nb create Address_Set name=as_v6 addresses='"fd00::11","fd00::12"'
nb create Address_Set name=as_empty
nb acl-add pg_allow to-lport 1001 'outport == @pg_allow && ip4.src == $as_v4 && tcp.dst == {80, 443, 8080}' allow-related
nb acl-add pg_allow from-lport 1001 'inport == @pg_allow && ip6.dst == $as_v6' allow-related
nb acl-add pg_allow from-lport 1002 'inport == @pg_allow && ip4.dst == $as_v4 && udp.dst >= 1000 && udp.dst <= 2000' allow
nb acl-add pg_deny to-lport 1000 'outport == @pg_deny && ip' drop
nb acl-add pg_empty to-lport 1000 'outport == @pg_empty && ip4.src == $as_empty' drop
nb --log --severity=info acl-add sw0 to-lport 900 'ip4 && udp.dst == 53' reject
nb --log --severity=warning --name=a1 acl-add sw0 from-lport 800 'ip4 && icmp4' allow-stateless
dhcp=$(ovn-nbctl --db="$NB" create DHCP_Options cidr=10.0.0.0/24 options='"lease_time"="3600" "router"="10.0.0.1" "server_id"="10.0.0.1" "server_mac"="00:00:00:00:ff:01"')
nb lsp-set-dhcpv4-options vm1 $dhcp
"#;

const ROUTER_NAT_LB: &str = r#"
nb ls-add sw0 -- lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11" \
   -- lsp-set-port-security vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11"
nb lsp-add sw0 vm2 -- lsp-set-addresses vm2 "00:00:00:00:01:02 10.0.0.12" -- lsp-add sw0 vm3 -- lsp-set-addresses vm3 dynamic
nb set Logical_Switch sw0 other_config:subnet=10.0.0.0/24 other_config:mcast_snoop=true
nb ls-add sw1 -- lsp-add sw1 vm4 -- lsp-set-addresses vm4 "00:00:00:00:02:01 10.0.1.11"
nb lsp-add sw1 ln1 -- lsp-set-type ln1 localnet -- lsp-set-addresses ln1 unknown -- lsp-set-options ln1 network_name=physnet
nb lr-add lr0 -- lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64 -- lrp-add lr0 lr0-sw1 00:00:00:00:ff:02 10.0.1.1/24
nb lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
nb lsp-add sw1 sw1-lr0 -- lsp-set-type sw1-lr0 router -- lsp-set-addresses sw1-lr0 router -- lsp-set-options sw1-lr0 router-port=lr0-sw1
nb lrp-set-gateway-chassis lr0-sw1 ch1 10
nb lr-nat-add lr0 snat 172.16.0.100 10.0.0.0/24
nb lr-nat-add lr0 dnat_and_snat 172.16.0.110 10.0.0.11 vm1 00:00:00:00:03:01
nb lr-route-add lr0 0.0.0.0/0 10.0.1.254
nb lr-policy-add lr0 1004 "ip4.src == 10.0.0.11 && ip4.dst == 10.0.1.0/24" reroute 10.0.1.100
nb lr-policy-add lr0 102 "ip4.src == 10.0.0.0/24 && ip4.dst == 10.0.1.0/24" allow
nb lr-policy-add lr0 101 "ip4.src == 10.0.0.12" drop
nb lr-add gr0 -- set Logical_Router gr0 options:chassis=ch1 options:lb_force_snat_ip=router_ip
nb lrp-add gr0 gr0-ext 00:00:00:00:ff:10 172.16.0.1/24
nb lr-nat-add gr0 snat 172.16.0.1 10.0.0.0/16
nb lb-add lb0 10.96.0.10:80 10.0.0.11:8080,10.0.0.12:8080 tcp
nb set Load_Balancer lb0 options:affinity_timeout=60
nb lb-add lb1 10.96.0.11:53 10.0.0.11:53 udp
nb lb-add lb2 10.96.0.12 10.0.0.12
nb ls-lb-add sw0 lb0 -- ls-lb-add sw0 lb1 -- ls-lb-add sw0 lb2 -- lr-lb-add lr0 lb0 -- lr-lb-add gr0 lb1
"#;

const OVNK_NODE: &str = r#"
nb ls-add node1 -- set Logical_Switch node1 other_config:subnet=10.128.0.0/23
nb lsp-add node1 ns1_pod1 -- lsp-set-addresses ns1_pod1 "0a:58:0a:80:00:05 10.128.0.5" -- lsp-set-port-security ns1_pod1 "0a:58:0a:80:00:05 10.128.0.5"
nb lsp-add node1 ns1_pod2 -- lsp-set-addresses ns1_pod2 "0a:58:0a:80:00:06 10.128.0.6" -- lsp-set-port-security ns1_pod2 "0a:58:0a:80:00:06 10.128.0.6"
nb lsp-add node1 k8s-node1 -- lsp-set-addresses k8s-node1 "0a:58:0a:80:00:02 10.128.0.2"
nb lr-add ovn_cluster_router
nb lrp-add ovn_cluster_router rtos-node1 0a:58:0a:80:00:01 10.128.0.1/23
nb lsp-add node1 stor-node1 -- lsp-set-type stor-node1 router -- lsp-set-addresses stor-node1 router -- lsp-set-options stor-node1 router-port=rtos-node1
nb ls-add join
nb lrp-add ovn_cluster_router rtoj-ovn_cluster_router 0a:58:64:40:00:01 100.64.0.1/16
nb lsp-add join jtor-ovn_cluster_router -- lsp-set-type jtor-ovn_cluster_router router -- lsp-set-addresses jtor-ovn_cluster_router router -- lsp-set-options jtor-ovn_cluster_router router-port=rtoj-ovn_cluster_router
nb lr-add GR_node1 -- set Logical_Router GR_node1 options:chassis=ch1 options:lb_force_snat_ip=router_ip options:always_learn_from_arp_request=false options:dynamic_neigh_routers=true
nb lrp-add GR_node1 rtoj-GR_node1 0a:58:64:40:00:02 100.64.0.2/16
nb lsp-add join jtor-GR_node1 -- lsp-set-type jtor-GR_node1 router -- lsp-set-addresses jtor-GR_node1 router -- lsp-set-options jtor-GR_node1 router-port=rtoj-GR_node1
nb lrp-add GR_node1 rtoe-GR_node1 02:42:ac:12:00:02 172.18.0.2/16
nb ls-add ext_node1
nb lsp-add ext_node1 etor-GR_node1 -- lsp-set-type etor-GR_node1 router -- lsp-set-addresses etor-GR_node1 router -- lsp-set-options etor-GR_node1 router-port=rtoe-GR_node1
nb lsp-add ext_node1 breth0_node1 -- lsp-set-type breth0_node1 localnet -- lsp-set-addresses breth0_node1 unknown -- lsp-set-options breth0_node1 network_name=physnet
nb lr-nat-add GR_node1 snat 172.18.0.2 10.128.0.0/14
nb lr-nat-add GR_node1 snat 172.18.0.100 10.128.0.6
nb lr-route-add GR_node1 0.0.0.0/0 172.18.0.1 rtoe-GR_node1
nb lr-route-add GR_node1 10.128.0.0/14 100.64.0.1
nb --policy=src-ip lr-route-add ovn_cluster_router 10.128.0.0/23 100.64.0.2
nb lr-policy-add ovn_cluster_router 1004 "inport == \"rtos-node1\" && ip4.dst == 172.18.0.2 /* node1 */" reroute 10.128.0.2
nb lr-policy-add ovn_cluster_router 102 "ip4.src == 10.128.0.0/14 && ip4.dst == 10.128.0.0/14" allow
nb lr-policy-add ovn_cluster_router 102 "ip4.src == 10.128.0.0/14 && ip4.dst == 100.64.0.0/16" allow
nb lr-policy-add ovn_cluster_router 100 "ip4.src == 10.128.0.6" reroute 100.64.0.2
nb lb-add svc1 10.96.0.1:443 172.18.0.2:6443 tcp
nb lb-add svc2 10.96.0.10:53 10.128.0.5:53,10.128.0.6:53 udp
nb lb-add svc3 10.96.0.20:80 10.128.0.5:8080,10.128.0.6:8080 tcp
nb set Load_Balancer svc3 options:affinity_timeout=10800
nb lb-add np1 172.18.0.2:30080 10.128.0.5:8080 tcp
lbg=$(ovn-nbctl --db="$NB" create Load_Balancer_Group name=clusterLBGroup)
for lb in svc1 svc2 svc3; do
  nb add Load_Balancer_Group $lbg load_balancer $(ovn-nbctl --db="$NB" --bare --columns=_uuid find Load_Balancer name=$lb)
done
nb add Logical_Switch node1 load_balancer_group $lbg -- add Logical_Router GR_node1 load_balancer_group $lbg -- add Logical_Router ovn_cluster_router load_balancer_group $lbg
nb lr-lb-add GR_node1 np1
nb pg-add ns1_deny ns1_pod1 ns1_pod2 -- pg-add np_allow ns1_pod1
nb create Address_Set name=a123_v4 addresses='"10.128.0.6","10.128.1.7"'
nb acl-add ns1_deny to-lport 1000 'outport == @ns1_deny' drop
nb acl-add ns1_deny from-lport 1000 'inport == @ns1_deny' drop
nb acl-add np_allow to-lport 1001 'ip4.src == $a123_v4 && outport == @np_allow' allow-related
nb acl-add np_allow to-lport 1001 'ip4.src == 10.128.0.2 && outport == @np_allow' allow-related
"#;

/// Another chassis `ch2` holds some ports, a distributed gateway port and a gateway router:
/// what is not local to `ch1` must compile to nothing, as on the real chassis.
const LOCALITY: &str = r#"
ovn-sbctl --db="$SB" chassis-add ch2 geneve 192.168.0.2
nb ls-add sw0 -- lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11"
nb lsp-add sw0 vm3 -- lsp-set-addresses vm3 "00:00:00:00:01:03 10.0.0.13" -- lsp-set-port-security vm3 "00:00:00:00:01:03 10.0.0.13"
nb pg-add pg1 vm1 vm3 -- acl-add pg1 to-lport 1001 'outport == @pg1 && ip4' allow-related
nb acl-add pg1 from-lport 1001 'inport == @pg1 && ip4.dst == 10.0.9.0/24' drop
nb ls-add sw2 -- lsp-add sw2 vm5 -- lsp-set-addresses vm5 "00:00:00:00:02:05 10.0.2.15"
nb lr-add lr0 -- lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24
nb lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
nb lrp-add lr0 lr0-pub 00:00:00:00:ff:03 172.16.0.1/24
nb ls-add pub -- lsp-add pub ln-pub -- lsp-set-type ln-pub localnet -- lsp-set-addresses ln-pub unknown -- lsp-set-options ln-pub network_name=phys
nb lsp-add pub pub-lr0 -- lsp-set-type pub-lr0 router -- lsp-set-addresses pub-lr0 router -- lsp-set-options pub-lr0 router-port=lr0-pub
nb lrp-set-gateway-chassis lr0-pub ch2 10
nb lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
nb ls-add jn -- lrp-add lr0 lr0-jn 00:00:00:00:ff:04 100.64.0.1/16
nb lsp-add jn jn-lr0 -- lsp-set-type jn-lr0 router -- lsp-set-addresses jn-lr0 router -- lsp-set-options jn-lr0 router-port=lr0-jn
nb lr-add gr2 -- set Logical_Router gr2 options:chassis=ch2 -- lrp-add gr2 gr2-jn 00:00:00:00:ff:05 100.64.0.2/16
nb lsp-add jn jn-gr2 -- lsp-set-type jn-gr2 router -- lsp-set-addresses jn-gr2 router -- lsp-set-options jn-gr2 router-port=gr2-jn
nb lr-nat-add gr2 snat 100.64.0.2 10.0.0.0/16
nb --wait=sb sync
ovn-sbctl --db="$SB" lsp-bind vm3 ch2 -- lsp-bind vm5 ch2
"#;

/// Features and chassis roles not in the scenarios above, IPv4 and IPv6: chassis template
/// variables (a template load balancer, an ACL), an HA chassis group where `ch2` has the
/// highest priority and one where `ch1` has, gateway routers on `ch1` and on `ch2`, a virtual
/// port, a port requested by `ch2` but plugged here, multi-chassis ports (`ch1` first and
/// second), ACLs with log, meter
/// and label, load balancers with affinity and `hairpin_snat_ip`, distributed NAT resident here
/// and elsewhere, an ECMP reroute policy, port security with addresses, DHCPv4/v6, DNS, router
/// advertisements, multicast snooping and relay, CoPP.
const FEATURES: &str = r#"
ovn-sbctl --db="$SB" chassis-add ch2 geneve 192.168.0.2
nb create Chassis_Template_Var chassis=ch1 variables:VIP=10.96.9.9 variables:BACKENDS=\"10.0.0.11:8080,10.0.0.12:8080\" variables:SRC=10.0.0.13 variables:VIP6=fd96::9
nb create Chassis_Template_Var chassis=ch2 variables:VIP=10.96.9.10
nb ls-add sw0 -- set Logical_Switch sw0 other_config:subnet=10.0.0.0/24 other_config:ipv6_prefix=fd00:: other_config:mcast_snoop=true other_config:mcast_querier=true other_config:mcast_ip4_src=10.0.0.254 other_config:mcast_eth_src=00:00:00:00:fe:01
nb lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11" -- lsp-set-port-security vm1 "00:00:00:00:01:01 10.0.0.11 fd00::11"
nb lsp-add sw0 vm2 -- lsp-set-addresses vm2 "00:00:00:00:01:02 10.0.0.12 fd00::12" -- lsp-set-port-security vm2 "00:00:00:00:01:02 10.0.0.12/24 fd00::12/64"
nb lsp-add sw0 vm3 -- lsp-set-addresses vm3 "00:00:00:00:01:03 10.0.0.13" -- lsp-set-options vm3 requested-chassis=ch2
nb lsp-add sw0 vm4 -- lsp-set-addresses vm4 "00:00:00:00:01:04 10.0.0.14 fd00::14" -- lsp-set-options vm4 requested-chassis=ch1,ch2
nb lsp-add sw0 vm5 -- lsp-set-addresses vm5 "00:00:00:00:01:05 10.0.0.15"
nb lsp-add sw0 vm7 -- lsp-set-addresses vm7 "00:00:00:00:01:07 10.0.0.17" -- lsp-set-options vm7 requested-chassis=ch2,ch1
nb lsp-add sw0 vip1 -- lsp-set-type vip1 virtual -- lsp-set-addresses vip1 "00:00:00:00:01:aa 10.0.0.100" -- lsp-set-options vip1 virtual-ip=10.0.0.100 virtual-parents=vm1,vm5
nb meter-add acl-meter drop 10 pktps
nb pg-add pg1 vm1 vm2 vm4
nb --log --meter=acl-meter --severity=alert --name=acl1 --label=1234 acl-add pg1 to-lport 1001 'outport == @pg1 && ip4.src == 10.0.0.0/24' allow-related
nb --log --meter=acl-meter --label=77 acl-add pg1 from-lport 1001 'inport == @pg1 && ip6' allow
nb --label=88 acl-add sw0 to-lport 900 'ip4.src == ^SRC' allow
nb acl-add sw0 from-lport 800 'ip4.dst == ^NOSUCH' drop
dhcp=$(ovn-nbctl --db="$NB" create DHCP_Options cidr=10.0.0.0/24 options='"lease_time"="3600" "router"="10.0.0.1" "server_id"="10.0.0.1" "server_mac"="00:00:00:00:ff:01" "dns_server"="{8.8.8.8}"')
dhcp6=$(ovn-nbctl --db="$NB" create DHCP_Options cidr="fd00\:\:/64" options='"server_id"="00:00:00:00:ff:01" "dns_server"="{fd99::53}"')
nb lsp-set-dhcpv4-options vm1 $dhcp -- lsp-set-dhcpv6-options vm1 $dhcp6 -- lsp-set-dhcpv6-options vm2 $dhcp6
dns=$(ovn-nbctl --db="$NB" create DNS records='{"vm1.ovn.org"="10.0.0.11 fd00::11", "vm2.ovn.org"="10.0.0.12"}')
nb add Logical_Switch sw0 dns_records $dns
nb lr-add lr0 -- set Logical_Router lr0 options:mcast_relay=true
nb lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64 -- set Logical_Router_Port lr0-sw0 ipv6_ra_configs:address_mode=dhcpv6_stateful ipv6_ra_configs:send_periodic=true ipv6_ra_configs:mtu=1400 ipv6_ra_configs:route_info=\"HIGH-fd77::/64,LOW-fd78::/48,MEDIUM-fd79:0:0:0:1::/80,fd7a::/64\" ipv6_ra_configs:rdnss=fd99::53
nb lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
nb ls-add sw1 -- set Logical_Switch sw1 other_config:mcast_snoop=true
nb lsp-add sw1 vm6 -- lsp-set-addresses vm6 "00:00:00:00:02:06 10.0.1.16 fd01::16"
nb lrp-add lr0 lr0-sw1 00:00:00:00:ff:02 10.0.1.1/24 fd01::1/64
nb lsp-add sw1 sw1-lr0 -- lsp-set-type sw1-lr0 router -- lsp-set-addresses sw1-lr0 router -- lsp-set-options sw1-lr0 router-port=lr0-sw1
nb ls-add pub -- lsp-add pub ln-pub -- lsp-set-type ln-pub localnet -- lsp-set-addresses ln-pub unknown -- lsp-set-options ln-pub network_name=phys
nb lrp-add lr0 lr0-pub 00:00:00:00:ff:03 172.16.0.1/24 2001:db8::1/64
nb lsp-add pub pub-lr0 -- lsp-set-type pub-lr0 router -- lsp-set-addresses pub-lr0 router -- lsp-set-options pub-lr0 router-port=lr0-pub
nb ha-chassis-group-add hg1 -- ha-chassis-group-add-chassis hg1 ch1 10 -- ha-chassis-group-add-chassis hg1 ch2 20
nb set Logical_Router_Port lr0-pub ha_chassis_group=$(ovn-nbctl --db="$NB" --bare --columns=_uuid find HA_Chassis_Group name=hg1)
nb lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
nb lr-nat-add lr0 snat 2001:db8::1 fd00::/64
nb lr-nat-add lr0 dnat_and_snat 172.16.0.11 10.0.0.11 vm1 00:00:00:00:03:01
nb lr-nat-add lr0 dnat_and_snat 2001:db8::11 fd00::11 vm1 00:00:00:00:03:02
nb lr-nat-add lr0 dnat_and_snat 172.16.0.13 10.0.0.13 vm3 00:00:00:00:03:03
nb lr-nat-add lr0 dnat_and_snat 172.16.0.16 10.0.1.16
nb lr-policy-add lr0 1000 "ip4.src == 10.0.0.0/24 && ip4.dst == 10.0.1.0/24" reroute 10.0.1.100,10.0.1.101,10.0.1.102
nb lr-policy-add lr0 1001 "ip6.src == fd00::/64 && ip6.dst == fd01::/64" reroute fd01::100,fd01::101
nb lr-policy-add lr0 900 "ip4.src == 10.0.0.14" drop
nb lr-route-add lr0 0.0.0.0/0 172.16.0.254 -- lr-route-add lr0 ::/0 2001:db8::fe
nb ls-add pub2 -- lsp-add pub2 ln-pub2 -- lsp-set-type ln-pub2 localnet -- lsp-set-addresses ln-pub2 unknown -- lsp-set-options ln-pub2 network_name=phys
nb lr-add lr1 -- lrp-add lr1 lr1-sw1 00:00:00:00:ff:11 10.0.1.2/24
nb lsp-add sw1 sw1-lr1 -- lsp-set-type sw1-lr1 router -- lsp-set-addresses sw1-lr1 router -- lsp-set-options sw1-lr1 router-port=lr1-sw1
nb lrp-add lr1 lr1-pub2 00:00:00:00:ff:12 172.17.0.1/24
nb lsp-add pub2 pub2-lr1 -- lsp-set-type pub2-lr1 router -- lsp-set-addresses pub2-lr1 router -- lsp-set-options pub2-lr1 router-port=lr1-pub2
nb ha-chassis-group-add hg2 -- ha-chassis-group-add-chassis hg2 ch1 30 -- ha-chassis-group-add-chassis hg2 ch2 20
nb set Logical_Router_Port lr1-pub2 ha_chassis_group=$(ovn-nbctl --db="$NB" --bare --columns=_uuid find HA_Chassis_Group name=hg2)
nb lr-nat-add lr1 snat 172.17.0.1 10.0.1.0/24
nb ls-add join
nb lrp-add lr0 lr0-join 00:00:00:00:ff:04 100.64.0.1/16 fd64::1/64
nb lsp-add join join-lr0 -- lsp-set-type join-lr0 router -- lsp-set-addresses join-lr0 router -- lsp-set-options join-lr0 router-port=lr0-join
nb lr-add gr1 -- set Logical_Router gr1 options:chassis=ch1 options:lb_force_snat_ip=router_ip options:snat-ct-zone=100
nb lrp-add gr1 gr1-join 00:00:00:00:ff:05 100.64.0.2/16 fd64::2/64
nb lsp-add join join-gr1 -- lsp-set-type join-gr1 router -- lsp-set-addresses join-gr1 router -- lsp-set-options join-gr1 router-port=gr1-join
nb lrp-add gr1 gr1-ext 00:00:00:00:ff:06 172.18.0.2/16
nb ls-add ext1 -- lsp-add ext1 ln-ext1 -- lsp-set-type ln-ext1 localnet -- lsp-set-addresses ln-ext1 unknown -- lsp-set-options ln-ext1 network_name=phys
nb lsp-add ext1 ext1-gr1 -- lsp-set-type ext1-gr1 router -- lsp-set-addresses ext1-gr1 router -- lsp-set-options ext1-gr1 router-port=gr1-ext
nb lr-nat-add gr1 snat 172.18.0.2 10.0.0.0/16
nb lr-route-add gr1 10.0.0.0/16 100.64.0.1
nb lr-add gr2 -- set Logical_Router gr2 options:chassis=ch2
nb lrp-add gr2 gr2-join 00:00:00:00:ff:07 100.64.0.3/16
nb lsp-add join join-gr2 -- lsp-set-type join-gr2 router -- lsp-set-addresses join-gr2 router -- lsp-set-options join-gr2 router-port=gr2-join
nb lr-nat-add gr2 snat 100.64.0.3 10.0.0.0/16
nb lb-add lb0 10.96.0.10:80 10.0.0.11:8080,10.0.0.12:8080 tcp -- set Load_Balancer lb0 options:affinity_timeout=60 options:hairpin_snat_ip="169.254.0.5 fd69::5"
nb lb-add lb6 [fd96::10]:80 [fd00::11]:8080,[fd00::12]:8080 tcp -- set Load_Balancer lb6 options:affinity_timeout=30
nb lb-add lb1 10.96.0.11:53 10.0.0.11:53 udp -- set Load_Balancer lb1 options:hairpin_snat_ip=169.254.0.6
nb create Load_Balancer name=lbt protocol=tcp options:template=true 'vips:"^VIP:80"="^BACKENDS"'
nb ls-lb-add sw0 lb0 -- ls-lb-add sw0 lb6 -- ls-lb-add sw0 lb1 -- ls-lb-add sw0 lbt
nb lr-lb-add lr0 lb0 -- lr-lb-add lr0 lb6 -- lr-lb-add gr1 lb0 -- lr-lb-add gr1 lbt -- lr-lb-add gr2 lb1
nb meter-add m-arp drop 10 pktps -- meter-add m-reject drop 13 pktps -- meter-add m-igmp drop 15 pktps
nb copp-add c1 arp m-arp -- copp-add c1 reject m-reject -- copp-add c1 igmp m-igmp -- copp-add c1 nd-ns m-arp
nb ls-copp-add c1 sw0 -- lr-copp-add c1 lr0 -- lr-copp-add c1 gr1
nb --wait=sb sync
ovn-sbctl --db="$SB" lsp-bind vm5 ch2
"#;

/// [`FEATURES`] after `chassis` (`vs` lines setting up chassis `ch1`): every logical flow
/// must match.
fn features(name: &str, chassis: &str) {
    check_exact(
        name,
        run_scenario(
            name,
            &format!("{chassis}\n{FEATURES}"),
            &["vm1", "vm2", "vm3", "vm4", "vm6", "vm7"],
            false,
        ),
    );
}

#[test]
fn parity_features() {
    features("features", "");
}

#[test]
fn parity_features_vxlan() {
    features(
        "features_vxlan",
        "vs set Open_vSwitch . external_ids:ovn-encap-type=vxlan",
    );
}

#[test]
fn parity_features_bridge_mappings() {
    features(
        "features_bridge_mappings",
        "vs add-br br-phys\nvs set Open_vSwitch . external_ids:ovn-encap-type=geneve,vxlan \
         external_ids:ovn-bridge-mappings=phys:br-phys",
    );
}

#[test]
fn parity_features_monitor_all() {
    features(
        "features_monitor_all",
        "vs set Open_vSwitch . external_ids:ovn-monitor-all=true",
    );
}

/// A gateway router pinned to `ch1`, then disabled: its switches' router ports become patch
/// ports that keep `ch1` as their chassis, which does not make their datapaths local.
const DISABLED_GR: &str = r#"
nb ls-add sw0 -- lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11"
nb ls-add sw1 -- lsp-add sw1 vm2 -- lsp-set-addresses vm2 "00:00:00:00:02:01 10.0.1.11"
nb ls-add ext -- lsp-add ext ln-ext -- lsp-set-type ln-ext localnet -- lsp-set-addresses ln-ext unknown -- lsp-set-options ln-ext network_name=phys
nb lr-add gr -- set Logical_Router gr options:chassis=ch1
nb lrp-add gr gr-sw1 00:00:00:00:ff:01 10.0.1.1/24 -- lrp-add gr gr-ext 00:00:00:00:ff:02 172.16.0.2/24
nb lsp-add sw1 sw1-gr -- lsp-set-type sw1-gr router -- lsp-set-addresses sw1-gr router -- lsp-set-options sw1-gr router-port=gr-sw1
nb lsp-add ext ext-gr -- lsp-set-type ext-gr router -- lsp-set-addresses ext-gr router -- lsp-set-options ext-gr router-port=gr-ext
nb --wait=hv sync
nb set Logical_Router gr enabled=false
"#;

#[test]
fn parity_disabled_gateway_router() {
    check_exact(
        "disabled_gr",
        run_scenario("disabled_gr", DISABLED_GR, &["vm1"], false),
    );
}

/// A router whose distributed gateway port has `ch2` active and `ch1` standby, and no port
/// bound here: ovn-controller still treats the router (and what it reaches) as local.
const STANDBY_GATEWAY: &str = r#"
ovn-sbctl --db="$SB" chassis-add ch2 geneve 192.168.0.2
nb ls-add sw0 -- lsp-add sw0 vm1 -- lsp-set-addresses vm1 "00:00:00:00:01:01 10.0.0.11"
nb ls-add pub -- lsp-add pub ln-pub -- lsp-set-type ln-pub localnet -- lsp-set-addresses ln-pub unknown -- lsp-set-options ln-pub network_name=phys
nb lr-add lr0 -- lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24 -- lrp-add lr0 lr0-pub 00:00:00:00:ff:02 172.16.0.1/24
nb lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
nb lsp-add pub pub-lr0 -- lsp-set-type pub-lr0 router -- lsp-set-addresses pub-lr0 router -- lsp-set-options pub-lr0 router-port=lr0-pub
nb lrp-set-gateway-chassis lr0-pub ch2 20 -- lrp-set-gateway-chassis lr0-pub ch1 10
nb lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
nb --wait=sb sync
ovn-sbctl --db="$SB" lsp-bind vm1 ch2
"#;

#[test]
fn parity_standby_gateway() {
    check_exact(
        "standby_gateway",
        run_scenario("standby_gateway", STANDBY_GATEWAY, &[], false),
    );
}

#[test]
fn parity_locality() {
    check(
        "locality",
        run_scenario("locality", LOCALITY, &["vm1"], false),
    );
}

#[test]
fn parity_switch_acls() {
    check(
        "switch_acls",
        run_scenario("switch_acls", SWITCH_ACLS, &["vm1", "vm2"], false),
    );
}

#[test]
fn parity_router_nat_lb() {
    check(
        "router_nat_lb",
        run_scenario("router_nat_lb", ROUTER_NAT_LB, &["vm1", "vm2"], false),
    );
}

/// The router and NAT scenario with a CoPP on every switch and router: controller actions
/// carry the meter of their flow's `controller_meter`.
#[test]
fn parity_copp() {
    let script = format!(
        "{ROUTER_NAT_LB}
nb meter-add m-arp drop 10 pktps -- meter-add m-icmp drop 11 pktps -- meter-add m-nd drop 12 pktps
nb meter-add m-reject drop 13 pktps -- meter-add m-resolve drop 14 pktps -- meter-add m-igmp drop 15 pktps
nb copp-add c1 arp m-arp -- copp-add c1 icmp4-error m-icmp -- copp-add c1 icmp6-error m-icmp
nb copp-add c1 nd-na m-nd -- copp-add c1 nd-ns m-nd -- copp-add c1 reject m-reject
nb copp-add c1 arp-resolve m-resolve -- copp-add c1 nd-ns-resolve m-resolve -- copp-add c1 igmp m-igmp
nb ls-copp-add c1 sw0 -- ls-copp-add c1 sw1 -- lr-copp-add c1 lr0 -- lr-copp-add c1 gr0
"
    );
    let o = run_scenario("copp", &script, &["vm1", "vm2"], false);
    if let Some(o) = &o {
        assert!(o.metered > 0, "no metered flow in the real dump");
        let metered: Vec<_> = o
            .mismatches
            .iter()
            .filter(|m| m.contains("meter_id"))
            .collect();
        assert!(metered.is_empty(), "metered flows differ: {metered:#?}");
    }
    check("copp", o);
}

#[test]
fn parity_ovnk_node() {
    check(
        "ovnk_node",
        run_scenario(
            "ovnk_node",
            OVNK_NODE,
            &["ns1_pod1", "ns1_pod2", "k8s-node1"],
            false,
        ),
    );
}
