-- Restart an ended execution in place (same id), as Kestra does: the execution gets
-- RESTARTED; task runs that FAILED or were KILLED get RESTARTED and will make a new
-- attempt (numbers continue); successful task runs keep their state and outputs; task
-- runs of the errors and finally branches are dropped so they run again if needed.
-- It leaves the retention index (P:idx:ended), so the sweep does not delete it.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = events stream      P:{EID}:events
-- KEYS[3] = task run id list   P:{EID}:trs
-- KEYS[4] = identity hash      P:{EID}:trkey
-- KEYS[5] = active zset        P:active
-- KEYS[6] = ended index        P:idx:ended
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = date, ARGV[4] = task run key prefix
-- ARGV[5] = pending deadline (epoch s), ARGV[6..] = task ids of errors/finally branches
--
-- Returns {'MISSING'}, {'REFUSED', state}, or {'OK', trid...} with the restarted task runs.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'MISSING'} end
if cur ~= 'FAILED' and cur ~= 'KILLED' then return {'REFUSED', cur} end
local date = ARGV[3]
local dropped = {}
for i = 6, #ARGV do dropped[ARGV[i]] = true end
redis.call('ZREM', KEYS[6], ARGV[2])
exec_move(KEYS[1], ARGV[1], ARGV[2], 'RESTARTED', date)
local restarted = {}
for _, trid in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
    local trkey = ARGV[4] .. trid
    local t = redis.call('HMGET', trkey, 'taskId', 'state', 'parentTaskRunId', 'value', 'h')
    local task, st = t[1], t[2]
    if dropped[task] then
        redis.call('HDEL', KEYS[4], task .. '|' .. (t[3] or '') .. '|' .. (t[4] or ''))
        redis.call('LREM', KEYS[3], 0, trid)
        redis.call('DEL', trkey, trkey .. ':lease')
    elseif st == 'FAILED' or st == 'KILLED' then
        redis.call('HSET', trkey, 'state', 'RESTARTED', 'lost', 0,
            'h', happend(t[5], hist('RESTARTED', date)))
        redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2] .. '|' .. trid)
        note('t', trid, task, '', 'RESTARTED', date)
        restarted[#restarted + 1] = trid
    end
end
emit(KEYS[2])
local out = {'OK'}
for _, trid in ipairs(restarted) do out[#out + 1] = trid end
return out
