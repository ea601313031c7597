"""What the control operations do, decided before anything is written.

* **kill** (Kestra's fire-and-forget kill): the execution moves to KILLING; task runs
  not running end KILLED at once, running ones are stopped by their workers and end
  KILLED; the execution is KILLED once nothing runs. Killing a parent kills the
  executions its Subflow tasks started. An execution that ended otherwise cannot be
  killed (``kill_refused``).
* **restart** (same execution): FAILED and KILLED task runs are RESTARTED and make
  their next attempt, successes keep their outputs, the task runs of ``errors`` and
  ``finally`` branches (global and local) are dropped to run again if needed
  (``restart_dropped``); only the top-most restarted task runs are started again, a
  restarted flowable walks its children again (``restart_roots``).
* **replay** (a new execution, ``parentId``/``originalId``): from the start, or from a
  task run of the ``tasks`` branch, copying the task runs before it that succeeded
  (``replay_plan``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from executor.engine.vocabulary import NewTaskRun
from executor.errors import StateConflict, TaskRunNotFound
from executor.flow import Flow
from executor.models import TaskRun
from executor.state import StateType

#: Task run states a replay copies.
REPLAY_COPIED = frozenset({StateType.SUCCESS, StateType.WARNING, StateType.SKIPPED})


def kill_refused(state: StateType) -> bool:
    """True if an execution in ``state`` cannot be killed (it ended, but not KILLED:
    killing twice is harmless)."""
    return state.is_terminated() and state != StateType.KILLED


def restart_dropped(flow: Flow) -> list[str]:
    """The tasks whose task runs a restart drops: every ``errors``, ``finally`` and
    ``afterExecution`` one (Kestra's ``ExecutionService.restart``)."""
    dropped = ("errors", "finally", "afterExecution")
    return [t.id for loc, t in flow.all_tasks() if loc.branch in dropped]


def restart_roots(restarted: Sequence[str], parent_of: dict[str, str | None]) -> list[str]:
    """Of the ``restarted`` task runs, those to start again: the ones whose parent was
    not restarted too (a restarted flowable starts its own children again)."""
    again = set(restarted)
    return [t for t in restarted if parent_of.get(t) not in again]


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay copies (task run ids of the source) and what it starts."""

    copied: list[str]
    first: list[NewTaskRun] | None  # None: the flow's start


def replay_plan(
    flow: Flow, execution_id: str, task_runs: Iterable[TaskRun], task_run_id: str | None
) -> ReplayPlan:
    """The replay of an execution of ``flow`` with ``task_runs``, from ``task_run_id``
    (from the start if None). Raises ``TaskRunNotFound`` for an unknown task run and
    ``StateConflict`` for one outside the ``tasks`` branch."""
    if task_run_id is None:
        return ReplayPlan([], None)
    runs = list(task_runs)
    target = next((tr for tr in runs if tr.id == task_run_id), None)
    if target is None:
        raise TaskRunNotFound(execution_id, task_run_id)
    loc = flow.locate(target.task_id)
    if loc.branch != "tasks" or loc.parent is not None:
        where = f"the {loc.branch} branch" if loc.parent is None else f"flowable {loc.parent}"
        raise StateConflict(
            f"task run {task_run_id} is in {where}: replay from a "
            "top-level task of the tasks branch"
        )
    before = [
        tr.id
        for tr in runs
        if (tl := flow.locate(tr.task_id)).branch == "tasks"
        and tl.parent is None
        and tl.index < loc.index
        and tr.state.current in REPLAY_COPIED
    ]
    return ReplayPlan(before, [NewTaskRun(target.task_id)])
