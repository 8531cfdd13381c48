//! Load balancer health checks: the Southbound `Service_Monitor` rows ovn-controller probes
//! backends with, the backends a health-checked VIP still sends to, and the ARP replies for
//! the probes' source addresses.
//!
//! A load balancer VIP with a `Load_Balancer_Health_Check` (matched by its `vip`) keeps only the
//! backends that are monitored and not down: a backend is monitored when `ip_port_mappings` maps
//! its (IPv4) address to `PORT:SOURCE_IP` and `PORT` is an enabled switch port; one `Service_Monitor`
//! row is kept per backend address, port, protocol and logical port. A monitor's status comes
//! from SB (ovn-controller writes it): none yet, or `online` on a port that is up, keeps the
//! backend; `online` on a port that is down is written back as `offline` (as ovn-northd 23.03
//! does); `offline` and `error` drop it. A VIP left without backends drops new connections
//! (or rejects them with `options:reject`); its session affinity flows still list every
//! backend. IPv6 backends are never monitored in 23.03, so a health-checked IPv6 VIP sends
//! nowhere. SCTP load balancers are not health checked (every backend is kept).
//!
//! What it does not do: probe anything (ovn-controller does), or inter-connection
//! (`PORT:SOURCE_IP:AZ`) monitors.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ovn_nb::addr::MacAddr;
use ovn_nb::model as nb;
use ovn_sb::model::{ServiceMonitorProtocol, ServiceMonitorStatus};
use ovsdb::model::Ref;

use crate::flow::DpIndex;
use crate::lb::{Endpoint, LoadBalancer};
use crate::snapshot::NbSnapshot;

/// The identity of a `Service_Monitor` row: backend address, port, protocol, logical port.
pub type MonitorKey = (String, u16, ServiceMonitorProtocol, String);

/// One `Service_Monitor` row (the columns northd owns, and the status to force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMonitorContent {
    /// `ip`, `port`, `protocol`, `logical_port`.
    pub key: MonitorKey,
    /// `src_ip`.
    pub src_ip: String,
    /// `src_mac` (the `svc_monitor_mac`).
    pub src_mac: String,
    /// `options` (the health check's).
    pub options: BTreeMap<String, String>,
    /// `Some(Offline)` when an `online` monitor's port is down: northd writes it back.
    pub force_status: Option<ServiceMonitorStatus>,
}

/// The ARP replies for monitor source addresses: per switch datapath, the IPv4 sources of the
/// monitors of its ports, answered with `mac`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SvcArp {
    /// `svc_monitor_mac`, when it parses.
    pub mac: Option<MacAddr>,
    /// Source addresses by switch datapath.
    pub by_dp: BTreeMap<DpIndex, BTreeSet<Ipv4Addr>>,
}

/// Health checks applied: the monitors, and the ARP replies their sources need.
#[derive(Debug, Clone, Default)]
pub struct HealthChecks {
    /// `Service_Monitor` rows, by key.
    pub monitors: BTreeMap<MonitorKey, ServiceMonitorContent>,
    /// ARP replies for the monitors' sources.
    pub arp: SvcArp,
}

/// Applies the health checks of every load balancer in `lbs` (parsed from `nb`): filters
/// their VIPs' backends and returns the monitors. `port` gives a switch port's datapath and
/// whether it is up; `status` a monitor's SB status.
pub fn apply(
    nb: &NbSnapshot,
    svc_monitor_mac: &str,
    lbs: &mut BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    port: &dyn Fn(&str) -> Option<(DpIndex, bool)>,
    status: &BTreeMap<MonitorKey, ServiceMonitorStatus>,
) -> HealthChecks {
    let mut out = HealthChecks {
        arp: SvcArp {
            mac: svc_monitor_mac.parse().ok(),
            by_dp: BTreeMap::new(),
        },
        ..HealthChecks::default()
    };
    // Without a health check row no VIP is checked: nothing to filter (and no walk over
    // tens of thousands of load balancers on OVN-Kubernetes).
    if nb.lb_health_checks.is_empty() {
        return out;
    }
    // Names of disabled switch ports, gathered when the first monitor needs them.
    let mut disabled: Option<BTreeSet<&str>> = None;
    for (r, lb) in lbs.iter_mut() {
        let Some(row) = nb.load_balancers.get(r) else {
            continue;
        };
        if row.health_check.is_empty() {
            continue;
        }
        let checks: Vec<(Endpoint, &nb::LoadBalancerHealthCheck)> = row
            .health_check
            .iter()
            .filter_map(|h| nb.lb_health_checks.get(h))
            .filter_map(|h| Some((Endpoint::parse(&h.vip)?, h)))
            .collect();
        let protocol = match lb.protocol {
            "udp" => Some(ServiceMonitorProtocol::Udp),
            "tcp" => Some(ServiceMonitorProtocol::Tcp),
            _ => None,
        };
        // An SCTP load balancer is not health checked: its VIPs keep every backend.
        if protocol.is_none() {
            continue;
        }
        for v in &mut lb.vips {
            let Some((_, check)) = checks.iter().find(|(e, _)| *e == v.vip) else {
                continue;
            };
            let mut active = Vec::new();
            for b in &v.backends {
                let Some(m) = monitor(row, check, protocol, b, svc_monitor_mac, port) else {
                    continue;
                };
                // The monitor's source address is answered on the port's switch, even for a
                // disabled port.
                if let (Ok(IpAddr::V4(src)), Some((dp, _))) =
                    (m.src_ip.parse::<IpAddr>(), port(&m.key.3))
                {
                    out.arp.by_dp.entry(dp).or_default().insert(src);
                }
                // A disabled port's backend is not monitored (and so not used).
                let disabled = disabled.get_or_insert_with(|| {
                    nb.switch_ports
                        .values()
                        .filter(|l| l.enabled == Some(false))
                        .map(|l| l.name.as_str())
                        .collect::<BTreeSet<&str>>()
                });
                if disabled.contains(m.key.3.as_str()) {
                    continue;
                }
                let up = port(&m.key.3).is_some_and(|(_, up)| up);
                let mut m = m;
                let keep = match status.get(&m.key) {
                    None => true,
                    Some(ServiceMonitorStatus::Online) if up => true,
                    Some(ServiceMonitorStatus::Online) => {
                        m.force_status = Some(ServiceMonitorStatus::Offline);
                        false
                    }
                    Some(_) => false,
                };
                if keep {
                    active.push(b.to_string());
                }
                out.monitors.entry(m.key.clone()).or_insert(m);
            }
            v.nb_backends = active.join(",");
            v.health_down = active.is_empty();
        }
    }
    out
}

/// The monitor of backend `b` of a VIP checked by `check`, when it is monitored.
fn monitor(
    lb: &nb::LoadBalancer,
    check: &nb::LoadBalancerHealthCheck,
    protocol: Option<ServiceMonitorProtocol>,
    b: &Endpoint,
    svc_monitor_mac: &str,
    port: &dyn Fn(&str) -> Option<(DpIndex, bool)>,
) -> Option<ServiceMonitorContent> {
    let IpAddr::V4(ip) = b.ip else {
        return None;
    };
    let mapping = lb.ip_port_mappings.get(&ip.to_string())?;
    let (lport, src_ip) = mapping.split_once(':')?;
    port(lport)?;
    Some(ServiceMonitorContent {
        key: (ip.to_string(), b.port?, protocol?, lport.to_owned()),
        src_ip: src_ip.to_owned(),
        src_mac: svc_monitor_mac.to_owned(),
        options: check.options.clone().into(),
        force_status: None,
    })
}
