-- The top of the queue's Redis Functions library (see scripts.rs): shared
-- by every function, run once when the library loads. Each function's body
-- (one file each) runs on every call, after begin() has set the call's
-- arguments and cleared what the last call left in the state below.
--
-- ARGV[1] is always the key prefix, hash tag included (e.g. "{deckhand}"), so
-- every key a script touches lands in one Redis Cluster slot. Scripts build
-- their keys from it with k(); each script's header lists the keys it touches.
-- KEYS[1] is always P:seq, only so that a cluster client routes the call to
-- the node owning that slot.
--
-- Key layout (P = prefix):
--   P:job:<id>          hash    the job record (lease_token and lease_until
--                               mean something only while status is running;
--                               waited_on = 1: P:waiting:<id> may have members)
--   P:errors:<id>       list    one JSON entry per failed attempt
--   P:ready:<type>      zset    ready jobs of one type; score orders priority, then FIFO
--                               (jobs with a group: then their group's turn, see group_tag)
--   P:groups:<type>     hash    group -> its ready jobs of the type (groups with none
--                               are left out)
--   P:fair:<type>       hash    group -> the turn its last ready job was given
--   P:scheduled         zset    jobs waiting for their time (a retry's delay, or
--                               run_at on submit); score = run-at (ms)
--   P:suspended         zset    jobs suspended on a wait token (suspend.lua); score =
--                               when the wait runs out (ms); the wait's fields
--                               (wait_token, wait_name, ...) are on the job record
--   P:paused            set     job types no host claims until resumed (Rust)
--   P:leases            zset    running jobs; score = lease deadline (ms)
--   P:running           hash    job type -> its jobs in P:leases (claim adds,
--                               unlease() takes away)
--   P:caps              hash    job type -> most jobs of it running at once,
--                               across all hosts (Rust sets it)
--   P:rates             hash    job type -> "<jobs>/<interval ms>": most claims of
--                               it per interval, across all hosts (Rust sets it)
--   P:rate:<type>       string  claims of the type in the current interval;
--                               expires when the interval ends
--   P:waiting:<id>      set     jobs waiting on <id> to complete
--   P:dead              zset    the dead-letter queue; score = time of death (ms);
--                               entries and records expire together (dead ttl)
--   P:types             hash    job type -> JSON of the host that last registered it
--   P:seq, P:token      string  counters: FIFO sequence, fencing tokens (a token
--                               is <count>-<the claim call's random nonce>)
--   P:identity          string  the queue's identity marker (hosts notice data loss
--                               when it vanishes or changes; written from Rust)
--   P:layout            string  the layout version the queue was brought to (Rust)
--   P:hosts             hash    host id -> its last heartbeat (Rust)
--   P:content:<t>:<h>   hash    the content store's index: a result by type and
--                               "<input hash>-<producer hash>"
--   P:inflight:<name>   zset    request slots held (an LLM provider's): holder
--                               token -> when its hold ends (slot.lua)
--   P:kv:<plugin>:...   a plugin's key-value store (kv_set.lua): v:<key> strings
--                       (the values, with their TTLs), sizes (hash: key -> bytes),
--                       expiry (zset: key -> when it expires), bytes (the total)
--   P:spend[:day:<date>|:run:<run>]  hash  LLM spend in micro-units: total and
--                       <scope>:<name> (provider, model, type, group, run); Rust
--   P:asks              hash    structured-output calls, those re-asked and the
--                               re-asks, by job type and model (Rust)
--   P:llmb:...          the LLM batch lane (llm_defer.lua, llm_settle.lua):
--                       item:<id> (a deferred call), waiters:<id> (wait token ->
--                       the job's feedback), pending:<model> (zset by time),
--                       models, batches, waking (sets), batch:<local id>, lock
--   P:budget:<name>     hash    a provider's requests and tokens per minute left,
--                               refilled continuously (budget.lua)
--   P:cooldown:<name>   string  a shared cooldown (an LLM provider's rate limit),
--                               set and read from Rust; expires when it ends
--   P:schedules         hash    schedule name -> its JSON (Rust writes it)
--   P:ticks             hash    schedule name -> the last tick fired (Unix ms;
--                               fire.lua), or when the schedule was added
--   P:stats             hash    counters (submitted, completed, retried, dead, ...)
--   P:done, P:died      hash    job type -> jobs of it completed (by a host) / dead,
--                               ever (the dashboard's figures by type)
--   P:minutes           hash    "c<minute>" / "d<minute>" -> jobs completed / dead in
--                               that minute (Unix minutes); the last hour is kept
--   P:recent            list    ids of the jobs that ended last (completed, dead,
--                               cancelled), newest first, at most RECENT_MAX
--   P:children:<id>     list    the jobs <id> submitted, in order; expires with <id>
--   P:remote            zset    jobs waiting on jobs in other partitions (their
--                               remote_deps field: id -> partition); score = when
--                               submitted (ms); relay.lua takes them off
--   P:satisfied:<id>    set     the remote dependencies of <id> already applied
-- Channels ({prefix}:<name> from every partition, see ROOT):
--   P:finished          channel job ids, published when jobs end (several ids
--                               in one message are separated by spaces)
--   P:wake              channel job types, published when a job becomes ready
--   P:cancelled         channel ids of running jobs just cancelled (their host
--                               stops them at once)
--
-- Times come from Redis' own clock (TIME), so hosts with skewed clocks agree
-- on lease deadlines and retry times.

-- The call's arguments, and the key prefix from them (set by begin()).
local ARGV, P = nil, nil
-- Channels belong to the queue, not to a partition (in a cluster a publish
-- reaches every node's subscribers): "{prefix}:<name>" from every
-- partition's "{prefix~n}".
local ROOT = nil

-- Two or three parts at most; spelled out because it runs several times per
-- job and a vararg table costs more than the concatenation.
local function k(a, b, c)
    if c then
        return P .. ':' .. a .. ':' .. b .. ':' .. c
    elseif b then
        return P .. ':' .. a .. ':' .. b
    end
    return P .. ':' .. a
end

-- Read once per script call: a script runs atomically, so everything it
-- does happens at one moment (and a batch asks the clock once, not per job).
local clock = nil
-- A pub/sub channel of the queue's.
local function channel(name)
    return ROOT .. ':' .. name
end

local function now_ms()
    if not clock then
        local t = redis.call('TIME')
        clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    return clock
end

-- Integers as exact decimal strings: Lua's default number format keeps only
-- 14 significant digits, too few for ready scores and millisecond times.
-- '%d' formats through a C long, exact for every integer a double holds
-- exactly (below 2^53): several times cheaper than '%.0f', which takes
-- the multi-precision path for numbers this large (a truncation, not a
-- rounding, should a fraction ever come: every caller passes integers).
local function int(n)
    return string.format('%d', n)
end

-- now_ms() as an integer string, formatted once per script call.
local clock_text = nil
local function now_text()
    if not clock_text then
        clock_text = int(now_ms())
    end
    return clock_text
end

-- Higher priority first, then first-in first-out. Priorities are limited to
-- +-1,000,000 by the host, so the score stays below 2^53 and exact.
local function ready_score(priority, seq)
    return int((1000000 - priority) * 4294967296 + (seq % 4294967296))
end

-- When a table, push_ready collects the job types it made ready here
-- instead of publishing a wake per job; the caller publishes each once
-- (submit_batch.lua).
local wakes = nil

-- Set by scripts that write many jobs (submit_batch.lua), which call
-- reserve_seq() first and flush_stats() last: sequence numbers are taken
-- from a block reserved in one INCRBY, and counters add up here and reach
-- P:stats in one HINCRBY each, instead of one call per job.
local seq_next, seq_end = nil, nil
local tally = nil

local function reserve_seq(n)
    seq_end = redis.call('INCRBY', k('seq'), n)
    seq_next = seq_end - n + 1
    tally = {}
end

local function next_seq()
    if seq_next and seq_next <= seq_end then
        seq_next = seq_next + 1
        return seq_next - 1
    end
    return redis.call('INCR', k('seq'))
end

-- Puts `id` in its type's ready set and wakes the hosts (or, while `wakes`
-- is a table, notes the type for the caller to wake). The job record's
-- status is the caller's to set.
local function wake(job_type)
    if wakes then
        wakes[job_type] = true
    else
        redis.call('PUBLISH', channel('wake'), job_type)
    end
end

-- Fairness between the groups of a job type (start-time fair queueing):
-- a grouped job's place among jobs of its priority is its group's turn,
-- one after the group's last ready job, and never before the type's head
-- (the turn being served now, or the FIFO sequence when nothing waits).
-- So a group with 10,000 ready jobs holds turns 1..10,000, and a group
-- arriving then takes turns 1, 2, ...: the two alternate instead of the
-- newcomer waiting behind the whole backlog. Jobs without a group keep the
-- queue-wide FIFO sequence (which grouped turns do not advance).
local function group_tag(job_type, group)
    local head = redis.call('ZRANGE', k('ready', job_type), 0, 0, 'WITHSCORES')
    local now_tag
    if head[2] then
        now_tag = tonumber(head[2]) % 4294967296
    else
        now_tag = tonumber(redis.call('GET', k('seq')) or '0')
    end
    local last = tonumber(redis.call('HGET', k('fair', job_type), group) or '0')
    local tag = math.max(last + 1, now_tag)
    redis.call('HSET', k('fair', job_type), group, int(tag))
    redis.call('HINCRBY', k('groups', job_type), group, 1)
    return tag
end

-- A grouped job left its type's ready set (claimed or ended): one ready
-- job fewer in its group; a group with none left is forgotten.
local function group_left(job_type, group)
    if group and group ~= '' then
        if redis.call('HINCRBY', k('groups', job_type), group, -1) <= 0 then
            redis.call('HDEL', k('groups', job_type), group)
            redis.call('HDEL', k('fair', job_type), group)
        end
    end
end

-- Set by scripts that make many jobs ready (submit_batch.lua), which call
-- flush_ready() before they return: job type -> its new ready entries
-- (score, id, score, id, ...), added in one ZADD per type and chunk instead
-- of one call per job.
local readies = nil

-- Adds the collected ready entries of `only` (every type's when nil).
local function flush_ready(only)
    for job_type, entries in pairs(readies or {}) do
        if not only or job_type == only then
            -- Chunks of 500 jobs: far below Lua's limit on unpacked values.
            for i = 1, #entries, 1000 do
                redis.call('ZADD', k('ready', job_type), unpack(entries, i, math.min(i + 999, #entries)))
            end
            readies[job_type] = nil
        end
    end
end

local function push_ready(id, job_type, priority, group)
    if group and group ~= '' then
        -- A group's turn reads the ready set's head: what was collected
        -- for the type goes in first.
        flush_ready(job_type)
        local seq = group_tag(job_type, group)
        redis.call('ZADD', k('ready', job_type), ready_score(priority, seq), id)
    elseif readies then
        local entries = readies[job_type]
        if not entries then
            entries = {}
            readies[job_type] = entries
        end
        entries[#entries + 1] = ready_score(priority, next_seq())
        entries[#entries + 1] = id
    else
        redis.call('ZADD', k('ready', job_type), ready_score(priority, next_seq()), id)
    end
    wake(job_type)
end

local function enqueue(id)
    local job = k('job', id)
    local job_type, priority, group = unpack(redis.call('HMGET', job, 'type', 'priority', 'group'))
    push_ready(id, job_type, tonumber(priority), group)
    redis.call('HSET', job, 'status', 'pending', 'updated_at', int(now_ms()))
end

-- Ends a running job's lease. P:running counts each type's leases: the
-- count falls only when the lease entry really goes, so it falls once per
-- claim, however the job leaves running (completed, failed, reaped,
-- released, cancelled).
local function unlease(id, job_type)
    if redis.call('ZREM', k('leases'), id) == 1 and job_type then
        redis.call('HINCRBY', k('running'), job_type, -1)
    end
end

-- Whether the caller's fencing token still holds the running job's lease.
local function holds_lease(id, token)
    local status, held = unpack(redis.call('HMGET', k('job', id), 'status', 'lease_token'))
    return status == 'running' and held == token
end

-- The ids named in ARGV[2..], or, when none are named, the whole
-- dead-letter queue.
local function selected_or_dead()
    if #ARGV >= 2 then
        local ids = {}
        for i = 2, #ARGV do
            table.insert(ids, ARGV[i])
        end
        return ids
    end
    return redis.call('ZRANGE', k('dead'), 0, -1)
end

local function stat(name, by)
    if tally then
        tally[name] = (tally[name] or 0) + (by or 1)
    else
        redis.call('HINCRBY', k('stats'), name, by or 1)
    end
end

local function flush_stats()
    for name, by in pairs(tally or {}) do
        redis.call('HINCRBY', k('stats'), name, by)
    end
    tally = nil
end

-- Job type -> the JSON its host registered (false: not registered), read
-- once per script call.
local registrations = {}
local function registration(job_type)
    local r = registrations[job_type]
    if r == nil then
        r = redis.call('HGET', k('types'), job_type)
        registrations[job_type] = r
    end
    return r
end

-- Job type -> its use of the content store (see store_use in
-- submit_job.lua), worked out once per script call.
local store_uses = {}

-- How long finished jobs live. Scripts that may end a job take one
-- argument "<result ttl>/<dead ttl>/<dead max>": completed and cancelled
-- jobs keep for the first (seconds); dead jobs, their record and their
-- dead-letter entry alike, for the second; the dead-letter queue holds at
-- most <dead max> jobs (the oldest go first). A bare number is the result
-- ttl (complete.lua takes only that).
local function lifetimes(arg)
    local r, d, m = string.match(arg or '', '^(%d+)/(%d+)/(%d+)$')
    if r then
        return tonumber(r), tonumber(d), tonumber(m)
    end
    return tonumber(arg), nil, nil
end

-- Drops dead-letter entries older than dead_ttl (their records expire at
-- the same moment) and, past dead_max, the oldest entries with their records.
local function trim_dead(now, dead_ttl, dead_max)
    if dead_ttl and dead_ttl > 0 then
        redis.call('ZREMRANGEBYSCORE', k('dead'), '-inf', '(' .. int(now - dead_ttl * 1000))
    end
    if dead_max and dead_max > 0 then
        local over = redis.call('ZCARD', k('dead')) - dead_max
        if over > 0 then
            local oldest = redis.call('ZPOPMIN', k('dead'), over)
            for i = 1, #oldest, 2 do
                redis.call('DEL', k('job', oldest[i]), k('errors', oldest[i]), k('children', oldest[i]))
            end
        end
    end
end

-- Finished jobs (completed, dead, cancelled) expire after ttl seconds (a
-- number, or a lifetimes argument whose first part is taken).
-- `has_errors` false: the caller knows the job has no error history (it
-- has no last_error), which saves a command on the hot path; likewise
-- `has_children` false (no children_total) for its list of children.
-- `job`: the record's key, when the caller has it already.
local ttl_text = {}
local function expire_finished(id, ttl, has_errors, has_children, job)
    -- Formatted once per call of the script, not per job: Redis formats
    -- every number argument of a command it is handed from Lua.
    if ttl == nil then
        return
    end
    local text = ttl_text[ttl]
    if text == nil then
        local secs = lifetimes(ttl)
        text = secs and secs > 0 and int(secs) or false
        ttl_text[ttl] = text
    end
    ttl = text
    if ttl then
        redis.call('EXPIRE', job or k('job', id), ttl)
        if has_errors ~= false then
            redis.call('EXPIRE', k('errors', id), ttl)
        end
        if has_children ~= false then
            redis.call('EXPIRE', k('children', id), ttl)
        end
    end
end

-- The dashboard's figures: jobs ended by type and by minute, and the
-- latest ids. A minute's first count drops the minutes older than an hour
-- (HKEYS of at most ~120 fields, once a minute).
local RECENT_MAX = 1000
local MINUTES_KEPT = 61

local function count_minute(letter, n)
    local minute = math.floor(now_ms() / 60000)
    if redis.call('HINCRBY', k('minutes'), letter .. minute, n) == n then
        local old = {}
        for _, f in ipairs(redis.call('HKEYS', k('minutes'))) do
            if (tonumber(string.sub(f, 2)) or 0) <= minute - MINUTES_KEPT then
                table.insert(old, f)
            end
        end
        if #old > 0 then
            redis.call('HDEL', k('minutes'), unpack(old))
        end
    end
end

-- Counts `n` jobs of `job_type` ended as `outcome` ('done' or 'died').
local function count_outcome(job_type, outcome, n)
    redis.call('HINCRBY', k(outcome), job_type, n)
end

-- Notes ended jobs, newest last in `ids`, in P:recent.
local function note_recent(ids)
    if #ids > 0 then
        redis.call('LPUSH', k('recent'), unpack(ids))
        redis.call('LTRIM', k('recent'), 0, RECENT_MAX - 1)
    end
end

local function add_error(id, entry)
    redis.call('RPUSH', k('errors', id), entry)
    redis.call('HSET', k('job', id), 'last_error', entry)
end

-- A job that `id` was waiting on has finished in a way that lets `id` go
-- on: one dependency fewer; ready once none is left.
local function dependency_done(id)
    local left = redis.call('HINCRBY', k('job', id), 'pending_deps', -1)
    if left <= 0 then
        enqueue(id)
    end
end

-- `id` completed: every job waiting on it has one dependency fewer.
local function release_waiting(id)
    local waiting = k('waiting', id)
    for _, child in ipairs(redis.call('SMEMBERS', waiting)) do
        if redis.call('HGET', k('job', child), 'status') == 'waiting' then
            dependency_done(child)
        end
    end
    redis.call('DEL', waiting)
end

-- Whether `parent` names a job that still exists. Parents that have
-- expired are left alone rather than recreated as fragments.
local function live_parent(parent)
    return parent and parent ~= '' and redis.call('EXISTS', k('job', parent)) == 1
end

-- Counts a finished job on its parent (the job that submitted it, or
-- false/'' for none), so the parent's record shows its children's progress.
local function count_finished(parent, failed)
    if live_parent(parent) then
        redis.call('HINCRBY', k('job', parent), 'children_done', 1)
        if failed then
            redis.call('HINCRBY', k('job', parent), 'children_failed', 1)
        end
    end
end

-- Like count_finished, for the job `id`.
local function child_finished(id, failed)
    count_finished(redis.call('HGET', k('job', id), 'parent'), failed)
end

-- Starts a call: its arguments, and the state above as a new call finds
-- it (a call that failed halfway may have left any of it behind).
local function begin(args)
    ARGV = args
    if args[1] ~= P then
        P = args[1]
        ROOT = (string.gsub(P, '~%d+}$', '}'))
    end
    clock, clock_text, wakes, seq_next, seq_end, tally, readies = nil, nil, nil, nil, nil, nil, nil
    -- Emptied only when used: a new table per call is an allocation.
    if next(registrations) then
        registrations, store_uses = {}, {}
    end
    if next(ttl_text) then
        ttl_text = {}
    end
end
