//! Dynamic IP multicast groups: what IGMP/MLD snooping learnt, turned into multicast groups and
//! forwarding flows.
//!
//! ovn-controller writes one `IGMP_Group` row per group address, switch datapath and chassis,
//! listing the local ports that joined. Northd aggregates the rows of one (datapath, address)
//! into a `Multicast_Group` named by the address (with the switch's localnet ports added), and
//! adds an `ls_in_l2_lkup` flow sending the group's traffic to it. When the switch is attached
//! to a router relaying multicast (`options:mcast_relay=true`), the router gets a group of the
//! same name holding its port towards that switch, and an `lr_in_ip_routing` flow. Rows with the
//! reserved address `mrouters` name ports behind which multicast routers were detected: they
//! join the switch's `_MC_mrouter_flood` group.
//!
//! Ports that already receive all multicast (`options:mcast_flood` or `mcast_flood_reports`) and
//! switch ports towards relaying routers are left out of the groups. Group tunnel keys come from
//! the range for IP multicast and stay stable across recompiles. Rows without a chassis or a
//! datapath, or on a datapath that no longer exists, are stale and deleted (see [`stale`]).
//!
//! Not covered: the order in which ovn-northd 23.03 walks the rows is a hash order, so when two
//! rows spell one address differently (`ff0e::1`, `FF0E::0001`) the group's name, and which
//! groups are dropped once `mcast_table_size` is reached, may differ from it; here the rows are
//! taken in (datapath, address) order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};

use ovn_sb::model as sb;
use ovn_sb::stage::Stage;
use uuid::Uuid;

use crate::content::McGroupContent;
use crate::flow::{Action, Actions, DpIndex, FlowTable, Match};
use crate::mcast;
use crate::router::{Peer, Router};
use crate::switch::{LspType, Switch, SwitchPort};

/// The lowest tunnel key of a dynamic IP multicast group.
pub const MIN_KEY: u32 = 32774;
/// The highest tunnel key of a dynamic IP multicast group.
pub const MAX_KEY: u32 = 65535;
/// The `IGMP_Group` address naming detected multicast routers.
pub const MROUTERS: &str = "mrouters";

/// Priority of a group's flow in `ls_in_l2_lkup`.
const SWITCH_PRIORITY: u16 = 90;
/// Priority of a relayed group's flow in `lr_in_ip_routing`.
const ROUTER_PRIORITY: u16 = 10500;

/// One `IGMP_Group` row as the build reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IgmpEntry {
    /// The NB UUID of the row's datapath (its switch).
    pub datapath: Uuid,
    /// `address`, as ovn-controller wrote it.
    pub address: String,
    /// The member ports, by `logical_port`.
    pub ports: Vec<String>,
}

/// The dynamic multicast state read from SB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgmpState {
    /// The live `IGMP_Group` rows, sorted.
    pub entries: Vec<IgmpEntry>,
    /// Tunnel keys of the existing `Multicast_Group` rows other than the fixed `_MC_*` ones,
    /// by NB UUID of their datapath and name.
    pub keys: BTreeMap<(Uuid, String), u32>,
}

/// The NB UUID a `Datapath_Binding` stands for (`external_ids:logical-switch` or
/// `logical-router`).
fn nb_uuid(dp: &sb::DatapathBinding) -> Option<Uuid> {
    ["logical-switch", "logical-router"]
        .iter()
        .find_map(|k| dp.external_ids.get(*k))
        .and_then(|s| Uuid::parse_str(s).ok())
}

impl IgmpState {
    /// Reads the live `IGMP_Group` rows (resolving datapaths to NB UUIDs and ports to names)
    /// and the keys of the existing dynamic `Multicast_Group` rows.
    pub fn from_rows<'a>(
        igmp: impl IntoIterator<Item = &'a sb::IgmpGroup>,
        datapaths: impl IntoIterator<Item = &'a sb::DatapathBinding>,
        ports: impl IntoIterator<Item = &'a sb::PortBinding>,
        groups: impl IntoIterator<Item = &'a sb::MulticastGroup>,
    ) -> Self {
        let dp_nb: HashMap<Uuid, Uuid> = datapaths
            .into_iter()
            .filter_map(|d| Some((d.uuid.uuid(), nb_uuid(d)?)))
            .collect();
        let pb_name: HashMap<Uuid, &str> = ports
            .into_iter()
            .map(|p| (p.uuid.uuid(), p.logical_port.as_str()))
            .collect();
        let mut entries: Vec<IgmpEntry> = igmp
            .into_iter()
            .filter(|g| g.chassis.is_some())
            .filter_map(|g| {
                let datapath = *dp_nb.get(&g.datapath?.uuid())?;
                let ports = g
                    .ports
                    .iter()
                    .filter_map(|p| pb_name.get(&p.uuid()).map(|n| (*n).to_owned()))
                    .collect();
                Some(IgmpEntry {
                    datapath,
                    address: g.address.clone(),
                    ports,
                })
            })
            .collect();
        entries.sort();
        let keys = groups
            .into_iter()
            .filter(|g| !g.name.starts_with("_MC_"))
            .filter_map(|g| {
                let dp = *dp_nb.get(&g.datapath.uuid())?;
                Some(((dp, g.name.clone()), u32::try_from(g.tunnel_key).ok()?))
            })
            .collect();
        Self { entries, keys }
    }
}

/// True for an `IGMP_Group` row ovn-northd deletes: no chassis, no datapath, or a datapath
/// (SB UUID) for which `live` says it will not exist after this compile.
pub fn stale(row: &sb::IgmpGroup, live: impl Fn(Uuid) -> bool) -> bool {
    row.chassis.is_none() || row.datapath.is_none_or(|d| !live(d.uuid()))
}

/// A group address: detected multicast routers, or an IP address (IPv4 as IPv4-mapped IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum GroupAddr {
    Mrouters,
    Ip(Ipv6Addr),
}

impl GroupAddr {
    fn parse(text: &str) -> Option<Self> {
        if text == MROUTERS {
            return Some(Self::Mrouters);
        }
        match text.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => Some(Self::Ip(v4.to_ipv6_mapped())),
            IpAddr::V6(v6) => Some(Self::Ip(v6)),
        }
    }
}

/// True for an IPv6 multicast address routers relay: not of reserved, interface-local or
/// link-local scope (RFC 4291 2.7).
fn routable_v6(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    o[0] == 0xff && !matches!(o[1] & 0x0f, 0..=2)
}

/// True when a switch installs no flow for the group: IPv4 local network control
/// (224.0.0.0/24, RFC 4541), IPv6 all-nodes and all-routers addresses.
fn switch_skips(a: &Ipv6Addr) -> bool {
    match a.to_ipv4_mapped() {
        Some(v4) => matches!(v4.octets(), [224, 0, 0, _]),
        None => {
            let all =
                |scope: u16, last: u16| *a == Ipv6Addr::new(0xff00 | scope, 0, 0, 0, 0, 0, 0, last);
            all(2, 1) || all(2, 2) || all(5, 2)
        }
    }
}

/// The datapath of a group: a switch (`Ok`) or router (`Err`), by view index.
type Owner = Result<usize, usize>;

/// A group being assembled.
#[derive(Debug)]
struct Group {
    owner: Owner,
    name: String,
    key: Option<u32>,
    ports: BTreeSet<String>,
}

/// The dynamic groups of a build.
#[derive(Debug, Default)]
pub struct Groups {
    /// The `Multicast_Group` rows named by address.
    pub groups: Vec<McGroupContent>,
    /// Ports to add to the `_MC_mrouter_flood` group of a switch datapath.
    pub mrouters: BTreeMap<DpIndex, BTreeSet<String>>,
}

/// Builds the dynamic groups from `state` on `switches` (and the relaying `routers` attached to
/// them), adding their flows to `flows`.
pub fn build(
    state: &IgmpState,
    switches: &[Switch],
    routers: &[Router],
    flows: &mut FlowTable,
) -> Groups {
    let mut out = Groups::default();
    if state.entries.is_empty() {
        return out;
    }
    let switch_by_nb: HashMap<Uuid, usize> = switches
        .iter()
        .enumerate()
        .map(|(i, s)| (s.nb.uuid(), i))
        .collect();
    let port_by_name: HashMap<&str, &SwitchPort> = switches
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| (p.name.as_str(), p)))
        .collect();
    // Switch port name -> (router, the router port's name in groups), for relaying routers'
    // ports that do not already flood multicast.
    let relay_peer: HashMap<&str, (usize, String)> = routers
        .iter()
        .enumerate()
        .filter(|(_, r)| crate::router::input_mcast::relays(r))
        .flat_map(|(ri, r)| {
            r.ports.iter().filter_map(move |p| match &p.peer {
                Some(Peer::Switch { port })
                    if p.options.get("mcast_flood").is_none_or(|v| v != "true") =>
                {
                    let name = if p.is_dgp {
                        p.cr_name()
                    } else {
                        p.name.clone()
                    };
                    Some((port.as_str(), (ri, name)))
                }
                _ => None,
            })
        })
        .collect();

    let mut groups: BTreeMap<(Owner, GroupAddr), Group> = BTreeMap::new();
    let nb_of = |owner: Owner| match owner {
        Ok(s) => switches[s].nb.uuid(),
        Err(r) => routers[r].nb.uuid(),
    };
    let key_of =
        |owner: Owner, name: &str| state.keys.get(&(nb_of(owner), name.to_owned())).copied();
    for e in &state.entries {
        let Some(&si) = switch_by_nb.get(&e.datapath) else {
            continue;
        };
        let Some(addr) = GroupAddr::parse(&e.address) else {
            continue;
        };
        let members: Vec<&str> = e
            .ports
            .iter()
            .filter_map(|n| port_by_name.get(n.as_str()))
            .filter(|p| !p.mcast_flood && !p.mcast_flood_reports && !p.mcast_relay_peer)
            .map(|p| p.name.as_str())
            .collect();
        if members.is_empty() {
            continue;
        }
        let g = group(&mut groups, Ok(si), addr, &e.address, key_of);
        g.ports.extend(members.iter().map(|m| (*m).to_owned()));
        let name = g.name.clone();
        let GroupAddr::Ip(ip) = addr else {
            continue;
        };
        if ip.to_ipv4_mapped().is_none() && !routable_v6(&ip) {
            continue;
        }
        for p in &switches[si].ports {
            if p.type_ != LspType::Router {
                continue;
            }
            if let Some((ri, rport)) = relay_peer.get(p.name.as_str()) {
                group(&mut groups, Err(*ri), addr, &name, key_of)
                    .ports
                    .insert(rport.clone());
            }
        }
    }

    // Keys: existing groups keep theirs, new ones take the next free key after the last one
    // handed out on their datapath.
    let mut used: HashMap<Owner, BTreeSet<u32>> = HashMap::new();
    for g in groups.values() {
        if let Some(k) = g.key {
            used.entry(g.owner).or_default().insert(k);
        }
    }
    let mut hints: HashMap<Owner, u32> = HashMap::new();
    let mut v4_flows: HashMap<usize, i64> = HashMap::new();
    let mut v6_flows: HashMap<usize, i64> = HashMap::new();
    for ((owner, addr), mut g) in groups {
        let GroupAddr::Ip(ip) = addr else {
            if let Ok(si) = owner {
                out.mrouters
                    .entry(switches[si].dp)
                    .or_default()
                    .extend(g.ports);
            }
            continue;
        };
        let key = match g.key {
            Some(k) => k,
            None => {
                let taken = used.entry(owner).or_default();
                let hint = hints.entry(owner).or_insert(MIN_KEY - 1);
                let Some(k) = next_free(taken, *hint) else {
                    continue;
                };
                taken.insert(k);
                *hint = k;
                k
            }
        };
        let v4 = ip.to_ipv4_mapped().is_some();
        let (proto, dst) = if v4 {
            ("ip4", "ip4.dst")
        } else {
            ("ip6", "ip6.dst")
        };
        let datapath = match owner {
            Ok(si) => {
                let sw = &switches[si];
                g.ports.extend(
                    sw.ports
                        .iter()
                        .filter(|p| p.type_ == LspType::Localnet)
                        .map(|p| p.name.clone()),
                );
                let count = if v4 { &mut v4_flows } else { &mut v6_flows };
                let n = count.entry(si).or_insert(0);
                if !switch_skips(&ip) && *n < sw.mcast.table_size {
                    *n += 1;
                    let mut actions = String::new();
                    if sw.flood_relay() {
                        actions.push_str("clone { outport = \"_MC_mrouter_flood\"; output; };");
                    }
                    if sw.ports.iter().any(|p| p.enabled && p.mcast_flood) {
                        actions.push_str("clone { outport =\"_MC_static\"; output; };");
                    }
                    actions.push_str(&format!("outport = \"{}\"; output; ", g.name));
                    flows.add(
                        sw.dp,
                        Stage::LsInL2Lkup,
                        SWITCH_PRIORITY,
                        &Match::user_bare(&format!("eth.mcast && {proto} && {dst} == {} ", g.name)),
                        &Actions::one(Action::Text(actions)),
                    );
                }
                sw.dp
            }
            Err(ri) => {
                let lr = &routers[ri];
                let mut actions = String::new();
                if crate::router::input_mcast::floods_static(lr) {
                    actions.push_str("clone { outport = \"_MC_static\"; ip.ttl--; next; };");
                }
                actions.push_str(&format!("outport = \"{}\"; ip.ttl--; next;", g.name));
                flows.add(
                    lr.dp,
                    Stage::LrInIpRouting,
                    ROUTER_PRIORITY,
                    &Match::user_bare(&format!("{proto} && {dst} == {} ", g.name)),
                    &Actions::one(Action::Text(actions)),
                );
                lr.dp
            }
        };
        out.groups.push(McGroupContent {
            datapath,
            name: g.name,
            tunnel_key: key,
            ports: g.ports,
        });
    }
    out
}

/// The group of `owner` for `addr`, created (named `name`, with the key `key_of` finds for it
/// in SB) when it is the first.
fn group<'g>(
    groups: &'g mut BTreeMap<(Owner, GroupAddr), Group>,
    owner: Owner,
    addr: GroupAddr,
    name: &str,
    key_of: impl Fn(Owner, &str) -> Option<u32>,
) -> &'g mut Group {
    groups.entry((owner, addr)).or_insert_with(|| Group {
        owner,
        name: name.to_owned(),
        key: key_of(owner, name),
        ports: BTreeSet::new(),
    })
}

/// The first key after `hint` (wrapping within the range) not in `taken`.
fn next_free(taken: &BTreeSet<u32>, hint: u32) -> Option<u32> {
    let start = if !(MIN_KEY..MAX_KEY).contains(&hint) {
        MIN_KEY
    } else {
        hint + 1
    };
    (start..=MAX_KEY)
        .chain(MIN_KEY..start)
        .find(|k| !taken.contains(k))
}

/// Merges the detected multicast router ports into the switches' `_MC_mrouter_flood` groups
/// (creating the group where the switch had none) and appends the dynamic groups.
pub fn merge_into(groups: Groups, out: &mut Vec<McGroupContent>) {
    for (dp, ports) in groups.mrouters {
        match out
            .iter_mut()
            .find(|g| g.datapath == dp && g.name == mcast::MROUTER_FLOOD)
        {
            Some(g) => g.ports.extend(ports),
            None => out.push(McGroupContent {
                datapath: dp,
                name: mcast::MROUTER_FLOOD.to_owned(),
                tunnel_key: crate::tunnel_key::MC_MROUTER_FLOOD_KEY,
                ports,
            }),
        }
    }
    out.extend(groups.groups);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_ovn() {
        assert_eq!(GroupAddr::parse("mrouters"), Some(GroupAddr::Mrouters));
        assert!(GroupAddr::parse("239.000.0.9").is_none());
        assert!(GroupAddr::parse("bogus").is_none());
        let Some(GroupAddr::Ip(a)) = GroupAddr::parse("::ffff:239.1.1.1") else {
            panic!("mapped address");
        };
        assert!(a.to_ipv4_mapped().is_some());
        assert_eq!(GroupAddr::parse("FF0E::0001"), GroupAddr::parse("ff0e::1"));
    }

    #[test]
    fn scopes_and_skips() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert!(routable_v6(&v6("ff0e::1")));
        assert!(routable_v6(&v6("ff05::2")));
        assert!(!routable_v6(&v6("ff02::1:3")));
        assert!(!routable_v6(&v6("ff01::9")));
        assert!(switch_skips(&v6("ff02::1")));
        assert!(switch_skips(&v6("ff05::2")));
        assert!(!switch_skips(&v6("ff05::3")));
        assert!(switch_skips(
            &"224.0.0.5"
                .parse::<std::net::Ipv4Addr>()
                .map_or(v6("::"), |a| a.to_ipv6_mapped())
        ));
        assert!(!switch_skips(
            &"224.0.1.1"
                .parse::<std::net::Ipv4Addr>()
                .map_or(v6("::"), |a| a.to_ipv6_mapped())
        ));
    }

    #[test]
    fn keys_fill_after_the_hint_and_wrap() {
        let taken: BTreeSet<u32> = [MIN_KEY, MIN_KEY + 2].into();
        assert_eq!(next_free(&taken, MIN_KEY - 1), Some(MIN_KEY + 1));
        assert_eq!(next_free(&taken, MIN_KEY + 1), Some(MIN_KEY + 3));
        assert_eq!(next_free(&taken, MAX_KEY), Some(MIN_KEY + 1));
        let full: BTreeSet<u32> = (MIN_KEY..=MAX_KEY).collect();
        assert_eq!(next_free(&full, MIN_KEY), None);
    }
}
