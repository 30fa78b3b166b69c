//! What can go wrong behind the engine seam, in one type every engine reports.
//!
//! Rooms only log these and retry (appends, reads) or refuse a joiner (opening); none of
//! them is shown to a client, so one flat enum is enough.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A reply whose shape the engine does not expect: never trusted, never unwrapped.
    #[error("unexpected reply from redis: {0}")]
    Reply(String),
    /// Updates that yrs cannot decode or merge.
    #[error("update cannot be merged: {0}")]
    Corrupt(String),
    /// The engine's background machinery is gone (the gateway is shutting down).
    #[error("engine stopped")]
    Stopped,
}
