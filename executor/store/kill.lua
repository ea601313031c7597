-- Kill an execution: KILLING at once; task runs that are not running end KILLED and never
-- start; running ones are left to their worker, which sees KILLING and stops them (or, if
-- its lease is gone, they end KILLED here). If nothing is left running, the execution
-- ends KILLED in the same step (Kestra's kill is fire-and-forget, it never waits).
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = events stream      P:{EID}:events
-- KEYS[3] = task run id list   P:{EID}:trs
-- KEYS[4] = active zset        P:active
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = date
-- ARGV[4] = task run key prefix P:{EID}:tr:   (task run keys share the execution's hash tag)
--
-- Returns {'MISSING'}, {'ENDED', state}, or {'KILLING'|'KILLED', n running, trid...} with
-- the ids of the task runs still running (their workers will stop them).
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'MISSING'} end
if TERMINAL[cur] then return {'ENDED', cur} end
local date = ARGV[3]
exec_move(KEYS[1], ARGV[1], ARGV[2], 'KILLING', date)
local running = {}
for _, trid in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    local trkey = ARGV[4] .. trid
    local t = redis.call('HMGET', trkey, 'state', 'taskId', 'attempts', 'h')
    local st = t[1]
    if st and not TERMINAL[st] then
        local alive = st == 'RUNNING' and redis.call('EXISTS', trkey .. ':lease') == 1
        if alive then
            running[#running + 1] = trid
        else
            kill_run(trkey, trid, t[2], st, t[3] or '0', t[4], date)
            redis.call('ZREM', KEYS[4], ARGV[2] .. '|' .. trid)
        end
    end
end
if #running == 0 then
    exec_move(KEYS[1], ARGV[1], ARGV[2], 'KILLED', date)
    emit(KEYS[2])
    return {'KILLED', 0}
end
emit(KEYS[2])
local out = {'KILLING', #running}
for _, trid in ipairs(running) do out[#out + 1] = trid end
return out
