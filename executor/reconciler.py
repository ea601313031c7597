"""The reconciler: bounds how long a task run can stay stuck (DESIGN rule 5).

Every unfinished task run has an entry in the ``active`` sorted set, scored by the time
by which something should have happened to it: its lease deadline while RUNNING, its
retry time while RETRYING, a grace period while CREATED, a short delay between its end
and the orchestrator's advance. ``sweep`` looks at the entries past their deadline:

* ended task runs are advanced (the worker died between ending it and advancing);
* RUNNING task runs whose lease expired are sent again: the next worker records the
  lost attempt and starts a new one; CREATED or RETRYING ones nobody picked up are sent
  again only if no copy of their message is queued (``Orchestrator.resend``), so a
  worker group nobody consumes holds one copy, and they show as waiting for it;
* Pause task runs whose ``pauseDuration`` is over are resumed (so a pause ends within
  one sweep interval of its duration);
* executions past the deadline of a MAX_DURATION ``sla`` meet it (``executor/sla.py``;
  a due queue claimed atomically, so once whichever process sweeps);
* executions that ended more than the retention (``OSTRA_RETENTION``) ago are deleted.

Any number of processes may run it (each worker's main process does); a lock in Redis
lets one sweep at a time.

Nothing one entry holds can stop a sweep: any error while handling an entry (a broken
record, a broker error, a bug) is logged with its ids and the entry is backed off (due
again 2 s later, then 4, 8... up to ``OSTRA_RECONCILER_BACKOFF``), and the sweep goes on
with the next entry; each later phase (concurrency slots, promotions, retention) runs
even if one before it failed. The flow-author code a sweep may run (templates rendered
when it advances, starts or wakes a task run: a flowable's values, ``runIf``, Subflow
inputs, flow outputs, a Loop's condition...) runs under one render budget per entry
(``executor.pebble.budget``): every render made for one entry shares one
``OSTRA_RENDER_TIMEOUT``, so a template bomb costs a sweep that long at most; and a
sweep takes entries for half its lock's time at most, leaving the rest to the next one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from executor.engine.outcomes import pause_expired
from executor.errors import OstraError, StateConflict
from executor.observability import metrics
from executor.orchestrator import Orchestrator
from executor.pebble.budget import render_budget
from executor.state import StateType

log = logging.getLogger(__name__)

#: Seconds an entry whose sweep failed waits the first time (doubled at each failure).
BACKOFF_BASE = 2.0
#: What a sweep counts it moved on (``ostra_reconciler_recovered_total{action}``).
RECOVERY_ACTIONS = ("resent", "advanced", "slot_freed", "resumed")

T = TypeVar("T")


class Reconciler:
    """Finds stuck task runs and moves them on."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.store = orchestrator.store
        self.settings = orchestrator.settings
        self._token = uuid.uuid4().hex
        #: What the last sweep moved on, by action (``RECOVERY_ACTIONS``; the metrics).
        self.recovered: dict[str, int] = dict.fromkeys(RECOVERY_ACTIONS, 0)

    def sweep(self, now: float | None = None, *, lock_ms: int = 10_000) -> int:
        """One pass over due entries; returns how many it acted on (0 without the lock)."""
        now = time.time() if now is None else now
        if not self.store.acquire_sweep_lock(self._token, lock_ms):
            return 0
        acted = 0
        self.recovered = dict.fromkeys(RECOVERY_ACTIONS, 0)
        try:
            # Entries for half the lock's time at most: the lock must outlive the sweep,
            # and entries left over are still due at the next one.
            acted += self._entries(now, time.monotonic() + lock_ms / 2000)
            freed = self._phase("concurrency slots", self._slots, 0)
            self.recovered["slot_freed"] += freed
            acted += freed
            self._phase("promotions", self.orchestrator.promote, None)
            self._phase("sla deadlines", lambda: self.orchestrator.sla.sweep(now), 0)
            self._phase("retention", lambda: self.purge(now), None)
            self._phase("last sweep", lambda: self.store.record_sweep(time.time()), None)
        finally:
            self.store.release_sweep_lock(self._token)
        metrics.count_sweep(self.recovered)
        return acted

    def _entries(self, now: float, until: float) -> int:
        """Handle the due entries (until monotonic time ``until``), each on its own: one
        that fails is backed off."""
        acted = 0
        swept: list[tuple[str, str]] = []
        failed = False
        for eid, trid in self.store.due_active(now):
            if time.monotonic() > until:
                break
            try:
                # Every template this entry renders shares one budget (module doc).
                with render_budget():
                    acted += self._one(eid, trid, now)
                swept.append((eid, trid))
            except Exception as exc:
                failed = True
                self._back_off(eid, trid, now, exc)
        if swept or failed:
            self._phase("failure counts", lambda: self.store.forget_active_failures(swept), None)
        return acted

    def _back_off(self, eid: str, trid: str, now: float, exc: Exception) -> None:
        """Log a failed entry and put it off, longer at each failure in a row."""
        # Ostra's own errors (a conflict, Redis away) say enough; others get a traceback.
        expected = isinstance(exc, OstraError)
        try:
            failures, until = self.store.back_off_active(
                eid, trid, now, BACKOFF_BASE, self.settings.reconciler_backoff
            )
        except Exception as again:
            log.warning(
                "reconciler: task run %s of execution %s failed: %r (and backing it off: %s)",
                trid,
                eid,
                exc,
                again,
                exc_info=None if expected else exc,
            )
            return
        log.warning(
            "reconciler: task run %s of execution %s failed (%d in a row, next look in %.0f s): %s",
            trid,
            eid,
            failures,
            until - now,
            exc if expected else repr(exc),
            exc_info=None if expected else exc,
        )

    @staticmethod
    def _phase(name: str, step: Callable[[], T], default: T) -> T:
        """Run one phase of a sweep; a failure is logged and the sweep goes on."""
        try:
            return step()
        except Exception:
            log.exception("reconciler: %s failed", name)
            return default

    def purge(self, now: float, budget_s: float = 0.5) -> None:
        """Delete executions whose retention is over (none with a retention of 0, which
        keeps them forever), in batches, for at most ``budget_s``
        (so a backlog is worked off over a few sweeps, never blocking one for long)."""
        if self.settings.retention <= 0:
            return  # kept forever
        until = time.monotonic() + budget_s
        while self.store.purge_ended(now - self.settings.retention) and time.monotonic() < until:
            pass

    def _one(self, eid: str, trid: str, now: float) -> int:
        row = self.store.task_run_row(eid, trid)
        if row is None:
            self.store.clear_active(eid, trid)
            return 1
        if row.state.is_terminated():
            self.orchestrator.advance(eid, trid)
            self.recovered["advanced"] += 1
            return 1
        if row.state == StateType.PAUSED:
            return self._pause_due(eid, trid, now)
        if row.state == StateType.RUNNING and self.store.lease_alive(eid, trid):
            self.store.set_active(eid, trid, now + self.settings.lease_seconds)
            return 0
        if row.state == StateType.RETRYING:
            retry_at = self.store.retry_at(eid, trid)
            if retry_at > now:
                self.store.set_active(eid, trid, retry_at + 1)
                return 0
        lapsed = row.state == StateType.RUNNING
        sent = self.orchestrator.resend(eid, trid, lease_lapsed=lapsed)
        self.store.set_active(eid, trid, now + self.settings.pending_grace)
        if sent is not None and sent.status != "SENT":
            # Its copy is still queued (a worker group nobody consumes, or all busy).
            log.info(
                "reconciler: task run %s of execution %s still queued (%s), since %s",
                trid,
                eid,
                sent.status,
                sent.since or "?",
            )
            return 0
        log.warning(
            "reconciler: sent task run %s of execution %s again (%s)", trid, eid, row.state.value
        )
        self.recovered["resent"] += 1
        return 1

    def _slots(self) -> int:
        """Free concurrency slots still held by executions that ended (or vanished)."""
        freed = 0
        for namespace, flow_id, holders in self.store.slot_holders():
            if not holders:
                continue
            states = self.store.execution_states(holders)
            ended = [
                e for e, s in zip(holders, states, strict=True) if s is None or s.is_terminated()
            ]
            if not ended:
                continue
            try:
                limit = self.store.get_flow(namespace, flow_id).concurrency
            except OstraError:
                limit = None
            for eid in ended:
                self.store.release_slot(eid, namespace, flow_id, limit.limit if limit else 0)
                freed += 1
        return freed

    def _pause_due(self, eid: str, trid: str, now: float) -> int:
        """Resume a Pause task run whose ``pauseDuration`` is over, as its ``behavior`` says."""
        at = float(self.store.task_run_field(eid, trid, "resumeAt") or 0)
        if not at:
            self.store.clear_active(eid, trid)  # waits for a resume call
            return 0
        if at > now:
            self.store.set_active(eid, trid, at)
            return 0
        self.recovered["resumed"] += 1
        if self.store.task_run_field(eid, trid, "loop") == "1":
            self.orchestrator.tasks.loop_wake(eid, trid)  # a loop's next iteration is due
            return 1
        behavior = self.store.task_run_field(eid, trid, "behavior") or "RESUME"
        try:
            self.orchestrator.control.resume(eid, pause_state=pause_expired(behavior), only=trid)
        except StateConflict:
            self.store.clear_active(eid, trid)  # resumed or killed meanwhile
        return 1

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set."""
        while not stop.wait(interval):
            try:
                self.sweep()
            except Exception:  # never let the thread die: it is the safety net
                log.exception("reconciler sweep failed")
