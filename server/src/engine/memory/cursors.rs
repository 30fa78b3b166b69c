//! The in-memory engine's claims on awareness client ids: what `collab:{F}:cursor:{id}`
//! with its expiry is in Redis, one map for the whole memory server.

use std::collections::HashMap;
use std::sync::Mutex;

use collab_protocol::FileId;

use super::shared::lock;

/// Who holds each client id of each file, and until when (server milliseconds).
#[derive(Default)]
pub struct Claims(Mutex<HashMap<(FileId, u64), (String, u64)>>);

impl Claims {
    /// Claims or renews `ids` for `user` at `now_ms` for `ttl_ms`; per id, whether it is
    /// `user`'s (the same rule as the Redis script).
    pub fn claim(
        &self,
        file: &FileId,
        user: &str,
        ids: &[u64],
        now_ms: u64,
        ttl_ms: u64,
    ) -> Vec<bool> {
        let mut claims = lock(&self.0);
        claims.retain(|_, (_, until)| *until > now_ms);
        let until = now_ms.saturating_add(ttl_ms.max(1));
        ids.iter()
            .map(|id| {
                let held = claims
                    .entry((file.clone(), *id))
                    .or_insert_with(|| (user.to_owned(), until));
                if held.0 == user {
                    held.1 = until;
                    return true;
                }
                false
            })
            .collect()
    }
}
