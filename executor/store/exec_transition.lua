-- Compare-and-set the state of an execution.
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash        P:{EID}:exec
--   events  events stream         P:{EID}:events
--   xev     execution changes     P:{EID}:exec:ev
--   idx     STATE -> P:idx:state:STATE for allowed_sources(to) (`to` included)
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
--   conc, concq  (only if the move ends an execution of a flow with a concurrency
--                limit) P:conc:NS:FLOW, P:concq:NS:FLOW: its slot is freed with the move
-- ARGV[1] = {eid, to, date (ISO-8601), expected (current state, or "" for any),
--            fields (name -> value, written with the move)}
--
-- Reply: {status, state}: status OK, NOOP (already there), INVALID (the table forbids
-- it), CONFLICT (not in the expected state) or MISSING, state the state now. Or
-- {status = KEYS, namespace, flowId} when the move would free a concurrency slot and
-- conc/concq were not given: nothing written, the caller calls again with them.
local A, K = args()
local X = xread(K.exec, 'namespace', 'flowId')
local cur = X.state
if not cur then return reply({status = 'MISSING', state = ''}) end
if A.expected ~= '' and cur ~= A.expected and cur ~= A.to then
    return reply({status = 'CONFLICT', state = cur})
end
local status = xcheck(X, A.to, K)
if status == 'KEYS' then
    if K.idx and K.idx[cur] and K.idx[A.to] then
        return reply({status = 'KEYS', namespace = X.extra[1] or '', flowId = X.extra[2] or ''})
    end
    error('exec_transition: state index keys missing')
end
if status == 'INVALID' then return reply({status = status, state = cur}) end
if status == 'OK' then
    -- Checked; writes from here.
    local fields = {}
    for name, value in pairs(A.fields or {}) do
        fields[#fields + 1] = name
        fields[#fields + 1] = value
    end
    xapply(X, A.eid, A.to, A.date, K, fields)
    emit(K.events)
end
return reply({status = status, state = A.to})
