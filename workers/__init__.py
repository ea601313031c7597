"""Ostra's workers: the Celery app (``celery -A workers worker``), its jobs and task types.

``workers`` imports ``executor``, never the reverse: the executor enqueues task runs by
task name (``ostra.run_task_run``).
"""

# First: Prometheus's multiprocess mode must be set before prometheus-client is imported.
from workers import metrics_dir

metrics_dir.prepare()

from workers.app import app  # noqa: E402

__all__ = ["app"]
