-- End an execution, as a compare-and-set on the snapshot the end was decided from.
--
-- KEYS[1] = execution hash      P:{EID}:exec
-- KEYS[2] = events stream       P:{EID}:events
-- KEYS[3] = task run ids list   P:{EID}:trs
-- KEYS[4] = ended index zset    P:idx:ended
-- KEYS[5 .. 4 + n] = the hashes of the n task runs of the snapshot, P:{EID}:tr:TRID
-- ARGV[1] = key prefix P, ARGV[2] = execution id, ARGV[3] = end state, ARGV[4] = date
-- ARGV[5] = the execution's state in the snapshot, ARGV[6] = now (epoch s)
-- ARGV[7] = outputs JSON ("" for none)
-- ARGV[8 .. 7 + n] = the state of each of the n task runs in the snapshot
--
-- Nothing is written unless the execution is still in its snapshot state, has the same
-- task runs, each in its snapshot state: a restart or a new task run that landed after
-- the snapshot was read wins. An execution that was not started yet (CREATED, QUEUED,
-- RESTARTED) passes through RUNNING. The end starts its retention (KEYS[4]).
-- Returns {status, state}: OK, STALE (the snapshot is out of date), INVALID or MISSING.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'MISSING', ''} end
local final = ARGV[3]
if cur ~= ARGV[5] then return {'STALE', cur} end
local n = #KEYS - 4
if redis.call('LLEN', KEYS[3]) ~= n then return {'STALE', cur} end
for i = 1, n do
    if redis.call('HGET', KEYS[4 + i], 'state') ~= ARGV[7 + i] then return {'STALE', cur} end
end
local via = nil
if cur == 'CREATED' or cur == 'QUEUED' or cur == 'RESTARTED' then via = 'RUNNING' end
if via and not (allowed(cur, via) and allowed(via, final)) then return {'INVALID', cur} end
if not via and not allowed(cur, final) then return {'INVALID', cur} end
if cur == final then return {'NOOP', cur} end
if via then exec_move(KEYS[1], ARGV[1], ARGV[2], via, ARGV[4]) end
exec_move(KEYS[1], ARGV[1], ARGV[2], final, ARGV[4])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'outputs', ARGV[7]) end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[2])
emit(KEYS[2])
return {'OK', final}
