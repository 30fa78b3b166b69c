//! The straight write from the room into a socket, against a scripted socket: order kept,
//! flushes awaited, closed connections left alone, straight writes counted per fan-out.

use super::*;
use std::sync::Mutex as StdMutex;

/// A socket that answers each offer with the next scripted outcome and keeps what it
/// took.
struct Scripted {
    answers: StdMutex<VecDeque<Tried>>,
    took: Arc<StdMutex<Vec<Bytes>>>,
}

impl Direct for Scripted {
    fn try_write(&self, frame: &Bytes) -> Tried {
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Tried::Busy);
        if answer != Tried::Busy {
            self.took.lock().unwrap().push(frame.clone());
        }
        answer
    }
}

fn outbox(answers: impl IntoIterator<Item = Tried>) -> (Outbox, Arc<StdMutex<Vec<Bytes>>>) {
    let took = Arc::new(StdMutex::new(Vec::new()));
    let outbox = Outbox::new(8);
    outbox.attach(Arc::new(Scripted {
        answers: StdMutex::new(answers.into_iter().collect()),
        took: took.clone(),
    }));
    (outbox, took)
}

#[tokio::test]
async fn a_frame_for_an_idle_connection_goes_straight_into_the_socket() {
    let (outbox, took) = outbox([Tried::Written, Tried::Written]);
    outbox.send(Bytes::from_static(b"1"));
    outbox.send(Bytes::from_static(b"2"));
    assert_eq!(*took.lock().unwrap(), [&b"1"[..], b"2"]);
    assert!(outbox.take().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn once_a_frame_is_queued_later_ones_queue_behind_it_until_the_writer_took_them() {
    // The socket is busy for "1", then would take anything.
    let (outbox, took) = outbox([Tried::Busy, Tried::Written, Tried::Written]);
    outbox.send(Bytes::from_static(b"1"));
    outbox.send(Bytes::from_static(b"2"));
    assert!(took.lock().unwrap().is_empty(), "2 must not pass 1");
    let mut batch = outbox.next_batch().await;
    assert_eq!(batch.pop_front().as_deref(), Some(&b"1"[..]));
    assert_eq!(batch.pop_front().as_deref(), Some(&b"2"[..]));
    outbox.send(Bytes::from_static(b"3"));
    assert!(
        took.lock().unwrap().is_empty(),
        "3 must wait for the batch being written"
    );
    outbox.written();
    let mut batch = outbox.next_batch().await;
    assert_eq!(batch.pop_front().as_deref(), Some(&b"3"[..]));
    outbox.written();
    outbox.send(Bytes::from_static(b"4"));
    assert_eq!(*took.lock().unwrap(), [&b"4"[..]]);
}

#[tokio::test]
async fn a_frame_left_in_the_socket_buffer_is_flushed_by_the_writer_before_the_next_goes_in() {
    let (outbox, took) = outbox([Tried::Buffered, Tried::Written]);
    outbox.send(Bytes::from_static(b"1"));
    outbox.send(Bytes::from_static(b"2"));
    assert_eq!(
        *took.lock().unwrap(),
        [&b"1"[..]],
        "2 waits for the flush of 1"
    );
    // The writer is woken for the flush, and gets 2 with it.
    outbox.ready().await;
    let mut batch = outbox.take();
    assert_eq!(batch.pop_front().as_deref(), Some(&b"2"[..]));
    outbox.written();
    outbox.send(Bytes::from_static(b"3"));
    assert_eq!(*took.lock().unwrap(), [&b"1"[..], b"3"]);
}

#[tokio::test]
async fn a_fan_out_counts_the_frames_that_went_straight_in() {
    let frame = Bytes::from_static(b"1");
    let mut straight = Straight::default();
    let (straight_in, _) = outbox([Tried::Written]);
    let (buffered, _) = outbox([Tried::Buffered]);
    let (busy, _) = outbox([Tried::Busy]);
    for outbox in [&straight_in, &buffered, &busy] {
        assert_eq!(outbox.offer(&frame, None, &mut straight), Queued::Yes);
    }
    assert_eq!(straight.count(), 2, "written and buffered, not queued");
    let mut queued = busy.take();
    assert_eq!(queued.pop_front(), Some(frame));
}

#[tokio::test]
async fn a_closed_connection_takes_nothing_straight_in() {
    let (outbox, took) = outbox([Tried::Written]);
    outbox.close(CloseReason::normal());
    assert_eq!(outbox.send(Bytes::from_static(b"1")), Queued::Gone);
    assert!(took.lock().unwrap().is_empty());
}
