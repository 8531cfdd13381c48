//! Load balancers: `lb-*`, `ls-lb-*`, `lr-lb-*`.

use std::net::{IpAddr, SocketAddr};

use ovsdb::model::Uuid;
use ovsdb::{Atom, Datum};

use super::error::{NbctlError, Result};
use super::lookup::Kind;
use super::txn::{str_atom, str_datum, Nbctl};

/// Options of `lb-add`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LbOpts {
    /// `--may-exist`: replace the backends of an existing VIP.
    pub may_exist: bool,
    /// `--add-duplicate`: always create a new load balancer.
    pub add_duplicate: bool,
    /// `--reject`: `options:reject=true`.
    pub reject: bool,
    /// `--event`: `options:event=true`.
    pub event: bool,
}

/// `IP[:PORT]` or `[IPV6][:PORT]` (or a bare IPv6 address): the address and the port (0 for
/// none).
fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some((sa.ip(), sa.port()));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, 0));
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| (IpAddr::V6(a), 0))
}

fn normalize_vip(s: &str) -> Option<(String, IpAddr, u16)> {
    let (ip, port) = parse_endpoint(s)?;
    let text = match (ip, port) {
        (IpAddr::V6(a), p) if p != 0 => format!("[{a}]:{p}"),
        (a, 0) => a.to_string(),
        (a, p) => format!("{a}:{p}"),
    };
    Some((text, ip, port))
}

impl Nbctl {
    /// `lb-add LB VIP[:PORT] IP[:PORT][,IP[:PORT]]... [PROTOCOL]`.
    pub fn lb_add(
        &mut self,
        name: &str,
        vip: &str,
        ips: &str,
        protocol: Option<&str>,
        opts: LbOpts,
    ) -> Result<()> {
        if opts.event && opts.reject {
            return Err(NbctlError::Usage(
                "--reject and --event can't specified at the same time".into(),
            ));
        }
        let lbt = self.table_index("Load_Balancer")?;
        if let Some(p) = protocol {
            if !matches!(p, "tcp" | "udp" | "sctp") {
                return Err(NbctlError::invalid(format!(
                    "{p}: protocol must be one of \"tcp\", \"udp\",  or \"sctp\"."
                )));
            }
        }
        let (vip_n, vip_ip, vip_port) = normalize_vip(vip).ok_or_else(|| {
            NbctlError::invalid(format!(
                "{vip}: should be an IP address (or an IP address and a port number with : as a \
                 separator)."
            ))
        })?;
        if vip_port == 0 && protocol.is_some() {
            return Err(NbctlError::invalid(
                "Protocol is unnecessary when no port of vip is given.",
            ));
        }
        let mut backends = Vec::new();
        for token in ips.split(',').filter(|t| !t.is_empty()) {
            let ip = if vip_port != 0 {
                match parse_endpoint(token) {
                    Some((ip, p)) if p != 0 || ip.is_ipv6() => ip,
                    _ => {
                        return Err(NbctlError::invalid(format!(
                            "{token}: should be an IP address and a port number with : as a \
                             separator."
                        )))
                    }
                }
            } else {
                match token.parse::<IpAddr>() {
                    Ok(ip) => ip,
                    Err(_) => {
                        return Err(NbctlError::invalid(format!(
                            "{token}: should be an IP address."
                        )))
                    }
                }
            };
            if ip.is_ipv4() != vip_ip.is_ipv4() {
                return Err(NbctlError::invalid(format!(
                    "{token}: IP address family is different from VIP {vip_n}."
                )));
            }
            backends.push(token);
        }
        let backends = backends.join(",");
        if !opts.add_duplicate {
            if let Some(lb) = self.lookup(Kind::LoadBalancer, name, false)? {
                let mut vips = self.get_map(lbt, lb, "vips");
                if vips.contains_key(&vip_n) && !opts.may_exist {
                    return Err(NbctlError::exists(format!(
                        "{name}: a load balancer with this vip ({vip_n}) already exists"
                    )));
                }
                vips.insert(vip_n, backends);
                if let Some(p) = protocol {
                    self.set_str(lbt, lb, "protocol", p);
                }
                self.set(lbt, lb, "vips", super::txn::map_datum(&vips));
                return Ok(());
            }
        }
        let mut cols = vec![
            ("name", str_datum(name)),
            ("protocol", str_datum(protocol.unwrap_or("tcp"))),
            (
                "vips",
                Datum::Map(vec![(str_atom(&vip_n), str_atom(&backends))].into()),
            ),
        ];
        if opts.reject || opts.event {
            let key = if opts.reject { "reject" } else { "event" };
            cols.push((
                "options",
                Datum::Map(vec![(str_atom(key), str_atom("true"))].into()),
            ));
        }
        self.insert(lbt, cols);
        Ok(())
    }

    /// `lb-del LB [VIP]`: deletes a VIP (and the load balancer with its last VIP) or the whole
    /// load balancer.
    pub fn lb_del(&mut self, name: &str, vip: Option<&str>, if_exists: bool) -> Result<()> {
        let lbt = self.table_index("Load_Balancer")?;
        let Some(lb) = self.lookup(Kind::LoadBalancer, name, false)? else {
            return Ok(());
        };
        let Some(vip) = vip else {
            self.delete_lb(lbt, lb);
            return Ok(());
        };
        let key = normalize_vip(vip).map_or_else(|| vip.to_owned(), |v| v.0);
        let mut vips = self.get_map(lbt, lb, "vips");
        if vips.remove(&key).is_none() {
            if if_exists {
                return Ok(());
            }
            return Err(NbctlError::not_found(format!(
                "vip {vip} is not part of the load balancer."
            )));
        }
        if vips.is_empty() {
            self.delete_lb(lbt, lb);
        } else {
            self.set(lbt, lb, "vips", super::txn::map_datum(&vips));
        }
        Ok(())
    }

    /// Deletes a load balancer and the weak references to it.
    fn delete_lb(&mut self, lbt: usize, lb: Uuid) {
        for (table, col) in [
            ("Logical_Switch", "load_balancer"),
            ("Logical_Router", "load_balancer"),
            ("Load_Balancer_Group", "load_balancer"),
        ] {
            if let Ok(t) = self.table_index(table) {
                for u in self.uuids(t) {
                    if self.get_uuids(t, u, col).contains(&lb) {
                        self.set_remove(t, u, col, &Atom::Uuid(lb));
                    }
                }
            }
        }
        self.delete(lbt, lb);
    }

    fn lb_attach(&mut self, kind: Kind, owner: &str, lb: &str, may_exist: bool) -> Result<()> {
        let ot = self.table_index(kind.table())?;
        let o = self.must(kind, owner)?;
        let l = self.must(Kind::LoadBalancer, lb)?;
        if self.get_uuids(ot, o, "load_balancer").contains(&l) {
            if may_exist {
                return Ok(());
            }
            return Err(NbctlError::exists(format!(
                "{l} : a load balancer with this UUID already exists"
            )));
        }
        self.set_add(ot, o, "load_balancer", Atom::Uuid(l));
        Ok(())
    }

    fn lb_detach(
        &mut self,
        kind: Kind,
        owner: &str,
        lb: Option<&str>,
        if_exists: bool,
    ) -> Result<()> {
        let ot = self.table_index(kind.table())?;
        let o = self.must(kind, owner)?;
        let Some(lb) = lb else {
            self.set(ot, o, "load_balancer", Datum::empty_set());
            return Ok(());
        };
        let l = self.must(Kind::LoadBalancer, lb)?;
        if self.get_uuids(ot, o, "load_balancer").contains(&l) {
            self.set_remove(ot, o, "load_balancer", &Atom::Uuid(l));
        } else if !if_exists {
            let what = if kind == Kind::Switch {
                "switch"
            } else {
                "router"
            };
            return Err(NbctlError::not_found(format!(
                "load balancer {lb} is not part of any logical {what}."
            )));
        }
        Ok(())
    }

    /// `ls-lb-add SWITCH LB`.
    pub fn ls_lb_add(&mut self, switch: &str, lb: &str, may_exist: bool) -> Result<()> {
        self.lb_attach(Kind::Switch, switch, lb, may_exist)
    }

    /// `ls-lb-del SWITCH [LB]`.
    pub fn ls_lb_del(&mut self, switch: &str, lb: Option<&str>, if_exists: bool) -> Result<()> {
        self.lb_detach(Kind::Switch, switch, lb, if_exists)
    }

    /// `lr-lb-add ROUTER LB`.
    pub fn lr_lb_add(&mut self, router: &str, lb: &str, may_exist: bool) -> Result<()> {
        self.lb_attach(Kind::Router, router, lb, may_exist)
    }

    /// `lr-lb-del ROUTER [LB]`.
    pub fn lr_lb_del(&mut self, router: &str, lb: Option<&str>, if_exists: bool) -> Result<()> {
        self.lb_detach(Kind::Router, router, lb, if_exists)
    }
}
