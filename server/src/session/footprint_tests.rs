//! What a connection's tasks weigh: a task holds its future whole, sized by the
//! largest state it can be in, so a step a session takes once (the admission, the
//! goodbye) must not be inline in the future that idles for hours. Read from the types,
//! without a socket; printed with `--nocapture`.
//!
//! Measured (issue 23): before, the reading task's future was 2,248 B (the handshake's
//! task, holding the socket and the opening twice more and the admission inline) and the
//! writer's 1,432 B; a heap profile of 1,000 idle connections (release) showed 2,816 B and
//! 1,536 B per connection for the two tasks. Then 792 B and 888 B (the same in test and
//! release builds): tasks of 896 and 1,024 B. A task is its future plus 104 B, in steps of
//! 128 B, so 664 B and 792 B are what fits tasks of 768 and 896 B; now 664 B and 784 B
//! (issue 23, the session's refusal and moved-out parts no longer held, the writer's socket
//! shared before its block). Then the writer task became one that runs only while frames
//! wait for the socket (or for the goodbye), so an idle connection has the session's task
//! alone: 608 B (the keepalive's timer boxed into the reader, the session span no longer
//! held around the future), a task of 768 B; a writer, while one runs, 616 B.

use std::future::Future;
use std::mem::size_of;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use super::writer::{self, DirectSink, Sink};
use super::{Opening, read_frames, serve};
use crate::config::Config;
use crate::outbox::Outbox;
use crate::rooms::Membership;
use crate::state::AppState;
use crate::upgrade::Socket;

/// The size of the future `f` returns, without calling it.
fn future_of<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
    size_of::<F>()
}

fn reader_of<'a, F: Future>(
    _: impl FnOnce(
        &'a mut futures_util::stream::SplitStream<Socket>,
        &'a Membership,
        &'a Outbox,
        &'a Config,
        watch::Receiver<bool>,
        Option<Instant>,
    ) -> F,
) -> usize {
    size_of::<F>()
}

/// A connection's task: the whole session (admission, reading, keepalives, leaving), a
/// task of 768 B.
const SESSION_BUDGET: usize = 608;
/// A connection's writing task, while frames wait for its socket: a task of 768 B.
const WRITER_BUDGET: usize = 616;

#[test]
fn an_idle_connection_s_tasks_hold_only_what_idling_needs() {
    let session = future_of::<Socket, Opening, Arc<AppState>, _>(serve);
    let reading = reader_of(read_frames);
    let writing = future_of::<Arc<DirectSink>, Sink, Outbox, _>(writer::write_frames);
    println!("socket {} B", size_of::<Socket>());
    println!("session future {session} B (of which read_frames {reading} B)");
    println!("writer future {writing} B");
    assert!(
        session <= SESSION_BUDGET,
        "the session future grew to {session} B (budget {SESSION_BUDGET} B): box what runs once"
    );
    assert!(
        writing <= WRITER_BUDGET,
        "the writer future grew to {writing} B (budget {WRITER_BUDGET} B): box what runs once"
    );
}

#[test]
fn an_open_connection_s_send_queue_is_small() {
    // Counted in the heap profile: 239 B per connection with the close reason inline; the
    // handle for writing straight into the socket (`outbox::Direct`) adds 24 B, the
    // keepalive's last-sent time (the writer's before it ran on demand) 8 B.
    let shared = crate::outbox::shared_size();
    println!("outbox {shared} B");
    assert!(shared <= 176, "the outbox grew to {shared} B");
}
