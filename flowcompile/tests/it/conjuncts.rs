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

/// Texts of one shape (`field == constant` conjuncts whose constants differ): the first is
/// compiled in full, the second gives the shape a template, the rest are filled into it;
/// every one must give what compiling it in full gives, including where the constants meet
/// other comparisons on the same bits, contradict them, fail the width check or change a
/// mask, for shared and per-scope (port and port group) shapes.
#[test]
fn conjunct_cache_shapes_match_compile_match() {
    let families: &[(&str, &[&str])] = &[
        (
            "reg0[2] == # && ip4.dst == 10.0.0.# && tcp.dst == 8#",
            &["1", "0", "2", "3"],
        ),
        (
            "ct.new && ip4.dst == 10.96.0.# && tcp.dst == #",
            &["1", "95", "255", "0"],
        ),
        (
            "outport == \"p1\" && reg0 == 100.64.0.#",
            &["1", "2", "3", "65"],
        ),
        ("outport == \"p9\" && reg0 == 100.64.0.#", &["1", "2", "3"]),
        ("inport == @pg && reg1 == #", &["1", "2", "0x10", "0"]),
        ("outport == @pg && xxreg0 == fe80::#", &["1", "a", "ffff"]),
        // Same symbol or overlapping registers: never filled, always the same as in full.
        ("reg0 == # && reg0[0] == 1", &["1", "2", "3", "0"]),
        (
            "reg0[0..15] == # && reg0[16..31] == 7",
            &["1", "2", "65535", "65536"],
        ),
        ("xxreg0 == # && reg3 == 5", &["5", "1", "0x500000000", "6"]),
        ("reg0 == # && reg0 == 2", &["2", "1", "2", "3"]),
        ("eth.type == # && ip4", &["0x800", "0x86dd", "0x800", "1"]),
        ("ip.proto == # && tcp", &["6", "17", "6", "0"]),
        ("tcp.dst == # && tcp.src == 1", &["1", "2", "3", "4"]),
        // Masks, prefixes, widths, formats.
        (
            "ip4.dst == 10.0.0.0/# && ip4",
            &["8", "16", "24", "0", "32"],
        ),
        (
            "ip4.dst == # && udp",
            &["10.0.0.1", "10.0.0.2", "0.0.0.0/0", "10.0.0.3/8"],
        ),
        ("reg0 == #/0xff && ip6", &["1", "2", "0x100", "0"]),
        ("reg0[2] == # && ip4", &["1", "0", "2", "1"]),
        (
            "tcp.dst == # && ip4",
            &["80", "443", "65535", "65536", "0x10000"],
        ),
        (
            "eth.src == # && eth.dst == 00:00:00:00:00:01",
            &["00:00:00:00:00:02", "0a:58:64:40:00:01", "1"],
        ),
        ("ct_mark.blocked == # && ct.est", &["0", "1", "0", "2"]),
        ("flags[1] == # && arp.op == #", &["0", "1", "1", "2"]),
        (
            "nd_ns && nd.target == fe80::# && flags[1] == 1",
            &["1", "2", "3"],
        ),
        (
            "(reg9[6] == #) && (ip4 && reg1 == 10.96.0.160 && reg2[0..15] == 80)",
            &["1", "0", "1"],
        ),
        (
            "ip4.src == {10.0.0.1, 10.0.0.2} && reg9[0] == #",
            &["0", "1", "1"],
        ),
        (
            "ip4 && ip.ttl == {0, 1} && !ip.later_frag && reg0 == #",
            &["1", "2", "3"],
        ),
        (
            "icmp4.type == # && icmp4.code == 0 && ip4.dst == 1.1.1.1",
            &["3", "8", "0"],
        ),
        (
            "ct.new && ip4.dst == 10.96.0.# && reg0 == 1 && reg0 == #",
            &["1", "2", "1"],
        ),
    ];
    for (pattern, values) in families {
        let mut cache = ConjunctCache::new();
        for round in 0..2 {
            for v in values.iter() {
                let text = pattern.replace('#', v);
                check(&mut cache, &text, 1);
                check(&mut cache, &text, 2);
                if round == 1 {
                    check(&mut cache, &format!("({text}) && (ip4)"), 1);
                }
            }
        }
    }
}

/// Shapes with random constants (decimal, hex, dotted quads, prefixes, MACs, some too wide for
/// their field), each text checked against `compile_match` after its shape has a template.
#[test]
fn conjunct_cache_shapes_random_constants() {
    let patterns = [
        "reg0[2] == A && ip4.dst == B && tcp.dst == A",
        "ct.new && ip4.dst == B && tcp.dst == A",
        "outport == \"p1\" && reg0 == B",
        "inport == @pg && reg1 == A && reg2[0..15] == A",
        "reg0 == A && reg0[0] == A",
        "xxreg0 == A && reg3 == A",
        "ip4.src == B && ip4.dst == B && ip4",
        "eth.src == C && eth.type == A",
        "reg9[6] == A && ct.new && ip4 && reg4 == B && reg8[0..15] == A",
        "ip.proto == A && ip4.dst == B",
        "flags[1] == A && arp.op == A && arp.tpa == B",
        "(tcp.dst == A) && (ip4 && ip4.dst == B)",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cache = ConjunctCache::new();
    for _ in 0..40 {
        for p in patterns {
            let mut text = String::new();
            for ch in p.chars() {
                match ch {
                    'A' => {
                        let r = next();
                        let v = match r % 5 {
                            0 => r >> 60,
                            1 => (r >> 40) % 70_000,
                            2 => 1,
                            3 => 0,
                            _ => r >> 44,
                        };
                        if r & 8 == 0 {
                            text.push_str(&format!("{v}"));
                        } else {
                            text.push_str(&format!("{v:#x}"));
                        }
                    }
                    'B' => {
                        let r = next();
                        text.push_str(&format!(
                            "10.{}.{}.{}",
                            r % 4,
                            (r >> 8) % 3,
                            (r >> 16) % 256
                        ));
                        if r & 0x1000_0000 != 0 {
                            text.push_str(&format!("/{}", (r >> 32) % 33));
                        }
                    }
                    'C' => {
                        let r = next();
                        text.push_str(&format!("0a:58:00:00:{:02x}:{:02x}", r % 3, (r >> 8) % 256));
                    }
                    c => text.push(c),
                }
            }
            let scope = 1 + (next() % 2) as u32;
            check(&mut cache, &text, scope);
        }
    }
}
