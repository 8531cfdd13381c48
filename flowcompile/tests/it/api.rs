//! Small API checks for what the chassis view and incremental processing need.

use flowcompile::annotate::{annotate, NoSets};
use flowcompile::lex::{parse_constant, IntFormat};
use flowcompile::matches::{to_matches, PortLookup};
use flowcompile::parse::parse;
use flowcompile::symtab::{OfField, Symtab};
use flowcompile::{compile_match, normalize, simplify};

#[test]
fn set_references_are_listed_once() {
    let ast = parse(
        "outport == @pg1 && (ip4.src == $a || ip4.dst == {$b, $a}) && inport == @pg1",
        Symtab::ovn(),
    )
    .unwrap();
    assert_eq!(ast.set_references(), (vec!["a", "b"], vec!["pg1"]));
}

#[test]
fn address_set_entries_lex_like_ovn() {
    let c = parse_constant("10.0.0.0/8").unwrap();
    assert_eq!(
        (c.value, c.mask, c.format),
        (0x0a00_0000, Some(0xff00_0000), IntFormat::Ipv4)
    );
    assert!(parse_constant("10.0.0.0/8 x").is_err());
    assert!(parse_constant("bogus").is_err());
}

#[test]
fn conj_ids_rebase_and_metadata_can_be_added() {
    let ports = |_: &str, _: &str| Some(1);
    let mut m = compile_match(
        "ip4.src == {10.0.0.1, 10.0.0.2} && ip4.dst == {10.0.0.3, 10.0.0.4}",
        Symtab::ovn(),
        &NoSets,
        &|_: &str| true,
        &ports,
    )
    .unwrap();
    m.rebase_conj_ids(100);
    let text: Vec<String> = m.matches.iter().map(ToString::to_string).collect();
    assert!(text.contains(&"conj_id=100,ip".to_owned()), "{text:?}");
    assert!(
        text.iter()
            .filter(|t| t.ends_with("conjunction(100,1/2)"))
            .count()
            == 2
    );
    // The layout of REFERENCE.md: metadata = datapath key, reg14/reg15 = port keys.
    let mut flow = m.matches[0].flow.clone();
    flow.set_exact(OfField::Metadata, 5);
    assert!(flow.to_string().contains("metadata=0x5"));
}

#[test]
fn passes_can_be_run_one_by_one() {
    let symtab = Symtab::ovn();
    let ast = parse("tcp.dst == 80 && inport == \"p1\"", symtab).unwrap();
    let e = annotate(&ast, symtab, &NoSets).unwrap();
    let e = simplify::simplify(e, symtab);
    let e = normalize::normalize(e, symtab).unwrap();
    struct Keys;
    impl PortLookup for Keys {
        fn port_key(&self, _: &str, name: &str) -> Option<u32> {
            (name == "p1").then_some(7)
        }
    }
    let m = to_matches(&e, symtab, &Keys).unwrap();
    let text: Vec<String> = m.matches.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        ["tcp,reg14=0x7,tp_dst=80", "tcp6,reg14=0x7,tp_dst=80"]
    );
}
