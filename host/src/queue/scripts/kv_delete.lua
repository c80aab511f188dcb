-- A key removed from a plugin's key-value store (keyvalue.delete), its
-- bytes given back to the quota.
--
-- ARGV: prefix, plugin (hex), key
-- Keys: P:kv:<plugin>:v:<key>, P:kv:<plugin>:sizes, P:kv:<plugin>:expiry,
--       P:kv:<plugin>:bytes
-- Returns: 1 when the value was there, else 0

local plugin, name = ARGV[2], ARGV[3]
local sizes = k('kv', plugin, 'sizes')
local size = tonumber(redis.call('HGET', sizes, name) or '0') or 0
local existed = redis.call('DEL', k('kv', plugin, 'v') .. ':' .. name)
if size > 0 then
    redis.call('HDEL', sizes, name)
    redis.call('ZREM', k('kv', plugin, 'expiry'), name)
    local total_key = k('kv', plugin, 'bytes')
    local used = tonumber(redis.call('GET', total_key) or '0') or 0
    redis.call('SET', total_key, int(math.max(used - size, 0)))
end
return existed
