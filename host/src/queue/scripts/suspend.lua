-- Suspend a running job, if the caller still holds its lease: it leaves
-- its lease (and its type's running count, so a cap lets another job of
-- its type run) and waits in P:suspended until resume.lua gives it a value
-- or expire_waits.lua finds its time run out.
--
-- ARGV: prefix, id, lease token, wait token, wait name, question (JSON),
--       timeout ms, on timeout ('fail' | 'complete' | 'dead'), the
--       attempt's result (JSON, kept for 'complete'), plugin version id
-- Keys: P:job:<id>, P:leases, P:running, P:suspended, P:stats
-- Returns: 'suspended' (now, or by an earlier call with this lease and
--          token) | 'stale' (the lease was lost)

local id, token, wait_token = ARGV[2], ARGV[3], ARGV[4]
local job = k('job', id)
local status, held, waiting_on, job_type = unpack(redis.call('HMGET', job, 'status', 'lease_token',
    'wait_token', 'type'))
if status == 'suspended' and held == token and waiting_on == wait_token then
    -- This very call landed before; its reply was lost.
    return 'suspended'
end
if status ~= 'running' or held ~= token then
    stat('stale_rejected')
    return 'stale'
end
local now = now_ms()
local until_ms = now + tonumber(ARGV[7])
unlease(id, job_type)
-- The lease token stays, as after a completion: it answers a call sent
-- again, and means nothing once the job is not running.
redis.call('HSET', job, 'status', 'suspended', 'wait_token', wait_token, 'wait_name', ARGV[5],
    'wait_question', ARGV[6], 'wait_until', int(until_ms), 'wait_policy', ARGV[8],
    'wait_result', ARGV[9], 'plugin_version', ARGV[10], 'updated_at', int(now))
redis.call('HDEL', job, 'feedback', 'lease_until')
redis.call('ZADD', k('suspended'), int(until_ms), id)
stat('suspended')
return 'suspended'
