-- Compare-and-set the state of one task run (used by the orchestrator for the task runs
-- it runs itself, such as Pause, and for resuming them).
--
-- KEYS, by name (see _lib.lua):
--   tr      task run hash  P:{EID}:tr:TRID
--   events  events stream  P:{EID}:events
--   active  active zset    P:active
-- ARGV[1] = {eid, trid, to, date, expected (current state, or "" for any), active (the
--            deadline in the active zset, epoch s: "" to leave it, "-" to remove the
--            entry), fields (name -> value, written with the move)}
--
-- Reply: {status, state}: OK, NOOP, INVALID, CONFLICT (not in the expected state) or
-- MISSING, and the state now. Nothing is written unless the status is OK.
local A, K = args()
local t = redis.call('HMGET', K.tr, 'state', 'taskId', 'h')
local cur, to = t[1], A.to
if not cur then return reply({status = 'MISSING', state = ''}) end
if cur == to then return reply({status = 'NOOP', state = cur}) end
if A.expected ~= '' and cur ~= A.expected then return reply({status = 'CONFLICT', state = cur}) end
if not allowed(cur, to) then return reply({status = 'INVALID', state = cur}) end
-- Checked; writes from here.
local f = {'state', to, 'h', happend(t[3], hist(to, A.date))}
for name, value in pairs(A.fields or {}) do
    f[#f + 1] = name
    f[#f + 1] = value
end
redis.call('HSET', K.tr, unpack(f))
local member = A.eid .. '|' .. A.trid
if A.active == '-' then
    redis.call('ZREM', K.active, member)
elseif A.active ~= '' then
    redis.call('ZADD', K.active, A.active, member)
end
note('t', A.trid, t[2], '', to, A.date)
emit(K.events)
return reply({status = 'OK', state = to})
