"""A flow's ``sla``: what each kind checks and what a violation does (Kestra's
``models/flows/sla``, ``SLAService`` and ``ExecutorService.processViolation``).

* ``MAX_DURATION`` (``duration``): a deadline, the execution's start plus ``duration``,
  recorded when the execution starts; once it passed, an execution not yet ended
  violates it (``max_duration_violation``).
* ``EXECUTION_ASSERTION`` (``assert``): a template rendered on each change of the
  execution while it runs (its start, each task run's end); a result that is not
  truthy (``false``, ``0``, ``-0``, the empty string) violates it. Only the first
  violated assertion acts; an assertion that cannot be rendered is ignored (logged).
* ``behavior``: ``FAIL`` ends the execution FAILED, ``CANCEL`` ends it CANCELLED (its
  task runs not ended end in that state, their running attempts stop), ``NONE``
  changes nothing but the labels. ``labels`` are added to the execution in every case
  (unless it has them all already).

Pure: the clock is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from executor.durations import DurationError, parse_duration
from executor.state import StateType

MAX_DURATION = "MAX_DURATION"
EXECUTION_ASSERTION = "EXECUTION_ASSERTION"
TYPES = (MAX_DURATION, EXECUTION_ASSERTION)
#: ``behavior`` -> the state the execution ends in (None: it goes on).
BEHAVIORS: dict[str, StateType | None] = {
    "FAIL": StateType.FAILED,
    "CANCEL": StateType.CANCELLED,
    "NONE": None,
}
#: The due queue holding MAX_DURATION deadlines (``Store.due_*``).
QUEUE = "sla"


@dataclass(frozen=True)
class Sla:
    """One entry of a flow's ``sla``, as validated at deploy."""

    id: str
    type: str
    behavior: str
    labels: dict[str, str] = field(default_factory=dict)
    duration: timedelta | None = None
    assertion: str | None = None


@dataclass(frozen=True)
class Violation:
    """Kestra's ``Violation``: which SLA, what it does, why."""

    sla_id: str
    behavior: str
    labels: dict[str, str]
    reason: str


@dataclass(frozen=True)
class Effect:
    """What a violation does to an execution: the labels to add (none if it has them
    all) and the state it ends in (None: it goes on)."""

    labels: dict[str, str]
    end: StateType | None


def sla_problems(entry: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    """Deploy-time problems of one ``sla`` entry, as (path, message): Kestra's
    ``@NotNull`` ``id``, ``type``, ``behavior``, ``duration`` (MAX_DURATION) and
    ``assert`` (EXECUTION_ASSERTION), and no ``system.`` labels."""
    from executor.engine.flowables import new_labels

    out: list[tuple[str, str]] = []
    kind = entry.get("type")
    if isinstance(kind, str) and kind and kind not in TYPES:
        out.append((f"{path}.type", f"unknown SLA type {kind!r}: use one of {', '.join(TYPES)}"))
    behavior = entry.get("behavior")
    if behavior is None:
        out.append((f"{path}.behavior", "missing required property 'behavior'"))
    elif behavior not in BEHAVIORS:
        out.append(
            (f"{path}.behavior", f"invalid behavior {behavior!r}: use one of FAIL, CANCEL, NONE")
        )
    if kind == MAX_DURATION:
        if entry.get("duration") is None:
            out.append((f"{path}.duration", "missing required property 'duration'"))
        else:
            try:
                if parse_duration(entry["duration"]) <= timedelta(0):
                    out.append((f"{path}.duration", "must be a positive duration"))
            except DurationError as exc:
                out.append((f"{path}.duration", str(exc)))
    if kind == EXECUTION_ASSERTION:
        value = entry.get("assert")
        if not isinstance(value, str) or not value.strip():
            out.append((f"{path}.assert", "missing required property 'assert'"))
    if entry.get("labels") is not None:
        try:
            new_labels(entry["labels"])
        except ValueError as exc:
            out.append((f"{path}.labels", str(exc)))
    return out


def parse(entries: Sequence[Mapping[str, Any]]) -> list[Sla]:
    """A flow's ``sla`` (validated at deploy) as ``Sla`` entries."""
    from executor.engine.flowables import new_labels

    out = []
    for e in entries:
        kind = str(e.get("type"))
        out.append(
            Sla(
                id=str(e.get("id")),
                type=kind,
                behavior=str(e.get("behavior")),
                labels=new_labels(e["labels"]) if e.get("labels") is not None else {},
                duration=parse_duration(e["duration"]) if kind == MAX_DURATION else None,
                assertion=str(e.get("assert")) if kind == EXECUTION_ASSERTION else None,
            )
        )
    return out


def deadlines(slas: Sequence[Sla], started: float) -> list[tuple[int, float]]:
    """(index in ``sla``, deadline epoch s) of each MAX_DURATION entry of an execution
    started at ``started`` (Kestra's ``SLAMonitor``: start date plus duration)."""
    return [
        (i, started + s.duration.total_seconds())
        for i, s in enumerate(slas)
        if s.type == MAX_DURATION and s.duration is not None
    ]


def monitor_uid(eid: str, index: int) -> str:
    """The member of the due queue watching entry ``index`` of execution ``eid``."""
    return f"{eid}|{index}"


def of_monitor_uid(uid: str) -> tuple[str, int] | None:
    """(execution id, index) of a due queue member (None if it is not one)."""
    eid, _, index = uid.rpartition("|")
    return (eid, int(index)) if eid and index.isdigit() else None


def _java_duration(seconds: float) -> str:
    """A duration as Java's ``Duration.toString`` prints it (``PT1.5S``, ``PT2M3S``)."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or ms or out == "PT":
        out += f"{secs}.{ms:03d}".rstrip("0").rstrip(".") + "S"
    return out


def max_duration_violation(sla: Sla, started: float, now: float) -> Violation | None:
    """Kestra's ``MaxDurationSLA.evaluate``: a violation once the execution started at
    ``started`` ran longer than ``duration`` at ``now``."""
    assert sla.duration is not None
    took = now - started
    limit = sla.duration.total_seconds()
    if took <= limit:
        return None
    reason = (
        f"execution duration of {_java_duration(took)} exceed the maximum duration "
        f"of {_java_duration(limit)}."
    )
    return Violation(sla.id, sla.behavior, sla.labels, reason)


def assertion_violation(sla: Sla, rendered: Any) -> Violation | None:
    """Kestra's ``ExecutionAssertionSLA.evaluate``: a violation if the rendered
    ``assert`` is not truthy (``TruthUtils.isTruthy``)."""
    from executor.engine.flowables import truthy

    if truthy(rendered):
        return None
    return Violation(sla.id, sla.behavior, sla.labels, f"assertion is false: {sla.assertion}.")


def effect(violation: Violation, labels: Mapping[str, str], state: StateType) -> Effect:
    """What ``violation`` does to an execution in ``state`` holding ``labels``
    (Kestra's ``processViolation``): an ended or KILLING execution is left as it is."""
    if state.is_terminated() or state == StateType.KILLING:
        return Effect({}, None)
    missing = {k: v for k, v in violation.labels.items() if labels.get(k) != v}
    return Effect(missing, BEHAVIORS.get(violation.behavior))


def ends_task_run(state: StateType) -> bool:
    """True if a violation that ends the execution ends a task run in ``state`` too."""
    return not state.is_terminated()
