-- Drop the claim on a member of a due queue (a stuck trigger, ``ostra trigger unlock``):
-- it is due again at once, at the tick it was at.
--
-- KEYS, by name (see _lib.lua):
--   due      due zset       P:due:Q
--   tick     ticks hash     P:due:Q:tick
--   claimed  claimed zset   P:due:Q:claimed
-- ARGV[1] = {uid, now (epoch s)}
--
-- Reply: {unlocked}: false if it was not claimed (nothing written).
local A, K = args()
if redis.call('ZREM', K.claimed, A.uid) == 0 then return reply({unlocked = false}) end
if redis.call('HEXISTS', K.tick, A.uid) == 1 then redis.call('ZADD', K.due, A.now, A.uid) end
return reply({unlocked = true})
