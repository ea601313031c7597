"""``FlowEndsPoller`` on the in-memory store: what fires for which end (a flow never
listens to itself; ``resetOnSuccess: false`` keeps a complete window firing; a bug in a
condition is recorded, and the end is acknowledged)."""

from __future__ import annotations

from typing import Any

import pytest

from executor.flow import Flow
from executor.orchestrator import Orchestrator
from executor.settings import Settings
from executor.state import StateType
from executor.store.base import TriggerRef
from executor.store.memory import MemoryStore
from executor.triggers.flow_trigger import FlowEndsPoller
from tests.unit.orchestration.test_orchestrator import RecordingDispatcher

NS = "company.team"


@pytest.fixture
def orchestrator() -> Orchestrator:
    return Orchestrator(MemoryStore(), RecordingDispatcher(), Settings())


def deploy(orchestrator: Orchestrator, fid: str, **trigger: Any) -> Flow:
    body: dict[str, Any] = {
        "id": fid,
        "namespace": NS,
        "tasks": [{"id": "t", "type": "Log", "message": "m"}],
    }
    if trigger:
        body["triggers"] = [{"id": "after", "type": "Flow", **trigger}]
    return orchestrator.store.deploy_flow(Flow.from_dict(body))


def end(orchestrator: Orchestrator, flow: Flow, state: StateType = StateType.SUCCESS) -> str:
    store = orchestrator.store
    eid = f"e{len(store.search(limit=1000)) + 1}"
    store.create_execution(eid, flow, {}, [], [], 0.0)
    store.transition_execution(eid, StateType.RUNNING)
    store.transition_execution(eid, state)
    return eid


def fired(orchestrator: Orchestrator, fid: str) -> list[str]:
    store = orchestrator.store
    found = [store.get_execution(eid) for eid in store.search(flow_id=fid, limit=1000)]
    return sorted(str(e.trigger.variables["executionId"]) for e in found if e.trigger)


def test_a_flow_never_listens_to_itself(orchestrator: Orchestrator) -> None:
    listener = deploy(
        orchestrator, "listener", conditions=[{"type": "ExecutionNamespace", "namespace": NS}]
    )
    up = deploy(orchestrator, "up")
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    first = end(orchestrator, up)
    assert poller(0.0) == 1
    end(orchestrator, listener)
    assert poller(0.0) == 0
    assert fired(orchestrator, "listener") == [first]


def test_without_reset_every_later_end_fires(orchestrator: Orchestrator) -> None:
    deploy(
        orchestrator,
        "listener",
        preconditions={
            "id": "p",
            "resetOnSuccess": False,
            "flows": [{"namespace": NS, "flowId": "a"}, {"namespace": NS, "flowId": "b"}],
        },
    )
    a, b = deploy(orchestrator, "a"), deploy(orchestrator, "b")
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    end(orchestrator, a)
    assert poller(1e9) == 0
    eb = end(orchestrator, b)
    ea = end(orchestrator, a)
    assert poller(1e9) == 2
    assert fired(orchestrator, "listener") == sorted([eb, ea])


def test_states_filter_and_failed_upstream(orchestrator: Orchestrator) -> None:
    deploy(orchestrator, "listener", states=["FAILED"])
    up = deploy(orchestrator, "up")
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    end(orchestrator, up)
    bad = end(orchestrator, up, StateType.FAILED)
    assert poller(0.0) == 1
    assert fired(orchestrator, "listener") == [bad]


def test_a_failing_condition_is_recorded_and_acknowledged(orchestrator: Orchestrator) -> None:
    deploy(
        orchestrator,
        "listener",
        preconditions={
            "id": "p",
            "where": [
                {
                    "id": "w",
                    "filters": [{"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ nope }}"}],
                }
            ],
        },
    )
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    end(orchestrator, deploy(orchestrator, "up"))
    assert poller(0.0) == 0
    state = orchestrator.store.trigger_state(TriggerRef(NS, "listener", "after"))
    assert state is not None and "nope" in (state.error or "")
    assert orchestrator.store.read_flow_ends("other", 10, claim_idle=0) == []


def test_stop_after_disables_the_trigger_once_its_execution_ends_so(
    orchestrator: Orchestrator,
) -> None:
    """Kestra's ``AbstractTrigger.stopAfter``: after an execution it started ends in one
    of those states, the trigger is disabled."""
    deploy(orchestrator, "listener", stopAfter=["FAILED"])
    up = deploy(orchestrator, "up")
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    end(orchestrator, up)
    assert poller(0.0) == 1
    store = orchestrator.store
    (child,) = store.search(flow_id="listener", limit=10)
    store.transition_execution(child, StateType.RUNNING)
    store.transition_execution(child, StateType.FAILED)
    end(orchestrator, up)
    assert poller(0.0) == 0  # the child's end disabled it, before the next end came
    state = store.trigger_state(TriggerRef(NS, "listener", "after"))
    assert state is not None and state.disabled


def test_a_trigger_listing_paused_fires_once_per_pause_and_per_end(
    orchestrator: Orchestrator,
) -> None:
    """Kestra's FlowTriggerService filters each state change by ``states``: a trigger
    listing PAUSED and SUCCESS fires for the pause and for the end of one execution
    (two executions, ``trigger.state`` PAUSED then SUCCESS); one with the default
    states fires for the end only; evaluating the same entries again starts nothing."""
    deploy(orchestrator, "listener", states=["PAUSED", "SUCCESS"])
    deploy(orchestrator, "ends", disabled=False)  # default states: the ends
    up = deploy(orchestrator, "up")
    store = orchestrator.store
    store.create_execution("e1", up, {}, [], [], 0.0)
    for state in ("RUNNING", "PAUSED", "RUNNING", "SUCCESS"):
        store.transition_execution("e1", StateType(state))
    entries = store.read_flow_ends("first", 10)
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    assert poller.evaluate(entries, 0.0) == 3
    assert poller.evaluate(entries, 0.0) == 0  # a crash before the ack: evaluated again
    found = [store.get_execution(e) for e in store.search(flow_id="listener", limit=10)]
    assert sorted(str(e.trigger.variables["state"]) for e in found if e.trigger) == [
        "PAUSED",
        "SUCCESS",
    ]
    assert fired(orchestrator, "ends") == ["e1"]


def test_a_pause_has_no_flow_outputs_and_stops_nothing(orchestrator: Orchestrator) -> None:
    """Kestra sets a flow's outputs when the execution ends (ExecutorService.onEnd): a
    fire on PAUSED sees ``trigger.outputs`` empty; ``stopAfter`` reads end states only
    (Trigger.resetExecution), so a child pausing does not disable its trigger."""
    listener = deploy(orchestrator, "listener", states=["PAUSED"], stopAfter=["PAUSED"])
    other = Flow.from_dict(
        {
            "id": "other",
            "namespace": NS,
            "tasks": [{"id": "t", "type": "Log", "message": "m"}],
            "triggers": [{"id": "watch", "type": "Flow", "states": ["PAUSED"]}],
        }
    )
    orchestrator.store.deploy_flow(other)
    store = orchestrator.store
    store.create_execution("u1", listener, {}, [], [], 0.0)
    store.transition_execution("u1", StateType.RUNNING)
    store.transition_execution("u1", StateType.PAUSED)
    poller = FlowEndsPoller(orchestrator, claim_idle=30)
    assert poller(0.0) == 1  # "other" fired on the listener's pause
    (child,) = store.search(flow_id="other", limit=10)
    trigger = store.get_execution(child).trigger
    assert trigger is not None and trigger.variables["outputs"] == {}
    state = store.trigger_state(TriggerRef(NS, "listener", "after"))
    assert state is None or not state.disabled
