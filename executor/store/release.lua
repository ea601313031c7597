-- Free the concurrency slot of an execution that ended without freeing it (crash
-- recovery, by the reconciler) and promote queued executions into free slots.
--
-- KEYS[1] = execution hash (may be gone)   P:{EID}:exec
-- ARGV[1] = prefix, ARGV[2] = execution id, ARGV[3] = namespace, ARGV[4] = flow id
-- ARGV[5] = limit, ARGV[6] = date
release_slot(ARGV[1], ARGV[3], ARGV[4], ARGV[2], tonumber(ARGV[5]), ARGV[6])
return 'OK'
