"""Lease renewal, lease loss and kill watch for running attempts: two daemon threads per
process.

A running attempt holds a lease key with a TTL, holding ``host:pid:token`` (the token is
the attempt's own, ``executor.store.base.lease_holder``). While it runs, this module
renews it every quarter of the lease, so a worker that dies (SIGKILL, OOM, power loss)
stops renewing and another worker may take the task run over once the lease expires.
The tokens of the attempts of this process are known here (``holds``): a duplicate
delivery in the same process (thread, gevent, eventlet pools) sees that the holder is
alive.

A worker that cannot renew (Redis unreachable, the process stopped and continued) must
not go on once another worker may have taken over: each attempt's last successful
renewal is tracked, and ``lapse_margin`` before its lease could have expired in Redis the
attempt is *lost* here: it is interrupted as a kill interrupts it, and records nothing (the
next delivery records it as a lost attempt, ``RESUBMITTED``). The same happens at once
when a renewal finds the lease gone or another attempt's. The watchdog that decides this
does no I/O, so a renewal blocked on a dead connection cannot delay it.

The I/O thread also watches for kills: when an attempt's execution is KILLING, task
types that check ``ctx.killed()`` stop by themselves; an attempt still running
``KILL_GRACE`` seconds later is interrupted (``workers.interrupts``), so a Python
function that never checks is stopped too (only where the attempt runs in the main
thread: prefork and solo pools; elsewhere, stopping is cooperative).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from executor.errors import StoreError
from executor.state import StateType
from executor.store import Store

log = logging.getLogger(__name__)

#: Seconds between kill checks; and the grace given to a cooperative stop.
WATCH_PERIOD = 0.5
KILL_GRACE = 2.0
#: Seconds between two looks of the watchdog at the renewal times.
WATCHDOG_PERIOD = 0.1


def lapse_margin(lease_s: float) -> float:
    """How long before its lease could expire in Redis an attempt that could not renew it
    stops: covers the watchdog's period and the interrupt, so it stops before another
    worker may take over (which needs the lease expired, then a sweep or a delivery)."""
    return max(0.5, lease_s / 10)


@dataclass
class _Running:
    eid: str
    trid: str
    holder: str
    lease_s: float
    #: monotonic time the last renewal that held (or the start) was sent: the lease
    #: lasts at least ``lease_s`` from then.
    renewed_at: float
    started: bool = False
    interrupt: Callable[[], None] | None = None
    killed_at: float | None = None
    lost: bool = False
    done: bool = False  # its own code returned
    #: An afterExecution task run: it runs on once its execution ended KILLED.
    forced: bool = False


class Heartbeat:
    """Renews the leases of the attempts running in this process, stops those whose lease
    lapsed, and watches for kills."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._running: dict[str, _Running] = {}  # token -> attempt
        self._lock = threading.Lock()
        self._pid = 0

    # ------------------------------------------------------------------ the attempt's side

    def claim(self, token: str, eid: str, trid: str, holder: str, lease_s: float) -> None:
        """Call before asking for the lease ``holder`` (with ``token``): from then on the
        token is live here, and the lease counts from now."""
        with self._lock:
            self._running[token] = _Running(eid, trid, holder, lease_s, time.monotonic())
        # Started lazily in the process that runs attempts (after the pool forked).
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="ostra-heartbeat", daemon=True).start()
            threading.Thread(target=self._watchdog, name="ostra-lease-watch", daemon=True).start()

    def started(self, token: str, interrupt: Callable[[], None] | None = None) -> None:
        """The attempt of ``token`` got its lease and runs: renew it, interrupt it with
        ``interrupt`` (if any) when killed or lost."""
        with self._lock:
            r = self._running.get(token)
            if r is not None:
                r.started, r.interrupt = True, interrupt
                stop = r.lost
        if r is not None and stop and interrupt is not None:
            interrupt()

    def force(self, token: str) -> None:
        """The attempt of ``token`` runs an afterExecution task (Kestra's
        ``forceExecution``): its execution's kill does not interrupt it."""
        with self._lock:
            r = self._running.get(token)
            if r is not None:
                r.forced = True

    def ended(self, token: str) -> None:
        """The attempt's own code returned: nothing to interrupt any more (its lease is
        still renewed until ``remove``, while its end is being recorded)."""
        with self._lock:
            r = self._running.get(token)
            if r is not None:
                r.interrupt, r.done = None, True

    def remove(self, token: str) -> None:
        """Forget the attempt of ``token`` (its end recorded, or it never started)."""
        with self._lock:
            self._running.pop(token, None)

    def holds(self, token: str) -> bool:
        """True if ``token`` is an attempt of this process that is still live here."""
        with self._lock:
            r = self._running.get(token)
            return r is not None and not r.lost

    def lost(self, token: str) -> bool:
        """True once the attempt's lease lapsed or was found another's: it must stop and
        record nothing."""
        with self._lock:
            r = self._running.get(token)
            return r is not None and (r.lost or self._lapsing(r, time.monotonic()))

    # ------------------------------------------------------------------ the threads

    @staticmethod
    def _lapsing(r: _Running, now: float) -> bool:
        return now - r.renewed_at >= r.lease_s - lapse_margin(r.lease_s)

    def _lose(self, r: _Running, why: str) -> None:
        """Mark ``r`` lost and interrupt it (called with the lock held)."""
        if r.lost:
            return
        r.lost = True
        if r.started and not r.done:
            log.warning(
                "task run %s of execution %s: %s; stopping its attempt (it records nothing)",
                r.trid,
                r.eid,
                why,
            )
        if r.interrupt is not None:
            r.interrupt()
            r.interrupt = None

    def _watchdog(self) -> None:
        while True:
            time.sleep(WATCHDOG_PERIOD)
            now = time.monotonic()
            with self._lock:
                for r in self._running.values():
                    if not r.lost and self._lapsing(r, now):
                        self._lose(r, f"lease not renewed for {now - r.renewed_at:.1f}s")

    def _loop(self) -> None:
        last_renew = time.monotonic()
        while True:
            time.sleep(WATCH_PERIOD)
            with self._lock:
                running = {t: r for t, r in self._running.items() if r.started and not r.lost}
            if not running:
                continue
            try:
                if time.monotonic() - last_renew >= min(r.lease_s for r in running.values()) / 4:
                    self._renew(running)
                    last_renew = time.monotonic()
                self._watch_kills(running)
            except StoreError as exc:  # Redis away: keep trying, the lease may survive
                log.warning("heartbeat: %s", exc)

    def _renew(self, running: dict[str, _Running]) -> None:
        sent = time.monotonic()
        leases = {(r.eid, r.trid): r.lease_s for r in running.values()}
        holders = {(r.eid, r.trid): r.holder for r in running.values()}
        gone = self.store.renew_leases(leases, holders)
        with self._lock:
            for r in running.values():
                if r.lost:
                    continue
                if (r.eid, r.trid) in gone:
                    self._lose(r, "its lease lapsed or is another attempt's")
                else:
                    r.renewed_at = max(r.renewed_at, sent)

    def _watch_kills(self, running: dict[str, _Running]) -> None:
        eids = sorted({r.eid for r in running.values()})
        states = dict(zip(eids, self.store.execution_states(eids), strict=True))
        now = time.monotonic()
        with self._lock:
            for r in running.values():
                if r.forced or states[r.eid] not in (StateType.KILLING, StateType.KILLED, None):
                    continue
                if r.killed_at is None:
                    r.killed_at = now
                elif now - r.killed_at >= KILL_GRACE and r.interrupt is not None:
                    log.warning("execution %s killed: interrupting its running attempt", r.eid)
                    r.interrupt()
                    r.interrupt = None
