-- Count the end of a child of a flowable task run, once, and claim what starts next.
--
-- KEYS[1] = flowable task run hash    P:{EID}:tr:PARENT
-- KEYS[2] = its set of ended children  P:{EID}:tr:PARENT:ended
-- KEYS[3] = its loop values list       P:{EID}:tr:PARENT:values
-- KEYS[4] = active zset                P:active
-- ARGV[1] = child task run id, ARGV[2] = class: ok, warn or bad
-- ARGV[3] = child task id, ARGV[4] = child iteration ("" outside loops)
-- ARGV[5] = 1 if the child belongs to the flowable's errors branch, ARGV[6] = execution id
--
-- Counting is idempotent (a child is counted once, whoever advances it, however often),
-- and so is the claim: a repeated call returns the successors claimed the first time.
-- When nothing follows yet (siblings still running), the child leaves the active set here.
-- Returns {'PARENT', state} if the flowable is gone or ended (killed), else
-- {status, done, bad, warn, expected, mode, plan, pTaskId, pParent, pValue, pIteration,
--  n, slot1..slotn, value1..valuen} with status OK, DUP or ERR (an errors-branch child:
-- the orchestrator walks that branch itself).
local counted = child_end(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3],
    ARGV[4], ARGV[5], ARGV[6])
return counted
