-- Count the end of a child of a flowable task run, once, and claim what starts next.
--
-- KEYS[1] = flowable task run hash   P:{EID}:tr:PARENT
-- KEYS[2] = its set of ended children P:{EID}:tr:PARENT:ended
-- KEYS[3] = its loop values list      P:{EID}:tr:PARENT:values
-- ARGV[1] = child task run id, ARGV[2] = class: ok, warn or bad
-- ARGV[3] = the child's slot (see executor/flowables.py Plan), ARGV[4] = 1 if the child
--           belongs to the flowable's errors branch
--
-- Counting is idempotent (a child is counted once, whoever advances it, however often),
-- and so is the claim: a repeated call returns the successors claimed the first time.
-- Returns {'DUP'|'OK', done, bad, warn, expected, plan, n, slot1..slotn, value1..valuen} or
-- {'ERR'} for an errors-branch child (the orchestrator walks that branch itself).
local first = redis.call('SADD', KEYS[2], ARGV[1]) == 1
if ARGV[4] == '1' then return {'ERR'} end
local succ = {}
if first then
    local mode = redis.call('HGET', KEYS[1], 'mode')
    local T = tonumber(redis.call('HGET', KEYS[1], 'T') or '1')
    local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
    local s = tonumber(ARGV[3])
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
else
    local claimed = redis.call('HGET', KEYS[1], 'c:' .. ARGV[1]) or ''
    for part in string.gmatch(claimed, '[^,]+') do succ[#succ + 1] = tonumber(part) end
end
local c = redis.call('HMGET', KEYS[1], 'done', 'bad', 'warn', 'expected', 'T', 'plan')
local T = tonumber(c[5] or '1')
local out = {first and 'OK' or 'DUP', c[1] or '0', c[2] or '0', c[3] or '0', c[4] or '0',
    c[6] or '', #succ}
for _, slot in ipairs(succ) do out[#out + 1] = slot end
for _, slot in ipairs(succ) do
    out[#out + 1] = redis.call('LINDEX', KEYS[3], math.floor(slot / T)) or ''
end
return out
