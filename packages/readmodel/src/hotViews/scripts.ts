/**
 * Lua run inside Redis, so each view moves atomically and never back to an older position.
 *
 * applyView — KEYS: hash, totals hash, by-spend set, statuses set. ARGV: position,
 * status-set prefix, id, status, score ('' for none), n, n totals field names, then the
 * hash's field/value pairs. A write at or below the hash's position changes nothing; a
 * newer one moves the id between status sets, adds the change of each totals field to the
 * totals hash and sets the score.
 */
export const applyViewLua = `
local cur = redis.call('HGET', KEYS[1], 'position')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
local n = tonumber(ARGV[6])
local fields = {}
for i = 7 + n, #ARGV, 2 do fields[ARGV[i]] = ARGV[i + 1] end
for i = 7, 6 + n do
  local f = ARGV[i]
  local old = tonumber(redis.call('HGET', KEYS[1], f) or '0') or 0
  local new = tonumber(fields[f] or '0') or 0
  redis.call('HINCRBY', KEYS[2], f, string.format('%d', new - old))
end
local oldStatus = redis.call('HGET', KEYS[1], 'status')
if oldStatus ~= ARGV[4] then
  if oldStatus then
    redis.call('SREM', ARGV[2] .. oldStatus, ARGV[3])
    if redis.call('SCARD', ARGV[2] .. oldStatus) == 0 then redis.call('SREM', KEYS[4], oldStatus) end
  end
  redis.call('SADD', ARGV[2] .. ARGV[4], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[4])
end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 7 + n))
return 1`;

/** advancePosition — KEYS: position. Moves it forward only, and never creates it (-1 when absent: the views were lost). */
export const advancePositionLua = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if tonumber(cur) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0`;

/** finishRebuild — KEYS: epoch, position. Only the rebuild still holding the epoch (no flush since) sets the position. */
export const finishRebuildLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
local cur = redis.call('GET', KEYS[2])
if not cur or tonumber(cur) < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return 1`;

/**
 * publishMany — no keys. ARGV: channel, message, channel, message, … Publishes each in
 * order: the same messages as one PUBLISH each, but one command for many of them, so a
 * batch's feed costs the client a handful of commands instead of two per commit.
 */
export const publishManyLua = `
for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return #ARGV / 2`;
