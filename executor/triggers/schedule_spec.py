"""A Schedule trigger's properties as a flow gives them (Kestra's names), its
conditions, and the deploy-time check; no I/O (``executor/triggers/schedule.py`` runs
them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from datetime import time as dtime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from executor.durations import parse_duration
from executor.engine.schedule import Cron, CronError, RecoverMissedSchedules, parse_date
from executor.errors import OstraError, Problem, TemplateError
from executor.flow import Flow
from executor.models import Label
from executor.state import StateType
from executor.templating import render
from executor.triggers.types import KINDS, kind_of

TYPE = KINDS["schedule"][0]

#: Condition types a schedule may have (Kestra's ``ScheduleCondition``s Ostra runs).
CONDITIONS = {
    name: short
    for short in ("DayWeek", "DayWeekInMonth", "TimeBetween", "DateTimeBetween", "Weekend")
    for name in (
        f"io.kestra.plugin.core.condition.{short}",
        f"io.kestra.core.models.conditions.types.{short}Condition",
        short,
    )
}
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class ScheduleCondition(BaseModel):
    """One of the schedule's ``conditions`` (its ``date`` is rendered with ``trigger``
    = the tick's dates)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    date: str = "{{ trigger.date }}"
    dayOfWeek: Literal[DAYS] | None = None  # type: ignore[valid-type]
    dayInMonth: Literal["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"] | None = None
    after: str | None = None
    before: str | None = None
    description: str | None = None

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CONDITIONS:
            raise ValueError(
                f"condition type {v!r} is not supported on a Schedule (Ostra runs "
                f"{', '.join(sorted(set(CONDITIONS.values())))})"
            )
        return v

    @property
    def kind(self) -> str:
        return CONDITIONS[self.type]

    def check(self) -> None:
        """Refuse a condition missing what its kind needs (``ValueError``)."""
        if self.kind in ("DayWeek", "DayWeekInMonth") and self.dayOfWeek is None:
            raise ValueError(f"{self.kind} needs dayOfWeek")
        if self.kind == "DayWeekInMonth" and self.dayInMonth is None:
            raise ValueError("DayWeekInMonth needs dayInMonth")
        if self.kind in ("TimeBetween", "DateTimeBetween"):
            if self.after is None and self.before is None:
                raise ValueError(f"{self.kind} needs after or before")
            parse = _offset_time if self.kind == "TimeBetween" else parse_date
            for v in (self.after, self.before):
                if v is not None:
                    parse(v)

    def test(self, variables: Mapping[str, str]) -> bool:
        """Whether the tick whose dates are ``variables`` meets it (Kestra's ``test``);
        ``TemplateError``/``ValueError`` if its ``date`` does not render to a date."""
        text = render(self.date, {"trigger": variables, "schedule": variables})
        when = parse_date(text)
        if self.kind == "Weekend":
            return when.weekday() >= 5
        if self.kind == "DayWeek":
            return DAYS[when.weekday()] == self.dayOfWeek
        if self.kind == "DayWeekInMonth":
            return _day_in_month(when, str(self.dayOfWeek), str(self.dayInMonth))
        if self.kind == "TimeBetween":
            # Java's OffsetTime comparison: the time of day in UTC, not wrapped.
            current = _time_key(when.timetz())
            after = _time_key(_offset_time(self.after)) if self.after else None
            before = _time_key(_offset_time(self.before)) if self.before else None
        else:
            current = when.timestamp()
            after = parse_date(self.after).timestamp() if self.after else None
            before = parse_date(self.before).timestamp() if self.before else None
        return (after is None or current > after) and (before is None or current < before)


def _offset_time(text: str | None) -> dtime:
    raw = str(text).strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    t = dtime.fromisoformat(raw)
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # a time without offset: UTC


def _time_key(t: dtime) -> float:
    offset = t.utcoffset()
    secs = t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
    return secs - (offset.total_seconds() if offset else 0.0)


def _day_in_month(when: datetime, day: str, which: str) -> bool:
    weekday = DAYS.index(day)
    if when.weekday() != weekday:
        return False
    if which == "LAST":
        return (when.day + 7) > _days_in_month(when)
    return (when.day - 1) // 7 == ("FIRST", "SECOND", "THIRD", "FOURTH").index(which)


def _days_in_month(when: datetime) -> int:
    nxt = when.replace(day=28).toordinal() + 4
    return (datetime.fromordinal(nxt).replace(day=1).toordinal() - 1) - (
        when.replace(day=1).toordinal() - 1
    )


class Schedule(BaseModel):
    """A Schedule trigger's properties, as Kestra names them. ``timezone`` defaults to
    UTC (Kestra: the server's zone)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    cron: str
    withSeconds: bool = False
    timezone: str = "UTC"
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] | list[Label] = Field(default_factory=dict)
    disabled: bool = False
    stopAfter: list[StateType] = Field(default_factory=list)
    conditions: list[ScheduleCondition] = Field(default_factory=list)
    scheduleConditions: list[ScheduleCondition] = Field(default_factory=list)
    lateMaximumDelay: str | None = None
    recoverMissedSchedules: RecoverMissedSchedules = RecoverMissedSchedules.ALL
    interval: None = None
    backfill: dict[str, Any] | None = None
    # AbstractTrigger's other properties: accepted, not used by Ostra.
    description: str | None = None
    logLevel: str | None = None
    minLogLevel: str | None = None
    logToFile: bool | None = None
    workerGroup: dict[str, Any] | None = None
    failOnTriggerError: bool | None = None
    allowConcurrent: bool | None = None

    def cron_(self) -> Cron:
        return Cron.parse(self.cron, with_seconds=self.withSeconds, timezone=self.timezone)

    def all_conditions(self) -> list[ScheduleCondition]:
        return [*self.conditions, *self.scheduleConditions]

    def late_maximum_delay(self) -> float | None:
        if self.lateMaximumDelay is None:
            return None
        return parse_duration(self.lateMaximumDelay).total_seconds()

    def fingerprint(self) -> str:
        """What decides the ticks: a change of it moves the schedule on from now."""
        return json.dumps(
            [
                self.cron,
                self.withSeconds,
                self.timezone,
                [c.model_dump() for c in self.all_conditions()],
            ]
        )

    def label_map(self) -> dict[str, str]:
        if isinstance(self.labels, list):
            return {lab.key: lab.value for lab in self.labels}
        return {str(k): str(v) for k, v in self.labels.items()}


def check(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """The deploy-time problems of a Schedule entry (``triggers[0].cron: ...``)."""
    try:
        spec = Schedule.model_validate(dict(entry))
    except ValidationError as exc:
        return [
            Problem(
                path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]),
                "must be null"
                if err["loc"] == ("interval",)
                else err["msg"].removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]
    problems = []
    try:
        spec.cron_()
    except CronError as exc:
        field = "timezone" if "time zone" in str(exc) else "cron"
        problems.append(Problem(f"{path}.{field}", str(exc)))
    for i, cond in enumerate(spec.all_conditions()):
        key = "conditions" if i < len(spec.conditions) else "scheduleConditions"
        j = i if i < len(spec.conditions) else i - len(spec.conditions)
        try:
            cond.check()
        except ValueError as exc:
            problems.append(Problem(f"{path}.{key}[{j}]", str(exc)))
    if spec.lateMaximumDelay is not None:
        try:
            spec.late_maximum_delay()
        except ValueError as exc:
            problems.append(Problem(f"{path}.lateMaximumDelay", str(exc)))
    return problems


def schedules_of(flow: Flow) -> dict[str, Schedule]:
    """The flow's Schedule triggers by id (entries that do not parse are left out:
    deploy refused them already)."""
    out: dict[str, Schedule] = {}
    for t in flow.triggers:
        if kind_of(t.type) != "schedule":
            continue
        try:
            out[t.id] = Schedule.model_validate(t.model_dump(by_alias=True))
        except ValidationError:
            continue
    return out


class ConditionFailed(OstraError):
    """A schedule condition could not be evaluated (its ``date`` did not render)."""


def acceptor(spec: Schedule, cron: Cron, *, strict: bool = True) -> Callable[[int], bool] | None:
    conditions = spec.all_conditions()
    if not conditions:
        return None

    def accept(tick: int) -> bool:
        variables = {"date": cron.iso(tick)}
        try:
            return all(c.test(variables) for c in conditions)
        except (TemplateError, ValueError) as exc:
            if strict:
                raise ConditionFailed(f"condition failed to evaluate: {exc}") from exc
            return True

    return accept
