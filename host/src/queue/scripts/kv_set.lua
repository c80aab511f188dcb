-- A write to a plugin's key-value store, within its quota (keyvalue.set).
-- Entries whose TTL has passed are let go first (their bytes given back),
-- then the write is refused when the plugin's keys and values would take
-- more bytes than its quota; nothing is written then.
--
-- ARGV: prefix, plugin (hex), key, value, ttl ms (0: none), quota bytes
-- Keys: P:kv:<plugin>:v:<key>, P:kv:<plugin>:sizes, P:kv:<plugin>:expiry,
--       P:kv:<plugin>:bytes
-- Returns: 0 when written, else the bytes the plugin would have held

local plugin, name, value = ARGV[2], ARGV[3], ARGV[4]
local ttl, quota = tonumber(ARGV[5]) or 0, tonumber(ARGV[6]) or 0
local sizes, expiry = k('kv', plugin, 'sizes'), k('kv', plugin, 'expiry')
local total_key = k('kv', plugin, 'bytes')
local value_key = k('kv', plugin, 'v') .. ':' .. name
local now = now_ms()

local used = tonumber(redis.call('GET', total_key) or '0') or 0
local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
for _, old in ipairs(gone) do
    used = used - (tonumber(redis.call('HGET', sizes, old) or '0') or 0)
    redis.call('HDEL', sizes, old)
end
if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', expiry, '-inf', now)
end
used = math.max(used, 0)

local before = tonumber(redis.call('HGET', sizes, name) or '0') or 0
local size = #name + #value
local after = used - before + size
if after > quota then
    redis.call('SET', total_key, int(used))
    return after
end
if ttl > 0 then
    redis.call('SET', value_key, value, 'PX', ttl)
    redis.call('ZADD', expiry, now + ttl, name)
else
    redis.call('SET', value_key, value)
    redis.call('ZREM', expiry, name)
end
redis.call('HSET', sizes, name, size)
redis.call('SET', total_key, int(after))
return 0
