-- A running job makes a waiting job wait on more jobs too: a report
-- submitted before the work it reports on had all been fanned out (the work
-- fans out from jobs the report waits on). Only a job still waiting (so it
-- cannot have started) on the caller or on the caller's parent can be
-- extended, and only by the holder of the caller's lease (a late attempt is
-- refused).
--
-- ARGV: prefix, caller id, caller lease token, target id, JSON list of
--       dependency ids, most dependencies a job may have
-- Keys: P:job:<caller>, P:job:<parent of caller>, P:job:<target>, P:job:<dep>, P:waiting:<dep>
-- Returns: {'ok', n} (n dependencies added; those it had already are left
--          alone), or {'error', reason[, id]} and nothing written:
--          'stale' (the caller does not hold its lease), 'not_waiting' (no
--          such target, or it does not wait on the caller or its parent),
--          'unknown_dependency'
--          id, 'self_dependency' id, 'dependency_failed' id (a dependency
--          already dead or cancelled and the target does not run after
--          failures), 'too_many_dependencies'

local caller, token, target = ARGV[2], ARGV[3], ARGV[4]
local wanted = cjson.decode(ARGV[5])
local most = tonumber(ARGV[6])

if not holds_lease(caller, token) then
    return { 'error', 'stale' }
end
local job = k('job', target)
local status, depends_on, tolerant = unpack(redis.call('HMGET', job, 'status', 'depends_on',
    'run_after_failure'))
if status ~= 'waiting' then
    return { 'error', 'not_waiting' }
end
local deps = cjson.decode(depends_on or '[]')
local have = {}
for _, dep in ipairs(deps) do
    have[dep] = true
end
local parent = redis.call('HGET', k('job', caller), 'parent')
if not (have[caller] or (parent and have[parent])) then
    return { 'error', 'not_waiting' }
end

-- Every check before any write.
local new = {}
for _, dep in ipairs(wanted) do
    if dep == target then
        return { 'error', 'self_dependency', dep }
    end
    if not have[dep] then
        local dep_status = redis.call('HGET', k('job', dep), 'status')
        if not dep_status then
            return { 'error', 'unknown_dependency', dep }
        end
        if (dep_status == 'dead' or dep_status == 'cancelled') and tolerant ~= '1' then
            return { 'error', 'dependency_failed', dep }
        end
        have[dep] = true
        table.insert(new, { dep, dep_status })
    end
end
if #deps + #new > most then
    return { 'error', 'too_many_dependencies' }
end

local pending = 0
for _, item in ipairs(new) do
    local dep, dep_status = item[1], item[2]
    table.insert(deps, dep)
    if dep_status ~= 'completed' and dep_status ~= 'dead' and dep_status ~= 'cancelled' then
        redis.call('SADD', k('waiting', dep), target)
        -- Tells complete.lua to look in P:waiting:<dep>.
        redis.call('HSET', k('job', dep), 'waited_on', 1)
        pending = pending + 1
    end
end
if #new > 0 then
    redis.call('HSET', job, 'depends_on', cjson.encode(deps), 'updated_at', int(now_ms()))
    redis.call('HINCRBY', job, 'pending_deps', pending)
end
return { 'ok', #new }
