"""The orchestrator: read a snapshot, ask the engine, apply its decision through the store.

Every rule lives in ``executor/engine/`` (what runs next, how things end); this module
only reads what the rules need and applies what they decide. Any process may advance any
execution (DESIGN rule 6): workers call ``advance`` right after a task run ends, and the
reconciler calls it for task runs whose worker died in between. Advancing twice is
harmless: task runs are created once per identity and state changes are compare-and-set.

Applying a decision that follows the end of task run ``ended`` always takes ``ended``
out of the active set (the reconciler's safety net) as its last effect, in the same
store step where the step allows it, so no path has to remember it.
The executor's own tasks (flowables, Subflow, Pause), and a flowable's child ends, are
applied by ``executor/executor_tasks.py`` (``Orchestrator.tasks``); kill, pause, resume,
restart and replay by ``executor/control.py`` (``Orchestrator.control``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from executor.dispatch import Dispatcher
from executor.engine import outcomes, sequencing
from executor.engine.flowables import (
    rule_of,
)
from executor.engine.outputs import typed_output
from executor.engine.vocabulary import Decision, Ended, NewTaskRun
from executor.errors import OstraError, TemplateError
from executor.executor_tasks import ExecutorTasks, ended_of
from executor.flow import Flow
from executor.ids import derived_id, new_id
from executor.models import LogEntry
from executor.observability import events, metrics
from executor.pebble.budget import render_budget
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import build_context
from executor.settings import Settings, get_settings
from executor.sla import has_assertions
from executor.state import StateType
from executor.store.base import ChildEnd, NewRow, Resent, Status, Store, Then
from executor.templating import render


def render_text(value: Any, context: dict[str, Any]) -> Any:
    """Every string inside ``value`` rendered to text (a map or a list prints as its
    JSON), as Kestra renders flow outputs before typing them; other leaves unchanged."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        return {k: render_text(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_text(v, context) for v in value]
    return value


log = logging.getLogger(__name__)


class Orchestrator:
    """Applies the engine's decisions: creates task runs, sends them, ends executions."""

    def __init__(
        self, store: Store, dispatcher: Dispatcher | None = None, settings: Settings | None = None
    ) -> None:
        from executor.control import Control
        from executor.sla import Slas

        self.store = store
        self.dispatcher = dispatcher or Dispatcher()
        self.settings = settings or get_settings()
        self.tasks = ExecutorTasks(self)
        self.control = Control(self)
        self.sla = Slas(self)

    # ------------------------------------------------------------------ advancing

    def advance(
        self,
        eid: str,
        trid: str,
        *,
        ended: Ended | None = None,
        flow: Flow | None = None,
        child_end: ChildEnd | None = None,
        revisit: bool = False,
    ) -> None:
        """Move execution ``eid`` on after task run ``trid`` ended (idempotent).

        A worker that just ended the task run passes what it knows (``ended``, ``flow``,
        and ``child_end`` when its finish step counted a flowable child's end) to save
        the round trips that read them back.
        """
        if ended is None:
            row = self.store.task_run_row(eid, trid)
            if row is None:
                self.store.clear_active(eid, trid)
                return
            ended = ended_of(row)
        if not ended.state.is_terminated():
            return
        flow = flow or self.flow_of(eid)
        if flow is None:
            self.store.clear_active(eid, trid)
            return
        if ended.state == StateType.RETRIED:
            self.retried(eid, flow, trid, ended)
            return
        if flow.sla and has_assertions(flow) and self.sla.changed(eid, flow):
            self.settled(eid, trid)  # an EXECUTION_ASSERTION ended the execution
            return
        if ended.parent_task_run_id is None:
            self.apply(eid, flow, sequencing.after(flow, ended), ended=trid)
        else:
            self.tasks.child_ended(eid, flow, trid, ended, counted=child_end, revisit=revisit)

    def apply(self, eid: str, flow: Flow, decision: Decision, *, ended: str = "") -> None:
        """Carry out a top-level ``decision`` (after task run ``ended``, if any)."""
        if decision.create:
            self.create(eid, flow, decision.create, ended=ended)
            return
        if decision.end:
            final = self.finish(eid, flow)
            if flow.after_execution and final is not None and final.is_terminated():
                # Again if the end was applied before (a re-advance after a crash between
                # the end and afterExecution's start): created once by identity.
                first = sequencing.after_end(flow).create
                if first and final != StateType.RETRIED:
                    self.create(eid, flow, first)
        self.settled(eid, ended)

    def settled(self, eid: str, trid: str) -> None:
        """What followed task run ``trid`` is applied: it leaves the active set."""
        if trid:
            self.store.clear_active(eid, trid)

    def create(
        self,
        eid: str,
        flow: Flow,
        new: tuple[NewTaskRun, ...],
        *,
        ended: str = "",
        revisit: bool = False,
    ) -> None:
        """Create task runs once each and start them (a paused execution holds them);
        ``ended`` leaves the active set in the same step.

        Task runs that go straight to a worker are sent by the step that creates them;
        the executor's own (flowables, Pause, Subflow) and those with ``runIf`` are
        started from here. With ``revisit`` (a restarted flowable walking its children
        again), a child that exists already is not created again: an ended one counts
        as ended now (successes keep their outputs), a restarted one is sent for its
        next attempt.
        """
        rows = self.new_rows(eid, flow, new)
        state, runs = self.store.create_task_runs(
            eid, rows, time.time() + self.settings.pending_grace, ended
        )
        if not runs:
            # The execution is being killed (or already ended): nothing new starts.
            if state == StateType.KILLING:
                self.finish(eid, flow)
            self.settled(eid, ended)
            return
        if state == StateType.PAUSED:
            return  # resume sends them
        for (trid, created), c, row in zip(runs, new, rows, strict=True):
            if created:
                if row.message is None:
                    self.start(eid, flow, trid, c.task_id, new=c)
            elif revisit:
                found = self.store.task_run_row(eid, trid)
                if found is not None and found.state == StateType.RESTARTED:
                    self.start(eid, flow, trid, c.task_id)
                elif found is not None and found.state.is_terminated():
                    self.advance(eid, trid, flow=flow, ended=ended_of(found), revisit=True)

    def new_rows(
        self,
        eid: str,
        flow: Flow,
        new: Iterable[NewTaskRun],
        *,
        send: bool = True,
        id_of: Callable[[NewTaskRun], str] | None = None,
    ) -> list[NewRow]:
        """Task runs to create for ``new`` (fresh ids unless ``id_of`` gives them), each
        with the message that starts it if it goes straight to a worker (and ``send``)."""
        rows = []
        for c in new:
            trid = id_of(c) if id_of else self.task_run_id(eid, c)
            task = flow.task(c.task_id)
            message = None
            if send and sequencing.goes_to_worker(task):
                message = self.dispatcher.message(
                    eid, trid, queue=task.worker_group, label=self._label(eid, flow, c.task_id)
                )
            # afterExecution runs although the execution ended (Kestra's forceExecution)
            force = bool(flow.after_execution) and sequencing.is_after_execution(flow, c.task_id)
            rows.append(
                NewRow(trid, c.task_id, c.parent_task_run_id, c.value, c.iteration, message, force)
            )
        return rows

    @staticmethod
    def task_run_id(eid: str, new: NewTaskRun) -> str:
        """A new task run's id: derived from (execution, task) for a top-level one, so the
        step that ends an execution knows its task runs' keys without a read
        (``Then.siblings``); random inside flowables and loops."""
        if new.parent_task_run_id is None and new.value is None and new.iteration is None:
            return derived_id(eid, new.task_id)
        return new_id()

    @staticmethod
    def top_level_ids(eid: str, flow: Flow) -> tuple[str, ...]:
        """The ids every top-level task run of ``flow`` has (or will have) in ``eid``."""
        return tuple(
            derived_id(eid, t.id)
            for branch in ("tasks", "errors", "finally")
            for t in flow.branch(branch)
        )

    def plan_next(self, eid: str, flow: Flow, ended: Ended) -> Then | None:
        """What follows top-level task run ``ended``, for its worker to apply in the step
        that records the end (``sequencing.successor_in_step``); None otherwise."""
        if flow.sla and has_assertions(flow):
            return None  # assertions are checked on each change, in ``advance``
        decision = sequencing.successor_in_step(flow, ended)
        if decision is None:
            return None
        if decision.end:
            return Then(ended.state, [], siblings=self.top_level_ids(eid, flow))
        return Then(
            ended.state,
            self.new_rows(eid, flow, decision.create),
            time.time() + self.settings.pending_grace,
        )

    # ------------------------------------------------------------------ sending

    def start(
        self, eid: str, flow: Flow, trid: str, task_id: str, *, new: NewTaskRun | None = None
    ) -> None:
        """Start one task run: the executor's own tasks here (by their rule), ``runIf``
        evaluated first, any other published to its queue (the task's ``workerGroup``)."""
        task = flow.task(task_id)
        if new is not None and self.tasks.skipped(eid, flow, trid, new):
            return
        rule = rule_of(task)
        if rule is not None:
            self.tasks.start(eid, flow, trid, task, rule)
            return
        self.dispatcher.send(
            eid, trid, queue=task.worker_group, label=self._label(eid, flow, task_id)
        )

    def resend(self, eid: str, trid: str, *, lease_lapsed: bool = False) -> Resent | None:
        """Start task run ``trid`` again (the reconciler, for lost deliveries).

        One that goes to a worker gets a new copy of its message only if no copy is
        queued (still in its queue, or just reserved by a worker), so a worker group
        nobody consumes holds one copy, however long it waits (the task run shows as
        waiting for it). With ``lease_lapsed`` (its worker died while running it) a copy
        is sent whatever is queued: the one its dead worker reserved does not count.
        Returns what the store did (None for the executor's own tasks, started here).
        """
        row = self.store.task_run_row(eid, trid)
        flow = self.flow_of(eid)
        if row is None or flow is None:
            return None
        task = flow.task(row.task_id)
        if rule_of(task) is not None:
            self.start(eid, flow, trid, row.task_id)
            return None
        broker = self.dispatcher.broker
        message = self.dispatcher.message(
            eid, trid, queue=task.worker_group, label=self._label(eid, flow, row.task_id)
        )
        return self.store.resend_task_run(
            eid,
            trid,
            message,
            group=task.worker_group or broker.default_queue,
            broker_prefix=broker.key_prefix,
            now=time.time(),
            grace=self.settings.pending_grace,
            check=not lease_lapsed,
        )

    @staticmethod
    def _label(eid: str, flow: Flow, task_id: str) -> str:
        return f"{flow.namespace}.{flow.id} {task_id} execution={eid}"

    def flow_of(self, eid: str) -> Flow | None:
        """The flow revision execution ``eid`` runs (None if the execution is gone)."""
        ref = self.store.flow_ref(eid)
        return self.store.get_flow(*ref) if ref else None

    # ------------------------------------------------------------------ ending executions

    def finish(self, eid: str, flow: Flow | None = None) -> StateType | None:
        """End the execution if every task run has ended; returns its state.

        The end is a compare-and-set on the snapshot it was decided from (the execution's
        state and every task run's): if anything moved meanwhile (a restart, a new task
        run), nothing is written and whoever moved it decides. The flow's ``outputs`` are
        rendered now; a render error fails the execution.
        """
        current = self.store.execution_state(eid)
        if current is None or current.is_terminated() or current == StateType.PAUSED:
            return current  # a paused execution ends after it is resumed
        rows = self.store.task_run_rows(eid)
        if any(not r.state.is_terminated() for r in rows):
            return None
        # Top-level task runs decide (a failure inside AllowFailure shows as its WARNING).
        final = outcomes.execution_end(
            [r.state for r in rows if r.parent_task_run_id is None], current
        )
        outputs = None
        flow = flow or self.flow_of(eid)
        if flow is not None and flow.outputs and final != StateType.KILLED:
            try:
                ctx = build_context(self.store, eid, flow, None, task_run_id="")
                runtime = RenderRuntime(
                    store=self.store, namespace=flow.namespace, flow_id=flow.id, execution_id=eid
                )
                # As Kestra: rendered as text, then parsed as each output's type; all
                # outputs within one render budget (not one per output).
                with using(runtime), render_budget():
                    outputs = {
                        o.id: typed_output(o.id, o.type, render_text(o.value, ctx))
                        for o in flow.outputs
                    }
            except (TemplateError, ValueError) as exc:
                final, outputs = StateType.FAILED, None
                self.store.append_log(
                    LogEntry(level="ERROR", execution_id=eid, message=f"flow outputs: {exc}")
                )
        moved = self.store.end_execution(eid, final, current, rows, outputs)
        if moved.status == Status.OK:
            self.ended(eid, final, flow)
            self.after_end(eid, final, flow)
        return moved.state

    def end_now(self, eid: str, state: StateType, flow: Flow | None = None) -> StateType | None:
        """End execution ``eid`` in ``state`` now, its task runs ended already (an Exit
        task, a violated SLA): a compare-and-set on its snapshot, read again if a task
        run moved meanwhile. The state it ended in, None if it ended otherwise (or is
        being killed)."""
        for _ in range(5):
            current = self.store.execution_state(eid)
            if current is None or current.is_terminated() or current == StateType.KILLING:
                return None
            moved = self.store.end_execution(eid, state, current, self.store.task_run_rows(eid))
            if moved.status == Status.OK:
                self.ended(eid, state, flow)
                self.after_end(eid, state, flow)
                return state
        return None

    def ended(self, eid: str, final: StateType, flow: Flow | None = None) -> None:
        """Say that an execution ended (here, or in a worker's finish step: ``plan_next``);
        with its ``flow``, the deadlines of its SLAs are dropped (without, they are
        dropped when they come due)."""
        log.info("execution %s ended %s", eid, final.value)
        events.execution_ended(self.store, eid, final)
        if flow is not None and flow.sla:
            self.sla.ended(eid, flow)

    def after_end(self, eid: str, final: StateType, flow: Flow | None = None) -> None:
        """After an execution ended: queued executions, a waiting parent, then the
        flow's ``afterExecution`` tasks (``flow``: the revision it ran, if known)."""
        meta = self.store.execution_meta(eid)
        if flow is None and meta.get("namespace"):
            try:  # the revision is cached in-process: usually no read
                flow = self.store.get_flow(
                    meta["namespace"], meta.get("flowId", ""), int(meta.get("flowRevision") or 1)
                )
            except OstraError:
                flow = None
        if flow is not None and flow.after_execution:
            first = sequencing.after_end(flow)
            if first.create:
                self.create(eid, flow, first.create)
        if meta.get("concLimit"):
            self.promote()
        if meta.get("triggerExecutionId"):
            self.tasks.subflow_ended(
                meta["triggerExecutionId"],
                meta["triggerTaskRunId"],
                eid,
                final,
                meta.get("outputs"),
            )

    # ------------------------------------------------------------------ flow retries

    def retried(self, eid: str, flow: Flow, trid: str, ended: Ended, now: float = 0.0) -> None:
        """Task run ``trid`` ended RETRIED (a ``CREATE_NEW_EXECUTION`` retry decided by
        ``outcomes.attempt_outcome``): its flowable parents and the execution end
        RETRIED now, and once the retry's delay is over a new execution runs the flow
        again (Kestra's ``markWithTaskRunAs(..., RETRIED, true)``, then
        ``ExecutionService.replay``). Until then the task run stays in the active set,
        due at that time, so the reconciler comes back to it (idempotent: the new
        execution's id derives from the old one's)."""
        parent = ended.parent_task_run_id
        while parent is not None:
            row = self.store.task_run_row(eid, parent)
            if row is None:
                break
            if not row.state.is_terminated():
                self.store.transition_task_run(eid, parent, StateType.RETRIED, active="-")
            parent = row.parent_task_run_id
        moved = self.store.transition_execution(eid, StateType.RETRIED)
        if moved.status == Status.OK:
            self.store.mark_ended(eid)
            self.ended(eid, StateType.RETRIED, flow)
            if self.store.execution_meta(eid).get("concLimit"):
                self.promote()
        elif moved.state != StateType.RETRIED:
            self.settled(eid, trid)  # it ended otherwise meanwhile (killed): no retry
            return
        due = self.store.retry_at(eid, trid)
        now = now or time.time()
        if due > now:
            self.store.set_active(eid, trid, due)
            return
        self.retry_execution(eid, flow)
        self.settled(eid, trid)

    def retry_execution(self, eid: str, flow: Flow) -> str:
        """Create and start the execution that retries RETRIED execution ``eid`` (once,
        whoever calls): a new id, ``parentId`` the old one, the same ``originalId``,
        inputs and labels, ``metadata.attemptNumber`` + 1, and the same waiting parent
        if a Subflow started the old one (its end moves that Subflow task run on)."""
        meta = self.store.execution_meta(eid)
        new = derived_id(eid, "retry")
        first = self.first_rows(new, flow)
        source = self.store.get_execution(eid)
        trigger = None
        if meta.get("triggerExecutionId"):
            trigger = (meta["triggerExecutionId"], meta["triggerTaskRunId"])
        created = self.store.create_execution(
            new,
            flow,
            source.inputs,
            source.labels,
            first,
            time.time() + self.settings.pending_grace,
            parent_id=eid,
            original_id=source.original_id or eid,
            trigger=trigger,
            only_if_absent=True,
            attempt=(
                source.metadata.attempt_number + 1,
                # As the first execution shows it (its state's start), to the microsecond.
                source.metadata.original_created_date.timestamp()
                if source.metadata.original_created_date
                else time.time(),
            ),
        )
        if created is not None:
            metrics.count_execution_created(flow.namespace, flow.id)
            log.info("execution %s retried as %s", eid, new)
            self.begin_execution(new, flow, first)
        return new

    # ------------------------------------------------------------------ starting executions

    def first_rows(
        self,
        eid: str,
        flow: Flow,
        new: Iterable[NewTaskRun] | None = None,
        *,
        id_of: Callable[[NewTaskRun], str] | None = None,
    ) -> list[NewRow]:
        """The first task runs of a new execution of ``flow`` (``new``, or the flow's
        start). Their messages are pushed as they are created, unless the flow has a
        concurrency limit (``begin_execution`` sends them once a slot is taken)."""
        return self.new_rows(
            eid,
            flow,
            sequencing.start(flow).create if new is None else new,
            send=flow.concurrency is None,
            id_of=id_of,
        )

    def begin_execution(self, eid: str, flow: Flow, first: list[NewRow]) -> StateType:
        """Start a created execution: take a concurrency slot if the flow has a limit
        (or queue, cancel or fail it), then start its first task runs (those not sent
        when they were created)."""
        if flow.sla:
            self.sla.started(eid, flow)
        if flow.concurrency is not None:
            admitted = self.store.admit(eid, flow)
            if admitted != Status.RUN:
                state = StateType(admitted.value)
                if state.is_terminated():
                    self.store.mark_ended(eid)
                return state
        if flow.sla and has_assertions(flow) and self.sla.changed(eid, flow):
            return self.store.execution_state(eid) or StateType.CREATED
        for row in first:
            if row.message is None:
                self.start(
                    eid,
                    flow,
                    row.id,
                    row.task_id,
                    new=NewTaskRun(row.task_id, row.parent_task_run_id, row.value, row.iteration),
                )
        if not first:
            return self.finish(eid, flow) or StateType.CREATED  # nothing to run: it ends
        return StateType.CREATED

    def promote(self) -> None:
        """Start executions that just left a concurrency queue, each on its own and
        within one render budget (its ``runIf``, a flowable's values...): one that
        fails to start is logged, and the reconciler sends its task runs again later
        (they are in the active set since they were created)."""
        for eid in self.store.pop_promoted():
            try:
                with render_budget():
                    self._start_promoted(eid)
            except Exception:
                log.exception("execution %s left its concurrency queue but did not start", eid)

    def _start_promoted(self, eid: str) -> None:
        flow = self.flow_of(eid)
        if flow is None:
            return
        for row in self.store.task_run_rows(eid):
            if row.parent_task_run_id is None and row.state == StateType.CREATED:
                self.start(eid, flow, row.id, row.task_id, new=NewTaskRun(row.task_id))
