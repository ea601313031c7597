-- Delete an execution whose retention is over: every key of it, and its id from the
-- indexes. One step per execution, run by the reconciler (retention is a sweep, not a TTL
-- per key: ending an execution costs one ZADD to P:idx:ended, whatever its size).
--
-- KEYS, by name (see _lib.lua):
--   exec       execution hash   P:{EID}:exec
--   ended      ended index      P:idx:ended
--   all        all executions   P:idx:all
--   flow       the flow's index P:idx:flow:NS:ID (absent when the hash is gone)
--   idx        every end state -> P:idx:state:STATE
--   sx, scopes the same per scope of the execution (as in _lib.lua), and the scopes'
--              own indexes (executor.store.keys.Keys.scopes; none when the hash is gone)
--   lab        label id -> P:idx:label:ID for each of its labels (as in labels.lua)
--   own        the execution's other keys, by name: xev, trs, tv, flowables, subflows,
--              trkey, metrics, logs, logsused, events (P:{EID}:exec:ev, P:{EID}:trs, ...)
--   runs       task run id -> {tr, lease} for every task run in trs (as the caller read it)
--   flowables  task run id -> {ended, values} for every member of P:{EID}:flowables
-- ARGV[1] = {eid, before (the end time it must still have in P:idx:ended, else it was
--            restarted: kept)}
--
-- The caller reads trs and flowables first: the keys of task runs cannot be known here.
-- Reply: {status = OK, deleted = n}; {status = KEPT} (not due any more: nothing deleted);
-- {status = GONE, deleted = n} (its hash was gone already, its flow unknown: the caller
-- drops it from the flow indexes); {status = KEYS} (a task run or flowable the caller did
-- not name: nothing written, read again and call again).
local A, K = args()
local eid = A.eid
local score = redis.call('ZSCORE', K.ended, eid)
if not score or tonumber(score) > tonumber(A.before) then return reply({status = 'KEPT'}) end
local x = redis.call('HMGET', K.exec, 'state', 'labels')
local state = x[1]
if state and not TERMINAL[state] then
    redis.call('ZREM', K.ended, eid)  -- running again (restarted): not ours to delete
    return reply({status = 'KEPT'})
end
local runs, fl = K.runs or {}, K.flowables or {}
local keys = {K.exec}
for _, key in pairs(K.own) do keys[#keys + 1] = key end
for _, trid in ipairs(redis.call('LRANGE', K.own.trs, 0, -1)) do
    local k = runs[trid]
    if not k then return reply({status = 'KEYS'}) end
    keys[#keys + 1] = k.tr
    keys[#keys + 1] = k.lease
end
for _, trid in ipairs(redis.call('SMEMBERS', K.own.flowables)) do
    local k = fl[trid]
    if not k then return reply({status = 'KEYS'}) end
    keys[#keys + 1] = k.ended
    keys[#keys + 1] = k.values
end
if state and not (K.flow and K.idx[state] and K.sx and #K.sx > 0) then
    return reply({status = 'KEYS'})
end
local labels = {}
for _, lb in ipairs(cjson.decode(x[2] or '[]')) do
    local key = (K.lab or {})[#lb.key .. ':' .. lb.key .. '=' .. lb.value]
    if not key then return reply({status = 'KEYS'}) end
    labels[#labels + 1] = key
end
-- Checked; writes from here.
local deleted = 0
for i = 1, #keys, 1000 do  -- in chunks: unpack() fails past ~8000 values
    deleted = deleted + redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
end
redis.call('ZREM', K.ended, eid)
redis.call('ZREM', K.all, eid)
if state then
    redis.call('ZREM', K.idx[state], eid)
    redis.call('ZREM', K.flow, eid)
    for _, sc in ipairs(K.sx) do redis.call('ZREM', sc[state], eid) end
    for _, key in ipairs(K.scopes or {}) do redis.call('ZREM', key, eid) end
    for _, key in ipairs(labels) do redis.call('ZREM', key, eid) end
    return reply({status = 'OK', deleted = deleted})
end
for _, key in pairs(K.idx) do redis.call('ZREM', key, eid) end
return reply({status = 'GONE', deleted = deleted})
