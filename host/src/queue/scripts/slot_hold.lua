-- Keep a request slot taken with slot.lua for `hold_ms` from now: a request
-- given up on (timed out) may still keep the provider busy, so its slot is
-- not handed to the next request at once. Nothing when the hold is gone.
--
-- ARGV: prefix, name, token, hold_ms
-- Keys: P:inflight:<name>
-- Returns: 1 when the hold was extended, 0 when it was gone

local key = k('inflight', ARGV[2])
local hold = tonumber(ARGV[4])
local until_ms = now_ms() + hold
if redis.call('ZADD', key, 'XX', 'CH', int(until_ms), ARGV[3]) == 0
    and not redis.call('ZSCORE', key, ARGV[3]) then
    return 0
end
if redis.call('PTTL', key) < hold then
    redis.call('PEXPIRE', key, hold)
end
return 1
