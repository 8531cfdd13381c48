//! `ls_in_external_port`: a switch with `external` ports and localnet ports drops, on chassis
//! that do not host an external port, what that port sends through the localnet port to the
//! switch's router ports (ARP and ND for the router addresses, and unicast to the router MAC):
//! only the chassis the port is resident on answers for it. A `router` switch port's addresses
//! are those it lists (`MAC IP...`) and, for `router`, the router port's with its link-local one.

use std::net::IpAddr;

use ovn_nb::addr::{IpNet, MacAddr};
use ovn_sb::stage::Stage;

use super::{LspType, Switch, SwitchCtx};
use crate::flow::{solicited_node, Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::router::link_local;

/// The MAC and addresses of a router port a switch port of type `router` connects to.
struct RouterSide {
    mac: MacAddr,
    ips: Vec<IpAddr>,
}

fn router_side(ctx: &SwitchCtx<'_>, sw: &Switch) -> Vec<RouterSide> {
    let mut out = Vec::new();
    for p in sw
        .ports
        .iter()
        .filter(|p| p.type_ == LspType::Router && p.router_peer)
    {
        let Some(lsp) = ctx.nb.switch_ports.get(&p.nb) else {
            continue;
        };
        // Explicit addresses (`MAC IP...`) count as written, without a link-local address.
        let mut ignored = Vec::new();
        let (explicit, _) = super::parse_addresses(
            &lsp.name,
            lsp.addresses.iter().filter(|a| *a != "router"),
            lsp.dynamic_addresses.as_deref(),
            &mut ignored,
        );
        for a in explicit {
            let mut ips: Vec<IpAddr> = a.ipv4.iter().copied().map(IpAddr::V4).collect();
            ips.extend(a.ipv6.iter().copied().map(IpAddr::V6));
            out.push(RouterSide { mac: a.mac, ips });
        }
        // The `router` entry carries the router port's addresses.
        let Some(lrp_name) = Some(lsp)
            .filter(|l| l.addresses.iter().any(|a| a == "router"))
            .and_then(|l| l.options.get("router-port"))
        else {
            continue;
        };
        let Some(lrp) = ctx.nb.router_ports.values().find(|l| &l.name == lrp_name) else {
            continue;
        };
        let Ok(mac) = lrp.mac.parse::<MacAddr>() else {
            continue;
        };
        let nets: Vec<IpNet> = lrp.networks.iter().filter_map(|n| n.parse().ok()).collect();
        let mut ips: Vec<IpAddr> = nets
            .iter()
            .map(|n| n.addr())
            .filter(IpAddr::is_ipv4)
            .collect();
        let v6: Vec<IpAddr> = nets
            .iter()
            .map(|n| n.addr())
            .filter(IpAddr::is_ipv6)
            .collect();
        let has_lla = v6
            .iter()
            .any(|ip| matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80));
        ips.extend(v6);
        if !has_lla {
            ips.push(IpAddr::V6(link_local(mac)));
        }
        out.push(RouterSide { mac, ips });
    }
    out
}

/// Builds the drop flows of `ls_in_external_port` (the default flow is built with DHCP's).
pub fn build(ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
    let externals: Vec<_> = sw
        .ports
        .iter()
        .filter(|p| p.type_ == LspType::External)
        .collect();
    if externals.is_empty() {
        return;
    }
    let localnets: Vec<_> = sw
        .ports
        .iter()
        .filter(|p| p.type_ == LspType::Localnet)
        .collect();
    let routers = router_side(ctx, sw);
    let drop = Actions::one(Action::Drop);
    for ln in &localnets {
        for ext in &externals {
            for a in &ext.addrs {
                let base =
                    Match::eq(Field::INPORT, Value::port(&ln.name)).and_eq(Field::ETH_SRC, a.mac);
                for r in &routers {
                    for ip in &r.ips {
                        let m = match ip {
                            IpAddr::V4(_) => base
                                .clone()
                                .and_not_resident(&ext.name)
                                .and_eq(Field::ARP_TPA, *ip)
                                .and_eq(Field::ARP_OP, 1),
                            IpAddr::V6(v6) => base
                                .clone()
                                .and_not_resident(&ext.name)
                                .and_pred(Pred::NdNs)
                                .and_eq(
                                    Field::IP6_DST,
                                    Value::Set(vec![
                                        (*ip).into(),
                                        IpAddr::V6(solicited_node(*v6)).into(),
                                    ]),
                                )
                                .and_eq(Field::ND_TARGET, *ip),
                        };
                        flows.add(sw.dp, Stage::LsInExternalPort, 100, &m, &drop);
                    }
                    let m = base
                        .clone()
                        .and_eq(Field::ETH_DST, r.mac)
                        .and_not_resident(&ext.name);
                    flows.add(sw.dp, Stage::LsInExternalPort, 100, &m, &drop);
                }
            }
        }
    }
}
