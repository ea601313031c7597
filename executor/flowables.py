"""Flowable task types: their names, property models and nested task lists.

This is task-type metadata (what a flow may say, validated at deploy); how a flowable
walks its children and ends is decided in ``executor/engine/flowables.py``, and the
orchestrator starts them (``executor/executor_tasks.py``), never a worker.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from executor.builtin_types import CamelProperties
from executor.tasktypes import TaskType, register

TaskList = list[dict[str, Any]]
NonEmptyTaskList = Field(min_length=1)


class _Flowable(CamelProperties):
    errors: TaskList = Field(default_factory=list)


class SequentialProperties(_Flowable):
    tasks: TaskList = NonEmptyTaskList


class ParallelProperties(_Flowable):
    tasks: TaskList = NonEmptyTaskList
    concurrent: int = Field(default=0, ge=0)


class ForEachProperties(_Flowable):
    values: list[Any] | str
    concurrency_limit: int = Field(default=1, ge=0)
    tasks: TaskList = NonEmptyTaskList


class EachSequentialProperties(_Flowable):
    value: list[Any] | str
    tasks: TaskList = NonEmptyTaskList


class EachParallelProperties(_Flowable):
    value: list[Any] | str
    tasks: TaskList = NonEmptyTaskList
    concurrent: int = Field(default=0, ge=0)


class SwitchProperties(_Flowable):
    value: Any
    cases: dict[str, TaskList] = Field(min_length=1)
    defaults: TaskList | None = None  # null as Kestra's switch-impossible.yaml writes it

    @field_validator("cases")
    @classmethod
    def _non_empty_cases(cls, value: dict[str, TaskList]) -> dict[str, TaskList]:
        for key, tasks in value.items():
            if not tasks:
                raise ValueError(f"case {key!r} has no tasks")
        return value


class IfProperties(_Flowable):
    condition: Any
    then: TaskList = NonEmptyTaskList
    else_: TaskList = Field(default_factory=list, alias="else")


class AllowFailureProperties(_Flowable):
    tasks: TaskList = NonEmptyTaskList


class DagTask(CamelProperties):
    task: dict[str, Any]
    depends_on: list[str] = Field(default_factory=list)


class DagProperties(_Flowable):
    tasks: list[DagTask] = Field(min_length=1)
    concurrent: int = Field(default=0, ge=0)


class CheckFrequency(CamelProperties):
    """How often a LoopUntil checks its condition, and its maximums (Kestra's
    ``CheckFrequency``: every second, at most 100 iterations or one hour)."""

    interval: timedelta | str = timedelta(seconds=1)
    max_iterations: int | str | None = Field(default=100)
    max_duration: timedelta | str | None = timedelta(hours=1)


class LoopUntilProperties(_Flowable):
    condition: Any
    tasks: TaskList = NonEmptyTaskList
    check_frequency: CheckFrequency = Field(default_factory=CheckFrequency)
    fail_on_max_reached: bool = False


class SubflowProperties(CamelProperties):
    namespace: str
    flow_id: str
    revision: int | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True
    transmit_failed: bool = True
    #: The child execution gets this execution's labels too (Kestra's ``inheritLabels``).
    inherit_labels: bool = False

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        # Kestra takes a map or a list of {key, value}; and no ``system.`` label
        # (``NoSystemLabelValidation``): those the child gets are the system's.
        if isinstance(value, list):
            if not all(isinstance(lb, dict) and "key" in lb for lb in value):
                raise ValueError("labels must be a mapping or a list of {key, value}")
            value = {lb["key"]: lb.get("value") for lb in value}
        if isinstance(value, dict):
            reserved = sorted(str(k) for k in value if str(k).startswith("system."))
            if reserved:
                raise ValueError(f"labels starting with 'system.' are reserved: {reserved}")
        return value


CORE = "io.kestra.plugin.core.flow"
SEQUENTIAL, PARALLEL, FOREACH = f"{CORE}.Sequential", f"{CORE}.Parallel", f"{CORE}.ForEach"
EACH_SEQUENTIAL, EACH_PARALLEL = f"{CORE}.EachSequential", f"{CORE}.EachParallel"
SWITCH, IF, ALLOW_FAILURE, DAG = (
    f"{CORE}.Switch",
    f"{CORE}.If",
    f"{CORE}.AllowFailure",
    f"{CORE}.Dag",
)
SUBFLOW = f"{CORE}.Subflow"
LOOP_UNTIL, WAIT_FOR = f"{CORE}.LoopUntil", f"{CORE}.WaitFor"

for _name, _props, _children, _doc in (
    (SEQUENTIAL, SequentialProperties, ("tasks",), "Run `tasks` one after the other."),
    (
        PARALLEL,
        ParallelProperties,
        ("tasks",),
        "Run `tasks` at the same time, at most `concurrent` at once (0 = no limit).",
    ),
    (
        FOREACH,
        ForEachProperties,
        ("tasks",),
        "Run `tasks` for each of `values`, `concurrencyLimit` iterations at once (0 = all).",
    ),
    (
        EACH_SEQUENTIAL,
        EachSequentialProperties,
        ("tasks",),
        "Run `tasks` for each of `value`, one after the other.",
    ),
    (
        EACH_PARALLEL,
        EachParallelProperties,
        ("tasks",),
        "Run `tasks` for each of `value`, all at once (at most `concurrent`).",
    ),
    (
        SWITCH,
        SwitchProperties,
        ("cases", "defaults"),
        "Run the tasks of the case whose key equals `value` (as a string), else `defaults`.",
    ),
    (IF, IfProperties, ("then", "else"), "Run `then` if `condition` is true, else `else`."),
    (
        ALLOW_FAILURE,
        AllowFailureProperties,
        ("tasks",),
        "Run `tasks`; if one fails, this task run ends WARNING and the flow goes on.",
    ),
    (
        DAG,
        DagProperties,
        ("tasks",),
        "Run each task as soon as all the tasks it `dependsOn` succeeded.",
    ),
    (
        LOOP_UNTIL,
        LoopUntilProperties,
        ("tasks",),
        "Run `tasks` again and again until `condition` is true after an iteration, every "
        "`checkFrequency.interval`, at most `maxIterations` times or for `maxDuration` "
        "(then FAILED with `failOnMaxReached`). Outputs `iterationCount`.",
    ),
    (
        WAIT_FOR,
        LoopUntilProperties,
        ("tasks",),
        "The former name of LoopUntil.",
    ),
):
    register(
        TaskType(
            name=_name,
            aliases=(_name.rsplit(".", 1)[1],),
            properties=_props,
            flowable=True,
            children=(*_children, "errors"),
            doc=_doc,
        )
    )


register(
    TaskType(
        name=SUBFLOW,
        aliases=("Subflow",),
        properties=SubflowProperties,
        flowable=True,
        doc="Start an execution of another flow (`namespace`, `flowId`, `inputs`); with `wait`, "
        "end as it ends (FAILED if it failed and `transmitFailed`). Outputs `executionId`, "
        "`state` and the subflow's `outputs`.",
    )
)


def child_lists(type_name: str, props: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The raw child task lists of a flowable, by branch name (``tasks``, ``then``,
    ``cases.<key>``, ``errors``...); for a Dag, the ``task`` of each entry."""
    out: list[tuple[str, list[Any]]] = []
    for key in ("tasks", "then", "else", "defaults", "errors"):
        items = props.get(key)
        if isinstance(items, list):
            if type_name == DAG and key == "tasks":
                items = [i.get("task") if isinstance(i, dict) else i for i in items]
            out.append((key, items))
    cases = props.get("cases")
    if isinstance(cases, dict):
        out += [(f"cases.{k}", v) for k, v in cases.items() if isinstance(v, list)]
    return out


def dag_problems(props: dict[str, Any]) -> list[tuple[str, str]]:
    """Unknown dependencies and cycles of a Dag, as (path, message); linear time."""
    entries = [e for e in props.get("tasks") or [] if isinstance(e, dict)]
    ids = [
        e.get("task", {}).get("id") if isinstance(e.get("task"), dict) else None for e in entries
    ]
    known = {i for i in ids if isinstance(i, str)}
    problems = []
    deps: dict[str, list[str]] = {}
    for n, (entry, tid) in enumerate(zip(entries, ids, strict=True)):
        wanted = entry.get("dependsOn") or []
        if not isinstance(wanted, list):
            continue
        for dep in wanted:
            if dep not in known:
                problems.append((f"tasks[{n}].dependsOn", f"unknown task {dep!r}"))
        if isinstance(tid, str):
            deps[tid] = [d for d in wanted if d in known]
    # Kahn's algorithm: whatever is left once nothing has zero in-degree is on a cycle.
    indegree = {t: len(d) for t, d in deps.items()}
    dependents: dict[str, list[str]] = {t: [] for t in deps}
    for t, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, []).append(t)
    ready = deque(t for t, n in indegree.items() if n == 0)
    seen = 0
    while ready:
        t = ready.popleft()
        seen += 1
        for nxt in dependents.get(t, []):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if seen < len(deps):
        cycle = sorted(t for t, n in indegree.items() if n > 0)
        problems.append(("tasks", f"dependency cycle between {', '.join(cycle)}"))
    return problems
