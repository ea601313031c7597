"""A poison entry in the active set (a task run hash broken by hand, an ended task run
whose advance raises) cannot stop the reconciler: a worker SIGKILLed mid-attempt, whose
task run is due after the poison entries, is still recovered, and the poison entries are
backed off instead of being retried at every sweep."""

from __future__ import annotations

import math
import time

import pytest
import redis

from executor import Client, Flow, StateType
from tests.helpers.faults import make_worker, wait_running

pytestmark = pytest.mark.faults
S = StateType

FLOW = Flow.from_yaml("""
id: poisoned
namespace: tests.faults
tasks:
  - id: victim
    type: Python
    function: tests.helpers.funcs:slow_first
""")

BROKEN = ("poison1", "tr1")  # its state is no state: reading the task run raises ValueError
UNADVANCEABLE = ("poison2", "tr2")  # ended, but its execution's flow revision is not a number


def _plant(r: redis.Redis) -> None:
    """Two poison entries, due long before any real one, written as a stranger would."""
    r.hset("ostra:{poison1}:tr:tr1", mapping={"id": "tr1", "taskId": "t", "state": "NOT-A-STATE"})
    r.hset(
        "ostra:{poison2}:exec",
        mapping={"namespace": "tests.faults", "flowId": "poisoned", "flowRevision": "one"},
    )
    r.hset("ostra:{poison2}:tr:tr2", mapping={"id": "tr2", "taskId": "t", "state": "SUCCESS"})
    r.zadd("ostra:active", {"poison1|tr1": 1.0, "poison2|tr2": 2.0})


def test_poison_entries_are_backed_off_and_dead_worker_recovery_goes_on(
    redis_server, tmp_path
) -> None:
    first = make_worker(redis_server.url, tmp_path, "first").start()
    client = Client(redis_server.url)
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    second = None
    try:
        eid = client.submit(FLOW).id
        holder = wait_running(client, eid, "victim", interval=0.1)
        killed = int(holder.rsplit(":", 1)[1])
        first.kill()  # SIGKILL: the attempt's lease lapses, only the reconciler recovers it
        _plant(r)
        planted = time.time()
        # Its reconciler sweeps every 1.5 s (lease 3 s): the poison entries come first.
        second = make_worker(redis_server.url, tmp_path, "second").start()
        done = client.wait(eid, timeout=40)
        assert done.state.current == S.SUCCESS
        victim = done.task_run("victim")
        assert [a.state.current for a in victim.attempts] == [S.RESUBMITTED, S.SUCCESS]
        assert victim.attempts[0].worker_id.endswith(f":{killed}")

        time.sleep(6)  # a few more sweeps
        elapsed = time.time() - planted
        for eid_, trid in (BROKEN, UNADVANCEABLE):
            member = f"{eid_}|{trid}"
            failures = int(r.hget("ostra:active:fails", member) or 0)
            # Backed off 2, 4, 8... s: far fewer looks than sweeps (one per 1.5 s).
            assert 1 <= failures <= math.log2(elapsed / 2 + 1) + 1, (member, failures, elapsed)
            score = r.zscore("ostra:active", member)
            assert score is not None and score > time.time(), member  # next look later
        log = (tmp_path / "second.log").read_text()
        assert "task run tr1 of execution poison1 failed" in log
        assert "task run tr2 of execution poison2 failed" in log
    finally:
        first.kill()
        if second:
            second.stop()
        r.close()
