"""The B2/B4 benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.mark.timeout(70)
def test_throughput_benchmark_reports_figures() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/throughput.py", "--executions", "20", "--raw", "100", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["executions"] == 20 and result["tasks"] == 5 and result["raw"] == 100
    for key in ("executions_per_s", "task_runs_per_s", "raw_tasks_per_s", "ratio",
                "commands_per_task_run", "raw_commands_per_task", "raw_queued_tasks_per_s"):
        assert result[key] > 0, key  # reported, not judged: speed is the benchmark's business
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
    assert result["top_commands"] and result["raw_top_commands"]
    assert result["ostra"]["states"] == [{"SUCCESS": 20}]
    assert len(result["ostra"]["wall_s"]) == 1 and len(result["raw_side"]["wall_s"]) == 1
    assert result["env"]["cpu_count"]
