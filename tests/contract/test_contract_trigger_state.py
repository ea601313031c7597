"""The triggers' state part of the store contract (``executor/triggers/``), against
``RedisStore`` and ``MemoryStore``: what ``ostra trigger list`` shows."""

from __future__ import annotations

from executor.store.base import Store, TriggerRef

A = TriggerRef("company.team", "etl", "every_minute")
B = TriggerRef("company.team", "etl", "hook")
C = TriggerRef("other", "etl", "every_minute")


def test_fires_are_counted_and_the_last_one_kept(store: Store) -> None:
    assert store.trigger_state(A) is None
    store.trigger_fired(A, "io.kestra.plugin.core.trigger.Schedule", "e1", 100.0)
    store.trigger_fired(A, "io.kestra.plugin.core.trigger.Schedule", "e2", 160.0)
    state = store.trigger_state(A)
    assert state is not None
    assert (state.fired, state.execution_id, state.date) == (2, "e2", 160.0)
    assert state.type == "io.kestra.plugin.core.trigger.Schedule"
    assert state.error is None and not state.disabled


def test_an_error_is_kept_beside_the_last_fire(store: Store) -> None:
    store.trigger_fired(A, "Schedule", "e1", 100.0)
    store.trigger_failed(A, "Schedule", "inputs.n: must be an integer", 160.0)
    state = store.trigger_state(A)
    assert state is not None
    assert (state.error, state.error_date, state.execution_id) == (
        "inputs.n: must be an integer",
        160.0,
        "e1",
    )


def test_disable_and_enable_again(store: Store) -> None:
    store.set_trigger_disabled(A, True)
    assert store.trigger_state(A).disabled  # type: ignore[union-attr]
    store.set_trigger_disabled(A, False)
    assert not store.trigger_state(A).disabled  # type: ignore[union-attr]


def test_listing_by_namespace_and_forgetting_removed_triggers(store: Store) -> None:
    for ref in (A, B, C):
        store.trigger_fired(ref, "Schedule", "e", 1.0)
    assert [s.ref for s in store.trigger_states()] == sorted([A, B, C], key=lambda r: r.uid)
    assert [s.ref for s in store.trigger_states("company.team")] == [A, B]
    store.forget_triggers("company.team", "etl", keep=["hook"])
    assert [s.ref for s in store.trigger_states()] == [B, C]
    assert store.trigger_state(A) is None
