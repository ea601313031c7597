"""``executor.triggers.fire``: a trigger starts an execution once per identity, with
Kestra's ``trigger`` shown on the execution and readable by templates."""

from __future__ import annotations

import pytest

from executor.errors import InputValidationError, StateConflict
from executor.flow import Flow
from executor.models import ExecutionTrigger
from executor.orchestrator import Orchestrator, render_text
from executor.render_context import build_context
from executor.settings import Settings
from executor.store.base import TriggerRef
from executor.store.memory import MemoryStore
from executor.triggers.fire import fire
from tests.unit.orchestration.test_orchestrator import RecordingDispatcher

FLOW = """
id: nightly
namespace: company.team
labels: {team: data}
inputs:
  - id: n
    type: INT
    defaults: 1
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.date }}"
triggers:
  - id: every_minute
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * *"
"""
ORIGIN = ExecutionTrigger(
    id="every_minute",
    type="io.kestra.plugin.core.trigger.Schedule",
    variables={"date": "2026-12-02T04:00:00Z", "next": "2026-12-02T04:01:00Z"},
)


@pytest.fixture
def orchestrator() -> Orchestrator:
    return Orchestrator(MemoryStore(), RecordingDispatcher(), Settings())


def test_fires_once_per_identity(orchestrator: Orchestrator) -> None:
    flow = orchestrator.store.deploy_flow(Flow.from_yaml(FLOW))
    first = fire(orchestrator, flow, ORIGIN, eid="tick-1", inputs={"n": 3})
    again = fire(orchestrator, flow, ORIGIN, eid="tick-1", inputs={"n": 3})
    assert first is not None and again is None
    stored = orchestrator.store.get_execution("tick-1")
    assert stored.trigger == ORIGIN
    assert stored.inputs == {"n": 3}
    assert {lb.key: lb.value for lb in stored.labels} == {
        "team": "data",
        "system.correlationId": "tick-1",
    }
    state = orchestrator.store.trigger_state(TriggerRef("company.team", "nightly", "every_minute"))
    assert state is not None and (state.fired, state.execution_id) == (1, "tick-1")
    dumped = stored.model_dump(mode="json", by_alias=True)
    assert dumped["trigger"] == {
        "id": "every_minute",
        "type": "io.kestra.plugin.core.trigger.Schedule",
        "variables": ORIGIN.variables,
    }


def test_templates_read_the_trigger_variables(orchestrator: Orchestrator) -> None:
    flow = orchestrator.store.deploy_flow(Flow.from_yaml(FLOW))
    fire(orchestrator, flow, ORIGIN, eid="tick-2")
    ctx = build_context(orchestrator.store, "tick-2", flow, None, task_run_id="")
    assert render_text("{{ trigger.date }} then {{ trigger.next }}", ctx) == (
        "2026-12-02T04:00:00Z then 2026-12-02T04:01:00Z"
    )


def test_bad_inputs_or_a_disabled_flow_store_nothing(orchestrator: Orchestrator) -> None:
    flow = orchestrator.store.deploy_flow(Flow.from_yaml(FLOW))
    with pytest.raises(InputValidationError, match="n"):
        fire(orchestrator, flow, ORIGIN, eid="tick-3", inputs={"n": "many"})
    disabled = flow.model_copy(update={"disabled": True})
    with pytest.raises(StateConflict, match="disabled"):
        fire(orchestrator, disabled, ORIGIN, eid="tick-4")
    assert orchestrator.store.search(namespace="company.team") == []
    assert orchestrator.store.trigger_state(TriggerRef(flow.namespace, flow.id, ORIGIN.id)) is None


def test_each_fire_is_counted_once_in_the_metrics(orchestrator: Orchestrator) -> None:
    from prometheus_client import REGISTRY

    labels = {
        "namespace": "company.team",
        "flow_id": "nightly",
        "trigger_id": "every_minute",
        "type": ORIGIN.type,
    }

    def fires() -> float:
        return REGISTRY.get_sample_value("ostra_trigger_fires_total", labels) or 0.0

    flow = orchestrator.store.deploy_flow(Flow.from_yaml(FLOW))
    before = fires()
    fire(orchestrator, flow, ORIGIN, eid="tick-5")
    fire(orchestrator, flow, ORIGIN, eid="tick-5")  # the same tick again: not a fire
    assert fires() == before + 1
