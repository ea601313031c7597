-- A worker records how its attempt ended, and with it the task run.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = task run hash      P:{EID}:tr:TRID
-- KEYS[3] = events stream      P:{EID}:events
-- KEYS[4] = lease              P:{EID}:tr:TRID:lease
-- KEYS[5] = active zset        P:active
-- KEYS[6] = metrics list       P:{EID}:metrics
-- KEYS[7..9] = for a child of a flowable: the flowable's hash, ended set and values list;
--              for a top-level task run: P:{EID}:trkey, P:{EID}:trs, P:{EID}:tv, then
-- KEYS[10 + 2i], KEYS[11 + 2i] = hash and queue list of the i-th next task run (below)
-- ARGV[1] = execution id, ARGV[2] = task run id, ARGV[3] = date (ISO)
-- ARGV[4] = attempt number n, ARGV[5] = attempt end state, ARGV[6] = task run state
--           (SUCCESS, WARNING, FAILED, KILLED, or RETRYING to wait for attempt n+1)
-- ARGV[7] = outputs JSON ("" for none), ARGV[8] = retry at (epoch s, "" if none)
-- ARGV[9] = active deadline (epoch s), ARGV[10] = error message ("" for none)
-- ARGV[11] = for a child of a flowable, 1 if it is in the flowable's errors branch else 0;
--            "" for a top-level task run. ARGV[12] = its iteration ("" outside loops)
-- ARGV[13] = m, the number of metric entries; ARGV[14 .. 13 + m] = metric entries, JSON
-- For a top-level task run, what follows it was decided for one end state:
-- ARGV[14 + m] = that state ("" if nothing was decided), ARGV[15 + m] = what follows:
--   NEXT: ARGV[16 + m] = pending deadline, ARGV[17 + m + 7i ..] = the i-th next task run
--         as in create.lua; they are created (and their messages pushed) in this step;
--   END:  ARGV[16 + m] = now (epoch s), ARGV[17 + m] = key prefix P; the execution ends
--         in this step (and starts its retention in P:idx:ended), in the worst
--         state of its top-level task runs, if every other task run has ended and no
--         parent execution waits for it (else the orchestrator ends it).
-- Either happens only if the task run did end in that state and the execution is not
-- being killed.
--
-- Fencing: only the live attempt n of a RUNNING task run may end it. A late result of a
-- superseded attempt, or any result after the execution was killed, changes nothing but
-- that attempt's own record.
-- Returns {status, task run state} (status OK or STALE), followed, for a child of a
-- flowable that ended, by what child_end() returns: its end counted in the same step;
-- for a top-level task run whose next task runs were created, by 'NEXT' and the
-- execution's state (a PAUSED one holds them); when the execution ended, by 'END' and its
-- state.
local n = ARGV[4]
local t = redis.call('HMGET', KEYS[2], 'state', 'taskId', 'attempts', 'a' .. n .. ':state', 'h')
local st, task, astate, h = t[1], t[2], t[4], t[5]
if not st then return {'STALE', ''} end
if st ~= 'RUNNING' or t[3] ~= n then
    if astate == 'RUNNING' then
        redis.call('HSET', KEYS[2], 'a' .. n .. ':state', 'KILLED',
            'h', happend(h, ahist(n, 'KILLED', ARGV[3])))
    end
    return {'STALE', st}
end
local x = redis.call('HMGET', KEYS[1], 'state', 'triggerExecutionId')
local xstate = x[1]
local aend, trend = ARGV[5], ARGV[6]
if xstate == 'KILLING' or xstate == 'KILLED' then
    aend, trend = 'KILLED', 'KILLED'
end
local fields = {'a' .. n .. ':state', aend, 'state', trend,
    'h', happend(h, ahist(n, aend, ARGV[3]), hist(trend, ARGV[3]))}
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
local m = tonumber(ARGV[13])
for i = 14, 13 + m, 1000 do  -- in chunks: unpack() fails past ~8000 values
    redis.call('RPUSH', KEYS[6], unpack(ARGV, i, math.min(i + 999, 13 + m)))
end
redis.call('DEL', KEYS[4])
note('a', ARGV[2], task, n, aend, ARGV[3])
note('t', ARGV[2], task, '', trend, ARGV[3])
local member = ARGV[1] .. '|' .. ARGV[2]

if ARGV[11] ~= '' then  -- a child of a flowable
    emit(KEYS[3])
    if trend == 'RETRYING' then
        redis.call('ZADD', KEYS[5], ARGV[9], member)
        return {'OK', trend}
    end
    local klass = 'ok'
    if trend == 'FAILED' or trend == 'KILLED' or trend == 'CANCELLED' then klass = 'bad'
    elseif trend == 'WARNING' then klass = 'warn' end
    local counted, left = child_end(KEYS[7], KEYS[8], KEYS[9], KEYS[5], ARGV[2], klass, task,
        ARGV[12], ARGV[11], ARGV[1])
    -- Kept active until advanced (unless nothing follows it), so a crash before that is
    -- recovered by the reconciler.
    if not left then redis.call('ZADD', KEYS[5], ARGV[9], member) end
    local out = {'OK', trend}
    for _, v in ipairs(counted) do out[#out + 1] = v end
    return out
end

local then_ = ARGV[14 + m] ~= '' and ARGV[14 + m] == trend
    and xstate ~= 'KILLING' and not TERMINAL[xstate]
local out = {'OK', trend}
if then_ and ARGV[15 + m] == 'NEXT' then
    -- Its successors exist from now on: it needs no advancing, so it leaves the active set.
    redis.call('ZREM', KEYS[5], member)
    out[3], out[4] = 'NEXT', xstate
    local K = {trkey = KEYS[7], trs = KEYS[8], active = KEYS[5], tv = KEYS[9]}
    create_runs(xstate, ARGV[1], ARGV[3], ARGV[16 + m], K, KEYS, 10, ARGV, 17 + m,
        (#ARGV - 16 - m) / 7)
elseif then_ and ARGV[15 + m] == 'END' and xstate == 'RUNNING' and not x[2] then
    -- The execution's end: the worst state among its top-level task runs, if all ended.
    local prefix = ARGV[17 + m]
    local rank = {KILLED = 4, FAILED = 3, CANCELLED = 3, WARNING = 2}
    local worst = rank[trend] or 0
    for _, trid in ipairs(redis.call('LRANGE', KEYS[8], 0, -1)) do
        if trid ~= ARGV[2] then
            local r = redis.call('HMGET', prefix .. ':{' .. ARGV[1] .. '}:tr:' .. trid, 'state',
                'parentTaskRunId')
            if not TERMINAL[r[1]] then worst = -1 break end
            if r[2] == '' or not r[2] then worst = math.max(worst, rank[r[1]] or 0) end
        end
    end
    if worst >= 0 then
        local final = ({'WARNING', 'FAILED', 'KILLED'})[worst - 1] or 'SUCCESS'
        exec_move(KEYS[1], prefix, ARGV[1], final, ARGV[3])
        redis.call('ZADD', prefix .. ':idx:ended', ARGV[16 + m], ARGV[1])
        redis.call('ZREM', KEYS[5], member)
        out[3], out[4] = 'END', final
    else
        redis.call('ZADD', KEYS[5], ARGV[9], member)
    end
else
    -- Kept active until advanced, so a crash before that is recovered by the reconciler.
    redis.call('ZADD', KEYS[5], ARGV[9], member)
end
emit(KEYS[3])
return out
