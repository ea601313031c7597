"""The store contract suite: every test runs against ``RedisStore`` and ``MemoryStore``
(the fixture ``store``); helpers are in ``support.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from executor.embedded import EmbeddedRedis
from executor.store.base import Store
from executor.store.memory import MemoryStore
from executor.store.redis import RedisStore


@pytest.fixture(params=["redis", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each kind (Redis: a prefix of its own on the session's
    server)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    server: EmbeddedRedis = request.getfixturevalue("redis_server")
    s = RedisStore.from_url(server.url, prefix=f"ct-{uuid.uuid4().hex[:12]}")
    yield s
    s.close()
