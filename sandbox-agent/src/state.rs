//! The agent's shared state: the canonical root, the token's digest, the size limit, the
//! per-path locks, what the change feed knows, and the feed's sender.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::known::Known;
use crate::locks::Locks;
use crate::token::TokenDigest;

/// Shared by every request and the change feed.
pub struct App {
    /// Canonical root.
    pub root: PathBuf,
    pub token: TokenDigest,
    pub max_file_bytes: usize,
    pub locks: Arc<Locks>,
    pub known: Arc<Known>,
    /// Each change as the JSON line of its event.
    pub changes: broadcast::Sender<Arc<str>>,
}
