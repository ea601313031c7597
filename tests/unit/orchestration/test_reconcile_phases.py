"""Each part of a reconciler sweep runs on its own: an entry, or a phase, that raises
(any exception, not only Ostra's) is logged and the rest of the sweep still runs."""

from __future__ import annotations

from typing import Any

import pytest

from executor.orchestrator import Orchestrator
from executor.reconciler import Reconciler
from executor.settings import Settings
from executor.store.memory import MemoryStore
from tests.unit.orchestration.test_orchestrator import RecordingDispatcher


class Broken(MemoryStore):
    """Every phase of a sweep raises something that is not an ``OstraError``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def task_run_row(self, eid: str, trid: str) -> Any:
        self.calls.append(f"entry {eid}")
        if eid == "bad":
            raise KeyError("a broken record")
        return super().task_run_row(eid, trid)

    def slot_holders(self) -> Any:
        self.calls.append("slots")
        raise RuntimeError("slots")

    def pop_promoted(self) -> Any:
        self.calls.append("promote")
        raise RuntimeError("promote")

    def purge_ended(self, older_than: float, limit: int = 200) -> int:
        self.calls.append("purge")
        raise RuntimeError("purge")


def test_a_raising_entry_or_phase_never_skips_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    store = Broken()
    store.set_active("bad", "t1", 1.0)
    store.set_active("good", "t2", 2.0)  # no such task run: dropped
    reconciler = Reconciler(Orchestrator(store, RecordingDispatcher(), Settings()))
    assert reconciler.sweep(now=10.0) == 1
    assert store.calls == ["entry bad", "entry good", "slots", "promote", "purge"]
    assert store.due_active(11.0) == []  # "bad" put off 2 s, "good" dropped
    assert store.due_active(12.0) == [("bad", "t1")]
    assert store.active_failures("bad", "t1") == 1
    assert "task run t1 of execution bad failed (1 in a row" in caplog.text
    for phase in ("concurrency slots", "promotions", "retention"):
        assert f"reconciler: {phase} failed" in caplog.text
    # The next failure waits twice as long; the sweep lock was released each time.
    reconciler.sweep(now=12.0)
    assert store.due_active(15.9) == [] and store.due_active(16.0) == [("bad", "t1")]


class Slow(MemoryStore):
    """Each entry takes 0.1 s to read."""

    def task_run_row(self, eid: str, trid: str) -> Any:
        import time

        time.sleep(0.1)
        return super().task_run_row(eid, trid)


def test_a_sweep_stops_taking_entries_at_half_its_lock_time() -> None:
    store = Slow()
    for i in range(20):
        store.set_active(f"e{i}", "t", 1.0 + i)
    reconciler = Reconciler(Orchestrator(store, RecordingDispatcher(), Settings()))
    reconciler.sweep(now=100.0, lock_ms=1000)  # 0.5 s of entries: about 5 of 20
    left = len(store.due_active(100.0))
    assert 10 <= left < 20, left  # the rest wait for the next sweep
    reconciler.sweep(now=100.0, lock_ms=60_000)
    assert store.due_active(100.0) == []
