"""Models serialize as Kestra's API does (camelCase) and round-trip through JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from executor.models import (
    Execution,
    History,
    Label,
    MetricEntry,
    State,
    TaskRun,
    TaskRunAttempt,
)
from executor.state import StateType as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_state_history_and_derived_dates() -> None:
    state = State.of((S.CREATED, T0), (S.RUNNING, T0 + timedelta(seconds=1)))
    assert state.end_date is None
    done = state.with_state(S.SUCCESS, T0 + timedelta(seconds=3))
    assert done.with_state(S.SUCCESS) is done  # same state again: no-op
    assert [h.state for h in done.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    assert done.start_date == T0 and done.end_date == T0 + timedelta(seconds=3)
    assert done.duration == 3


def test_execution_json_is_kestra_shaped_and_round_trips() -> None:
    attempt = TaskRunAttempt(
        number=1, state=State.of((S.RUNNING, T0), (S.SUCCESS, T0)), worker_id="host:1"
    )
    tr = TaskRun(
        id="tr1",
        execution_id="e1",
        namespace="ns",
        flow_id="f",
        task_id="a",
        attempts=[attempt],
        outputs={"value": 1},
        state=State.of((S.CREATED, T0), (S.SUCCESS, T0)),
    )
    ex = Execution(
        id="e1",
        namespace="ns",
        flow_id="f",
        state=State.of((S.CREATED, T0)),
        labels=[Label(key="team", value="x")],
        task_run_list=[tr],
        original_id="e1",
    )
    data = ex.model_dump(mode="json", by_alias=True)
    assert set(data) >= {
        "id",
        "namespace",
        "flowId",
        "state",
        "inputs",
        "outputs",
        "labels",
        "parentId",
        "originalId",
        "taskRunList",
    }
    run = data["taskRunList"][0]
    assert set(run) >= {"id", "taskId", "parentTaskRunId", "value", "state", "attempts", "outputs"}
    assert run["attempts"][0]["workerId"] == "host:1"
    assert data["state"]["current"] == "CREATED"
    assert data["state"]["histories"][0] == {"state": "CREATED", "date": "2026-01-01T00:00:00Z"}
    again = Execution.model_validate(data)
    assert again == ex
    assert again.task_run("a").attempts[0].state.current == S.SUCCESS


def test_metric_timer_is_milliseconds() -> None:
    m = MetricEntry(type="timer", name="t", value=1500)
    assert m.duration == timedelta(seconds=1.5)
    assert MetricEntry.model_validate_json(m.model_dump_json(by_alias=True)) == m
    assert History(state=S.RUNNING, date=T0).model_dump(mode="json")["state"] == "RUNNING"
