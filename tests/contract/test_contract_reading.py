"""Contract: the active set, the sweep lock, logs, events, search and retention."""

from __future__ import annotations

import threading
import time

import pytest

from executor.errors import ExecutionNotFound
from executor.models import LogEntry
from executor.state import StateType
from executor.store.base import Store
from tests.contract.support import make_flow, row, running, submit

S = StateType


# ---------------------------------------------------------------------- active set


def test_active_set(store: Store) -> None:
    store.set_active("e1", "t1", 30.0)
    store.set_active("e2", "t2", 10.0)
    store.set_active("e3", "t3", 20.0)
    assert store.due_active(5.0) == []
    assert store.due_active(20.0) == [("e2", "t2"), ("e3", "t3")]  # soonest first
    assert store.due_active(100.0, limit=1) == [("e2", "t2")]
    store.set_active("e2", "t2", 40.0)  # moved
    store.clear_active("e3", "t3")
    store.clear_active("e3", "t3")  # idempotent
    assert store.due_active(100.0) == [("e1", "t1"), ("e2", "t2")]


def test_sweep_lock(store: Store) -> None:
    assert store.acquire_sweep_lock("a", 10_000)
    assert not store.acquire_sweep_lock("b", 10_000)
    assert store.acquire_sweep_lock("a", 10_000)  # kept by its holder
    store.release_sweep_lock("b")  # not its to give up
    assert not store.acquire_sweep_lock("b", 10_000)
    store.release_sweep_lock("a")
    assert store.acquire_sweep_lock("b", 10_000)


def test_sweep_lock_expires(store: Store) -> None:
    assert store.acquire_sweep_lock("a", 50)
    time.sleep(0.12)
    assert store.acquire_sweep_lock("b", 10_000)
    store.release_sweep_lock("a")  # expired holder: nothing to give up
    assert not store.acquire_sweep_lock("a", 10_000)


# ---------------------------------------------------------------------- logs


def test_logs(store: Store) -> None:
    eid = submit(store)
    assert store.logs(eid) == []
    entries = [
        LogEntry(message="one", execution_id=eid, task_run_id="t", task_id="a", attempt=1),
        LogEntry(level="ERROR", message="two ✓", execution_id=eid),
    ]
    for entry in entries:
        store.append_log(entry)
    assert store.logs(eid) == entries
    assert store.metrics(eid) == []


# ---------------------------------------------------------------------- events


def _one_run(store: Store) -> str:
    eid, (a,) = running(store)
    store.finish_attempt(eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0)
    store.transition_execution(eid, S.SUCCESS)
    return eid


def test_read_events_in_order(store: Store) -> None:
    eid = _one_run(store)
    events = store.read_events(eid)
    seen = [(e.task_id, e.attempt, e.state) for _, e in events]
    assert seen == [
        (None, None, S.CREATED),
        ("a", None, S.CREATED),  # the create step
        ("a", None, S.RUNNING),
        ("a", 1, S.RUNNING),
        (None, None, S.RUNNING),  # start
        ("a", 1, S.SUCCESS),
        ("a", None, S.SUCCESS),  # finish
        (None, None, S.SUCCESS),
    ]
    assert all(e.execution_id == eid for _, e in events)
    assert len({i for i, _ in events}) == len(events)
    assert store.last_event_id(eid) == events[-1][0].partition("/")[0]


def test_read_events_resumes_after_any_id(store: Store) -> None:
    eid = _one_run(store)
    events = store.read_events(eid, "0")
    for i, (event_id, _) in enumerate(events):
        assert store.read_events(eid, event_id) == events[i + 1 :], event_id
    # after the id of a whole entry (last_event_id): what came after it
    assert store.read_events(eid, store.last_event_id(eid)) == []
    store.transition_execution(eid, S.SUCCESS)  # a NOOP writes no event
    assert store.read_events(eid, events[-1][0]) == []


def test_read_events_blocks_until_a_change(store: Store) -> None:
    eid = submit(store)
    last = store.last_event_id(eid)
    timer = threading.Timer(0.2, store.transition_execution, (eid, S.RUNNING))
    timer.start()
    try:
        started = time.monotonic()
        events = store.read_events(eid, last, block_ms=5000)
        assert [e.state for _, e in events] == [S.RUNNING]
        assert 0.1 < time.monotonic() - started < 4
    finally:
        timer.join()
    started = time.monotonic()
    assert store.read_events(eid, store.last_event_id(eid), block_ms=200) == []
    assert time.monotonic() - started >= 0.15


def test_execution_events(store: Store) -> None:
    eid = _one_run(store)
    changes = store.read_execution_events(eid, "0", 10)
    assert [s for _, s in changes] == [S.RUNNING, S.SUCCESS]  # moves, not the creation
    assert store.last_execution_event_id(eid) == changes[-1][0]
    assert store.read_execution_events(eid, changes[0][0], 10) == changes[1:]
    last = store.last_execution_event_id(eid)
    assert store.read_execution_events(eid, last, 10) == []
    other = submit(store)
    timer = threading.Timer(0.2, store.kill_execution, (other,))
    timer.start()
    try:
        got = store.read_execution_events(other, store.last_execution_event_id(other), 5000)
        assert [s for _, s in got][0] == S.KILLING
    finally:
        timer.join()


# ---------------------------------------------------------------------- search


def _executions(store: Store) -> dict[str, str]:
    ids = {}
    for name, flow in (
        ("a1", make_flow("fa")),
        ("b1", make_flow("fb")),
        ("a2", make_flow("fa")),
        ("o1", make_flow("fa", namespace="other")),
    ):
        ids[name] = submit(store, flow)
        time.sleep(0.002)  # creation time orders them
    store.transition_execution(ids["a2"], S.RUNNING)
    store.transition_execution(ids["o1"], S.RUNNING)
    return ids


def test_search(store: Store) -> None:
    x = _executions(store)
    assert store.search() == [x["o1"], x["a2"], x["b1"], x["a1"]]  # newest first
    assert store.search(namespace="ns", flow_id="fa") == [x["a2"], x["a1"]]
    assert store.search(namespace="ns") == [x["a2"], x["b1"], x["a1"]]
    assert store.search(state=S.RUNNING) == [x["o1"], x["a2"]]
    assert store.search(state=S.CREATED, namespace="ns") == [x["b1"], x["a1"]]
    assert store.search(namespace="ns", flow_id="fa", state=S.RUNNING) == [x["a2"]]
    assert store.search(limit=2) == [x["o1"], x["a2"]]
    assert store.search(limit=2, offset=2) == [x["b1"], x["a1"]]
    assert store.search(namespace="none") == []


def test_search_by_flow_id_alone(store: Store) -> None:
    x = _executions(store)
    assert store.search(flow_id="fb") == [x["b1"]]


# ---------------------------------------------------------------------- retention


def test_purge_ended(store: Store) -> None:
    old, new, alive = submit(store, first=[row("a")]), submit(store), submit(store)
    for eid in (old, new):
        store.transition_execution(eid, S.RUNNING)
        store.transition_execution(eid, S.SUCCESS)
    store.mark_ended(old)
    time.sleep(0.05)
    cutoff = time.time()
    time.sleep(0.05)
    store.mark_ended(new)
    store.append_log(LogEntry(message="x", execution_id=old))
    assert store.purge_ended(cutoff) == 1
    assert store.execution_state(old) is None
    with pytest.raises(ExecutionNotFound):
        store.get_execution(old)
    with pytest.raises(ExecutionNotFound):
        store.logs(old)
    assert store.task_run_rows(old) == []
    assert old not in store.search() and old not in store.search(state=S.SUCCESS)
    assert old not in store.search(namespace="ns", flow_id="f")
    assert store.search() == [alive, new]
    assert store.purge_ended(cutoff) == 0  # done already
    assert store.purge_ended(time.time() + 1) == 1
    assert store.search() == [alive]


def test_purge_keeps_a_restarted_execution(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, S.FAILED)
    store.mark_ended(eid)
    store.transition_execution(eid, S.RESTARTED)  # running again, still in retention
    assert store.purge_ended(time.time() + 1) == 0
    assert store.execution_state(eid) == S.RESTARTED


def test_purge_limit(store: Store) -> None:
    ids = [submit(store) for _ in range(3)]
    for eid in ids:
        store.transition_execution(eid, S.CANCELLED)
        store.mark_ended(eid)
    assert store.purge_ended(time.time() + 1, limit=2) == 2
    assert store.purge_ended(time.time() + 1, limit=2) == 1
    assert store.search() == []
