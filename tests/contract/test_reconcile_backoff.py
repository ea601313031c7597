"""The reconciler's back-off of active entries whose sweep failed (``back_off_active``,
``forget_active_failures``)."""

from __future__ import annotations

from executor.store.base import Store
from executor.store.memory import MemoryStore
from executor.store.redis import RedisStore
from tests.contract.support import row, submit


def test_a_failing_entry_is_put_off_longer_each_time_up_to_the_cap(store: Store) -> None:
    first = row("a")
    eid = submit(store, first=[first])
    assert store.active_failures(eid, first.id) == 0
    assert store.back_off_active(eid, first.id, 100.0, 2.0, 10.0) == (1, 102.0)
    assert store.due_active(101.0) == [] and store.due_active(102.0) == [(eid, first.id)]
    assert store.back_off_active(eid, first.id, 102.0, 2.0, 10.0) == (2, 106.0)
    assert store.back_off_active(eid, first.id, 106.0, 2.0, 10.0) == (3, 114.0)
    assert store.back_off_active(eid, first.id, 114.0, 2.0, 10.0) == (4, 124.0)  # capped
    assert store.active_failures(eid, first.id) == 4
    # A sweep that went well forgets the count: the next failure starts again at 2 s.
    store.forget_active_failures([(eid, first.id)])
    assert store.active_failures(eid, first.id) == 0
    assert store.back_off_active(eid, first.id, 200.0, 2.0, 10.0) == (1, 202.0)


def test_counts_of_entries_that_left_the_active_set_are_forgotten(store: Store) -> None:
    a, b = row("a"), row("b")
    eid = submit(store, first=[a, b])
    store.back_off_active(eid, a.id, 100.0, 2.0, 10.0)
    store.back_off_active(eid, b.id, 100.0, 2.0, 10.0)
    store.clear_active(eid, a.id)  # its task run ended meanwhile
    store.forget_active_failures([])
    assert store.active_failures(eid, a.id) == 0
    assert store.active_failures(eid, b.id) == 1  # still active: kept


def test_a_member_naming_no_task_run_is_dropped_from_the_active_set(store: Store) -> None:
    first = row("a")
    eid = submit(store, first=[first])
    if isinstance(store, RedisStore):
        store.r.zadd(store.k.active, {"garbage": 0.5})
    else:
        assert isinstance(store, MemoryStore)
        store._active["garbage"] = 0.5
    assert store.due_active(1.0) == [(eid, first.id)]
    assert store.due_active(1.0) == [(eid, first.id)]  # gone, not swept again
