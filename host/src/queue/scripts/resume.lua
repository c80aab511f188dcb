-- Resume a suspended job with a value from outside: it becomes ready
-- again, and its next attempt finds {"resume": {"name": <wait name>,
-- "value": <value>}} as its feedback. The attempt does not spend a retry
-- (fail_or_retry counts attempts less resumes).
--
-- ARGV: prefix, id, wait token, value (JSON text, checked by the host)
-- Keys: P:job:<id>, P:suspended, P:ready:<type> and what enqueue touches,
--       P:stats
-- Returns: 'resumed' | 'ended' (this wait was resumed, ran out or the
--          job was cancelled before) | 'unknown' (no job waits on this token)

local id, token, value = ARGV[2], ARGV[3], ARGV[4]
local job = k('job', id)
local status, waiting_on, name = unpack(redis.call('HMGET', job, 'status', 'wait_token', 'wait_name'))
if waiting_on ~= token then
    return 'unknown'
end
if status ~= 'suspended' then
    return 'ended'
end
redis.call('ZREM', k('suspended'), id)
redis.call('HSET', job, 'feedback',
    '{"resume":{"name":' .. cjson.encode(name or '') .. ',"value":' .. value .. '}}')
redis.call('HINCRBY', job, 'resumes', 1)
redis.call('HDEL', job, 'wait_result')
enqueue(id)
stat('resumed')
return 'resumed'
