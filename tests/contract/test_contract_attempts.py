"""Contract: task runs created once, their messages, attempts, leases, and what follows
an attempt's end (NEXT, END)."""

from __future__ import annotations

import time

import pytest

from executor.models import MetricEntry
from executor.state import StateType
from executor.store.base import Store, Then
from tests.contract.support import message, row, running, sent, submit

S = StateType


def _attempts(store: Store, eid: str, trid: str) -> list[tuple[int, StateType, str | None]]:
    run = next(t for t in store.get_execution(eid).task_run_list if t.id == trid)
    return [(a.number, a.state.current, a.worker_id) for a in run.attempts]


# ---------------------------------------------------------------------- task runs


def test_create_task_runs_once_per_identity(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    a = row("a", msg=message(store, "m-a"))
    child = row("c", parent="p", value="v", msg=message(store, "m-c"))
    looped = row("c", parent="p", value="v", iteration=1)
    created = store.create_task_runs(eid, [a, child, looped], 0.0)
    assert created.state == S.RUNNING
    assert created.runs == [(a.id, True), (child.id, True), (looped.id, True)]
    # the same identities again, with new ids (another orchestrator deciding the same)
    again = store.create_task_runs(
        eid,
        [
            row("a", msg=message(store, "m-a2")),
            row("c", parent="p", value="v"),
            row("c", parent="p", value="v", iteration=1),
            row("c", parent="p", value="w"),
        ],
        0.0,
    )
    assert again.runs[:3] == [(a.id, False), (child.id, False), (looped.id, False)]
    assert again.runs[3][1] is True
    assert sent(store) == ["m-a", "m-c"]  # messages of new task runs only
    rows = store.task_run_rows(eid)
    assert [(r.id, r.task_id, r.parent_task_run_id, r.value, r.iteration) for r in rows] == [
        (a.id, "a", None, None, None),
        (child.id, "c", "p", "v", None),
        (looped.id, "c", "p", "v", 1),
        (again.runs[3][0], "c", "p", "w", None),
    ]
    assert all(r.state == S.CREATED for r in rows)
    assert store.task_run_row(eid, child.id) == rows[1]
    assert [r.id for r in store.children_rows(eid, "p")] == [r.id for r in rows[1:]]
    assert store.task_run_row(eid, "nope") is None


@pytest.mark.parametrize("hold", [S.PAUSED, S.QUEUED])
def test_messages_held_while_paused_or_queued(store: Store, hold: StateType) -> None:
    eid = submit(store)
    if hold == S.PAUSED:
        store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, hold)
    new = row("a", msg=message(store, "m-a"))
    created = store.create_task_runs(eid, [new], 0.0)
    assert created == (hold, [(new.id, True)])
    assert sent(store) == []  # held: the resume (or the start) sends it
    assert store.task_run_row(eid, new.id) is not None
    res = store.start_attempt(eid, new.id, "w", 30)
    assert res.status == "PAUSED"  # and a delivery does not start it meanwhile
    assert store.task_run_row(eid, new.id).state == S.CREATED  # type: ignore[union-attr]


def test_next_task_runs_held_while_paused(store: Store) -> None:
    eid, (a,) = running(store)
    store.transition_execution(eid, S.PAUSED)
    b = row("b", msg=message(store, "m-b"))
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, then=Then(S.SUCCESS, [b])
    )
    assert (done.status, done.state, done.next_state) == ("OK", S.SUCCESS, S.PAUSED)
    assert store.task_run_row(eid, b.id) is not None and sent(store) == []


@pytest.mark.parametrize("end", [S.KILLING, S.SUCCESS, S.FAILED])
def test_create_refused_while_ending(store: Store, end: StateType) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    store.transition_execution(eid, end)
    new = row("a", msg=message(store, "m"))
    assert store.create_task_runs(eid, [new], 0.0) == (end, [])
    assert store.task_run_rows(eid) == [] and sent(store) == []
    assert store.create_task_runs("nope", [new], 0.0) == (S.FAILED, [])


def test_create_takes_the_ended_one_out_of_the_active_set(store: Store) -> None:
    first = row("a")
    eid = submit(store, first=[first])
    store.transition_execution(eid, S.RUNNING)
    b = row("b")
    store.create_task_runs(eid, [b], 10.0, ended=first.id)
    assert store.due_active(100.0) == [(eid, b.id)]


def test_task_run_outputs(store: Store) -> None:
    eid = submit(store)
    store.transition_execution(eid, S.RUNNING)
    a, c = row("a"), row("c", parent="p", value="v1")
    store.create_task_runs(eid, [a, c], 0.0)
    assert store.task_run_outputs(eid, "a") == {}  # exists, has not run
    for trid, out in ((a.id, {"x": 1}), (c.id, {"y": [1, 2]})):
        store.start_attempt(eid, trid, "w", 30)
        store.finish_attempt(eid, trid, 1, S.SUCCESS, S.SUCCESS, outputs=out, active_deadline=0.0)
    assert store.task_run_outputs(eid, "a") == {"x": 1}
    assert store.task_run_outputs(eid, "c", "v1") == {"y": [1, 2]}
    assert store.task_run_outputs(eid, "c", "v2") is None
    assert store.task_run_outputs(eid, "c") is None
    assert store.task_run_outputs(eid, "zzz") is None
    assert store.task_run_field(eid, a.id, "taskId") == "a"
    assert store.task_run_field(eid, a.id, "nope") is None


# ---------------------------------------------------------------------- attempts


def test_start_attempt_claims_and_starts(store: Store) -> None:
    first = row("a", parent="p", value="v", iteration=2)
    flow_eid = submit(store, first=[first])
    before = time.time()
    res = store.start_attempt(flow_eid, first.id, "w1", 30)
    assert res.status == "START" and res.attempt == 1
    assert (res.task_id, res.parent_task_run_id, res.value, res.iteration) == ("a", "p", "v", 2)
    assert (res.namespace, res.flow_id, res.revision) == ("ns", "f", 1)
    assert before - 1 <= res.first_start <= time.time() + 1
    assert store.execution_state(flow_eid) == S.RUNNING
    assert store.task_run_row(flow_eid, first.id).state == S.RUNNING  # type: ignore[union-attr]
    assert store.lease_alive(flow_eid, first.id)
    assert _attempts(store, flow_eid, first.id) == [(1, S.RUNNING, "w1")]
    # in the active set until the lease's end
    assert store.due_active(time.time() + 20) == []
    assert store.due_active(time.time() + 31) == [(flow_eid, first.id)]
    assert store.start_attempt(flow_eid, "nope", "w1", 30).status == "MISSING"
    assert store.start_attempt("nope", first.id, "w1", 30).status == "MISSING"


def test_finish_attempt_and_late_results(store: Store) -> None:
    eid, (a,) = running(store)
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, outputs={"o": "k"}, active_deadline=0.0
    )
    assert (done.status, done.state, done.child, done.next_state, done.ended) == (
        "OK",
        S.SUCCESS,
        None,
        None,
        None,
    )
    assert not store.lease_alive(eid, a)
    assert store.task_run_outputs(eid, "a") == {"o": "k"}
    assert _attempts(store, eid, a) == [(1, S.SUCCESS, "w1")]
    run = store.get_execution(eid).task_run_list[0]
    assert [h.state for h in run.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    # a repeated result changes nothing
    raw = store.read_task_runs_raw(eid, [a])
    again = store.finish_attempt(eid, a, 1, S.FAILED, S.FAILED, active_deadline=0.0)
    assert (again.status, again.state) == ("STALE", S.SUCCESS)
    assert store.read_task_runs_raw(eid, [a]) == raw
    # a delivery of an ended task run: DONE
    res = store.start_attempt(eid, a, "w2", 30)
    assert (res.status, res.state) == ("DONE", S.SUCCESS)
    missing = store.finish_attempt(eid, "nope", 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0)
    assert (missing.status, missing.state) == ("STALE", None)


def test_finish_of_another_attempt_is_stale(store: Store) -> None:
    eid, (a,) = running(store)
    raw = store.read_task_runs_raw(eid, [a])
    done = store.finish_attempt(eid, a, 2, S.SUCCESS, S.SUCCESS, active_deadline=0.0)
    assert (done.status, done.state) == ("STALE", S.RUNNING)
    assert store.read_task_runs_raw(eid, [a]) == raw
    assert store.lease_alive(eid, a)


def test_retrying_waits_for_retry_at(store: Store) -> None:
    eid, (a,) = running(store)
    at = time.time() + 60
    done = store.finish_attempt(
        eid, a, 1, S.FAILED, S.RETRYING, retry_at=at, error="boom", active_deadline=at + 5
    )
    assert (done.status, done.state) == ("OK", S.RETRYING)
    assert store.retry_at(eid, a) == pytest.approx(at, abs=1e-3)
    assert store.due_active(at + 4) == [] and store.due_active(at + 5.01) == [(eid, a)]
    res = store.start_attempt(eid, a, "w2", 30)
    assert res.status == "WAIT" and 55_000 < res.wait_ms <= 60_000
    run = store.get_execution(eid).task_run_list[0]
    assert run.attempts[0].reason == "boom"
    # Kestra's ExecutorService.handleChildWorkerTaskResult: the execution waits RETRYING too
    assert store.execution_state(eid) == S.RETRYING


def test_retry_is_the_next_attempt(store: Store) -> None:
    eid, (a,) = running(store)
    first = store.start_attempt(eid, a, "w1", 30, force=True)  # (attempt 1 lost: 2)
    assert first.attempt == 2
    store.finish_attempt(
        eid, a, 2, S.FAILED, S.RETRYING, retry_at=time.time() - 1, active_deadline=0.0
    )
    assert store.execution_state(eid) == S.RETRYING
    res = store.start_attempt(eid, a, "w2", 30)
    assert res.status == "START" and res.attempt == 3
    assert res.first_start == pytest.approx(first.first_start)
    assert store.execution_state(eid) == S.RUNNING  # back with the next attempt
    store.finish_attempt(eid, a, 3, S.SUCCESS, S.SUCCESS, active_deadline=0.0)
    assert _attempts(store, eid, a) == [
        (1, S.RESUBMITTED, "w1"),
        (2, S.FAILED, "w1"),
        (3, S.SUCCESS, "w2"),
    ]
    run = store.get_execution(eid).task_run_list[0]
    assert [h.state for h in run.state.histories] == [
        S.CREATED,
        S.RUNNING,
        S.RETRYING,
        S.RUNNING,
        S.SUCCESS,
    ]


def test_retried_ends_the_task_run_with_the_new_execution_due(store: Store) -> None:
    # CREATE_NEW_EXECUTION: the task run ends RETRIED (terminal), the new execution due at
    # retryAt; the execution itself is moved by the orchestrator (Orchestrator.retried)
    eid, (a,) = running(store)
    at = time.time() + 60
    done = store.finish_attempt(
        eid, a, 1, S.FAILED, S.RETRIED, retry_at=at, error="boom", active_deadline=at
    )
    assert (done.status, done.state, done.next_state, done.ended) == ("OK", S.RETRIED, None, None)
    assert store.task_run_row(eid, a).state == S.RETRIED  # type: ignore[union-attr]
    assert store.retry_at(eid, a) == pytest.approx(at, abs=1e-3)
    assert store.execution_state(eid) == S.RUNNING
    assert store.due_active(at - 1) == [] and store.due_active(at + 0.01) == [(eid, a)]
    assert store.start_attempt(eid, a, "w2", 30).status == "DONE"


def test_a_retried_child_is_not_counted_by_its_flowable(store: Store) -> None:
    p = row("p")
    eid = submit(store, first=[p])
    plan = '{"mode": "seq", "tasks": ["c"], "looped": false}'
    assert store.start_flowable(eid, p.id, "seq", 1, 1, 1, 0, plan, []) == "OK"
    (c, _), *_ = store.create_task_runs(eid, [row("c", parent=p.id)], 0.0).runs
    assert store.start_attempt(eid, c, "w", 30).status == "START"
    done = store.finish_attempt(
        eid, c, 1, S.FAILED, S.RETRIED, retry_at=time.time(), active_deadline=0.0, parent=p.id
    )
    assert (done.status, done.state, done.child) == ("OK", S.RETRIED, None)
    assert store.task_run_row(eid, p.id).state == S.RUNNING  # type: ignore[union-attr]


def test_execution_metadata_of_a_retry_chain(store: Store) -> None:
    first = submit(store)
    meta = store.get_execution(first).metadata
    assert meta.attempt_number == 1 and meta.original_created_date is not None
    origin = meta.original_created_date.timestamp()
    second = submit(store, parent_id=first, original_id=first, attempt=(2, origin))
    again = store.get_execution(second)
    assert (again.metadata.attempt_number, again.parent_id, again.original_id) == (
        2,
        first,
        first,
    )
    assert again.metadata.original_created_date == meta.original_created_date
    dumped = again.model_dump(mode="json", by_alias=True)["metadata"]
    assert dumped["attemptNumber"] == 2 and "originalCreatedDate" in dumped


def test_live_lease_is_busy(store: Store) -> None:
    eid, (a,) = running(store, lease_s=30)
    res = store.start_attempt(eid, a, "w2", 30)
    assert res.status == "BUSY" and res.holder == "w1" and 25_000 < res.wait_ms <= 30_000
    assert _attempts(store, eid, a) == [(1, S.RUNNING, "w1")]


def test_lost_worker_is_resubmitted(store: Store) -> None:
    eid, (a,) = running(store, lease_s=0.05)
    time.sleep(0.15)
    assert not store.lease_alive(eid, a)
    res = store.start_attempt(eid, a, "w2", 30)
    assert res.status == "START" and res.attempt == 2
    assert _attempts(store, eid, a) == [(1, S.RESUBMITTED, "w1"), (2, S.RUNNING, "w2")]
    run = store.get_execution(eid).task_run_list[0]
    assert run.attempts[0].reason == "worker lost"
    # the lost worker's late result changes nothing
    late = store.finish_attempt(eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0)
    assert (late.status, late.state) == ("STALE", S.RUNNING)
    assert _attempts(store, eid, a)[0] == (1, S.RESUBMITTED, "w1")


def test_lost_too_often_fails(store: Store) -> None:
    eid, (a,) = running(store)
    assert store.start_attempt(eid, a, "w2", 30, force=True, max_deliveries=3).attempt == 2
    assert store.start_attempt(eid, a, "w3", 30, force=True, max_deliveries=3).attempt == 3
    res = store.start_attempt(eid, a, "w4", 30, force=True, max_deliveries=3)
    assert (res.status, res.state) == ("DONE", S.FAILED)
    assert store.task_run_row(eid, a).state == S.FAILED  # type: ignore[union-attr]
    assert "worker lost 3 times" in (store.task_run_field(eid, a, "error") or "")
    assert [n for n, st, _ in _attempts(store, eid, a) if st == S.RESUBMITTED] == [1, 2, 3]


def test_result_while_killing_is_killed(store: Store) -> None:
    eid, (a, b) = running(store, first=("a", "b"))
    killed = store.kill_execution(eid)
    assert killed == ("KILLING", S.KILLING, [a])
    done = store.finish_attempt(
        eid,
        a,
        1,
        S.SUCCESS,
        S.SUCCESS,
        outputs={"o": 1},
        active_deadline=0.0,
        then=Then(S.SUCCESS, []),
    )
    assert (done.status, done.state, done.ended) == ("OK", S.KILLED, None)
    assert store.task_run_outputs(eid, "a") == {}  # a killed run's outputs are not kept
    assert _attempts(store, eid, a) == [(1, S.KILLED, "w1")]
    assert store.execution_state(eid) == S.KILLING  # the orchestrator ends it
    assert store.task_run_row(eid, b).state == S.KILLED  # type: ignore[union-attr]


def test_no_start_in_a_killed_execution(store: Store) -> None:
    eid, (a, b) = running(store, first=("a", "b"))
    store.kill_execution(eid)
    assert store.start_attempt(eid, b, "w2", 30).status == "DONE"  # killed by kill already
    busy = store.start_attempt(eid, a, "w2", 30)
    assert busy.status == "BUSY" and busy.holder == "w1"
    # its worker is known dead: the task run ends KILLED, never resumed
    assert store.start_attempt(eid, a, "w2", 30, force=True).status == "KILLED"
    assert _attempts(store, eid, a) == [(1, S.KILLED, "w1")]
    assert store.task_run_row(eid, a).state == S.KILLED  # type: ignore[union-attr]


def test_metrics_recorded_with_the_end(store: Store) -> None:
    eid, (a,) = running(store)
    entries = [
        MetricEntry(type="counter", name="n", value=3, execution_id=eid, task_run_id=a, attempt=1),
        MetricEntry(type="timer", name="t", value=0.5, tags={"k": "v"}),
    ]
    store.finish_attempt(eid, a, 1, S.SUCCESS, S.SUCCESS, metrics=entries, active_deadline=0.0)
    assert store.metrics(eid) == entries


def test_renew_leases(store: Store) -> None:
    eid, (a,) = running(store, lease_s=0.3)
    store.renew_leases({(eid, a): 30.0})
    time.sleep(0.4)
    assert store.lease_alive(eid, a)
    assert store.start_attempt(eid, a, "w2", 30).status == "BUSY"
    assert store.due_active(time.time() + 25) == []
    assert store.due_active(time.time() + 31) == [(eid, a)]


# ---------------------------------------------------------------------- then


def test_then_next_creates_and_sends_in_the_same_step(store: Store) -> None:
    eid, (a,) = running(store)
    b, c = row("b", msg=message(store, "m-b")), row("c")
    done = store.finish_attempt(
        eid,
        a,
        1,
        S.SUCCESS,
        S.SUCCESS,
        active_deadline=50.0,
        then=Then(S.SUCCESS, [b, c], pending_deadline=20.0),
    )
    assert (done.status, done.state, done.next_state, done.ended) == (
        "OK",
        S.SUCCESS,
        S.RUNNING,
        None,
    )
    assert [r.task_id for r in store.task_run_rows(eid)] == ["a", "b", "c"]
    assert sent(store) == ["m-b"]
    # the ended one needs no advancing: it left the active set; the new ones wait in it
    assert sorted(store.due_active(1e12)) == sorted([(eid, b.id), (eid, c.id)])
    assert store.due_active(19.0) == []


def test_then_for_another_end_is_not_applied(store: Store) -> None:
    eid, (a,) = running(store)
    b = row("b", msg=message(store, "m-b"))
    done = store.finish_attempt(
        eid, a, 1, S.FAILED, S.FAILED, active_deadline=50.0, then=Then(S.SUCCESS, [b])
    )
    assert (done.state, done.next_state, done.ended) == (S.FAILED, None, None)
    assert [r.task_id for r in store.task_run_rows(eid)] == ["a"] and sent(store) == []
    assert store.due_active(50.0) == [(eid, a)]  # kept active until advanced
    assert store.execution_state(eid) == S.RUNNING


def test_then_end_ends_the_execution(store: Store) -> None:
    eid, (a,) = running(store)
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=50.0, then=Then(S.SUCCESS, [])
    )
    assert (done.status, done.state, done.next_state, done.ended) == (
        "OK",
        S.SUCCESS,
        None,
        S.SUCCESS,
    )
    assert store.execution_state(eid) == S.SUCCESS
    assert store.due_active(1e12) == []
    assert store.search(state=S.SUCCESS) == [eid]
    # its retention started: it is purged once old enough
    assert store.purge_ended(time.time() + 1) == 1
    assert store.execution_state(eid) is None


def test_then_end_takes_the_worst_top_level_state(store: Store) -> None:
    eid, (a, b) = running(store, first=("a", "b"))
    store.finish_attempt(eid, a, 1, S.FAILED, S.WARNING, active_deadline=0.0)
    store.create_task_runs(eid, [row("c", parent=b)], 0.0)  # a child: not counted
    (child,) = store.children_rows(eid, b)
    store.transition_task_run(eid, child.id, S.FAILED)
    store.start_attempt(eid, b, "w", 30)
    done = store.finish_attempt(
        eid, b, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, then=Then(S.SUCCESS, [])
    )
    assert done.ended == S.WARNING
    assert store.execution_state(eid) == S.WARNING


def test_then_end_waits_for_running_task_runs(store: Store) -> None:
    eid, (a, b) = running(store, first=("a", "b"))
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=50.0, then=Then(S.SUCCESS, [])
    )
    assert done.ended is None and store.execution_state(eid) == S.RUNNING
    assert (eid, a) in store.due_active(50.0)


def test_then_end_leaves_a_subflow_execution_to_its_parent(store: Store) -> None:
    eid, (a,) = running(store, trigger=("parent", "tr"))
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=50.0, then=Then(S.SUCCESS, [])
    )
    assert done.ended is None and store.execution_state(eid) == S.RUNNING
