"""Applying kill, pause, resume, restart and replay (the rules: ``executor/engine/control.py``)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from executor.engine import control as rules
from executor.engine import sequencing
from executor.engine.vocabulary import NewTaskRun
from executor.errors import ExecutionNotFound, InvalidTransition, StateConflict
from executor.executor_tasks import ended_of
from executor.flow import Flow
from executor.ids import new_id
from executor.inputs import resolve_inputs
from executor.observability import metrics
from executor.state import StateType
from executor.store.base import Status, TaskRunRow

if TYPE_CHECKING:
    from executor.orchestrator import Orchestrator

log = logging.getLogger(__name__)


class Control:
    """The control operations of one orchestrator."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.o = orchestrator
        self.store = orchestrator.store
        self.settings = orchestrator.settings

    def _flow(self, eid: str) -> Flow:
        flow = self.o.flow_of(eid)
        if flow is None:
            raise ExecutionNotFound(eid)
        return flow

    def kill(self, eid: str) -> StateType:
        """Kill execution ``eid``: KILLING, then KILLED once nothing runs (fire and forget).

        Raises ``StateConflict`` if it already ended (other than KILLED: killing twice
        is harmless).
        """
        status, state, running = self.store.kill_execution(eid)
        if status == Status.MISSING:
            raise ExecutionNotFound(eid)
        if status == Status.ENDED:
            assert state is not None
            if rules.kill_refused(state):
                raise InvalidTransition(
                    state,
                    StateType.KILLING,
                    f"execution {eid}",
                    "it already ended: nothing to kill",
                )
            return state
        for child in self.store.subflow_executions(eid):
            try:
                self.kill(child)  # killing the parent kills its subflows
            except (StateConflict, ExecutionNotFound):
                pass
        if status == Status.KILLED:
            self.store.mark_ended(eid)
            self.o.ended(eid, StateType.KILLED)
            self.o.after_end(eid, StateType.KILLED)
            return StateType.KILLED
        log.info("execution %s KILLING: %d task run(s) being stopped", eid, len(running))
        return StateType.KILLING

    def pause(self, eid: str) -> None:
        """Pause a RUNNING execution: running task runs finish, nothing new starts."""
        status, state = self.store.transition_execution(
            eid, StateType.PAUSED, expected=StateType.RUNNING
        )
        if status == Status.MISSING:
            raise ExecutionNotFound(eid)
        if status != Status.OK:
            raise InvalidTransition(
                state,
                StateType.PAUSED,
                f"execution {eid}",
                "only a RUNNING execution can be paused",
            )

    def resume(
        self, eid: str, *, pause_state: StateType = StateType.SUCCESS, only: str | None = None
    ) -> None:
        """Resume a PAUSED execution: paused task runs end ``pause_state``, held task runs
        are sent, and the execution goes on (or ends, if nothing is left to run)."""
        flow = self._flow(eid)
        status, state = self.store.transition_execution(
            eid, StateType.RUNNING, expected=StateType.PAUSED
        )
        if status != Status.OK:
            raise InvalidTransition(
                state,
                StateType.RUNNING,
                f"execution {eid}",
                "only a PAUSED execution can be resumed",
            )
        rows = self.store.task_run_rows(eid)
        resumed, walked = [], []
        for row in rows:
            if row.state == StateType.PAUSED and (only is None or row.id == only):
                if self.o.tasks.resume_paused(eid, flow, row, pause_state):
                    walked.append(row)  # a Pause's tasks, or a loop's next iteration
                    continue
                moved = self.store.transition_task_run(
                    eid, row.id, pause_state, StateType.PAUSED, active="-"
                )
                if moved.status == Status.OK:
                    resumed.append(row)
        held = [
            r
            for r in rows
            if r.state in (StateType.CREATED, StateType.RETRYING, StateType.RESTARTED)
        ]
        for row in held:
            self.o.start(eid, flow, row.id, row.task_id)
        for row in resumed:
            self.o.advance(eid, row.id, flow=flow, ended=ended_of(row, pause_state))
        if (
            not resumed
            and not held
            and not walked
            and not any(r.state == StateType.RUNNING for r in rows)
        ):
            self._reconsider(eid, flow, rows)

    def _reconsider(self, eid: str, flow: Flow, rows: list[TaskRunRow]) -> None:
        """Advance again after the last ended task run (or start), when nothing is active."""
        ended = [r for r in rows if r.state.is_terminated()]
        if not ended:
            self.o.apply(eid, flow, sequencing.start(flow))
            return
        last = ended[-1]
        self.o.advance(eid, last.id, flow=flow, ended=ended_of(last))

    def restart(self, eid: str) -> None:
        """Restart a FAILED or KILLED execution in place (Kestra's restart)."""
        flow = self._flow(eid)
        status, state, restarted = self.store.restart_execution(
            eid, rules.restart_dropped(flow), time.time() + self.settings.pending_grace
        )
        if status == Status.MISSING:
            raise ExecutionNotFound(eid)
        if status == Status.REFUSED:
            raise InvalidTransition(
                state,
                StateType.RESTARTED,
                f"execution {eid}",
                "only FAILED or KILLED executions can be restarted",
            )
        rows = {r.id: r for r in self.store.task_run_rows(eid)}
        # A restarted flowable walks its children again: only the roots are started here.
        parents = {t: rows[t].parent_task_run_id for t in restarted}
        for trid in rules.restart_roots(restarted, parents):
            self.o.start(eid, flow, trid, rows[trid].task_id)
        if not restarted:
            self._reconsider(eid, flow, list(rows.values()))

    def replay(
        self, eid: str, task_run_id: str | None = None, inputs: dict[str, Any] | None = None
    ) -> str:
        """A new execution of the same flow revision, from the start or from a task run:
        task runs before it are copied with their outputs, it and what follows run again.
        Returns the new execution's id."""
        source = self.store.get_execution(eid)
        flow = self.store.get_flow(source.namespace, source.flow_id, source.flow_revision)
        values = resolve_inputs(flow.inputs, inputs) if inputs is not None else source.inputs
        plan = rules.replay_plan(flow, eid, source.task_run_list, task_run_id)
        new = new_id()
        copies = [
            {
                **{k: v for k, v in fields.items() if k not in {"lost", "retryAt"}},
                "id": self.o.task_run_id(new, NewTaskRun(fields["taskId"])),
            }
            for fields in self.store.read_task_runs_raw(eid, plan.copied)
        ]
        first = self.o.first_rows(new, flow, plan.first)
        self.store.create_execution(
            new,
            flow,
            values,
            source.labels,
            first,
            time.time() + self.settings.pending_grace,
            parent_id=eid,
            original_id=source.original_id or eid,
            copies=copies,
        )
        metrics.count_execution_created(flow.namespace, flow.id)
        self.o.begin_execution(new, flow, first)
        return new
