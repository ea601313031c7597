-- A worker records how its attempt ended, and with it the task run.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = task run hash      P:{EID}:tr:TRID
-- KEYS[3] = task run history   P:{EID}:tr:TRID:h
-- KEYS[4] = events stream      P:{EID}:events
-- KEYS[5] = lease              P:{EID}:tr:TRID:lease
-- KEYS[6] = active zset        P:active
-- KEYS[7] = metrics list       P:{EID}:metrics
-- ARGV[1] = execution id, ARGV[2] = task run id, ARGV[3] = date (ISO)
-- ARGV[4] = attempt number n, ARGV[5] = attempt end state, ARGV[6] = task run state
--           (SUCCESS, WARNING, FAILED, KILLED, or RETRYING to wait for attempt n+1)
-- ARGV[7] = outputs JSON ("" for none), ARGV[8] = retry at (epoch s, "" if none)
-- ARGV[9] = active deadline (epoch s), ARGV[10] = error message ("" for none)
-- ARGV[11..] = metric entries, JSON
--
-- Fencing: only the live attempt n of a RUNNING task run may end it. A late result of a
-- superseded attempt, or any result after the execution was killed, changes nothing but
-- that attempt's own record.
-- Returns {status, task run state}: status OK or STALE.
local st = redis.call('HGET', KEYS[2], 'state')
if not st then return {'STALE', ''} end
local n = ARGV[4]
local task = redis.call('HGET', KEYS[2], 'taskId')
local astate = redis.call('HGET', KEYS[2], 'a' .. n .. ':state')
if st ~= 'RUNNING' or redis.call('HGET', KEYS[2], 'attempts') ~= n then
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
redis.call('HSET', KEYS[2], 'a' .. n .. ':state', aend, 'state', trend)
redis.call('RPUSH', KEYS[3], ahist(n, aend, ARGV[3]), hist(trend, ARGV[3]))
if ARGV[7] ~= '' and trend ~= 'KILLED' then redis.call('HSET', KEYS[2], 'outputs', ARGV[7]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'a' .. n .. ':reason', ARGV[10]) end
if trend == 'RETRYING' then redis.call('HSET', KEYS[2], 'retryAt', ARGV[8]) end
for i = 11, #ARGV, 1000 do  -- in chunks: unpack() fails past ~8000 values
    redis.call('RPUSH', KEYS[7], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('DEL', KEYS[5])
redis.call('ZADD', KEYS[6], ARGV[9], ARGV[1] .. '|' .. ARGV[2])
event(KEYS[4], 'a', ARGV[2], task, n, aend, ARGV[3])
event(KEYS[4], 't', ARGV[2], task, '', trend, ARGV[3])
return {'OK', trend}
