"""Kestra's retries: on a task, on a flowable (applying to its failing children), on the
flow, with both behaviours (``RETRY_FAILED_TASK``: a new attempt of the same task run;
``CREATE_NEW_EXECUTION``: the execution ends RETRIED and a new one runs the flow again).

Each flow is one of Kestra's test flows (``core/src/test/resources/flows/valids/``),
checked as Kestra's ``RetryCaseTest`` (``core/src/test/java/io/kestra/plugin/core/flow/``)
checks it; intervals are shortened (PT1S -> a fraction) to keep the tests fast.
"""

from __future__ import annotations

import time

import pytest

from executor import Client, Flow, FlowValidationError, StateType
from executor.models import Execution

pytestmark = pytest.mark.integration
S = StateType


def history(execution: Execution) -> list[StateType]:
    return [h.state for h in execution.state.histories]


def chain(client: Client, first: Execution, timeout: float = 40) -> list[Execution]:
    """The executions of a CREATE_NEW_EXECUTION chain, from ``first``: each the one
    whose ``parentId`` is the previous one, until one ends other than RETRIED."""
    out = [first]
    deadline = time.monotonic() + timeout
    while out[-1].state.current == S.RETRIED:
        found = [
            e
            for e in client.search(namespace=first.namespace, flow_id=first.flow_id, limit=200)
            if e.parent_id == out[-1].id
        ]
        if found:
            out.append(client.wait(found[0].id, timeout=max(1.0, deadline - time.monotonic())))
            continue
        assert time.monotonic() < deadline, f"no retry of {out[-1].id}"
        time.sleep(0.1)
    return out


# ---------------------------------------------------------------- RETRY_FAILED_TASK


def test_task_retry_with_max_attempt_counts_the_first_attempt(run) -> None:
    # retry-failed-task-attempts.yaml; RetryCaseTest.retryFailedTaskAttempts: FAILED, 4
    done = run("""
id: retry-failed-task-attempts
namespace: io.kestra.tests
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    retry:
      behavior: RETRY_FAILED_TASK
      type: constant
      maxAttempt: 4
      interval: PT0.1S
""")
    assert done.state.current == S.FAILED
    fail = done.task_run("fail")
    assert [a.number for a in fail.attempts] == [1, 2, 3, 4]
    assert [h.state for h in fail.state.histories].count(S.RETRYING) == 3
    # ExecutorService.handleChildWorkerTaskResult marks the execution RETRYING with it
    assert history(done) == [S.CREATED, S.RUNNING] + [S.RETRYING, S.RUNNING] * 3 + [S.FAILED]


def test_retry_on_a_sequential_applies_to_its_failing_child(run) -> None:
    # retry-flowable.yaml; RetryCaseTest.retryFlowable: FAILED, the child has 3 attempts
    done = run("""
id: retry-flowable
namespace: io.kestra.tests
tasks:
  - id: flowable
    type: io.kestra.plugin.core.flow.Sequential
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
""")
    assert done.state.current == S.FAILED
    assert len(done.task_run("child").attempts) == 3
    assert done.task_run("flowable").state.current == S.FAILED


def test_nearest_ancestor_with_a_retry_applies_and_a_success_goes_on(run) -> None:
    # retry-flowable-nested-child.yaml (the retry one level up): the nearest ancestor's
    # retry applies (ExecutorService: findParentTasksByTaskId until one has a retry)
    done = run("""
id: retry-flowable-nested
namespace: io.kestra.tests
tasks:
  - id: flowable
    type: io.kestra.plugin.core.flow.Sequential
    retry: {type: constant, interval: PT0.1S, maxAttempt: 5}
    tasks:
      - id: flowable2
        type: io.kestra.plugin.core.flow.Sequential
        retry: {type: constant, interval: PT0.1S, maxAttempt: 2}
        tasks:
          - id: child
            type: io.kestra.plugin.core.execution.Fail
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
""")
    assert done.state.current == S.FAILED
    assert len(done.task_run("child").attempts) == 2
    assert not done.task_runs("never")


def test_retry_on_a_foreach_applies_to_each_failing_iteration(run) -> None:
    # retry-flowable-parallel.yaml, with ForEach (all values at once): every failing child
    # makes new attempts (RetryCaseTest.retryFlowableParallel: each attempted again)
    done = run("""
id: retry-foreach
namespace: io.kestra.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: 0
    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
""")
    assert done.state.current == S.FAILED
    children = done.task_runs("child")
    assert sorted(c.value or "" for c in children) == ["a", "b"]
    assert [len(c.attempts) for c in children] == [3, 3]


def test_flow_retry_failed_task_retries_the_task_run(run) -> None:
    # retry-failed-flow-attempts.yml; RetryCaseTest.retryFailedFlowAttempts: FAILED, 4
    done = run("""
id: retry-failed-flow-attempts
namespace: io.kestra.tests
retry:
  behavior: RETRY_FAILED_TASK
  type: constant
  maxAttempt: 4
  interval: PT0.1S
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
""")
    assert done.state.current == S.FAILED
    assert len(done.task_run("fail").attempts) == 4
    assert history(done).count(S.RETRYING) == 3
    assert done.metadata.attempt_number == 1  # the same execution


def test_task_retry_wins_over_the_flow_retry(run) -> None:
    # ExecutorService.handleChildWorkerTaskResult: the task's retry, then a parent's,
    # then the flow's
    done = run("""
id: retry-task-over-flow
namespace: io.kestra.tests
retry: {type: constant, maxAttempt: 4, interval: PT0.1S}
tasks:
  - id: fail
    type: Fail
    retry: {type: constant, maxAttempt: 2, interval: PT0.1S}
""")
    assert len(done.task_run("fail").attempts) == 2


def test_max_duration_stops_retries(run) -> None:
    # retry-failed-flow-duration.yml (PT6S / PT2S scaled): no retry whose start would be
    # past the first attempt's start + maxDuration (TaskRun.nextRetryDate)
    done = run("""
id: retry-failed-flow-duration
namespace: io.kestra.tests
retry:
  behavior: RETRY_FAILED_TASK
  type: constant
  maxDuration: PT1S
  interval: PT0.6S
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
""")
    assert done.state.current == S.FAILED
    assert len(done.task_run("fail").attempts) == 2


# ---------------------------------------------------------------- CREATE_NEW_EXECUTION


@pytest.mark.parametrize("where", ["flow", "task"])
def test_create_new_execution_until_max_attempt(run, client: Client, where: str) -> None:
    # retry-new-execution-flow-attempts.yml and retry-new-execution-task-attempts.yml;
    # RetryCaseTest.retryNewExecution{Flow,Task}Attempts: RETRIED, RETRIED, FAILED
    retry = "{behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 3, interval: PT0.1S}"
    flow_retry = f"retry: {retry}" if where == "flow" else ""
    task_retry = f"    retry: {retry}" if where == "task" else ""
    text = f"""
id: retry-new-execution-{where}-attempts
namespace: io.kestra.tests
inputs:
  - {{id: who, type: STRING, defaults: me}}
{flow_retry}
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
{task_retry}
"""
    first = run(text, inputs={"who": "you"})
    executions = chain(client, first)
    assert [e.state.current for e in executions] == [S.RETRIED, S.RETRIED, S.FAILED]
    assert [e.metadata.attempt_number for e in executions] == [1, 2, 3]
    assert len({e.id for e in executions}) == 3
    assert [e.parent_id for e in executions] == [None, executions[0].id, executions[1].id]
    assert {e.original_id for e in executions} == {first.id}
    assert all(e.inputs == {"who": "you"} for e in executions)
    # the first execution's date is the chain's (ExecutionService.nextRetryDate)
    assert {e.metadata.original_created_date for e in executions} == {
        first.metadata.original_created_date
    }
    # the failed task run ends RETRIED with its execution (markWithTaskRunAs(RETRIED))
    assert executions[0].task_run("fail").state.current == S.RETRIED
    assert len(executions[0].task_run("fail").attempts) == 1
    assert executions[2].task_run("fail").state.current == S.FAILED
    assert history(executions[0])[-1] == S.RETRIED


def test_create_new_execution_marks_the_parents_retried(run, client: Client) -> None:
    # ExecutionService.markWithTaskRunAs(execution, taskRunId, RETRIED, markParents=true)
    first = run("""
id: retry-new-execution-parents
namespace: io.kestra.tests
tasks:
  - id: seq
    type: Sequential
    retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 2, interval: PT0S}
    tasks:
      - id: fail
        type: Fail
      - id: never
        type: Log
        message: not reached
""")
    assert first.state.current == S.RETRIED
    assert first.task_run("seq").state.current == S.RETRIED
    assert first.task_run("fail").state.current == S.RETRIED
    assert not first.task_runs("never")
    last = chain(client, first)[-1]
    assert last.state.current == S.FAILED and last.metadata.attempt_number == 2
    assert last.task_run("seq").state.current == S.FAILED


def test_create_new_execution_stops_at_max_duration(run, client: Client) -> None:
    # retry-new-execution-flow-duration.yml (PT6S / PT2S scaled): the duration counts
    # from the first execution's creation (metadata.originalCreatedDate)
    first = run("""
id: retry-new-execution-flow-duration
namespace: io.kestra.tests
retry:
  behavior: CREATE_NEW_EXECUTION
  type: constant
  interval: PT0.8S
  maxDuration: PT1.5S
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
""")
    assert [e.state.current for e in chain(client, first)] == [S.RETRIED, S.FAILED]


def test_create_new_execution_with_a_success_is_not_retried(run) -> None:
    done = run("""
id: retry-new-execution-success
namespace: io.kestra.tests
retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 3, interval: PT0S}
tasks:
  - id: ok
    type: Log
    message: fine
""")
    assert done.state.current == S.SUCCESS
    assert done.metadata.attempt_number == 1


# ---------------------------------------------------------------- failure paths


@pytest.mark.parametrize(
    ("retry", "path"),
    [
        ("{type: constant, interval: PT1S, maxAttempt: 0}", "retry.maxAttempts"),
        ("{type: constant, interval: PT1S, maxAttempt: 2, behavior: AGAIN}", "retry.behavior"),
        ("{type: constant, interval: PT1S}", "retry"),
        ("{type: sometimes, maxAttempt: 2}", "retry"),
    ],
)
def test_a_bad_flow_retry_is_refused_naming_it(retry: str, path: str) -> None:
    with pytest.raises(FlowValidationError) as err:
        Flow.from_yaml(f"""
id: bad-retry
namespace: io.kestra.tests
retry: {retry}
tasks:
  - id: t
    type: Log
    message: m
""")
    assert path in str(err.value)


def test_a_subflow_waits_for_the_new_execution_of_its_retried_child(run, client: Client) -> None:
    # ExecutionService.replay keeps the execution's trigger: the new execution of a retried
    # child is the one whose end moves the parent's Subflow task run on
    client.deploy(
        Flow.from_yaml("""
id: retry-new-execution-child
namespace: io.kestra.tests
retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 2, interval: PT0S}
tasks:
  - {id: fail, type: Fail}
""")
    )
    parent = run("""
id: retry-new-execution-parent
namespace: io.kestra.tests
tasks:
  - {id: sub, type: Subflow, namespace: io.kestra.tests, flowId: retry-new-execution-child}
""")
    assert parent.state.current == S.FAILED
    last = client.get(parent.task_run("sub").outputs["executionId"])
    assert last.metadata.attempt_number == 2 and last.state.current == S.FAILED
    first = client.get(last.parent_id or "")
    assert first.state.current == S.RETRIED
    assert {lb.value for lb in last.labels if lb.key == "system.correlationId"} == {parent.id}


def test_a_subflow_task_is_retried_when_its_child_failed(run, client: Client) -> None:
    # retry-subflow.yaml (a flow-level retry over a Subflow task; the child here fails
    # once, like failed-first): only RunnableTasks and Subflow are retried
    # (ExecutorService.handleChildWorkerTaskResult). Ostra restarts the same child.
    client.deploy(
        Flow.from_yaml("""
id: failed-first
namespace: io.kestra.tests
tasks:
  - {id: flaky, type: Python, function: "tests.helpers.funcs:flaky", kwargs: {fail_times: 1}}
""")
    )
    done = run("""
id: retry-subflow
namespace: io.kestra.tests
retry: {type: constant, interval: PT0.1S, maxAttempt: 3}
tasks:
  - {id: subflow, type: Subflow, namespace: io.kestra.tests, flowId: failed-first}
""")
    assert done.state.current == S.SUCCESS
    sub = done.task_run("subflow")
    assert [h.state for h in sub.state.histories].count(S.RETRYING) == 1
    assert S.RETRYING in history(done)
    child = client.get(sub.outputs["executionId"])
    assert child.state.current == S.SUCCESS
    assert history(child).count(S.RESTARTED) == 1


def test_a_subflow_task_retry_gives_up_at_max_attempt(run, client: Client) -> None:
    client.deploy(
        Flow.from_yaml("""
id: always-failed
namespace: io.kestra.tests
tasks:
  - {id: fail, type: Fail}
""")
    )
    done = run("""
id: retry-subflow-failed
namespace: io.kestra.tests
tasks:
  - id: subflow
    type: Subflow
    namespace: io.kestra.tests
    flowId: always-failed
    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}
""")
    assert done.state.current == S.FAILED
    sub = done.task_run("subflow")
    assert [h.state for h in sub.state.histories].count(S.RETRYING) == 2
    assert history(client.get(sub.outputs["executionId"])).count(S.RESTARTED) == 2
