//! The pure build: NB snapshot and SB state in, SB content out.

use std::collections::{BTreeMap, BTreeSet};

use ovn_nb::model as nb;
use ovn_sb::stage::DatapathKind;
use ovsdb::model::SortedMap;

use crate::content::{DatapathContent, LbContent, McGroupContent, PortContent, SbContent};
use crate::error::NbWarning;
use crate::flow::DpIndex;
use crate::ipam;
use crate::lb::LoadBalancer;
use crate::mcast;
use crate::router::{self, Router, RouterCtx};
use crate::snapshot::NbSnapshot;
use crate::state::SbState;
use crate::switch::{self, LspType, Switch, SwitchCtx};
use crate::tunnel_key::{TunnelKeyAllocator, MAX_DP_KEY, MAX_PORT_KEY, MIN_DP_KEY, MIN_PORT_KEY};

/// `northd_internal_version` as ovn-northd 23.03.1 writes it to `SB_Global`.
pub const NORTHD_INTERNAL_VERSION: &str = "23.03.1-20.27.0-70.6";
/// `max_tunid` for Geneve (24-bit keys less the multicast range).
pub const MAX_TUNID: &str = "16711680";

/// `SB_Global` `options:max_tunid` when some chassis uses VXLAN (12-bit datapath keys).
pub const MAX_VXLAN_TUNID: &str = "4095";

/// Global options, parsed once from `NB_Global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalOptions {
    /// `mac_prefix`.
    pub mac_prefix: String,
    /// `svc_monitor_mac`.
    pub svc_monitor_mac: String,
    /// Every option, passed to `SB_Global`.
    pub all: BTreeMap<String, String>,
}

impl GlobalOptions {
    /// Reads `NB_Global` options, deriving `mac_prefix` and `svc_monitor_mac` from the
    /// `NB_Global` UUID when absent (ovn-northd picks random ones and writes them back to NB).
    pub fn from_nb(nb: &NbSnapshot) -> Self {
        let mut all = nb.global_options();
        let seed = nb
            .nb_global
            .as_ref()
            .map(|g| g.uuid.uuid().as_u128())
            .unwrap_or_default();
        let b = seed.to_be_bytes();
        let mac_prefix = all
            .entry("mac_prefix".to_owned())
            .or_insert_with(|| format!("{:02x}:{:02x}:{:02x}", b[0] & 0xfe, b[1], b[2]))
            .clone();
        let derived = || {
            format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                (b[3] & 0xfe) | 0x02,
                b[4],
                b[5],
                b[6],
                b[7],
                b[8]
            )
        };
        // Used normalized (`00:00:00:aa:bb:cc` for `00:00:00:AA:BB:CC`), as ovn-northd 23.03
        // does; `SB_Global` options keep it as written.
        let svc_monitor_mac = all
            .entry("svc_monitor_mac".to_owned())
            .or_insert_with(derived)
            .parse::<ovn_nb::addr::MacAddr>()
            .map_or_else(|_| derived(), |m| m.to_string());
        all.insert("max_tunid".to_owned(), MAX_TUNID.to_owned());
        Self {
            mac_prefix,
            svc_monitor_mac,
            all,
        }
    }
}

fn requested_key(
    opts: &SortedMap<String, String>,
    owner: &str,
    warnings: &mut Vec<NbWarning>,
) -> Option<u32> {
    let v = opts.get("requested-tnl-key")?;
    match v.parse::<u32>() {
        Ok(k) => Some(k),
        Err(_) => {
            warnings.push(NbWarning::BadOption {
                owner: owner.to_owned(),
                key: "requested-tnl-key".to_owned(),
                value: v.clone(),
            });
            None
        }
    }
}

/// Compiles `nb` into Southbound content, keeping the tunnel keys `state` already has.
pub fn build(nb: &NbSnapshot, state: &SbState) -> SbContent {
    build_all(nb, state).content
}

/// A whole build with the intermediate products incremental processing reuses
/// ([`crate::incremental`]).
#[derive(Debug)]
pub(crate) struct Built {
    /// The content.
    pub(crate) content: SbContent,
    /// `NB_Global` options.
    pub(crate) globals: GlobalOptions,
    /// Switch views, by position (each knows its datapath index).
    pub(crate) switches: Vec<Switch>,
    /// Router views, by position.
    pub(crate) routers: Vec<Router>,
    /// Load balancers, parsed.
    pub(crate) lbs: BTreeMap<ovsdb::model::Ref<nb::LoadBalancer>, LoadBalancer>,
    /// Names of the address sets routers' load balancers make.
    pub(crate) router_lb_sets: BTreeSet<String>,
    /// ARP replies for health check sources.
    pub(crate) svc_arp: crate::svc_monitor::SvcArp,
    /// Each load balancer's switch flows, as the build added them (the flow texts are shared
    /// with the content's table).
    pub(crate) lb_flows: switch::lb::LbFlowCache,
}

/// [`build`], keeping the intermediate products.
pub(crate) fn build_all(nb: &NbSnapshot, state: &SbState) -> Built {
    let mut out = SbContent::default();
    let globals = GlobalOptions::from_nb(nb);
    // IPAM first: ports see their allocated `dynamic_addresses`.
    let allocated = ipam::allocate(nb, &globals.mac_prefix, &mut out.warnings);
    let changed: Vec<_> = allocated
        .into_iter()
        .filter(|(r, v)| nb.switch_ports.get(r).map(|l| &l.dynamic_addresses) != Some(v))
        .collect();
    let updated;
    let nb = if changed.is_empty() {
        nb
    } else {
        let mut copy = nb.clone();
        for (r, v) in &changed {
            if let Some(l) = copy.switch_ports.get_mut(r) {
                l.dynamic_addresses.clone_from(v);
            }
            out.nb_dynamic_addresses.insert(r.uuid(), v.clone());
        }
        updated = copy;
        &updated
    };
    // The snapshot stays as it is from here on: group VIP sets are checked once.
    let _scope = router::gateway::hash::BuildScope::enter(nb);
    out.global_options = globals.all.clone();
    if state.vxlan_mode {
        out.global_options
            .insert("max_tunid".to_owned(), MAX_VXLAN_TUNID.to_owned());
    }
    out.global_options.insert(
        "northd_internal_version".to_owned(),
        NORTHD_INTERNAL_VERSION.to_owned(),
    );
    // ovn-controller's load balancer hairpin flows use `ct_mark` unless a chassis lacks it.
    if state.features.ct_no_masked_label {
        out.global_options.remove("lb_hairpin_use_ct_mark");
    } else {
        out.global_options
            .insert("lb_hairpin_use_ct_mark".to_owned(), "false".to_owned());
    }
    out.mirrors = crate::mirror::build(nb);
    out.template_vars = crate::template_var::build(nb);
    out.bfd = crate::bfd::build(nb);
    out.ipsec = nb.nb_global.as_ref().is_some_and(|g| g.ipsec);

    // Datapaths: keys already in SB first, then requested keys, then new ones; switches and
    // routers share one key space.
    let mut switches: Vec<&nb::LogicalSwitch> = nb.switches.values().collect();
    switches.sort_by(|a, b| (&a.name, a.uuid).cmp(&(&b.name, b.uuid)));
    let mut routers: Vec<&nb::LogicalRouter> = nb
        .routers
        .values()
        .filter(|lr| lr.enabled != Some(false))
        .collect();
    routers.sort_by(|a, b| (&a.name, a.uuid).cmp(&(&b.name, b.uuid)));
    let entries: Vec<(uuid::Uuid, &str, &SortedMap<String, String>)> = switches
        .iter()
        .map(|ls| (ls.uuid.uuid(), ls.name.as_str(), &ls.other_config))
        .chain(
            routers
                .iter()
                .map(|lr| (lr.uuid.uuid(), lr.name.as_str(), &lr.options)),
        )
        .collect();
    let mut dp_keys = TunnelKeyAllocator::new(MIN_DP_KEY, MAX_DP_KEY);
    let mut keys: Vec<Option<u32>> = entries
        .iter()
        .map(|(u, _, _)| {
            state
                .datapath_keys
                .get(u)
                .copied()
                .filter(|k| dp_keys.reserve(*k))
        })
        .collect();
    for ((_, name, opts), key) in entries.iter().zip(keys.iter_mut()) {
        if key.is_none() {
            if let Some(k) = requested_key(opts, name, &mut out.warnings) {
                *key = dp_keys.request(k, name).ok();
            }
        }
    }
    // Datapaths in order first (a datapath whose key cannot be allocated gets no view), then
    // the views on two threads, their warnings added in datapath order (as one thread adds
    // them).
    let mut keys = keys.into_iter();
    let mut dp_warnings: Vec<Vec<NbWarning>> = Vec::new();
    let mut switch_dps: Vec<(usize, &nb::LogicalSwitch, DpIndex)> = Vec::new();
    for (i, (ls, key)) in switches.iter().zip(keys.by_ref()).enumerate() {
        let before = out.warnings.len();
        if let Some(dp) = push_datapath(
            &mut out,
            &mut dp_keys,
            key,
            DatapathKind::Switch,
            (ls.uuid.uuid(), &ls.name, &ls.external_ids, &ls.other_config),
        ) {
            switch_dps.push((i, ls, dp));
        }
        dp_warnings.push(out.warnings.split_off(before));
    }
    let mut router_dps: Vec<(usize, &nb::LogicalRouter, DpIndex)> = Vec::new();
    for (i, (lr, key)) in routers.iter().zip(keys).enumerate() {
        let before = out.warnings.len();
        if let Some(dp) = push_datapath(
            &mut out,
            &mut dp_keys,
            key,
            DatapathKind::Router,
            (lr.uuid.uuid(), &lr.name, &lr.external_ids, &lr.options),
        ) {
            router_dps.push((switches.len() + i, lr, dp));
        }
        dp_warnings.push(out.warnings.split_off(before));
    }
    let view_index = switch::ViewIndex::new(nb);
    let switch_views = on_two_threads_with(
        nb,
        &switch_dps,
        || (),
        |_, &(_, ls, dp)| {
            let mut w = Vec::new();
            let view = switch::switch_view_in(nb, ls, dp, Some(&view_index), None, &mut w);
            (view, w)
        },
    );
    // Its load balancer lists copy those of the views: free them before the flows grow.
    drop(view_index);
    // Router ports named by switch ports of type `router`.
    let switch_peers: BTreeMap<String, String> = nb
        .switch_ports
        .values()
        .filter(|lsp| lsp.type_ == "router")
        .filter_map(|lsp| {
            lsp.options
                .get("router-port")
                .map(|rp| (rp.clone(), lsp.name.clone()))
        })
        .collect();
    let router_views_w = on_two_threads_with(
        nb,
        &router_dps,
        router::GroupLbs::default,
        |groups, &(_, lr, dp)| {
            let mut w = Vec::new();
            let view = router::router_view_with(nb, lr, dp, &switch_peers, groups, &mut w);
            (view, w)
        },
    );
    // Warnings in datapath order: each datapath's own (key allocation), then its view's.
    let mut views: Vec<Switch> = Vec::with_capacity(switch_views.len());
    let mut made_sw = switch_views.into_iter().zip(&switch_dps).peekable();
    let mut made_lr = router_views_w.into_iter().zip(&router_dps).peekable();
    let mut router_views: Vec<Router> = Vec::with_capacity(router_dps.len());
    for (i, w) in dp_warnings.into_iter().enumerate() {
        out.warnings.extend(w);
        if let Some(((view, w), _)) = made_sw.next_if(|(_, d)| d.0 == i) {
            out.warnings.extend(w);
            views.push(view);
        } else if let Some(((view, w), _)) = made_lr.next_if(|(_, d)| d.0 == i) {
            out.warnings.extend(w);
            router_views.push(view);
        }
    }

    // Each switch's rows apart, on two threads, then added in switch order (as one thread
    // adds them).
    let datapaths = &out.datapaths;
    let parts = on_two_threads(nb, &views, |sw| {
        let mut part = SbContent::default();
        let dp_uuid = datapaths[sw.dp].nb_uuid;
        build_switch_ports(nb, state, sw, dp_uuid, &router_views, &mut part);
        part
    });
    for part in parts {
        out.ports.extend(part.ports);
        out.multicast_groups.extend(part.multicast_groups);
        out.ha_chassis_groups.extend(part.ha_chassis_groups);
        out.warnings.extend(part.warnings);
    }
    for sw in &views {
        out.ip_multicast.push((sw.dp, sw.mcast.clone()));
    }
    // Then on two threads: this one the routers' rows, the port keys and the address sets, a
    // worker the port groups (about as long: switches-only 27 + port keys against 61 M
    // instructions, OVN-K alike); each then parses load balancers (tens of thousands on
    // OVN-Kubernetes) until none is left. Rows and warnings are added as one thread adds
    // them: routers' first, then load balancers'.
    let rows: Vec<&nb::LoadBalancer> = nb.load_balancers.values().collect();
    let (switch_ports, datapaths) = (&out.ports, &out.datapaths);
    let ((routers_part, port_keys, address_sets), port_groups, parsed) = on_two_threads_after(
        nb,
        || {
            let mut part = SbContent::default();
            for lr in &router_views {
                build_router_ports(nb, state, lr, datapaths[lr.dp].nb_uuid, &mut part);
                part.multicast_groups
                    .extend(router::input_mcast::router_groups(lr));
            }
            part.static_mac_bindings = router::input::static_mac_bindings(nb, &router_views);
            let port_keys: BTreeMap<String, u32> = switch_ports
                .iter()
                .chain(&part.ports)
                .map(|p| (p.name.clone(), p.tunnel_key))
                .collect();
            (part, port_keys, build_address_sets(nb, &globals, &views))
        },
        || build_port_groups(nb, &views, datapaths),
        &rows,
        || (),
        |_, l| {
            let mut w = Vec::new();
            let lb = LoadBalancer::parse(l, &mut w);
            (l.uuid, lb, w)
        },
    );
    drop(rows);
    out.ports.extend(routers_part.ports);
    out.multicast_groups.extend(routers_part.multicast_groups);
    out.ha_chassis_groups.extend(routers_part.ha_chassis_groups);
    out.warnings.extend(routers_part.warnings);
    out.static_mac_bindings = routers_part.static_mac_bindings;
    out.address_sets.extend(address_sets);
    out.port_groups.extend(port_groups);
    let mut lbs: BTreeMap<_, _> = parsed
        .into_iter()
        .map(|(r, lb, w)| {
            out.warnings.extend(w);
            (r, lb)
        })
        .collect();
    // `NB_Global` `options:controller_event=true` raises the empty-backend event of every
    // load balancer (as its own `options:event=true` does).
    if globals
        .all
        .get("controller_event")
        .is_some_and(|v| v == "true")
    {
        for lb in lbs.values_mut() {
            lb.options.event = true;
        }
    }
    let health = {
        // A switch port's datapath and state, indexed when a health check first asks (most
        // builds have none).
        let index = std::cell::OnceCell::new();
        let port = |name: &str| {
            let (port_dp, up) = index.get_or_init(|| {
                let port_dp: std::collections::HashMap<&str, DpIndex> = out
                    .ports
                    .iter()
                    .filter(|p| out.datapaths[p.datapath].kind == DatapathKind::Switch)
                    .map(|p| (p.name.as_str(), p.datapath))
                    .collect();
                let up: std::collections::HashMap<&str, bool> = nb
                    .switch_ports
                    .values()
                    .map(|p| (p.name.as_str(), p.up == Some(true)))
                    .collect();
                (port_dp, up)
            });
            let dp = *port_dp.get(name)?;
            Some((dp, up.get(name).copied().unwrap_or(false)))
        };
        crate::svc_monitor::apply(
            nb,
            &globals.svc_monitor_mac,
            &mut lbs,
            &port,
            &state.service_monitor_status,
        )
    };
    out.service_monitors = health.monitors.into_values().collect();

    out.meters = crate::copp::sb_meters(nb);
    if let Some(meters) = datapath_meters(nb, &out.datapaths) {
        out.flows.set_meters(meters);
    }

    let dp_tunnel_keys: Vec<u32> = out.datapaths.iter().map(|d| d.tunnel_key).collect();
    let mut router_lb_sets = BTreeSet::new();
    // Each router's load balancers (thousands per gateway router on OVN-Kubernetes), resolved
    // once on two threads with the router's VIP address sets, then shared by the threads
    // building flows.
    let lb_index = router::lb::LbIndex::new(&nb.load_balancers, &lbs);
    let router_lbs = on_two_threads(nb, &router_views, |lr| {
        let info = std::sync::Arc::new(lb_index.router(lr));
        let sets = dp_tunnel_keys
            .get(lr.dp)
            .map(|&key| router::lb::address_sets_of(lr, &info, key))
            .unwrap_or_default();
        (info, sets)
    });
    drop(lb_index);
    let router_lbs: Vec<_> = router_lbs
        .into_iter()
        .map(|(info, sets)| {
            for (name, set) in sets {
                router_lb_sets.insert(name.clone());
                out.address_sets.insert(name, set);
            }
            info
        })
        .collect();
    // The load balancer group sets of routers, made once for both flow threads.
    let shared_groups = router::lb::SharedGroupFlows::default();
    let router_ctx = || RouterCtx {
        nb,
        features: state.features,
        lbs: &lbs,
        switches: &views,
        routers: &router_views,
        port_keys: &port_keys,
        warnings: std::cell::RefCell::default(),
        topology: std::cell::OnceCell::new(),
        dp_keys: &dp_tunnel_keys,
        lb_flows: std::cell::RefCell::new(
            router::lb::LbFlowCache::with_routers(
                router_views
                    .iter()
                    .map(|lr| lr.dp)
                    .zip(router_lbs.iter().map(std::sync::Arc::clone)),
            )
            .with_shared_groups(&shared_groups),
        ),
    };
    // The flows are built on two threads, each into a table of its own, merged after (the
    // table iterates in flow order whatever the order flows were added in, so the content is
    // the same as one thread's). The work is shared out as it goes: this thread takes routers
    // first, then switches; the worker builds the switch load balancer flow cache, takes
    // switches, then routers. Warnings are kept by router and added in router order.
    let meters = out.flows.meters().cloned();
    let next_router = std::sync::atomic::AtomicUsize::new(0);
    let next_switch = std::sync::atomic::AtomicUsize::new(0);
    let lb_cache = std::sync::OnceLock::new();
    let make_lb_cache = || switch::lb::lb_flow_cache(lbs.values()).with_groups(nb);
    let run = |flows: &mut crate::flow::FlowTable, routers_first: bool| {
        let rctx = router_ctx();
        let mut warnings: Vec<(usize, Vec<NbWarning>)> = Vec::new();
        let mut routers = |flows: &mut crate::flow::FlowTable| loop {
            let i = next_router.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(lr) = router_views.get(i) else {
                break;
            };
            router::build_flows(&rctx, lr, flows);
            let w = std::mem::take(&mut *rctx.warnings.borrow_mut());
            if !w.is_empty() {
                warnings.push((i, w));
            }
        };
        let switches = |flows: &mut crate::flow::FlowTable| {
            let ctx = SwitchCtx {
                nb,
                features: state.features,
                lbs: &lbs,
                lb_flows: lb_cache.get_or_init(make_lb_cache),
                svc_arp: &health.arp,
            };
            loop {
                let i = next_switch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(sw) = views.get(i) else {
                    break;
                };
                switch::build_flows(&ctx, sw, flows);
            }
        };
        if routers_first {
            routers(flows);
            switches(flows);
        } else {
            switches(flows);
            routers(flows);
        }
        // The context goes back to the caller, to be freed while the tables are merged.
        (warnings, rctx)
    };
    // The worker first makes the SB `Load_Balancer` rows (one per load balancer on a switch:
    // tens of thousands on OVN-Kubernetes), which no flow needs, while this thread starts on
    // the routers.
    let (mut warnings, theirs_flows, theirs_warnings, lb_rows, contexts) =
        std::thread::scope(|s| {
            let worker = s.spawn(|| {
                // Group VIP sets are checked once per build on this thread too.
                let _scope = router::gateway::hash::BuildScope::enter(nb);
                let lb_rows = load_balancer_rows(nb, &views);
                let mut flows = crate::flow::FlowTable::default();
                if let Some(m) = meters {
                    flows.set_meters(m);
                }
                let (warnings, rctx) = run(&mut flows, false);
                (flows, warnings, lb_rows, rctx)
            });
            let (mine, my_ctx) = run(&mut out.flows, true);
            let (flows, theirs, lb_rows, their_ctx) = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mine, flows, theirs, lb_rows, [my_ctx, their_ctx])
        });
    out.load_balancers = lb_rows;
    let lb_flows = lb_cache.into_inner().unwrap_or_else(make_lb_cache);
    // The smaller table is merged into the larger (same meters: the content is the same
    // either way), while another thread frees the flow threads' contexts (their load
    // balancer flow sets hold a handle on most router flows: freeing them touches every
    // one, ~0.1 s at 250 OVN-Kubernetes nodes).
    let mut smaller = theirs_flows;
    if smaller.len() > out.flows.len() {
        std::mem::swap(&mut smaller, &mut out.flows);
    }
    std::thread::scope(|s| {
        s.spawn(move || {
            drop(contexts);
            drop(router_lbs);
        });
        out.flows.absorb(smaller);
    });
    warnings.extend(theirs_warnings);
    warnings.sort_by_key(|(i, _)| *i);
    out.warnings
        .extend(warnings.into_iter().flat_map(|(_, w)| w));
    let igmp = crate::igmp::build(&state.igmp, &views, &router_views, &mut out.flows);
    crate::igmp::merge_into(igmp, &mut out.multicast_groups);
    if !state.features.ct_no_masked_label {
        out.flows = out.flows.map_flows(crate::state::legacy_ct_flow);
    }
    if let Some(d) = crate::debug_drop::DropSampling::from_options(&globals.all) {
        out.flows = out.flows.map_flows(|k| d.rewrite(k));
    }
    out.dns = crate::dns::build(nb, &out);
    Built {
        svc_arp: health.arp,
        lb_flows,
        content: out,
        globals,
        switches: views,
        routers: router_views,
        lbs,
        router_lb_sets,
    }
}

/// `f` of every item, in item order, computed on two threads (each takes the next run of
/// items as it becomes free: items can cost very differently, e.g. gateway routers with
/// thousands of load balancers next to a cluster router with a few).
fn on_two_threads<T: Sync, R: Send>(
    nb: &NbSnapshot,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    on_two_threads_with(nb, items, || (), |_, item| f(item))
}

/// [`on_two_threads`] with a state of each thread's own (`init` makes it, e.g. a cache).
fn on_two_threads_with<T: Sync, R: Send, S>(
    nb: &NbSnapshot,
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    if items.len() < 2 {
        let mut state = init();
        return items.iter().map(|item| f(&mut state, item)).collect();
    }
    on_two_threads_after(nb, || (), || (), items, init, f).2
}

/// [`on_two_threads_with`], each thread first running a job of its own: this one `mine`, the
/// worker `theirs` (jobs of unequal length: the one done first starts on the items).
fn on_two_threads_after<T: Sync, R: Send, S, A, B: Send>(
    nb: &NbSnapshot,
    mine: impl FnOnce() -> A,
    theirs: impl FnOnce() -> B + Send,
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> (A, B, Vec<R>) {
    let n = items.len();
    // Runs small enough for the two threads to end close together, large enough that
    // taking one costs nothing next to its items.
    let run = (n / 128).clamp(1, 64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    // The items this thread took, with their positions (increasing).
    let take = || {
        let mut state = init();
        let mut done: Vec<(usize, R)> = Vec::new();
        loop {
            let start = next.fetch_add(run, std::sync::atomic::Ordering::Relaxed);
            let Some(part) = items.get(start..(start + run).min(n)) else {
                break;
            };
            if part.is_empty() {
                break;
            }
            done.extend(
                part.iter()
                    .enumerate()
                    .map(|(i, item)| (start + i, f(&mut state, item))),
            );
        }
        done
    };
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            // Group VIP sets are checked once per build on this thread too.
            let _scope = router::gateway::hash::BuildScope::enter(nb);
            let b = theirs();
            (b, take())
        });
        let a = mine();
        let done = take();
        let (b, theirs_done) = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b, merge_by_position(done, theirs_done))
    })
}

/// The results of two ascending lists of (position, result) pairs in position order.
fn merge_by_position<R>(a: Vec<(usize, R)>, b: Vec<(usize, R)>) -> Vec<R> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some((i, _)), Some((j, _))) => {
                if i < j {
                    a.next()
                } else {
                    b.next()
                }
            }
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        let Some((_, r)) = next else { break };
        out.push(r);
    }
    out
}

/// The CoPP meters of each datapath (by index in `datapaths`), or `None` when no datapath has
/// any.
pub fn datapath_meters(
    nb: &NbSnapshot,
    datapaths: &[DatapathContent],
) -> Option<crate::copp::DatapathMeters> {
    use crate::copp::CoppMeters;
    if nb.copp.is_empty() {
        return None;
    }
    let meters: Vec<_> = datapaths
        .iter()
        .map(|d| match d.kind {
            DatapathKind::Switch => nb
                .switches
                .get(&ovsdb::model::Ref::new(d.nb_uuid))
                .and_then(|s| CoppMeters::resolve(nb, s.copp.as_ref())),
            DatapathKind::Router => nb
                .routers
                .get(&ovsdb::model::Ref::new(d.nb_uuid))
                .and_then(|r| CoppMeters::resolve(nb, r.copp.as_ref())),
        })
        .collect();
    meters
        .iter()
        .any(Option::is_some)
        .then(|| std::sync::Arc::new(meters))
}

/// Adds the `Datapath_Binding` of a switch or router (`nb` = its UUID, name, NB
/// `external_ids`, and its `other_config` (switch) or `options` (router)) with the key found
/// for it, or a newly allocated one; returns its index, or `None` (reported) when no key is
/// left.
fn push_datapath(
    out: &mut SbContent,
    dp_keys: &mut TunnelKeyAllocator,
    key: Option<u32>,
    kind: DatapathKind,
    nb: (
        uuid::Uuid,
        &str,
        &SortedMap<String, String>,
        &SortedMap<String, String>,
    ),
) -> Option<DpIndex> {
    let (nb_uuid, name, nb_ids, config) = nb;
    let key = match key.map_or_else(|| dp_keys.allocate(name), Ok) {
        Ok(k) => k,
        Err(e) => {
            out.warnings.push(NbWarning::TunnelKey(e));
            return None;
        }
    };
    let (owner, name2) = match kind {
        DatapathKind::Switch => ("logical-switch", "neutron:network_name"),
        DatapathKind::Router => ("logical-router", "neutron:router_name"),
    };
    let mut ids = BTreeMap::new();
    ids.insert(owner.to_owned(), nb_uuid.to_string());
    ids.insert("name".to_owned(), name.to_owned());
    if let Some(n) = nb_ids.get(name2).filter(|n| !n.is_empty()) {
        ids.insert("name2".to_owned(), n.clone());
    }
    ids.extend(datapath_config_ids(kind, config));
    out.datapaths.push(DatapathContent {
        nb_uuid,
        name: name.to_owned(),
        kind,
        tunnel_key: key,
        external_ids: ids,
    });
    Some(out.datapaths.len() - 1)
}

/// The `Datapath_Binding` `external_ids` ovn-controller reads that ovn-northd 23.03 copies from
/// the NB configuration: a switch's `other_config:interconn-ts`; a router's
/// `options:snat-ct-zone` (when it is an integer of at least 0, written back in decimal; the
/// router then SNATs in that conntrack zone) and `always_learn_from_arp_request=false` (when
/// the option is `false` in any case).
fn datapath_config_ids(
    kind: DatapathKind,
    config: &SortedMap<String, String>,
) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    match kind {
        DatapathKind::Switch => {
            if let Some(ts) = config.get("interconn-ts") {
                ids.push(("interconn-ts".to_owned(), ts.clone()));
            }
        }
        DatapathKind::Router => {
            let zone = config.get("snat-ct-zone").and_then(|v| c_int(v));
            if let Some(zone) = zone.filter(|z| *z >= 0) {
                ids.push(("snat-ct-zone".to_owned(), zone.to_string()));
            }
            if config
                .get("always_learn_from_arp_request")
                .is_some_and(|v| v.eq_ignore_ascii_case("false"))
            {
                ids.push((
                    "always_learn_from_arp_request".to_owned(),
                    "false".to_owned(),
                ));
            }
        }
    }
    ids
}

/// A decimal `int` as OVS's `str_to_int` reads it: optional leading white space and sign, then
/// digits up to the end of the text, within the range of a 32-bit int.
fn c_int(text: &str) -> Option<i32> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if t.is_empty() {
        return None;
    }
    t.parse().ok()
}

/// Tunnel keys for the ports of one datapath: keys already in SB first, then requested keys
/// (`options:requested-tnl-key`), then new ones. `None` where allocation failed (reported).
fn port_keys<'a>(
    state: &SbState,
    dp_uuid: uuid::Uuid,
    ports: impl Iterator<Item = (&'a str, Option<&'a SortedMap<String, String>>)> + Clone,
    warnings: &mut Vec<NbWarning>,
) -> Vec<Option<u32>> {
    let mut alloc = TunnelKeyAllocator::new(MIN_PORT_KEY, MAX_PORT_KEY);
    let mut keys: Vec<Option<u32>> = ports
        .clone()
        .map(|(name, _)| {
            state
                .port_keys
                .get(name)
                .filter(|(dp, _)| *dp == dp_uuid)
                .map(|(_, k)| *k)
                .filter(|k| alloc.reserve(*k))
        })
        .collect();
    for ((name, opts), key) in ports.clone().zip(keys.iter_mut()) {
        if key.is_none() {
            if let Some(k) = opts.and_then(|o| requested_key(o, name, warnings)) {
                *key = alloc.request(k, name).ok();
            }
        }
    }
    ports
        .zip(keys)
        .map(
            |((name, _), key)| match key.map_or_else(|| alloc.allocate(name), Ok) {
                Ok(k) => Some(k),
                Err(e) => {
                    warnings.push(NbWarning::TunnelKey(e));
                    None
                }
            },
        )
        .collect()
}

/// Port_Binding rows of a router's ports: `patch` (or `l3gateway` on a gateway router) with
/// `options:peer` naming the peer port, and a `chassisredirect` row `cr-PORT` per distributed
/// gateway port with the `HA_Chassis_Group` it uses.
fn build_router_ports(
    nb: &NbSnapshot,
    state: &SbState,
    lr: &Router,
    dp_uuid: uuid::Uuid,
    out: &mut SbContent,
) {
    use router::gateway::bindings;
    let crs: Vec<(&router::RouterPort, String)> = lr.dgps().map(|p| (p, p.cr_name())).collect();
    let keys = port_keys(
        state,
        dp_uuid,
        lr.ports
            .iter()
            .map(|p| (p.name.as_str(), Some(&p.options)))
            .chain(crs.iter().map(|(_, n)| (n.as_str(), None))),
        &mut out.warnings,
    );
    let (port_keys, cr_keys) = keys.split_at(lr.ports.len());
    // `mac` is the NB `mac` followed by the NB `networks`.
    let mac_of = |p: &router::RouterPort| {
        let mut mac = nb
            .router_ports
            .get(&p.nb)
            .map_or_else(|| p.mac.to_string(), |l| l.mac.clone());
        for n in nb
            .router_ports
            .get(&p.nb)
            .into_iter()
            .flat_map(|l| &l.networks)
        {
            mac.push(' ');
            mac.push_str(n);
        }
        mac
    };
    // Router port bindings (and their `chassisredirect` ones) carry the port's `external_ids`.
    let ids_of = |p: &router::RouterPort| {
        nb.router_ports
            .get(&p.nb)
            .map(|l| l.external_ids.clone())
            .unwrap_or_default()
    };
    for (p, key) in lr.ports.iter().zip(port_keys) {
        let Some(key) = *key else { continue };
        let (type_, mut options) = bindings::router_port_binding(nb, lr, p);
        router::input_ra::port_binding_options(nb, p, &mut options);
        out.ports.push(PortContent {
            name: p.name.clone(),
            datapath: lr.dp,
            tunnel_key: key,
            type_,
            mac: BTreeSet::from([mac_of(p)]),
            port_security: BTreeSet::new(),
            options: options.into(),
            external_ids: ids_of(p),
            parent_port: None,
            tag: None,
            nat_addresses: BTreeSet::new(),
            ha_chassis_group: None,
            requested_chassis: Vec::new(),
        });
    }
    for ((p, cr), key) in crs.iter().zip(cr_keys) {
        let Some(key) = *key else { continue };
        let group = nb
            .router_ports
            .get(&p.nb)
            .and_then(|l| bindings::dgp_ha_group(nb, l));
        let group_name = group.map(|(name, g)| {
            out.ha_chassis_groups.insert(name.clone(), g);
            name
        });
        out.ports.push(PortContent {
            name: cr.clone(),
            datapath: lr.dp,
            tunnel_key: key,
            type_: "chassisredirect".to_owned(),
            mac: BTreeSet::from([mac_of(p)]),
            port_security: BTreeSet::new(),
            options: bindings::chassisredirect_options(nb, lr, p).into(),
            external_ids: ids_of(p),
            parent_port: None,
            tag: None,
            nat_addresses: BTreeSet::new(),
            ha_chassis_group: group_name,
            requested_chassis: Vec::new(),
        });
    }
}

/// The `Port_Binding` and `Multicast_Group` rows of switch `sw` (NB UUID `dp_uuid`).
pub(crate) fn build_switch_ports(
    nb: &NbSnapshot,
    state: &SbState,
    sw: &Switch,
    dp_uuid: uuid::Uuid,
    routers: &[Router],
    out: &mut SbContent,
) {
    let keys = port_keys(
        state,
        dp_uuid,
        sw.ports.iter().map(|p| {
            (
                p.name.as_str(),
                nb.switch_ports.get(&p.nb).map(|l| &l.options),
            )
        }),
        &mut out.warnings,
    );
    let mut groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (p, key) in sw.ports.iter().zip(keys) {
        let (Some(lsp), Some(key)) = (nb.switch_ports.get(&p.nb), key) else {
            continue;
        };
        // `mac` is `addresses` as written (`dynamic` stays `dynamic`).
        let mac = lsp.addresses.clone();
        let mut nat_addresses = BTreeSet::new();
        let mut options;
        let type_ = match p.type_ {
            LspType::Router => {
                // Only `router-port`, as `peer`: the other options are not copied.
                options = SortedMap::default();
                if let Some(peer) = lsp.options.get("router-port") {
                    options.insert("peer".to_owned(), peer.clone());
                }
                let gw = router::gateway::bindings::router_lsp_binding(
                    nb,
                    routers,
                    sw,
                    lsp,
                    &mut out.warnings,
                );
                nat_addresses = gw.nat_addresses;
                match gw.l3gateway_chassis {
                    Some(ch) => {
                        options.insert("l3gateway-chassis".to_owned(), ch);
                        "l3gateway".to_owned()
                    }
                    None => "patch".to_owned(),
                }
            }
            _ => {
                options = lsp.options.clone();
                // ovn-controller lets tagged traffic of the port's switch through.
                if sw.vlan_passthru {
                    options.insert("vlan-passthru".to_owned(), "true".to_owned());
                }
                lsp.type_.clone()
            }
        };
        // The port's own `external_ids`, and `name` from a non-empty `neutron:port_name`.
        let mut external_ids = lsp.external_ids.clone();
        if let Some(n) = lsp
            .external_ids
            .get("neutron:port_name")
            .filter(|n| !n.is_empty())
        {
            external_ids.insert("name".to_owned(), n.clone());
        }
        out.ports.push(PortContent {
            name: p.name.clone(),
            datapath: sw.dp,
            tunnel_key: key,
            type_,
            mac,
            port_security: lsp.port_security.clone(),
            options,
            external_ids,
            parent_port: lsp.parent_name.clone(),
            tag: lsp.tag.or(lsp.tag_request.filter(|t| *t != 0)),
            nat_addresses,
            ha_chassis_group: if p.type_ == LspType::External {
                lsp.ha_chassis_group
                    .and_then(|g| router::gateway::bindings::nb_ha_group(nb, g))
                    .map(|(name, g)| {
                        out.ha_chassis_groups.insert(name.clone(), g);
                        name
                    })
            } else {
                None
            },
            requested_chassis: if p.type_ == LspType::Router {
                Vec::new()
            } else {
                lsp.options
                    .get("requested-chassis")
                    .map(|v| {
                        v.split(',')
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            },
        });
        if p.enabled {
            groups
                .entry(mcast::FLOOD)
                .or_default()
                .insert(p.name.clone());
            if p.type_ != LspType::Router {
                groups
                    .entry(mcast::FLOOD_L2)
                    .or_default()
                    .insert(p.name.clone());
            }
            if p.has_unknown {
                groups
                    .entry(mcast::UNKNOWN)
                    .or_default()
                    .insert(p.name.clone());
            }
            if p.mcast_flood {
                groups
                    .entry(mcast::STATIC)
                    .or_default()
                    .insert(p.name.clone());
            }
            if p.mcast_flood_reports || p.mcast_relay_peer {
                groups
                    .entry(mcast::MROUTER_FLOOD)
                    .or_default()
                    .insert(p.name.clone());
            }
        }
    }
    for (name, key) in mcast::SWITCH_GROUPS {
        if let Some(ports) = groups.remove(name) {
            out.multicast_groups.push(McGroupContent {
                datapath: sw.dp,
                name: name.to_owned(),
                tunnel_key: key,
                ports,
            });
        }
    }
}

/// The address sets: NB's, `svc_monitor_mac`, and each port group's `<name>_ip4` and
/// `<name>_ip6`.
fn build_address_sets(
    nb: &NbSnapshot,
    globals: &GlobalOptions,
    views: &[Switch],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    out.insert(
        "svc_monitor_mac".to_owned(),
        BTreeSet::from([globals.svc_monitor_mac.clone()]),
    );
    for set in nb.address_sets.values() {
        out.insert(set.name.clone(), set.addresses.clone());
    }
    let ports: BTreeMap<_, _> = views
        .iter()
        .flat_map(|sw| sw.ports.iter().map(|p| (p.nb, p)))
        .collect();
    for pg in nb.port_groups.values() {
        let (v4, v6) = port_group_sets(pg, |r| ports.get(r).copied());
        out.insert(format!("{}_ip4", pg.name), v4);
        out.insert(format!("{}_ip6", pg.name), v6);
    }
    out
}

/// The IPv4 and IPv6 addresses of the ports of `pg` (the `<name>_ip4` and `<name>_ip6`
/// address sets); `port` finds a member in the switch views (ports on no switch count for
/// nothing).
pub(crate) fn port_group_sets<'a>(
    pg: &nb::PortGroup,
    port: impl Fn(&ovsdb::model::Ref<nb::LogicalSwitchPort>) -> Option<&'a switch::SwitchPort>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut v4 = BTreeSet::new();
    let mut v6 = BTreeSet::new();
    for p in pg.ports.iter().filter_map(port) {
        for a in &p.addrs {
            v4.extend(a.ipv4.iter().map(ToString::to_string));
            v6.extend(a.ipv6.iter().map(ToString::to_string));
        }
    }
    (v4, v6)
}

/// SB port groups, one per NB port group and datapath with ports of the group:
/// `<datapath key>_<name>` (flows keep `@name`; ovn-controller resolves it per datapath).
fn build_port_groups(
    nb: &NbSnapshot,
    views: &[Switch],
    datapaths: &[DatapathContent],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    // Where each port is: (view, port) positions, found once rather than per group and view.
    let mut at: BTreeMap<ovsdb::model::Ref<nb::LogicalSwitchPort>, Vec<(usize, usize)>> =
        BTreeMap::new();
    for (v, sw) in views.iter().enumerate() {
        for (i, p) in sw.ports.iter().enumerate() {
            at.entry(p.nb).or_default().push((v, i));
        }
    }
    for pg in nb.port_groups.values() {
        // Members by view, in view order (as a scan of every view per group would find them).
        let mut by_view: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for &(v, i) in pg.ports.iter().filter_map(|r| at.get(r)).flatten() {
            by_view
                .entry(v)
                .or_default()
                .insert(views[v].ports[i].name.clone());
        }
        for (v, members) in by_view {
            let key = datapaths[views[v].dp].tunnel_key;
            out.insert(format!("{key}_{}", pg.name), members);
        }
    }
    out
}

/// The SB `Load_Balancer` rows: every load balancer some switch of `views` has, with those
/// switches' datapaths, in `nb` order.
fn load_balancer_rows(nb: &NbSnapshot, views: &[Switch]) -> Vec<LbContent> {
    let keys: Vec<ovsdb::model::Ref<nb::LoadBalancer>> =
        nb.load_balancers.keys().copied().collect();
    // Each load balancer group with its members' positions in `keys` (those that exist), in
    // `nb.lb_groups` order.
    let groups: Vec<(ovsdb::model::Ref<nb::LoadBalancerGroup>, Vec<usize>)> = nb
        .lb_groups
        .iter()
        .map(|(r, g)| {
            let members = g
                .load_balancer
                .iter()
                .filter_map(|m| keys.binary_search(m).ok())
                .collect();
            (*r, members)
        })
        .collect();
    // A switch has every member of a group of its NB row, or not: the group's datapaths are
    // those of the switches having all of it (on OVN-Kubernetes every node switch has the
    // cluster's Service group, thousands of load balancers); each load balancer's own are
    // those of the switches having it apart from such a group (sorted lists: found by a walk
    // along `keys`).
    let mut group_dps: Vec<Vec<DpIndex>> = vec![Vec::new(); groups.len()];
    let mut direct: Vec<Vec<DpIndex>> = vec![Vec::new(); keys.len()];
    let mut covered: Vec<bool> = Vec::new();
    let mut at: Vec<usize> = Vec::new();
    for sw in views.iter().filter(|sw| !sw.lbs.is_empty()) {
        covered.clear();
        covered.resize(sw.lbs.len(), false);
        let row_groups = nb.switches.get(&sw.nb).map(|row| &row.load_balancer_group);
        for g in row_groups.into_iter().flatten() {
            let Ok(gi) = groups.binary_search_by(|(r, _)| r.cmp(g)) else {
                continue;
            };
            let Some((_, members)) = groups.get(gi) else {
                continue;
            };
            at.clear();
            if switch::lb::positions_in_sorted(&sw.lbs, members.iter().map(|&p| &keys[p]), &mut at)
            {
                group_dps[gi].push(sw.dp);
                for &i in &at {
                    covered[i] = true;
                }
            }
        }
        let mut from = 0;
        for (lb, _) in sw.lbs.iter().zip(&covered).filter(|(_, c)| !**c) {
            // Search past the previous one first, in doubling steps (the next one is
            // usually close).
            let found = gallop_from(&keys, from, lb).or_else(|| keys.binary_search(lb).ok());
            if let Some(at) = found {
                direct[at].push(sw.dp);
                from = at + 1;
            }
        }
    }
    drop(covered);
    // The groups (with datapaths) of each load balancer.
    let mut of_lb: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (gi, (_, members)) in groups.iter().enumerate() {
        if group_dps[gi].is_empty() {
            continue;
        }
        for &p in members {
            of_lb[p].push(gi);
        }
    }
    // A group's datapaths as a set, made once and copied for each member on no other
    // datapath.
    let mut sets: Vec<Option<BTreeSet<DpIndex>>> = vec![None; groups.len()];
    let mut out = Vec::new();
    for ((lb, gs), own) in nb.load_balancers.values().zip(of_lb).zip(direct) {
        let datapaths = match (gs.as_slice(), own.is_empty()) {
            ([], true) => continue,
            (&[g], true) => sets[g]
                .get_or_insert_with(|| group_dps[g].iter().copied().collect())
                .clone(),
            _ => {
                let mut all: Vec<DpIndex> = gs
                    .iter()
                    .flat_map(|&g| group_dps[g].iter().copied())
                    .chain(own)
                    .collect();
                all.sort_unstable();
                all.into_iter().collect()
            }
        };
        let mut options = lb.options.clone();
        options.insert("hairpin_orig_tuple".to_owned(), "true".to_owned());
        out.push(LbContent {
            nb_uuid: lb.uuid.uuid(),
            name: lb.name.clone(),
            vips: crate::lb::sb_vips(lb),
            protocol: lb.protocol.map(|p| p.as_str().to_owned()),
            options,
            datapaths,
        });
    }
    out
}

/// The position of `x` in `sorted` at `from` or after, looked for in doubling steps from
/// `from` then by binary search within the last step (cheap when `x` is near `from`).
fn gallop_from<T: Ord>(sorted: &[T], from: usize, x: &T) -> Option<usize> {
    let rest = sorted.get(from..)?;
    let mut end = 1;
    while end < rest.len() && rest[end - 1] < *x {
        end *= 2;
    }
    let end = end.min(rest.len());
    rest[..end].binary_search(x).ok().map(|i| from + i)
}

#[cfg(test)]
mod config_ids_tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn two_threads_give_results_in_item_order() {
        let nb = NbSnapshot::default();
        for n in [0usize, 1, 2, 3, 127, 128, 129, 1000, 20_000] {
            let items: Vec<usize> = (0..n).collect();
            // Uneven costs: every tenth item far dearer than the others.
            let out = on_two_threads(&nb, &items, |&i| {
                let rounds = if i % 10 == 0 { 2000 } else { 1 };
                std::hint::black_box((0..rounds).fold(i, |h, r| h.wrapping_mul(31) ^ r));
                i * 3
            });
            assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>(), "{n}");
            // Each thread's state sees only its own items, in increasing order.
            let seen = on_two_threads_with(
                &nb,
                &items,
                || None::<usize>,
                |last, &i| {
                    let ok = last.is_none_or(|l| l < i);
                    *last = Some(i);
                    ok
                },
            );
            assert!(seen.iter().all(|ok| *ok), "{n}");
            assert_eq!(seen.len(), n);
        }
    }

    #[test]
    fn merge_by_position_interleaves() {
        let a = vec![(0, 'a'), (1, 'b'), (4, 'e')];
        let b = vec![(2, 'c'), (3, 'd'), (5, 'f')];
        assert_eq!(merge_by_position(a, b), vec!['a', 'b', 'c', 'd', 'e', 'f']);
        assert_eq!(
            merge_by_position(Vec::<(usize, u8)>::new(), vec![(0, 1)]),
            vec![1]
        );
    }

    #[test]
    fn gallop_finds_what_binary_search_finds() {
        let sorted: Vec<u32> = (0..300).map(|i| i * 3).collect();
        for from in [0, 1, 5, 64, 200, 299, 300, 301] {
            for x in 0..910 {
                let expected = sorted
                    .get(from..)
                    .and_then(|rest| rest.binary_search(&x).ok())
                    .map(|i| from + i);
                assert_eq!(gallop_from(&sorted, from, &x), expected, "{from} {x}");
            }
        }
    }

    #[test]
    fn router_options_copied_as_ovn_northd_does() {
        let ids = datapath_config_ids(
            DatapathKind::Router,
            &map(&[
                ("snat-ct-zone", " +07"),
                ("always_learn_from_arp_request", "FALSE"),
            ]),
        );
        assert_eq!(
            ids,
            vec![
                ("snat-ct-zone".to_owned(), "7".to_owned()),
                (
                    "always_learn_from_arp_request".to_owned(),
                    "false".to_owned()
                ),
            ]
        );
        for bad in ["-1", "x", "7 ", "", "99999999999"] {
            let ids = datapath_config_ids(DatapathKind::Router, &map(&[("snat-ct-zone", bad)]));
            assert!(ids.is_empty(), "{bad:?}: {ids:?}");
        }
        let ids = datapath_config_ids(
            DatapathKind::Router,
            &map(&[("always_learn_from_arp_request", "true")]),
        );
        assert!(ids.is_empty());
    }

    #[test]
    fn switch_interconn_ts_copied() {
        let ids = datapath_config_ids(
            DatapathKind::Switch,
            &map(&[("interconn-ts", "ts1"), ("snat-ct-zone", "0")]),
        );
        assert_eq!(ids, vec![("interconn-ts".to_owned(), "ts1".to_owned())]);
    }
}
