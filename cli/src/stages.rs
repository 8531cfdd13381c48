//! `ovnkit stages`: the logical pipeline stage table.

use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use ovn_sb::{DatapathKind, Pipeline, Stage};

/// Arguments of `ovnkit stages`.
#[derive(Debug, Args)]
pub(crate) struct StagesArgs {
    /// Only the stages of this datapath kind.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Switch,
    Router,
}

/// Prints the table.
pub(crate) fn run(args: &StagesArgs) -> Result<(), String> {
    print!(
        "{}",
        render(args.kind.map(|k| match k {
            KindArg::Switch => DatapathKind::Switch,
            KindArg::Router => DatapathKind::Router,
        }))
    );
    Ok(())
}

fn render(kind: Option<DatapathKind>) -> String {
    let mut out = String::from("STAGE                    PIPELINE  TABLE  OPENFLOW\n");
    for s in Stage::ALL
        .iter()
        .filter(|s| kind.is_none_or(|k| s.datapath_kind() == k))
    {
        let pipe = match s.pipeline() {
            Pipeline::Ingress => "ingress",
            Pipeline::Egress => "egress",
        };
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:>5}  {:>8}",
            s.name(),
            pipe,
            s.table(),
            s.openflow_table()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_stage_once() {
        let all = render(None);
        assert_eq!(all.lines().count(), 1 + Stage::ALL.len());
        let routers = render(Some(DatapathKind::Router));
        assert_eq!(routers.lines().count(), 1 + 29);
        assert!(routers.contains("lr_in_ip_routing         ingress      13        21"));
        assert!(!routers.contains("ls_in_acl"));
    }
}
