"""Kestra's Switch and the loops over values (ForEach, EachSequential, EachParallel) at
their edges: a Switch with no matching case and no defaults fails; loop values given as
a JSON string or a YAML list, maps given to children as their JSON text, integers as
text, each distinct value once, ``[]`` ends SUCCESS with no child, a null value fails
the loop. Rules from ``plugin/core/flow/Switch.java`` and ``FlowableUtils.resolveEachTasks``
/ ``resolveState``; cases from ``SwitchTest``, ``EachSequentialTest`` and
``ForEachTest``, flows from ``core/src/test/resources/flows/valids/``."""

from __future__ import annotations

from executor import Client, Flow
from executor.state import StateType

S = StateType


def test_switch_with_no_match_and_no_defaults_fails(run) -> None:  # type: ignore[no-untyped-def]
    # SwitchTest.switchImpossible (switch-impossible.yaml)
    ex = run(
        """
id: switch-impossible
namespace: io.kestra.tests
inputs:
  - id: string
    type: STRING
tasks:
  - id: impossible
    type: io.kestra.plugin.core.flow.Switch
    value: "{{inputs.string}}"
    cases:
      "NO":
      - id: date
        type: io.kestra.plugin.core.debug.Return
        format: "{{task.id}}"
    defaults: null
""",
        {"string": "impossible"},
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("impossible").state.current == S.FAILED
    assert ex.task_runs("date") == []


SWITCH = """
id: switch
namespace: io.kestra.tests
inputs:
  - id: string
    type: STRING
tasks:
  - id: parent-seq
    type: io.kestra.plugin.core.flow.Switch
    value: "{{inputs.string}}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: "{{task.id}} > {{taskrun.id}}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{task.id}} > {{taskrun.id}}"
"""


def test_switch_outputs_its_value_and_whether_defaults_ran(run) -> None:  # type: ignore[no-untyped-def]
    # SwitchTest.switchFirst / switchDefault (switch.yaml, shortened)
    first = run(SWITCH, {"string": "FIRST"})
    assert first.state.current == S.SUCCESS
    assert first.task_run("parent-seq").outputs == {"value": "FIRST", "defaults": False}
    assert first.task_runs("default") == []
    other = run(SWITCH, {"string": "DEFAULT"})
    assert other.task_run("parent-seq").outputs == {"value": "DEFAULT", "defaults": True}
    assert other.task_runs("t1") == [] and len(other.task_runs("default")) == 1


def test_foreach_over_an_empty_json_list_ends_success(run) -> None:  # type: ignore[no-untyped-def]
    # EachSequentialTest.eachEmpty (each-empty.yaml): 2 task runs, SUCCESS
    ex = run(
        """
id: each-empty
namespace: io.kestra.tests
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[]'
    tasks:
      - id: 1-1
        type: io.kestra.plugin.core.debug.Return
        format: "{{task.id}} > {{taskrun.value}}"
  - id: 2_end
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["1_each", "2_end"]


def test_foreach_with_a_null_value_fails(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # EachSequentialTest.eachNull (each-null.yaml): 1 task run, FAILED, the log says why
    flow = Flow.from_yaml(
        """
id: each-null
namespace: io.kestra.tests
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[1, null, {"key": "my-key", "value": "my-value"}]'
    tasks:
      - id: 1-1
        type: io.kestra.plugin.core.debug.Return
        format: "{{task.id}} > {{taskrun.value}}"
  - id: 2_end
    type: io.kestra.plugin.core.debug.Return
    format: "{{task.id}}"
"""
    )
    ex = client.wait(client.submit(flow).id, timeout=30)
    assert ex.state.current == S.FAILED
    assert [tr.task_id for tr in ex.task_run_list] == ["1_each"]
    assert any("Found '1' null values on Each" in e.message for e in client.logs(ex.id))


def test_foreach_null_in_a_yaml_list_fails_too(run) -> None:  # type: ignore[no-untyped-def]
    # FlowableUtils.resolveEachTasks counts nulls in either form
    ex = run(
        """
id: each-null-list
namespace: io.kestra.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value:
      - a
      - null
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_runs("r") == []


OBJECTS = [
    "value 1",
    '{"key":"my-key","value":"my-value"}',
    '{"key":"my-complex","value":{"sub":1,"bool":true}}',
]


def test_foreach_gives_maps_as_json_text_from_a_json_string(run) -> None:  # type: ignore[no-untyped-def]
    # EachSequentialTest.object (each-object.yaml), the Switch on `is json` left out
    ex = run(
        """
id: each-object
namespace: io.kestra.tests
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: |
      [
        "value 1",
        {"key": "my-key", "value": "my-value"},
        {"key": "my-complex", "value": {"sub": 1, "bool": true}}
      ]
    tasks:
      - id: v
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert [tr.value for tr in ex.task_runs("v")] == OBJECTS
    assert [tr.outputs["value"] for tr in ex.task_runs("v")] == OBJECTS


def test_foreach_gives_maps_as_json_text_from_a_yaml_list(run) -> None:  # type: ignore[no-untyped-def]
    # EachSequentialTest.objectInList (each-object-in-list.yaml)
    ex = run(
        """
id: each-object-in-list
namespace: io.kestra.tests
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values:
      - value 1
      - {"key": "my-key", "value": "my-value"}
      - key: my-complex
        value:
          sub: 1
          bool: true
    tasks:
      - id: v
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert [tr.value for tr in ex.task_runs("v")] == OBJECTS


def test_each_parallel_over_integers_and_duplicates(run) -> None:  # type: ignore[no-untyped-def]
    # each-parallel-Integer.yml; FlowableUtils.resolveEachTasks keeps distinct values
    ex = run(
        """
id: each-parallel-Integer
namespace: io.kestra.tests
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.EachParallel
    value: [1, 2, 3, 2, 1]
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{taskrun.value}}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert sorted(tr.outputs["value"] for tr in ex.task_runs("return")) == ["1", "2", "3"]


def test_each_over_a_list_of_booleans_fails(run) -> None:  # type: ignore[no-untyped-def]
    # FlowableUtils.resolveEachTasks: "Unknown value element type" for a list item that
    # is no string, integer or map
    ex = run(
        """
id: each-bool
namespace: io.kestra.tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: [true, false]
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_runs("r") == []
