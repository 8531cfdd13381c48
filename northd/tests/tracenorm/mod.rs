//! `ofproto/trace` output normalised for comparing two stacks that run the same logical
//! topology with different northds (shared by `trace_parity.rs` and the CLI's `trace_ovnk.rs`).
//!
//! Only what the packet becomes and where it goes is kept: every pass's `Datapath actions:`
//! (ofproto/trace resumes after each recirculation, e.g. after `ct(...,nat)`, and prints each
//! pass's actions; joined with ` || `), plus the OpenFlow `controller(...)` and `learn(...)`
//! actions the trace went through and the logical destination of its tunnel outputs. See
//! [`normalise`] for what is renamed and why.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

/// How a stack names what the traces refer to by number.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Datapath port number -> name: `out:LOGICAL_PORT` for interfaces bound to a logical
    /// port, `out:tunnel:REMOTE_IP` for tunnels, `out:OVS_PORT` for the others (e.g. other
    /// bridges' ports).
    pub dp_ports: BTreeMap<String, String>,
    /// Datapath tunnel key -> logical datapath name (Geneve VNI / `tun_id`).
    pub datapaths: BTreeMap<u64, String>,
    /// (datapath tunnel key, port tunnel key) -> logical port name (Geneve option
    /// `class=0x102,type=0x80`: `inport key << 16 | outport key`).
    pub ports: BTreeMap<(u64, u64), String>,
}

impl Names {
    /// Names for the bound interfaces only.
    pub fn bound(ports: &BTreeMap<String, testkit::BoundPort>) -> Self {
        let mut n = Self::default();
        n.add_bound(ports);
        n
    }

    /// Adds `out:LOGICAL_PORT` names for bound interfaces (they take precedence over OVS port
    /// names).
    pub fn add_bound(&mut self, ports: &BTreeMap<String, testkit::BoundPort>) {
        for p in ports.values() {
            self.dp_ports
                .insert(p.dp_port.to_string(), format!("out:{}", p.logical_port));
        }
    }

    /// Adds every datapath port of every bridge of the stack (`dpif/show`) by OVS port name,
    /// and the stack's SB tunnel keys (`Datapath_Binding`, `Port_Binding`) by logical name.
    pub fn add_stack(&mut self, stack: &testkit::Stack) {
        for p in stack.datapath_ports().expect("dpif/show") {
            // Tunnel ports by remote IP: their names (`ovn-chassi-0`...) are numbered in the
            // order ovn-controller meets the chassis.
            let name = if ["geneve", "vxlan", "stt"].contains(&p.kind.as_str()) {
                let ip = stack
                    .vsctl(["get", "Interface", &p.name, "options:remote_ip"])
                    .expect("tunnel remote_ip");
                format!("tunnel:{}", ip.trim().trim_matches('"'))
            } else {
                p.name.clone()
            };
            self.dp_ports
                .entry(p.dp_port.to_string())
                .or_insert_with(|| format!("out:{name}"));
        }
        let dps = json_rows(
            &stack
                .sbctl([
                    "--format=json",
                    "--columns=_uuid,tunnel_key,external_ids",
                    "list",
                    "Datapath_Binding",
                ])
                .expect("list Datapath_Binding"),
        );
        let mut by_uuid: BTreeMap<String, u64> = BTreeMap::new();
        for r in dps {
            let (Some(uuid), Some(key)) = (r[0][1].as_str(), r[1].as_u64()) else {
                continue;
            };
            let name = r[2][1]
                .as_array()
                .into_iter()
                .flatten()
                .find(|kv| kv[0] == "name")
                .and_then(|kv| kv[1].as_str())
                .unwrap_or(uuid)
                .to_owned();
            by_uuid.insert(uuid.to_owned(), key);
            self.datapaths.insert(key, name);
        }
        let pbs = json_rows(
            &stack
                .sbctl([
                    "--format=json",
                    "--columns=datapath,tunnel_key,logical_port",
                    "list",
                    "Port_Binding",
                ])
                .expect("list Port_Binding"),
        );
        for r in pbs {
            if let (Some(dp), Some(key), Some(name)) = (
                r[0][1].as_str().and_then(|u| by_uuid.get(u)),
                r[1].as_u64(),
                r[2].as_str(),
            ) {
                self.ports.insert((*dp, key), name.to_owned());
            }
        }
        let groups = json_rows(
            &stack
                .sbctl([
                    "--format=json",
                    "--columns=datapath,tunnel_key,name",
                    "list",
                    "Multicast_Group",
                ])
                .expect("list Multicast_Group"),
        );
        for r in groups {
            if let (Some(dp), Some(key), Some(name)) = (
                r[0][1].as_str().and_then(|u| by_uuid.get(u)),
                r[1].as_u64(),
                r[2].as_str(),
            ) {
                self.ports.insert((*dp, key), format!("mc:{name}"));
            }
        }
    }

    fn dp_name(&self, key: u64) -> String {
        self.datapaths
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("?{key:#x}"))
    }

    fn port_name(&self, dp: u64, key: u64) -> String {
        self.ports
            .get(&(dp, key))
            .cloned()
            .unwrap_or_else(|| format!("?{key:#x}"))
    }
}

/// The logical destination of every OpenFlow output to a tunnel in the trace, named:
/// `tunnel(dp=DATAPATH,in=PORT,out=PORT)`. ovn-controller encodes the logical datapath in the
/// tunnel key and the logical input and output ports (or multicast group) in the OVN Geneve
/// option (`tun_metadata0`: input key in bits 16..30, output key in bits 0..15); the dummy
/// datapath's actions do not show them, so they are read from the OpenFlow actions
/// (`set_field:K->tun_id`, `set_field:K->tun_metadata0`, the `move` of the input key) up to the
/// `output:` they precede.
pub fn tunnel_outputs(text: &str, names: &Names) -> Vec<String> {
    let mut out = Vec::new();
    let (mut dp, mut md, mut inport): (Option<u64>, u64, u64) = (None, 0, 0);
    let value = |v: &str| parse_num(v.split('/').next().unwrap_or(v));
    for l in text.lines().map(str::trim) {
        if let Some(v) = l
            .strip_prefix("set_field:")
            .and_then(|a| a.strip_suffix("->tun_id"))
        {
            (dp, md, inport) = (value(v), 0, 0);
        } else if let Some(v) = l
            .strip_prefix("set_field:")
            .and_then(|a| a.strip_suffix("->tun_metadata0"))
        {
            md = value(v).unwrap_or(0);
        } else if let Some(v) = l
            .strip_prefix("-> NXM_NX_TUN_METADATA0[16..30] is now ")
            .and_then(value)
        {
            inport = v;
        } else if l.starts_with("output:") {
            if let Some(d) = dp.take() {
                out.push(format!(
                    "tunnel(dp={},in={},out={})",
                    names.dp_name(d),
                    names.port_name(d, inport),
                    names.port_name(d, md & 0xffff)
                ));
            }
        }
    }
    out
}

/// The rows of `ovn-sbctl --format=json list` output, each the array of its cells.
fn json_rows(text: &str) -> Vec<Vec<serde_json::Value>> {
    let v: serde_json::Value = serde_json::from_str(text).expect("ovn-sbctl json output");
    v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_array().cloned())
        .collect()
}

/// Renames every number that follows `key` in `s` to `<tag>N`, N counting distinct values in
/// order of first appearance, so equal values stay equal and different ones different.
pub fn rename_numbers(s: &str, key: &str, tag: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = number_end(rest);
        let value = rest[..end].to_owned();
        let n = match seen.iter().position(|v| *v == value) {
            Some(n) => n,
            None => {
                seen.push(value);
                seen.len() - 1
            }
        };
        out.push_str(&format!("<{tag}{n}>"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn number_end(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_hexdigit() || c == 'x'))
        .unwrap_or(s.len())
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Replaces the tunnel keys northd allocated by the logical names they stand for: the
/// datapath key after `tun_id=` / `vni=` becomes `<dp:NAME>`, and the OVN Geneve option that
/// follows it (`class=0x102,type=0x80,len=4,0xIIIIOOOO`: logical inport and outport keys)
/// becomes `<ports:IN>OUT>`. Unknown keys are left as they are (so they still compare unequal
/// when they differ).
pub fn rename_tunnel_keys(s: &str, names: &Names) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut dp: Option<u64> = None;
    loop {
        let next = ["tun_id=", "vni=", "class=0x102,type=0x80,len=4,"]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, *k)))
            .min();
        let Some((i, key)) = next else { break };
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = number_end(rest);
        let value = parse_num(&rest[..end]);
        let named = if key.starts_with("class") {
            value.zip(dp).and_then(|(v, dp)| {
                let port = |k: u64| names.ports.get(&(dp, k)).map_or("?", String::as_str);
                let (i, o) = (v >> 16, v & 0xffff);
                names
                    .ports
                    .get(&(dp, i))
                    .or(names.ports.get(&(dp, o)))
                    .map(|_| format!("<ports:{}>{}>", port(i), port(o)))
            })
        } else {
            dp = value;
            value.and_then(|v| names.datapaths.get(&v).map(|n| format!("<dp:{n}>")))
        };
        match named {
            Some(n) => out.push_str(&n),
            None => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The `Datapath actions:` of a trace (of every pass, joined with ` || `), normalised so that
/// only what the packet becomes and where it goes is compared:
///
/// 1. Datapath port numbers (top-level output actions, `tnl_port(N)`, `out_port(N)`) become
///    names ([`Names::dp_ports`]: the logical port bound to that interface, else the OVS port),
///    so the comparison does not depend on port numbering.
/// 2. Tunnel keys (datapath and port keys, allocated by northd) become logical names
///    ([`rename_tunnel_keys`]).
/// 3. `zone=N` (conntrack zones: ovn-controller allocates them per logical port / datapath on
///    each chassis) become `<zoneK>` by order of appearance.
/// 4. `recirc(N)` / `recirc_id=N` (recirculation ids: allocated by ovs-vswitchd per run)
///    become `<recircK>`.
/// 5. `rule_cookie=N` in controller actions (the first 32 bits of the logical flow's UUID, which
///    differs between the two SBs) becomes `<cookieK>`.
/// 6. `pid=N` in `userspace(...)` (the netlink pid of the handler thread) becomes `<pidK>`.
/// 7. `meter_id=N` in controller actions (OpenFlow meters, numbered by ovn-controller)
///    becomes `<meterK>`.
/// 8. Consecutive outputs (a flood to a multicast group) are sorted by port name: ovn-controller
///    emits a group's ports in the order it iterates the group's Port_Binding references, which
///    follows row UUIDs and port tunnel keys, both allocated differently by the two northds.
///
/// Appended to the datapath actions: every OpenFlow `controller(...)` action the trace went
/// through, userdata included (it is what pinctrl acts on; a paused packet's datapath actions
/// are just `drop`), every OpenFlow `learn(...)` action (load balancer affinity), and the
/// logical datapath and ports of every tunnel output ([`tunnel_outputs`]).
///
/// Nothing else is touched: MACs, IPs, TTLs, ct marks/labels/nat arguments, meter and
/// controller details must be equal. The `Final flow:` and `Megaflow:` lines are not compared:
/// they carry registers and metadata holding datapath and port tunnel keys, which northd
/// allocates and which legitimately differ.
pub fn normalise(trace: &testkit::OfprotoTrace, names: &Names) -> String {
    let passes: Vec<String> = trace
        .text()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Datapath actions:"))
        .map(|a| pass_actions(a.trim(), &names.dp_ports))
        .collect();
    let joined = passes.join(" || ");
    // The OpenFlow `controller(...)` actions the packet reached (DHCP, ICMP errors, ARP
    // requests, ...): their userdata encodes what ovn-controller's pinctrl will do, while the
    // datapath actions of a paused packet only say `drop`. And its `learn(...)` actions
    // (load balancer affinity: VIP, backend, timeout), which the datapath actions do not show.
    let controller: Vec<&str> = trace
        .text()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("controller(") || l.starts_with("learn("))
        .collect();
    let joined = if controller.is_empty() {
        joined
    } else {
        format!("{joined} | {}", controller.join(" | "))
    };
    let tunnels = tunnel_outputs(trace.text(), names);
    let joined = if tunnels.is_empty() {
        joined
    } else {
        format!("{joined} | {}", tunnels.join(" | "))
    };
    let mut s = rename_tunnel_keys(&joined, names);
    s = rename_numbers(&s, "zone=", "zone");
    s = rename_numbers(&s, "meter_id=", "meter");
    s = rename_numbers(&s, "recirc(", "recirc");
    s = rename_numbers(&s, "recirc_id=", "recirc");
    s = rename_numbers(&s, "rule_cookie=", "cookie");
    rename_numbers(&s, "pid=", "pid")
}

/// Top-level comma split (outside parentheses).
fn split_top(actions: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for c in actions.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
}

/// Replaces the number inside every `key(N)` of `s` by its name.
fn name_ports_in(s: &str, key: &str, dp_ports: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = rest.find(')').unwrap_or(rest.len());
        match dp_ports.get(&rest[..end]) {
            Some(n) => out.push_str(n),
            None => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One pass's datapath actions with output ports named and floods sorted.
fn pass_actions(actions: &str, dp_ports: &BTreeMap<String, String>) -> String {
    let mut mapped: Vec<String> = split_top(actions)
        .into_iter()
        .map(|p| match dp_ports.get(p.trim()) {
            Some(name) => name.clone(),
            None => {
                let p = name_ports_in(&p, "tnl_port(", dp_ports);
                name_ports_in(&p, "out_port(", dp_ports)
            }
        })
        .collect();
    // Runs of consecutive outputs (a flood) sorted.
    let mut i = 0;
    while i < mapped.len() {
        let mut j = i;
        while j < mapped.len() && mapped[j].starts_with("out:") {
            j += 1;
        }
        mapped[i..j].sort();
        i = j.max(i + 1);
    }
    mapped.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_numbers_by_first_appearance() {
        assert_eq!(
            rename_numbers(
                "ct(zone=5),recirc(0x1a),ct(zone=5),ct(zone=7)",
                "zone=",
                "zone"
            ),
            "ct(zone=<zone0>),recirc(0x1a),ct(zone=<zone0>),ct(zone=<zone1>)"
        );
        assert_eq!(
            rename_numbers("recirc(0x1a)", "recirc(", "recirc"),
            "recirc(<recirc0>)"
        );
    }

    #[test]
    fn reads_tunnel_outputs_from_openflow_actions() {
        let mut names = Names::default();
        names.datapaths.insert(4, "node-01".to_owned());
        names.ports.insert((4, 5), "stor-node-01".to_owned());
        names.ports.insert((4, 6), "ns_pod".to_owned());
        // As ofproto/trace prints ovn-controller's remote output (OpenFlow table 39).
        let text = "        39. reg15=0x6,metadata=0x4, priority 100, cookie 0xbc26af8d
            set_field:0x4/0xffffff->tun_id
            set_field:0x6->tun_metadata0
            move:NXM_NX_REG14[0..14]->NXM_NX_TUN_METADATA0[16..30]
             -> NXM_NX_TUN_METADATA0[16..30] is now 0x5
            output:1
            resubmit(,40)
            output:3
";
        assert_eq!(
            tunnel_outputs(text, &names),
            ["tunnel(dp=node-01,in=stor-node-01,out=ns_pod)"]
        );
        assert_eq!(
            tunnel_outputs(&text.replace("0x4/0xffffff", "0x9/0xffffff"), &names),
            ["tunnel(dp=?0x9,in=?0x5,out=?0x6)"]
        );
    }

    #[test]
    fn names_tunnel_keys() {
        let mut names = Names::default();
        names.datapaths.insert(3, "node-01".to_owned());
        names.ports.insert((3, 1), "stor-node-01".to_owned());
        names.ports.insert((3, 4), "ns_pod".to_owned());
        assert_eq!(
            rename_tunnel_keys(
                "set(tunnel(tun_id=0x3,dst=1.1.1.1,geneve({class=0x102,type=0x80,len=4,0x10004}))),2",
                &names
            ),
            "set(tunnel(tun_id=<dp:node-01>,dst=1.1.1.1,geneve({class=0x102,type=0x80,len=4,\
             <ports:stor-node-01>ns_pod>}))),2"
        );
        // Unknown keys stay.
        assert_eq!(
            rename_tunnel_keys("tun_id=0x9,len=4,0x10004", &names),
            "tun_id=0x9,len=4,0x10004"
        );
    }
}
