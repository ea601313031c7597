"""Helpers of the store contract suite.

Tests use the store only as its users do (the ``Store`` protocol); the one exception is
``sent()``, which reads what a step pushed onto a Celery queue (a Redis list for
``RedisStore``, ``MemoryStore.queues`` for the twin).
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

import pytest

from executor.flow import Flow
from executor.messages import Outgoing
from executor.state import TRANSITIONS, StateType
from executor.store.base import NewRow, Store
from executor.store.memory import MemoryStore
from executor.store.redis import RedisStore

S = StateType


def xfail_redis(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark the running test an expected failure on ``RedisStore`` only (strict: it must
    fail there), for behaviour of RedisStore that looks like a bug."""
    if request.node.callspec.params.get("store") == "redis":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def make_flow(
    fid: str = "f", namespace: str = "ns", tasks: tuple[str, ...] = ("a", "b"), **extra: Any
) -> Flow:
    """A flow of Log tasks."""
    return Flow.from_dict(
        {
            "id": fid,
            "namespace": namespace,
            "tasks": [{"id": t, "type": "Log", "message": t} for t in tasks],
            **extra,
        }
    )


def new_id(kind: str = "x") -> str:
    return f"{kind}{uuid.uuid4().hex[:10]}"


def queue_key(store: Store) -> str:
    """A queue of this test's own."""
    prefix = store.k.prefix if isinstance(store, RedisStore) else "mem"
    return f"{prefix}-queue"


def message(store: Store, text: str) -> Outgoing:
    return Outgoing(queue_key(store), text, text)


def sent(store: Store, key: str | None = None) -> list[str]:
    """Messages pushed onto the test's queue, oldest first."""
    key = key or queue_key(store)
    if isinstance(store, RedisStore):  # kombu pushes on the left, pops on the right
        return [raw.decode() for raw in reversed(store.r.lrange(key, 0, -1))]
    assert isinstance(store, MemoryStore)
    return list(store.queues.get(key, []))


def row(
    task_id: str,
    *,
    trid: str | None = None,
    parent: str | None = None,
    value: str | None = None,
    iteration: int | None = None,
    msg: Outgoing | None = None,
) -> NewRow:
    return NewRow(trid or new_id("t"), task_id, parent, value, iteration, msg)


def submit(
    store: Store,
    flow: Flow | None = None,
    first: list[NewRow] | None = None,
    eid: str | None = None,
    **kwargs: Any,
) -> str:
    """Create an execution (first task runs: ``first``); its id."""
    eid = eid or new_id("e")
    created = store.create_execution(
        eid, flow or make_flow(), {"n": 1}, [], first or [], pending_deadline=0.0, **kwargs
    )
    assert created is not None
    return eid


def path_to(target: StateType) -> list[StateType]:
    """The shortest chain of legal moves from CREATED to ``target`` (CREATED excluded)."""
    prev: dict[StateType, StateType | None] = {S.CREATED: None}
    todo = deque([S.CREATED])
    while todo:
        cur = todo.popleft()
        for nxt in sorted(TRANSITIONS[cur]):
            if nxt not in prev:
                prev[nxt] = cur
                todo.append(nxt)
    chain: list[StateType] = []
    at: StateType | None = target
    while at is not None and at != S.CREATED:
        chain.append(at)
        at = prev[at]
    return chain[::-1]


def running(
    store: Store,
    first: tuple[str, ...] = ("a",),
    worker: str = "w1",
    lease_s: float = 30.0,
    **kwargs: Any,
) -> tuple[str, list[str]]:
    """An execution whose first task run (of ``first``) is RUNNING attempt 1."""
    rows = [row(t) for t in first]
    eid = submit(store, first=rows, **kwargs)
    res = store.start_attempt(eid, rows[0].id, worker, lease_s)
    assert res.status == "START" and res.attempt == 1
    return eid, [r.id for r in rows]
