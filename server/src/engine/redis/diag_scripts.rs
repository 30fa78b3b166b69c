//! Lua of the diagnostics cache. KEYS are always the file's diag hash and its channel,
//! one slot under Redis Cluster.
//!
//! Fields of `collab:{F}:diag`: `<source>:<version>` holds a message's JSON;
//! `claim:<source>:<version>` is `<gateway> <ms>` while a gateway computes it;
//! `order:<source>` lists the source's stored versions, newest first, so old ones can be
//! trimmed and the newest found. Source names never contain `:` (checked at the door).

/// The cached message, else a claim. ARGV: source, version, origin, claim ms, ttl ms.
/// Returns {1, message} cached, {2, holder} claimed by another gateway, {3} claimed here.
pub const LOOKUP_OR_CLAIM: &str = r#"
local field = ARGV[1] .. ':' .. ARGV[2]
local cached = redis.call('HGET', KEYS[1], field)
if cached then return {1, cached} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local claim = 'claim:' .. field
local held = redis.call('HGET', KEYS[1], claim)
if held then
  local at = tonumber(string.match(held, ' (%d+)$'))
  if at and now - at < tonumber(ARGV[4]) then return {2, held} end
end
redis.call('HSET', KEYS[1], claim, ARGV[3] .. ' ' .. now)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {3}
"#;

/// Stores a message, trims the source's older versions (and their claims), refreshes the
/// expiry and publishes the message with `publish` (`PUBLISH`, or `SPUBLISH` on a cluster).
/// ARGV: source, version, message, ttl ms, versions kept, origin.
pub fn store(publish: &str) -> String {
    STORE.replace("'PUBLISH'", &format!("'{publish}'"))
}

const STORE: &str = r#"
local source, version = ARGV[1], ARGV[2]
redis.call('HSET', KEYS[1], source .. ':' .. version, ARGV[3])
redis.call('HDEL', KEYS[1], 'claim:' .. source .. ':' .. version)
local order_field = 'order:' .. source
local order = redis.call('HGET', KEYS[1], order_field) or ''
local kept, keep = {version}, tonumber(ARGV[5])
for v in string.gmatch(order, '%S+') do
  if v ~= version then
    if #kept < keep then
      table.insert(kept, v)
    else
      redis.call('HDEL', KEYS[1], source .. ':' .. v, 'claim:' .. source .. ':' .. v)
    end
  end
end
redis.call('HSET', KEYS[1], order_field, table.concat(kept, ' '))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[2], 'D ' .. ARGV[6] .. '\n' .. ARGV[3])
return 1
"#;

/// The newest message of every source. Returns a list of messages.
pub const LATEST: &str = r#"
local out = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local source = string.match(field, '^order:(.+)$')
  if source then
    local newest = string.match(redis.call('HGET', KEYS[1], field) or '', '^(%S+)')
    if newest then
      local message = redis.call('HGET', KEYS[1], source .. ':' .. newest)
      if message then table.insert(out, message) end
    end
  end
end
return out
"#;

/// Deletes every version of a source and publishes its empty message with `publish`.
/// ARGV: source, message, origin. Returns 1 if the source had anything stored.
pub fn clear(publish: &str) -> String {
    CLEAR.replace("'PUBLISH'", &format!("'{publish}'"))
}

const CLEAR: &str = r#"
local source = ARGV[1]
local prefix = source .. ':'
local claim_prefix = 'claim:' .. prefix
local removed = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #prefix) == prefix or string.sub(field, 1, #claim_prefix) == claim_prefix
      or field == 'order:' .. source then
    removed = removed + redis.call('HDEL', KEYS[1], field)
  end
end
redis.call('PUBLISH', KEYS[2], 'D ' .. ARGV[3] .. '\n' .. ARGV[2])
if removed > 0 then return 1 end
return 0
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_publishing_scripts_use_the_command_they_are_given() {
        for script in [super::store("SPUBLISH"), super::clear("SPUBLISH")] {
            assert!(script.contains("redis.call('SPUBLISH', KEYS[2]"));
            assert!(!script.contains("'PUBLISH'"));
        }
    }
}
