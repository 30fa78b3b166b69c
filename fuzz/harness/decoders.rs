//! Fuzz harness for the wire decoders of `collab_protocol`: what every byte string a client,
//! a peer gateway or a URL can hand the gateway goes through before anything else.
//!
//! Shared by the cargo-fuzz targets (`fuzz/fuzz_targets/{message,envelope,keys}.rs`) and by
//! the corpus replay test (`protocol/tests/fuzz_corpus.rs`), both of which include this file
//! with `#[path]`: a corpus file that passes here passes the fuzzer, and the reverse.
//!
//! Besides "never panics", each function checks that what decodes re-encodes to the same
//! value.

use bytes::Bytes;
use collab_protocol::message::{decode_awareness, decode_state_vector};
use collab_protocol::{Envelope, FileId, Keys, Message};
use yrs::updates::encoder::Encode;

/// A client frame (`Message::decode`), and the same bytes as a bare awareness update and a
/// bare state vector (the two payload decoders with checks of their own).
pub fn message(data: &[u8]) {
    if let Ok(msg) = Message::decode(data) {
        let again = Message::decode(&msg.encode());
        assert_eq!(
            again.as_ref(),
            Ok(&msg),
            "a decoded message does not round-trip"
        );
    }
    if let Ok(update) = decode_awareness(data) {
        let again = decode_awareness(&update.encode_v1());
        assert_eq!(
            again.as_ref(),
            Ok(&update),
            "an awareness update does not round-trip"
        );
    }
    if let Ok(sv) = decode_state_vector(data) {
        let again = decode_state_vector(&sv.encode_v1());
        assert_eq!(
            again.as_ref(),
            Ok(&sv),
            "a state vector does not round-trip"
        );
    }
}

/// A message from a Redis channel (`Envelope::decode`).
pub fn envelope(data: &[u8]) {
    if let Ok(env) = Envelope::decode(Bytes::copy_from_slice(data)) {
        let again = Envelope::decode(env.encode().into());
        assert_eq!(
            again.as_ref(),
            Ok(&env),
            "a decoded envelope does not round-trip"
        );
    }
}

/// A file id from a URL (`FileId::parse`) and the Redis names built from it: the channel
/// maps back to the file, and every key of the file hashes to one Redis Cluster slot.
pub fn keys(data: &[u8]) {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = FileId::parse(id) else {
        return;
    };
    assert_eq!(file.as_str(), id);
    let keys = Keys::default();
    assert_eq!(
        keys.file_of_channel(&keys.channel(&file)).as_ref(),
        Some(&file),
        "the channel name does not map back to its file"
    );
    let names = [
        keys.log(&file),
        keys.snap(&file),
        keys.channel(&file),
        keys.undo(&file, "u"),
        keys.redo(&file, "u"),
        keys.diag(&file),
    ];
    let slot = cluster_hash_input(&names[0]);
    for name in &names[1..] {
        assert_eq!(
            cluster_hash_input(name),
            slot,
            "{name:?} and {:?} fall in different Redis Cluster slots",
            names[0]
        );
    }
}

/// The part of a key Redis Cluster hashes: the text between the first `{` and the first `}`
/// after it, if that is not empty; the whole key otherwise.
fn cluster_hash_input(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}
