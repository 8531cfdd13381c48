//! Property tests: printing a parsed expression and parsing it again is the identity (on the
//! printed form), constants print back to the value they lex from, and no input panics any pass.

use flowcompile::annotate::NoSets;
use flowcompile::compile_match;
use flowcompile::lex::{IntConst, IntFormat, Lexer, Token};
use flowcompile::parse::parse;
use flowcompile::symtab::Symtab;
use proptest::prelude::*;

fn terminal() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    prop_oneof![
        (op.clone(), 0u32..65536).prop_map(|(o, v)| format!("tcp.dst {o} {v}")),
        (any::<u32>(), 0u32..=32).prop_map(|(a, n)| {
            let ip = std::net::Ipv4Addr::from(a & flowcompile::lex::prefix_mask(n, 32) as u32);
            format!("ip4.src == {ip}/{n}")
        }),
        (any::<u128>(), 0u32..=128).prop_map(|(a, n)| {
            format!(
                "ip6.dst == {}/{n}",
                std::net::Ipv6Addr::from(a & flowcompile::lex::prefix_mask(n, 128))
            )
        }),
        any::<u64>().prop_map(|v| format!(
            "eth.src == {}",
            flowcompile::lex::format_mac(v & 0xffff_ffff_ffff)
        )),
        (0u32..32, 0u32..32, any::<u32>()).prop_map(|(a, b, v)| {
            let (lo, hi) = (a.min(b), a.max(b));
            format!(
                "reg0[{lo}..{hi}] == {:#x}",
                u64::from(v) & ((1u64 << (hi - lo + 1)) - 1)
            )
        }),
        prop::collection::vec(0u16..4096, 1..4).prop_map(|v| format!(
            "vlan.vid == {{{}}}",
            v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        )),
        Just("ip4".to_owned()),
        Just("ct.est".to_owned()),
        Just("!ct.new".to_owned()),
        Just("inport == \"lp\\\"1\"".to_owned()),
        Just("outport == {\"a\", \"b\"}".to_owned()),
        Just("is_chassis_resident(\"cr-lrp\")".to_owned()),
        Just("ip4.dst == $as".to_owned()),
        Just("outport == @pg".to_owned()),
        Just("1".to_owned()),
        Just("0".to_owned()),
        (1u32..100, 100u32..1000).prop_map(|(a, b)| format!("{a} < udp.src <= {b}")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    terminal().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" && "))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" || "))),
            inner.prop_map(|e| format!("!({e})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_print_roundtrip(text in expression()) {
        let symtab = Symtab::ovn();
        let ast = parse(&text, symtab).unwrap_or_else(|e| panic!("{text}: {}", e.render(&text)));
        let printed = ast.to_string();
        let again = parse(&printed, symtab).unwrap_or_else(|e| panic!("{printed}: {}", e.render(&printed)));
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn ipv4_constants_roundtrip(v in any::<u32>(), n in 0u32..=32) {
        let masked = u128::from(v) & flowcompile::lex::prefix_mask(n, 32);
        let c = IntConst { value: masked, mask: Some(flowcompile::lex::prefix_mask(n, 32)), format: IntFormat::Ipv4 };
        let text = c.to_string();
        let lx = Lexer::new(&text);
        prop_assert_eq!(lx.peek(), &Token::Int(c));
    }

    #[test]
    fn ipv6_and_hex_constants_roundtrip(v in any::<u128>(), mask in any::<u128>()) {
        for c in [
            IntConst::new(v, IntFormat::Ipv6),
            IntConst { value: v & mask, mask: Some(mask), format: IntFormat::Hex },
            IntConst::new(v >> 80, IntFormat::Ethernet),
        ] {
            let text = c.to_string();
            let lx = Lexer::new(&text);
            match lx.peek() {
                Token::Int(got) => {
                    prop_assert_eq!(got.value, c.value);
                    prop_assert_eq!(got.mask, c.mask);
                }
                t => prop_assert!(false, "{} lexed as {:?}", text, t),
            }
        }
    }

    #[test]
    fn no_input_panics(text in "[ -~]{0,60}") {
        let _ = compile_match(&text, Symtab::ovn(), &NoSets, &|_: &str| true, &|_: &str, _: &str| Some(1));
    }

    #[test]
    fn no_unicode_input_panics(text in "\\PC{0,40}") {
        let _ = compile_match(&text, Symtab::ovn(), &NoSets, &|_: &str| true, &|_: &str, _: &str| Some(1));
        let _ = flowcompile::debug::run(flowcompile::debug::Pass::Lex, &text);
        flowcompile::fuzz_expr(text.as_bytes());
    }

    #[test]
    fn no_byte_input_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        flowcompile::fuzz_expr(&data);
    }

    #[test]
    fn no_token_soup_panics(parts in prop::collection::vec(prop_oneof![
        Just("("), Just(")"), Just("{"), Just("}"), Just("["), Just("]"), Just("!"), Just("&&"), Just("||"),
        Just("=="), Just("!="), Just("<"), Just(">="), Just(".."), Just(","), Just("reg0"), Just("ip4.src"),
        Just("inport"), Just("tcp"), Just("1"), Just("0"), Just("10.0.0.1/8"), Just("\"p\""), Just("$as"),
        Just("@pg"), Just("is_chassis_resident"), Just("0x1/0x3"), Just("3"), Just("15"), Just("ct.est"),
    ], 0..24)) {
        let text = parts.join(" ");
        let _ = compile_match(&text, Symtab::ovn(), &NoSets, &|_: &str| true, &|_: &str, _: &str| Some(1));
    }
}
