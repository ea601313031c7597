"""The loop rules (``loop_next``, ``loop_maxed``, ``loop_end``): Kestra's WaitFor /
LoopUntil, decided without a store or a clock."""

from __future__ import annotations

import pytest

from executor.engine.flowables import (
    LoopCheck,
    LoopUntil,
    StoredPlan,
    loop_check,
    loop_end,
    loop_maxed,
    loop_next,
    make_plan,
)
from executor.engine.vocabulary import ChildDecision, NewTaskRun
from executor.flowables import LOOP_UNTIL
from executor.state import StateType

S = StateType
RULE = LoopUntil()
PLAN = StoredPlan.from_json(
    make_plan(LOOP_UNTIL, {"condition": "x", "tasks": [{"id": "a"}, {"id": "b"}]}).to_json()
)


def test_the_plan_keeps_the_check_frequency() -> None:
    plan = make_plan(
        LOOP_UNTIL,
        {
            "condition": "x",
            "tasks": [{"id": "a"}],
            "checkFrequency": {"interval": "PT0.5S", "maxIterations": 3, "maxDuration": "PT1M"},
            "failOnMaxReached": True,
        },
    )
    assert plan.mode == "loop" and plan.initial() == [0]
    stored = StoredPlan.from_json(plan.to_json())
    assert stored.loop == LoopCheck(0.5, 3, 60.0, True, 0.0)


def test_kestra_defaults_every_second_100_iterations_one_hour() -> None:
    assert loop_check({}) == LoopCheck(1.0, 100, 3600.0, False, 0.0)
    assert PLAN.loop == LoopCheck(1.0, 100, 3600.0, False, 0.0)


def test_the_tasks_of_an_iteration_run_in_order() -> None:
    got = loop_next(
        PLAN,
        RULE,
        "p",
        [("a", S.SUCCESS, 2), ("a", S.SUCCESS, 1), ("b", S.SUCCESS, 1)],
        has_errors=False,
    )
    assert got == ChildDecision(create=(NewTaskRun("b", "p", None, 2),))


def test_waits_while_a_child_runs() -> None:
    assert loop_next(PLAN, RULE, "p", [("a", S.RUNNING, 1)], has_errors=False) == ChildDecision()


def test_an_iteration_that_succeeded_asks_for_the_condition() -> None:
    assert (
        loop_next(PLAN, RULE, "p", [("a", S.SUCCESS, 1), ("b", S.SUCCESS, 1)], has_errors=False)
        is None
    )


def test_a_failure_ends_it_or_runs_its_errors() -> None:
    children = [("a", S.FAILED, 1)]
    assert loop_next(PLAN, RULE, "p", children, has_errors=False) == ChildDecision(end=S.FAILED)
    assert loop_next(PLAN, RULE, "p", children, has_errors=True) == ChildDecision(errors=True)


def test_a_warning_child_ends_it_warning() -> None:
    # WaitFor.childTaskRunExecuted counts only SUCCESS children
    children = [("a", S.WARNING, 1), ("b", S.SUCCESS, 1)]
    assert loop_next(PLAN, RULE, "p", children, has_errors=False) == ChildDecision(end=S.WARNING)


@pytest.mark.parametrize(
    ("count", "now", "maxed"),
    [(3, 10.0, False), (4, 10.0, True), (2, 61.0, True), (2, 60.0, False)],
)
def test_maximums(count: int, now: float, maxed: bool) -> None:
    check = LoopCheck(0.0, 3, 60.0, False, 0.0)
    assert loop_maxed(check, count, now) is maxed


def test_no_maximum_when_none() -> None:
    assert not loop_maxed(LoopCheck(0.0, None, None), 10**6, 10.0**9)


@pytest.mark.parametrize(
    ("maxed", "condition", "fail", "end"),
    [
        (False, False, False, None),
        (False, True, False, S.SUCCESS),
        (True, False, False, S.SUCCESS),
        (True, False, True, S.FAILED),
        (True, True, True, S.FAILED),  # maximums checked first, as in WaitFor.resolveState
        (False, True, True, S.SUCCESS),
    ],
)
def test_loop_end(maxed: bool, condition: bool, fail: bool, end: StateType | None) -> None:
    check = LoopCheck(fail_on_max=fail)
    assert loop_end(check, maxed=maxed, condition=condition) == end
