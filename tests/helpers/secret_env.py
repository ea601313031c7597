"""A Redis server and a worker of their own for the secrets tests.

The session's shared worker has no ``SECRET_*`` variables and no encryption key, and it
would take these tests' task runs from the shared queue: these tests get their own
server, so only a worker with the secrets' environment runs their flows.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from executor import Client
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.settings import get_settings

#: The values the tests look for, in plaintext, everywhere.
SECRET_VALUE = "s3cr3t-Value-9f1c"
MULTILINE_VALUE = "line-one-a8e2\nline-two-b7d3"
JSON_SECRET = '{"secretKey":"json-Secret-77aa"}'
INPUT_VALUE = "input-Password-4d2e"
KEY = base64.b64encode(b"ostra-test-key-32-bytes-long!!!!").decode()


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


#: What the worker (and this process, for submitting SECRET inputs) is given.
SECRET_ENV = {
    "SECRET_MY_SECRET": b64(JSON_SECRET),
    "SECRET_PLAIN": b64(SECRET_VALUE),
    # Kestra wraps long Base64 values over lines; line breaks are ignored.
    "SECRET_NEW_LINE": b64(MULTILINE_VALUE)[:12] + "\n" + b64(MULTILINE_VALUE)[12:],
    "OSTRA_ENCRYPTION_KEY": KEY,
}


@contextmanager
def secret_world(tmp: Path, worker_env: dict[str, str]) -> Iterator[tuple[Client, EmbeddedRedis]]:
    """A server, a worker with :data:`SECRET_ENV`, and a client holding the key."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OSTRA_ENCRYPTION_KEY", KEY)
        get_settings.cache_clear()
        server = EmbeddedRedis(tmp / "redis")
        server.start()
        worker = LocalWorker(
            server.url, concurrency=1, env={**worker_env, **SECRET_ENV}, log_file=tmp / "w.log"
        )
        client = Client(server.url)
        try:
            worker.start()
            yield client, server
        finally:
            client.orchestrator.dispatcher.app.close()
            client.store.r.close()
            worker.stop()
            server.close()
    get_settings.cache_clear()
