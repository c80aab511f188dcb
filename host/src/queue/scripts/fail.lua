-- Record a failed attempt, if the caller still holds the lease: schedule a
-- retry while retries remain and the failure is retryable, otherwise move the
-- job to the dead-letter queue (and its dependents with it).
--
-- ARGV: prefix, id, token, error entry (JSON), retryable ('1'/'0'),
--       feedback ('' for none), delay_ms before the retry, plugin version id,
--       ttl seconds
-- Keys: P:job:<id>, P:errors:<id>, P:leases, P:scheduled, P:dead, P:stats,
--       and what finish_failed touches for dependents
-- Returns: 'scheduled' | 'pending' | 'dead' | 'stale'

local id, token, entry = ARGV[2], ARGV[3], ARGV[4]
local retryable, feedback, delay_ms = ARGV[5] == '1', ARGV[6], tonumber(ARGV[7])
local version, ttl = ARGV[8], ARGV[9]
local job = k('job', id)
if not holds_lease(id, token) then
    stat('stale_rejected')
    return 'stale'
end
if feedback ~= '' then
    redis.call('HSET', job, 'feedback', feedback)
end
redis.call('HSET', job, 'plugin_version', version)
return fail_or_retry(id, entry, retryable, delay_ms, now_ms(), ttl)
