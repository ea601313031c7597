"""Applying a flow's ``sla`` (the rules: ``executor/engine/sla.py``).

* When an execution starts (``Orchestrator.begin_execution``), each MAX_DURATION entry
  puts a deadline in the ``sla`` due queue (``Store.due_*``), member ``EID|INDEX``.
  The reconciler's sweep claims the deadlines that passed (``sweep``): a claim is
  one process's only, for a lease; the member leaves the queue once handled, and a
  claim whose holder died goes back to the queue, so each deadline acts once (acting
  twice would change nothing: every write below is a compare-and-set). A deadline
  whose execution ended is dropped then (``Orchestrator.ended`` with the flow), or
  when it comes due.
* EXECUTION_ASSERTION entries are rendered at the start and after each task run's end
  (``Orchestrator.advance``; a flow with one has its successors decided there, not in
  the worker's finish step).
* A violation (``apply``) adds its labels, then with FAIL or CANCEL ends every task run
  not ended and the execution in FAILED or CANCELLED through the step Exit uses
  (``Orchestrator.end_now``); running attempts lose their lease and stop.

A flow without ``sla`` reaches none of this: no Redis command is added for it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from executor.engine import sla as rules
from executor.errors import OstraError, TemplateError
from executor.flow import Flow
from executor.models import LogEntry
from executor.pebble.budget import render_budget
from executor.pebble.runtime import RenderRuntime, using
from executor.render_context import build_context
from executor.state import StateType
from executor.store.base import Status

if TYPE_CHECKING:
    from executor.orchestrator import Orchestrator

log = logging.getLogger(__name__)

#: Seconds a claimed deadline stays one process's before another may take it.
CLAIM_LEASE = 30.0


def has_assertions(flow: Flow) -> bool:
    """True if ``flow`` has an EXECUTION_ASSERTION entry (checked on each change)."""
    return any(e.get("type") == rules.EXECUTION_ASSERTION for e in flow.sla)


class Slas:
    """The SLA steps of one orchestrator."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.o = orchestrator
        self.store = orchestrator.store

    # ------------------------------------------------------------------ MAX_DURATION

    def started(self, eid: str, flow: Flow, now: float | None = None) -> None:
        """Record the MAX_DURATION deadlines of execution ``eid``, started ``now``."""
        now = time.time() if now is None else now
        for index, deadline in rules.deadlines(rules.parse(flow.sla), now):
            self.store.due_set(rules.QUEUE, rules.monitor_uid(eid, index), "0", deadline)

    def ended(self, eid: str, flow: Flow) -> None:
        """Execution ``eid`` ended: its MAX_DURATION deadlines leave the queue (Kestra's
        ``slaMonitorStorage.purge``)."""
        for index, _ in rules.deadlines(rules.parse(flow.sla), 0.0):
            self.store.due_set(rules.QUEUE, rules.monitor_uid(eid, index), None)

    def sweep(self, now: float | None = None, limit: int = 100) -> int:
        """Handle the deadlines due at ``now``; how many were violated."""
        now = time.time() if now is None else now
        violated = 0
        for uid, tick in self.store.due_claim(rules.QUEUE, now, limit, CLAIM_LEASE):
            try:
                violated += self._due(uid, now)
            except Exception:  # one broken entry must not stop the others
                log.exception("sla: deadline %s failed", uid)
            self.store.due_advance(rules.QUEUE, uid, tick, None)
        return violated

    def _due(self, uid: str, now: float) -> int:
        found = rules.of_monitor_uid(uid)
        if found is None:
            return 0
        eid, index = found
        state = self.store.execution_state(eid)
        if state is None or state.is_terminated():
            return 0
        flow = self.o.flow_of(eid)
        slas = rules.parse(flow.sla) if flow is not None else []
        if flow is None or index >= len(slas) or slas[index].type != rules.MAX_DURATION:
            return 0  # the flow revision has no such SLA (as Kestra: ignored)
        origin = self.store.execution_origin(eid)
        started = origin[2] if origin else now
        violation = rules.max_duration_violation(slas[index], started, now)
        if violation is None:
            return 0
        self.apply(eid, flow, violation)
        return 1

    # ------------------------------------------------------------------ EXECUTION_ASSERTION

    def changed(self, eid: str, flow: Flow) -> bool:
        """Render the assertions of ``flow`` on execution ``eid`` (it changed); apply
        the first violated one. True if the execution ended by it."""
        state = self.store.execution_state(eid)
        if state is None or state.is_terminated() or state == StateType.KILLING:
            return False
        from executor.orchestrator import render_text

        violations = []
        runtime = RenderRuntime(
            store=self.store, namespace=flow.namespace, flow_id=flow.id, execution_id=eid
        )
        ctx: dict[str, Any] | None = None  # one for every assertion, made at the first
        for s in rules.parse(flow.sla):
            if s.type != rules.EXECUTION_ASSERTION:
                continue
            try:
                if ctx is None:
                    ctx = build_context(self.store, eid, flow, None, task_run_id="")
                with using(runtime), render_budget():
                    rendered = render_text(s.assertion, ctx)
            except (TemplateError, OstraError, ValueError) as exc:
                self._log(eid, "ERROR", f"Ignoring SLA '{s.id}' because of the error: {exc}")
                continue
            v = rules.assertion_violation(s, rendered)
            if v is not None:
                violations.append(v)
        if not violations:
            return False
        for v in violations[1:]:  # as Kestra: only the first acts, the others are logged
            self._log(eid, "WARN", f"SLA '{v.sla_id}' violated: {v.reason}")
        return self.apply(eid, flow, violations[0]) is not None

    # ------------------------------------------------------------------ violations

    def apply(self, eid: str, flow: Flow, violation: rules.Violation) -> StateType | None:
        """Carry out ``violation`` on ``eid``; the state it ended in (None: it goes on)."""
        self._log(eid, "WARN", f"SLA '{violation.sla_id}' violated: {violation.reason}")
        state = self.store.execution_state(eid)
        if state is None:
            return None
        labels = {}
        if violation.labels:
            labels = {
                lb["key"]: lb["value"] for lb in self.store.execution_field(eid, "labels") or []
            }
        effect = rules.effect(violation, labels, state)
        if effect.labels:
            self.store.update_labels(eid, effect.labels)
        if effect.end is None:
            return None
        if effect.end == StateType.FAILED:
            self._log(
                eid,
                "ERROR",
                f"Execution failed due to SLA '{violation.sla_id}' violated: {violation.reason}",
            )
        log.info("execution %s: SLA %s violated, ending it %s", eid, violation.sla_id, effect.end)
        for row in self.store.task_run_rows(eid):
            if not rules.ends_task_run(row.state):
                continue
            moved = self.store.transition_task_run(eid, row.id, effect.end, row.state, active="-")
            if moved.status == Status.OK and row.state == StateType.RUNNING:
                self.store.drop_lease(eid, row.id)
        return self.o.end_now(eid, effect.end, flow)

    def _log(self, eid: str, level: Literal["WARN", "ERROR"], message: str) -> None:
        self.store.append_log(LogEntry(level=level, execution_id=eid, message=message))
