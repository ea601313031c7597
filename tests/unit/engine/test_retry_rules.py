"""Which retry applies to a failing task, and what an attempt's end then means, with both
behaviours (Kestra's ``ExecutorService.handleChildWorkerTaskResult``,
``TaskRun.nextRetryDate`` and ``ExecutionService.nextRetryDate``)."""

from __future__ import annotations

from typing import Any

import pytest

from executor.engine.outcomes import attempt_outcome, retry_of
from executor.flow import Flow
from executor.state import StateType as S


def retry(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "constant", "interval": "PT2S", "maxAttempt": n, **extra}


def flow(*, flow_retry: dict[str, Any] | None = None, **retries: dict[str, Any]) -> Flow:
    """outer (Sequential) > inner (Sequential) > leaf (Fail); plus top-level ``alone``."""

    def r(name: str) -> dict[str, Any]:
        return {"retry": retries[name]} if name in retries else {}

    data: dict[str, Any] = {
        "id": "f",
        "namespace": "n",
        "tasks": [
            {
                "id": "outer",
                "type": "Sequential",
                **r("outer"),
                "tasks": [
                    {
                        "id": "inner",
                        "type": "Sequential",
                        **r("inner"),
                        "tasks": [{"id": "leaf", "type": "Fail", **r("leaf")}],
                    }
                ],
            },
            {"id": "alone", "type": "Fail", **r("alone")},
        ],
    }
    if flow_retry is not None:
        data["retry"] = flow_retry
    return Flow.model_validate(data)


def attempts_of(policy: Any) -> int | None:
    return None if policy is None else policy.max_attempts


@pytest.mark.parametrize(
    ("retries", "task", "expected"),
    [
        ({}, "leaf", None),
        ({"leaf": retry(2)}, "leaf", 2),
        ({"inner": retry(3)}, "leaf", 3),
        ({"outer": retry(4)}, "leaf", 4),
        ({"outer": retry(4), "inner": retry(3)}, "leaf", 3),  # the nearest ancestor
        ({"outer": retry(4), "leaf": retry(2)}, "leaf", 2),  # its own first
        ({"flow": retry(5)}, "leaf", 5),
        ({"flow": retry(5), "outer": retry(4)}, "leaf", 4),
        ({"flow": retry(5), "outer": retry(4)}, "alone", 5),  # not an ancestor of it
        ({"outer": retry(4)}, "alone", None),
    ],
)
def test_retry_of_task_then_nearest_ancestor_then_flow(
    retries: dict[str, Any], task: str, expected: int | None
) -> None:
    flow_retry = retries.pop("flow", None)
    assert attempts_of(retry_of(flow(flow_retry=flow_retry, **retries), task)) == expected


def test_max_attempt_and_max_attempts_are_one_property() -> None:
    a = retry_of(flow(leaf={"type": "constant", "interval": "PT1S", "maxAttempt": 3}), "leaf")
    b = retry_of(flow(leaf={"type": "constant", "interval": "PT1S", "maxAttempts": 3}), "leaf")
    assert a == b and attempts_of(a) == 3


# (retry, attempt, attempt end, elapsed s) -> (task run state, retry in)
RETRY_FAILED_TASK = [
    (retry(3), 1, S.FAILED, 0, S.RETRYING, 2.0),
    (retry(3), 2, S.FAILED, 2, S.RETRYING, 2.0),
    (retry(3), 3, S.FAILED, 4, S.FAILED, None),  # maxAttempt counts the first
    (retry(1), 1, S.FAILED, 0, S.FAILED, None),
    (retry(9, maxDuration="PT5S"), 2, S.FAILED, 2.5, S.RETRYING, 2.0),
    (retry(9, maxDuration="PT5S"), 2, S.FAILED, 3.5, S.FAILED, None),  # 3.5 + 2 > 5
    (retry(3, warningOnRetry=True), 2, S.SUCCESS, 2, S.WARNING, None),
    (retry(3), 1, S.KILLED, 0, S.KILLED, None),
]


@pytest.mark.parametrize(("policy", "n", "end", "elapsed", "state", "retry_in"), RETRY_FAILED_TASK)
def test_an_inherited_retry_failed_task_retries_the_task_run(
    policy: dict[str, Any], n: int, end: S, elapsed: float, state: S, retry_in: float | None
) -> None:
    f = flow(outer=policy)
    out = attempt_outcome(f.task("leaf"), n, end, elapsed_s=elapsed, retry=retry_of(f, "leaf"))
    assert (out.state, out.retry_in) == (state, retry_in)


def test_allow_failure_of_the_task_applies_once_an_inherited_retry_gave_up() -> None:
    f = Flow.model_validate(
        {
            "id": "f",
            "namespace": "n",
            "retry": retry(2),
            "tasks": [{"id": "t", "type": "Fail", "allowFailure": True}],
        }
    )
    task, policy = f.task("t"), retry_of(f, "t")
    assert attempt_outcome(task, 1, S.FAILED, retry=policy).state == S.RETRYING
    assert attempt_outcome(task, 2, S.FAILED, retry=policy).state == S.WARNING


NEW = {"behavior": "CREATE_NEW_EXECUTION"}
# (retry, execution attempt number, s since the first execution) -> (state, retry in)
CREATE_NEW_EXECUTION = [
    (retry(3, **NEW), 1, 0, S.RETRIED, 2.0),
    (retry(3, **NEW), 2, 3, S.RETRIED, 2.0),
    (retry(3, **NEW), 3, 6, S.FAILED, None),  # maxAttempt counts the executions
    (retry(9, maxDuration="PT5S", **NEW), 2, 2.9, S.RETRIED, 2.0),
    (retry(9, maxDuration="PT5S", **NEW), 2, 3.1, S.FAILED, None),  # past the first + 5 s
]


@pytest.mark.parametrize(("policy", "number", "since", "state", "retry_in"), CREATE_NEW_EXECUTION)
def test_create_new_execution_counts_executions_not_attempts(
    policy: dict[str, Any], number: int, since: float, state: S, retry_in: float | None
) -> None:
    f = flow(flow_retry=policy)
    out = attempt_outcome(
        f.task("alone"),
        1,
        S.FAILED,
        retry=retry_of(f, "alone"),
        execution_attempt=number,
        since_first_execution_s=since,
    )
    assert (out.state, out.retry_in) == (state, retry_in)


def test_create_new_execution_never_retries_a_kill_or_a_success() -> None:
    f = flow(flow_retry=retry(3, **NEW))
    task, policy = f.task("alone"), retry_of(f, "alone")
    assert attempt_outcome(task, 1, S.KILLED, retry=policy).state == S.KILLED
    assert attempt_outcome(task, 1, S.SUCCESS, retry=policy).state == S.SUCCESS
    assert attempt_outcome(task, 1, S.FAILED, retry=policy, retryable=False).state == S.FAILED
