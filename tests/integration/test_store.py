"""The Lua scripts enforce the same table: each (from, to) pair against a real Redis."""

from __future__ import annotations

import json
from itertools import product

import pytest

from executor.embedded import EmbeddedRedis
from executor.state import TRANSITIONS, StateType
from executor.store import RedisStore


@pytest.fixture(scope="module")
def store(redis_server: EmbeddedRedis) -> RedisStore:
    return RedisStore.from_url(redis_server.url, prefix="luatable")


def test_execution_cas_matches_the_python_table(store: RedisStore) -> None:
    refused = allowed = 0
    for src, dst in product(StateType, StateType):
        eid = f"{src.value}-{dst.value}"
        store.r.hset(store.k.execution(eid), mapping={"state": src.value, "created": 0})
        status, current = store.transition_execution(eid, dst)
        if src == dst:
            assert status == "NOOP"
        elif dst in TRANSITIONS[src]:
            assert status == "OK", (src, dst)
            allowed += 1
        else:
            assert status == "INVALID", (src, dst)
            assert current == src
            refused += 1
        history = store.r.hget(store.k.execution(eid), "h")
        assert (history is not None) == (status == "OK")
        if status == "OK":  # one dated entry for the move
            assert json.loads(f"[{history.decode()}]") == [  # type: ignore[union-attr]
                {"state": dst.value, "date": json.loads(f"[{history.decode()}]")[0]["date"]}
            ]
    assert allowed and refused
