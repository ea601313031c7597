"""The tasks the executor runs itself: flowables, Subflow, Pause, and ``runIf``.

Each is started by its rule's ``kind`` (``executor/engine/flowables.py``): a flowable
renders its own properties into a plan and starts its first children; a Subflow starts
an execution of another flow (once, whoever calls: its id derives from the task run);
a Pause pauses the execution. What they decide comes from the engine; this module reads
and renders what the rules need, and applies their decisions through the store.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from executor.durations import parse_duration
from executor.engine import outcomes
from executor.engine.flowables import (
    Rule,
    StoredPlan,
    WalkRule,
    after_child,
    after_errors_child,
    dag_next,
    ids,
    truthy,
    walk_rule,
)
from executor.engine.vocabulary import ChildDecision, Ended, NewTaskRun
from executor.errors import OstraError, TemplateError
from executor.flow import Flow, TaskDef
from executor.flowables import child_lists
from executor.ids import derived_id
from executor.inputs import resolve_inputs
from executor.models import Label, LogEntry
from executor.render_context import build_context
from executor.state import StateType
from executor.store.base import ChildEnd, Status, TaskRunRow
from executor.templating import render_value

if TYPE_CHECKING:
    from executor.orchestrator import Orchestrator


def ended_of(row: TaskRunRow, state: StateType | None = None) -> Ended:
    """The ``Ended`` of a task run row (in ``state``, if given)."""
    return Ended(row.task_id, state or row.state, row.parent_task_run_id, row.value, row.iteration)


class ExecutorTasks:
    """Starts and ends the task runs an orchestrator runs itself."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.o = orchestrator
        self.store = orchestrator.store
        self.settings = orchestrator.settings

    def start(self, eid: str, flow: Flow, trid: str, task: TaskDef, rule: Rule) -> None:
        """Start task run ``trid`` of ``task``, as its rule's kind says."""
        row = self.store.task_run_row(eid, trid)
        if row is None or row.state.is_terminated():
            return
        if rule.kind == "pause":
            self._pause(eid, row, task)
        elif rule.kind == "subflow":
            self._start_subflow(eid, flow, row, task)
        else:
            assert isinstance(rule, WalkRule)
            self._start_flowable(eid, flow, row, task, rule)

    def _context(self, eid: str, flow: Flow, task: TaskDef, row: TaskRunRow) -> dict[str, Any]:
        return build_context(
            self.store,
            eid,
            flow,
            task,
            task_run_id=row.id,
            value=row.value,
            parent_task_run_id=row.parent_task_run_id,
            iteration=row.iteration,
        )

    # ------------------------------------------------------------------ ending

    def child_ended(
        self,
        eid: str,
        flow: Flow,
        trid: str,
        ended: Ended,
        *,
        revisit: bool = False,
        counted: ChildEnd | None = None,
    ) -> None:
        """After a flowable's child ended: count it (unless the worker's finish step did,
        ``counted``), ask the flowable's rule what follows, and apply it."""
        parent_id = ended.parent_task_run_id
        assert parent_id is not None
        in_errors = flow.locate(ended.task_id).branch == "errors"
        end = counted or self.store.child_ended(
            eid,
            parent_id,
            trid,
            outcomes.child_class(ended.state),
            ended.task_id,
            ended.iteration,
            in_errors,
        )
        if end.status == Status.PARENT or end.parent is None:
            # Its flowable ended already (killed): nothing follows, but the execution may end.
            self.o.finish(eid, flow)
            self.o.settled(eid, trid)
            return
        parent = end.parent
        ptask = flow.task(parent.task_id)
        rule = walk_rule(ptask.task_type.name)
        errors = ids(ptask.properties.get("errors") or [])
        plan = StoredPlan.from_json(end.plan)
        if in_errors:
            decision = after_errors_child(errors, rule, parent_id, ended)
        elif plan.mode == "dag":
            children = [
                (r.task_id, r.state)
                for r in self.store.children_rows(eid, parent_id)
                if flow.locate(r.task_id).branch != "errors"
            ]
            decision = dag_next(
                plan, rule, parent_id, children, has_errors=bool(errors), inherited=parent.value
            )
        else:
            decision = after_child(
                plan,
                rule,
                parent_id,
                end.counters,
                end.successors,
                has_errors=bool(errors),
                inherited=parent.value,
            )
        if decision.errors:
            decision = ChildDecision(create=(NewTaskRun(errors[0], parent_id, parent.value),))
        if decision.create:
            self.o.create(eid, flow, decision.create, ended=trid, revisit=revisit)
        elif decision.end is not None:
            self.end_task_run(eid, flow, parent, decision.end, expected=StateType.RUNNING)
            self.o.settled(eid, trid)
        elif in_errors or plan.mode == "dag":
            self.o.settled(eid, trid)
        # else the step that counted the end took it out of the active set already

    def end_task_run(
        self,
        eid: str,
        flow: Flow,
        row: TaskRunRow,
        state: StateType,
        *,
        expected: StateType | None = None,
        **fields: Any,
    ) -> None:
        """End a task run the executor runs itself (a flowable, Subflow, Pause, or one it
        could not start) in ``state`` after ``allowFailure``/``allowWarning``, then
        advance. It stays in the active set until advanced, so a crash in between is
        recovered."""
        final = outcomes.settle(flow.task(row.task_id), state)
        moved = self.store.transition_task_run(
            eid, row.id, final, expected, active=time.time() + self.settings.lease_seconds, **fields
        )
        if moved.status not in (Status.OK, Status.NOOP):
            if moved.state is None or not moved.state.is_terminated():
                return
            final = moved.state  # it ended otherwise meanwhile (killed): advance from that
        self.o.advance(eid, row.id, flow=flow, ended=ended_of(row, final))

    def fail_unstarted(self, eid: str, flow: Flow, row: TaskRunRow, error: str) -> None:
        """End a task run the executor could not start (a render error) FAILED."""
        self.store.append_log(
            LogEntry(
                level="ERROR",
                message=error,
                execution_id=eid,
                task_run_id=row.id,
                task_id=row.task_id,
            )
        )
        self.end_task_run(eid, flow, row, StateType.FAILED, error=error)

    # ------------------------------------------------------------------ runIf

    def skipped(self, eid: str, flow: Flow, trid: str, new: NewTaskRun) -> bool:
        """Apply the ``runIf`` of just created task run ``trid``: a false condition ends it
        SKIPPED without running it, a render error FAILED. True if it is not to be
        started."""
        task = flow.task(new.task_id)
        if task.run_if is None:
            return False
        row = TaskRunRow(
            trid, new.task_id, StateType.CREATED, new.parent_task_run_id, new.value, new.iteration
        )
        try:
            run = truthy(render_value(task.run_if, self._context(eid, flow, task, row)))
        except TemplateError as exc:
            self.fail_unstarted(eid, flow, row, f"runIf: {exc}")
            return True
        if run:
            return False
        moved = self.store.transition_task_run(
            eid, row.id, StateType.SKIPPED, StateType.CREATED, active="-"
        )
        if moved.status == Status.OK:
            self.o.advance(eid, row.id, flow=flow, ended=ended_of(row, StateType.SKIPPED))
        return True

    # ------------------------------------------------------------------ flowables: start

    def _start_flowable(
        self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef, rule: WalkRule
    ) -> None:
        """Plan a flowable task run (its own properties rendered, its children's not)
        and start its first children."""
        nested = {k for k, _ in child_lists(task.task_type.name, task.properties)} | {"cases"}
        own = {k: v for k, v in task.properties.items() if k not in nested}
        try:
            rendered = render_value(own, self._context(eid, flow, task, row))
            plan = rule.plan({**task.properties, **rendered})
        except (OstraError, ValueError, KeyError) as exc:
            self.fail_unstarted(eid, flow, row, f"cannot start {task.id}: {exc}")
            return
        initial = plan.initial()
        status = self.store.start_flowable(
            eid,
            row.id,
            plan.mode,
            len(plan.tasks) or 1,
            plan.total,
            len(initial),
            plan.claimed_at_start(),
            plan.to_json(),
            list(plan.values or []),
        )
        if status != Status.OK:
            return
        if not initial:
            self.end_task_run(eid, flow, row, rule.end_state(0, 0), expected=StateType.RUNNING)
            return
        children = []
        for slot in initial:
            task_id, value, iteration = plan.slot(slot)
            children.append(
                NewTaskRun(task_id, row.id, value if value is not None else row.value, iteration)
            )
        self.o.create(eid, flow, tuple(children), revisit=row.state == StateType.RESTARTED)

    # ------------------------------------------------------------------ subflows

    def _start_subflow(self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef) -> None:
        """Start the child execution of a Subflow task run (once, whoever calls)."""
        try:
            props = render_value(task.properties, self._context(eid, flow, task, row))
            child_flow = self.store.get_flow(
                props["namespace"], props["flowId"], props.get("revision")
            )
            values = resolve_inputs(child_flow.inputs, props.get("inputs") or {})
        except (OstraError, ValueError, KeyError) as exc:
            self.fail_unstarted(eid, flow, row, f"cannot start subflow: {exc}")
            return
        wait = bool(props.get("wait", True))
        # The child's id derives from this task run, so starting twice creates it once.
        child = derived_id(eid, row.id)
        self.store.transition_task_run(
            eid,
            row.id,
            StateType.RUNNING,
            active=time.time() + self.settings.pending_grace,
            wait="1" if wait else "0",
            transmitFailed="1" if props.get("transmitFailed", True) else "0",
            outputs=json.dumps({"executionId": child}),
        )
        if self.store.execution_state(eid) == StateType.CREATED:
            self.store.transition_execution(eid, StateType.RUNNING, expected=StateType.CREATED)
        labels = [Label(key=str(k), value=str(v)) for k, v in (props.get("labels") or {}).items()]
        labels.append(Label(key="system.correlationId", value=eid))
        # Ids derived from the child's, so a second start writes nothing new.
        first = self.o.first_rows(child, child_flow, id_of=lambda c: derived_id(child, c.task_id))
        created = self.store.create_execution(
            child,
            child_flow,
            values,
            labels,
            first,
            time.time() + self.settings.pending_grace,
            trigger=(eid, row.id),
            only_if_absent=True,
        )
        if created:
            self.o.begin_execution(child, child_flow, first)
        else:
            # Started before (a restart of this task run, or a duplicate start).
            child_state = self.store.execution_state(child)
            if child_state in (StateType.FAILED, StateType.KILLED):
                self.o.control.restart(child)  # Kestra's RETRY_FAILED: restart the same child
            elif child_state is not None and child_state.is_terminated():
                self.subflow_ended(
                    eid, row.id, child, child_state, self.store.execution_meta(child).get("outputs")
                )
                return
        if not wait:
            self.end_task_run(
                eid,
                flow,
                row,
                StateType.SUCCESS,
                expected=StateType.RUNNING,
                outputs=json.dumps({"executionId": child}),
            )
        else:
            self.store.clear_active(eid, row.id)  # the child's end moves it on

    def subflow_ended(
        self, eid: str, trid: str, child: str, state: StateType, outputs: str | None
    ) -> None:
        """The execution ``child`` of Subflow task run ``trid`` ended in ``state``: end
        the task run as the engine says, if it waits for it."""
        row = self.store.task_run_row(eid, trid)
        if row is None or row.state != StateType.RUNNING:
            return
        if self.store.task_run_field(eid, trid, "wait") != "1":
            return
        flow = self.o.flow_of(eid)
        if flow is None:
            return
        transmit = self.store.task_run_field(eid, trid, "transmitFailed") == "1"
        result = outcomes.subflow_outcome(state, transmit_failed=transmit)
        self.end_task_run(
            eid,
            flow,
            row,
            result,
            expected=StateType.RUNNING,
            outputs=json.dumps(
                {
                    "executionId": child,
                    "state": state.value,
                    "outputs": json.loads(outputs or "{}"),
                },
                default=str,
            ),
        )

    # ------------------------------------------------------------------ Pause

    def _pause(self, eid: str, row: TaskRunRow, task: TaskDef) -> None:
        """Pause the execution; with ``pauseDuration`` the reconciler resumes it when due
        (``outcomes.pause_expired`` says how the Pause task run then ends)."""
        props = task.properties
        duration = props.get("pauseDuration")
        resume_at = ""
        if duration is not None:
            seconds = parse_duration(duration).total_seconds()
            resume_at = f"{time.time() + seconds:.6f}"
        moved = self.store.transition_task_run(
            eid,
            row.id,
            StateType.PAUSED,
            active=float(resume_at) if resume_at else "-",
            resumeAt=resume_at,
            behavior=str(props.get("behavior", "RESUME")).upper(),
        )
        if moved.status == Status.OK:
            self.store.transition_execution(eid, StateType.PAUSED)
