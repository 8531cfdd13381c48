//! IPv6 router advertisements: `lr_in_nd_ra_options` and `lr_in_nd_ra_response` (answers to
//! router solicitations on ports with `ipv6_ra_configs:address_mode`), and the `Port_Binding`
//! options for periodic advertisements and prefix delegation.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use ovn_sb::stage::Stage;
use ovsdb::model::SortedMap;

use crate::flow::{Action, Actions, Field, FlowTable, Match, Pred, Value};
use crate::snapshot::NbSnapshot;

use super::input::{bool_option, v6_net, LOOPBACK, OUT_INPORT};
use super::{link_local, Ipv6Net, Peer, Router, RouterCtx, RouterPort};

/// `reg0[5]`: `put_nd_ra_opts` succeeded.
const ND_RA_RESULT: Field = Field("reg0[5]");
/// IPv6 RA interval defaults and limits (seconds), as ovn-northd applies them.
const RA_MAX_INTERVAL_DEFAULT: i64 = 600;
const RA_MAX_INTERVAL_MAX: i64 = 1800;
const RA_MAX_INTERVAL_MIN: i64 = 4;
const RA_MIN_INTERVAL_MIN: i64 = 3;
/// The minimum IPv6 MTU (RFC 8200); smaller `mtu` values are ignored.
const IPV6_MIN_MTU: i64 = 1280;

/// C `atoi`: optional blanks and sign, then the leading digits (0 when there are none).
fn atoi(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let v = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// `smap_get_int`: the whole value as a decimal integer, else `default`.
fn int_option(map: &SortedMap<String, String>, key: &str, default: i64) -> i64 {
    map.get(key)
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(default, i64::from)
}

/// The router advertisement settings of a port that answers router solicitations: a port
/// connected to a switch (not to another router) with an IPv6 `address_mode`.
struct RaConfig<'a> {
    address_mode: &'a str,
    configs: &'a SortedMap<String, String>,
}

/// The port's RA settings when ovn-northd handles RAs on it (a switch peer and no NB `peer`),
/// `None` otherwise; `Some(None)` when handled but without (valid) `address_mode`.
fn ra_config<'a>(nb: &'a NbSnapshot, p: &RouterPort) -> Option<Option<RaConfig<'a>>> {
    let lrp = nb.router_ports.get(&p.nb)?;
    if lrp.peer.is_some() || !matches!(p.peer, Some(Peer::Switch { .. })) {
        return None;
    }
    let configs = &lrp.ipv6_ra_configs;
    Some(
        configs
            .get("address_mode")
            .map(String::as_str)
            .filter(|m| ["slaac", "dhcpv6_stateful", "dhcpv6_stateless"].contains(m))
            .map(|address_mode| RaConfig {
                address_mode,
                configs,
            }),
    )
}

/// Builds `lr_in_nd_ra_options` and `lr_in_nd_ra_response` for `lr`: answer router solicitations on ports
/// with `ipv6_ra_configs:address_mode`.
pub fn build(ctx: &RouterCtx<'_>, lr: &Router, flows: &mut FlowTable) {
    let dp = lr.dp;
    let next = Actions::one(Action::Next);
    flows.add(dp, Stage::LrInNdRaOptions, 0, &Match::always(), &next);
    flows.add(dp, Stage::LrInNdRaResponse, 0, &Match::always(), &next);
    for p in &lr.ports {
        let Some(Some(ra)) = ra_config(ctx.nb, p) else {
            continue;
        };
        let prefixes: Vec<&Ipv6Net> = p.ipv6.iter().filter(|n| !n.is_link_local()).collect();
        if prefixes.is_empty() {
            continue;
        }
        let quoted = |s: &str| format!("\"{s}\"");
        let mut opts = vec![
            ("addr_mode".to_owned(), quoted(ra.address_mode)),
            ("slla".to_owned(), p.mac.to_string()),
        ];
        let mtu = ra.configs.get("mtu").map_or(0, |m| atoi(m));
        if mtu >= IPV6_MIN_MTU {
            opts.push(("mtu".to_owned(), mtu.to_string()));
        }
        let prf = ra
            .configs
            .get("router_preference")
            .map_or("MEDIUM", String::as_str);
        if prf != "MEDIUM" {
            opts.push(("router_preference".to_owned(), quoted(prf)));
        }
        if let Some(v) = ra.configs.get("rdnss") {
            opts.push(("rdnss".to_owned(), v.clone()));
        }
        if let Some(v) = ra.configs.get("dnssl") {
            opts.push(("dnssl".to_owned(), quoted(v)));
        }
        if let Some(v) = ra.configs.get("route_info") {
            opts.push(("route_info".to_owned(), quoted(v)));
        }
        for n in &prefixes {
            opts.push(("prefix".to_owned(), v6_net(n).to_string()));
        }
        let port = Value::port(&p.name);
        let rs = Match::eq(Field::INPORT, port.clone())
            .and_eq(
                Field::IP6_DST,
                IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2)),
            )
            .and(Match::pred(Pred::Fixed("nd_rs")));
        flows.add(
            dp,
            Stage::LrInNdRaOptions,
            50,
            &rs,
            &Actions(vec![
                Action::Assign(ND_RA_RESULT, Value::Opts("put_nd_ra_opts", opts)),
                Action::Next,
            ]),
        );
        let ra_match = Match::eq(Field::INPORT, port)
            .and_eq(
                Field::IP6_DST,
                IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2)),
            )
            .and(Match::pred(Pred::Fixed("nd_ra && reg0[5]")));
        flows.add(
            dp,
            Stage::LrInNdRaResponse,
            50,
            &ra_match,
            &Actions(vec![
                Action::Assign(Field::ETH_DST, Field::ETH_SRC.into()),
                Action::Assign(Field::ETH_SRC, Value::Mac(p.mac)),
                Action::Assign(Field::IP6_DST, Field::IP6_SRC.into()),
                Action::Assign(Field::IP6_SRC, Value::Ip(IpAddr::V6(link_local(p.mac)))),
                OUT_INPORT,
                LOOPBACK,
                Action::Output,
            ]),
        );
    }
}

/// The `Port_Binding` options ovn-northd adds to a router port for IPv6 prefix delegation and
/// periodic router advertisements (`ipv6_prefix_delegation`, `ipv6_prefix`,
/// `ipv6_ra_*`).
pub fn port_binding_options(
    nb: &NbSnapshot,
    p: &RouterPort,
    options: &mut BTreeMap<String, String>,
) {
    let Some(ra) = ra_config(nb, p) else {
        return;
    };
    let Some(lrp) = nb.router_ports.get(&p.nb) else {
        return;
    };
    if p.enabled && bool_option(&lrp.options, "prefix_delegation", false) {
        options.insert("ipv6_prefix_delegation".to_owned(), "true".to_owned());
    }
    if p.enabled && bool_option(&lrp.options, "prefix", false) {
        options.insert("ipv6_prefix".to_owned(), "true".to_owned());
    }
    let Some(ra) = ra else { return };
    if !bool_option(ra.configs, "send_periodic", false) {
        return;
    }
    let mut put = |k: &str, v: String| {
        options.insert(k.to_owned(), v);
    };
    put("ipv6_ra_send_periodic", "true".to_owned());
    put("ipv6_ra_address_mode", ra.address_mode.to_owned());
    let max = int_option(ra.configs, "max_interval", RA_MAX_INTERVAL_DEFAULT)
        .clamp(RA_MAX_INTERVAL_MIN, RA_MAX_INTERVAL_MAX);
    put("ipv6_ra_max_interval", max.to_string());
    let min_default = if max >= 9 { max / 3 } else { max * 3 / 4 };
    let min = int_option(ra.configs, "min_interval", min_default)
        .min(max * 3 / 4)
        .max(RA_MIN_INTERVAL_MIN);
    put("ipv6_ra_min_interval", min.to_string());
    let mtu = int_option(ra.configs, "mtu", 0);
    if mtu >= IPV6_MIN_MTU {
        put("ipv6_ra_mtu", mtu.to_string());
    }
    let mut prefixes = Vec::new();
    for n in &p.ipv6 {
        if n.is_link_local() {
            put("ipv6_ra_src_addr", n.addr.to_string());
        } else {
            prefixes.push(v6_net(n).to_string());
        }
    }
    put("ipv6_ra_prefixes", prefixes.join(" "));
    for (key, opt) in [
        ("rdnss", "ipv6_ra_rdnss"),
        ("dnssl", "ipv6_ra_dnssl"),
        ("route_info", "ipv6_ra_route_info"),
    ] {
        if let Some(v) = ra.configs.get(key) {
            put(opt, v.clone());
        }
    }
    put("ipv6_ra_src_eth", p.mac.to_string());
    let prf = ra
        .configs
        .get("router_preference")
        .filter(|v| *v == "HIGH" || *v == "LOW")
        .map_or("MEDIUM", String::as_str);
    put("ipv6_ra_prf", prf.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_like_c() {
        assert_eq!(atoi("1500"), 1500);
        assert_eq!(atoi("  1500abc"), 1500);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("abc"), 0);
        let m = SortedMap::from([("a".to_owned(), "12x".to_owned())]);
        assert_eq!(int_option(&m, "a", 5), 5);
        assert_eq!(int_option(&m, "b", 5), 5);
    }

    #[test]
    fn reads_booleans_like_smap() {
        let m = SortedMap::from([
            ("t".to_owned(), "TRUE".to_owned()),
            ("f".to_owned(), "False".to_owned()),
            ("x".to_owned(), "yes".to_owned()),
        ]);
        assert!(bool_option(&m, "t", false));
        assert!(!bool_option(&m, "f", true));
        assert!(bool_option(&m, "x", true));
        assert!(!bool_option(&m, "x", false));
        assert!(bool_option(&m, "missing", true));
    }
}
