"""What the Workers page shows: the Celery workers (asked over the broker, as
``celery inspect`` asks), what each is running, and the depth of each worker group's
queue (``LLEN`` of its Redis list), plus the Flower link of ``OSTRA_FLOWER_URL``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from executor.client import Client
from executor.flow import Flow
from executor.observability.queues import queue_stats

#: seconds a worker has to answer the page's question
INSPECT_TIMEOUT = 1.0


@dataclass
class Running:
    """One job a worker is running: its Celery id and the ids it carries."""

    job_id: str
    execution_id: str
    task_run_id: str


@dataclass
class WorkerInfo:
    """One Celery worker as it answered."""

    name: str
    queues: list[str]
    concurrency: int | None
    running: list[Running] = field(default_factory=list)


def worker_groups(flows: list[Flow], default_queue: str) -> list[str]:
    """The queues task runs may be sent to: the default one and every ``workerGroup``
    a deployed flow names."""
    groups = {default_queue}
    for flow in flows:
        for _where, task in flow.all_tasks():
            group = task.worker_group
            if group:
                groups.add(str(group))
    return sorted(groups)


def queue_depths(client: Client, queues: list[str]) -> dict[str, int]:
    """How many messages wait in each queue, every priority sub-list counted (kombu
    keeps one Redis list per priority step: ``executor.observability.queues``)."""
    r = client.store.r  # type: ignore[attr-defined]
    return {s.queue: s.waiting for s in queue_stats(r, queues, store=client.store)}


def _ids(job: dict[str, Any]) -> tuple[str, str]:
    args = job.get("args")
    if isinstance(args, str):  # older Celery sends a repr
        try:
            args = json.loads(args.replace("'", '"').replace("(", "[").replace(")", "]"))
        except ValueError:
            args = []
    if isinstance(args, list | tuple) and len(args) >= 2:
        return str(args[0]), str(args[1])
    return "", ""


def workers(client: Client, timeout: float = INSPECT_TIMEOUT) -> list[WorkerInfo]:
    """The workers answering within ``timeout`` seconds, with what they run."""
    app = client.orchestrator.dispatcher.app

    def ask(what: str) -> dict[str, Any]:
        answer = getattr(app.control.inspect(timeout=timeout), what)()
        return dict(answer or {})

    # Each question waits the whole timeout for answers: the three are asked at once.
    with ThreadPoolExecutor(3) as threads:
        stats, active, queues = threads.map(ask, ("stats", "active", "active_queues"))
    out = []
    for name in sorted(set(stats) | set(active)):
        pool = (stats.get(name) or {}).get("pool") or {}
        concurrency = pool.get("max-concurrency")
        running = []
        for job in active.get(name) or []:
            eid, trid = _ids(job)
            running.append(Running(str(job.get("id", "")), eid, trid))
        names = [str(q.get("name")) for q in queues.get(name) or [] if q.get("name")]
        out.append(WorkerInfo(name, names, concurrency, running))
    return out


def flower_url() -> str | None:
    """Where Flower is (``OSTRA_FLOWER_URL``), if configured."""
    return os.environ.get("OSTRA_FLOWER_URL") or None
