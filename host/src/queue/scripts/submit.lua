-- Submit one job, or return the existing one with that id.
--
-- The content store (job types registered with cache = true): a stored
-- result for (type, content hash) completes the job at once as a cache hit;
-- content already pending or running attaches to that job instead of
-- enqueueing another. A dead or cancelled job does not block its content.
-- `force` skips both.
--
-- ARGV: prefix, id, type, payload, priority, max_retries, metadata (JSON
--       object), depends_on (JSON array of ids), parent id ('' for none),
--       check_type ('1': refuse a type no host has registered), ttl seconds,
--       content hash ('' for none), force ('1'/'0'), use_store ('1'/'0')
-- Keys: P:job:<id>, P:types, P:job:<dep> (read), P:waiting:<dep>, P:ready:<type>,
--       P:content:<type>:<hash>, P:job:<attached id> (read), P:seq, P:stats;
--       and, when a dependency already failed, what finish_failed touches.
-- Returns: { 'exists', status } | { 'created', status } | { 'cached', 'completed' }
--        | { 'attached', existing id, status }
--        | { 'error', 'unknown_type' } | { 'error', 'unknown_dependency', dep }
--        | { 'error', 'self_dependency' }
-- Nothing is written unless the answer is 'created' or 'cached'.

local id, job_type, payload = ARGV[2], ARGV[3], ARGV[4]
local priority, max_retries = tonumber(ARGV[5]), tonumber(ARGV[6])
local metadata, depends_on, parent, check_type = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local ttl, content_hash, force, use_store = ARGV[11], ARGV[12], ARGV[13] == '1', ARGV[14] == '1'
local job = k('job', id)

local existing = redis.call('HGET', job, 'status')
if existing then
    return { 'exists', existing }
end
local registered = redis.call('HGET', k('types'), job_type)
if check_type == '1' and not registered then
    return { 'error', 'unknown_type' }
end

-- Validate every dependency before writing anything.
local deps = cjson.decode(depends_on)
local seen, unique = {}, {}
for _, dep in ipairs(deps) do
    if dep == id then
        return { 'error', 'self_dependency' }
    end
    if not seen[dep] then
        seen[dep] = true
        if redis.call('EXISTS', k('job', dep)) == 0 then
            return { 'error', 'unknown_dependency', dep }
        end
        table.insert(unique, dep)
    end
end

-- Only job types whose plugin asked for it (LLM work) use the content store.
local content = nil
if use_store and content_hash ~= '' and registered then
    local ok, info = pcall(cjson.decode, registered)
    if ok and type(info) == 'table' and info['cache'] == true then
        content = k('content', job_type, content_hash)
    end
end

local now = now_ms()
if content and not force then
    local stored, linked = unpack(redis.call('HMGET', content, 'result', 'job'))
    if stored then
        redis.call('HSET', job,
            'id', id, 'type', job_type, 'payload', payload, 'priority', priority,
            'max_retries', max_retries, 'attempts', 0, 'metadata', metadata,
            'depends_on', '[]', 'parent', parent, 'content_hash', content_hash,
            'result', stored, 'cache_hit', 1,
            'plugin_version', redis.call('HGET', content, 'plugin_version') or '',
            'created_at', int(now), 'updated_at', int(now), 'finished_at', int(now),
            'status', 'completed')
        expire_finished(id, ttl)
        stat('submitted')
        stat('cache_hits')
        stat('completed')
        redis.call('PUBLISH', k('finished'), id)
        return { 'cached', 'completed' }
    end
    if linked then
        local linked_status = redis.call('HGET', k('job', linked), 'status')
        if linked_status == 'pending' or linked_status == 'waiting'
            or linked_status == 'scheduled' or linked_status == 'running' then
            stat('attached')
            return { 'attached', linked, linked_status }
        end
    end
end

redis.call('HSET', job,
    'id', id, 'type', job_type, 'payload', payload, 'priority', priority,
    'max_retries', max_retries, 'attempts', 0, 'metadata', metadata,
    'depends_on', depends_on, 'parent', parent,
    'created_at', int(now), 'updated_at', int(now), 'status', 'waiting')
stat('submitted')

local pending, failed = 0, nil
for _, dep in ipairs(unique) do
    local dep_status = redis.call('HGET', k('job', dep), 'status')
    if dep_status == 'dead' or dep_status == 'cancelled' then
        failed = failed or dep
    elseif dep_status ~= 'completed' then
        redis.call('SADD', k('waiting', dep), id)
        pending = pending + 1
    end
end
redis.call('HSET', job, 'pending_deps', pending)
if content then
    redis.call('HSET', job, 'content_hash', content_hash)
    if force then
        redis.call('HSET', job, 'force', 1)
    end
    redis.call('HSET', content, 'job', id)
end

if failed then
    -- A dependency already failed: the job is dead on arrival, with the reason.
    for _, dep in ipairs(unique) do
        redis.call('SREM', k('waiting', dep), id)
    end
    local entry = cjson.encode({
        kind = 'dependency_failed', message = 'dependency ' .. failed .. ' failed',
        attempt = 0, at = now,
    })
    finish_failed(id, 'dead', entry, now, ttl)
    return { 'created', 'dead' }
end
if pending == 0 then
    enqueue(id)
    return { 'created', 'pending' }
end
return { 'created', 'waiting' }
