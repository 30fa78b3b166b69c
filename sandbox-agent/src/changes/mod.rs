//! The change feed: `GET /changes`, a `text/event-stream` of the changes made under the root
//! by anything other than the agent itself.
//!
//! Three stages, one per file: `watch.rs` turns inotify events (via `notify`) into "this path
//! was touched", `settle.rs` waits until a touched file has been quiet for a moment, looks at
//! it and decides whether it changed from what subscribers know (`known.rs`), and this module
//! fans the resulting events out to every subscriber:
//!
//! ```text
//! data: {"path":"src/app.ts","etag":"\"<hex>\"","kind":"changed"}
//! data: {"path":"old.txt","etag":null,"kind":"deleted"}
//! ```
//!
//! The agent's own PUTs are not reported (not even marked): the gateway knows them. A
//! subscriber gets `: connected` first (its subscription is live from then on) and `: ping`
//! every 15 s. One that falls [`FEED_CAPACITY`] events behind is disconnected, so it knows to
//! reconnect and re-read the files it cares about rather than silently missing changes.

pub mod settle;
pub mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast;

use crate::state::App;

/// Events a subscriber may fall behind by before it is disconnected.
pub const FEED_CAPACITY: usize = 4096;

/// Interval of the `: ping` comments.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// One reported change: the JSON line sent as an event's `data`.
pub type Change = Arc<str>;

/// A new sender for the feed.
pub fn channel() -> broadcast::Sender<Change> {
    broadcast::channel(FEED_CAPACITY).0
}

/// `GET /changes`.
pub async fn feed(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = app.changes.subscribe();
    let hello = stream::once(async { Ok(Event::default().comment("connected")) });
    let changes = stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(change) => Some((Ok(Event::default().data(&*change)), receiver)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "a change-feed subscriber fell behind; disconnecting it"
                );
                None
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    Sse::new(hello.chain(changes)).keep_alive(KeepAlive::new().interval(KEEPALIVE).text("ping"))
}
