//! Rust names for OVSDB tables, columns and enum values.

/// Rust keywords (2021 edition, strict and reserved) that cannot be field names.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Field names the generated structs use for `_uuid` and `_version`.
const RESERVED_FIELDS: &[&str] = &["uuid", "version"];

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// One word of a table name, in UpperCamelCase: acronyms lose their capitals (`ACL` → `Acl`,
/// `DHCPv6` → `Dhcpv6`), names starting in lower case are capitalized (`sFlow` → `Sflow`), and
/// mixed-case words keep their shape (`QoS`, `AutoAttach`).
fn camel_word(word: &str) -> String {
    let letters: Vec<char> = word.chars().filter(char::is_ascii_alphabetic).collect();
    let upper_run = word.chars().take_while(char::is_ascii_uppercase).count();
    let starts_lower = word.starts_with(|c: char| c.is_ascii_lowercase());
    if letters.iter().all(char::is_ascii_uppercase) || upper_run >= 2 || starts_lower {
        capitalize(&word.to_ascii_lowercase())
    } else {
        capitalize(word)
    }
}

/// The struct name of a table: `Logical_Switch_Port` → `LogicalSwitchPort`, `ACL` → `Acl`.
pub(crate) fn type_name(table: &str) -> String {
    let name: String = table.split('_').map(camel_word).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("T{name}")
    } else {
        name
    }
}

/// The field name of a column: snake_case, keywords and the reserved `uuid`/`version` get a
/// trailing underscore (`type` → `type_`).
pub(crate) fn field_name(column: &str) -> String {
    let mut name: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "c_");
    }
    if KEYWORDS.contains(&name.as_str()) || RESERVED_FIELDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The name of a column's constant: `COL_` and the column in SCREAMING_SNAKE_CASE.
pub(crate) fn column_const(column: &str) -> String {
    let name: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("COL_{name}")
}

/// UpperCamelCase of a snake_case or kebab-case word list (`allow-related` → `AllowRelated`).
pub(crate) fn camel(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.chars().all(|c| !c.is_ascii_lowercase()) {
                capitalize(&w.to_ascii_lowercase())
            } else {
                capitalize(w)
            }
        })
        .collect()
}

/// The variant name of a string enum value.
pub(crate) fn string_variant(value: &str) -> String {
    let name = camel(value);
    if name.is_empty() {
        "Empty".to_owned()
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{name}")
    } else {
        name
    }
}

/// The variant name of an integer enum value (`5` → `V5`, `-1` → `VNeg1`).
pub(crate) fn integer_variant(value: i64) -> String {
    if value < 0 {
        format!("VNeg{}", value.unsigned_abs())
    } else {
        format!("V{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for (t, n) in [
            ("Logical_Switch_Port", "LogicalSwitchPort"),
            ("ACL", "Acl"),
            ("NAT", "Nat"),
            ("QoS", "QoS"),
            ("DHCPv6_Options", "Dhcpv6Options"),
            ("NB_Global", "NbGlobal"),
            ("Open_vSwitch", "OpenVswitch"),
            ("sFlow", "Sflow"),
            ("AutoAttach", "AutoAttach"),
            ("IPFIX", "Ipfix"),
            ("Logical_DP_Group", "LogicalDpGroup"),
            ("FDB", "Fdb"),
        ] {
            assert_eq!(type_name(t), n);
        }
    }

    #[test]
    fn column_and_value_names() {
        assert_eq!(field_name("type"), "type_");
        assert_eq!(field_name("match"), "match_");
        assert_eq!(field_name("uuid"), "uuid_");
        assert_eq!(field_name("external_ids"), "external_ids");
        assert_eq!(column_const("external_ids"), "COL_EXTERNAL_IDS");
        assert_eq!(string_variant("allow-related"), "AllowRelated");
        assert_eq!(string_variant("dnat_and_snat"), "DnatAndSnat");
        assert_eq!(string_variant("OpenFlow10"), "OpenFlow10");
        assert_eq!(string_variant("802.1q"), "V8021q");
        assert_eq!(string_variant(""), "Empty");
        assert_eq!(string_variant("DSCP"), "Dscp");
        assert_eq!(integer_variant(-3), "VNeg3");
    }
}
