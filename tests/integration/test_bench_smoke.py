"""The B1 benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(90)
def test_linear_benchmark_reports_figures() -> None:
    result = run_bench("linear.py", "--tasks", "20", "--reps", "1", timeout=80)
    assert result["tasks"] == 20
    assert result["ostra_ms_per_task"] > 0
    assert result["raw_ms_per_task"] > 0
    assert result["ratio"] > 0  # reported, not judged: speed is the benchmark's business
    assert len(result["ostra"]["wall_ms_per_task"]) == 1
    assert len(result["raw"]["ms_per_task"]) == 1
    assert result["env"]["cpu_count"]
