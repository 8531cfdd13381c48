//! Drop sampling (`NB_Global` `options:debug_drop_collector_set` and `debug_drop_domain_id`):
//! with a collector set, ovn-northd 23.03 writes the drops of its own flows as an IPFIX sample
//! (`sample(probability=65535,collector_set=C,obs_domain=D,obs_point=$cookie); /* drop */`,
//! ovn-controller putting the flow's cookie for `$cookie`) so that dropped packets can be
//! traced back to their logical flow. The flows are built with `drop;` and rewritten after the
//! build ([`DropSampling::rewrite`]).

use std::collections::BTreeMap;

use ovn_sb::stage::Stage;

use crate::flow::FlowKey;

/// The sampling action that stands for `drop;` when drop sampling is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropSampling {
    action: String,
}

impl DropSampling {
    /// Reads the `NB_Global` options: on when `debug_drop_collector_set` is a non-zero integer
    /// and `debug_drop_domain_id` (0 when absent or not an integer) is below 255 (ovn-northd
    /// refuses the configuration otherwise).
    pub fn from_options(options: &BTreeMap<String, String>) -> Option<Self> {
        let uint = |k: &str| {
            options
                .get(k)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(0)
        };
        let collector_set = uint("debug_drop_collector_set");
        let domain = uint("debug_drop_domain_id");
        if collector_set == 0 || domain >= 255 {
            return None;
        }
        Some(Self {
            action: format!(
                "sample(probability=65535,collector_set={collector_set},obs_domain={domain},obs_point=$cookie); /* drop */"
            ),
        })
    }

    /// `k` with every `drop;` action replaced by the sampling action, and in the ACL stages
    /// the `/* drop */` ending a drop or reject ACL's actions too (not the one after a load
    /// balancer affinity learn, which drops nothing).
    pub fn rewrite(&self, k: &FlowKey) -> FlowKey {
        let acl = matches!(
            k.stage,
            Stage::LsInAcl | Stage::LsOutAcl | Stage::LsInAclAfterLb
        );
        let actions = if acl {
            replace_token(&k.actions, "/* drop */", &self.action)
        } else {
            k.actions.clone()
        };
        FlowKey {
            // (The sampling action holds no `drop;`.)
            actions: replace_token(&actions, "drop;", &self.action),
            ..k.clone()
        }
    }
}

/// `actions` with each action `token` (at the start or after a space, not e.g. a log's
/// `verdict=drop`) replaced by `with`.
fn replace_token(actions: &str, token: &str, with: &str) -> String {
    let mut out = String::with_capacity(actions.len());
    let mut from = 0;
    for (at, _) in actions.match_indices(token) {
        let whole = at == 0 || actions.as_bytes()[at - 1] == b' ';
        if whole {
            out.push_str(&actions[from..at]);
            out.push_str(with);
            from = at + token.len();
        }
    }
    out.push_str(&actions[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(DropSampling::from_options(&o(&[])).is_none());
        assert!(DropSampling::from_options(&o(&[("debug_drop_domain_id", "5")])).is_none());
        assert!(DropSampling::from_options(&o(&[
            ("debug_drop_collector_set", "7"),
            ("debug_drop_domain_id", "255")
        ]))
        .is_none());
        let d = DropSampling::from_options(&o(&[("debug_drop_collector_set", "7")])).unwrap();
        assert_eq!(
            d.action,
            "sample(probability=65535,collector_set=7,obs_domain=0,obs_point=$cookie); /* drop */"
        );
    }

    #[test]
    fn replaces_whole_drop_actions_only() {
        let d = |t: &str| replace_token(t, "drop;", "S");
        assert_eq!(d("drop;"), "S");
        assert_eq!(d("log(verdict=drop); drop;"), "log(verdict=drop); S");
        assert_eq!(d("next;"), "next;");
        assert_eq!(d("xdrop; drop;"), "xdrop; S");
        assert_eq!(
            replace_token("log(verdict=drop); /* drop */", "/* drop */", "S"),
            "log(verdict=drop); S"
        );
    }
}
