"""Kill the worker that runs a task run; the task run finishes as a new attempt.

Each test has its own Redis and workers, so the killing cannot disturb other tests.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from executor import Client, Flow, StateType
from tests.helpers.faults import make_worker, wait_running

pytestmark = pytest.mark.faults
S = StateType

FLOW = Flow.from_yaml("""
id: killme
namespace: tests.faults
tasks:
  - id: before
    type: Return
    format: before
  - id: victim
    type: Python
    function: tests.helpers.funcs:slow_first
  - id: after
    type: Return
    format: "after {{ outputs.victim.attempt }}"
""")


def _check_recovered(client: Client, eid: str, killed_pid: int) -> None:
    done = client.wait(eid, timeout=60)
    assert done.state.current == S.SUCCESS
    victim = done.task_run("victim")
    assert [a.state.current for a in victim.attempts] == [S.RESUBMITTED, S.SUCCESS]
    assert victim.attempts[0].worker_id.endswith(f":{killed_pid}")
    assert victim.attempts[0].reason == "worker lost"
    assert victim.attempts[1].worker_id != victim.attempts[0].worker_id
    assert [h.state for h in victim.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    assert done.task_run("after").outputs == {"value": "after 2"}
    assert len(done.task_run("before").attempts) == 1


def test_sigkill_of_the_pool_process_is_retried_as_a_new_attempt(redis_server, tmp_path) -> None:
    worker = make_worker(redis_server.url, tmp_path, "a").start()
    client = Client(redis_server.url)
    try:
        eid = client.submit(FLOW).id
        holder = wait_running(client, eid, "victim", interval=0.1)
        pid = int(holder.rsplit(":", 1)[1])
        assert pid in worker.children()
        os.kill(pid, signal.SIGKILL)
        _check_recovered(client, eid, pid)
    finally:
        worker.stop()


def test_sigkill_of_the_whole_worker_is_recovered_by_another(redis_server, tmp_path) -> None:
    first = make_worker(redis_server.url, tmp_path, "first").start()
    client = Client(redis_server.url)
    second = None
    try:
        eid = client.submit(FLOW).id
        holder = wait_running(client, eid, "victim", interval=0.1)
        pid = int(holder.rsplit(":", 1)[1])
        first.kill()  # SIGKILL to the main process and its pool: the message stays unacked
        started = time.monotonic()
        second = make_worker(redis_server.url, tmp_path, "second").start()
        _check_recovered(client, eid, pid)
        # Recovered by lease expiry + reconciler, not by the 1 h visibility timeout.
        assert time.monotonic() - started < 45
    finally:
        first.kill()
        if second:
            second.stop()


def test_kill_after_the_worker_died_ends_killed_without_a_new_attempt(
    redis_server, tmp_path
) -> None:
    first = make_worker(redis_server.url, tmp_path, "doomed").start()
    client = Client(redis_server.url)
    second = None
    try:
        eid = client.submit(FLOW).id
        wait_running(client, eid, "victim", interval=0.1)
        first.kill()
        assert client.kill(eid).state.current == S.KILLING  # its lease is still alive
        started = time.monotonic()
        second = make_worker(redis_server.url, tmp_path, "survivor").start()
        done = client.wait(eid, timeout=30)
        # bound: the lease (3 s here) plus one reconciler sweep
        assert time.monotonic() - started < 20
        assert done.state.current == S.KILLED
        victim = done.task_run("victim")
        assert [a.state.current for a in victim.attempts] == [S.KILLED]  # never resumed
        assert done.task_runs("after") == []
    finally:
        first.kill()
        if second:
            second.stop()
