"""The Schedule trigger (Kestra's ``io.kestra.plugin.core.trigger.Schedule``): its
properties, the deploy-time check, the scheduler's poll and what keeps the schedule
entries in step with the flows.

How a tick fires exactly once, whatever processes run the trigger loop:

* each enabled schedule has one member in the due queue ``sched`` (store ``due_*``):
  the tick it is at (epoch s), due at that tick;
* a poll claims due members in batches (``due_claim``: one atomic step moves them to a
  claimed set with a lease, so two processes never hold the same one, and a process
  that dies mid-fire hands them back when its lease lapses);
* the holder fires the tick with an execution id derived from (trigger, tick): if the
  tick was fired already (by a process that died before advancing) ``fire`` creates
  nothing;
* then it advances the member to the next tick with a compare-and-set on the tick it
  fired (``due_advance``), recording the tick among the ticks that ran (the newest
  ``OSTRA_SCHEDULE_TICKS_KEPT``, which backfills read to skip what already ran).

A deploy, a delete, a flow or trigger ``disabled``, or the API's enable/disable rewrite
the member (``sync``, ``remove``): a claim in flight then advances nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dtime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from executor.durations import parse_duration
from executor.engine.schedule import (
    Cron,
    CronError,
    RecoverMissedSchedules,
    dates,
    next_accepted,
    parse_date,
    step,
)
from executor.errors import (
    FlowNotFound,
    InputValidationError,
    OstraError,
    Problem,
    StateConflict,
    TemplateError,
)
from executor.flow import Flow
from executor.ids import derived_id
from executor.models import ExecutionTrigger, Label
from executor.orchestrator import Orchestrator, render_text
from executor.state import StateType
from executor.store.base import Store, TriggerRef
from executor.templating import render
from executor.triggers import record
from executor.triggers.fire import fire
from executor.triggers.types import KINDS, kind_of

log = logging.getLogger(__name__)

TYPE = KINDS["schedule"][0]
QUEUE = "sched"

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
    return t if t.tzinfo else t.replace(tzinfo=datetime.now().astimezone().tzinfo)


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


# ---------------------------------------------------------------- keeping entries in step


def sync(store: Store, flow: Flow, now: float | None = None) -> None:
    """Put the flow's enabled schedules in the due queue and take out the others (its
    disabled ones, and the ones an earlier revision had): called after every deploy.

    A schedule already queued with the same ticks (cron, zone, conditions) keeps its
    place; one whose ticks changed moves on from now; one (re)entering the queue goes
    on after the last tick it fired (so ``recoverMissedSchedules`` decides what the
    time away missed) or, never fired, from now.
    """
    now = time.time() if now is None else now
    current = schedules_of(flow)
    previous: dict[str, Schedule] = {}
    if flow.revision and flow.revision > 1:
        try:
            previous = schedules_of(store.get_flow(flow.namespace, flow.id, flow.revision - 1))
        except FlowNotFound:
            previous = {}
    for tid in previous.keys() - current.keys():
        store.due_set(QUEUE, TriggerRef(flow.namespace, flow.id, tid).uid, None)
    for tid, spec in current.items():
        ref = TriggerRef(flow.namespace, flow.id, tid)
        state = store.trigger_state(ref)
        if flow.disabled or spec.disabled or (state is not None and state.disabled):
            store.due_set(QUEUE, ref.uid, None)
            continue
        position = store.due_position(QUEUE, ref.uid)
        old = previous.get(tid)
        if position is not None and old is not None and old.fingerprint() == spec.fingerprint():
            continue
        since = now
        if position is None and state is not None and state.date is not None:
            since = state.date  # a schedule's ``date`` is the last tick it fired
        place(store, ref, spec, since)


def place(store: Store, ref: TriggerRef, spec: Schedule, since: float) -> int | None:
    """Queue ``ref`` at its first tick after ``since`` that meets its conditions."""
    cron = spec.cron_()
    nxt = next_accepted(cron, since, _acceptor(spec, cron, strict=False))
    store.due_set(QUEUE, ref.uid, None if nxt is None else str(nxt), float(nxt or 0))
    return nxt


def flow_deleted(store: Store, namespace: str, flow_id: str, revision: int) -> None:
    """Take the schedules of a deleted flow (its last revision ``revision``) out of the
    due queue and forget its triggers' state and backfills."""
    try:
        flow = store.get_flow(namespace, flow_id, revision)
    except FlowNotFound:
        return
    for tid in schedules_of(flow):
        uid = TriggerRef(namespace, flow_id, tid).uid
        store.due_set(QUEUE, uid, None)
        store.due_set("backfill", uid, None)
    store.forget_triggers(namespace, flow_id)


def remove(store: Store, ref: TriggerRef) -> None:
    """Take ``ref`` out of the due queue (disabled)."""
    store.due_set(QUEUE, ref.uid, None)


# ---------------------------------------------------------------- deciding and firing


class ConditionFailed(OstraError):
    """A schedule condition could not be evaluated (its ``date`` did not render)."""


def _acceptor(spec: Schedule, cron: Cron, *, strict: bool = True) -> Callable[[int], bool] | None:
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


@dataclass
class _Loaded:
    flow: Flow
    spec: Schedule
    cron: Cron


class Scheduler:
    """The schedule poller of the trigger loop (``runner.default_pollers``): fires the
    due ticks of every schedule and runs the backfills' next steps."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        batch: int | None = None,
        lease: float | None = None,
        late_after: float | None = None,
        budget: float = 2.0,
    ) -> None:
        s = orchestrator.settings
        self.o = orchestrator
        self.store = orchestrator.store
        self.batch = batch or s.schedule_batch
        self.lease = lease or s.schedule_lease
        self.late_after = s.schedule_late_after if late_after is None else late_after
        self.keep = s.schedule_ticks_kept
        self.interval = s.trigger_interval
        self.budget = budget
        self._flows: dict[tuple[str, str], Flow] = {}
        #: (namespace, flow, revision) -> trigger id -> its schedule and parsed cron
        self._specs: dict[tuple[str, str, int], dict[str, tuple[Schedule, Cron]]] = {}

    def __call__(self, now: float) -> int:
        return self.poll(now)

    def poll(self, now: float) -> int:
        """Fire what is due at ``now``: claim in batches until nothing is due (or the
        poll's time budget is spent); then the backfills. How many executions started."""
        from executor.triggers import backfill

        started = 0
        ends = time.monotonic() + self.budget
        while True:
            claimed = self.store.due_claim(QUEUE, now, self.batch, self.lease)
            self._flows.clear()  # a flow is read once per batch, not once per trigger
            for uid, tick in claimed:
                try:
                    started += self.fire_tick(uid, int(float(tick)), now)
                except OstraError as exc:
                    # Left claimed: its lease lapses and it is tried again then.
                    log.warning("schedule %s: %s", uid, exc)
            # Until nothing is due: a schedule catching up on missed ticks (ALL) is due
            # again at once after each fire.
            if not claimed or time.monotonic() > ends:
                break
        started += backfill.poll(self, now)
        return started

    def load(self, ref: TriggerRef) -> _Loaded | None:
        """The flow and the schedule ``ref`` names, if it is still an enabled schedule."""
        flow = self._flows.get((ref.namespace, ref.flow_id))
        if flow is None:
            try:
                flow = self.store.get_flow(ref.namespace, ref.flow_id)
            except FlowNotFound:
                return None
            self._flows[(ref.namespace, ref.flow_id)] = flow
        key = (ref.namespace, ref.flow_id, flow.revision or 0)
        specs = self._specs.get(key)
        if specs is None:
            if len(self._specs) > 1_000:
                self._specs.clear()
            specs = self._specs[key] = {
                tid: (spec, spec.cron_()) for tid, spec in schedules_of(flow).items()
            }
        cached = specs.get(ref.trigger_id)
        return None if cached is None else _Loaded(flow, *cached)

    def fire_tick(self, uid: str, tick: int, now: float) -> int:
        """Fire claimed schedule ``uid`` at ``tick`` (as ``recoverMissedSchedules`` and
        ``lateMaximumDelay`` decide) and advance it; how many executions started."""
        ref = TriggerRef.of_uid(uid)
        loaded = self.load(ref)
        if loaded is None or loaded.flow.disabled or loaded.spec.disabled:
            self.store.due_advance(QUEUE, uid, str(tick), None)
            return 0
        flow, spec, cron = loaded.flow, loaded.spec, loaded.cron
        if spec.stopAfter and self._stopped(ref, spec):
            self.store.due_advance(QUEUE, uid, str(tick), None)
            return 0
        decision = step(
            cron,
            tick,
            now,
            recover=spec.recoverMissedSchedules,
            late_after=self.late_after,
            late_maximum_delay=spec.late_maximum_delay(),
        )
        started, ran = 0, []
        accept = _acceptor(spec, cron)
        if decision.fire is not None:
            try:
                if accept is None or accept(decision.fire):
                    made = self.fire_one(flow, spec, cron, decision.fire, accept)
                    started += made is not None
                    ran = [str(decision.fire)]
            except ConditionFailed as exc:
                record.failed(self.store, ref, TYPE, str(exc), now)
                accept = _acceptor(spec, cron, strict=False)
        nxt = next_accepted(cron, decision.after, _acceptor(spec, cron, strict=False))
        self.store.due_advance(
            QUEUE,
            uid,
            str(tick),
            None if nxt is None else str(nxt),
            float(nxt or 0),
            ran=ran,
            keep=self.keep,
        )
        return started

    def fire_one(
        self,
        flow: Flow,
        spec: Schedule,
        cron: Cron,
        tick: int,
        accept: Callable[[int], bool] | None,
        *,
        eid: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        system_labels: Mapping[str, str] | None = None,
    ) -> Any:
        """Start the execution of ``tick`` (once: its id comes from the trigger and the
        tick, unless ``eid`` is given); None if it existed or could not start (the
        error is recorded on the trigger, which goes on to its next tick)."""
        ref = TriggerRef(flow.namespace, flow.id, spec.id)
        variables = dates(cron, tick, accept)
        context = {
            "trigger": variables,
            "schedule": variables,
            "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        }
        try:
            values = render_text({**spec.inputs, **(inputs or {})}, context)
            label_values = {**spec.label_map(), **(labels or {})}
            rendered = {k: str(render_text(v, context)) for k, v in label_values.items()}
            made = fire(
                self.o,
                flow,
                ExecutionTrigger(id=spec.id, type=TYPE, variables=variables),
                eid=eid or tick_execution_id(ref, tick),
                inputs=values,
                labels=rendered,
                system_labels=system_labels,
                now=tick,  # the trigger's ``date`` is its last tick, as Kestra's
            )
        except (InputValidationError, StateConflict, TemplateError) as exc:
            record.failed(self.store, ref, TYPE, f"tick {cron.iso(tick)}: {exc}", time.time())
            return None
        return made

    def _stopped(self, ref: TriggerRef, spec: Schedule) -> bool:
        """``stopAfter``: the last execution it started ended in one of those states
        (checked at the next tick): disable the trigger, as Kestra does."""
        state = self.store.trigger_state(ref)
        if state is None or not state.execution_id:
            return False
        current = self.store.execution_state(state.execution_id)
        if current is None or current not in spec.stopAfter:
            return False
        self.store.set_trigger_disabled(ref, True)
        record.failed(
            self.store,
            ref,
            TYPE,
            f"disabled: execution {state.execution_id} ended {current.value} (stopAfter)",
            time.time(),
        )
        return True


def tick_execution_id(ref: TriggerRef, tick: int) -> str:
    """The id of the execution of schedule ``ref`` at ``tick`` (the same everywhere)."""
    return derived_id("schedule", ref.uid, str(tick))


def poller(orchestrator: Orchestrator) -> Scheduler:
    """The schedule poller for ``runner.default_pollers``."""
    return Scheduler(orchestrator)


__all__ = [
    "CONDITIONS",
    "Schedule",
    "ScheduleCondition",
    "Scheduler",
    "check",
    "flow_deleted",
    "place",
    "poller",
    "remove",
    "schedules_of",
    "sync",
    "tick_execution_id",
]
