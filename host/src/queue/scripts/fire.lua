-- Fire due ticks of schedules: for each, submit its job, unless that tick
-- or a later one was fired already (by this host or any other), and record
-- the tick, all in one atomic step. A job's id derives from its tick, so
-- even a recorded tick lost with Redis' data cannot make a second job.
--
-- ARGV: prefix, stride (arguments per tick), then per tick: schedule name,
--       tick (Unix ms), then submit.lua's arguments from the id on
-- Keys: P:schedules, P:ticks, and what submit.lua touches
-- Returns: one reply per tick, in order: { 'skipped' } when the schedule is
--          gone or the tick is not newer than the last fired; else
--          submit.lua's reply (a refusal records the tick too: it is not
--          tried again)

local stride = tonumber(ARGV[2])

local function fire(at)
    local name, tick = ARGV[at], tonumber(ARGV[at + 1])
    if redis.call('HEXISTS', k('schedules'), name) == 0 then
        return { 'skipped' }
    end
    local last = tonumber(redis.call('HGET', k('ticks'), name) or '')
    if last and last >= tick then
        return { 'skipped' }
    end
    redis.call('HSET', k('ticks'), name, ARGV[at + 1])
    return submit_job(spec_from_argv(at + 2))
end

-- One wake per job type made ready, not one per job.
wakes = {}
local replies = {}
for at = 3, #ARGV, stride do
    table.insert(replies, fire(at))
end
for job_type in pairs(wakes) do
    redis.call('PUBLISH', channel('wake'), job_type)
end
return replies
