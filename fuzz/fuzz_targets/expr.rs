//! Match expressions through every flowcompile pass: any text compiles or fails with an error,
//! and what the parser prints parses back to the same text.
#![no_main]
use flowcompile::debug::{run, Pass};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    flowcompile::fuzz_expr(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(printed) = run(Pass::Parse, text) {
        let again = run(Pass::Parse, &printed).expect("printed expression parses");
        assert_eq!(again, printed);
    }
});
