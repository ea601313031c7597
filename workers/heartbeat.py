"""Lease renewal and kill watch for running attempts: one daemon thread per process.

A running attempt holds a lease key with a TTL. While it runs, this thread renews it
every third of the lease, so a worker that dies (SIGKILL, OOM, power loss) stops
renewing and another worker may take the task run over once the lease expires.

The same thread watches for kills: when an attempt's execution is KILLING, task types
that check ``ctx.killed()`` stop by themselves; an attempt still running ``KILL_GRACE``
seconds later is interrupted (``workers.interrupts``), so a Python function that never
checks is stopped too.
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


@dataclass
class _Running:
    lease_s: float
    interrupt: Callable[[], None] | None
    killed_at: float | None = None


class Heartbeat:
    """Renews the leases of the attempts running in this process and watches for kills."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._running: dict[tuple[str, str], _Running] = {}
        self._lock = threading.Lock()
        self._pid = 0

    def add(
        self, eid: str, trid: str, lease_s: float, interrupt: Callable[[], None] | None = None
    ) -> None:
        with self._lock:
            self._running[(eid, trid)] = _Running(lease_s, interrupt)
        # Started lazily in the process that runs attempts (after the pool forked).
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="ostra-heartbeat", daemon=True).start()

    def remove(self, eid: str, trid: str) -> None:
        with self._lock:
            self._running.pop((eid, trid), None)

    def _loop(self) -> None:
        last_renew = time.monotonic()
        while True:
            time.sleep(WATCH_PERIOD)
            with self._lock:
                running = dict(self._running)
            if not running:
                continue
            try:
                if time.monotonic() - last_renew >= min(r.lease_s for r in running.values()) / 3:
                    self.store.renew_leases({key: r.lease_s for key, r in running.items()})
                    last_renew = time.monotonic()
                self._watch_kills(running)
            except StoreError as exc:  # Redis away: keep trying, the lease may survive
                log.warning("heartbeat: %s", exc)

    def _watch_kills(self, running: dict[tuple[str, str], _Running]) -> None:
        eids = sorted({eid for eid, _ in running})
        states = dict(zip(eids, self.store.execution_states(eids), strict=True))
        now = time.monotonic()
        for (eid, _trid), r in running.items():
            if states[eid] not in (StateType.KILLING, StateType.KILLED, None):
                continue
            if r.killed_at is None:
                r.killed_at = now
            elif now - r.killed_at >= KILL_GRACE and r.interrupt is not None:
                log.warning("execution %s killed: interrupting its running attempt", eid)
                r.interrupt()
                r.interrupt = None
