"""The transition table: every (from, to) pair, checked in Python and in Redis' Lua."""

from __future__ import annotations

from itertools import product

import pytest

from executor.engine.outcomes import worst
from executor.state import (
    TERMINAL,
    TRANSITIONS,
    StateType,
    allowed_sources,
    can_transition,
    markdown_table,
)

S = StateType
ALL = list(StateType)

# Moves a user of Kestra relies on, and moves that must never happen.
MUST_ALLOW = [
    (S.CREATED, S.RUNNING),
    (S.RUNNING, S.SUCCESS),
    (S.RUNNING, S.WARNING),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.KILLING),
    (S.KILLING, S.KILLED),
    (S.RUNNING, S.RETRYING),
    (S.RETRYING, S.RUNNING),
    (S.FAILED, S.RESTARTED),
    (S.KILLED, S.RESTARTED),
    (S.RESTARTED, S.RUNNING),
    (S.CREATED, S.QUEUED),
    (S.QUEUED, S.RUNNING),
    (S.RUNNING, S.PAUSED),
    (S.PAUSED, S.RUNNING),
    (S.CREATED, S.SKIPPED),
    (S.CREATED, S.CANCELLED),
    (S.RUNNING, S.RESUBMITTED),
]
MUST_REFUSE = [
    (S.SUCCESS, S.RUNNING),
    (S.KILLED, S.SUCCESS),
    (S.KILLING, S.RUNNING),
    (S.KILLING, S.SUCCESS),
    (S.FAILED, S.SUCCESS),
    (S.WARNING, S.FAILED),
    (S.SUCCESS, S.RESTARTED),
    (S.CANCELLED, S.RUNNING),
    (S.SKIPPED, S.RUNNING),
    (S.RESUBMITTED, S.RUNNING),
]


@pytest.mark.parametrize(
    ("src", "dst"),
    list(product(ALL, ALL)),
    ids=[f"{a.value}->{b.value}" for a, b in product(ALL, ALL)],
)
def test_every_pair_follows_the_table(src: StateType, dst: StateType) -> None:
    expected = src == dst or dst in TRANSITIONS[src]
    assert can_transition(src, dst) is expected
    assert (src in allowed_sources(dst)) is expected


@pytest.mark.parametrize(("src", "dst"), MUST_ALLOW)
def test_kestra_moves_are_allowed(src: StateType, dst: StateType) -> None:
    assert can_transition(src, dst)


@pytest.mark.parametrize(("src", "dst"), MUST_REFUSE)
def test_forbidden_moves_are_refused(src: StateType, dst: StateType) -> None:
    assert not can_transition(src, dst)


def test_terminal_states_only_leave_through_restart_or_retry() -> None:
    for state in TERMINAL:
        assert TRANSITIONS[state] <= {S.RESTARTED, S.RETRYING, S.RETRIED}
    assert S.KILLING not in TERMINAL and S.RUNNING not in TERMINAL


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(StateType)
    names = {s.value for s in StateType}
    assert {
        "CREATED",
        "RUNNING",
        "SUCCESS",
        "WARNING",
        "FAILED",
        "KILLING",
        "KILLED",
        "RESTARTED",
        "QUEUED",
        "PAUSED",
        "RETRYING",
        "RETRIED",
        "CANCELLED",
        "SKIPPED",
    } <= names


def test_final_state_priority() -> None:
    assert worst([S.SUCCESS, S.WARNING, S.FAILED, S.KILLED]) == S.KILLED
    assert worst([S.SUCCESS, S.WARNING, S.FAILED]) == S.FAILED
    assert worst([S.SUCCESS, S.WARNING]) == S.WARNING
    assert worst([S.SUCCESS, S.SKIPPED]) == S.SUCCESS
    assert worst([S.SUCCESS, S.CANCELLED]) == S.FAILED


def test_readme_table_is_generated_from_the_table() -> None:
    table = markdown_table()
    for state in StateType:
        assert f"| `{state.value}` |" in table
    readme = __import__("pathlib").Path(__file__).parents[2] / "README.md"
    if readme.exists():
        assert table in readme.read_text(), "README state table is stale: regenerate it"
