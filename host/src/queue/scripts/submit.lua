-- Submit one job, or return the existing one with that id.
--
-- ARGV: prefix, id, type, payload, priority, max_retries, metadata (JSON
--       object), depends_on (JSON array of ids), parent id ('' for none),
--       check_type ('1': refuse a type no host has registered)
-- Keys: P:job:<id>, P:types, P:job:<dep> (read), P:waiting:<dep>, P:ready:<type>,
--       P:seq, P:stats; and, when a dependency already failed, what finish_failed touches.
-- Returns: { 'exists', status } | { 'created', status }
--        | { 'error', 'unknown_type' } | { 'error', 'unknown_dependency', dep }
--        | { 'error', 'self_dependency' }
-- Nothing is written unless the answer is 'created'.

local id, job_type, payload = ARGV[2], ARGV[3], ARGV[4]
local priority, max_retries = tonumber(ARGV[5]), tonumber(ARGV[6])
local metadata, depends_on, parent, check_type = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local job = k('job', id)

local existing = redis.call('HGET', job, 'status')
if existing then
    return { 'exists', existing }
end
if check_type == '1' and redis.call('HEXISTS', k('types'), job_type) == 0 then
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

local now = now_ms()
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

if failed then
    -- A dependency already failed: the job is dead on arrival, with the reason.
    for _, dep in ipairs(unique) do
        redis.call('SREM', k('waiting', dep), id)
    end
    local entry = cjson.encode({
        kind = 'dependency_failed', message = 'dependency ' .. failed .. ' failed',
        attempt = 0, at = now,
    })
    finish_failed(id, 'dead', entry, now, ARGV[11])
    return { 'created', 'dead' }
end
if pending == 0 then
    enqueue(id)
    return { 'created', 'pending' }
end
return { 'created', 'waiting' }
