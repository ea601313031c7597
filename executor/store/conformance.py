"""A static check that both stores implement the contract: mypy verifies that
``RedisStore`` and ``MemoryStore`` are structurally ``Store`` (every method, with
compatible signatures). Nothing here runs."""

from __future__ import annotations

from executor.store.base import Store
from executor.store.memory import MemoryStore
from executor.store.redis import RedisStore


def _implements(r: RedisStore, m: MemoryStore) -> tuple[Store, Store]:
    """Both stores, as the contract (a type error here names what does not conform)."""
    return r, m
