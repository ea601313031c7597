"""The messages Lua steps push are the messages kombu would have published."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis

from executor.dispatch import Dispatcher, make_app
from executor.embedded import EmbeddedRedis
from executor.settings import Settings


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (ids and dates differ from one message to the next)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_a_built_message_matches_what_kombu_publishes(redis_server: EmbeddedRedis) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    app = make_app(Settings(redis_url=redis_server.url, queue=queue))
    r = redis.Redis.from_url(redis_server.url)
    try:
        dispatcher = Dispatcher(app)
        dispatcher.send("E1", "T1", label="ns.f t1 execution=E1")
        published = json.loads(r.rpop(queue))  # type: ignore[arg-type]
        built = dispatcher.message("E1", "T1", label="ns.f t1 execution=E1")
        assert built.queue_key == queue
        mine = json.loads(built.payload)

        assert base64.b64decode(mine["body"]) == base64.b64decode(published["body"])
        assert mine["headers"]["task"] == published["headers"]["task"] == "ostra.run_task_run"
        assert mine["headers"]["argsrepr"] == published["headers"]["argsrepr"]
        assert mine["headers"]["id"] == mine["properties"]["correlation_id"] == built.task_id
        assert mine["properties"]["delivery_info"] == published["properties"]["delivery_info"]
        # Same fields, same types, except the reply queue (no result is ever awaited) and
        # the duplicated argsrepr kombu also leaves in the properties.
        for extra in ("reply_to", "argsrepr", "kwargsrepr"):
            published["properties"].pop(extra)
        assert _shape(mine) == _shape(published)
        # A fresh Celery task id and delivery tag per message.
        again = json.loads(dispatcher.message("E1", "T1").payload)
        assert again["headers"]["id"] != mine["headers"]["id"]
        assert again["properties"]["delivery_tag"] != mine["properties"]["delivery_tag"]
    finally:
        app.close()
        r.close()


def test_a_worker_group_message_goes_to_its_queue(redis_server: EmbeddedRedis) -> None:
    app = make_app(Settings(redis_url=redis_server.url))
    try:
        built = Dispatcher(app).message("E1", "T1", queue="gpu")
        assert built.queue_key == "gpu"
        assert json.loads(built.payload)["properties"]["delivery_info"]["routing_key"] == "gpu"
    finally:
        app.close()
