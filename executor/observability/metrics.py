"""Prometheus metrics of every Ostra process (``prometheus-client``).

Counting is one branch when metrics are off and one labelled increment when on: the
functions below are called on the hot path (every attempt's end). They are on unless
``OSTRA_METRICS`` is ``0``/``false``/``off``; a worker serves them only with
``OSTRA_METRICS_PORT`` (``ostra worker --metrics-port``), and then counts in
Prometheus's multiprocess mode so that the prefork pool's children add up
(``executor.observability.multiproc``). The API serves its own at ``GET /metrics``.

=========================================  ==========  ===================================
metric                                     type        labels
=========================================  ==========  ===================================
``ostra_executions_created_total``          counter     namespace, flow_id
``ostra_executions_ended_total``            counter     namespace, flow_id, state
``ostra_execution_duration_seconds``        histogram   namespace, flow_id, state
``ostra_task_runs_ended_total``             counter     task_type, state
``ostra_attempts_ended_total``              counter     task_type, state
``ostra_attempt_duration_seconds``          histogram   task_type, state
``ostra_task_run_retries_total``            counter     task_type
``ostra_attempts_resubmitted_total``        counter     — (attempts lost with their
                                                        worker, recorded RESUBMITTED)
``ostra_reconciler_sweeps_total``           counter     —
``ostra_reconciler_recovered_total``        counter     action (``resent``, ``advanced``,
                                                        ``slot_freed``, ``resumed``)
``ostra_trigger_fires_total``               counter     namespace, flow_id, trigger_id, type
``ostra_render_budget_refusals_total``      counter     budget (``time``, ``size``)
``ostra_dead_letters_total``                counter     queue
=========================================  ==========  ===================================

Queue depth gauges (``ostra_queue_*``) are collected when scraped
(``executor.observability.queues.QueueCollector``).
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram

_OFF = {"0", "false", "no", "off"}

#: Whether this process counts (``OSTRA_METRICS``; on by default).
ENABLED = os.environ.get("OSTRA_METRICS", "1").strip().lower() not in _OFF

# Seconds: from a Return task's few milliseconds to a long batch job.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

executions_created_total = Counter(
    "ostra_executions_created",
    "Executions created (submitted, retried as a new execution, started by a Subflow)",
    ["namespace", "flow_id"],
)
executions_ended_total = Counter(
    "ostra_executions_ended",
    "Executions that ended, by end state",
    ["namespace", "flow_id", "state"],
)
execution_duration_seconds = Histogram(
    "ostra_execution_duration_seconds",
    "Seconds from an execution's creation to its end",
    ["namespace", "flow_id", "state"],
    buckets=_BUCKETS,
)
task_runs_ended_total = Counter(
    "ostra_task_runs_ended",
    "Task runs that ended on a worker, by end state",
    ["task_type", "state"],
)
attempts_ended_total = Counter(
    "ostra_attempts_ended", "Attempts that ended on a worker, by end state", ["task_type", "state"]
)
attempt_duration_seconds = Histogram(
    "ostra_attempt_duration_seconds",
    "Seconds one attempt ran on a worker",
    ["task_type", "state"],
    buckets=_BUCKETS,
)
retries_total = Counter(
    "ostra_task_run_retries", "Attempts that failed and were scheduled again", ["task_type"]
)
resubmitted_total = Counter(
    "ostra_attempts_resubmitted",
    "Attempts whose worker was lost, recorded RESUBMITTED by the next delivery",
)
reconciler_sweeps_total = Counter("ostra_reconciler_sweeps", "Reconciler sweeps done")
reconciler_recovered_total = Counter(
    "ostra_reconciler_recovered", "What reconciler sweeps moved on, by action", ["action"]
)
trigger_fires_total = Counter(
    "ostra_trigger_fires",
    "Trigger fires (schedules, flow triggers, webhooks), by trigger",
    ["namespace", "flow_id", "trigger_id", "type"],
)
render_budget_refusals_total = Counter(
    "ostra_render_budget_refusals",
    "Template renders refused for going over their budget",
    ["budget"],
)
dead_letters_total = Counter(
    "ostra_dead_letters", "Queue messages dead-lettered (poison messages)", ["queue"]
)


def count_execution_created(namespace: str, flow_id: str) -> None:
    """One execution of ``namespace.flow_id`` was created."""
    if ENABLED:
        executions_created_total.labels(namespace, flow_id).inc()


def count_execution_ended(
    namespace: str, flow_id: str, state: str, duration_s: float | None = None
) -> None:
    """One execution ended in ``state`` (``duration_s`` since it was created, if known)."""
    if ENABLED:
        executions_ended_total.labels(namespace, flow_id, state).inc()
        if duration_s is not None and duration_s >= 0:
            execution_duration_seconds.labels(namespace, flow_id, state).observe(duration_s)


def count_attempt_ended(
    task_type: str,
    attempt_state: str,
    duration_s: float,
    task_run_state: str | None,
    retried: bool,
) -> None:
    """One attempt of a ``task_type`` task ended: its state and duration, the task run's
    end state if it ended with it, and whether the task run was scheduled again."""
    if ENABLED:
        attempts_ended_total.labels(task_type, attempt_state).inc()
        attempt_duration_seconds.labels(task_type, attempt_state).observe(duration_s)
        if task_run_state is not None:
            task_runs_ended_total.labels(task_type, task_run_state).inc()
        if retried:
            retries_total.labels(task_type).inc()


def count_resubmitted() -> None:
    """An attempt was lost with its worker (recorded RESUBMITTED)."""
    if ENABLED:
        resubmitted_total.inc()


def count_sweep(recovered: dict[str, int]) -> None:
    """One reconciler sweep, and how many entries it moved on per action."""
    if ENABLED:
        reconciler_sweeps_total.inc()
        for action, n in recovered.items():
            if n:
                reconciler_recovered_total.labels(action).inc(n)


def count_trigger_fire(namespace: str, flow_id: str, trigger_id: str, type_: str) -> None:
    """Trigger ``trigger_id`` (of type ``type_``) of flow ``namespace.flow_id`` fired."""
    if ENABLED:
        trigger_fires_total.labels(namespace, flow_id, trigger_id, type_).inc()


def count_budget_refusal(budget: str) -> None:
    """A render went over its ``time`` or ``size`` budget."""
    if ENABLED:
        render_budget_refusals_total.labels(budget).inc()


def count_dead_letter(queue: str) -> None:
    """A message of ``queue`` was dead-lettered."""
    if ENABLED:
        dead_letters_total.labels(queue).inc()
