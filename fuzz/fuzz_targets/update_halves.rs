//! The ovsdb client's two-thread read of a big monitor reply: any bytes as `<table-updates2>`,
//! cut anywhere (the first two bytes pick the cut), read in two halves either gives up or gives
//! the update the whole reading gives (`ovsdb::client::update::check_halves` panics otherwise).
#![no_main]

use std::sync::OnceLock;

use ovsdb::Schema;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = r#"{"name": "D", "version": "1.0.0", "tables": {
            "A": {"columns": {"s": {"type": "string"},
                              "m": {"type": {"key": "string", "value": "string",
                                             "min": 0, "max": "unlimited"}}}},
            "B": {"columns": {"r": {"type": {"key": "uuid", "min": 0, "max": "unlimited"}},
                              "i": {"type": "integer"}}}}}"#;
        let json = serde_json::from_str(text).expect("schema text");
        Schema::from_json(&json).expect("schema")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [a, b, text @ ..] = data else {
        return;
    };
    let at = usize::from(u16::from_le_bytes([*a, *b])) % (text.len() + 1);
    ovsdb::client::update::check_halves(schema(), text, at);
});
