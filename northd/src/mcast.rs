//! Multicast groups every switch datapath may have, with their fixed names and tunnel keys.

use crate::tunnel_key::{
    MC_FLOOD_KEY, MC_FLOOD_L2_KEY, MC_MROUTER_FLOOD_KEY, MC_STATIC_KEY, MC_UNKNOWN_KEY,
};

/// `_MC_flood`: every enabled port.
pub const FLOOD: &str = "_MC_flood";
/// `_MC_unknown`: ports with an `unknown` address.
pub const UNKNOWN: &str = "_MC_unknown";
/// `_MC_flood_l2`: every enabled port, for L2-only flooding.
pub const FLOOD_L2: &str = "_MC_flood_l2";
/// `_MC_mrouter_flood`: ports towards multicast routers.
pub const MROUTER_FLOOD: &str = "_MC_mrouter_flood";
/// `_MC_static`: ports that always receive IP multicast.
pub const STATIC: &str = "_MC_static";

/// The fixed groups northd maintains on switches: name and tunnel key.
pub const SWITCH_GROUPS: [(&str, u32); 5] = [
    (FLOOD, MC_FLOOD_KEY),
    (UNKNOWN, MC_UNKNOWN_KEY),
    (MROUTER_FLOOD, MC_MROUTER_FLOOD_KEY),
    (STATIC, MC_STATIC_KEY),
    (FLOOD_L2, MC_FLOOD_L2_KEY),
];

/// A switch's multicast snooping configuration (`other_config:mcast_*`), parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchMcastConfig {
    /// `mcast_snoop`.
    pub snoop: bool,
    /// `mcast_querier` (default true).
    pub querier: bool,
    /// `mcast_flood_unregistered`.
    pub flood_unregistered: bool,
    /// `mcast_eth_src`.
    pub eth_src: String,
    /// `mcast_ip4_src`.
    pub ip4_src: String,
    /// `mcast_ip6_src`.
    pub ip6_src: String,
    /// `mcast_table_size` (default 2048).
    pub table_size: i64,
    /// `mcast_idle_timeout` in seconds (default 300, at least 15, at most 3600).
    pub idle_timeout: i64,
    /// `mcast_query_interval` (default half the idle timeout).
    pub query_interval: i64,
    /// `mcast_query_max_response` (default 1).
    pub query_max_resp: i64,
}

impl SwitchMcastConfig {
    /// Reads `other_config`; unparsable numbers take their defaults.
    pub fn parse(other_config: &ovsdb::model::SortedMap<String, String>) -> Self {
        let flag = |k: &str, d: bool| other_config.get(k).map_or(d, |v| v == "true");
        let num = |k: &str| other_config.get(k).and_then(|v| v.parse::<i64>().ok());
        let text = |k: &str| other_config.get(k).cloned().unwrap_or_default();
        let idle_timeout = num("mcast_idle_timeout").unwrap_or(300).clamp(15, 3600);
        let query_interval = num("mcast_query_interval")
            .unwrap_or(idle_timeout / 2)
            .clamp(1, idle_timeout);
        Self {
            snoop: flag("mcast_snoop", false),
            querier: flag("mcast_querier", true),
            flood_unregistered: flag("mcast_flood_unregistered", false),
            eth_src: text("mcast_eth_src"),
            ip4_src: text("mcast_ip4_src"),
            ip6_src: text("mcast_ip6_src"),
            table_size: num("mcast_table_size").unwrap_or(2048),
            idle_timeout,
            query_interval,
            query_max_resp: num("mcast_query_max_response").unwrap_or(1),
        }
    }
}
