-- Compare-and-set the state of an execution.
--
-- KEYS[1] = execution hash      P:{EID}:exec
-- KEYS[2] = events stream       P:{EID}:events
-- ARGV[1] = key prefix P, ARGV[2] = execution id
-- ARGV[3] = proposed state, ARGV[4] = date (ISO-8601)
-- ARGV[5] = expected current state, or "" for any
-- ARGV[6..] = field, value pairs to HSET when the move happens
--
-- Returns {status, current}: status is OK, NOOP (already there), INVALID (the table
-- forbids it), STALE (not in the expected state) or MISSING.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'MISSING', ''} end
if ARGV[5] ~= '' and cur ~= ARGV[5] and cur ~= ARGV[3] then return {'STALE', cur} end
local status = exec_move(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if status == 'OK' and #ARGV > 5 then
    redis.call('HSET', KEYS[1], unpack(ARGV, 6))
end
emit(KEYS[2])
if status == 'INVALID' then return {status, cur} end
return {status, ARGV[3]}
