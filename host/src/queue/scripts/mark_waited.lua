-- Flag jobs that others wait on (waited_on = 1), so that completing them
-- releases their waiters. Hosts before the flag existed put waiters in
-- P:waiting:<id> without it; `serve` runs this once at start for every such
-- set it finds, so jobs queued by an older host are not stranded.
--
-- ARGV: prefix, ids... (jobs whose P:waiting:<id> set exists)
-- Keys: P:job:<id>, P:waiting:<id>
-- Returns: the number of jobs newly flagged

local n = 0
for i = 2, #ARGV do
    local id = ARGV[i]
    local job = k('job', id)
    if redis.call('SCARD', k('waiting', id)) > 0 and redis.call('EXISTS', job) == 1
        and redis.call('HSETNX', job, 'waited_on', 1) == 1 then
        n = n + 1
    end
end
return n
