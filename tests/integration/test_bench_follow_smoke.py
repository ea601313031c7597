"""The follow benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_follow_benchmark_reports_figures() -> None:
    result = run_bench(
        "follow.py",
        *("--followers", "10", "--gets", "5", "--tasks", "3", "--task-seconds", "5"),
        timeout=110,
    )
    assert result["followers"] == 10 and result["gets"] == 5
    assert result["idle_ms"] > 0 and result["followed_ms"] > 0
    assert result["ratio"] > 0  # reported, not judged: speed is the benchmark's business
    for run in (result["idle"]["before"], result["idle"]["after"], result["followed"]):
        assert run["gets"] == 5 and 0 < run["median_ms"] <= run["p95_ms"] <= run["max_ms"]
    streams = result["streams"]
    assert streams["ok"] == 10 and streams["refused"] == []
    assert streams["events"] >= 10  # each stream sent at least its first event
    assert result["env"]["cpu_count"]
