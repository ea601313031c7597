"""The tasks the executor runs itself: flowables, Subflow, Pause, and ``runIf``.

Each is started by its rule's ``kind`` (``executor/engine/flowables.py``): a flowable
renders its own properties into a plan and starts its first children; a Subflow starts
an execution of another flow (once, whoever calls: its id derives from the task run);
a Pause pauses the execution. What they decide comes from the engine; this module reads
and renders what the rules need, and applies their decisions through the store.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

from executor.engine import outcomes
from executor.engine.flowables import (
    OK_STATES,
    Plan,
    Rule,
    StoredPlan,
    WalkRule,
    after_child,
    after_errors_child,
    dag_next,
    exit_state,
    ids,
    loop_end,
    loop_maxed,
    loop_next,
    new_labels,
    pause_wait,
    truthy,
    walk_rule,
)
from executor.engine.vocabulary import ChildDecision, Ended, NewTaskRun
from executor.errors import OstraError, TemplateError
from executor.flow import Flow, TaskDef
from executor.flowables import LOOP_UNTIL, WAIT_FOR, child_lists
from executor.ids import derived_id
from executor.inputs import resolve_inputs
from executor.models import ExecutionTrigger, Label, LogEntry
from executor.observability import metrics
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import build_context
from executor.state import StateType
from executor.store.base import ChildEnd, Status, TaskRunRow
from executor.store.records import retry_chain
from executor.templating import render_value

if TYPE_CHECKING:
    from executor.orchestrator import Orchestrator


def ended_of(row: TaskRunRow, state: StateType | None = None) -> Ended:
    """The ``Ended`` of a task run row (in ``state``, if given)."""
    return Ended(row.task_id, state or row.state, row.parent_task_run_id, row.value, row.iteration)


def subflow_origin(task: TaskDef, eid: str, flow: Flow) -> ExecutionTrigger:
    """The ``trigger`` of a Subflow's child execution, as Kestra's
    ``ExecutableUtils.subflowExecution`` sets it: the Subflow task's id and type, and the
    parent's ``executionId``, ``namespace``, ``flowId`` and ``flowRevision``."""
    return ExecutionTrigger(
        id=task.id,
        type=task.type,
        variables={
            "executionId": eid,
            "namespace": flow.namespace,
            "flowId": flow.id,
            "flowRevision": flow.revision or 1,
        },
    )


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
            self._pause(eid, flow, row, task)
        elif rule.kind == "exit":
            self._exit(eid, flow, row, task)
        elif rule.kind == "labels":
            self._labels(eid, flow, row, task)
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

    def _render(self, value: Any, eid: str, flow: Flow, task: TaskDef, row: TaskRunRow) -> Any:
        """``value`` rendered for task run ``row``, with the store and the execution at
        hand for ``kv()``, ``errorLogs()`` and the like (``secret()`` stays the workers')."""
        runtime = RenderRuntime(
            store=self.store,
            namespace=flow.namespace,
            flow_id=flow.id,
            execution_id=eid,
            task_run_id=row.id,
        )
        with using(runtime):
            return render_value(value, self._context(eid, flow, task, row))

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
        elif plan.mode == "loop":
            decision = self._loop_step(eid, flow, parent, ptask, rule, plan, bool(errors))
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
        elif in_errors or plan.mode in ("dag", "loop"):
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
            run = truthy(self._render(task.run_if, eid, flow, task, row))
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
        own = {
            k: v for k, v in task.properties.items() if k not in nested and k not in rule.deferred
        }
        try:
            rendered = self._render(own, eid, flow, task, row)
            props = {**task.properties, **rendered}
            plan = rule.plan(props)
            own_outputs = rule.outputs(props)
        except (OstraError, ValueError, KeyError) as exc:
            self.fail_unstarted(eid, flow, row, f"cannot start {task.id}: {exc}")
            return
        self._walk(eid, flow, row, plan, rule, own_outputs)

    def _walk(
        self,
        eid: str,
        flow: Flow,
        row: TaskRunRow,
        plan: Plan,
        rule: WalkRule,
        own_outputs: dict[str, Any] | None = None,
    ) -> None:
        """Start the walk of a planned flowable task run: its first children."""
        outputs = json.dumps(own_outputs) if own_outputs else ""
        first, resume_at = 1, 0  # a loop's iteration, and the slot it starts with
        if plan.loop is not None:
            if row.state == StateType.RESTARTED:
                # A restarted loop goes on with the iteration that failed, from its
                # first task that did not succeed.
                kids = self.store.children_rows(eid, row.id)
                first = max((r.iteration or 1 for r in kids), default=1)
                ok = {
                    r.task_id for r in kids if (r.iteration or 1) == first and r.state in OK_STATES
                }
                resume_at = next((i for i, t in enumerate(plan.tasks) if t not in ok), 0)
            # maxDuration counts from here; iterationCount is 1 during the first iteration.
            plan = dataclasses.replace(
                plan, loop=dataclasses.replace(plan.loop, started=time.time())
            )
            outputs = json.dumps({"iterationCount": first})
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
            outputs,
        )
        if status != Status.OK:
            return
        if not initial:
            self.end_task_run(eid, flow, row, rule.end_state(0, 0), expected=StateType.RUNNING)
            return
        children = []
        for slot in initial:
            task_id, value, iteration = plan.slot(slot)
            if plan.mode == "loop":
                task_id, iteration = plan.tasks[resume_at], first  # iterations count from 1
            children.append(
                NewTaskRun(task_id, row.id, value if value is not None else row.value, iteration)
            )
        self.o.create(eid, flow, tuple(children), revisit=row.state == StateType.RESTARTED)

    # ------------------------------------------------------------------ subflows

    def _start_subflow(self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef) -> None:
        """Start the child execution of a Subflow task run (once, whoever calls)."""
        try:
            props = self._render(task.properties, eid, flow, task, row)
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
        now = time.time()
        # When its first attempt started: a retry's maxDuration counts from it.
        started: dict[str, Any] = (
            {}
            if self.store.task_run_field(eid, row.id, "firstStart")
            else {"firstStart": repr(now)}
        )
        self.store.transition_task_run(
            eid,
            row.id,
            StateType.RUNNING,
            active=time.time() + self.settings.pending_grace,
            **started,
            wait="1" if wait else "0",
            transmitFailed="1" if props.get("transmitFailed", True) else "0",
            outputs=json.dumps({"executionId": child}),
        )
        xstate = self.store.execution_state(eid)
        if xstate in (StateType.CREATED, StateType.RETRYING):  # a retry: RUNNING again
            self.store.transition_execution(eid, StateType.RUNNING, expected=xstate)
        labels = self._subflow_labels(eid, child, child_flow, props)
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
            origin=subflow_origin(task, eid, flow),
        )
        if created:
            metrics.count_execution_created(child_flow.namespace, child_flow.id)
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

    def _subflow_labels(
        self, eid: str, child: str, child_flow: Flow, props: dict[str, Any]
    ) -> list[Label]:
        """The labels of a Subflow's child execution, as Kestra's
        ``ExecutableUtils.subflowExecution`` and ``Execution.newExecution`` give them: the
        child flow's own (no ``system.`` ones), then this execution's ``system.`` labels
        (its ``system.correlationId``: the root execution's id) or, with
        ``inheritLabels``, all of its labels, then the task's ``labels``."""
        merged = {k: v for k, v in child_flow.labels.items() if not k.startswith("system.")}
        inherit = bool(props.get("inheritLabels", False))
        for lb in json.loads(self.store.execution_meta(eid).get("labels") or "[]"):
            if inherit or str(lb["key"]).startswith("system."):
                merged[str(lb["key"])] = str(lb["value"])
        given = props.get("labels") or {}
        if isinstance(given, list):
            given = {lb["key"]: lb.get("value") for lb in given}
        merged.update({str(k): str(v) for k, v in given.items()})
        merged.setdefault("system.correlationId", child)
        return [Label(key=k, value=v) for k, v in merged.items()]

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
        out = json.dumps(
            {"executionId": child, "state": state.value, "outputs": json.loads(outputs or "{}")},
            default=str,
        )
        if result == StateType.FAILED and self._retry_subflow(eid, flow, row, out):
            return
        self.end_task_run(eid, flow, row, result, expected=StateType.RUNNING, outputs=out)

    def _retry_subflow(self, eid: str, flow: Flow, row: TaskRunRow, outputs: str) -> bool:
        """Retry a Subflow task run whose child failed, if the retry that applies to it
        (``outcomes.retry_of``) says so, as Kestra retries Subflow tasks
        (``ExecutorService.handleChildWorkerTaskResult``): RETRYING, the execution with
        it, until the reconciler starts it again when due (its child is restarted); or
        RETRIED with ``CREATE_NEW_EXECUTION``. True if it is retried."""
        policy = outcomes.retry_of(flow, row.task_id)
        if policy is None:
            return False
        now = time.time()
        n = int(self.store.task_run_field(eid, row.id, "subflowAttempt") or 1)
        first = float(self.store.task_run_field(eid, row.id, "firstStart") or now)
        meta = self.store.execution_meta(eid) if policy.new_execution else {}
        execution_attempt, origin = retry_chain(meta, now)
        outcome = outcomes.attempt_outcome(
            flow.task(row.task_id),
            n,
            StateType.FAILED,
            elapsed_s=now - first,
            retry=policy,
            execution_attempt=execution_attempt,
            since_first_execution_s=now - origin,
        )
        if outcome.retry_in is None:
            return False
        at = f"{now + outcome.retry_in:.6f}"
        if outcome.state == StateType.RETRIED:
            self.end_task_run(
                eid,
                flow,
                row,
                StateType.RETRIED,
                expected=StateType.RUNNING,
                retryAt=at,
                outputs=outputs,
            )
            return True
        moved = self.store.transition_task_run(
            eid,
            row.id,
            StateType.RETRYING,
            StateType.RUNNING,
            active=now + outcome.retry_in,
            retryAt=at,
            subflowAttempt=str(n + 1),
            outputs=outputs,
        )
        if moved.status == Status.OK:
            self.store.transition_execution(eid, StateType.RETRYING, expected=StateType.RUNNING)
        return moved.status == Status.OK

    # ------------------------------------------------------------------ Pause

    def _pause(self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef) -> None:
        """Pause the execution; with ``pauseDuration``/``delay`` or ``timeout`` the
        reconciler resumes it when due (``flowables.pause_wait`` says when and with which
        ``behavior``, ``outcomes.pause_expired`` how the Pause task run then ends)."""
        own = {k: v for k, v in task.properties.items() if k not in ("tasks", "errors")}
        try:
            props = self._render(own, eid, flow, task, row)
            # `timeout` is a common task property: read apart from the Pause's own.
            seconds, behavior = pause_wait({**props, "timeout": task.timeout})
        except (OstraError, ValueError) as exc:
            self.fail_unstarted(eid, flow, row, f"cannot start {task.id}: {exc}")
            return
        resume_at = f"{time.time() + seconds:.6f}" if seconds is not None else ""
        moved = self.store.transition_task_run(
            eid,
            row.id,
            StateType.PAUSED,
            active=float(resume_at) if resume_at else "-",
            resumeAt=resume_at,
            behavior=behavior,
        )
        if moved.status == Status.OK:
            self.store.transition_execution(eid, StateType.PAUSED)

    def resume_paused(self, eid: str, flow: Flow, row: TaskRunRow, state: StateType) -> bool:
        """Resume PAUSED task run ``row``: a loop waiting for its next iteration starts
        it; a Pause with ``tasks`` resumed to go on (``state`` SUCCESS) walks them (as
        Kestra's ``markAs`` RUNNING); True if one of these applied. Any other ends
        ``state``, by its caller."""
        task = flow.task(row.task_id)
        if task.task_type.name in LOOPS:
            self.loop_wake(eid, row.id)
            return True
        if state != StateType.SUCCESS or not ids(task.properties.get("tasks") or []):
            return False
        rule = walk_rule(task.task_type.name)
        self._walk(eid, flow, row, rule.plan(task.properties), rule)
        return True

    # ------------------------------------------------------------------ Exit, Labels

    def _begin(self, eid: str, row: TaskRunRow) -> bool:
        """Move a task run the executor runs at once to RUNNING (its execution too)."""
        moved = self.store.transition_task_run(eid, row.id, StateType.RUNNING, row.state)
        if moved.status != Status.OK:
            return False
        if self.store.execution_state(eid) == StateType.CREATED:
            self.store.transition_execution(eid, StateType.RUNNING, expected=StateType.CREATED)
        return True

    def _exit(self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef) -> None:
        """End the execution in the Exit's ``state`` (Kestra's ``Exit.update``): KILLED
        kills it; any other state ends the Exit task run and its flowables above it in
        that state, and the execution with it; task runs still running elsewhere are
        left to finish (nothing follows them)."""
        try:
            raw = self._render(task.properties.get("state", "SUCCESS"), eid, flow, task, row)
            state = exit_state(raw)
        except (OstraError, ValueError) as exc:
            self.fail_unstarted(eid, flow, row, f"cannot start {task.id}: {exc}")
            return
        if state == StateType.KILLED:
            self.o.control.kill(eid)
            return
        if not self._begin(eid, row):
            return
        trid: str | None = row.id
        while trid is not None:
            self.store.transition_task_run(eid, trid, state, StateType.RUNNING, active="-")
            found = self.store.task_run_row(eid, trid)
            trid = found.parent_task_run_id if found else None
        self.o.end_now(eid, state, flow)

    def _labels(self, eid: str, flow: Flow, row: TaskRunRow, task: TaskDef) -> None:
        """Add the task's ``labels`` to the execution (Kestra's ``Labels.update``)."""
        try:
            raw = self._render(task.properties.get("labels"), eid, flow, task, row)
            labels = new_labels(raw)
        except (OstraError, ValueError) as exc:
            self.fail_unstarted(eid, flow, row, f"{task.id}: {exc}")
            return
        if not self._begin(eid, row):
            return
        ok = self.store.update_labels(eid, labels) == Status.OK
        # Refused: the execution is being killed (or ended): no worker stops this one.
        state = StateType.SUCCESS if ok else StateType.KILLED
        self.end_task_run(eid, flow, row, state, expected=StateType.RUNNING)

    # ------------------------------------------------------------------ LoopUntil

    def _loop_step(
        self,
        eid: str,
        flow: Flow,
        parent: TaskRunRow,
        ptask: TaskDef,
        rule: WalkRule,
        plan: StoredPlan,
        has_errors: bool,
    ) -> ChildDecision:
        """What follows a loop's child: the engine's ``loop_next``; once an iteration
        succeeded, the condition (rendered now, never before) and ``loop_end`` decide:
        the loop ends (with its ``iterationCount``), or it waits ``interval`` PAUSED, as
        Kestra's ``WaitFor`` does, before its next iteration."""
        children = [
            (r.task_id, r.state, r.iteration)
            for r in self.store.children_rows(eid, parent.id)
            if flow.locate(r.task_id).branch != "errors"
        ]
        decision = loop_next(
            plan, rule, parent.id, children, has_errors=has_errors, inherited=parent.value
        )
        if decision is not None:
            return decision
        assert plan.loop is not None
        iteration = max((it or 1 for _, _, it in children), default=1)
        count = iteration + 1
        outputs = json.dumps({"iterationCount": count})
        maxed = loop_maxed(plan.loop, count, time.time())
        condition = False
        if not maxed:
            try:
                condition = truthy(
                    self._render(ptask.properties.get("condition"), eid, flow, ptask, parent)
                )
            except TemplateError as exc:
                self.store.append_log(
                    LogEntry(
                        level="ERROR",
                        message=f"condition: {exc}",
                        execution_id=eid,
                        task_run_id=parent.id,
                        task_id=parent.task_id,
                    )
                )
                self.end_task_run(
                    eid,
                    flow,
                    parent,
                    StateType.FAILED,
                    expected=StateType.RUNNING,
                    outputs=outputs,
                    error=f"condition: {exc}",
                )
                return ChildDecision()
        end = loop_end(plan.loop, maxed=maxed, condition=condition)
        if end is not None:
            self.end_task_run(eid, flow, parent, end, expected=StateType.RUNNING, outputs=outputs)
            return ChildDecision()
        interval = plan.loop.interval
        resume_at = f"{time.time() + interval:.6f}"
        moved = self.store.transition_task_run(
            eid,
            parent.id,
            StateType.PAUSED,
            StateType.RUNNING,
            active=float(resume_at) if interval > 0 else "-",
            outputs=outputs,
            resumeAt=resume_at,
            loop="1",
        )
        if moved.status == Status.OK and interval <= 0:
            self.loop_wake(eid, parent.id)
        return ChildDecision()

    def loop_wake(self, eid: str, trid: str) -> None:
        """Start the next iteration of a loop waiting PAUSED (its interval passed)."""
        row = self.store.task_run_row(eid, trid)
        flow = self.o.flow_of(eid)
        if row is None or flow is None or row.state != StateType.PAUSED:
            return
        raw = self.store.task_run_field(eid, trid, "plan")
        moved = self.store.transition_task_run(
            eid, trid, StateType.RUNNING, StateType.PAUSED, active="-", resumeAt=""
        )
        if moved.status != Status.OK or not raw:
            return
        plan = StoredPlan.from_json(raw)
        done = [r.iteration or 1 for r in self.store.children_rows(eid, trid)]
        nxt = max(done, default=0) + 1
        self.o.create(eid, flow, (NewTaskRun(plan.tasks[0], trid, row.value, nxt),))


LOOPS = frozenset({LOOP_UNTIL, WAIT_FOR})
