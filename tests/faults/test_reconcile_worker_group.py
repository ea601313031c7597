"""A worker group nobody consumes: the reconciler's pending-grace re-send keeps exactly one
copy of the task run's message in the group's queue, the task run shows as waiting for
the group (API model, CLI table), and once a worker of the group starts it runs once."""

from __future__ import annotations

import time

import pytest
import redis
from rich.console import Console

from executor import Client, Flow, StateType
from executor.cli.output import task_runs_table
from executor.orchestrator import Orchestrator
from executor.reconciler import Reconciler
from tests.helpers.faults import make_worker

pytestmark = pytest.mark.faults
S = StateType

FLOW = Flow.from_yaml("""
id: lonely
namespace: tests.faults
tasks:
  - id: t
    type: Return
    format: ran
    workerGroup: nobody
""")
GRACE = 0.2


def test_an_unconsumed_worker_group_holds_one_copy_and_shows_waiting(
    redis_server, tmp_path
) -> None:
    client = Client(redis_server.url)
    r = redis.Redis.from_url(redis_server.url)
    worker = None
    try:
        # OSTRA_PENDING_GRACE=0.2 for this reconciler.
        settings = client.settings.model_copy(update={"pending_grace": GRACE})
        reconciler = Reconciler(
            Orchestrator(client.store, client.orchestrator.dispatcher, settings)
        )
        eid = client.submit(FLOW).id
        assert r.llen("nobody") == 1  # workerGroup "nobody" is the Celery queue "nobody"
        # Created with the client's grace (300 s): sweep as if that had passed, then at
        # several more periods of the short grace.
        later = time.time() + client.settings.pending_grace + 1
        for i in range(5):
            time.sleep(GRACE)
            acted = reconciler.sweep(now=later + i * GRACE * 2)
            assert r.llen("nobody") == 1
            assert acted == 0  # nothing sent again
        run = client.get(eid).task_run("t")
        assert run.state.current == S.CREATED
        wait = run.waiting_for_worker
        assert wait is not None and wait.worker_group == "nobody"
        assert wait.seconds >= GRACE * 4, wait
        shown = client.get(eid).model_dump(mode="json", by_alias=True)["taskRunList"][0]
        assert shown["waitingForWorker"]["workerGroup"] == "nobody"
        assert shown["state"]["current"] == "CREATED"  # Kestra's shape kept
        console = Console(record=True, width=200)
        console.print(task_runs_table(client.get(eid)))
        assert "waiting for worker group nobody for" in console.export_text()

        worker = make_worker(redis_server.url, tmp_path, "nobody", queues="nobody").start()
        done = client.wait(eid, timeout=30)
        assert done.state.current == S.SUCCESS
        t = done.task_run("t")
        assert [a.state.current for a in t.attempts] == [S.SUCCESS]
        assert t.outputs == {"value": "ran"}
        assert t.waiting_for_worker is None
        assert r.llen("nobody") == 0
    finally:
        if worker:
            worker.stop()
        r.close()
