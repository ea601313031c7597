"""Health distinctions, the counting functions, trace ids and the queue's sub-lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from prometheus_client import REGISTRY

from executor.api import kestra as K
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
    # Tracing is off in this process: nothing records the trace, so it is not sampled.
    assert (version, flags) == ("00", "00") and len(trace) == 32 and len(span) == 16
    assert tp == tracing.traceparent("e1") != tracing.traceparent("e2")
    child = tracing.traceparent("e1", "t1")
    assert child.split("-")[1] == trace and child.split("-")[2] != span


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Tracing on in this process (file exporter), as the environment would turn it on."""
    spans = tmp_path / "spans.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "file")
    monkeypatch.setenv("OSTRA_OTEL_FILE", str(spans))
    monkeypatch.setattr(tracing, "ENABLED", True)
    tracing.shutdown()
    yield spans
    tracing.shutdown()


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_ended_spans_are_exported_by_the_batch_processor_on_shutdown(traced: Path) -> None:
    with tracing.attempt_span("e1", "t1", "hello", "", 1) as span:
        assert span is not None
        # Current while it runs: a log line or a span the task makes takes its ids.
        ctx = otel_trace.get_current_span().get_span_context()
        assert (ctx.trace_id, ctx.span_id) == (tracing.trace_id("e1"), span.span_id)
        span.set_attribute("ostra.state", "FAILED")
    tracing.task_run_ended("e1", "t1", "hello", "Return", "FAILED", 1.0, 2.0, 1)
    tracing.execution_ended("e1", "ns", "flow", "FAILED", 0.5, 3.0)
    assert not otel_trace.get_current_span().get_span_context().is_valid
    tracing.shutdown()  # flushes: a pool process does this before it exits
    by_name = {s["name"]: s for s in _spans(traced)}
    assert set(by_name) == {"attempt 1 hello", "task run hello", "execution ns.flow"}
    root, run, attempt = (
        by_name["execution ns.flow"],
        by_name["task run hello"],
        by_name["attempt 1 hello"],
    )
    assert root["parent_id"] is None and run["parent_id"] == root["span_id"]
    assert attempt["parent_id"] == run["span_id"] == tracing.traceparent("e1", "t1")[36:52]
    assert (run["start"], run["end"]) == (1_000_000_000, 2_000_000_000)
    assert {s["status"] for s in by_name.values()} == {"ERROR"}


def test_a_ratio_sampler_keeps_or_drops_each_execution_whole(
    traced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    eids = [f"exec-{i}" for i in range(60)]
    for eid in eids:
        with tracing.attempt_span(eid, "t1", "hello", "", 1):
            pass
        tracing.task_run_ended(eid, "t1", "hello", "Return", "SUCCESS", 1.0, 2.0, 1)
        tracing.execution_ended(eid, "ns", "flow", "SUCCESS", 0.5, 3.0)
    tracing.shutdown()
    per_execution: dict[str, int] = {}
    for s in _spans(traced):
        eid = s["attributes"]["ostra.execution.id"]
        per_execution[eid] = per_execution.get(eid, 0) + 1
    assert set(per_execution.values()) == {3}  # whole traces only
    assert 10 < len(per_execution) < 50  # about half of them
    for eid in eids:  # the traceparent every process sends says the same
        flags = tracing.traceparent(eid).split("-")[3]
        assert flags == ("01" if eid in per_execution else "00")


def test_the_api_gives_an_execution_its_trace_parent_when_tracing_is_on(
    traced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kestra's Execution.traceParent (kestrapy's Execution.trace_parent).
    def dump() -> dict[str, Any]:
        return {
            "id": "e1",
            "state": {"current": "CREATED", "histories": []},
            "metadata": {"attemptNumber": 1},
        }

    assert K.execution_json(dump())["traceParent"] == tracing.traceparent("e1")
    monkeypatch.setattr(tracing, "ENABLED", False)
    assert "traceParent" not in K.execution_json(dump())


def test_exporter_name_reads_the_standard_variables() -> None:
    assert tracing.exporter_name({}) == ""
    assert tracing.exporter_name({"OTEL_TRACES_EXPORTER": "none"}) == ""
    assert tracing.exporter_name({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "otlp"
    assert tracing.exporter_name({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    assert (
        tracing.exporter_name({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) == ""
    )


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
