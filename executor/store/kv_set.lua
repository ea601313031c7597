-- Store one KV entry (executor/kv.py has the rules, checked in Python before this step).
--
-- KEYS, by name (see _lib.lua):
--   entry   the entry hash          P:kv:{TENANT:NS}:KEY
--   index   the namespace's keys    P:kv:{TENANT:NS}
-- ARGV[1] = {key, value (JSON text), type, now (epoch ms), ttl (ms, absent: none),
--            expires (now + ttl, epoch ms, absent: none), overwrite (boolean)}
--
-- An expired entry is gone already (Redis expired the hash), so it is not "existing" for
-- overwrite=false and its creation date is not kept.
-- Reply: {status = OK}; {status = CONFLICT} (the key is live and overwrite is false:
-- nothing written).
local A, K = args()
local live = redis.call('EXISTS', K.entry) == 1
if live and not A.overwrite then return reply({status = 'CONFLICT'}) end
local created = A.now
if live then created = redis.call('HGET', K.entry, 'c') or A.now end
redis.call('DEL', K.entry)
redis.call('HSET', K.entry, 'v', A.value, 't', A.type, 'c', created, 'u', A.now)
local score = '+inf'
if A.ttl then
    redis.call('HSET', K.entry, 'x', A.expires)
    redis.call('PEXPIRE', K.entry, A.ttl)
    score = A.expires
end
redis.call('ZADD', K.index, score, A.key)
return reply({status = 'OK'})
