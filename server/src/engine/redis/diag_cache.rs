//! [`RedisDiagnostics`]: the diagnostics cache in one Redis hash per file, over the
//! gateway's command connection (scripts in `diag_scripts`), on one Redis or a cluster
//! (every key of a call in the file's slot; the scripts publish with the connection's
//! file publish command).

use bytes::Bytes;
use collab_protocol::{FileId, Keys};
use futures_util::future::BoxFuture;
use redis::Script;

use super::conn::Conn;
use super::diag_scripts;
use crate::engine::error::EngineError;
use collab_room_core::ext::diagnostics::{DiagPolicy, DiagnosticsCache, Lookup};

pub struct RedisDiagnostics<C: Conn> {
    conn: C,
    keys: Keys,
    gateway_id: String,
    policy: DiagPolicy,
    lookup: Script,
    store: Script,
    latest: Script,
    clear: Script,
}

impl<C: Conn> RedisDiagnostics<C> {
    pub fn new(conn: C, keys: Keys, gateway_id: String, policy: DiagPolicy) -> Self {
        RedisDiagnostics {
            conn,
            keys,
            gateway_id,
            policy,
            lookup: Script::new(diag_scripts::LOOKUP_OR_CLAIM),
            store: Script::new(&diag_scripts::store(C::FILE_PUBLISH)),
            latest: Script::new(diag_scripts::LATEST),
            clear: Script::new(&diag_scripts::clear(C::FILE_PUBLISH)),
        }
    }

    fn call<'s>(&self, script: &'s Script, file: &FileId) -> redis::ScriptInvocation<'s> {
        let mut call = script.key(self.keys.diag(file));
        call.key(self.keys.channel(file));
        call
    }

    fn ttl_ms(&self) -> u64 {
        self.policy.ttl.as_millis().max(1) as u64
    }

    async fn lookup(
        &self,
        file: &FileId,
        source: &str,
        version: &str,
    ) -> Result<Lookup, EngineError> {
        let mut call = self.call(&self.lookup, file);
        call.arg(source)
            .arg(version)
            .arg(&self.gateway_id)
            .arg(self.policy.claim.as_millis() as u64)
            .arg(self.ttl_ms());
        let reply: Vec<redis::Value> = call.invoke_async(&mut self.conn.clone()).await?;
        match reply.as_slice() {
            [redis::Value::Int(1), redis::Value::BulkString(message)] => {
                Ok(Lookup::Cached(Bytes::copy_from_slice(message)))
            }
            [redis::Value::Int(2), ..] => Ok(Lookup::Taken),
            [redis::Value::Int(3)] => Ok(Lookup::Claimed),
            other => Err(EngineError::Reply(format!(
                "diagnostics look-up: {other:?}"
            ))),
        }
    }

    async fn put(
        &self,
        file: &FileId,
        source: &str,
        version: &str,
        message: &[u8],
    ) -> Result<(), EngineError> {
        let mut call = self.call(&self.store, file);
        call.arg(source)
            .arg(version)
            .arg(message)
            .arg(self.ttl_ms())
            .arg(self.policy.keep_versions.max(1))
            .arg(&self.gateway_id);
        let _: i64 = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    async fn newest(&self, file: &FileId) -> Result<Vec<Bytes>, EngineError> {
        let call = self.call(&self.latest, file);
        let messages: Vec<Vec<u8>> = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(messages.into_iter().map(Bytes::from).collect())
    }

    async fn remove(
        &self,
        file: &FileId,
        source: &str,
        message: &[u8],
    ) -> Result<bool, EngineError> {
        let mut call = self.call(&self.clear, file);
        call.arg(source).arg(message).arg(&self.gateway_id);
        let removed: i64 = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(removed == 1)
    }
}

impl<C: Conn> DiagnosticsCache for RedisDiagnostics<C> {
    type Error = EngineError;

    fn lookup_or_claim<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, EngineError>> {
        Box::pin(self.lookup(file, source, version))
    }

    fn store<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        version: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.put(file, source, version, message))
    }

    fn latest<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<Vec<Bytes>, EngineError>> {
        Box::pin(self.newest(file))
    }

    fn clear<'a>(
        &'a self,
        file: &'a FileId,
        source: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(self.remove(file, source, message))
    }
}
