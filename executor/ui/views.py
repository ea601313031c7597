"""What the UI's pages show, built from the models (pure: no I/O, the clock passed in).

* ``tree_rows``: an execution's task runs as a tree (children under their flowable, in
  creation order), with depth, a page at a time.
* ``gantt``: the timeline of attempts: one row per task run, one bar per attempt (its
  state, start, end, and the reason of a failed attempt); past ``GANTT_MAX_ROWS`` task
  runs, one aggregated row per task id (how many task runs in each state, first start to
  last end).
* ``input_fields``: the Execute form's fields from a flow's typed inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from executor.flow import Flow
from executor.inputs import InputDef, InputType
from executor.models import Execution, State, TaskRun
from executor.state import StateType

#: task runs shown on one page of the tree
TREE_PAGE = 200
#: beyond this many task runs, the timeline shows one row per task id
GANTT_MAX_ROWS = 150

#: the worst first: an aggregated row takes the colour of its worst state
_SEVERITY = [
    StateType.FAILED,
    StateType.KILLED,
    StateType.KILLING,
    StateType.RETRYING,
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.WARNING,
    StateType.RESUBMITTED,
    StateType.CREATED,
    StateType.SUCCESS,
]


def started(state: State) -> datetime | None:
    """When a state history began (its first entry)."""
    return state.histories[0].date if state.histories else None


def ended(state: State) -> datetime | None:
    """When a state history ended (its last entry, if that is an end state)."""
    if state.histories and state.current.is_terminated():
        return state.histories[-1].date
    return None


def duration_text(seconds: float | None) -> str:
    """``1.2s``, ``3m04s``, ``2h05m``: a duration for people."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def span_seconds(state: State, now: datetime) -> float | None:
    """How long a state history has lasted (until now if it has not ended)."""
    start = started(state)
    if start is None:
        return None
    end = ended(state) or now
    return max(0.0, (end - start).total_seconds())


@dataclass
class TreeRow:
    """One task run in the tree."""

    run: TaskRun
    depth: int
    children: int
    duration: str


@dataclass
class TreePage:
    """One page of the tree."""

    rows: list[TreeRow]
    page: int
    pages: int
    total: int


class _Node(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def parent_task_run_id(self) -> str | None: ...


N = TypeVar("N", bound=_Node)


def tree_order(runs: Sequence[N]) -> list[tuple[N, int, int]]:
    """Every task run (a ``TaskRun`` or a store's ``TaskRunRow``), parents before their
    children (in creation order), with its depth and how many children it has."""
    ids = {r.id for r in runs}
    children: dict[str | None, list[N]] = {}
    for r in runs:
        parent = r.parent_task_run_id if r.parent_task_run_id in ids else None
        children.setdefault(parent, []).append(r)
    out: list[tuple[N, int, int]] = []
    stack: list[tuple[N, int]] = [(r, 0) for r in reversed(children.get(None, []))]
    while stack:
        run, depth = stack.pop()
        kids = children.get(run.id, [])
        out.append((run, depth, len(kids)))
        stack.extend((k, depth + 1) for k in reversed(kids))
    return out


def tree_rows(execution: Execution, now: datetime, page: int = 1) -> TreePage:
    """Page ``page`` (1-based) of the tree, ``TREE_PAGE`` task runs a page."""
    ordered = tree_order(execution.task_run_list)
    pages = max(1, -(-len(ordered) // TREE_PAGE))
    page = min(max(1, page), pages)
    chunk = ordered[(page - 1) * TREE_PAGE : page * TREE_PAGE]
    rows = [
        TreeRow(run, depth, kids, duration_text(span_seconds(run.state, now)))
        for run, depth, kids in chunk
    ]
    return TreePage(rows, page, pages, len(ordered))


@dataclass
class Bar:
    """One bar of the timeline: where it starts and how wide it is (percent of the
    execution's span), its state and what hovering it says."""

    left: float
    width: float
    state: str
    title: str
    label: str = ""


@dataclass
class GanttRow:
    """One row of the timeline: a task run (or, aggregated, every task run of a task)."""

    label: str
    depth: int
    bars: list[Bar]
    detail: str = ""


@dataclass
class Gantt:
    """The timeline: rows, whether they are aggregated, its span and its scale."""

    rows: list[GanttRow]
    aggregated: bool
    span: str
    task_runs: int
    ticks: list[tuple[float, str]] = field(default_factory=list)


def position(start: datetime, end: datetime, t0: datetime, total: float) -> tuple[float, float]:
    """Where a bar from ``start`` to ``end`` sits on a timeline starting at ``t0`` and
    lasting ``total`` seconds: (left, width) in percent."""
    left = (start - t0).total_seconds() / total * 100
    width = (end - start).total_seconds() / total * 100
    left = min(max(left, 0.0), 99.5)
    return round(left, 3), round(min(max(width, 0.4), 100 - left), 3)


def worst(states: Mapping[str, int]) -> str:
    """The worst state present in ``states`` (state name: count)."""
    for s in _SEVERITY:
        if states.get(s.value):
            return s.value
    return next(iter(states), StateType.CREATED.value)


def gantt(execution: Execution, now: datetime) -> Gantt:
    """The execution's timeline of attempts (aggregated by task id past
    ``GANTT_MAX_ROWS`` task runs)."""
    t0 = started(execution.state) or now
    t1 = ended(execution.state) or now
    for run in execution.task_run_list:  # a restart may have moved things past the end
        end = ended(run.state)
        if end is not None and end > t1:
            t1 = end
    total = max((t1 - t0).total_seconds(), 0.001)
    ticks = [(p * 25.0, duration_text(total * p / 4)) for p in range(5)]
    ordered = tree_order(execution.task_run_list)
    if len(ordered) > GANTT_MAX_ROWS:
        return Gantt(
            _aggregated(ordered, t0, total, now),
            True,
            duration_text(total),
            len(ordered),
            ticks,
        )
    rows = []
    for run, depth, _kids in ordered:
        bars = []
        for attempt in run.attempts:
            start = started(attempt.state)
            if start is None:
                continue
            end = ended(attempt.state) or (now if not run.state.current.is_terminated() else start)
            left, width = position(start, end, t0, total)
            title = (
                f"{run.task_id} attempt {attempt.number}: {attempt.state.current.value}"
                f" ({duration_text((end - start).total_seconds())})"
            )
            if attempt.reason:
                title += f": {attempt.reason}"
            bars.append(Bar(left, width, attempt.state.current.value, title, f"#{attempt.number}"))
        if not bars:  # a flowable, or not started yet: the task run itself
            start = started(run.state)
            if start is not None:
                end = ended(run.state) or now
                left, width = position(start, end, t0, total)
                title = f"{run.task_id}: {run.state.current.value}"
                bars.append(Bar(left, width, run.state.current.value, title))
        label = run.task_id + (f" [{run.value}]" if run.value is not None else "")
        rows.append(GanttRow(label, depth, bars, f"{len(run.attempts)} attempt(s)"))
    return Gantt(rows, False, duration_text(total), len(ordered), ticks)


def _aggregated(
    ordered: list[tuple[TaskRun, int, int]], t0: datetime, total: float, now: datetime
) -> list[GanttRow]:
    groups: dict[str, list[TaskRun]] = {}
    depths: dict[str, int] = {}
    for run, depth, _kids in ordered:
        groups.setdefault(run.task_id, []).append(run)
        depths.setdefault(run.task_id, depth)
    rows = []
    for task_id, runs in groups.items():
        states: Counter[str] = Counter(r.state.current.value for r in runs)
        starts = [s for s in (started(r.state) for r in runs) if s is not None]
        attempts = sum(len(r.attempts) for r in runs)
        summary = ", ".join(f"{n} {s}" for s, n in states.most_common())
        detail = f"{len(runs)} task runs, {attempts} attempts: {summary}"
        bars = []
        if starts:
            ends = [ended(r.state) or now for r in runs]
            left, width = position(min(starts), max(ends), t0, total)
            bars.append(Bar(left, width, worst(states), f"{task_id}: {detail}", f"×{len(runs)}"))
        rows.append(GanttRow(task_id, depths[task_id], bars, detail))
    return rows


@dataclass
class InputField:
    """One field of the Execute form."""

    id: str
    type: str
    label: str
    widget: str  # text, number, checkbox, select, multiselect, textarea, password...
    required: bool
    default: str
    description: str
    choices: list[str]
    step: str = ""


_WIDGETS = {
    InputType.INT: "number",
    InputType.FLOAT: "number",
    InputType.BOOLEAN: "boolean",
    InputType.DATETIME: "text",
    InputType.DATE: "date",
    InputType.TIME: "text",
    InputType.JSON: "textarea",
    InputType.ARRAY: "textarea",
    InputType.SELECT: "select",
    InputType.MULTISELECT: "multiselect",
    InputType.URI: "url",
    InputType.EMAIL: "email",
    InputType.SECRET: "password",
}


def _default_text(d: InputDef) -> str:
    import json

    if d.defaults is None or d.type == InputType.SECRET:
        return ""
    if isinstance(d.defaults, bool):
        return "true" if d.defaults else "false"
    if isinstance(d.defaults, dict | list):
        return json.dumps(d.defaults)
    return str(d.defaults)


def input_fields(flow: Flow) -> list[InputField]:
    """The Execute form's fields for ``flow``'s inputs (a SECRET default never shown)."""
    out = []
    for d in flow.inputs:
        widget = _WIDGETS.get(d.type, "text")
        out.append(
            InputField(
                id=d.id,
                type=d.type.value,
                label=d.display_name or d.id,
                widget=widget,
                required=d.required and d.defaults is None,
                default=_default_text(d),
                description=d.description or "",
                choices=list(d.values or []),
                step="1" if d.type == InputType.INT else "any",
            )
        )
    return out


def form_inputs(form: dict[str, list[str]], flow: Flow) -> dict[str, Any]:
    """The inputs a submitted Execute form gives: empty fields left out (defaults apply),
    a MULTISELECT as a list."""
    values: dict[str, Any] = {}
    kinds = {d.id: d.type for d in flow.inputs}
    for key, items in form.items():
        kind = kinds.get(key)
        kept = [v for v in items if v != ""]
        if not kept:
            continue
        if kind == InputType.MULTISELECT:
            values[key] = kept
        else:
            values[key] = kept[0] if len(kept) == 1 else kept
    return values
