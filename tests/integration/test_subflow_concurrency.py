"""Subflows (child executions linked to their parent) and per-flow concurrency limits."""

from __future__ import annotations

import time

import pytest

from executor import Client, StateType
from executor.models import Execution

pytestmark = pytest.mark.integration
S = StateType

CHILD_OK = """
id: child
namespace: tests.subflow
inputs:
  - {id: n, type: INT}
tasks:
  - {id: double, type: Return, format: "{{ inputs.n * 2 }}"}
outputs:
  - {id: result, type: STRING, value: "{{ outputs.double.value }}"}
"""
CHILD_FAIL = """
id: failing
namespace: tests.subflow
tasks:
  - {id: boom, type: Fail, errorMessage: child failed}
"""


def test_subflow_outputs_reach_the_parent(client: Client, worker) -> None:
    client.deploy(CHILD_OK)
    parent = client.wait(
        client.submit("""
id: parent
namespace: tests.subflow
tasks:
  - id: sub
    type: Subflow
    namespace: tests.subflow
    flowId: child
    inputs: {n: 21}
  - id: use
    type: Return
    format: "{{ outputs.sub.outputs.result }}"
""").id,
        timeout=30,
    )
    assert parent.state.current == S.SUCCESS
    sub = parent.task_run("sub")
    child_id = sub.outputs["executionId"]
    assert sub.outputs["state"] == "SUCCESS"
    assert parent.task_run("use").outputs == {"value": "42"}
    child = client.get(child_id)
    assert child.state.current == S.SUCCESS
    assert child.outputs == {"result": "42"}
    labels = {lb.key: lb.value for lb in child.labels}
    assert labels["system.correlationId"] == parent.id


@pytest.mark.parametrize(
    ("transmit", "task_state", "final"), [(True, S.FAILED, S.FAILED), (False, S.SUCCESS, S.SUCCESS)]
)
def test_failing_subflow_with_and_without_transmit_failed(
    client: Client, worker, transmit: bool, task_state: StateType, final: StateType
) -> None:
    client.deploy(CHILD_FAIL)
    parent = client.wait(
        client.submit(f"""
id: parent{str(transmit).lower()}
namespace: tests.subflow
tasks:
  - id: sub
    type: Subflow
    namespace: tests.subflow
    flowId: failing
    transmitFailed: {str(transmit).lower()}
""").id,
        timeout=30,
    )
    assert parent.state.current == final
    assert parent.task_run("sub").state.current == task_state
    assert parent.task_run("sub").outputs["state"] == "FAILED"
    assert client.get(parent.task_run("sub").outputs["executionId"]).state.current == S.FAILED


def test_killing_the_parent_kills_the_subflow(client: Client, worker) -> None:
    client.deploy("""
id: slowchild
namespace: tests.subflow
tasks:
  - {id: nap, type: Sleep, duration: PT30S}
""")
    eid = client.submit("""
id: killparent
namespace: tests.subflow
tasks:
  - {id: sub, type: Subflow, namespace: tests.subflow, flowId: slowchild}
""").id
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = client.get(eid).task_runs("sub")
        if runs and "executionId" in runs[0].outputs:
            child = runs[0].outputs["executionId"]
            if client.get(child).task_runs("nap"):
                break
        time.sleep(0.1)
    client.kill(eid)
    assert client.wait(eid, timeout=15).state.current == S.KILLED
    assert client.wait(child, timeout=15).state.current == S.KILLED


def run_window(ex: Execution) -> tuple[float, float]:
    hist = ex.state.histories
    start = next(h.date for h in hist if h.state == S.RUNNING)
    return start.timestamp(), hist[-1].date.timestamp()


@pytest.mark.parametrize("behavior", ["QUEUE", "CANCEL", "FAIL"])
def test_concurrency_limit_never_runs_more_than_the_limit(
    client: Client, worker, behavior: str
) -> None:
    flow = client.deploy(f"""
id: limited{behavior.lower()}
namespace: tests.concurrency
concurrency: {{limit: 2, behavior: {behavior}}}
tasks:
  - {{id: nap, type: Sleep, duration: PT0.5S}}
""")
    ids = [client.submit(flow).id for _ in range(10)]
    done = [client.wait(eid, timeout=60) for eid in ids]
    ran = [e for e in done if S.RUNNING in [h.state for h in e.state.histories]]
    windows = sorted(run_window(e) for e in ran)
    events = sorted([(a, 1) for a, _ in windows] + [(b, -1) for _, b in windows])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    states = [e.state.current for e in done]
    if behavior == "QUEUE":
        assert states == [S.SUCCESS] * 10
        assert sum(S.QUEUED in [h.state for h in e.state.histories] for e in done) >= 8
    else:
        refused = S.CANCELLED if behavior == "CANCEL" else S.FAILED
        assert states.count(S.SUCCESS) >= 2
        assert states.count(refused) >= 6
        assert set(states) <= {S.SUCCESS, refused}
        for e in done:
            if e.state.current == refused:
                assert [h.state for h in e.state.histories] == [S.CREATED, refused]
                assert e.task_run_list[0].attempts == []
    # every slot was released: a new execution starts at once
    assert client.wait(client.submit(flow).id, timeout=20).state.current == S.SUCCESS
    holders = dict(((ns, f), m) for ns, f, m in client.store.slot_holders())
    assert holders.get(("tests.concurrency", f"limited{behavior.lower()}"), []) == []


def test_kill_while_queued_frees_the_queue(client: Client, worker) -> None:
    flow = client.deploy("""
id: limitedkill
namespace: tests.concurrency
concurrency: {limit: 1}
tasks:
  - {id: nap, type: Sleep, duration: PT1S}
""")
    first = client.submit(flow).id
    second = client.submit(flow).id
    assert client.state(second) == S.QUEUED
    assert client.kill(second).state.current == S.KILLED
    assert client.wait(first, timeout=20).state.current == S.SUCCESS
    third = client.wait(client.submit(flow).id, timeout=20)
    assert third.state.current == S.SUCCESS
    assert client.get(second).task_run("nap").attempts == []
