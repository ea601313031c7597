"""A render has a time budget and a size budget, checked while it renders."""

from __future__ import annotations

import time

import pytest

from executor.errors import TemplateError
from executor.pebble import budget
from executor.settings import Settings
from executor.templating import render, render_value

CPU_BOMB = "{% for i in 1..100000 %}{% for j in 1..100000 %}{% endfor %}{% endfor %}"
# each step doubles the printed size of the list while its memory stays linear
DAG_BOMB = (
    "{% set ns = namespace(l=['x']) %}{% for i in 1..64 %}"
    "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l | length }}"
)


def test_settings_have_render_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().render_timeout == 2.0
    assert Settings().render_max_bytes == 1024 * 1024
    monkeypatch.setenv("OSTRA_RENDER_TIMEOUT", "0.5")
    monkeypatch.setenv("OSTRA_RENDER_MAX_BYTES", "1000")
    s = Settings()
    assert (s.render_timeout, s.render_max_bytes) == (0.5, 1000)
    monkeypatch.setenv("OSTRA_RENDER_TIMEOUT", "0")
    with pytest.raises(ValueError, match="render_timeout"):
        Settings()


@pytest.mark.parametrize(
    "template",
    [
        CPU_BOMB,
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n) if false else '' }}{% for i in 1..1000 %}{{ f(n) }}"
        "{% endfor %}{% endmacro %}{{ f(1) }}",
    ],
)
def test_cpu_bomb_fails_at_the_deadline(template: str) -> None:
    start = time.monotonic()
    with budget.limits(timeout=0.3), pytest.raises(TemplateError) as exc:
        render(template, {})
    elapsed = time.monotonic() - start
    assert "time budget of 0.3 s" in str(exc.value) or "too complex" in str(exc.value)
    assert elapsed < 1.5


def test_deadline_names_the_budget_and_setting() -> None:
    with budget.limits(timeout=0.2), pytest.raises(budget.BudgetExceeded) as exc:
        render_value({"a": CPU_BOMB}, {})
    assert "render_timeout" in str(exc.value)
    assert "OSTRA_RENDER_TIMEOUT" in str(exc.value)


def test_render_value_has_one_budget_for_the_whole_value() -> None:
    # ten slow strings do not get ten deadlines
    slow = "{% for i in 1..3000 %}{% for j in 1..100 %}{% endfor %}{% endfor %}"
    start = time.monotonic()
    with budget.limits(timeout=0.3), pytest.raises(budget.BudgetExceeded):
        render_value([slow] * 20, {})
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    "template",
    [
        DAG_BOMB,
        "{% set ns = namespace(l=['x']) %}{% for i in 1..64 %}"
        "{% set ns.l = [ns.l] + [ns.l] %}{% endfor %}{{ ns.l | length }}",
        "{% set ns = namespace(d={}) %}{% for i in 1..64 %}"
        "{% set ns.d = {'a': ns.d, 'b': ns.d} %}{% endfor %}{{ ns.d | length }}",
        "{% set s = 'x' * 1000 %}{{ [s] * 2000 }}",
        "{{ 0..100000000 }}",
        "{{ 'a' * 2000 }}",
    ],
)
def test_memory_bomb_fails_before_it_is_built(template: str) -> None:
    start = time.monotonic()
    with budget.limits(max_bytes=1000) if "2000 }}" in template else budget.limits():
        with pytest.raises(budget.BudgetExceeded, match="too large: exceeds the size budget"):
            render_value(template, {})
    assert time.monotonic() - start < 1.0


def test_size_budget_is_configurable() -> None:
    with budget.limits(max_bytes=100):
        assert render("{{ 'a' * 100 }}", {}) == "a" * 100
        with pytest.raises(TemplateError, match="size budget of 100 characters"):
            render("{{ 'a' * 101 }}", {})
        with pytest.raises(TemplateError, match="render_max_bytes"):
            render("{% for i in 1..101 %}a{% endfor %}", {})


def test_values_within_the_budget_render() -> None:
    assert render_value("{{ [1, [2, 3], {'a': 'b'}] }}", {}) == [1, [2, 3], {"a": "b"}]
    assert render("{% for i in 1..1000 %}{% endfor %}done", {}) == "done"


def test_nested_renders_share_the_outer_budget() -> None:
    with budget.limits(timeout=5.0), budget.render_budget() as outer:
        with budget.render_budget() as inner:
            assert inner is outer


def test_filter_authors_can_check_the_budget() -> None:
    with budget.limits(max_bytes=10), budget.render_budget():
        budget.check_size(10)
        with pytest.raises(budget.BudgetExceeded, match="repeat too large"):
            budget.check_size(11, "repeat")
        assert budget.max_bytes() == 10
    # outside a render there is no deadline
    budget.check_deadline()


# A jq program and a regular expression run inside one call that the render cannot
# interrupt between steps: they get the time left in the render all the same.
UNINTERRUPTIBLE = [
    # jq builds the whole array in C before the first result reaches Python
    "{{ 1 | jq('[limit(1000000000; repeat(1))] | length') }}",
    # catastrophic backtracking: (a|aa)+ on a string that almost matches
    "{{ ('a' * 60) ~ '!' | replace({'(a|aa)+$': 'x'}, regexp=true) }}",
    "{{ ('a' * 60) ~ '!' | split('(a|aa)+$') }}",
]


@pytest.mark.parametrize("template", UNINTERRUPTIBLE)
def test_jq_and_regex_end_within_the_time_budget(template: str) -> None:
    started = time.monotonic()
    with budget.limits(timeout=0.5), pytest.raises(budget.BudgetExceeded, match="time budget"):
        render(template, {})
    assert time.monotonic() - started < 2.0


def _children() -> set[int]:
    """This process's children, zombies included (from /proc)."""
    import os
    from pathlib import Path

    me, out = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            out.add(int(stat.parent.name))
    return out


def test_a_jq_program_over_budget_leaves_no_process_behind() -> None:
    before = _children()
    with budget.limits(timeout=0.3), pytest.raises(budget.BudgetExceeded):
        render("{{ 1 | jq('[limit(1000000000; repeat(1))]') }}", {})
    assert _children() <= before  # the killed child was waited for: not even a zombie


def test_jq_in_its_child_process_still_gives_every_result() -> None:
    assert render_value("{{ {'a': [1, 2, 3]} | jq('.a[] * 2') }}", {}) == [2, 4, 6]
    with pytest.raises(TemplateError, match="jq: cannot apply"):
        render("{{ {'a': 1} | jq('.a[]') }}", {})
