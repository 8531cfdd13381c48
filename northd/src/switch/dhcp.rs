//! `ls_in_dhcp_options`, `ls_in_dhcp_response`, `ls_in_dns_lookup`, `ls_in_dns_response`,
//! `ls_in_external_port`, and the `ls_out_acl` flows letting native DHCP and DNS replies through:
//! native DHCPv4/DHCPv6 replies from `DHCP_Options` and DNS replies from `DNS` records.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ovn_nb::addr::{IpNet, MacAddr};
use ovn_nb::model as nb;
use ovn_sb::stage::Stage;

use super::{LspType, Switch, SwitchCtx, SwitchPort};
use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};

/// `reg0[3]`: `put_dhcp_opts` succeeded.
const DHCP_OPTS_RESULT: Field = Field("reg0[3]");
/// `reg0[4]`: `dns_lookup` found an answer.
const DNS_LOOKUP_RESULT: Field = Field("reg0[4]");
const UDP_SRC: Field = Field("udp.src");
const UDP_DST: Field = Field("udp.dst");

/// DHCPv4 options of one `DHCP_Options` row, validated once.
#[derive(Debug, Clone)]
struct Dhcp4 {
    cidr: IpNet,
    server_id: Ipv4Addr,
    /// `server_mac` (valid) as written (ovn-northd 23.03 writes it so in the reply and its ACL flow).
    server_mac_text: String,
    /// The row's options passed to `put_dhcp_opts` (sorted; `server_mac` removed).
    opts: BTreeMap<String, String>,
    /// The `netmask` of `cidr`, always passed: before an explicit `netmask` option, which
    /// ovn-northd 23.03 passes too (the option is then given twice).
    netmask: String,
}

impl Dhcp4 {
    fn parse(row: &nb::DhcpOptions) -> Option<Self> {
        let cidr: IpNet = row.cidr.parse().ok()?;
        if !matches!(cidr.addr(), IpAddr::V4(_)) {
            return None;
        }
        let server_id: Ipv4Addr = row.options.get("server_id")?.parse().ok()?;
        let server_mac_text = row.options.get("server_mac")?.clone();
        server_mac_text.parse::<MacAddr>().ok()?;
        row.options.get("lease_time")?;
        let mut opts = row.options.clone();
        opts.remove("server_mac");
        let mask = if cidr.prefix() == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(cidr.prefix()))
        };
        Some(Self {
            cidr,
            server_id,
            server_mac_text,
            opts: opts.into(),
            netmask: Ipv4Addr::from(mask).to_string(),
        })
    }
}

/// DHCPv6 options of one `DHCP_Options` row.
#[derive(Debug, Clone)]
struct Dhcp6 {
    cidr: IpNet,
    server_mac: MacAddr,
    /// `server_id` as written.
    server_mac_text: String,
    stateless: bool,
    opts: BTreeMap<String, String>,
}

impl Dhcp6 {
    fn parse(row: &nb::DhcpOptions) -> Option<Self> {
        let cidr: IpNet = row.cidr.parse().ok()?;
        if !matches!(cidr.addr(), IpAddr::V6(_)) {
            return None;
        }
        let server_mac_text = row.options.get("server_id")?.clone();
        let server_mac: MacAddr = server_mac_text.parse().ok()?;
        let stateless = row
            .options
            .get("dhcpv6_stateless")
            .is_some_and(|v| v == "true");
        let mut opts = row.options.clone();
        opts.remove("dhcpv6_stateless");
        Some(Self {
            cidr,
            server_mac,
            server_mac_text,
            stateless,
            opts: opts.into(),
        })
    }
}

/// The EUI-64 link-local address of `mac`.
fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8] = m[0] ^ 0x02;
    o[9] = m[1];
    o[10] = m[2];
    o[11] = 0xff;
    o[12] = 0xfe;
    o[13] = m[3];
    o[14] = m[4];
    o[15] = m[5];
    Ipv6Addr::from(o)
}

fn opts_text(first: (&str, String), opts: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut v = vec![(first.0.to_owned(), first.1)];
    v.extend(opts.iter().map(|(k, v)| (k.clone(), v.clone())));
    v
}

/// The `put_dhcp_opts` arguments of a DHCPv4 offer of `ip`: the row's options with the port's
/// `options:hostname` instead of theirs, and the subnet's `netmask` before any `netmask` option.
fn opts4_text(ip: Ipv4Addr, d: &Dhcp4, hostname: Option<&str>) -> Vec<(String, String)> {
    let mut v = vec![("offerip".to_owned(), ip.to_string())];
    let mut netmask = Some(("netmask".to_owned(), d.netmask.clone()));
    let host = hostname.map(|h| ("hostname", h));
    let mut rest: Vec<(&str, &str)> = d
        .opts
        .iter()
        .filter(|(k, _)| host.is_none() || k.as_str() != "hostname")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(host)
        .collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    // ovn-northd copies the row's options into a hash map (growing from empty), removes
    // `server_mac`, adds the subnet's `netmask`, then the port's `hostname`, and sorts by key:
    // two `netmask`s stay in the map's order, the added one first unless adding `hostname`
    // grew the map (at 8, 16, 32... entries), which reverses them.
    let entries = d.opts.len() + 1;
    let hostname_added = hostname.is_some() && !d.opts.contains_key("hostname");
    let grown = hostname_added && (entries + 1).is_power_of_two() && entries + 1 >= 8;
    for (k, val) in rest {
        if k > "netmask" || (k == "netmask" && !grown) {
            v.extend(netmask.take());
        }
        v.push((k.to_owned(), val.to_owned()));
    }
    v.extend(netmask);
    v
}

/// Builds the DHCP, DNS and external port stages of `sw`.
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, stateful: bool, flows: &mut FlowTable) {
    let dp = sw.dp;
    let next = Actions::one(Action::Next);
    // Replies from ovn-controller pass egress ACLs; with conntrack in use they are committed.
    let pass = if stateful {
        Actions(vec![Action::Fixed("ct_commit;"), Action::Next])
    } else {
        Actions::one(Action::Next)
    };
    for stage in [
        Stage::LsInDhcpOptions,
        Stage::LsInDhcpResponse,
        Stage::LsInDnsLookup,
        Stage::LsInDnsResponse,
        Stage::LsInExternalPort,
    ] {
        flows.add(dp, stage, 0, &Match::always(), &next);
    }
    for p in &sw.ports {
        let Some(lsp) = ctx.nb.switch_ports.get(&p.nb) else {
            continue;
        };
        if p.type_ == LspType::Router {
            continue;
        }
        // External ports are reached through the switch's localnet ports, on the chassis
        // that claims them.
        let via: Vec<Via<'_>> = if p.type_ == LspType::External {
            if lsp.ha_chassis_group.is_none() {
                continue;
            }
            sw.ports
                .iter()
                .filter(|l| l.type_ == LspType::Localnet)
                .map(|l| Via {
                    inport: &l.name,
                    resident: Some(&p.name),
                })
                .collect()
        } else {
            vec![Via {
                inport: &p.name,
                resident: None,
            }]
        };
        if let Some(d4) = lsp
            .dhcpv4_options
            .and_then(|r| ctx.nb.dhcp_options.get(&r))
            .and_then(Dhcp4::parse)
        {
            for v in &via {
                let hostname = lsp.options.get("hostname").map(String::as_str);
                build_dhcp4(sw, p, v, &d4, hostname, &pass, flows);
            }
        }
        if let Some(d6) = lsp
            .dhcpv6_options
            .and_then(|r| ctx.nb.dhcp_options.get(&r))
            .and_then(Dhcp6::parse)
        {
            for v in &via {
                build_dhcp6(sw, p, v, &d6, &pass, flows);
            }
        }
    }
    let has_dns = sw
        .dns
        .iter()
        .filter_map(|d| ctx.nb.dns.get(d))
        .any(|d| !d.records.is_empty());
    if has_dns {
        let dns = Match::eq(UDP_DST, Value::Int(53));
        let lookup = Actions(vec![
            Action::Assign(DNS_LOOKUP_RESULT, Value::Call("dns_lookup", vec![])),
            Action::Next,
        ]);
        flows.add(dp, Stage::LsInDnsLookup, 100, &dns, &lookup);
        let found = dns.clone().and_pred(Pred::Fixed("reg0[4]"));
        for swap in ["ip4.src <-> ip4.dst;", "ip6.src <-> ip6.dst;"] {
            let reply = Actions(vec![
                Action::Fixed("eth.dst <-> eth.src;"),
                Action::Fixed(swap),
                Action::Assign(UDP_DST, UDP_SRC.into()),
                Action::Assign(UDP_SRC, Value::Int(53)),
                Action::Assign(Field::OUTPORT, Field::INPORT.into()),
                Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
                Action::Output,
            ]);
            flows.add(dp, Stage::LsInDnsResponse, 100, &found, &reply);
        }
        let from_dns = Match::eq(UDP_SRC, Value::Int(53));
        flows.add(dp, Stage::LsOutAcl, 34000, &from_dns, &pass);
    }
}

/// Where a port's DHCP requests come in: its own `inport`, or (external ports) a localnet port
/// with a residency condition.
#[derive(Debug, Clone, Copy)]
struct Via<'a> {
    inport: &'a str,
    resident: Option<&'a str>,
}

impl Via<'_> {
    fn finish(&self, m: Match) -> Match {
        match self.resident {
            Some(p) => m.and_resident(p),
            None => m,
        }
    }
}

fn build_dhcp4(
    sw: &Switch,
    p: &SwitchPort,
    via: &Via<'_>,
    d: &Dhcp4,
    hostname: Option<&str>,
    pass: &Actions,
    flows: &mut FlowTable,
) {
    // One offer per address entry (its first address in the subnet); none for a disabled port
    // (whose replies still pass the egress ACLs).
    for a in p.addrs.iter().filter(|_| p.enabled) {
        let Some(ip) = a.ipv4.iter().find(|ip| d.cidr.contains(IpAddr::V4(**ip))) else {
            continue;
        };
        let src = Match::eq(Field::INPORT, Value::port(via.inport)).and_eq(Field::ETH_SRC, a.mac);
        let opts = opts4_text(*ip, d, hostname);
        let put = Actions(vec![
            Action::Assign(DHCP_OPTS_RESULT, Value::Opts("put_dhcp_opts", opts)),
            Action::Next,
        ]);
        let client = |m: Match| {
            m.and_eq(UDP_SRC, Value::Int(68))
                .and_eq(UDP_DST, Value::Int(67))
        };
        let discover = client(
            src.clone()
                .and_eq(Field::IP4_SRC, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
                .and_eq(Field::IP4_DST, IpAddr::V4(Ipv4Addr::BROADCAST)),
        );
        flows.add(
            sw.dp,
            Stage::LsInDhcpOptions,
            100,
            &via.finish(discover),
            &put,
        );
        let request = client(src.clone().and_eq(Field::IP4_SRC, IpAddr::V4(*ip)).and_eq(
            Field::IP4_DST,
            Value::Set(vec![
                IpAddr::V4(d.server_id).into(),
                IpAddr::V4(Ipv4Addr::BROADCAST).into(),
            ]),
        ));
        flows.add(
            sw.dp,
            Stage::LsInDhcpOptions,
            100,
            &via.finish(request),
            &put,
        );
        let resp = client(src.and_pred(Pred::Ip4)).and_pred(Pred::Fixed("reg0[3]"));
        let reply = Actions(vec![
            Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
            Action::Assign(Field::ETH_SRC, Value::Raw(d.server_mac_text.clone())),
            Action::Assign(Field::IP4_SRC, IpAddr::V4(d.server_id).into()),
            Action::Assign(UDP_SRC, Value::Int(67)),
            Action::Assign(UDP_DST, Value::Int(68)),
            Action::Assign(Field::OUTPORT, Field::INPORT.into()),
            Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
            Action::Output,
        ]);
        flows.add(
            sw.dp,
            Stage::LsInDhcpResponse,
            100,
            &via.finish(resp),
            &reply,
        );
    }
    if via.resident.is_some() {
        return;
    }
    // The reply from ovn-controller skips egress ACLs whatever the port's addresses.
    let out = Match::eq(Field::OUTPORT, Value::port(&p.name))
        .and_eq(Field::ETH_SRC, Value::Raw(d.server_mac_text.clone()))
        .and_eq(Field::IP4_SRC, IpAddr::V4(d.server_id))
        .and_pred(Pred::Fixed("udp"))
        .and_eq(UDP_SRC, Value::Int(67))
        .and_eq(UDP_DST, Value::Int(68));
    flows.add(sw.dp, Stage::LsOutAcl, 34000, &out, pass);
}

fn build_dhcp6(
    sw: &Switch,
    p: &SwitchPort,
    via: &Via<'_>,
    d: &Dhcp6,
    pass: &Actions,
    flows: &mut FlowTable,
) {
    let all_servers = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2));
    let lla = IpAddr::V6(link_local(d.server_mac));
    for a in p.addrs.iter().filter(|_| p.enabled) {
        let Some(ip) = a.ipv6.iter().find(|ip| d.cidr.contains(IpAddr::V6(**ip))) else {
            continue;
        };
        let m = Match::eq(Field::INPORT, Value::port(via.inport))
            .and_eq(Field::ETH_SRC, a.mac)
            .and_eq(Field::IP6_DST, all_servers)
            .and_eq(UDP_SRC, Value::Int(546))
            .and_eq(UDP_DST, Value::Int(547));
        let opts = if d.stateless {
            d.opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        } else {
            opts_text(("ia_addr", ip.to_string()), &d.opts)
        };
        let put = Actions(vec![
            Action::Assign(DHCP_OPTS_RESULT, Value::Opts("put_dhcpv6_opts", opts)),
            Action::Next,
        ]);
        flows.add(
            sw.dp,
            Stage::LsInDhcpOptions,
            100,
            &via.finish(m.clone()),
            &put,
        );
        // The residency condition comes before the result bit here (after it in DHCPv4).
        let resp = via.finish(m).and_pred(Pred::Fixed("reg0[3]"));
        let reply = Actions(vec![
            Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
            Action::Assign(Field::ETH_SRC, Value::Raw(d.server_mac_text.clone())),
            Action::Assign(Field::IP6_DST, Field::IP6_SRC.into()),
            Action::Assign(Field::IP6_SRC, lla.into()),
            Action::Assign(UDP_SRC, Value::Int(547)),
            Action::Assign(UDP_DST, Value::Int(546)),
            Action::Assign(Field::OUTPORT, Field::INPORT.into()),
            Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
            Action::Output,
        ]);
        flows.add(sw.dp, Stage::LsInDhcpResponse, 100, &resp, &reply);
    }
    if via.resident.is_some() {
        return;
    }
    let out = Match::eq(Field::OUTPORT, Value::port(&p.name))
        .and_eq(Field::ETH_SRC, Value::Raw(d.server_mac_text.clone()))
        .and_eq(Field::IP6_SRC, lla)
        .and_pred(Pred::Fixed("udp"))
        .and_eq(UDP_SRC, Value::Int(547))
        .and_eq(UDP_DST, Value::Int(546));
    flows.add(sw.dp, Stage::LsOutAcl, 34000, &out, pass);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64() {
        let mac: MacAddr = "00:00:00:10:00:01".parse().unwrap();
        assert_eq!(link_local(mac).to_string(), "fe80::200:ff:fe10:1");
    }
}
