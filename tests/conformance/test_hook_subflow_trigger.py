"""An execution started by a Subflow task carries Kestra's ``trigger``: the Subflow task's
``id`` and ``type``, and ``variables`` ``{executionId, namespace, flowId, flowRevision}``
of the parent (``core/src/main/java/io/kestra/core/runners/ExecutableUtils.java``,
``subflowExecution``: ``.withTrigger(ExecutionTrigger.builder().id(currentTask.getId())
.type(currentTask.getType()).variables(...))``), so a child's templates read
``trigger.executionId`` even when the child flow has no ``triggers`` of its own.
"""

from __future__ import annotations

import uuid

import pytest

from executor import Client, Flow, StateType

pytestmark = pytest.mark.integration

WHO = (
    "{{ trigger.executionId }}|{{ trigger.namespace }}"
    "|{{ trigger.flowId }}|{{ trigger.flowRevision }}"
)
CHILD = """
id: child
namespace: {ns}
tasks:
  - id: who
    type: Return
    format: "{who}"
  - id: maybe
    type: Return
    format: "{{{{ trigger.flowId ?? 'direct' }}}}"
"""

MAYBE_ONLY = """  - id: maybe
    type: Return
    format: "{{ trigger.flowId ?? 'direct' }}"
"""

PARENT = """
id: parent
namespace: {ns}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: {ns}
    flowId: child
    wait: true
"""


def test_a_subflow_child_has_its_parent_as_trigger(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    ns = f"tests.hook.sub{uuid.uuid4().hex[:8]}"
    client.deploy(Flow.from_yaml(CHILD.format(ns=ns, who=WHO)))
    parent = run(PARENT.format(ns=ns))
    assert parent.state.current == StateType.SUCCESS
    child = client.get(parent.task_run("call").outputs["executionId"])
    assert child.trigger is not None
    assert child.trigger.id == "call"
    assert child.trigger.type == "io.kestra.plugin.core.flow.Subflow"
    assert child.trigger.variables == {
        "executionId": parent.id,
        "namespace": ns,
        "flowId": "parent",
        "flowRevision": parent.flow_revision,
    }
    assert child.task_run("who").outputs["value"] == f"{parent.id}|{ns}|parent|1"
    assert child.task_run("maybe").outputs["value"] == "parent"
    # In the API's JSON, as Kestra's.
    data = child.model_dump(mode="json", by_alias=True)
    assert data["trigger"]["variables"]["executionId"] == parent.id


def test_the_same_flow_run_directly_has_no_trigger(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    ns = f"tests.hook.sub{uuid.uuid4().hex[:8]}"
    direct = run(CHILD.format(ns=ns, who=WHO))
    assert direct.trigger is None
    # ``trigger`` is undefined, as in Kestra for an execution nothing triggered.
    assert direct.state.current == StateType.FAILED
    lines = [entry.message for entry in client.logs(direct.id)]
    assert any("undefined variable" in m and "trigger" in m for m in lines), lines
    fallback = run(CHILD.format(ns=ns, who=WHO).split("  - id: who")[0] + MAYBE_ONLY)
    assert fallback.state.current == StateType.SUCCESS
    assert fallback.task_run("maybe").outputs["value"] == "direct"


SCHEDULED = """
id: scheduled
namespace: {ns}
triggers:
  - id: yearly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 3 1 1 *"
tasks:
  - id: how
    type: Return
    format: "{{ trigger is defined }}|{{ trigger.date ?? 'manual' }}"
"""


def test_a_flow_with_triggers_run_by_hand_has_no_trigger(run) -> None:  # type: ignore[no-untyped-def]
    # RunVariables.java: ``trigger`` is put only when ``execution.getTrigger() != null``;
    # a flow's ``triggers`` do not make it defined for an execution none of them started.
    ns = f"tests.hook.sched{uuid.uuid4().hex[:8]}"
    by_hand = run(SCHEDULED.replace("{ns}", ns))
    assert by_hand.trigger is None
    assert by_hand.state.current == StateType.SUCCESS
    assert by_hand.task_run("how").outputs["value"] == "false|manual"
