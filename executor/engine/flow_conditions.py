"""Does an execution's state change match a Flow trigger (Kestra's ``io.kestra.plugin.
core.trigger.Flow``)? Pure: the trigger's properties parsed and checked, its conditions
tested on one state change (an end, or a move to a state a trigger lists, PAUSED...),
and the time window of a multiple condition; no I/O, the clock passed in.

Kestra's semantics (``FlowTriggerService.computeExecutionsFromFlowTriggers``, called by
the executor on every change of an execution's state):

* the new state must be one of the trigger's ``states`` (default: the end states; any
  other state but CREATED may be listed, and each move to it is one evaluation: an
  execution paused twice is evaluated twice);
* every plain condition of ``conditions`` must hold (``ExecutionFlow``,
  ``ExecutionStatus``, ``ExecutionNamespace``, ``ExecutionLabels``);
* each multiple condition (``preconditions``, and ``MultipleCondition`` entries of
  ``conditions``) holds once each of its conditions (one per ``flows`` entry, one per
  ``where`` entry) was met by some end within the current time window; the results are
  kept per window (``executor.triggers.flow_trigger``) and, unless ``resetOnSuccess:
  false``, forgotten once all were met;
* a flow never listens to its own executions (``FlowService.removeUnwanted``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from executor.durations import parse_duration
from executor.errors import Problem
from executor.state import TERMINAL, StateType

if TYPE_CHECKING:
    from executor.flow import Flow

#: Kestra's ``State.Type.terminatedTypes()``, the default of ``states``.
DEFAULT_STATES: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL))

#: The states other than ends a trigger's ``states`` may list: every one but CREATED
#: (Kestra's Flow.states: "a Flow trigger cannot react to the CREATED state", an
#: execution's first state is not a change). The store keeps, per such state, which
#: flows listen to it (``listened_states``), and streams moves to it only then.
OTHER_STATES: tuple[str, ...] = tuple(
    sorted(s.value for s in StateType if s not in TERMINAL and s is not StateType.CREATED)
)

_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")

#: Condition types a Flow trigger's ``conditions`` may hold, by every name.
_CONDITION_NAMES: dict[str, tuple[str, ...]] = {
    "ExecutionFlow": (
        "io.kestra.plugin.core.condition.ExecutionFlow",
        "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
        "ExecutionFlow",
    ),
    "ExecutionStatus": (
        "io.kestra.plugin.core.condition.ExecutionStatus",
        "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
        "ExecutionStatus",
    ),
    "ExecutionNamespace": (
        "io.kestra.plugin.core.condition.ExecutionNamespace",
        "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
        "ExecutionNamespace",
    ),
    "ExecutionLabels": (
        "io.kestra.plugin.core.condition.ExecutionLabels",
        "io.kestra.core.models.conditions.types.ExecutionLabelsCondition",
        "ExecutionLabels",
    ),
    "MultipleCondition": (
        "io.kestra.plugin.core.condition.MultipleCondition",
        "io.kestra.core.models.conditions.types.MultipleCondition",
        "MultipleCondition",
    ),
}

FILTER_FIELDS = ("FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION")
FILTER_TYPES = (
    "EQUAL_TO",
    "NOT_EQUAL_TO",
    "IN",
    "NOT_IN",
    "IS_TRUE",
    "IS_FALSE",
    "IS_NULL",
    "IS_NOT_NULL",
    "STARTS_WITH",
    "ENDS_WITH",
    "REGEX",
    "CONTAINS",
)
WINDOW_TYPES = ("DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW")


@dataclass(frozen=True)
class FlowEnd:
    """One state change of an execution (an end, or a move to a listened state such as
    PAUSED): what the conditions read of it, ``state`` being the new state."""

    execution_id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: str
    labels: Mapping[str, str] = field(default_factory=dict)


#: Renders one ``EXPRESSION`` filter's template in the ended execution's context.
Render = Callable[[str], Any]


@dataclass(frozen=True)
class Condition:
    """One condition on an end: a plain one, a ``flows`` entry or a ``where`` entry."""

    kind: str  # ExecutionFlow, ExecutionStatus, ExecutionNamespace, ExecutionLabels,
    # Upstream (a ``flows`` entry), Filter (a ``where`` entry)
    props: Mapping[str, Any]

    def test(self, end: FlowEnd, render: Render) -> bool:
        """Does ``end`` meet it? (Kestra's ``Condition.test`` of the same type)."""
        p = self.props
        if self.kind == "ExecutionFlow":
            return bool(end.namespace == p["namespace"] and end.flow_id == p["flowId"])
        if self.kind == "ExecutionStatus":
            ins, not_in = p.get("in"), p.get("notIn")
            if ins is not None and end.state not in ins:
                return False
            return not (not_in is not None and end.state in not_in)
        if self.kind == "ExecutionNamespace":
            ns, how = (
                p["namespace"],
                p.get("comparison") or ("PREFIX" if p.get("prefix") else "EQUALS"),
            )
            if how == "PREFIX":
                return end.namespace.startswith(ns)
            if how == "SUFFIX":
                return end.namespace.endswith(ns)
            return bool(end.namespace == ns)
        if self.kind == "ExecutionLabels":
            return _labels_match(p["labels"], end.labels)
        if self.kind == "Upstream":
            if p.get("namespace") is not None and end.namespace != p["namespace"]:
                return False
            if p.get("flowId") is not None and end.flow_id != p["flowId"]:
                return False
            if p.get("states") is not None and end.state not in p["states"]:
                return False
            return p.get("labels") is None or _labels_match(p["labels"], end.labels)
        if self.kind == "Filter":
            results = (_filter(f, end, render) for f in p["filters"])
            return any(results) if p.get("operand") == "OR" else all(results)
        raise AssertionError(f"unknown condition kind {self.kind}")


def _labels_match(wanted: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(labels.get(str(k)) == _text(v) for k, v in wanted.items())


def _text(value: Any) -> str:
    """``String.valueOf`` of a YAML value as Kestra prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _truthy(value: Any) -> bool:
    """Kestra's ``TruthUtils.isTruthy`` of a rendered string."""
    if value is None:
        return False
    text = _text(value).strip()
    return text not in ("", "false", "0", "-0", "null")


def _filter(f: Mapping[str, Any], end: FlowEnd, render: Render) -> bool:
    """One ``where`` filter (Kestra's ``Flow.FilterCondition.evaluate``)."""
    fld, typ, value, values = f["field"], f["type"], f.get("value"), f.get("values") or []
    actual: str | None
    if fld == "FLOW_ID":
        actual = end.flow_id
    elif fld == "NAMESPACE":
        actual = end.namespace
    elif fld == "STATE":
        actual = end.state
    else:
        rendered = render(str(value))
        actual = None if rendered is None else _text(rendered)
    if typ == "EQUAL_TO":
        return actual == value
    if typ == "NOT_EQUAL_TO":
        return actual != value
    if typ == "IN":
        return actual in values
    if typ == "NOT_IN":
        return actual not in values
    if typ == "IS_TRUE":
        return _truthy(actual)
    if typ == "IS_FALSE":
        return not _truthy(actual)
    if typ == "IS_NULL":
        return actual is None
    if typ == "IS_NOT_NULL":
        return actual is not None
    if actual is None:
        return False
    if typ == "STARTS_WITH":
        return actual.startswith(str(value))
    if typ == "ENDS_WITH":
        return actual.endswith(str(value))
    if typ == "REGEX":  # Java's String.matches: the whole string
        return re.fullmatch(str(value), actual) is not None
    return str(value) in actual  # CONTAINS


@dataclass(frozen=True)
class TimeWindow:
    """Kestra's ``TimeWindow``: where the results of a multiple condition are kept."""

    type: str = "DURATION_WINDOW"
    window: timedelta | None = None
    window_advance: timedelta | None = None
    deadline: time | None = None
    start_time: time | None = None
    end_time: time | None = None

    def bounds(self, now: float) -> tuple[float, float]:
        """(start, end) in epoch seconds of the window a new result at ``now`` opens
        (Kestra's ``MultipleConditionStorageInterface.getOrCreate``, in UTC)."""
        at = datetime.fromtimestamp(int(now), UTC)
        day = at.replace(hour=0, minute=0, second=0)
        if self.type == "DURATION_WINDOW":
            window = self.window or timedelta(days=1)
            base = at
            if window >= timedelta(days=1):
                base = base.replace(hour=0)
            if window >= timedelta(hours=1):
                base = base.replace(minute=0)
            minutes = int(window.total_seconds() // 60)
            if minutes > 0:
                base = base.replace(second=0, minute=0) + timedelta(
                    minutes=minutes * (at.minute // minutes) if minutes < 60 else 0
                )
            start = base + (self.window_advance or timedelta())
            return start.timestamp(), (start + window).timestamp() - 0.001
        if self.type == "SLIDING_WINDOW":
            return at.timestamp(), (at + (self.window or timedelta(days=1))).timestamp()
        if self.type == "DAILY_TIME_WINDOW":
            assert self.start_time is not None and self.end_time is not None
            return _at(day, self.start_time), _at(day, self.end_time)
        assert self.deadline is not None
        return day.timestamp(), _at(day, self.deadline)


def _at(day: datetime, t: time) -> float:
    return (day + timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)).timestamp()


@dataclass(frozen=True)
class Multiple:
    """A multiple condition: named conditions met across ends within a window."""

    id: str
    conditions: Mapping[str, Condition]
    window: TimeWindow = TimeWindow()
    reset_on_success: bool = True

    def met(self, end: FlowEnd, render: Render) -> list[str]:
        """The names of its conditions ``end`` meets."""
        return [name for name, c in self.conditions.items() if c.test(end, render)]


@dataclass(frozen=True)
class FlowTrigger:
    """A Flow trigger's properties, parsed and checked."""

    id: str
    type: str
    states: tuple[str, ...] = DEFAULT_STATES
    inputs: Mapping[str, Any] | None = None
    labels: Any = None
    disabled: bool = False
    conditions: tuple[Condition, ...] = ()
    multiple: tuple[Multiple, ...] = ()
    #: ``stopAfter``: the trigger disables itself once an execution it started ends in
    #: one of these states (Kestra's ``AbstractTrigger.stopAfter``).
    stop_after: tuple[str, ...] = ()

    def stops(self, started_by: str | None, state: str) -> bool:
        """Does the end in ``state`` of an execution started by trigger ``started_by``
        (None: not started by a trigger) disable this one?"""
        return started_by == self.id and state in self.stop_after

    def plain_match(self, end: FlowEnd, render: Render) -> bool:
        """Does ``end`` pass the ``states`` filter and every plain condition?"""
        return end.state in self.states and all(c.test(end, render) for c in self.conditions)


def flow_triggers(flow: Flow, names: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The flow's Flow trigger entries (as written, enabled or not); ``names``: every
    name of the Flow trigger type (``executor.triggers.types.KINDS["flow"]``)."""
    return [
        t.model_dump(mode="json", by_alias=True, exclude_none=True)
        for t in flow.triggers
        if t.type in names
    ]


def flow_listens(flow: Flow, names: tuple[str, ...]) -> bool:
    """Does ``flow`` listen to other flows' ends (an enabled flow with an enabled Flow
    trigger)? The store keeps the set of such flows at deploy and delete."""
    return not flow.disabled and any(not t.get("disabled") for t in flow_triggers(flow, names))


def listened_states(flow: Flow, names: tuple[str, ...]) -> frozenset[str]:
    """The states other than ends (``OTHER_STATES``) that the enabled Flow triggers of
    ``flow`` list in ``states`` (none for a disabled flow): the store streams an
    execution's move to one of them only while some flow listens to it."""
    if flow.disabled:
        return frozenset()
    out: set[str] = set()
    for entry in flow_triggers(flow, names):
        states = entry.get("states")
        if entry.get("disabled") or not isinstance(states, list):
            continue
        out.update(str(s) for s in states if str(s) in OTHER_STATES)
    return frozenset(out)


# ---------------------------------------------------------------- parsing and checks


class _Checks:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def string(self, value: Any, path: str, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(path, "missing required property")
            return None
        if not isinstance(value, str) or not value:
            self.add(path, "must be a non-empty string")
            return None
        return value

    def states(self, value: Any, path: str) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.add(path, "must be a non-empty list of states")
            return None
        out = []
        for i, s in enumerate(value):
            try:
                out.append(StateType(str(s)).value)
            except ValueError:
                self.add(f"{path}[{i}]", f"unknown state {s!r}")
        return tuple(out)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(path, "must be a mapping")
            return None
        return value


def check(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """The deploy-time problems of one Flow trigger entry (``types._checkers``)."""
    return parse(entry, path)[1]


def parse(entry: Mapping[str, Any], path: str) -> tuple[FlowTrigger | None, list[Problem]]:
    """A Flow trigger from its ``triggers[i]`` entry, or its problems (each with its
    path, ``triggers[0].preconditions.flows[1].namespace: ...``)."""
    c = _Checks()
    known = {
        "id",
        "type",
        "description",
        "disabled",
        "states",
        "inputs",
        "labels",
        "conditions",
        "preconditions",
        "stopAfter",
        "logLevel",
        "logToFile",
        "workerId",
        "minLogLevel",
    }
    for key in entry:
        if key not in known:
            c.add(f"{path}.{key}", "unknown property of a Flow trigger")
    stop_after = c.states(entry.get("stopAfter"), f"{path}.stopAfter")
    states = c.states(entry.get("states"), f"{path}.states")
    for i, s in enumerate(states or ()):
        if s == StateType.CREATED:
            c.add(
                f"{path}.states[{i}]",
                "a Flow trigger cannot react to CREATED: it is an execution's first state, "
                "not a change of state",
            )
    inputs = c.mapping(entry.get("inputs"), f"{path}.inputs")
    disabled = entry.get("disabled", False)
    if not isinstance(disabled, bool):
        c.add(f"{path}.disabled", "must be true or false")
    plain: list[Condition] = []
    multiple: list[Multiple] = []
    conditions = entry.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        c.add(f"{path}.conditions", "must be a list of conditions")
        conditions = None
    for i, cond in enumerate(conditions or []):
        parsed = _condition(cond, f"{path}.conditions[{i}]", c)
        if isinstance(parsed, Multiple):
            multiple.append(parsed)
        elif parsed is not None:
            plain.append(parsed)
    pre = entry.get("preconditions")
    if pre is not None:
        m = _preconditions(pre, f"{path}.preconditions", c)
        if m is not None:
            multiple.append(m)
    if c.problems:
        return None, c.problems
    return (
        FlowTrigger(
            id=str(entry["id"]),
            type=str(entry["type"]),
            states=states or DEFAULT_STATES,
            inputs=inputs,
            labels=entry.get("labels"),
            disabled=bool(disabled),
            conditions=tuple(plain),
            multiple=tuple(multiple),
            stop_after=stop_after or (),
        ),
        [],
    )


def _kind(type_: Any) -> str | None:
    for kind, names in _CONDITION_NAMES.items():
        if type_ in names:
            return kind
    return None


def _condition(cond: Any, path: str, c: _Checks) -> Condition | Multiple | None:
    if not isinstance(cond, dict):
        c.add(path, "must be a mapping with a type")
        return None
    kind = _kind(cond.get("type"))
    if kind is None:
        c.add(
            f"{path}.type",
            f"condition {cond.get('type')!r} is not supported on a Flow trigger (Ostra runs "
            "ExecutionFlow, ExecutionStatus, ExecutionNamespace, ExecutionLabels, "
            "MultipleCondition)",
        )
        return None
    if kind == "ExecutionFlow":
        ns = c.string(cond.get("namespace"), f"{path}.namespace", required=True)
        fid = c.string(cond.get("flowId"), f"{path}.flowId", required=True)
        return Condition(kind, {"namespace": ns, "flowId": fid})
    if kind == "ExecutionStatus":
        ins = c.states(cond.get("in"), f"{path}.in")
        not_in = c.states(cond.get("notIn"), f"{path}.notIn")
        return Condition(kind, {"in": ins, "notIn": not_in})
    if kind == "ExecutionNamespace":
        ns = c.string(cond.get("namespace"), f"{path}.namespace", required=True)
        how = cond.get("comparison")
        if how is not None and how not in ("EQUALS", "PREFIX", "SUFFIX"):
            c.add(f"{path}.comparison", "must be EQUALS, PREFIX or SUFFIX")
        return Condition(
            kind, {"namespace": ns, "comparison": how, "prefix": bool(cond.get("prefix"))}
        )
    if kind == "ExecutionLabels":
        labels = c.mapping(cond.get("labels"), f"{path}.labels")
        if labels is None:
            c.add(f"{path}.labels", "missing required property")
        return Condition(kind, {"labels": labels or {}})
    # MultipleCondition: conditions by name, within window/windowAdvance (Kestra's
    # legacy form of preconditions).
    mid = cond.get("id")
    if not isinstance(mid, str) or not _ID.match(mid):
        c.add(f"{path}.id", "must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*")
    named = c.mapping(cond.get("conditions"), f"{path}.conditions") or {}
    if not named:
        c.add(f"{path}.conditions", "must name at least one condition")
    inner: dict[str, Condition] = {}
    for name, sub in named.items():
        parsed = _condition(sub, f"{path}.conditions.{name}", c)
        if isinstance(parsed, Multiple):
            c.add(f"{path}.conditions.{name}", "a MultipleCondition cannot nest another")
        elif parsed is not None:
            inner[str(name)] = parsed
    window = _window(
        {
            "type": "DURATION_WINDOW",
            "window": cond.get("window"),
            "windowAdvance": cond.get("windowAdvance"),
        },
        path,
        c,
    )
    reset = cond.get("resetOnSuccess", True)
    return Multiple(str(mid), inner, window, bool(reset))


def _preconditions(pre: Any, path: str, c: _Checks) -> Multiple | None:
    if not isinstance(pre, dict):
        c.add(path, "must be a mapping with id, flows, where")
        return None
    for key in pre:
        if key not in ("id", "flows", "where", "timeWindow", "resetOnSuccess"):
            c.add(f"{path}.{key}", "unknown property of preconditions")
    pid = pre.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        c.add(f"{path}.id", "must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*")
    named: dict[str, Condition] = {}
    n = 0
    flows = pre.get("flows")
    if flows is not None and not isinstance(flows, list):
        c.add(f"{path}.flows", "must be a list of {namespace, flowId, states, labels}")
        flows = None
    for i, up in enumerate(flows or []):
        p = f"{path}.flows[{i}]"
        if not isinstance(up, dict):
            c.add(p, "must be a mapping {namespace, flowId, states, labels}")
            continue
        for key in up:
            if key not in ("namespace", "flowId", "states", "labels"):
                c.add(f"{p}.{key}", "unknown property of an upstream flow")
        ns = c.string(up.get("namespace"), f"{p}.namespace", required=True)
        fid = c.string(up.get("flowId"), f"{p}.flowId")
        states = c.states(up.get("states"), f"{p}.states")
        labels = c.mapping(up.get("labels"), f"{p}.labels")
        n += 1
        named[f"condition_{n}"] = Condition(
            "Upstream", {"namespace": ns, "flowId": fid, "states": states, "labels": labels}
        )
    where = pre.get("where")
    if where is not None and not isinstance(where, list):
        c.add(f"{path}.where", "must be a list of {id, operand, filters}")
        where = None
    for i, w in enumerate(where or []):
        p = f"{path}.where[{i}]"
        if not isinstance(w, dict):
            c.add(p, "must be a mapping {id, operand, filters}")
            continue
        wid = c.string(w.get("id"), f"{p}.id", required=True)
        operand = w.get("operand", "AND")
        if operand not in ("AND", "OR"):
            c.add(f"{p}.operand", "must be AND or OR")
        filters = w.get("filters")
        if not isinstance(filters, list) or not filters:
            c.add(f"{p}.filters", "must be a non-empty list of {field, type, value, values}")
            filters = []
        checked = [_check_filter(f, f"{p}.filters[{j}]", c) for j, f in enumerate(filters)]
        n += 1
        named[f"condition_{n}_{wid}"] = Condition(
            "Filter", {"operand": operand, "filters": [f for f in checked if f]}
        )
    if not named:
        c.add(path, "must have flows or where")
    window = _window(pre.get("timeWindow") or {}, f"{path}.timeWindow", c)
    reset = pre.get("resetOnSuccess", True)
    if not isinstance(reset, bool):
        c.add(f"{path}.resetOnSuccess", "must be true or false")
    return Multiple(str(pid), named, window, bool(reset))


def _check_filter(f: Any, path: str, c: _Checks) -> dict[str, Any] | None:
    if not isinstance(f, dict):
        c.add(path, "must be a mapping {field, type, value, values}")
        return None
    fld, typ = f.get("field"), f.get("type")
    if fld not in FILTER_FIELDS:
        c.add(f"{path}.field", f"must be one of {', '.join(FILTER_FIELDS)}")
    if typ not in FILTER_TYPES:
        c.add(f"{path}.type", f"must be one of {', '.join(FILTER_TYPES)}")
    value, values = f.get("value"), f.get("values")
    # Kestra's PreconditionFilterValidation: IN/NOT_IN take values, the others (but the
    # null and truth tests of a field) a value.
    if typ in ("IN", "NOT_IN"):
        if not isinstance(values, list) or not values:
            c.add(f"{path}.values", f"is required for {typ}")
    elif typ in ("IS_NULL", "IS_NOT_NULL", "IS_TRUE", "IS_FALSE") and fld != "EXPRESSION":
        pass
    elif value is None:
        c.add(f"{path}.value", f"is required for {typ}")
    if typ == "REGEX" and isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            c.add(f"{path}.value", f"invalid regular expression: {exc}")
    return {
        "field": fld,
        "type": typ,
        "value": None if value is None else _text(value),
        "values": [_text(v) for v in values] if isinstance(values, list) else None,
    }


def _window(tw: Any, path: str, c: _Checks) -> TimeWindow:
    if not isinstance(tw, dict):
        c.add(path, "must be a mapping {type, window, windowAdvance, ...}")
        return TimeWindow()
    typ = tw.get("type", "DURATION_WINDOW")
    if typ not in WINDOW_TYPES:
        c.add(f"{path}.type", f"must be one of {', '.join(WINDOW_TYPES)}")
        return TimeWindow()

    def duration(key: str) -> timedelta | None:
        if tw.get(key) is None:
            return None
        try:
            return parse_duration(tw[key])
        except Exception as exc:  # parse_duration's errors are readable
            c.add(f"{path}.{key}", str(exc))
            return None

    def clock(key: str) -> time | None:
        raw = tw.get(key)
        if raw is None:
            c.add(f"{path}.{key}", f"is required for {typ}")
            return None
        try:
            return time.fromisoformat(str(raw))
        except ValueError:
            c.add(f"{path}.{key}", "must be a time of day, HH:MM:SS")
            return None

    window, advance = duration("window"), duration("windowAdvance")
    if window is not None and window <= timedelta():
        c.add(f"{path}.window", "must be positive")
    if typ == "DAILY_TIME_DEADLINE":
        return TimeWindow(typ, deadline=clock("deadline"))
    if typ == "DAILY_TIME_WINDOW":
        start, end = clock("startTime"), clock("endTime")
        if start and end and start >= end:
            c.add(f"{path}.endTime", "must be after startTime")
        return TimeWindow(typ, start_time=start, end_time=end)
    return TimeWindow(typ, window=window, window_advance=advance)
