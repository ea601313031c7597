-- Shared helpers, prepended to every script together with ALLOWED (generated from
-- executor.state.TRANSITIONS, so Lua enforces the one Python table).
-- States and ISO dates never contain quotes, so JSON is built by concatenation.

local function allowed(from, to)
    return from == to or (ALLOWED[from] ~= nil and ALLOWED[from][to] == true)
end

local function hist(state, date)
    return '{"state":"' .. state .. '","date":"' .. date .. '"}'
end

local function ahist(n, state, date)
    return '{"attempt":' .. n .. ',"state":"' .. state .. '","date":"' .. date .. '"}'
end

local function event(stream, kind, trid, task, n, state, date)
    redis.call('XADD', stream, 'MAXLEN', '~', 100000, '*',
        'k', kind, 'tr', trid, 'task', task, 'a', n, 's', state, 'd', date)
end

-- Move an execution to `to` if the table allows it; keeps the per-state index in step.
-- Returns 'OK', 'NOOP' or 'INVALID'.
local function exec_move(xkey, xhist, stream, prefix, eid, to, date)
    local cur = redis.call('HGET', xkey, 'state')
    if cur == to then return 'NOOP' end
    if not allowed(cur, to) then return 'INVALID' end
    redis.call('HSET', xkey, 'state', to)
    redis.call('RPUSH', xhist, hist(to, date))
    local created = redis.call('HGET', xkey, 'created') or '0'
    redis.call('ZREM', prefix .. ':idx:state:' .. cur, eid)
    redis.call('ZADD', prefix .. ':idx:state:' .. to, created, eid)
    event(stream, 'x', '', '', '', to, date)
    -- Execution changes only, for waiters (P:{EID}:exec:ev, same hash tag).
    redis.call('XADD', xkey .. ':ev', 'MAXLEN', '~', 1000, '*', 's', to, 'd', date)
    return 'OK'
end
