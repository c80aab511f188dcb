-- Claim up to `count` ready jobs for one host, highest priority first across
-- the host's job types, each under a fresh lease and fencing token. First
-- moves due retries from P:scheduled to their ready queues.
--
-- ARGV: prefix, count, lease_ms, host, job types...
-- Keys: P:scheduled, P:ready:<type> for each type, P:job:<id>, P:leases,
--       P:token, P:seq, P:stats
-- Returns: a flat list, 11 fields per job:
--   id, type, payload, attempts (this attempt, 1-based), feedback, metadata,
--   token, lease_until, priority, content hash ('' for none), forced ('1'/'')

local count, lease_ms, host = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local now = now_ms()

local due = redis.call('ZRANGEBYSCORE', k('scheduled'), '-inf', int(now), 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
    redis.call('ZREM', k('scheduled'), id)
    if redis.call('HGET', k('job', id), 'status') == 'scheduled' then
        redis.call('HDEL', k('job', id), 'run_at')
        enqueue(id)
    end
end

-- The head (lowest score) of each type's ready queue.
local heads = {}
for i = 5, #ARGV do
    local key = k('ready', ARGV[i])
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #head > 0 then
        heads[key] = { head[1], tonumber(head[2]) }
    end
end

local out = {}
local lease_until = now + lease_ms
local claimed = 0
while claimed < count do
    local best_key, best = nil, nil
    for key, head in pairs(heads) do
        if not best or head[2] < best[2] then
            best_key, best = key, head
        end
    end
    if not best_key then
        break
    end
    local id = best[1]
    redis.call('ZREM', best_key, id)
    local next_head = redis.call('ZRANGE', best_key, 0, 0, 'WITHSCORES')
    if #next_head > 0 then
        heads[best_key] = { next_head[1], tonumber(next_head[2]) }
    else
        heads[best_key] = nil
    end

    local job = k('job', id)
    if redis.call('HGET', job, 'status') == 'pending' then
        local token = redis.call('INCR', k('token'))
        local attempts = redis.call('HINCRBY', job, 'attempts', 1)
        redis.call('HSET', job, 'status', 'running', 'lease_token', token,
            'lease_until', int(lease_until), 'worker', host,
            'started_at', int(now), 'updated_at', int(now))
        redis.call('ZADD', k('leases'), int(lease_until), id)
        local f = redis.call('HMGET', job, 'type', 'payload', 'feedback', 'metadata', 'priority', 'content_hash', 'force')
        table.insert(out, id)
        table.insert(out, f[1])
        table.insert(out, f[2])
        table.insert(out, attempts)
        table.insert(out, f[3] or '')
        table.insert(out, f[4] or '{}')
        table.insert(out, token)
        table.insert(out, int(lease_until))
        table.insert(out, f[5] or '0')
        table.insert(out, f[6] or '')
        table.insert(out, f[7] or '')
        claimed = claimed + 1
    end
end
if claimed > 0 then
    stat('claimed', claimed)
end
return out
