//! Differential acceptance test of the ovn-nbctl-style API: every script runs once through the
//! real `ovn-nbctl` against a real NB ovsdb-server and once through our command-line layer and
//! API against the embedded database. After every command both sides must agree on success or
//! failure (and on the error text), on the output of commands marked `=`, and after every script
//! the two databases must dump equal (UUIDs renamed, `_version` ignored).
//!
//! Every script also runs a third time through our command layer and the ovsdb client against a
//! second real ovsdb-server (the API's remote mode), which must end up equal too.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use ovn_nb::nbctl::{self, NbctlError};
use ovsdb::model::Uuid;
use ovsdb::{Atom, Database, Datum, Schema};
use serde_json::{json, Value};

/// Scripts: one command line per line, shell-quoted. A line starting with `=` also compares the
/// command's output; `~` compares it as a multiset of lines (rows listed in UUID order); `!`
/// expects both tools to refuse the command.
const SCRIPTS: &[(&str, &str)] = &[
    ("ls-add", "ls-add sw0\nls-add sw1\n= ls-list"),
    ("ls-add unnamed", "ls-add\nls-add sw0"),
    ("ls-add duplicate", "ls-add sw0\n! ls-add sw0\n--may-exist ls-add sw0\n--add-duplicate ls-add sw0"),
    ("ls-add option errors", "! --may-exist ls-add\n! --may-exist --add-duplicate ls-add x"),
    ("ls-del", "ls-add sw0\nls-add sw1\nlsp-add sw0 p0\nls-del sw0\n! ls-del sw0\n--if-exists ls-del sw0\n= ls-list"),
    ("lsp-add", "ls-add sw0\nlsp-add sw0 p1\n! lsp-add sw0 p1\n--may-exist lsp-add sw0 p1\n= lsp-list sw0"),
    ("lsp-add parent tag", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2 p1 5\nlsp-add sw0 p3 p1 0\n! lsp-add sw0 p4 p1 5000\n! lsp-add sw0 p4 p1 x\n! lsp-add sw0 p4 p1"),
    ("lsp-add unknown switch", "! lsp-add nosw p1\nls-add sw0\nls-add sw1\nlsp-add sw0 p1\n! --may-exist lsp-add sw1 p1"),
    ("lsp-del", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2\nlsp-del p1\n! lsp-del p1\n--if-exists lsp-del p1"),
    ("lsp-set-addresses", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\" unknown\nlsp-set-addresses p2 dynamic\nlsp-set-addresses p2 router\nlsp-set-addresses p2 \"00:00:00:00:00:02 10.0.0.2 fd00::2\"\nlsp-set-addresses p2"),
    ("lsp-set-addresses errors", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\"\n! lsp-set-addresses p2 \"zz 10.0.0.3\"\n! lsp-set-addresses p2 \"10.0.0.3\"\n! lsp-set-addresses p2 \"00:00:00:00:00:02 10.0.0.1\"\n! lsp-set-addresses nop unknown"),
    ("lsp-set-port-security", "ls-add sw0\nlsp-add sw0 p1\nlsp-set-port-security p1 \"00:00:00:00:00:01 10.0.0.1\" \"00:00:00:00:00:01 fd00::1\"\nlsp-set-port-security p1\n! lsp-set-port-security nop x"),
    ("lsp-set-type", "ls-add sw0\nlsp-add sw0 p1\nlsp-set-type p1 localnet\nlsp-set-type p1 router\nlsp-set-type p1 \"\"\n! lsp-set-type p1 bogus\n! lsp-set-type nop router"),
    ("lsp-set-options", "ls-add sw0\nlsp-add sw0 p1\nlsp-set-options p1 network_name=physnet a=b\nlsp-set-options p1 router-port=rp1 junk\nlsp-set-options p1"),
    ("lsp-set-enabled", "ls-add sw0\nlsp-add sw0 p1\nlsp-set-enabled p1 disabled\nlsp-set-enabled p1 enabled\n! lsp-set-enabled p1 maybe"),
    ("lr-add lr-del", "lr-add lr0\nlr-add lr1\n! lr-add lr0\n--may-exist lr-add lr0\nlr-del lr1\n! lr-del lr1\n--if-exists lr-del lr1\n= lr-list"),
    ("lrp-add", "lr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64\nlrp-add lr0 lrp1 00:00:00:00:ff:02 10.0.1.1/24 peer=lrp9\n--may-exist lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24 fd00::1/64"),
    ("lrp-add errors", "lr-add lr0\nlr-add lr1\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\n! lrp-add lr0 lrp1 zz 10.0.0.1/24\n! lrp-add lr0 lrp1 00:00:00:00:ff:01 10.0.0.1/33\n! lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\n! --may-exist lrp-add lr0 lrp0 00:00:00:00:ff:02 10.0.0.1/24\n! --may-exist lrp-add lr1 lrp0 00:00:00:00:ff:01 10.0.0.1/24\n! lrp-add nolr lrp2 00:00:00:00:ff:01 10.0.0.1/24"),
    ("lrp-del", "lr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\nlrp-del lrp0\n! lrp-del lrp0\n--if-exists lrp-del lrp0"),
    ("lrp-set-gateway-chassis", "lr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\nlrp-set-gateway-chassis lrp0 ch1 10\nlrp-set-gateway-chassis lrp0 ch2\nlrp-set-gateway-chassis lrp0 ch1 20\n! lrp-set-gateway-chassis lrp0 ch3 40000\n! lrp-set-gateway-chassis nop ch1"),
    ("lr-route-add", "lr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\nlr-route-add lr0 10.0.0.7/24 10.0.0.1\nlr-route-add lr0 0.0.0.0/0 192.168.0.1 lrp0\nlr-route-add lr0 1.2.3.4 discard\nlr-route-add lr0 1.2.3.5/32 10.0.0.9\nlr-route-add lr0 fd00::1/64 fd00::ff\n= lr-route-list lr0"),
    ("lr-route-add ecmp policy table", "lr-add lr0\nlr-route-add lr0 10.0.0.0/24 10.0.0.1\n! lr-route-add lr0 10.0.0.0/24 10.0.0.2\n--ecmp lr-route-add lr0 10.0.0.0/24 10.0.0.2\n! --ecmp lr-route-add lr0 10.0.0.0/24 10.0.0.2\n--may-exist --ecmp lr-route-add lr0 10.0.0.0/24 10.0.0.2\n--policy=src-ip lr-route-add lr0 10.0.0.0/24 10.0.0.3\n--route-table=rt1 lr-route-add lr0 10.0.0.0/24 10.0.0.4\n--ecmp-symmetric-reply lr-route-add lr0 20.0.0.0/8 10.0.0.5\n--may-exist lr-route-add lr0 20.0.0.0/8 10.0.0.9 -- --may-exist lr-route-add lr0 10.1.0.0/16 10.0.0.8"),
    ("lr-route-add errors", "lr-add lr0\n! lr-route-add lr0 1.2.3.4/40 1.1.1.1\n! lr-route-add lr0 1.2.3.0/24 zz\n! lr-route-add lr0 1.2.3.0/24 fd00::1\n! lr-route-add lr0 1.2.3.0/24 1.1.1.1 nop\n! --policy=foo lr-route-add lr0 1.2.3.0/24 1.1.1.1\n! lr-route-add nolr 1.2.3.0/24 1.1.1.1\n! --ecmp lr-route-add lr0 1.2.3.0/24 discard"),
    ("lr-route-del", "lr-add lr0\nlr-route-add lr0 10.0.0.0/24 10.0.0.1\n--ecmp lr-route-add lr0 10.0.0.0/24 10.0.0.2\nlr-route-add lr0 10.1.0.0/24 10.0.0.1\n--policy=src-ip lr-route-add lr0 10.2.0.0/24 10.0.0.1\nlr-route-del lr0 10.0.0.0/24 10.0.0.2\n! lr-route-del lr0 9.9.9.9/32\n--if-exists lr-route-del lr0 9.9.9.9/32\n--policy=src-ip lr-route-del lr0\nlr-route-del lr0 10.1.0.5/24\n= lr-route-list lr0\nlr-route-del lr0"),
    ("lr-policy-add", "lr-add lr0\nlr-policy-add lr0 100 \"ip4.src == 10.0.0.0/24\" reroute 10.0.0.5,10.0.0.6 pkt_mark=5\nlr-policy-add lr0 101 ip4 drop\nlr-policy-add lr0 102 ip4 allow foo=bar\nlr-policy-add lr0 103 ip6 reroute fd00::5\n! lr-policy-add lr0 100 \"ip4.src == 10.0.0.0/24\" drop\n--may-exist lr-policy-add lr0 100 \"ip4.src == 10.0.0.0/24\" drop"),
    ("lr-policy-add errors", "lr-add lr0\n! lr-policy-add lr0 40000 ip4 drop\n! lr-policy-add lr0 1 ip4 reroute\n! lr-policy-add lr0 1 ip4 frob\n! lr-policy-add lr0 1 ip4 allow 1.2.3.4\n! lr-policy-add lr0 1 ip4 reroute zz\n! lr-policy-add nolr 1 ip4 drop"),
    ("lr-policy-del", "lr-add lr0\nlr-policy-add lr0 100 ip4 drop\nlr-policy-add lr0 100 ip6 drop\nlr-policy-add lr0 200 ip4 allow\nlr-policy-add lr0 300 ip4 allow\nlr-policy-del lr0 100 ip6\nlr-policy-del lr0 555\nlr-policy-del lr0 200\n! lr-policy-del lr0 x\nlr-policy-del lr0"),
    ("lr-nat-add", "lr-add lr0\nls-add sw0\nlsp-add sw0 p1\nlr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24\nlr-nat-add lr0 snat 172.16.0.5 10.1.0.5/16\nlr-nat-add lr0 dnat 172.16.0.2 10.0.0.3\nlr-nat-add lr0 dnat_and_snat 172.16.0.3 10.0.0.4 p1 00:00:00:00:00:09\n--portrange lr-nat-add lr0 dnat 172.16.0.9 10.0.0.9 1000-2000\n--stateless lr-nat-add lr0 dnat_and_snat 172.16.0.10 10.0.0.10\nlr-nat-add lr0 snat fd00::1 fd01::/64\n--may-exist lr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24\n= lr-nat-list lr0"),
    ("lr-nat-add errors", "lr-add lr0\nls-add sw0\nlsp-add sw0 p1\nlr-nat-add lr0 dnat_and_snat 172.16.0.3 10.0.0.4\n! lr-nat-add lr0 dnat_and_snat 172.16.0.3 10.0.0.4\n! lr-nat-add lr0 dnat_and_snat 172.16.0.3 10.0.0.99\n! lr-nat-add lr0 foo 1.1.1.1 2.2.2.2\n! lr-nat-add lr0 dnat 1.1.1.1/24 2.2.2.2\n! lr-nat-add lr0 snat 1.1.1.x 2.2.2.2\n! lr-nat-add lr0 dnat 1.1.1.1 2.2.2.0/24\n! lr-nat-add lr0 dnat_and_snat 172.16.0.10 10.0.0.10 p1 zz\n! lr-nat-add lr0 dnat_and_snat 172.16.0.11 10.0.0.11 nop 00:00:00:00:00:01\n! lr-nat-add lr0 snat 172.16.0.12 10.0.0.0/24 p1 00:00:00:00:00:01\n! --stateless lr-nat-add lr0 snat 172.16.0.12 10.0.0.0/24\n! --portrange lr-nat-add lr0 dnat 172.16.0.13 10.0.0.13 2000-1000\n! lr-nat-add lr0 dnat 172.16.0.13 10.0.0.13 1000"),
    ("lr-nat-del", "lr-add lr0\nlr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24\nlr-nat-add lr0 snat 172.16.0.6 10.1.0.0/24\nlr-nat-add lr0 dnat 172.16.0.2 10.0.0.3\nlr-nat-add lr0 dnat 172.16.0.4 10.0.0.4\nlr-nat-del lr0 snat 10.0.0.0/24\nlr-nat-del lr0 dnat 172.16.0.2\nlr-nat-del lr0 snat 9.9.9.9\n! lr-nat-del lr0 foo\nlr-nat-del lr0 dnat\n= lr-nat-list lr0\nlr-nat-del lr0"),
    ("lb-add", "lb-add lb0 10.0.0.10:80 10.0.0.2:8080,10.0.0.3:8080\nlb-add lb0 10.0.0.12:80 10.0.0.4:80 udp\n--may-exist lb-add lb0 10.0.0.10:80 10.0.0.9:80\nlb-add lb1 10.0.0.11 10.0.0.2,10.0.0.3\nlb-add lb2 [fd00::1]:80 [fd00::2]:80,[fd00::3]:80 sctp\nlb-add lb3 fd00::5 fd00::6\n--add-duplicate lb-add lb0 10.0.0.13:80 10.0.0.4:80 tcp\n--reject lb-add lb4 10.0.0.14:80 10.0.0.4:80\n--event lb-add lb5 10.0.0.15:80 10.0.0.4:80"),
    ("lb-add errors", "lb-add lb0 10.0.0.10:80 10.0.0.2:80\n! lb-add lb0 10.0.0.10:80 10.0.0.3:80\n! lb-add lb1 10.0.0.11 10.0.0.2 udp\n! lb-add lb1 10.0.0.11:80 10.0.0.2\n! lb-add lb1 10.0.0.11 10.0.0.2:80\n! lb-add lb1 10.0.0.11:80 10.0.0.2:80 sctp2\n! lb-add lb1 zz 10.0.0.2\n! lb-add lb1 10.0.0.11 fd00::1\n! --reject --event lb-add lb1 10.0.0.11 10.0.0.2\n--add-duplicate lb-add lb0 10.0.0.20:80 10.0.0.2:80\n! lb-add lb0 10.0.0.21:80 10.0.0.2:80"),
    ("lb-del", "lb-add lb0 10.0.0.10:80 10.0.0.2:80\nlb-add lb0 10.0.0.11:80 10.0.0.2:80\nlb-add lb1 10.0.0.12:80 10.0.0.2:80\nlb-add lb2 10.0.0.13:80 10.0.0.2:80\nls-add sw0\nls-lb-add sw0 lb1\nlb-del lb0 10.0.0.10:80\n! lb-del lb0 1.1.1.1:80\n--if-exists lb-del lb0 1.1.1.1:80\nlb-del lb1 10.0.0.12:80\nlb-del lb2\nlb-del nolb"),
    ("lb options via set", "lb-add lb0 10.0.0.10:80 10.0.0.2:80\nset load_balancer lb0 options:affinity_timeout=60\nset load_balancer lb0 selection_fields=ip_src,ip_dst\n= get load_balancer lb0 options:affinity_timeout\nremove load_balancer lb0 options affinity_timeout\nset load_balancer lb0 options:hairpin_snat_ip=\"169.254.0.1 fd69::1\""),
    ("ls-lb-add ls-lb-del", "ls-add sw0\nlb-add lb0 10.0.0.10:80 10.0.0.2:80\nlb-add lb1 10.0.0.11:80 10.0.0.2:80\nls-lb-add sw0 lb0\nls-lb-add sw0 lb1\n--may-exist ls-lb-add sw0 lb0\n! ls-lb-add sw0 nolb\n! ls-lb-add nosw lb0\nls-lb-del sw0 lb0\n! ls-lb-del sw0 lb0\n--if-exists ls-lb-del sw0 lb0\nls-lb-del sw0"),
    ("lr-lb-add lr-lb-del", "lr-add lr0\nlb-add lb0 10.0.0.10:80 10.0.0.2:80\nlb-add lb1 10.0.0.11:80 10.0.0.2:80\nlr-lb-add lr0 lb0\nlr-lb-add lr0 lb1\n--may-exist lr-lb-add lr0 lb1\n! lr-lb-add lr0 nolb\nlr-lb-del lr0 lb1\n! lr-lb-del lr0 lb1\nlr-lb-del lr0"),
    ("lb-group membership", "ls-add sw0\nlr-add lr0\nlb-add lb0 10.0.0.10:80 10.0.0.2:80\nlb-add lb1 10.0.0.11:80 10.0.0.2:80\n--id=@g create load_balancer_group name=clusterLBGroup -- add logical_switch sw0 load_balancer_group @g -- add logical_router lr0 load_balancer_group @g\n! add load_balancer_group clusterLBGroup load_balancer lb0\n--id=@lb create load_balancer name=lb9 vips:\\\"10.0.0.99:80\\\"=\\\"10.0.0.2:80\\\" protocol=tcp -- add load_balancer_group clusterLBGroup load_balancer @lb\n--id=@lb create load_balancer name=lb8 -- add load_balancer_group clusterLBGroup load_balancer @lb -- remove load_balancer_group clusterLBGroup load_balancer @lb"),
    ("acl-add", "ls-add sw0\nacl-add sw0 from-lport 1001 ip4 allow-related\nacl-add sw0 to-lport 1000 \"ip4.src == 10.0.0.1\" drop\n--log --severity=alert --name=a1 --meter=m1 acl-add sw0 to-lport 900 ip6 reject\n--severity=info acl-add sw0 from-lport 800 arp allow\n! --label=5 --log acl-add sw0 to-lport 700 udp allow-stateless\n--label=5 --log acl-add sw0 to-lport 700 udp allow\n--may-exist acl-add sw0 from-lport 1001 ip4 drop\n--apply-after-lb acl-add sw0 from-lport 600 tcp allow\n= acl-list sw0"),
    ("acl-add errors", "ls-add sw0\nacl-add sw0 from-lport 1001 ip4 allow-related\n! acl-add sw0 from-lport 1001 ip4 drop\n! acl-add sw0 to-lport 40000 ip4 drop\n! acl-add sw0 sideways 1 ip4 drop\n! acl-add sw0 to-lport 1 ip4 foo\n! --severity=foo acl-add sw0 to-lport 1 ip4 drop\n! acl-add nosw to-lport 1 ip4 drop\n! --type=bogus acl-add sw0 to-lport 1 ip4 drop"),
    ("acl on port group", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2\npg-add pg1 p1 p2\n--type=port-group acl-add pg1 to-lport 100 \"outport == @pg1\" drop\nacl-add pg1 from-lport 100 \"inport == @pg1\" allow-related\n= acl-list pg1\npg-add sw0\n! acl-add sw0 to-lport 1 ip4 drop\n--type=switch acl-add sw0 to-lport 1 ip4 drop"),
    ("acl-del", "ls-add sw0\nacl-add sw0 from-lport 1001 ip4 allow\nacl-add sw0 from-lport 1000 ip6 allow\nacl-add sw0 to-lport 1001 ip4 allow\nacl-add sw0 to-lport 999 ip4 allow\nacl-del sw0 to-lport 1001 ip4\n! acl-del sw0 to-lport 1001\nacl-del sw0 to-lport 5 nomatch\nacl-del sw0 from-lport\n= acl-list sw0\nacl-del sw0"),
    ("pg-add pg-set-ports pg-del", "ls-add sw0\nlsp-add sw0 p1\nlsp-add sw0 p2\nlsp-add sw0 p3\npg-add pg1 p1 p2\npg-add pg2\n! pg-add pg3 nop\n! pg-add pg1\npg-set-ports pg1 p3\npg-set-ports pg2 p1 p2 p3\n! pg-set-ports nopg p1\npg-del pg1\n! pg-del pg1"),
    ("address sets", "create address_set name=as1 addresses='\"10.0.0.1\",\"10.0.0.2\"'\n--id=@a create address_set name=as2 external_ids:owner=me\nadd address_set as1 addresses 10.0.0.3\nremove address_set as1 addresses '\"10.0.0.1\"'\nset address_set as2 addresses='[\"fd00::1\"]'\n= get address_set as1 addresses\nclear address_set as2 addresses\ndestroy address_set as2\n! destroy address_set as2\n--if-exists destroy address_set as2"),
    ("dhcp-options", "dhcp-options-create 10.0.0.0/24 k=v\n! dhcp-options-create 10.0.0.0/33\ndhcp-options-create 10.0.0.1\n! dhcp-options-set-options 7b91d78e-c08b-4d86-ab79-24502ab7543c a=b\n! dhcp-options-del zz\ndhcp-options-create fd00::/64"),
    ("ha-chassis-group", "ha-chassis-group-add hg\nha-chassis-group-add hg2\n! ha-chassis-group-add hg\nha-chassis-group-add-chassis hg ch1 10\nha-chassis-group-add-chassis hg ch2 20\nha-chassis-group-add-chassis hg ch1 30\n! ha-chassis-group-add-chassis hg ch3 x\n! ha-chassis-group-add-chassis nohg ch3 1\nha-chassis-group-remove-chassis hg ch2\n! ha-chassis-group-remove-chassis hg ch9\nha-chassis-group-del hg2\n! ha-chassis-group-del hg2"),
    ("generic set get list", "ls-add sw0\nlsp-add sw0 p1\nset logical_switch sw0 other_config:subnet=10.128.0.0/23 external_ids:k=v\nset logical_switch_port p1 addresses='\"00:00:00:00:00:01 10.0.0.1\"' options:requested-chassis=ch1\n= get logical_switch sw0 other_config:subnet\n= get logical_switch_port p1 addresses\n= list logical_switch_port p1\n= --columns=name,options list logical_switch_port p1\n! get logical_switch sw0 other_config:nokey\n--if-exists get logical_switch sw0 other_config:nokey\n! set logical_switch nosw name=x\n! set logical_switch sw0 nocolumn=x\n! set bogustable sw0 name=x"),
    ("generic abbreviations", "ls-add sw0\n! set logical_s sw0 other_config:a=b\n! set logical sw0 other_config:a=b\nset Logical_Switch sw0 external_ids:x=y\nadd logical_switch sw0 external_ids x=z y=w\nremove logical_switch sw0 external_ids y\nremove logical_switch sw0 other_config a=c\n= find logical_switch name=sw0\n= --columns=name find logical_switch external_ids:x=y"),
    ("generic create destroy", "create logical_switch name=sw9 other_config:mcast_snoop=true\n--id=@p create logical_switch_port name=px -- create logical_switch name=sw10 ports=@p\ndestroy logical_switch sw9\n! destroy logical_switch sw9\n--if-exists destroy logical_switch sw9\n! create logical_switch nocolumn=1\n! create logical_switch_port name=py tag_request=5000"),
    ("multi-command transaction", "ls-add sw0 -- lsp-add sw0 p1 -- lsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\" -- lsp-set-type p1 router -- lsp-set-options p1 router-port=rp1\nlr-add lr0 -- lrp-add lr0 rp1 00:00:00:00:00:01 10.0.0.1/24 -- lr-route-add lr0 0.0.0.0/0 10.0.0.254\n! ls-add sw1 -- lsp-add sw1 p9 -- lsp-set-type p9 bogus\n= ls-list"),
    ("nb_global and init", "init\nset nb_global . options:northd_probe_interval=5000\n= get nb_global . options\nls-add sw0"),
    ("show", "ls-add sw0\nlsp-add sw0 p1\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\"\nlsp-add sw0 p2 p1 5\nlr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\n~ show sw0\n= show lr0\n= show nothing\nlrp-add lr0 lrp1 00:00:00:00:ff:02 172.16.0.1/24 peer=lrp9\nlrp-set-gateway-chassis lrp1 ch1 10\nlrp-set-gateway-chassis lrp1 ch2 20\nlsp-set-type p2 router\nlsp-set-options p2 router-port=lrp0\n~ show sw0\nlr-nat-add lr0 snat 172.16.0.1 10.0.0.0/24\n~ show lr0\nlr-nat-del lr0\n--portrange lr-nat-add lr0 dnat_and_snat 172.16.0.5 10.0.0.5 p1 00:00:00:00:00:05 80-90\n~ show lr0\nset logical_switch sw0 external_ids:'\"neutron:network_name\"'=net1\n~ show"),
    ("more edge cases", "ls-add sw0\n! ls-del 11111111-2222-3333-4444-555555555555\n--if-exists ls-del 11111111-2222-3333-4444-555555555555\n! lrp-add nolr lrp1 00:00:00:00:ff:01\nlr-add lr0\n! lrp-add lr0 lrp1 00:00:00:00:ff:01\n--name=n1 acl-add sw0 to-lport 10 ip4 allow\n--meter=m acl-add sw0 to-lport 11 ip4 allow\n--route-table=t1 --ecmp lr-route-add lr0 10.0.0.0/24 1.1.1.1\n--route-table=t1 --ecmp lr-route-add lr0 10.0.0.0/24 1.1.1.2\n--route-table=t1 lr-route-del lr0 10.0.0.0/24 1.1.1.1\nlr-policy-add lr0 10 ip4 allow\nlr-policy-del lr0 10 ip6\nlb-add lb0 fd00::1 fd00::2\nlb-add lb1 fd00::1:80 fd00::2\nlb-add lb1 [fd00::9]:8080 [fd00::2]:80\nlsp-add sw0 p1\n! lsp-set-options nop a=b\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1/33\"\n! lsp-set-addresses p1 \"0:0:0:0:0 10.0.0.1\"\nlsp-set-addresses p1 \"0:0:0:0:0:1 10.0.0.1\"\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1/24\"\nlsp-set-addresses p1 \"00:00:00:00:00:01 dynamic\" \"dynamic 10.0.0.5\"\n! lsp-set-addresses p1 \"dynamic zz\"\n! acl-del sw0 sideways\n! acl-del nosw\n! lr-route-del nolr\n! lr-policy-del nolr\n! lr-nat-del nolr\n! lb-add lb2 1.1.1.1:70000 2.2.2.2:80\n! destroy acl 11111111-2222-3333-4444-555555555555\n= get logical_switch sw0 name acls\n! get logical_switch sw0 nocolumn\n! clear logical_switch sw0 name\n"),
    ("bare output", "ls-add a\nset logical_switch a other_config:x=y other_config:z='\"w v\"'\nlsp-add a p1\nlsp-set-addresses p1 \"00:00:00:00:00:01 10.0.0.1\" router\n= --bare --columns=name,other_config find logical_switch\n= --data=bare --no-heading --columns=name find logical_switch name=a\n= --bare --columns=addresses list logical_switch_port\n= --bare get logical_switch a other_config"),
    ("may-exist mismatches", "ls-add sw0\nls-add sw1\nlsp-add sw0 p0\nlsp-add sw0 p1 p0 5\n--may-exist lsp-add sw0 p1 p0 5\n! --may-exist lsp-add sw0 p1 p9 5\n! --may-exist lsp-add sw0 p1 p0 6\n! --may-exist lsp-add sw0 p1\n! --may-exist lsp-add sw0 p0 p1 3\nlr-add lr0\nlrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24\n--may-exist lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.2/24\n! --may-exist lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.1/24 peer=x\nlrp-add lr0 lrp1 00:00:00:00:ff:02 10.0.1.1/24 peer=y\n! --may-exist lrp-add lr0 lrp1 00:00:00:00:ff:02 10.0.1.1/24\n--may-exist lrp-add lr0 lrp1 00:00:00:00:ff:02 10.0.1.1/24 peer=y\nlb-add lb0 1.1.1.1 2.2.2.2\nls-lb-add sw0 lb0\n--may-exist ls-lb-add sw0 lb0\n"),
    ("usage errors", "! bogus-command\n! ls-add a b\n! --if-exists ls-add a\n! lsp-add sw0\nls-add sw0\n! lsp-add sw0 p1 p0"),
];

/// Splits a command line as a POSIX shell would (quotes and backslashes; no expansions).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                if !matches!(e, '"' | '\\' | '$' | '`') {
                                    cur.push('\\');
                                }
                                cur.push(e);
                            }
                        }
                        _ => cur.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

struct Real {
    remote: String,
    nbctl: std::path::PathBuf,
    client: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Real {
    fn nbctl(&self, args: &[String]) -> (bool, String, String) {
        let out = Command::new(&self.nbctl)
            .arg(format!("--db={}", self.remote))
            .args(args)
            .current_dir(&self.dir)
            .env("OVN_RUNDIR", &self.dir)
            .env("OVS_RUNDIR", &self.dir)
            .output()
            .expect("run ovn-nbctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn transact(&self, params: &Value) -> Value {
        let out = Command::new(&self.client)
            .args(["transact", &self.remote, &params.to_string()])
            .output()
            .expect("run ovsdb-client");
        assert!(
            out.status.success(),
            "ovsdb-client transact: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("transact reply")
    }
}

/// A database as table name → rows (column name → datum, `_uuid` included, `_version` not).
type Dump = BTreeMap<String, Vec<BTreeMap<String, Datum>>>;

fn dump_real(real: &Real, schema: &Schema) -> Dump {
    let mut params = vec![json!(schema.name)];
    for t in &schema.tables {
        params.push(json!({"op": "select", "table": t.name, "where": []}));
    }
    let reply = real.transact(&Value::Array(params));
    let mut dump = Dump::new();
    for (t, r) in schema.tables.iter().zip(reply.as_array().expect("array")) {
        let rows = r["rows"].as_array().expect("rows");
        let mut out = Vec::new();
        for row in rows {
            let mut m = BTreeMap::new();
            for c in &t.columns {
                if c.name == "_version" {
                    continue;
                }
                let d = Datum::from_json(&row[&c.name], &c.type_, &mut ovsdb::atom::NoSymbols)
                    .expect("datum");
                m.insert(c.name.clone(), d);
            }
            out.push(m);
        }
        dump.insert(t.name.clone(), out);
    }
    dump
}

fn dump_ours(db: &Database) -> Dump {
    let mut dump = Dump::new();
    for t in &db.schema().tables {
        let mut out = Vec::new();
        for row in db.rows(&t.name).expect("table").values() {
            let mut m = BTreeMap::new();
            for c in &t.columns {
                if c.name != "_version" {
                    m.insert(c.name.clone(), row.fields[c.index].clone());
                }
            }
            out.push(m);
        }
        dump.insert(t.name.clone(), out);
    }
    dump
}

fn mask(d: &Datum) -> String {
    let a = |x: &Atom| match x {
        Atom::Uuid(_) => "<uuid>".to_owned(),
        other => format!("{other:?}"),
    };
    match d {
        Datum::Set(s) => s.iter().map(a).collect::<Vec<_>>().join(","),
        Datum::Map(p) => p
            .iter()
            .map(|(k, v)| format!("{}={}", a(k), a(v)))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Renames UUIDs in a canonical order (tables by name, rows by their content with UUIDs masked)
/// and returns the dump as sorted text.
fn canonical(dump: &Dump) -> Vec<String> {
    let mut order: Vec<(String, String, Uuid)> = Vec::new();
    for (t, rows) in dump {
        for r in rows {
            let key: String = r
                .iter()
                .filter(|(c, _)| *c != "_uuid")
                .map(|(c, d)| format!("{c}:{}", mask(d)))
                .collect::<Vec<_>>()
                .join(" ");
            let u = r["_uuid"]
                .first()
                .and_then(Atom::as_uuid)
                .unwrap_or_default();
            order.push((t.clone(), key, u));
        }
    }
    order.sort();
    let names: HashMap<Uuid, String> = order
        .iter()
        .enumerate()
        .map(|(i, (_, _, u))| (*u, format!("<{i}>")))
        .collect();
    let ren = |x: &Atom| match x {
        Atom::Uuid(u) => names
            .get(u)
            .cloned()
            .unwrap_or_else(|| format!("<dangling {u}>")),
        other => format!("{other:?}"),
    };
    let mut lines = Vec::new();
    for (t, rows) in dump {
        for r in rows {
            let cols: Vec<String> = r
                .iter()
                .map(|(c, d)| {
                    let mut items: Vec<String> = match d {
                        Datum::Set(s) => s.iter().map(ren).collect(),
                        Datum::Map(p) => p
                            .iter()
                            .map(|(k, v)| format!("{}={}", ren(k), ren(v)))
                            .collect(),
                    };
                    items.sort();
                    format!("{c}=[{}]", items.join(","))
                })
                .collect();
            lines.push(format!("{t}: {}", cols.join(" ")));
        }
    }
    lines.sort();
    lines
}

/// Renames UUIDs in command output by order of appearance.
fn rename_output(s: &str) -> String {
    let mut out = String::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        if rest.len() >= 36 && ovsdb::atom::parse_uuid_str(&rest[..36]).is_some() {
            let n = names.len();
            let id = *names.entry(rest[..36].to_owned()).or_insert(n);
            out.push_str(&format!("<uuid{id}>"));
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn real_error(stderr: &str) -> String {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("ovn-nbctl: "))
        .next_back()
        .unwrap_or(stderr.trim())
        .to_owned()
}

fn reset_real(real: &Real, schema: &Schema) {
    let mut params = vec![json!(schema.name)];
    for t in &schema.tables {
        params.push(json!({"op": "delete", "table": t.name, "where": []}));
    }
    real.transact(&Value::Array(params));
}

fn ours(db: &mut Database, args: &[String]) -> Result<String, NbctlError> {
    let inv = nbctl::parse_args(args)?;
    nbctl::execute(db, &inv)
}

fn ours_remote(
    rt: &tokio::runtime::Runtime,
    client: &ovsdb::client::Client,
    args: &[String],
) -> Result<String, NbctlError> {
    let inv = nbctl::parse_args(args)?;
    let mut nb = nbctl::remote::start(client)?;
    nb.set_bare_output(inv.bare);
    nb.run_commands(&inv.commands)?;
    Ok(rt.block_on(nbctl::remote::commit(nb, client))?.output)
}

fn reset_remote(rt: &tokio::runtime::Runtime, client: &ovsdb::client::Client, schema: &Schema) {
    let mut txn = ovsdb::client::Txn::new();
    for t in &schema.tables {
        txn.delete(&t.name, vec![]);
    }
    rt.block_on(client.transact(txn))
        .expect("reset through the client");
}

#[test]
fn nbctl_scripts_match_real_ovn_nbctl() {
    let ovn = testkit::require_or_skip!();
    let mut sandbox = ovn.sandbox().expect("sandbox");
    let schema_path = ovn.schema(testkit::Schema::Northbound).expect("schema");
    let server = sandbox
        .start_ovsdb_server("nb", &schema_path)
        .expect("ovsdb-server");
    let real = Real {
        remote: server.remote(),
        nbctl: ovn.find(testkit::Tool::OvnNbctl).expect("ovn-nbctl"),
        client: "ovsdb-client".into(),
        dir: sandbox.dir().to_path_buf(),
    };
    let server2 = sandbox
        .start_ovsdb_server("nb2", &schema_path)
        .expect("second ovsdb-server");
    let real2 = Real {
        remote: server2.remote(),
        nbctl: real.nbctl.clone(),
        client: real.client.clone(),
        dir: real.dir.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = rt
        .block_on(ovsdb::client::Client::connect(
            ovsdb::client::ClientConfig::new(&server2.remote(), "OVN_Northbound"),
            std::time::Duration::from_secs(10),
        ))
        .expect("client connects");
    let schema = ovn_nb::model::schema().clone();
    let mut failures = Vec::new();
    let (mut n_cmds, mut n_refused) = (0, 0);
    for (name, script) in SCRIPTS {
        reset_real(&real, &schema);
        reset_remote(&rt, &client, &schema);
        let mut db = Database::new(schema.clone());
        for line in script.lines() {
            let (expect_fail, compare, sort, text) = match line.split_at(2) {
                ("! ", rest) => (true, false, false, rest),
                ("= ", rest) => (false, true, false, rest),
                ("~ ", rest) => (false, true, true, rest),
                _ => (false, false, false, line),
            };
            let args = shell_words(text);
            n_cmds += 1;
            let (ok, stdout, stderr) = real.nbctl(&args);
            let mine = ours(&mut db, &args);
            let remote = ours_remote(&rt, &client, &args);
            if remote.is_ok() != mine.is_ok() {
                failures.push(format!(
                    "[{name}] `{text}`: through the client ok={} but embedded ok={}: {:?}",
                    remote.is_ok(),
                    mine.is_ok(),
                    remote.err()
                ));
            }
            if ok == expect_fail {
                failures.push(format!(
                    "[{name}] `{text}`: real ovn-nbctl ok={ok} (script expects ok={}): {}",
                    !expect_fail,
                    stderr.trim()
                ));
            }
            match (&mine, ok) {
                (Ok(out), true) => {
                    let norm = |s: &str| {
                        if sort {
                            let mut v: Vec<&str> = s.lines().collect();
                            v.sort_unstable();
                            v.join("\n").replace(|c: char| c.is_ascii_hexdigit(), "x")
                        } else {
                            rename_output(s)
                        }
                    };
                    if compare && norm(out) != norm(&stdout) {
                        failures.push(format!(
                            "[{name}] `{text}`: output differs\n--- real\n{stdout}--- ours\n{out}"
                        ));
                    }
                }
                (Err(e), false) => {
                    n_refused += 1;
                    let theirs = real_error(&stderr);
                    let same = if theirs.starts_with("transaction error") {
                        matches!(e, NbctlError::Transaction { .. })
                    } else {
                        e.to_string() == theirs
                    };
                    if !same {
                        failures.push(format!(
                            "[{name}] `{text}`: error text differs\n  real: {theirs}\n  ours: {e}"
                        ));
                    }
                }
                (Ok(_), false) => failures.push(format!(
                    "[{name}] `{text}`: we accepted what ovn-nbctl refused: {}",
                    real_error(&stderr)
                )),
                (Err(e), true) => failures.push(format!(
                    "[{name}] `{text}`: we refused what ovn-nbctl accepted: {e}"
                )),
            }
        }
        let (a, b) = (
            canonical(&dump_real(&real, &schema)),
            canonical(&dump_ours(&db)),
        );
        if canonical(&dump_real(&real2, &schema)) != a {
            failures.push(format!(
                "[{name}] the database written through the client differs"
            ));
        }
        if a != b {
            let only_real: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
            let only_ours: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
            failures.push(format!("[{name}] databases differ\n  real only: {only_real:#?}\n  ours only: {only_ours:#?}"));
        }
    }
    eprintln!(
        "{} scripts, {n_cmds} commands, {n_refused} refused by both",
        SCRIPTS.len()
    );
    assert!(SCRIPTS.len() >= 40);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
