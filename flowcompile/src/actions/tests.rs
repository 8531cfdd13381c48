//! Golden tests (`testdata/actions/*.txt`), the northd corpus round trip, properties and
//! limits.
//!
//! Golden file format (like OVN's `tests/ovn.at` "action parsing"):
//!
//! ```text
//! # comment
//! @ ingress 10 switch ports: p1=1,p2=2 meters: m1=2
//! ACTIONS                      <- input, unindented
//!     formats as TEXT          <- only when the printed form differs from the input
//!     encodes as OPENFLOW      <- or the error message, indented
//!     uses group: DESCRIPTION  <- one per group, numbered from 1 in order of use
//! ```
//!
//! Run with `OVNKIT_BLESS=1` to rewrite the files with the current output; otherwise a
//! mismatch fails with a diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::*;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/actions")
}

#[derive(Debug, Clone)]
struct Ctx {
    pipeline: Pipeline,
    table: u8,
    is_switch: bool,
    ports: Vec<(String, u32)>,
    meters: Vec<(String, u32)>,
}

impl Default for Ctx {
    fn default() -> Self {
        Self {
            pipeline: Pipeline::Ingress,
            table: 10,
            is_switch: true,
            ports: vec![
                ("eth0".into(), 5),
                ("LOCAL".into(), 0xfffe),
                ("lsp1".into(), 0x11),
                ("vip1".into(), 4),
            ],
            meters: vec![("m1".into(), 2), ("set_meter".into(), 1)],
        }
    }
}

fn parse_kv(s: &str) -> Vec<(String, u32)> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let v = v
                .strip_prefix("0x")
                .map_or_else(|| v.parse().ok(), |h| u32::from_str_radix(h, 16).ok())?;
            Some((k.to_owned(), v))
        })
        .collect()
}

fn parse_ctx(line: &str) -> Ctx {
    let mut c = Ctx {
        ports: Vec::new(),
        meters: vec![("set_meter".into(), 1)],
        ..Ctx::default()
    };
    let mut words = line.trim_start_matches('@').split_whitespace();
    if let Some(p) = words.next() {
        c.pipeline = if p == "egress" {
            Pipeline::Egress
        } else {
            Pipeline::Ingress
        };
    }
    if let Some(t) = words.next() {
        c.table = t.parse().unwrap_or(0);
    }
    if let Some(k) = words.next() {
        c.is_switch = k != "router";
    }
    while let Some(w) = words.next() {
        match w {
            "ports:" => c.ports = parse_kv(words.next().unwrap_or("")),
            "meters:" => c.meters.extend(parse_kv(words.next().unwrap_or(""))),
            _ => {}
        }
    }
    c
}

struct GoldenCtx {
    ports: Vec<(String, u32)>,
    meters: Vec<(String, u32)>,
    groups: Vec<String>,
}

impl EncodeContext for GoldenCtx {
    fn port_key(&self, name: &str) -> Option<u32> {
        self.ports.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }
    fn meter_id(&mut self, name: &str) -> Option<u32> {
        let name = if name.starts_with("__string:") {
            "set_meter"
        } else {
            name
        };
        self.meters.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }
    fn group_id(&mut self, description: &str) -> u32 {
        if let Some(i) = self.groups.iter().position(|g| g == description) {
            return i as u32 + 1;
        }
        self.groups.push(description.to_owned());
        self.groups.len() as u32
    }
}

/// The expected-output block for one input.
fn run_case(input: &str, c: &Ctx) -> String {
    let pctx = ParseContext::new(c.pipeline, c.table);
    let mut out = String::new();
    match parse_actions(input, &pctx) {
        Err(e) => {
            let _ = writeln!(out, "    {}", e.message);
        }
        Ok(a) => {
            let text = a.to_string();
            if text != input {
                let _ = writeln!(out, "    formats as {text}");
            }
            if !a.prereqs.is_empty() {
                let _ = writeln!(out, "    has prereqs {}", a.prereqs.join(" && "));
            }
            let mut g = GoldenCtx {
                ports: c.ports.clone(),
                meters: c.meters.clone(),
                groups: Vec::new(),
            };
            let pos = FlowPosition {
                pipeline: c.pipeline,
                table: c.table,
                is_switch: c.is_switch,
            };
            match encode_actions(&a, pctx.symtab, pos, &mut g) {
                Ok(of) => {
                    let _ = writeln!(out, "    encodes as {}", format_of_actions(&of));
                    for d in &g.groups {
                        let _ = writeln!(out, "    uses group: {d}");
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "    encoding error: {e}");
                }
            }
        }
    }
    out
}

/// Regenerates a golden file's text from its inputs and directives.
fn regenerate(text: &str) -> String {
    let mut out = String::new();
    let mut ctx = Ctx::default();
    for line in text.lines() {
        if line.starts_with("    ") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('@') {
            ctx = parse_ctx(line);
            continue;
        }
        out.push_str(&run_case(line, &ctx));
    }
    out
}

fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut s = String::new();
    let (mut i, mut j) = (0, 0);
    while i < e.len() || j < a.len() {
        if i < e.len() && j < a.len() && e[i] == a[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Resynchronize on the next input (unindented) line.
        let ni = (i..e.len())
            .find(|&k| !e[k].starts_with("    ") && k > i)
            .unwrap_or(e.len());
        let nj = (j..a.len())
            .find(|&k| !a[k].starts_with("    ") && k > j)
            .unwrap_or(a.len());
        let ctx = if i > 0 { e[i - 1] } else { "" };
        let _ = writeln!(s, "@@ after: {ctx}");
        for l in &e[i..ni] {
            let _ = writeln!(s, "-{l}");
        }
        for l in &a[j..nj] {
            let _ = writeln!(s, "+{l}");
        }
        i = ni;
        j = nj;
    }
    s
}

#[test]
fn actions_golden_files() {
    let bless = std::env::var_os("OVNKIT_BLESS").is_some();
    let mut failures = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata/actions")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && !p.ends_with("northd-corpus.txt"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read golden");
        let actual = regenerate(&text);
        if actual != text {
            if bless {
                std::fs::write(&path, &actual).expect("bless");
            } else {
                failures.push(format!("{}:\n{}", path.display(), diff(&text, &actual)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch (OVNKIT_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn actions_northd_corpus_round_trips() {
    let text = std::fs::read_to_string(testdata().join("northd-corpus.txt")).expect("corpus");
    let mut n = 0;
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((pos, actions)) = line.split_once('\t') else {
            continue;
        };
        let mut w = pos.split_whitespace();
        let pipeline = if w.next() == Some("egress") {
            Pipeline::Egress
        } else {
            Pipeline::Ingress
        };
        let table: u8 = w.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let ctx = ParseContext::new(pipeline, table);
        n += 1;
        match parse_actions(actions, &ctx) {
            Err(e) => bad.push(format!("{actions}\n    {}", e.message)),
            Ok(a) => {
                let printed = a.to_string();
                match parse_actions(&printed, &ctx) {
                    Ok(b) if b.to_string() == printed => {}
                    Ok(b) => bad.push(format!("{printed}\n    reprints as {b}")),
                    Err(e) => bad.push(format!("{printed}\n    reparse: {}", e.message)),
                }
            }
        }
    }
    assert!(n > 200, "corpus too small: {n}");
    assert!(
        bad.is_empty(),
        "{} of {n} corpus entries fail:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn actions_nesting_limit() {
    let deep = "clone { ".repeat(MAX_NESTING + 1) + "next;" + &" };".repeat(MAX_NESTING + 1);
    let e = parse_actions(&deep, &ParseContext::new(Pipeline::Ingress, 0)).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Limit);
    assert!(e.message.contains("nesting"), "{}", e.message);
    let ok = "clone { ".repeat(MAX_NESTING) + "next;" + &" };".repeat(MAX_NESTING);
    parse_actions(&ok, &ParseContext::new(Pipeline::Ingress, 0)).unwrap();
    let many = "reg0 = 1; ".repeat(MAX_ACTIONS + 1);
    let e = parse_actions(&many, &ParseContext::new(Pipeline::Ingress, 0)).unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::Limit);
    // Very deep hostile input fails fast and does not overflow the stack.
    let hostile = "clone {".repeat(100_000);
    fuzz_actions(hostile.as_bytes());
    let hostile = "ct_commit {".repeat(100_000);
    fuzz_actions(hostile.as_bytes());
}

#[test]
fn actions_fuzz_regressions() {
    // A raw NUL inside a quoted string used to parse, then print as `\u0000`, which the
    // lexer rejects (found by the fuzzer).
    let nul = "outport = \"lr0-sw\u{0}1\"; output;";
    assert!(parse_actions(nul, &ParseContext::new(Pipeline::Ingress, 0)).is_err());
    fuzz_actions(nul.as_bytes());
}

#[test]
fn actions_fuzz_smoke() {
    let corpus = std::fs::read_to_string(testdata().join("northd-corpus.txt")).unwrap_or_default();
    for line in corpus.lines().take(400) {
        let a = line.split_once('\t').map_or(line, |x| x.1);
        fuzz_actions(a.as_bytes());
        // Truncations and byte flips of real inputs.
        for cut in (0..a.len()).step_by(7) {
            fuzz_actions(&a.as_bytes()[..cut]);
        }
        let mut b = a.as_bytes().to_vec();
        for i in (0..b.len()).step_by(5) {
            b[i] = b[i].wrapping_add(13);
            fuzz_actions(&b);
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "next;",
        "next(pipeline=egress, table=3);",
        "next(4);",
        "output;",
        "drop;",
        "outport = \"p1\";",
        "inport = \"\";",
        "reg0 = 10.0.0.1;",
        "reg0[3] = 1;",
        "xxreg0 = fd00::1;",
        "eth.dst = 00:00:00:00:00:01;",
        "eth.dst <-> eth.src;",
        "ip4.src <-> ip4.dst;",
        "outport = inport;",
        "reg1 = reg2;",
        "ip.ttl--;",
        "ct_next;",
        "ct_commit { ct_mark.blocked = 1; };",
        "ct_commit_nat;",
        "ct_commit { ct_label.label = reg3; ct_mark = 0x10/0xf0; };",
        "ct_lb_mark(backends=10.0.0.1:80,10.0.0.2:80; hash_fields=\"ip_src,ip_dst\"; skip_snat);",
        "ct_lb_mark;",
        "ct_dnat(10.0.0.1);",
        "ct_snat(2001::1,100-200);",
        "ct_snat_in_czone;",
        "ct_clear;",
        "reg0[6] = chk_lb_hairpin();",
        "reg9[2] = lookup_arp(inport, arp.spa, arp.sha);",
        "get_nd(outport, xxreg0);",
        "log(name=\"x\", verdict=drop, severity=alert, meter=\"m\");",
        "reg0[3] = put_dhcp_opts(offerip = 10.0.0.1, router = 10.0.0.254, dns_server = {8.8.8.8, 1.1.1.1});",
        "reg8[16..31] = select(1=50, 2=100);",
        "commit_lb_aff(vip = \"10.0.0.1:80\", backend = \"10.0.0.2:8080\", proto = tcp, timeout = 30);",
        "icmp4.frag_mtu = 1400;",
        "set_queue(10);",
        "trigger_event(event = \"empty_lb_backends\", vip = \"1.1.1.1:80\", protocol = \"tcp\", load_balancer = \"12345678-abcd-9876-fedc-11119f8e7d6c\");",
    ];

    fn action() -> impl Strategy<Value = String> {
        let leaf = proptest::sample::select(PIECES).prop_map(str::to_owned);
        leaf.prop_recursive(3, 24, 4, |inner| {
            (
                proptest::sample::select(
                    &["clone", "arp", "icmp4", "nd_na", "reject", "tcp_reset"][..],
                ),
                proptest::collection::vec(inner, 0..4),
            )
                .prop_map(|(k, v)| {
                    let body: Vec<String> = v.into_iter().filter(|s| s != "drop;").collect();
                    format!("{k} {{ {} }};", body.join(" "))
                })
        })
    }

    proptest! {
        #[test]
        fn actions_format_parse_is_identity(v in proptest::collection::vec(action(), 1..6)) {
            let v: Vec<String> = v.into_iter().filter(|s| s != "drop;").collect();
            let text = v.join(" ");
            let ctx = ParseContext::new(Pipeline::Ingress, 3);
            if let Ok(a) = parse_actions(&text, &ctx) {
                let printed = a.to_string();
                let b = parse_actions(&printed, &ctx).map(|b| b.to_string());
                prop_assert_eq!(b.as_deref().ok(), Some(printed.as_str()));
                let mut g = SimpleEncodeContext::default();
                let pos = FlowPosition { pipeline: Pipeline::Ingress, table: 3, is_switch: true };
                let r = encode_actions(&a, ctx.symtab, pos, &mut g);
                prop_assert!(matches!(r, Ok(_) | Err(EncodeError::Unsupported(_))), "{:?}", r);
            }
        }

        #[test]
        fn actions_never_panic(s in "[a-z_.0-9(){};=<>\\-\\[\\]:,\" ]{0,80}") {
            fuzz_actions(s.as_bytes());
        }
    }
}

/// Found by the randomized parity test: a flow's controller meter (CoPP) also goes on the
/// controller actions nested in a controller action's userdata (`icmp6.frag_mtu` in
/// `icmp6_error`); the expected text is the real ovn-controller's flow.
#[test]
fn controller_meter_reaches_nested_controller_actions() {
    let text = "icmp6_error {reg9[0] = 1; reg9[1] = 0; eth.dst = 00:00:00:00:e2:01; \
                ip6.dst = ip6.src; ip6.src = fe80::200:ff:fe00:e201; ip.ttl = 255; \
                icmp6.type = 2; icmp6.code = 0; icmp6.frag_mtu = 1400; \
                next(pipeline=ingress, table=0); };";
    let pctx = ParseContext::new(Pipeline::Ingress, 3);
    let a = parse_actions(text, &pctx).unwrap();
    let mut g = GoldenCtx {
        ports: Vec::new(),
        meters: Vec::new(),
        groups: Vec::new(),
    };
    let pos = FlowPosition {
        pipeline: Pipeline::Ingress,
        table: 3,
        is_switch: false,
    };
    let of = encode_actions(&a, pctx.symtab, pos, &mut g).unwrap();
    let metered = encode::with_controller_meter(&of, 3);
    assert_eq!(
        format_of_actions(&metered),
        "controller(userdata=00.00.00.14.00.00.00.00.00.19.00.18.80.01.09.10.00.00.00.00.00.00.00.01.00.00.00.00.00.00.00.01.00.19.00.18.80.01.09.10.00.00.00.00.00.00.00.00.00.00.00.00.00.00.00.02.00.19.00.10.80.00.06.06.00.00.00.00.e2.01.00.00.00.1c.00.18.00.80.00.00.00.00.00.00.80.00.34.10.80.00.36.10.00.00.00.00.00.19.00.18.80.00.34.10.fe.80.00.00.00.00.00.00.02.00.00.ff.fe.00.e2.01.00.19.00.10.00.01.3a.01.ff.00.00.00.00.00.00.00.00.19.00.10.80.00.3a.01.02.00.00.00.00.00.00.00.00.19.00.10.80.00.3c.01.00.00.00.00.00.00.00.00.ff.ff.00.30.00.00.23.20.00.25.00.00.00.00.00.00.00.03.00.10.00.00.00.15.00.00.00.00.00.00.05.78.00.04.00.04.00.00.00.00.00.05.00.08.00.00.00.03.ff.ff.00.10.00.00.23.20.00.0e.ff.f8.08.00.00.00,meter_id=3)"
    );
}
