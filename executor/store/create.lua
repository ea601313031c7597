-- Create task runs of an execution, once each, and push the messages of the new ones
-- (see create_runs() in _lib.lua).
--
-- KEYS[1] = execution hash       P:{EID}:exec
-- KEYS[2] = identity -> id hash  P:{EID}:trkey
-- KEYS[3] = task run id list     P:{EID}:trs
-- KEYS[4] = events stream        P:{EID}:events
-- KEYS[5] = active zset          P:active
-- KEYS[6] = value index hash     P:{EID}:tv   (taskId|value -> id, for outputs[task][value])
-- KEYS[7 + 2i], KEYS[8 + 2i] = hash and queue list of the i-th task run
-- ARGV[1] = execution id, ARGV[2] = date, ARGV[3] = pending deadline (epoch seconds)
-- ARGV[4] = member of the active zset to remove (the task run that just ended), or ""
-- ARGV[5 + 7i .. 11 + 7i] = identity, task run id, task id, parent task run id, value,
--                           iteration ("" outside loops), message ("" to send none)
--
-- Returns {'REFUSED', state} if the execution is ending (KILLING or ended), else a flat
-- list {state, id1, created1, id2, created2, ...}: the execution's state (a PAUSED one
-- holds its new task runs until resumed) and createdN = 1 for a new task run.
local xstate = redis.call('HGET', KEYS[1], 'state')
if not xstate then return {'REFUSED', 'MISSING'} end
if xstate == 'KILLING' or TERMINAL[xstate] then return {'REFUSED', xstate} end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[5], ARGV[4]) end
local K = {trkey = KEYS[2], trs = KEYS[3], active = KEYS[5], tv = KEYS[6]}
local out = {xstate}
for _, v in ipairs(create_runs(xstate, ARGV[1], ARGV[2], ARGV[3], K, KEYS, 7, ARGV, 5,
        (#ARGV - 4) / 7)) do
    out[#out + 1] = v
end
emit(KEYS[4])
return out
