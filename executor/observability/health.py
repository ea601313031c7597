"""What ``/health`` tells apart: Redis down, no worker alive, the reconciler stalled.

Every worker's main process says it is alive (``Store.worker_seen``) and sweeps, once
per sweep interval (:func:`sweep_interval`); whichever process sweeps notes when
(``Store.record_sweep``). A worker not seen for ``OSTRA_HEALTH_PERIODS`` (3) intervals
is gone; no sweep for as many intervals is a stalled reconciler.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from executor.store.base import Store

#: Sweep intervals without a sign of life after which a worker or the reconciler is
#: reported gone (``OSTRA_HEALTH_PERIODS``).
DEFAULT_PERIODS = 3


def sweep_interval(lease_seconds: float) -> float:
    """Seconds between two sweeps (and two signs of life of a worker): half the lease,
    between 0.5 and 10."""
    return max(0.5, min(lease_seconds / 2, 10.0))


def periods() -> int:
    """``OSTRA_HEALTH_PERIODS``: intervals without a sign of life before ``DOWN``."""
    raw = os.environ.get("OSTRA_HEALTH_PERIODS", "").strip()
    try:
        return max(1, int(raw)) if raw else DEFAULT_PERIODS
    except ValueError:
        return DEFAULT_PERIODS


@dataclass
class Report:
    """The health of one Ostra deployment, as ``/health`` answers it."""

    redis: str = "UP"
    workers: str = "UP"
    reconciler: str = "UP"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Everything is UP."""
        return self.redis == self.workers == self.reconciler == "UP"

    def as_json(self) -> dict[str, Any]:
        """The JSON body: ``status`` and ``redis`` (UP/DOWN, the API's liveness, as
        before), ``workers`` (UP/DOWN), ``reconciler`` (UP, STALLED, or NEVER when no sweep
        was ever recorded), ``ok`` (all three UP) and ``details``."""
        status = "UP" if self.redis == "UP" else "DOWN"
        return {
            "status": status,
            "redis": self.redis,
            "workers": self.workers,
            "reconciler": self.reconciler,
            "ok": self.ok,
            "details": self.details,
        }


def check(store: Store, lease_seconds: float, now: float | None = None) -> Report:
    """The deployment's health as ``store`` shows it (``StoreUnavailable`` propagates:
    Redis is down)."""
    now = time.time() if now is None else now
    window = periods() * sweep_interval(lease_seconds)
    alive = store.workers_seen(now - window)
    last = store.last_sweep()
    report = Report(
        workers="UP" if alive else "DOWN",
        reconciler="NEVER" if last is None else ("UP" if now - last <= window else "STALLED"),
    )
    report.details = {
        "workersAlive": len(alive),
        "workers": [name for name, _ in alive[:50]],
        "lastSweepSecondsAgo": round(now - last, 3) if last is not None else None,
        "windowSeconds": window,
    }
    return report
