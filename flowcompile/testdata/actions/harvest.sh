#!/bin/bash
# Regenerates northd-corpus.txt and oracle-23.03.txt from a real OVN 23.03 sandbox.
# usage: harvest.sh DIR   (DIR is scratch space; needs ../shared/tools/ref-ovn.sh)
# The sandbox is stopped (by pid files) at the end.  Then run the golden test with
# OVNKIT_BLESS=1 (adds the "formats as"/"has prereqs" lines) and check that no
# "encodes as"/"uses group" line of oracle-23.03.txt changed: those are the real encodings.
set -e
D=${1:?usage: harvest.sh DIR}; HERE=$(cd "$(dirname "$0")" && pwd)
CHASSIS=ch1 bash /work/shared/tools/ref-ovn.sh start "$D" >/dev/null
trap 'bash /work/shared/tools/ref-ovn.sh stop "$D"' EXIT
export OVS_RUNDIR=$D OVN_RUNDIR=$D OVN_NB_DB=unix:$D/nb.sock OVN_SB_DB=unix:$D/sb.sock
N=ovn-nbctl
# Switches, routers, DGP with NAT, gateway routers, localnet.
$N ls-add sw0
$N lsp-add sw0 p1 -- lsp-set-addresses p1 "00:00:00:00:00:01 10.0.0.11 fd00::11" -- lsp-set-port-security p1 "00:00:00:00:00:01 10.0.0.11 fd00::11"
$N lsp-add sw0 p2 -- lsp-set-addresses p2 "00:00:00:00:00:02 10.0.0.12"
$N lsp-add sw0 p3 -- lsp-set-addresses p3 unknown -- set logical_switch_port p3 options:requested-chassis=ch1
$N lsp-add sw0 vip1 -- lsp-set-type vip1 virtual -- lsp-set-options vip1 virtual-ip=10.0.0.100 virtual-parents=p1,p2
$N lsp-add sw0 p4 -- lsp-set-addresses p4 "00:00:00:00:00:04 10.0.0.14 fd00::14" -- lsp-set-port-security p4 "00:00:00:00:00:04 10.0.0.14"
$N ls-add sw1
$N lsp-add sw1 q1 -- lsp-set-addresses q1 "00:00:00:00:01:01 20.0.0.11 fd01::11" -- lsp-set-options q1 qos_max_rate=1000000 qos_burst=100000
$N lsp-add sw1 q2 -- lsp-set-addresses q2 "00:00:00:00:01:02 20.0.0.12" -- lsp-set-port-security q2 "00:00:00:00:01:02 20.0.0.12/24"
$N lsp-add sw1 lp1 -- lsp-set-type lp1 localport -- lsp-set-addresses lp1 "00:00:00:00:01:03 20.0.0.13"
$N lsp-add sw1 ln1 -- lsp-set-type ln1 localnet -- lsp-set-addresses ln1 unknown -- lsp-set-options ln1 network_name=physnet localnet_learn_fdb=true
$N lr-add lr0
$N lrp-add lr0 lr0-sw0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64
$N lsp-add sw0 sw0-lr0 -- lsp-set-type sw0-lr0 router -- lsp-set-addresses sw0-lr0 router -- lsp-set-options sw0-lr0 router-port=lr0-sw0
$N lrp-add lr0 lr0-sw1 00:00:00:00:ff:02 20.0.0.1/24 fd01::1/64
$N lsp-add sw1 sw1-lr0 -- lsp-set-type sw1-lr0 router -- lsp-set-addresses sw1-lr0 router -- lsp-set-options sw1-lr0 router-port=lr0-sw1
$N ls-add pub
$N lsp-add pub ln-pub -- lsp-set-type ln-pub localnet -- lsp-set-addresses ln-pub unknown -- lsp-set-options ln-pub network_name=phys
$N lrp-add lr0 lr0-pub 00:00:00:00:ff:03 172.16.0.1/24 2001::1/64
$N lsp-add pub pub-lr0 -- lsp-set-type pub-lr0 router -- lsp-set-addresses pub-lr0 router -- lsp-set-options pub-lr0 router-port=lr0-pub
$N lrp-set-gateway-chassis lr0-pub ch1 10
$N lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24
$N lr-nat-add lr0 dnat_and_snat 172.16.0.50 10.0.0.11 p1 00:00:00:00:aa:01
$N lr-nat-add lr0 dnat_and_snat 172.16.0.51 10.0.0.12
$N lr-nat-add lr0 dnat 172.16.0.52 20.0.0.11
$N --portrange lr-nat-add lr0 snat 172.16.0.2 20.0.0.0/24 1000-2000
$N lr-nat-add lr0 snat 2001::2 fd00::/64
$N lr-route-add lr0 0.0.0.0/0 172.16.0.254
$N lr-route-add lr0 ::/0 2001::fe
$N --ecmp lr-route-add lr0 30.0.0.0/24 20.0.0.100
$N --ecmp lr-route-add lr0 30.0.0.0/24 20.0.0.101
$N lr-policy-add lr0 1000 "ip4.src == 10.0.0.11" reroute 20.0.0.50
$N lr-policy-add lr0 900 "ip4.src == 10.0.0.12" drop
$N lr-policy-add lr0 800 "ip4.src == 10.0.0.13" allow pkt_mark=100
$N lr-policy-add lr0 700 "ip4.src == 10.0.0.14" reroute 20.0.0.51,20.0.0.52
$N lr-add gr0 -- set logical_router gr0 options:chassis=ch1 options:lb_force_snat_ip=192.168.100.1 options:dynamic_neigh_routers=true options:snat-ct-zone=100
$N lrp-add gr0 gr0-ext 00:00:00:00:fe:01 192.168.100.1/24
$N lsp-add pub gr-ext-p -- lsp-set-type gr-ext-p router -- lsp-set-addresses gr-ext-p router -- lsp-set-options gr-ext-p router-port=gr0-ext
$N lrp-add gr0 gr0-sw1 00:00:00:00:fe:02 20.0.0.2/24
$N lr-nat-add gr0 snat 192.168.100.1 20.0.0.0/24
$N lr-nat-add gr0 dnat_and_snat 192.168.100.50 20.0.0.11
$N --ecmp-symmetric-reply lr-route-add gr0 60.0.0.0/24 192.168.100.200
$N --ecmp-symmetric-reply lr-route-add gr0 60.0.0.0/24 192.168.100.201
$N create bfd logical_port=gr0-ext dst_ip=192.168.100.210 >/dev/null
$N --bfd lr-route-add gr0 70.0.0.0/24 192.168.100.210
$N lr-add lr1 -- set logical_router lr1 options:chassis=ch1 -- lrp-add lr1 lr1-sw1 00:00:00:00:ee:01 20.0.0.3/24
$N lsp-add sw1 sw1-lr1 -- lsp-set-type sw1-lr1 router -- lsp-set-addresses sw1-lr1 router -- lsp-set-options sw1-lr1 router-port=lr1-sw1
$N --ecmp-symmetric-reply lr-route-add lr1 80.0.0.0/24 20.0.0.100
# Load balancers: affinity, hairpin SNAT, selection fields, health checks, empty, reject.
$N lb-add lb0 10.96.0.10:80 10.0.0.11:8080,10.0.0.12:8080 tcp -- set load_balancer lb0 options:affinity_timeout=60 options:hairpin_snat_ip=169.254.0.2
$N lb-add lb1 10.96.0.11:53 10.0.0.11:53 udp -- set load_balancer lb1 options:hairpin_snat_ip=169.254.0.1
$N lb-add lb2 10.96.0.12 10.0.0.11,10.0.0.12 -- set load_balancer lb2 selection_fields=ip_src,ip_dst
$N lb-add lb3 [fd02::10]:80 [fd00::11]:8080 tcp -- set load_balancer lb3 options:affinity_timeout=30
$N lb-add lbs 10.96.0.13:132 10.0.0.11:132 sctp -- set load_balancer lbs options:skip_snat=true
$N lb-add lbe 10.96.0.14:80 "" tcp
$N lb-add lbr 172.16.0.60:80 20.0.0.11:80 tcp -- set load_balancer lbr options:reject=true
$N lb-add lbrej 10.96.0.30:80 "" tcp -- set load_balancer lbrej options:reject=true
$N lb-add lbhc 10.96.0.20:80 10.0.0.11:80,10.0.0.12:80 tcp
uuid=$($N --bare --columns=_uuid find load_balancer name=lbhc)
$N --id=@hc create Load_Balancer_Health_Check vip="10.96.0.20\:80" -- add Load_Balancer $uuid health_check @hc
$N set load_balancer lbhc ip_port_mappings:10.0.0.11=p1:10.0.0.1 ip_port_mappings:10.0.0.12=p2:10.0.0.1
$N set nb_global . options:svc_monitor_mac="00:00:00:00:ee:ee" options:controller_event=true
for lb in lb0 lb1 lb2 lb3 lbs lbe lbhc; do $N ls-lb-add sw0 $lb; done
$N ls-lb-add sw1 lbrej
for lb in lb0 lb1 lb2 lb3 lbr; do $N lr-lb-add lr0 $lb; done
$N lr-lb-add gr0 lb0; $N lr-lb-add gr0 lb2
# ACLs with port groups, address sets, logging, meters, labels, reject, stateless.
$N pg-add pg1 p1 p2
$N create address_set name=as1 addresses='"10.0.0.11","10.0.0.12"' >/dev/null
$N meter-add m1 drop 10 pktps
$N acl-add sw0 from-lport 1001 'ip4.src == $as1 && tcp' allow-related
$N --log --severity=alert --name=acl1 --meter=m1 acl-add sw0 to-lport 1002 'outport == @pg1 && ip4' allow-related
$N --log --severity=info acl-add sw0 to-lport 1003 'outport == "p2" && udp' drop
$N --log --name=rej acl-add sw0 from-lport 1004 'ip4.dst == 1.1.1.1' reject
$N acl-add sw0 from-lport 1005 'ip6' allow-stateless
$N --label=1234 acl-add sw0 from-lport 1006 'ip4.dst == 2.2.2.2' allow
$N --apply-after-lb acl-add sw0 from-lport 1007 'ip4.dst == 3.3.3.3' allow-related
$N acl-add sw1 from-lport 1020 'tcp && ip4.dst == 5.5.5.5' reject
$N acl-add sw1 from-lport 1021 'sctp && ip4.dst == 5.5.5.6' reject
$N acl-add sw1 to-lport 1022 'udp && ip4.dst == 5.5.5.7' allow-stateless
$N pg-add pg2 q1
$N acl-add pg2 to-lport 1009 'outport == @pg2 && ip' allow-related
$N --log --severity=warning acl-add pg2 from-lport 1010 'inport == @pg2 && tcp.dst == 22' reject
# QoS, DHCP, DNS, IPv6 RA, multicast, external ports.
$N qos-add sw0 from-lport 100 'ip4.src == 10.0.0.11' dscp=12
$N qos-add sw0 from-lport 101 'ip4.src == 10.0.0.12' rate=1000 burst=100
d4=$($N create DHCP_Options cidr=10.0.0.0/24 options='"lease_time"="3600" "router"="10.0.0.1" "server_id"="10.0.0.1" "server_mac"="00:00:00:00:ff:01" "dns_server"="{8.8.8.8,8.8.4.4}" "domain_name"="\"ovn.org\"" "mtu"="1400" "classless_static_route"="{30.0.0.0/24,10.0.0.10, 0.0.0.0/0,10.0.0.1}" "hostname"="\"host1\""')
$N lsp-set-dhcpv4-options p1 $d4; $N lsp-set-dhcpv4-options p2 $d4
d6=$($N create DHCP_Options cidr="fd00\:\:/64" options='"server_id"="00:00:00:00:ff:01" "dns_server"="{fd00::53}" "domain_search"="\"ovn.org\""')
$N lsp-set-dhcpv6-options p1 $d6
dns=$($N create DNS records='"vm1.ovn.org"="10.0.0.11 fd00::11" "vm2.ovn.org"="10.0.0.12"')
$N add logical_switch sw0 dns_records $dns
$N set logical_router_port lr0-sw0 ipv6_ra_configs:address_mode=slaac ipv6_ra_configs:send_periodic=true ipv6_ra_configs:mtu=1400 options:gateway_mtu=1400
$N set logical_router_port lr0-sw1 ipv6_ra_configs:address_mode=dhcpv6_stateful
$N set logical_switch sw1 other_config:mcast_snoop=true other_config:mcast_querier=true other_config:mcast_eth_src=00:00:00:00:ff:02 other_config:mcast_ip4_src=20.0.0.1 other_config:mcast_flood_unregistered=true
$N set logical_router lr0 options:mcast_relay=true
$N set logical_router_port lr1-sw1 options:mcast_flood=true
$N lsp-add sw0 ext1 -- lsp-set-type ext1 external -- lsp-set-addresses ext1 "00:00:00:00:00:05 10.0.0.15"
$N ha-chassis-group-add hg1 -- ha-chassis-group-add-chassis hg1 ch1 10
$N set logical_switch_port ext1 ha_chassis_group=$($N --bare --columns=_uuid find ha_chassis_group name=hg1)
$N lsp-set-dhcpv4-options ext1 $d4
$N lr-nat-add gr0 dnat_and_snat 192.168.100.60 20.0.0.12 q2 00:00:00:00:ab:01
$N --wait=sb sync
for p in p1 p3 q1 q2; do ovs-vsctl --db=unix:$D/db.sock add-port br-int $p -- set interface $p type=dummy external_ids:iface-id=$p; done
$N --wait=hv sync
python3 "$HERE/harvest.py" corpus > "$HERE/northd-corpus.txt"
python3 "$HERE/harvest.py" oracle > "$HERE/oracle-23.03.txt"
