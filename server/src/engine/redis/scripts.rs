//! Lua scripts: each runs atomically in Redis, so a log position is assigned, stored and
//! published in one step, and compaction can compare-and-set.
//!
//! Log entries are stream entries with the explicit id `<pos>-1`, so positions are the
//! contiguous integers 1, 2, 3, ... of a file, which makes a gap visible to a subscriber.
//! The head of the log is derived, never counted separately: the last entry's position,
//! or, when compaction emptied the stream, the position the snapshot covers.
//!
//! Every key a script touches is in its `KEYS[]` (the file's channel too), and all of a
//! call's keys carry the file's `{F}` hash tag: under Redis Cluster the call runs on the
//! file's slot. The scripts that publish take the publish command as a parameter
//! (`PUBLISH` on one server, `SPUBLISH` on a cluster: [`super::conn::Conn::FILE_PUBLISH`]).

/// The head position of a file's log. KEYS: log, snap.
pub(super) const HEAD: &str = r#"
local function head()
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last > 0 then
    return tonumber(string.match(last[1][1], '^(%d+)'))
  end
  return tonumber(redis.call('HGET', KEYS[2], 'pos')) or 0
end
"#;

/// A field of a log entry (false when it has none): `o` who wrote it, `d` the digest of
/// its bytes (absent in entries of gateways older than digests). KEYS: none.
const FIELD: &str = r#"
local function field_of(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then
      return fields[i + 1]
    end
  end
  return false
end
"#;

/// A user's undo list as items. An element is `<ms>\n<parts>` (a whole item; `<ms>` the
/// Redis time of its last edit, 0 for an inverse) or `<ms>,<n>,<bytes>\n<part>`: the `n`th
/// element of an item that is still growing, its `bytes` the parts of all `n` so far. A
/// growing item is kept as one element per edit, so a keystroke pushes its part and never
/// rewrites the item (Lua hashes every byte of every string it makes: rewriting an 8 KiB
/// item per keystroke was a fifth of Redis's CPU in the edit-storm). Only the top item can
/// be split: it is folded into one element before anything is pushed above it.
/// KEYS: none.
const ITEMS: &str = r#"
local function header(top)
  local stamp, n, bytes = string.match(top, '^(%d+),(%d+),(%d+)\n')
  if stamp then
    return tonumber(stamp), tonumber(n), tonumber(bytes)
  end
  stamp = string.match(top, '^(%d+)\n')
  if not stamp then
    return 0, 1, #top
  end
  return tonumber(stamp), 1, #top - #stamp - 1
end
local function items(list)
  local len = redis.call('LLEN', list)
  if len == 0 then
    return 0
  end
  local _, n = header(redis.call('LINDEX', list, 0))
  return len - n + 1
end
local function take(list, top)
  local _, n = header(top)
  local elements = redis.call('LPOP', list, n)
  local parts = {}
  for i = #elements, 1, -1 do
    local e = elements[i]
    local at = string.find(e, '\n', 1, true)
    parts[#parts + 1] = at and string.sub(e, at + 1) or e
  end
  return table.concat(parts)
end
local function fold(list, top)
  local stamp, n = header(top)
  if n > 1 then
    redis.call('LPUSH', list, stamp .. '\n' .. take(list, top))
  end
end
"#;

/// Publishes an `N` envelope when a user's undo or redo count moved between zero and
/// non-zero; returns both counts. `PUBLISH` is the publish command. Needs [`ITEMS`].
const NOTIFY: &str = r#"
local function notify(channel, origin, user, undo_key, redo_key, undo_before, redo_before)
  local undo, redo = items(undo_key), redis.call('LLEN', redo_key)
  if (undo == 0) ~= (undo_before == 0) or (redo == 0) ~= (redo_before == 0) then
    redis.call(PUBLISH, channel, 'N ' .. origin .. '\n' ..
      cjson.encode({user = user, undo = undo, redo = redo}))
  end
  return undo, redo
end
"#;

/// Declares the Lua local `PUBLISH`, the command the scripts publish with.
pub(super) fn publish_with(publish: &str) -> String {
    format!("local PUBLISH = '{publish}'\n")
}

/// Appends an update and publishes it with its position, then records each authored part
/// on its author's undo and redo lists.
/// KEYS: log, snap, channel, then per record: undo list, redo list.
/// ARGV: origin, update, capture ms, depth, ttl ms, most bytes of one item, digest of the
/// update (computed by the gateway; stored as the entry's `d`), then per record: kind
/// (`e` edit, `u` undone, `r` redone), user, item part.
/// Returns {pos, log length}.
///
/// An edit within the capture window of the top item's time joins it (unless the item,
/// stored whole, would be larger than the most bytes of one item: someone typing without
/// pause for an hour gets several items); otherwise it starts a new item. Lists are
/// described at [`ITEMS`]. An edit's common case is four list commands and no copy.
pub fn append(publish: &str) -> String {
    format!(
        "{}{HEAD}{ITEMS}{NOTIFY}{}",
        publish_with(publish),
        r#"
local pos = head() + 1
redis.call('XADD', KEYS[1], pos .. '-1', 'o', ARGV[1], 'u', ARGV[2], 'd', ARGV[7])
redis.call(PUBLISH, KEYS[3], 'U ' .. ARGV[1] .. ' ' .. pos .. '\n' .. ARGV[2])
local capture, depth, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_item = tonumber(ARGV[6])
local now
local function push(list, stamp, part)
  redis.call('LPUSH', list, stamp .. '\n' .. part)
  redis.call('LTRIM', list, 0, depth - 1)
  redis.call('PEXPIRE', list, ttl)
end
local k, a = 4, 8
while KEYS[k] do
  local undo, redo = KEYS[k], KEYS[k + 1]
  local kind, user, part = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local top = redis.call('LINDEX', undo, 0)
  if kind == 'e' then
    if not now then
      local time = redis.call('TIME')
      now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    end
    local redo_before = redis.call('LLEN', redo)
    local stamp, n, bytes = 0, 0, 0
    if top then
      stamp, n, bytes = header(top)
    end
    if stamp > 0 and now - stamp < capture
        and #tostring(stamp) + 1 + bytes + #part <= max_item then
      redis.call('LPUSH', undo, now .. ',' .. (n + 1) .. ',' .. (bytes + #part) .. '\n' .. part)
      redis.call('PEXPIRE', undo, ttl)
    else
      if top then
        fold(undo, top)
      end
      push(undo, now, part)
    end
    if redo_before > 0 then
      redis.call('DEL', redo)
    end
    -- the counts moved between zero and non-zero: undo was empty, or redo was not
    if not top or redo_before > 0 then
      redis.call(PUBLISH, KEYS[3], 'N ' .. ARGV[1] .. '\n' ..
        cjson.encode({user = user, undo = items(undo), redo = 0}))
    end
  else
    local undo_before, redo_before = items(undo), redis.call('LLEN', redo)
    if kind == 'u' then
      push(redo, 0, part)
    else
      if top then
        fold(undo, top)
      end
      push(undo, 0, part)
    end
    notify(KEYS[3], ARGV[1], user, undo, redo, undo_before, redo_before)
  end
  k, a = k + 2, a + 3
end
return {pos, redis.call('XLEN', KEYS[1])}
"#
    )
}

/// Pops the top item of a user's undo (ARGV[1] `u`) or redo (`r`) list.
/// KEYS: undo list, redo list, channel. ARGV: which, origin, user.
/// Returns {undo count, redo count, item parts (absent when the list was empty)}.
pub fn pop_undo(publish: &str) -> String {
    format!(
        "{}{ITEMS}{NOTIFY}{}",
        publish_with(publish),
        r#"
local undo_before, redo_before = items(KEYS[1]), redis.call('LLEN', KEYS[2])
local from = KEYS[2]
if ARGV[1] == 'u' then from = KEYS[1] end
local top = redis.call('LINDEX', from, 0)
local item = top and take(from, top)
local undo, redo = notify(KEYS[3], ARGV[2], ARGV[3], KEYS[1], KEYS[2], undo_before, redo_before)
if not item then
  return {undo, redo}
end
return {undo, redo, item}
"#
    )
}

/// A user's {undo count, redo count} of items. KEYS: undo list, redo list.
pub fn undo_counts() -> String {
    format!(
        "{ITEMS}{}",
        r#"
return {items(KEYS[1]), redis.call('LLEN', KEYS[2])}
"#
    )
}

/// Returns {head position, origin of the last entry or false (the head is the
/// snapshot's), its digest or false}. KEYS: log, snap.
pub fn head() -> String {
    format!(
        "{FIELD}{}",
        r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local fields = last[1][2]
  return {tonumber(string.match(last[1][1], '^(%d+)')), field_of(fields, 'o'),
    field_of(fields, 'd')}
end
return {tonumber(redis.call('HGET', KEYS[2], 'pos')) or 0, false, false}
"#
    )
}

/// Reads what a replica at position ARGV[1] lacks. KEYS: log, snap.
/// Returns {snapshot pos, snapshot state or false, entries, head, origin of the entry at
/// ARGV[1] or false, its digest or false}: the state only when the snapshot covers
/// positions after ARGV[1] (the log was compacted past them). Snapshot and entries are
/// read together, so a concurrent compaction cannot fall between them. A head below
/// ARGV[1], or another entry at ARGV[1] than the replica applied there, means the log
/// went backwards (Redis lost data).
pub fn read_since() -> String {
    format!(
        "{HEAD}{FIELD}{}",
        r#"
local snap = redis.call('HMGET', KEYS[2], 'pos', 'state')
local spos = tonumber(snap[1]) or 0
local since = tonumber(ARGV[1])
local at, at_digest = false, false
if since > 0 and since > spos then
  local entry = redis.call('XRANGE', KEYS[1], since .. '-1', since .. '-1')
  if #entry > 0 then
    at, at_digest = field_of(entry[1][2], 'o'), field_of(entry[1][2], 'd')
  end
end
local state = false
if spos > since then
  state = snap[2] or ''
  since = spos
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. since .. '-1', '+')
return {spos, state, entries, head(), at, at_digest}
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

/// Claims awareness client ids for a user, or renews the user's claims: an id nobody
/// holds becomes the user's; one the user holds gets a fresh expiry; one another user
/// holds stays theirs. KEYS: `collab:{F}:cursor:{id}`, one per id. ARGV: user, ttl in ms.
/// Returns, per key, 1 if the id is the user's, else 0.
pub const CLAIM_CURSORS: &str = r#"
local out = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    owner = ARGV[1]
  elseif owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  end
  out[i] = (owner == ARGV[1]) and 1 or 0
end
return out
"#;
