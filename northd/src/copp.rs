//! Control plane protection (CoPP): the meter of each logical flow that sends packets to
//! ovn-controller, and the Southbound `Meter` rows.
//!
//! A `Copp` row maps control protocols (`arp`, `icmp4-error`, `reject`, ...) to NB `Meter`
//! names; a switch or router whose `copp` column names it gets, on each of its flows whose
//! actions hand a packet of that protocol to ovn-controller, the meter in the flow's
//! `controller_meter` column (only when a `Meter` of that name exists). Flows that are equal
//! but for their meter are distinct rows, so datapaths with different meters never share one.
//!
//! The protocol of a flow is read from its actions, as ovn-northd 23.03 picks it per kind of
//! controller action (checked against it with a CoPP on every datapath of the parity
//! scenarios). Actions that reach ovn-controller without a protocol here (`handle_dhcpv6_reply`,
//! `put_fdb`, `bind_vport`, ...) are never metered, as in ovn-northd.
//!
//! Southbound `Meter`: every NB meter by name with its bands, plus, for each ACL whose `meter`
//! names a meter with `fair=true`, a copy named `METER__ACL-UUID` (each such ACL logs through
//! its own meter).
//!
//! What it does not do: allocate OpenFlow meter ids (ovn-controller does, per chassis).

use std::collections::BTreeMap;
use std::sync::Arc;

use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::snapshot::NbSnapshot;

/// A control protocol a CoPP can meter (the keys of `Copp:meters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoppProto {
    /// `arp`: ARP packets learned by routers (`put_arp`).
    Arp,
    /// `arp-resolve`: ARP requests routers send for unknown next hops (`arp { }`).
    ArpResolve,
    /// `dhcpv4-opts`: DHCPv4 replies (`put_dhcp_opts`).
    Dhcpv4Opts,
    /// `dhcpv6-opts`: DHCPv6 replies (`put_dhcpv6_opts`).
    Dhcpv6Opts,
    /// `dns`: DNS lookups (`dns_lookup`).
    Dns,
    /// `event-elb`: empty load balancer backend events (`trigger_event`).
    EventElb,
    /// `icmp4-error`: ICMPv4 errors routers generate (`icmp4 { }`, `icmp4_error { }`).
    Icmp4Err,
    /// `icmp6-error`: ICMPv6 errors routers generate (`icmp6 { }`, `icmp6_error { }`).
    Icmp6Err,
    /// `igmp`: IGMP and MLD snooping (`igmp`).
    Igmp,
    /// `nd-na`: neighbour advertisements sent (`nd_na { }`, `nd_na_router { }`) or learned
    /// (`put_nd` of a target).
    NdNa,
    /// `nd-ns`: neighbour solicitations learned (`put_nd` of a source).
    NdNs,
    /// `nd-ns-resolve`: neighbour solicitations routers send for unknown next hops
    /// (`nd_ns { }`).
    NdNsResolve,
    /// `nd-ra-opts`: router advertisements (`put_nd_ra_opts`).
    NdRaOpts,
    /// `tcp-reset`: TCP resets and SCTP aborts (`tcp_reset { }`, `sctp_abort { }`).
    TcpReset,
    /// `bfd`: BFD messages (`handle_bfd_msg`).
    Bfd,
    /// `reject`: ACL and load balancer rejects (`reject { }`).
    Reject,
    /// `svc-monitor`: load balancer health check replies (`handle_svc_check`).
    SvcMonitor,
}

impl CoppProto {
    /// Every protocol.
    pub const ALL: [Self; 17] = [
        Self::Arp,
        Self::ArpResolve,
        Self::Dhcpv4Opts,
        Self::Dhcpv6Opts,
        Self::Dns,
        Self::EventElb,
        Self::Icmp4Err,
        Self::Icmp6Err,
        Self::Igmp,
        Self::NdNa,
        Self::NdNs,
        Self::NdNsResolve,
        Self::NdRaOpts,
        Self::TcpReset,
        Self::Bfd,
        Self::Reject,
        Self::SvcMonitor,
    ];

    /// The name used as key in `Copp:meters`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arp => "arp",
            Self::ArpResolve => "arp-resolve",
            Self::Dhcpv4Opts => "dhcpv4-opts",
            Self::Dhcpv6Opts => "dhcpv6-opts",
            Self::Dns => "dns",
            Self::EventElb => "event-elb",
            Self::Icmp4Err => "icmp4-error",
            Self::Icmp6Err => "icmp6-error",
            Self::Igmp => "igmp",
            Self::NdNa => "nd-na",
            Self::NdNs => "nd-ns",
            Self::NdNsResolve => "nd-ns-resolve",
            Self::NdRaOpts => "nd-ra-opts",
            Self::TcpReset => "tcp-reset",
            Self::Bfd => "bfd",
            Self::Reject => "reject",
            Self::SvcMonitor => "svc-monitor",
        }
    }

    /// The protocol named `name` (a `Copp:meters` key).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The control protocol of a flow with `actions`: the one of its first action that hands the
/// packet to ovn-controller, if that kind is metered. Quoted strings are skipped.
///
/// Every such action is a word followed (after white space) by `{`, `(` or `;`: only the word
/// before each of those bytes (outside quotes) is looked at, in order, instead of every word.
pub fn proto_of(actions: &str) -> Option<CoppProto> {
    let bytes = actions.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
                continue;
            }
            b'{' | b'(' | b';' => {
                // The word that ends before the white space before `at` (a whole run of
                // identifier bytes; one that starts with a digit is an address or a number).
                let end = actions[..at].trim_end().len();
                let start = bytes[..end]
                    .iter()
                    .rposition(|b| !is_ident(*b))
                    .map_or(0, |i| i + 1);
                if start < end && !bytes[start].is_ascii_digit() {
                    if let Some(p) = word_proto(&actions[start..end], &actions[end..]) {
                        return Some(p);
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// The protocol of action word `word`, followed by `rest`.
fn word_proto(word: &str, rest: &str) -> Option<CoppProto> {
    // Most words are neither (fields, addresses, other actions): rejected before `rest` is
    // looked at.
    if !matches!(
        word,
        "arp"
            | "nd_ns"
            | "nd_na"
            | "nd_na_router"
            | "icmp4"
            | "icmp4_error"
            | "icmp6"
            | "icmp6_error"
            | "tcp_reset"
            | "sctp_abort"
            | "reject"
            | "put_arp"
            | "put_nd"
            | "put_dhcp_opts"
            | "put_dhcpv6_opts"
            | "dns_lookup"
            | "put_nd_ra_opts"
            | "trigger_event"
            | "igmp"
            | "handle_svc_check"
            | "handle_bfd_msg"
    ) {
        return None;
    }
    let rest = rest.trim_start();
    let nested = rest.starts_with('{');
    let call = rest.starts_with('(');
    let plain = rest.starts_with(';');
    Some(match word {
        "arp" if nested => CoppProto::ArpResolve,
        "nd_ns" if nested => CoppProto::NdNsResolve,
        "nd_na" | "nd_na_router" if nested => CoppProto::NdNa,
        "icmp4" | "icmp4_error" if nested => CoppProto::Icmp4Err,
        "icmp6" | "icmp6_error" if nested => CoppProto::Icmp6Err,
        "tcp_reset" | "sctp_abort" if nested => CoppProto::TcpReset,
        "reject" if nested || plain => CoppProto::Reject,
        "put_arp" if call => CoppProto::Arp,
        "put_nd" if call => {
            // put_nd(inport, TARGET, MAC): a target from the packet's source learns from a
            // solicitation, anything else from an advertisement.
            let second = rest[1..].split(',').nth(1).map(str::trim);
            if second == Some("ip6.src") {
                CoppProto::NdNs
            } else {
                CoppProto::NdNa
            }
        }
        "put_dhcp_opts" if call => CoppProto::Dhcpv4Opts,
        "put_dhcpv6_opts" if call => CoppProto::Dhcpv6Opts,
        "dns_lookup" if call => CoppProto::Dns,
        "put_nd_ra_opts" if call => CoppProto::NdRaOpts,
        "trigger_event" if call => CoppProto::EventElb,
        "igmp" if plain => CoppProto::Igmp,
        "handle_svc_check" if call => CoppProto::SvcMonitor,
        "handle_bfd_msg" if call => CoppProto::Bfd,
        _ => return None,
    })
}

/// The meters of one datapath's CoPP: protocol to meter name (only meters that exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoppMeters {
    by_proto: BTreeMap<CoppProto, Arc<str>>,
}

impl CoppMeters {
    /// The meters of `copp`, keeping only names of existing NB meters; `None` when none is
    /// left.
    pub fn resolve(nb: &NbSnapshot, copp: Option<&Ref<nb::Copp>>) -> Option<Arc<Self>> {
        let copp = nb.copp.get(copp?)?;
        let by_proto: BTreeMap<CoppProto, Arc<str>> = copp
            .meters
            .iter()
            .filter_map(|(proto, meter)| {
                let p = CoppProto::from_name(proto)?;
                nb.meters
                    .values()
                    .any(|m| &m.name == meter)
                    .then(|| (p, Arc::from(meter.as_str())))
            })
            .collect();
        (!by_proto.is_empty()).then(|| Arc::new(Self { by_proto }))
    }

    /// The meter for `proto`.
    pub fn get(&self, proto: CoppProto) -> Option<&Arc<str>> {
        self.by_proto.get(&proto)
    }

    /// The meter of a flow with `actions` on a datapath with these meters.
    pub fn meter_for(&self, actions: &str) -> Option<Arc<str>> {
        proto_of(actions).and_then(|p| self.get(p).cloned())
    }
}

/// Per datapath (by [`crate::flow::DpIndex`]), its CoPP meters.
pub type DatapathMeters = Arc<Vec<Option<Arc<CoppMeters>>>>;

/// One Southbound `Meter` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MeterContent {
    /// `name`.
    pub name: String,
    /// `unit` (`kbps` or `pktps`).
    pub unit: ovn_sb::model::MeterUnit,
    /// The bands: (`action`, `rate`, `burst_size`), sorted.
    pub bands: Vec<(ovn_sb::model::MeterBandAction, i64, i64)>,
}

/// The Southbound meters for `nb`: every NB meter, and a per-ACL copy of fair meters.
pub fn sb_meters(nb: &NbSnapshot) -> Vec<MeterContent> {
    let mut by_name: BTreeMap<String, MeterContent> = BTreeMap::new();
    for m in nb.meters.values() {
        let mut bands: Vec<_> = m
            .bands
            .iter()
            .filter_map(|b| nb.meter_bands.get(b))
            .map(|b| (band_action(b.action), b.rate, b.burst_size))
            .collect();
        bands.sort();
        let content = MeterContent {
            name: m.name.clone(),
            unit: meter_unit(m.unit),
            bands,
        };
        if m.fair == Some(true) {
            for acl in nb.acls.values() {
                if acl.meter.as_deref() == Some(m.name.as_str()) {
                    let name = format!("{}__{}", m.name, acl.uuid);
                    by_name.entry(name.clone()).or_insert_with(|| MeterContent {
                        name,
                        ..content.clone()
                    });
                }
            }
        }
        by_name.entry(m.name.clone()).or_insert(content);
    }
    by_name.into_values().collect()
}

fn meter_unit(u: nb::MeterUnit) -> ovn_sb::model::MeterUnit {
    match u {
        nb::MeterUnit::Kbps => ovn_sb::model::MeterUnit::Kbps,
        nb::MeterUnit::Pktps => ovn_sb::model::MeterUnit::Pktps,
    }
}

fn band_action(a: nb::MeterBandAction) -> ovn_sb::model::MeterBandAction {
    match a {
        nb::MeterBandAction::Drop => ovn_sb::model::MeterBandAction::Drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(actions: &str) -> Option<CoppProto> {
        let ours = proto_of(actions);
        assert_eq!(ours, by_words(actions), "{actions}");
        ours
    }

    /// [`proto_of`] as a scan of every word.
    fn by_words(actions: &str) -> Option<CoppProto> {
        let bytes = actions.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'"' {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
                continue;
            }
            let start_ok = at == 0 || !is_ident(bytes[at - 1]);
            if start_ok && bytes[at].is_ascii_digit() {
                at += bytes[at..]
                    .iter()
                    .position(|b| !is_ident(*b))
                    .unwrap_or(bytes.len() - at);
            } else if start_ok && is_ident(bytes[at]) {
                let end = bytes[at..]
                    .iter()
                    .position(|b| !is_ident(*b))
                    .map_or(bytes.len(), |n| at + n);
                if let Some(p) = word_proto(&actions[at..end], &actions[end..]) {
                    return Some(p);
                }
                at = end;
            } else {
                at += 1;
            }
        }
        None
    }

    #[test]
    fn the_terminator_scan_finds_what_a_word_scan_finds() {
        // Every sequence of up to four pieces: words, separators, quotes, digits.
        let pieces = [
            "reject",
            "arp",
            "put_nd",
            "igmp",
            "ct_lb_mark",
            "1arp",
            "x.arp",
            " ",
            "\u{a0}",
            "{",
            "(",
            ";",
            "\"",
            "\\",
            ",",
            "ip6.src",
            "a",
            "9",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for t in &texts {
                for p in pieces {
                    next.push(format!("{t}{p}"));
                }
            }
            texts.extend(next);
            texts.dedup();
        }
        for t in &texts {
            assert_eq!(proto_of(t), by_words(t), "{t:?}");
        }
    }

    #[test]
    fn protocols_from_actions() {
        use CoppProto::*;
        assert_eq!(p("next;"), None);
        assert_eq!(p("put_arp(inport, arp.spa, arp.sha); next;"), Some(Arp));
        assert_eq!(p("put_nd(inport, nd.target, nd.tll); next;"), Some(NdNa));
        assert_eq!(p("put_nd(inport, nd.target, eth.src); next;"), Some(NdNa));
        assert_eq!(p("put_nd(inport, ip6.src, nd.sll); next;"), Some(NdNs));
        assert_eq!(
            p("arp { eth.dst = ff:ff:ff:ff:ff:ff; output; };"),
            Some(ArpResolve)
        );
        assert_eq!(
            p("nd_ns { nd.target = xxreg0; output; };"),
            Some(NdNsResolve)
        );
        assert_eq!(
            p("ct_commit { ct_mark.blocked = 1; };  reg0 = 0; reject { outport <-> inport; };"),
            Some(Reject)
        );
        assert_eq!(p("icmp4_error {eth.dst <-> eth.src; };"), Some(Icmp4Err));
        assert_eq!(p("igmp;"), Some(Igmp));
        assert_eq!(p("reg0 = 0; handle_dhcpv6_reply;"), None);
        assert_eq!(p("reg0[4] = dns_lookup(); next;"), Some(Dns));
        assert_eq!(p("handle_bfd_msg(); "), Some(Bfd));
        // Field names are not actions.
        assert_eq!(p("reg0[1] = icmp4.type; next;"), None);
        assert_eq!(p("outport = \"arp\"; output;"), None);
        assert_eq!(p("log(name=\"reject;\"); next;"), None);
    }

    #[test]
    fn names_round_trip() {
        for p in CoppProto::ALL {
            assert_eq!(CoppProto::from_name(p.name()), Some(p));
        }
    }
}
