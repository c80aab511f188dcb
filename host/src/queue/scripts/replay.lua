-- Move jobs from the dead-letter queue back to the ready queue with a fresh
-- retry budget. Their error history is kept.
--
-- ARGV: prefix, ids... (none: every job in the dead-letter queue)
-- Keys: P:dead, P:job:<id>, P:errors:<id>, P:ready:<type>, P:seq, P:stats
-- Returns: the ids replayed

local ids = selected_or_dead()
local out = {}
for _, id in ipairs(ids) do
    local job = k('job', id)
    if redis.call('ZSCORE', k('dead'), id) and redis.call('HGET', job, 'status') == 'dead' then
        redis.call('ZREM', k('dead'), id)
        redis.call('PERSIST', job)
        redis.call('PERSIST', k('errors', id))
        redis.call('HSET', job, 'attempts', 0, 'pending_deps', 0)
        redis.call('HDEL', job, 'finished_at', 'feedback', 'resumes')
        enqueue(id)
        stat('replayed')
        table.insert(out, id)
    elseif redis.call('EXISTS', job) == 0 then
        -- The record is gone (expired or deleted): drop its stale entry.
        redis.call('ZREM', k('dead'), id)
    end
end
return out
