//! What an open room weighs before anything happens in it (issue 23): its channels each
//! allocate a first block of 32 items when the room opens, and its task holds its future
//! whole, so the items' and the future's sizes are bytes of every open room. Read from the
//! types; printed with `--nocapture`.
//!
//! Measured: the room's task future was 5,120 B (the actor held twice: `run` was an
//! `async fn`); the channels' items were 88 B (commands), 72 B (channel messages) and
//! 112 B (results), blocks of 2.8, 2.3 and 3.6 KB. Now 2,992 B, and items of 32, 8 and 32 B.

use std::mem::size_of;

use collab_protocol::envelope::Envelope;

use super::appender::Job;
use super::beside::Beside;
use super::handle::RoomCmd;

/// The room's task future: the actor and what waiting on its inputs holds.
const TASK_BUDGET: usize = 3_200;

#[test]
fn an_open_room_s_task_and_channels_hold_little() {
    let (actor, task) = super::actor::sizes();
    println!("actor {actor} B, its task's future {task} B");
    let items = [
        ("a command", size_of::<RoomCmd>()),
        ("a channel message", size_of::<Box<Envelope>>()),
        ("a result", size_of::<Beside>()),
    ];
    // The appender's, which a room opens with its first append.
    println!("an appender job {} B", size_of::<Job>());
    assert!(
        task <= TASK_BUDGET,
        "the room's task future grew to {task} B (budget {TASK_BUDGET} B): box what runs once"
    );
    for (item, size) in items {
        println!("{item} {size} B");
        assert!(size <= 32, "{item} grew to {size} B: box the large ones");
    }
}
