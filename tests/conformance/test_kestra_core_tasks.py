"""Core task types: Echo (``plugin/core/debug/Echo.java``), TemplatedTask
(``plugin/core/templating/TemplatedTask.java``) and the old ``io.kestra.core.tasks.*``
names Kestra's core task classes declare in ``@Plugin(aliases = ...)``."""

from __future__ import annotations

import pytest

from executor import Client, StateType

pytestmark = pytest.mark.integration
S = StateType


def test_echo_logs_format_at_level(run, client: Client) -> None:
    # Echo.java: runs Log with message = format and its level.
    done = run("""
id: echo
namespace: tests.conformance
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    level: WARN
    format: "{{ task.id }} > {{ flow.id }}"
  - id: old
    type: io.kestra.core.tasks.debugs.Echo
    format: old name
""")
    assert done.state.current == S.SUCCESS
    logs = [(e.task_id, e.level, e.message) for e in client.logs(done.id)]
    assert ("echo", "WARN", "echo > echo") in logs
    assert ("old", "INFO", "old name") in logs


def test_templated_task_runs_the_rendered_spec(run) -> None:
    # TemplatedTaskTest.java: the spec, rendered, is a Return whose format comes from
    # a template; its outputs are the task's.
    done = run(
        """
id: templated
namespace: tests.conformance
inputs:
  - {id: property, type: STRING}
  - {id: value, type: STRING}
tasks:
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.debug.Return
      {{ inputs.property }}: "{{ inputs.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.templated.value }}!"
""",
        {"property": "format", "value": "hello"},
    )
    assert done.state.current == S.SUCCESS
    assert done.task_run("templated").outputs == {"value": "hello"}
    assert done.task_run("after").outputs == {"value": "hello!"}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("type: io.kestra.plugin.core.templating.TemplatedTask\nspec: x", "cannot be of type"),
        (
            "type: io.kestra.plugin.core.flow.Sequential\ntasks: []",
            "must be a runnable task",
        ),
        ("type: io.kestra.plugin.core.debug.Return\nnope: 1", "invalid properties"),
        ("type: [unclosed", "not valid YAML"),
    ],
    ids=["nested", "flowable", "bad-properties", "bad-yaml"],
)
def test_templated_task_refuses_what_kestra_refuses(run, spec: str, reason: str) -> None:
    # TemplatedTask.java throws for a TemplatedTask spec, a non-runnable task, and a
    # spec Jackson cannot read: the task run fails.
    indented = "\n".join("      " + line for line in spec.splitlines())
    done = run(f"""
id: templated_bad
namespace: tests.conformance
tasks:
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
{indented}
""")
    assert done.state.current == S.FAILED
    assert reason in (done.task_run("templated").attempts[-1].reason or "")


def test_old_names_kestra_still_accepts(run) -> None:
    # @Plugin(aliases = "io.kestra.core.tasks.log.Log") on Log.java,
    # "io.kestra.core.tasks.flows.Sequential" on Sequential.java,
    # "io.kestra.core.tasks.debugs.Return" on Return.java, "...flows.If" on If.java.
    done = run("""
id: aliases
namespace: tests.conformance
tasks:
  - id: seq
    type: io.kestra.core.tasks.flows.Sequential
    tasks:
      - id: log
        type: io.kestra.core.tasks.log.Log
        message: hi
      - id: ret
        type: io.kestra.core.tasks.debugs.Return
        format: old
  - id: cond
    type: io.kestra.core.tasks.flows.If
    condition: "{{ outputs.ret.value == 'old' }}"
    then:
      - id: yes
        type: io.kestra.core.tasks.debugs.Return
        format: "yes"
""")
    assert done.state.current == S.SUCCESS
    assert done.task_run("yes").outputs == {"value": "yes"}


def test_an_alias_kestra_does_not_declare_is_unknown(client: Client) -> None:
    # Sleep.java declares no alias: io.kestra.core.tasks.flows.Sleep is not a type.
    from executor import FlowValidationError

    with pytest.raises(FlowValidationError, match="unknown task type"):
        client.deploy("""
id: no_alias
namespace: tests.conformance
tasks:
  - {id: nap, type: io.kestra.core.tasks.flows.Sleep, duration: PT1S}
""")
