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
import os
import socket
import threading
import time
from typing import Any

from celery import Celery, signals

from executor import dispatch
from executor.celery_config import celery_config
from executor.observability import tracing
from executor.observability.health import sweep_interval
from executor.settings import get_settings
from workers import metrics_dir

log = logging.getLogger(__name__)

app = Celery("workers", include=["workers.tasks"])
app.conf.update(celery_config(get_settings()))
dispatch.set_app(app)
tracing.install_log_ids()

_reconciler_stop = threading.Event()


def _watch(name: str, queues: list[str], interval: float, stop: threading.Event) -> None:
    """Say this worker is alive (``/health``), then sweep, every ``interval`` seconds."""
    from workers.runtime import reconciler, store

    sweeper = reconciler()
    while True:
        try:
            store().worker_seen(name, time.time(), queues)
        except Exception as exc:  # Redis away: said again at the next interval
            log.warning("ostra worker: cannot say it is alive: %s", exc)
        if stop.wait(interval):
            return
        try:
            sweeper.sweep()
        except Exception:  # never let the thread die: it is the safety net
            log.exception("reconciler sweep failed")


@signals.worker_ready.connect
def _start_reconciler(sender: Any = None, **_: Any) -> None:
    settings = get_settings()
    interval = sweep_interval(settings.lease_seconds)
    name = getattr(sender, "hostname", None) or f"{socket.gethostname()}:{os.getpid()}"
    try:
        queues = [q.name for q in sender.task_consumer.queues]
    except AttributeError:
        queues = [settings.queue]
    thread = threading.Thread(
        target=_watch,
        args=(name, queues, interval, _reconciler_stop),
        name="ostra-reconciler",
        daemon=True,
    )
    thread.start()
    log.info("ostra reconciler running every %.1fs", interval)
    if settings.worker_triggers:
        from executor.triggers.runner import start_thread
        from workers.runtime import orchestrator

        start_thread(orchestrator(), settings.trigger_interval, _reconciler_stop)
    if metrics_dir.wanted():
        try:
            serve_metrics()
        except (OSError, ValueError) as exc:  # a port in use: count on, say why it is not served
            log.error("ostra worker: cannot serve metrics on OSTRA_METRICS_PORT: %s", exc)


@signals.worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    _reconciler_stop.set()
    tracing.shutdown()
    metrics_dir.remove()


@signals.worker_process_shutdown.connect
def _pool_process_exits(pid: int | None = None, **_: Any) -> None:
    # A pool process about to exit: its spans are flushed and its live gauges dropped.
    tracing.shutdown()
    if metrics_dir.wanted():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def serve_metrics() -> None:
    """Serve the worker's metrics (every pool process's, added up) on
    ``OSTRA_METRICS_HOST`` (127.0.0.1) : ``OSTRA_METRICS_PORT``."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    port = int(os.environ["OSTRA_METRICS_PORT"])
    host = os.environ.get("OSTRA_METRICS_HOST", "127.0.0.1")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
    log.info("ostra worker metrics on http://%s:%d/metrics", host, port)
