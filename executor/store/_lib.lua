-- Shared helpers, prepended to every script together with ALLOWED (generated from
-- executor.state.TRANSITIONS, so Lua enforces the one Python table: " FROM>TO " pairs)
-- and TERMINAL, and RANK and BY_RANK (from executor.engine.outcomes: how bad an end state
-- is when an execution ends).
--
-- The contract with Python (executor/store/redis.py, class _Step and the decoders at the
-- end of the module) is the same for every script:
--   * KEYS: every key the script touches, and no other (DESIGN.md rule 8: no key name is
--     built here). ARGV[1] is one JSON object: its field "k" names the keys, each name
--     mapping to an index in KEYS or to a table (object or array) of such; args() hands
--     the script the same table with each index replaced by the key. A key a step may
--     write but was not given is never guessed: the step refuses (writes nothing) or
--     leaves that part to the orchestrator, as each script says.
--   * ARGV[1]'s other fields are the named arguments. Numbers meant to be stored come as
--     strings, so Redis stores exactly what Python sent.
--   * The reply is one JSON object with named fields (reply()), decoded in one place in
--     Python into the named results of executor/store/base.py.
--   * Every step reads and checks everything first (existence, states, the transition
--     table, the keys it was given) and writes only after: Redis keeps the writes made
--     before an error inside a script, so a refused step must refuse before writing.
-- States, ISO dates, ids and task ids never contain quotes or backslashes (ids are
-- validated), so the history and event JSON below is built by concatenation.

-- In place: assigning the fields being traversed is allowed, and building a new table
-- instead costs a rehash at every power of two (most of a step's argument decoding).
local function resolve(layout)
    for name, v in pairs(layout) do
        if type(v) == 'table' then resolve(v) else layout[name] = KEYS[v] end
    end
    return layout
end

-- The step's named arguments A and named keys K.
local function args()
    local A = cjson.decode(ARGV[1])
    return A, resolve(A.k or {})
end

local function reply(t)
    return cjson.encode(t)
end

-- How bad an end state is when an execution's end is chosen (0 for SUCCESS and the rest),
-- and the end state of a rank: RANK and BY_RANK come from executor.engine.outcomes.
local function rank(state)
    return tonumber(string.match(RANK, ' ' .. state .. ':(%d) ') or '0')
end

local function by_rank(n)
    return string.match(BY_RANK, ' ' .. n .. ':(%u+) ')
end

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

-- May task run `st` (attempt n RUNNING when st is RUNNING and n > 0) end KILLED?
local function can_kill_run(st)
    return allowed(st, 'KILLED')
end

-- End task run `key` KILLED (can_kill_run() checked first), with its attempt n when it is
-- RUNNING one (n > 0), and note the change; `h` is its history as read.
local function kill_run(key, trid, task, st, n, h, date)
    if st == 'RUNNING' and tonumber(n) > 0 then
        redis.call('HSET', key, 'a' .. n .. ':state', 'KILLED', 'state', 'KILLED',
            'h', happend(h, ahist(n, 'KILLED', date), hist('KILLED', date)))
    else
        redis.call('HSET', key, 'state', 'KILLED', 'h', happend(h, hist('KILLED', date)))
    end
    note('t', trid, task, '', 'KILLED', date)
end

-- ---------------------------------------------------------------- execution moves
-- An execution's move is checked (xcheck) before a step writes anything and applied
-- (xapply) after. Its keys, in K: exec (the hash), xev (P:{EID}:exec:ev, its state
-- changes for waiters), idx (state -> P:idx:state:STATE: Python passes the index of
-- every state the move may come from, executor.state.allowed_sources(to), and of `to`),
-- sx (the same per scope of the execution: a list, one {state -> SCOPE:state:STATE} per
-- scope of executor.store.keys.Keys.scopes, which the search pages), and, for a move
-- that ends an execution of a flow with a concurrency limit, conc and concq
-- (P:conc:NS:FLOW, P:concq:NS:FLOW): its slot is freed in the same step; fends, flisten
-- and fstates (Python passes them with idx): a move to an end state appends the end to
-- the stream of Flow triggers (P:flowtrig:ends) while some flow listens
-- (P:flowtrig:listeners), a move to another state appends it while some flow lists that
-- state (P:flowtrig:states, see streamed()). Promoting the
-- next queued execution is a step of its own (promote.lua): the step that frees a slot
-- cannot know, without a read, whose keys that takes.

-- Read what a move needs of execution hash `key` (and `extra` fields, returned in order
-- as X.extra[i]) in one HMGET.
local function xread(key, ...)
    local v = redis.call('HMGET', key, 'state', 'created', 'h', 'concLimit', ...)
    local extra = {}
    for i = 5, #v do extra[i - 4] = v[i] end
    return {state = v[1], created = v[2], h = v[3], limit = tonumber(v[4] or '0') or 0,
        extra = extra}
end

-- 'OK', 'NOOP' (already there), 'INVALID' (missing, or the table forbids it) or 'KEYS'
-- (a key the move writes was not given).
local function xcheck(X, to, K)
    if X.state == nil then return 'INVALID' end
    if X.state == to then return 'NOOP' end
    if not allowed(X.state, to) then return 'INVALID' end
    if not (K.exec and K.xev and K.idx and K.idx[X.state] and K.idx[to] and K.sx) then
        return 'KEYS'
    end
    for _, sc in ipairs(K.sx) do
        if not (sc[X.state] and sc[to]) then return 'KEYS' end
    end
    if TERMINAL[to] and X.limit > 0 and not (K.conc and K.concq) then return 'KEYS' end
    return 'OK'
end

-- Does a move to `to` go to the stream of Flow triggers? An end while some flow has a
-- Flow trigger (one EXISTS); a move to another state while some flow's Flow trigger lists
-- it in `states` (one ZRANGEBYLEX on members STATE|NS:ID: '|' sorts before '}').
local function streamed(to, K)
    if not K.fends then return false end
    if TERMINAL[to] then return redis.call('EXISTS', K.flisten) == 1 end
    return K.fstates ~= nil and #redis.call('ZRANGEBYLEX', K.fstates, '[' .. to .. '|',
        '(' .. to .. '}', 'LIMIT', 0, 1) > 0
end

-- Apply a move xcheck() returned 'OK' for; `fields` (a flat list) are written with it.
-- X is updated, so a second move in the same step starts from here.
local function xapply(X, eid, to, date, K, fields)
    local h = happend(X.h, hist(to, date))
    if fields and #fields > 0 then
        redis.call('HSET', K.exec, 'state', to, 'h', h, unpack(fields))
    else
        redis.call('HSET', K.exec, 'state', to, 'h', h)
    end
    redis.call('ZREM', K.idx[X.state], eid)
    redis.call('ZADD', K.idx[to], X.created or '0', eid)
    for _, sc in ipairs(K.sx) do
        redis.call('ZREM', sc[X.state], eid)
        redis.call('ZADD', sc[to], X.created or '0', eid)
    end
    note('x', '', '', '', to, date)
    redis.call('XADD', K.xev, 'MAXLEN', '~', 1000, '*', 's', to, 'd', date)
    if TERMINAL[to] and X.limit > 0 then
        redis.call('SREM', K.conc, eid)
        redis.call('LREM', K.concq, 0, eid)
    end
    -- Flow triggers: the change is appended to their stream in the same step, so none
    -- is lost between it and its evaluation; only while some flow listens to it
    -- (streamed()), so a move costs one read else.
    if streamed(to, K) then
        local f = redis.call('HMGET', K.exec, 'namespace', 'flowId', 'flowRevision')
        redis.call('XADD', K.fends, 'MAXLEN', '~', FLOW_ENDS_MAXLEN, '*', 'eid', eid,
            'ns', f[1] or '', 'fid', f[2] or '', 'rev', f[3] or '', 's', to, 'd', date)
    end
    X.state, X.h = to, h
end

-- ---------------------------------------------------------------- flowable children
-- The end of a child of a flowable, counted once (see child_ended.lua for the contract);
-- shared by child_ended.lua and finish.lua (which counts it in the same step). One read
-- and at most one write of the flowable's hash; the script is atomic, so counting on the
-- values read is safe. F = {flowable, ended, values, active} keys; C = {child, klass,
-- task, iteration, errors, eid}. Returns the named result child_ended.lua describes, and
-- whether the child left the active set here (nothing follows it yet and siblings are
-- still running).
local function child_end(F, C)
    local p = redis.call('HMGET', F.flowable, 'state', 'mode', 'T', 'total', 'plan', 'taskId',
        'parentTaskRunId', 'value', 'iteration', 'done', 'bad', 'warn', 'expected', 'cn')
    if not p[1] or TERMINAL[p[1]] then return {status = 'PARENT', state = p[1] or ''}, false end
    local first = redis.call('SADD', F.ended, C.child) == 1
    local succ = {}
    local mode, T, total = p[2], tonumber(p[3] or '1'), tonumber(p[4] or '0')
    local done, bad, warn = tonumber(p[10] or '0'), tonumber(p[11] or '0'), tonumber(p[12] or '0')
    local expected, cn = tonumber(p[13] or '0'), tonumber(p[14] or '0')
    local status = C.errors and 'ERR' or (first and 'OK' or 'DUP')
    if status == 'OK' then
        local s = 0
        for i, task in ipairs(cjson.decode(p[5]).tasks) do
            if task == C.task then s = i - 1 end
        end
        if C.iteration ~= '' then s = s + tonumber(C.iteration) * T end
        done = done + 1
        local f = {'done', done}
        if C.klass == 'bad' then
            bad = bad + 1
            f[#f + 1], f[#f + 2] = 'bad', bad
        elseif C.klass == 'warn' then
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
            f[#f + 1], f[#f + 2] = 'c:' .. C.child, table.concat(succ, ',')
        end
        redis.call('HSET', F.flowable, unpack(f))
    elseif status == 'DUP' then
        local claimed = redis.call('HGET', F.flowable, 'c:' .. C.child) or ''
        for part in string.gmatch(claimed, '[^,]+') do succ[#succ + 1] = tonumber(part) end
    end
    local left = status ~= 'ERR' and mode ~= 'dag' and #succ == 0 and done < expected
    if left then redis.call('ZREM', F.active, C.eid .. '|' .. C.child) end
    local successors = {}
    for i, slot in ipairs(succ) do
        successors[i] = {slot, redis.call('LINDEX', F.values, math.floor(slot / T)) or ''}
    end
    return {status = status, done = done, bad = bad, warn = warn, expected = expected,
        mode = mode or '', plan = p[5] or '', taskId = p[6] or '', parent = p[7] or '',
        value = p[8] or '', iteration = p[9] or '', successors = successors}, left
end

-- ---------------------------------------------------------------- creating task runs
-- Create task runs once each: a task run is known by its identity
-- (taskId|parentTaskRunId|value[#iteration], hash K.trkey), so two processes deciding the
-- same next step create it once. The message of each new task run (Celery's, as kombu's
-- Redis transport stores it) is pushed onto its queue in the same step, unless the
-- execution holds new task runs (PAUSED: resume sends them; QUEUED: its start does), or
-- the task run is started by an orchestrator instead (message "").
-- K = {trkey, trs, active, tv}; rows[i] = {ident, id, task, parent, value, iteration ("" outside
-- loops), message}, keys[i] = {tr = its hash, queue = its queue's list (only with a
-- message)}. A top-level task run (no parent, no value) is not indexed in K.tv: its
-- identity in K.trkey finds it.

-- True if every row has the keys it will write (checked before the step writes).
local function rows_ok(rows, keys)
    for i, row in ipairs(rows or {}) do
        local k = keys and keys[i]
        if not k or not k.tr or (row.message ~= '' and not k.queue) then return false end
    end
    return true
end

-- The first queue key a row would push its message onto that holds a value of another
-- type than a list, and that type (nil if none). A workerGroup is a raw Redis key: LPUSH
-- onto a string or a sorted set fails, and a script has no rollback, so every step
-- checks this before its first write rather than failing half-way through create_runs.
local function bad_queue(rows, keys)
    for i, row in ipairs(rows or {}) do
        local k = keys and keys[i]
        if row.message ~= '' and k and k.queue then
            local t = redis.call('TYPE', k.queue)['ok']
            if t ~= 'none' and t ~= 'list' then return k.queue, t end
        end
    end
    return nil
end

-- Returns the list {{id, created}, ...} (created true for a new one).
local function create_runs(xstate, eid, date, deadline, K, rows, keys)
    local out = {}
    local hold = xstate == 'PAUSED' or xstate == 'QUEUED'
    for i, row in ipairs(rows or {}) do
        local k = keys[i]
        local trid, task, parent, value = row.id, row.task, row.parent, row.value
        if redis.call('HSETNX', K.trkey, row.ident, trid) == 1 then
            -- A new task run starts in CREATED: a creation, not a move.
            if row.iteration ~= '' then
                redis.call('HSET', k.tr, 'id', trid, 'taskId', task, 'parentTaskRunId', parent,
                    'value', value, 'state', 'CREATED', 'attempts', 0, 'iteration', row.iteration,
                    'h', hist('CREATED', date))
            else
                redis.call('HSET', k.tr, 'id', trid, 'taskId', task, 'parentTaskRunId', parent,
                    'value', value, 'state', 'CREATED', 'attempts', 0, 'h', hist('CREATED', date))
            end
            -- Kestra's forceExecution (afterExecution): runs although the execution ended.
            if row.force == '1' then redis.call('HSET', k.tr, 'force', '1') end
            if parent ~= '' or value ~= '' then
                redis.call('HSET', K.tv, task .. '|' .. value, trid)
            end
            redis.call('RPUSH', K.trs, trid)
            -- In the active set until a worker claims it: a message lost between the
            -- broker and a worker is sent again once the deadline passes.
            redis.call('ZADD', K.active, deadline, eid .. '|' .. trid)
            note('t', trid, task, '', 'CREATED', date)
            if row.message ~= '' and not hold then
                redis.call('LPUSH', k.queue, row.message)
                -- The copy sent, to recognise it in its queue (resend.lua).
                redis.call('HSET', k.tr, 'mq', k.queue, 'mp', row.message, 'ms', date)
            end
            out[#out + 1] = {trid, true}
        else
            out[#out + 1] = {redis.call('HGET', K.trkey, row.ident), false}
        end
    end
    return out
end
