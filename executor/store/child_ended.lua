-- Count the end of a child of a flowable task run, once, and claim what starts next.
--
-- KEYS, by name (see _lib.lua):
--   flowable  flowable task run hash    P:{EID}:tr:PARENT
--   ended     its set of ended children  P:{EID}:tr:PARENT:ended
--   values    its loop values list       P:{EID}:tr:PARENT:values
--   active    active zset                P:active
-- ARGV[1] = {child (task run id), klass (ok, warn or bad), task (child task id),
--            iteration ("" outside loops), errors (true if the child belongs to the
--            flowable's errors branch), eid}
--
-- Counting is idempotent (a child is counted once, whoever advances it, however often),
-- and so is the claim: a repeated call returns the successors claimed the first time.
-- When nothing follows yet (siblings still running), the child leaves the active set here.
-- Reply: {status = PARENT, state} if the flowable is gone or ended (killed), else
-- {status, done, bad, warn, expected, mode, plan, taskId, parent, value, iteration,
--  successors = [[slot, loop value], ...]} (the flowable's counters, plan and row) with
-- status OK, DUP or ERR (an errors-branch child: the orchestrator walks that branch).
local A, K = args()
local counted = child_end(K, A)
return reply(counted)
