-- Hand a running job back to the queue at once (graceful shutdown). The
-- interrupted attempt does not count: the host stopped it, not the job.
--
-- ARGV: prefix, id, token
-- Keys: P:job:<id>, P:leases, P:running, P:ready:<type>, P:seq, P:stats
-- Returns: 'ok' | 'stale'

local id, token = ARGV[2], ARGV[3]
local job = k('job', id)
if not holds_lease(id, token) then
    return 'stale'
end
redis.call('HINCRBY', job, 'attempts', -1)
redis.call('HDEL', job, 'lease_token', 'lease_until')
unlease(id, redis.call('HGET', job, 'type'))
enqueue(id)
stat('released')
return 'ok'
