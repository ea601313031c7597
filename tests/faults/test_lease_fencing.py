"""Issue 12 item 7: one live attempt per task run. A duplicate delivery in the same
process (thread pool) does not take a live attempt over, and a worker that could not
renew its lease (SIGSTOPped past it) stops its attempt and records nothing once it runs
again, while another worker's attempt ends the task run.

Each test has its own Redis and workers.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from executor import Client, Flow, StateType
from tests.helpers.faults import make_worker, wait_running

pytestmark = pytest.mark.faults
S = StateType


def _flow(flow_id: str, function: str, path: Path) -> Flow:
    return Flow.from_yaml(f"""
id: {flow_id}
namespace: tests.faults
tasks:
  - id: victim
    type: Python
    function: tests.helpers.lease_funcs:{function}
    kwargs: {{path: "{path}"}}
""")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_lease_a_duplicate_delivery_in_a_thread_pool_runs_nothing_twice(
    redis_server, tmp_path
) -> None:
    trace = tmp_path / "runs.txt"
    worker = make_worker(
        redis_server.url, tmp_path, "threads", concurrency=4, pool="threads"
    ).start()
    client = Client(redis_server.url)
    try:
        eid = client.submit(_flow("dup", "run_once", trace)).id
        wait_running(client, eid, "victim")
        trid = client.get(eid).task_runs("victim")[0].id
        # Copies of its message, as a redelivery would push them: free threads of the
        # same process take them while the first attempt runs.
        for _ in range(2):
            client.orchestrator.dispatcher.send(eid, trid)
        done = client.wait(eid, timeout=60)
        assert done.state.current == S.SUCCESS
        victim = done.task_run("victim")
        assert [a.state.current for a in victim.attempts] == [S.SUCCESS]
        assert victim.outputs == {"attempt": 1}
        assert _lines(trace) == ["start 1"]  # the task ran once
    finally:
        worker.stop()
        client.store.r.close()


def test_lease_a_worker_stopped_past_its_lease_stops_its_attempt_and_records_nothing(
    redis_server, tmp_path
) -> None:
    trace = tmp_path / "ticks.txt"
    first = make_worker(redis_server.url, tmp_path, "stopped").start()
    client = Client(redis_server.url)
    second = None
    try:
        eid = client.submit(_flow("stopped", "tick", trace)).id
        holder = wait_running(client, eid, "victim")
        second = make_worker(redis_server.url, tmp_path, "taker").start()
        os.killpg(first.pid or 0, signal.SIGSTOP)  # the main process and its pool
        # Its lease (3 s) lapses; the second worker's reconciler sends it again.
        done = client.wait(eid, timeout=60)
        assert done.state.current == S.SUCCESS
        os.killpg(first.pid or 0, signal.SIGCONT)
        time.sleep(2.0)  # the first worker's attempt notices and stops
        ticks = len(_lines(trace))
        time.sleep(2.0)
        assert len(_lines(trace)) == ticks, "the first attempt still runs"
        assert "1 done" not in _lines(trace)
        assert "2 done" in _lines(trace)
        # Stopped by its own worker, for its lease (not killed, not crashed).
        assert "its lease lapsed; nothing recorded" in (tmp_path / "stopped.log").read_text()

        after = client.get(eid)
        assert after.state.current == S.SUCCESS
        assert [h.state for h in after.state.histories].count(S.SUCCESS) == 1
        victim = after.task_run("victim")
        assert [a.state.current for a in victim.attempts] == [S.RESUBMITTED, S.SUCCESS]
        assert victim.attempts[0].worker_id == holder
        assert victim.attempts[1].worker_id != holder
        assert victim.outputs == {"attempt": 2}
        assert [h.state for h in victim.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    finally:
        if first.pid:
            try:
                os.killpg(first.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        first.kill()
        if second:
            second.stop()
        client.store.r.close()
