-- Shared helpers, prepended to every script together with ALLOWED (generated from
-- executor.state.TRANSITIONS, so Lua enforces the one Python table: " FROM>TO " pairs)
-- and TERMINAL.
-- States, ISO dates, ids and task ids never contain quotes or backslashes (ids are
-- validated), so JSON is built by concatenation.

local function allowed(from, to)
    return from == to or (from ~= nil and string.find(ALLOWED, ' ' .. from .. '>' .. to .. ' ', 1,
        true) ~= nil)
end

local function hist(state, date)
    return '{"state":"' .. state .. '","date":"' .. date .. '"}'
end

local function ahist(n, state, date)
    return '{"attempt":' .. n .. ',"state":"' .. state .. '","date":"' .. date .. '"}'
end

-- A state history lives in its own hash, field 'h': JSON entries joined by commas
-- (readers wrap them in brackets). Read with the fields a step reads anyway and written
-- with the fields it writes anyway, a history entry costs no command and no key.
local function happend(old, ...)
    local s = old or ''
    for _, entry in ipairs({...}) do
        if s == '' then s = entry else s = s .. ',' .. entry end
    end
    return s
end

-- Every state change a step makes is noted here and written to the execution's events
-- stream as one entry (field 'e', a JSON array) when the step ends: emit(stream).
local EV = {}

local function note(kind, trid, task, n, state, date)
    EV[#EV + 1] = '{"k":"' .. kind .. '","tr":"' .. trid .. '","task":"' .. task .. '","a":"'
        .. n .. '","s":"' .. state .. '","d":"' .. date .. '"}'
end

local function emit(stream)
    if #EV > 0 then
        redis.call('XADD', stream, 'MAXLEN', '~', 100000, '*', 'e', '[' .. table.concat(EV, ',') .. ']')
        EV = {}
    end
end

-- End task run `key` KILLED, with its attempt n when it is RUNNING one (n > 0), and
-- note the change; `h` is its history as read.
local function kill_run(key, trid, task, st, n, h, date)
    if st == 'RUNNING' and tonumber(n) > 0 then
        redis.call('HSET', key, 'a' .. n .. ':state', 'KILLED', 'state', 'KILLED',
            'h', happend(h, ahist(n, 'KILLED', date), hist('KILLED', date)))
    else
        redis.call('HSET', key, 'state', 'KILLED', 'h', happend(h, hist('KILLED', date)))
    end
    note('t', trid, task, '', 'KILLED', date)
end

local exec_move

-- Free the concurrency slot of execution `eid` of flow ns.fid (idempotent: SREM), drop it
-- from the flow's queue, and let queued executions take free slots in order: each moves
-- QUEUED -> CREATED and is listed in P:promoted for an orchestrator to start.
local function release_slot(prefix, ns, fid, eid, limit, date)
    local running = prefix .. ':conc:' .. ns .. ':' .. fid
    local queue = prefix .. ':concq:' .. ns .. ':' .. fid
    redis.call('SREM', running, eid)
    redis.call('LREM', queue, 0, eid)
    while limit > 0 and redis.call('SCARD', running) < limit do
        local nxt = redis.call('LPOP', queue)
        if not nxt then break end
        local base = prefix .. ':{' .. nxt .. '}:exec'
        if redis.call('HGET', base, 'state') == 'QUEUED' then
            redis.call('SADD', running, nxt)
            local mine = EV  -- the caller's notes stay the caller's
            EV = {}
            exec_move(base, prefix, nxt, 'CREATED', date)
            emit(prefix .. ':{' .. nxt .. '}:events')
            EV = mine
            redis.call('RPUSH', prefix .. ':promoted', nxt)
        end
    end
end

-- Move an execution to `to` if the table allows it; keeps the per-state index in step,
-- and frees its concurrency slot when it ends. The change is noted for the step's event
-- (the caller emits it). Returns 'OK', 'NOOP' or 'INVALID'.
exec_move = function(xkey, prefix, eid, to, date)
    local x = redis.call('HMGET', xkey, 'state', 'created', 'h', 'concLimit', 'namespace',
        'flowId')
    local cur = x[1]
    if cur == to then return 'NOOP' end
    if not allowed(cur, to) then return 'INVALID' end
    redis.call('HSET', xkey, 'state', to, 'h', happend(x[3], hist(to, date)))
    redis.call('ZREM', prefix .. ':idx:state:' .. cur, eid)
    redis.call('ZADD', prefix .. ':idx:state:' .. to, x[2] or '0', eid)
    note('x', '', '', '', to, date)
    -- Execution changes only, for waiters (P:{EID}:exec:ev, same hash tag).
    redis.call('XADD', xkey .. ':ev', 'MAXLEN', '~', 1000, '*', 's', to, 'd', date)
    local limit = tonumber(x[4] or '0')
    if TERMINAL[to] and limit > 0 then
        release_slot(prefix, x[5], x[6], eid, limit, date)
    end
    return 'OK'
end

-- The end of a child of a flowable, counted once (see child_ended.lua for the contract);
-- shared by child_ended.lua and finish.lua (which counts it in the same step). One read
-- and at most one write of the flowable's hash; the script is atomic, so counting on the
-- values read is safe. Returns the list child_ended.lua describes, and whether the child
-- left the active set here (nothing follows it yet and siblings are still running).
local function child_end(K1, K2, K3, K4, A1, A2, A3, A4, A5, A6)
    local p = redis.call('HMGET', K1, 'state', 'mode', 'T', 'total', 'plan', 'taskId',
        'parentTaskRunId', 'value', 'iteration', 'done', 'bad', 'warn', 'expected', 'cn')
    if not p[1] or TERMINAL[p[1]] then return {'PARENT', p[1] or ''}, false end
    local first = redis.call('SADD', K2, A1) == 1
    local succ = {}
    local mode, T, total = p[2], tonumber(p[3] or '1'), tonumber(p[4] or '0')
    local done, bad, warn = tonumber(p[10] or '0'), tonumber(p[11] or '0'), tonumber(p[12] or '0')
    local expected, cn = tonumber(p[13] or '0'), tonumber(p[14] or '0')
    local status = A5 == '1' and 'ERR' or (first and 'OK' or 'DUP')
    if status == 'OK' then
        local s = 0
        for i, task in ipairs(cjson.decode(p[5]).tasks) do
            if task == A3 then s = i - 1 end
        end
        if A4 ~= '' then s = s + tonumber(A4) * T end
        done = done + 1
        local f = {'done', done}
        if A2 == 'bad' then
            bad = bad + 1
            f[#f + 1], f[#f + 2] = 'bad', bad
        elseif A2 == 'warn' then
            warn = warn + 1
            f[#f + 1], f[#f + 2] = 'warn', warn
        end
        if bad == 0 and mode == 'seq' then
            if s + 1 < total then succ = {s + 1} end
        elseif bad == 0 and mode == 'each' and s % T < T - 1 then
            succ = {s + 1}
        elseif bad == 0 and (mode == 'par' or mode == 'each') and cn < total then
            succ = {cn * (mode == 'each' and T or 1)}  -- claim the next slot
            cn = cn + 1
            f[#f + 1], f[#f + 2] = 'cn', cn
        end
        if #succ > 0 then
            -- What it claimed, for a repeated call (none claimed reads back as none).
            expected = expected + #succ
            f[#f + 1], f[#f + 2] = 'expected', expected
            f[#f + 1], f[#f + 2] = 'c:' .. A1, table.concat(succ, ',')
        end
        redis.call('HSET', K1, unpack(f))
    elseif status == 'DUP' then
        local claimed = redis.call('HGET', K1, 'c:' .. A1) or ''
        for part in string.gmatch(claimed, '[^,]+') do succ[#succ + 1] = tonumber(part) end
    end
    local left = status ~= 'ERR' and mode ~= 'dag' and #succ == 0 and done < expected
    if left then redis.call('ZREM', K4, A6 .. '|' .. A1) end
    local out = {status, tostring(done), tostring(bad), tostring(warn), tostring(expected),
        mode or '', p[5] or '', p[6] or '', p[7] or '', p[8] or '', p[9] or '', #succ}
    for _, slot in ipairs(succ) do out[#out + 1] = slot end
    for _, slot in ipairs(succ) do
        out[#out + 1] = redis.call('LINDEX', K3, math.floor(slot / T)) or ''
    end
    return out, left
end

-- Create task runs once each: a task run is known by its identity
-- (taskId|parentTaskRunId|value[#iteration], hash K.trkey), so two processes deciding the
-- same next step create it once. The message of each new task run (Celery's, as kombu's
-- Redis transport stores it) is pushed onto its queue in the same step, unless the
-- execution holds new task runs (PAUSED: resume sends them; QUEUED: its start does), or
-- the task run is started by an orchestrator instead (message "").
-- K = {trkey, trs, active, tv}; keys[kb + 2i], keys[kb + 1 + 2i] = hash and queue list of
-- the i-th task run; args[ab + 7i .. ab + 6 + 7i] = identity, id, task id, parent id,
-- value, iteration ("" outside loops), message. A top-level task run (no parent, no
-- value) is not indexed in K.tv: its identity in K.trkey finds it.
-- Returns the flat list {id1, created1, id2, created2, ...} (created = 1 for a new one).
local function create_runs(xstate, eid, date, deadline, K, keys, kb, args, ab, n)
    local out = {}
    local hold = xstate == 'PAUSED' or xstate == 'QUEUED'
    for i = 0, n - 1 do
        local a, k = ab + 7 * i, kb + 2 * i
        local ident, trid, task, parent, value = args[a], args[a + 1], args[a + 2],
            args[a + 3], args[a + 4]
        if redis.call('HSETNX', K.trkey, ident, trid) == 1 then
            if args[a + 5] ~= '' then
                redis.call('HSET', keys[k], 'id', trid, 'taskId', task, 'parentTaskRunId', parent,
                    'value', value, 'state', 'CREATED', 'attempts', 0, 'iteration', args[a + 5],
                    'h', hist('CREATED', date))
            else
                redis.call('HSET', keys[k], 'id', trid, 'taskId', task, 'parentTaskRunId', parent,
                    'value', value, 'state', 'CREATED', 'attempts', 0, 'h', hist('CREATED', date))
            end
            if parent ~= '' or value ~= '' then
                redis.call('HSET', K.tv, task .. '|' .. value, trid)
            end
            redis.call('RPUSH', K.trs, trid)
            -- In the active set until a worker claims it: a message lost between the
            -- broker and a worker is sent again once the deadline passes.
            redis.call('ZADD', K.active, deadline, eid .. '|' .. trid)
            note('t', trid, task, '', 'CREATED', date)
            if args[a + 6] ~= '' and not hold then
                redis.call('LPUSH', keys[k + 1], args[a + 6])
            end
            out[#out + 1] = trid
            out[#out + 1] = 1
        else
            out[#out + 1] = redis.call('HGET', K.trkey, ident)
            out[#out + 1] = 0
        end
    end
    return out
end
