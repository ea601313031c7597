-- Record which conditions of a Flow trigger's multiple condition one ended execution met,
-- in the condition's current window, and say whether all are met.
--
-- KEYS, by name (see _lib.lua):
--   win   the window hash     P:flowtrig:win:UID|MID  (start, end, c:NAME = 1 per met)
--   seen  the entry's answer  P:flowtrig:seen:UID|MID:ENTRY
-- ARGV[1] = {start, end (epoch s, the window a first result opens), now (epoch s),
--            met = [condition names], total (how many it has), reset (true: forget the
--            window once complete, resetOnSuccess), ttl (seconds `seen` is kept)}
--
-- A stored window whose end has passed is forgotten first. A window is only stored
-- once a condition is met in it (Kestra saves non-empty results only). The answer is
-- kept in `seen`: the same entry evaluated again (its consumer died before acknowledging
-- it) gets the same answer, though the window may have been reset or moved on.
-- Reply: {complete = true|false}.
local A, K = args()
local seen = redis.call('GET', K.seen)
if seen then return reply({complete = seen == '1'}) end
local w = redis.call('HMGET', K.win, 'start', 'end')
if w[2] and tonumber(w[2]) < tonumber(A.now) then
    redis.call('DEL', K.win)
    w = {false, false}
end
local met = A.met or {}
-- Nothing met and nothing stored: nothing to write (nor to remember).
if #met == 0 and not w[2] then return reply({complete = tonumber(A.total) == 0}) end
if #met > 0 then
    if not w[2] then
        redis.call('HSET', K.win, 'start', A.start, 'end', A['end'])
        -- Kept until its end (a minute more: clocks of processes differ a little).
        local ttl = math.ceil(tonumber(A['end']) - tonumber(A.now)) + 60
        redis.call('EXPIRE', K.win, math.max(ttl, 60))
    end
    for _, name in ipairs(met) do redis.call('HSET', K.win, 'c:' .. name, '1') end
end
local count = redis.call('HLEN', K.win) - 2
local complete = count >= tonumber(A.total)
if complete and A.reset then redis.call('DEL', K.win) end
redis.call('SET', K.seen, complete and '1' or '0', 'EX', A.ttl)
return reply({complete = complete})
