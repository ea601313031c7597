"""Security tests attack the system as a flow author would: each gets a Redis server of
its own (this ``redis_server`` overrides the session-wide one of ``tests/conftest.py``)
and, where it needs one, a worker of its own with the settings under test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.embedded import EmbeddedRedis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server
