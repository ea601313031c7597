"""Deciding what runs next: a pure ``decide()`` and a thin ``Orchestrator`` that applies it.

Any process may advance any execution (DESIGN rule 6): workers call ``advance`` right
after a task run ends, and the reconciler calls it for task runs whose worker died in
between. Advancing twice is harmless: task runs are created once per identity
(``create.lua``) and state changes are compare-and-set.

Branches run in Kestra's order: ``tasks``; if a task run fails for good, ``errors``;
then, always, ``finally``. The execution then ends in the worst state of its task runs
(KILLED over FAILED over WARNING over SUCCESS).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from executor.dispatch import Dispatcher
from executor.errors import (
    ExecutionNotFound,
    OstraError,
    StateConflict,
    TaskRunNotFound,
    TemplateError,
)
from executor.flow import Flow, TaskDef
from executor.flowables import (
    SUBFLOW,
    ChildDecision,
    Ended,
    NewTaskRun,
    StoredPlan,
    after_child,
    after_errors_child,
    child_lists,
    dag_next,
    ids,
    make_plan,
    plan_to_json,
    truthy,
)
from executor.ids import derived_id, new_id
from executor.inputs import resolve_inputs
from executor.models import Label, LogEntry
from executor.render_context import build_context
from executor.settings import Settings, get_settings
from executor.state import StateType, worst
from executor.store import RedisStore
from executor.store.base import ChildEnd, NewRow, TaskRunRow, Then
from executor.templating import render_value

log = logging.getLogger(__name__)

PAUSE = "io.kestra.plugin.core.flow.Pause"
#: What an expired ``pauseDuration`` does to the Pause task run, by ``behavior``.
PAUSE_BEHAVIOR = {"RESUME": StateType.SUCCESS, "WARN": StateType.WARNING,
                  "FAIL": StateType.FAILED, "CANCEL": StateType.CANCELLED}


@dataclass(frozen=True)
class Decision:
    """What should happen next; computed without I/O."""

    create: tuple[NewTaskRun, ...] = ()
    end: bool = False


END = Decision(end=True)


def _first_enabled(tasks: list[TaskDef], start: int) -> TaskDef | None:
    for task in tasks[start:]:
        if not task.disabled:
            return task
    return None


def _enter(flow: Flow, *branches: str) -> Decision:
    """Start the first of ``branches`` that has an enabled task, or end."""
    for name in branches:
        task = _first_enabled(flow.branch(name), 0)
        if task is not None:
            return Decision(create=(NewTaskRun(task.id),))
    return END


def start(flow: Flow) -> Decision:
    """The first task runs of a new execution."""
    return _enter(flow, "tasks", "finally")


def decide(flow: Flow, ended: Ended) -> Decision:
    """What follows the end of ``ended`` in ``flow``."""
    loc = flow.locate(ended.task_id)
    failed = ended.state.is_failed()
    if not failed:
        nxt = _first_enabled(flow.branch(loc.branch), loc.index + 1)
        if nxt is not None:
            return Decision(create=(NewTaskRun(nxt.id),))
    if loc.branch == "tasks":
        return _enter(flow, "errors", "finally") if failed else _enter(flow, "finally")
    if loc.branch == "errors":
        return _enter(flow, "finally")
    return END


def final_state(states: list[StateType], execution_state: StateType | None) -> StateType:
    """The end state of an execution whose task runs ended in ``states``."""
    if execution_state == StateType.KILLING:
        return StateType.KILLED
    return worst(states) if states else StateType.SUCCESS


class Orchestrator:
    """Applies decisions: creates task runs in Redis, sends them to workers, ends executions."""

    def __init__(self, store: RedisStore, dispatcher: Dispatcher | None = None,
                 settings: Settings | None = None) -> None:
        self.store = store
        self.dispatcher = dispatcher or Dispatcher()
        self.settings = settings or get_settings()

    def advance(self, eid: str, trid: str, *, ended: Ended | None = None,
                flow: Flow | None = None, child_end: ChildEnd | None = None) -> None:
        """Move execution ``eid`` on after task run ``trid`` ended (idempotent).

        A worker that just ended the task run passes what it knows (``ended``, ``flow``)
        to save the round trips that read them back.
        """
        if ended is None:
            row = self.store.task_run_row(eid, trid)
            if row is None:
                self.store.clear_active(eid, trid)
                return
            ended = Ended(row.task_id, row.state, row.parent_task_run_id, row.value,
                          row.iteration)
        if not ended.state.is_terminated():
            return
        flow = flow or self.flow_of(eid)
        if flow is None:
            self.store.clear_active(eid, trid)
            return
        if ended.parent_task_run_id is None:
            self.apply(eid, flow, decide(flow, ended), ended=trid)
        else:
            self._child_ended(eid, flow, trid, ended, counted=child_end)

    def apply(self, eid: str, flow: Flow, decision: Decision, *, ended: str = "") -> None:
        """Carry out ``decision`` for execution ``eid`` (after task run ``ended``, if any)."""
        if decision.create:
            self.create(eid, flow, decision.create, ended=ended)
        if decision.end:
            self.finish(eid, flow)
            if ended:
                self.store.clear_active(eid, ended)

    def create(self, eid: str, flow: Flow, new: tuple[NewTaskRun, ...], *,
               ended: str = "", revisit: bool = False) -> None:
        """Create task runs once each and start them (a paused execution holds them).

        Task runs that go straight to a worker are sent by the step that creates them;
        the others (flowables, Pause, Subflow, ``runIf``) are started from here.
        With ``revisit`` (a restarted flowable walking its children again), a child that
        exists already is not created again: an ended one counts as ended now (successes
        keep their outputs), a restarted one is sent for its next attempt.
        """
        rows = self.new_rows(eid, flow, new)
        deadline = time.time() + self.settings.pending_grace
        state, result = self.store.create_task_runs(eid, rows, deadline, ended)
        if not result:
            # The execution is being killed (or already ended): nothing new starts.
            if state == StateType.KILLING:
                self.finish(eid, flow)
            if ended:
                self.store.clear_active(eid, ended)
            return
        if state == StateType.PAUSED:
            return  # resume sends them
        to_send = []
        for (trid, created), c, row in zip(result, new, rows, strict=True):
            if created:
                if row.message is not None or self._skipped(eid, flow, trid, c):
                    continue
                to_send.append((trid, c.task_id))
            elif revisit:
                found = self.store.task_run_row(eid, trid)
                if found is None:
                    continue
                if found.state == StateType.RESTARTED:
                    self.send(eid, flow, trid, c.task_id)
                elif found.state.is_terminated():
                    self._child_ended(eid, flow, trid, Ended(
                        found.task_id, found.state, found.parent_task_run_id, found.value,
                        found.iteration), revisit=True)
        for trid, task_id in to_send:
            self.send(eid, flow, trid, task_id)

    def new_rows(self, eid: str, flow: Flow, new: Iterable[NewTaskRun], *, send: bool = True,
                 id_of: Callable[[NewTaskRun], str] | None = None) -> list[NewRow]:
        """Task runs to create for ``new`` (fresh ids unless ``id_of`` gives them), each
        with the message that starts it if it goes straight to a worker (and ``send``)."""
        rows = []
        for c in new:
            trid = id_of(c) if id_of else new_id()
            task = flow.task(c.task_id)
            message = None
            if send and self.direct(task):
                message = self.dispatcher.message(eid, trid, queue=task.worker_group,
                                                  label=self._label(eid, flow, c.task_id))
            rows.append(NewRow(trid, c.task_id, c.parent_task_run_id, c.value, c.iteration,
                               message))
        return rows

    @staticmethod
    def direct(task: TaskDef) -> bool:
        """True if a task run of ``task`` goes straight to a worker once created (not a
        flowable, Pause or Subflow, which an orchestrator starts, and no ``runIf``)."""
        return (task.run_if is None and not task.task_type.flowable
                and task.task_type.name not in (PAUSE, SUBFLOW))

    def plan_next(self, eid: str, flow: Flow, ended: Ended) -> Then | None:
        """What follows top-level task run ``ended``, if its worker can do it in the same
        step that records the end (``finish.lua``): create next task runs that go straight
        to a worker, or end the execution when nothing else is left to decide there (no
        flow outputs to render, no concurrency limit, no flowables). None otherwise."""
        if ended.parent_task_run_id is not None or not ended.state.is_terminated():
            return None
        decision = decide(flow, ended)
        if decision.end:
            if flow.outputs or flow.concurrency is not None or any(
                    t.task_type.flowable for _, t in flow.all_tasks()):
                return None
            return Then(ended.state, [])
        if not decision.create or not all(self.direct(flow.task(c.task_id))
                                          for c in decision.create):
            return None
        return Then(ended.state, self.new_rows(eid, flow, decision.create),
                    time.time() + self.settings.pending_grace)

    def ended(self, eid: str, final: StateType) -> None:
        """Say that an execution ended (here, or in a worker's finish step: ``plan_next``)."""
        log.info("execution %s ended %s", eid, final.value)

    @staticmethod
    def _label(eid: str, flow: Flow, task_id: str) -> str:
        return f"{flow.namespace}.{flow.id} {task_id} execution={eid}"

    def _skipped(self, eid: str, flow: Flow, trid: str, new: NewTaskRun) -> bool:
        """Apply ``runIf``: a false condition ends the task run SKIPPED without running."""
        task = flow.task(new.task_id)
        if task.run_if is None:
            return False
        try:
            ctx = build_context(self.store, eid, flow, task, task_run_id=trid, value=new.value,
                                parent_task_run_id=new.parent_task_run_id)
            run = truthy(render_value(task.run_if, ctx))
        except TemplateError as exc:
            self._fail_unstarted(eid, trid, new, f"runIf: {exc}")
            return True
        if run:
            return False
        status, _ = self.store.transition_task_run(eid, trid, StateType.SKIPPED,
                                                   StateType.CREATED, active="-")
        if status == "OK":
            self.advance(eid, trid, flow=flow,
                         ended=Ended(new.task_id, StateType.SKIPPED, new.parent_task_run_id,
                                     new.value, new.iteration))
        return True

    def _fail_unstarted(self, eid: str, trid: str, new: NewTaskRun, error: str) -> None:
        """End a task run the orchestrator could not start (a render error) FAILED."""
        self.store.append_log(LogEntry(level="ERROR", message=error, execution_id=eid,
                                       task_run_id=trid, task_id=new.task_id))
        status, _ = self.store.transition_task_run(
            eid, trid, StateType.FAILED, active=time.time() + self.settings.lease_seconds,
            error=error)
        if status == "OK":
            self.advance(eid, trid, ended=Ended(new.task_id, StateType.FAILED,
                                                new.parent_task_run_id, new.value,
                                                new.iteration))

    # ------------------------------------------------------------------ flowables

    def _start_flowable(self, eid: str, flow: Flow, trid: str, task: TaskDef) -> None:
        """Plan a flowable task run and start its first children."""
        row = self.store.task_run_row(eid, trid)
        if row is None:
            return
        tt = task.task_type
        nested = {k for k, _ in child_lists(tt.name, task.properties)} | {"cases"}
        own = {k: v for k, v in task.properties.items() if k not in nested}
        new = NewTaskRun(task.id, row.parent_task_run_id, row.value, row.iteration)
        try:
            ctx = build_context(self.store, eid, flow, task, task_run_id=trid, value=row.value,
                                parent_task_run_id=row.parent_task_run_id)
            plan = make_plan(tt.name, {**task.properties, **render_value(own, ctx)})
        except (OstraError, ValueError, KeyError) as exc:
            self._fail_unstarted(eid, trid, new, f"cannot start {task.id}: {exc}")
            return
        initial = plan.initial()
        revisit = row.state == StateType.RESTARTED
        claimed = len(initial) if plan.mode in ("par", "each") else 0
        status = self.store.start_flowable(
            eid, trid, plan.mode, len(plan.tasks) or 1, plan.total, len(initial), claimed,
            plan_to_json(plan), list(plan.values or []))
        if status != "OK":
            return
        if not initial:
            self._end_flowable(eid, flow, trid, new, ChildDecision(end=StateType.SUCCESS))
            return
        self.create(eid, flow, tuple(NewTaskRun(t, trid, v if v is not None else row.value, i)
                                     for t, v, i in (plan.slot(s) for s in initial)),
                    revisit=revisit)

    def _child_ended(self, eid: str, flow: Flow, trid: str, ended: Ended, *,
                     revisit: bool = False, counted: ChildEnd | None = None) -> None:
        """After a flowable's child ended: count it (unless the worker's ``finish.lua``
        did, ``counted``) and start what follows, or end the flowable."""
        parent_id = ended.parent_task_run_id
        assert parent_id is not None
        in_errors = flow.locate(ended.task_id).branch == "errors"
        klass = ("bad" if ended.state.is_failed() else
                 "warn" if ended.state == StateType.WARNING else "ok")
        end = counted or self.store.child_ended(eid, parent_id, trid, klass, ended.task_id,
                                                ended.iteration, in_errors)
        if end.status == "PARENT" or end.parent is None:
            # Its flowable ended already (killed): nothing follows, but the execution may end.
            self.store.clear_active(eid, trid)
            self.finish(eid, flow)
            return
        parent = end.parent
        ptask = flow.task(parent.task_id)
        type_name = ptask.task_type.name
        errors = ids(ptask.properties.get("errors") or [])
        plan = StoredPlan.from_json(end.plan)
        if in_errors:
            decision = after_errors_child(errors, parent_id, ended, type_name)
        elif plan.mode == "dag":
            children = [(r.task_id, r.state) for r in self.store.children_rows(eid, parent_id)
                        if flow.locate(r.task_id).branch != "errors"]
            decision = dag_next(plan, parent_id, children, type_name=type_name,
                                has_errors=bool(errors), inherited=parent.value)
        else:
            decision = after_child(plan, parent_id, end.counters, end.successors,
                                   type_name=type_name, has_errors=bool(errors),
                                   inherited=parent.value)
        pnew = NewTaskRun(parent.task_id, parent.parent_task_run_id, parent.value,
                          parent.iteration)
        if decision.errors:
            self.create(eid, flow, (NewTaskRun(errors[0], parent_id, parent.value),), ended=trid)
        elif decision.create:
            self.create(eid, flow, decision.create, ended=trid, revisit=revisit)
        elif decision.end is not None:
            self._end_flowable(eid, flow, parent_id, pnew, decision)
            self.store.clear_active(eid, trid)
        elif in_errors or plan.mode == "dag":
            self.store.clear_active(eid, trid)
        # otherwise child_ended.lua took it out of the active set already

    def _end_flowable(self, eid: str, flow: Flow, trid: str, task_run: NewTaskRun,
                      decision: ChildDecision) -> None:
        """End a flowable task run, then advance its own parent scope."""
        assert decision.end is not None
        task = flow.task(task_run.task_id)
        state = decision.end
        if state == StateType.FAILED and task.allow_failure:
            state = StateType.WARNING
        if state == StateType.WARNING and task.allow_warning:
            state = StateType.SUCCESS
        # Kept in the active set until advanced, so a crash in between is recovered.
        self.store.transition_task_run(eid, trid, state, StateType.RUNNING,
                                       active=time.time() + self.settings.lease_seconds)
        current = self.store.task_run_row(eid, trid)
        if current is not None and current.state.is_terminated():
            self.advance(eid, trid, flow=flow,
                         ended=Ended(task_run.task_id, current.state,
                                     task_run.parent_task_run_id, task_run.value,
                                     task_run.iteration))

    def send(self, eid: str, flow: Flow, trid: str, task_id: str) -> None:
        """Publish one task run to its queue (the task's ``workerGroup``, if any); a task
        the executor runs itself (``Pause``) is started here instead."""
        task = flow.task(task_id)
        tt = task.task_type
        if tt.name == PAUSE:
            self._pause_task(eid, trid, task)
            return
        if tt.name == SUBFLOW:
            self._start_subflow(eid, flow, trid, task)
            return
        if tt.flowable:
            self._start_flowable(eid, flow, trid, task)
            return
        self.dispatcher.send(eid, trid, queue=task.worker_group,
                             label=self._label(eid, flow, task_id))

    def resend(self, eid: str, trid: str) -> None:
        """Publish task run ``trid`` again (the reconciler, for lost deliveries)."""
        row = self.store.task_run_row(eid, trid)
        flow = self.flow_of(eid)
        if row is not None and flow is not None:
            self.send(eid, flow, trid, row.task_id)

    def flow_of(self, eid: str) -> Flow | None:
        """The flow revision execution ``eid`` runs (None if the execution is gone)."""
        ref = self.store.flow_ref(eid)
        return self.store.get_flow(*ref) if ref else None

    def finish(self, eid: str, flow: Flow | None = None) -> StateType | None:
        """End the execution if every task run has ended; returns its end state.

        The flow's ``outputs`` are rendered now; a render error fails the execution.
        """
        rows = self.store.task_run_rows(eid)
        if any(not r.state.is_terminated() for r in rows):
            return None
        current = self.store.execution_state(eid)
        if current is None or current.is_terminated() or current == StateType.PAUSED:
            return current  # a paused execution ends after it is resumed
        # Top-level task runs decide (a failure inside AllowFailure shows as its WARNING).
        final = final_state([r.state for r in rows if r.parent_task_run_id is None], current)
        fields: dict[str, Any] = {}
        flow = flow or self.flow_of(eid)
        if flow is not None and flow.outputs and final != StateType.KILLED:
            try:
                ctx = build_context(self.store, eid, flow, None, task_run_id="")
                fields["outputs"] = json.dumps(
                    {o.id: render_value(o.value, ctx) for o in flow.outputs}, default=str)
            except TemplateError as exc:
                final = StateType.FAILED
                self.store.append_log(LogEntry(level="ERROR", execution_id=eid,
                                               message=f"flow outputs: {exc}"))
        if current in (StateType.CREATED, StateType.QUEUED, StateType.RESTARTED):
            self.store.transition_execution(eid, StateType.RUNNING)
        status, state = self.store.transition_execution(eid, final, **fields)
        if status == "OK":
            self._ended(eid, final)
        return state

    def _ended(self, eid: str, final: StateType) -> None:
        """After an execution ended: retention, queued executions, a waiting parent."""
        self.store.mark_ended(eid)
        self.ended(eid, final)
        meta = self.store.execution_meta(eid)
        if meta.get("concLimit"):
            self.promote()
        if meta.get("triggerExecutionId"):
            self._subflow_ended(meta["triggerExecutionId"], meta["triggerTaskRunId"], eid, final,
                                json.loads(meta.get("outputs") or "{}"))

    # ------------------------------------------------------------------ starting executions

    def first_rows(self, eid: str, flow: Flow, new: Iterable[NewTaskRun] | None = None, *,
                   id_of: Callable[[NewTaskRun], str] | None = None) -> list[NewRow]:
        """The first task runs of a new execution of ``flow`` (``new``, or the flow's
        start). Their messages are pushed as they are created, unless the flow has a
        concurrency limit (``begin_execution`` sends them once a slot is taken)."""
        return self.new_rows(eid, flow, start(flow).create if new is None else new,
                             send=flow.concurrency is None, id_of=id_of)

    def begin_execution(self, eid: str, flow: Flow, first: list[NewRow]) -> StateType:
        """Start a created execution: take a concurrency slot if the flow has a limit
        (or queue, cancel or fail it), then send its first task runs (those not sent
        when they were created)."""
        if flow.concurrency is not None:
            admitted = self.store.admit(eid, flow)
            if admitted != "RUN":
                state = StateType(admitted)
                if state.is_terminated():
                    self.store.mark_ended(eid)
                return state
        for row in first:
            if row.message is None:
                self.send(eid, flow, row.id, row.task_id)
        if not first:
            return self.finish(eid, flow) or StateType.CREATED  # nothing to run: it ends
        return StateType.CREATED

    def promote(self) -> None:
        """Start executions that just left a concurrency queue."""
        for eid in self.store.pop_promoted():
            flow = self.flow_of(eid)
            if flow is None:
                continue
            for row in self.store.task_run_rows(eid):
                if row.parent_task_run_id is None and row.state == StateType.CREATED:
                    self.send(eid, flow, row.id, row.task_id)

    # ------------------------------------------------------------------ subflows

    def _start_subflow(self, eid: str, flow: Flow, trid: str, task: TaskDef) -> None:
        """Start the child execution of a Subflow task run (once, whoever calls)."""
        row = self.store.task_run_row(eid, trid)
        if row is None or row.state.is_terminated():
            return
        new = NewTaskRun(task.id, row.parent_task_run_id, row.value, row.iteration)
        try:
            ctx = build_context(self.store, eid, flow, task, task_run_id=trid, value=row.value,
                                parent_task_run_id=row.parent_task_run_id)
            props = render_value(task.properties, ctx)
            child_flow = self.store.get_flow(props["namespace"], props["flowId"],
                                             props.get("revision"))
            values = resolve_inputs(child_flow.inputs, props.get("inputs") or {})
        except (OstraError, ValueError, KeyError) as exc:
            self._fail_unstarted(eid, trid, new, f"cannot start subflow: {exc}")
            return
        # The child's id derives from this task run, so starting twice creates it once.
        child = derived_id(eid, trid)
        self.store.transition_task_run(
            eid, trid, StateType.RUNNING, active=time.time() + self.settings.pending_grace,
            wait="1" if props.get("wait", True) else "0",
            transmitFailed="1" if props.get("transmitFailed", True) else "0",
            outputs=json.dumps({"executionId": child}))
        if self.store.execution_state(eid) == StateType.CREATED:
            self.store.transition_execution(eid, StateType.RUNNING, expected=StateType.CREATED)
        labels = [Label(key=str(k), value=str(v)) for k, v in
                  (props.get("labels") or {}).items()]
        labels.append(Label(key="system.correlationId", value=eid))
        # Ids derived from the child's, so a second start writes nothing new.
        first = self.first_rows(child, child_flow,
                                id_of=lambda c: derived_id(child, c.task_id))
        created = self.store.create_execution(
            child, child_flow, values, labels, first, time.time() + self.settings.pending_grace,
            trigger=(eid, trid), only_if_absent=True)
        if created:
            self.begin_execution(child, child_flow, first)
        else:
            # Started before (a restart of this task run, or a duplicate start).
            child_state = self.store.execution_state(child)
            if child_state in (StateType.FAILED, StateType.KILLED):
                self.restart(child)  # Kestra's RETRY_FAILED: restart the same child
            elif child_state is not None and child_state.is_terminated():
                meta = self.store.execution_meta(child)
                self._subflow_ended(eid, trid, child, child_state,
                                    json.loads(meta.get("outputs") or "{}"))
                return
        if not props.get("wait", True):
            self._end_subflow_task(eid, trid, new, StateType.SUCCESS, {"executionId": child})
        else:
            self.store.clear_active(eid, trid)

    def _subflow_ended(self, eid: str, trid: str, child: str, state: StateType,
                       outputs: dict[str, Any]) -> None:
        row = self.store.task_run_row(eid, trid)
        if row is None or row.state != StateType.RUNNING:
            return
        if self.store.task_run_field(eid, trid, "wait") != "1":
            return
        transmit = self.store.task_run_field(eid, trid, "transmitFailed") == "1"
        result = state
        if state.is_failed():
            result = StateType.FAILED if transmit else StateType.SUCCESS
        new = NewTaskRun(row.task_id, row.parent_task_run_id, row.value, row.iteration)
        self._end_subflow_task(eid, trid, new, result,
                               {"executionId": child, "state": state.value, "outputs": outputs})

    def _end_subflow_task(self, eid: str, trid: str, new: NewTaskRun, state: StateType,
                          outputs: dict[str, Any]) -> None:
        status, _ = self.store.transition_task_run(
            eid, trid, state, StateType.RUNNING, active=time.time() + self.settings.lease_seconds,
            outputs=json.dumps(outputs, default=str))
        if status == "OK":
            self.advance(eid, trid, ended=Ended(new.task_id, state, new.parent_task_run_id,
                                                new.value, new.iteration))

    # ------------------------------------------------------------------ control

    def _pause_task(self, eid: str, trid: str, task: TaskDef) -> None:
        props = task.properties
        duration = props.get("pauseDuration")
        resume_at = ""
        if duration is not None:
            seconds = TypeAdapter(timedelta).validate_python(duration).total_seconds()
            resume_at = f"{time.time() + seconds:.6f}"
        status, _ = self.store.transition_task_run(
            eid, trid, StateType.PAUSED, active=float(resume_at) if resume_at else "-",
            resumeAt=resume_at, behavior=str(props.get("behavior", "RESUME")).upper())
        if status == "OK":
            self.store.transition_execution(eid, StateType.PAUSED)

    def kill(self, eid: str) -> StateType:
        """Kill execution ``eid``: KILLING, then KILLED once nothing runs (fire and forget).

        Raises ``StateConflict`` if it already ended (other than KILLED: killing twice
        is harmless).
        """
        status, state, running = self.store.kill_execution(eid)
        if status == "MISSING":
            raise ExecutionNotFound(eid)
        if status == "ENDED":
            if state == StateType.KILLED:
                return state
            raise StateConflict(f"execution {eid} already ended ({state}): nothing to kill")
        for child in self.store.subflow_executions(eid):
            try:
                self.kill(child)  # killing the parent kills its subflows
            except (StateConflict, ExecutionNotFound):
                pass
        if status == "KILLED":
            self._ended(eid, StateType.KILLED)
            return StateType.KILLED
        log.info("execution %s KILLING: %d task run(s) being stopped", eid, len(running))
        return StateType.KILLING

    def pause(self, eid: str) -> None:
        """Pause a RUNNING execution: running task runs finish, nothing new starts."""
        status, state = self.store.transition_execution(eid, StateType.PAUSED,
                                                        expected=StateType.RUNNING)
        if status == "MISSING":
            raise ExecutionNotFound(eid)
        if status != "OK":
            raise StateConflict(f"execution {eid} is {state}: only a RUNNING execution can "
                                "be paused")

    def resume(self, eid: str, *, pause_state: StateType = StateType.SUCCESS,
               only: str | None = None) -> None:
        """Resume a PAUSED execution: paused task runs end ``pause_state``, held task runs
        are sent, and the execution goes on (or ends, if nothing is left to run)."""
        flow = self.flow_of(eid)
        if flow is None:
            raise ExecutionNotFound(eid)
        status, state = self.store.transition_execution(eid, StateType.RUNNING,
                                                        expected=StateType.PAUSED)
        if status != "OK":
            raise StateConflict(f"execution {eid} is {state}: only a PAUSED execution can "
                                "be resumed")
        rows = self.store.task_run_rows(eid)
        resumed = []
        for row in rows:
            if row.state == StateType.PAUSED and (only is None or row.id == only):
                ok, _ = self.store.transition_task_run(eid, row.id, pause_state,
                                                       StateType.PAUSED, active="-")
                if ok == "OK":
                    resumed.append(row)
        held = [r for r in rows if r.state in (StateType.CREATED, StateType.RETRYING,
                                               StateType.RESTARTED)]
        for row in held:
            self.send(eid, flow, row.id, row.task_id)
        for row in resumed:
            self.advance(eid, row.id, flow=flow,
                         ended=Ended(row.task_id, pause_state, row.parent_task_run_id,
                                     row.value))
        if not resumed and not held and not any(r.state == StateType.RUNNING for r in rows):
            self._reconsider(eid, flow, rows)

    def _reconsider(self, eid: str, flow: Flow, rows: list[TaskRunRow]) -> None:
        """Advance again after the last ended task run (or start), when nothing is active."""
        ended = [r for r in rows if r.state.is_terminated()]
        if not ended:
            self.apply(eid, flow, start(flow))
            return
        last = ended[-1]
        self.advance(eid, last.id, flow=flow,
                     ended=Ended(last.task_id, last.state, last.parent_task_run_id, last.value))

    def restart(self, eid: str) -> None:
        """Restart a FAILED or KILLED execution in place (Kestra's restart)."""
        flow = self.flow_of(eid)
        if flow is None:
            raise ExecutionNotFound(eid)
        # Task runs of errors branches (global and local) and of finally run again if needed.
        dropped = [t.id for loc, t in flow.all_tasks() if loc.branch in ("errors", "finally")]
        status, state, restarted = self.store.restart_execution(
            eid, dropped, time.time() + self.settings.pending_grace)
        if status == "MISSING":
            raise ExecutionNotFound(eid)
        if status == "REFUSED":
            raise StateConflict(f"execution {eid} is {state}: only FAILED or KILLED "
                                "executions can be restarted")
        rows = {r.id: r for r in self.store.task_run_rows(eid)}
        # A restarted flowable walks its children again (see ``create(revisit=True)``):
        # only the top-most restarted task runs are sent from here.
        again = set(restarted)
        for trid in restarted:
            if rows[trid].parent_task_run_id not in again:
                self.send(eid, flow, trid, rows[trid].task_id)
        if not restarted:
            self._reconsider(eid, flow, list(rows.values()))

    def replay(self, eid: str, task_run_id: str | None = None,
               inputs: dict[str, Any] | None = None) -> str:
        """A new execution of the same flow revision, from the start or from a task run:
        task runs before it are copied with their outputs, it and what follows run again.
        Returns the new execution's id."""
        source = self.store.get_execution(eid)
        flow = self.store.get_flow(source.namespace, source.flow_id, source.flow_revision)
        values = resolve_inputs(flow.inputs, inputs) if inputs is not None else source.inputs
        new = new_id()
        copies: list[dict[str, str]] = []
        if task_run_id is None:
            first = self.first_rows(new, flow)
        else:
            target = next((tr for tr in source.task_run_list if tr.id == task_run_id), None)
            if target is None:
                raise TaskRunNotFound(eid, task_run_id)
            loc = flow.locate(target.task_id)
            if loc.branch != "tasks":
                raise StateConflict(f"task run {task_run_id} is in the {loc.branch} branch: "
                                    "replay from a task of the tasks branch")
            before = [tr.id for tr in source.task_run_list
                      if flow.locate(tr.task_id).branch == "tasks"
                      and flow.locate(tr.task_id).index < loc.index
                      and tr.state.current in (StateType.SUCCESS, StateType.WARNING,
                                               StateType.SKIPPED)]
            for fields in self.store.read_task_runs_raw(eid, before):
                kept = {k: v for k, v in fields.items() if k not in {"lost", "retryAt"}}
                copies.append({**kept, "id": new_id()})
            first = self.first_rows(new, flow, [NewTaskRun(target.task_id)])
        self.store.create_execution(
            new, flow, values, source.labels, first, time.time() + self.settings.pending_grace,
            parent_id=eid, original_id=source.original_id or eid, copies=copies)
        self.begin_execution(new, flow, first)
        return new
