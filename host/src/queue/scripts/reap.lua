-- Return jobs whose lease expired (their host crashed or froze) to the
-- queue. The lost attempt counts: a job that kills its host every time ends
-- in the dead-letter queue after max_retries instead of looping.
--
-- Except an attempt that never started: the host that claimed the job is
-- alive (its heartbeat is fresh) and never renewed the lease, so the claim's
-- reply never reached it (Redis paused, the connection cut). Such a job goes
-- back without spending an attempt, at most MAX_REFUNDS times (a host that
-- dies and comes back under the same id before its first renewal would
-- otherwise loop forever).
--
-- ARGV: prefix, max jobs to reap, ttl seconds, live host ids (JSON array)
-- Keys: P:leases, P:running, P:job:<id>, P:errors:<id>, P:ready:<type>, P:dead, P:seq,
--       P:stats, and what finish_failed touches for dependents
-- Returns: a flat list of id, outcome ('pending' | 'dead') pairs

local MAX_REFUNDS = 3
local limit, ttl = tonumber(ARGV[2]), ARGV[3]
local live = {}
for _, host in ipairs(cjson.decode(ARGV[4] or '[]')) do
    live[host] = true
end
local now = now_ms()

-- Whether a running job's attempt never started (see above).
local function never_started(job, worker)
    local renewed, refunds = unpack(redis.call('HMGET', job, 'renewed', 'refunds'))
    return renewed == '0' and worker ~= false and live[worker] == true
        and (tonumber(refunds or '0') or 0) < MAX_REFUNDS
end
local out = {}
local expired = redis.call('ZRANGEBYSCORE', k('leases'), '-inf', '(' .. int(now), 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
    local job = k('job', id)
    local status, worker, attempts = unpack(redis.call('HMGET', job, 'status', 'worker', 'attempts'))
    if status == 'running' and never_started(job, worker) then
        redis.call('HINCRBY', job, 'attempts', -1)
        redis.call('HINCRBY', job, 'refunds', 1)
        redis.call('HDEL', job, 'lease_token', 'lease_until', 'renewed')
        unlease(id, redis.call('HGET', job, 'type'))
        enqueue(id)
        stat('refunded')
        table.insert(out, id)
        table.insert(out, 'pending')
    elseif status == 'running' then
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
