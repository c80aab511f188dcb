-- Cross-partition dependencies, the receiving side: jobs of this partition
-- that wait on jobs in others (P:remote) learn that those finished. The
-- host reads the dependencies' states in their partitions and sends what
-- it found; each (job, dependency) is applied at most once (P:satisfied:<id>
-- remembers which were), so a host that crashed or a second host doing the
-- same work changes nothing twice.
--
-- ARGV: prefix, lifetimes (see lifetimes()), then 3 per entry:
--       job id, dependency id ('' : only tidy the entry up), what became of
--       the dependency: 'completed' | 'failed' (dead, cancelled, or gone)
-- Keys: P:job:<id>, P:remote, P:satisfied:<id>, P:ready:<type>, and when a
--       dependency failed, what finish_failed touches
-- Returns: how many outcomes were applied now

local ttl = ARGV[2]
local now = now_ms()
local applied = 0

-- Drops `id` from the relay's list once nothing remote is left for it.
local function done_with(id)
    redis.call('ZREM', k('remote'), id)
    redis.call('DEL', k('satisfied', id))
end

for i = 3, #ARGV, 3 do
    local id, dep, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local status, remote, tolerant = unpack(redis.call('HMGET', k('job', id), 'status',
        'remote_deps', 'run_after_failure'))
    if status ~= 'waiting' or not remote then
        -- Finished some other way (cancelled, failed by a local
        -- dependency), or gone: nothing waits any more.
        done_with(id)
    elseif dep ~= '' and redis.call('SADD', k('satisfied', id), dep) == 1 then
        applied = applied + 1
        if outcome == 'completed' or tolerant == '1' then
            dependency_done(id)
        else
            local attempts = tonumber(redis.call('HGET', k('job', id), 'attempts') or '0')
            local entry = cjson.encode({
                kind = 'dependency_failed', message = 'dependency ' .. dep .. ' failed',
                attempt = attempts, at = now,
            })
            finish_failed(id, 'dead', entry, now, ttl)
        end
        local wanted = 0
        for _ in pairs(cjson.decode(remote)) do
            wanted = wanted + 1
        end
        if redis.call('HGET', k('job', id), 'status') ~= 'waiting'
            or redis.call('SCARD', k('satisfied', id)) >= wanted then
            done_with(id)
        end
    end
end
return applied
