-- The heartbeat renews the lease of one running attempt, if it still holds it.
--
-- KEYS, by name (see _lib.lua):
--   lease   lease         P:{EID}:tr:TRID:lease
--   active  active zset   P:active
-- ARGV[1] = {holder (what the attempt's lease holds, as start.lua set it), ms (the lease),
--            deadline (its active-set deadline, epoch s), member (EID|TRID)}
--
-- Reply: {held}: true if the lease held `holder` and was extended (with the task run's
-- deadline in the active set); false if it lapsed or is another attempt's (nothing
-- written: the attempt must stop, it may be running somewhere else by now).
local A, K = args()
if redis.call('GET', K.lease) ~= A.holder then return reply({held = false}) end
redis.call('PEXPIRE', K.lease, A.ms)
redis.call('ZADD', K.active, A.deadline, A.member)
return reply({held = true})
