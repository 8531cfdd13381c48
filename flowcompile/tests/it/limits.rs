//! Hostile inputs hit a documented limit with a clear error instead of exhausting memory.

use flowcompile::annotate::{NoSets, SetTable};
use flowcompile::error::ErrorKind;
use flowcompile::symtab::Symtab;
use flowcompile::{compile_match, normalize, parse};

fn compile(
    text: &str,
    sets: &SetTable,
) -> Result<flowcompile::matches::Matches, flowcompile::ExprError> {
    compile_match(
        text,
        Symtab::ovn(),
        sets,
        &|_: &str| true,
        &|_: &str, _: &str| Some(1),
    )
}

#[test]
fn deep_nesting_is_rejected() {
    let text = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = parse::parse(&text, Symtab::ovn()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e.message.contains("nesting"), "{e}");
    let text = format!("{}ip4", "!(".repeat(5_000));
    assert_eq!(
        parse::parse(&text, Symtab::ovn()).unwrap_err().kind,
        ErrorKind::Limit
    );
    // Just below the limit is fine.
    let text = format!(
        "{}1{}",
        "(".repeat(parse::MAX_NESTING - 1),
        ")".repeat(parse::MAX_NESTING - 1)
    );
    assert!(parse::parse(&text, Symtab::ovn()).is_ok());
}

#[test]
fn crossproduct_blowup_is_rejected() {
    // 20 two-way ORs, each over two fields, distribute into 2^20 terms.
    let terms: Vec<String> = (0..20)
        .map(|i| format!("(pkt.mark[{i}] == 1 || ct_mark[{i}] == 1)"))
        .collect();
    let e = match compile(&terms.join(" && "), &SetTable::new()) {
        Ok(m) => panic!("compiled into {} flows", m.matches.len()),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
    assert!(e.message.contains(&normalize::MAX_TERMS.to_string()), "{e}");
}

#[test]
fn huge_sets_compile_or_hit_the_limit() {
    let addrs: Vec<String> = (0..20_000u32)
        .map(|i| format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let mut sets = SetTable::new();
    sets.add_address_set("big", &addrs).unwrap();
    // A big set as one conjunctive dimension is fine: one flow per address plus the rest.
    let m = compile("ip4.src == $big && tcp.dst == {80, 443}", &sets).unwrap();
    assert_eq!(m.matches.len(), 20_000 + 2 + 1);
    assert_eq!(m.n_conjs, 1);
    // Its negation needs a crossproduct of 20,000 32-way ORs: refused.
    let e = match compile("ip4.src != $big", &sets) {
        Ok(m) => panic!("compiled into {} flows", m.matches.len()),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
}

#[test]
fn unknown_sets_are_errors() {
    let e = compile_match(
        "ip4.src == $nope",
        Symtab::ovn(),
        &NoSets,
        &|_: &str| true,
        &|_: &str, _: &str| None,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownSet);
}
