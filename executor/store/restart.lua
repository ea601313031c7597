-- Restart an ended execution in place (same id), as Kestra does: the execution gets
-- RESTARTED; task runs that FAILED or were KILLED get RESTARTED and will make a new
-- attempt (numbers continue); successful task runs keep their state and outputs; task
-- runs of the errors and finally branches are dropped so they run again if needed.
-- It leaves the retention index (P:idx:ended), so the sweep does not delete it.
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash     P:{EID}:exec
--   events  events stream      P:{EID}:events
--   trs     task run id list   P:{EID}:trs
--   trkey   identity hash      P:{EID}:trkey
--   tv      value index        P:{EID}:tv
--   active  active zset        P:active
--   ended   ended index        P:idx:ended
--   xev     execution changes  P:{EID}:exec:ev
--   idx     FAILED, KILLED, RESTARTED -> P:idx:state:STATE
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
--   runs    task run id -> {tr = P:{EID}:tr:TRID, lease = P:{EID}:tr:TRID:lease}, for
--           every task run in trs (as the caller read it)
-- ARGV[1] = {eid, date, deadline (pending, epoch s), dropped = [task ids of the errors
--            and finally branches]}
--
-- Reply: {status = MISSING}, {status = REFUSED, state} (not FAILED or KILLED), {status =
-- KEYS} (trs holds a task run `runs` does not name: read again and call again), or
-- {status = OK, restarted = [trid, ...]}. Nothing is written unless the status is OK.
local A, K = args()
local X = xread(K.exec)
local cur = X.state
if not cur then return reply({status = 'MISSING'}) end
if cur ~= 'FAILED' and cur ~= 'KILLED' then return reply({status = 'REFUSED', state = cur}) end
local move = xcheck(X, 'RESTARTED', K)
if move ~= 'OK' then return reply({status = 'REFUSED', state = cur}) end
local date = A.date
local dropped = {}
for _, task in ipairs(A.dropped or {}) do dropped[task] = true end
local runs = K.runs or {}
local drop, again = {}, {}
for _, trid in ipairs(redis.call('LRANGE', K.trs, 0, -1)) do
    local k = runs[trid]
    if not k then return reply({status = 'KEYS'}) end
    local t = redis.call('HMGET', k.tr, 'taskId', 'state', 'parentTaskRunId', 'value', 'h',
        'iteration')
    local task, st = t[1], t[2]
    if dropped[task] then
        drop[#drop + 1] = {trid, k, t}
    elseif (st == 'FAILED' or st == 'KILLED') and allowed(st, 'RESTARTED') then
        again[#again + 1] = {trid, k, t}
    end
end
-- Checked; writes from here.
redis.call('ZREM', K.ended, A.eid)
xapply(X, A.eid, 'RESTARTED', date, K)
for _, r in ipairs(drop) do
    local trid, k, t = r[1], r[2], r[3]
    -- Its identity, as create_runs() wrote it (with #iteration inside loops), so that it
    -- is created again when reached; it leaves the active set and the value index.
    local ident = t[1] .. '|' .. (t[3] or '') .. '|' .. (t[4] or '')
    if t[6] and t[6] ~= '' then ident = ident .. '#' .. t[6] end
    redis.call('HDEL', K.trkey, ident)
    if (t[3] or '') ~= '' or (t[4] or '') ~= '' then
        redis.call('HDEL', K.tv, t[1] .. '|' .. (t[4] or ''))
    end
    redis.call('ZREM', K.active, A.eid .. '|' .. trid)
    redis.call('LREM', K.trs, 0, trid)
    redis.call('DEL', k.tr, k.lease)
end
local restarted = {}
for _, r in ipairs(again) do
    local trid, k, t = r[1], r[2], r[3]
    redis.call('HSET', k.tr, 'state', 'RESTARTED', 'lost', 0,
        'h', happend(t[5], hist('RESTARTED', date)))
    redis.call('ZADD', K.active, A.deadline, A.eid .. '|' .. trid)
    note('t', trid, t[1], '', 'RESTARTED', date)
    restarted[#restarted + 1] = trid
end
emit(K.events)
return reply({status = 'OK', restarted = restarted})
