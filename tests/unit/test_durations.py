"""The one duration parser: java.time.Duration.parse's grammar, plus Kestra's numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executor.durations import DurationError, format_duration, parse_duration
from executor.errors import FlowValidationError
from executor.flow import Flow

H, M, S = 3600, 60, 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H30M", 1 * H + 30 * M),
        ("pt5s", 5),
        ("P2DT3H4M", 2 * 86400 + 3 * H + 4 * M),
        ("PT-6H3M", -6 * H + 3 * M),
        ("-PT6H3M", -(6 * H + 3 * M)),
        ("-PT-6H+3M", 6 * H - 3 * M),
        ("PT0.5S", 0.5),
        ("PT-0.5S", -0.5),
        ("PT1,25S", 1.25),
        ("P1D", 86400),
        ("  PT10M ", 10 * M),
        ("1.5", 1.5),
        ("30", 30),
    ],
)
def test_java_duration_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["P1Y", "P1M", "PT", "P", "P1DT", "1h", "PT1H2", "PT1.1234567891S", "", "soon"]
)
def test_other_forms_are_refused_with_the_value_named(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def test_numbers_and_other_types() -> None:
    assert parse_duration(2) == timedelta(seconds=2)
    assert parse_duration(timedelta(minutes=1)) == timedelta(minutes=1)
    for bad in (True, [1], {"s": 1}):
        with pytest.raises(DurationError):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "PT0S"), (5400, "PT1H30M"), (0.5, "PT0.5S"), (86400, "PT24H"), (-21420, "PT-5H-57M")],
)
def test_printed_as_java_prints_it(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text
    assert parse_duration(text) == timedelta(seconds=seconds)


def _flow(task: str) -> Flow:
    return Flow.from_yaml(f"id: d\nnamespace: t\ntasks:\n  - {task}\n")


def test_every_duration_of_a_flow_goes_through_it() -> None:
    flow = _flow(
        "{id: a, type: Sleep, duration: pt0.5s, timeout: P0DT1m,"
        " retry: {type: exponential, interval: pt1s, maxInterval: PT1M, maxDuration: pt1h,"
        " maxAttempts: 3}}"
    )
    task = flow.tasks[0]
    assert task.timeout == timedelta(minutes=1)
    assert task.retry is not None and task.retry.max_duration == timedelta(hours=1)
    assert task.to_dict()["timeout"] == "PT1M"
    pause = _flow("{id: p, type: Pause, pauseDuration: pt2s}")
    assert pause.tasks[0].properties["pauseDuration"] == "pt2s"


def test_a_bad_duration_is_a_problem_at_its_path() -> None:
    with pytest.raises(FlowValidationError) as info:
        _flow(
            "{id: a, type: Sleep, duration: 1h, timeout: P1Y,"
            " retry: {type: constant, interval: x, maxAttempts: 2}}"
        )
    found = {p.path: p.message for p in info.value.problems}
    assert "invalid duration '1h'" in found["tasks[0].duration"]
    assert "invalid duration 'P1Y'" in found["tasks[0].timeout"]
    assert "tasks[0].retry.interval" in found
