//! Opening a file that Redis does not hold yet: its text is read from its source and
//! becomes the document's first log entry, once cluster-wide (the engine's seed is
//! conditional on an empty log and no snapshot: of gateways opening it at once, one seeds
//! and the others load what it seeded).
//!
//! A source that does not answer (`--files sandbox` before the sandbox's address is known,
//! or an agent that is down or refuses the gateway's token) does not keep the document
//! from opening: it opens from Redis as it would without files, and a document Redis does
//! not hold either opens empty with its file recorded as "base empty, no version". When the
//! source answers later, the file is then an outside change from an empty base and is
//! merged into whatever was typed meanwhile; it is never written over.

use collab_protocol::FileId;

use crate::engine::Store;

use super::source::SourceError;
use collab_room_core::ext::files::text;

use super::Files;

/// Why a file could not be opened from its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedError {
    /// The file may not be opened (its path, type, size or encoding): close 4400.
    Refused(String),
    /// The source or Redis failed; the joiner may retry.
    Unavailable(String),
}

/// Seeds `file` from its source if Redis holds no state of it. A file the source does not
/// have opens empty (the first write creates it).
pub async fn seed_once(
    files: &Files,
    store: &dyn Store,
    file: &FileId,
    text_name: &str,
) -> Result<(), SeedError> {
    let unavailable = |e: &dyn std::fmt::Display| SeedError::Unavailable(e.to_string());
    if store.head(file).await.map_err(|e| unavailable(&e))?.pos > 0 {
        return Ok(());
    }
    let max = files.settings.max_file_bytes;
    let loaded = match files.source.load(file, max).await {
        Ok(loaded) => loaded,
        Err(SourceError::NotFound) => return Ok(()),
        Err(SourceError::Unanswered(why)) => {
            super::metrics::load("failed");
            tracing::info!(%why, "the file's source did not answer; the document opens from Redis");
            // Only if Redis holds nothing of the file: an empty seed records the empty base.
            files
                .state
                .seed(file, &[], "", "")
                .await
                .map_err(|e| unavailable(&e))?;
            return Ok(());
        }
        Err(error @ (SourceError::Refused(_) | SourceError::TooBig { .. })) => {
            super::metrics::load("refused");
            return Err(SeedError::Refused(error.to_string()));
        }
        Err(error) => {
            super::metrics::load("failed");
            return Err(unavailable(&error));
        }
    };
    let content = text::decode(loaded.bytes, max).map_err(|e| {
        super::metrics::load("refused");
        SeedError::Refused(e.to_string())
    })?;
    let update = text::seed_update(text_name, &content, rand::random::<u32>());
    let seeded = files
        .state
        .seed(file, &update, loaded.etag.as_str(), &content)
        .await
        .map_err(|e| unavailable(&e))?;
    super::metrics::load(if seeded { "seeded" } else { "seeded-elsewhere" });
    Ok(())
}
