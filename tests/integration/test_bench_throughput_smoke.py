"""The B2/B4 benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(70)
def test_throughput_benchmark_reports_figures() -> None:
    result = run_bench("throughput.py", "--executions", "20", "--raw", "100", timeout=60)
    assert result["executions"] == 20 and result["tasks"] == 5 and result["raw"] == 100
    for key in (
        "executions_per_s",
        "task_runs_per_s",
        "raw_tasks_per_s",
        "ratio",
        "commands_per_task_run",
        "raw_commands_per_task",
        "raw_queued_tasks_per_s",
    ):
        assert result[key] > 0, key  # reported, not judged: speed is the benchmark's business
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
    assert result["top_commands"] and result["raw_top_commands"]
    assert result["ostra"]["states"] == [{"SUCCESS": 20}]
    assert len(result["ostra"]["wall_s"]) == 1 and len(result["raw_side"]["wall_s"]) == 1
    assert result["env"]["cpu_count"]
