//! A room fed arbitrary client messages: see `fuzz/harness/room.rs`.
#![no_main]

#[path = "../harness/room.rs"]
#[allow(dead_code)]
mod room;

libfuzzer_sys::fuzz_target!(|data: &[u8]| room::run(data));
