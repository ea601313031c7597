"""Kestra's LoopUntil (``WaitFor`` in the Kestra mirrored here, since renamed): the
tasks run iteration after iteration until the condition, rendered after each one, is
true. Flows from Kestra's ``core/src/test/resources/flows/valids/waitfor*.yaml``, cases
from ``WaitForCaseTest``; semantics from ``plugin/core/flow/WaitFor.java``. Kestra's
flows count with an OutputValues task; here a Return (the shape of WaitFor.java's own
example), whose ``value`` is text as Kestra's OutputValues values are (Ostra's
OutputValues keeps a rendered number a number)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from executor.state import StateType

S = StateType


def _counts(execution, task_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    runs = sorted(execution.task_runs(task_id), key=lambda tr: tr.iteration or 0)
    return [tr.outputs["value"] for tr in runs]


def test_loops_until_the_condition_is_true(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitforMultipleTasks (waitfor-multiple-tasks.yaml), interval PT0S
    ex = run(
        """
id: waitfor-multiple-tasks
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.output_values.value == '4'}}"
    checkFrequency:
      interval: PT0S
    tasks:
      - id: echo
        type: io.kestra.plugin.core.log.Log
        message: "looping {{ taskrun.iteration }}"
      - id: output_values
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount + 1 }}"
      - id: iteration
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.iteration }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert _counts(ex, "output_values") == ["2", "3", "4"]
    assert [tr.iteration for tr in ex.task_runs("echo")] == [1, 2, 3]
    assert [tr.outputs["value"] for tr in ex.task_runs("iteration")] == ["1", "2", "3"]
    loop = ex.task_run("waitfor")
    assert loop.outputs == {"iterationCount": 4}
    assert loop.state.current == S.SUCCESS


def test_wait_for_name_and_condition_true_at_once(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitfor (waitfor.yaml): the condition holds after one iteration
    ex = run(
        """
id: waitfor
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.output_values.value != '4'}}"
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount + 1 }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert _counts(ex, "output_values") == ["2"]
    assert ex.task_run("waitfor").outputs == {"iterationCount": 2}


def test_max_iterations_with_fail_on_max_reached_fails(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitforMaxIterations (waitfor-max-iterations.yaml); the 0.2 s
    # interval goes through the reconciler's sweep
    ex = run(
        """
id: waitfor-max-iterations
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.output_values.value == '10'}}"
    checkFrequency:
      maxIterations: 3
      interval: PT0.2S
    failOnMaxReached: true
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount + 1 }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert _counts(ex, "output_values") == ["2", "3", "4"]
    loop = ex.task_run("waitfor")
    assert loop.state.current == S.FAILED
    # between iterations the loop waits PAUSED, as Kestra's pauseFlowable
    assert [h.state for h in loop.state.histories].count(S.PAUSED) == 2


def test_max_iterations_without_fail_on_max_reached_succeeds(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitforNoSuccess (waitfor-no-success.yaml), interval PT0S
    ex = run(
        """
id: waitfor-no-success
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.output_values.value == 'never'}}"
    checkFrequency:
      maxIterations: 2
      interval: PT0S
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount + 1 }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert _counts(ex, "output_values") == ["2", "3"]


def test_max_duration_with_fail_on_max_reached_fails(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitforMaxDuration (waitfor-max-duration.yaml), shorter duration
    ex = run(
        """
id: waitfor-max-duration
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.output_values.value == '-5'}}"
    checkFrequency:
      maxDuration: PT0.5S
      interval: PT0S
      maxIterations: 1000
    failOnMaxReached: true
    tasks:
      - id: output_values
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount + 1 }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert 1 <= len(ex.task_runs("output_values")) < 1000


def test_a_failed_child_fails_the_loop_at_once(run) -> None:  # type: ignore[no-untyped-def]
    # WaitForCaseTest.waitforMultipleTasksFailed: a failed child ends it FAILED, with
    # no further iteration
    ex = run(
        """
id: waitfor-multiple-tasks-failed
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ false }}"
    checkFrequency:
      interval: PT0S
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"""
    )
    assert ex.state.current == S.FAILED
    assert len(ex.task_runs("fail")) == 1
    assert ex.task_runs("never") == []


def test_a_condition_that_cannot_render_fails_the_loop(run) -> None:  # type: ignore[no-untyped-def]
    # WaitFor.nextExecutionDate renders the condition after the iteration: an error
    # there fails the task run
    ex = run(
        """
id: waitfor-bad-condition
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.nope.value }}"
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: once
"""
    )
    assert ex.state.current == S.FAILED
    assert len(ex.task_runs("log")) == 1


def test_a_loop_waiting_for_its_next_iteration_can_be_killed(client, worker) -> None:  # type: ignore[no-untyped-def]
    # Kestra pauses a WaitFor between iterations (ExecutorService: pauseFlowable); a
    # kill ends the paused task run KILLED (research/kestra.md §4.4, issue #6243)
    import time

    from executor import Flow

    flow = Flow.from_yaml(
        """
id: waitfor-kill
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ false }}"
    checkFrequency:
      interval: PT30S
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: once
"""
    )
    eid = client.submit(flow).id
    deadline = time.monotonic() + 20
    while client.get(eid).task_run("waitfor").state.current != S.PAUSED:
        assert time.monotonic() < deadline, "the loop never waited"
        time.sleep(0.05)
    assert client.kill(eid).state.current == S.KILLED
    ex = client.get(eid)
    assert ex.task_run("waitfor").state.current == S.KILLED
    assert len(ex.task_runs("log")) == 1


def test_a_failed_child_runs_the_loops_errors_branch(run) -> None:  # type: ignore[no-untyped-def]
    # WaitFor.resolveNexts / FlowableUtils.resolveWaitForNext: after a failure, the
    # flowable's `errors`; the loop then ends FAILED
    ex = run(
        """
id: waitfor-errors
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ true }}"
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
    errors:
      - id: handle
        type: io.kestra.plugin.core.debug.Return
        format: "handled {{ taskrun.id }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("handle").state.current == S.SUCCESS
    assert ex.task_run("waitfor").state.current == S.FAILED


def test_a_restarted_loop_goes_on_with_the_failed_iteration(client, worker, request) -> None:  # type: ignore[no-untyped-def]
    # Kestra's restart (ExecutionService.restart): failed task runs and their parents
    # run again; the loop resumes counting where it failed
    from executor import Flow

    # The marker is written by the script, which runs as the task user (nobody when the
    # worker is root): a directory it may write to, not pytest's private tmp_path.
    tmp_path = Path(tempfile.mkdtemp(prefix="ostra-marks-"))
    tmp_path.chmod(0o777)
    request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))

    flow = Flow.from_yaml(
        f"""
id: waitfor-restart
variables:
  dir: {tmp_path}
namespace: io.kestra.tests
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{{{ outputs.count.value == '3' }}}}"
    checkFrequency:
      interval: PT0S
    tasks:
      - id: count
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.iteration }}}}"
      - id: maybe
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          # fails once, in iteration 2: the marker file says it failed before
          - 'test "$IT" != 2 || test -f "$MARK" || {{ touch "$MARK"; exit 1; }}'
        env:
          IT: "{{{{ taskrun.iteration }}}}"
          MARK: "{{{{ vars.dir }}}}/{{{{ execution.id }}}}"
"""
    )
    eid = client.submit(flow).id
    first = client.wait(eid, timeout=30)
    assert first.state.current == S.FAILED
    assert [tr.iteration for tr in first.task_runs("count")] == [1, 2]
    client.restart(eid)
    again = client.wait(eid, timeout=30)
    assert again.state.current == S.SUCCESS, [
        (t.task_id, t.iteration, t.state.current) for t in again.task_run_list
    ]
    assert sorted(tr.iteration for tr in again.task_runs("count")) == [1, 2, 3]
