//! `ofproto/trace` and `dpif/show` output, parsed.

use crate::error::{Error, Result};

/// The result of `ovs-appctl ofproto/trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfprotoTrace {
    text: String,
    datapath_actions: String,
}

impl OfprotoTrace {
    /// Parses the full trace text; it must contain a `Datapath actions:` line.
    pub fn parse(text: String) -> Result<Self> {
        let datapath_actions = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("Datapath actions:"))
            .map(|a| a.trim().to_owned())
            .ok_or_else(|| Error::Parse {
                what: "ofproto/trace (no `Datapath actions:` line)",
                text: text.chars().take(2000).collect(),
            })?;
        Ok(Self {
            text,
            datapath_actions,
        })
    }

    /// The whole trace as printed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What follows `Datapath actions:` (e.g. `3`, `drop`, `set(...),3`).
    pub fn datapath_actions(&self) -> &str {
        &self.datapath_actions
    }

    /// Datapath ports the packet is output to: the top-level actions that are
    /// plain port numbers, in order.
    pub fn output_ports(&self) -> Vec<u32> {
        split_top_level(&self.datapath_actions)
            .into_iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    }

    /// Whether the packet is dropped.
    pub fn is_drop(&self) -> bool {
        self.datapath_actions == "drop"
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One port in `ovs-appctl dpif/show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatapathPort {
    /// Bridge it belongs to.
    pub bridge: String,
    /// Port name.
    pub name: String,
    /// OpenFlow port number.
    pub ofport: u32,
    /// Datapath port number.
    pub dp_port: u32,
    /// The parenthesized type and options, e.g. `dummy`.
    pub kind: String,
}

/// Parses `ovs-appctl dpif/show`. Ports without a datapath port (patch ports, shown as
/// `N/none`: ovs-vswitchd handles them itself) are left out.
pub fn parse_dpif_show(text: &str) -> Result<Vec<DatapathPort>> {
    let mut out = Vec::new();
    let mut bridge: Option<String> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 0 || t.is_empty() {
            continue; // "dummy@ovs-dummy: hit:0 missed:0"
        }
        if t.split_whitespace()
            .nth(1)
            .is_some_and(|n| n.ends_with("/none:"))
        {
            continue; // "patch-a-to-b 2/none: (patch: peer=patch-b-to-a)"
        }
        if let Some(b) = t.strip_suffix(':') {
            if !b.contains(' ') {
                bridge = Some(b.to_owned());
                continue;
            }
        }
        let port = parse_port(t).ok_or_else(|| Error::Parse {
            what: "dpif/show port line",
            text: line.to_owned(),
        })?;
        let bridge = bridge.clone().ok_or_else(|| Error::Parse {
            what: "dpif/show (port before bridge)",
            text: line.to_owned(),
        })?;
        out.push(DatapathPort { bridge, ..port });
    }
    Ok(out)
}

/// `p1 1/2: (dummy)`
fn parse_port(t: &str) -> Option<DatapathPort> {
    let (name, rest) = t.split_once(' ')?;
    let (numbers, kind) = rest.split_once(':')?;
    let (of, dp) = numbers.trim().split_once('/')?;
    let kind = kind.trim();
    let kind = kind
        .strip_prefix('(')
        .and_then(|k| k.strip_suffix(')'))
        .unwrap_or(kind);
    Some(DatapathPort {
        bridge: String::new(),
        name: name.to_owned(),
        ofport: of.parse().ok()?,
        dp_port: dp.parse().ok()?,
        kind: kind.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpif_show() {
        let text = "dummy@ovs-dummy: hit:0 missed:0\n  br-int:\n    br-int 65534/1: (dummy-internal)\n    \
                    p1 1/2: (dummy)\n    p2 2/3: (dummy)\n    \
                    patch-br-int-to-ln 4/none: (patch: peer=patch-ln-to-br-int)\n";
        let ports = parse_dpif_show(text).unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports[2].name, "p2");
        assert_eq!((ports[2].ofport, ports[2].dp_port), (2, 3));
        assert_eq!(ports[0].kind, "dummy-internal");
        assert_eq!(ports[1].bridge, "br-int");
    }

    #[test]
    fn trace_outputs() {
        let t = OfprotoTrace::parse(
            "x\nFinal flow: ...\nDatapath actions: set(eth(src=1)),3,clone(4),5\n".into(),
        )
        .unwrap();
        assert_eq!(t.output_ports(), [3, 5]);
        assert!(!t.is_drop());
        assert!(OfprotoTrace::parse("nothing".into()).is_err());
    }
}
