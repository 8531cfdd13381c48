//! Load balancers parsed once: VIPs and backends as addresses, options as typed values.
//! Shared by switch (and later router) pipelines.

use std::fmt;
use std::net::IpAddr;

use ovn_nb::model as nb;
use ovsdb::model::Ref;

use crate::error::NbWarning;

/// An `IP[:port]` endpoint (VIP or backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// The address.
    pub ip: IpAddr,
    /// The L4 port, if any.
    pub port: Option<u16>,
}

impl Endpoint {
    /// Parses `IP`, `IP:port` or `[IPv6]:port`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Some(Self { ip, port: None });
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, port) = rest.split_once("]:")?;
            return Some(Self {
                ip: IpAddr::V6(ip.parse().ok()?),
                port: Some(port.parse().ok()?),
            });
        }
        let (ip, port) = s.rsplit_once(':')?;
        Some(Self {
            ip: IpAddr::V4(ip.parse().ok()?),
            port: Some(port.parse().ok()?),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, None) => write!(f, "{ip}"),
            (IpAddr::V4(ip), Some(p)) => write!(f, "{ip}:{p}"),
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
        }
    }
}

/// One VIP with its backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// The VIP.
    pub vip: Endpoint,
    /// The backends, in NB order.
    pub backends: Vec<Endpoint>,
}

/// A load balancer's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LbOptions {
    /// `reject`: reply with a reject to VIPs without backends.
    pub reject: bool,
    /// `event`: report VIPs without backends to the controller.
    pub event: bool,
    /// `affinity_timeout` in seconds.
    pub affinity_timeout: Option<u32>,
    /// `skip_snat`.
    pub skip_snat: bool,
}

/// A parsed NB load balancer.
#[derive(Debug, Clone)]
pub struct LoadBalancer {
    /// The NB row.
    pub nb: Ref<nb::LoadBalancer>,
    /// `name`.
    pub name: String,
    /// `protocol` (`tcp` when unset).
    pub protocol: &'static str,
    /// VIPs that parsed.
    pub vips: Vec<Vip>,
    /// Options.
    pub options: LbOptions,
}

fn bool_opt(lb: &nb::LoadBalancer, key: &str, warnings: &mut Vec<NbWarning>) -> bool {
    match lb.options.get(key).map(String::as_str) {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(v) => {
            warnings.push(NbWarning::BadOption {
                owner: format!("load balancer {}", lb.name),
                key: key.to_owned(),
                value: v.to_owned(),
            });
            false
        }
    }
}

impl LoadBalancer {
    /// Parses an NB row; bad VIPs and options are reported and left out.
    pub fn parse(lb: &nb::LoadBalancer, warnings: &mut Vec<NbWarning>) -> Self {
        let protocol = lb.protocol.map_or("tcp", |p| p.as_str());
        let mut vips = Vec::new();
        for (k, v) in &lb.vips {
            let Some(vip) = Endpoint::parse(k) else {
                warnings.push(NbWarning::BadOption {
                    owner: format!("load balancer {}", lb.name),
                    key: "vips".to_owned(),
                    value: k.clone(),
                });
                continue;
            };
            let backends = v
                .split(',')
                .filter(|b| !b.trim().is_empty())
                .filter_map(Endpoint::parse)
                .collect();
            vips.push(Vip { vip, backends });
        }
        let affinity_timeout = match lb.options.get("affinity_timeout") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(0) => None,
                Ok(t) => Some(t),
                Err(_) => {
                    warnings.push(NbWarning::BadOption {
                        owner: format!("load balancer {}", lb.name),
                        key: "affinity_timeout".to_owned(),
                        value: v.clone(),
                    });
                    None
                }
            },
        };
        let options = LbOptions {
            reject: bool_opt(lb, "reject", warnings),
            event: bool_opt(lb, "event", warnings),
            affinity_timeout,
            skip_snat: bool_opt(lb, "skip_snat", warnings),
        };
        Self {
            nb: lb.uuid,
            name: lb.name.clone(),
            protocol,
            vips,
            options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for s in ["10.0.0.1", "10.0.0.1:80", "[fd00::1]:53", "fd00::1"] {
            assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
        }
        assert!(Endpoint::parse("10.0.0.1:x").is_none());
    }
}
