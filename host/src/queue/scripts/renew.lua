-- Extend the leases a host holds on its running jobs.
--
-- ARGV: prefix, lease_ms, then id, token pairs
-- Keys: P:job:<id>, P:leases
-- Returns: the ids whose lease this host no longer holds (reaped, cancelled,
--          or finished elsewhere); the host should stop working on them.

local lease_ms = tonumber(ARGV[2])
local now = now_ms()
local lease_until = int(now + lease_ms)
local lost = {}
for i = 3, #ARGV, 2 do
    local id, token = ARGV[i], ARGV[i + 1]
    if holds_lease(id, token) then
        redis.call('HSET', k('job', id), 'lease_until', lease_until, 'renewed', '1')
        -- XX: only a lease that exists is extended (P:running counts them).
        redis.call('ZADD', k('leases'), 'XX', lease_until, id)
    else
        table.insert(lost, id)
    end
end
return lost
