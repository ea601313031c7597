"""``workerGroup`` is a raw Redis key (a Celery queue is a Redis list named like it):
a deploy refuses one that is not a queue name, and a step refuses, before it writes
anything, a queue key that holds another type than a list (issue 12, item 2: submit
wrote the execution, a task run and index entries, then failed on its ``LPUSH``).

Each store-level test has a redis-server of its own, so "nothing behind" is every key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis
from executor.errors import FlowValidationError, StateConflict
from executor.store.base import NewRow
from tests.conftest import ROOT, WORKER_ENV, stored

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NS = "bounds.wg"
YAML = {"Content-Type": "application/x-yaml"}


def grouped(group: str, flow_id: str = "grouped") -> str:
    return f"""
id: {flow_id}
namespace: {NS}
tasks:
  - id: first
    type: Return
    format: one
  - id: second
    type: Return
    format: two
    workerGroup: "{group}"
"""


BAD_GROUPS = ["ostra:idx:all", "a b", "{eid}", "x" * 65, "unacked", "-lead"]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[Client, redis.Redis, str]]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        c = Client(server.url)
        raw = redis.Redis.from_url(server.url)
        yield c, raw, server.url
        raw.close()
        c.orchestrator.dispatcher.app.close()
        c.store.r.close()


def keys(raw: redis.Redis) -> dict[bytes, bytes]:
    return {k: raw.type(k) for k in raw.scan_iter()}


# ---------------------------------------------------------------- deploy


def test_bounds_worker_group_refused_at_deploy(
    own_redis: tuple[Client, redis.Redis, str], tmp_path: Path
) -> None:
    client, raw, url = own_redis
    http = TestClient(create_app(client, token=""), raise_server_exceptions=False)
    before = stored(client), keys(raw)
    for group in BAD_GROUPS:
        response = http.post("/api/v1/flows", content=grouped(group), headers=YAML)
        assert response.status_code == 422, (group, response.text)
        body = response.json()
        assert body["type"] == "urn:ostra:problem:invalid-flow"
        [problem] = body["errors"]
        assert problem["path"] == "tasks[1].workerGroup"
        assert repr(group) in problem["message"] and "'second'" in problem["message"]
        with pytest.raises(FlowValidationError, match=r"tasks\[1\]\.workerGroup"):
            client.deploy(Flow.from_yaml(grouped(group)))
    for group in ("q\n", "q\r\n"):  # `$` alone would let a trailing newline through
        with pytest.raises(FlowValidationError, match="invalid workerGroup"):
            Flow(
                id="py",
                namespace=NS,
                tasks=[{"id": "t", "type": "Log", "message": "x", "workerGroup": group}],  # type: ignore[list-item]
            )
    flow = tmp_path / "bad.yaml"
    flow.write_text(grouped("ostra:active"))
    proc = subprocess.run(
        [sys.executable, "-m", "executor.cli", "flow", "deploy", str(flow)],
        cwd=ROOT,
        env={**os.environ, **WORKER_ENV, "OSTRA_REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "tasks[1].workerGroup: invalid workerGroup 'ostra:active'" in proc.stderr
    assert (stored(client), keys(raw)) == before
    ok = http.post("/api/v1/flows", content=grouped("gpu-1.large_A"), headers=YAML)
    assert ok.status_code == 200, ok.text


# ---------------------------------------------------------------- the store guard


@pytest.mark.parametrize("kind", ["string", "zset", "hash"])
def test_bounds_submit_to_a_queue_key_of_another_type_leaves_nothing(
    own_redis: tuple[Client, redis.Redis, str], kind: str
) -> None:
    client, raw, _ = own_redis
    flow = Flow.from_yaml(
        f"id: taken\nnamespace: {NS}\ntasks:\n  - id: t\n    type: Log\n"
        "    message: hi\n    workerGroup: reports\n"
    )
    client.deploy(flow)
    {
        "string": lambda: raw.set("reports", "x"),
        "zset": lambda: raw.zadd("reports", {"m": 1}),
        "hash": lambda: raw.hset("reports", "f", "v"),
    }[kind]()
    before = keys(raw)
    with pytest.raises(StateConflict, match=f"queue 'reports'.*holds a {kind}"):
        client.submit((NS, "taken"))
    with pytest.raises(StateConflict):
        client.submit(flow)
    assert keys(raw) == before  # no execution, task run, index entry or event
    http = TestClient(create_app(client, token=""), raise_server_exceptions=False)
    response = http.post(f"/api/v1/executions/{NS}/taken")
    assert response.status_code == 409, response.text
    assert "reports" in response.json()["detail"]
    assert keys(raw) == before


def test_bounds_next_task_runs_to_a_taken_queue_key_leave_nothing(
    own_redis: tuple[Client, redis.Redis, str],
) -> None:
    """The step creating later task runs (``create_task_runs``) has the same guard."""
    client, raw, _ = own_redis
    raw.set("reports", "x")
    execution = client.submit(Flow.from_yaml(grouped("reports", "later")))
    eid = execution.id
    before = keys(raw)
    trid = "t-second"
    message = client.orchestrator.dispatcher.message(eid, trid, queue="reports")
    with pytest.raises(StateConflict, match="queue 'reports'"):
        client.store.create_task_runs(
            eid, [NewRow(trid, "second", message=message)], time.time() + 60
        )
    assert keys(raw) == before
    assert client.store.task_run_row(eid, trid) is None
