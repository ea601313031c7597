"""The worker's Celery consumer (``worker_consumer``): poison jobs are dead-lettered.

kombu's envelope is screened by the transport (``executor/broker.py``). What reaches this
consumer is a well-formed message, which may still be no job this worker can run: no
task name, a task name it does not know, a body that is not Celery's ``[args, kwargs,
embed]`` JSON, or ``ostra.run_task_run`` with other arguments than two ids. Celery would
reject some of these silently, fail others in a pool process or, for a non-string task
name, stop. Here each is logged, added to the dead-letter list with its reason and
acknowledged; the consumer goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

from executor.broker import Channel
from executor.celery_config import RUN_TASK_RUN

log = logging.getLogger("ostra.worker")

_JSON = "application/json"


def job_problem(message: Any, known: Callable[[str], bool]) -> str | None:
    """Why ``message`` (a kombu message) is no job of a registered task, or None."""
    headers = message.headers
    name = headers.get("task") if isinstance(headers, dict) else None
    if not isinstance(name, str):
        return "no task name (headers.task)"
    if not known(name):
        return f"unknown task {name!r}"
    if not isinstance(headers.get("id"), str):
        return f"{name}: no task id (headers.id)"
    if message.content_type != _JSON:
        return f"{name}: content type {message.content_type!r}, not {_JSON}"
    try:
        body = json.loads(message.body)
    except (ValueError, TypeError) as exc:
        return f"{name}: body is not JSON: {exc}"
    if not (
        isinstance(body, list)
        and len(body) == 3
        and isinstance(body[0], list)
        and isinstance(body[1], dict)
        and (body[2] is None or isinstance(body[2], dict))
    ):
        return f"{name}: body is not [args, kwargs, embed]"
    if name == RUN_TASK_RUN:
        args, kwargs = body[0], body[1]
        if kwargs or len(args) != 2 or not all(isinstance(a, str) and a for a in args):
            return f"{name}: arguments are not (execution_id, task_run_id)"
    return None


def _raw(message: Any) -> str:
    raw = getattr(message, "_raw", None)
    try:
        return json.dumps(raw) if raw is not None else repr(message.body)
    except (TypeError, ValueError):
        return repr(raw)


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer; every message it cannot run is dead-lettered and acknowledged."""

    def dead_letter(self, message: Any, reason: str) -> None:
        """Log ``message``, add it to the dead-letter list and acknowledge it."""
        info = message.delivery_info if isinstance(message.delivery_info, dict) else {}
        queue = str(info.get("routing_key") or "?")
        channel = message.channel
        if isinstance(channel, Channel):
            channel.dead_letter(reason, queue, _raw(message))
        else:
            log.error("dropped a message from queue %r: %s", queue, reason)
        try:
            message.ack()
        except Exception:
            log.exception("could not acknowledge the dead-lettered message")

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handler = super().create_task_handler(*args, **kwargs)
        tasks = self.app.tasks

        def on_task_received(message: Any) -> Any:
            problem = job_problem(message, tasks.__contains__)
            if problem is not None:
                return self.dead_letter(message, problem)
            return handler(message)

        return on_task_received

    # Celery's own verdicts, for what the screen above lets through.
    def on_unknown_message(self, body: Any, message: Any) -> None:
        self.dead_letter(message, "not a Celery task message")

    def on_unknown_task(self, body: Any, message: Any, exc: BaseException) -> None:
        self.dead_letter(message, f"unknown task: {exc!r}")

    def on_invalid_task(self, body: Any, message: Any, exc: BaseException) -> None:
        self.dead_letter(message, f"invalid task message: {exc}")

    def on_decode_error(self, message: Any, exc: BaseException) -> None:
        self.dead_letter(message, f"undecodable message: {exc}")
