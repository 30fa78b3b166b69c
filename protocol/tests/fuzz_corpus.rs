//! Replays the committed fuzz corpus of the decoder targets (`fuzz/corpus/{message,envelope,
//! keys}`) through the same harness the fuzzers run (`fuzz/harness/decoders.rs`), so a
//! decoder regression on any input the fuzzers kept fails `cargo test`.

#[path = "../../fuzz/harness/decoders.rs"]
mod decoders;
#[path = "../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn message_corpus() {
    replay::corpus("message", decoders::message);
}

#[test]
fn envelope_corpus() {
    replay::corpus("envelope", decoders::envelope);
}

#[test]
fn keys_corpus() {
    replay::corpus("keys", decoders::keys);
}
