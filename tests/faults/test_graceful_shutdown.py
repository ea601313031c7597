"""Warm shutdown (SIGTERM) of a worker running a task run: the running attempt finishes,
and the task runs queued behind it are not lost (nor run twice).

The test has its own Redis and workers, so stopping them cannot disturb other tests.
"""

from __future__ import annotations

import time

import pytest

from executor import Client, Flow, StateType
from tests.helpers.faults import make_worker, wait_running

pytestmark = pytest.mark.faults
S = StateType

FLOW = Flow.from_yaml("""
id: graceful
namespace: tests.faults
tasks:
  - id: slow
    type: Python
    function: tests.helpers.slow:sleep_then_succeed
    kwargs: {seconds: 3}
  - id: after
    type: Return
    format: "after {{ outputs.slow.attempt }}"
""")


@pytest.mark.timeout(120)
def test_warm_shutdown_finishes_the_running_attempt_and_loses_nothing(
    redis_server, tmp_path
) -> None:
    leaving = make_worker(redis_server.url, tmp_path, "leaving").start()
    client = Client(redis_server.url)
    arriving = None
    try:
        running = client.submit(FLOW).id
        holder = wait_running(client, running, "slow")
        pid = int(holder.rsplit(":", 1)[1])
        assert pid in leaving.children()
        queued = client.submit(FLOW).id  # its first task run waits behind the running one

        proc = leaving.proc
        assert proc is not None
        started = time.monotonic()
        leaving.stop(grace=30)  # SIGTERM: warm shutdown
        took = time.monotonic() - started
        # It waited for the running attempt, then exited by itself (no SIGKILL).
        assert proc.returncode == 0, f"worker exited with {proc.returncode} after {took:.1f}s"

        # The running attempt finished, once, on the leaving worker.
        slow = client.get(running).task_run("slow")
        assert slow.state.current == S.SUCCESS
        assert [a.state.current for a in slow.attempts] == [S.SUCCESS]
        assert slow.attempts[0].worker_id == holder
        assert slow.outputs["attempt"] == 1
        # What it queued while leaving (``after``) and what waited behind it never started.
        assert client.state(running) == S.RUNNING
        assert [tr.state.current for tr in client.get(running).task_runs("after")] == [S.CREATED]
        waiting = client.get(queued).task_run("slow")
        assert waiting.state.current == S.CREATED and waiting.attempts == []

        arriving = make_worker(redis_server.url, tmp_path, "arriving").start()
        resumed = time.monotonic()
        done = {eid: client.wait(eid, timeout=60) for eid in (running, queued)}
        # Picked up from the queue, not resent by the reconciler (that takes
        # OSTRA_PENDING_GRACE, 300 s).
        assert time.monotonic() - resumed < 30
        for eid, execution in done.items():
            assert execution.state.current == S.SUCCESS, eid
            for tr in execution.task_run_list:
                assert len(tr.attempts) == 1, (eid, tr.task_id, tr.attempts)
                assert [a.state.current for a in tr.attempts] == [S.SUCCESS]
                assert [h.state for h in tr.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
        assert done[running].task_run("after").outputs == {"value": "after 1"}
        assert done[running].task_run("after").attempts[0].worker_id != holder
        assert done[queued].task_run("slow").attempts[0].worker_id != holder
        assert done[queued].task_run("after").outputs == {"value": "after 1"}
    finally:
        leaving.kill()
        if arriving is not None:
            arriving.stop()
        client.orchestrator.dispatcher.app.close()
        client.store.r.close()
