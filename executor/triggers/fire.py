"""Start an execution because a trigger fired, exactly once per identity.

The caller derives the execution's id from what makes the fire unique (a schedule's
flow, trigger and tick; a Flow trigger's upstream execution; ...). Creating it is one
step that writes nothing if an execution with that id exists, so two processes firing
the same thing, or one firing it again after it died half-way, start one execution.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from executor.client import execution_labels
from executor.errors import StateConflict
from executor.flow import Flow
from executor.inputs import resolve_inputs
from executor.models import Execution, ExecutionTrigger, Label
from executor.observability import metrics
from executor.orchestrator import Orchestrator
from executor.store.base import TriggerRef

log = logging.getLogger(__name__)


def fire(
    orchestrator: Orchestrator,
    flow: Flow,
    origin: ExecutionTrigger,
    *,
    eid: str,
    inputs: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | list[Label] | None = None,
    system_labels: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Execution | None:
    """Create and start execution ``eid`` of ``flow`` started by trigger ``origin``; the
    execution as created, or None if ``eid`` exists already (it fired before).

    ``inputs`` are checked against the flow's input definitions
    (``InputValidationError`` names each bad one, nothing is stored); ``labels`` are the
    trigger's (checked like a user's), ``system_labels`` Ostra's own (``system.backfill``).
    Raises ``StateConflict`` if the flow is disabled. The fire is recorded on the
    trigger's state (``record.fired``).
    """
    if flow.disabled:
        raise StateConflict(f"flow {flow.namespace}.{flow.id} is disabled")
    store = orchestrator.store
    values = resolve_inputs(flow.inputs, inputs or {})
    all_labels = execution_labels(flow, labels, eid)
    for key, value in (system_labels or {}).items():
        all_labels.append(Label(key=key, value=value))
    first = orchestrator.first_rows(eid, flow)
    created = store.create_execution(
        eid,
        flow,
        values,
        all_labels,
        first,
        time.time() + orchestrator.settings.pending_grace,
        only_if_absent=True,
        origin=origin,
    )
    if created is None:
        return None
    ref = TriggerRef(flow.namespace, flow.id, origin.id)
    store.trigger_fired(ref, origin.type, eid, time.time() if now is None else now)
    metrics.count_trigger_fire(flow.namespace, flow.id, origin.id, origin.type)
    log.info("trigger %s.%s.%s started execution %s", flow.namespace, flow.id, origin.id, eid)
    orchestrator.begin_execution(eid, flow, first)
    return created
