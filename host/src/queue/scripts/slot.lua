-- Take one of `limit` request slots named `name` (an LLM provider's), shared
-- by every host: a counting semaphore whose holders expire, so a host that
-- dies while holding one frees it by itself after `hold_ms`.
--
-- ARGV: prefix, name, limit, token (the holder's, unique), hold_ms
-- Keys: P:inflight:<name> (zset: token -> when its hold ends, ms)
-- Returns: 0 when the slot is taken for `token`; otherwise the ms until the
--          first hold ends (when to look again at the latest)

local key = k('inflight', ARGV[2])
local limit, token, hold = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now))
if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, int(now + hold), token)
    -- The key goes with the last hold (every hold is as long).
    redis.call('PEXPIRE', key, hold)
    return 0
end
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(tonumber(first[2]) - now, 1)
