//! `ls_in_pre_lb`, `ls_in_pre_stateful`, `ls_in_lb_aff_check`, `ls_in_lb`,
//! `ls_in_lb_aff_learn`, `ls_in_pre_hairpin`, `ls_in_nat_hairpin`, `ls_in_hairpin` and the
//! egress pre-LB stages: load balancing on switches.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ovn_nb::model as nb;
use ovsdb::model::Ref;

use ovn_sb::stage::Stage;

use super::{LspType, Switch};
use crate::flow::{reg, Action, Actions, Field, FlowTable, Match, Pred, SharedFlows, Value};
use crate::lb::{Endpoint, LoadBalancer};

/// `reg1` / `xxreg1`: the VIP saved for hairpin and affinity.
const VIP4: Field = Field("reg1");
const VIP6: Field = Field("xxreg1");
/// `reg2[0..15]`: the VIP port.
const VIP_PORT: Field = Field("reg2[0..15]");
/// `reg4` / `xxreg0`: the backend address `chk_lb_aff` loads for a known affinity session.
const AFF_BACKEND4: Field = Field("reg4");
const AFF_BACKEND6: Field = Field("xxreg0");
const AFF_BACKEND_PORT: Field = Field("reg8[0..15]");
/// `reg9[6]`: a learnt affinity session exists.
const KNOWN_LB_SESSION: Field = Field("reg9[6]");
/// `reg0[6]`: the packet is hairpinned through a VIP.
const LB_HAIRPIN: Field = Field("reg0[6]");
/// `reg0[12]`: the packet is a reply to a hairpinned packet.
const LB_HAIRPIN_REPLY: Field = Field("reg0[12]");

fn ip_dst(ip: IpAddr) -> Field {
    match ip {
        IpAddr::V4(_) => Field::IP4_DST,
        IpAddr::V6(_) => Field::IP6_DST,
    }
}

fn vip_reg(ip: IpAddr) -> Field {
    match ip {
        IpAddr::V4(_) => VIP4,
        IpAddr::V6(_) => VIP6,
    }
}

fn l4_dst(proto: &'static str) -> Field {
    match proto {
        "udp" => Field("udp.dst"),
        "sctp" => Field("sctp.dst"),
        _ => Field("tcp.dst"),
    }
}

/// `ip4.dst == VIP && tcp.dst == PORT` (or without the port).
fn vip_match(vip: &Endpoint, proto: &'static str) -> Match {
    let m = Match::eq(ip_dst(vip.ip), vip.ip);
    match vip.port {
        Some(p) => m.and_eq(l4_dst(proto), Value::Int(u64::from(p))),
        None => m,
    }
}

/// Builds the load balancer stages of `sw` but the flows of each of its load balancers
/// ([`build_vips`] adds those).
pub fn build(sw: &Switch, has_stateful_acl: bool, flows: &mut FlowTable) {
    let dp = sw.dp;
    let next = Actions::one(Action::Next);
    let always = Match::always();
    let svc = || Value::AddrSet("svc_monitor_mac".to_owned());
    for stage in [Stage::LsInPreLb, Stage::LsOutPreLb] {
        flows.add(dp, stage, 0, &always, &next);
        flows.add(dp, stage, 110, &Match::pred(Pred::EthMcast), &next);
        flows.add(dp, stage, 110, &Match::pred(Pred::NdPreLbBypass), &next);
        flows.add(
            dp,
            stage,
            110,
            &Match::eq(reg::ACL_STATELESS, Value::Int(1)),
            &next,
        );
    }
    flows.add(
        dp,
        Stage::LsInPreLb,
        110,
        &Match::eq(Field::ETH_DST, svc()),
        &next,
    );
    flows.add(
        dp,
        Stage::LsOutPreLb,
        110,
        &Match::eq(Field::ETH_SRC, svc()),
        &next,
    );
    for p in &sw.ports {
        let skip = match p.type_ {
            LspType::Router => p.router_peer,
            LspType::Localnet => !sw.has_lb_vip,
            _ => false,
        };
        if skip {
            super::skip_port_from_conntrack(
                sw,
                &p.name,
                (Stage::LsInPreLb, Stage::LsOutPreLb),
                has_stateful_acl,
                flows,
            );
        }
    }
    if sw.has_lb_vip {
        let nat = Actions(vec![
            Action::Assign(reg::CONNTRACK_NAT, Value::Int(1)),
            Action::Next,
        ]);
        flows.add(dp, Stage::LsInPreLb, 100, &Match::pred(Pred::Ip), &nat);
        flows.add(dp, Stage::LsOutPreLb, 100, &Match::pred(Pred::Ip), &nat);
    }
    for stage in [Stage::LsInPreStateful, Stage::LsOutPreStateful] {
        flows.add(dp, stage, 0, &always, &next);
        let nat = Match::eq(reg::CONNTRACK_NAT, Value::Int(1));
        flows.add(dp, stage, 110, &nat, &Actions::one(Action::CtLbMark));
        let defrag = Match::eq(reg::CONNTRACK_DEFRAG, Value::Int(1));
        flows.add(dp, stage, 100, &defrag, &Actions::one(Action::CtNext));
    }
    for stage in [
        Stage::LsInLbAffCheck,
        Stage::LsInLb,
        Stage::LsInLbAffLearn,
        Stage::LsInPreHairpin,
        Stage::LsInNatHairpin,
        Stage::LsInHairpin,
    ] {
        flows.add(dp, stage, 0, &always, &next);
    }
    if sw.has_lb_vip {
        build_hairpin(sw, flows);
    }
}

/// The flows of each load balancer of `sw` (its VIPs), as [`build`] leaves them out: they
/// depend on the switch's load balancer list alone (not on its ports), so incremental steps
/// keep them when only ports change.
pub fn build_vips(
    nb: &crate::snapshot::NbSnapshot,
    sw: &Switch,
    lbs: &BTreeMap<Ref<nb::LoadBalancer>, LoadBalancer>,
    cache: &LbFlowCache,
    flows: &mut FlowTable,
) {
    // The load balancers of the switch's groups come as one set per group (on
    // OVN-Kubernetes, every Service's load balancer on every node's switch), when every
    // member the set was made of is in the switch's (sorted) list; the others one by one.
    let mut covered = Vec::new();
    let groups = nb
        .switches
        .get(&sw.nb)
        .map(|row| &row.load_balancer_group)
        .into_iter()
        .flatten();
    for g in groups {
        let Some((members, set)) = cache.by_group.get(g) else {
            continue;
        };
        let mut at = Vec::with_capacity(members.len());
        if positions_in_sorted(&sw.lbs, members.iter(), &mut at) {
            if covered.is_empty() {
                covered = vec![false; sw.lbs.len()];
            }
            for i in at {
                covered[i] = true;
            }
            flows.add_shared(set, sw.dp);
        }
    }
    for (i, r) in sw.lbs.iter().enumerate() {
        if covered.get(i).copied().unwrap_or(false) {
            continue;
        }
        match cache.by_lb.get(r) {
            Some(t) => flows.add_shared(t, sw.dp),
            None => {
                if let Some(lb) = lbs.get(r) {
                    build_lb(sw.dp, lb, flows);
                }
            }
        }
    }
}

/// The stages of the flows [`build_vips`] adds for `sw` (as [`crate::flow::stage_bit`]s,
/// or-ed), or `None` when some load balancer of the switch is not in `cache` (its flows are
/// built on the spot). A group's set holds its members' flows, so the members' sets say it all.
pub fn vip_stage_mask(sw: &Switch, cache: &LbFlowCache) -> Option<u128> {
    let mut mask = 0;
    for r in &sw.lbs {
        mask |= cache.by_lb.get(r)?.stage_mask();
    }
    Some(mask)
}

/// Per load balancer, its flows built once (added to each switch as one shared set).
#[derive(Debug, Clone, Default)]
pub struct LbFlowCache {
    by_lb: HashMap<Ref<nb::LoadBalancer>, SharedFlows>,
    /// Per load balancer group: its members (those of `by_lb`, sorted) and one set of all
    /// their flows.
    by_group: HashMap<Ref<nb::LoadBalancerGroup>, (Vec<Ref<nb::LoadBalancer>>, SharedFlows)>,
}

impl LbFlowCache {
    /// Adds one set per load balancer group of `nb` with more than one member in the cache.
    pub fn with_groups(mut self, nb: &crate::snapshot::NbSnapshot) -> Self {
        for g in nb.lb_groups.values() {
            let members: Vec<Ref<nb::LoadBalancer>> = g
                .load_balancer
                .iter()
                .filter(|r| self.by_lb.contains_key(r))
                .copied()
                .collect();
            if members.len() < 2 {
                continue;
            }
            let set = SharedFlows::union(members.iter().filter_map(|r| self.by_lb.get(r)));
            self.by_group.insert(g.uuid, (members, set));
        }
        self
    }
}

/// Builds the flows of every load balancer once (for switches sharing them, e.g. through a
/// load balancer group).
pub fn lb_flow_cache<'a>(lbs: impl IntoIterator<Item = &'a LoadBalancer>) -> LbFlowCache {
    LbFlowCache {
        by_lb: lbs
            .into_iter()
            .map(|lb| {
                let mut t = FlowTable::default();
                build_lb(0, lb, &mut t);
                (lb.nb, SharedFlows::from_table(t))
            })
            .collect(),
        by_group: HashMap::new(),
    }
}

/// The `ct_lb_mark` backends argument: `backends`, then the selection `hash_fields` if any.
fn with_hash(lb: &LoadBalancer, backends: &str) -> String {
    match &lb.options.hash_fields {
        Some(h) => format!("{backends}; {h}"),
        None => backends.to_owned(),
    }
}

/// The flows one load balancer adds to any switch it is on, built on datapath `dp`. They do
/// not depend on the switch, so [`lb_flow_cache`] builds them once per load balancer.
pub fn build_lb(dp: crate::flow::DpIndex, lb: &LoadBalancer, flows: &mut FlowTable) {
    for v in &lb.template_vips {
        build_template_vip(dp, lb, v, flows);
    }
    for v in &lb.vips {
        let vip = &v.vip;
        // Save the VIP before conntrack NATs it.
        let mut save = vec![Action::Assign(vip_reg(vip.ip), vip.ip.into())];
        if let Some(p) = vip.port {
            save.push(Action::Assign(VIP_PORT, Value::Int(u64::from(p))));
        }
        let mut pre = save.clone();
        pre.push(Action::CtLbMark);
        let m = Match::eq(reg::CONNTRACK_NAT, Value::Int(1)).and(vip_match(vip, lb.protocol));
        flows.add(dp, Stage::LsInPreStateful, 120, &m, &Actions(pre));

        let prio = if vip.port.is_some() { 120 } else { 110 };
        let new_vip = Match::pred(Pred::Fixed("ct.new")).and(vip_match(vip, lb.protocol));
        let actions = if v.backends.is_empty() || v.health_down {
            if lb.options.reject {
                Actions::one(Action::LbReject {
                    table: Stage::LsOutQosMark.table(),
                })
            } else {
                Actions::one(Action::Drop)
            }
        } else {
            Actions(vec![
                Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(0)),
                Action::CtLbMarkBackends(with_hash(lb, &v.nb_backends)),
            ])
        };
        flows.add(dp, Stage::LsInLb, prio, &new_vip, &actions);

        if v.backends.is_empty() && lb.options.event && !lb.options.reject {
            // The protocol is matched even for a VIP without a port.
            let mut m = Match::eq(ip_dst(vip.ip), vip.ip).and_pred(Pred::Fixed(lb.protocol));
            if let Some(p) = vip.port {
                m = m.and_eq(l4_dst(lb.protocol), Value::Int(u64::from(p)));
            }
            let ev = Action::EmptyLbBackendsEvent {
                vip: vip.to_string(),
                protocol: lb.protocol,
                load_balancer: lb.nb.to_string(),
            };
            flows.add(dp, Stage::LsInPreLb, 130, &m, &Actions::one(ev));
        }

        // The affinity check exists for VIPs without backends too.
        if let Some(timeout) = lb.options.affinity_timeout {
            build_affinity(dp, lb, v, timeout, flows);
        }
    }
}

/// The flows of one template VIP: those of an explicit VIP with the VIP, port and backends
/// written as text (the load balancer's address family).
fn build_template_vip(
    dp: crate::flow::DpIndex,
    lb: &LoadBalancer,
    v: &crate::lb::TemplateVip,
    flows: &mut FlowTable,
) {
    let (dst, reg) = if v.v6 {
        (Field::IP6_DST, VIP6)
    } else {
        (Field::IP4_DST, VIP4)
    };
    let vip = Value::Raw(v.vip.clone());
    let port = v.port.as_ref().map(|p| Value::Raw(p.clone()));
    let mut vip_match = Match::eq(dst, vip.clone());
    if let Some(p) = &port {
        vip_match = vip_match.and_eq(l4_dst(lb.protocol), p.clone());
    }
    let mut pre = vec![Action::Assign(reg, vip.clone())];
    if let Some(p) = &port {
        pre.push(Action::Assign(VIP_PORT, p.clone()));
    }
    pre.push(Action::CtLbMark);
    let m = Match::eq(reg::CONNTRACK_NAT, Value::Int(1)).and(vip_match.clone());
    flows.add(dp, Stage::LsInPreStateful, 120, &m, &Actions(pre));

    let prio = if port.is_some() { 120 } else { 110 };
    let new_vip = Match::pred(Pred::Fixed("ct.new")).and(vip_match);
    let empty = v.backends.is_empty();
    let actions = if empty {
        if lb.options.reject {
            Actions::one(Action::LbReject {
                table: Stage::LsOutQosMark.table(),
            })
        } else {
            Actions::one(Action::Drop)
        }
    } else {
        Actions(vec![
            Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(0)),
            Action::CtLbMarkBackends(with_hash(lb, &v.nb_backends)),
        ])
    };
    flows.add(dp, Stage::LsInLb, prio, &new_vip, &actions);

    if empty && lb.options.event && !lb.options.reject {
        let mut m = Match::eq(dst, vip).and_pred(Pred::Fixed(lb.protocol));
        if let Some(p) = port {
            m = m.and_eq(l4_dst(lb.protocol), p);
        }
        let ev = Action::EmptyLbBackendsEvent {
            vip: v.key_text(),
            protocol: lb.protocol,
            load_balancer: lb.nb.to_string(),
        };
        flows.add(dp, Stage::LsInPreLb, 130, &m, &Actions::one(ev));
    }
    if let Some(timeout) = lb.options.affinity_timeout {
        build_template_affinity(dp, lb, v, timeout, flows);
    }
}

/// Session affinity of a template VIP: as [`build_affinity`], with the VIP and backends as
/// text. ovn-northd leaves a template VIP's address unset (an IPv6 one), so the registers and
/// matches are IPv6 ones whatever the address family, and template backends have no port.
fn build_template_affinity(
    dp: crate::flow::DpIndex,
    lb: &LoadBalancer,
    v: &crate::lb::TemplateVip,
    timeout: u32,
    flows: &mut FlowTable,
) {
    let vip = Value::Raw(v.vip.clone());
    let port = v.port.as_ref().map(|p| Value::Raw(p.clone()));
    let mut save = vec![Action::Assign(VIP6, vip.clone())];
    let mut vip_regs = Match::pred(Pred::Fixed("ct.new"))
        .and_pred(Pred::Ip6)
        .and_eq(VIP6, vip);
    if let Some(p) = &port {
        save.push(Action::Assign(VIP_PORT, p.clone()));
        vip_regs = vip_regs.and_eq(VIP_PORT, p.clone());
    }
    let check = Actions(vec![
        Action::Assign(KNOWN_LB_SESSION, Value::Call("chk_lb_aff", vec![])),
        Action::Next,
    ]);
    flows.add(dp, Stage::LsInLbAffCheck, 100, &vip_regs, &check);
    for b in &v.backends {
        let bip = Value::Raw(b.ip.clone());
        let mut m = Match::eq(KNOWN_LB_SESSION, Value::Int(1))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(Pred::Ip6)
            .and_eq(AFF_BACKEND6, bip.clone());
        if let Some(p) = b.num_port {
            m = m.and_eq(AFF_BACKEND_PORT, Value::Int(u64::from(p)));
        }
        let mut a = vec![Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(0))];
        a.extend(save.iter().cloned());
        a.push(Action::CtLbMarkBackends(b.affinity_text()));
        flows.add(dp, Stage::LsInLb, 150, &m, &Actions(a));

        let mut learn = vip_regs.clone().and_eq(Field::IP6_DST, bip);
        learn = Match::eq(KNOWN_LB_SESSION, Value::Int(0)).and(learn);
        if let Some(p) = b.num_port {
            learn = learn.and_eq(l4_dst(lb.protocol), Value::Int(u64::from(p)));
        }
        let commit = Action::commit_lb_aff(
            v.affinity_text(),
            b.affinity_text(),
            port.is_some().then_some(lb.protocol),
            timeout,
        );
        let commit = Actions(vec![commit, crate::flow::act::DROP_COMMENT]);
        flows.add(dp, Stage::LsInLbAffLearn, 100, &learn, &commit);
    }
}

/// Session affinity of an explicit VIP. IPv4-mapped VIPs use the IPv4 registers and
/// matches, their addresses written as in the NB ([`Endpoint::affinity_text`]).
fn build_affinity(
    dp: crate::flow::DpIndex,
    lb: &LoadBalancer,
    v: &crate::lb::Vip,
    timeout: u32,
    flows: &mut FlowTable,
) {
    let vip = &v.vip;
    let v4 = vip.v4_like();
    let (fam, vip_reg, backend_reg, dst) = if v4 {
        (Pred::Ip4, VIP4, AFF_BACKEND4, Field::IP4_DST)
    } else {
        (Pred::Ip6, VIP6, AFF_BACKEND6, Field::IP6_DST)
    };
    let mut save = vec![Action::Assign(vip_reg, vip.ip.into())];
    let mut vip_regs = Match::pred(Pred::Fixed("ct.new"))
        .and_pred(fam)
        .and_eq(vip_reg, vip.ip);
    if let Some(p) = vip.port {
        save.push(Action::Assign(VIP_PORT, Value::Int(u64::from(p))));
        vip_regs = vip_regs.and_eq(VIP_PORT, Value::Int(u64::from(p)));
    }
    let check = Actions(vec![
        Action::Assign(KNOWN_LB_SESSION, Value::Call("chk_lb_aff", vec![])),
        Action::Next,
    ]);
    flows.add(dp, Stage::LsInLbAffCheck, 100, &vip_regs, &check);
    for b in &v.backends {
        let mut m = Match::eq(KNOWN_LB_SESSION, Value::Int(1))
            .and_pred(Pred::Fixed("ct.new"))
            .and_pred(fam)
            .and_eq(backend_reg, b.ip);
        if let Some(p) = b.port {
            m = m.and_eq(AFF_BACKEND_PORT, Value::Int(u64::from(p)));
        }
        let mut a = vec![Action::Assign(reg::CONNTRACK_COMMIT, Value::Int(0))];
        a.extend(save.iter().cloned());
        a.push(Action::CtLbMarkBackends(b.affinity_text()));
        flows.add(dp, Stage::LsInLb, 150, &m, &Actions(a));

        let mut learn = Match::eq(KNOWN_LB_SESSION, Value::Int(0)).and(vip_regs.clone());
        learn = learn.and_eq(dst, b.ip);
        if let Some(p) = b.port {
            learn = learn.and_eq(l4_dst(lb.protocol), Value::Int(u64::from(p)));
        }
        // Without a VIP port, no protocol.
        let commit = if vip.port.is_some() {
            Action::commit_lb_aff(
                vip.affinity_text(),
                b.affinity_text(),
                Some(lb.protocol),
                timeout,
            )
        } else {
            Action::commit_lb_aff(vip.to_string(), b.to_string(), None, timeout)
        };
        let commit = Actions(vec![commit, crate::flow::act::DROP_COMMENT]);
        flows.add(dp, Stage::LsInLbAffLearn, 100, &learn, &commit);
    }
}

fn build_hairpin(sw: &Switch, flows: &mut FlowTable) {
    let dp = sw.dp;
    let chk = Actions(vec![
        Action::Assign(LB_HAIRPIN, Value::Call("chk_lb_hairpin", vec![])),
        Action::Assign(
            LB_HAIRPIN_REPLY,
            Value::Call("chk_lb_hairpin_reply", vec![]),
        ),
        Action::Next,
    ]);
    let trk = Match::pred(Pred::Ip).and_pred(Pred::Fixed("ct.trk"));
    flows.add(dp, Stage::LsInPreHairpin, 100, &trk, &chk);
    let new = Match::pred(Pred::Ip)
        .and_pred(Pred::Fixed("ct.new"))
        .and_pred(Pred::Fixed("ct.trk"))
        .and_eq(LB_HAIRPIN, Value::Int(1));
    let snat_vip = Actions(vec![Action::Fixed("ct_snat_to_vip;"), Action::Next]);
    flows.add(dp, Stage::LsInNatHairpin, 100, &new, &snat_vip);
    let est = Match::pred(Pred::Ip)
        .and_pred(Pred::Fixed("ct.est"))
        .and_pred(Pred::Fixed("ct.trk"))
        .and_eq(LB_HAIRPIN, Value::Int(1));
    let snat = Actions::one(Action::Fixed("ct_snat;"));
    flows.add(dp, Stage::LsInNatHairpin, 100, &est, &snat);
    let reply = Match::pred(Pred::Ip).and_eq(LB_HAIRPIN_REPLY, Value::Int(1));
    flows.add(dp, Stage::LsInNatHairpin, 90, &reply, &snat);
    let either = Match::pred(Pred::Fixed("(reg0[6] == 1 || reg0[12] == 1)"));
    let back = Actions(vec![
        Action::Fixed("eth.dst <-> eth.src;"),
        Action::Assign(Field::OUTPORT, Field::INPORT.into()),
        Action::Assign(Field::FLAGS_LOOPBACK, Value::Int(1)),
        Action::Output,
    ]);
    flows.add(dp, Stage::LsInHairpin, 1, &either, &back);
}

/// The positions in `sorted` of `members` (sorted, as `sorted` is), pushed to `at` as they are
/// found by one walk along `sorted`; true when every member is there (`at` then holds one
/// position per member; otherwise the walk stopped at the first one missing).
pub(crate) fn positions_in_sorted<'a, T: Ord + 'a>(
    sorted: &[T],
    members: impl Iterator<Item = &'a T>,
    at: &mut Vec<usize>,
) -> bool {
    let mut i = 0;
    for m in members {
        while sorted.get(i).is_some_and(|r| r < m) {
            i += 1;
        }
        if sorted.get(i) != Some(m) {
            return false;
        }
        at.push(i);
        i += 1;
    }
    true
}
