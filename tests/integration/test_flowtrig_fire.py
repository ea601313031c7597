"""Flow triggers end to end: real Redis, a real Celery worker, the poller of the trigger
loop evaluating the stream of ends and of the other state changes triggers list
(``executor.triggers.flow_trigger``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from executor import Client, Flow
from executor.embedded import LocalWorker
from executor.models import Execution
from executor.state import StateType
from executor.store.base import TriggerRef
from executor.triggers.flow_trigger import FlowEndsPoller


def ns() -> str:
    return f"ft{uuid.uuid4().hex[:8]}"


def upstream(namespace: str, fid: str = "extract", fail: bool = False) -> Flow:
    task = (
        {"id": "boom", "type": "io.kestra.plugin.core.execution.Fail"}
        if fail
        else {"id": "final_date", "type": "Return", "format": "2026-12-01"}
    )
    return Flow.from_dict(
        {
            "id": fid,
            "namespace": namespace,
            "labels": {"team": "data"},
            "tasks": [task],
            "outputs": []
            if fail
            else [{"id": "date", "type": "STRING", "value": "{{ outputs.final_date.value }}"}],
        }
    )


def listener(namespace: str, trigger: dict, fid: str = "transform") -> Flow:
    return Flow.from_dict(
        {
            "id": fid,
            "namespace": namespace,
            "inputs": [
                {"id": "date", "type": "STRING", "defaults": "none"},
                {"id": "source", "type": "STRING", "defaults": "none"},
            ],
            "tasks": [
                {
                    "id": "show",
                    "type": "Return",
                    "format": "{{ trigger.executionId }} {{ trigger.flowId }} {{ inputs.date }}",
                }
            ],
            "triggers": [{"id": "after", "type": "io.kestra.plugin.core.trigger.Flow", **trigger}],
        }
    )


def pump(
    client: Client, until: Callable[[], bool], timeout: float = 30.0, poller=None
) -> FlowEndsPoller:  # type: ignore[no-untyped-def]
    """Run a poller of the stream of ends until ``until()``."""
    poller = poller or FlowEndsPoller(client.orchestrator, claim_idle=30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poller(time.time())
        if until():
            return poller
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def started_by(client: Client, namespace: str, fid: str) -> list[Execution]:
    page = client.search(namespace=namespace, flow_id=fid)
    return [e for e in page if e.trigger is not None]


def run_to_end(client: Client, flow: Flow) -> Execution:
    ex = client.submit(flow)
    return client.wait(ex.id, timeout=60)


def test_fires_once_per_matching_end_with_trigger_variables_and_outputs(
    client: Client, worker: LocalWorker
) -> None:
    n = ns()
    client.deploy(
        listener(
            n,
            {
                "inputs": {"date": "{{ trigger.outputs.date }}", "source": "{{ trigger.state }}"},
                "preconditions": {
                    "id": "up",
                    "flows": [{"namespace": n, "flowId": "extract", "states": ["SUCCESS"]}],
                },
            },
        )
    )
    up = client.deploy(upstream(n))
    failing = client.deploy(upstream(n, "extract2", fail=True))
    first = run_to_end(client, up)
    other = run_to_end(client, failing)  # another flow: no match
    assert first.state.current == StateType.SUCCESS and other.state.current == StateType.FAILED
    poller = pump(client, lambda: len(started_by(client, n, "transform")) == 1)
    (child,) = started_by(client, n, "transform")
    child = client.wait(child.id, timeout=60)
    assert child.inputs == {"date": "2026-12-01", "source": "SUCCESS"}
    assert child.trigger is not None and child.trigger.id == "after"
    assert child.trigger.variables == {
        "executionId": first.id,
        "namespace": n,
        "flowId": "extract",
        "flowRevision": 1,
        "state": "SUCCESS",
        "outputs": {"date": "2026-12-01"},
    }
    assert child.task_run("show").outputs["value"] == f"{first.id} extract 2026-12-01"
    # A second end fires a second time; the listener's own end fires nothing.
    run_to_end(client, up)
    pump(client, lambda: len(started_by(client, n, "transform")) == 2, poller=poller)
    for ex in started_by(client, n, "transform"):
        client.wait(ex.id, timeout=60)
    for _ in range(10):
        poller(time.time())
    assert len(started_by(client, n, "transform")) == 2
    state = client.store.trigger_state(TriggerRef(n, "transform", "after"))
    assert state is not None and state.fired == 2


def test_a_trigger_listening_to_paused_fires_once_when_a_pause_task_pauses_the_upstream(
    client: Client, worker: LocalWorker
) -> None:
    """A Pause task pauses the upstream execution: a trigger with ``states: [PAUSED]``
    starts one execution, whose ``trigger.state`` is PAUSED and ``trigger.outputs`` empty
    (an execution has flow outputs once it ended); the resume and the end, not listed,
    start nothing, however many times the poller runs."""
    n = ns()
    client.deploy(listener(n, {"states": ["PAUSED"], "inputs": {"source": "{{ trigger.state }}"}}))
    try:
        up = client.deploy(
            Flow.from_dict(
                {
                    "id": "waits",
                    "namespace": n,
                    "tasks": [
                        {"id": "hold", "type": "io.kestra.plugin.core.flow.Pause"},
                        {"id": "after", "type": "Return", "format": "done"},
                    ],
                    "outputs": [
                        {"id": "out", "type": "STRING", "value": "{{ outputs.after.value }}"}
                    ],
                }
            )
        )
        eid = client.submit(up).id
        deadline = time.monotonic() + 30
        while client.state(eid) != StateType.PAUSED:
            assert time.monotonic() < deadline, "never paused"
            time.sleep(0.05)
        poller = pump(client, lambda: len(started_by(client, n, "transform")) == 1)
        (child,) = started_by(client, n, "transform")
        child = client.wait(child.id, timeout=60)
        assert child.state.current == StateType.SUCCESS
        assert child.inputs["source"] == "PAUSED"
        assert child.trigger is not None
        assert child.trigger.variables["executionId"] == eid
        assert child.trigger.variables["state"] == "PAUSED"
        assert child.trigger.variables["outputs"] == {}
        client.resume(eid)
        assert client.wait(eid, timeout=60).state.current == StateType.SUCCESS
        for _ in range(20):
            poller(time.time())
            time.sleep(0.02)
        assert len(started_by(client, n, "transform")) == 1
        state = client.store.trigger_state(TriggerRef(n, "transform", "after"))
        assert state is not None and state.fired == 1
    finally:
        # Listening to PAUSED streams every pause on the shared Redis: stop it.
        client.store.delete_flow(n, "transform")


def test_several_flows_must_all_end_within_the_window(client: Client, worker: LocalWorker) -> None:
    n = ns()
    client.deploy(
        listener(
            n,
            {
                "preconditions": {
                    "id": "both",
                    "flows": [
                        {"namespace": n, "flowId": "a", "states": ["SUCCESS"]},
                        {"namespace": n, "flowId": "b", "states": ["SUCCESS"]},
                    ],
                    "where": [
                        {
                            "id": "labelled",
                            "filters": [
                                {"field": "NAMESPACE", "type": "STARTS_WITH", "value": n},
                                {
                                    "field": "EXPRESSION",
                                    "type": "IS_TRUE",
                                    "value": "{{ labels.team == 'data' }}",
                                },
                            ],
                        }
                    ],
                }
            },
        )
    )
    a, b = client.deploy(upstream(n, "a")), client.deploy(upstream(n, "b"))
    run_to_end(client, a)
    run_to_end(client, a)
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    for _ in range(10):
        poller(time.time())
    assert started_by(client, n, "transform") == []  # b has not ended yet
    run_to_end(client, b)
    pump(client, lambda: len(started_by(client, n, "transform")) == 1, poller=poller)
    # Reset on success: b alone again is not enough.
    run_to_end(client, b)
    for _ in range(10):
        poller(time.time())
    assert len(started_by(client, n, "transform")) == 1


def test_invalid_inputs_are_recorded_and_not_retried(client: Client, worker: LocalWorker) -> None:
    n = ns()
    flow = listener(
        n,
        {
            "inputs": {"n": "{{ trigger.state }}"},
            "conditions": [{"type": "ExecutionFlow", "namespace": n, "flowId": "extract"}],
        },
    )
    flow = Flow.from_dict(
        {**flow.to_dict(), "inputs": [{"id": "n", "type": "INT", "required": True}]}
    )
    client.deploy(flow)
    run_to_end(client, client.deploy(upstream(n)))
    ref = TriggerRef(n, "transform", "after")
    pump(client, lambda: (s := client.store.trigger_state(ref)) is not None and s.error is not None)
    state = client.store.trigger_state(ref)
    assert state is not None and "n" in (state.error or "") and state.fired == 0
    assert started_by(client, n, "transform") == []
    # Acknowledged: nothing of this test is left to evaluate, nothing pending (the stream
    # is shared: ends of other tests' flows may still be in it).
    left = client.store.read_flow_ends("check", 100, claim_idle=0)
    assert [e for e in left if e.namespace == n] == []


def test_a_disabled_trigger_does_not_fire(client: Client, worker: LocalWorker) -> None:
    n = ns()
    client.deploy(listener(n, {"conditions": [{"type": "ExecutionNamespace", "namespace": n}]}))
    client.store.set_trigger_disabled(TriggerRef(n, "transform", "after"), True)
    run_to_end(client, client.deploy(upstream(n)))
    poller = FlowEndsPoller(client.orchestrator, claim_idle=30)
    for _ in range(10):
        poller(time.time())
    assert started_by(client, n, "transform") == []


def test_an_end_trimmed_while_pending_stops_coming_back(redis_server) -> None:  # type: ignore[no-untyped-def]
    """Redis 6.2 claims an entry deleted while pending (MAXLEN) as (nil, nil): it is found
    in the pending list and acknowledged, not claimed again and again."""
    from executor.store.redis import RedisStore

    store = RedisStore.from_url(redis_server.url, prefix=f"ft-{uuid.uuid4().hex[:8]}")
    try:
        store.deploy_flow(listener("trim", {}))
        store.read_flow_ends("init", 1)  # creates the group
        for _ in range(2):
            store.r.xadd(store.k.flow_ends, {"eid": "e", "ns": "n", "fid": "f", "s": "SUCCESS"})
        held = store.read_flow_ends("dead", 10)
        store.r.xdel(store.k.flow_ends, held[0].entry_id)
        claimed = store.read_flow_ends("alive", 10, claim_idle=0)
        assert [e.entry_id for e in claimed] == [held[1].entry_id]
        store.ack_flow_ends([held[1].entry_id])
        assert store.r.xpending(store.k.flow_ends, "flowtrig")["pending"] == 0
    finally:
        store.close()
