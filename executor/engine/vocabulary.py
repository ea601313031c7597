"""The words the engine decides in: what ended, what to create, what to end.

Every rule of ``executor/engine/`` takes these (and the flow, and the time when it
matters) and returns them; the orchestrator, the workers and the Lua steps only apply
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from executor.state import StateType


@dataclass(frozen=True)
class Ended:
    """A task run that just ended, in ``state``."""

    task_id: str
    state: StateType
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None


@dataclass(frozen=True)
class NewTaskRun:
    """A task run to create (its identity: task, parent, loop value and iteration)."""

    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None


@dataclass(frozen=True)
class Decision:
    """What follows in the top-level branches: task runs to create, or the end of the
    execution (``end``)."""

    create: tuple[NewTaskRun, ...] = ()
    end: bool = False


#: Nothing is left to run: the execution ends.
END = Decision(end=True)


@dataclass(frozen=True)
class ChildDecision:
    """What follows the end of a flowable's child: children to create, its ``errors``
    branch to start, or the end of the flowable in ``end``. All empty: wait (siblings
    are still running)."""

    create: tuple[NewTaskRun, ...] = ()
    errors: bool = False
    end: StateType | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    """How a task run goes on after one attempt: its state (``RETRYING`` while another
    attempt is due in ``retry_in`` seconds)."""

    state: StateType
    retry_in: float | None = None
