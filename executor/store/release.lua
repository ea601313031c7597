-- Free the concurrency slot of an execution that ended without freeing it (crash
-- recovery, by the reconciler). Promoting queued executions into the slot is a step of
-- its own (promote.lua, through RedisStore.pop_promoted).
--
-- KEYS, by name (see _lib.lua):
--   exec   execution hash (may be gone)  P:{EID}:exec
--   conc   running set                   P:conc:NS:FLOW
--   concq  queue list                    P:concq:NS:FLOW
-- ARGV[1] = {eid}
--
-- Reply: {status = OK}, or {status = REFUSED, state} if the execution has not ended (its
-- slot is its own: nothing written).
local A, K = args()
local state = redis.call('HGET', K.exec, 'state')
if state and not TERMINAL[state] then return reply({status = 'REFUSED', state = state}) end
redis.call('SREM', K.conc, A.eid)
redis.call('LREM', K.concq, 0, A.eid)
return reply({status = 'OK'})
