//! The JSON-RPC 1.0 stream decoder: any bytes, in any chunking, never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ovsdb::jsonrpc::fuzz_decode(data));
