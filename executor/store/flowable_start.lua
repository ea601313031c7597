-- Start a flowable task run: RUNNING, with its plan (see executor/flowables.py).
--
-- KEYS, by name (see _lib.lua):
--   exec       execution hash     P:{EID}:exec
--   tr         flowable hash      P:{EID}:tr:TRID
--   events     events stream      P:{EID}:events
--   ended      its ended set      P:{EID}:tr:TRID:ended
--   values     its values list    P:{EID}:tr:TRID:values
--   flowables  flowables set      P:{EID}:flowables
--   xev        execution changes  P:{EID}:exec:ev
--   idx        CREATED, RESTARTED, RUNNING -> P:idx:state:STATE (the execution starts
--              RUNNING with it)
--   sx         the same for each scope of the execution (see xcheck in _lib.lua)
-- ARGV[1] = {eid, trid, date, mode, T, total, expected (initial slot count), cn (claimed
--            count), plan (JSON), values = [loop value, ...], outputs (JSON, "" for
--            none)} (numbers as strings)
--
-- Reply: {status = OK}, {status = NOOP, state} (already started: a duplicate send), or
-- {status = REFUSED, state} (missing, or the execution is ending: nothing written).
local A, K = args()
local X = xread(K.exec)
local t = redis.call('HMGET', K.tr, 'state', 'taskId', 'h')
local xstate, st = X.state, t[1]
if not xstate or not st then return reply({status = 'REFUSED', state = 'MISSING'}) end
if xstate == 'KILLING' or TERMINAL[xstate] then return reply({status = 'REFUSED', state = xstate}) end
-- PAUSED: a Pause with tasks, resumed (only its resume starts it this way).
if st ~= 'CREATED' and st ~= 'RESTARTED' and st ~= 'PAUSED' then
    return reply({status = 'NOOP', state = st})
end
if not allowed(st, 'RUNNING') then return reply({status = 'REFUSED', state = st}) end
local move = (xstate == 'CREATED' or xstate == 'RESTARTED') and xcheck(X, 'RUNNING', K) or nil
if move and move ~= 'OK' then return reply({status = 'REFUSED', state = xstate}) end
-- Checked; writes from here.
redis.call('DEL', K.ended, K.values)
redis.call('SADD', K.flowables, A.trid)  -- flowables have extra keys, deleted with the rest
redis.call('HSET', K.tr, 'state', 'RUNNING', 'mode', A.mode, 'T', A.T, 'total', A.total,
    'expected', A.expected, 'cn', A.cn, 'done', 0, 'bad', 0, 'warn', 0, 'plan', A.plan,
    'h', happend(t[3], hist('RUNNING', A.date)))
if A.outputs and A.outputs ~= '' then redis.call('HSET', K.tr, 'outputs', A.outputs) end
local values = A.values or {}
for i = 1, #values, 1000 do  -- in chunks: Lua's unpack() fails past ~8000 values
    redis.call('RPUSH', K.values, unpack(values, i, math.min(i + 999, #values)))
end
note('t', A.trid, t[2], '', 'RUNNING', A.date)
if move then xapply(X, A.eid, 'RUNNING', A.date, K) end
emit(K.events)
return reply({status = 'OK'})
