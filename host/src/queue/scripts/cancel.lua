-- Cancel a job that has not finished. Its dependents end dead. A running
-- job's host loses its lease (its result would be rejected as stale) and is
-- told on P:cancelled, so it stops the job at once.
--
-- ARGV: prefix, id, ttl seconds
-- Keys: P:job:<id> and what finish_failed touches
-- Returns: 'ok' | 'missing' | the job's status when it has already finished

local id, ttl = ARGV[2], ARGV[3]
local status = redis.call('HGET', k('job', id), 'status')
if not status then
    return 'missing'
end
if status == 'completed' or status == 'dead' or status == 'cancelled' then
    return status
end
local now = now_ms()
local entry = cjson.encode({ kind = 'cancelled', message = 'cancelled', at = now })
finish_failed(id, 'cancelled', entry, now, ttl)
if status == 'running' then
    redis.call('PUBLISH', channel('cancelled'), id)
end
return 'ok'
