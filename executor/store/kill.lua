-- Kill an execution: KILLING at once; task runs that are not running end KILLED and never
-- start; running ones are left to their worker, which sees KILLING and stops them (or, if
-- its lease is gone, they end KILLED here). If nothing is left running, the execution
-- ends KILLED in the same step (Kestra's kill is fire-and-forget, it never waits).
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash     P:{EID}:exec
--   events  events stream      P:{EID}:events
--   trs     task run id list   P:{EID}:trs
--   active  active zset        P:active
--   xev     execution changes  P:{EID}:exec:ev
--   idx     allowed_sources(KILLING) and KILLED -> P:idx:state:STATE
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
--   conc, concq  for a flow with a concurrency limit: P:conc:NS:FLOW, P:concq:NS:FLOW
--   runs    task run id -> {tr = P:{EID}:tr:TRID, lease = P:{EID}:tr:TRID:lease}, for
--           every task run in trs (as the caller read it)
-- ARGV[1] = {eid, date}
--
-- The caller reads trs (and the flow of the execution) first: the keys of task runs
-- cannot be known here. If trs holds a task run `runs` does not name (created since), or
-- the flow's concurrency keys are needed and missing, nothing is written and the reply
-- is {status = KEYS}: read again and call again.
-- Reply: {status = MISSING}, {status = ENDED, state}, {status = KEYS}, {status = INVALID,
-- state} (the table forbids a move: nothing written), or {status = KILLING | KILLED,
-- running = [trid, ...]}: the task runs still running (their workers will stop them).
local A, K = args()
local X = xread(K.exec)
local cur = X.state
if not cur then return reply({status = 'MISSING'}) end
if TERMINAL[cur] then return reply({status = 'ENDED', state = cur}) end
local date = A.date
local ids = redis.call('LRANGE', K.trs, 0, -1)
local runs = K.runs or {}
for _, trid in ipairs(ids) do
    if not runs[trid] then return reply({status = 'KEYS'}) end
end
local first = xcheck(X, 'KILLING', K)
if first == 'KEYS' then return reply({status = 'KEYS'}) end
if first == 'INVALID' then return reply({status = 'INVALID', state = cur}) end
local running, killed = {}, {}
for _, trid in ipairs(ids) do
    local k = runs[trid]
    local t = redis.call('HMGET', k.tr, 'state', 'taskId', 'attempts', 'h')
    local st = t[1]
    if st and not TERMINAL[st] then
        local alive = st == 'RUNNING' and redis.call('EXISTS', k.lease) == 1
        if alive then
            running[#running + 1] = trid
        elseif can_kill_run(st) then
            killed[#killed + 1] = {trid, k.tr, t}
        else
            return reply({status = 'INVALID', state = st})
        end
    end
end
if #running == 0 then
    local second = xcheck({state = 'KILLING', limit = X.limit}, 'KILLED', K)
    if second == 'KEYS' then return reply({status = 'KEYS'}) end
    if second ~= 'OK' then return reply({status = 'INVALID', state = cur}) end
end
-- Checked; writes from here.
if first == 'OK' then xapply(X, A.eid, 'KILLING', date, K) end
for _, r in ipairs(killed) do
    local trid, key, t = r[1], r[2], r[3]
    kill_run(key, trid, t[2], t[1], t[3] or '0', t[4], date)
    redis.call('ZREM', K.active, A.eid .. '|' .. trid)
end
if #running == 0 then
    xapply(X, A.eid, 'KILLED', date, K)
    emit(K.events)
    return reply({status = 'KILLED', running = {}})
end
emit(K.events)
return reply({status = 'KILLING', running = running})
