-- A worker records how its attempt ended, and with it the task run.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = task run hash      P:{EID}:tr:TRID
-- KEYS[3] = task run history   P:{EID}:tr:TRID:h
-- KEYS[4] = events stream      P:{EID}:events
-- KEYS[5] = lease              P:{EID}:tr:TRID:lease
-- KEYS[6] = active zset        P:active
-- KEYS[7] = metrics list       P:{EID}:metrics
-- KEYS[8..10] = for a child of a flowable: the flowable's hash, ended set and values list
-- ARGV[1] = execution id, ARGV[2] = task run id, ARGV[3] = date (ISO)
-- ARGV[4] = attempt number n, ARGV[5] = attempt end state, ARGV[6] = task run state
--           (SUCCESS, WARNING, FAILED, KILLED, or RETRYING to wait for attempt n+1)
-- ARGV[7] = outputs JSON ("" for none), ARGV[8] = retry at (epoch s, "" if none)
-- ARGV[9] = active deadline (epoch s), ARGV[10] = error message ("" for none)
-- ARGV[11] = for a child of a flowable, 1 if it is in the flowable's errors branch else 0;
--            "" for a top-level task run. ARGV[12] = its iteration ("" outside loops)
-- ARGV[13..] = metric entries, JSON
--
-- Fencing: only the live attempt n of a RUNNING task run may end it. A late result of a
-- superseded attempt, or any result after the execution was killed, changes nothing but
-- that attempt's own record.
-- Returns {status, task run state} (status OK or STALE), followed, for a child of a
-- flowable that ended, by what child_end() returns: its end counted in the same step.
local n = ARGV[4]
local t = redis.call('HMGET', KEYS[2], 'state', 'taskId', 'attempts', 'a' .. n .. ':state')
local st, task, astate = t[1], t[2], t[4]
if not st then return {'STALE', ''} end
if st ~= 'RUNNING' or t[3] ~= n then
    if astate == 'RUNNING' then
        redis.call('HSET', KEYS[2], 'a' .. n .. ':state', 'KILLED')
        redis.call('RPUSH', KEYS[3], ahist(n, 'KILLED', ARGV[3]))
    end
    return {'STALE', st}
end
local xstate = redis.call('HGET', KEYS[1], 'state')
local aend, trend = ARGV[5], ARGV[6]
if xstate == 'KILLING' or xstate == 'KILLED' then
    aend, trend = 'KILLED', 'KILLED'
end
local fields = {'a' .. n .. ':state', aend, 'state', trend}
if ARGV[7] ~= '' and trend ~= 'KILLED' then
    fields[#fields + 1] = 'outputs'
    fields[#fields + 1] = ARGV[7]
end
if ARGV[10] ~= '' then
    fields[#fields + 1] = 'a' .. n .. ':reason'
    fields[#fields + 1] = ARGV[10]
end
if trend == 'RETRYING' then
    fields[#fields + 1] = 'retryAt'
    fields[#fields + 1] = ARGV[8]
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('RPUSH', KEYS[3], ahist(n, aend, ARGV[3]), hist(trend, ARGV[3]))
for i = 13, #ARGV, 1000 do  -- in chunks: unpack() fails past ~8000 values
    redis.call('RPUSH', KEYS[7], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('DEL', KEYS[5])
redis.call('ZADD', KEYS[6], ARGV[9], ARGV[1] .. '|' .. ARGV[2])
event(KEYS[4], 'a', ARGV[2], task, n, aend, ARGV[3])
event(KEYS[4], 't', ARGV[2], task, '', trend, ARGV[3])
if ARGV[11] ~= '' and trend ~= 'RETRYING' then
    local klass = 'ok'
    if trend == 'FAILED' or trend == 'KILLED' or trend == 'CANCELLED' then klass = 'bad'
    elseif trend == 'WARNING' then klass = 'warn' end
    local out = {'OK', trend}
    for _, v in ipairs(child_end(KEYS[8], KEYS[9], KEYS[10], KEYS[6], ARGV[2], klass, task,
            ARGV[12], ARGV[11], ARGV[1])) do
        out[#out + 1] = v
    end
    return out
end
return {'OK', trend}
