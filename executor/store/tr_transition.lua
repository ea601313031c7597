-- Compare-and-set the state of one task run (used by the orchestrator for the task runs
-- it runs itself, such as Pause, and for resuming them).
--
-- KEYS[1] = task run hash      P:{EID}:tr:TRID
-- KEYS[2] = events stream      P:{EID}:events
-- KEYS[3] = active zset        P:active
-- ARGV[1] = execution id, ARGV[2] = task run id, ARGV[3] = proposed state, ARGV[4] = date
-- ARGV[5] = expected current state, or "" for any
-- ARGV[6] = active deadline (epoch s), "" to leave it, "-" to remove the entry
-- ARGV[7..] = field, value pairs to HSET when the move happens
--
-- Returns {status, current}: OK, NOOP, INVALID, STALE or MISSING.
local t = redis.call('HMGET', KEYS[1], 'state', 'taskId', 'h')
local cur = t[1]
if not cur then return {'MISSING', ''} end
if cur == ARGV[3] then return {'NOOP', cur} end
if ARGV[5] ~= '' and cur ~= ARGV[5] then return {'STALE', cur} end
if not allowed(cur, ARGV[3]) then return {'INVALID', cur} end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'h', happend(t[3], hist(ARGV[3], ARGV[4])))
if #ARGV > 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 7)) end
local member = ARGV[1] .. '|' .. ARGV[2]
if ARGV[6] == '-' then
    redis.call('ZREM', KEYS[3], member)
elseif ARGV[6] ~= '' then
    redis.call('ZADD', KEYS[3], ARGV[6], member)
end
note('t', ARGV[2], t[2], '', ARGV[3], ARGV[4])
emit(KEYS[2])
return {'OK', ARGV[3]}
