//! An external tool's post as the room sees it: the version its markers name, and the
//! room's word on it, which goes out as an effect (the shell keeps the requester, so the
//! core holds no channel).

use std::sync::Arc;

/// An external tool's request, waiting for the room's word on its version, which goes
/// out as `Effect::AnswerPost` with the same `id` (the shell keeps the requester).
#[derive(Debug)]
pub struct PostCheck {
    /// Names the request in its answer.
    pub id: u64,
    /// The version the markers belong to; `None` for a removal (any version goes).
    pub version: Option<String>,
}

/// The room's word on a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostAnswer {
    /// Accepted; the version of the room's text now.
    Accepted { current: Arc<str> },
    /// The version is neither the current text's nor a recent one's.
    Stale { current: Arc<str> },
    /// Too many posts wait already.
    Busy,
}
