//! [`FileState`] in Redis: the hash `collab:{F}:file` (fields `etag`, `base`, `seeded`,
//! `lease`, `lease_until`) and the seed script, which appends a new file's first entry only
//! if the log and snapshot are empty, in the same atomic step that records its source.
//! Lease times are Redis's own clock (`TIME`), so gateways' clocks never disagree.

use std::time::Duration;

use collab_protocol::{FileId, Keys};
use futures_util::future::BoxFuture;
use redis::Script;

use super::conn::Conn;
use super::scripts::{HEAD, publish_with};
use crate::engine::error::EngineError;
use crate::engine::file_state::{FileRecord, FileState};

/// KEYS: log, snap, channel, file. ARGV: origin, update, etag, base. Returns 1 if seeded.
const SEED: &str = r#"
if head() ~= 0 or redis.call('HEXISTS', KEYS[2], 'state') == 1 then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('XADD', KEYS[1], '1-1', 'o', ARGV[1], 'u', ARGV[2])
  redis.call(PUBLISH, KEYS[3], 'U ' .. ARGV[1] .. ' 1\n' .. ARGV[2])
end
local time = redis.call('TIME')
redis.call('HSET', KEYS[4], 'etag', ARGV[3], 'base', ARGV[4], 'seeded', time[1])
return 1
"#;

/// Redis time in milliseconds.
const NOW: &str = r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"#;

/// KEYS: file. ARGV: holder, ttl ms. Returns 1 if the holder has the lease now.
const LEASE: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'lease', 'lease_until')
if h[1] and h[1] ~= ARGV[1] and (tonumber(h[2]) or 0) > now then
  return 0
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1], 'lease_until', now + tonumber(ARGV[2]))
return 1
"#;

/// KEYS: file. ARGV: holder.
const RELEASE: &str = r#"
if redis.call('HGET', KEYS[1], 'lease') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'lease', 'lease_until')
end
return 1
"#;

/// KEYS: file. ARGV: holder, etag ('' = no file), base. Returns 1 if recorded.
const SYNCED: &str = r#"
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'etag')
else
  redis.call('HSET', KEYS[1], 'etag', ARGV[2])
end
redis.call('HSET', KEYS[1], 'base', ARGV[3])
return 1
"#;

pub struct RedisFileState<C> {
    conn: C,
    keys: Keys,
    gateway_id: String,
    seed: Script,
    lease: Script,
    release: Script,
    synced: Script,
}

impl<C: Conn> RedisFileState<C> {
    pub fn new(conn: C, keys: Keys, gateway_id: String) -> Self {
        RedisFileState {
            conn,
            keys,
            gateway_id,
            seed: Script::new(&format!("{}{HEAD}{SEED}", publish_with(C::FILE_PUBLISH))),
            lease: Script::new(&format!("{NOW}{LEASE}")),
            release: Script::new(RELEASE),
            synced: Script::new(SYNCED),
        }
    }
}

impl<C: Conn> FileState for RedisFileState<C> {
    fn seed<'a>(
        &'a self,
        file: &'a FileId,
        update: &'a [u8],
        etag: &'a str,
        base: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut call = self.seed.key(self.keys.log(file));
            call.key(self.keys.snap(file))
                .key(self.keys.channel(file))
                .key(self.keys.file(file))
                .arg(&self.gateway_id)
                .arg(update)
                .arg(etag)
                .arg(base);
            let seeded: i64 = call.invoke_async(&mut conn).await?;
            Ok(seeded == 1)
        })
    }

    fn record<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<FileRecord, EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let (etag, base): (Option<String>, Option<String>) = redis::cmd("HMGET")
                .arg(self.keys.file(file))
                .arg("etag")
                .arg("base")
                .query_async(&mut conn)
                .await?;
            // An empty ETag: opened while the source did not answer (no version known).
            let etag = etag.filter(|etag| !etag.is_empty());
            Ok(FileRecord { etag, base })
        })
    }

    fn lease<'a>(
        &'a self,
        file: &'a FileId,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut call = self.lease.key(self.keys.file(file));
            call.arg(&self.gateway_id)
                .arg(ttl.as_millis().max(1) as u64);
            let held: i64 = call.invoke_async(&mut conn).await?;
            Ok(held == 1)
        })
    }

    fn release<'a>(&'a self, file: &'a FileId) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut call = self.release.key(self.keys.file(file));
            call.arg(&self.gateway_id);
            let _: i64 = call.invoke_async(&mut conn).await?;
            Ok(())
        })
    }

    fn synced<'a>(
        &'a self,
        file: &'a FileId,
        etag: Option<&'a str>,
        base: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut call = self.synced.key(self.keys.file(file));
            call.arg(&self.gateway_id).arg(etag.unwrap_or("")).arg(base);
            let recorded: i64 = call.invoke_async(&mut conn).await?;
            Ok(recorded == 1)
        })
    }
}
