-- A worker records how its attempt ended, and with it the task run.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = task run hash      P:{EID}:tr:TRID
-- KEYS[3] = task run history   P:{EID}:tr:TRID:h
-- KEYS[4] = events stream      P:{EID}:events
-- KEYS[5] = lease              P:{EID}:tr:TRID:lease
-- KEYS[6] = active zset        P:active
-- KEYS[7] = metrics list       P:{EID}:metrics
-- KEYS[8..10] = for a child of a flowable: the flowable's hash, ended set and values list;
--               for a top-level task run: P:{EID}:trkey, P:{EID}:trs, P:{EID}:tv, then
-- KEYS[11 + 3i ..] = hash, history and queue list of the i-th next task run (see below)
-- ARGV[1] = execution id, ARGV[2] = task run id, ARGV[3] = date (ISO)
-- ARGV[4] = attempt number n, ARGV[5] = attempt end state, ARGV[6] = task run state
--           (SUCCESS, WARNING, FAILED, KILLED, or RETRYING to wait for attempt n+1)
-- ARGV[7] = outputs JSON ("" for none), ARGV[8] = retry at (epoch s, "" if none)
-- ARGV[9] = active deadline (epoch s), ARGV[10] = error message ("" for none)
-- ARGV[11] = for a child of a flowable, 1 if it is in the flowable's errors branch else 0;
--            "" for a top-level task run. ARGV[12] = its iteration ("" outside loops)
-- ARGV[13] = m, the number of metric entries; ARGV[14 .. 13 + m] = metric entries, JSON
-- ARGV[14 + m] = for a top-level task run, the state its end was decided for ("" if
--                nothing was): when it ends in that state and the execution goes on, the
--                next task runs are created (and their messages pushed) in this step
-- ARGV[15 + m] = their pending deadline; ARGV[16 + m + 7i ..] = the i-th, as in create.lua
--
-- Fencing: only the live attempt n of a RUNNING task run may end it. A late result of a
-- superseded attempt, or any result after the execution was killed, changes nothing but
-- that attempt's own record.
-- Returns {status, task run state} (status OK or STALE), followed, for a child of a
-- flowable that ended, by what child_end() returns: its end counted in the same step;
-- for a top-level task run whose next task runs were created, by 'NEXT', the execution's
-- state and the (id, created) pairs of create_runs().
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
local m = tonumber(ARGV[13])
for i = 14, 13 + m, 1000 do  -- in chunks: unpack() fails past ~8000 values
    redis.call('RPUSH', KEYS[7], unpack(ARGV, i, math.min(i + 999, 13 + m)))
end
redis.call('DEL', KEYS[5])
local member = ARGV[1] .. '|' .. ARGV[2]
local nxt = ARGV[11] == '' and ARGV[14 + m] ~= '' and ARGV[14 + m] == trend
    and xstate ~= 'KILLING' and not TERMINAL[xstate]
if nxt then
    -- Its successors exist from now on: it needs no advancing, so it leaves the active set.
    redis.call('ZREM', KEYS[6], member)
else
    -- Kept active until advanced, so a crash before that is recovered by the reconciler.
    redis.call('ZADD', KEYS[6], ARGV[9], member)
end
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
if nxt then
    local out = {'OK', trend, 'NEXT', xstate}
    local K = {trkey = KEYS[8], trs = KEYS[9], events = KEYS[4], active = KEYS[6], tv = KEYS[10]}
    for _, v in ipairs(create_runs(xstate, ARGV[1], ARGV[3], ARGV[15 + m], K, KEYS, 11, ARGV,
            16 + m, (#ARGV - 15 - m) / 7)) do
        out[#out + 1] = v
    end
    return out
end
return {'OK', trend}
