"""The search benchmark runs end to end, tiny, and reports figures (it does not judge
them)."""

from __future__ import annotations

import pytest

from tests.helpers.bench import run_bench


@pytest.mark.timeout(90)
def test_searchpage_benchmark_reports_figures() -> None:
    result = run_bench("search.py", "--sizes", "60,300", "--reps", "2", "--size", "5", timeout=80)
    assert result["sizes"] == [60, 300] and result["page_size"] == 5
    small, big = result["points"]
    assert (small["executions"], big["executions"]) == (60, 300)
    # the seeding made what the searches expect: a tenth per namespace, 80% SUCCESS of
    # them, half labelled env=prod
    assert big["total"] == {"unfiltered": 300, "namespace+state": 24, "label": 150}
    assert all(n == 5 for n in big["results"].values())
    for name in ("unfiltered", "namespace+state", "label"):
        assert small["ms"][name] > 0 and big["ms"][name] > 0, name
        assert result["ratio_last_first"][name] > 0, name
    assert isinstance(result["within_target"], bool)
    assert result["env"]["redis_server"]
