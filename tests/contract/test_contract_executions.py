"""Contract: flows, executions, and the compare-and-set of states against the table."""

from __future__ import annotations

from typing import Any

import pytest

from executor.errors import ExecutionNotFound, FlowNotFound
from executor.models import Label
from executor.state import TRANSITIONS, StateType
from executor.store.base import Status, Store
from tests.contract.support import make_flow, message, new_id, path_to, row, sent, submit

S = StateType


# ---------------------------------------------------------------------- flows


def test_deploy_same_digest_is_the_same_revision(store: Store) -> None:
    first = store.deploy_flow(make_flow())
    again = store.deploy_flow(make_flow())
    assert first.revision == again.revision == 1
    changed = store.deploy_flow(make_flow(tasks=("a", "b", "c")))
    assert changed.revision == 2
    back = store.deploy_flow(make_flow())  # differs from the latest: a new revision
    assert back.revision == 3


def test_get_flow_latest_or_asked_revision(store: Store) -> None:
    store.deploy_flow(make_flow())
    store.deploy_flow(make_flow(tasks=("x",)))
    latest = store.get_flow("ns", "f")
    assert latest.revision == 2 and [t.id for t in latest.tasks] == ["x"]
    old = store.get_flow("ns", "f", 1)
    assert old.revision == 1 and [t.id for t in old.tasks] == ["a", "b"]
    assert old.digest() == make_flow().digest()
    with pytest.raises(FlowNotFound):
        store.get_flow("ns", "nope")
    with pytest.raises(FlowNotFound):
        store.get_flow("ns", "f", 7)


def test_list_flows(store: Store) -> None:
    assert store.list_flows() == []
    store.deploy_flow(make_flow("f1"))
    store.deploy_flow(make_flow("f2", namespace="other.ns"))
    store.deploy_flow(make_flow("f1", tasks=("z",)))
    assert sorted(store.list_flows()) == [("ns", "f1"), ("other.ns", "f2")]


# ---------------------------------------------------------------------- executions


def _timeless(value: Any) -> Any:
    """A dump without ``duration`` (computed from the clock when read)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "duration"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_create_execution_as_stored(store: Store) -> None:
    eid = new_id("e")
    flow = make_flow(variables={"v": 1}).model_copy(update={"revision": 3})
    rows = [row("a", msg=message(store, "m-a")), row("b")]
    created = store.create_execution(
        eid, flow, {"x": "y"}, [Label(key="k", value="v")], rows, pending_deadline=0.0
    )
    assert created is not None
    got = store.get_execution(eid)
    assert _timeless(got.model_dump()) == _timeless(created.model_dump())
    assert got.state.current == S.CREATED and [h.state for h in got.state.histories] == [S.CREATED]
    assert got.inputs == {"x": "y"} and got.labels == [Label(key="k", value="v")]
    assert got.variables == {"v": 1} and got.flow_revision == 3
    assert got.original_id == eid and got.parent_id is None
    assert [(t.id, t.task_id, t.state.current) for t in got.task_run_list] == [
        (rows[0].id, "a", S.CREATED),
        (rows[1].id, "b", S.CREATED),
    ]
    assert sent(store) == ["m-a"]  # the one with a message, pushed in the same step
    assert store.execution_state(eid) == S.CREATED
    assert store.flow_ref(eid) == ("ns", "f", 3)
    assert store.execution_field(eid, "inputs") == {"x": "y"}
    assert store.execution_field(eid, "variables") == {"v": 1}
    meta = store.execution_meta(eid)
    assert meta["state"] == "CREATED" and meta["flowId"] == "f" and meta["namespace"] == "ns"
    assert store.execution_states([eid, "nope"]) == [S.CREATED, None]
    # the first task runs wait in the active set until a worker claims them
    assert {trid for _, trid in store.due_active(1.0)} == {rows[0].id, rows[1].id}


def test_missing_execution(store: Store) -> None:
    assert store.execution_state("nope") is None
    assert store.flow_ref("nope") is None
    with pytest.raises(ExecutionNotFound):
        store.get_execution("nope")
    with pytest.raises(ExecutionNotFound):
        store.execution_meta("nope")
    with pytest.raises(ExecutionNotFound):
        store.execution_field("nope", "inputs")
    with pytest.raises(ExecutionNotFound):
        store.logs("nope")
    with pytest.raises(ExecutionNotFound):
        store.metrics("nope")
    assert store.transition_execution("nope", S.RUNNING) == ("MISSING", None)
    assert store.transition_task_run("nope", "t", S.RUNNING) == ("MISSING", None)
    assert store.task_run_row("nope", "t") is None
    assert store.task_run_rows("nope") == []
    assert store.task_run_outputs("nope", "a") is None
    assert store.last_event_id("nope") == "0"
    assert store.last_execution_event_id("nope") == "0"


def test_create_only_if_absent(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    again = store.create_execution(eid, make_flow(), {}, [], [row("a")], 0.0, only_if_absent=True)
    assert again is None
    assert store.execution_state(eid) == S.RUNNING
    assert store.task_run_rows(eid) == []
    assert store.execution_field(eid, "inputs") == {"n": 1}


def test_create_with_parent_and_original(store: Store) -> None:
    eid = submit(store, parent_id="p1", original_id="o1")
    got = store.get_execution(eid)
    assert (got.parent_id, got.original_id) == ("p1", "o1")


def test_create_with_copies_of_a_replay(store: Store) -> None:
    first = row("a")
    src = submit(store, first=[first])
    store.start_attempt(src, first.id, "w", 30)
    store.finish_attempt(
        src, first.id, 1, S.SUCCESS, S.SUCCESS, outputs={"o": 1}, active_deadline=0.0
    )
    raw = store.read_task_runs_raw(src, [first.id])
    assert raw[0]["state"] == "SUCCESS" and raw[0]["taskId"] == "a"
    copy = {**raw[0], "id": new_id("c")}
    nxt = row("b")
    eid = submit(store, first=[nxt], copies=[copy], parent_id=src)
    got = store.get_execution(eid)
    assert [(t.id, t.task_id, t.state.current) for t in got.task_run_list] == [
        (copy["id"], "a", S.SUCCESS),
        (nxt.id, "b", S.CREATED),
    ]
    assert got.task_run_list[0].outputs == {"o": 1}
    assert [a.state.current for a in got.task_run_list[0].attempts] == [S.SUCCESS]
    assert store.task_run_outputs(eid, "a") == {"o": 1}
    # the copy holds its identity: it is not created again
    created = store.create_task_runs(eid, [row("a")], 0.0)
    assert created.runs == [(copy["id"], False)]


def test_create_triggered_by_a_subflow(store: Store) -> None:
    parent = submit(store)
    child = submit(store, trigger=(parent, "tr1"))
    other = submit(store, trigger=(parent, "tr2"))
    assert sorted(store.subflow_executions(parent)) == sorted([child, other])
    assert store.subflow_executions(child) == []
    meta = store.execution_meta(child)
    assert (meta["triggerExecutionId"], meta["triggerTaskRunId"]) == (parent, "tr1")


# ---------------------------------------------------------------------- the table

PAIRS = sorted(StateType)


def _walk_execution(store: Store, target: StateType) -> str:
    eid = submit(store)
    for state in path_to(target):
        assert store.transition_execution(eid, state).status == "OK", state
    return eid


@pytest.mark.parametrize("src", PAIRS)
def test_execution_cas_follows_the_table(store: Store, src: StateType) -> None:
    for dst in StateType:
        eid = _walk_execution(store, src)
        before, events = store.execution_meta(eid), store.last_event_id(eid)
        status, state = store.transition_execution(eid, dst, note="x")
        after = store.execution_meta(eid)
        if src == dst:
            assert (status, state) == ("NOOP", src)
        elif dst in TRANSITIONS[src]:
            assert (status, state) == ("OK", dst), (src, dst)
            assert after["state"] == dst and after["note"] == "x"
            history = [h.state for h in store.get_execution(eid).state.histories]
            assert history == [S.CREATED, *path_to(src), dst]
            assert store.search(state=dst) == [eid] and eid not in store.search(state=src)
            continue
        else:
            assert (status, state) == ("INVALID", src), (src, dst)
        assert after == before  # nothing written when refused
        assert store.last_event_id(eid) == events


def _walk_task_run(store: Store, target: StateType) -> tuple[str, str]:
    first = row("a")
    eid = submit(store, first=[first])
    for state in path_to(target):
        assert store.transition_task_run(eid, first.id, state).status == "OK", state
    return eid, first.id


@pytest.mark.parametrize("src", PAIRS)
def test_task_run_cas_follows_the_table(store: Store, src: StateType) -> None:
    for dst in StateType:
        eid, trid = _walk_task_run(store, src)
        before, events = store.read_task_runs_raw(eid, [trid]), store.last_event_id(eid)
        status, state = store.transition_task_run(eid, trid, dst, note="x")
        after = store.read_task_runs_raw(eid, [trid])
        if src == dst:
            assert (status, state) == ("NOOP", src)
        elif dst in TRANSITIONS[src]:
            assert (status, state) == ("OK", dst), (src, dst)
            assert after[0]["state"] == dst and after[0]["note"] == "x"
            run = store.get_execution(eid).task_run_list[0]
            assert [h.state for h in run.state.histories] == [S.CREATED, *path_to(src), dst]
            assert store.execution_state(eid) == S.CREATED  # a task run move only
            continue
        else:
            assert (status, state) == ("INVALID", src), (src, dst)
        assert after == before
        assert store.last_event_id(eid) == events


def test_execution_expected_state(store: Store) -> None:
    eid = submit(store)
    assert store.transition_execution(eid, S.RUNNING, expected=S.CREATED) == ("OK", S.RUNNING)
    before = store.execution_meta(eid)
    # not in the expected state: refused, nothing written (RedisStore answers CONFLICT)
    assert store.transition_execution(eid, S.SUCCESS, expected=S.CREATED, x="1") == (
        "CONFLICT",
        S.RUNNING,
    )
    assert store.execution_meta(eid) == before
    # already where it was asked to go: NOOP whatever was expected
    assert store.transition_execution(eid, S.RUNNING, expected=S.CREATED) == ("NOOP", S.RUNNING)
    # expected, but the table forbids the move
    assert store.transition_execution(eid, S.CREATED, expected=S.RUNNING) == ("INVALID", S.RUNNING)
    assert store.transition_execution(eid, S.SUCCESS, expected=S.RUNNING) == ("OK", S.SUCCESS)


def test_task_run_expected_state(store: Store) -> None:
    first = row("a")
    eid = submit(store, first=[first])
    t = first.id
    assert store.transition_task_run(eid, t, S.RUNNING, expected=S.CREATED) == ("OK", S.RUNNING)
    before = store.read_task_runs_raw(eid, [t])
    refused = store.transition_task_run(eid, t, S.SUCCESS, expected=S.CREATED)
    assert refused == ("CONFLICT", S.RUNNING)
    assert store.read_task_runs_raw(eid, [t]) == before
    assert store.transition_task_run(eid, t, S.RUNNING, expected=S.CREATED) == ("NOOP", S.RUNNING)
    assert store.transition_task_run(eid, t, S.CREATED, expected=S.RUNNING) == (
        "INVALID",
        S.RUNNING,
    )
    assert store.transition_task_run(eid, "nope", S.RUNNING) == ("MISSING", None)


def test_task_run_transition_moves_the_active_entry(store: Store) -> None:
    first = row("a")
    eid = submit(store, first=[first])
    assert store.due_active(1.0) == [(eid, first.id)]
    store.transition_task_run(eid, first.id, S.RUNNING, active=500.0)
    assert store.due_active(499.0) == [] and store.due_active(500.0) == [(eid, first.id)]
    store.transition_task_run(eid, first.id, S.PAUSED)  # "": left as it is
    assert store.due_active(500.0) == [(eid, first.id)]
    store.transition_task_run(eid, first.id, S.RUNNING, active="-")
    assert store.due_active(1e12) == []
    # refused: the entry is not touched
    store.set_active(eid, first.id, 5.0)
    store.transition_task_run(eid, first.id, S.CREATED, active="-")
    assert store.due_active(5.0) == [(eid, first.id)]


# ---------------------------------------------------------------------- ending


def test_end_execution_is_a_cas_on_the_snapshot(store: Store) -> None:
    eid, (trid,) = running_and_failed(store)
    snapshot = store.task_run_rows(eid)
    # The snapshot is out of date once a task run moved: nothing written.
    store.transition_task_run(eid, trid, S.RESTARTED)
    stale = store.end_execution(eid, S.FAILED, S.RUNNING, snapshot)
    assert stale.status == "CONFLICT" and store.execution_state(eid) == S.RUNNING
    # A new task run since the snapshot: nothing written either.
    fresh = store.task_run_rows(eid)
    store.create_task_runs(eid, [row("b")], 0.0)
    assert store.end_execution(eid, S.FAILED, S.RUNNING, fresh).status == "CONFLICT"
    # Not in the expected state: nothing written.
    now = store.task_run_rows(eid)
    assert store.end_execution(eid, S.FAILED, S.CREATED, now).status == "CONFLICT"
    ended = store.end_execution(eid, S.SUCCESS, S.RUNNING, now, {"out": 1})
    assert ended == (Status.OK, S.SUCCESS)
    execution = store.get_execution(eid)
    assert execution.state.current == S.SUCCESS and execution.outputs == {"out": 1}
    assert store.purge_ended(float("inf")) == 1  # its retention started


def test_end_execution_passes_through_running(store: Store) -> None:
    eid = submit(store)
    assert store.end_execution(eid, S.SUCCESS, S.CREATED, []).status == "OK"
    states = [h.state for h in store.get_execution(eid).state.histories]
    assert states == [S.CREATED, S.RUNNING, S.SUCCESS]
    assert store.end_execution("nope", S.SUCCESS, S.CREATED, []).status == "MISSING"


def running_and_failed(store: Store) -> tuple[str, list[str]]:
    """A RUNNING execution whose only task run ended FAILED (no successor decided)."""
    first = row("a")
    eid = submit(store, first=[first])
    started = store.start_attempt(eid, first.id, "w1", 30.0)
    store.finish_attempt(eid, first.id, started.attempt, S.FAILED, S.FAILED, active_deadline=0)
    return eid, [first.id]
