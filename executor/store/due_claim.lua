-- Claim what is due in one due queue (a schedule's next tick, a backfill's next step):
-- first hand back the claims whose lease lapsed (their holder died mid-fire), then move
-- up to `limit` due members to the claimed set with a lease, as P:active does for task
-- runs. A claimed member is in no process's reach but its holder's until it advances it
-- (due_advance.lua) or its lease lapses.
--
-- KEYS, by name (see _lib.lua):
--   due      due zset       P:due:Q          uid -> when it is due (epoch s)
--   tick     ticks hash     P:due:Q:tick     uid -> the tick it is at
--   claimed  claimed zset   P:due:Q:claimed  uid -> lease deadline (epoch s)
-- ARGV[1] = {now (epoch s), limit, deadline (now + lease, epoch s)}
--
-- Reply: {claimed = [[uid, tick], ...], returned (lapsed claims handed back)}.
local A, K = args()
local lapsed = redis.call('ZRANGEBYSCORE', K.claimed, '-inf', A.now)
for _, uid in ipairs(lapsed) do
    redis.call('ZREM', K.claimed, uid)
    if redis.call('HEXISTS', K.tick, uid) == 1 then
        redis.call('ZADD', K.due, A.now, uid)
    end
end
local due = redis.call('ZRANGEBYSCORE', K.due, '-inf', A.now, 'LIMIT', 0, A.limit)
local out = {}
for _, uid in ipairs(due) do
    local tick = redis.call('HGET', K.tick, uid)
    redis.call('ZREM', K.due, uid)
    if tick then
        redis.call('ZADD', K.claimed, A.deadline, uid)
        out[#out + 1] = {uid, tick}
    end
end
return reply({claimed = out, returned = #lapsed})
