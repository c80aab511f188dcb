-- Return jobs whose lease expired (their host crashed or froze) to the
-- queue. The lost attempt counts: a job that kills its host every time ends
-- in the dead-letter queue after max_retries instead of looping.
--
-- Except an attempt that never started: the claim's reply never reached
-- the host (Redis paused, the connection cut), so the host never renewed
-- the lease, though its lease loop pulsed after the lease ran out. Such a
-- job goes back without spending an attempt or writing an error, at most
-- MAX_REFUNDS times (a host that dies and comes back under the same id
-- before its first renewal would otherwise loop forever).
--
-- Whether a host is alive is read from the pulses of its lease loop
-- (pulse.lua), measured against the newest pulse of any host rather than
-- the clock, so a pause of Redis itself (every pulse old at once) kills no
-- host: a host is gone when its last pulse lags the newest by more than two
-- of its intervals. Until the claiming host, alive, pulses again after the
-- lease's end, its expired jobs wait: it may still renew them (as it does
-- right after Redis comes back) or show it never got them.
--
-- ARGV: prefix, max jobs to reap, ttl seconds, pulses (JSON object: host
--       id -> "<Redis ms>:<interval ms>", see pulse.lua)
-- Keys: P:leases, P:running, P:job:<id>, P:errors:<id>, P:ready:<type>, P:dead, P:seq,
--       P:stats, and what finish_failed touches for dependents
-- Returns: a flat list of id, outcome ('pending' | 'dead') pairs

local MAX_REFUNDS = 3
-- What to do with a running job whose lease expired (see verdict).
local REFUND, WAIT, COUNT = 1, 2, 3
local limit, ttl = tonumber(ARGV[2]), ARGV[3]
local pulses = {}
local newest = 0
for host, pulse in pairs(cjson.decode(ARGV[4] or '{}')) do
    local at, every = string.match(tostring(pulse), '^(%d+):(%d+)$')
    if at then
        pulses[host] = { at = tonumber(at), every = tonumber(every) }
        newest = math.max(newest, tonumber(at))
    end
end
local now = now_ms()

-- What to do with a running job whose lease expired: REFUND (its attempt
-- never started), WAIT (its host is alive and has not pulsed since), or
-- COUNT.
local function verdict(worker, lease_until, renewed, refunds)
    local pulse = worker and pulses[worker]
    if not pulse or newest - pulse.at > 2 * pulse.every then
        return COUNT
    end
    if pulse.at <= (tonumber(lease_until or '0') or 0) then
        return WAIT
    end
    if renewed == '0' and (tonumber(refunds or '0') or 0) < MAX_REFUNDS then
        return REFUND
    end
    return COUNT
end

local out = {}
local expired = redis.call('ZRANGEBYSCORE', k('leases'), '-inf', '(' .. int(now), 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
    local job = k('job', id)
    local status, worker, attempts, lease_until, renewed, refunds = unpack(redis.call('HMGET',
        job, 'status', 'worker', 'attempts', 'lease_until', 'renewed', 'refunds'))
    local what = status == 'running' and verdict(worker, lease_until, renewed, refunds)
    if what == WAIT then
        -- Left for a later reap (see above).
    elseif what == REFUND then
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
