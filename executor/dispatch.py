"""Publishing task runs to Celery, by task name: the executor never imports workers.

Messages carry ids only (execution id, task run id); a fresh Celery task id per
publication. ``argsrepr`` gives Flower a readable line (flow, task, execution).

Most messages are not published here: ``message()`` builds them and the Lua step that
creates the task run pushes them (``executor.messages``). ``send()`` publishes through
kombu the ones sent again (the reconciler, resume, restart).
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Celery

from executor.celery_config import RUN_TASK_RUN, celery_config
from executor.messages import MessageBuilder, Outgoing
from executor.observability import tracing
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
        self._builder: MessageBuilder | None = None

    @property
    def app(self) -> Celery:
        return self._app or get_app()

    @property
    def broker(self) -> MessageBuilder:
        """The builder of this broker's messages (its default queue, kombu's
        ``global_keyprefix``)."""
        if self._builder is None:
            conf = self.app.conf
            options = conf.broker_transport_options or {}
            self._builder = MessageBuilder(
                self.default_queue or conf.task_default_queue, options.get("global_keyprefix", "")
            )
        return self._builder

    def message(
        self, eid: str, trid: str, *, label: str = "", queue: str | None = None
    ) -> Outgoing:
        """The message of task run ``trid``, for a Lua step to push (see module doc)."""
        return self.broker.build(eid, trid, queue=queue, label=label)

    def send(
        self,
        eid: str,
        trid: str,
        *,
        label: str = "",
        queue: str | None = None,
        countdown: float | None = None,
        producer: Any = None,
    ) -> str:
        """Publish one task run; returns the Celery task id."""
        task_id = str(uuid.uuid4())
        self.app.send_task(
            RUN_TASK_RUN,
            args=[eid, trid],
            task_id=task_id,
            queue=queue or self.default_queue or self.app.conf.task_default_queue,
            countdown=countdown,
            argsrepr=label or f"execution={eid} taskrun={trid}",
            kwargsrepr="{}",
            producer=producer,
            # no result to wait for: without this, Celery subscribes to its result channel
            ignore_result=True,
            headers={"traceparent": tracing.traceparent(eid, trid)} if tracing.ENABLED else None,
        )
        return task_id
