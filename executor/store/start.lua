-- A worker claims a task run and starts its next attempt.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = execution history  P:{EID}:exec:h
-- KEYS[3] = task run hash      P:{EID}:tr:TRID
-- KEYS[4] = task run history   P:{EID}:tr:TRID:h
-- KEYS[5] = events stream      P:{EID}:events
-- KEYS[6] = lease              P:{EID}:tr:TRID:lease
-- KEYS[7] = active zset        P:active
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
local t = redis.call('HMGET', KEYS[3], 'state', 'taskId', 'attempts', 'parentTaskRunId',
    'value', 'firstStart', 'iteration', 'retryAt')
local xstate, st = x[1], t[1]
if not xstate or not st then return {'MISSING'} end
local trid, date, now = ARGV[3], ARGV[4], tonumber(ARGV[5])
local task = t[2]
local member = ARGV[2] .. '|' .. trid
if TERMINAL[st] then return {'DONE', st} end

local n = tonumber(t[3] or '0')

if xstate == 'KILLING' or TERMINAL[xstate] then
    -- A task run of a killed execution never starts (and a lost one is not resumed).
    if st == 'RUNNING' and n > 0 and (ARGV[8] == '1' or not redis.call('GET', KEYS[6])) then
        redis.call('HSET', KEYS[3], 'a' .. n .. ':state', 'KILLED')
        redis.call('RPUSH', KEYS[4], ahist(n, 'KILLED', date))
    elseif st == 'RUNNING' then
        return {'BUSY', redis.call('PTTL', KEYS[6]), redis.call('GET', KEYS[6]) or ''}
    end
    redis.call('HSET', KEYS[3], 'state', 'KILLED')
    redis.call('RPUSH', KEYS[4], hist('KILLED', date))
    event(KEYS[5], 't', trid, task, '', 'KILLED', date)
    return {'KILLED'}
end
if (xstate == 'PAUSED' or xstate == 'QUEUED') and st ~= 'RUNNING' then return {'PAUSED'} end

if st == 'RETRYING' then
    local at = tonumber(t[8] or '0')
    if at > now then return {'WAIT', math.ceil((at - now) * 1000)} end
end

if st == 'PAUSED' then return {'PAUSED'} end
if st == 'RUNNING' then
    local holder = redis.call('GET', KEYS[6])
    if holder and ARGV[8] ~= '1' then
        return {'BUSY', redis.call('PTTL', KEYS[6]), holder}
    end
    -- The worker of attempt n died (its lease expired): that attempt is RESUBMITTED.
    if n > 0 then
        redis.call('HSET', KEYS[3], 'a' .. n .. ':state', 'RESUBMITTED',
            'a' .. n .. ':reason', 'worker lost')
        redis.call('RPUSH', KEYS[4], ahist(n, 'RESUBMITTED', date))
        event(KEYS[5], 'a', trid, task, n, 'RESUBMITTED', date)
    end
    local lost = redis.call('HINCRBY', KEYS[3], 'lost', 1)
    if lost >= tonumber(ARGV[9]) then
        redis.call('HSET', KEYS[3], 'state', 'FAILED', 'error',
            'worker lost ' .. lost .. ' times while running this task run')
        redis.call('RPUSH', KEYS[4], hist('FAILED', date))
        event(KEYS[5], 't', trid, task, '', 'FAILED', date)
        return {'DONE', 'FAILED'}
    end
elseif allowed(st, 'RUNNING') then
    st = 'CLAIMED'  -- moves to RUNNING below, with the attempt, in one write
    event(KEYS[5], 't', trid, task, '', 'RUNNING', date)
else
    return {'WAIT', 1000}
end

n = n + 1
local first_start = t[6] or ARGV[5]
redis.call('HSET', KEYS[3], 'state', 'RUNNING', 'attempts', n, 'a' .. n .. ':state', 'RUNNING',
    'a' .. n .. ':worker', ARGV[6], 'firstStart', first_start)
if st == 'CLAIMED' then
    redis.call('RPUSH', KEYS[4], hist('RUNNING', date), ahist(n, 'RUNNING', date))
else
    redis.call('RPUSH', KEYS[4], ahist(n, 'RUNNING', date))
end
event(KEYS[5], 'a', trid, task, n, 'RUNNING', date)
redis.call('SET', KEYS[6], ARGV[6], 'PX', ARGV[7])
redis.call('ZADD', KEYS[7], now + tonumber(ARGV[7]) / 1000, member)

if xstate == 'CREATED' or xstate == 'RESTARTED' then
    exec_move(KEYS[1], KEYS[2], KEYS[5], ARGV[1], ARGV[2], 'RUNNING', date)
end

return {'START', n, task, t[4] or '', t[5] or '', x[2], x[3], x[4], first_start, t[7] or ''}
