"""Per-process singletons of a worker: store, orchestrator, attempt runner, reconciler.

Created lazily, after the pool forks, so every process has its own Redis connections.
"""

from __future__ import annotations

import os
from functools import cache

from executor.dispatch import Dispatcher
from executor.orchestrator import Orchestrator
from executor.reconciler import Reconciler
from executor.settings import get_settings
from executor.store import RedisStore


@cache
def _store(pid: int) -> RedisStore:
    s = get_settings()
    return RedisStore.from_url(s.url, s.prefix)


def store() -> RedisStore:
    return _store(os.getpid())


@cache
def _orchestrator(pid: int) -> Orchestrator:
    return Orchestrator(store(), Dispatcher(), get_settings())


def orchestrator() -> Orchestrator:
    return _orchestrator(os.getpid())


def reconciler() -> Reconciler:
    return Reconciler(orchestrator())
