"""What the UI's pages compute from the models: the tree of task runs, the timeline of
attempts (aggregated past a limit), the Execute form's fields and what a form submits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from executor.flow import Flow
from executor.models import Execution, State, TaskRun, TaskRunAttempt
from executor.state import StateType as S
from executor.ui import views

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    trid: str,
    task: str,
    state: S,
    start: float,
    end: float,
    attempts: list[tuple[S, float, float, str | None]] = (),  # type: ignore[assignment]
    parent: str | None = None,
    value: str | None = None,
) -> TaskRun:
    return TaskRun(
        id=trid,
        execution_id="e",
        namespace="ns",
        flow_id="f",
        task_id=task,
        parent_task_run_id=parent,
        value=value,
        state=State.of((S.CREATED, at(start)), (S.RUNNING, at(start)), (state, at(end))),
        attempts=[
            TaskRunAttempt(
                number=i + 1,
                state=State.of((S.RUNNING, at(a)), (st, at(b))),
                reason=reason,
            )
            for i, (st, a, b, reason) in enumerate(attempts)
        ],
    )


def execution(runs: list[TaskRun], end: float = 10.0, state: S = S.SUCCESS) -> Execution:
    return Execution(
        id="e",
        namespace="ns",
        flow_id="f",
        state=State.of((S.CREATED, at(0)), (S.RUNNING, at(0)), (state, at(end))),
        task_run_list=runs,
    )


def test_tree_puts_children_under_their_flowable_in_creation_order() -> None:
    e = execution(
        [
            run("a", "first", S.SUCCESS, 0, 1),
            run("l", "loop", S.SUCCESS, 1, 5),
            run("x", "after", S.SUCCESS, 5, 6),
            run("c1", "child", S.SUCCESS, 1, 2, parent="l", value="eu"),
            run("c2", "child", S.SUCCESS, 2, 3, parent="l", value="us"),
            run("g", "grandchild", S.SUCCESS, 2, 3, parent="c1"),
        ]
    )
    page = views.tree_rows(e, at(10))
    assert [(r.run.id, r.depth, r.children) for r in page.rows] == [
        ("a", 0, 0),
        ("l", 0, 2),
        ("c1", 1, 1),
        ("g", 2, 0),
        ("c2", 1, 0),
        ("x", 0, 0),
    ]
    assert page.rows[0].duration == "1.0s"


def test_tree_pages_a_big_execution() -> None:
    runs = [run(f"r{i}", f"t{i}", S.SUCCESS, 0, 1) for i in range(views.TREE_PAGE * 2 + 5)]
    e = execution(runs)
    last = views.tree_rows(e, at(10), page=99)  # past the end: the last page
    assert (last.page, last.pages, last.total, len(last.rows)) == (3, 3, len(runs), 5)
    assert last.rows[0].run.id == f"r{views.TREE_PAGE * 2}"


def test_gantt_has_one_bar_per_attempt_placed_on_the_execution_span_with_reasons() -> None:
    flaky = run(
        "f",
        "flaky",
        S.SUCCESS,
        0,
        10,
        attempts=[
            (S.FAILED, 0, 2, "boom 1"),
            (S.RESUBMITTED, 3, 5, "worker lost"),
            (S.SUCCESS, 5, 10, None),
        ],
    )
    g = views.gantt(execution([flaky]), at(20))
    assert not g.aggregated and len(g.rows) == 1
    bars = g.rows[0].bars
    assert [b.state for b in bars] == ["FAILED", "RESUBMITTED", "SUCCESS"]
    assert [(b.left, b.width) for b in bars] == [(0.0, 20.0), (30.0, 20.0), (50.0, 50.0)]
    assert "boom 1" in bars[0].title and "worker lost" in bars[1].title
    assert bars[2].title == "flaky attempt 3: SUCCESS (5.0s)"
    assert g.span == "10s" and g.ticks[2] == (50.0, "5.0s")


def test_gantt_of_a_running_attempt_ends_now_and_a_flowable_gets_its_own_bar() -> None:
    running = run("r", "slow", S.RUNNING, 0, 0, attempts=[(S.RUNNING, 2, 2, None)])
    running.state = State.of((S.CREATED, at(0)), (S.RUNNING, at(2)))
    running.attempts[0].state = State.of((S.RUNNING, at(2)))
    flowable = run("p", "parallel", S.SUCCESS, 0, 1)
    e = execution([flowable, running])
    e.state = State.of((S.CREATED, at(0)), (S.RUNNING, at(0)))
    g = views.gantt(e, at(4))  # the span runs until now
    assert g.rows[0].bars[0].state == "SUCCESS" and g.rows[0].bars[0].width == 25.0
    bar = g.rows[1].bars[0]
    assert (bar.left, bar.width, bar.state) == (50.0, 50.0, "RUNNING")


def test_gantt_aggregates_by_task_past_its_limit() -> None:
    n = views.GANTT_MAX_ROWS + 50
    runs = [run("loop", "each", S.FAILED, 0, 10)]
    for i in range(n):
        state = S.FAILED if i == 7 else S.SUCCESS
        runs.append(
            run(f"c{i}", "fetch", state, 1, 2 + i % 5, [(state, 1, 2, None)], "loop", str(i))
        )
    g = views.gantt(execution(runs, state=S.FAILED), at(10))
    assert g.aggregated and g.task_runs == n + 1
    assert [r.label for r in g.rows] == ["each", "fetch"]
    fetch = g.rows[1]
    assert fetch.depth == 1
    assert fetch.detail == f"{n} task runs, {n} attempts: {n - 1} SUCCESS, 1 FAILED"
    (bar,) = fetch.bars
    assert bar.state == "FAILED"  # the worst of them
    assert (bar.left, bar.width) == (10.0, 50.0)


FLOW = Flow.from_yaml(
    """
id: f
namespace: ns
inputs:
  - {id: n, type: INT, defaults: 3}
  - {id: on, type: BOOLEAN, defaults: true}
  - {id: pick, type: MULTISELECT, values: [a, b, c]}
  - {id: pin, type: SECRET, required: false, defaults: hush}
  - {id: doc, type: JSON, defaults: {k: 1}}
  - {id: name, type: STRING, displayName: Your name, description: who you are}
tasks:
  - {id: t, type: Log, message: hi}
"""
)


def test_input_fields_follow_the_types_and_never_show_a_secret_default() -> None:
    fields = {f.id: f for f in views.input_fields(FLOW)}
    assert (fields["n"].widget, fields["n"].default, fields["n"].required) == ("number", "3", False)
    assert fields["on"].default == "true" and fields["on"].widget == "boolean"
    assert fields["pick"].choices == ["a", "b", "c"] and fields["pick"].widget == "multiselect"
    assert fields["pin"].widget == "password" and fields["pin"].default == ""
    assert fields["doc"].default == '{"k": 1}'
    assert fields["name"].label == "Your name" and fields["name"].required
    assert fields["name"].description == "who you are"


def test_form_inputs_drop_empty_fields_and_keep_multiselect_lists() -> None:
    got = views.form_inputs(
        {"n": [""], "pick": ["a"], "name": ["Ada"], "extra": ["x"], "on": ["false"]}, FLOW
    )
    assert got == {"pick": ["a"], "name": "Ada", "extra": "x", "on": "false"}


def test_duration_text() -> None:
    assert [views.duration_text(s) for s in (None, 0.25, 12.4, 184, 7500)] == [
        "",
        "0.2s",
        "12s",
        "3m04s",
        "2h05m",
    ]
