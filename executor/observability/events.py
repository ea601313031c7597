"""What the orchestration tells the metrics and the traces, in one place per event."""

from __future__ import annotations

import logging
import time

from executor.observability import metrics, tracing
from executor.state import StateType
from executor.store.base import Store

log = logging.getLogger(__name__)


def execution_ended(store: Store, eid: str, state: StateType) -> None:
    """Execution ``eid`` just ended in ``state``: count it and export its span (one read
    of its origin, only when metrics or tracing are on; a failure is logged, never
    raised: the end is recorded already)."""
    if not (metrics.ENABLED or tracing.ENABLED):
        return
    try:
        origin = store.execution_origin(eid)
    except Exception as exc:  # Redis away: the metric is lost, the execution is not
        log.debug("metrics: no origin for execution %s: %s", eid, exc)
        return
    if origin is None:
        return
    namespace, flow_id, created = origin
    now = time.time()
    metrics.count_execution_ended(
        namespace, flow_id, state.value, now - created if created else None
    )
    tracing.execution_ended(eid, namespace, flow_id, state.value, created or now, now)
