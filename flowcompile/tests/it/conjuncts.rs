//! `ConjunctCache::compile` gives exactly what `compile_match` gives (matches, or the same
//! error with the same span), for every expression of the golden files, for conjunctions of
//! pairs of them (bare and parenthesized, as the action prerequisites are appended), and for
//! cases chosen to meet each reason the cache steps aside.

use flowcompile::annotate::SetTable;
use flowcompile::compile_match;
use flowcompile::conjuncts::ConjunctCache;
use flowcompile::symtab::Symtab;

fn sets(scope: u32) -> SetTable {
    let mut s = SetTable::new();
    s.add_address_set("as4", &["10.0.0.1", "10.0.0.2", "10.0.1.0/24"])
        .unwrap();
    s.add_address_set("as6", &["fe80::1", "fe80::2"]).unwrap();
    s.add_address_set::<&str>("empty", &[]).unwrap();
    // Port groups differ by scope, as per datapath in ovn-controller.
    if scope == 1 {
        s.add_port_group("pg", &["p1", "p2"]);
    } else {
        s.add_port_group("pg", &["p3"]);
    }
    s.add_port_group::<&str>("pg_empty", &[]);
    s
}

fn resident(p: &str) -> bool {
    p == "p1" || p == "cr-lrp"
}

fn port(_: &str, name: &str) -> Option<u32> {
    ["p1", "p2", "p3", "p4", "lrp-gw"]
        .iter()
        .position(|p| *p == name)
        .map(|i| i as u32 + 1)
}

/// The expression lines of the golden files.
fn golden_inputs() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/expr");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            if !l.starts_with("===") {
                continue;
            }
            for l in lines.by_ref() {
                if !l.starts_with('#') {
                    out.push(l.to_owned());
                    break;
                }
            }
        }
    }
    out
}

fn check(cache: &mut ConjunctCache, input: &str, scope: u32) {
    let symtab = Symtab::ovn();
    let sets = sets(scope);
    let want = compile_match(input, symtab, &sets, &resident, &port);
    let (got, _) = cache.compile(input, symtab, &sets, &resident, &port, scope);
    match (&want, &got) {
        (Ok(w), Ok(g)) => assert_eq!(w, g, "input: {input}"),
        (Err(w), Err(g)) => {
            assert_eq!(
                (&w.message, w.span, w.kind),
                (&g.message, g.span, g.kind),
                "input: {input}"
            );
        }
        _ => panic!("input: {input}\nwant {want:?}\ngot {got:?}"),
    }
}

#[test]
fn conjunct_cache_matches_compile_match() {
    let inputs = golden_inputs();
    assert!(inputs.len() > 100, "{} inputs", inputs.len());
    let mut cache = ConjunctCache::new();
    for scope in [1, 2, 1] {
        for i in &inputs {
            check(&mut cache, i, scope);
        }
    }
    // Pairs, bare and as `(match) && (prereq)`; a stride keeps the count moderate.
    let mut cache = ConjunctCache::new();
    for (n, a) in inputs.iter().enumerate() {
        for b in inputs.iter().skip(n % 7).step_by(7) {
            check(&mut cache, &format!("{a} && {b}"), 1);
            check(&mut cache, &format!("({a}) && ({b})"), 2);
        }
    }
}

#[test]
fn conjunct_cache_edge_cases() {
    let cases = [
        // Hoisting: every conjunct a comparison on one symbol with prerequisites.
        "tcp.dst > 1 && tcp.dst < 5",
        "(tcp.dst > 1 && tcp.dst < 5) && ip4",
        "ip4 && (tcp.dst > 1 && tcp.dst < 5)",
        "(tcp.dst >= 1 && tcp.dst <= 5)",
        "1 < tcp.dst < 5",
        "1 < tcp.dst < 5 && tcp.dst != 3",
        "tcp.dst == 1 && tcp.dst == 1",
        "(tcp.dst == {1, 2}) && (tcp.dst == 2)",
        "ip4.src == 10.0.0.1 && ip4.src == 10.0.0.0/8 && ip4",
        // Constants and conditions.
        "1 && ip4",
        "0 && ip4",
        "ip4 && 0 && ip6",
        "is_chassis_resident(\"p1\") && ip4",
        "!is_chassis_resident(\"p1\") && ip4",
        "is_chassis_resident(\"p2\") && ip4 && tcp",
        "(1) && (1)",
        // Parentheses, strings, comments, operators.
        "(ip4 && tcp) && (udp)",
        "((ip4 && tcp)) && ((ip4))",
        "(ip4 || ip6) && tcp",
        "(ip4 || ip6) && (tcp || udp)",
        "(ip4) && (ip6) || tcp",
        "ip4 && tcp || udp",
        "(ip4 && tcp) || udp",
        "inport == \"a&&b\" && ip4",
        "inport == \"a)\" && ip4",
        "inport == \"p1\" && outport == \"p2\"",
        "inport == @pg && ip4",
        "(outport == @pg) && (ip4 && inport == @pg_empty)",
        "ip4 /* && */ && tcp",
        "ip4 // && tcp",
        "ip4.src == $as4 && tcp && ip4.dst == $as4",
        "ip6.src == $as6 && ip4",
        "ip4.src == $empty && ip4",
        "ip4.src == $nope && ip4",
        // Errors, in every position.
        "ip4 && ",
        " && ip4",
        "ip4 &&& tcp",
        "ip4 && && tcp",
        "ip4 && foo",
        "foo && ip4",
        "ip4 && (tcp",
        "ip4 && tcp)",
        "(ip4 && tcp",
        "ip4 && \"unterminated",
        "ip4 && reg0 && tcp",
        "ip4 && !ct.trk && tcp.dst < 0x10000",
        "eth.type == 0x800 && ip4.src == {1.2.3.4 && 5.6.7.8}",
        "ip4 && !(ip4 && tcp)",
        "!(ip4) && tcp",
        "ip4 && ()",
        "",
        "   ",
    ];
    let mut cache = ConjunctCache::new();
    for _ in 0..2 {
        for c in cases {
            check(&mut cache, c, 1);
            check(&mut cache, c, 2);
            check(&mut cache, &format!("({c}) && (ip4)"), 1);
            check(&mut cache, &format!("({c}) && (ip)"), 2);
        }
    }
    let deep = format!("{}ip4{} && tcp", "(".repeat(70), ")".repeat(70));
    check(&mut cache, &deep, 1);
    let deep = format!("ip4 && {}tcp{}", "!(".repeat(40), ")".repeat(40));
    check(&mut cache, &deep, 1);
}
