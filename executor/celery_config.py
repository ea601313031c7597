"""Celery settings shared by the executor (which publishes) and the workers.

Reliability first (see ``shared/research/peers.md`` §3): JSON only, late acks, requeue
when a worker process dies, one message reserved at a time, no result backend (Redis
state is the store of record), task events on for Flower. The visibility timeout is the
redelivery backstop only: leases and the reconciler recover lost work much sooner, and
retry countdowns are capped below it (``max_countdown``).
"""

from __future__ import annotations

from typing import Any

from executor import broker
from executor.settings import Settings

RUN_TASK_RUN = "ostra.run_task_run"
NOOP = "ostra.noop"
# ``redis://`` and ``rediss://`` use kombu's Redis transport with the poison-message
# screen (``executor/broker.py``) in every process that builds Ostra's Celery config.
broker.install()


def max_countdown(settings: Settings) -> float:
    """The longest countdown a retry message may carry: half the visibility timeout."""
    return settings.visibility_timeout / 2


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for ``settings``."""
    from executor.store.keys import Keys  # the store imports this module

    transport = {
        "visibility_timeout": settings.visibility_timeout,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "health_check_interval": 25,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        "ostra_dead_letter_key": Keys(settings.prefix).dead_letters,
        "ostra_dead_letter_max": settings.dead_letter_max,
        "ostra_max_message_bytes": settings.max_message_bytes,
    }
    return {
        "broker_url": settings.url,
        "broker_transport_options": transport,
        "worker_consumer": "workers.consumer:Consumer",
        "visibility_timeout": settings.visibility_timeout,
        "broker_connection_retry_on_startup": True,
        # Ostra's jobs never store results (Redis state is the store of record); the
        # backend only serves ``ostra.noop``, the raw-Celery baseline of the benchmarks.
        "result_backend": settings.url,
        "result_expires": 3600,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_send_task_events": True,
        # No task-sent events: they double the cost of every publish (a second message);
        # Flower shows jobs from "received" on, with worker events.
        "task_send_sent_event": False,
        "task_default_queue": settings.queue,
        "worker_hijack_root_logger": False,
        "worker_soft_shutdown_timeout": 30.0,
        "worker_enable_soft_shutdown_on_idle": False,
        # Running attempts go on when the broker connection drops (Redis restarting):
        # their message may be delivered again, which their lease makes harmless (BUSY
        # while the attempt runs, DONE after), and the attempt writes its end once Redis
        # is back. Cancelling them would kill every running attempt at every blip.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_pool_limit": 10,
    }
