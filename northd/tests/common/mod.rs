//! The parity harness shared by the parity test files: each scenario builds an NB through
//! ovn-nbctl on a real stack, lets real ovn-northd compile it, then compiles the dumped NB with
//! ours and compares Logical_Flow sets (expanded per datapath), Port_Binding, Multicast_Group,
//! Address_Set, Port_Group, Load_Balancer and IP_Multicast rows. With `PARITY_SBTABLES=1`,
//! every SB table is compared too, as our northd's own transaction writes it ([`sbtables`]).
//! With `PARITY_DEBUG_DROP=1` drop sampling is on (`NB_Global` `debug_drop_*` options) in every
//! scenario; `PARITY_COPP=1` and `PARITY_LEGACY_CHASSIS=1` add a CoPP everywhere and a chassis
//! without features.
//!
//! Every flow we emit is also parsed with `flowcompile` (match and actions).
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use ovn_sb::model as sb;
use ovsdb::model::Model;
use serde_json::{Map, Value};

use northd::{build, NbSnapshot, SbContent, SbState};
pub use testkit::nbscript::{copp_everywhere, resolve_arg};

pub mod sbtables;

/// A logical flow expanded per datapath: (datapath name, stage name, priority, match, actions).
pub type Flow = (String, String, u16, String, String);

/// `ovn-[ns]bctl --format=json list TABLE` output to JSON rows.
pub fn json_rows(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("json list output");
    let headings: Vec<String> = v["headings"]
        .as_array()
        .expect("headings")
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_owned())
        .collect();
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|row| {
            let mut m = Map::new();
            for (h, cell) in headings.iter().zip(row.as_array().expect("row")) {
                m.insert(h.clone(), cell.clone());
            }
            Value::Object(m)
        })
        .collect()
}

pub fn sb_rows<T: Model>(stack: &testkit::Stack) -> Vec<T> {
    let text = stack
        .sbctl(["--format=json", "list", T::TABLE])
        .expect("sbctl list");
    json_rows(&text)
        .iter()
        .map(|r| T::from_json(r).expect("SB row"))
        .collect()
}

/// The flow comparison of one scenario.
pub struct Outcome {
    /// Flows in both.
    pub equal: usize,
    /// Flows only we emit.
    pub ours_only: Vec<Flow>,
    /// Flows only real ovn-northd emits.
    pub real_only: Vec<Flow>,
}

/// Our flows, expanded per datapath.
pub fn our_flows(content: &SbContent) -> BTreeSet<Flow> {
    let mut out = BTreeSet::new();
    for (k, dps) in content.flows.iter() {
        for &dp in dps {
            out.insert((
                content.datapaths[dp].name.clone(),
                k.stage.name().to_owned(),
                k.priority,
                k.match_.clone(),
                k.actions.clone(),
            ));
        }
    }
    out
}

/// Actions real ovn-northd 23.03 writes that its own parser rejects (`drop;` after another
/// action, in load balancer flows of routers forcing or skipping SNAT): parity needs them.
const KNOWN_UNPARSABLE: &[&str] = &[
    "flags.force_snat_for_lb = 1; drop;",
    "flags.skip_snat_for_lb = 1; drop;",
];

/// Real datapath tunnel keys to ours (by datapath name): per-router address sets are named
/// after the key (`_rtr_lb_<key>_ip4`) and the two sides allocate keys in different orders.
pub fn real_to_our_keys(stack: &testkit::Stack, content: &SbContent) -> BTreeMap<String, String> {
    let ours: BTreeMap<&str, u32> = content
        .datapaths
        .iter()
        .map(|d| (d.name.as_str(), d.tunnel_key))
        .collect();
    let dps: Vec<sb::DatapathBinding> = sb_rows(stack);
    dps.iter()
        .filter_map(|d| {
            let name = d.external_ids.get("name")?;
            let our = ours.get(name.as_str())?;
            Some((d.tunnel_key.to_string(), our.to_string()))
        })
        .collect()
}

/// Rewrites `_rtr_lb_<key>_` in `text` through `keys`.
pub fn rekey_rtr_lb(text: &str, keys: &BTreeMap<String, String>) -> String {
    const TAG: &str = "_rtr_lb_";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(TAG) {
        out.push_str(&rest[..i + TAG.len()]);
        rest = &rest[i + TAG.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let key = &rest[..digits];
        out.push_str(keys.get(key).map_or(key, String::as_str));
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

pub fn check_parses(content: &SbContent) {
    use flowcompile::actions::{parse_actions, ParseContext, Pipeline};
    use flowcompile::debug::{run, Pass};
    let mut bad = Vec::new();
    for (k, _) in content.flows.iter() {
        if KNOWN_UNPARSABLE.contains(&k.actions.as_str()) {
            continue;
        }
        // Template references (`^NAME`, load balancer templates) are expanded by
        // ovn-controller from `Chassis_Template_Var` before it parses the flow.
        if k.match_.contains('^') || k.actions.contains('^') {
            continue;
        }
        // A router's routable addresses that are all IPv6: ovn-northd 23.03 resolves the
        // (empty) IPv4 ones in a match that does not parse (ovn-controller skips the flow).
        if k.match_.ends_with("reg0 == {}") {
            continue;
        }
        if let Err(e) = run(Pass::Parse, &k.match_) {
            bad.push(format!("match {:?}: {e}", k.match_));
        }
        let pipeline = match k.stage.pipeline() {
            ovn_sb::Pipeline::Ingress => Pipeline::Ingress,
            ovn_sb::Pipeline::Egress => Pipeline::Egress,
        };
        if let Err(e) = parse_actions(&k.actions, &ParseContext::new(pipeline, k.stage.table())) {
            bad.push(format!("actions {:?}: {e}", k.actions));
        }
    }
    assert!(
        bad.is_empty(),
        "flows that do not parse:\n{}",
        bad.join("\n")
    );
}

/// Runs a scenario without a chassis: `setup` issues nbctl commands on the real stack.
pub fn scenario(name: &str, setup: &[&[&str]]) -> Option<Outcome> {
    scenario_on(name, false, setup)
}

/// Runs a scenario; with `chassis`, a real ovn-controller registers chassis `ch1` (and its
/// features) before the NB is built.
pub fn scenario_on(name: &str, chassis: bool, setup: &[&[&str]]) -> Option<Outcome> {
    let ovn = testkit::require_or_skip!(None);
    let builder = if chassis {
        ovn.stack().chassis("ch1")
    } else {
        ovn.stack().no_chassis()
    };
    let stack = builder.build().expect("real stack");
    if std::env::var_os("PARITY_LEGACY_CHASSIS").is_some() {
        legacy_chassis(&stack);
    }
    if std::env::var_os("PARITY_DEBUG_DROP").is_some() {
        // Drop sampling: every drop of ours written as a `sample` action.
        stack
            .nbctl([
                "set",
                "NB_Global",
                ".",
                "options:debug_drop_collector_set=7",
                "options:debug_drop_domain_id=5",
            ])
            .expect("nbctl");
    }
    for cmd in setup {
        let args: Vec<String> = cmd.iter().map(|a| resolve_arg(&stack, a)).collect();
        stack.nbctl(&args).expect("nbctl");
    }
    if std::env::var_os("PARITY_COPP").is_some() {
        copp_everywhere(&stack);
    }
    stack.wait_sb().expect("wait sb");

    let snapshot = nb_snapshot(&stack);
    check_ipam(name, &snapshot);
    let (out, content) = compare_flows(&stack, &snapshot);
    assert!(
        content.warnings.is_empty(),
        "{name}: warnings {:?}",
        content.warnings
    );
    check_parses(&content);
    print_outcome(name, &out);
    compare_bindings(name, &stack, &content);
    if std::env::var_os("PARITY_SBTABLES").is_some() {
        let d = sbtables::check_stack(&stack, sbtables::limit());
        assert!(d.is_empty(), "{name}: SB tables differ:\n{}", d.join("\n"));
    }
    Some(out)
}

/// Registers a chassis that publishes no features (as ovn-controller before 22.06), which
/// switches real ovn-northd to `ct_lb` and `ct_label` bits (`PARITY_LEGACY_CHASSIS=1`).
pub fn legacy_chassis(stack: &testkit::Stack) {
    stack
        .sbctl(["chassis-add", "legacy", "geneve", "127.0.0.99"])
        .expect("chassis-add");
}

/// Our IPAM, run on the NB with every `dynamic_addresses` cleared, allocates what real
/// ovn-northd allocated.
pub fn check_ipam(name: &str, snapshot: &NbSnapshot) {
    let mut cleared = snapshot.clone();
    for p in cleared.switch_ports.values_mut() {
        p.dynamic_addresses = None;
    }
    let prefix = snapshot.global_options()["mac_prefix"].clone();
    let mut warnings = Vec::new();
    let ours = northd::ipam::allocate(&cleared, &prefix, &mut warnings);
    let ours: BTreeMap<String, Option<String>> = ours
        .into_iter()
        .map(|(r, v)| (snapshot.switch_ports[&r].name.clone(), v))
        .collect();
    let real: BTreeMap<String, Option<String>> = snapshot
        .switch_ports
        .values()
        .filter(|p| ours.contains_key(&p.name))
        .map(|p| (p.name.clone(), p.dynamic_addresses.clone()))
        .collect();
    assert_eq!(ours, real, "{name}: IPAM allocations differ");
}

/// The stack's SB datapaths' names, by UUID.
pub fn datapath_names(stack: &testkit::Stack) -> BTreeMap<uuid::Uuid, String> {
    let dps: Vec<sb::DatapathBinding> = sb_rows(stack);
    dps.iter()
        .map(|d| {
            (
                d.uuid.uuid(),
                d.external_ids.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Prints a scenario's flow comparison: counts, then every flow only one side has.
pub fn print_outcome(name: &str, out: &Outcome) {
    eprintln!(
        "parity {name}: equal {} ours-only {} real-only {}",
        out.equal,
        out.ours_only.len(),
        out.real_only.len()
    );
    for f in &out.ours_only {
        eprintln!("  ours-only: {f:?}");
    }
    for f in &out.real_only {
        eprintln!("  real-only: {f:?}");
    }
}

/// A logical flow with a meter or a port tag, expanded per datapath: the flow, its
/// `controller_meter` and its `tags:in_out_port`.
pub type MeteredFlow = (Flow, Option<String>, Option<String>);

/// Our flows that carry a meter or a port tag, expanded per datapath.
pub fn our_metered_flows(content: &SbContent) -> BTreeSet<MeteredFlow> {
    let mut out = BTreeSet::new();
    for (k, dps) in content.flows.iter() {
        let io_port = k.io_port();
        if k.meter.is_none() && io_port.is_none() {
            continue;
        }
        for &dp in dps {
            out.insert((
                (
                    content.datapaths[dp].name.clone(),
                    k.stage.name().to_owned(),
                    k.priority,
                    k.match_.clone(),
                    k.actions.clone(),
                ),
                k.meter.as_deref().map(str::to_owned),
                io_port.map(str::to_owned),
            ));
        }
    }
    out
}

/// The real stack's flows that carry a meter, expanded per datapath (router load balancer
/// address set keys renamed through `lb_keys`).
pub fn real_metered_flows(
    stack: &testkit::Stack,
    lb_keys: &BTreeMap<String, String>,
) -> BTreeSet<MeteredFlow> {
    let dp_name = datapath_names(stack);
    let groups: Vec<sb::LogicalDpGroup> = sb_rows(stack);
    let group_dps: BTreeMap<_, Vec<_>> = groups
        .iter()
        .map(|g| {
            (
                g.uuid.uuid(),
                g.datapaths.iter().map(|d| d.uuid()).collect(),
            )
        })
        .collect();
    // (ovn-sbctl lists a `hash` column of Logical_Flow that the schema does not declare.)
    let text = stack
        .sbctl([
            "--format=json",
            "--columns=_uuid,logical_datapath,logical_dp_group,pipeline,table_id,priority,match,actions,controller_meter,tags,external_ids",
            "list",
            "Logical_Flow",
        ])
        .expect("sbctl list");
    let flows: Vec<sb::LogicalFlow> = json_rows(&text)
        .iter()
        .map(|r| sb::LogicalFlow::from_json(r).expect("SB row"))
        .collect();
    let mut out = BTreeSet::new();
    for f in &flows {
        let io_port = f.tags.get("in_out_port");
        if f.controller_meter.is_none() && io_port.is_none() {
            continue;
        }
        let dps: Vec<_> = match (&f.logical_datapath, &f.logical_dp_group) {
            (Some(d), _) => vec![d.uuid()],
            (None, Some(g)) => group_dps.get(&g.uuid()).cloned().unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        let stage = f
            .external_ids
            .get("stage-name")
            .cloned()
            .unwrap_or_default();
        for d in dps {
            out.insert((
                (
                    dp_name.get(&d).cloned().unwrap_or_default(),
                    stage.clone(),
                    u16::try_from(f.priority).unwrap_or_default(),
                    rekey_rtr_lb(&f.match_, lb_keys),
                    f.actions.clone(),
                ),
                f.controller_meter.clone(),
                io_port.cloned(),
            ));
        }
    }
    out
}

/// Logical flow meters (`controller_meter`) and `Meter` rows (with their bands) equal.
pub fn compare_meters(name: &str, stack: &testkit::Stack, content: &SbContent) {
    let lb_keys = real_to_our_keys(stack, content);
    let real = real_metered_flows(stack, &lb_keys);
    let ours = our_metered_flows(content);
    for f in ours.difference(&real) {
        eprintln!("  metered ours-only: {f:?}");
    }
    for f in real.difference(&ours) {
        eprintln!("  metered real-only: {f:?}");
    }
    assert!(
        ours == real,
        "{name}: flow meters or port tags differ (see stderr)"
    );

    let meters: Vec<sb::Meter> = sb_rows(stack);
    let bands: Vec<sb::MeterBand> = sb_rows(stack);
    let band: BTreeMap<_, _> = bands.iter().map(|b| (b.uuid, b)).collect();
    let mut real: Vec<_> = meters
        .iter()
        .map(|m| {
            let mut bs: Vec<_> = m
                .bands
                .iter()
                .filter_map(|r| band.get(r))
                .map(|b| (b.action, b.rate, b.burst_size))
                .collect();
            bs.sort();
            (m.name.clone(), m.unit, bs)
        })
        .collect();
    real.sort();
    let ours: Vec<_> = content
        .meters
        .iter()
        .map(|m| (m.name.clone(), m.unit, m.bands.clone()))
        .collect();
    assert_eq!(ours, real, "{name}: Meter rows differ");
}

/// `Service_Monitor` rows equal (every column but `status`, which ovn-controller owns).
pub fn compare_service_monitors(name: &str, stack: &testkit::Stack, content: &SbContent) {
    let rows: Vec<sb::ServiceMonitor> = sb_rows(stack);
    let mut real: Vec<_> = rows
        .iter()
        .map(|m| {
            (
                m.ip.clone(),
                m.port,
                m.protocol.unwrap_or_default(),
                m.logical_port.clone(),
                m.src_ip.clone(),
                m.src_mac.clone(),
                m.options.clone(),
            )
        })
        .collect();
    real.sort();
    let mut ours: Vec<_> = content
        .service_monitors
        .iter()
        .map(|m| {
            (
                m.key.0.clone(),
                i64::from(m.key.1),
                m.key.2,
                m.key.3.clone(),
                m.src_ip.clone(),
                m.src_mac.clone(),
                m.options.clone(),
            )
        })
        .collect();
    ours.sort();
    assert_eq!(ours, real, "{name}: Service_Monitor rows differ");
}

/// Port_Binding and Multicast_Group rows, tunnel keys renamed through port names (and flow
/// meters and `Meter` rows, [`compare_meters`], and `Service_Monitor` rows,
/// [`compare_service_monitors`]).
pub fn compare_bindings(name: &str, stack: &testkit::Stack, content: &SbContent) {
    compare_meters(name, stack, content);
    compare_service_monitors(name, stack, content);
    let dps: Vec<sb::DatapathBinding> = sb_rows(stack);
    let dp_name = datapath_names(stack);
    let pbs: Vec<sb::PortBinding> = sb_rows(stack);
    let pb_name: BTreeMap<_, _> = pbs
        .iter()
        .map(|p| (p.uuid.uuid(), p.logical_port.clone()))
        .collect();
    type PbRow = (
        String,
        String,
        BTreeSet<String>,
        BTreeSet<String>,
        BTreeMap<String, String>,
        Option<String>,
        Option<i64>,
        BTreeSet<String>,
        Option<String>,
    );
    let ha_groups: Vec<sb::HaChassisGroup> = sb_rows(stack);
    let ha_name: BTreeMap<_, _> = ha_groups
        .iter()
        .map(|g| (g.uuid.uuid(), g.name.clone()))
        .collect();
    let real_pb: BTreeMap<String, PbRow> = pbs
        .iter()
        .map(|p| {
            (
                p.logical_port.clone(),
                (
                    dp_name[&p.datapath.uuid()].clone(),
                    p.type_.clone(),
                    p.mac.clone(),
                    p.port_security.clone(),
                    p.options.clone(),
                    p.parent_port.clone(),
                    p.tag,
                    p.nat_addresses.clone(),
                    p.ha_chassis_group.map(|g| ha_name[&g.uuid()].clone()),
                ),
            )
        })
        .collect();
    let our_pb: BTreeMap<String, PbRow> = content
        .ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                (
                    content.datapaths[p.datapath].name.clone(),
                    p.type_.clone(),
                    p.mac.clone(),
                    p.port_security.clone(),
                    p.options.clone().into(),
                    p.parent_port.clone(),
                    p.tag,
                    p.nat_addresses.clone(),
                    p.ha_chassis_group.clone(),
                ),
            )
        })
        .collect();
    assert_eq!(our_pb, real_pb, "{name}: Port_Binding rows differ");
    // requested_chassis / requested_additional_chassis, by chassis name (our names resolve only
    // to chassis that exist).
    let sb_chassis: Vec<sb::Chassis> = sb_rows(stack);
    let chassis_name: BTreeMap<_, _> = sb_chassis
        .iter()
        .map(|c| (c.uuid.uuid(), c.name.clone()))
        .collect();
    let real_req: BTreeMap<String, Vec<String>> = pbs
        .iter()
        .map(|p| {
            let mut v: Vec<String> = p
                .requested_chassis
                .iter()
                .map(|c| chassis_name[&c.uuid()].clone())
                .collect();
            let mut extra: Vec<String> = p
                .requested_additional_chassis
                .iter()
                .map(|c| chassis_name[&c.uuid()].clone())
                .collect();
            extra.sort();
            v.extend(extra);
            (p.logical_port.clone(), v)
        })
        .collect();
    let our_req: BTreeMap<String, Vec<String>> = content
        .ports
        .iter()
        .map(|p| {
            // A chassis by name, else by hostname, as the diff resolves them.
            let mut v: Vec<String> = p
                .requested_chassis
                .iter()
                .filter_map(|c| {
                    sb_chassis
                        .iter()
                        .find(|ch| &ch.name == c)
                        .or_else(|| sb_chassis.iter().find(|ch| &ch.hostname == c))
                        .map(|ch| ch.name.clone())
                })
                .collect();
            if v.len() > 1 {
                v[1..].sort();
            }
            (p.name.clone(), v)
        })
        .collect();
    assert_eq!(our_req, real_req, "{name}: requested chassis differ");
    // Port keys are unique per datapath in both; datapath keys unique globally.
    let mut seen = BTreeSet::new();
    for p in &content.ports {
        assert!(
            seen.insert((p.datapath, p.tunnel_key)),
            "duplicate port key"
        );
    }

    // HA chassis groups by name: (chassis name, chassis row present, priority) per member.
    let ha: Vec<sb::HaChassis> = sb_rows(stack);
    let chassis: Vec<sb::Chassis> = sb_rows(stack);
    let chassis_names: BTreeSet<String> = chassis.iter().map(|c| c.name.clone()).collect();
    let ha_by_uuid: BTreeMap<_, _> = ha.iter().map(|c| (c.uuid.uuid(), c)).collect();
    let real_ha: BTreeMap<String, BTreeSet<(String, bool, i64)>> = ha_groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.ha_chassis
                    .iter()
                    .map(|c| {
                        let c = ha_by_uuid[&c.uuid()];
                        (
                            c.external_ids
                                .get("chassis-name")
                                .cloned()
                                .unwrap_or_default(),
                            c.chassis.is_some(),
                            c.priority,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let our_ha: BTreeMap<String, BTreeSet<(String, bool, i64)>> = content
        .ha_chassis_groups
        .iter()
        .map(|(n, g)| {
            (
                n.clone(),
                g.chassis
                    .iter()
                    .map(|(c, p)| (c.clone(), chassis_names.contains(c), *p))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(our_ha, real_ha, "{name}: HA_Chassis_Group rows differ");

    let mcs: Vec<sb::MulticastGroup> = sb_rows(stack);
    let real_mc: BTreeSet<(String, String, i64, BTreeSet<String>)> = mcs
        .iter()
        .map(|m| {
            (
                dp_name[&m.datapath.uuid()].clone(),
                m.name.clone(),
                m.tunnel_key,
                m.ports.iter().map(|p| pb_name[&p.uuid()].clone()).collect(),
            )
        })
        .collect();
    let our_mc: BTreeSet<(String, String, i64, BTreeSet<String>)> = content
        .multicast_groups
        .iter()
        .map(|m| {
            (
                content.datapaths[m.datapath].name.clone(),
                m.name.clone(),
                i64::from(m.tunnel_key),
                m.ports.clone(),
            )
        })
        .collect();
    assert_eq!(our_mc, real_mc, "{name}: Multicast_Group rows differ");

    // Static MAC bindings: (datapath, logical_port, ip, mac, override_dynamic_mac).
    type SmbRow = (String, String, String, String, bool);
    let smbs: Vec<sb::StaticMacBinding> = sb_rows(stack);
    let real_smb: BTreeSet<SmbRow> = smbs
        .iter()
        .map(|m| {
            (
                dp_name[&m.datapath.uuid()].clone(),
                m.logical_port.clone(),
                m.ip.clone(),
                m.mac.clone(),
                m.override_dynamic_mac,
            )
        })
        .collect();
    let our_smb: BTreeSet<SmbRow> = content
        .static_mac_bindings
        .iter()
        .map(|m| {
            (
                content.datapaths[m.datapath].name.clone(),
                m.logical_port.clone(),
                m.ip.clone(),
                m.mac.clone(),
                m.override_dynamic_mac,
            )
        })
        .collect();
    assert_eq!(our_smb, real_smb, "{name}: Static_MAC_Binding rows differ");

    // Address sets by name; port groups by name with the datapath key renamed to its name.
    let sets: Vec<sb::AddressSet> = sb_rows(stack);
    let lb_keys = real_to_our_keys(stack, content);
    let real_as: BTreeMap<String, BTreeSet<String>> = sets
        .iter()
        .map(|a| (rekey_rtr_lb(&a.name, &lb_keys), a.addresses.clone()))
        .collect();
    assert_eq!(
        content.address_sets, real_as,
        "{name}: Address_Set rows differ"
    );
    let real_key_name: BTreeMap<String, String> = dps
        .iter()
        .map(|d| (d.tunnel_key.to_string(), dp_name[&d.uuid.uuid()].clone()))
        .collect();
    let our_key_name: BTreeMap<String, String> = content
        .datapaths
        .iter()
        .map(|d| (d.tunnel_key.to_string(), d.name.clone()))
        .collect();
    let rename = |n: &str, keys: &BTreeMap<String, String>| match n.split_once('_') {
        Some((k, rest)) if keys.contains_key(k) => format!("{}_{rest}", keys[k]),
        _ => n.to_owned(),
    };
    let pgs: Vec<sb::PortGroup> = sb_rows(stack);
    let real_pg: BTreeMap<String, BTreeSet<String>> = pgs
        .iter()
        .map(|p| (rename(&p.name, &real_key_name), p.ports.clone()))
        .collect();
    let our_pg: BTreeMap<String, BTreeSet<String>> = content
        .port_groups
        .iter()
        .map(|(n, p)| (rename(n, &our_key_name), p.clone()))
        .collect();
    assert_eq!(our_pg, real_pg, "{name}: Port_Group rows differ");

    // Load balancers, datapaths by name.
    let groups: Vec<sb::LogicalDpGroup> = sb_rows(stack);
    let group_dps: BTreeMap<_, BTreeSet<String>> = groups
        .iter()
        .map(|g| {
            (
                g.uuid.uuid(),
                g.datapaths
                    .iter()
                    .map(|d| dp_name[&d.uuid()].clone())
                    .collect(),
            )
        })
        .collect();
    type LbRow = (
        BTreeMap<String, String>,
        Option<String>,
        BTreeMap<String, String>,
        BTreeSet<String>,
    );
    let lbs: Vec<sb::LoadBalancer> = sb_rows(stack);
    let real_lb: BTreeMap<String, LbRow> = lbs
        .iter()
        .map(|l| {
            let mut dps: BTreeSet<String> = l
                .datapaths
                .iter()
                .map(|d| dp_name[&d.uuid()].clone())
                .collect();
            if let Some(g) = l.datapath_group {
                dps.extend(group_dps[&g.uuid()].iter().cloned());
            }
            (
                l.name.clone(),
                (
                    l.vips.clone(),
                    l.protocol.map(|p| p.as_str().to_owned()),
                    l.options.clone(),
                    dps,
                ),
            )
        })
        .collect();
    let our_lb: BTreeMap<String, LbRow> = content
        .load_balancers
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                (
                    l.vips.clone().into(),
                    l.protocol.clone(),
                    l.options.clone().into(),
                    l.datapaths
                        .iter()
                        .map(|d| content.datapaths[*d].name.clone())
                        .collect(),
                ),
            )
        })
        .collect();
    assert_eq!(our_lb, real_lb, "{name}: Load_Balancer rows differ");

    let ipm: Vec<sb::IpMulticast> = sb_rows(stack);
    let real_ipm: BTreeMap<String, String> = ipm
        .iter()
        .map(|m| {
            (
                dp_name[&m.datapath.uuid()].clone(),
                format!(
                    "{:?} {:?} {} {} {} {:?} {:?} {:?} {:?}",
                    m.enabled,
                    m.querier,
                    m.eth_src,
                    m.ip4_src,
                    m.ip6_src,
                    m.table_size,
                    m.idle_timeout,
                    m.query_interval,
                    m.query_max_resp
                ),
            )
        })
        .collect();
    let our_ipm: BTreeMap<String, String> = content
        .ip_multicast
        .iter()
        .map(|(dp, c)| {
            (
                content.datapaths[*dp].name.clone(),
                format!(
                    "{:?} {:?} {} {} {} {:?} {:?} {:?} {:?}",
                    Some(c.snoop),
                    Some(c.querier),
                    c.eth_src,
                    c.ip4_src,
                    c.ip6_src,
                    Some(c.table_size),
                    Some(c.idle_timeout),
                    Some(c.query_interval),
                    Some(c.query_max_resp)
                ),
            )
        })
        .collect();
    assert_eq!(our_ipm, real_ipm, "{name}: IP_Multicast rows differ");
}

pub fn assert_full(out: Option<Outcome>) {
    if let Some(o) = out {
        assert!(
            o.ours_only.is_empty() && o.real_only.is_empty(),
            "flow sets differ: {} equal, {} ours-only, {} real-only (see stderr)",
            o.equal,
            o.ours_only.len(),
            o.real_only.len()
        );
    }
}

/// Asserts the flows of the stages whose names start with one of `prefixes` are equal (for
/// work in progress on a group of stages; the other stages are not checked).
pub fn assert_stages(out: Option<Outcome>, prefixes: &[&str]) {
    if let Some(o) = out {
        let pick = |f: &&Flow| prefixes.iter().any(|p| f.1.starts_with(p));
        let ours: Vec<_> = o.ours_only.iter().filter(pick).collect();
        let real: Vec<_> = o.real_only.iter().filter(pick).collect();
        assert!(
            ours.is_empty() && real.is_empty(),
            "flow sets of {prefixes:?} differ: {} ours-only, {} real-only (see stderr)",
            ours.len(),
            real.len()
        );
    }
}

/// Compiles the NB of an already-populated real `stack` (after real ovn-northd ran on it) with
/// ours and compares the flows, without printing or asserting anything (for large NBs, e.g. an
/// OVN-Kubernetes cluster loaded with `e2e::load_nb`): the snapshot is `ovn-nbctl
/// --format=json list` of every table, the SB state the stack's Chassis rows, as in
/// [`scenario_on`]. Returns the outcome and our content (for [`compare_bindings`] and
/// [`check_parses`]).
pub fn outcome_from_stack(stack: &testkit::Stack) -> (Outcome, SbContent) {
    compare_flows(stack, &nb_snapshot(stack))
}

/// The stack's NB, read table by table with `ovn-nbctl --format=json list`.
pub fn nb_snapshot(stack: &testkit::Stack) -> NbSnapshot {
    let mut tables = Map::new();
    for t in NbSnapshot::TABLES {
        let text = stack
            .nbctl(["--format=json", "list", t])
            .expect("nbctl list");
        tables.insert((*t).to_owned(), Value::Array(json_rows(&text)));
    }
    NbSnapshot::from_json(&Value::Object(tables)).expect("snapshot")
}

/// Compiles `snapshot` with the stack's chassis and compares our flows with the stack's
/// (router load balancer address set keys renamed to ours).
pub fn compare_flows(stack: &testkit::Stack, snapshot: &NbSnapshot) -> (Outcome, SbContent) {
    let chassis: Vec<sb::Chassis> = sb_rows(stack);
    let state = SbState::from_rows(&[], &[], &chassis);
    compare_flows_with(stack, snapshot, &state)
}

/// [`compare_flows`] with a given SB state.
pub fn compare_flows_with(
    stack: &testkit::Stack,
    snapshot: &NbSnapshot,
    state: &SbState,
) -> (Outcome, SbContent) {
    let content = build(snapshot, state);
    let lb_keys = real_to_our_keys(stack, &content);
    let real: BTreeSet<Flow> = stack
        .logical_flows()
        .expect("lflow-list")
        .into_iter()
        .map(|f| {
            let m = rekey_rtr_lb(&f.match_expr, &lb_keys);
            (f.datapath, f.stage, f.priority, m, f.actions)
        })
        .collect();
    let ours = our_flows(&content);
    let out = Outcome {
        equal: ours.intersection(&real).count(),
        ours_only: ours.difference(&real).cloned().collect(),
        real_only: real.difference(&ours).cloned().collect(),
    };
    (out, content)
}
