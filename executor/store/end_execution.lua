-- End an execution, as a compare-and-set on the snapshot the end was decided from.
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash        P:{EID}:exec
--   events  events stream         P:{EID}:events
--   xev     execution changes     P:{EID}:exec:ev
--   trs     task run ids list     P:{EID}:trs
--   ended   ended index zset      P:idx:ended
--   idx     STATE -> P:idx:state:STATE for allowed_sources(final), RUNNING included
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
--   runs    the hashes of the snapshot's task runs, in its order, P:{EID}:tr:TRID
--   conc, concq  (only for a flow with a concurrency limit) P:conc:NS:FLOW,
--                P:concq:NS:FLOW: its slot is freed with the end
-- ARGV[1] = {eid, final, date (ISO), expected (the execution's state in the snapshot),
--            states (the state of each task run of the snapshot, as in runs), now (epoch
--            s, the retention's start), outputs (JSON, "" for none)}
--
-- Nothing is written unless the execution is still in its snapshot state, with the same
-- task runs, each in its snapshot state: a restart or a new task run that landed after
-- the snapshot was read wins. An execution not started yet (CREATED, QUEUED, RESTARTED)
-- passes through RUNNING. The end starts its retention (ended).
-- Reply: {status, state}: OK, NOOP, CONFLICT (the snapshot is out of date), INVALID or
-- MISSING; or {status = KEYS, namespace, flowId} when conc/concq are needed and missing.
local A, K = args()
local X = xread(K.exec, 'namespace', 'flowId')
local cur = X.state
if not cur then return reply({status = 'MISSING', state = ''}) end
if cur ~= A.expected then return reply({status = 'CONFLICT', state = cur}) end
local runs, states = K.runs or {}, A.states or {}
if #runs ~= #states or redis.call('LLEN', K.trs) ~= #runs then
    return reply({status = 'CONFLICT', state = cur})
end
for i, key in ipairs(runs) do
    if redis.call('HGET', key, 'state') ~= states[i] then
        return reply({status = 'CONFLICT', state = cur})
    end
end
if cur == A.final then return reply({status = 'NOOP', state = cur}) end
local path = {A.final}
if cur == 'CREATED' or cur == 'QUEUED' or cur == 'RESTARTED' then path = {'RUNNING', A.final} end
local at = {state = cur, limit = X.limit}
for _, to in ipairs(path) do
    local status = xcheck(at, to, K)
    if status == 'KEYS' and K.idx and K.idx[at.state] and K.idx[to] then
        return reply({status = 'KEYS', namespace = X.extra[1] or '', flowId = X.extra[2] or ''})
    end
    if status ~= 'OK' then return reply({status = 'INVALID', state = cur}) end
    at.state = to
end
-- Checked; writes from here.
for i, to in ipairs(path) do
    local fields = nil
    if i == #path and A.outputs ~= '' then fields = {'outputs', A.outputs} end
    xapply(X, A.eid, to, A.date, K, fields)
end
redis.call('ZADD', K.ended, A.now, A.eid)
emit(K.events)
return reply({status = 'OK', state = A.final})
