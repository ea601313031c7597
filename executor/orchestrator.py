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

import logging
import time
from dataclasses import dataclass

from executor.dispatch import Dispatcher
from executor.flow import Flow, TaskDef
from executor.ids import new_id
from executor.settings import Settings, get_settings
from executor.state import StateType, worst
from executor.store import RedisStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ended:
    """A task run that just ended."""

    task_id: str
    state: StateType
    parent_task_run_id: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class NewTaskRun:
    """A task run to create."""

    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None


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

    def begin(self, eid: str, flow: Flow, decision: Decision) -> None:
        """Send the task runs created with the execution (see ``Client.submit``)."""
        self.apply(eid, flow, decision)

    def advance(self, eid: str, trid: str, *, ended: Ended | None = None,
                flow: Flow | None = None) -> None:
        """Move execution ``eid`` on after task run ``trid`` ended (idempotent).

        A worker that just ended the task run passes what it knows (``ended``, ``flow``)
        to save the round trips that read them back.
        """
        if ended is None:
            row = self.store.task_run_row(eid, trid)
            if row is None:
                self.store.clear_active(eid, trid)
                return
            ended = Ended(row.task_id, row.state, row.parent_task_run_id, row.value)
        if not ended.state.is_terminated():
            return
        flow = flow or self.flow_of(eid)
        if flow is None:
            self.store.clear_active(eid, trid)
            return
        self.apply(eid, flow, decide(flow, ended), ended=trid)

    def apply(self, eid: str, flow: Flow, decision: Decision, *, ended: str = "") -> None:
        """Carry out ``decision`` for execution ``eid`` (after task run ``ended``, if any)."""
        if decision.create:
            items = [(new_id(), c.task_id, c.parent_task_run_id, c.value) for c in decision.create]
            deadline = time.time() + self.settings.pending_grace
            result = self.store.create_task_runs(eid, items, deadline, ended)
            if isinstance(result, StateType):
                # The execution is being killed (or already ended): nothing new starts.
                if result == StateType.KILLING:
                    self.finish(eid)
                if ended:
                    self.store.clear_active(eid, ended)
                return
            for (trid, created), new in zip(result, decision.create, strict=True):
                if created:
                    self.send(eid, flow, trid, new.task_id)
        if decision.end:
            self.finish(eid)
            if ended:
                self.store.clear_active(eid, ended)

    def send(self, eid: str, flow: Flow, trid: str, task_id: str) -> None:
        """Publish one task run to its queue (the task's ``workerGroup``, if any)."""
        task = flow.task(task_id)
        self.dispatcher.send(
            eid, trid, queue=task.worker_group,
            label=f"{flow.namespace}.{flow.id} {task_id} execution={eid}",
        )

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

    def finish(self, eid: str) -> StateType | None:
        """End the execution if every task run has ended; returns its end state."""
        rows = self.store.task_run_rows(eid)
        if any(not r.state.is_terminated() for r in rows):
            return None
        current = self.store.execution_state(eid)
        if current is None or current.is_terminated():
            return current
        final = final_state([r.state for r in rows], current)
        if current in (StateType.CREATED, StateType.QUEUED, StateType.RESTARTED):
            self.store.transition_execution(eid, StateType.RUNNING)
        status, state = self.store.transition_execution(eid, final)
        if status == "OK":
            self.store.expire_execution(eid, self.settings.retention)
            log.info("execution %s ended %s", eid, final.value)
        return state
