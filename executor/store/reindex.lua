-- Put executions in the search's indexes (executor.store.keys: their scopes, the scopes'
-- per-state indexes, their labels'), for executions written before those indexes
-- existed (``RedisStore.rebuild_search_indexes``). Each execution only if it is still as
-- the caller read it (state and labels): a state move or a relabel since then keeps its
-- own indexes, and the caller reads it again.
--
-- KEYS, by name (see _lib.lua):
--   items   [{exec = P:{EID}:exec, adds = [the execution's scope indexes, each one's
--           index of its state as read, its label indexes]}] in the order of ARGV's rows
-- ARGV[1] = {rows = [{eid, state, labels (the labels field as read)}]}
--
-- Reply: {status = OK, done = n, again = [eid...] (changed since read, or gone: skipped)}
local A, K = args()
local done, again = 0, {}
for i, row in ipairs(A.rows) do
    local k = K.items[i]
    local x = redis.call('HMGET', k.exec, 'state', 'labels', 'created')
    if x[1] == row.state and (x[2] or '') == row.labels then
        for _, key in ipairs(k.adds) do redis.call('ZADD', key, x[3] or '0', row.eid) end
        done = done + 1
    elseif x[1] then
        again[#again + 1] = row.eid
    end
end
return reply({status = 'OK', done = done, again = again})
