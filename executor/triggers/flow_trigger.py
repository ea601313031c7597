"""Flow triggers (Kestra's ``io.kestra.plugin.core.trigger.Flow``): start a flow when
executions of other flows end, or move to another state a trigger lists in ``states``
(PAUSED, RUNNING...; Kestra evaluates them on every change of an execution's state).

How a state change reaches a trigger, exactly once:

1. The store step that ends an execution (any of them: a worker's last task run, the
   orchestrator's end, a kill, a retry, an end after a restart) appends the end to the
   stream of ends (``Keys.flow_ends``) in the same atomic step, while some flow listens
   (``Keys.flow_listeners``, kept by deploy and delete). Nobody listening, an end costs
   one ``EXISTS``. A step that moves an execution to another state appends the move the
   same way, only while some flow's enabled Flow trigger lists that state
   (``Keys.flow_state_listeners``): none does, a move costs one ``ZRANGEBYLEX``. Each
   move is its own entry: an execution paused, resumed and ended gives a trigger
   listening to PAUSED and SUCCESS two fires, as in Kestra.
2. ``FlowEndsPoller`` (registered in ``runner.default_pollers``) reads the stream as one
   consumer of one consumer group (``XREADGROUP``), evaluates every listening flow's
   Flow triggers on each entry (``executor.engine.flow_conditions``) and fires each match
   with ``fire()``, its execution id derived from (trigger, stream entry), then
   acknowledges the entry (``XACK``). Several processes share the entries.
3. An entry a process read and never acknowledged (it died, or hangs) is claimed by
   another after ``OSTRA_FLOW_TRIGGER_CLAIM_IDLE`` seconds (``XAUTOCLAIM``) and evaluated
   again: the derived id makes a fire that already happened a no-op, and a multiple
   condition's window remembers what each entry made of it (``flow_window``).

A trigger whose inputs do not render or are invalid records the error on the trigger
(``record.failed``), starts nothing, and the entry is acknowledged: no loop.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from executor.engine import flow_conditions as fc
from executor.errors import FlowNotFound, OstraError, StateConflict, StoreError
from executor.flow import Flow
from executor.ids import derived_id
from executor.models import Execution, ExecutionTrigger
from executor.orchestrator import Orchestrator
from executor.state import StateType
from executor.store.base import FlowEndEntry, TriggerRef
from executor.templating import render, render_value
from executor.triggers import record
from executor.triggers.fire import fire
from executor.triggers.types import KINDS

log = logging.getLogger(__name__)

#: Kestra's full type name of the Flow trigger.
TYPE = "io.kestra.plugin.core.trigger.Flow"


def parsed_triggers(flow: Flow) -> list[fc.FlowTrigger]:
    """The flow's Flow triggers, parsed (entries that do not parse are skipped: the
    deploy refused them)."""
    out = []
    for entry in fc.flow_triggers(flow, KINDS["flow"]):
        trigger, _ = fc.parse(entry, "trigger")
        if trigger is not None:
            out.append(trigger)
    return out


class _Upstream:
    """What the conditions and the inputs read of the ended execution, loaded once and
    only when needed."""

    def __init__(self, orchestrator: Orchestrator, entry: FlowEndEntry) -> None:
        self.orchestrator = orchestrator
        self.entry = entry
        self._execution: Execution | None = None
        self._loaded = False

    @property
    def execution(self) -> Execution | None:
        if not self._loaded:
            self._loaded = True
            try:
                self._execution = self.orchestrator.store.get_execution(self.entry.execution_id)
            except OstraError as exc:
                if isinstance(exc, StoreError):
                    raise
                self._execution = None  # purged meanwhile: ids and state are in the entry
        return self._execution

    def labels(self) -> dict[str, str]:
        ex = self.execution
        return {lb.key: lb.value for lb in ex.labels} if ex else {}

    def end(self) -> fc.FlowEnd:
        e = self.entry
        return fc.FlowEnd(
            e.execution_id, e.namespace, e.flow_id, e.flow_revision, e.state, _LazyLabels(self)
        )

    def variables(self) -> dict[str, Any]:
        """``trigger.*`` of the execution it starts (Kestra's ``Flow.Output``, and the
        upstream flow's ``outputs``)."""
        e, ex = self.entry, self.execution
        # A flow's outputs exist once it ended (Kestra sets them at the end); a move to
        # another state has none, even if the execution ended since.
        ended = StateType(e.state).is_terminated()
        return {
            "executionId": e.execution_id,
            "namespace": e.namespace,
            "flowId": e.flow_id,
            "flowRevision": e.flow_revision,
            "state": e.state,
            "outputs": dict(ex.outputs) if ex and ended else {},
        }

    def context(self, flow: Flow) -> dict[str, Any]:
        """What the trigger's templates see: Kestra renders them in the ended
        execution's run context (``outputs``, ``inputs``, ``labels``, ``execution``),
        with the listening ``flow`` and ``trigger`` (``trigger.outputs``: the ended
        execution's flow outputs)."""
        ex = self.execution
        outputs: dict[str, Any] = {}
        for tr in ex.task_run_list if ex else []:
            if tr.parent_task_run_id is None and tr.outputs:
                outputs[tr.task_id] = tr.outputs
        return {
            "trigger": self.variables(),
            "outputs": outputs,
            "inputs": dict(ex.inputs) if ex else {},
            "labels": self.labels(),
            "execution": {
                "id": self.entry.execution_id,
                "namespace": self.entry.namespace,
                "flowId": self.entry.flow_id,
                "state": self.entry.state,
                "originalId": (ex.original_id if ex else None) or self.entry.execution_id,
            },
            "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        }


class _LazyLabels(Mapping[str, str]):
    def __init__(self, up: _Upstream) -> None:
        self.up = up

    def __getitem__(self, key: str) -> str:
        return self.up.labels()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.up.labels())

    def __len__(self) -> int:
        return len(self.up.labels())


class FlowEndsPoller:
    """The trigger loop's poller of the stream of ends: one consumer of the group."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        consumer: str | None = None,
        batch: int | None = None,
        claim_idle: float | None = None,
    ) -> None:
        settings = orchestrator.settings
        self.orchestrator = orchestrator
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.batch = batch or settings.flow_trigger_batch
        self.claim_idle = settings.flow_trigger_claim_idle if claim_idle is None else claim_idle
        self._last_claim = 0.0

    def __call__(self, now: float) -> int:
        """Evaluate the ends read (and those claimed from dead consumers); how many
        executions were started."""
        # Claiming costs a command: at most twice per idle time, not at every poll.
        claim = time.monotonic() - self._last_claim >= min(self.claim_idle / 2, 5.0)
        if claim:
            self._last_claim = time.monotonic()
        entries = self.orchestrator.store.read_flow_ends(
            self.consumer, self.batch, self.claim_idle if claim else None
        )
        if not entries:
            return 0
        return self.evaluate(entries, now)

    def evaluate(self, entries: list[FlowEndEntry], now: float) -> int:
        """Evaluate ``entries`` and acknowledge them; how many executions started."""
        flows = self._listening_flows()
        started = 0
        for entry in entries:
            started += evaluate_end(self.orchestrator, flows, entry, now)
        # Acknowledged once the whole batch was evaluated: a crash in the middle of it
        # evaluates the batch again, which derived ids and the windows' memory of each
        # entry make harmless.
        self.orchestrator.store.ack_flow_ends([e.entry_id for e in entries])
        return started

    def _listening_flows(self) -> list[tuple[Flow, list[fc.FlowTrigger]]]:
        store = self.orchestrator.store
        out = []
        for namespace, flow_id in store.flow_listeners():
            try:
                flow = store.get_flow(namespace, flow_id)
            except FlowNotFound:
                continue
            triggers = parsed_triggers(flow)
            if triggers and not flow.disabled:
                out.append((flow, triggers))
        return out


def evaluate_end(
    orchestrator: Orchestrator,
    flows: list[tuple[Flow, list[fc.FlowTrigger]]],
    entry: FlowEndEntry,
    now: float,
) -> int:
    """Fire every Flow trigger of ``flows`` that ``entry`` (one end) satisfies; how many
    executions it started. Store errors propagate (the entry is evaluated again)."""
    up = _Upstream(orchestrator, entry)
    started = 0
    for flow, triggers in flows:
        # Kestra's FlowService.removeUnwanted: a flow never listens to itself.
        if (flow.namespace, flow.id) == (entry.namespace, entry.flow_id):
            _stop_after(orchestrator, flow, triggers, up, entry)
            continue
        for trigger in triggers:
            ref = TriggerRef(flow.namespace, flow.id, trigger.id)
            try:
                if _matches(orchestrator, flow, trigger, ref, up, entry, now):
                    started += _fire(orchestrator, flow, trigger, ref, up, entry, now)
            except StoreError:
                raise  # not acknowledged: evaluated again once the store answers
            except OstraError as exc:
                record.failed(orchestrator.store, ref, TYPE, str(exc), now)
            except Exception as exc:  # a bug must not make the entry come back forever
                log.exception("flow trigger %s failed on %s", ref.uid, entry.execution_id)
                record.failed(orchestrator.store, ref, TYPE, f"{type(exc).__name__}: {exc}", now)
    return started


def _stop_after(
    orchestrator: Orchestrator,
    flow: Flow,
    triggers: list[fc.FlowTrigger],
    up: _Upstream,
    entry: FlowEndEntry,
) -> None:
    """An execution of a listening flow ended: disable the trigger that started it if
    its ``stopAfter`` names the end state (Kestra's ``Trigger.resetExecution`` reads the
    execution's end state only: a move to PAUSED disables nothing)."""
    if not any(t.stop_after for t in triggers) or not StateType(entry.state).is_terminated():
        return
    ex = up.execution
    origin = ex.trigger.id if ex is not None and ex.trigger is not None else None
    for trigger in triggers:
        if trigger.stops(origin, entry.state):
            ref = TriggerRef(flow.namespace, flow.id, trigger.id)
            orchestrator.store.set_trigger_disabled(ref, True)
            log.info(
                "trigger %s disabled: %s ended %s (stopAfter)",
                ref.uid,
                entry.execution_id,
                entry.state,
            )


def _matches(
    orchestrator: Orchestrator,
    flow: Flow,
    trigger: fc.FlowTrigger,
    ref: TriggerRef,
    up: _Upstream,
    entry: FlowEndEntry,
    now: float,
) -> bool:
    if trigger.disabled:
        return False
    end = up.end()

    def expression(template: str) -> Any:
        return render(template, up.context(flow))

    if not trigger.plain_match(end, expression):
        return False
    mets = [(m, m.met(end, expression)) for m in trigger.multiple]
    # A window reset on success completes only with a condition met by this end: with
    # none met anywhere, nothing to record and nothing to fire (no Redis call).
    if mets and all(not met and m.reset_on_success for m, met in mets):
        return False
    state = orchestrator.store.trigger_state(ref)
    if state is not None and state.disabled:
        return False
    complete = True
    for m, met in mets:
        if not met and m.reset_on_success:
            complete = False
            continue
        done = orchestrator.store.flow_window(
            f"{ref.uid}|{m.id}",
            entry.entry_id,
            m.window.bounds(now),
            met,
            len(m.conditions),
            m.reset_on_success,
            now,
        )
        complete = complete and done
    return complete


def _fire(
    orchestrator: Orchestrator,
    flow: Flow,
    trigger: fc.FlowTrigger,
    ref: TriggerRef,
    up: _Upstream,
    entry: FlowEndEntry,
    now: float,
) -> int:
    ctx = up.context(flow)
    inputs = render_value(dict(trigger.inputs), ctx) if trigger.inputs else {}
    labels: Any = None
    if isinstance(trigger.labels, dict):
        labels = {str(k): str(v) for k, v in render_value(trigger.labels, ctx).items()}
    elif isinstance(trigger.labels, list):
        labels = {
            str(lb.get("key")): str(render_value(lb.get("value"), ctx))
            for lb in trigger.labels
            if isinstance(lb, dict)
        }
    origin = ExecutionTrigger(id=trigger.id, type=trigger.type, variables=up.variables())
    eid = derived_id("flowtrig", ref.uid, entry.entry_id, entry.execution_id)
    try:
        created = fire(orchestrator, flow, origin, eid=eid, inputs=inputs, labels=labels, now=now)
    except StateConflict:  # the flow was disabled meanwhile
        return 0
    return 0 if created is None else 1
