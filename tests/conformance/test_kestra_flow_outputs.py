"""Kestra's flow outputs, typed by their ``type`` when the execution ends
(``ExecutorService.onEnd`` renders them, ``FlowInputOutput.typedOutputs`` parses them):
a STRING output holding a map keeps its JSON text, other types are parsed from the
rendered text, and a failed render or parse fails the execution with null outputs.
Cases from ``plugin/core/flow/FlowOutputTest.java``, flows from
``core/src/test/resources/flows/valids/flow-with-*outputs*.yml``."""

from __future__ import annotations

import json

from executor.state import StateType

S = StateType


def test_a_string_output_of_a_map_is_its_json_text(run) -> None:  # type: ignore[no-untyped-def]
    # FlowOutputTest.shouldGetSuccessExecutionForFlowWithOutputs (flow-with-outputs.yml)
    ex = run(
        """
id: flow-with-outputs
namespace: io.kestra.tests
tasks:
- id: return
  type: io.kestra.plugin.core.debug.Return
  format: "{{ flow.id }}"
outputs:
- id: "key"
  value: "{{ outputs.return }}"
  type: STRING
"""
    )
    assert ex.state.current == S.SUCCESS
    assert ex.outputs == {"key": '{"value":"flow-with-outputs"}'}


def test_an_array_output_of_rendered_items(run) -> None:  # type: ignore[no-untyped-def]
    # FlowOutputTest.shouldGetSuccessExecutionForFlowWithArrayOutputs
    ex = run(
        """
id: flow-with-array-outputs
namespace: io.kestra.tests
tasks:
  - id: return
    type: io.kestra.plugin.core.output.OutputValues
    values:
      one: "1rstValue"
      two: "2ndValue"
outputs:
  - id: myout
    type: ARRAY
    value:
      - "{{ outputs.return.values.one }}"
      - "{{ outputs.return.values.two }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert ex.outputs == {"myout": ["1rstValue", "2ndValue"]}


def test_an_output_that_cannot_render_fails_with_null_outputs(run) -> None:  # type: ignore[no-untyped-def]
    # FlowOutputTest.shouldGetFailExecutionForFlowWithInvalidOutputs
    ex = run(
        """
id: flow-with-outputs-failed
namespace: io.kestra.tests
tasks:
- id: return
  type: io.kestra.plugin.core.debug.Return
  format: "{{ flow.id }}"
outputs:
- id: "key"
  value: "{{ invalid }}"
  type: STRING
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.outputs == {}  # Kestra's null: Ostra's Execution.outputs is a map, empty


def test_outputs_are_parsed_as_their_types(run) -> None:  # type: ignore[no-untyped-def]
    # FlowInputOutput.parseType: INT Integer.valueOf, FLOAT Float.valueOf, BOOLEAN
    # Boolean.valueOf, JSON parsed, DATETIME/DURATION checked
    ex = run(
        """
id: typed-outputs
namespace: io.kestra.tests
tasks:
- id: n
  type: io.kestra.plugin.core.debug.Return
  format: "42"
- id: m
  type: io.kestra.plugin.core.output.OutputValues
  values:
    a: 1
    b: [x, y]
outputs:
- {id: int, type: INT, value: "{{ outputs.n.value }}"}
- {id: float, type: FLOAT, value: "{{ outputs.n.value }}.5"}
- {id: bool, type: BOOLEAN, value: "TRUE"}
- {id: notbool, type: BOOLEAN, value: "yes"}
- {id: json, type: JSON, value: "{{ outputs.m.values }}"}
- {id: text, type: STRING, value: "{{ outputs.m.values.b }}"}
- {id: when, type: DATETIME, value: "2024-01-02T03:04:05Z"}
- {id: long, type: DURATION, value: PT1H}
"""
    )
    assert ex.state.current == S.SUCCESS
    assert ex.outputs == {
        "int": 42,
        "float": 42.5,
        "bool": True,
        "notbool": False,
        "json": {"a": 1, "b": ["x", "y"]},
        "text": json.dumps(["x", "y"], separators=(",", ":")),
        "when": "2024-01-02T03:04:05Z",
        "long": "PT1H",
    }


def test_an_output_that_does_not_parse_as_its_type_fails(run) -> None:  # type: ignore[no-untyped-def]
    # FlowInputOutput.parseType: "Expected `INT` but received ..." fails the execution
    ex = run(
        """
id: typed-outputs-bad
namespace: io.kestra.tests
tasks:
- id: n
  type: io.kestra.plugin.core.debug.Return
  format: "forty-two"
outputs:
- {id: ok, type: STRING, value: "{{ outputs.n.value }}"}
- {id: int, type: INT, value: "{{ outputs.n.value }}"}
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.outputs == {}  # Kestra's null: Ostra's Execution.outputs is a map, empty
