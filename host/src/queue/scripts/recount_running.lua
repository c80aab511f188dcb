-- Count each job type's leases into P:running afresh (for a queue whose
-- leases were taken by hosts from before P:running; run once, by the layout
-- migration). Atomic, so no claim or completion falls in between.
--
-- ARGV: prefix
-- Keys: P:leases, P:job:<id> (type), P:running
-- Returns: the number of leases counted

redis.call('DEL', k('running'))
local ids = redis.call('ZRANGE', k('leases'), 0, -1)
for _, id in ipairs(ids) do
    local job_type = redis.call('HGET', k('job', id), 'type')
    if job_type then
        redis.call('HINCRBY', k('running'), job_type, 1)
    end
end
return #ids
