-- Create task runs of an execution, once each (idempotent: a task run is known by its
-- identity taskId|parentTaskRunId|value, so two orchestrators deciding the same next
-- step create it once).
--
-- KEYS[1] = execution hash       P:{EID}:exec
-- KEYS[2] = identity -> id hash  P:{EID}:trkey
-- KEYS[3] = task run id list     P:{EID}:trs
-- KEYS[4] = events stream        P:{EID}:events
-- KEYS[5] = active zset          P:active
-- KEYS[6] = value index hash     P:{EID}:tv   (taskId|value -> id, for outputs[task][value])
-- KEYS[7 + 2i], KEYS[8 + 2i] = task run hash and history of the i-th new task run
-- ARGV[1] = execution id, ARGV[2] = date, ARGV[3] = pending deadline (epoch seconds)
-- ARGV[4] = member of the active zset to remove (the task run that just ended), or ""
-- ARGV[5 + 6i .. 10 + 6i] = identity, task run id, task id, parent task run id, value,
--                          iteration ("" outside loops)
--
-- Returns {'REFUSED', state} if the execution is ending (KILLING or ended), else a flat
-- list {state, id1, created1, id2, created2, ...}: the execution's state (a PAUSED one
-- holds its new task runs until resumed) and createdN = 1 for a new task run.
local xstate = redis.call('HGET', KEYS[1], 'state')
if not xstate then return {'REFUSED', 'MISSING'} end
if xstate == 'KILLING' or TERMINAL[xstate] then return {'REFUSED', xstate} end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[5], ARGV[4]) end
local out = {xstate}
local n = (#ARGV - 4) / 6
for i = 0, n - 1 do
    local a = 5 + 6 * i
    local ident, trid, task, parent, value = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
    if redis.call('HSETNX', KEYS[2], ident, trid) == 1 then
        redis.call('HSET', KEYS[7 + 2 * i], 'id', trid, 'taskId', task, 'parentTaskRunId', parent,
            'value', value, 'state', 'CREATED', 'attempts', 0)
        if ARGV[a + 5] ~= '' then
            redis.call('HSET', KEYS[7 + 2 * i], 'iteration', ARGV[a + 5])
        end
        redis.call('HSET', KEYS[6], task .. '|' .. value, trid)
        redis.call('RPUSH', KEYS[8 + 2 * i], hist('CREATED', ARGV[2]))
        redis.call('RPUSH', KEYS[3], trid)
        redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1] .. '|' .. trid)
        event(KEYS[4], 't', trid, task, '', 'CREATED', ARGV[2])
        out[#out + 1] = trid
        out[#out + 1] = 1
    else
        out[#out + 1] = redis.call('HGET', KEYS[2], ident)
        out[#out + 1] = 0
    end
end
return out
