"""Outcome rules as tables: an attempt's end -> the task run's end; the execution's end."""

from __future__ import annotations

from typing import Any

import pytest

from executor.engine.outcomes import (
    BY_RANK,
    RANK,
    attempt_outcome,
    execution_end,
    lua_constants,
    pause_expired,
    settle,
    subflow_outcome,
    worst,
)
from executor.flow import TaskDef
from executor.state import StateType as S

RETRY = {"type": "constant", "interval": "PT2S", "maxAttempts": 3}


def task(**extra: Any) -> TaskDef:
    return TaskDef.model_validate({"id": "t", "type": "Log", "message": "m", **extra})


# (task properties, attempt number, attempt end, retryable, elapsed s) -> (state, retry in)
ATTEMPTS = [
    ({}, 1, S.SUCCESS, True, 0, S.SUCCESS, None),
    ({}, 1, S.FAILED, True, 0, S.FAILED, None),
    ({}, 1, S.KILLED, False, 0, S.KILLED, None),
    ({"retry": RETRY}, 1, S.FAILED, True, 0, S.RETRYING, 2.0),
    ({"retry": RETRY}, 2, S.FAILED, True, 2, S.RETRYING, 2.0),
    ({"retry": RETRY}, 3, S.FAILED, True, 4, S.FAILED, None),  # maxAttempts counts the first
    ({"retry": RETRY}, 1, S.FAILED, False, 0, S.FAILED, None),  # not retryable (a bad property)
    ({"retry": RETRY}, 1, S.KILLED, False, 0, S.KILLED, None),  # a kill is never retried
    ({"retry": {**RETRY, "maxDuration": "PT3S"}}, 2, S.FAILED, True, 2, S.FAILED, None),
    ({"retry": RETRY}, 2, S.SUCCESS, True, 2, S.SUCCESS, None),
    ({"retry": {**RETRY, "warningOnRetry": True}}, 2, S.SUCCESS, True, 2, S.WARNING, None),
    ({"retry": {**RETRY, "warningOnRetry": True}}, 1, S.SUCCESS, True, 0, S.SUCCESS, None),
    (
        {"retry": {**RETRY, "warningOnRetry": True}, "allowWarning": True},
        2,
        S.SUCCESS,
        True,
        2,
        S.SUCCESS,
        None,
    ),
    ({"allowFailure": True}, 1, S.FAILED, True, 0, S.WARNING, None),
    ({"allowFailure": True, "allowWarning": True}, 1, S.FAILED, True, 0, S.SUCCESS, None),
    ({"allowFailure": True, "retry": RETRY}, 1, S.FAILED, True, 0, S.RETRYING, 2.0),
    ({"allowFailure": True, "retry": RETRY}, 3, S.FAILED, True, 4, S.WARNING, None),
    ({"allowFailure": True}, 1, S.KILLED, False, 0, S.KILLED, None),  # killed stays killed
]


@pytest.mark.parametrize(
    ("props", "n", "end", "retryable", "elapsed", "state", "retry_in"), ATTEMPTS
)
def test_attempt_outcome(
    props: dict[str, Any],
    n: int,
    end: S,
    retryable: bool,
    elapsed: float,
    state: S,
    retry_in: float | None,
) -> None:
    outcome = attempt_outcome(task(**props), n, end, retryable=retryable, elapsed_s=elapsed)
    assert (outcome.state, outcome.retry_in) == (state, retry_in)


def test_settle() -> None:
    assert settle(task(), S.FAILED) == S.FAILED
    assert settle(task(allowFailure=True), S.FAILED) == S.WARNING
    assert settle(task(allowWarning=True), S.WARNING) == S.SUCCESS
    assert settle(task(allowWarning=True), S.FAILED) == S.FAILED
    assert settle(task(allowFailure=True), S.KILLED) == S.KILLED


@pytest.mark.parametrize(
    ("states", "execution", "end"),
    [
        ([], S.RUNNING, S.SUCCESS),
        ([S.SUCCESS, S.SKIPPED, S.RETRIED], S.RUNNING, S.SUCCESS),
        ([S.SUCCESS, S.WARNING], S.RUNNING, S.WARNING),
        ([S.WARNING, S.FAILED, S.SUCCESS], S.RUNNING, S.FAILED),
        ([S.SUCCESS, S.CANCELLED], S.RUNNING, S.FAILED),
        ([S.FAILED, S.KILLED], S.RUNNING, S.KILLED),
        ([S.SUCCESS], S.KILLING, S.KILLED),  # a kill wins whatever ended
        ([S.SUCCESS, S.PAUSED], S.RUNNING, S.PAUSED),
    ],
)
def test_execution_end(states: list[S], execution: S, end: S) -> None:
    assert execution_end(states, execution) == end


def test_worst_follows_the_rank_table() -> None:
    for state in S:
        assert worst([S.SUCCESS, state]) == BY_RANK[RANK.get(state, 0)]
    assert [BY_RANK[RANK[s]] for s in (S.KILLED, S.FAILED, S.WARNING)] == [
        S.KILLED,
        S.FAILED,
        S.WARNING,
    ]


def test_rank_table_is_exported_to_lua() -> None:
    lua = lua_constants()
    for state, rank in RANK.items():
        assert f" {state.value}:{rank} " in lua
    for rank, state in enumerate(BY_RANK):
        assert f" {rank}:{state.value} " in lua


@pytest.mark.parametrize(
    ("child", "transmit", "end"),
    [
        (S.SUCCESS, True, S.SUCCESS),
        (S.WARNING, True, S.WARNING),
        (S.FAILED, True, S.FAILED),
        (S.KILLED, True, S.FAILED),
        (S.FAILED, False, S.SUCCESS),
        (S.KILLED, False, S.SUCCESS),
    ],
)
def test_subflow_outcome(child: S, transmit: bool, end: S) -> None:
    assert subflow_outcome(child, transmit_failed=transmit) == end


@pytest.mark.parametrize(
    ("behavior", "end"),
    [
        ("RESUME", S.SUCCESS),
        ("WARN", S.WARNING),
        ("FAIL", S.FAILED),
        ("CANCEL", S.CANCELLED),
        ("resume", S.SUCCESS),
    ],
)
def test_pause_expired(behavior: str, end: S) -> None:
    assert pause_expired(behavior) == end
