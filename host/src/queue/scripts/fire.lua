-- Fire one tick of a schedule: submit its job, unless this tick or a later
-- one was fired already (by this host or any other), and record the tick,
-- in one atomic step. The job's id derives from the tick, so even a
-- recorded tick lost with Redis' data cannot make a second job.
--
-- ARGV: prefix, schedule name, tick (Unix ms), then submit.lua's
--       arguments from the id on (ARGV[4..])
-- Keys: P:schedules, P:ticks, and what submit.lua touches
-- Returns: { 'skipped' } when the schedule is gone or the tick is not
--          newer than the last fired; else submit.lua's reply (a refusal
--          records the tick too: it is not tried again)

local name, tick = ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', k('schedules'), name) == 0 then
    return { 'skipped' }
end
local last = tonumber(redis.call('HGET', k('ticks'), name) or '')
if last and last >= tick then
    return { 'skipped' }
end
redis.call('HSET', k('ticks'), name, ARGV[3])
return submit_job(spec_from_argv(4))
