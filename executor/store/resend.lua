-- Send a task run's message again (the reconciler), unless a copy is still queued.
--
-- KEYS, by name (see _lib.lua):
--   tr       task run hash                     P:{EID}:tr:TRID
--   queue    the queue's list (kombu's)        [global_keyprefix]QUEUE
--   unacked  kombu's reserved messages hash    [global_keyprefix]unacked
--   uindex   kombu's reservation times zset    [global_keyprefix]unacked_index
-- ARGV[1] = {message (the new copy, JSON), date (ISO), now (epoch s), grace (s), group
--            (the queue's name), check (false: send whatever is queued: a lease lapsed,
--            so the copy reserved by the dead worker does not count)}
--
-- The last copy sent is on the task run hash (create_runs() in _lib.lua, and here): mq
-- its queue's list, mp the exact payload, ms when it was sent; start.lua drops them.
-- It is still queued if it is in the list (LPOS) or reserved by a worker (its delivery
-- tag in kombu's unacked hash) less than `grace` seconds ago: a reservation older than
-- that whose task run never started belongs to a worker that died before starting it.
--
-- Reply: {status = MISSING} (no task run), {status = QUEUED, since} (the copy is in the
-- list: nothing sent, the task run marked as waiting for its worker group, mw = group),
-- {status = RESERVED} (nothing sent) or {status = SENT}.
local A, K = args()
local t = redis.call('HMGET', K.tr, 'state', 'mq', 'mp', 'ms')
if not t[1] then return reply({status = 'MISSING'}) end
if A.check and t[3] and t[2] == K.queue then
    if redis.call('LPOS', K.queue, t[3]) then
        redis.call('HSET', K.tr, 'mw', A.group)
        return reply({status = 'QUEUED', since = t[4] or ''})
    end
    local ok, sent = pcall(cjson.decode, t[3])
    local tag = ok and type(sent) == 'table' and type(sent.properties) == 'table'
        and sent.properties.delivery_tag
    if type(tag) == 'string' and redis.call('HEXISTS', K.unacked, tag) == 1 then
        local at = tonumber(redis.call('ZSCORE', K.uindex, tag) or '0')
        if at > tonumber(A.now) - tonumber(A.grace) then return reply({status = 'RESERVED'}) end
    end
end
redis.call('LPUSH', K.queue, A.message)
redis.call('HSET', K.tr, 'mq', K.queue, 'mp', A.message, 'ms', A.date)
redis.call('HDEL', K.tr, 'mw')
return reply({status = 'SENT'})
