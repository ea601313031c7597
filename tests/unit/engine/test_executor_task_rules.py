"""The rules of Exit, Labels, Pause's wait and loop values, decided without a store."""

from __future__ import annotations

from typing import Any

import pytest

from executor.engine.flowables import (
    as_values,
    exit_state,
    merged_labels,
    new_labels,
    pause_wait,
)
from executor.state import StateType

S = StateType


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("SUCCESS", S.SUCCESS),
        ("warning", S.WARNING),
        ("KILLED", S.KILLED),
        ("FAILED", S.FAILED),
        ("CANCELED", S.CANCELLED),
        ("CANCELLED", S.CANCELLED),
    ],
)
def test_exit_states(raw: str, state: StateType) -> None:
    assert exit_state(raw) == state


def test_an_unknown_exit_state_is_named() -> None:
    with pytest.raises(ValueError, match="'DONE'"):
        exit_state("DONE")


@pytest.mark.parametrize(
    ("raw", "labels"),
    [
        ({"a": "1", "b": 2, "c": True}, {"a": "1", "b": "2", "c": "true"}),
        ([{"key": "a", "value": "1"}, {"key": "b", "value": 3.5}], {"a": "1", "b": "3.5"}),
        ('{"a": "x"}', {"a": "x"}),
    ],
)
def test_labels_shapes(raw: Any, labels: dict[str, str]) -> None:
    assert new_labels(raw) == labels


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"system.correlationId": "x"}, "system labels"),
        ("not json", "JSON map"),
        ("[1]", "JSON map"),
        ([1], "key, value"),
        (5, "map or a list"),
    ],
)
def test_bad_labels(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        new_labels(raw)


def test_merged_labels_override_in_place_and_append() -> None:
    assert merged_labels([("a", "1"), ("b", "2")], {"b": "x", "c": "3"}) == [
        ("a", "1"),
        ("b", "x"),
        ("c", "3"),
    ]


@pytest.mark.parametrize(
    ("props", "wait"),
    [
        ({}, (None, "RESUME")),
        ({"pauseDuration": "PT2S", "behavior": "warn"}, (2.0, "WARN")),
        ({"delay": "PT1S"}, (1.0, "RESUME")),
        ({"timeout": "PT3S"}, (3.0, "FAIL")),
        ({"delay": "PT1S", "timeout": "PT3S"}, (1.0, "RESUME")),  # a delay wins
        ({"pauseDuration": "PT1S", "delay": "PT9S"}, (1.0, "RESUME")),
    ],
)
def test_pause_wait(props: dict[str, Any], wait: tuple[float | None, str]) -> None:
    assert pause_wait(props) == wait


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ('["a", 1, {"k": "v"}]', ["a", "1", '{"k":"v"}']),
        (["a", 1, {"k": [1, 2]}], ["a", "1", '{"k":[1,2]}']),
        (["a", "b", "a", 1, "1"], ["a", "b", "1"]),
        ("[]", []),
        ([], []),
    ],
)
def test_loop_values(raw: Any, values: list[str]) -> None:
    assert as_values(raw) == values


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('[1, null, {"key": "my-key"}]', "Found '1' null values on Each"),
        (["a", None, None], "Found '2' null values on Each"),
        ([True], "unknown value element type"),
        ([1.5], "unknown value element type"),
        ("a, b", "JSON list"),
        ('{"a": 1}', "JSON list"),
        (5, "must be a list"),
    ],
)
def test_bad_loop_values(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_values(raw)
