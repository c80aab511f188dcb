-- Record the results of one or more jobs, each only if the caller still
-- holds its lease; store each in the content index when the job has a
-- content hash; then release every job that was waiting only on it.
-- A host sends the results that finished while its previous call was in
-- flight together, so a busy host pays one round trip for many jobs.
--
-- ARGV: prefix, ttl seconds, then 5 per job:
--       id, token, result (JSON), plugin version id,
--       cache_hit ('1': the result came from the content directory, not a run)
-- Keys: P:job:<id>, P:leases, P:running, P:waiting:<id>, P:job:<child>, P:ready:<type>,
--       P:job:<parent> (children counters), P:errors:<id> (expiry),
--       P:content:<type>:<hash>, P:seq, P:stats, P:done, P:minutes, P:recent,
--       P:children:<id> (expiry);
--       publishes P:finished (the ids, space-separated) and P:wake
-- Returns: one reply per job, in order: 'ok' (recorded now, or by an earlier
--          call with this lease) | 'stale' (the lease was lost: someone else
--          owns the job now)

local ttl = ARGV[2]
local now = now_ms()
-- Formatted once: number formatting is a large share of a script's time.
local now_s = int(now)
local replies, done, ended = {}, {}, {}
local hits, stale = 0, 0
for i = 3, #ARGV, 5 do
    local id, token, result, version = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local cache_hit = ARGV[i + 4] == '1'
    local job = k('job', id)
    local status, held, job_type, content_hash, parent, last_error, feedback, waited_on, children =
        unpack(redis.call('HMGET', job, 'status', 'lease_token', 'type', 'content_hash', 'parent',
            'last_error', 'feedback', 'waited_on', 'children_total'))
    if status == 'completed' and held == token then
        -- This very completion landed before (the lease fields stay): a
        -- call sent again after its reply was lost, or after too few
        -- replicas acknowledged it. The same answer; nothing is counted twice.
        table.insert(replies, 'ok')
    elseif status ~= 'running' or held ~= token then
        stale = stale + 1
        table.insert(replies, 'stale')
    else
        if cache_hit then
            hits = hits + 1
            redis.call('HSET', job, 'status', 'completed', 'result', result, 'plugin_version', version,
                'finished_at', now_s, 'updated_at', now_s, 'cache_hit', 1)
        else
            redis.call('HSET', job, 'status', 'completed', 'result', result, 'plugin_version', version,
                'finished_at', now_s, 'updated_at', now_s)
        end
        -- The lease fields stay: they mean nothing once the job is not
        -- running, and deleting them would cost a command per job.
        if feedback then
            redis.call('HDEL', job, 'feedback')
        end
        if content_hash then
            redis.call('HSET', k('content', job_type, content_hash),
                'result', result, 'job_id', id, 'plugin_version', version, 'stored_at', now_s)
        end
        if waited_on then
            release_waiting(id)
        end
        count_finished(parent, false)
        -- HMGET gives false, not nil, for a missing field.
        expire_finished(id, ttl, last_error ~= false, children ~= false, job)
        table.insert(done, id)
        ended[job_type] = (ended[job_type] or 0) + 1
        table.insert(replies, 'ok')
    end
end
-- Batches are bounded by the host (MAX_COMPLETE_BATCH), far below Lua's
-- limit on unpacked arguments.
if #done > 0 then
    -- Each job here was running under its lease, so its entry goes and
    -- its type's running count falls by one.
    redis.call('ZREM', k('leases'), unpack(done))
    for job_type, n in pairs(ended) do
        redis.call('HINCRBY', k('running'), job_type, -n)
        count_outcome(job_type, 'done', n)
    end
    stat('completed', #done)
    count_minute('c', #done)
    note_recent(done)
    redis.call('PUBLISH', channel('finished'), table.concat(done, ' '))
end
if hits > 0 then
    stat('cache_hits', hits)
end
if stale > 0 then
    stat('stale_rejected', stale)
end
return replies
