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
import redis

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


def every_stored_byte(r: redis.Redis) -> bytes:
    """Every key and value of the database: strings, hashes, lists, sets, zsets, streams."""
    parts: list[bytes] = []
    kinds: set[str] = set()
    for key in r.scan_iter(count=500):
        parts.append(key)
        kind = r.type(key).decode()
        kinds.add(kind)
        if kind == "string":
            parts.append(r.get(key) or b"")
        elif kind == "hash":
            for k, v in r.hgetall(key).items():
                parts += [k, v]
        elif kind == "list":
            parts += r.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(r.smembers(key))
        elif kind == "zset":
            parts += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in r.xrange(key):
                for k, v in fields.items():
                    parts += [k, v]
        elif kind != "none":  # "none": gone since SCAN listed it (kombu's transient keys)
            raise AssertionError(f"key {key!r} of unexpected type {kind}")
    assert {"hash", "zset", "stream"} <= kinds, kinds  # the scan did read Ostra's keys
    return b"\0".join(parts)
