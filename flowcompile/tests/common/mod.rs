//! The per-logical-flow parity comparison shared by the parity test files: read SB and the
//! OpenFlow flows the real ovn-controller installed on a stack (chassis `ch1`), compile the same
//! SB with `flowcompile::chassis`, and compare, for every logical flow, the OpenFlow rules of
//! the logical tables (8..=34, 42..=51), grouped by cookie.  Conjunction clause flows (cookie
//! 0) are attributed through their conjunction ids; conjunction, group and meter ids are
//! renamed.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::sync::Mutex;

use flowcompile::actions::Pipeline;
use flowcompile::chassis::{
    compile_chassis_flows, flow_mod, rows_from_table_json, ChassisView, LogicalFlowRow, RowId,
    SbTables,
};

/// One real stack at a time: the machine is shared.
pub static SERIAL: Mutex<()> = Mutex::new(());

fn is_logical_table(t: u32) -> bool {
    (8..=34).contains(&t) || (42..=51).contains(&t)
}

/// Replaces the digits after each of `prefixes` by `X`.
fn rename_ids(s: &str, prefixes: &[&str]) -> String {
    let mut out = s.to_owned();
    for p in prefixes {
        let mut res = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(p) {
            res.push_str(&rest[..i + p.len()]);
            let after = &rest[i + p.len()..];
            let n = after.chars().take_while(char::is_ascii_digit).count();
            if n > 0 {
                res.push('X');
            }
            rest = &after[n..];
        }
        res.push_str(rest);
        out = res;
    }
    out
}

fn normalize(line: &str) -> String {
    let line = rename_ids(
        line,
        &["conj_id=", "conjunction(", "group:", "meter_id=", "meter:"],
    );
    rename_nested_meters(&line)
}

/// Replaces the meter id of controller actions nested in a controller action's userdata
/// (the NXAC2PT_METER_ID property, `00.05.00.08.` and four bytes) by `X`.
fn rename_nested_meters(line: &str) -> String {
    const PROP: &str = "00.05.00.08.";
    let Some(start) = line.find("userdata=") else {
        return line.to_owned();
    };
    let mut out = String::with_capacity(line.len());
    out.push_str(&line[..start]);
    let mut rest = &line[start..];
    while let Some(i) = rest.find(PROP) {
        out.push_str(&rest[..i + PROP.len()]);
        rest = &rest[i + PROP.len()..];
        if rest.len() >= 11 && rest.is_char_boundary(11) {
            out.push('X');
            rest = &rest[11..];
        }
    }
    out.push_str(rest);
    out
}

struct Parsed {
    cookie: u32,
    table: u32,
    body: String,
}

/// `cookie=0x.., table=.., priority=..,MATCH actions=..` → cookie, table, and the line without
/// its cookie.
fn parse_line(line: &str) -> Option<Parsed> {
    let line = line.trim();
    let (cookie, rest) = match line.strip_prefix("cookie=0x") {
        Some(r) => {
            let (c, rest) = r.split_once(", ")?;
            (u32::from_str_radix(c, 16).ok()?, rest)
        }
        None => (0, line),
    };
    let table = rest
        .strip_prefix("table=")
        .and_then(|r| r.split_once(',').map(|(t, _)| t))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    Some(Parsed {
        cookie,
        table,
        body: rest.to_owned(),
    })
}

/// Groups flow lines by owning cookie; clause flows are split into one line per
/// `conjunction(...)` action and attributed to the cookie of the `conj_id` flow.
fn group(lines: &[String]) -> BTreeMap<u32, Vec<String>> {
    let parsed: Vec<Parsed> = lines
        .iter()
        .filter_map(|l| parse_line(l))
        .filter(|p| is_logical_table(p.table))
        .collect();
    let mut conj_owner: HashMap<String, u32> = HashMap::new();
    for p in &parsed {
        if let Some(i) = p.body.find("conj_id=") {
            let id: String = p.body[i + 8..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            conj_owner.insert(id, p.cookie);
        }
    }
    let mut out: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for p in parsed {
        let Some((m, actions)) = p.body.split_once(" actions=") else {
            continue;
        };
        if actions.starts_with("conjunction(") {
            for c in actions.split("),") {
                let c = c.trim_end_matches(')');
                let id = c
                    .trim_start_matches("conjunction(")
                    .split(',')
                    .next()
                    .unwrap_or_default();
                let owner = conj_owner.get(id).copied().unwrap_or(0);
                out.entry(owner)
                    .or_default()
                    .push(normalize(&format!("{m} actions={c})")));
            }
        } else {
            out.entry(p.cookie).or_default().push(normalize(&p.body));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The SB tables flowcompile reads, from the stack's SB.
pub fn sb_tables(stack: &testkit::Stack) -> SbTables {
    let mut sb = SbTables::default();
    for t in SbTables::TABLES {
        let text = stack.sbctl(["-f", "json", "list", t]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows = rows_from_table_json(&json).unwrap();
        sb.add_json_rows(t, &rows).unwrap();
    }
    sb
}

/// Decodes our flow_mod bytes with the real `ovs-ofctl ofp-parse` and checks that each
/// message reads back as the flow we printed; returns the problems.
fn check_bytes(name: &str, wire: &[u8], text: &[String]) -> Vec<String> {
    let path =
        std::env::temp_dir().join(format!("ovnkit-parity-{name}-{}.bin", std::process::id()));
    std::fs::write(&path, wire).unwrap();
    let out = Command::new("ovs-ofctl")
        .arg("ofp-parse")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let decoded = String::from_utf8_lossy(&out.stdout);
    let msgs: Vec<String> = decoded
        .split("OFPT_FLOW_MOD")
        .skip(1)
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if std::env::var_os("PARITY_VERBOSE").is_some() {
        for (m, t) in msgs.iter().zip(text).take(3) {
            eprintln!("  decoded: {m}\n  ours:    {t}");
        }
    }
    if msgs.len() != text.len() {
        return vec![format!(
            "ovs-ofctl decoded {} of {} flow_mods:\n{}",
            msgs.len(),
            text.len(),
            String::from_utf8_lossy(&out.stderr)
        )];
    }
    let mut bad = Vec::new();
    for (m, t) in msgs.iter().zip(text) {
        // "(OF1.5) (xid=0x0): ADD table:8 priority=P,MATCH cookie:0x.. actions=A"
        let rest = m.split_once("ADD ").map_or(m.as_str(), |x| x.1);
        let (head, actions) = rest.split_once(" actions=").unwrap_or((rest, ""));
        let (head, cookie) = head.split_once(" cookie:").unwrap_or((head, "0"));
        let (table, prio_match) = head.split_once(' ').unwrap_or(("", head));
        let table = table.trim_start_matches("table:");
        let mut expect = String::new();
        if cookie != "0" {
            expect.push_str(&format!("cookie={cookie}, "));
        }
        if table != "0" && !table.is_empty() {
            expect.push_str(&format!("table={table}, "));
        }
        expect.push_str(&format!(
            "{prio_match} actions={}",
            if actions.is_empty() { "drop" } else { actions }
        ));
        if &expect != t {
            bad.push(format!("  ours:    {t}\n  decoded: {expect}"));
        }
    }
    bad
}

/// What a comparison found.
pub struct Outcome {
    /// Logical flows whose OpenFlow rules match exactly.
    pub matched: usize,
    /// Logical flows compared (those on a local datapath, or with rules on either side).
    pub total: usize,
    /// One entry per mismatching logical flow (its key, then the lines only one side has).
    pub mismatches: Vec<String>,
    /// Real logical-table flows whose controller actions carry a meter.
    pub metered: usize,
    /// Compiled flows without flow_mod bytes (error text without digits, with counts).
    pub bytes_err: BTreeMap<String, usize>,
    /// Flow_mods that ovs-ofctl decodes differently from our text.
    pub bytes_bad: Vec<String>,
    /// Logical flows our compiler rejected.
    pub compile_errors: Vec<String>,
    /// Logical flows that differ only by which of several logical flows with the same
    /// datapaths, table, priority and match (and different actions) had its rules installed.
    /// Among rules of one kind (actions, drop, conjunction clauses) ovn-controller keeps the
    /// one it met first: after a full recompute, the one we keep (see `same_match.rs`); after
    /// incremental changes, one its history decides.
    pub choices: usize,
    /// Same-match choices that differ between logical flows whose cookies fall in one bucket
    /// of ovn-controller's logical flow table (`Flows::idl_mask`): its order inside a bucket
    /// is the order the flows arrived in, which SB content does not tell, so these are not
    /// counted in `choices`.
    pub bucket_ties: usize,
    /// Compared logical flows that share their datapaths, table, priority and match with
    /// another logical flow with other actions (matching or not).
    pub conflicting: usize,
}

/// Asks the stack's ovn-controller for a full recompute (`inc-engine/recompute`) and waits
/// until it is done: its flows are then those of a recompute, not of its history of
/// incremental changes (which decides between conflicting logical flows of one kind).
pub fn recompute(stack: &testkit::Stack) {
    stack
        .appctl(testkit::Component::Controller, ["inc-engine/recompute"])
        .unwrap();
    stack.wait_hv().unwrap();
}

/// Whether `PARITY_RECOMPUTE` is set: the comparisons then recompute first.
pub fn recompute_from_env() -> bool {
    std::env::var_os("PARITY_RECOMPUTE").is_some()
}

/// Compares, per logical flow, the real ovn-controller's flows on `stack` (chassis `ch1`, in
/// sync: call `wait_hv` first) with ours compiled from the stack's SB.  With
/// `PARITY_RECOMPUTE` set, ovn-controller recomputes first ([`recompute`]).
/// A logical flow's (datapath, group, pipeline, table, priority, match): flows sharing it give
/// the same OpenFlow matches.
type SameMatch<'a> = (Option<RowId>, Option<RowId>, Pipeline, i64, i64, &'a str);

fn same_key(lf: &LogicalFlowRow) -> SameMatch<'_> {
    (
        lf.logical_datapath,
        lf.logical_dp_group,
        lf.pipeline,
        lf.table_id,
        lf.priority,
        &lf.match_,
    )
}

pub fn compare(name: &str, stack: &testkit::Stack) -> Outcome {
    compare_with(name, stack, recompute_from_env())
}

/// [`compare`], after a full recompute ([`recompute`]) if `recompute`.
pub fn compare_with(name: &str, stack: &testkit::Stack, recompute_first: bool) -> Outcome {
    if recompute_first {
        recompute(stack);
    }
    let real_text = stack.dump_flows().unwrap();
    let sb = sb_tables(stack);

    let view = ChassisView::new(&sb, "ch1").unwrap();
    let flows = compile_chassis_flows(&sb.logical_flows, &view);
    // Every compiled flow encodes as a flow_mod or fails with a listed reason.
    let mut bytes_ok = 0;
    let mut bytes_err: BTreeMap<String, usize> = BTreeMap::new();
    let mut wire = Vec::new();
    let mut wire_text = Vec::new();
    for f in &flows.flows {
        match flow_mod(f, 0) {
            Ok(b) => {
                bytes_ok += 1;
                wire.extend_from_slice(&b);
                wire_text.push(f.to_string());
            }
            Err(e) => {
                let e = e.to_string();
                let k: String = e.chars().filter(|c| !c.is_ascii_digit()).collect();
                *bytes_err.entry(k).or_default() += 1;
            }
        }
    }
    eprintln!(
        "{name}: {} flows, {bytes_ok} encode as flow_mod; not yet: {bytes_err:?}",
        flows.flows.len()
    );
    let bytes_bad = check_bytes(name, &wire, &wire_text);
    let ours_text: Vec<String> = flows.flows.iter().map(|f| f.to_string()).collect();
    let real_lines: Vec<String> = real_text.lines().map(str::to_owned).collect();
    let real = group(&real_lines);
    let ours = group(&ours_text);

    let n_real: usize = real.values().map(Vec::len).sum();
    let n_ours: usize = ours.values().map(Vec::len).sum();
    eprintln!(
        "{name}: local datapaths {:?}; {n_real} real and {n_ours} compiled logical-table flows",
        view.local_datapaths
    );
    let local: BTreeSet<u32> = view.local_datapaths.clone();
    let mut matched = 0;
    let mut total = 0;
    let mut mismatches = Vec::new();
    let mut choices = 0;
    let mut bucket_ties = 0;
    let mut conflicting = 0;
    let mut cookies_seen = BTreeSet::new();
    // Logical flows by what ovn-controller installs them under (several with different
    // actions conflict: one of them wins).
    let mut same_match: HashMap<SameMatch<'_>, Vec<u32>> = HashMap::new();
    let mut same_match_actions: HashMap<SameMatch<'_>, BTreeSet<&str>> = HashMap::new();
    for lf in &sb.logical_flows {
        let k = same_key(lf);
        same_match_actions
            .entry(k)
            .or_default()
            .insert(&*lf.actions);
        same_match
            .entry(k)
            .or_default()
            .push((lf.uuid >> 96) as u32);
    }
    let rule_key = |l: &str| l.split_once(" actions=").map_or(l, |x| x.0).to_owned();
    for lf in &sb.logical_flows {
        let cookie = (lf.uuid >> 96) as u32;
        cookies_seen.insert(cookie);
        let on_local = view
            .flow_datapaths(lf)
            .iter()
            .any(|(_, d)| local.contains(&d.tunnel_key));
        let r = real.get(&cookie).cloned().unwrap_or_default();
        let o = ours.get(&cookie).cloned().unwrap_or_default();
        if !on_local && r.is_empty() && o.is_empty() {
            continue;
        }
        total += 1;
        let key = same_key(lf);
        if same_match_actions[&key].len() > 1 {
            conflicting += 1;
        }
        if r == o {
            matched += 1;
        } else {
            let only_real: Vec<&String> = r.iter().filter(|l| !o.contains(l)).collect();
            let only_ours: Vec<&String> = o.iter().filter(|l| !r.contains(l)).collect();
            // A conflict between logical flows: every differing rule's match is installed on
            // the other side too, by one of the conflicting flows.
            let rivals = &same_match[&key];
            if rivals.len() > 1 {
                let keys = |side: &BTreeMap<u32, Vec<String>>| -> BTreeSet<String> {
                    rivals
                        .iter()
                        .filter_map(|c| side.get(c))
                        .flatten()
                        .map(|l| rule_key(l))
                        .collect()
                };
                let (rk, ok) = (keys(&real), keys(&ours));
                if only_real.iter().all(|l| ok.contains(&rule_key(l)))
                    && only_ours.iter().all(|l| rk.contains(&rule_key(l)))
                {
                    // The rival that installed each differing rule on the other side.
                    let owner = |side: &BTreeMap<u32, Vec<String>>, l: &str| {
                        let k = rule_key(l);
                        rivals.iter().copied().find(|c| {
                            *c != cookie
                                && side
                                    .get(c)
                                    .is_some_and(|ls| ls.iter().any(|x| rule_key(x) == k))
                        })
                    };
                    let same_bucket = |c: Option<u32>| {
                        c.is_some_and(|c| c & flows.idl_mask == cookie & flows.idl_mask)
                    };
                    if only_real.iter().all(|l| same_bucket(owner(&ours, l)))
                        && only_ours.iter().all(|l| same_bucket(owner(&real, l)))
                    {
                        bucket_ties += 1;
                    } else {
                        choices += 1;
                    }
                    continue;
                }
            }
            let mut s = format!(
                "{:?} table={} prio={} match={:?} actions={:?} cookie={cookie:#x}",
                lf.pipeline, lf.table_id, lf.priority, lf.match_, lf.actions
            );
            for l in only_real.iter().take(4) {
                s.push_str(&format!("\n    real: {l}"));
            }
            for l in only_ours.iter().take(4) {
                s.push_str(&format!("\n    ours: {l}"));
            }
            if only_real.is_empty() && only_ours.is_empty() {
                s.push_str(&format!(
                    "\n    same lines, different counts: real {} ours {}",
                    r.len(),
                    o.len()
                ));
            }
            mismatches.push(s);
        }
    }
    for (c, lines) in &real {
        if !cookies_seen.contains(c) {
            mismatches.push(format!(
                "real flows with unknown cookie {c:#x}: {}",
                lines.first().cloned().unwrap_or_default()
            ));
        }
    }
    let compile_errors: Vec<String> = flows.errors.iter().map(ToString::to_string).collect();
    for e in &compile_errors {
        eprintln!("{name}: compile error: {e}");
    }
    eprintln!(
        "{name}: {matched}/{total} logical flows match ({} mismatches, {choices} same-match \
         choices between conflicting logical flows differ, {bucket_ties} more between flows \
         of one bucket; {conflicting} logical flows share a match with others of other \
         actions)",
        mismatches.len()
    );
    if std::env::var_os("PARITY_VERBOSE").is_some() {
        for m in &mismatches {
            eprintln!("  {m}");
        }
    }
    let metered = real
        .values()
        .flatten()
        .filter(|l| l.contains("meter_id"))
        .count();
    Outcome {
        matched,
        total,
        mismatches,
        metered,
        bytes_err,
        bytes_bad,
        compile_errors,
        choices,
        bucket_ties,
        conflicting,
    }
}

/// Runs the shell `script` (with `nb`, `vs`: ovn-nbctl and ovs-vsctl on the stack's databases,
/// and `$NB`, `$SB`, `$OVS`) on a fresh real stack with chassis `ch1`, binds the VIFs `bind`
/// there and compares (after a full recompute of ovn-controller if `recompute` or
/// `PARITY_RECOMPUTE`).  `None` if the real tools are missing.
pub fn run_scenario(name: &str, script: &str, bind: &[&str], recompute: bool) -> Option<Outcome> {
    let ovn = testkit::require_or_skip!(None);
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let stack = ovn.stack().chassis("ch1").build().unwrap();
    let status = Command::new("sh")
        .arg("-ec")
        .arg(format!(
            "nb() {{ ovn-nbctl --db=\"$NB\" \"$@\" >/dev/null; }}\n\
             vs() {{ ovs-vsctl --db=\"$OVS\" \"$@\" >/dev/null; }}\n{script}"
        ))
        .env("NB", stack.nb_remote())
        .env("SB", stack.sb_remote())
        .env("OVS", stack.ovs_remote().unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{name}: scenario script failed");
    for (i, lsp) in bind.iter().enumerate() {
        stack.bind_port(&format!("vif{i}"), lsp).unwrap();
    }
    stack.wait_hv().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    stack.wait_hv().unwrap();
    let o = compare_with(name, &stack, recompute || recompute_from_env());
    drop(stack);
    assert!(
        o.bytes_err.is_empty(),
        "{name}: flows without flow_mod bytes: {:?}",
        o.bytes_err
    );
    assert!(
        o.bytes_bad.is_empty(),
        "{name}: {} flow_mods decode differently:\n{}",
        o.bytes_bad.len(),
        o.bytes_bad
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Some(o)
}

/// Asserts that every compared logical flow of `o` matches, same-match choices included.
pub fn check_exact(name: &str, o: Option<Outcome>) {
    let Some(o) = o else { return };
    assert!(o.total > 0, "{name}: no logical flows on local datapaths");
    assert!(
        o.mismatches.is_empty() && o.choices == 0,
        "{name}: {}/{} logical flows match ({} same-match choices differ):\n{}",
        o.matched,
        o.total,
        o.choices,
        o.mismatches.join("\n")
    );
}

/// Asserts that at least 99% of the compared logical flows of `o` match.
pub fn check(name: &str, o: Option<Outcome>) {
    let Some(o) = o else { return };
    assert!(o.total > 0, "{name}: no logical flows on local datapaths");
    let pct = o.matched as f64 * 100.0 / o.total as f64;
    assert!(
        pct >= 99.0,
        "{name}: only {}/{} ({pct:.2}%) logical flows match:\n{}",
        o.matched,
        o.total,
        o.mismatches.join("\n")
    );
}
