//! `ls_in_pre_acl`, `ls_in_acl_hint`, `ls_in_acl`, `ls_in_acl_after_lb` and their egress
//! counterparts: ACLs of the switch and of its port groups, and the conntrack flows stateful
//! ACLs (and load balancers) imply.

use ovn_nb::model as nb;
use ovn_sb::stage::{Pipeline, Stage};

use super::{LspType, Switch, SwitchCtx};
use crate::flow::{act, expr, reg, Action, Actions, Field, FlowTable, Match, Pred, Value};

/// `reg0[7]`: hint, a new connection may be allowed.
const HINT_ALLOW_NEW: Field = Field("reg0[7]");
/// `reg0[8]`: hint, an established connection may be allowed.
const HINT_ALLOW: Field = Field("reg0[8]");
/// `reg0[9]`: hint, the packet may be dropped.
const HINT_DROP: Field = Field("reg0[9]");
/// `reg0[10]`: hint, an established connection may be blocked.
const HINT_BLOCK: Field = Field("reg0[10]");
/// `reg0[17]`: related or reply traffic already allowed.
const HINT_ALLOW_REL: Field = Field("reg0[17]");
/// `ct_label.label`: the label of the ACL that allowed the connection.
const CT_LABEL_LABEL: Field = Field("ct_label.label");
/// ACL priorities are offset by this in the logical flow table.
const ACL_PRI_OFFSET: u16 = 1000;

/// The ACL action, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    AllowRelated,
    AllowStateless,
    Drop,
    Reject,
}

impl Verdict {
    fn log_verdict(self) -> &'static str {
        match self {
            Self::Allow | Self::AllowRelated | Self::AllowStateless => "allow",
            Self::Drop => "drop",
            Self::Reject => "reject",
        }
    }
}

/// An ACL as the pipeline needs it.
#[derive(Debug, Clone)]
struct AclView<'a> {
    row: &'a nb::Acl,
    verdict: Verdict,
    ingress: bool,
    after_lb: bool,
}

impl AclView<'_> {
    fn stage(&self) -> Stage {
        match (self.ingress, self.after_lb) {
            (true, true) => Stage::LsInAclAfterLb,
            (true, false) => Stage::LsInAcl,
            (false, _) => Stage::LsOutAcl,
        }
    }

    fn priority(&self) -> u16 {
        u16::try_from(self.row.priority)
            .unwrap_or(0)
            .saturating_add(ACL_PRI_OFFSET)
    }
}

/// The `NB_Global` and chassis facts the default ACL flows depend on.
#[derive(Debug, Clone, Copy)]
struct AclDefaults {
    /// The chassis support `ovn-ct-lb-related` (related traffic is committed with
    /// `ct_commit_nat`, else it just goes on).
    related: bool,
    /// `options:use_ct_inv_match` (default true).
    use_ct_inv: bool,
    /// `options:default_acl_drop` (default false).
    default_drop: bool,
}

/// Per-switch ACL facts.
#[derive(Debug)]
pub struct AclContext<'a> {
    acls: Vec<AclView<'a>>,
    has_stateful: bool,
    has_lb_vip: bool,
}

fn verdict_of(action: &str) -> Option<Verdict> {
    Some(match action {
        "allow" => Verdict::Allow,
        "allow-related" => Verdict::AllowRelated,
        "allow-stateless" => Verdict::AllowStateless,
        "drop" => Verdict::Drop,
        "reject" => Verdict::Reject,
        _ => return None,
    })
}

impl<'a> AclContext<'a> {
    /// Collects the ACLs that apply to `sw`.
    pub fn new(ctx: &SwitchCtx<'a>, sw: &Switch) -> Self {
        let acls: Vec<AclView<'a>> = sw
            .acls
            .iter()
            .filter_map(|r| ctx.nb.acls.get(r))
            .filter_map(|row| {
                let verdict = verdict_of(row.action.as_str())?;
                let ingress = row.direction.as_str() == "from-lport";
                let after_lb = row
                    .options
                    .get("apply-after-lb")
                    .is_some_and(|v| v == "true");
                Some(AclView {
                    row,
                    verdict,
                    ingress,
                    after_lb,
                })
            })
            .collect();
        let has_stateful = acls.iter().any(|a| a.verdict == Verdict::AllowRelated);
        Self {
            acls,
            has_stateful,
            has_lb_vip: sw.has_lb_vip,
        }
    }

    /// True when some ACL is `allow-related`.
    pub fn has_stateful_acl(&self) -> bool {
        self.has_stateful
    }

    /// True when the datapath sends traffic through conntrack for ACLs or LBs.
    pub fn stateful(&self) -> bool {
        self.has_stateful || self.has_lb_vip
    }

    /// Builds the ACL stages of `sw`.
    pub fn build(&self, ctx: &SwitchCtx<'_>, sw: &Switch, flows: &mut FlowTable) {
        self.build_pre_acl(sw, flows);
        self.build_hints(sw, flows);
        // `NB_Global` `options:use_ct_inv_match=false` leaves `ct.inv` out of the defaults.
        let use_ct_inv = !ctx
            .nb
            .nb_global
            .as_ref()
            .and_then(|g| g.options.get("use_ct_inv_match"))
            .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        // `NB_Global` `options:default_acl_drop=true`: what no ACL allows is dropped.
        let default_drop = ctx
            .nb
            .nb_global
            .as_ref()
            .and_then(|g| g.options.get("default_acl_drop"))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let defaults = AclDefaults {
            related: ctx.features.ct_lb_related,
            use_ct_inv,
            default_drop,
        };
        self.build_acl_defaults(sw, defaults, flows);
        for acl in &self.acls {
            self.consider_acl(ctx, sw, acl, flows);
            if self.stateful() {
                Self::build_log_related(ctx, sw, acl, use_ct_inv, flows);
            }
        }
    }

    /// `options:log-related=true` on a logged, labelled `allow-related` ACL (or `allow`, on a
    /// stateful switch): its related and reply traffic is logged too, in the other direction's
    /// ACL stage.
    fn build_log_related(
        ctx: &SwitchCtx<'_>,
        sw: &Switch,
        acl: &AclView<'_>,
        use_ct_inv: bool,
        flows: &mut FlowTable,
    ) {
        let row = acl.row;
        let wanted = matches!(acl.verdict, Verdict::Allow | Verdict::AllowRelated)
            && row.label != 0
            && row
                .options
                .get("log-related")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let Some(log) = wanted.then(|| Self::log(ctx, acl)).flatten() else {
            return;
        };
        let stage = if acl.ingress {
            Stage::LsOutAcl
        } else {
            Stage::LsInAcl
        };
        let label = u64::try_from(row.label).unwrap_or(0);
        let (related, reply) = if use_ct_inv {
            (expr::CT_RELATED, expr::CT_EST_REPLY)
        } else {
            (expr::CT_RELATED_NO_INV, expr::CT_EST_REPLY_NO_INV)
        };
        let actions = Actions(vec![log, Action::Next]);
        for pred in [related, reply] {
            let m = Match::pred(pred).and_eq(CT_LABEL_LABEL, Value::Int(label));
            flows.add(sw.dp, stage, u16::MAX - 2, &m, &actions);
        }
    }

    fn build_pre_acl(&self, sw: &Switch, flows: &mut FlowTable) {
        let dp = sw.dp;
        let next = Actions::one(Action::Next);
        flows.add(dp, Stage::LsInPreAcl, 0, &Match::always(), &next);
        flows.add(dp, Stage::LsOutPreAcl, 0, &Match::always(), &next);
        let svc = Value::AddrSet("svc_monitor_mac".to_owned());
        flows.add(
            dp,
            Stage::LsInPreAcl,
            110,
            &Match::eq(Field::ETH_DST, svc.clone()),
            &next,
        );
        flows.add(
            dp,
            Stage::LsOutPreAcl,
            110,
            &Match::eq(Field::ETH_SRC, svc),
            &next,
        );
        if self.has_stateful {
            for p in &sw.ports {
                if p.router_peer || p.type_ == LspType::Localnet {
                    super::skip_port_from_conntrack(
                        sw,
                        &p.name,
                        (Stage::LsInPreAcl, Stage::LsOutPreAcl),
                        self.has_stateful,
                        flows,
                    );
                }
            }
            self.build_stateless_filters(sw, flows);
            for stage in [Stage::LsInPreAcl, Stage::LsOutPreAcl] {
                flows.add(dp, stage, 110, &Match::pred(Pred::EthMcast), &next);
                flows.add(dp, stage, 110, &Match::pred(expr::PRE_ACL_BYPASS), &next);
                let defrag = Actions(vec![
                    Action::Assign(reg::CONNTRACK_DEFRAG, Value::Int(1)),
                    Action::Next,
                ]);
                flows.add(dp, stage, 100, &Match::pred(Pred::Ip), &defrag);
            }
        } else if self.has_lb_vip {
            self.build_stateless_filters(sw, flows);
        }
    }

    fn build_stateless_filters(&self, sw: &Switch, flows: &mut FlowTable) {
        for acl in &self.acls {
            if acl.verdict != Verdict::AllowStateless {
                continue;
            }
            let stage = if acl.ingress {
                Stage::LsInPreAcl
            } else {
                Stage::LsOutPreAcl
            };
            let mark = Actions(vec![
                Action::Assign(reg::ACL_STATELESS, Value::Int(1)),
                Action::Next,
            ]);
            flows.add(
                sw.dp,
                stage,
                acl.priority(),
                &Match::user_bare(&acl.row.match_),
                &mark,
            );
        }
    }

    fn build_hints(&self, sw: &Switch, flows: &mut FlowTable) {
        let dp = sw.dp;
        let has_acls = !self.acls.is_empty();
        for stage in [Stage::LsInAclHint, Stage::LsOutAclHint] {
            let prio = if !has_acls && !self.has_lb_vip {
                u16::MAX
            } else {
                0
            };
            flows.add(
                dp,
                stage,
                prio,
                &Match::always(),
                &Actions::one(Action::Next),
            );
            if !self.stateful() {
                continue;
            }
            let set = |bits: &[Field]| {
                let mut v: Vec<Action> = bits
                    .iter()
                    .map(|b| Action::Assign(*b, Value::Int(1)))
                    .collect();
                v.push(Action::Next);
                Actions(v)
            };
            let hints: [(u16, Pred, &[Field]); 7] = [
                (7, expr::CT_NEW_NOT_EST, &[HINT_ALLOW_NEW, HINT_DROP]),
                (6, expr::CT_EST_ORIG_BLOCKED, &[HINT_ALLOW_NEW, HINT_DROP]),
                (5, expr::CT_NOT_TRK, &[HINT_ALLOW, HINT_DROP]),
                (4, expr::CT_EST_ORIG_ALLOWED, &[HINT_ALLOW, HINT_BLOCK]),
                (3, expr::CT_NOT_EST, &[HINT_DROP]),
                (2, expr::CT_EST_BLOCKED, &[HINT_DROP]),
                (1, expr::CT_EST_ALLOWED, &[HINT_BLOCK]),
            ];
            for (prio, pred, bits) in hints {
                flows.add(dp, stage, prio, &Match::pred(pred), &set(bits));
            }
        }
    }

    /// The default ACL flows.
    fn build_acl_defaults(&self, sw: &Switch, d: AclDefaults, flows: &mut FlowTable) {
        let AclDefaults {
            related,
            use_ct_inv,
            default_drop,
        } = d;
        let dp = sw.dp;
        let next = Actions::one(Action::Next);
        let has_acls = !self.acls.is_empty();
        // With `default_acl_drop`, a switch with ACLs drops by default (one with only load
        // balancers still lets packets on).
        let default = if default_drop && has_acls {
            Actions::one(Action::Drop)
        } else {
            next.clone()
        };
        if !has_acls && !self.has_lb_vip {
            flows.add(dp, Stage::LsInAcl, u16::MAX, &Match::always(), &next);
            flows.add(dp, Stage::LsOutAcl, u16::MAX, &Match::always(), &next);
        } else {
            flows.add(dp, Stage::LsInAcl, 0, &Match::always(), &default);
            flows.add(dp, Stage::LsOutAcl, 0, &Match::always(), &default);
        }
        flows.add(dp, Stage::LsInAclAfterLb, 0, &Match::always(), &default);
        let nd = Match::pred(Pred::NdAclBypass);
        flows.add(dp, Stage::LsInAcl, u16::MAX - 3, &nd, &next);
        flows.add(dp, Stage::LsOutAcl, u16::MAX - 3, &nd, &next);
        flows.add(dp, Stage::LsInAclAfterLb, u16::MAX - 3, &nd, &next);
        if self.stateful() {
            let commit = Actions(vec![
                Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(1)),
                Action::Next,
            ]);
            let new_conn = if default_drop {
                Actions::one(Action::Drop)
            } else {
                commit.clone()
            };
            for stage in [Stage::LsInAcl, Stage::LsOutAcl] {
                flows.add(dp, stage, 1, &Match::pred(expr::IP_EST_BLOCKED), &commit);
                flows.add(dp, stage, 1, &Match::pred(expr::IP_NOT_EST), &new_conn);
                let drop = Actions::one(Action::Drop);
                flows.add(
                    dp,
                    stage,
                    u16::MAX - 3,
                    &Match::pred(if use_ct_inv {
                        expr::CT_INVALID
                    } else {
                        expr::CT_INVALID_NO_INV
                    }),
                    &drop,
                );
            }
            let reply_in = Actions(vec![
                Action::Assign(HINT_DROP, Value::Int(0)),
                Action::Assign(HINT_BLOCK, Value::Int(0)),
                Action::Assign(HINT_ALLOW_REL, Value::Int(1)),
                Action::Next,
            ]);
            let reply = Match::pred(if use_ct_inv {
                expr::CT_EST_REPLY
            } else {
                expr::CT_EST_REPLY_NO_INV
            });
            flows.add(dp, Stage::LsInAcl, u16::MAX - 3, &reply, &reply_in);
            flows.add(dp, Stage::LsOutAcl, u16::MAX - 3, &reply, &next);
            let commit = if related {
                act::CT_COMMIT_NAT
            } else {
                Action::Next
            };
            let related_in = Actions(vec![
                Action::Assign(HINT_ALLOW_REL, Value::Int(1)),
                commit.clone(),
            ]);
            let related = Match::pred(if use_ct_inv {
                expr::CT_RELATED
            } else {
                expr::CT_RELATED_NO_INV
            });
            flows.add(dp, Stage::LsInAcl, u16::MAX - 3, &related, &related_in);
            flows.add(
                dp,
                Stage::LsOutAcl,
                u16::MAX - 3,
                &related,
                &Actions::one(commit),
            );
            let allowed = Match::eq(HINT_ALLOW_REL, Value::Int(1));
            flows.add(dp, Stage::LsInAclAfterLb, u16::MAX - 3, &allowed, &next);
        }
        if has_acls || self.has_lb_vip {
            let svc = Value::AddrSet("svc_monitor_mac".to_owned());
            flows.add(
                dp,
                Stage::LsInAcl,
                34000,
                &Match::eq(Field::ETH_DST, svc.clone()),
                &next,
            );
            flows.add(
                dp,
                Stage::LsOutAcl,
                34000,
                &Match::eq(Field::ETH_SRC, svc),
                &next,
            );
        }
    }

    fn log(ctx: &SwitchCtx<'_>, acl: &AclView<'_>) -> Option<Action> {
        let row = acl.row;
        if !row.log {
            return None;
        }
        let meter = row.meter.as_ref().map(|m| {
            let fair = ctx
                .nb
                .meters
                .values()
                .any(|mt| &mt.name == m && mt.fair == Some(true));
            if fair {
                format!("{m}__{}", row.uuid)
            } else {
                m.clone()
            }
        });
        Some(Action::Log {
            name: row.name.clone(),
            severity: row
                .severity
                .as_ref()
                .map_or_else(|| "info".to_owned(), |s| s.as_str().to_owned()),
            verdict: acl.verdict.log_verdict(),
            meter,
        })
    }

    fn consider_acl(
        &self,
        ctx: &SwitchCtx<'_>,
        sw: &Switch,
        acl: &AclView<'_>,
        flows: &mut FlowTable,
    ) {
        let dp = sw.dp;
        let stage = acl.stage();
        let prio = acl.priority();
        let user = &acl.row.match_;
        let log = Self::log(ctx, acl);
        let with_log = |mut pre: Vec<Action>, tail: Vec<Action>| {
            pre.extend(log.clone());
            pre.extend(tail);
            Actions(pre)
        };
        match acl.verdict {
            Verdict::AllowStateless => {
                let a = with_log(vec![], vec![Action::Next]);
                flows.add(dp, stage, prio, &Match::user_bare(user), &a);
            }
            Verdict::Allow | Verdict::AllowRelated if !self.stateful() => {
                let a = with_log(vec![], vec![Action::Next]);
                flows.add(dp, stage, prio, &Match::user_bare(user), &a);
            }
            Verdict::Allow | Verdict::AllowRelated => {
                let label = acl.row.label;
                let label_actions = |v: &mut Vec<Action>| {
                    if label != 0 {
                        v.push(Action::Assign(reg::ACL_LABEL, Value::Int(1)));
                        v.push(Action::Assign(
                            reg::LABEL,
                            Value::Int(u64::try_from(label).unwrap_or(0)),
                        ));
                    }
                };
                let mut pre = vec![Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(1))];
                label_actions(&mut pre);
                let m = Match::eq(HINT_ALLOW_NEW, Value::Int(1)).and(Match::user(user));
                flows.add(dp, stage, prio, &m, &with_log(pre, vec![Action::Next]));
                let mut pre = Vec::new();
                if label != 0 {
                    pre.push(Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(1)));
                }
                label_actions(&mut pre);
                let m = Match::eq(HINT_ALLOW, Value::Int(1)).and(Match::user(user));
                flows.add(dp, stage, prio, &m, &with_log(pre, vec![Action::Next]));
            }
            Verdict::Drop | Verdict::Reject => {
                let reject = acl.verdict == Verdict::Reject;
                let drop_tail = || vec![act::DROP_COMMENT];
                let add = |flows: &mut FlowTable, extra: Option<Match>, pre: Vec<Action>| {
                    if reject {
                        let m = match extra {
                            Some(e) => e.paren().and(Match::user_bare(user)),
                            None => Match::user_bare(user),
                        };
                        let (pipeline, table) = if acl.ingress {
                            (Pipeline::Egress, Stage::LsOutQosMark.table())
                        } else {
                            (Pipeline::Ingress, Stage::LsInL2Lkup.table())
                        };
                        // A reject logs first, then the extra actions, then rejects.
                        let mut a: Vec<Action> = log.iter().cloned().collect();
                        a.extend(pre);
                        a.push(Action::Assign(Field("reg0"), Value::Int(0)));
                        a.push(Action::Reject { pipeline, table });
                        flows.add(dp, stage, prio, &m, &Actions(a));
                    } else {
                        let m = match extra {
                            Some(e) => e.and(Match::user(user)),
                            None => Match::user_bare(user),
                        };
                        flows.add(dp, stage, prio, &m, &with_log(pre, drop_tail()));
                    }
                };
                if self.stateful() {
                    add(flows, Some(Match::eq(HINT_DROP, Value::Int(1))), vec![]);
                    let mut block = vec![Action::CtCommit(vec![Action::Assign(
                        Field::CT_MARK_BLOCKED,
                        Value::Int(1),
                    )])];
                    if reject {
                        block.push(Action::Spacer);
                    }
                    add(flows, Some(Match::eq(HINT_BLOCK, Value::Int(1))), block);
                } else {
                    add(flows, None, vec![]);
                }
            }
        }
    }
}
