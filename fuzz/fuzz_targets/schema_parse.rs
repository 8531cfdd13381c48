//! `.ovsschema` parsing: any text is a schema or a clear error; a schema re-serializes and parses
//! back to itself.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(schema) = ovsdb::Schema::from_str_json(text) {
        let again = ovsdb::Schema::from_json(&schema.to_json()).expect("re-serialized schema parses");
        assert_eq!(again.to_json(), schema.to_json());
    }
});
