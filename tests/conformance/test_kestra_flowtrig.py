"""Kestra's Flow trigger (``io.kestra.plugin.core.trigger.Flow``): plain conditions,
``inputs`` rendered in the ended execution's context, ``preconditions`` with ``flows`` and
``where``, the legacy ``MultipleCondition``, invalid inputs, and ``states`` listing
states other than ends (RUNNING, PAUSED: every state change is evaluated).

Flows follow Kestra's test flows (``core/src/test/resources/flows/valids/trigger-flow*.yaml``,
``flow-trigger-preconditions-*.yaml``, ``trigger-multiplecondition-*.yaml``), each in a
namespace of its own, and are checked as the cited Kestra tests check them.
"""

from __future__ import annotations

import time
import uuid

import pytest

from executor import Client, Flow, FlowValidationError, StateType
from executor.embedded import LocalWorker
from executor.models import Execution
from executor.store.base import TriggerRef
from executor.triggers.flow_trigger import FlowEndsPoller

pytestmark = pytest.mark.integration

TRIGGER_FLOW = """
id: trigger-flow
namespace: NS
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "from parents: {{execution.id}}"
"""

LISTENER = """
id: trigger-flow-listener
namespace: NS
inputs:
  - id: from-parent
    type: STRING
tasks:
  - id: only-listener
    type: io.kestra.plugin.core.debug.Return
    format: "childs: {{inputs['from-parent']}}"
triggers:
  - id: listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      from-parent: '{{ outputs.only.value }}'
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - SUCCESS
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: NS
        flowId: trigger-flow
"""

NO_INPUTS = """
id: trigger-flow-listener-no-inputs
namespace: NS
tasks:
  - id: only-no-input
    type: io.kestra.plugin.core.debug.Return
    format: "v1: {{trigger.executionId}}"
triggers:
  - id: listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - SUCCESS
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: NS
        flowId: trigger-flow
  - id: listen-flow-failed
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - FAILED
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: NS
        flowId: other-flow
"""

INVALID = """
id: trigger-flow-listener-invalid
namespace: NS
inputs:
  - id: from-parent
    type: STRING
tasks:
  - id: only-invalid
    type: io.kestra.plugin.core.debug.Return
    format: "childs: {{inputs['from-parent']}}"
triggers:
  - id: listen-flow-invalid
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      from-parent: '{{ outputs.invalid.value }}'
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: NS
        flowId: trigger-flow
"""

PRE_A = """
id: flow-trigger-preconditions-flow-a
namespace: NS
labels:
  some: label
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "from parents: {{execution.id}}"
"""

PRE_B = PRE_A.replace("flow-a", "flow-b").replace("labels:\n  some: label\n", "")

PRE_LISTEN = """
id: flow-trigger-preconditions-flow-listen
namespace: NS
triggers:
  - id: flow
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: flow
      flows:
        - namespace: NS
          flowId: flow-trigger-preconditions-flow-a
          states: [SUCCESS, WARNING, FAILED]
        - namespace: NS
          flowId: flow-trigger-preconditions-flow-b
          states: [SUCCESS]
      where:
        - id: flow1
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: NS
            - field: FLOW_ID
              type: EQUAL_TO
              value: flow-trigger-preconditions-flow-a
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{labels.some == 'label'}}"
        - id: flow2
          filters:
            - field: NAMESPACE
              type: ENDS_WITH
              value: NSTAIL
            - field: FLOW_ID
              type: EQUAL_TO
              value: flow-trigger-preconditions-flow-b
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "It works"
"""

MULTI_A = """
id: trigger-multiplecondition-flow-a
namespace: NS
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "from parents: {{execution.id}}"
"""

MULTI_LISTENER = """
id: trigger-multiplecondition-listener
namespace: NS
tasks:
  - id: only-listener
    type: io.kestra.plugin.core.debug.Return
    format: "childs"
triggers:
  - id: multiple-listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - id: multiple
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        windowAdvance: P0D
        conditions:
          success:
            type: io.kestra.plugin.core.condition.ExecutionStatus
            in:
              - SUCCESS
          flow-a:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: NS
            flowId: trigger-multiplecondition-flow-a
          flow-b:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: NS
            flowId: trigger-multiplecondition-flow-b
"""


WITH_PAUSE = """
id: trigger-flow-with-pause
namespace: NS
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello World!
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.5S
  - id: hello_again
    type: io.kestra.plugin.core.log.Log
    message: I'm restarted
"""

LISTENER_WITH_PAUSE = """
id: trigger-flow-listener-with-pause
namespace: NS
outputs:
  - id: status
    type: STRING
    value: "{{trigger.state}}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello {{trigger.executionId}} you're in {{trigger.state}}
triggers:
  - id: listen-flow
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: NS
        flowId: trigger-flow-with-pause
"""


def flow(text: str, ns: str) -> Flow:
    return Flow.from_yaml(text.replace("NSTAIL", ns.rsplit(".", 1)[-1]).replace("NS", ns))


def space() -> str:
    return f"io.kestra.tests.trigger.t{uuid.uuid4().hex[:8]}"


def settle(client: Client, poller: FlowEndsPoller, rounds: int = 20) -> None:
    """Poll the stream of ends until the executions it started have ended (their own
    ends are evaluated too) and nothing new comes."""
    quiet = 0
    while quiet < rounds:
        started = poller(time.time())
        running = [
            e
            for e in client.search(limit=200)
            if e.trigger is not None and not e.state.current.is_terminated()
        ]
        for e in running:
            client.wait(e.id, timeout=60)
        quiet = 0 if started or running else quiet + 1
        time.sleep(0.02)


def started(client: Client, ns: str, fid: str) -> list[Execution]:
    return [e for e in client.search(namespace=ns, flow_id=fid) if e.trigger is not None]


def test_flow_trigger_case(client: Client, worker: LocalWorker) -> None:
    """FlowTriggerCaseTest.trigger (core/src/test/java/io/kestra/core/runners/
    FlowTriggerCaseTest.java) with trigger-flow-listener*.yaml: ``inputs`` render the
    upstream's task outputs; ``trigger.*`` names the upstream execution;
    trigger-flow-listener-invalid (an undefined output) starts nothing."""
    ns = space()
    for text in (LISTENER, NO_INPUTS, INVALID):
        client.deploy(flow(text, ns))
    up = client.wait(client.submit(client.deploy(flow(TRIGGER_FLOW, ns))).id, timeout=60)
    assert up.state.current == StateType.SUCCESS
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    settle(client, poller)
    (listener,) = started(client, ns, "trigger-flow-listener")
    listener = client.get(listener.id)
    assert listener.state.current == StateType.SUCCESS
    assert listener.task_run("only-listener").outputs["value"] == f"childs: from parents: {up.id}"
    assert listener.trigger is not None
    assert listener.trigger.variables["executionId"] == up.id
    assert listener.trigger.variables["namespace"] == ns
    assert listener.trigger.variables["flowId"] == "trigger-flow"
    (no_input,) = started(client, ns, "trigger-flow-listener-no-inputs")
    no_input = client.get(no_input.id)
    assert no_input.state.current == StateType.SUCCESS
    assert no_input.trigger is not None and no_input.trigger.id == "listen-flow"
    assert no_input.task_run("only-no-input").outputs["value"] == f"v1: {up.id}"
    assert started(client, ns, "trigger-flow-listener-invalid") == []
    state = client.store.trigger_state(
        TriggerRef(ns, "trigger-flow-listener-invalid", "listen-flow-invalid")
    )
    assert state is not None and "invalid" in (state.error or "")


def test_flow_trigger_preconditions(client: Client, worker: LocalWorker) -> None:
    """MultipleConditionTriggerCaseTest.flowTriggerPreconditions with
    flow-trigger-preconditions-flow-{a,b,listen}.yaml: flow-a twice then flow-b start the
    listener once (every ``flows`` and ``where`` entry met within the day's window)."""
    ns = space()
    client.deploy(flow(PRE_LISTEN, ns))
    a, b = client.deploy(flow(PRE_A, ns)), client.deploy(flow(PRE_B, ns))
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    for _ in range(2):
        client.wait(client.submit(a).id, timeout=60)
    settle(client, poller, rounds=5)
    assert started(client, ns, "flow-trigger-preconditions-flow-listen") == []
    client.wait(client.submit(b).id, timeout=60)
    settle(client, poller)
    (listen,) = started(client, ns, "flow-trigger-preconditions-flow-listen")
    assert client.get(listen.id).state.current == StateType.SUCCESS
    assert listen.trigger is not None and listen.trigger.variables["flowId"] == (
        "flow-trigger-preconditions-flow-b"
    )


def test_multiple_condition(client: Client, worker: LocalWorker) -> None:
    """MultipleConditionTriggerCaseTest.trigger with trigger-multiplecondition-*.yaml (the
    legacy ``MultipleCondition``): flow-a alone starts nothing, flow-b then starts the
    listener once, its ``trigger`` naming flow-b's execution."""
    ns = space()
    client.deploy(flow(MULTI_LISTENER, ns))
    a = client.deploy(flow(MULTI_A, ns))
    b = client.deploy(flow(MULTI_A.replace("flow-a", "flow-b"), ns))
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    client.wait(client.submit(a).id, timeout=60)
    settle(client, poller, rounds=5)
    assert started(client, ns, "trigger-multiplecondition-listener") == []
    second = client.wait(client.submit(b).id, timeout=60)
    settle(client, poller)
    (listener,) = started(client, ns, "trigger-multiplecondition-listener")
    assert listener.trigger is not None
    assert listener.trigger.variables["executionId"] == second.id
    assert listener.trigger.variables["flowId"] == "trigger-multiplecondition-flow-b"


def test_flow_trigger_with_pause(client: Client, worker: LocalWorker) -> None:
    """FlowTriggerCaseTest.triggerWithPause (core/src/test/java/io/kestra/core/runners/
    FlowTriggerCaseTest.java) with trigger-flow-with-pause.yaml and
    trigger-flow-listener-with-pause.yaml: a trigger listening to RUNNING, PAUSED and the
    ends is evaluated on every state change of the upstream execution, so it starts four
    executions, whose ``status`` output (``trigger.state``) is RUNNING, PAUSED, RUNNING,
    SUCCESS, in that order."""
    ns = space()
    listener = client.deploy(flow(LISTENER_WITH_PAUSE, ns))
    try:
        up = client.submit(client.deploy(flow(WITH_PAUSE, ns)))
        up = client.wait(up.id, timeout=60)
        assert up.state.current == StateType.SUCCESS
        assert len(up.task_run_list) == 3
        poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
        settle(client, poller)
        runs = [client.get(e.id) for e in started(client, ns, listener.id)]
        runs.sort(key=lambda e: e.state.histories[0].date)
        assert [e.state.current for e in runs] == [StateType.SUCCESS] * 4
        assert [e.outputs.get("status") for e in runs] == [
            "RUNNING",
            "PAUSED",
            "RUNNING",
            "SUCCESS",
        ]
        assert {e.trigger.variables["executionId"] for e in runs if e.trigger} == {up.id}
    finally:
        # Listening to RUNNING streams every execution's start on the shared Redis.
        client.store.delete_flow(ns, listener.id)


@pytest.mark.parametrize(
    ("trigger", "path"),
    [
        ({"states": ["CREATED"]}, "triggers[0].states[0]: a Flow trigger cannot react to CREATED"),
        ({"states": ["NOPE"]}, "triggers[0].states[0]"),
        ({"preconditions": {"id": "p", "flows": [{"flowId": "x"}]}}, "namespace"),
        (
            {"preconditions": {"id": "p", "where": [{"id": "w", "filters": [{"field": "X"}]}]}},
            "triggers[0].preconditions.where[0].filters[0].field",
        ),
        (
            {
                "preconditions": {
                    "id": "p",
                    "flows": [{"namespace": "a"}],
                    "timeWindow": {"type": "DAILY_TIME_DEADLINE"},
                }
            },
            "triggers[0].preconditions.timeWindow.deadline",
        ),
        (
            {"conditions": [{"type": "io.kestra.plugin.core.condition.DayWeek"}]},
            "conditions[0].type",
        ),
        ({"stopAfter": ["NOPE"]}, "triggers[0].stopAfter[0]"),
    ],
)
def test_bad_properties_fail_the_deploy_with_their_path(
    client: Client, trigger: dict, path: str
) -> None:
    """Kestra validates a Flow trigger's properties at deploy (Flow.java's constraints:
    ``preconditions.id`` pattern, an upstream's ``namespace`` @NotNull, a filter's
    ``field``/``type``, TimeWindowValidation); nothing is stored."""
    text = {
        "id": "bad",
        "namespace": space(),
        "tasks": [{"id": "t", "type": "Log", "message": "m"}],
        "triggers": [{"id": "after", "type": "io.kestra.plugin.core.trigger.Flow", **trigger}],
    }
    with pytest.raises(FlowValidationError) as info:
        client.deploy(Flow.from_dict(text))
    assert path in str(info.value)
