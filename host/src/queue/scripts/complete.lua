-- Record a job's result, if the caller still holds its lease; store it in
-- the content index when the job has a content hash; then release every job
-- that was waiting only on this one.
--
-- ARGV: prefix, id, token, result (JSON), plugin version id, ttl seconds,
--       cache_hit ('1': the result came from the content directory, not a run)
-- Keys: P:job:<id>, P:leases, P:waiting:<id>, P:job:<child>, P:ready:<type>,
--       P:job:<parent> (children counters),
--       P:content:<type>:<hash>, P:seq, P:stats, P:errors:<id>;
--       publishes P:finished and P:wake
-- Returns: 'ok' | 'stale' (the lease was lost: someone else owns the job now)

local id, token, result, version, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cache_hit = ARGV[7] == '1'
local job = k('job', id)
if not holds_lease(id, token) then
    stat('stale_rejected')
    return 'stale'
end
local now = now_ms()
redis.call('HSET', job, 'status', 'completed', 'result', result, 'plugin_version', version,
    'finished_at', int(now), 'updated_at', int(now))
redis.call('HDEL', job, 'lease_token', 'lease_until', 'feedback')
redis.call('ZREM', k('leases'), id)
stat('completed')
if cache_hit then
    redis.call('HSET', job, 'cache_hit', 1)
    stat('cache_hits')
end
local job_type, content_hash = unpack(redis.call('HMGET', job, 'type', 'content_hash'))
if content_hash then
    redis.call('HSET', k('content', job_type, content_hash),
        'result', result, 'job_id', id, 'plugin_version', version, 'stored_at', int(now))
end

local waiting = k('waiting', id)
for _, child in ipairs(redis.call('SMEMBERS', waiting)) do
    local cjob = k('job', child)
    if redis.call('HGET', cjob, 'status') == 'waiting' then
        dependency_done(child)
    end
end
redis.call('DEL', waiting)
child_finished(id, false)
expire_finished(id, ttl)
redis.call('PUBLISH', k('finished'), id)
return 'ok'
