"""Celery messages for task runs, built as kombu's Redis transport stores them.

A task run's message is pushed onto its queue by the same Lua step that creates the
task run (``create.lua``, ``finish.lua``), so a task run exists exactly when its
message does: no window where one is written and the other lost, and no kombu
publish (which builds a new redis-py client per message, redis/redis-py#3624) on the
hot path.

The message is Celery's task protocol 2 (``celery.app.amqp.as_task_v2``) in the JSON
envelope of kombu's virtual transport (``Channel.prepare_message`` and
``basic_publish``): the same fields kombu writes, ids only in the body, no pickle.
``tests/unit/test_messages.py`` checks the shape against a message kombu itself
published.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from dataclasses import dataclass

from executor.celery_config import RUN_TASK_RUN
from executor.observability import tracing

_HOST = socket.gethostname()
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class Outgoing:
    """One message, ready to push: the Redis list of the queue and the JSON text."""

    queue_key: str
    payload: str
    task_id: str


class MessageBuilder:
    """Builds ``ostra.run_task_run`` messages for the queues of one broker.

    ``key_prefix`` is kombu's ``global_keyprefix`` transport option (empty by default).
    """

    def __init__(self, default_queue: str, key_prefix: str = "") -> None:
        self.default_queue = default_queue
        self.key_prefix = key_prefix

    def build(self, eid: str, trid: str, *, queue: str | None = None, label: str = "") -> Outgoing:
        """The message of one delivery of task run ``trid`` of execution ``eid``."""
        queue = queue or self.default_queue
        task_id = str(uuid.uuid4())
        argsrepr = label or f"execution={eid} taskrun={trid}"
        body = json.dumps([[eid, trid], {}, _EMBED])
        message = {
            "body": base64.b64encode(body.encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": RUN_TASK_RUN,
                "id": task_id,
                "shadow": None,
                "eta": None,
                "expires": None,
                "group": None,
                "group_index": None,
                "retries": 0,
                "timelimit": [None, None],
                "root_id": task_id,
                "parent_id": None,
                "argsrepr": argsrepr,
                "kwargsrepr": "{}",
                "origin": f"{os.getpid()}@{_HOST}",
                "ignore_result": True,
                "replaced_task_nesting": 0,
                "stamped_headers": None,
                "stamps": {},
            },
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        if tracing.ENABLED:
            # W3C trace context of the task run, the parent of its attempts' spans.
            message["headers"]["traceparent"] = tracing.traceparent(eid, trid)  # type: ignore[index]
        # Priority 0 is the queue's own list (kombu's ``_q_for_pri``).
        return Outgoing(self.key_prefix + queue, json.dumps(message), task_id)
