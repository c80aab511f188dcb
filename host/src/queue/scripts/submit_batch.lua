-- Submit many jobs, all or nothing: every job is checked first (registered
-- type, dependencies that exist or come earlier in the batch, no job
-- depending on itself); only if all pass is any written, each as submit.lua
-- would. Scripts run atomically, so nothing can change between the phases.
--
-- ARGV: prefix, JSON {"common": {check_type, ttl, use_store, max_children,
--       max_run_jobs},
--       "jobs": [{id, job_type, payload, max_retries, content_hash, and,
--       when not at their default: priority ('0'), metadata ('{}'),
--       depends_on ('[]'), parent (''), force ('0'), run_after_failure ('0'),
--       run_at (''), delay (''), group (''), trace (''), remote ('': its
--       dependencies in other partitions, a JSON object id -> partition)},
--       ...]}, all strings, each job read as submit.lua reads its arguments
-- Keys: those of submit.lua, for each job
-- Returns: JSON: {"ok": [reply, ...]} with submit.lua's reply per job, or
--          {"error": reply, "index": i} (0-based) and nothing written

local batch = cjson.decode(ARGV[2])
local defaults = {
    priority = '0', metadata = '{}', depends_on = '[]', parent = '', force = '0',
    run_after_failure = '0', run_at = '', delay = '', group = '', trace = '', remote = '',
}
for name, value in pairs(batch.common) do
    defaults[name] = value
end
local fill = { __index = defaults }
local specs = batch.jobs
for _, spec in ipairs(specs) do
    setmetatable(spec, fill)
end
local ids, keys = {}, {}
for i, spec in ipairs(specs) do
    -- A job that already exists is answered 'exists' and needs no checks;
    -- EXISTS is asked only when a check would refuse the job.
    local unknown_type = spec.check_type == '1' and not registration(spec.job_type)
    local deps = spec.depends_on == '[]' and {} or cjson.decode(spec.depends_on)
    if (unknown_type or #deps > 0) and redis.call('EXISTS', k('job', spec.id)) == 0 then
        if unknown_type then
            return cjson.encode({ error = { 'error', 'unknown_type' }, index = i - 1 })
        end
        local remote = spec.remote ~= '' and cjson.decode(spec.remote) or {}
        for _, dep in ipairs(deps) do
            if dep == spec.id then
                return cjson.encode({ error = { 'error', 'self_dependency' }, index = i - 1 })
            end
            if not ids[dep] and not remote[dep] and redis.call('EXISTS', k('job', dep)) == 0 then
                return cjson.encode({ error = { 'error', 'unknown_dependency', dep }, index = i - 1 })
            end
        end
    end
    if ids[spec.id] then
        keys = nil
    elseif keys then
        keys[#keys + 1] = k('job', spec.id)
    end
    ids[spec.id] = true
end
-- When no id repeats and none is taken (one EXISTS per 1,000 ids), no job
-- asks whether its id exists.
local fresh = keys ~= nil
for i = 1, keys and #keys or 0, 1000 do
    if fresh and redis.call('EXISTS', unpack(keys, i, math.min(i + 999, #keys))) > 0 then
        fresh = false
    end
end
local replies = {}
-- One wake per job type made ready, not one per job; one INCRBY for the
-- FIFO sequence, one HINCRBY per counter, one ZADD per ready set.
wakes, readies = {}, {}
reserve_seq(#specs)
for _, spec in ipairs(specs) do
    spec.new = fresh
    replies[#replies + 1] = submit_job(spec)
end
flush_ready()
flush_stats()
for job_type in pairs(wakes) do
    redis.call('PUBLISH', channel('wake'), job_type)
end
return cjson.encode({ ok = replies })
