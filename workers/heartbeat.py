"""Lease renewal for running attempts: one daemon thread per worker process.

A running attempt holds a lease key with a TTL. While the attempt runs, this thread
renews it every third of the lease, so a worker that dies (SIGKILL, OOM, power loss)
stops renewing and another worker may take the task run over once the lease expires.
"""

from __future__ import annotations

import logging
import os
import threading

from executor.errors import StoreError
from executor.store import RedisStore

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the leases of the attempts running in this process."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self._leases: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0

    def add(self, eid: str, trid: str, lease_s: float) -> None:
        with self._lock:
            self._leases[(eid, trid)] = lease_s
        # Started lazily in the process that runs attempts (after the pool forked).
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="ostra-heartbeat", daemon=True).start()

    def remove(self, eid: str, trid: str) -> None:
        with self._lock:
            self._leases.pop((eid, trid), None)

    def _loop(self) -> None:
        while True:
            with self._lock:
                leases = dict(self._leases)
            period = min(leases.values(), default=3.0) / 3
            self._wake.wait(max(period, 0.1))
            with self._lock:
                leases = dict(self._leases)
            if leases:
                try:
                    self.store.renew_leases(leases)
                except StoreError as exc:  # Redis away: keep trying, the lease may survive
                    log.warning("could not renew leases: %s", exc)
