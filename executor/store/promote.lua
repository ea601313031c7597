-- Promote the head of a flow's concurrency queue into a free slot: QUEUED -> CREATED, the
-- slot taken, in one step. The step that frees a slot (an execution's end) does not do
-- this, as it cannot know without a read whose keys that takes: the caller reads the
-- head (LINDEX 0) and passes that execution's keys here, and this step applies only if
-- that execution is still the head and a slot is still free (so racing callers never
-- admit more than the limit). See RedisStore.pop_promoted.
--
-- KEYS, by name (see _lib.lua):
--   exec    the head's execution hash  P:{EID}:exec
--   events  its events stream          P:{EID}:events
--   xev     its execution changes      P:{EID}:exec:ev
--   idx     QUEUED, CREATED -> P:idx:state:STATE
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
--   conc    running set                P:conc:NS:FLOW
--   concq   queue list                 P:concq:NS:FLOW
-- ARGV[1] = {eid, date}
--
-- Reply: {status}: OK (promoted: the caller starts it), CONFLICT (not the head any more:
-- read the head again), FULL (no free slot), or DROPPED (the head was not waiting any
-- more, gone or not QUEUED: it left the queue and took no slot).
local A, K = args()
if redis.call('LINDEX', K.concq, 0) ~= A.eid then return reply({status = 'CONFLICT'}) end
local X = xread(K.exec)
if X.state ~= 'QUEUED' then
    redis.call('LPOP', K.concq)
    return reply({status = 'DROPPED'})
end
if redis.call('SCARD', K.conc) >= X.limit then return reply({status = 'FULL'}) end
if xcheck(X, 'CREATED', K) ~= 'OK' then error('promote: cannot move QUEUED -> CREATED') end
-- Checked; writes from here.
redis.call('LPOP', K.concq)
redis.call('SADD', K.conc, A.eid)
xapply(X, A.eid, 'CREATED', A.date, K)
emit(K.events)
return reply({status = 'OK'})
