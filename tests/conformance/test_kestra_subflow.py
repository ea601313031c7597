"""Kestra's Subflow task: ``allowFailure``/``allowWarning`` on it, ``inheritLabels``, and the
``system.correlationId`` label carried from the root execution through every level.

Flows follow Kestra's test flows (``core/src/test/resources/flows/valids/``) and are checked
as the cited Kestra tests check them.
"""

from __future__ import annotations

import pytest

from executor import Client, Flow, FlowValidationError, InputValidationError, StateType
from executor.models import Execution
from tests.conftest import stored

pytestmark = pytest.mark.integration
S = StateType

FAILING_CHILD = """
id: subflow-failed
namespace: io.kestra.tests
tasks:
  - {id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: child failed}
"""


def labels(execution: Execution) -> dict[str, str]:
    return {lb.key: lb.value for lb in execution.labels}


def child_of(client: Client, parent: Execution, task_id: str) -> Execution:
    return client.get(parent.task_run(task_id).outputs["executionId"])


@pytest.mark.parametrize(
    ("allow_warning", "task_state", "final"),
    [(False, S.WARNING, S.WARNING), (True, S.SUCCESS, S.SUCCESS)],
)
def test_allow_failure_on_a_subflow_lets_the_flow_go_on(
    run, client: Client, allow_warning: bool, task_state: StateType, final: StateType
) -> None:
    # task-allow-failure-executable-flow.yml (TaskWithAllowFailureTest.executableTask_Flow:
    # WARNING, 2 task runs) and task-allow-warning-executable-flow.yml
    # (TaskWithAllowWarningTest.executableTask_Flow: SUCCESS, 2 task runs)
    client.deploy(Flow.from_yaml(FAILING_CHILD))
    done = run(f"""
id: task-allow-failure-executable-flow
namespace: io.kestra.tests
tasks:
  - id: fail
    type: io.kestra.plugin.core.flow.Subflow
    allowFailure: true
    allowWarning: {str(allow_warning).lower()}
    namespace: io.kestra.tests
    flowId: subflow-failed
    transmitFailed: true
    wait: true
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: I'm allowed
""")
    assert done.state.current == final
    assert len(done.task_run_list) == 2
    assert done.task_run("fail").state.current == task_state
    assert done.task_run("log").state.current == S.SUCCESS
    assert child_of(client, done, "fail").state.current == S.FAILED


def test_a_failed_subflow_without_allow_failure_fails_the_flow(run, client: Client) -> None:
    client.deploy(Flow.from_yaml(FAILING_CHILD))
    done = run("""
id: task-no-allow-failure-executable-flow
namespace: io.kestra.tests
tasks:
  - {id: fail, type: Subflow, namespace: io.kestra.tests, flowId: subflow-failed}
  - {id: log, type: Log, message: not reached}
""")
    assert done.state.current == S.FAILED
    assert not done.task_runs("log")


CHILD = """
id: switch
namespace: io.kestra.tests
labels:
  switchFlowLabel: switchFoo
tasks:
  - {id: default, type: Return, format: "{{ labels.system.correlationId }}"}
"""


@pytest.mark.parametrize("inherit", [True, False])
def test_inherit_labels(client: Client, worker, inherit: bool) -> None:
    # task-flow-inherited-labels.yaml; FlowCaseTest (labels of the triggered execution):
    # inherited: the parent's labels (its flow's and its execution's), the task's, the
    # child flow's and the correlation id; else no parent label but the system ones
    client.deploy(Flow.from_yaml(CHILD))
    parent_flow = Flow.from_yaml(f"""
id: task-flow-inherited-labels
namespace: io.kestra.tests
labels:
  mainFlowLabel: flowFoo
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: io.kestra.tests
    flowId: switch
    wait: true
    transmitFailed: true
    inheritLabels: {str(inherit).lower()}
    labels:
      launchTaskLabel: launchFoo
""")
    submitted = client.submit(parent_flow, labels={"mainFlowExecutionLabel": "execFoo"})
    parent = client.wait(submitted.id, timeout=30)
    assert parent.state.current == S.SUCCESS
    child = child_of(client, parent, "launch")
    expected = {
        "system.correlationId": parent.id,
        "launchTaskLabel": "launchFoo",
        "switchFlowLabel": "switchFoo",
    }
    if inherit:
        expected |= {"mainFlowExecutionLabel": "execFoo", "mainFlowLabel": "flowFoo"}
    assert labels(child) == expected


def test_correlation_id_is_the_root_execution_id_through_two_levels(run, client: Client) -> None:
    # subflow-parent.yaml -> subflow-child.yaml -> subflow-grand-child.yaml; Kestra's
    # Execution.newExecution adds system.correlationId = its own id only when none came
    # with the parent's system labels (ExecutableUtils.subflowExecution)
    client.deploy(Flow.from_yaml(CHILD.replace("id: switch", "id: subflow-grand-child")))
    client.deploy(
        Flow.from_yaml("""
id: subflow-child
namespace: io.kestra.tests
tasks:
  - {id: grand, type: Subflow, namespace: io.kestra.tests, flowId: subflow-grand-child}
""")
    )
    root = run("""
id: subflow-parent
namespace: io.kestra.tests
tasks:
  - {id: child, type: Subflow, namespace: io.kestra.tests, flowId: subflow-child}
""")
    assert root.state.current == S.SUCCESS
    assert labels(root)["system.correlationId"] == root.id
    child = child_of(client, root, "child")
    grand = child_of(client, child, "grand")
    assert child.id != root.id != grand.id
    assert labels(child)["system.correlationId"] == root.id
    assert labels(grand)["system.correlationId"] == root.id
    # and the templating context sees it
    assert grand.task_run("default").outputs == {"value": root.id}


def test_user_labels_cannot_set_system_labels(client: Client) -> None:
    # Kestra rejects system.* labels given at creation (but system.correlationId)
    flow = Flow.from_yaml(CHILD)
    before = stored(client)
    with pytest.raises(InputValidationError) as err:
        client.submit(flow, labels={"system.readOnly": "true"})
    assert "system." in str(err.value)
    assert stored(client) == before
    done = client.wait(client.submit(flow, labels={"system.correlationId": "abc"}).id, 30)
    assert labels(done)["system.correlationId"] == "abc"


def test_subflow_task_labels_cannot_be_system_labels() -> None:
    # Subflow.labels carries @NoSystemLabelValidation
    with pytest.raises(FlowValidationError) as err:
        Flow.from_yaml("""
id: bad-subflow-labels
namespace: io.kestra.tests
tasks:
  - id: launch
    type: Subflow
    namespace: io.kestra.tests
    flowId: switch
    labels: {system.correlationId: mine}
""")
    assert "tasks[0].labels" in str(err.value) and "system." in str(err.value)
