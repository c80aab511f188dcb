-- Items of a batch that ended, settled: each one still 'submitted' takes
-- its outcome ('done' with the answer, or 'live' with the reason) and is
-- marked for waking its waiters; one settled already is left alone, so a
-- batch read twice (a host that died midway) changes nothing twice.
--
-- ARGV: prefix, then per item: id, state, content, prompt tokens, cached
--       tokens, completion tokens, cost, reason
-- Keys: P:llmb:item:<id>, P:llmb:waking
-- Returns: the ids settled now

local settled = {}
for i = 2, #ARGV, 8 do
    local id = ARGV[i]
    local item = k('llmb', 'item', id)
    if redis.call('HGET', item, 'state') == 'submitted' then
        redis.call('HSET', item, 'state', ARGV[i + 1], 'content', ARGV[i + 2],
            'prompt', ARGV[i + 3], 'cached', ARGV[i + 4], 'completion', ARGV[i + 5],
            'cost', ARGV[i + 6], 'reason', ARGV[i + 7])
        redis.call('SADD', k('llmb', 'waking'), id)
        settled[#settled + 1] = id
    end
end
return settled
