"""Functions that read the execution or the store (``errorLogs()``, ``tasksWithState()``,
``kv()``) work wherever Kestra renders: in a worker's task properties and in what the
executor renders itself (an ``If`` condition, flow outputs)."""

from __future__ import annotations

from executor.state import StateType as S


def test_error_logs_in_an_errors_branch(run) -> None:  # type: ignore[no-untyped-def]
    # Kestra's ErrorLogsFunction (core/.../runners/pebble/functions/ErrorLogsFunction.java)
    # and the docs' errors-branch example: the failure's log is there to report.
    done = run("""
id: error_logs
namespace: tests.conformance
tasks:
  - {id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: disk is full}
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs()[0].taskId }}: {{ errorLogs() | length > 0 }}"
""")
    assert done.state.current == S.FAILED
    assert done.task_run("report").outputs == {"value": "boom: true"}


def test_tasks_with_state_and_kv_in_what_the_executor_renders(run) -> None:  # type: ignore[no-untyped-def]
    # If.java renders `condition` in the executor; KvFunction reads the store there too.
    done = run("""
id: executor_renders
namespace: tests.conformance
tasks:
  - {id: set, type: io.kestra.plugin.core.kv.Set, key: gate, value: open}
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('gate') == 'open' and (tasksWithState('SUCCESS') | length) == 1 }}"
    then:
      - {id: opened, type: io.kestra.plugin.core.debug.Return, format: "in"}
outputs:
  - {id: gate, type: STRING, value: "{{ kv('gate') }}"}
""")
    assert done.state.current == S.SUCCESS, [
        (t.task_id, t.state.current) for t in done.task_run_list
    ]
    assert done.task_runs("opened")
    assert done.outputs == {"gate": "open"}
