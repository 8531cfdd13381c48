//! `show`: the switch and router overview ovn-nbctl prints.
//!
//! Ports and NAT rules come in the order of the referencing column (UUID order), as ovn-nbctl
//! 23.03 walks them; switches and routers in UUID order (ovn-nbctl uses its hash order).

use ovsdb::model::Uuid;

use super::error::Result;
use super::lookup::Kind;
use super::txn::Nbctl;

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn quoted_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", q.join(", "))
}

impl Nbctl {
    /// `show [SWITCH | ROUTER]` (nothing is printed for a name that is neither).
    pub fn show(&self, which: Option<&str>) -> Result<String> {
        let lst = self.table_index("Logical_Switch")?;
        let lrt = self.table_index("Logical_Router")?;
        let mut out = String::new();
        let (switches, routers) = match which {
            Some(id) => (
                self.lookup(Kind::Switch, id, false)?.into_iter().collect(),
                self.lookup(Kind::Router, id, false)?.into_iter().collect(),
            ),
            None => (self.uuids(lst), self.uuids(lrt)),
        };
        for ls in switches {
            self.show_switch(&mut out, ls)?;
        }
        for lr in routers {
            self.show_router(&mut out, lr)?;
        }
        Ok(out)
    }

    /// ` (aka ALIAS)` from `external_ids:KEY`, or "".
    fn alias(&self, t: usize, u: Uuid, key: &str) -> String {
        match self.get_map(t, u, "external_ids").get(key) {
            Some(a) if !a.is_empty() => format!(" (aka {a})"),
            _ => String::new(),
        }
    }

    fn show_switch(&self, out: &mut String, ls: Uuid) -> Result<()> {
        let lst = self.table_index("Logical_Switch")?;
        let pt = self.table_index("Logical_Switch_Port")?;
        out.push_str(&format!(
            "switch {ls} ({}){}\n",
            self.get_str(lst, ls, "name"),
            self.alias(lst, ls, "neutron:network_name")
        ));
        for p in self.get_uuids(lst, ls, "ports") {
            out.push_str(&format!(
                "    port {}{}\n",
                self.get_str(pt, p, "name"),
                self.alias(pt, p, "neutron:port_name")
            ));
            let ty = self.get_str(pt, p, "type");
            if !ty.is_empty() {
                out.push_str(&format!("        type: {ty}\n"));
            }
            if let Some(parent) = self.get_opt_str(pt, p, "parent_name") {
                out.push_str(&format!("        parent: {parent}\n"));
            }
            if let Some(tag) = self.get_int(pt, p, "tag") {
                out.push_str(&format!("        tag: {tag}\n"));
            }
            let addrs = self.get_strs(pt, p, "addresses");
            if !addrs.is_empty() && addrs != ["router"] {
                out.push_str(&format!("        addresses: {}\n", quoted_list(&addrs)));
            }
            if let Some(rp) = self.get_map(pt, p, "options").get("router-port") {
                out.push_str(&format!("        router-port: {rp}\n"));
            }
        }
        Ok(())
    }

    fn show_router(&self, out: &mut String, lr: Uuid) -> Result<()> {
        let lrt = self.table_index("Logical_Router")?;
        let pt = self.table_index("Logical_Router_Port")?;
        let gct = self.table_index("Gateway_Chassis")?;
        let nt = self.table_index("NAT")?;
        out.push_str(&format!(
            "router {lr} ({}){}\n",
            self.get_str(lrt, lr, "name"),
            self.alias(lrt, lr, "neutron:router_name")
        ));
        for p in self.get_uuids(lrt, lr, "ports") {
            out.push_str(&format!("    port {}\n", self.get_str(pt, p, "name")));
            out.push_str(&format!(
                "        mac: {}\n",
                quoted(&self.get_str(pt, p, "mac"))
            ));
            let nets = self.get_strs(pt, p, "networks");
            if !nets.is_empty() {
                out.push_str(&format!("        networks: {}\n", quoted_list(&nets)));
            }
            let gcs: Vec<String> = self
                .get_uuids(pt, p, "gateway_chassis")
                .into_iter()
                .map(|g| self.get_str(gct, g, "chassis_name"))
                .collect();
            if !gcs.is_empty() {
                out.push_str(&format!("        gateway chassis: [{}]\n", gcs.join(" ")));
            }
        }
        for n in self.get_uuids(lrt, lr, "nat") {
            out.push_str(&format!("    nat {n}\n"));
            out.push_str(&format!(
                "        external ip: {}\n",
                quoted(&self.get_str(nt, n, "external_ip"))
            ));
            let range = self.get_str(nt, n, "external_port_range");
            if !range.is_empty() {
                out.push_str(&format!("        external port(s): {}\n", quoted(&range)));
            }
            out.push_str(&format!(
                "        logical ip: {}\n",
                quoted(&self.get_str(nt, n, "logical_ip"))
            ));
            out.push_str(&format!(
                "        type: {}\n",
                quoted(&self.get_str(nt, n, "type"))
            ));
        }
        Ok(())
    }
}
