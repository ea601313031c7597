-- A worker records how its attempt ended, and with it the task run.
--
-- KEYS, by name (see _lib.lua):
--   exec     execution hash     P:{EID}:exec
--   tr       task run hash      P:{EID}:tr:TRID
--   events   events stream      P:{EID}:events
--   lease    lease              P:{EID}:tr:TRID:lease
--   active   active zset        P:active
--   metrics  metrics list       P:{EID}:metrics
--   for a task run to retry (trend RETRYING): xev (P:{EID}:exec:ev), idx (RUNNING,
--     RETRYING -> P:idx:state:STATE), sx (the same per scope, see _lib.lua): a RUNNING
--     execution goes RETRYING with it;
--   for a child of a flowable: flowable, ended, values (the flowable's hash, ended set
--     and loop values list, as in child_ended.lua);
--   for a top-level task run with what follows it decided: trkey, trs, tv
--     (P:{EID}:trkey, P:{EID}:trs, P:{EID}:tv), and
--     NEXT: rows = the next task runs' keys, as in create.lua;
--     END:  xev (P:{EID}:exec:ev), idx (RUNNING, SUCCESS, WARNING, FAILED, KILLED ->
--           P:idx:state:STATE), sx (the same per scope), ended (P:idx:ended),
--           siblings = [hash of each other top-level task run the execution may have,
--           created or not].
-- ARGV[1] = {eid, trid, date (ISO), n (attempt number), aend (attempt end state),
--            trend (task run state: SUCCESS, WARNING, FAILED, KILLED, RETRYING to wait
--            for attempt n+1, or RETRIED: a new execution runs the flow again, see
--            Orchestrator.retried), outputs (JSON, "" for none), retryAt (epoch s, "" if none),
--            deadline (active deadline, epoch s), error ("" for none),
--            metrics = [metric entry JSON, ...], holder (what the attempt's lease holds,
--            as start.lua set it; "" not to check it),
--            child = {errors (in the flowable's errors branch), iteration ("" outside
--            loops)} for a child of a flowable, absent for a top-level task run,
--            then = {state, kind = NEXT|END, deadline (pending), now (epoch s), rows =
--            [as in create.lua]} for a top-level task run whose successors were decided
--            for its end in `state` (absent if nothing was decided)}
-- NEXT: the next task runs are created (and their messages pushed) in this step.
-- END: the execution ends in this step (and starts its retention in P:idx:ended), in the
--   worst state of its top-level task runs, if every other task run has ended, the
--   siblings are all the task runs it has (LLEN trs = those that exist + 1), no parent
--   execution waits for it and the move needs no key it was not given (a flow with a
--   concurrency limit); else the orchestrator ends it.
-- Either happens only if the task run did end in `state` and the execution is not being
-- killed.
--
-- Fencing: only the live attempt n of a RUNNING task run may end it: the lease holds
-- this attempt's holder or, once it lapsed, nobody started a newer attempt (start.lua
-- counts every start in `attempts`). A late result of a superseded attempt, or any
-- result after the execution was killed, changes nothing but that attempt's own record.
-- Reply: {status, state}: status OK, STALE (a superseded attempt) or INVALID (the table
-- forbids the end asked for: nothing written), state the task run's state; with OK, for a
-- child of a flowable that ended, child = what child_end() returns (its end counted in
-- the same step); for a top-level task run whose next task runs were created,
-- next = the execution's state (a PAUSED one holds them); when the execution ended,
-- ended = its state.
local A, K = args()
local n = A.n
local t = redis.call('HMGET', K.tr, 'state', 'taskId', 'attempts', 'a' .. n .. ':state', 'h',
    'force')
local st, task, astate, h = t[1], t[2], t[4], t[5]
if not st then return reply({status = 'STALE', state = ''}) end
if st ~= 'RUNNING' or t[3] ~= n then
    -- The one write of a superseded attempt: its own record.
    if astate == 'RUNNING' then
        redis.call('HSET', K.tr, 'a' .. n .. ':state', 'KILLED',
            'h', happend(h, ahist(n, 'KILLED', A.date)))
    end
    return reply({status = 'STALE', state = st})
end
if A.holder and A.holder ~= '' then
    local held = redis.call('GET', K.lease)
    if held and held ~= A.holder then return reply({status = 'STALE', state = st}) end
end
local X = xread(K.exec, 'triggerExecutionId')
local xstate = X.state
local aend, trend = A.aend, A.trend
if (xstate == 'KILLING' or xstate == 'KILLED') and t[6] ~= '1' then
    aend, trend = 'KILLED', 'KILLED'
end
if not allowed(st, trend) or not allowed(astate, aend) then
    return reply({status = 'INVALID', state = st})
end
local member = A.eid .. '|' .. A.trid

-- What follows, decided (and checked) before anything is written.
local then_ = A['then']  -- `then` is a Lua keyword
local follow = nil  -- 'NEXT' or the execution's end state
if not A.child and then_ and then_.state == trend and xstate ~= 'KILLING'
        and not TERMINAL[xstate] then
    if then_.kind == 'NEXT' then
        if not rows_ok(then_.rows, K.rows) then error('finish: a next task run has no keys') end
        -- A successor whose queue key is not a list is left to the advance step (the
        -- attempt's end is recorded, the create step there refuses with the reason).
        if not bad_queue(then_.rows, K.rows) then follow = 'NEXT' end
    elseif then_.kind == 'END' and xstate == 'RUNNING' and not X.extra[1] and K.ended
            and K.siblings then
        local len = redis.call('LLEN', K.trs)
        -- The worst state among its top-level task runs, if all ended.
        local worst, found = rank(trend), 1
        if len > #K.siblings + 1 then worst = -1 end  -- task runs it was not told of
        for _, key in ipairs(worst < 0 and {} or K.siblings) do
            local r = redis.call('HMGET', key, 'state', 'parentTaskRunId')
            if r[1] then
                found = found + 1
                if not TERMINAL[r[1]] then worst = -1 break end
                if r[2] == '' or not r[2] then worst = math.max(worst, rank(r[1])) end
            end
        end
        if worst >= 0 and found == len then
            local final = by_rank(worst)
            if xcheck(X, final, K) == 'OK' then follow = final end
        end
    end
end

-- Checked; writes from here.
local fields = {'a' .. n .. ':state', aend, 'state', trend,
    'h', happend(h, ahist(n, aend, A.date), hist(trend, A.date))}
if A.outputs ~= '' and trend ~= 'KILLED' then
    fields[#fields + 1] = 'outputs'
    fields[#fields + 1] = A.outputs
end
if A.error ~= '' then
    fields[#fields + 1] = 'a' .. n .. ':reason'
    fields[#fields + 1] = A.error
end
if trend == 'RETRYING' or trend == 'RETRIED' then
    fields[#fields + 1] = 'retryAt'
    fields[#fields + 1] = A.retryAt
end
redis.call('HSET', K.tr, unpack(fields))
local metrics = A.metrics or {}
for i = 1, #metrics, 1000 do  -- in chunks: unpack() fails past ~8000 values
    redis.call('RPUSH', K.metrics, unpack(metrics, i, math.min(i + 999, #metrics)))
end
redis.call('DEL', K.lease)
note('a', A.trid, task, n, aend, A.date)
note('t', A.trid, task, '', trend, A.date)
-- As Kestra's ExecutorService does, the execution waits RETRYING with its task run (its
-- next attempt's start moves it back to RUNNING, in start.lua).
if trend == 'RETRYING' and xcheck(X, 'RETRYING', K) == 'OK' then
    xapply(X, A.eid, 'RETRYING', A.date, K)
end

if A.child then  -- a child of a flowable
    emit(K.events)
    -- Not an end its flowable counts: a retry (RETRIED ends the flowable with it).
    if trend == 'RETRYING' or trend == 'RETRIED' then
        redis.call('ZADD', K.active, A.deadline, member)
        return reply({status = 'OK', state = trend})
    end
    local klass = 'ok'
    if trend == 'FAILED' or trend == 'KILLED' or trend == 'CANCELLED' then klass = 'bad'
    elseif trend == 'WARNING' then klass = 'warn' end
    local counted, left = child_end(K, {child = A.trid, klass = klass, task = task,
        iteration = A.child.iteration, errors = A.child.errors, eid = A.eid})
    -- Kept active until advanced (unless nothing follows it), so a crash before that is
    -- recovered by the reconciler.
    if not left then redis.call('ZADD', K.active, A.deadline, member) end
    return reply({status = 'OK', state = trend, child = counted})
end

local out = {status = 'OK', state = trend}
if follow == 'NEXT' then
    -- Its successors exist from now on: it needs no advancing, so it leaves the active set.
    redis.call('ZREM', K.active, member)
    out.next = xstate
    create_runs(xstate, A.eid, A.date, then_.deadline, K, then_.rows, K.rows)
elseif follow then
    xapply(X, A.eid, follow, A.date, K)
    redis.call('ZADD', K.ended, then_.now, A.eid)
    redis.call('ZREM', K.active, member)
    out.ended = follow
else
    -- Kept active until advanced, so a crash before that is recovered by the reconciler.
    redis.call('ZADD', K.active, A.deadline, member)
end
emit(K.events)
return reply(out)
