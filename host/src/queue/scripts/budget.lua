-- A provider's budget of requests and tokens per minute, shared by every
-- host: two token buckets, each holding at most a minute's worth and
-- refilling continuously (as the providers count), kept in one hash.
--
-- A request takes one request and its estimated tokens up front (mode 1);
-- when the provider has said what it really used, the difference is
-- settled (mode 0), and the running average per request is learned, so
-- later requests take what requests really cost. A bucket may go below
-- zero by a settlement: later requests wait until it has refilled.
--
-- ARGV: prefix, name, requests per minute (0: none), tokens per minute
--       (0: none), mode ('1' take, '0' settle), tokens (mode 1: to take;
--       mode 0: extra used beyond what was taken, may be negative), used
--       (mode 0: the request's total, for the average)
-- Keys: P:budget:<name> (hash: requests, tokens, at (ms), avg)
-- Returns: mode 1: 0 when taken, else ms until enough has refilled;
--          mode 0: 0

local key = k('budget', ARGV[2])
local rpm, tpm = tonumber(ARGV[3]), tonumber(ARGV[4])
local take = ARGV[5] == '1'
local tokens = tonumber(ARGV[6])
local now = now_ms()

local stored = redis.call('HMGET', key, 'requests', 'tokens', 'at', 'avg')
local at = tonumber(stored[3] or '') or now
local elapsed = math.max(now - at, 0)
-- A bucket never seen is full.
local function level(raw, per_minute)
    local value = tonumber(raw or '') or per_minute
    return math.min(value + elapsed * per_minute / 60000, per_minute)
end
local requests, tokens_left = level(stored[1], rpm), level(stored[2], tpm)

if take then
    local wait = 0
    if rpm > 0 and requests < 1 then
        wait = math.max(wait, math.ceil((1 - requests) * 60000 / rpm))
    end
    local want = math.min(tokens, tpm)
    if tpm > 0 and tokens_left < want then
        wait = math.max(wait, math.ceil((want - tokens_left) * 60000 / tpm))
    end
    if wait > 0 then
        return wait
    end
    requests, tokens_left = requests - 1, tokens_left - tokens
else
    tokens_left = tokens_left - tokens
    local used = tonumber(ARGV[7] or '0')
    local avg = tonumber(stored[4] or '')
    if used > 0 then
        -- Recent requests count most (the prompts of a run change slowly).
        avg = avg and (avg * 0.8 + used * 0.2) or used
        redis.call('HSET', key, 'avg', tostring(avg))
    end
end
redis.call('HSET', key, 'requests', tostring(requests), 'tokens', tostring(tokens_left),
    'at', int(now))
-- Gone after an idle hour: a full bucket is what a missing one means.
redis.call('EXPIRE', key, 3600)
return 0
