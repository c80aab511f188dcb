-- A deferrable LLM call handed to the batch lane: the item is made if it
-- is new (pending, in its model's queue), and the asking job's wait token
-- is added to its waiters, unless the answer is in already.
--
-- ARGV: prefix, item id, model, now (ms), wait token, the job's feedback
--       before ('' for none), request body (JSON), schema ('' for none),
--       job type, group, run, payer (job id), TTL (s)
-- Keys: P:llmb:item:<id>, P:llmb:waiters:<id>, P:llmb:pending:<model>,
--       P:llmb:models
-- Returns: the item's state: 'pending' or 'submitted' (the job waits, its
--          token added), 'done' or 'live' (no waiter added: the answer is
--          in, or the call is to be made live)

local id, model, now, token, feedback = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ttl = ARGV[13]
local item = k('llmb', 'item', id)
local state = redis.call('HGET', item, 'state')
if state == 'done' or state == 'live' then
    return state
end
if not state then
    redis.call('HSET', item, 'state', 'pending', 'model', model, 'body', ARGV[7],
        'schema', ARGV[8], 'type', ARGV[9], 'group', ARGV[10], 'run', ARGV[11],
        'payer', ARGV[12], 'at', now)
    redis.call('EXPIRE', item, ttl)
    redis.call('ZADD', k('llmb', 'pending', model), now, id)
    redis.call('SADD', k('llmb', 'models'), model)
    state = 'pending'
end
local waiters = k('llmb', 'waiters', id)
redis.call('HSET', waiters, token, feedback)
redis.call('EXPIRE', waiters, ttl)
return state
