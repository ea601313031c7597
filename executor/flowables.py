"""Flowable tasks: run by the orchestrator, never sent to workers; their children are
ordinary task runs with ``parentTaskRunId`` (and ``value`` inside loops).

Each flowable becomes, when it starts, a *plan*: an ordered list of child slots and a
way to walk them:

* ``seq``  — one slot at a time, in order; a failure stops the walk
  (Sequential, Switch, If, AllowFailure, EachSequential, every ``errors`` branch);
* ``par``  — up to ``limit`` slots at once (0 = all); after a failure no new slot starts
  (Parallel, EachParallel);
* ``each`` — iterations of ``tasks`` over ``values``, up to ``limit`` iterations at once,
  the tasks of one iteration in order (ForEach);
* ``dag``  — a task starts when all its ``dependsOn`` succeeded (Dag).

Walking is counted in Redis (``executor/store/child_ended.lua``) so that the cost of a
child's end does not depend on how many siblings it has.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from executor.builtin_types import CamelProperties
from executor.state import StateType
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
    defaults: TaskList = Field(default_factory=list)

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


class SubflowProperties(CamelProperties):
    namespace: str
    flow_id: str
    revision: int | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True
    transmit_failed: bool = True


CORE = "io.kestra.plugin.core.flow"
SEQUENTIAL, PARALLEL, FOREACH = f"{CORE}.Sequential", f"{CORE}.Parallel", f"{CORE}.ForEach"
EACH_SEQUENTIAL, EACH_PARALLEL = f"{CORE}.EachSequential", f"{CORE}.EachParallel"
SWITCH, IF, ALLOW_FAILURE, DAG = (f"{CORE}.Switch", f"{CORE}.If", f"{CORE}.AllowFailure",
                                  f"{CORE}.Dag")
SUBFLOW = f"{CORE}.Subflow"

for _name, _props, _children, _doc in (
    (SEQUENTIAL, SequentialProperties, ("tasks",), "Run `tasks` one after the other."),
    (PARALLEL, ParallelProperties, ("tasks",),
     "Run `tasks` at the same time, at most `concurrent` at once (0 = no limit)."),
    (FOREACH, ForEachProperties, ("tasks",),
     "Run `tasks` for each of `values`, `concurrencyLimit` iterations at once (0 = all)."),
    (EACH_SEQUENTIAL, EachSequentialProperties, ("tasks",),
     "Run `tasks` for each of `value`, one after the other."),
    (EACH_PARALLEL, EachParallelProperties, ("tasks",),
     "Run `tasks` for each of `value`, all at once (at most `concurrent`)."),
    (SWITCH, SwitchProperties, ("cases", "defaults"),
     "Run the tasks of the case whose key equals `value` (as a string), else `defaults`."),
    (IF, IfProperties, ("then", "else"), "Run `then` if `condition` is true, else `else`."),
    (ALLOW_FAILURE, AllowFailureProperties, ("tasks",),
     "Run `tasks`; if one fails, this task run ends WARNING and the flow goes on."),
    (DAG, DagProperties, ("tasks",),
     "Run each task as soon as all the tasks it `dependsOn` succeeded."),
):
    register(TaskType(name=_name, aliases=(_name.rsplit(".", 1)[1],), properties=_props,
                      flowable=True, children=(*_children, "errors"), doc=_doc))


register(TaskType(
    name=SUBFLOW, aliases=("Subflow",), properties=SubflowProperties, flowable=True,
    doc="Start an execution of another flow (`namespace`, `flowId`, `inputs`); with `wait`, "
        "end as it ends (FAILED if it failed and `transmitFailed`). Outputs `executionId`, "
        "`state` and the subflow's `outputs`."))


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
    ids = [e.get("task", {}).get("id") if isinstance(e.get("task"), dict) else None
           for e in entries]
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


Mode = Literal["seq", "par", "each", "dag"]


@dataclass(frozen=True)
class Plan:
    """How a flowable task run walks its children.

    ``tasks`` are the child task ids of one iteration; ``values`` the loop values (None
    outside loops). Slot ``s`` is task ``tasks[s % len(tasks)]`` of iteration
    ``s // len(tasks)``. ``total`` counts slots (``seq``, ``par``, ``dag``) or iterations
    (``each``).
    """

    mode: Mode
    tasks: tuple[str, ...]
    values: tuple[str, ...] | None = None
    limit: int = 0
    branch: str = "tasks"
    depends: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        if self.values is None:
            return len(self.tasks)
        return len(self.values) if self.mode == "each" else len(self.values) * len(self.tasks)

    def slot(self, s: int) -> tuple[str, str | None, int | None]:
        """(task id, value, iteration) of slot ``s``."""
        t = len(self.tasks)
        if self.values is None:
            return self.tasks[s], None, None
        return self.tasks[s % t], self.values[s // t], s // t

    def initial(self) -> list[int]:
        """Slots to start with."""
        if self.total == 0:
            return []
        if self.mode == "seq":
            return [0]
        if self.mode == "dag":
            return [i for i, t in enumerate(self.tasks) if not self.depends.get(t)]
        n = self.total if self.limit == 0 else min(self.limit, self.total)
        if self.mode == "each":
            return [k * len(self.tasks) for k in range(n)]
        return list(range(n))


def as_values(raw: Any) -> list[str]:
    """Loop values as Kestra gives them to children: strings (JSON for non-strings)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(f"values must render to a list, got {raw!r}") from None
    if not isinstance(raw, list):
        raise ValueError(f"values must be a list, got {type(raw).__name__}")
    return [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in raw]


def truthy(value: Any) -> bool:
    """Kestra's truth for ``If`` and ``runIf``: only false, 0, -0 and "" are false."""
    if isinstance(value, str):
        return value.strip() not in ("", "false", "0", "-0", "False")
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return value is not None


def ids(tasks: list[Any]) -> tuple[str, ...]:
    return tuple(t["id"] for t in tasks if not t.get("disabled"))


def make_plan(type_name: str, props: dict[str, Any]) -> Plan:
    """The plan of a flowable from its rendered properties."""
    if type_name in (SEQUENTIAL, ALLOW_FAILURE):
        return Plan("seq", ids(props["tasks"]))
    if type_name == PARALLEL:
        return Plan("par", ids(props["tasks"]), limit=int(props.get("concurrent", 0)))
    if type_name == FOREACH:
        return Plan("each", ids(props["tasks"]), tuple(as_values(props["values"])),
                    limit=int(props.get("concurrencyLimit", 1)))
    if type_name == EACH_SEQUENTIAL:
        return Plan("seq", ids(props["tasks"]), tuple(as_values(props["value"])))
    if type_name == EACH_PARALLEL:
        return Plan("par", ids(props["tasks"]), tuple(as_values(props["value"])),
                    limit=int(props.get("concurrent", 0)))
    if type_name == SWITCH:
        key = props["value"]
        key = key if isinstance(key, str) else json.dumps(key)
        cases = props["cases"]
        if key in cases:
            return Plan("seq", ids(cases[key]), branch=f"cases.{key}")
        return Plan("seq", ids(props.get("defaults") or []), branch="defaults")
    if type_name == IF:
        if truthy(props["condition"]):
            return Plan("seq", ids(props["then"]), branch="then")
        return Plan("seq", ids(props.get("else") or []), branch="else")
    if type_name == DAG:
        entries = [e for e in props["tasks"] if not e["task"].get("disabled")]
        return Plan("dag", tuple(e["task"]["id"] for e in entries),
                    limit=int(props.get("concurrent", 0)),
                    depends={e["task"]["id"]: tuple(e.get("dependsOn") or []) for e in entries})
    raise ValueError(f"{type_name} is not a flowable")


def plan_to_json(plan: Plan) -> str:
    return json.dumps({"mode": plan.mode, "tasks": plan.tasks, "looped": plan.values is not None,
                       "limit": plan.limit, "branch": plan.branch,
                       "depends": plan.depends})


@dataclass(frozen=True)
class StoredPlan:
    """A plan as kept on the flowable task run (loop values stay in Redis)."""

    mode: Mode
    tasks: tuple[str, ...]
    looped: bool
    limit: int
    branch: str
    depends: dict[str, tuple[str, ...]]

    @classmethod
    def from_json(cls, raw: str) -> StoredPlan:
        d = json.loads(raw)
        return cls(d["mode"], tuple(d["tasks"]), d["looped"], d["limit"], d["branch"],
                   {k: tuple(v) for k, v in d["depends"].items()})


@dataclass(frozen=True)
class Ended:
    """A task run that just ended."""

    task_id: str
    state: StateType
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None


@dataclass(frozen=True)
class NewTaskRun:
    """A task run to create."""

    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None


@dataclass(frozen=True)
class ChildDecision:
    """What follows the end of a flowable's child: children to create, its errors branch
    to start, or the end of the flowable in ``end``."""

    create: tuple[NewTaskRun, ...] = ()
    errors: bool = False
    end: StateType | None = None


def end_state(bad: int, warn: int, type_name: str) -> StateType:
    """A flowable's own end state from its children's (AllowFailure turns FAILED into
    WARNING)."""
    if bad:
        return StateType.WARNING if type_name == ALLOW_FAILURE else StateType.FAILED
    return StateType.WARNING if warn else StateType.SUCCESS


def after_child(plan: StoredPlan, parent: str, counters: dict[str, int],
                successors: list[tuple[int, str]], *, type_name: str,
                has_errors: bool, inherited: str | None = None) -> ChildDecision:
    """What follows a child's end, given the counters and claims of ``child_ended.lua``.

    Children of a loop get their loop value; others inherit their flowable's
    (``inherited``), so that ``taskrun.value`` and ``outputs.<id>[<value>]`` work at any
    depth inside a loop.
    """
    width = len(plan.tasks)
    create = tuple(
        NewTaskRun(plan.tasks[s % width], parent, value if plan.looped else inherited,
                   s // width if plan.looped else None)
        for s, value in successors)
    if create:
        return ChildDecision(create=create)
    if counters["done"] < counters["expected"]:
        return ChildDecision()  # siblings still running
    if counters["bad"] and has_errors:
        return ChildDecision(errors=True)
    return ChildDecision(end=end_state(counters["bad"], counters["warn"], type_name))


def after_errors_child(errors: tuple[str, ...], parent: str, ended: Ended,
                       type_name: str) -> ChildDecision:
    """The errors branch of a flowable runs in order; then the flowable ends failed."""
    i = errors.index(ended.task_id)
    if not ended.state.is_failed() and i + 1 < len(errors):
        return ChildDecision(create=(NewTaskRun(errors[i + 1], parent, ended.value),))
    return ChildDecision(end=end_state(1, 0, type_name))


OK_STATES = (StateType.SUCCESS, StateType.WARNING, StateType.SKIPPED)


def dag_next(plan: StoredPlan, parent: str, children: list[tuple[str, StateType]],
             *, type_name: str, has_errors: bool, inherited: str | None = None
             ) -> ChildDecision:
    """A Dag's next step from the states of its children so far (task id, state)."""
    states = dict(children)
    bad = sum(1 for s in states.values() if s.is_failed())
    running = sum(1 for s in states.values() if not s.is_terminated())
    if not bad:
        ok = {t for t, s in states.items() if s in OK_STATES}
        ready = [t for t in plan.tasks
                 if t not in states and all(d in ok for d in plan.depends.get(t, ()))]
        if plan.limit:
            ready = ready[:max(0, plan.limit - running)]
        if ready:
            return ChildDecision(create=tuple(NewTaskRun(t, parent, inherited) for t in ready))
    if running or (not bad and len(states) < len(plan.tasks)):
        return ChildDecision()
    if bad and has_errors:
        return ChildDecision(errors=True)
    warn = sum(1 for s in states.values() if s == StateType.WARNING)
    return ChildDecision(end=end_state(bad, warn, type_name))
