-- A worker claims a task run and starts its next attempt.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = task run hash      P:{EID}:tr:TRID
-- KEYS[3] = events stream      P:{EID}:events
-- KEYS[4] = lease              P:{EID}:tr:TRID:lease
-- KEYS[5] = active zset        P:active
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = task run id
-- ARGV[4] = date (ISO), ARGV[5] = now (epoch seconds), ARGV[6] = worker id
-- ARGV[7] = lease (ms), ARGV[8] = "1" when the caller knows the lease holder is dead
-- ARGV[9] = deliveries lost to dead workers after which the task run fails
--
-- Returns one of:
--   {'MISSING'}                      no such execution or task run
--   {'DONE', state}                  the task run already ended (advance again, idempotent)
--   {'KILLED'}                       the execution is being killed: the task run ended KILLED
--   {'WAIT', ms}                     not due yet (a retry delay), try again later
--   {'PAUSED'}                       the execution is paused (resume sends it again) or
--                                    queued behind a concurrency limit (so is its start)
--   {'BUSY', ms, holder}             another worker holds a live lease on it
--   {'START', n, taskId, parent, value, namespace, flowId, revision, firstStart, iteration}
-- One read of each hash: this runs once per delivery, on the hot path.
local x = redis.call('HMGET', KEYS[1], 'state', 'namespace', 'flowId', 'flowRevision')
local t = redis.call('HMGET', KEYS[2], 'state', 'taskId', 'attempts', 'parentTaskRunId',
    'value', 'firstStart', 'iteration', 'retryAt', 'h')
local xstate, st = x[1], t[1]
if not xstate or not st then return {'MISSING'} end
local trid, date, now = ARGV[3], ARGV[4], tonumber(ARGV[5])
local task, h = t[2], t[9]
local member = ARGV[2] .. '|' .. trid
if TERMINAL[st] then return {'DONE', st} end

local n = tonumber(t[3] or '0')

if xstate == 'KILLING' or TERMINAL[xstate] then
    -- A task run of a killed execution never starts (and a lost one is not resumed).
    if st == 'RUNNING' and (n == 0 or (ARGV[8] ~= '1' and redis.call('GET', KEYS[4]))) then
        return {'BUSY', redis.call('PTTL', KEYS[4]), redis.call('GET', KEYS[4]) or ''}
    end
    kill_run(KEYS[2], trid, task, st, n, h, date)
    emit(KEYS[3])
    return {'KILLED'}
end
if (xstate == 'PAUSED' or xstate == 'QUEUED') and st ~= 'RUNNING' then return {'PAUSED'} end

if st == 'RETRYING' then
    local at = tonumber(t[8] or '0')
    if at > now then return {'WAIT', math.ceil((at - now) * 1000)} end
end

if st == 'PAUSED' then return {'PAUSED'} end
local claimed = false
if st == 'RUNNING' then
    local holder = redis.call('GET', KEYS[4])
    if holder and ARGV[8] ~= '1' then
        return {'BUSY', redis.call('PTTL', KEYS[4]), holder}
    end
    -- The worker of attempt n died (its lease expired): that attempt is RESUBMITTED.
    if n > 0 then
        h = happend(h, ahist(n, 'RESUBMITTED', date))
        redis.call('HSET', KEYS[2], 'a' .. n .. ':state', 'RESUBMITTED',
            'a' .. n .. ':reason', 'worker lost', 'h', h)
        note('a', trid, task, n, 'RESUBMITTED', date)
    end
    local lost = redis.call('HINCRBY', KEYS[2], 'lost', 1)
    if lost >= tonumber(ARGV[9]) then
        redis.call('HSET', KEYS[2], 'state', 'FAILED', 'error',
            'worker lost ' .. lost .. ' times while running this task run',
            'h', happend(h, hist('FAILED', date)))
        note('t', trid, task, '', 'FAILED', date)
        emit(KEYS[3])
        return {'DONE', 'FAILED'}
    end
elseif allowed(st, 'RUNNING') then
    claimed = true  -- moves to RUNNING below, with the attempt, in one write
    note('t', trid, task, '', 'RUNNING', date)
else
    return {'WAIT', 1000}
end

n = n + 1
local first_start = t[6] or ARGV[5]
if claimed then
    h = happend(h, hist('RUNNING', date), ahist(n, 'RUNNING', date))
else
    h = happend(h, ahist(n, 'RUNNING', date))
end
redis.call('HSET', KEYS[2], 'state', 'RUNNING', 'attempts', n, 'a' .. n .. ':state', 'RUNNING',
    'a' .. n .. ':worker', ARGV[6], 'firstStart', first_start, 'h', h)
note('a', trid, task, n, 'RUNNING', date)
redis.call('SET', KEYS[4], ARGV[6], 'PX', ARGV[7])
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[7]) / 1000, member)

if xstate == 'CREATED' or xstate == 'RESTARTED' then
    exec_move(KEYS[1], ARGV[1], ARGV[2], 'RUNNING', date)
end
emit(KEYS[3])

return {'START', n, task, t[4] or '', t[5] or '', x[2], x[3], x[4], first_start, t[7] or ''}
