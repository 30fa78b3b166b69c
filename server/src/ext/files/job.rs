//! One job of a room's file keeper, run in a task of its own: a conditional write of the
//! latest text, or a check of the source (a settled read, compared with what the gateways
//! last synced). Its outcome, a [`Done`], goes back to the keeper, which owns the rest.

use collab_protocol::FileId;
use tokio::sync::mpsc;

use crate::engine::FileState;
use collab_room_core::ext::files::text;

use super::Files;
use super::settle::{self, Settled};
use super::source::{Etag, Precondition, SourceError};

/// A finished job.
#[derive(Debug)]
pub enum Done {
    /// `text` is on the source as `etag`.
    Written {
        etag: Etag,
        text: String,
    },
    /// Nothing needed writing (the text is the synced one).
    Clean,
    /// Another gateway holds the lease and has not synced this text yet.
    NotHolder,
    /// The file is not the version last synced: check it, then write again.
    Conflict,
    Failed(String),
    /// The file changed outside from `base` to `theirs` (recorded as synced already).
    Outside {
        base: String,
        theirs: String,
        etag: Etag,
    },
    /// The file is the version last synced (`base`: its text).
    Same {
        etag: Option<Etag>,
        base: Option<String>,
    },
    /// The file was deleted outside.
    Deleted,
    /// The file kept changing while it was read: someone is still writing it. Nothing
    /// merged; read again later.
    Unsettled,
    /// Another gateway holds the lease: it checks.
    CheckNotHolder,
}

/// What a job needs, detached from the keeper.
pub struct Job {
    file: FileId,
    files: Files,
    done: mpsc::UnboundedSender<Done>,
}

impl Job {
    pub fn new(file: &FileId, files: &Files, done: &mpsc::UnboundedSender<Done>) -> Job {
        Job {
            file: file.clone(),
            files: files.clone(),
            done: done.clone(),
        }
    }

    /// Checks the source in a task of its own; its [`Done`] comes through the channel.
    pub fn spawn_check(self) {
        tokio::spawn(async move {
            let done = self.check().await;
            let _ = self.done.send(done);
        });
    }

    /// Writes `text` in a task of its own; its [`Done`] comes through the channel.
    pub fn spawn_write(self, text: String) {
        tokio::spawn(async move {
            let done = self.write(text).await;
            let _ = self.done.send(done);
        });
    }

    fn state(&self) -> &dyn FileState {
        &*self.files.state
    }

    async fn write(&self, text: String) -> Done {
        match self.try_write(text).await {
            Ok(done) => done,
            Err(reason) => self.failed(reason).await,
        }
    }

    /// A job failed: the lease goes back, so a gateway that can reach the source (one that
    /// knows the sandbox's address) writes and merges instead of this one.
    async fn failed(&self, reason: String) -> Done {
        if let Err(error) = self.state().release(&self.file).await {
            tracing::debug!(%error, "releasing the file's lease failed; it expires");
        }
        Done::Failed(reason)
    }

    async fn try_write(&self, text: String) -> Result<Done, String> {
        let file = &self.file;
        let ttl = self.files.settings.lease_ttl();
        let held = self
            .state()
            .lease(file, ttl)
            .await
            .map_err(|e| e.to_string())?;
        let record = self.state().record(file).await.map_err(|e| e.to_string())?;
        if record.base.as_deref() == Some(text.as_str()) {
            return Ok(match record.etag {
                Some(etag) if held => Done::Written {
                    etag: Etag(etag),
                    text,
                },
                _ => Done::Clean,
            });
        }
        if !held {
            return Ok(Done::NotHolder);
        }
        let condition = match record.etag {
            Some(etag) => Precondition::IfMatch(Etag(etag)),
            None => Precondition::CreateOnly,
        };
        match self
            .files
            .source
            .store(file, text.as_bytes(), condition)
            .await
        {
            Ok(etag) => {
                // Lost the lease meanwhile (a long stall): the new holder checks the file.
                let _ = self
                    .state()
                    .synced(file, Some(etag.as_str()), &text)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Done::Written { etag, text })
            }
            Err(SourceError::Conflict) => Ok(Done::Conflict),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn check(&self) -> Done {
        match self.try_check().await {
            Ok(done) => done,
            Err(reason) => self.failed(reason).await,
        }
    }

    async fn try_check(&self) -> Result<Done, String> {
        let file = &self.file;
        let ttl = self.files.settings.lease_ttl();
        if !self
            .state()
            .lease(file, ttl)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(Done::CheckNotHolder);
        }
        let record = self.state().record(file).await.map_err(|e| e.to_string())?;
        let max = self.files.settings.max_file_bytes;
        let source = &*self.files.source;
        let loaded = match settle::read_settled(source, file, max, record.etag.as_deref()).await {
            Ok(Settled::File(loaded)) => loaded,
            Ok(Settled::Unsettled) => return Ok(Done::Unsettled),
            Ok(Settled::Absent) => {
                if record.etag.is_none() {
                    return Ok(Done::Same {
                        etag: None,
                        base: None,
                    });
                }
                let base = record.base.unwrap_or_default();
                self.state()
                    .synced(file, None, &base)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(Done::Deleted);
            }
            Err(error) => return Err(error.to_string()),
        };
        if record.etag.as_deref() == Some(loaded.etag.as_str()) {
            return Ok(Done::Same {
                etag: Some(loaded.etag),
                base: record.base,
            });
        }
        let theirs = text::decode(loaded.bytes, max).map_err(|e| e.to_string())?;
        // No base recorded (state from before files were on): the file is the base, and
        // the document, the newer of the two, is written over it.
        let base = record.base.unwrap_or_else(|| theirs.clone());
        self.state()
            .synced(file, Some(loaded.etag.as_str()), &theirs)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Done::Outside {
            base,
            theirs,
            etag: loaded.etag,
        })
    }
}
