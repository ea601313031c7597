-- Create an execution in CREATED with its first task runs, in one step: the execution
-- hash, its index entries, task runs copied by a replay, the first task runs and their
-- messages (see create_runs() in _lib.lua). A new execution starts in CREATED: a
-- creation, not a move (and so do its task runs; copies keep the state they had).
--
-- KEYS, by name (see _lib.lua):
--   exec      execution hash         P:{EID}:exec
--   events    events stream          P:{EID}:events
--   trkey     identity -> id hash    P:{EID}:trkey
--   trs       task run id list       P:{EID}:trs
--   active    active zset            P:active
--   tv        value index hash       P:{EID}:tv
--   all       all executions index   P:idx:all
--   flow      the flow's index       P:idx:flow:NS:ID
--   created   CREATED index          P:idx:state:CREATED
--   adds      [the search's indexes of the execution, by creation time: its scopes, their
--             CREATED indexes and its labels' (executor.store.keys: P:idx:...)]
--   subflows  (a Subflow's child only) the subflows set of the execution that started it
--   copies    [hash of each task run copied by a replay, as in ARGV's copies]
--   rows      [keys of each first task run, as in create.lua]
-- ARGV[1] = {eid, date, now (epoch s), deadline (pending), onlyIfAbsent (true to write
--            nothing if the execution exists), fields (the execution's hash fields),
--            copies = [{identity, fields}], rows = [as in create.lua]}
--
-- Reply: {status = OK}, or {status = NOOP} when the execution existed (and onlyIfAbsent),
-- or {status = REFUSED, queue, type} when a first task run's queue key holds a value of
-- another type than a list (nothing written).
local A, K = args()
local eid = A.eid
if A.onlyIfAbsent and redis.call('EXISTS', K.exec) == 1 then return reply({status = 'NOOP'}) end
local copies = A.copies or {}
for i = 1, #copies do
    if not (K.copies and K.copies[i]) then error('submit: a copied task run has no key') end
end
if not rows_ok(A.rows, K.rows) then error('submit: a first task run has no keys') end
local badq, badt = bad_queue(A.rows, K.rows)
if badq then return reply({status = 'REFUSED', queue = badq, type = badt}) end
-- Checked; writes from here.
local fields = {}
for name, value in pairs(A.fields) do
    fields[#fields + 1] = name
    fields[#fields + 1] = value
end
redis.call('HSET', K.exec, unpack(fields))
redis.call('ZADD', K.all, A.now, eid)
redis.call('ZADD', K.flow, A.now, eid)
redis.call('ZADD', K.created, A.now, eid)
for _, key in ipairs(K.adds or {}) do redis.call('ZADD', key, A.now, eid) end
note('x', '', '', '', 'CREATED', A.date)
for i, copy in ipairs(copies) do
    local f, trid = {}, copy.fields.id
    for name, value in pairs(copy.fields) do
        f[#f + 1] = name
        f[#f + 1] = value
    end
    redis.call('HSET', K.copies[i], unpack(f))
    redis.call('HSET', K.trkey, copy.identity, trid)
    redis.call('HSET', K.tv, copy.fields.taskId .. '|' .. (copy.fields.value or ''), trid)
    redis.call('RPUSH', K.trs, trid)
end
create_runs('CREATED', eid, A.date, A.deadline, K, A.rows, K.rows)
if K.subflows then redis.call('SADD', K.subflows, eid) end
emit(K.events)
return reply({status = 'OK'})
