-- Record that a host is alive and renewing its leases: Redis' time now
-- and how often the host says it will pulse. The reaper reads it to tell a
-- claim whose reply never reached a live host from a crashed host's job
-- (see reap.lua). Pulses older than an hour (hosts gone for good) go.
--
-- ARGV: prefix, host id, interval ms
-- Keys: P:pulse
-- Returns: 'ok'

local host, interval = ARGV[2], tonumber(ARGV[3]) or 0
local now = now_ms()
local pulses = redis.call('HGETALL', k('pulse'))
for i = 1, #pulses, 2 do
    local at = tonumber(string.match(pulses[i + 1], '^(%d+):') or '0') or 0
    if at < now - 3600000 then
        redis.call('HDEL', k('pulse'), pulses[i])
    end
end
redis.call('HSET', k('pulse'), host, int(now) .. ':' .. int(interval))
return 'ok'
