-- Add labels to a running execution (the Labels task): existing keys take the new value
-- in place, new keys are appended (executor.engine.flowables.merged_labels, the same rule).
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash    P:{EID}:exec
-- ARGV[1] = {eid, labels = [[key, value], ...] (in order)}
--
-- Reply: {status}: OK, MISSING (no such execution) or REFUSED (it ended, or is being
-- killed: its labels stay as they are). Nothing is written unless OK.
local A, K = args()
local x = redis.call('HMGET', K.exec, 'state', 'labels')
if not x[1] then return reply({status = 'MISSING'}) end
if x[1] == 'KILLING' or TERMINAL[x[1]] then return reply({status = 'REFUSED'}) end
if #A.labels == 0 then return reply({status = 'OK'}) end  -- (cjson writes {} as an object)
local old = cjson.decode(x[2] or '[]')
local new, seen = {}, {}
for _, pair in ipairs(A.labels) do new[pair[1]] = pair[2] end
for _, lb in ipairs(old) do
    seen[lb.key] = true
    if new[lb.key] ~= nil then lb.value = new[lb.key] end
end
for _, pair in ipairs(A.labels) do
    if not seen[pair[1]] then
        old[#old + 1] = {key = pair[1], value = pair[2]}
        seen[pair[1]] = true
    end
end
redis.call('HSET', K.exec, 'labels', cjson.encode(old))
return reply({status = 'OK'})
