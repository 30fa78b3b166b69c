//! `collab_protocol` decoders: see `fuzz/harness/decoders.rs`.
#![no_main]

#[path = "../harness/decoders.rs"]
#[allow(dead_code)]
mod decoders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decoders::message(data));
