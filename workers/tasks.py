"""The Celery jobs: thin wrappers around ``workers.attempt``.

``ostra.run_task_run(execution_id, task_run_id)`` is one delivery of a task run. A
retry of the task run is a Celery retry of the same job (``self.retry``), so Flower
shows it as one job retried; every retry is one more attempt in Redis.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Task

from executor.celery_config import NOOP, RUN_TASK_RUN, max_countdown
from executor.settings import get_settings
from workers import runtime
from workers.app import app
from workers.attempt import AttemptRunner


@cache
def _runner(pid: int) -> AttemptRunner:
    return AttemptRunner(runtime.store(), runtime.orchestrator(), get_settings())


@app.task(name=RUN_TASK_RUN, bind=True, max_retries=None, acks_late=True)
def run_task_run(self: Task, execution_id: str, task_run_id: str) -> None:  # type: ignore[type-arg]
    """Run one attempt of a task run (ids only on the wire; the rest is read from Redis)."""
    import os

    outcome = _runner(os.getpid()).run(execution_id, task_run_id)
    if outcome.retry_in is not None:
        # A countdown longer than the visibility timeout would make Redis deliver the
        # message twice; wait in hops instead (an early delivery just waits again).
        countdown: Any = min(outcome.retry_in, max_countdown(get_settings()))
        # Keep Flower's readable line (flow, task, execution) on the re-published message.
        options: dict[str, Any] = {
            "argsrepr": getattr(self.request, "argsrepr", None),
            "kwargsrepr": "{}",
        }
        raise self.retry(countdown=countdown, max_retries=None, **options)


@app.task(name=NOOP, ignore_result=False)
def noop() -> None:
    """Does nothing: a plain Celery job, the baseline the benchmarks compare Ostra with."""
