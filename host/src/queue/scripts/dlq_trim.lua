-- Keep the dead-letter queue consistent with the records it indexes: drop
-- entries older than the dead ttl, the oldest past the cap (with their
-- records), and up to `check` of the oldest entries whose record is gone
-- (deleted by hand, or expired under an older host's rules).
--
-- ARGV: prefix, lifetimes ("<result ttl>/<dead ttl>/<dead max>"), check
-- Keys: P:dead, P:job:<id>, P:errors:<id>
-- Returns: the number of entries left

local _, dead_ttl, dead_max = lifetimes(ARGV[2])
local check = tonumber(ARGV[3]) or 0
trim_dead(now_ms(), dead_ttl, dead_max)
if check > 0 then
    for _, id in ipairs(redis.call('ZRANGE', k('dead'), 0, check - 1)) do
        if redis.call('EXISTS', k('job', id)) == 0 then
            redis.call('ZREM', k('dead'), id)
        end
    end
end
return redis.call('ZCARD', k('dead'))
