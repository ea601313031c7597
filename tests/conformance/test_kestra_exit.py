"""Kestra's Exit (``io.kestra.plugin.core.execution.Exit``, source
``plugin/core/execution/Exit.java``): the execution ends in ``state``; nothing after the
Exit runs; the Exit's task run and its flowables above it end in that state; KILLED
kills the execution (running task runs are killed)."""

from __future__ import annotations

from executor.state import StateType

S = StateType

# Exit.java's own example flow, with the input's default switched by each case.
EXAMPLE = """
id: exit
namespace: company.team
inputs:
  - id: state
    type: SELECT
    values:
      - CONTINUE
      - END
    defaults: CONTINUE
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{inputs.state == 'CONTINUE'}}"
    then:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: I'm continuing
    else:
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: EXIT_STATE
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: I'm ending
"""


def test_exit_not_reached_the_flow_goes_on(run) -> None:  # type: ignore[no-untyped-def]
    ex = run(EXAMPLE.replace("EXIT_STATE", "KILLED"))
    assert ex.state.current == S.SUCCESS
    assert ex.task_run("end").state.current == S.SUCCESS


def test_exit_killed_kills_the_execution(run) -> None:  # type: ignore[no-untyped-def]
    # Exit.update: KILLED emits a kill of the execution
    ex = run(EXAMPLE.replace("EXIT_STATE", "KILLED"), {"state": "END"})
    assert ex.state.current == S.KILLED
    assert ex.task_runs("end") == []
    assert ex.task_run("exit").state.current == S.KILLED


def test_exit_failed_ends_the_execution_and_its_flowable_failed(run) -> None:  # type: ignore[no-untyped-def]
    ex = run(EXAMPLE.replace("EXIT_STATE", "FAILED"), {"state": "END"})
    assert ex.state.current == S.FAILED
    assert ex.task_runs("end") == []
    assert ex.task_run("exit").state.current == S.FAILED
    assert ex.task_run("if").state.current == S.FAILED


def test_exit_success_and_warning_end_the_execution_early(run) -> None:  # type: ignore[no-untyped-def]
    for state, expected in (("SUCCESS", S.SUCCESS), ("WARNING", S.WARNING)):
        ex = run(EXAMPLE.replace("EXIT_STATE", state), {"state": "END"})
        assert ex.state.current == expected
        assert ex.task_runs("end") == []
        assert ex.task_run("exit").state.current == expected


def test_exit_canceled_ends_the_execution_cancelled(run) -> None:  # type: ignore[no-untyped-def]
    # Exit.ExitState CANCELED -> State.Type.CANCELLED
    ex = run(
        """
id: exit-canceled
namespace: company.team
tasks:
  - id: exit
    type: io.kestra.plugin.core.execution.Exit
    state: CANCELED
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: never
"""
    )
    assert ex.state.current == S.CANCELLED
    assert ex.task_runs("end") == []


def test_exit_killed_kills_a_running_sibling(run) -> None:  # type: ignore[no-untyped-def]
    # Exit's doc: "Using KILLED will end existing running tasks"
    ex = run(
        """
id: exit-parallel
namespace: company.team
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT30S
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: KILLED
"""
    )
    assert ex.state.current == S.KILLED
    assert ex.task_run("slow").state.current == S.KILLED


def test_an_unknown_exit_state_fails_the_task(run) -> None:  # type: ignore[no-untyped-def]
    # Exit.executionState: the rendered state must be an ExitState
    ex = run(
        """
id: exit-bad
namespace: company.team
inputs:
  - id: s
    type: STRING
    defaults: DONE
tasks:
  - id: exit
    type: io.kestra.plugin.core.execution.Exit
    state: "{{ inputs.s }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("exit").state.current == S.FAILED


def test_exit_failed_ends_the_execution_while_a_sibling_runs(run, client) -> None:  # type: ignore[no-untyped-def]
    # Exit's doc: running tasks "will not be terminated except if state is KILLED"
    import time

    ex = run(
        """
id: exit-parallel-failed
namespace: company.team
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: FAILED
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("parallel").state.current == S.FAILED
    deadline = time.monotonic() + 20
    while not client.get(ex.id).task_run("slow").state.current.is_terminated():
        assert time.monotonic() < deadline, "the sibling never ended"
        time.sleep(0.1)
    later = client.get(ex.id)
    # Kestra lets it finish SUCCESS; Ostra's worker stops a task run whose execution
    # ended (KILLED). Either way the execution keeps the Exit's state.
    assert later.task_run("slow").state.current in (S.SUCCESS, S.KILLED)
    assert later.state.current == S.FAILED
    assert later.task_runs("after") == []
