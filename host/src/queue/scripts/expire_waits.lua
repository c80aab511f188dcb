-- End the waits that ran out, the oldest first, at most ARGV[3] a call.
-- Each job's policy says how: 'complete' with the result its suspending
-- attempt returned, 'fail' as a failed attempt (retried at once while
-- retries last, then dead), 'dead' to the dead-letter queue.
--
-- ARGV: prefix, lifetimes ("<result ttl>/<dead ttl>/<dead max>"), most to end
-- Keys: P:suspended, P:job:<id> and what finishing a job touches
--       (P:waiting:<id>, P:dead, P:stats, P:done, P:minutes, P:recent, ...)
-- Returns: a flat list: id, the status it ended the wait with, ...

local ttl = ARGV[2]
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', k('suspended'), '-inf', int(now), 'LIMIT', 0,
    tonumber(ARGV[3]))

-- Completes a suspended job with `result`, as complete.lua does a running
-- one (no lease to end; the content store keeps only results of runs).
local function complete_waited(id, result)
    local job = k('job', id)
    local job_type, parent, last_error, children = unpack(redis.call('HMGET', job, 'type',
        'parent', 'last_error', 'children_total'))
    redis.call('HSET', job, 'status', 'completed', 'result', result, 'finished_at', int(now),
        'updated_at', int(now))
    redis.call('HDEL', job, 'feedback', 'wait_result')
    release_waiting(id)
    count_finished(parent, false)
    expire_finished(id, ttl, last_error ~= false, children ~= false, job)
    count_outcome(job_type, 'done', 1)
    stat('completed')
    count_minute('c', 1)
    note_recent({ id })
    redis.call('PUBLISH', channel('finished'), id)
end

local out = {}
for _, id in ipairs(due) do
    redis.call('ZREM', k('suspended'), id)
    local job = k('job', id)
    local status, name, policy, result, attempts = unpack(redis.call('HMGET', job, 'status',
        'wait_name', 'wait_policy', 'wait_result', 'attempts'))
    if status == 'suspended' then
        stat('waits_timed_out')
        local entry = cjson.encode({
            kind = 'wait_timeout',
            message = 'the wait ' .. (name or '') .. ' ran out',
            attempt = tonumber(attempts or '0'),
            at = now,
        })
        local ended
        if policy == 'complete' then
            complete_waited(id, result or '{}')
            ended = 'completed'
        elseif policy == 'fail' then
            ended = fail_or_retry(id, entry, true, 0, now, ttl)
        else
            finish_failed(id, 'dead', entry, now, ttl)
            ended = 'dead'
        end
        table.insert(out, id)
        table.insert(out, ended)
    end
end
return out
