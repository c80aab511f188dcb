-- Delete jobs from the dead-letter queue for good.
--
-- ARGV: prefix, ids... (none: the whole dead-letter queue)
-- Keys: P:dead, P:job:<id>, P:errors:<id>
-- Returns: the number of jobs deleted

local ids = {}
if #ARGV >= 2 then
    for i = 2, #ARGV do
        table.insert(ids, ARGV[i])
    end
else
    ids = redis.call('ZRANGE', k('dead'), 0, -1)
end
local n = 0
for _, id in ipairs(ids) do
    if redis.call('ZREM', k('dead'), id) == 1 then
        redis.call('DEL', k('job', id), k('errors', id))
        n = n + 1
    end
end
return n
