-- Admit a new execution of a flow with a concurrency limit, or queue, cancel or fail it.
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash            P:{EID}:exec
--   events  events stream             P:{EID}:events
--   xev     execution changes         P:{EID}:exec:ev
--   conc    running set               P:conc:NS:FLOW
--   concq   queue list                P:concq:NS:FLOW
--   flows   flows with limits         P:concflows
--   idx     CREATED, QUEUED, CANCELLED, FAILED -> P:idx:state:STATE
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
-- ARGV[1] = {eid, limit, behavior (QUEUE, CANCEL or FAIL), date, flow (NS:FLOW)}
--
-- Reply: {status}: RUN (a slot is taken), QUEUED, CANCELLED or FAILED; or INVALID (the
-- execution is missing or cannot move there: nothing written).
local A, K = args()
local X = xread(K.exec)
if not X.state then return reply({status = 'INVALID'}) end
local free = redis.call('SCARD', K.conc) < tonumber(A.limit) and redis.call('LLEN', K.concq) == 0
local to = ({QUEUE = 'QUEUED', CANCEL = 'CANCELLED', FAIL = 'FAILED'})[A.behavior]
if not free then
    if not to or xcheck(X, to, K) ~= 'OK' then
        return reply({status = 'INVALID', state = X.state})
    end
end
-- Checked; writes from here.
redis.call('SADD', K.flows, A.flow)
if free then
    redis.call('SADD', K.conc, A.eid)
    return reply({status = 'RUN'})
end
if to == 'QUEUED' then redis.call('RPUSH', K.concq, A.eid) end
xapply(X, A.eid, to, A.date, K)
emit(K.events)
return reply({status = to})
