"""``ostra queue stats`` on a real backlog, a bad queue name refused (CLI and API), and
``/health?checks=true`` telling apart no worker alive and a reconciler that never swept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from executor import Client, Flow
from executor.api.app import create_app
from executor.embedded import EmbeddedRedis

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_prefix(redis_server: EmbeddedRedis) -> Iterator[Client]:
    """A Client on a prefix no worker of the session uses."""
    c = Client(redis_server.url, prefix=f"obsh-{uuid.uuid4().hex[:8]}")
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def _ostra(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OSTRA_REDIS_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_queue_stats_command_shows_a_backlog(redis_server: EmbeddedRedis, client: Client) -> None:
    group = f"obsc-{uuid.uuid4().hex[:8]}"
    task = {"id": "a", "type": "Log", "message": "x", "workerGroup": group}
    flow = Flow.from_dict({"id": "cli", "namespace": "obs", "tasks": [task]})
    for _ in range(3):
        client.submit(flow)
    proc = _ostra(redis_server.url, "queue", "stats", "-q", group, "--json")
    assert proc.returncode == 0, proc.stderr
    row = next(r for r in json.loads(proc.stdout) if r["queue"] == group)
    assert (row["waiting"], row["reserved"]) == (3, 0)
    table = _ostra(redis_server.url, "queue", "stats", "-q", group)
    assert table.returncode == 0 and group in table.stdout


def test_a_bad_queue_name_is_refused(redis_server: EmbeddedRedis, client: Client) -> None:
    proc = _ostra(redis_server.url, "queue", "stats", "-q", "ostra:flows")
    assert proc.returncode == 2
    assert "ostra:flows" in proc.stderr and "Traceback" not in proc.stderr
    with TestClient(create_app(client, token="")) as http:
        answer = http.get("/api/v1/workers/queues", params={"queue": "a b"})
        assert answer.status_code == 422


def test_health_checks_tell_workers_and_reconciler_apart(own_prefix: Client) -> None:
    with TestClient(create_app(own_prefix, token="")) as http:
        assert http.get("/health").json() == {"status": "UP", "redis": "UP"}
        body = http.get("/health", params={"checks": "true"}).json()
        assert (body["status"], body["workers"], body["reconciler"]) == ("UP", "DOWN", "NEVER")
        assert body["ok"] is False
        # A worker says it is alive and a sweep ran: everything is UP.
        own_prefix.store.worker_seen("w@h", time.time(), ["ostra"])
        own_prefix.store.record_sweep(time.time())
        body = http.get("/health", params={"checks": "true"}).json()
        assert (body["workers"], body["reconciler"], body["ok"]) == ("UP", "UP", True)
        assert body["details"]["workers"] == ["w@h"]
        # The last sweep was long ago (more than 3 intervals of the lease's half).
        own_prefix.store.record_sweep(time.time() - 3600)
        body = http.get("/health", params={"checks": "true"}).json()
        assert (body["workers"], body["reconciler"]) == ("UP", "STALLED")
