//! Per-path locks: a conditional PUT checks the current version and replaces the file under
//! its path's lock, so two PUTs to one file never both pass the check. The change feed takes
//! the same lock while it looks at a file, so it never sees a half-applied PUT of the agent.
//!
//! Keyed by the file's real absolute path, so two request paths that reach one file through
//! a symlink share a lock. Entries disappear when nobody holds or waits for them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The lock table.
#[derive(Default)]
pub struct Locks {
    map: Mutex<HashMap<PathBuf, Arc<AsyncMutex<()>>>>,
}

/// Held while a path is being checked or written.
pub struct PathGuard {
    locks: Arc<Locks>,
    key: PathBuf,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Locks {
    /// Waits for and takes the lock of `key`.
    pub async fn lock(self: &Arc<Self>, key: PathBuf) -> PathGuard {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = mutex.lock_owned().await;
        PathGuard {
            locks: Arc::clone(self),
            key,
            guard: Some(guard),
        }
    }

    /// How many paths have a lock entry (tests: entries are dropped).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PathGuard {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and this guard's: nobody else holds or waits.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 2)
        {
            map.remove(&self.key);
        }
        self.guard = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_go_away() {
        let locks = Arc::new(Locks::default());
        let a = locks.lock(PathBuf::from("/r/a")).await;
        let waiter = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move { drop(locks.lock(PathBuf::from("/r/a")).await) })
        };
        tokio::task::yield_now().await;
        assert_eq!(locks.len(), 1);
        drop(a);
        assert!(waiter.await.is_ok());
        assert!(locks.is_empty());
    }
}
