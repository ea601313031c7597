-- Add labels to a running execution (the Labels task): existing keys take the new value
-- in place, new keys are appended (executor.engine.flowables.merged_labels, the same rule).
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash    P:{EID}:exec
--   lab     label id (N:KEY=VALUE, executor.store.keys.label_id) -> P:idx:label:ID, for
--           the labels the caller read and the new ones: the search's label indexes
-- ARGV[1] = {eid, labels = [[key, value], ...] (in order)}
--
-- Reply: {status}: OK, MISSING (no such execution), REFUSED (it ended, or is being
-- killed: its labels stay as they are) or KEYS (the labels changed since the caller read
-- them: a label index it was not given; read again and call again). Nothing is written
-- unless OK.
local A, K = args()
local x = redis.call('HMGET', K.exec, 'state', 'labels', 'created')
if not x[1] then return reply({status = 'MISSING'}) end
if x[1] == 'KILLING' or TERMINAL[x[1]] then return reply({status = 'REFUSED'}) end
if #A.labels == 0 then return reply({status = 'OK'}) end  -- (cjson writes {} as an object)
local function label_id(key, value) return #key .. ':' .. key .. '=' .. value end
local old = cjson.decode(x[2] or '[]')
local before = {}
for _, lb in ipairs(old) do before[label_id(lb.key, lb.value)] = true end
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
local after = {}
for _, lb in ipairs(old) do after[label_id(lb.key, lb.value)] = true end
local lab = K.lab or {}
for id in pairs(before) do if not lab[id] then return reply({status = 'KEYS'}) end end
for id in pairs(after) do if not lab[id] then return reply({status = 'KEYS'}) end end
-- Checked; writes from here.
redis.call('HSET', K.exec, 'labels', cjson.encode(old))
for id in pairs(before) do
    if not after[id] then redis.call('ZREM', lab[id], A.eid) end
end
for id in pairs(after) do
    if not before[id] then redis.call('ZADD', lab[id], x[3] or '0', A.eid) end
end
return reply({status = 'OK'})
