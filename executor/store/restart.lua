-- Restart an ended execution in place (same id), as Kestra does: the execution gets
-- RESTARTED; task runs that FAILED or were KILLED get RESTARTED and will make a new
-- attempt (numbers continue); successful task runs keep their state and outputs; task
-- runs of the errors and finally branches are dropped so they run again if needed.
-- The keys lose the retention TTL they got when the execution ended.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = execution history  P:{EID}:exec:h
-- KEYS[3] = events stream      P:{EID}:events
-- KEYS[4] = task run id list   P:{EID}:trs
-- KEYS[5] = identity hash      P:{EID}:trkey
-- KEYS[6] = active zset        P:active
-- KEYS[7..] = other keys of the execution to keep (PERSIST)
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
for i = 1, #KEYS do
    if i ~= 6 then redis.call('PERSIST', KEYS[i]) end
end
exec_move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], 'RESTARTED', date)
local restarted = {}
for _, trid in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
    local trkey = ARGV[4] .. trid
    local task = redis.call('HGET', trkey, 'taskId')
    if dropped[task] then
        local f = redis.call('HMGET', trkey, 'parentTaskRunId', 'value')
        redis.call('HDEL', KEYS[5], task .. '|' .. (f[1] or '') .. '|' .. (f[2] or ''))
        redis.call('LREM', KEYS[4], 0, trid)
        redis.call('DEL', trkey, trkey .. ':h', trkey .. ':lease')
    else
        redis.call('PERSIST', trkey)
        redis.call('PERSIST', trkey .. ':h')
        local st = redis.call('HGET', trkey, 'state')
        if st == 'FAILED' or st == 'KILLED' then
            redis.call('HSET', trkey, 'state', 'RESTARTED', 'lost', 0)
            redis.call('RPUSH', trkey .. ':h', hist('RESTARTED', date))
            redis.call('ZADD', KEYS[6], ARGV[5], ARGV[2] .. '|' .. trid)
            event(KEYS[3], 't', trid, task, '', 'RESTARTED', date)
            restarted[#restarted + 1] = trid
        end
    end
end
local out = {'OK'}
for _, trid in ipairs(restarted) do out[#out + 1] = trid end
return out
