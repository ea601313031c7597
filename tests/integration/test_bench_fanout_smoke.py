"""The B3 benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(90)
def test_fanout_benchmark_reports_figures() -> None:
    result = run_bench(
        "fanout.py", "--tasks", "50", "--reps", "1", "--big", "200", "--small", "30", timeout=85
    )
    assert result["tasks"] == 50
    assert result["ostra_task_runs_per_s"] > 0
    assert result["raw_tasks_per_s"] > 0
    assert result["raw_results_tasks_per_s"] > 0
    assert result["ratio"] > 0  # reported, not judged: speed is the benchmark's business
    assert len(result["ostra"]["wall_s"]) == 1
    assert len(result["raw"]["tasks_per_s"]) == 1

    big = result["big"]
    assert "error" not in big, big
    assert big["tasks"] == 200 and big["children"] == 200
    assert big["history_s"] > 0 and big["task_runs_per_s"] > 0
    for edge in ("first_100", "last_100"):
        assert big[edge]["cycle_ms"] > 0 and big[edge]["run_ms"] > 0
    assert big["cycle_growth"] > 0

    memory = result["memory"]
    for reading in ("start", "after_small", "after_big", "after_small_2"):
        assert memory[reading]["pool_total_kib"] > 0
    assert memory["small_run"]["failed"] == 0
    assert result["env"]["cpu_count"]
