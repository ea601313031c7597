"""Every flowable's decisions as tables: for each type and each child end, what is
created and what ends. The counters the Lua step keeps are simulated here with the same
rule it applies (``walk_successors``).

Kestra: core/src/main/java/io/kestra/plugin/core/flow/{Sequential,Parallel,ForEach,
EachSequential,EachParallel,Switch,If,AllowFailure,Dag}.java and
core/src/main/java/io/kestra/core/runners/FlowableUtils.java.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from executor.engine.flowables import (
    RULES,
    Plan,
    StoredPlan,
    WalkRule,
    after_child,
    after_errors_child,
    dag_next,
    make_plan,
    rule_of,
    started_by_executor,
    truthy,
    walk_rule,
    walk_successors,
)
from executor.engine.outcomes import child_class
from executor.engine.vocabulary import ChildDecision, Ended
from executor.flow import TaskDef
from executor.flowables import (
    ALLOW_FAILURE,
    DAG,
    EACH_PARALLEL,
    EACH_SEQUENTIAL,
    FOREACH,
    IF,
    PARALLEL,
    SEQUENTIAL,
    SUBFLOW,
    SWITCH,
)
from executor.state import StateType as S

AB = [{"id": "a", "type": "Log", "message": "m"}, {"id": "b", "type": "Log", "message": "m"}]


@dataclass
class Walk:
    """A flowable task run's counters, as ``child_end`` in ``_lib.lua`` keeps them."""

    plan: Plan
    rule: WalkRule
    expected: int = 0
    claimed: int = 0
    done: int = 0
    bad: int = 0
    warn: int = 0
    states: dict[str, S] = field(default_factory=dict)

    @classmethod
    def of(cls, type_name: str, props: dict[str, Any]) -> Walk:
        plan = make_plan(type_name, props)
        walk = cls(plan, walk_rule(type_name), len(plan.initial()), plan.claimed_at_start())
        if plan.mode == "dag":  # the children started are in the store, not ended
            walk.states = {plan.slot(s)[0]: S.RUNNING for s in plan.initial()}
        return walk

    def end(
        self, task_id: str, state: S, iteration: int | None = None, has_errors: bool = False
    ) -> ChildDecision:
        stored = StoredPlan.from_json(self.plan.to_json())
        if self.plan.mode == "dag":
            self.states[task_id] = state
            decision = dag_next(
                stored, self.rule, "p", list(self.states.items()), has_errors=has_errors
            )
            self.states.update({c.task_id: S.RUNNING for c in decision.create})
            return decision
        width = len(self.plan.tasks)
        slot = self.plan.tasks.index(task_id) + (iteration or 0) * width
        self.done += 1
        klass = child_class(state)
        self.bad += klass == "bad"
        self.warn += klass == "warn"
        succ, self.claimed = walk_successors(
            self.plan.mode, width, self.plan.total, slot, self.bad, self.claimed
        )
        self.expected += len(succ)
        values = self.plan.values or ()
        successors = [(s, values[s // width] if values else "") for s in succ]
        counters = {
            "done": self.done,
            "bad": self.bad,
            "warn": self.warn,
            "expected": self.expected,
        }
        return after_child(stored, self.rule, "p", counters, successors, has_errors=has_errors)


def created(decision: ChildDecision) -> list[tuple[str, str | None, int | None]]:
    return [(c.task_id, c.value, c.iteration) for c in decision.create]


WAIT = ChildDecision()

# (type, properties, ends so far [(task, state, iteration)], has errors) ->
#   (created after the last end, errors branch starts, end state of the flowable)
CASES: list[
    tuple[
        str,
        dict[str, Any],
        list[tuple[str, S, int | None]],
        bool,
        list[tuple[str, str | None, int | None]],
        bool,
        S | None,
    ]
] = [
    # Sequential: in order; a failure stops the walk; WARNING goes on
    (SEQUENTIAL, {"tasks": AB}, [("a", S.SUCCESS, None)], False, [("b", None, None)], False, None),
    (SEQUENTIAL, {"tasks": AB}, [("a", S.WARNING, None)], False, [("b", None, None)], False, None),
    (SEQUENTIAL, {"tasks": AB}, [("a", S.FAILED, None)], False, [], False, S.FAILED),
    (SEQUENTIAL, {"tasks": AB}, [("a", S.KILLED, None)], False, [], False, S.FAILED),
    (SEQUENTIAL, {"tasks": AB}, [("a", S.FAILED, None)], True, [], True, None),
    (
        SEQUENTIAL,
        {"tasks": AB},
        [("a", S.SUCCESS, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.SUCCESS,
    ),
    (
        SEQUENTIAL,
        {"tasks": AB},
        [("a", S.WARNING, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.WARNING,
    ),
    (
        SEQUENTIAL,
        {"tasks": AB},
        [("a", S.SKIPPED, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.SUCCESS,
    ),
    # AllowFailure: a failure ends it WARNING, with or without errors
    (ALLOW_FAILURE, {"tasks": AB}, [("a", S.FAILED, None)], False, [], False, S.WARNING),
    (
        ALLOW_FAILURE,
        {"tasks": AB},
        [("a", S.SUCCESS, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.SUCCESS,
    ),
    (ALLOW_FAILURE, {"tasks": AB}, [("a", S.FAILED, None)], True, [], True, None),
    # Parallel: all at once (nothing to create), ends when all ended, worst wins
    (PARALLEL, {"tasks": AB}, [("a", S.SUCCESS, None)], False, [], False, None),
    (PARALLEL, {"tasks": AB}, [("a", S.FAILED, None)], False, [], False, None),  # b runs on
    (
        PARALLEL,
        {"tasks": AB},
        [("a", S.FAILED, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.FAILED,
    ),
    (
        PARALLEL,
        {"tasks": AB},
        [("a", S.WARNING, None), ("b", S.SUCCESS, None)],
        False,
        [],
        False,
        S.WARNING,
    ),
    (
        PARALLEL,
        {"tasks": AB},
        [("b", S.KILLED, None), ("a", S.SUCCESS, None)],
        True,
        [],
        True,
        None,
    ),
    # Parallel with concurrent: 1 claims the next slot, none after a failure
    (
        PARALLEL,
        {"tasks": AB, "concurrent": 1},
        [("a", S.SUCCESS, None)],
        False,
        [("b", None, None)],
        False,
        None,
    ),
    (PARALLEL, {"tasks": AB, "concurrent": 1}, [("a", S.FAILED, None)], False, [], False, S.FAILED),
    # ForEach: iterations in order inside, concurrencyLimit iterations at once
    (
        FOREACH,
        {"values": ["x", "y"], "tasks": AB},
        [("a", S.SUCCESS, 0)],
        False,
        [("b", "x", 0)],
        False,
        None,
    ),
    (
        FOREACH,
        {"values": ["x", "y"], "tasks": AB},
        [("a", S.SUCCESS, 0), ("b", S.SUCCESS, 0)],
        False,
        [("a", "y", 1)],
        False,
        None,
    ),
    (
        FOREACH,
        {"values": ["x", "y"], "tasks": AB},
        [("a", S.FAILED, 0)],
        False,
        [],
        False,
        S.FAILED,
    ),
    (
        FOREACH,
        {"values": ["x", "y"], "tasks": AB, "concurrencyLimit": 0},
        [("a", S.SUCCESS, 0), ("a", S.SUCCESS, 1)],
        False,
        [("b", "y", 1)],
        False,
        None,
    ),
    (
        FOREACH,
        {"values": ["x", "y"], "tasks": AB, "concurrencyLimit": 0},
        [("a", S.SUCCESS, 0), ("a", S.SUCCESS, 1), ("b", S.SUCCESS, 0)],
        False,
        [],
        False,
        None,
    ),
    (
        FOREACH,
        {"values": [1, {"k": 2}], "tasks": AB[:1], "concurrencyLimit": 0},
        [("a", S.SUCCESS, 0), ("a", S.WARNING, 1)],
        False,
        [],
        False,
        S.WARNING,
    ),
    (FOREACH, {"values": [], "tasks": AB}, [], False, [], False, None),
    # EachSequential: every (value, task) slot in order
    (
        EACH_SEQUENTIAL,
        {"value": ["x", "y"], "tasks": AB[:1]},
        [("a", S.SUCCESS, 0)],
        False,
        [("a", "y", 1)],
        False,
        None,
    ),
    (
        EACH_SEQUENTIAL,
        {"value": '["x", "y"]', "tasks": AB[:1]},
        [("a", S.FAILED, 0)],
        True,
        [],
        True,
        None,
    ),
    # EachParallel: all slots at once
    (
        EACH_PARALLEL,
        {"value": ["x", "y"], "tasks": AB[:1]},
        [("a", S.SUCCESS, 0), ("a", S.SUCCESS, 1)],
        False,
        [],
        False,
        S.SUCCESS,
    ),
    # Switch and If walk the chosen branch as a Sequential
    (
        SWITCH,
        {"value": "b", "cases": {"a": AB[:1], "b": AB}},
        [("a", S.SUCCESS, None)],
        False,
        [("b", None, None)],
        False,
        None,
    ),
    (
        SWITCH,
        {"value": 1, "cases": {"1": AB[:1]}},
        [("a", S.FAILED, None)],
        False,
        [],
        False,
        S.FAILED,
    ),
    (
        IF,
        {"condition": "true", "then": AB},
        [("a", S.SUCCESS, None)],
        False,
        [("b", None, None)],
        False,
        None,
    ),
    (
        IF,
        {"condition": 0, "then": AB, "else": AB[1:]},
        [("b", S.WARNING, None)],
        False,
        [],
        False,
        S.WARNING,
    ),
    # Dag: a task starts when every dependency succeeded (or warned, or was skipped)
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1], "dependsOn": ["a"]}]},
        [("a", S.SUCCESS, None)],
        False,
        [("b", None, None)],
        False,
        None,
    ),
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1], "dependsOn": ["a"]}]},
        [("a", S.WARNING, None)],
        False,
        [("b", None, None)],
        False,
        None,
    ),
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1], "dependsOn": ["a"]}]},
        [("a", S.FAILED, None)],
        False,
        [],
        False,
        S.FAILED,
    ),
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1], "dependsOn": ["a"]}]},
        [("a", S.KILLED, None)],
        True,
        [],
        True,
        None,
    ),
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1]}]},
        [("a", S.SUCCESS, None)],
        False,
        [],
        False,
        None,
    ),
    (
        DAG,
        {"tasks": [{"task": AB[0]}, {"task": AB[1]}]},
        [("a", S.SUCCESS, None), ("b", S.WARNING, None)],
        False,
        [],
        False,
        S.WARNING,
    ),
]


@pytest.mark.parametrize(
    ("type_name", "props", "ends", "has_errors", "create", "errors", "end"), CASES
)
def test_after_a_child_ends(
    type_name: str,
    props: dict[str, Any],
    ends: list[tuple[str, S, int | None]],
    has_errors: bool,
    create: list[tuple[str, str | None, int | None]],
    errors: bool,
    end: S | None,
) -> None:
    walk = Walk.of(type_name, props)
    decision = WAIT
    for task_id, state, iteration in ends:
        decision = walk.end(task_id, state, iteration, has_errors)
    assert (created(decision), decision.errors, decision.end) == (create, errors, end)


@pytest.mark.parametrize(
    ("type_name", "props", "initial"),
    [
        (SEQUENTIAL, {"tasks": AB}, [("a", None, None)]),
        (PARALLEL, {"tasks": AB}, [("a", None, None), ("b", None, None)]),
        (PARALLEL, {"tasks": AB, "concurrent": 1}, [("a", None, None)]),
        (FOREACH, {"values": ["x", "y"], "tasks": AB}, [("a", "x", 0)]),
        (
            FOREACH,
            {"values": ["x", "y"], "tasks": AB, "concurrencyLimit": 0},
            [("a", "x", 0), ("a", "y", 1)],
        ),
        (EACH_PARALLEL, {"value": [1, 2], "tasks": AB[:1]}, [("a", "1", 0), ("a", "2", 1)]),
        (SWITCH, {"value": "zz", "cases": {"a": AB}, "defaults": AB[1:]}, [("b", None, None)]),
        (IF, {"condition": "false", "then": AB}, []),
        (IF, {"condition": "", "then": AB, "else": AB[1:]}, [("b", None, None)]),
        (
            DAG,
            {"tasks": [{"task": AB[0], "dependsOn": ["b"]}, {"task": AB[1]}]},
            [("b", None, None)],
        ),
        (SEQUENTIAL, {"tasks": [{**AB[0], "disabled": True}, AB[1]]}, [("b", None, None)]),
    ],
)
def test_first_children(
    type_name: str, props: dict[str, Any], initial: list[tuple[str, str | None, int | None]]
) -> None:
    plan = make_plan(type_name, props)
    assert [plan.slot(s) for s in plan.initial()] == initial


def test_a_flowable_with_no_children_ends_success() -> None:
    for type_name in (SEQUENTIAL, PARALLEL, FOREACH, SWITCH, IF, ALLOW_FAILURE):
        assert walk_rule(type_name).end_state(0, 0) == S.SUCCESS


@pytest.mark.parametrize(
    ("errors", "ended", "create", "end"),
    [
        (("e1", "e2"), Ended("e1", S.SUCCESS, "p"), ["e2"], None),
        (("e1", "e2"), Ended("e1", S.FAILED, "p"), [], S.FAILED),
        (("e1", "e2"), Ended("e2", S.SUCCESS, "p"), [], S.FAILED),
    ],
)
def test_errors_branch_runs_in_order_then_the_flowable_fails(
    errors: tuple[str, ...], ended: Ended, create: list[str], end: S | None
) -> None:
    decision = after_errors_child(errors, walk_rule(SEQUENTIAL), "p", ended)
    assert ([c.task_id for c in decision.create], decision.end) == (create, end)
    assert (
        after_errors_child(errors, walk_rule(ALLOW_FAILURE), "p", Ended("e2", S.SUCCESS, "p")).end
        == S.WARNING
    )


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("False", False),
        ("", False),
        ("0", False),
        ("-0", False),
        (" 0 ", False),
        ("no", True),
        (0, False),
        (0.0, False),
        (1, True),
        (None, False),
        ([], True),
    ],
)
def test_kestra_truth(value: Any, truth: bool) -> None:
    assert truthy(value) is truth


def test_the_registry_knows_every_task_the_executor_runs() -> None:
    names = set(RULES)
    assert {
        SEQUENTIAL,
        PARALLEL,
        FOREACH,
        EACH_SEQUENTIAL,
        EACH_PARALLEL,
        SWITCH,
        IF,
        ALLOW_FAILURE,
        DAG,
        SUBFLOW,
        "io.kestra.plugin.core.flow.Pause",
        "io.kestra.plugin.core.flow.LoopUntil",
        "io.kestra.plugin.core.flow.WaitFor",
        "io.kestra.plugin.core.execution.Exit",
        "io.kestra.plugin.core.execution.Labels",
    } == names
    for short in ("Sequential", "Subflow", "Pause"):
        tdef = TaskDef.model_validate(
            {"id": "x", "type": short, "tasks": AB, "namespace": "n", "flowId": "f"}
        )
        assert started_by_executor(tdef) and rule_of(tdef) is not None
    log = TaskDef.model_validate(AB[0])
    assert not started_by_executor(log) and rule_of(log) is None
    with pytest.raises(ValueError, match="not a flowable"):
        walk_rule(SUBFLOW)


def test_walk_successors_table() -> None:
    # (mode, width, total, slot, bad, claimed) -> (successors, claimed)
    assert walk_successors("seq", 1, 3, 0, 0, 0) == ([1], 0)
    assert walk_successors("seq", 1, 3, 2, 0, 0) == ([], 0)
    assert walk_successors("seq", 1, 3, 0, 1, 0) == ([], 0)
    assert walk_successors("par", 1, 4, 0, 0, 2) == ([2], 3)
    assert walk_successors("par", 1, 4, 3, 0, 4) == ([], 4)
    assert walk_successors("each", 2, 3, 0, 0, 1) == ([1], 1)  # next task of iteration 0
    assert walk_successors("each", 2, 3, 1, 0, 1) == ([2], 2)  # first task of iteration 1
    assert walk_successors("each", 2, 3, 5, 0, 3) == ([], 3)
    assert walk_successors("each", 2, 3, 1, 1, 1) == ([], 1)
