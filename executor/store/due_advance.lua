-- Advance a claimed member of a due queue past the tick it fired: a compare-and-set on
-- that tick, so a holder whose lease lapsed (and whose tick another process fired), or
-- whose trigger was redeployed, disabled or deleted meanwhile (due_set rewrote it),
-- changes nothing.
--
-- KEYS, by name (see _lib.lua):
--   due      due zset       P:due:Q
--   tick     ticks hash     P:due:Q:tick
--   claimed  claimed zset   P:due:Q:claimed
--   ran      ran zset       P:ran:UID (may be absent from the layout: nothing recorded)
-- ARGV[1] = {uid, fired (the tick it claimed), next (the tick it is at now; "" = none
--            ever again), due (when next is due, epoch s), ran (ticks it fired, to
--            record), keep (how many recorded ticks ran keeps)}
--
-- Reply: {advanced}: false if the claim was no longer this one (nothing written).
local A, K = args()
if redis.call('HGET', K.tick, A.uid) ~= A.fired or not redis.call('ZSCORE', K.claimed, A.uid) then
    return reply({advanced = false})
end
redis.call('ZREM', K.claimed, A.uid)
if A.next == '' then
    redis.call('HDEL', K.tick, A.uid)
else
    redis.call('HSET', K.tick, A.uid, A.next)
    redis.call('ZADD', K.due, A.due, A.uid)
end
if K.ran and #A.ran > 0 then
    for _, t in ipairs(A.ran) do redis.call('ZADD', K.ran, t, t) end
    redis.call('ZREMRANGEBYRANK', K.ran, 0, -(tonumber(A.keep) + 1))
end
return reply({advanced = true})
