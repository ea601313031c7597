"""Publishing task runs to Celery, by task name: the executor never imports workers.

Messages carry ids only (execution id, task run id); a fresh Celery task id per
publication. ``argsrepr`` gives Flower a readable line (flow, task, execution).
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Celery

from executor.celery_config import RUN_TASK_RUN, celery_config
from executor.settings import Settings, get_settings

_app: Celery | None = None


def set_app(app: Celery) -> None:
    """Publish through ``app`` (a worker passes its own, to share its connection pool)."""
    global _app
    _app = app


def make_app(settings: Settings) -> Celery:
    """A Celery app that publishes with ``settings`` (no tasks of its own)."""
    app = Celery("ostra-executor")
    app.conf.update(celery_config(settings))
    return app


def get_app() -> Celery:
    """The process's publishing app: the worker's own, or one made from the environment."""
    global _app
    if _app is None:
        _app = make_app(get_settings())
    return _app


class Dispatcher:
    """Sends task runs to the workers."""

    def __init__(self, app: Celery | None = None, default_queue: str | None = None) -> None:
        self._app = app
        self.default_queue = default_queue

    @property
    def app(self) -> Celery:
        return self._app or get_app()

    def send(self, eid: str, trid: str, *, label: str = "", queue: str | None = None,
             countdown: float | None = None, producer: Any = None) -> str:
        """Publish one task run; returns the Celery task id."""
        task_id = str(uuid.uuid4())
        self.app.send_task(
            RUN_TASK_RUN, args=[eid, trid], task_id=task_id,
            queue=queue or self.default_queue or self.app.conf.task_default_queue,
            countdown=countdown, argsrepr=label or f"execution={eid} taskrun={trid}",
            kwargsrepr="{}", producer=producer,
            # no result to wait for: without this, Celery subscribes to its result channel
            ignore_result=True,
        )
        return task_id

    def send_many(self, messages: list[tuple[str, str, str | None, str]]) -> None:
        """Publish (execution id, task run id, queue, label) messages through one producer
        (a fan-out of thousands of children: one connection, not one per message)."""
        with self.app.producer_or_acquire() as producer:
            for eid, trid, queue, label in messages:
                self.send(eid, trid, queue=queue, label=label, producer=producer)
