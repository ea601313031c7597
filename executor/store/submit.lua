-- Create an execution in CREATED with its first task runs, in one step: the execution
-- hash, its index entries, task runs copied by a replay, the first task runs and their
-- messages (see create_runs() in _lib.lua).
--
-- KEYS[1] = execution hash         P:{EID}:exec
-- KEYS[2] = events stream          P:{EID}:events
-- KEYS[3] = identity -> id hash    P:{EID}:trkey
-- KEYS[4] = task run id list       P:{EID}:trs
-- KEYS[5] = active zset            P:active
-- KEYS[6] = value index hash       P:{EID}:tv
-- KEYS[7] = all executions index   P:idx:all
-- KEYS[8] = the flow's index       P:idx:flow:NS:ID
-- KEYS[9] = CREATED index          P:idx:state:CREATED
-- KEYS[10] = subflows set of the Subflow task run's execution that started it, if any
-- KEYS[11 + 2i], KEYS[12 + 2i] = hash and queue list of the i-th first task run
-- ARGV[1] = execution id, ARGV[2] = date, ARGV[3] = now (epoch s), ARGV[4] = pending
-- deadline, ARGV[5] = "1" to write nothing if the execution exists, ARGV[6] = the
-- execution's fields as a JSON object, ARGV[7] = task run key prefix P:{EID}:tr:,
-- ARGV[8] = task runs copied by a replay, a JSON list of {identity, fields} ("" for none)
-- ARGV[9 + 7i ..] = the i-th first task run, as in create.lua
--
-- Returns 1, or 0 when the execution existed (and ARGV[5] is "1").
local eid = ARGV[1]
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for name, value in pairs(cjson.decode(ARGV[6])) do
    fields[#fields + 1] = name
    fields[#fields + 1] = value
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[7], ARGV[3], eid)
redis.call('ZADD', KEYS[8], ARGV[3], eid)
redis.call('ZADD', KEYS[9], ARGV[3], eid)
note('x', '', '', '', 'CREATED', ARGV[2])
if ARGV[8] ~= '' then
    for _, copy in ipairs(cjson.decode(ARGV[8])) do
        local f, trid = {}, copy.fields.id
        for name, value in pairs(copy.fields) do
            f[#f + 1] = name
            f[#f + 1] = value
        end
        redis.call('HSET', ARGV[7] .. trid, unpack(f))
        redis.call('HSET', KEYS[3], copy.identity, trid)
        redis.call('HSET', KEYS[6], copy.fields.taskId .. '|' .. (copy.fields.value or ''), trid)
        redis.call('RPUSH', KEYS[4], trid)
    end
end
local K = {trkey = KEYS[3], trs = KEYS[4], active = KEYS[5], tv = KEYS[6]}
create_runs('CREATED', eid, ARGV[2], ARGV[4], K, KEYS, 11, ARGV, 9, (#ARGV - 8) / 7)
if KEYS[10] ~= KEYS[1] then redis.call('SADD', KEYS[10], eid) end
emit(KEYS[2])
return 1
