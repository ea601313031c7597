"""States of executions, task runs and attempts, and the one table of allowed moves.

Names are Kestra's (``State.Type``), so flows, API clients and triggers written for
Kestra read the same values. ``TRANSITIONS`` is the only authority on which moves are
legal; the Redis store enforces it atomically (see ``executor/store/transition.lua``)
and the README's state table is generated from it (``markdown_table``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class StateType(StrEnum):
    """A state of an execution, a task run or an attempt."""

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RETRYING = "RETRYING"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    BREAKPOINT = "BREAKPOINT"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"
    RESUBMITTED = "RESUBMITTED"

    # Kestra's predicates (State.Type.isTerminated() and friends).
    def is_terminated(self) -> bool:
        """True for end states: nothing more happens without a restart."""
        return self in TERMINAL

    def is_created(self) -> bool:
        """True for states that mean "to be (re)scheduled"."""
        return self in (StateType.CREATED, StateType.RESTARTED, StateType.SUBMITTED)

    def is_running(self) -> bool:
        """True while work is under way (RUNNING or KILLING)."""
        return self in (StateType.RUNNING, StateType.KILLING)

    def is_failed(self) -> bool:
        """True for end states that count as a failure of the branch."""
        return self in (StateType.FAILED, StateType.KILLED, StateType.CANCELLED)


S = StateType

TERMINAL: frozenset[StateType] = frozenset(
    {S.SUCCESS, S.WARNING, S.FAILED, S.KILLED, S.CANCELLED, S.RETRIED, S.SKIPPED, S.RESUBMITTED}
)

#: Allowed moves, for executions, task runs and attempts alike. Staying in the same
#: state is always allowed and is a no-op (Kestra's ``State.withState``); it is not
#: listed here. Terminal states are absorbing, except that a failed or killed run may
#: be RESTARTED (restart) or retried, as Kestra allows.
TRANSITIONS: dict[StateType, frozenset[StateType]] = {
    S.CREATED: frozenset(
        {
            S.SUBMITTED,
            S.QUEUED,
            S.RUNNING,
            S.PAUSED,
            S.KILLING,
            S.KILLED,
            S.CANCELLED,
            S.SKIPPED,
            S.FAILED,
        }
    ),
    S.SUBMITTED: frozenset({S.RUNNING, S.CREATED, S.KILLING, S.KILLED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.CREATED, S.RUNNING, S.KILLING, S.KILLED, S.CANCELLED}),
    S.RUNNING: frozenset(
        {
            S.SUCCESS,
            S.WARNING,
            S.FAILED,
            S.KILLING,
            S.KILLED,
            S.PAUSED,
            S.RETRYING,
            S.RETRIED,
            S.RESUBMITTED,
            S.BREAKPOINT,
            S.CANCELLED,
        }
    ),
    S.PAUSED: frozenset(
        {S.RUNNING, S.RESTARTED, S.KILLING, S.KILLED, S.SUCCESS, S.WARNING, S.FAILED, S.CANCELLED}
    ),
    S.RETRYING: frozenset(
        {S.RUNNING, S.CREATED, S.KILLING, S.KILLED, S.SUCCESS, S.WARNING, S.FAILED, S.RETRIED}
    ),
    S.RESTARTED: frozenset({S.RUNNING, S.CREATED, S.PAUSED, S.KILLING, S.KILLED}),
    S.KILLING: frozenset({S.KILLED}),
    S.BREAKPOINT: frozenset({S.RUNNING, S.KILLING, S.KILLED}),
    S.SUCCESS: frozenset(),
    S.WARNING: frozenset(),
    S.FAILED: frozenset({S.RESTARTED, S.RETRYING, S.RETRIED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.CANCELLED: frozenset(),
    S.RETRIED: frozenset(),
    S.SKIPPED: frozenset(),
    S.RESUBMITTED: frozenset(),
}


def can_transition(current: StateType, proposed: StateType) -> bool:
    """True if ``current -> proposed`` is allowed (or is the same state, a no-op)."""
    return current == proposed or proposed in TRANSITIONS[current]


def allowed_sources(proposed: StateType) -> frozenset[StateType]:
    """Every state from which ``proposed`` may be entered (itself included)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if proposed in targets) | {proposed}


def markdown_table() -> str:
    """The README's state table, generated from ``TRANSITIONS``."""
    lines = ["| from | may move to | end state |", "|---|---|---|"]
    for state in StateType:
        targets = ", ".join(t.value for t in StateType if t in TRANSITIONS[state]) or "—"
        lines.append(f"| `{state.value}` | {targets} | {'yes' if state in TERMINAL else 'no'} |")
    return "\n".join(lines)


def search_states(
    state: StateType | str | Iterable[StateType | str] | None,
) -> StateType | list[StateType] | None:
    """A search's ``state`` filter (a state, its name, or several) as the store takes
    it; ``ValueError`` for a name that is not a state."""
    if state is None or isinstance(state, StateType):
        return state
    if isinstance(state, str):
        return StateType(state)
    return [StateType(s) for s in state]
