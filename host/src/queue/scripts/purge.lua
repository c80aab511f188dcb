-- Delete jobs from the dead-letter queue for good.
--
-- ARGV: prefix, ids... (none: the whole dead-letter queue)
-- Keys: P:dead, P:job:<id>, P:errors:<id>, P:children:<id>
-- Returns: the number of jobs deleted

local ids = selected_or_dead()
local n = 0
for _, id in ipairs(ids) do
    if redis.call('ZREM', k('dead'), id) == 1 then
        redis.call('DEL', k('job', id), k('errors', id), k('children', id))
        n = n + 1
    end
end
return n
