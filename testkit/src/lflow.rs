//! `ovn-sbctl lflow-list` text, parsed.

use crate::error::{Error, Result};

/// Which logical pipeline a flow belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pipeline {
    /// `Pipeline: ingress`.
    Ingress,
    /// `Pipeline: egress`.
    Egress,
}

/// One logical flow as `ovn-sbctl [--uuid] lflow-list` prints it. A flow shared
/// by several datapaths (a datapath group) appears once per datapath.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogicalFlow {
    /// Datapath name (`external_ids:name`, e.g. the switch name).
    pub datapath: String,
    /// Datapath_Binding UUID.
    pub datapath_uuid: String,
    /// Ingress or egress.
    pub pipeline: Pipeline,
    /// Logical table number within the pipeline.
    pub table: u8,
    /// Stage name, e.g. `ls_in_l2_lkup`.
    pub stage: String,
    /// Priority.
    pub priority: u16,
    /// Match expression text.
    pub match_expr: String,
    /// Actions text.
    pub actions: String,
    /// `0x` + first 8 hex digits of the Logical_Flow UUID (only with `--uuid`);
    /// the OpenFlow cookie of the flows made from it.
    pub uuid_prefix: Option<String>,
}

impl LogicalFlow {
    /// The OpenFlow cookie ovn-controller gives the flows made from this one (the first 32 bits
    /// of its UUID, from `uuid_prefix`). Compare it as a number or format it with `{:#x}`, as
    /// `ovs-ofctl dump-flows` prints it without leading zeros.
    pub fn cookie(&self) -> Option<u32> {
        let hex = self.uuid_prefix.as_deref()?;
        u32::from_str_radix(hex.strip_prefix("0x").unwrap_or(hex), 16).ok()
    }
}

/// Parses `ovn-sbctl lflow-list` (with or without `--uuid`).
pub fn parse_lflow_list(text: &str) -> Result<Vec<LogicalFlow>> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, Pipeline)> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Datapath: ") {
            current =
                Some(parse_header(rest).ok_or_else(|| bad("lflow-list datapath line", line))?);
            continue;
        }
        let (datapath, datapath_uuid, pipeline) = current
            .clone()
            .ok_or_else(|| bad("lflow-list (flow before any Datapath line)", line))?;
        let flow = parse_flow(trimmed).ok_or_else(|| bad("lflow-list flow line", line))?;
        out.push(LogicalFlow {
            datapath,
            datapath_uuid,
            pipeline,
            ..flow
        });
    }
    Ok(out)
}

fn bad(what: &'static str, line: &str) -> Error {
    Error::Parse {
        what,
        text: line.to_owned(),
    }
}

/// `"sw0" (0344edb6-...)  Pipeline: ingress`
fn parse_header(rest: &str) -> Option<(String, String, Pipeline)> {
    let (dp, pipeline) = rest.rsplit_once("Pipeline:")?;
    let pipeline = match pipeline.trim() {
        "ingress" => Pipeline::Ingress,
        "egress" => Pipeline::Egress,
        _ => return None,
    };
    let (name, uuid) = dp.trim().rsplit_once(" (")?;
    let uuid = uuid.strip_suffix(')')?;
    let name = name.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    Some((name.to_owned(), uuid.to_owned(), pipeline))
}

/// `[uuid=0x8a3b4b8e, ]table=0 (ls_in_check_port_sec), priority=100  , match=(M), action=(A)`
fn parse_flow(line: &str) -> Option<LogicalFlow> {
    let (uuid_prefix, rest) = match line.strip_prefix("uuid=") {
        Some(r) => {
            let (u, r) = r.split_once(',')?;
            (Some(u.trim().to_owned()), r.trim_start())
        }
        None => (None, line),
    };
    let rest = rest.strip_prefix("table=")?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    let (table, rest) = rest.split_at(digits);
    let rest = rest.trim_start().strip_prefix('(')?;
    let (stage, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix(',')?.trim_start();
    let rest = rest.strip_prefix("priority=")?;
    let (priority, rest) = rest.split_once(',')?;
    let rest = rest.trim_start().strip_prefix("match=(")?;
    let (match_expr, actions) = rest.split_once("), action=(")?;
    let actions = actions.strip_suffix(')')?;
    Some(LogicalFlow {
        datapath: String::new(),
        datapath_uuid: String::new(),
        pipeline: Pipeline::Ingress,
        table: table.trim().parse().ok()?,
        stage: stage.trim().to_owned(),
        priority: priority.trim().parse().ok()?,
        match_expr: match_expr.to_owned(),
        actions: actions.to_owned(),
        uuid_prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let text =
            "Datapath: \"sw0\" (0344edb6-91de-4df4-82b3-0c71ab899b61)  Pipeline: ingress\n  \
            table=0 (ls_in_check_port_sec), priority=100  , match=(eth.src[40]), action=(drop;)\n  \
            table=3 (ls_in_put_fdb      ), priority=0    , match=(1), action=(next;)\n  \
            table=10(ls_in_qos_meter    ), priority=0    , match=(1), action=(next;)\n\
            Datapath: \"sw0\" (0344edb6-91de-4df4-82b3-0c71ab899b61)  Pipeline: egress\n  \
            uuid=0x4f4f25ba, table=8 (ls_out_check_port_sec), priority=0    , match=(1), \
            action=(reg0[15] = check_out_port_sec(); next;)\n";
        let flows = parse_lflow_list(text).unwrap();
        assert_eq!(flows.len(), 4);
        assert_eq!(
            (flows[2].table, flows[2].stage.as_str()),
            (10, "ls_in_qos_meter")
        );
        assert_eq!(flows[0].datapath, "sw0");
        assert_eq!(flows[0].match_expr, "eth.src[40]");
        assert_eq!(flows[1].stage, "ls_in_put_fdb");
        assert_eq!(flows[3].pipeline, Pipeline::Egress);
        assert_eq!(flows[3].uuid_prefix.as_deref(), Some("0x4f4f25ba"));
        assert_eq!(flows[3].cookie(), Some(0x4f4f25ba));
        assert_eq!(flows[3].actions, "reg0[15] = check_out_port_sec(); next;");
        assert_eq!(flows[3].table, 8);
    }

    #[test]
    fn cookie_has_no_leading_zeros() {
        let text =
            "Datapath: \"sw0\" (0344edb6-91de-4df4-82b3-0c71ab899b61)  Pipeline: ingress\n  \
            uuid=0x0e1f74b9, table=0 (ls_in_check_port_sec), priority=0    , match=(1), \
            action=(next;)\n";
        let flows = parse_lflow_list(text).unwrap();
        assert_eq!(flows[0].uuid_prefix.as_deref(), Some("0x0e1f74b9"));
        assert_eq!(
            format!("cookie={:#x}", flows[0].cookie().unwrap()),
            "cookie=0xe1f74b9"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_lflow_list("hello").is_err());
    }
}
