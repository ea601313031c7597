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
            exec_move(base, base .. ':h', prefix .. ':{' .. nxt .. '}:events', prefix, nxt,
                'CREATED', date)
            redis.call('RPUSH', prefix .. ':promoted', nxt)
        end
    end
end

-- Move an execution to `to` if the table allows it; keeps the per-state index in step,
-- and frees its concurrency slot when it ends. Returns 'OK', 'NOOP' or 'INVALID'.
exec_move = function(xkey, xhist, stream, prefix, eid, to, date)
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
    if TERMINAL[to] then
        local limit = tonumber(redis.call('HGET', xkey, 'concLimit') or '0')
        if limit > 0 then
            local f = redis.call('HMGET', xkey, 'namespace', 'flowId')
            release_slot(prefix, f[1], f[2], eid, limit, date)
        end
    end
    return 'OK'
end
