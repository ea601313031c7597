"""The Celery app: ``celery -A workers worker`` and ``celery -A workers flower``.

Settings come from ``executor.celery_config`` (JSON only, late acks, requeue on worker
loss, prefetch 1, no result backend, task events on). Each worker's main process also
runs the reconciler, which resends task runs whose worker died (see
``executor/reconciler.py``); any number of them may run, one sweeps at a time.

A message no worker can run (malformed, unknown, oversized) is dead-lettered, not fatal:
the broker transport (``executor/broker.py``) and the consumer (``workers/consumer.py``)
screen every delivery.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, signals

from executor import dispatch
from executor.celery_config import celery_config
from executor.settings import get_settings

log = logging.getLogger(__name__)

app = Celery("workers", include=["workers.tasks"])
app.conf.update(celery_config(get_settings()))
dispatch.set_app(app)

_reconciler_stop = threading.Event()


@signals.worker_ready.connect
def _start_reconciler(**_: Any) -> None:
    from workers.runtime import reconciler

    settings = get_settings()
    interval = max(0.5, min(settings.lease_seconds / 2, 10.0))
    thread = threading.Thread(
        target=reconciler().run_forever,
        args=(interval, _reconciler_stop),
        name="ostra-reconciler",
        daemon=True,
    )
    thread.start()
    log.info("ostra reconciler running every %.1fs", interval)
    if settings.worker_triggers:
        from executor.triggers.runner import start_thread
        from workers.runtime import orchestrator

        start_thread(orchestrator(), settings.trigger_interval, _reconciler_stop)


@signals.worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    _reconciler_stop.set()
