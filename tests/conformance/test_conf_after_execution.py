"""Kestra's ``afterExecution``: tasks that run once the execution has ended.

Kestra: core/src/test/java/io/kestra/core/runners/AfterExecutionTestCase.java (with the
flows core/src/test/resources/flows/valids/after-execution.yaml,
after-execution-error.yaml, after-execution-finally.yaml): the execution ends first
(SUCCESS, or FAILED after its ``errors``), then the afterExecution task run starts (its
start after the execution's end date) and sees ``{{ execution.state }}`` as that end
state and the outputs of earlier tasks.
executor/src/main/java/io/kestra/executor/ExecutorService.java (``handleAfterExecution``,
``resolveSequentialNexts`` over the list, ``withForceExecution(true)``): one task after
the other, a failure stopping the rest; the execution's state is left as it ended.
core/.../services/ExecutionService.java (``restart``): afterExecution task runs dropped.
"""

from __future__ import annotations

import time

from executor import Flow
from executor.client import Client
from executor.models import Execution
from executor.state import StateType

S = StateType


def run_all(client: Client, yaml_text: str) -> Execution:
    """Run a flow; ``wait`` returns once the afterExecution task runs ended too
    (ExecutionService.isTerminated: "including listeners and afterExecution tasks")."""
    ex = client.submit(Flow.from_yaml(yaml_text))
    return client.wait(ex.id, timeout=60)


# after-execution.yaml, with a Return whose output the afterExecution task reads
# (AfterExecutionTestCase.shouldCallTasksAfterExecution's "output")
SUCCESS_FLOW = """
id: after_execution
namespace: tests.conformance
tasks:
  - id: mytask
    type: io.kestra.plugin.core.debug.Return
    format: this is a task output used as a final flow output
afterExecution:
  - id: end
    type: io.kestra.plugin.core.output.OutputValues
    values:
      state: "{{execution.state}}"
      output: "{{ outputs.mytask.value }}"
"""


def test_after_execution_runs_after_a_successful_end(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    ex = run_all(client, SUCCESS_FLOW)
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["mytask", "end"]
    mytask, end = ex.task_run("mytask"), ex.task_run("end")
    assert end.state.current == S.SUCCESS
    assert end.state.start_date >= mytask.state.end_date
    assert end.state.start_date >= ex.state.end_date
    values = end.outputs["values"]
    assert values["state"] == "SUCCESS"
    assert values["output"] == "this is a task output used as a final flow output"


ERROR_FLOW = """
id: after_execution_error
namespace: tests.conformance
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: I'm failing
afterExecution:
  - id: end
    type: io.kestra.plugin.core.output.OutputValues
    values:
      state: "{{execution.state}}"
"""


def test_after_execution_runs_after_a_failed_end_and_its_errors(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    ex = run_all(client, ERROR_FLOW)
    assert ex.state.current == S.FAILED
    assert [tr.task_id for tr in ex.task_run_list] == ["fail", "hello", "end"]
    assert ex.task_run("fail").state.current == S.FAILED
    assert ex.task_run("hello").state.current == S.SUCCESS
    end = ex.task_run("end")
    assert end.state.current == S.SUCCESS
    assert end.state.start_date >= ex.state.end_date
    assert end.outputs["values"]["state"] == "FAILED"


FINALLY_FLOW = """
id: after_execution_finally
namespace: tests.conformance
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello World!
finally:
  - id: finally
    type: io.kestra.plugin.core.log.Log
    message: I'm a finally block
afterExecution:
  - id: end
    type: io.kestra.plugin.core.output.OutputValues
    values:
      state: "{{execution.state}}"
"""


def test_after_execution_runs_after_finally(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    ex = run_all(client, FINALLY_FLOW)
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["hello", "finally", "end"]
    fin, end = ex.task_run("finally"), ex.task_run("end")
    assert end.state.start_date >= fin.state.end_date
    assert end.outputs["values"]["state"] == "SUCCESS"


FAILING_AFTER = """
id: after_execution_failing
namespace: tests.conformance
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello World!
afterExecution:
  - id: first
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: after the end
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: never
"""


def test_a_failing_after_execution_task_leaves_the_execution_state(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # ExecutorService: the execution is terminated, handleEnd never runs again; the
    # sequential resolution over afterExecution stops at the failed task run.
    ex = run_all(client, FAILING_AFTER)
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["hello", "first"]
    assert ex.task_run("first").state.current == S.FAILED


SEQUENCE = """
id: after_execution_sequence
namespace: tests.conformance
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: hi
afterExecution:
  - id: one
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.state }}"
  - id: two
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.one.value }} {{ outputs.hello.value }}"
"""


def test_after_execution_tasks_run_in_order_and_see_each_other(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    ex = run_all(client, SEQUENCE)
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["hello", "one", "two"]
    one, two = ex.task_run("one"), ex.task_run("two")
    assert two.state.start_date >= one.state.end_date
    assert two.outputs == {"value": "SUCCESS hi"}


KILLED_FLOW = """
id: after_execution_killed
namespace: tests.conformance
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
afterExecution:
  - id: end
    type: io.kestra.plugin.core.output.OutputValues
    values:
      state: "{{execution.state}}"
"""


def test_after_execution_runs_after_a_kill(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # withForceExecution(true): "so it would be executed even if the execution is killed"
    ex = client.submit(Flow.from_yaml(KILLED_FLOW))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = client.get(ex.id)
        if got.task_run_list and got.task_run_list[0].state.current == S.RUNNING:
            break
        time.sleep(0.05)
    client.kill(ex.id)
    done = client.wait(ex.id, timeout=30)
    assert done.state.current == S.KILLED
    end = done.task_run("end")
    assert end.state.current == S.SUCCESS
    assert end.outputs["values"]["state"] == "KILLED"


def test_flowables_in_after_execution_are_refused_with_the_reason() -> None:
    import pytest

    from executor.errors import FlowValidationError

    with pytest.raises(FlowValidationError) as err:
        Flow.from_yaml("""
id: after_execution_flowable
namespace: tests.conformance
tasks: [{id: mytask, type: io.kestra.plugin.core.debug.Return, format: done}]
afterExecution:
  - id: after_if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then: [{id: after_if_log, type: io.kestra.plugin.core.log.Log, message: ran}]
""")
    assert "afterExecution[0].type" in str(err.value)
    assert "not supported yet" in str(err.value)


def test_a_restart_drops_after_execution_task_runs_and_they_run_again(
    client: Client, worker
) -> None:  # type: ignore[no-untyped-def]
    # ExecutionService.restart: "We need to remove afterExecution tasks"
    first = run_all(client, ERROR_FLOW)
    assert first.state.current == S.FAILED
    before = first.task_run("end")
    client.restart(first.id)
    again = client.wait(first.id, timeout=60)
    assert again.state.current == S.FAILED
    ends = [tr for tr in again.task_run_list if tr.task_id == "end"]
    assert len(ends) == 1
    assert ends[0].state.current == S.SUCCESS
    assert ends[0].state.start_date > before.state.end_date
    assert ends[0].outputs["values"]["state"] == "FAILED"
