"""Kestra's Pause, both forms: alone, and with child ``tasks`` that run once it is
resumed; ``pauseDuration`` / ``delay`` resume it by themselves (with ``behavior``), a
``timeout`` fails it. Flows from Kestra's ``core/src/test/resources/flows/valids/
pause*.yaml``, cases from ``plugin/core/flow/PauseTest.java``; the delay and timeout
rules from ``ExecutorService.handlePausedDelay`` and ``ExecutionService.markAs``."""

from __future__ import annotations

import time

from executor import Client, Flow
from executor.state import StateType

S = StateType


def _paused(client: Client, yaml_text: str) -> str:
    eid = client.submit(Flow.from_yaml(yaml_text)).id
    deadline = time.monotonic() + 20
    while client.state(eid) != S.PAUSED:
        assert time.monotonic() < deadline, "never paused"
        time.sleep(0.05)
    return eid


def _states(tr) -> list[StateType]:  # type: ignore[no-untyped-def]
    return [h.state for h in tr.state.histories]


PAUSE = """
id: pause
namespace: io.kestra.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    tasks:
      - id: subtask
        type: io.kestra.plugin.core.log.Log
        message: "trigger after manual restart"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
errors:
  - id: failed-echo
    type: io.kestra.plugin.core.log.Log
    message: I'm failing {{task.id}}
"""


def test_pause_with_tasks_runs_them_once_resumed(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # PauseTest.run (pause.yaml)
    eid = _paused(client, PAUSE)
    paused = client.get(eid)
    assert [tr.task_id for tr in paused.task_run_list] == ["pause"]
    assert paused.task_run("pause").state.current == S.PAUSED
    client.resume(eid)
    done = client.wait(eid, timeout=20)
    assert done.state.current == S.SUCCESS
    assert [tr.task_id for tr in done.task_run_list] == ["pause", "subtask", "last"]
    assert done.task_run("subtask").parent_task_run_id == done.task_run("pause").id
    assert _states(done.task_run("pause")) == [S.CREATED, S.PAUSED, S.RUNNING, S.SUCCESS]


def test_pause_without_tasks_ends_success_once_resumed(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # PauseTest.runEmptyTasks (pause_no_tasks.yaml)
    eid = _paused(
        client,
        """
id: pause_no_tasks
namespace: io.kestra.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
""",
    )
    client.resume(eid)
    done = client.wait(eid, timeout=20)
    assert done.state.current == S.SUCCESS
    assert done.task_run("pause").state.current == S.SUCCESS
    assert done.task_run("last").outputs == {"value": "last"}


def test_delay_resumes_by_itself_and_runs_the_tasks(run) -> None:  # type: ignore[no-untyped-def]
    # PauseTest.runDelay (pause-delay.yaml): `delay`, the deprecated name of
    # pauseDuration; 3 task runs, the Pause PAUSED once
    ex = run(
        """
id: pause-delay
namespace: io.kestra.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.2S
    tasks:
      - id: subtask
        type: io.kestra.plugin.core.log.Log
        message: trigger 1 seconds pause"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert len(ex.task_run_list) == 3
    assert _states(ex.task_run("pause")).count(S.PAUSED) == 1


def test_timeout_fails_the_pause_and_its_tasks_do_not_run(run) -> None:  # type: ignore[no-untyped-def]
    # PauseTest.runTimeout (pause-timeout.yaml): FAILED once the timeout passes, 1 task run
    ex = run(
        """
id: pause-timeout
namespace: io.kestra.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.2S
    tasks:
      - id: ko
        type: io.kestra.plugin.core.log.Log
        message: "trigger 1 seconds pause"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
"""
    )
    assert ex.state.current == S.FAILED
    assert [tr.task_id for tr in ex.task_run_list] == ["pause"]
    assert _states(ex.task_run("pause")) == [S.CREATED, S.PAUSED, S.FAILED]


def test_pause_duration_with_behavior_warn(run) -> None:  # type: ignore[no-untyped-def]
    # Pause.java (2025): pauseDuration with behavior WARN ends the Pause WARNING, the
    # flow goes on
    ex = run(
        """
id: pause-warn
namespace: io.kestra.tests
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
    behavior: WARN
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
"""
    )
    assert ex.state.current == S.WARNING
    assert ex.task_run("pause").state.current == S.WARNING
    assert ex.task_run("last").state.current == S.SUCCESS


def test_a_delay_that_is_not_a_duration_fails_the_pause(run) -> None:  # type: ignore[no-untyped-def]
    # PauseTest.delayFromInput renders `delay`; one that is no duration fails the task run
    ex = run(
        """
id: pause-bad-delay
namespace: io.kestra.tests
inputs:
  - id: delay
    type: STRING
    defaults: soon
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: "{{ inputs.delay }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("pause").state.current == S.FAILED
