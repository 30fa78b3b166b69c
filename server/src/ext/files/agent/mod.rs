//! `--files sandbox`: files live in each sandbox, behind its file agent
//! (`collab-sandbox-agent`, or a platform's own implementation of the same API), reached at
//! `http://{sandbox_ip}:{--sandbox-agent-port}` with the bearer `--sandbox-agent-token`.
//!
//! - [`book`]: which address serves which sandbox, learned from owners' records.
//! - [`client`]: the HTTP requests (GET with ETag, conditional PUT, the change stream).
//! - [`sse`]: the change stream's bytes as events.
//! - [`feed`]: one change-feed connection per watched sandbox, shared by its rooms.
//!
//! A file `{sid}/{path}` is `path` in sandbox `sid`'s workspace. The address is the
//! `sandbox_ip` of `sid`'s owner, read from `user:{id}` when an owner is admitted on this
//! gateway; while none has been, the file's source does not answer (the document opens from
//! Redis and says `failed`). The address only ever travels as a [`SandboxIp`], which never
//! prints.

pub mod book;
pub mod client;
pub mod feed;
pub mod sse;

use std::sync::Arc;

use collab_protocol::FileId;
use futures_util::future::BoxFuture;

use super::path::relative;
use super::source::{Etag, FileSource, Loaded, Precondition, SourceError, Watch};
use crate::engine::Directory;
use crate::sandbox_ip::SandboxIp;
use crate::secret::Secret;
use book::AddressBook;
use client::AgentClient;
use feed::Feeds;

/// Why a file of a sandbox whose address this gateway does not know cannot be reached.
pub const NO_ADDRESS: &str = "the sandbox's file agent cannot be reached yet: its address is \
                              learned when the sandbox's owner connects to this gateway";

pub struct AgentSource {
    client: AgentClient,
    book: Arc<AddressBook>,
    feeds: Arc<Feeds>,
    directory: Arc<dyn Directory>,
}

impl AgentSource {
    pub fn new(port: u16, token: &Secret, directory: Arc<dyn Directory>) -> anyhow::Result<Self> {
        let client = AgentClient::new(port, token)?;
        let book = Arc::new(AddressBook::default());
        let feeds = Arc::new(Feeds::new(client.clone(), book.clone()));
        Ok(AgentSource {
            client,
            book,
            feeds,
            directory,
        })
    }

    /// The address of `file`'s sandbox and the file's path in it.
    fn locate<'f>(&self, file: &'f FileId) -> Result<(SandboxIp, &'f str), SourceError> {
        relative(file)?;
        let (sandbox, path) = split(file)?;
        let (ip, _) = self
            .book
            .lookup(sandbox)
            .ok_or_else(|| SourceError::Unanswered(NO_ADDRESS.into()))?;
        Ok((ip, path))
    }
}

/// `{sid}/{path}` as its sandbox and path; a file id without a path is refused.
fn split(file: &FileId) -> Result<(&str, &str), SourceError> {
    file.as_str()
        .split_once('/')
        .filter(|(sandbox, path)| !sandbox.is_empty() && !path.is_empty())
        .ok_or_else(|| SourceError::Refused("a file id is {sandbox}/{path}".into()))
}

impl FileSource for AgentSource {
    fn load<'a>(
        &'a self,
        file: &'a FileId,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Loaded, SourceError>> {
        Box::pin(async move {
            let (ip, path) = self.locate(file)?;
            self.client.get(ip, path, max_bytes).await
        })
    }

    fn store<'a>(
        &'a self,
        file: &'a FileId,
        bytes: &'a [u8],
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Etag, SourceError>> {
        Box::pin(async move {
            let (ip, path) = self.locate(file)?;
            self.client.put(ip, path, bytes, &condition).await
        })
    }

    fn watch(&self, file: &FileId) -> Watch {
        match split(file) {
            Ok((sandbox, _)) => self.feeds.watch(sandbox, file),
            // No sandbox, no feed: such a file never opened (it was refused at load).
            Err(_) => Watch::new(tokio::sync::broadcast::channel(1).1, None),
        }
    }

    fn admitted<'a>(&'a self, user: &'a str, sandbox: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match self.directory.sandbox_address(user).await {
                Ok(Some(owner)) if owner.sandbox == sandbox => {
                    self.book.learn(sandbox, owner.ip, owner.ttl);
                }
                // A member (its own sandbox is another) or no address recorded.
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(sandbox, %error, "reading the user's sandbox address failed");
                }
            }
        })
    }
}
