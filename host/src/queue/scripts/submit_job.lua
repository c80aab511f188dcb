-- Shared by submit.lua and submit_batch.lua: prepended to them after the
-- prelude (see scripts.rs). Submitting one job: the checks, the content
-- store, the record.

-- Whether a dead job died of its own answers: it asked for retries with
-- feedback until none were left (an LLM that cannot produce a valid result
-- for this content). Such a death stands for its content like a result does,
-- so running the same input again does not pay for the same failure; `force`
-- tries again. Deaths from timeouts, traps, an unavailable provider or a
-- plugin's `fail` do not stand: they may pass next time.
local function answer_failed(last_error)
    if not last_error then
        return false
    end
    local ok, entry = pcall(cjson.decode, last_error)
    return ok and type(entry) == 'table' and entry['kind'] == 'retry_with_feedback'
end

-- The top-level job of a live parent's run: the parent's own `root`, or
-- the parent when it has none (it is the top).
local function run_root(parent)
    return redis.call('HGET', k('job', parent), 'root') or parent
end

-- Counts a new child on its parent and lists it among the parent's
-- children; `done` when it finished on arrival. The child joins its
-- parent's run: it records the run's top-level job, which counts the job
-- while its own record lives (a run outlived by its top adds to no count).
local function count_child(parent, id, done)
    if live_parent(parent) then
        redis.call('HINCRBY', k('job', parent), 'children_total', 1)
        redis.call('RPUSH', k('children', parent), id)
        if done then
            redis.call('HINCRBY', k('job', parent), 'children_done', 1)
        end
        local root = run_root(parent)
        redis.call('HSET', k('job', id), 'root', root)
        if redis.call('EXISTS', k('job', root)) == 1 then
            redis.call('HINCRBY', k('job', root), 'run_jobs', 1)
        end
    end
end

-- Job type -> false when its plugin does not use the content store (its
-- registration says so), else its producer hash: 16 hex of SHA-1 over the
-- plugin's version id and the host's model, what produces its results. The
-- store's key for an input hash is "<input hash>-<producer hash>", so an
-- upgrade or another model computes afresh. Worked out once per script call.
local function store_use(job_type)
    local use = store_uses[job_type]
    if use == nil then
        local registered = registration(job_type)
        local ok, info = pcall(cjson.decode, registered or '')
        use = ok and type(info) == 'table' and info['cache'] == true
        if use then
            local producer = tostring(info['version_id'] or '') .. '\n' .. tostring(info['model'] or '')
            use = string.sub(redis.sha1hex(producer), 1, 16)
        end
        store_uses[job_type] = use
    end
    return use
end

-- An empty list or map shared by every job without dependencies: read
-- only, never written to (a new table per job is an allocation).
local NONE = {}

-- A job's dependencies held by other partitions: dep id -> partition
-- (see relay.lua); NONE when all are in this one.
local function remote_deps(spec)
    if not spec.remote or spec.remote == '' then
        return NONE
    end
    return cjson.decode(spec.remote)
end

-- The checks a new job passes before anything is written: a refusal
-- reply, or nil and its distinct dependencies. `registered` is its type's
-- registration (false: none).
local function check_submission(spec, registered)
    local id, parent = spec.id, spec.parent
    -- A job may submit at most max_children children (a child submitted
    -- again with its id is 'exists' and does not count twice).
    local max_children = tonumber(spec.max_children or '0') or 0
    if max_children > 0 and live_parent(parent) then
        local made = tonumber(redis.call('HGET', k('job', parent), 'children_total') or '0')
        if made >= max_children then
            return { 'error', 'too_many_children' }
        end
    end
    -- A run (a top-level job and every job below it) may make at most
    -- max_run_jobs jobs: a fan-out of fan-outs is bounded as a whole.
    local max_run = tonumber(spec.max_run_jobs or '0') or 0
    if max_run > 0 and live_parent(parent) then
        local root = run_root(parent)
        local made = tonumber(redis.call('HGET', k('job', root), 'run_jobs') or '0') or 0
        if made >= max_run then
            return { 'error', 'too_many_in_run', root }
        end
    end
    if spec.check_type == '1' and not registered then
        return { 'error', 'unknown_type' }
    end
    if spec.depends_on == '[]' then
        return nil, NONE
    end
    local deps = cjson.decode(spec.depends_on)
    local remote = remote_deps(spec)
    local seen, unique = {}, {}
    for _, dep in ipairs(deps) do
        if dep == id then
            return { 'error', 'self_dependency' }
        end
        if not seen[dep] then
            seen[dep] = true
            -- A remote dependency was found in its partition by the host.
            if not remote[dep] and redis.call('EXISTS', k('job', dep)) == 0 then
                return { 'error', 'unknown_dependency', dep }
            end
            table.insert(unique, dep)
        end
    end
    return nil, unique
end

-- The content index key and hash for a job, when its type uses the store:
-- only job types whose plugin asked for it (LLM work) do. The key covers
-- what produces the result as well as the input: the plugin's version id
-- (its code, prompt and schemas) and the host's model, so an upgrade or
-- another model computes afresh. Returns nil when the store is not used.
local function content_key(spec)
    local producer = spec.use_store == '1' and spec.content_hash ~= '' and store_use(spec.job_type)
    if not producer then
        return nil, spec.content_hash
    end
    local input_hash = spec.content_hash
    if #input_hash > 100 then
        input_hash = redis.sha1hex(input_hash)
    end
    local hash = input_hash .. '-' .. producer
    return k('content', spec.job_type, hash), hash
end

-- What the content store answers for a new job: a stored result completes
-- it at once (a cache hit); the same content queued or running (or dead of
-- its own answers) takes it over (attached). nil: the job must run.
local function from_store(spec, content, content_hash, now)
    local id, parent = spec.id, spec.parent
    local stored, linked = unpack(redis.call('HMGET', content, 'result', 'job'))
    if stored then
        redis.call('HSET', k('job', id),
            'id', id, 'type', spec.job_type, 'payload', spec.payload,
            'priority', tonumber(spec.priority), 'max_retries', tonumber(spec.max_retries),
            'attempts', 0, 'metadata', spec.metadata, 'depends_on', '[]', 'parent', parent,
            'content_hash', content_hash, 'result', stored, 'cache_hit', 1,
            'plugin_version', redis.call('HGET', content, 'plugin_version') or '',
            'created_at', int(now), 'updated_at', int(now), 'finished_at', int(now),
            'status', 'completed')
        expire_finished(id, spec.ttl, nil, false)
        count_child(parent, id, true)
        stat('submitted')
        stat('cache_hits')
        stat('completed')
        redis.call('PUBLISH', channel('finished'), id)
        return { 'cached', 'completed' }
    end
    if linked then
        local linked_status, last_error = unpack(redis.call('HMGET', k('job', linked),
            'status', 'last_error'))
        if linked_status == 'pending' or linked_status == 'waiting'
            or linked_status == 'scheduled' or linked_status == 'running'
            or (linked_status == 'dead' and answer_failed(last_error)) then
            stat('attached')
            return { 'attached', linked, linked_status }
        end
    end
    return nil
end

-- Puts job `id` on the waiting list of each unfinished dependency. Returns
-- how many it waits on, and the first that already failed (fatal to the
-- job unless it runs after failures). A remote dependency counts as
-- unfinished: the relay tells this partition when it finishes.
local function wait_on(id, unique, tolerant, remote)
    local pending, failed = 0, nil
    for _, dep in ipairs(unique) do
        local dep_status = not remote[dep] and redis.call('HGET', k('job', dep), 'status')
        if remote[dep] then
            pending = pending + 1
        elseif dep_status == 'dead' or dep_status == 'cancelled' then
            if not tolerant then
                failed = failed or dep
            end
        elseif dep_status ~= 'completed' then
            redis.call('SADD', k('waiting', dep), id)
            -- Tells complete.lua to look in P:waiting:<dep>.
            redis.call('HSET', k('job', dep), 'waited_on', 1)
            pending = pending + 1
        end
    end
    return pending, failed
end

-- When a new job runs (Unix ms) if it is scheduled for later: run_at, or a
-- delay from now; nil for now (a time already past runs now).
local function scheduled_for(spec, now)
    local run_at = tonumber(spec.run_at or '')
    local delay = tonumber(spec.delay or '')
    if delay then
        run_at = now + delay
    end
    if run_at and run_at > now then
        return run_at
    end
    return nil
end

-- The usual reply, one table for all (replies are only read).
local CREATED_PENDING = { 'created', 'pending' }

-- Puts a new job where it belongs: dead when a dependency already
-- failed, scheduled, ready, or waiting on its dependencies (listed for the
-- relay when some are in other partitions). Returns the submit reply.
local function place_new(spec, unique, remote, failed, run_at, ready, now)
    local id, job_type = spec.id, spec.job_type
    if failed then
        -- A dependency already failed: the job is dead on arrival, with the reason.
        for _, dep in ipairs(unique) do
            if not remote[dep] then
                redis.call('SREM', k('waiting', dep), id)
            end
        end
        local entry = cjson.encode({
            kind = 'dependency_failed', message = 'dependency ' .. failed .. ' failed',
            attempt = 0, at = now,
        })
        finish_failed(id, 'dead', entry, now, spec.ttl)
        return { 'created', 'dead' }
    end
    if run_at then
        redis.call('ZADD', k('scheduled'), int(run_at), id)
        -- Idle hosts look again and learn when the next job comes due.
        wake(job_type)
        return { 'created', 'scheduled' }
    end
    if ready then
        push_ready(id, job_type, tonumber(spec.priority), spec.group)
        return CREATED_PENDING
    end
    if next(remote) then
        -- The relay's list of jobs with dependencies in other partitions.
        redis.call('ZADD', k('remote'), now, id)
    end
    return { 'created', 'waiting' }
end

-- Writes a new job and puts it where it belongs: ready, scheduled (it
-- waits in P:scheduled, which every claim promotes from once due), waiting
-- on dependencies, or dead when a dependency already failed.
local function write_job(spec, unique, content, content_hash, now)
    local id, job_type = spec.id, spec.job_type
    local tolerant = spec.run_after_failure == '1'
    local job = k('job', id)
    local remote = remote_deps(spec)
    local pending, failed = wait_on(id, unique, tolerant, remote)
    local ready = pending == 0 and not failed
    local run_at = ready and scheduled_for(spec, now)
    local now_s = now_text()
    -- A job with nothing to wait for is written in one HSET, and fields at
    -- their default are left out (readers default them: no attempts yet,
    -- no metadata, dependencies or parent): a smaller hash is cheaper to
    -- write and to read. Numbers go as the host spelled them (integers it
    -- checked): a Lua number handed to Redis is formatted again per job.
    local fields = {
        'id', id, 'type', job_type, 'payload', spec.payload, 'priority', spec.priority,
        'max_retries', spec.max_retries, 'created_at', now_s, 'updated_at', now_s,
        'status', run_at and 'scheduled' or ready and 'pending' or 'waiting',
    }
    local n = #fields
    local function put(name, value)
        fields[n + 1], fields[n + 2] = name, value
        n = n + 2
    end
    if spec.metadata ~= '{}' then
        put('metadata', spec.metadata)
    end
    if #unique > 0 then
        put('depends_on', spec.depends_on)
        put('pending_deps', pending)
    end
    if next(remote) then
        put('remote_deps', spec.remote)
    end
    if spec.parent ~= '' then
        put('parent', spec.parent)
    end
    if spec.trace ~= '' then
        put('trace', spec.trace)
    end
    if spec.group ~= '' then
        put('group', spec.group)
    end
    if tolerant then
        put('run_after_failure', 1)
    end
    if run_at then
        put('run_at', int(run_at))
    end
    if content then
        put('content_hash', content_hash)
        if spec.force == '1' then
            put('force', 1)
        end
        redis.call('HSET', content, 'job', id)
    end
    redis.call('HSET', job, unpack(fields))
    count_child(spec.parent, id, false)
    stat('submitted')
    return place_new(spec, unique, remote, failed, run_at, ready, now)
end

-- Submits one job described by `spec` (see submit.lua for the fields and
-- the replies): an existing id is answered as it is, a refused job writes
-- nothing, the content store may answer for it, else it is written.
local function submit_job(spec)
    -- `new`: the caller knows no job has this id (submit_batch.lua).
    local existing = not spec.new and redis.call('HGET', k('job', spec.id), 'status')
    if existing then
        return { 'exists', existing }
    end
    local registered = registration(spec.job_type)
    local refused, unique = check_submission(spec, registered)
    if refused then
        return refused
    end
    local content, content_hash = content_key(spec)
    local now = now_ms()
    if content and spec.force ~= '1' then
        local answer = from_store(spec, content, content_hash, now)
        if answer then
            return answer
        end
    end
    return write_job(spec, unique, content, content_hash, now)
end

-- A spec from the arguments as submit.lua takes them, the id at ARGV[at]
-- (fire.lua passes the same arguments after its own).
local function spec_from_argv(at)
    local a = function(i) return ARGV[at + i] end
    return {
        id = a(0), job_type = a(1), payload = a(2), priority = a(3),
        max_retries = a(4), metadata = a(5), depends_on = a(6), parent = a(7),
        check_type = a(8), ttl = a(9), content_hash = a(10), force = a(11),
        use_store = a(12), run_after_failure = a(13), max_children = a(14),
        run_at = a(15), delay = a(16), group = a(17), trace = a(18) or '',
        remote = a(19) or '', max_run_jobs = a(20) or '0',
    }
end
