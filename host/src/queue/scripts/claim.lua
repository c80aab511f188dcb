-- Claim up to `count` ready jobs for one host, highest priority first across
-- the host's job types, each under a fresh lease and fencing token, except
-- types paused (P:paused), no more of a type than its cap (P:caps) leaves
-- room for beside those already running on any host (P:running), and no
-- more than its rate limit (P:rates) leaves in the current interval. First
-- moves due jobs (retries, and jobs submitted with run_at) from
-- P:scheduled to their ready queues.
--
-- Costs two commands per claimed job (read the record, mark it running),
-- plus a handful per call: the ready queues are read and trimmed in one
-- command per type, and the leases and fencing tokens in one each. The host
-- bounds `count` (MAX_CLAIM) well below Lua's limit on unpacked arguments.
--
-- ARGV: prefix, count, lease_ms, host, nonce (random, per call; it ends in
--       ".<partition>" outside partition 0), partitions, job types...
-- With several partitions, each enforces its share of a cap or a rate
-- (see `share` below): the shares add up to the limit.
-- Keys: P:scheduled, P:paused, P:caps, P:running, P:rates, P:rate:<type>,
--       P:ready:<type> for each type, P:groups:<type>, P:fair:<type>,
--       P:job:<id>, P:leases, P:token, P:seq, P:stats
-- Returns: a flat list: first the milliseconds until the next scheduled job
--   comes due or a rate-limited type's interval ends ('-1': neither), so an
--   idle host knows when to look again; then
--   13 fields per job:
--   id, type, payload, attempts (this attempt, 1-based), feedback, metadata,
--   token, lease_until, priority, content hash ('' for none), forced ('1'/''),
--   group ('' for none), trace (its traceparent, '' for none)

local count, lease_ms, host, nonce = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local parts = math.max(tonumber(ARGV[6]) or 1, 1)
local part = tonumber(string.match(nonce, '%.(%d+)$')) or 0
local FIRST_TYPE = 7
local now = now_ms()
-- Formatted once: number formatting is a large share of a script's time.
local now_s = int(now)
local lease_until = int(now + lease_ms)

-- Due jobs (retries, and jobs submitted with run_at) to their ready queues.
-- Returns the first scheduled job left, with its score (empty: none): one
-- command when nothing is due, the usual case.
local function promote_due()
    local head = redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
    if not head[2] or tonumber(head[2]) > now then
        return head
    end
    local due = redis.call('ZRANGEBYSCORE', k('scheduled'), '-inf', int(now), 'LIMIT', 0, 1000)
    for _, id in ipairs(due) do
        redis.call('ZREM', k('scheduled'), id)
        if redis.call('HGET', k('job', id), 'status') == 'scheduled' then
            redis.call('HDEL', k('job', id), 'run_at')
            enqueue(id)
        end
    end
    return redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
end

local paused, room, rates, next_look = {}, {}, {}, nil

-- This partition's share of a cap or a rate over `parts` partitions: the
-- limit divided evenly, the remainder one each to the lowest partitions,
-- so the shares add up to the limit (a cap of 4 on 3 partitions: 2, 1, 1).
-- A limit below the partition count is refused when set; one stored
-- before that gives every partition 1.
local function share(limit)
    if parts == 1 then
        return limit
    end
    if limit < parts then
        return 1
    end
    local extra = 0
    if part < limit % parts then
        extra = 1
    end
    return math.floor(limit / parts) + extra
end

-- Paused types, and how many more of each capped type may start now
-- (P:caps less P:running, never below 0).
local function read_pauses_and_caps()
    for _, job_type in ipairs(redis.call('SMEMBERS', k('paused'))) do
        paused[job_type] = true
    end
    local caps = redis.call('HGETALL', k('caps'))
    for i = 1, #caps, 2 do
        local running = tonumber(redis.call('HGET', k('running'), caps[i]) or '0')
        room[caps[i]] = math.max(share(tonumber(caps[i + 1])) - math.max(running, 0), 0)
    end
end

-- Types with a rate limit: claims left in the current interval (the
-- counter P:rate:<type> lives as long as the interval). A type at its limit
-- with jobs ready is a throttled claim, and the caller looks again when the
-- interval ends.
local function read_rates()
    local raw = redis.call('HGETALL', k('rates'))
    for i = 1, #raw, 2 do
        local job_type = raw[i]
        local limit, interval = string.match(raw[i + 1], '^(%d+)/(%d+)$')
        if limit then
            local used = tonumber(redis.call('GET', k('rate', job_type)) or '0')
            local left = math.max(share(tonumber(limit)) - used, 0)
            rates[job_type] = tonumber(interval)
            room[job_type] = math.min(room[job_type] or left, left)
            if left == 0 and not paused[job_type]
                and redis.call('ZCARD', k('ready', job_type)) > 0 then
                stat('throttled')
                local ends = redis.call('PTTL', k('rate', job_type))
                if ends > 0 and (not next_look or ends < next_look) then
                    next_look = ends
                end
            end
        end
    end
end

-- The ready queues a claim may take from: paused types and types without
-- room left out, and, when there are several, empty ones too.
local function queues(want)
    local found = {}
    for i = FIRST_TYPE, #ARGV do
        local job_type = ARGV[i]
        local n = math.min(want, room[job_type] or want)
        if not paused[job_type] and n > 0 then
            table.insert(found, { key = k('ready', job_type), n = n })
        end
    end
    if #found < 2 then
        return found
    end
    local ready = {}
    for _, q in ipairs(found) do
        if redis.call('ZCARD', q.key) > 0 then
            table.insert(ready, q)
        end
    end
    return ready
end

-- Each ready queue's first entries, with their scores.
local function heads_of(found)
    local heads = {}
    for _, q in ipairs(found) do
        local entries = redis.call('ZRANGE', q.key, 0, q.n - 1, 'WITHSCORES')
        if #entries > 0 then
            table.insert(heads, { key = q.key, entries = entries, at = 1, taken = {} })
        end
    end
    return heads
end

-- The best `want` ready ids across the types: the queues' heads merged by
-- score (lower first), taken off their queues. From one queue, its head
-- as it stands: no scores to format and read back, and one trim.
local function take(want)
    local found = queues(want)
    if #found == 1 then
        local key = found[1].key
        local ids = redis.call('ZRANGE', key, 0, found[1].n - 1)
        if #ids > 0 then
            redis.call('ZREMRANGEBYRANK', key, 0, #ids - 1)
        end
        return ids
    end
    local heads = heads_of(found)
    local ids = {}
    while #ids < want do
        local best = nil
        for _, h in ipairs(heads) do
            if h.at < #h.entries and (not best
                    or tonumber(h.entries[h.at + 1]) < tonumber(best.entries[best.at + 1])) then
                best = h
            end
        end
        if not best then
            break
        end
        local id = best.entries[best.at]
        table.insert(ids, id)
        table.insert(best.taken, id)
        best.at = best.at + 2
    end
    for _, h in ipairs(heads) do
        if #h.taken > 0 then
            redis.call('ZREM', h.key, unpack(h.taken))
        end
    end
    return ids
end

local out, leases, started, claimed = {}, {}, {}, 0

-- Leases job `id` under `token` if it is still pending (anything else was
-- left behind by a job that has moved on), adding it to the reply.
local function lease(id, token)
    local job = k('job', id)
    local f = redis.call('HMGET', job, 'status', 'attempts', 'type', 'payload', 'feedback',
        'metadata', 'priority', 'content_hash', 'force', 'group', 'trace')
    group_left(f[3], f[10])
    if f[1] ~= 'pending' then
        return
    end
    -- Most claims are first attempts: no number to format.
    local attempts = f[2] and tostring((tonumber(f[2]) or 0) + 1) or '1'
    -- `renewed` 0: no renewal has shown yet that the host got this claim.
    redis.call('HSET', job, 'status', 'running', 'attempts', attempts,
        'lease_token', token, 'lease_until', lease_until, 'worker', host,
        'started_at', now_s, 'updated_at', now_s, 'renewed', '0')
    table.insert(leases, lease_until)
    table.insert(leases, id)
    started[f[3]] = (started[f[3]] or 0) + 1
    if room[f[3]] then
        room[f[3]] = room[f[3]] - 1
    end
    local n = #out
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, f[3], f[4], attempts
    out[n + 5], out[n + 6], out[n + 7], out[n + 8] = f[5] or '', f[6] or '{}', token, lease_until
    out[n + 9], out[n + 10], out[n + 11], out[n + 12] = f[7] or '0', f[8] or '', f[9] or '', f[10] or ''
    out[n + 13] = f[11] or ''
    claimed = claimed + 1
end

-- The leases, running counts and rate counters of what was claimed.
local function record_claims()
    redis.call('ZADD', k('leases'), unpack(leases))
    for job_type, n in pairs(started) do
        redis.call('HINCRBY', k('running'), job_type, n)
        if rates[job_type] then
            -- The first claim of an interval starts it.
            redis.call('SET', k('rate', job_type), 0, 'PX', rates[job_type], 'NX')
            redis.call('INCRBY', k('rate', job_type), n)
        end
    end
    stat('claimed', claimed)
end

local next_due = promote_due()
read_pauses_and_caps()
read_rates()
if next_due[2] then
    local due_in = math.max(tonumber(next_due[2]) - now, 0)
    next_look = next_look and math.min(next_look, due_in) or due_in
end
table.insert(out, next_look and int(next_look) or '-1')
while claimed < count do
    local ids = take(count - claimed)
    if #ids == 0 then
        break
    end
    -- One fencing token per id, taken at once (ids skipped waste theirs).
    -- The caller's nonce keeps tokens unique when a failover loses the
    -- counter's last increments and a promoted replica counts them again.
    local last_token = redis.call('INCRBY', k('token'), #ids)
    for n, id in ipairs(ids) do
        lease(id, string.format('%d-%s', last_token - #ids + n, nonce))
    end
end
if claimed > 0 then
    record_claims()
end
return out
