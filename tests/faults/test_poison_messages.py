"""Poison messages pushed onto a worker's queue with a plain Redis client: each is
dead-lettered with its reason and acknowledged, and the worker goes on running flows.

The test has its own Redis and worker, so the poison cannot reach other tests.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import pytest
import redis

from executor import Client, Flow, StateType
from executor.messages import MessageBuilder
from tests.conftest import WORKER_ENV
from tests.helpers.faults import make_worker

pytestmark = pytest.mark.faults

FLOW = Flow.from_yaml("""
id: after-poison
namespace: tests.faults
tasks:
  - id: hello
    type: Return
    format: "still here"
""")

LIMIT = 64 * 1024  # OSTRA_MAX_MESSAGE_BYTES of this test's worker


def _envelope(body: bytes | str | None = None, **headers: object) -> dict[str, object]:
    message: dict[str, object] = json.loads(MessageBuilder("ostra").build("e1", "t1").payload)
    if body is not None:
        message["body"] = body if isinstance(body, str) else base64.b64encode(body).decode()
    message["headers"].update(headers)  # type: ignore[attr-defined]
    return message


def _job(args: object, kwargs: object) -> bytes:
    return json.dumps([args, kwargs, {}]).encode()


#: poison -> what its dead-letter reason says
POISONS: dict[str, tuple[str, str]] = {
    "not-json": ("this is not JSON {", "not JSON"),
    "json-not-envelope": (json.dumps([1, 2, 3]), "not a kombu message"),
    "no-delivery-tag": (json.dumps({"body": "", "properties": {}}), "delivery_tag"),
    "bad-base64": (json.dumps(_envelope(body="!!!not base64")), "bad base64 body"),
    "body-not-json": (json.dumps(_envelope(body=b"not json")), "body is not JSON"),
    "body-not-a-job": (json.dumps(_envelope(body=b'{"a": 1}')), "not [args, kwargs, embed]"),
    "unknown-task": (json.dumps(_envelope(task="nobody.knows")), "unknown task 'nobody.knows'"),
    "task-name-not-a-string": (json.dumps(_envelope(task=["x"])), "no task name"),
    "wrong-arguments": (
        json.dumps(_envelope(body=_job([1], {"x": 2}))),
        "arguments are not (execution_id, task_run_id)",
    ),
    "oversized": (json.dumps(_envelope(argsrepr="x" * (LIMIT + 1))), "oversized"),
}


@pytest.mark.timeout(120)
def test_poison_messages_are_dead_lettered_and_the_worker_goes_on(redis_server, tmp_path) -> None:
    worker = make_worker(redis_server.url, tmp_path, "poisoned")
    worker.env = {**WORKER_ENV, "OSTRA_MAX_MESSAGE_BYTES": str(LIMIT)}
    worker.start()
    plain = redis.Redis.from_url(redis_server.url)
    client = Client(redis_server.url)
    try:
        for raw, _ in POISONS.values():
            plain.lpush("ostra", raw)  # OSTRA_QUEUE, kombu's list for priority 0
        deadline = time.monotonic() + 30
        while plain.llen("ostra:deadletter") < len(POISONS) and time.monotonic() < deadline:
            assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
            time.sleep(0.1)

        # A broadcast that is JSON but no envelope, on the remote-control channel (kombu's
        # fanout topic ``/<db>.<exchange>``), is dead-lettered too; control still answers.
        plain.publish("/0.celery.pidbox", "[1]")
        deadline = time.monotonic() + 30
        while plain.llen("ostra:deadletter") < len(POISONS) + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        broadcast = json.loads(plain.lpop("ostra:deadletter") or "{}")
        assert broadcast["queue"] == "celery.pidbox" and broadcast["message"] == "[1]"
        worker.wait_ready(30)  # a Celery ping

        # A real flow still runs, on the same worker.
        done = client.wait(client.submit(FLOW).id, timeout=30)
        assert done.state.current == StateType.SUCCESS
        assert done.task_run("hello").outputs == {"value": "still here"}
        assert worker.proc is not None and worker.proc.poll() is None

        entries = [json.loads(e) for e in plain.lrange("ostra:deadletter", 0, -1)]
        assert len(entries) == len(POISONS), [e["reason"] for e in entries]
        # newest first; each with its reason, queue, time, size and the raw text, cut
        for entry, (name, (raw, reason)) in zip(reversed(entries), POISONS.items(), strict=True):
            assert reason in entry["reason"], (name, entry["reason"])
            assert entry["queue"] == "ostra", name
            assert entry["at"].endswith("+00:00"), name
            assert entry["size"] == len(raw.encode()), name
            assert len(entry["message"]) <= 4096, name
        assert entries[-1]["message"] == POISONS["not-json"][0]
        assert len(entries[0]["message"]) == 4096  # the oversized one, cut
        # acknowledged: nothing left queued or unacked (the flow's own message is acked
        # just after its result is written)
        assert plain.llen("ostra") == 0
        deadline = time.monotonic() + 15
        while plain.hlen("unacked") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert plain.hvals("unacked") == []

        # and listed by the CLI
        listed = subprocess.run(
            [sys.executable, "-m", "executor.cli", "dead-letters", "--json", "-n", "3"],
            env={**WORKER_ENV, "OSTRA_REDIS_URL": redis_server.url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert [e["reason"] for e in json.loads(listed.stdout)] == [
            e["reason"] for e in entries[:3]
        ]
    finally:
        worker.stop()
        plain.close()
        client.orchestrator.dispatcher.app.close()
        client.store.r.close()
