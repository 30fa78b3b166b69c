//! Replays the committed fuzz corpus of the room target (`fuzz/corpus/room`) through the
//! same harness the fuzzer runs (`fuzz/harness/room.rs`): arbitrary client frames
//! dispatched to a replica and presence as a room does, with its invariants checked.
//!
//! The ignored test `write_seed_corpus` regenerates the seed files of every target
//! (`fuzz/corpus/*/seed-*`) from `fuzz/harness/seeds.rs`.

#[path = "../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../fuzz/harness/room.rs"]
mod room;
#[path = "../../fuzz/harness/seeds.rs"]
mod seeds;

#[test]
fn room_corpus() {
    replay::corpus("room", room::run);
}

#[test]
fn seeds_pass_their_harness() {
    for (name, data) in seeds::room() {
        room::run(&data);
        assert!(!room::records(&data).is_empty(), "seed {name} has records");
    }
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*: run it after changing fuzz/harness/seeds.rs"]
fn write_seed_corpus() {
    let targets = [
        ("message", seeds::message()),
        ("envelope", seeds::envelope()),
        ("keys", seeds::keys()),
        ("room", seeds::room()),
    ];
    for (target, seeds) in targets {
        let dir = replay::dir(target);
        std::fs::create_dir_all(&dir).expect("creates the corpus folder");
        for (name, data) in seeds {
            let path = dir.join(format!("seed-{name}"));
            std::fs::write(&path, data).expect("writes a seed");
        }
    }
}
