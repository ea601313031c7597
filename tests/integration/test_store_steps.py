"""Lua steps that only apply (issue 9): a refused step writes nothing, promotion from a
concurrency queue never admits more than the limit, and the END fast path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from executor import Flow
from executor.embedded import EmbeddedRedis
from executor.ids import derived_id, new_id
from executor.state import StateType as S
from executor.store import RedisStore
from executor.store.base import NewRow, Status, Then

LINEAR = Flow.from_yaml("""
id: steps
namespace: tests.store
tasks:
  - {id: a, type: Return, format: "1"}
  - {id: b, type: Return, format: "2"}
""")
LIMITED = Flow.from_yaml("""
id: limited
namespace: tests.store
concurrency: {limit: 1}
tasks:
  - {id: a, type: Return, format: "1"}
""")


@pytest.fixture
def store(redis_server: EmbeddedRedis) -> RedisStore:
    return RedisStore.from_url(redis_server.url, prefix=f"steps{new_id()[:6]}")


def snapshot(store: RedisStore) -> dict[bytes, Any]:
    """Every key of the store's prefix with its whole value (and whether it has a TTL).
    By value, not DUMP: DUMP's bytes depend on the encoding too."""
    r = store.r
    read = {
        b"string": r.get,
        b"hash": r.hgetall,
        b"list": lambda k: r.lrange(k, 0, -1),
        b"set": r.smembers,
        b"zset": lambda k: r.zrange(k, 0, -1, withscores=True),
        b"stream": r.xrange,
    }
    return {
        key: (read[r.type(key)](key), r.pttl(key) > 0)  # type: ignore[operator]
        for key in sorted(r.scan_iter(match=f"{store.k.prefix}:*"))
    }


def refused(store: RedisStore, step: Callable[[], Any]) -> Any:
    before = snapshot(store)
    out = step()
    assert snapshot(store) == before, out
    return out


def execution(
    store: RedisStore, flow: Flow = LINEAR, *, ids: bool = False
) -> tuple[str, list[str]]:
    eid = new_id()
    trids = [derived_id(eid, t.id) if ids else new_id() for t in flow.tasks]
    store.create_execution(
        eid, flow, {}, [], [NewRow(trids[0], flow.tasks[0].id)], time.time() + 300
    )
    return eid, trids


def ended(store: RedisStore) -> tuple[str, str]:
    """An execution that ran its one task run and ended SUCCESS."""
    eid, trids = execution(store)
    assert store.start_attempt(eid, trids[0], "w", 30).status == Status.START
    assert (
        store.finish_attempt(
            eid, trids[0], 1, S.SUCCESS, S.SUCCESS, active_deadline=time.time()
        ).status
        == Status.OK
    )
    assert store.transition_execution(eid, S.SUCCESS).status == Status.OK
    return eid, trids[0]


def test_refused_moves_write_nothing(store: RedisStore) -> None:
    eid, trid = ended(store)
    assert refused(store, lambda: store.transition_execution(eid, S.RUNNING)) == (
        Status.INVALID,
        S.SUCCESS,
    )
    assert (
        refused(store, lambda: store.transition_execution(eid, S.KILLED, expected=S.RUNNING)).status
        == Status.CONFLICT
    )
    assert (
        refused(store, lambda: store.transition_task_run(eid, trid, S.RUNNING)).status
        == Status.INVALID
    )
    assert (
        refused(
            store, lambda: store.create_task_runs(eid, [NewRow(new_id(), "b")], time.time())
        ).runs
        == []
    )
    assert refused(store, lambda: store.kill_execution(eid)).status == Status.ENDED
    assert refused(store, lambda: store.restart_execution(eid, [], time.time())).status == (
        Status.REFUSED
    )
    assert (
        refused(
            store, lambda: store.start_flowable(eid, trid, "seq", 1, 1, 1, 1, '{"tasks":["b"]}', [])
        )
        == Status.REFUSED
    )
    assert refused(store, lambda: store.start_attempt(eid, trid, "w", 30)).status == Status.DONE
    assert refused(store, lambda: store.purge_ended(0)) == 0
    assert (
        refused(
            store,
            lambda: store.create_execution(
                eid, LINEAR, {}, [], [], time.time(), only_if_absent=True
            ),
        )
        is None
    )
    assert (
        refused(
            store, lambda: store.child_ended(eid, trid, new_id(), "ok", "b", None, False)
        ).status
        == Status.PARENT
    )


def test_an_end_the_table_forbids_writes_nothing(store: RedisStore) -> None:
    eid, trids = execution(store)
    assert store.start_attempt(eid, trids[0], "w", 30).status == Status.START
    # RUNNING -> CREATED is not a move of the table: the step refuses before writing.
    done = refused(
        store,
        lambda: store.finish_attempt(
            eid, trids[0], 1, S.SUCCESS, S.CREATED, active_deadline=time.time()
        ),
    )
    assert done.status == Status.INVALID
    # A superseded attempt's result changes nothing but that attempt's own record.
    assert (
        store.finish_attempt(
            eid, trids[0], 2, S.SUCCESS, S.SUCCESS, active_deadline=time.time()
        ).status
        == Status.STALE
    )


def test_concurrency_steps_refuse_before_writing(store: RedisStore) -> None:
    first, _ = execution(store, LIMITED)
    assert store.admit(first, LIMITED) == Status.RUN
    second, _ = execution(store, LIMITED)
    assert store.admit(second, LIMITED) == Status.QUEUED
    # a slot is freed only for an execution that ended
    refused(store, lambda: store.release_slot(first, LIMITED.namespace, LIMITED.id, 1))
    # no free slot: nothing promoted, nothing written
    assert refused(store, store.pop_promoted) == []
    # an execution that is not CREATED cannot be queued (nor take a slot)
    assert store.transition_execution(first, S.RUNNING).status == Status.OK
    assert refused(store, lambda: store.admit(first, LIMITED)) == Status.INVALID
    # the end frees the slot (in that step) and the next one is promoted (its own step)
    assert store.transition_execution(first, S.SUCCESS).status == Status.OK
    assert store.execution_state(second) == S.QUEUED
    assert store.pop_promoted() == [second]
    assert store.execution_state(second) == S.CREATED
    assert store.search(state=S.QUEUED) == [] and second in store.search(state=S.CREATED)


def test_racing_promotions_never_admit_more_than_the_limit(store: RedisStore) -> None:
    holder, _ = execution(store, LIMITED)
    assert store.admit(holder, LIMITED) == Status.RUN
    queued = []
    for _ in range(20):
        eid, _ = execution(store, LIMITED)
        assert store.admit(eid, LIMITED) == Status.QUEUED
        queued.append(eid)
    assert store.transition_execution(holder, S.KILLED).status == Status.OK  # frees its slot
    promoted: list[str] = []
    barrier = threading.Barrier(8)

    def promote() -> None:
        mine = RedisStore(store.r.__class__(connection_pool=store.r.connection_pool), store.k)
        barrier.wait()
        promoted.extend(mine.pop_promoted())

    threads = [threading.Thread(target=promote) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert promoted == [queued[0]]
    holders = dict(((ns, f), m) for ns, f, m in store.slot_holders())
    assert holders[(LIMITED.namespace, LIMITED.id)] == [queued[0]]


def test_the_last_task_run_ends_the_execution_with_the_ids_it_is_given(store: RedisStore) -> None:
    eid, (a, b) = execution(store, ids=True)
    assert store.start_attempt(eid, a, "w", 30).status == Status.START
    then = Then(S.WARNING, [NewRow(b, "b")], time.time() + 300)
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.WARNING, active_deadline=time.time(), then=then
    )
    assert done.next_state == S.RUNNING
    assert store.start_attempt(eid, b, "w", 30).status == Status.START
    end = Then(S.SUCCESS, [], siblings=(a, b))
    done = store.finish_attempt(
        eid, b, 1, S.SUCCESS, S.SUCCESS, active_deadline=time.time(), then=end
    )
    assert done.ended == S.WARNING  # the worst state of its top-level task runs
    assert store.execution_state(eid) == S.WARNING


def test_no_end_in_that_step_when_a_task_run_is_unknown_to_the_caller(store: RedisStore) -> None:
    eid, (a, b) = execution(store, ids=True)
    other = new_id()  # not among the siblings the caller names
    assert store.create_task_runs(eid, [NewRow(other, "b")], time.time()).runs == [(other, True)]
    assert store.transition_task_run(eid, other, S.SKIPPED).status == Status.OK  # ended
    assert store.start_attempt(eid, a, "w", 30).status == Status.START
    done = store.finish_attempt(
        eid,
        a,
        1,
        S.SUCCESS,
        S.SUCCESS,
        active_deadline=time.time(),
        then=Then(S.SUCCESS, [], siblings=(a, b)),
    )
    assert done.status == Status.OK and done.ended is None
    assert store.execution_state(eid) == S.RUNNING  # the orchestrator ends it
