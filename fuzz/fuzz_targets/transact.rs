//! Transactions: any bytes as the params of a `transact` request against a database of the test
//! schema never panic the engine.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ovsdb::fuzz::fuzz_transact(data));
