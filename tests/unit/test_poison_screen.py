"""The poison screen lets Ostra's own messages through as they are and names what is
wrong with the others (the worker-side fault test is tests/faults/test_poison_messages.py)."""

from __future__ import annotations

import json
import ssl

from executor.broker import Transport, envelope_problem
from executor.celery_config import celery_config
from executor.messages import MessageBuilder
from executor.settings import Settings


def test_ostras_own_message_passes_the_envelope_screen() -> None:
    payload = MessageBuilder("ostra").build("e1", "t1").payload
    assert envelope_problem(payload.encode(), 1024 * 1024) is None
    assert envelope_problem(payload, len(payload) - 1).startswith("oversized")  # type: ignore[union-attr]


def test_envelope_problems_are_named() -> None:
    good = json.loads(MessageBuilder("ostra").build("e1", "t1").payload)
    cases = {
        b"\xff\xfe": "not JSON",
        b"null": "not a kombu message",
        json.dumps({**good, "headers": "x"}).encode(): "'headers' is not an object",
        json.dumps({**good, "body": 5}).encode(): "'body' is not a string",
        json.dumps(
            {**good, "properties": {**good["properties"], "body_encoding": "rot13"}}
        ).encode(): "bad body encoding",
        json.dumps(
            {**good, "properties": {**good["properties"], "delivery_info": {}}}
        ).encode(): "delivery_info",
    }
    for raw, reason in cases.items():
        problem = envelope_problem(raw, 1024 * 1024)
        assert problem is not None and reason in problem, (raw, problem)


def test_the_screening_transport_is_what_redis_urls_use() -> None:
    from kombu import Connection

    conf = celery_config(Settings(redis_url="redis://127.0.0.1:1/0", prefix="p"))
    assert conf["worker_consumer"] == "workers.consumer:Consumer"
    assert conf["broker_transport_options"]["ostra_dead_letter_key"] == "p:deadletter"
    plain = Connection("redis://:pw@127.0.0.1:1/3")
    assert isinstance(plain.transport, Transport)
    assert plain.as_uri() == "redis://:**@127.0.0.1:1/3"  # as Celery and Flower show it
    tls = Connection("rediss://127.0.0.1:1/0")
    assert isinstance(tls.transport, Transport)
    assert tls.ssl == {"ssl_cert_reqs": ssl.CERT_NONE}  # kombu's own rediss:// default
