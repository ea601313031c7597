-- Count the end of a child of a flowable task run, once, and claim what starts next.
--
-- KEYS[1] = flowable task run hash    P:{EID}:tr:PARENT
-- KEYS[2] = its set of ended children  P:{EID}:tr:PARENT:ended
-- KEYS[3] = its loop values list       P:{EID}:tr:PARENT:values
-- KEYS[4] = active zset                P:active
-- ARGV[1] = child task run id, ARGV[2] = class: ok, warn or bad
-- ARGV[3] = child task id, ARGV[4] = child iteration ("" outside loops)
-- ARGV[5] = 1 if the child belongs to the flowable's errors branch, ARGV[6] = execution id
--
-- Counting is idempotent (a child is counted once, whoever advances it, however often),
-- and so is the claim: a repeated call returns the successors claimed the first time.
-- When nothing follows yet (siblings still running), the child leaves the active set here.
-- Returns {'PARENT', state} if the flowable is gone or ended (killed), else
-- {status, done, bad, warn, expected, mode, plan, pTaskId, pParent, pValue, pIteration,
--  n, slot1..slotn, value1..valuen} with status OK, DUP or ERR (an errors-branch child:
-- the orchestrator walks that branch itself).
local p = redis.call('HMGET', KEYS[1], 'state', 'mode', 'T', 'total', 'plan', 'taskId',
    'parentTaskRunId', 'value', 'iteration')
if not p[1] or TERMINAL[p[1]] then return {'PARENT', p[1] or ''} end
local first = redis.call('SADD', KEYS[2], ARGV[1]) == 1
local succ = {}
local mode, T, total = p[2], tonumber(p[3] or '1'), tonumber(p[4] or '0')
local status = ARGV[5] == '1' and 'ERR' or (first and 'OK' or 'DUP')
if status == 'OK' then
    local s = 0
    for i, task in ipairs(cjson.decode(p[5]).tasks) do
        if task == ARGV[3] then s = i - 1 end
    end
    if ARGV[4] ~= '' then s = s + tonumber(ARGV[4]) * T end
    redis.call('HINCRBY', KEYS[1], 'done', 1)
    if ARGV[2] == 'bad' then redis.call('HINCRBY', KEYS[1], 'bad', 1) end
    if ARGV[2] == 'warn' then redis.call('HINCRBY', KEYS[1], 'warn', 1) end
    local bad = tonumber(redis.call('HGET', KEYS[1], 'bad') or '0')
    if mode == 'seq' then
        if bad == 0 and s + 1 < total then succ = {s + 1} end
    elseif mode == 'par' then
        local cn = tonumber(redis.call('HGET', KEYS[1], 'cn') or '0')
        if bad == 0 and cn < total then
            redis.call('HINCRBY', KEYS[1], 'cn', 1)
            succ = {cn}
        end
    elseif mode == 'each' then
        if bad == 0 and s % T < T - 1 then
            succ = {s + 1}
        elseif bad == 0 then
            local cn = tonumber(redis.call('HGET', KEYS[1], 'cn') or '0')
            if cn < total then
                redis.call('HINCRBY', KEYS[1], 'cn', 1)
                succ = {cn * T}
            end
        end
    end
    redis.call('HINCRBY', KEYS[1], 'expected', #succ)
    redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], table.concat(succ, ','))
elseif status == 'DUP' then
    local claimed = redis.call('HGET', KEYS[1], 'c:' .. ARGV[1]) or ''
    for part in string.gmatch(claimed, '[^,]+') do succ[#succ + 1] = tonumber(part) end
end
local c = redis.call('HMGET', KEYS[1], 'done', 'bad', 'warn', 'expected')
local done, expected = tonumber(c[1] or '0'), tonumber(c[4] or '0')
if status ~= 'ERR' and mode ~= 'dag' and #succ == 0 and done < expected then
    redis.call('ZREM', KEYS[4], ARGV[6] .. '|' .. ARGV[1])
end
local out = {status, c[1] or '0', c[2] or '0', c[3] or '0', c[4] or '0', mode or '', p[5] or '',
    p[6] or '', p[7] or '', p[8] or '', p[9] or '', #succ}
for _, slot in ipairs(succ) do out[#out + 1] = slot end
for _, slot in ipairs(succ) do
    out[#out + 1] = redis.call('LINDEX', KEYS[3], math.floor(slot / T)) or ''
end
return out
