-- A worker claims a task run and starts its next attempt.
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash     P:{EID}:exec
--   tr      task run hash      P:{EID}:tr:TRID
--   events  events stream      P:{EID}:events
--   lease   lease              P:{EID}:tr:TRID:lease
--   active  active zset        P:active
--   xev     execution changes  P:{EID}:exec:ev
--   idx     CREATED, RESTARTED, RETRYING, RUNNING -> P:idx:state:STATE (the execution
--           starts RUNNING with its first attempt, and goes RUNNING again from RETRYING
--           with the next attempt of a retried task run)
--   sx      the same for each scope of the execution (see xcheck in _lib.lua)
-- ARGV[1] = {eid, trid, date (ISO), now (epoch s), worker (id, recorded on the attempt),
--            holder (what the lease holds: the worker id and the attempt's own token,
--            so one process running several attempts knows each of its holders), lease
--            (ms), force (true when the caller knows the lease holder is dead), lost
--            (deliveries lost to dead workers after which the task run fails)}
--
-- Reply, by status:
--   MISSING                      no such execution or task run
--   DONE {state}                 the task run already ended (advance again, idempotent)
--   KILLED                       the execution is being killed: the task run ended KILLED
--   WAIT {ms}                    not due yet (a retry delay), try again later
--   PAUSED                       the execution is paused (resume sends it again) or
--                                queued behind a concurrency limit (so is its start)
--   BUSY {ms, holder}            another worker holds a live lease on it
--   INVALID {state}              the table forbids the move (nothing written)
--   START {attempt, taskId, parent, value, namespace, flowId, revision, firstStart,
--          iteration, resubmitted}
-- (DONE and START carry resubmitted = 1 when this step recorded the previous attempt
-- RESUBMITTED: its worker was lost; for the metrics)
-- One read of each hash: this runs once per delivery, on the hot path.
local A, K = args()
local X = xread(K.exec, 'namespace', 'flowId', 'flowRevision')
local t = redis.call('HMGET', K.tr, 'state', 'taskId', 'attempts', 'parentTaskRunId',
    'value', 'firstStart', 'iteration', 'retryAt', 'h', 'lost', 'force')
local xstate, st = X.state, t[1]
if not xstate or not st then return reply({status = 'MISSING'}) end
local trid, date, now = A.trid, A.date, tonumber(A.now)
local task, h = t[2], t[9]
if TERMINAL[st] then return reply({status = 'DONE', state = st}) end

local n = tonumber(t[3] or '0')

if (xstate == 'KILLING' or TERMINAL[xstate]) and t[11] ~= '1' then
    -- A task run of a killed execution never starts (and a lost one is not resumed).
    if st == 'RUNNING' and (n == 0 or (not A.force and redis.call('GET', K.lease))) then
        return reply({status = 'BUSY', ms = redis.call('PTTL', K.lease),
            holder = redis.call('GET', K.lease) or ''})
    end
    if not can_kill_run(st) then return reply({status = 'INVALID', state = st}) end
    -- Checked; writes from here.
    kill_run(K.tr, trid, task, st, n, h, date)
    emit(K.events)
    return reply({status = 'KILLED'})
end
if (xstate == 'PAUSED' or xstate == 'QUEUED') and st ~= 'RUNNING' then
    return reply({status = 'PAUSED'})
end

if st == 'RETRYING' then
    local at = tonumber(t[8] or '0')
    if at > now then return reply({status = 'WAIT', ms = math.ceil((at - now) * 1000)}) end
end

if st == 'PAUSED' then return reply({status = 'PAUSED'}) end
local claimed = false
local resubmitted = 0  -- 1 when attempt n is recorded RESUBMITTED (its worker was lost)
local fields = {}  -- written with the attempt's start
if st == 'RUNNING' then
    local holder = redis.call('GET', K.lease)
    if holder and not A.force then
        return reply({status = 'BUSY', ms = redis.call('PTTL', K.lease), holder = holder})
    end
    -- The worker of attempt n died (its lease expired): that attempt is RESUBMITTED.
    if n > 0 then
        local astate = redis.call('HGET', K.tr, 'a' .. n .. ':state')
        if allowed(astate, 'RESUBMITTED') then
            resubmitted = 1
            h = happend(h, ahist(n, 'RESUBMITTED', date))
            fields = {'a' .. n .. ':state', 'RESUBMITTED', 'a' .. n .. ':reason', 'worker lost'}
            note('a', trid, task, n, 'RESUBMITTED', date)
        end
    end
    local lost = tonumber(t[10] or '0') + 1
    fields[#fields + 1], fields[#fields + 2] = 'lost', lost
    if lost >= tonumber(A.lost) then
        if not allowed(st, 'FAILED') then return reply({status = 'INVALID', state = st}) end
        -- Checked; writes from here.
        fields[#fields + 1], fields[#fields + 2] = 'state', 'FAILED'
        fields[#fields + 1], fields[#fields + 2] = 'error',
            'worker lost ' .. lost .. ' times while running this task run'
        fields[#fields + 1], fields[#fields + 2] = 'h', happend(h, hist('FAILED', date))
        redis.call('HSET', K.tr, unpack(fields))
        note('t', trid, task, '', 'FAILED', date)
        emit(K.events)
        return reply({status = 'DONE', state = 'FAILED', resubmitted = resubmitted})
    end
elseif allowed(st, 'RUNNING') then
    claimed = true  -- moves to RUNNING below, with the attempt, in one write
else
    return reply({status = 'WAIT', ms = 1000})
end
local move = (xstate == 'CREATED' or xstate == 'RESTARTED' or xstate == 'RETRYING')
    and xcheck(X, 'RUNNING', K) or nil
if move and move ~= 'OK' then
    EV = {}
    return reply({status = 'INVALID', state = xstate})
end

-- Checked; writes from here.
if claimed then note('t', trid, task, '', 'RUNNING', date) end
n = n + 1
local first_start = t[6] or A.now
if claimed then
    h = happend(h, hist('RUNNING', date), ahist(n, 'RUNNING', date))
else
    h = happend(h, ahist(n, 'RUNNING', date))
end
redis.call('HSET', K.tr, 'state', 'RUNNING', 'attempts', n, 'a' .. n .. ':state', 'RUNNING',
    'a' .. n .. ':worker', A.worker, 'firstStart', first_start, 'h', h, unpack(fields))
-- A copy was taken: the one recorded to be recognised in its queue is not needed now.
redis.call('HDEL', K.tr, 'mq', 'mp', 'ms', 'mw')
note('a', trid, task, n, 'RUNNING', date)
redis.call('SET', K.lease, A.holder, 'PX', A.lease)
redis.call('ZADD', K.active, now + tonumber(A.lease) / 1000, A.eid .. '|' .. trid)
if move then xapply(X, A.eid, 'RUNNING', date, K) end
emit(K.events)

return reply({status = 'START', attempt = n, taskId = task, parent = t[4] or '',
    value = t[5] or '', namespace = X.extra[1], flowId = X.extra[2], revision = X.extra[3],
    firstStart = first_start, iteration = t[7] or '', resubmitted = resubmitted})
