"""What a running task type sees: its attempt, a logger, metrics, and a kill check.

Task types are plain functions ``run(props, ctx) -> outputs``; ``ctx`` is a
``RunContext``. A Python-native task (``type: Python``) may take it as a parameter
named ``ctx`` to emit logs and metrics or read its attempt number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from executor.models import LogEntry, MetricEntry

if TYPE_CHECKING:
    from executor.store.base import Store

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


@dataclass
class RunContext:
    """The running attempt of a task run, as a task type sees it.

    Attributes:
        execution_id, task_run_id, task_id, namespace, flow_id: where this runs.
        attempt: the attempt number, 1 for the first run.
        timeout: the attempt's time limit in seconds, or None.
        deadline: ``time.monotonic()`` value at which the attempt times out, or None.
        value: the loop value of the task run (inside ForEach), or None.
        store, tenant: the state store and tenant (the KV tasks reach the store here).
        on_log: where log lines go (a worker stores them); without it they are kept in
            ``logs``, so a flood of lines is never held in memory by a worker.
        mask: masks the secrets (and SECRET inputs) this attempt resolved in a value; a
            task type that writes to the store itself checks what it writes with it.
    """

    execution_id: str = ""
    task_run_id: str = ""
    task_id: str = ""
    namespace: str = ""
    flow_id: str = ""
    attempt: int = 1
    timeout: float | None = None
    deadline: float | None = None
    value: str | None = None
    on_log: Callable[[LogEntry], None] | None = None
    on_metric: Callable[[MetricEntry], None] | None = None
    is_killed: Callable[[], bool] | None = None
    logs: list[LogEntry] = field(default_factory=list)
    metrics: list[MetricEntry] = field(default_factory=list)
    store: Store | None = None
    tenant: str = "main"
    mask: Callable[[Any], Any] | None = None

    def holds_secret(self, value: Any) -> bool:
        """True when ``value`` contains a secret or SECRET input this attempt resolved."""
        return self.mask is not None and self.mask(value) != value

    @property
    def attempts_count(self) -> int:
        """Attempts made before this one (Kestra's ``taskrun.attemptsCount``)."""
        return self.attempt - 1

    def log(self, message: str, level: str = "INFO") -> None:
        """Record one log line of this attempt."""
        level = level.upper()
        if level == "WARNING":
            level = "WARN"
        if level not in LEVELS:
            level = "INFO"
        entry = LogEntry(
            level=level,  # type: ignore[arg-type]
            message=str(message),
            execution_id=self.execution_id,
            task_run_id=self.task_run_id,
            task_id=self.task_id,
            attempt=self.attempt,
        )
        if self.on_log is not None:
            self.on_log(entry)  # the sink keeps it (a worker: the store, within its caps)
        else:
            self.logs.append(entry)

    def _metric(self, kind: str, name: str, value: float, tags: dict[str, Any]) -> None:
        entry = MetricEntry(
            type=kind,  # type: ignore[arg-type]
            name=name,
            value=float(value),
            tags={str(k): str(v) for k, v in tags.items()},
            execution_id=self.execution_id,
            task_run_id=self.task_run_id,
            task_id=self.task_id,
            attempt=self.attempt,
        )
        self.metrics.append(entry)
        if self.on_metric is not None:
            self.on_metric(entry)

    def counter(self, name: str, value: float = 1, **tags: Any) -> None:
        """Add ``value`` to the counter ``name``."""
        self._metric("counter", name, value, tags)

    def timer(self, name: str, seconds: float, **tags: Any) -> None:
        """Record a duration of ``seconds`` (stored in milliseconds, as Kestra does)."""
        self._metric("timer", name, seconds * 1000.0, tags)

    def killed(self) -> bool:
        """True once the execution was asked to stop; long tasks should check it."""
        return bool(self.is_killed and self.is_killed())

    def remaining(self) -> float | None:
        """Seconds left before the attempt times out, or None without a timeout."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())
