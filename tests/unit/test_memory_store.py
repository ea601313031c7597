"""What only ``MemoryStore`` has: an injectable clock, ``queues``, one lock for every step
(the rest of its behaviour is the contract suite's, ``tests/contract/``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from executor.flow import Flow
from executor.messages import Outgoing
from executor.state import StateType
from executor.store.base import NewRow, Store
from executor.store.memory import MemoryStore

S = StateType
FLOW = Flow.from_dict(
    {"id": "f", "namespace": "ns", "tasks": [{"id": "a", "type": "Log", "message": "a"}]}
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store(clock: Clock) -> tuple[MemoryStore, str]:
    store = MemoryStore(clock=clock)
    msg = Outgoing("q", "payload-1", "id-1")
    store.create_execution("e", FLOW, {}, [], [NewRow("t", "a", message=msg)], 0.0)
    return store, "t"


def test_is_a_store() -> None:
    assert isinstance(MemoryStore(), Store)


def test_messages_go_to_queues() -> None:
    store, _ = _store(Clock())
    assert store.queues == {"q": ["payload-1"]}


def test_leases_follow_the_clock() -> None:
    clock = Clock()
    store, t = _store(clock)
    assert store.start_attempt("e", t, "w1", 10).status == "START"
    clock.now += 9
    busy = store.start_attempt("e", t, "w2", 10)
    assert busy.status == "BUSY" and busy.wait_ms == 1000
    clock.now += 2
    assert not store.lease_alive("e", t)
    assert store.start_attempt("e", t, "w2", 10).attempt == 2


def test_retry_delay_follows_the_clock() -> None:
    clock = Clock()
    store, t = _store(clock)
    store.start_attempt("e", t, "w", 10)
    store.finish_attempt(
        "e", t, 1, S.FAILED, S.RETRYING, retry_at=clock.now + 30, active_deadline=clock.now + 31
    )
    assert store.start_attempt("e", t, "w", 10).wait_ms == 30_000
    clock.now += 30
    assert store.start_attempt("e", t, "w", 10).attempt == 2


def test_sweep_lock_and_dates_follow_the_clock() -> None:
    clock = Clock()
    store, _ = _store(clock)
    assert store.acquire_sweep_lock("a", 5000)
    clock.now += 4.9
    assert not store.acquire_sweep_lock("b", 5000)
    clock.now += 0.2
    assert store.acquire_sweep_lock("b", 5000)
    created = store.get_execution("e").state.histories[0].date
    assert created == datetime.fromtimestamp(1_000_000.0, UTC)


def test_one_start_wins() -> None:
    store, t = _store(Clock())
    results: list[str] = []
    barrier = threading.Barrier(8)

    def start(i: int) -> None:
        barrier.wait()
        results.append(store.start_attempt("e", t, f"w{i}", 10).status)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["BUSY"] * 7 + ["START"]
