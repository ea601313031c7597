"""The render benchmark runs end to end and reports figures (it does not judge them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench


@pytest.mark.timeout(70)
def test_render_benchmark_reports_figures() -> None:
    result = run_bench("render.py", "--renders", "200", "--reps", "1", timeout=60)
    assert (result["renders"], result["reps"]) == (200, 1)
    for key in ("ostra_text", "ostra_native", "jinja_text", "jinja_native"):
        assert result["us_per_render"][key] > 0, key
        assert len(result["reps_us"][key]) == 1, key
    assert result["ratio_text"] > 0 and result["ratio_native"] > 0
    assert result["env"]["cpu_count"]
