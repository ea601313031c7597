"""afterExecution on the in-memory store, through the orchestrator and real attempts:
it starts after the end, and starts still when the end was applied but the process died
before afterExecution's start (the reconciler advances the last task run again)."""

from __future__ import annotations

from executor.engine.vocabulary import Ended
from executor.state import StateType
from tests.unit.orchestration.test_orchestrator import Harness

S = StateType

FLOW = """
id: after
namespace: t
tasks:
  - {id: a, type: Return, format: hi}
afterExecution:
  - {id: x, type: Return, format: "{{ execution.state }} {{ outputs.a.value }}"}
  - {id: y, type: Fail}
  - {id: z, type: Log, message: never}
"""


def test_after_execution_runs_after_the_end_and_stops_at_a_failure() -> None:
    h = Harness()
    ex = h.run(FLOW)
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["a", "x", "y"]
    assert ex.task_run("x").outputs == {"value": "SUCCESS hi"}
    assert ex.task_run("y").state.current == S.FAILED


def test_a_re_advance_after_the_end_starts_after_execution_once() -> None:
    h = Harness()
    eid = h.submit(FLOW)
    flow = h.o.flow_of(eid)
    assert flow is not None
    # the end applied as a crashed process left it: no afterExecution task run yet
    trid = h.store.get_execution(eid).task_run("a").id
    h.store.transition_task_run(eid, trid, S.RUNNING)
    h.store.transition_task_run(eid, trid, S.SUCCESS)
    rows = h.store.task_run_rows(eid)
    assert h.store.end_execution(eid, S.SUCCESS, S.CREATED, rows).status == "OK"
    for _ in range(2):  # the reconciler comes back to the ended task run, twice
        h.o.advance(eid, trid, ended=Ended("a", S.SUCCESS), flow=flow)
    h.drain()
    ex = h.store.get_execution(eid)
    assert ex.state.current == S.SUCCESS
    # x ran once (it fails here: task run a, ended by hand, has no output to render)
    assert [tr.task_id for tr in ex.task_run_list] == ["a", "x"]
    assert ex.task_run("x").state.current == S.FAILED
