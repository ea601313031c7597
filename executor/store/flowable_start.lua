-- Start a flowable task run: RUNNING, with its plan (see executor/flowables.py).
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = execution history  P:{EID}:exec:h
-- KEYS[3] = flowable hash      P:{EID}:tr:TRID
-- KEYS[4] = flowable history   P:{EID}:tr:TRID:h
-- KEYS[5] = events stream      P:{EID}:events
-- KEYS[6] = its ended set      P:{EID}:tr:TRID:ended
-- KEYS[7] = its values list    P:{EID}:tr:TRID:values
-- KEYS[8] = flowables set      P:{EID}:flowables
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = task run id, ARGV[4] = date
-- ARGV[5] = mode, ARGV[6] = T, ARGV[7] = total, ARGV[8] = initial slot count (expected),
-- ARGV[9] = claimed count (cn), ARGV[10] = plan JSON, ARGV[11..] = loop values
--
-- Returns {'OK'} or {'NOOP', state} (already started: a duplicate send) or {'REFUSED', x}.
local xstate = redis.call('HGET', KEYS[1], 'state')
local st = redis.call('HGET', KEYS[3], 'state')
if not xstate or not st then return {'REFUSED', 'MISSING'} end
if xstate == 'KILLING' or TERMINAL[xstate] then return {'REFUSED', xstate} end
if st ~= 'CREATED' and st ~= 'RESTARTED' then return {'NOOP', st} end
redis.call('DEL', KEYS[6], KEYS[7])
redis.call('SADD', KEYS[8], ARGV[3])  -- flowables have extra keys, to expire with the rest
redis.call('HSET', KEYS[3], 'state', 'RUNNING', 'mode', ARGV[5], 'T', ARGV[6], 'total', ARGV[7],
    'expected', ARGV[8], 'cn', ARGV[9], 'done', 0, 'bad', 0, 'warn', 0, 'plan', ARGV[10])
-- In chunks: Lua's unpack() fails past ~8000 values.
for i = 11, #ARGV, 1000 do
    redis.call('RPUSH', KEYS[7], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('RPUSH', KEYS[4], hist('RUNNING', ARGV[4]))
event(KEYS[5], 't', ARGV[3], redis.call('HGET', KEYS[3], 'taskId'), '', 'RUNNING', ARGV[4])
if xstate == 'CREATED' or xstate == 'RESTARTED' then
    exec_move(KEYS[1], KEYS[2], KEYS[5], ARGV[1], ARGV[2], 'RUNNING', ARGV[4])
end
return {'OK'}
