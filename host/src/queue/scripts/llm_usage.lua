-- What an attempt's LLM calls spent, added to its job's record: HTTP
-- calls, tokens, cost (micro-units), the route the last call took, and
-- each ask (the first answer and every re-ask) appended to llm_asks, of
-- which the last 50 are kept.
--
-- ARGV: prefix, id, calls, prompt tokens, completion tokens, cost,
--       route ('' when none was chosen), asks (a JSON array, '[]' for none)
-- Keys: P:job:<id>
-- Returns: 1 when added, 0 when the job is gone (nothing written)

local id, calls, prompt, completion, cost, route, asks =
    ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local job = k('job', id)
if redis.call('EXISTS', job) == 0 then
    return 0
end
redis.call('HINCRBY', job, 'llm_calls', calls)
redis.call('HINCRBY', job, 'prompt_tokens', prompt)
redis.call('HINCRBY', job, 'completion_tokens', completion)
redis.call('HINCRBY', job, 'llm_cost', cost)
if route ~= '' then
    redis.call('HSET', job, 'llm_route', route)
end
local added = cjson.decode(asks)
if #added > 0 then
    local kept = {}
    local old = redis.call('HGET', job, 'llm_asks')
    if old then
        kept = cjson.decode(old)
    end
    for _, ask in ipairs(added) do
        kept[#kept + 1] = ask
    end
    local from = math.max(#kept - 50, 0)
    local last = {}
    for i = from + 1, #kept do
        last[#last + 1] = kept[i]
    end
    redis.call('HSET', job, 'llm_asks', cjson.encode(last))
    redis.call('HINCRBY', job, 'llm_asks_total', #added)
end
return 1
