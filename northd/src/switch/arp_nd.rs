//! `ls_in_arp_rsp`: ARP and IPv6 neighbor solicitation responders for the addresses of the
//! switch's ports.

use std::net::{IpAddr, Ipv4Addr};

use ovn_nb::addr::MacAddr;

use ovn_sb::stage::Stage;

use super::{LspType, Switch};
use crate::flow::{solicited_node, Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::snapshot::NbSnapshot;
use crate::svc_monitor::SvcArp;

/// Builds `ls_in_arp_rsp` for `sw`. With `NB_Global` `options:ignore_lsp_down=false`, ports
/// other than router ports and localports answer only once up (NB `up`).
pub fn build(nb: &NbSnapshot, sw: &Switch, flows: &mut FlowTable) {
    let dp = sw.dp;
    let check_up = nb
        .nb_global
        .as_ref()
        .and_then(|g| g.options.get("ignore_lsp_down"))
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let next = Actions::one(Action::Next);
    flows.add(dp, Stage::LsInArpRsp, 0, &Match::always(), &next);
    for p in &sw.ports {
        let inport = Match::eq(Field::INPORT, Value::port(&p.name));
        if p.type_ == LspType::Localnet {
            flows.add(dp, Stage::LsInArpRsp, 100, &inport, &next);
            continue;
        }
        if p.type_ == LspType::Virtual {
            build_virtual(sw, p, flows);
            continue;
        }
        if p.type_ == LspType::External || p.has_unknown || sw.vlan_passthru {
            continue;
        }
        if check_up
            && !matches!(p.type_, LspType::Router | LspType::Localport)
            && nb.switch_ports.get(&p.nb).and_then(|l| l.up) != Some(true)
        {
            continue;
        }
        for a in &p.addrs {
            for ip in &a.ipv4 {
                let m =
                    Match::eq(Field::ARP_TPA, IpAddr::V4(*ip)).and_eq(Field::ARP_OP, Value::Int(1));
                flows.add(dp, Stage::LsInArpRsp, 50, &m, &arp_reply(a.mac, *ip));
                flows.add(dp, Stage::LsInArpRsp, 100, &m.and(inport.clone()), &next);
            }
            for ip in &a.ipv6 {
                let v = IpAddr::V6(*ip);
                let m = Match::pred(Pred::NdNs)
                    .and_eq(
                        Field::IP6_DST,
                        Value::Set(vec![v.into(), IpAddr::V6(solicited_node(*ip)).into()]),
                    )
                    .and_eq(Field::ND_TARGET, v);
                let inner = vec![
                    Action::Assign(Field::ETH_SRC, a.mac.into()),
                    Action::Assign(Field::IP6_SRC, v.into()),
                    Action::Assign(Field::ND_TARGET, v.into()),
                    Action::Assign(Field::ND_TLL, a.mac.into()),
                    Action::Assign(Field::OUTPORT, Field::INPORT.into()),
                    Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
                    Action::Output,
                ];
                let na = if p.type_ == LspType::Router {
                    Action::NdNaRouter(inner)
                } else {
                    Action::NdNa(inner)
                };
                flows.add(dp, Stage::LsInArpRsp, 50, &m, &Actions::one(na));
                flows.add(dp, Stage::LsInArpRsp, 100, &m.and(inport.clone()), &next);
            }
        }
    }
}

/// An ARP reply from `mac` for `ip`, back out of the port it came in.
fn arp_reply(mac: MacAddr, ip: Ipv4Addr) -> Actions {
    Actions(vec![
        Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
        Action::Assign(Field::ETH_SRC, mac.into()),
        Action::Assign(Field::ARP_OP, Value::Int(2)),
        Action::Comment("ARP reply"),
        Action::Assign(Field::ARP_THA, Field::ARP_SHA.into()),
        Action::Assign(Field::ARP_SHA, mac.into()),
        Action::Assign(Field::ARP_TPA, Field::ARP_SPA.into()),
        Action::Assign(Field::ARP_SPA, IpAddr::V4(ip).into()),
        Action::Assign(Field::OUTPORT, Field::INPORT.into()),
        Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
        Action::Output,
    ])
}

/// Health checks: ARP replies (with the `svc_monitor_mac`) for the source addresses the
/// monitors of `sw`'s ports probe from.
pub fn build_svc_monitor(svc: &SvcArp, sw: &Switch, flows: &mut FlowTable) {
    let (Some(mac), Some(ips)) = (svc.mac, svc.by_dp.get(&sw.dp)) else {
        return;
    };
    for ip in ips {
        let m = Match::eq(Field::ARP_TPA, IpAddr::V4(*ip)).and_eq(Field::ARP_OP, Value::Int(1));
        flows.add(sw.dp, Stage::LsInArpRsp, 110, &m, &arp_reply(mac, *ip));
    }
}

/// A virtual port's IP is claimed by whichever parent sends ARP (or ND) for it: bind it there.
fn build_virtual(sw: &Switch, p: &super::SwitchPort, flows: &mut FlowTable) {
    let Some(v) = &p.virtual_ else {
        return;
    };
    let bind = Actions(vec![Action::BindVport(p.name.clone()), Action::Next]);
    for parent in &v.parents {
        if !sw.ports.iter().any(|q| &q.name == parent) {
            continue;
        }
        let claim = match v.ip {
            IpAddr::V4(_) => {
                let req = Match::eq(Field::ARP_OP, Value::Int(1))
                    .and_eq(Field::ARP_SPA, v.ip)
                    .and_eq(Field::ARP_TPA, v.ip)
                    .paren();
                let rep = Match::eq(Field::ARP_OP, Value::Int(2))
                    .and_eq(Field::ARP_SPA, v.ip)
                    .paren();
                Match::or(req, rep).paren()
            }
            IpAddr::V6(v6) => {
                let ns = Match::pred(Pred::NdNs)
                    .and_eq(
                        Field::IP6_DST,
                        Value::Set(vec![v.ip.into(), IpAddr::V6(solicited_node(v6)).into()]),
                    )
                    .and_eq(Field::ND_TARGET, v.ip)
                    .paren();
                let na = Match::pred(Pred::Fixed("nd_na"))
                    .and_eq(Field::ND_TARGET, v.ip)
                    .paren();
                // No space after `||` here, as ovn-northd 23.03 writes it.
                Match::user_bare(&format!("{ns} ||{na}")).paren()
            }
        };
        let m = Match::eq(Field::INPORT, Value::port(parent)).and(claim);
        flows.add(sw.dp, Stage::LsInArpRsp, 100, &m, &bind);
    }
}
