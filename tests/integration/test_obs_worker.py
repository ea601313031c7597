"""A real prefork worker serving metrics and exporting traces: scrape its /metrics after
a known workload, and read the spans its pool processes exported (execution -> task run
-> attempt, parents right, across the process boundary)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis, free_port
from executor.observability import tracing
from tests.helpers.faults import make_worker

pytestmark = pytest.mark.integration

FLOW = """
id: obsflow
namespace: obs.worker
tasks:
  - {id: hello, type: Return, format: hi}
  - {id: log, type: Log, message: "{{ outputs.hello.value }}"}
"""
FAILING = """
id: obsfail
namespace: obs.worker
tasks:
  - id: boom
    type: Fail
    errorMessage: "no"
    retry: {type: constant, interval: PT0.1S, maxAttempts: 2}
"""


def _value(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if line.startswith(f"{name}{{") or line.startswith(f"{name} "):
            head, _, value = line.rpartition(" ")
            got = head[len(name) :].strip("{}")
            if all(part in got.split(",") for part in want.split(",") if part):
                total += float(value)
    return total


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own: the session's worker (started by other tests) consumes
    the default queue of the shared one, and its attempts would not be counted here."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


def test_metrics_and_traces_of_a_known_workload(own_redis: EmbeddedRedis, tmp_path: Path) -> None:
    redis_server = own_redis
    port = free_port()
    spans = tmp_path / "spans.jsonl"
    w = make_worker(
        redis_server.url,
        tmp_path,
        "obs",
        concurrency=2,
        env={
            "OSTRA_METRICS_PORT": str(port),
            "OTEL_TRACES_EXPORTER": "file",
            "OSTRA_OTEL_FILE": str(spans),
        },
    )
    client = Client(redis_server.url)
    w.start()
    try:
        ok = [client.submit(Flow.from_yaml(FLOW)) for _ in range(3)]
        bad = client.submit(Flow.from_yaml(FAILING))
        for e in [*ok, bad]:
            client.wait(e.id, timeout=60)
        deadline = time.monotonic() + 15
        ret = "io.kestra.plugin.core.debug.Return"
        while True:  # the main process sweeps every 1.5 s (lease 3 s)
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            # A pool process counts an attempt just after the step that ended it (which
            # may end the execution): the last count can follow the wait by a moment.
            counted = _value(text, "ostra_attempts_ended_total", task_type=ret) >= 3
            swept = _value(text, "ostra_reconciler_sweeps_total") >= 1
            if (counted and swept) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        w.stop()
        client.store.r.close()

    fail = "io.kestra.plugin.core.execution.Fail"
    assert _value(text, "ostra_attempts_ended_total", task_type=ret, state="SUCCESS") == 3
    assert _value(text, "ostra_task_runs_ended_total", task_type=ret, state="SUCCESS") == 3
    assert _value(text, "ostra_attempts_ended_total", task_type=fail, state="FAILED") == 2
    assert _value(text, "ostra_task_runs_ended_total", task_type=fail, state="FAILED") == 1
    assert _value(text, "ostra_task_run_retries_total", task_type=fail) == 1
    assert (
        _value(
            text,
            "ostra_executions_ended_total",
            namespace="obs.worker",
            flow_id="obsflow",
            state="SUCCESS",
        )
        == 3
    )
    assert (
        _value(
            text,
            "ostra_execution_duration_seconds_count",
            namespace="obs.worker",
            flow_id="obsflow",
        )
        == 3
    )
    assert _value(text, "ostra_attempt_duration_seconds_count", task_type=ret) == 3
    assert _value(text, "ostra_reconciler_sweeps_total") >= 1

    records = [json.loads(line) for line in spans.read_text().splitlines()]
    eid = ok[0].id
    mine = [r for r in records if r["attributes"].get("ostra.execution.id") == eid]
    by_name = {r["name"]: r for r in mine}
    root = by_name["execution obs.worker.obsflow"]
    run = by_name["task run hello"]
    attempt = by_name["attempt 1 hello"]
    assert {r["trace_id"] for r in mine} == {f"{tracing.trace_id(eid):032x}"}
    assert root["parent_id"] is None
    assert run["parent_id"] == root["span_id"]
    assert attempt["parent_id"] == run["span_id"]
    assert attempt["attributes"]["ostra.task.type"] == ret
    # Exported by the worker's pool processes, not by this test's process.
    assert attempt["pid"] != os.getpid()
    assert attempt["start"] >= run["start"] and root["start"] <= run["start"]
    # The worker's log line of the execution's end carries the ids of the span it ran in.
    log = (tmp_path / "obs.log").read_text()
    line = next(x for x in log.splitlines() if f"execution {eid} ended" in x)
    assert f"trace_id={root['trace_id']}" in line
