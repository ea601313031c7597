"""The Flow triggers' part of the store contract, against ``RedisStore`` and
``MemoryStore``: the stream of ends (appended by the step that ends an execution while
some flow listens), its consumer group, and the windows of multiple conditions."""

from __future__ import annotations

from executor.flow import Flow
from executor.state import StateType
from executor.store.base import Store
from tests.contract.support import make_flow, running, submit

LISTENER = {
    "triggers": [
        {
            "id": "after",
            "type": "io.kestra.plugin.core.trigger.Flow",
            "preconditions": {"id": "up", "flows": [{"namespace": "ns", "flowId": "f"}]},
        }
    ]
}


def listener(**extra: object) -> Flow:
    return make_flow("listener", "other", **{**LISTENER, **extra})  # type: ignore[arg-type]


def test_no_listener_no_entry(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.FAILED)
    assert store.flow_listeners() == []
    assert store.read_flow_ends("c1", 10) == []


def test_each_end_is_appended_with_what_ended(store: Store) -> None:
    store.deploy_flow(listener())
    assert store.flow_listeners() == [("other", "listener")]
    eid = submit(store)
    store.transition_execution(eid, StateType.RUNNING)
    assert store.read_flow_ends("c1", 10) == []  # not an end
    store.transition_execution(eid, StateType.FAILED)
    (entry,) = store.read_flow_ends("c1", 10)
    assert (entry.execution_id, entry.namespace, entry.flow_id, entry.state) == (
        eid,
        "ns",
        "f",
        "FAILED",
    )
    assert entry.flow_revision == 1
    # Ended again after a restart: one more end.
    store.restart_execution(eid, [], 0.0)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.SUCCESS)
    (again,) = store.read_flow_ends("c1", 10)
    assert again.state == "SUCCESS" and again.entry_id != entry.entry_id


def test_a_kill_is_an_end(store: Store) -> None:
    store.deploy_flow(listener())
    eid = submit(store)
    assert store.kill_execution(eid).status == "KILLED"
    (entry,) = store.read_flow_ends("c1", 10)
    assert (entry.execution_id, entry.state) == (eid, "KILLED")


def test_a_worker_ending_the_last_task_run_appends_the_end(store: Store) -> None:
    store.deploy_flow(listener())
    eid, (trid,) = running(store)
    from executor.store.base import Then

    done = store.finish_attempt(
        eid,
        trid,
        1,
        StateType.SUCCESS,
        StateType.SUCCESS,
        active_deadline=0.0,
        then=Then(StateType.SUCCESS, []),
    )
    assert done.ended == StateType.SUCCESS
    (entry,) = store.read_flow_ends("c1", 10)
    assert (entry.execution_id, entry.state) == (eid, "SUCCESS")


def test_unacknowledged_entries_are_claimed_after_the_idle_time(store: Store) -> None:
    store.deploy_flow(listener())
    for _ in range(2):
        eid = submit(store)
        store.transition_execution(eid, StateType.RUNNING)
        store.transition_execution(eid, StateType.SUCCESS)
    first = store.read_flow_ends("dead", 1)
    assert len(first) == 1
    # Another consumer gets the other entry, not the one "dead" holds ...
    second = store.read_flow_ends("alive", 10, claim_idle=3600)
    assert [e.entry_id for e in second] != [e.entry_id for e in first] and len(second) == 1
    store.ack_flow_ends([e.entry_id for e in second])
    # ... until it waited long enough: then it is claimed, once.
    claimed = store.read_flow_ends("alive", 10, claim_idle=0)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in first]
    store.ack_flow_ends([e.entry_id for e in claimed])
    assert store.read_flow_ends("alive", 10, claim_idle=0) == []


def test_deleting_or_disabling_the_listener_stops_the_entries(store: Store) -> None:
    store.deploy_flow(listener())
    store.delete_flow("other", "listener")
    assert store.flow_listeners() == []
    store.deploy_flow_source(listener(), "src")
    assert store.flow_listeners() == [("other", "listener")]
    store.deploy_flow(listener(disabled=True))
    assert store.flow_listeners() == []
    eid = submit(store)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.SUCCESS)
    assert store.read_flow_ends("c1", 10) == []


def test_a_window_completes_once_every_condition_was_met(store: Store) -> None:
    bounds = (0.0, 1000.0)
    assert not store.flow_window("t|m", "1-0", bounds, [], 2, True, 10.0)
    assert not store.flow_window("t|m", "2-0", bounds, ["a"], 2, True, 11.0)
    assert not store.flow_window("t|m", "3-0", bounds, ["a"], 2, True, 12.0)
    assert store.flow_window("t|m", "4-0", bounds, ["b"], 2, True, 13.0)
    # Reset on success: start again ...
    assert not store.flow_window("t|m", "5-0", bounds, ["b"], 2, True, 14.0)
    # ... while the entry that completed it still gets its answer (evaluated again).
    assert store.flow_window("t|m", "4-0", bounds, ["b"], 2, True, 15.0)


def test_a_window_is_forgotten_once_its_end_passed(store: Store) -> None:
    assert not store.flow_window("t|m", "1-0", (0.0, 100.0), ["a"], 2, True, 10.0)
    assert not store.flow_window("t|m", "2-0", (200.0, 300.0), ["b"], 2, True, 200.0)
    assert store.flow_window("t|m", "3-0", (200.0, 300.0), ["a"], 2, True, 201.0)


def test_without_reset_a_complete_window_stays_complete(store: Store) -> None:
    bounds = (0.0, 1000.0)
    assert store.flow_window("t|m", "1-0", bounds, ["a"], 1, False, 10.0)
    assert store.flow_window("t|m", "2-0", bounds, [], 1, False, 11.0)


def paused_listener(
    fid: str = "listener", states: tuple[str, ...] = ("PAUSED",), disabled: bool = False
) -> Flow:
    trigger = {"id": "on-pause", "type": "io.kestra.plugin.core.trigger.Flow"}
    return make_flow(
        fid, "other", triggers=[{**trigger, "states": list(states), "disabled": disabled}]
    )


def test_a_move_to_a_state_a_trigger_lists_is_appended_each_time(store: Store) -> None:
    """Kestra evaluates Flow triggers on every state change: a trigger listing PAUSED
    sees each pause (two pauses, two entries), RUNNING (listed by none) is not
    appended, the end still is."""
    store.deploy_flow(paused_listener())
    eid = submit(store)
    store.transition_execution(eid, StateType.RUNNING)
    assert store.read_flow_ends("c1", 10) == []
    store.transition_execution(eid, StateType.PAUSED)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.PAUSED)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.SUCCESS)
    entries = store.read_flow_ends("c1", 10)
    assert [(e.execution_id, e.state) for e in entries] == [
        (eid, "PAUSED"),
        (eid, "PAUSED"),
        (eid, "SUCCESS"),
    ]
    assert len({e.entry_id for e in entries}) == 3
    assert (entries[0].namespace, entries[0].flow_id, entries[0].flow_revision) == ("ns", "f", 1)


def test_without_a_trigger_listing_it_a_pause_is_not_appended(store: Store) -> None:
    store.deploy_flow(listener())  # default states: the ends
    eid = submit(store)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, StateType.PAUSED)
    store.transition_execution(eid, StateType.RUNNING)
    assert store.read_flow_ends("c1", 10) == []


def test_redeploying_disabling_or_deleting_stops_the_listened_state(store: Store) -> None:
    """The flows listening to a state are kept per flow: another flow still listening
    keeps it appended; once none does (listed no more, disabled, deleted), it is not."""
    store.deploy_flow(paused_listener("l1"))
    store.deploy_flow(paused_listener("l2", ("PAUSED", "RUNNING")))

    def moves() -> list[str]:
        eid = submit(store)
        for state in (StateType.RUNNING, StateType.PAUSED):
            store.transition_execution(eid, state)
        entries = store.read_flow_ends("c1", 10)
        store.ack_flow_ends([e.entry_id for e in entries])
        return [e.state for e in entries]

    assert moves() == ["RUNNING", "PAUSED"]
    store.deploy_flow(paused_listener("l2", ("SUCCESS",)))
    assert moves() == ["PAUSED"]  # l1 still lists it
    store.delete_flow("other", "l1")
    assert moves() == []
    store.deploy_flow_source(paused_listener("l1"), "src")
    assert moves() == ["PAUSED"]
    store.deploy_flow(paused_listener("l1", disabled=True))
    assert moves() == []
