/** The body of applyView as a Lua function of its keys K and arguments A. */
const applyViewFunction = `
local function applyView(K, A)
  local cur = redis.call('HGET', K[1], 'position')
  if cur and tonumber(cur) >= tonumber(A[1]) then return 0 end
  local n = tonumber(A[6])
  local fields = {}
  for i = 7 + n, #A, 2 do fields[A[i]] = A[i + 1] end
  for i = 7, 6 + n do
    local f = A[i]
    local old = tonumber(redis.call('HGET', K[1], f) or '0') or 0
    local new = tonumber(fields[f] or '0') or 0
    redis.call('HINCRBY', K[2], f, string.format('%d', new - old))
  end
  local oldStatus = redis.call('HGET', K[1], 'status')
  if oldStatus ~= A[4] then
    if oldStatus then
      redis.call('SREM', A[2] .. oldStatus, A[3])
      if redis.call('SCARD', A[2] .. oldStatus) == 0 then redis.call('SREM', K[4], oldStatus) end
    end
    redis.call('SADD', A[2] .. A[4], A[3])
    redis.call('SADD', K[4], A[4])
  end
  if A[5] ~= '' then redis.call('ZADD', K[3], A[5], A[3]) end
  redis.call('HSET', K[1], unpack(A, 7 + n))
  return 1
end
`;

/**
 * Lua run inside Redis, so each view moves atomically and never back to an older position.
 *
 * applyView — KEYS: hash, totals hash, by-spend set, statuses set. ARGV: position,
 * status-set prefix, id, status, score ('' for none), n, n totals field names, then the
 * hash's field/value pairs. A write at or below the hash's position changes nothing; a
 * newer one moves the id between status sets, adds the change of each totals field to the
 * totals hash and sets the score.
 */
export const applyViewLua = `${applyViewFunction}
return applyView(KEYS, ARGV)`;

/**
 * applyViews — many applyView calls in one: KEYS are four per view, in order; ARGV is, per
 * view, the number of its arguments followed by them. Returns how many views moved.
 * One command for a batch's views instead of one each (the client's cost was per command).
 */
export const applyViewsLua = `${applyViewFunction}
local k, a, moved = 1, 1, 0
while a <= #ARGV do
  local len = tonumber(ARGV[a])
  local A = {}
  for i = 1, len do A[i] = ARGV[a + i] end
  moved = moved + applyView({ KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3] }, A)
  k = k + 4
  a = a + len + 1
end
return moved`;

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
