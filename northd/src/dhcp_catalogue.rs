//! The DHCP option catalogue northd keeps in the Southbound `DHCP_Options` and `DHCPv6_Options`
//! tables: every option name `put_dhcp_opts` / `put_dhcpv6_opts` may use, with its option code
//! and value type. ovn-controller parses those actions against these tables, so without them it
//! rejects every DHCP logical flow ("expecting DHCPv4 option name"). The list is fixed (it does
//! not depend on the Northbound contents) and is what ovn-northd 23.03 writes.

use ovn_sb::model::{DhcpOptionsType as V4, Dhcpv6OptionsType as V6};

/// `DHCP_Options` rows: (name, code, type).
pub const DHCPV4: &[(&str, i64, V4)] = &[
    ("offerip", 0, V4::Ipv4),
    ("netmask", 1, V4::Ipv4),
    ("router", 3, V4::Ipv4),
    ("dns_server", 6, V4::Ipv4),
    ("log_server", 7, V4::Ipv4),
    ("lpr_server", 9, V4::Ipv4),
    ("hostname", 12, V4::Str),
    ("domain_name", 15, V4::Str),
    ("swap_server", 16, V4::Ipv4),
    ("ip_forward_enable", 19, V4::Bool),
    ("policy_filter", 21, V4::Ipv4),
    ("default_ttl", 23, V4::Uint8),
    ("mtu", 26, V4::Uint16),
    ("broadcast_address", 28, V4::Ipv4),
    ("router_discovery", 31, V4::Bool),
    ("router_solicitation", 32, V4::Ipv4),
    ("arp_cache_timeout", 35, V4::Uint32),
    ("ethernet_encap", 36, V4::Bool),
    ("tcp_ttl", 37, V4::Uint8),
    ("tcp_keepalive_interval", 38, V4::Uint32),
    ("nis_server", 41, V4::Ipv4),
    ("ntp_server", 42, V4::Ipv4),
    ("netbios_name_server", 44, V4::Ipv4),
    ("netbios_node_type", 46, V4::Uint8),
    ("lease_time", 51, V4::Uint32),
    ("server_id", 54, V4::Ipv4),
    ("T1", 58, V4::Uint32),
    ("T2", 59, V4::Uint32),
    ("tftp_server", 66, V4::HostId),
    ("bootfile_name", 67, V4::Str),
    ("domain_search_list", 119, V4::Domains),
    ("classless_static_route", 121, V4::StaticRoutes),
    ("tftp_server_address", 150, V4::Ipv4),
    ("path_prefix", 210, V4::Str),
    ("ms_classless_static_route", 249, V4::StaticRoutes),
    ("wpad", 252, V4::Str),
    ("next_server", 253, V4::Ipv4),
    ("bootfile_name_alt", 254, V4::Str),
];

/// `DHCPv6_Options` rows: (name, code, type).
pub const DHCPV6: &[(&str, i64, V6)] = &[
    ("server_id", 2, V6::Mac),
    ("ia_addr", 5, V6::Ipv6),
    ("dns_server", 23, V6::Ipv6),
    ("domain_search", 24, V6::Str),
];
