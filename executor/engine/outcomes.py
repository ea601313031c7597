"""How things end: an attempt, a task run, a flowable, a subflow, a Pause, an execution.

* An attempt ends SUCCESS, FAILED (an error, a timeout: retryable unless the task said
  otherwise) or KILLED. Its task run then ends as ``attempt_outcome`` says: a failed
  attempt is retried while the retry that applies allows (``retry_of``: the task's, else
  its nearest flowable ancestor's, else the flow's): RETRYING for a new attempt
  (``RETRY_FAILED_TASK``), RETRIED for a new execution (``CREATE_NEW_EXECUTION``); a
  success after retries is a WARNING with ``warningOnRetry``; ``allowFailure`` turns a
  final FAILED into WARNING and ``allowWarning`` a WARNING into SUCCESS (``settle``), as
  Kestra's ``Worker`` and ``ExecutorService`` do.
* An execution ends in the worst state of its top-level task runs (``RANK``: KILLED over
  FAILED and CANCELLED over WARNING over PAUSED over SUCCESS; SKIPPED and RETRIED count
  as SUCCESS), KILLED if it was being killed (``execution_end``). Children are seen
  through their flowable: a failure inside ``AllowFailure`` shows as its WARNING.

The rank table is exported to the Lua steps (``lua_constants``), which end an
execution in the same step as its last task run, by the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from executor.engine.vocabulary import AttemptOutcome
from executor.flow import Flow, RetryPolicy, TaskDef
from executor.state import StateType

S = StateType

#: How bad an end state is when an execution's end state is chosen; 0 for the rest.
RANK: dict[StateType, int] = {S.KILLED: 4, S.FAILED: 3, S.CANCELLED: 3, S.WARNING: 2, S.PAUSED: 1}
#: The end state of each rank.
BY_RANK: tuple[StateType, ...] = (S.SUCCESS, S.PAUSED, S.WARNING, S.FAILED, S.KILLED)


def worst(states: Iterable[StateType]) -> StateType:
    """The end state that wins among ``states`` (SUCCESS for none)."""
    return BY_RANK[max((RANK.get(s, 0) for s in states), default=0)]


def execution_end(top_level: Iterable[StateType], execution_state: StateType | None) -> StateType:
    """The end state of an execution whose top-level task runs ended in ``top_level``."""
    if execution_state == S.KILLING:
        return S.KILLED
    return worst(top_level)


def settle(task: TaskDef, state: StateType) -> StateType:
    """A task run's end state after ``allowFailure`` and ``allowWarning``."""
    if state == S.FAILED and task.allow_failure:
        state = S.WARNING
    if state == S.WARNING and task.allow_warning:
        state = S.SUCCESS
    return state


def retry_of(flow: Flow, task_id: str) -> RetryPolicy | None:
    """The retry that applies when task ``task_id`` fails: its own, else that of its
    nearest flowable ancestor with one, else the flow's (Kestra's
    ``ExecutorService.handleChildWorkerTaskResult``: task, then parent, then flow)."""
    task = flow.task(task_id)
    if task.retry is not None:
        return task.retry
    parent = flow.locate(task_id).parent
    while parent is not None:
        found = flow.task(parent).retry
        if found is not None:
            return found
        parent = flow.locate(parent).parent
    return flow.retry


def attempt_outcome(
    task: TaskDef,
    attempt: int,
    attempt_state: StateType,
    *,
    retryable: bool = True,
    elapsed_s: float = 0.0,
    retry: RetryPolicy | None = None,
    execution_attempt: int = 1,
    since_first_execution_s: float = 0.0,
) -> AttemptOutcome:
    """How task run of ``task`` goes on after attempt number ``attempt`` ended in
    ``attempt_state`` (SUCCESS, FAILED or KILLED), ``elapsed_s`` seconds after its first
    attempt started (for ``retry.maxDuration``).

    ``retry`` is the policy that applies (``retry_of``: the task's, an ancestor's or the
    flow's; the task's own when None). A failure it retries is RETRYING, the next attempt
    due in ``retry_in`` seconds; with ``CREATE_NEW_EXECUTION`` it is RETRIED instead, a
    new execution due in ``retry_in`` seconds, counted by ``execution_attempt`` (the
    execution's ``metadata.attemptNumber``) and ``since_first_execution_s`` (since the
    first execution of the chain was created), as Kestra's ``TaskRun.nextRetryDate``
    does."""
    policy = retry if retry is not None else task.retry
    if attempt_state == S.SUCCESS:
        warned = (
            attempt > 1
            and policy is not None
            and not policy.new_execution
            and policy.warning_on_retry
        )
        return AttemptOutcome(settle(task, S.WARNING if warned else S.SUCCESS))
    if attempt_state == S.KILLED:
        return AttemptOutcome(S.KILLED)
    if policy is not None and retryable:
        if policy.new_execution:
            since = timedelta(seconds=max(0.0, since_first_execution_s))
            delay = policy.next_delay(execution_attempt, since)
            if delay is not None:
                return AttemptOutcome(S.RETRIED, delay.total_seconds())
        else:
            delay = policy.next_delay(attempt, timedelta(seconds=max(0.0, elapsed_s)))
            if delay is not None:
                return AttemptOutcome(S.RETRYING, delay.total_seconds())
    return AttemptOutcome(settle(task, S.FAILED))


def subflow_outcome(child_state: StateType, *, transmit_failed: bool) -> StateType:
    """A waiting Subflow task run's end state once its execution ended in
    ``child_state``: a failure counts only with ``transmitFailed``."""
    if child_state.is_failed():
        return S.FAILED if transmit_failed else S.SUCCESS
    return child_state


#: What an expired ``pauseDuration`` does to the Pause task run, by ``behavior``.
PAUSE_BEHAVIOR: dict[str, StateType] = {
    "RESUME": S.SUCCESS,
    "WARN": S.WARNING,
    "FAIL": S.FAILED,
    "CANCEL": S.CANCELLED,
}


def pause_expired(behavior: str) -> StateType:
    """The end state of a Pause task run whose ``pauseDuration`` passed."""
    return PAUSE_BEHAVIOR.get(behavior.upper(), S.SUCCESS)


def child_class(state: StateType) -> str:
    """How a flowable counts a child's end: ``bad`` (failed), ``warn`` or ``ok``."""
    return "bad" if state.is_failed() else "warn" if state == S.WARNING else "ok"


def lua_constants() -> str:
    """``RANK`` and ``BY_RANK`` for the prelude of every Lua step, as constant strings
    (`` STATE:N `` and `` N:STATE `` pairs): Lua interns a string when the script is
    compiled, where a table would be rebuilt on every call; ``rank()`` and ``by_rank()``
    in ``executor/store/_lib.lua`` read them."""
    ranks = " ".join(f"{s.value}:{n}" for s, n in sorted(RANK.items(), key=lambda i: i[0].value))
    names = " ".join(f"{n}:{s.value}" for n, s in enumerate(BY_RANK))
    return f"local RANK = ' {ranks} '\nlocal BY_RANK = ' {names} '\n"
