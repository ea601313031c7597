"""The trigger loop: polls every kind of trigger that needs polling (schedules due,
ended executions a Flow trigger listens to) every ``OSTRA_TRIGGER_INTERVAL`` seconds.

It runs in ``ostra executor``, ``ostra server standalone`` and the main process of a
worker started with ``OSTRA_WORKER_TRIGGERS=true``. Any number of processes may run it
at once: each poller claims its work atomically in Redis, and what it starts has an
identity derived from what fired, so nothing fires twice and nothing waits for one
particular process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from executor.errors import OstraError
from executor.orchestrator import Orchestrator

log = logging.getLogger(__name__)

#: One kind of trigger's poll: does what is due at ``now`` (epoch s), returns how many
#: executions it started.
Poller = Callable[[float], int]


def default_pollers(orchestrator: Orchestrator) -> list[tuple[str, Poller]]:
    """The pollers every trigger loop runs, by name."""
    from executor.triggers import schedule
    from executor.triggers.flow_trigger import FlowEndsPoller

    return [("schedules", schedule.poller(orchestrator)), ("flow", FlowEndsPoller(orchestrator))]


class TriggerRunner:
    """Runs the pollers, each isolated from the others: one that fails is logged and
    the others still run."""

    def __init__(
        self, orchestrator: Orchestrator, pollers: list[tuple[str, Poller]] | None = None
    ) -> None:
        self.orchestrator = orchestrator
        self.pollers = default_pollers(orchestrator) if pollers is None else pollers

    def poll(self, now: float | None = None) -> int:
        """One pass of every poller; how many executions they started."""
        started = 0
        for name, poller in self.pollers:
            try:
                started += poller(time.time() if now is None else now)
            except OstraError as exc:
                log.warning("triggers: %s failed: %s", name, exc)
            except Exception:  # one broken poller must not stop the others
                log.exception("triggers: %s failed", name)
        return started

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.poll()
            stop.wait(interval)


def start_thread(
    orchestrator: Orchestrator, interval: float, stop: threading.Event
) -> threading.Thread:
    """Run a ``TriggerRunner`` in a daemon thread until ``stop`` is set."""
    runner = TriggerRunner(orchestrator)
    thread = threading.Thread(
        target=runner.run_forever, args=(interval, stop), name="ostra-triggers", daemon=True
    )
    thread.start()
    log.info("triggers: polling every %.2fs", interval)
    return thread
