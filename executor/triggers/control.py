"""Seeing and controlling triggers: the list (Kestra's ``Trigger`` shape), enabling and
disabling one, unlocking a stuck one. Used by the client, the API and the CLI.

Every trigger of every deployed flow is listed (schedules, Flow triggers, webhooks),
with what its state records (last fire, last error, disabled) and, for schedules, the
next tick, the claim of a process firing it and the backfill's progress.
"""

from __future__ import annotations

import time
from typing import Any

from executor.engine.schedule import utc
from executor.errors import FlowNotFound, StateConflict
from executor.flow import Flow, Trigger
from executor.store.base import Store, TriggerRef, TriggerState
from executor.triggers import backfill
from executor.triggers.backfill import TriggerNotFound
from executor.triggers.schedule import QUEUE, place, remove, schedules_of
from executor.triggers.types import canonical


def _iso(t: float | None) -> str | None:
    return None if t is None else utc(t).isoformat().replace("+00:00", "Z")


def _flows(store: Store, namespace: str | None, flow_id: str | None) -> list[Flow]:
    out = []
    for ns, fid in store.list_flows():
        if (namespace is not None and ns != namespace) or (flow_id is not None and fid != flow_id):
            continue
        try:
            out.append(store.get_flow(ns, fid))
        except FlowNotFound:
            continue  # deleted meanwhile
    return out


def listed(
    store: Store, namespace: str | None = None, flow_id: str | None = None
) -> list[tuple[Flow, Trigger]]:
    """The triggers of the deployed flows (of ``namespace``, ``flow_id`` if given), with
    their flow, in flow order: cheap (no trigger state read), for paging first."""
    return [(flow, t) for flow in _flows(store, namespace, flow_id) for t in flow.triggers]


def triggers(
    store: Store,
    namespace: str | None = None,
    flow_id: str | None = None,
    *,
    lease: float = 30.0,
    items: list[tuple[Flow, Trigger]] | None = None,
) -> list[dict[str, Any]]:
    """Every trigger of the deployed flows (of ``namespace``, ``flow_id`` if given; or
    ``items``, a page of ``listed``), in Kestra's ``Trigger`` JSON shape: ``namespace``,
    ``flowId``, ``triggerId``, ``date`` (last fire: a schedule's last tick),
    ``nextExecutionDate``, ``backfill``, ``stopAfter``, ``disabled``, ``executionId``
    (the last execution it started), ``updatedDate``, ``evaluateRunningDate`` (set while
    a process holds it), and Ostra's ``type``, ``fired``, ``error``, ``errorDate``."""
    if items is None:
        items = listed(store, namespace, flow_id)
    spaces = {flow.namespace for flow, _ in items}
    states = {
        s.ref.uid: s for s in store.trigger_states(spaces.pop() if len(spaces) == 1 else None)
    }
    schedules: dict[tuple[str, str], dict[str, Any]] = {}
    out = []
    for flow, t in items:
        key = (flow.namespace, flow.id)
        if key not in schedules:
            schedules[key] = schedules_of(flow)
        ref = TriggerRef(flow.namespace, flow.id, t.id)
        state = states.get(ref.uid) or TriggerState(ref=ref)
        extra = t.model_dump(by_alias=True)
        spec = schedules[key].get(t.id)
        position = store.due_position(QUEUE, ref.uid) if spec is not None else None
        disabled = bool(state.disabled or extra.get("disabled") or flow.disabled)
        out.append(
            {
                "tenantId": flow.tenant_id or "main",
                "namespace": flow.namespace,
                "flowId": flow.id,
                "triggerId": t.id,
                "type": canonical(t.type) or t.type,
                "date": _iso(state.date),
                "nextExecutionDate": (
                    _iso(float(position.tick)) if position and not disabled else None
                ),
                "backfill": backfill.status(store, ref) if spec is not None else None,
                "stopAfter": [str(s) for s in extra.get("stopAfter") or []] or None,
                "disabled": disabled,
                "executionId": state.execution_id,
                "updatedDate": _iso(
                    max(filter(None, [state.date, state.error_date]), default=None)
                ),
                "evaluateRunningDate": (
                    _iso(position.claimed_until - lease)
                    if position and position.claimed_until
                    else None
                ),
                "fired": state.fired,
                "error": state.error,
                "errorDate": _iso(state.error_date),
            }
        )
    return out


def trigger(store: Store, ref: TriggerRef, *, lease: float = 30.0) -> dict[str, Any]:
    """One trigger's entry of ``triggers`` (``TriggerNotFound`` if the flow has none)."""
    flow = _flow_trigger(store, ref)
    item = next(t for t in flow.triggers if t.id == ref.trigger_id)
    return triggers(store, lease=lease, items=[(flow, item)])[0]


def _flow_trigger(store: Store, ref: TriggerRef) -> Flow:
    try:
        flow = store.get_flow(ref.namespace, ref.flow_id)
    except FlowNotFound as exc:
        raise TriggerNotFound(f"flow {ref.namespace}.{ref.flow_id} not found") from exc
    if not any(t.id == ref.trigger_id for t in flow.triggers):
        raise TriggerNotFound(
            f"flow {ref.namespace}.{ref.flow_id} has no trigger {ref.trigger_id!r}"
        )
    return flow


def set_disabled(store: Store, ref: TriggerRef, disabled: bool, now: float | None = None) -> None:
    """Disable trigger ``ref`` (whatever its flow says) or enable it again. A schedule
    enabled again goes on after the last tick it fired, so its
    ``recoverMissedSchedules`` decides what the time it was disabled missed (as
    Kestra's ``TriggerController.update``)."""
    flow = _flow_trigger(store, ref)
    store.set_trigger_disabled(ref, disabled)
    spec = schedules_of(flow).get(ref.trigger_id)
    if spec is None:
        return
    if disabled or flow.disabled or spec.disabled:
        remove(store, ref)
        return
    now = time.time() if now is None else now
    state = store.trigger_state(ref)
    place(store, ref, spec, state.date if state and state.date is not None else now)


def unlock(store: Store, ref: TriggerRef, now: float | None = None) -> None:
    """Drop the claim of the process firing ``ref`` (a schedule's tick or a backfill's
    step): it is due again at once. ``StateConflict`` if it is not locked."""
    _flow_trigger(store, ref)
    now = time.time() if now is None else now
    unlocked = store.due_unlock(QUEUE, ref.uid, now)
    unlocked = store.due_unlock(backfill.QUEUE, ref.uid, now) or unlocked
    if not unlocked:
        raise StateConflict("Trigger is not locked")
