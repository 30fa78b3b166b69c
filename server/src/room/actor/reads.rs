//! The room actor's reads beside the room: the log, a joiner's undo counts and the stored
//! diagnostics, each run on its own task so the room never waits on the engine; each
//! result comes back to the actor as an input.

use std::sync::Arc;

use collab_room_core::catch_up::Fetched;
use collab_room_core::effect::LogRead;
use collab_room_core::presence::ConnId;

use super::Actor;
use crate::room::beside::Beside;

impl Actor {
    /// Reads a joiner's undo counts beside the room; they come back as an input (a
    /// failed read sends nothing: the next change of a count is announced anyway).
    pub(super) fn read_undo_counts(&self, conn: ConnId, user: Arc<str>) {
        let (undo, file) = (self.ctx.undo.clone(), self.file.clone());
        let results = self.results.clone();
        tokio::spawn(async move {
            match undo.counts(&file, &user).await {
                Ok(counts) => {
                    results.send(Beside::Counts(conn, counts));
                }
                Err(error) => tracing::debug!(%error, "reading undo counts failed"),
            }
        });
    }

    /// Reads the newest stored markers beside the room (a failed read shows nothing until
    /// the next check or post).
    pub(super) fn load_diagnostics(&self) {
        let (cache, file) = (self.ctx.checking.cache.clone(), self.file.clone());
        let results = self.results.clone();
        tokio::spawn(async move {
            match cache.latest(&file).await {
                Ok(messages) => {
                    results.send(Beside::Loaded(messages));
                }
                Err(error) => tracing::debug!(%error, "reading stored diagnostics failed"),
            }
        });
    }

    /// Runs one log read beside the room; its result comes back as an input.
    pub(super) fn read_log(&self, read: LogRead) {
        let (store, file) = (self.ctx.store.clone(), self.file.clone());
        let results = self.results.clone();
        tokio::spawn(async move {
            let fetched = match read {
                LogRead::Since(since) => store
                    .read_since(&file, since)
                    .await
                    .map(|tail| Fetched::Tail { since, tail }),
                LogRead::Head => store.head(&file).await.map(Fetched::Head),
            };
            let fetched = fetched.unwrap_or_else(|error| {
                tracing::debug!(%error, "reading the log failed; a later check retries");
                Fetched::Failed
            });
            results.send(Beside::Fetched(Box::new(fetched)));
        });
    }
}
