-- Submit many jobs, all or nothing: every job is checked first (registered
-- type, dependencies that exist or come earlier in the batch, no job
-- depending on itself); only if all pass is any written, each as submit.lua
-- would. Scripts run atomically, so nothing can change between the phases.
--
-- ARGV: prefix, JSON array of specs ({id, job_type, payload, priority,
--       max_retries, metadata, depends_on, parent, check_type, ttl,
--       content_hash, force, use_store, run_after_failure}, all strings, as submit.lua takes)
-- Keys: those of submit.lua, for each job
-- Returns: JSON: {"ok": [reply, ...]} with submit.lua's reply per job, or
--          {"error": reply, "index": i} (0-based) and nothing written

local specs = cjson.decode(ARGV[2])
local ids = {}
for i, spec in ipairs(specs) do
    local exists = redis.call('EXISTS', k('job', spec.id)) == 1
    if not exists then
        if spec.check_type == '1' and redis.call('HEXISTS', k('types'), spec.job_type) == 0 then
            return cjson.encode({ error = { 'error', 'unknown_type' }, index = i - 1 })
        end
        for _, dep in ipairs(cjson.decode(spec.depends_on)) do
            if dep == spec.id then
                return cjson.encode({ error = { 'error', 'self_dependency' }, index = i - 1 })
            end
            if not ids[dep] and redis.call('EXISTS', k('job', dep)) == 0 then
                return cjson.encode({ error = { 'error', 'unknown_dependency', dep }, index = i - 1 })
            end
        end
    end
    ids[spec.id] = true
end
local replies = {}
-- One wake per job type made ready, not one per job.
wakes = {}
for _, spec in ipairs(specs) do
    table.insert(replies, submit_job(spec))
end
for job_type in pairs(wakes) do
    redis.call('PUBLISH', k('wake'), job_type)
end
return cjson.encode({ ok = replies })
