-- Loaded after the prelude (see scripts.rs): how a job ends when it fails,
-- shared by every function that ends jobs (fail, reap, cancel, the waits,
-- a submission whose dependency already failed).

-- Ends `id` with `status` ('dead' or 'cancelled'), and every job waiting on
-- it, transitively, as dead with "dependency <id> failed" (except jobs
-- submitted with run_after_failure, which only count the dependency done).
-- `ttl` is a lifetimes argument (see lifetimes()).
local function finish_failed(id, status, entry, now, ttl)
    local result_ttl, dead_ttl, dead_max = lifetimes(ttl)
    dead_ttl = dead_ttl or result_ttl
    local todo = { { id, status, entry } }
    while #todo > 0 do
        local item = table.remove(todo)
        local jid, st, err = item[1], item[2], item[3]
        local job = k('job', jid)
        local job_type, group = unpack(redis.call('HMGET', job, 'type', 'group'))
        if job_type and redis.call('ZREM', k('ready', job_type), jid) == 1 then
            group_left(job_type, group)
        end
        redis.call('ZREM', k('scheduled'), jid)
        redis.call('ZREM', k('suspended'), jid)
        unlease(jid, job_type)
        if err then
            add_error(jid, err)
        end
        redis.call('HSET', job, 'status', st, 'finished_at', int(now), 'updated_at', int(now))
        redis.call('HDEL', job, 'lease_token', 'lease_until', 'run_at')
        if st == 'dead' then
            redis.call('ZADD', k('dead'), int(now), jid)
            stat('dead')
            if job_type then
                count_outcome(job_type, 'died', 1)
            end
            count_minute('d', 1)
            expire_finished(jid, dead_ttl)
        else
            stat('cancelled')
            expire_finished(jid, result_ttl)
        end
        child_finished(jid, true)
        note_recent({ jid })
        redis.call('PUBLISH', channel('finished'), jid)
        local waiting = k('waiting', jid)
        for _, child in ipairs(redis.call('SMEMBERS', waiting)) do
            local child_status, tolerant = unpack(redis.call('HMGET', k('job', child),
                'status', 'run_after_failure'))
            if child_status == 'waiting' and tolerant == '1' then
                dependency_done(child)
            elseif child_status == 'waiting' then
                local attempts = tonumber(redis.call('HGET', k('job', child), 'attempts') or '0')
                local child_err = cjson.encode({
                    kind = 'dependency_failed',
                    message = 'dependency ' .. jid .. ' failed',
                    attempt = attempts,
                    at = now,
                })
                table.insert(todo, { child, 'dead', child_err })
            end
        end
        redis.call('DEL', waiting)
    end
    trim_dead(now, dead_ttl, dead_max)
end

-- Ends a running (or suspended) job as dead, or schedules its retry when
-- retries remain. Attempts a resume started (resume.lua) spend no retry.
-- Returns 'dead', 'scheduled', or 'pending' (retry at once, delay 0).
local function fail_or_retry(id, entry, retryable, delay_ms, now, ttl)
    local job = k('job', id)
    local job_type, attempts, max_retries, resumes = unpack(redis.call('HMGET', job, 'type',
        'attempts', 'max_retries', 'resumes'))
    attempts = tonumber(attempts or '0') - tonumber(resumes or '0')
    max_retries = tonumber(max_retries or '0')
    unlease(id, job_type)
    if retryable and attempts <= max_retries then
        add_error(id, entry)
        stat('retried')
        if delay_ms <= 0 then
            redis.call('HDEL', job, 'lease_token', 'lease_until')
            enqueue(id)
            return 'pending'
        end
        local run_at = now + delay_ms
        redis.call('HSET', job, 'status', 'scheduled', 'run_at', int(run_at), 'updated_at', int(now))
        redis.call('HDEL', job, 'lease_token', 'lease_until')
        redis.call('ZADD', k('scheduled'), int(run_at), id)
        return 'scheduled'
    end
    finish_failed(id, 'dead', entry, now, ttl)
    return 'dead'
end
