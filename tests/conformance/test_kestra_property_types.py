"""Property values typed as Kestra types them: a text property gets the text of what a
one-expression template renders; Switch case keys are text; ``defaults: null`` is none."""

from __future__ import annotations

import pytest

from executor import StateType

pytestmark = pytest.mark.integration
S = StateType


def test_text_property_gets_the_text_of_a_typed_value(run) -> None:
    # Kestra renders a dynamic String property to text (RunContext.render returns a
    # String): an INT input in a Log message is its digits, a map its JSON
    # (core/src/main/java/io/kestra/plugin/core/log/Log.java, debug/Return.java).
    done = run(
        """
id: typed_text
namespace: tests.conformance
inputs:
  - id: n
    type: INT
  - id: flag
    type: BOOLEAN
  - id: doc
    type: JSON
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.n }}"
  - id: number
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}"
  - id: boolean
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.flag }}"
  - id: map
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.doc }}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "{{ inputs.n }}"
""",
        {"n": 42, "flag": True, "doc": {"a": [1, 2]}},
    )
    assert done.task_run("log").state.current == S.SUCCESS
    assert done.task_run("number").outputs == {"value": "42"}
    assert done.task_run("boolean").outputs == {"value": "true"}
    assert done.task_run("map").outputs == {"value": '{"a":[1,2]}'}
    # the last task fails as asked, with the number as its message (not a type error)
    assert done.task_run("fail").state.current == S.FAILED
    assert done.state.current == S.FAILED


def test_switch_case_keys_are_any_scalar(run) -> None:
    # Switch.java: cases is a Map<String, List<Task>>, so YAML keys 1 and true are the
    # strings "1" and "true" and the rendered value is compared as a string
    # (core/src/test/java/io/kestra/plugin/core/flow/SwitchTest.java).
    done = run(
        """
id: switch_scalars
namespace: tests.conformance
inputs:
  - id: n
    type: INT
tasks:
  - id: by_number
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.n }}"
    cases:
      1:
        - {id: one, type: io.kestra.plugin.core.debug.Return, format: one}
      2:
        - {id: two, type: io.kestra.plugin.core.debug.Return, format: two}
  - id: by_bool
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.n == 2 }}"
    cases:
      true:
        - {id: yes, type: io.kestra.plugin.core.debug.Return, format: "yes"}
      false:
        - {id: no, type: io.kestra.plugin.core.debug.Return, format: "no"}
    defaults: null
""",
        {"n": 2},
    )
    assert done.state.current == S.SUCCESS
    ran = {tr.task_id for tr in done.task_run_list}
    assert {"two", "yes"} <= ran and not {"one", "no"} & ran


def test_switch_defaults_null_is_no_defaults(run) -> None:
    # `defaults: null` deserializes to no defaults: no case matches, so Switch.childTasks
    # resolves null tasks and FlowableUtils.resolveState ends it FAILED ("No task found"),
    # with no child, exactly as a Switch without `defaults`.
    done = run("""
id: switch_null_defaults
namespace: tests.conformance
tasks:
  - id: sw
    type: io.kestra.plugin.core.flow.Switch
    value: other
    cases:
      a:
        - {id: a, type: io.kestra.plugin.core.debug.Return, format: a}
    defaults: null
""")
    assert done.state.current == S.FAILED
    assert [tr.task_id for tr in done.task_run_list] == ["sw"]


def test_input_defaults_null_is_no_default(run) -> None:
    # Input.java: `defaults` is nullable; null is no default, so an optional input
    # given no value has none (not a validation error on the flow).
    done = run("""
id: input_null_defaults
namespace: tests.conformance
inputs:
  - id: name
    type: STRING
    required: false
    defaults: null
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name is none }}"
""")
    assert done.state.current == S.SUCCESS
    assert done.inputs.get("name") is None
    assert done.task_run("show").outputs == {"value": "true"}


def test_a_typed_property_still_refuses_bad_text(run) -> None:
    # Sleep.duration is a Duration: a rendered text that is no duration fails the task
    # run (the flow was accepted: the property is dynamic).
    done = run(
        """
id: typed_bad
namespace: tests.conformance
inputs:
  - {id: d, type: STRING}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ inputs.d }}"
""",
        {"d": "soon"},
    )
    assert done.state.current == S.FAILED
    assert "duration" in (done.task_run("nap").attempts[-1].reason or "")
