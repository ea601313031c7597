"""Kestra's Labels task (``io.kestra.plugin.core.execution.Labels``, source
``plugin/core/execution/Labels.java``): labels added to the running execution, from a
map, a list of {key, value} or a rendered JSON map; an existing key takes the new value;
``system.`` labels are refused. Cases from ``plugin/core/flow/RuntimeLabelsTest.java``,
flows from ``core/src/test/resources/flows/valids/*labels*.yml``."""

from __future__ import annotations

import json

from executor import Client, Flow
from executor.state import StateType

S = StateType


def _labels(execution) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {lb.key: lb.value for lb in execution.labels}


def test_labels_from_json_map_and_list_override_flow_and_execution_labels(
    client: Client,
    worker,  # type: ignore[no-untyped-def]
) -> None:
    # RuntimeLabelsTest.update (labels-update-task.yml)
    flow = Flow.from_yaml(
        """
id: labels-update-task
namespace: io.kestra.tests
labels:
  flowLabelKey: flowLabelValue
  overriddenFlowLabelKey: flowValueThatWillGetOverridden
inputs:
  - id: labelsJson
    type: JSON
  - id: labelsMapKey
    type: STRING
  - id: labelsMapValue
    type: STRING
  - id: labelsListKey
    type: STRING
  - id: labelsListValue
    type: STRING
tasks:
  - id: from-render
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{ inputs.labelsJson }}"
  - id: from-map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      "{{ inputs.labelsMapKey }}": "{{ inputs.labelsMapValue }}"
  - id: from-list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: "{{ inputs.labelsListKey }}"
        value: "{{ inputs.labelsListValue }}"
  - id: override-labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      overriddenFlowLabelKey: "{{ flow.namespace ~ '.' ~ flow.id }}"
      overriddenExecutionLabelKey: "{{ taskrun.id }}"
"""
    )
    inputs = {
        "labelsJson": json.dumps({"keyFromJson": "valueFromJson"}),
        "labelsMapKey": "keyFromMap",
        "labelsMapValue": "valueFromMap",
        "labelsListKey": "keyFromList",
        "labelsListValue": "valueFromList",
    }
    labels = {
        "keyFromExecution": "valueFromExecution",
        "overriddenExecutionLabelKey": "executionValueThatWillGetOverridden",
    }
    eid = client.submit(flow, inputs=inputs, labels=labels).id
    ex = client.wait(eid, timeout=30)
    assert ex.state.current == S.SUCCESS
    assert len(ex.task_run_list) == 4
    got = _labels(ex)
    assert got["flowLabelKey"] == "flowLabelValue"
    assert got["overriddenFlowLabelKey"] == "io.kestra.tests.labels-update-task"
    assert got["keyFromJson"] == "valueFromJson"
    assert got["keyFromMap"] == "valueFromMap"
    assert got["keyFromList"] == "valueFromList"
    assert got["keyFromExecution"] == "valueFromExecution"
    assert got["overriddenExecutionLabelKey"] == ex.task_run("override-labels").id


def test_primitive_label_values_become_text(client: Client, worker) -> None:  # type: ignore[no-untyped-def]
    # RuntimeLabelsTest.primitiveTypeLabels (primitive-labels-flow.yml)
    flow = Flow.from_yaml(
        """
id: primitive-labels-flow
namespace: io.kestra.tests
inputs:
  - id: intLabel
    type: INT
  - id: floatLabel
    type: FLOAT
  - id: boolLabel
    type: BOOLEAN
tasks:
  - id: update-labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      intValue: "{{inputs.intLabel}}"
      floatValue: "{{inputs.floatLabel}}"
      boolValue: "{{inputs.boolLabel}}"
      taskRunId: "{{taskrun.id}}"
"""
    )
    eid = client.submit(
        flow,
        inputs={"intLabel": 42, "boolLabel": True, "floatLabel": 3.14},
        labels={"existingLabel": "someValue"},
    ).id
    ex = client.wait(eid, timeout=30)
    assert ex.state.current == S.SUCCESS
    got = _labels(ex)
    assert got["intValue"] == "42"
    assert got["boolValue"] == "true"
    assert got["floatValue"] == "3.14"
    assert got["taskRunId"] == ex.task_run("update-labels").id
    assert got["existingLabel"] == "someValue"


def test_later_tasks_see_the_new_labels(run) -> None:  # type: ignore[no-untyped-def]
    # RuntimeLabelsTest.noNpeOnNullPreviousExecutionLabels (npe-labels-update-task.yml),
    # and the label read back by the next task
    ex = run(
        """
id: npe-labels-update-task
namespace: io.kestra.tests
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      someLabel: "{{ taskrun.id }}"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.someLabel }}"
"""
    )
    assert ex.state.current == S.SUCCESS
    assert _labels(ex)["someLabel"] == ex.task_run("labels").id
    assert ex.task_run("read").outputs == {"value": ex.task_run("labels").id}


def test_system_labels_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    # Labels.update: "System labels can only be set by Kestra itself"
    ex = run(
        """
id: labels-system
namespace: io.kestra.tests
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.correlationId: forged
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("labels").state.current == S.FAILED
    assert _labels(ex)["system.correlationId"] != "forged"


def test_labels_that_render_to_no_map_fail_the_task(run) -> None:  # type: ignore[no-untyped-def]
    # Labels.update: a string must hold a JSON map
    ex = run(
        """
id: labels-bad
namespace: io.kestra.tests
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels: "not json"
"""
    )
    assert ex.state.current == S.FAILED
    assert ex.task_run("labels").state.current == S.FAILED
