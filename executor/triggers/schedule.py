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

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from executor.engine.schedule import Cron, dates, next_accepted, step
from executor.errors import (
    FlowNotFound,
    InputValidationError,
    OstraError,
    StateConflict,
    TemplateError,
)
from executor.flow import Flow
from executor.ids import derived_id
from executor.models import ExecutionTrigger
from executor.orchestrator import Orchestrator, render_text
from executor.store.base import DueStep, Store, TriggerRef
from executor.triggers import record
from executor.triggers.fire import fire
from executor.triggers.schedule_spec import (
    CONDITIONS,
    TYPE,
    ConditionFailed,
    Schedule,
    ScheduleCondition,
    acceptor,
    check,
    schedules_of,
)

log = logging.getLogger(__name__)

QUEUE = "sched"


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
    nxt = next_accepted(cron, since, acceptor(spec, cron, strict=False))
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
        store.backfill_delete(uid)
    store.forget_triggers(namespace, flow_id)


def remove(store: Store, ref: TriggerRef) -> None:
    """Take ``ref`` out of the due queue (disabled)."""
    store.due_set(QUEUE, ref.uid, None)


# ---------------------------------------------------------------- deciding and firing


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
        self._advances: list[DueStep] = []
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
            try:
                for uid, tick in claimed:
                    try:
                        started += self.fire_tick(uid, int(float(tick)), now)
                    except OstraError as exc:
                        # Left claimed: its lease lapses and it is tried again then.
                        log.warning("schedule %s: %s", uid, exc)
            finally:
                # The batch's advances in one round trip; until then its schedules are
                # claimed, so nobody fires them, and a crash before leaves the claims to
                # lapse: firing those ticks again creates nothing.
                steps, self._advances = self._advances, []
                self.store.due_advance_many(QUEUE, steps)
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
        ``lateMaximumDelay`` decide) and queue its advance (``poll`` sends a batch's
        together); how many executions started."""
        ref = TriggerRef.of_uid(uid)
        loaded = self.load(ref)
        if loaded is None or loaded.flow.disabled or loaded.spec.disabled:
            self._advances.append(DueStep(uid, str(tick), None))
            return 0
        flow, spec, cron = loaded.flow, loaded.spec, loaded.cron
        if spec.stopAfter and self._stopped(ref, spec):
            self._advances.append(DueStep(uid, str(tick), None))
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
        accept = acceptor(spec, cron)
        if decision.fire is not None:
            try:
                if accept is None or accept(decision.fire):
                    made = self.fire_one(flow, spec, cron, decision.fire, accept)
                    started += made is not None
                    ran = [str(decision.fire)]
            except ConditionFailed as exc:
                record.failed(self.store, ref, TYPE, str(exc), now)
                accept = acceptor(spec, cron, strict=False)
        nxt = next_accepted(cron, decision.after, acceptor(spec, cron, strict=False))
        self._advances.append(
            DueStep(
                uid, str(tick), None if nxt is None else str(nxt), float(nxt or 0), ran, self.keep
            )
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
        date: float | None = None,
    ) -> Any:
        """Start the execution of ``tick`` (once: its id comes from the trigger and the
        tick, unless ``eid`` is given); None if it existed or could not start (the
        error is recorded on the trigger, which goes on to its next tick). ``date``:
        what the trigger records as its last fire (default: ``tick``)."""
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
                # The trigger's ``date`` is its last tick, as Kestra's (a backfill's
                # old ticks do not move it back: ``date``).
                now=tick if date is None else date,
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
    "TYPE",
    "ConditionFailed",
    "Schedule",
    "ScheduleCondition",
    "Scheduler",
    "acceptor",
    "check",
    "flow_deleted",
    "place",
    "poller",
    "remove",
    "schedules_of",
    "sync",
    "tick_execution_id",
]
