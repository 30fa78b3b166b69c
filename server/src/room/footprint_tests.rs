//! What an open room weighs before anything happens in it (issue 23): its channels each
//! allocate a first block of 32 items when the room opens, and its task holds its future
//! whole, so the items' and the future's sizes are bytes of every open room. Read from the
//! types; printed with `--nocapture`.
//!
//! Measured: the room's task future was 5,120 B (the actor held twice: `run` was an
//! `async fn`) and the results channel's item 112 B (a block of 3.6 KB); now 2,992 B and
//! 32 B.

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
    println!(
        "channel items: commands {} B, remote {} B, results {} B, appender {} B",
        size_of::<RoomCmd>(),
        size_of::<Envelope>(),
        size_of::<Beside>(),
        size_of::<Job>()
    );
    assert!(
        task <= TASK_BUDGET,
        "the room's task future grew to {task} B (budget {TASK_BUDGET} B): box what runs once"
    );
    assert!(
        size_of::<Beside>() <= 32,
        "a room's result grew to {} B: box the large ones",
        size_of::<Beside>()
    );
}
