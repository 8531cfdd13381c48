//! Logical-flow actions: any text parses, formats and encodes, or fails with an error.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| flowcompile::actions::fuzz_actions(data));
