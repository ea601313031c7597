-- Append one log entry within its task run's budget (executor/loglimits.py): the bytes
-- and lines each task run stored so far are counted here, in the same step as the
-- append, so any number of attempts and worker processes share one budget exactly.
-- One call per log line: it runs with args() and reply() only, not the whole _lib.lua
-- (executor/store/redis.py, _LEAN), and its keys are flat (no nested tables).
--
-- KEYS, by name (see _lib.lua):
--   logs    the execution's log entries   P:{EID}:logs
--   used    per task run: bytes, lines, and whether the cap was reached (fields
--           RUN:b, RUN:n, RUN:x; RUN is the task run id, "" for the execution)
--                                        P:{EID}:logs:used
-- ARGV[1] = {run, entry (its JSON), size (its bytes), maxBytes, maxLines,
--            marker (the message of the WARN entry stored instead of the first entry
--            dropped, with that entry's other fields; @LIMIT@ in it becomes the limit
--            reached: "N bytes" or "N lines")}
-- The marker is built here, on the rare path that stores it, so that the common path
-- costs Python no second entry.
-- Reply: {status = OK} (stored); {status = FULL} (dropped: the cap was reached before,
-- or by this entry, in which case its marker was stored instead).
local A, K = args()
local run = A.run
local used = redis.call('HMGET', K.used, run .. ':b', run .. ':n', run .. ':x')
if used[3] then return reply({status = 'FULL'}) end
local size = tonumber(A.size)
local over_bytes = tonumber(used[1] or '0') + size > tonumber(A.maxBytes)
local over_lines = tonumber(used[2] or '0') + 1 > tonumber(A.maxLines)
if over_bytes or over_lines then
    redis.call('HSET', K.used, run .. ':x', '1')
    local limit = A.maxBytes .. ' bytes'
    if over_lines and not over_bytes then limit = A.maxLines .. ' lines' end
    local marker = cjson.decode(A.entry)
    marker.level = 'WARN'
    marker.message = (string.gsub(A.marker, '@LIMIT@', limit, 1))
    redis.call('RPUSH', K.logs, cjson.encode(marker))
    return reply({status = 'FULL'})
end
redis.call('HINCRBY', K.used, run .. ':b', size)
redis.call('HINCRBY', K.used, run .. ':n', 1)
redis.call('RPUSH', K.logs, A.entry)
return reply({status = 'OK'})
