"""Ostra's workers: the Celery app (``celery -A workers worker``), its jobs and task types.

``workers`` imports ``executor``, never the reverse: the executor enqueues task runs by
task name (``ostra.run_task_run``).
"""

from workers.app import app

__all__ = ["app"]
