"""Shared fixtures: a real ``redis-server`` and real Celery worker processes.

The server listens on 127.0.0.1 on a free port with its own directory and is stopped by
the PID recorded when it started. Workers are ``celery -A workers worker`` subprocesses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from executor import Client
from executor.embedded import EmbeddedRedis, LocalWorker

ROOT = Path(__file__).resolve().parent.parent
#: Short leases so that lost workers are detected within seconds in tests.
WORKER_ENV = {
    "OSTRA_LEASE_SECONDS": "3",
    "OSTRA_TASK_MODULES": "tests.helpers.custom_types",
    # The modules whose functions the test flows call (Python tasks).
    "OSTRA_PYTHON_MODULES": "tests.helpers.*,examples.*",
    # SECRET inputs are refused without a key; the client side encrypts, workers decrypt.
    "OSTRA_ENCRYPTION_KEY": "b3N0cmEtdGVzdHMtc2hhcmVkLWtleS0zMi1ieXRlcyE=",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


# The client side validates flows with the same user task types as the workers.
os.environ.setdefault("OSTRA_TASK_MODULES", WORKER_ENV["OSTRA_TASK_MODULES"])
os.environ.setdefault("OSTRA_ENCRYPTION_KEY", WORKER_ENV["OSTRA_ENCRYPTION_KEY"])
# ... and checks their Python functions at deploy as the workers do.
os.environ.setdefault("OSTRA_PYTHON_MODULES", WORKER_ENV["OSTRA_PYTHON_MODULES"])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def worker(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalWorker]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    w = LocalWorker(redis_server.url, concurrency=2, env=WORKER_ENV, log_file=log, loglevel="INFO")
    w.start()
    yield w
    w.stop()


@pytest.fixture
def client(redis_server: EmbeddedRedis) -> Iterator[Client]:
    c = Client(redis_server.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


@pytest.fixture
def run(client: Client, worker: LocalWorker):  # type: ignore[no-untyped-def]
    """Submit a flow (YAML text) with inputs and wait for the end of the execution."""

    def _run(yaml_text: str, inputs: dict | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
        from executor import Flow

        execution = client.submit(Flow.from_yaml(yaml_text), inputs=inputs)
        return client.wait(execution.id, timeout=timeout)

    return _run


def stored(client: Client) -> tuple[int, frozenset[bytes]]:
    """What a refused request must not change: the executions and the deployed flows.

    (Not DBSIZE: on the shared Redis, executions of earlier tests may still be ending.)
    """
    r, k = client.store.r, client.store.k
    return int(r.zcard(k.index_all)), frozenset(r.scan_iter(match=f"{k.prefix}:flow*"))
