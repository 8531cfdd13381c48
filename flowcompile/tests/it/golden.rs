//! Golden tests: `testdata/expr/*.txt`.
//!
//! File format: cases separated by lines `=== <passes>` (space-separated pass names from
//! lex, parse, annotate, condition, simplify, normalize, flows), then the input expression on
//! one line, then for each pass a line `--- <pass>` followed by the expected output (or
//! `error: <message>`).  Lines before the first `===` and lines starting with `#` directly
//! after `===` are comments.  `OVNKIT_BLESS=1` rewrites the expectations.
//!
//! Environment used by every case: address sets `$as4 = {10.0.0.1, 10.0.0.2, 10.0.1.0/24}`,
//! `$as6 = {fe80::1, fe80::2}`, `$empty = {}`, port groups `@pg = {"p1", "p2"}`,
//! `@pg_empty = {}`, ports p1..p4 with keys 1..4, `lrp-gw` (key 5), and `p1`, `cr-lrp` resident.

use std::fmt::Write as _;
use std::path::Path;

use flowcompile::debug::{run_with, DebugEnv, Pass};

fn env() -> DebugEnv {
    let mut env = DebugEnv::default();
    env.sets
        .add_address_set("as4", &["10.0.0.1", "10.0.0.2", "10.0.1.0/24"])
        .unwrap();
    env.sets
        .add_address_set("as6", &["fe80::1", "fe80::2"])
        .unwrap();
    env.sets.add_address_set::<&str>("empty", &[]).unwrap();
    env.sets.add_port_group("pg", &["p1", "p2"]);
    env.sets.add_port_group::<&str>("pg_empty", &[]);
    for (i, p) in ["p1", "p2", "p3", "p4", "lrp-gw"].iter().enumerate() {
        env.ports.insert((*p).to_owned(), i as u32 + 1);
    }
    env.resident.insert("p1".into());
    env.resident.insert("cr-lrp".into());
    env
}

struct Case {
    header: String,
    input: String,
    passes: Vec<String>,
}

fn parse_file(text: &str) -> (String, Vec<Case>) {
    let mut preamble = String::new();
    let mut cases = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.peek() {
        if l.starts_with("===") {
            break;
        }
        preamble.push_str(l);
        preamble.push('\n');
        lines.next();
    }
    while let Some(l) = lines.next() {
        let Some(rest) = l.strip_prefix("===") else {
            continue;
        };
        let passes: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
        let mut header = String::new();
        let mut input = String::new();
        for n in lines.by_ref() {
            if n.starts_with('#') {
                header.push_str(n);
                header.push('\n');
            } else {
                input = n.to_owned();
                break;
            }
        }
        // Skip the recorded expectations.
        while let Some(n) = lines.peek() {
            if n.starts_with("===") {
                break;
            }
            lines.next();
        }
        cases.push(Case {
            header,
            input,
            passes,
        });
    }
    (preamble, cases)
}

fn render(cases: &[Case], preamble: &str, env: &DebugEnv) -> String {
    let mut out = preamble.to_owned();
    for c in cases {
        writeln!(out, "=== {}", c.passes.join(" ")).unwrap();
        out.push_str(&c.header);
        writeln!(out, "{}", c.input).unwrap();
        for p in &c.passes {
            writeln!(out, "--- {p}").unwrap();
            let pass: Pass = p.parse().unwrap();
            match run_with(pass, &c.input, env) {
                Ok(s) => out.push_str(&s),
                Err(e) => {
                    let span = e.span.map(|s| format!(" @{s}")).unwrap_or_default();
                    writeln!(out, "error: {}{span}", e.message).unwrap();
                }
            }
        }
    }
    out
}

fn diff(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            if let Some(x) = x {
                writeln!(out, "{:>4} - {x}", i + 1).unwrap();
            }
            if let Some(y) = y {
                writeln!(out, "{:>4} + {y}", i + 1).unwrap();
            }
        }
    }
    out
}

#[test]
fn golden_expr() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/expr");
    let bless = std::env::var_os("OVNKIT_BLESS").is_some_and(|v| v == "1");
    let env = env();
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut n_cases = 0;
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let (preamble, cases) = parse_file(&text);
        n_cases += cases.len();
        let actual = render(&cases, &preamble, &env);
        if actual != text {
            if bless {
                std::fs::write(path, &actual).unwrap();
            } else {
                failures.push(format!("{}:\n{}", path.display(), diff(&text, &actual)));
            }
        }
    }
    assert!(n_cases > 0, "no golden cases found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "golden mismatches (OVNKIT_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}
