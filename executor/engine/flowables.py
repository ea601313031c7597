"""Every flowable's rules, behind one interface, in a registry by task type.

A flowable task run is run by the executor, never sent to a worker; its children are
ordinary task runs with ``parentTaskRunId`` (and ``value`` inside loops). When it starts,
its rendered properties become a :class:`Plan`, an ordered list of child slots and a
way to walk them:

* ``seq``  — one slot at a time, in order; a failure stops the walk (Sequential,
  AllowFailure, EachSequential, Switch, If);
* ``par``  — up to ``limit`` slots at once (0 = all); after a failure no new slot starts
  (Parallel, EachParallel);
* ``each`` — iterations of ``tasks`` over ``values``, up to ``limit`` iterations at once,
  the tasks of one iteration in order (ForEach);
* ``dag``  — a task starts once all its ``dependsOn`` succeeded (Dag);
* ``loop`` — ``tasks`` in order, again and again until a condition holds (LoopUntil,
  WaitFor: ``loop_next`` and ``loop_end``).

After a child ends, ``walk_successors`` says which slots start next (the Lua step that
counts the child's end applies this same rule atomically, so the cost of a child's end
does not depend on its number of siblings; ``tests/integration/test_walk_lua.py`` runs
both on the same cases), and ``after_child`` / ``dag_next`` / ``after_errors_child``
decide what follows: more children, the flowable's ``errors`` branch, or its end
(``WalkRule.end_state``). Subflow and Pause are executor tasks too; their rules are
``SubflowRule`` and ``PauseRule`` (outcomes in ``executor/engine/outcomes.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from executor.durations import parse_duration
from executor.engine.vocabulary import ChildDecision, Ended, NewTaskRun
from executor.flow import TaskDef
from executor.flowables import (
    ALLOW_FAILURE,
    DAG,
    EACH_PARALLEL,
    EACH_SEQUENTIAL,
    FOREACH,
    IF,
    LOOP_UNTIL,
    PARALLEL,
    SEQUENTIAL,
    SUBFLOW,
    SWITCH,
    WAIT_FOR,
)
from executor.state import StateType

PAUSE = "io.kestra.plugin.core.flow.Pause"
EXIT = "io.kestra.plugin.core.execution.Exit"
LABELS = "io.kestra.plugin.core.execution.Labels"

Mode = Literal["seq", "par", "each", "dag", "loop"]


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
    #: A loop's check frequency (``LoopCheck``), for ``loop`` plans.
    loop: LoopCheck | None = None

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
        if self.mode in ("seq", "loop"):
            return [0]
        if self.mode == "dag":
            return [i for i, t in enumerate(self.tasks) if not self.depends.get(t)]
        n = self.total if self.limit == 0 else min(self.limit, self.total)
        if self.mode == "each":
            return [k * len(self.tasks) for k in range(n)]
        return list(range(n))

    def claimed_at_start(self) -> int:
        """How many of the slots (``par``) or iterations (``each``) ``initial`` claims."""
        return len(self.initial()) if self.mode in ("par", "each") else 0

    def to_json(self) -> str:
        """The plan as kept on the flowable task run (loop values are kept apart)."""
        return json.dumps(
            {
                "mode": self.mode,
                "tasks": self.tasks,
                "looped": self.values is not None,
                "limit": self.limit,
                "branch": self.branch,
                "depends": self.depends,
                **({"loop": asdict(self.loop)} if self.loop else {}),
            }
        )


@dataclass(frozen=True)
class LoopCheck:
    """How a LoopUntil / WaitFor checks (Kestra's ``checkFrequency`` and
    ``failOnMaxReached``), in seconds; ``started`` is when the loop started (epoch s,
    for ``maxDuration``)."""

    interval: float = 1.0
    max_iterations: int | None = 100
    max_duration: float | None = 3600.0
    fail_on_max: bool = False
    started: float = 0.0


@dataclass(frozen=True)
class StoredPlan:
    """A plan as kept on the flowable task run (loop values stay in the store)."""

    mode: Mode
    tasks: tuple[str, ...]
    looped: bool
    limit: int
    branch: str
    depends: dict[str, tuple[str, ...]]
    loop: LoopCheck | None = None

    @classmethod
    def from_json(cls, raw: str) -> StoredPlan:
        d = json.loads(raw)
        return cls(
            d["mode"],
            tuple(d["tasks"]),
            d["looped"],
            d["limit"],
            d["branch"],
            {k: tuple(v) for k, v in d["depends"].items()},
            LoopCheck(**d["loop"]) if d.get("loop") else None,
        )


def as_values(raw: Any) -> list[str]:
    """Loop values as Kestra gives them to children (``FlowableUtils.resolveEachTasks``):
    strings, JSON text for maps and other non-strings, each distinct value once, in
    order. A string is parsed as a JSON list; in a list, only strings, integers and maps
    are allowed. A null value is an error, as in Kestra."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(f"values must render to a JSON list, got {raw!r}") from None
        if not isinstance(raw, list):
            raise ValueError(f"values must render to a JSON list, got {type(raw).__name__}")
    elif isinstance(raw, list):
        for v in raw:
            if v is not None and (isinstance(v, bool) or not isinstance(v, str | int | dict)):
                raise ValueError(f"unknown value element type: {type(v).__name__} ({v!r})")
        raw = [str(v) if isinstance(v, int) else v for v in raw]
    else:
        raise ValueError(f"values must be a list, got {type(raw).__name__}")
    nulls = sum(1 for v in raw if v is None)
    if nulls:
        raise ValueError(f"Found '{nulls}' null values on Each, with values={json.dumps(raw)}")
    out: list[str] = []
    seen: set[str] = set()
    for v in raw:
        text = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


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
    """The ids of the enabled tasks of a raw task list."""
    return tuple(t["id"] for t in tasks if not t.get("disabled"))


# ---------------------------------------------------------------- the rules


class Rule:
    """The rules of a task type the executor runs itself. ``kind`` says how it starts:
    ``walk`` (children, by a plan), ``subflow`` (an execution of another flow),
    ``pause`` (the execution waits), ``exit`` (the execution ends) or ``labels`` (the
    execution's labels change)."""

    kind: ClassVar[Literal["walk", "subflow", "pause", "exit", "labels"]]
    name: ClassVar[str]


class WalkRule(Rule):
    """A flowable with children."""

    kind: ClassVar[Literal["walk", "subflow", "pause", "exit", "labels"]] = "walk"
    #: Properties rendered later, not when the flowable starts.
    deferred: ClassVar[tuple[str, ...]] = ()

    def plan(self, props: dict[str, Any]) -> Plan:
        """The plan from the flowable's rendered properties."""
        return Plan("seq", ids(props["tasks"]))

    def outputs(self, props: dict[str, Any]) -> dict[str, Any] | None:
        """The flowable's own outputs, known when it starts (None: none)."""
        return None

    def end_state(self, bad: int, warn: int) -> StateType:
        """The flowable's own end state from its children's ends."""
        if bad:
            return StateType.FAILED
        return StateType.WARNING if warn else StateType.SUCCESS


class Sequential(WalkRule):
    name = SEQUENTIAL


class AllowFailure(WalkRule):
    """Like Sequential, but a failure of a child ends it WARNING."""

    name = ALLOW_FAILURE

    def end_state(self, bad: int, warn: int) -> StateType:
        return StateType.WARNING if bad or warn else StateType.SUCCESS


class Parallel(WalkRule):
    name = PARALLEL

    def plan(self, props: dict[str, Any]) -> Plan:
        return Plan("par", ids(props["tasks"]), limit=int(props.get("concurrent", 0)))


class ForEach(WalkRule):
    name = FOREACH

    def plan(self, props: dict[str, Any]) -> Plan:
        return Plan(
            "each",
            ids(props["tasks"]),
            tuple(as_values(props["values"])),
            limit=int(props.get("concurrencyLimit", 1)),
        )


class EachSequential(WalkRule):
    name = EACH_SEQUENTIAL

    def plan(self, props: dict[str, Any]) -> Plan:
        return Plan("seq", ids(props["tasks"]), tuple(as_values(props["value"])))


class EachParallel(WalkRule):
    name = EACH_PARALLEL

    def plan(self, props: dict[str, Any]) -> Plan:
        return Plan(
            "par",
            ids(props["tasks"]),
            tuple(as_values(props["value"])),
            limit=int(props.get("concurrent", 0)),
        )


class Switch(WalkRule):
    """The tasks of the case whose key equals ``value`` (compared as strings), else
    ``defaults``; with neither, Kestra finds no task to run and the Switch fails
    (``Switch.childTasks`` gives null: ``FlowableUtils.resolveState`` ends it FAILED)."""

    name = SWITCH

    def plan(self, props: dict[str, Any]) -> Plan:
        key = switch_key(props["value"])
        cases = props["cases"]
        if key in cases:
            return Plan("seq", ids(cases[key]), branch=f"cases.{key}")
        if not props.get("defaults"):
            raise ValueError(f"no case matches {key!r} and there are no defaults")
        return Plan("seq", ids(props["defaults"]), branch="defaults")

    def outputs(self, props: dict[str, Any]) -> dict[str, Any] | None:
        """Kestra's ``Switch.Output``: the rendered ``value``, and whether no case
        matched (``defaults``)."""
        key = switch_key(props["value"])
        return {"value": key, "defaults": key not in props["cases"]}


def switch_key(value: Any) -> str:
    """A Switch's rendered ``value`` as the string its case keys are compared with."""
    return value if isinstance(value, str) else json.dumps(value)


class If(WalkRule):
    name = IF

    def plan(self, props: dict[str, Any]) -> Plan:
        if truthy(props["condition"]):
            return Plan("seq", ids(props["then"]), branch="then")
        return Plan("seq", ids(props.get("else") or []), branch="else")


class Dag(WalkRule):
    name = DAG

    def plan(self, props: dict[str, Any]) -> Plan:
        entries = [e for e in props["tasks"] if not e["task"].get("disabled")]
        return Plan(
            "dag",
            tuple(e["task"]["id"] for e in entries),
            limit=int(props.get("concurrent", 0)),
            depends={e["task"]["id"]: tuple(e.get("dependsOn") or []) for e in entries},
        )


class LoopUntil(WalkRule):
    """``tasks`` in order, iteration after iteration (``taskrun.iteration`` 1, 2, ...),
    until ``condition`` renders true after an iteration, as Kestra's ``WaitFor`` (since
    renamed ``LoopUntil``). The condition is rendered after each iteration, never at
    the start (``deferred``)."""

    name = LOOP_UNTIL
    deferred: ClassVar[tuple[str, ...]] = ("condition",)

    def plan(self, props: dict[str, Any]) -> Plan:
        return Plan("loop", ids(props["tasks"]), loop=loop_check(props))


class WaitFor(LoopUntil):
    name = WAIT_FOR


def loop_check(props: dict[str, Any], started: float = 0.0) -> LoopCheck:
    """A loop's ``LoopCheck`` from its rendered ``checkFrequency`` and
    ``failOnMaxReached`` (durations already in seconds, or ISO-8601 text)."""

    def seconds(v: Any) -> float | None:
        if v is None:
            return None
        return parse_duration(v).total_seconds()

    cf = props.get("checkFrequency") or {}
    interval = seconds(cf.get("interval", "PT1S"))
    return LoopCheck(
        interval=interval if interval is not None else 1.0,
        max_iterations=int(cf["maxIterations"]) if cf.get("maxIterations") is not None else 100,
        max_duration=seconds(cf.get("maxDuration", "PT1H")),
        fail_on_max=bool(props.get("failOnMaxReached", False)),
        started=started,
    )


class Subflow(Rule):
    """An execution of another flow; with ``wait`` the task run ends as it ends
    (``executor.engine.outcomes.subflow_outcome``)."""

    kind = "subflow"
    name = SUBFLOW


class Pause(WalkRule):
    """The execution pauses until resumed or, with ``pauseDuration`` (``delay``) or
    ``timeout``, until that passes (``pause_wait``; ``executor.engine.outcomes
    .pause_expired``). Resumed, its ``tasks`` run in order (none: it ends SUCCESS)."""

    kind = "pause"
    name = PAUSE


def pause_wait(props: dict[str, Any]) -> tuple[float | None, str]:
    """How long a Pause waits before it resumes by itself (None: until resumed by hand),
    and the ``behavior`` that then applies: ``pauseDuration`` or its former name
    ``delay`` with ``behavior``; else ``timeout``, after which it fails (Kestra's
    ``ExecutorService.handlePausedDelay``: a delay resumes it, a timeout fails it)."""

    def seconds(v: Any) -> float | None:
        if v is None or v == "":
            return None
        return parse_duration(v).total_seconds()

    duration = seconds(props.get("pauseDuration"))
    if duration is None:
        duration = seconds(props.get("delay"))
    behavior = str(props.get("behavior") or "RESUME").upper()
    if duration is None:
        duration = seconds(props.get("timeout"))
        if duration is not None:
            behavior = "FAIL"
    return duration, behavior


class Exit(Rule):
    """Ends the execution in its ``state`` (``exit_state``)."""

    kind = "exit"
    name = EXIT


#: Kestra's ``Exit.ExitState`` and the execution state each gives.
EXIT_STATES: dict[str, StateType] = {
    "SUCCESS": StateType.SUCCESS,
    "WARNING": StateType.WARNING,
    "KILLED": StateType.KILLED,
    "FAILED": StateType.FAILED,
    "CANCELED": StateType.CANCELLED,
    "CANCELLED": StateType.CANCELLED,
}


def exit_state(state: Any) -> StateType:
    """The end state an Exit's rendered ``state`` asks for (``ValueError`` if unknown)."""
    found = EXIT_STATES.get(str(state).strip().upper())
    if found is None:
        allowed = ", ".join(k for k in EXIT_STATES if k != "CANCELLED")
        raise ValueError(f"Exit state must be one of {allowed}, got {state!r}")
    return found


class Labels(Rule):
    """Adds labels to the running execution (``new_labels``)."""

    kind = "labels"
    name = LABELS


SYSTEM_PREFIX = "system."


def new_labels(raw: Any) -> dict[str, str]:
    """The labels a Labels task's rendered ``labels`` sets, as Kestra's ``Labels.update``
    reads them: a map, a list of ``{key, value}``, or a string holding a JSON map.
    ``ValueError`` for another shape and for ``system.`` labels, which only the system
    sets."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValueError(f"labels must render to a JSON map, got {raw!r}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"labels must render to a JSON map, got {type(raw).__name__}")
    if isinstance(raw, list):
        pairs: dict[str, str] = {}
        for item in raw:
            if not isinstance(item, dict) or "key" not in item:
                raise ValueError(f"a label must be a {{key, value}} map, got {item!r}")
            pairs[label_text(item["key"])] = label_text(item.get("value"))
        raw = pairs
    if not isinstance(raw, dict):
        raise ValueError(f"labels must be a map or a list, got {type(raw).__name__}")
    out = {label_text(k): label_text(v) for k, v in raw.items()}
    for k, v in out.items():
        if k.startswith(SYSTEM_PREFIX):
            raise ValueError(
                f"system labels can only be set by Ostra itself, offending label: {k}={v}"
            )
    return out


def label_text(value: Any) -> str:
    """A label key or value as text (JSON for maps and lists, ``true``/``false``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def merged_labels(old: list[tuple[str, str]], new: dict[str, str]) -> list[tuple[str, str]]:
    """The execution's labels after a Labels task: existing keys get the new value in
    place, new keys are appended (Kestra: the old map, ``putAll`` of the new)."""
    out = [(k, new.get(k, v)) for k, v in old]
    known = {k for k, _ in old}
    return out + [(k, v) for k, v in new.items() if k not in known]


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Sequential(),
        AllowFailure(),
        Parallel(),
        ForEach(),
        EachSequential(),
        EachParallel(),
        Switch(),
        If(),
        Dag(),
        LoopUntil(),
        WaitFor(),
        Subflow(),
        Pause(),
        Exit(),
        Labels(),
    )
}


def rule_of(task: TaskDef) -> Rule | None:
    """The rule of a task the executor runs itself, None for a task sent to workers."""
    return RULES.get(task.task_type.name)


def walk_rule(type_name: str) -> WalkRule:
    """The rule of flowable ``type_name`` (``ValueError`` if it is not one)."""
    rule = RULES.get(type_name)
    if not isinstance(rule, WalkRule):
        raise ValueError(f"{type_name} is not a flowable")
    return rule


def started_by_executor(task: TaskDef) -> bool:
    """True for flowables, Subflow and Pause: an orchestrator starts their task runs (by
    their rule: the one criterion ``Orchestrator.start`` dispatches on too)."""
    return rule_of(task) is not None


def make_plan(type_name: str, props: dict[str, Any]) -> Plan:
    """The plan of a flowable from its rendered properties."""
    return walk_rule(type_name).plan(props)


# ---------------------------------------------------------------- after a child ends


def walk_successors(
    mode: Mode, width: int, total: int, slot: int, bad: int, claimed: int
) -> tuple[list[int], int]:
    """The slots that start after the child in ``slot`` ended, and the new count of
    claimed slots (``par``) or iterations (``each``); ``bad`` counts failed children so
    far, this one included. After a failure nothing new starts. (``child_end`` in
    ``executor/store/_lib.lua`` applies this rule in the step that counts the end.)"""
    if bad:
        return [], claimed
    if mode == "seq":
        return ([slot + 1] if slot + 1 < total else []), claimed
    if mode == "each" and slot % width < width - 1:
        return [slot + 1], claimed  # the next task of the same iteration
    if mode in ("par", "each") and claimed < total:
        return [claimed * (width if mode == "each" else 1)], claimed + 1
    return [], claimed


def after_child(
    plan: StoredPlan,
    rule: WalkRule,
    parent: str,
    counters: dict[str, int],
    successors: list[tuple[int, str]],
    *,
    has_errors: bool,
    inherited: str | None = None,
) -> ChildDecision:
    """What follows a child's end in a ``seq``, ``par`` or ``each`` walk, given the
    flowable's counters (done, bad, warn, expected) and the successors claimed for it.

    Children of a loop get their loop value; others inherit their flowable's
    (``inherited``), so that ``taskrun.value`` and ``outputs.<id>[<value>]`` work at any
    depth inside a loop.
    """
    width = len(plan.tasks)
    create = tuple(
        NewTaskRun(
            plan.tasks[s % width],
            parent,
            value if plan.looped else inherited,
            s // width if plan.looped else None,
        )
        for s, value in successors
    )
    if create:
        return ChildDecision(create=create)
    if counters["done"] < counters["expected"]:
        return ChildDecision()  # siblings still running
    if counters["bad"] and has_errors:
        return ChildDecision(errors=True)
    return ChildDecision(end=rule.end_state(counters["bad"], counters["warn"]))


def after_errors_child(
    errors: tuple[str, ...], rule: WalkRule, parent: str, ended: Ended
) -> ChildDecision:
    """A flowable's ``errors`` branch runs in order; then the flowable ends failed."""
    i = errors.index(ended.task_id)
    if not ended.state.is_failed() and i + 1 < len(errors):
        return ChildDecision(create=(NewTaskRun(errors[i + 1], parent, ended.value),))
    return ChildDecision(end=rule.end_state(1, 0))


OK_STATES = (StateType.SUCCESS, StateType.WARNING, StateType.SKIPPED)


def dag_next(
    plan: StoredPlan,
    rule: WalkRule,
    parent: str,
    children: list[tuple[str, StateType]],
    *,
    has_errors: bool,
    inherited: str | None = None,
) -> ChildDecision:
    """A Dag's next step from the states of its children so far (task id, state)."""
    states = dict(children)
    bad = sum(1 for s in states.values() if s.is_failed())
    running = sum(1 for s in states.values() if not s.is_terminated())
    if not bad:
        ok = {t for t, s in states.items() if s in OK_STATES}
        ready = [
            t
            for t in plan.tasks
            if t not in states and all(d in ok for d in plan.depends.get(t, ()))
        ]
        if plan.limit:
            ready = ready[: max(0, plan.limit - running)]
        if ready:
            return ChildDecision(create=tuple(NewTaskRun(t, parent, inherited) for t in ready))
    if running or (not bad and len(states) < len(plan.tasks)):
        return ChildDecision()
    if bad and has_errors:
        return ChildDecision(errors=True)
    warn = sum(1 for s in states.values() if s == StateType.WARNING)
    return ChildDecision(end=rule.end_state(bad, warn))


# ---------------------------------------------------------------- loops


def loop_next(
    plan: StoredPlan,
    rule: WalkRule,
    parent: str,
    children: list[tuple[str, StateType, int | None]],
    *,
    has_errors: bool,
    inherited: str | None = None,
) -> ChildDecision | None:
    """A loop's next step from its children so far (task id, state, iteration): the
    next task of the current iteration, its ``errors`` branch after a failure, its end
    (a WARNING child ends the loop WARNING, as Kestra's ``WaitFor`` counts only SUCCESS
    children as an executed iteration), or None once the current iteration succeeded:
    the caller then renders the condition and asks ``loop_end``."""
    current = max((it or 1 for _, _, it in children), default=1)
    states = [(t, s) for t, s, it in children if (it or 1) == current]
    if any(not s.is_terminated() for _, s in states):
        return ChildDecision()
    bad = sum(1 for _, s in states if s.is_failed())
    if bad:
        return ChildDecision(errors=True) if has_errors else ChildDecision(end=rule.end_state(1, 0))
    done = {t for t, _ in states}
    left = [t for t in plan.tasks if t not in done]
    if left:
        return ChildDecision(create=(NewTaskRun(left[0], parent, inherited, current),))
    if any(s == StateType.WARNING for _, s in states):
        return ChildDecision(end=rule.end_state(0, 1))
    return None


def loop_maxed(check: LoopCheck, count: int, now: float) -> bool:
    """True once a loop reached its maximums: ``count`` (its ``iterationCount`` after
    the iteration that just ended: iterations done + 1) past ``maxIterations``, or
    ``maxDuration`` passed since it started (Kestra's ``WaitFor.reachedMaximums``)."""
    if check.max_iterations is not None and count > check.max_iterations:
        return True
    return check.max_duration is not None and check.started + check.max_duration < now


def loop_end(check: LoopCheck, *, maxed: bool, condition: bool) -> StateType | None:
    """After an iteration succeeded: None to run another (the condition is false and no
    maximum is reached), else the loop's end: FAILED if a maximum was reached with
    ``failOnMaxReached``, SUCCESS otherwise."""
    if not maxed and not condition:
        return None
    if maxed and check.fail_on_max:
        return StateType.FAILED
    return StateType.SUCCESS
