"""Helpers of the fault tests (``tests/faults``): workers of their own, and waiting for a
task run's first attempt to run."""

from __future__ import annotations

import os
import time
from pathlib import Path

from executor import Client, StateType
from executor.embedded import LocalWorker
from tests.conftest import WORKER_ENV


def make_worker(
    url: str,
    tmp_path: Path,
    name: str,
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    queues: str = "ostra",
    env: dict[str, str] | None = None,
) -> LocalWorker:
    """A worker node of its own (not started), logging to ``<tmp_path>/<name>.log``, with
    the tests' worker environment (``env`` added over it).

    Concurrency 1 and prefetch 1 (celery_config) by default: nothing is reserved behind
    the running task run, the next message stays in the queue.
    """
    return LocalWorker(
        url,
        concurrency=concurrency,
        pool=pool,
        queues=queues,
        env={**WORKER_ENV, **(env or {})},
        name=f"{name}-{os.getpid()}@%h",
        log_file=tmp_path / f"{name}.log",
        loglevel="INFO",
    )


def wait_running(
    client: Client, eid: str, task_id: str, timeout: float = 30, interval: float = 0.05
) -> str:
    """Wait until the first attempt of ``task_id`` runs; return its worker id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.get(eid).task_runs(task_id)
        if runs and runs[0].attempts and runs[0].attempts[0].state.current == StateType.RUNNING:
            return runs[0].attempts[0].worker_id or ""
        time.sleep(interval)
    raise AssertionError(f"{task_id} never started")
