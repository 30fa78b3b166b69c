//! The room actor's claims of awareness client ids: run beside the room (a claim is one
//! engine round trip), the answer comes back to the actor as an input.

use std::sync::Arc;

use collab_room_core::presence::CURSOR_CLAIM_TTL;
use yrs::ClientID;

use super::Actor;
use crate::room::beside::Beside;

impl Actor {
    /// Claims (or renews) `ids` for `user` in the engine. A failed claim answers "no" for
    /// every id: a state that cannot be checked is not shown (its client sends it again
    /// within 15 s).
    pub(super) fn claim_cursors(&self, user: Arc<str>, ids: Vec<ClientID>) {
        let (store, file) = (self.ctx.store.clone(), self.file.clone());
        let answers = self.results.clone();
        tokio::spawn(async move {
            let raw: Vec<u64> = ids.iter().map(|id| id.get()).collect();
            let ttl = CURSOR_CLAIM_TTL.as_millis() as u64;
            let granted = match store.claim_cursors(&file, &user, &raw, ttl).await {
                Ok(granted) if granted.len() == ids.len() => granted,
                Ok(_) => vec![false; ids.len()],
                Err(error) => {
                    tracing::debug!(%error, "claiming cursor client ids failed");
                    vec![false; ids.len()]
                }
            };
            let granted = ids.into_iter().zip(granted).collect();
            answers.send(Beside::Claims(Box::new((user, granted))));
        });
    }
}
