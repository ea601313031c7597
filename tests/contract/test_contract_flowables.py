"""Contract: flowables (start, children counted once, successors claimed), kill, restart,
and concurrency slots."""

from __future__ import annotations

import json
import time

from executor.state import StateType
from executor.store.base import Status, Store, TaskRunRow
from tests.contract.support import make_flow, message, row, running, sent, submit

S = StateType


def _flowable(
    store: Store,
    mode: str,
    tasks: list[str],
    *,
    total: int,
    expected: int,
    claimed: int,
    values: list[str] | None = None,
) -> tuple[str, str]:
    """An execution with a started flowable task run ``p`` of ``mode`` over ``tasks``."""
    p = row("p")
    eid = submit(store, first=[p])
    plan = json.dumps({"mode": mode, "tasks": tasks, "looped": values is not None})
    status = store.start_flowable(
        eid, p.id, mode, len(tasks) or 1, total, expected, claimed, plan, values or []
    )
    assert status == "OK"
    return eid, p.id


def _child(
    store: Store,
    eid: str,
    parent: str,
    task: str,
    value: str | None = None,
    iteration: int | None = None,
) -> str:
    created = store.create_task_runs(
        eid, [row(task, parent=parent, value=value, iteration=iteration)], 0.0
    )
    return created.runs[0][0]


def test_start_flowable(store: Store) -> None:
    p = row("p")
    eid = submit(store, first=[p])
    plan = json.dumps({"tasks": ["x"]})
    assert store.start_flowable(eid, p.id, "seq", 1, 1, 1, 0, plan, []) == "OK"
    assert store.task_run_row(eid, p.id).state == S.RUNNING  # type: ignore[union-attr]
    assert store.execution_state(eid) == S.RUNNING
    # a duplicate send: already started
    assert store.start_flowable(eid, p.id, "seq", 1, 1, 1, 0, plan, []) == "NOOP"
    assert store.start_flowable(eid, "nope", "seq", 1, 1, 1, 0, plan, []) == "REFUSED"
    q = row("q")
    store.create_task_runs(eid, [q], 0.0)
    store.kill_execution(eid)
    assert store.start_flowable(eid, q.id, "seq", 1, 1, 1, 0, plan, []) == "REFUSED"


def test_sequential_children(store: Store) -> None:
    eid, p = _flowable(store, "seq", ["x", "y"], total=2, expected=1, claimed=0)
    x = _child(store, eid, p, "x")
    end = store.child_ended(eid, p, x, "ok", "x", None, False)
    assert end.status == "OK" and end.successors == [(1, "")]
    assert end.counters == {"done": 1, "bad": 0, "warn": 0, "expected": 2}
    assert end.parent == TaskRunRow(p, "p", S.RUNNING, None, None, None)
    assert json.loads(end.plan)["tasks"] == ["x", "y"]
    # counted once: a repeated call returns what the first one claimed
    again = store.child_ended(eid, p, x, "ok", "x", None, False)
    assert again.status == "DUP" and again.successors == [(1, "")]
    assert again.counters == end.counters
    y = _child(store, eid, p, "y")
    last = store.child_ended(eid, p, y, "warn", "y", None, False)
    assert last.status == "OK" and last.successors == []
    assert last.counters == {"done": 2, "bad": 0, "warn": 1, "expected": 2}


def test_sequential_stops_at_a_bad_child(store: Store) -> None:
    eid, p = _flowable(store, "seq", ["x", "y"], total=2, expected=1, claimed=0)
    x = _child(store, eid, p, "x")
    end = store.child_ended(eid, p, x, "bad", "x", None, False)
    assert end.successors == []
    assert end.counters == {"done": 1, "bad": 1, "warn": 0, "expected": 1}


def test_parallel_claims_free_slots(store: Store) -> None:
    eid, p = _flowable(store, "par", ["x", "y", "z"], total=3, expected=2, claimed=2)
    x, y = _child(store, eid, p, "x"), _child(store, eid, p, "y")
    first = store.child_ended(eid, p, x, "ok", "x", None, False)
    assert first.successors == [(2, "")] and first.counters["expected"] == 3
    z = _child(store, eid, p, "z")
    second = store.child_ended(eid, p, y, "ok", "y", None, False)
    assert second.successors == [] and second.counters["done"] == 2
    # nothing follows it and a sibling still runs: it left the active set here
    assert (eid, y) not in store.due_active(1e12) and (eid, z) in store.due_active(1e12)
    third = store.child_ended(eid, p, z, "ok", "z", None, False)
    assert third.counters == {"done": 3, "bad": 0, "warn": 0, "expected": 3}
    assert third.successors == []
    assert (eid, z) in store.due_active(1e12)  # the last one: kept until advanced


def test_foreach_walks_iterations(store: Store) -> None:
    values = ["v1", "v2", "v3"]
    eid, p = _flowable(store, "each", ["x", "y"], total=3, expected=1, claimed=1, values=values)
    x0 = _child(store, eid, p, "x", "v1", 0)
    end = store.child_ended(eid, p, x0, "ok", "x", 0, False)
    assert end.successors == [(1, "v1")]  # y of the same iteration
    y0 = _child(store, eid, p, "y", "v1", 0)
    end = store.child_ended(eid, p, y0, "ok", "y", 0, False)
    assert end.successors == [(2, "v2")]  # x of the next iteration, claimed
    x1 = _child(store, eid, p, "x", "v2", 1)
    end = store.child_ended(eid, p, x1, "ok", "x", 1, False)
    assert end.successors == [(3, "v2")]
    assert end.counters == {"done": 3, "bad": 0, "warn": 0, "expected": 4}


def test_dag_only_counts(store: Store) -> None:
    eid, p = _flowable(store, "dag", ["x", "y"], total=2, expected=1, claimed=0)
    x = _child(store, eid, p, "x")
    end = store.child_ended(eid, p, x, "ok", "x", None, False)
    assert end.status == "OK" and end.successors == []
    assert end.counters["done"] == 1
    assert (eid, x) in store.due_active(1e12)  # the orchestrator decides what follows


def test_errors_branch_and_ended_parent(store: Store) -> None:
    eid, p = _flowable(store, "seq", ["x"], total=1, expected=1, claimed=0)
    e = _child(store, eid, p, "e")
    err = store.child_ended(eid, p, e, "ok", "e", None, True)
    assert err.status == "ERR" and err.successors == [] and err.counters["done"] == 0
    assert (eid, e) in store.due_active(1e12)
    store.transition_task_run(eid, p, S.FAILED)
    x = _child(store, eid, p, "x")
    gone = store.child_ended(eid, p, x, "ok", "x", None, False)
    assert gone.status == "PARENT" and gone.parent is None
    assert store.child_ended(eid, "nope", x, "ok", "x", None, False).status == "PARENT"


def test_finish_counts_the_child_in_the_same_step(store: Store) -> None:
    eid, p = _flowable(store, "seq", ["x", "y"], total=2, expected=1, claimed=0)
    x = _child(store, eid, p, "x")
    store.start_attempt(eid, x, "w", 30)
    done = store.finish_attempt(eid, x, 1, S.FAILED, S.WARNING, active_deadline=50.0, parent=p)
    assert done.status == "OK" and done.state == S.WARNING and done.child is not None
    assert done.child.status == "OK" and done.child.successors == [(1, "")]
    assert done.child.counters["warn"] == 1
    assert (eid, x) in store.due_active(50.0)  # kept until advanced
    # counted already: the orchestrator's own count is a DUP
    assert store.child_ended(eid, p, x, "warn", "x", None, False).status == "DUP"


def test_finish_of_a_retrying_child_is_not_counted(store: Store) -> None:
    eid, p = _flowable(store, "seq", ["x"], total=1, expected=1, claimed=0)
    x = _child(store, eid, p, "x")
    store.start_attempt(eid, x, "w", 30)
    done = store.finish_attempt(
        eid, x, 1, S.FAILED, S.RETRYING, retry_at=time.time() + 9, active_deadline=50.0, parent=p
    )
    assert (done.state, done.child) == (S.RETRYING, None)
    assert store.child_ended(eid, p, x, "ok", "x", None, False).status == "OK"


# ---------------------------------------------------------------------- kill, restart


def test_kill_with_nothing_running_ends_at_once(store: Store) -> None:
    a, b = row("a"), row("b")
    eid = submit(store, first=[a, b])
    assert store.kill_execution(eid) == ("KILLED", S.KILLED, [])
    assert store.execution_state(eid) == S.KILLED
    assert [r.state for r in store.task_run_rows(eid)] == [S.KILLED, S.KILLED]
    assert store.due_active(1e12) == []
    history = [h.state for h in store.get_execution(eid).state.histories]
    assert history == [S.CREATED, S.KILLING, S.KILLED]
    assert store.kill_execution(eid) == ("ENDED", S.KILLED, [])
    assert store.kill_execution("nope") == ("MISSING", None, [])


def test_kill_leaves_running_task_runs_to_their_workers(store: Store) -> None:
    eid, (a, b) = running(store, first=("a", "b"))
    assert store.kill_execution(eid) == ("KILLING", S.KILLING, [a])
    assert store.task_run_row(eid, b).state == S.KILLED  # type: ignore[union-attr]
    assert store.task_run_row(eid, a).state == S.RUNNING  # type: ignore[union-attr]
    # killing again: still the one running
    assert store.kill_execution(eid) == ("KILLING", S.KILLING, [a])


def test_kill_ends_runs_whose_worker_is_gone(store: Store) -> None:
    eid, (a,) = running(store, lease_s=0.05)
    time.sleep(0.15)
    assert store.kill_execution(eid) == ("KILLED", S.KILLED, [])
    assert store.get_execution(eid).task_run_list[0].attempts[0].state.current == S.KILLED


def test_restart_in_place(store: Store) -> None:
    eid, (a, b, e) = running(store, first=("a", "b", "e"))
    store.finish_attempt(eid, a, 1, S.SUCCESS, S.SUCCESS, outputs={"o": 1}, active_deadline=0.0)
    store.start_attempt(eid, b, "w", 30)
    store.finish_attempt(eid, b, 1, S.FAILED, S.FAILED, active_deadline=0.0)
    store.transition_task_run(eid, e, S.FAILED)
    store.transition_execution(eid, S.FAILED)
    store.mark_ended(eid)
    assert store.restart_execution(eid, ["e"], 77.0) == ("OK", S.RESTARTED, [b])
    assert store.execution_state(eid) == S.RESTARTED
    assert [(r.task_id, r.state) for r in store.task_run_rows(eid)] == [
        ("a", S.SUCCESS),
        ("b", S.RESTARTED),
    ]
    assert store.task_run_outputs(eid, "a") == {"o": 1}
    assert store.task_run_row(eid, e) is None
    assert (eid, b) in store.due_active(77.0) and (eid, b) not in store.due_active(76.0)
    # the dropped one runs again if needed: its identity is free
    assert store.create_task_runs(eid, [row("e")], 0.0).runs[0][1] is True
    # attempts continue
    res = store.start_attempt(eid, b, "w", 30)
    assert res.status == "START" and res.attempt == 2
    assert store.execution_state(eid) == S.RUNNING
    # it left retention
    assert store.purge_ended(time.time() + 10) == 0 and store.execution_state(eid)


def test_restart_refused_unless_failed_or_killed(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    assert store.restart_execution(eid, [], 0.0) == ("REFUSED", S.RUNNING, [])
    store.transition_execution(eid, S.SUCCESS)
    assert store.restart_execution(eid, [], 0.0) == ("REFUSED", S.SUCCESS, [])
    assert store.restart_execution("nope", [], 0.0) == ("MISSING", None, [])
    killed = submit(store, first=[row("a")])
    store.kill_execution(killed)
    out = store.restart_execution(killed, [], 0.0)
    assert out.status == "OK" and len(out.restarted) == 1


# ---------------------------------------------------------------------- concurrency


def _limited(store: Store, behavior: str = "QUEUE", limit: int = 1) -> tuple[str, ...]:
    flow = make_flow(concurrency={"limit": limit, "behavior": behavior})
    return tuple(
        submit(store, flow, first=[row("a", msg=message(store, f"m{i}"))]) for i in range(3)
    )


def test_admit_queue_and_promote(store: Store) -> None:
    flow = make_flow(concurrency={"limit": 1})
    e1, e2, e3 = _limited(store)
    assert store.admit(e1, flow) == Status.RUN
    assert store.admit(e2, flow) == Status.QUEUED
    assert store.admit(e3, flow) == Status.QUEUED
    assert store.execution_state(e2) == S.QUEUED
    assert store.slot_holders() == [("ns", "f", [e1])]
    assert store.pop_promoted() == []
    store.transition_execution(e1, S.RUNNING)
    store.transition_execution(e1, S.SUCCESS)  # its end frees the slot
    assert store.slot_holders() == [("ns", "f", [])]
    assert store.pop_promoted() == [e2]  # the queue's head takes it
    assert store.execution_state(e2) == S.CREATED
    assert store.execution_state(e3) == S.QUEUED
    assert store.slot_holders() == [("ns", "f", [e2])]
    assert store.pop_promoted() == []
    history = [h.state for h in store.get_execution(e2).state.histories]
    assert history == [S.CREATED, S.QUEUED, S.CREATED]


def test_a_free_slot_goes_to_the_queue_first(store: Store) -> None:
    flow = make_flow(concurrency={"limit": 1})
    e1, e2, e3 = _limited(store)
    store.admit(e1, flow)
    store.admit(e2, flow)
    store.kill_execution(e1)  # ends KILLED: e2 promoted
    assert store.admit(e3, flow) == Status.QUEUED
    assert store.pop_promoted() == [e2]


def test_admit_cancel_or_fail(store: Store) -> None:
    for behavior, end in (("CANCEL", S.CANCELLED), ("FAIL", S.FAILED)):
        flow = make_flow(f"f{behavior}", concurrency={"limit": 1, "behavior": behavior})
        e1, e2 = submit(store, flow), submit(store, flow)
        assert store.admit(e1, flow) == Status.RUN
        assert store.admit(e2, flow) == end.value
        assert store.execution_state(e2) == end


def test_release_slot_of_a_lost_end(store: Store) -> None:
    flow = make_flow(concurrency={"limit": 1})
    e1, e2, _ = _limited(store)
    store.admit(e1, flow)
    store.admit(e2, flow)
    store.release_slot(e1, "ns", "f", 1)  # e1 has not ended: its slot stays its own
    assert store.slot_holders() == [("ns", "f", [e1])]
    assert store.pop_promoted() == []
    store.purge_ended(float("inf"))  # nothing ended: nothing purged
    store.release_slot("gone", "ns", "f", 1)  # an execution that vanished holds none
    assert store.slot_holders() == [("ns", "f", [e1])]


def test_queued_execution_holds_its_messages(store: Store) -> None:
    flow = make_flow(concurrency={"limit": 1})
    e1 = submit(store, flow)
    store.admit(e1, flow)
    e2 = submit(store, flow)
    store.admit(e2, flow)
    new = row("b", msg=message(store, "held"))
    assert store.create_task_runs(e2, [new], 0.0).state == S.QUEUED
    assert sent(store) == []
    assert store.start_attempt(e2, new.id, "w", 30).status == "PAUSED"


def test_restart_frees_the_identity_of_a_dropped_looped_run(store: Store) -> None:
    eid = submit(store, first=[row("a")])
    store.transition_execution(eid, S.RUNNING)
    looped = row("e", parent="p", value="v", iteration=0)
    store.create_task_runs(eid, [looped], 0.0)
    store.transition_task_run(eid, looped.id, S.FAILED)
    store.kill_execution(eid)
    assert store.restart_execution(eid, ["e"], 0.0).status == "OK"
    assert store.task_run_row(eid, looped.id) is None
    assert store.task_run_outputs(eid, "e", "v") is None  # gone from the value index
    assert (eid, looped.id) not in store.due_active(float("inf"))  # and the active set
    again = row("e", parent="p", value="v", iteration=0)
    assert store.create_task_runs(eid, [again], 0.0).runs == [(again.id, True)]
