-- Start a flowable task run: RUNNING, with its plan (see executor/flowables.py).
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = flowable hash      P:{EID}:tr:TRID
-- KEYS[3] = events stream      P:{EID}:events
-- KEYS[4] = its ended set      P:{EID}:tr:TRID:ended
-- KEYS[5] = its values list    P:{EID}:tr:TRID:values
-- KEYS[6] = flowables set      P:{EID}:flowables
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = task run id, ARGV[4] = date
-- ARGV[5] = mode, ARGV[6] = T, ARGV[7] = total, ARGV[8] = initial slot count (expected),
-- ARGV[9] = claimed count (cn), ARGV[10] = plan JSON, ARGV[11..] = loop values
--
-- Returns {'OK'} or {'NOOP', state} (already started: a duplicate send) or {'REFUSED', x}.
local xstate = redis.call('HGET', KEYS[1], 'state')
local t = redis.call('HMGET', KEYS[2], 'state', 'taskId', 'h')
local st = t[1]
if not xstate or not st then return {'REFUSED', 'MISSING'} end
if xstate == 'KILLING' or TERMINAL[xstate] then return {'REFUSED', xstate} end
if st ~= 'CREATED' and st ~= 'RESTARTED' then return {'NOOP', st} end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('SADD', KEYS[6], ARGV[3])  -- flowables have extra keys, deleted with the rest
redis.call('HSET', KEYS[2], 'state', 'RUNNING', 'mode', ARGV[5], 'T', ARGV[6], 'total', ARGV[7],
    'expected', ARGV[8], 'cn', ARGV[9], 'done', 0, 'bad', 0, 'warn', 0, 'plan', ARGV[10],
    'h', happend(t[3], hist('RUNNING', ARGV[4])))
-- In chunks: Lua's unpack() fails past ~8000 values.
for i = 11, #ARGV, 1000 do
    redis.call('RPUSH', KEYS[5], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
note('t', ARGV[3], t[2], '', 'RUNNING', ARGV[4])
if xstate == 'CREATED' or xstate == 'RESTARTED' then
    exec_move(KEYS[1], ARGV[1], ARGV[2], 'RUNNING', ARGV[4])
end
emit(KEYS[3])
return {'OK'}
