"""Contract: forced task runs (an afterExecution task's, Kestra's ``forceExecution``)
are created, started and ended in an execution that already ended, KILLED included;
ordinary ones are still refused there."""

from __future__ import annotations

from dataclasses import replace

from executor.state import StateType
from executor.store.base import Status, Store
from tests.contract.support import row, submit

S = StateType


def test_an_ended_execution_takes_only_forced_task_runs(store: Store) -> None:
    eid = submit(store)
    assert store.end_execution(eid, S.SUCCESS, S.CREATED, []).status == Status.OK
    refused = store.create_task_runs(eid, [row("a")], 0.0)
    assert refused.runs == [] and refused.state == S.SUCCESS
    mixed = store.create_task_runs(eid, [replace(row("a"), force=True), row("b")], 0.0)
    assert mixed.runs == []  # one ordinary task run among them: nothing written
    forced = replace(row("a"), force=True)
    created = store.create_task_runs(eid, [forced], 0.0)
    assert created.runs == [(forced.id, True)]
    started = store.start_attempt(eid, forced.id, "w", 30)
    assert started.status == Status.START
    done = store.finish_attempt(
        eid, forced.id, 1, S.SUCCESS, S.SUCCESS, outputs={"v": 1}, active_deadline=0.0
    )
    assert done.state == S.SUCCESS
    assert store.execution_state(eid) == S.SUCCESS  # the execution's end stays
    got = store.get_execution(eid).task_run(forced.task_id)
    assert got.state.current == S.SUCCESS and got.outputs == {"v": 1}


def test_a_forced_task_run_of_a_killed_execution_is_not_killed(store: Store) -> None:
    eid = submit(store)
    assert store.kill_execution(eid).state == S.KILLED
    forced = replace(row("a"), force=True)
    assert store.create_task_runs(eid, [forced], 0.0).runs == [(forced.id, True)]
    assert store.start_attempt(eid, forced.id, "w", 30).status == Status.START
    done = store.finish_attempt(eid, forced.id, 1, S.FAILED, S.FAILED, active_deadline=0.0)
    assert done.state == S.FAILED  # its own end, not KILLED
    assert store.execution_state(eid) == S.KILLED
