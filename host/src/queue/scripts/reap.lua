-- Return jobs whose lease expired (their host crashed or froze) to the
-- queue. The lost attempt counts: a job that kills its host every time ends
-- in the dead-letter queue after max_retries instead of looping.
--
-- ARGV: prefix, max jobs to reap, ttl seconds
-- Keys: P:leases, P:running, P:job:<id>, P:errors:<id>, P:ready:<type>, P:dead, P:seq,
--       P:stats, and what finish_failed touches for dependents
-- Returns: a flat list of id, outcome ('pending' | 'dead') pairs

local limit, ttl = tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
local out = {}
local expired = redis.call('ZRANGEBYSCORE', k('leases'), '-inf', '(' .. int(now), 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
    local job = k('job', id)
    local status, worker, attempts = unpack(redis.call('HMGET', job, 'status', 'worker', 'attempts'))
    if status == 'running' then
        local entry = cjson.encode({
            kind = 'lease_expired',
            message = 'lease expired on host ' .. (worker or '?') .. ' (crashed, frozen or cut off)',
            host = worker, attempt = tonumber(attempts or '0'), at = now,
        })
        stat('reaped')
        table.insert(out, id)
        table.insert(out, fail_or_retry(id, entry, true, 0, now, ttl))
    else
        -- A lease left behind by a job that is no longer running.
        unlease(id, redis.call('HGET', job, 'type'))
    end
end
return out
