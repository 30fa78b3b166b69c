//! Lua scripts: each runs atomically in Redis, so a log position is assigned, stored and
//! published in one step, and compaction can compare-and-set.
//!
//! Log entries are stream entries with the explicit id `<pos>-1`, so positions are the
//! contiguous integers 1, 2, 3, ... of a file, which makes a gap visible to a subscriber.
//! The head of the log is derived, never counted separately: the last entry's position,
//! or, when compaction emptied the stream, the position the snapshot covers.

/// The head position of a file's log. KEYS: log, snap.
const HEAD: &str = r#"
local function head()
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last > 0 then
    return tonumber(string.match(last[1][1], '^(%d+)'))
  end
  return tonumber(redis.call('HGET', KEYS[2], 'pos')) or 0
end
"#;

/// Appends an update and publishes it with its position.
/// KEYS: log, snap, channel. ARGV: origin, update. Returns {pos, log length}.
pub fn append() -> String {
    format!(
        "{HEAD}{}",
        r#"
local pos = head() + 1
redis.call('XADD', KEYS[1], pos .. '-1', 'o', ARGV[1], 'u', ARGV[2])
redis.call('PUBLISH', KEYS[3], 'U ' .. ARGV[1] .. ' ' .. pos .. '\n' .. ARGV[2])
return {pos, redis.call('XLEN', KEYS[1])}
"#
    )
}

/// Returns the head position. KEYS: log, snap.
pub fn head() -> String {
    format!("{HEAD}return head()")
}

/// Reads what a replica at position ARGV[1] lacks. KEYS: log, snap.
/// Returns {snapshot pos, snapshot state or false, entries, head}: the state only when the
/// snapshot covers positions after ARGV[1] (the log was compacted past them). Snapshot
/// and entries are read together, so a concurrent compaction cannot fall between them.
/// A head below ARGV[1] means the log went backwards (Redis lost data).
pub fn read_since() -> String {
    format!(
        "{HEAD}{}",
        r#"
local snap = redis.call('HMGET', KEYS[2], 'pos', 'state')
local spos = tonumber(snap[1]) or 0
local since = tonumber(ARGV[1])
local state = false
if spos > since then
  state = snap[2] or ''
  since = spos
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. since .. '-1', '+')
return {spos, state, entries, head()}
"#
    )
}

/// Replaces the snapshot if it still covers ARGV[1], then trims the entries it now covers.
/// KEYS: log, snap. ARGV: expected pos, new pos, new state. Returns 1 if it replaced.
pub const COMPACT: &str = r#"
local cur = tonumber(redis.call('HGET', KEYS[2], 'pos')) or 0
if cur ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], 'pos', ARGV[2], 'state', ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', (tonumber(ARGV[2]) + 1) .. '-0')
return 1
"#;
