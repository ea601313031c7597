-- Admit a new execution of a flow with a concurrency limit, or queue, cancel or fail it.
--
-- KEYS[1] = execution hash     P:{EID}:exec
-- KEYS[2] = events stream      P:{EID}:events
-- KEYS[3] = running set        P:conc:NS:FLOW
-- KEYS[4] = queue list         P:concq:NS:FLOW
-- KEYS[5] = flows with limits  P:concflows
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = limit, ARGV[4] = behavior
-- ARGV[5] = date, ARGV[6] = NS:FLOW
--
-- Returns 'RUN' (a slot is taken), 'QUEUED', 'CANCELLED' or 'FAILED'.
redis.call('SADD', KEYS[5], ARGV[6])
if redis.call('SCARD', KEYS[3]) < tonumber(ARGV[3]) and redis.call('LLEN', KEYS[4]) == 0 then
    redis.call('SADD', KEYS[3], ARGV[2])
    return 'RUN'
end
local to = ({QUEUE = 'QUEUED', CANCEL = 'CANCELLED', FAIL = 'FAILED'})[ARGV[4]]
if to == 'QUEUED' then redis.call('RPUSH', KEYS[4], ARGV[2]) end
exec_move(KEYS[1], ARGV[1], ARGV[2], to, ARGV[5])
emit(KEYS[2])
return to
