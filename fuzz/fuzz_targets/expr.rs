//! Match expressions through every flowcompile pass: any text compiles or fails with an error.
#![no_main]
use flowcompile::debug::{run, Pass};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(printed) = run(Pass::Parse, text) {
        // What the parser prints, it parses again to the same text.
        let again = run(Pass::Parse, &printed).expect("printed expression parses");
        assert_eq!(again, printed);
    }
    let _ = run(Pass::Flows, text);
});
