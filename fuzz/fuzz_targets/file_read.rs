//! The standalone database file reader: any bytes are records up to a reported corrupt tail.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ovsdb::file::fuzz_read(data));
