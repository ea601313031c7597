"""``pluginDefaults`` merged as Kestra's
``core/src/main/java/io/kestra/core/services/PluginDefaultService.java`` merges them
(cases after ``core/src/test/java/io/kestra/core/services/PluginDefaultServiceTest.java``)."""

from __future__ import annotations

import pytest

from executor import Client, FlowValidationError, StateType

pytestmark = pytest.mark.integration
S = StateType


def test_defaults_by_type_and_prefix_task_values_win(run, client: Client) -> None:
    # Non-forced defaults fill what the task leaves out; a type prefix matches every
    # type under it; the task's own value wins.
    done = run("""
id: defaults_merge
namespace: tests.conformance
pluginDefaults:
  - type: io.kestra.plugin.core.debug.Return
    values:
      format: from defaults
  - type: io.kestra.plugin.core.log
    values:
      level: WARN
      message: default message
tasks:
  - id: plain
    type: io.kestra.plugin.core.debug.Return
  - id: own
    type: io.kestra.plugin.core.debug.Return
    format: mine
  - id: log
    type: io.kestra.plugin.core.log.Log
  - id: nested
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
""")
    assert done.state.current == S.SUCCESS
    assert done.task_run("plain").outputs == {"value": "from defaults"}
    assert done.task_run("own").outputs == {"value": "mine"}
    assert done.task_run("inner").outputs == {"value": "from defaults"}
    logs = [(e.task_id, e.level, e.message) for e in client.logs(done.id)]
    assert ("log", "WARN", "default message") in logs


def test_forced_defaults_win_over_the_task(run) -> None:
    # forced: true merges the defaults over the task (PluginDefaultServiceTest.forced);
    # of two forced defaults of one type, the first declared wins.
    done = run("""
id: defaults_forced
namespace: tests.conformance
pluginDefaults:
  - type: io.kestra.plugin.core.debug.Return
    forced: true
    values:
      format: first forced
  - type: io.kestra.plugin.core.debug.Return
    forced: true
    values:
      format: second forced
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: mine
""")
    assert done.state.current == S.SUCCESS
    assert done.task_run("ret").outputs == {"value": "first forced"}


def test_defaults_given_under_an_alias(run) -> None:
    # PluginDefaultService.addAliases: a default for an old name applies to the type.
    done = run("""
id: defaults_alias
namespace: tests.conformance
taskDefaults:
  - type: io.kestra.core.tasks.debugs.Return
    values:
      format: via alias
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
""")
    assert done.state.current == S.SUCCESS
    assert done.task_run("ret").outputs == {"value": "via alias"}


def test_defaults_that_make_a_task_invalid_are_refused(client: Client) -> None:
    # The flow is validated with its defaults applied: an unknown property from a
    # default is an error on the task, as is a malformed default.
    with pytest.raises(FlowValidationError) as info:
        client.deploy("""
id: defaults_bad
namespace: tests.conformance
pluginDefaults:
  - type: io.kestra.plugin.core.debug.Return
    values:
      colour: red
  - values: {format: x}
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: x
""")
    paths = {p.path for p in info.value.problems}
    assert any(p.startswith("tasks[0]") for p in paths)
    assert any(p.startswith("pluginDefaults[1]") for p in paths)
