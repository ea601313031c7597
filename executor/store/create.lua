-- Create task runs of an execution, once each, and push the messages of the new ones
-- (see create_runs() in _lib.lua).
--
-- KEYS, by name (see _lib.lua):
--   exec    execution hash       P:{EID}:exec
--   trkey   identity -> id hash  P:{EID}:trkey
--   trs     task run id list     P:{EID}:trs
--   events  events stream        P:{EID}:events
--   active  active zset          P:active
--   tv      value index hash     P:{EID}:tv   (taskId|value -> id, for outputs[task][value])
--   rows    [{tr = task run hash, queue = its queue's list (with a message)}, ...]
-- ARGV[1] = {eid, date, deadline (pending, epoch s, string), ended (member of the active
--            zset to remove: the task run that just ended, or ""), rows = [{ident, id,
--            task, parent, value, iteration ("" outside loops), message ("" for none), force ("1" for a
--            task run of afterExecution, created although the execution ended)}]}
--
-- Reply: {status = REFUSED, state} (state MISSING, KILLING or an end state: nothing
-- written; with queue and type when a new task run's queue key holds a value of another
-- type than a list), else {status = OK, state, runs = [[id, created], ...]}: the execution's state
-- (a PAUSED one holds its new task runs until resumed) and created = true for a new one.
local A, K = args()
local xstate = redis.call('HGET', K.exec, 'state')
if not xstate then return reply({status = 'REFUSED', state = 'MISSING'}) end
if xstate == 'KILLING' or TERMINAL[xstate] then
    -- An ended execution takes only forced task runs (its afterExecution tasks).
    local forced = TERMINAL[xstate] and A.rows and #A.rows > 0
    for _, row in ipairs(A.rows or {}) do
        if row.force ~= '1' then forced = false end
    end
    if not forced then return reply({status = 'REFUSED', state = xstate}) end
end
if not rows_ok(A.rows, K.rows) then error('create: a new task run has no keys') end
local badq, badt = bad_queue(A.rows, K.rows)
if badq then return reply({status = 'REFUSED', state = xstate, queue = badq, type = badt}) end
-- Checked; writes from here.
if A.ended ~= '' then redis.call('ZREM', K.active, A.ended) end
local runs = create_runs(xstate, A.eid, A.date, A.deadline, K, A.rows, K.rows)
emit(K.events)
return reply({status = 'OK', state = xstate, runs = runs})
