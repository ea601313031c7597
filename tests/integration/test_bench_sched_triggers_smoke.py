"""The schedules benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(150)
def test_triggers_benchmark_reports_figures() -> None:
    result = run_bench(
        "triggers.py", *("--schedules", "100", "--flows", "4", "--lead", "12"), timeout=140
    )
    assert result["schedules"] == 100 and result["flows"] == 4
    assert result["fire_s_to_last_created"] >= result["fire_s_to_first_created"] >= 0
    assert result["commands_per_tick"] > 0 and result["top_commands_per_tick"]
    # The benchmark itself checks each schedule fired once (one execution per trigger,
    # its tick as trigger.date); shares are counted from the processes' logs.
    assert len(result["shares"]) == 2 and 0 < sum(result["shares"]) <= 100
    assert result["env"]["cpu_count"]
