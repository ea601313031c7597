"""Backfills of Schedule triggers: one execution per tick of a time window that has none
yet, run by the trigger loop (any process) at a bounded rate, pausable, resumable and
cancellable, with progress.

A backfill is a hash (store ``backfill_*``) and one member of the due queue
``backfill``, claimed like a schedule's tick (so one process at a time runs a step of
it, and a process that dies hands it back). Each step fires up to ``rate x
OSTRA_TRIGGER_INTERVAL`` ticks (at least one) and is due again ``n / rate`` seconds
later. A tick that already ran is skipped, whatever its state: its execution exists
(the same id a schedule gives it) or the schedule's record of ticks that ran has it
(the newest ``OSTRA_SCHEDULE_TICKS_KEPT``, kept after executions are purged).
``rerun=True`` fires every tick again, with new ids. Executions carry the label
``system.backfill: true`` and their tick in ``trigger.date``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from executor.engine.schedule import next_accepted
from executor.errors import (
    FlowNotFound,
    InputValidationError,
    NotFoundError,
    Problem,
    StateConflict,
)
from executor.ids import derived_id
from executor.store.base import Store, TriggerRef
from executor.triggers.schedule_spec import acceptor, schedules_of

if TYPE_CHECKING:
    from executor.triggers.schedule import Scheduler

QUEUE = "backfill"
RUNNING, DONE, CANCELED, FAILED = "RUNNING", "DONE", "CANCELED", "FAILED"


class TriggerNotFound(NotFoundError):
    """No such Schedule trigger."""


def _schedule(store: Store, ref: TriggerRef) -> Any:
    try:
        flow = store.get_flow(ref.namespace, ref.flow_id)
    except FlowNotFound as exc:
        raise TriggerNotFound(f"flow {ref.namespace}.{ref.flow_id} not found") from exc
    spec = schedules_of(flow).get(ref.trigger_id)
    if spec is None:
        raise TriggerNotFound(
            f"flow {ref.namespace}.{ref.flow_id} has no Schedule trigger {ref.trigger_id!r}"
        )
    return spec


def start(
    store: Store,
    ref: TriggerRef,
    start_at: datetime,
    end_at: datetime,
    *,
    inputs: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    rerun: bool = False,
    rate: float | None = None,
    default_rate: float = 10.0,
    max_ticks: int = 100_000,
    now: float | None = None,
) -> dict[str, Any]:
    """Start a backfill of schedule ``ref`` over ``[start_at, end_at]``; its status.

    Refused (nothing stored): ``TriggerNotFound``; ``StateConflict`` if one is running;
    ``InputValidationError`` for an empty or reversed window, a rate <= 0 or more than
    ``max_ticks`` ticks.
    """
    spec = _schedule(store, ref)
    now = time.time() if now is None else now
    if end_at < start_at:
        raise InputValidationError([Problem("end", f"{end_at.isoformat()} is before start")])
    rate = default_rate if rate is None else rate
    if not rate > 0:
        raise InputValidationError([Problem("rate", f"must be > 0, got {rate}")])
    current = store.backfill_get(ref.uid)
    if current and current.get("status") == RUNNING:
        raise StateConflict(f"trigger {ref.uid} has a backfill running; cancel it first")
    cron = spec.cron_()
    accept = acceptor(spec, cron, strict=False)
    lo, hi = start_at.timestamp(), end_at.timestamp()
    total, first, tick = 0, None, next_accepted(cron, lo - 1, accept)
    while tick is not None and tick <= hi:
        total += 1
        if total > max_ticks:
            raise InputValidationError(
                [
                    Problem(
                        "end",
                        f"the window has more than {max_ticks} ticks (OSTRA_BACKFILL_MAX_TICKS)",
                    )
                ]
            )
        first = tick if first is None else first
        tick = next_accepted(cron, tick, accept)
    fields = {
        "id": uuid.uuid4().hex[:12],
        "start": repr(lo),
        "end": repr(hi),
        "current": str(first or ""),
        "total": str(total),
        "done": "0",
        "fired": "0",
        "paused": "0",
        "status": RUNNING if total else DONE,
        "inputs": json.dumps(dict(inputs or {})),
        "labels": json.dumps(dict(labels or {})),
        "rerun": "1" if rerun else "0",
        "rate": repr(float(rate)),
        "created": repr(now),
    }
    store.backfill_put(ref.uid, fields, replace=True)
    if total:
        store.due_set(QUEUE, ref.uid, str(first), now)
    return status(store, ref) or {}


def set_paused(
    store: Store, ref: TriggerRef, paused: bool, now: float | None = None
) -> dict[str, Any]:
    """Pause or resume the running backfill of ``ref``; its status."""
    current = store.backfill_get(ref.uid)
    if not current or current.get("status") != RUNNING:
        raise StateConflict(f"trigger {ref.uid} has no backfill running")
    store.backfill_put(ref.uid, {"paused": "1" if paused else "0"})
    if not paused:
        position = store.due_position(QUEUE, ref.uid)
        if position is not None and position.due is not None:
            store.due_set(QUEUE, ref.uid, position.tick, time.time() if now is None else now)
    return status(store, ref) or {}


def cancel(store: Store, ref: TriggerRef) -> dict[str, Any]:
    """Stop the backfill of ``ref`` (no tick fires after the one in flight, if any)."""
    current = store.backfill_get(ref.uid)
    if not current:
        raise StateConflict(f"trigger {ref.uid} has no backfill")
    store.due_set(QUEUE, ref.uid, None)
    if current.get("status") == RUNNING:
        store.backfill_put(ref.uid, {"status": CANCELED})
    return status(store, ref) or {}


def status(store: Store, ref: TriggerRef) -> dict[str, Any] | None:
    """The backfill of ``ref`` in Kestra's ``Backfill`` shape (``start``, ``end``,
    ``currentDate``, ``paused``, ``inputs``, ``labels``) plus its progress (``total``,
    ``done``, ``fired``, ``status``, ``rerun``, ``rate``); None if it never had one."""
    from executor.engine.schedule import utc

    b = store.backfill_get(ref.uid)
    if not b:
        return None
    current = b.get("current") or ""
    labels = json.loads(b.get("labels") or "{}")
    return {
        "start": utc(float(b["start"])).isoformat(),
        "end": utc(float(b["end"])).isoformat(),
        "currentDate": utc(float(current)).isoformat() if current else None,
        "paused": b.get("paused") == "1",
        "inputs": json.loads(b.get("inputs") or "{}"),
        "labels": [{"key": k, "value": v} for k, v in labels.items()],
        "total": int(b.get("total") or 0),
        "done": int(b.get("done") or 0),
        "fired": int(b.get("fired") or 0),
        "status": b.get("status", RUNNING),
        "rerun": b.get("rerun") == "1",
        "rate": float(b.get("rate") or 0),
    }


def poll(scheduler: Scheduler, now: float) -> int:
    """Run the next step of each backfill that is due; how many executions started."""
    store = scheduler.store
    started = 0
    for uid, tick in store.due_claim(QUEUE, now, 20, scheduler.lease):
        started += _step(scheduler, uid, int(float(tick)), now)
    return started


def _step(scheduler: Scheduler, uid: str, tick: int, now: float) -> int:
    store = scheduler.store
    ref = TriggerRef.of_uid(uid)
    b = store.backfill_get(uid)
    if not b or b.get("status") != RUNNING:
        store.due_advance(QUEUE, uid, str(tick), None)
        return 0
    if b.get("paused") == "1":  # looked at again in a second
        store.due_advance(QUEUE, uid, str(tick), str(tick), now + 1.0)
        return 0
    loaded = scheduler.load(ref)
    if loaded is None:
        store.backfill_put(uid, {"status": FAILED, "error": "the schedule is gone"})
        store.due_advance(QUEUE, uid, str(tick), None)
        return 0
    rate = float(b.get("rate") or 10.0)
    n = max(1, min(100, int(rate * scheduler.interval)))
    end = float(b["end"])
    rerun = b.get("rerun") == "1"
    inputs = json.loads(b.get("inputs") or "{}")
    labels = json.loads(b.get("labels") or "{}")
    cron, spec = loaded.cron, loaded.spec
    accept = acceptor(spec, cron, strict=False)
    batch: list[int] = []
    t: int | None = tick
    while t is not None and t <= end and t <= now and len(batch) < n:
        batch.append(t)
        t = next_accepted(cron, t, accept)
    already = set() if rerun else store.ticks_ran(uid, [str(x) for x in batch])
    state = store.trigger_state(ref) if batch else None
    last = state.date if state is not None and state.date is not None else 0.0
    started = 0
    for x in batch:
        if str(x) in already:
            continue
        eid = derived_id("backfill", uid, b["id"], str(x)) if rerun else None
        made = scheduler.fire_one(
            loaded.flow,
            spec,
            cron,
            x,
            accept,
            eid=eid,
            inputs=inputs,
            labels=labels,
            system_labels={"system.backfill": "true"},
            date=max(float(x), last),  # the schedule's last tick stays its last tick
        )
        started += made is not None
    done = int(b.get("done") or 0) + len(batch)
    finished = t is None or t > end
    store.backfill_put(
        uid,
        {
            "done": str(done),
            "fired": str(int(b.get("fired") or 0) + started),
            "current": str(t if t is not None and not finished else batch[-1] if batch else tick),
            **({"status": DONE} if finished else {}),
        },
    )
    if not rerun:
        store.ticks_record(uid, [str(x) for x in batch], scheduler.keep)
    if finished:
        store.due_advance(QUEUE, uid, str(tick), None)
    else:
        due = max(float(t or now), now + len(batch) / rate) if batch else float(t or now)
        store.due_advance(QUEUE, uid, str(tick), str(t), due)
    return started
