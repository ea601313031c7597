"""Health distinctions, the counting functions, trace ids and the queue's sub-lists."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from executor.observability import health, metrics, queues, tracing
from executor.pebble.budget import Budget, BudgetExceeded
from executor.store.memory import MemoryStore


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_health_tells_apart_no_worker_and_a_stalled_reconciler() -> None:
    store = MemoryStore()
    now = 10_000.0
    # lease 3 s: a sweep every 1.5 s; gone after 3 of them (4.5 s).
    report = health.check(store, 3.0, now=now)
    assert (report.workers, report.reconciler) == ("DOWN", "NEVER")
    store.worker_seen("w@h", now - 1, ["ostra"])
    store.record_sweep(now - 1)
    report = health.check(store, 3.0, now=now)
    assert report.ok and report.details["workersAlive"] == 1
    store.record_sweep(now - 10)
    report = health.check(store, 3.0, now=now)
    assert (report.workers, report.reconciler) == ("UP", "STALLED")
    assert report.as_json()["status"] == "UP"  # the API itself is live
    report = health.check(store, 3.0, now=now + 30)
    assert report.workers == "DOWN"


def test_trigger_fires_are_counted_by_trigger() -> None:
    labels = {"namespace": "obs", "flow_id": "f", "trigger_id": "every", "type": "Schedule"}
    before = sample("ostra_trigger_fires_total", labels)
    metrics.count_trigger_fire("obs", "f", "every", "Schedule")
    metrics.count_trigger_fire("obs", "f", "every", "Schedule")
    assert sample("ostra_trigger_fires_total", labels) == before + 2


def test_render_budget_refusals_are_counted_by_budget() -> None:
    before = sample("ostra_render_budget_refusals_total", {"budget": "size"})
    with pytest.raises(BudgetExceeded):
        Budget(max_bytes=10).check_size(11)
    assert sample("ostra_render_budget_refusals_total", {"budget": "size"}) == before + 1


def test_trace_context_derives_from_the_execution_id() -> None:
    tp = tracing.traceparent("e1")
    version, trace, span, flags = tp.split("-")
    assert (version, flags) == ("00", "01") and len(trace) == 32 and len(span) == 16
    assert tp == tracing.traceparent("e1") != tracing.traceparent("e2")
    child = tracing.traceparent("e1", "t1")
    assert child.split("-")[1] == trace and child.split("-")[2] != span


def test_exporter_name_reads_the_standard_variables() -> None:
    assert tracing.exporter_name({}) == ""
    assert tracing.exporter_name({"OTEL_TRACES_EXPORTER": "none"}) == ""
    assert tracing.exporter_name({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "otlp"
    assert tracing.exporter_name({"OTEL_TRACES_EXPORTER": "console"}) == "console"


def test_priority_sub_lists_are_named_as_kombu_names_them() -> None:
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    assert tuple(PRIORITY_STEPS) == queues.PRIORITY_STEPS
    assert Channel.sep == queues.SEP
    assert [k for _, k in queues.priority_lists("gpu")] == [
        "gpu",
        "gpu\x06\x163",
        "gpu\x06\x166",
        "gpu\x06\x169",
    ]
