-- Delete an execution whose retention is over: every key of it, and its id from the
-- indexes. One step per execution, run by the reconciler (retention is a sweep, not a TTL
-- per key: ending an execution costs one ZADD to P:idx:ended, whatever its size).
--
-- KEYS[1] = execution hash  P:{EID}:exec
-- KEYS[2] = ended index     P:idx:ended
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = key prefix of the execution P:{EID}:
-- ARGV[4] = the end time it must still have in P:idx:ended (else it was restarted: kept)
--
-- Returns the number of keys deleted, -1 if the execution is not due any more, or -2 if
-- its hash was gone already (its flow unknown: the caller drops it from the flow indexes).
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) > tonumber(ARGV[4]) then return -1 end
local x = redis.call('HMGET', KEYS[1], 'state', 'namespace', 'flowId')
if x[1] and not TERMINAL[x[1]] then
    redis.call('ZREM', KEYS[2], ARGV[2])  -- running again (restarted): not ours to delete
    return -1
end
local p = ARGV[3]
local keys = {KEYS[1], p .. 'exec:ev', p .. 'trs', p .. 'tv', p .. 'flowables',
    p .. 'subflows', p .. 'trkey', p .. 'metrics', p .. 'logs', p .. 'events'}
for _, trid in ipairs(redis.call('LRANGE', p .. 'trs', 0, -1)) do
    local t = p .. 'tr:' .. trid
    keys[#keys + 1] = t
    keys[#keys + 1] = t .. ':lease'
end
for _, trid in ipairs(redis.call('SMEMBERS', p .. 'flowables')) do
    keys[#keys + 1] = p .. 'tr:' .. trid .. ':ended'
    keys[#keys + 1] = p .. 'tr:' .. trid .. ':values'
end
local deleted = 0
for i = 1, #keys, 1000 do  -- in chunks: unpack() fails past ~8000 values
    deleted = deleted + redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
end
local eid, prefix = ARGV[2], ARGV[1]
redis.call('ZREM', KEYS[2], eid)
redis.call('ZREM', prefix .. ':idx:all', eid)
if x[1] then
    redis.call('ZREM', prefix .. ':idx:state:' .. x[1], eid)
    redis.call('ZREM', prefix .. ':idx:flow:' .. x[2] .. ':' .. x[3], eid)
else
    for state, _ in pairs(TERMINAL) do redis.call('ZREM', prefix .. ':idx:state:' .. state, eid) end
    return -2  -- its flow is unknown: the caller drops it from the flow indexes
end
return deleted
