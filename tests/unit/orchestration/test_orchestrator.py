"""The orchestrator on the in-memory store: whole executions, no Redis, no Celery.

Messages the store would push to Celery and the ones the dispatcher would publish are
taken from ``MemoryStore.queues`` and a recording dispatcher, and each is handled by the
workers' own ``AttemptRunner`` in this process, as a worker would.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from executor import Flow
from executor.dispatch import Dispatcher
from executor.errors import StateConflict
from executor.ids import new_id
from executor.inputs import resolve_inputs
from executor.messages import MessageBuilder, Outgoing
from executor.models import Execution
from executor.orchestrator import Orchestrator
from executor.settings import Settings
from executor.state import StateType
from executor.store.memory import MemoryStore
from workers.attempt import AttemptRunner

S = StateType


class RecordingDispatcher(Dispatcher):
    """Builds messages as the real one does; records what it would publish."""

    def __init__(self) -> None:
        super().__init__()
        self.builder = MessageBuilder("ostra")
        self.sent: list[tuple[str, str]] = []

    def message(
        self, eid: str, trid: str, *, label: str = "", queue: str | None = None
    ) -> Outgoing:
        return self.builder.build(eid, trid, queue=queue, label=label)

    def send(
        self,
        eid: str,
        trid: str,
        *,
        label: str = "",
        queue: str | None = None,
        countdown: float | None = None,
        producer: Any = None,
    ) -> str:
        self.sent.append((eid, trid))
        return "sent"


class Harness:
    """One orchestrator and one in-process worker on a MemoryStore."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.dispatcher = RecordingDispatcher()
        self.settings = Settings()
        self.o = Orchestrator(self.store, self.dispatcher, self.settings)
        self.runner = AttemptRunner(self.store, self.o, self.settings)
        self.deliveries = 0

    def submit(self, yaml_text: str, inputs: dict[str, Any] | None = None) -> str:
        flow = self.store.deploy_flow(Flow.from_yaml(yaml_text))
        eid = new_id()
        first = self.o.first_rows(eid, flow)
        values = resolve_inputs(flow.inputs, inputs or {})
        self.store.create_execution(eid, flow, values, [], first, 0.0)
        self.o.begin_execution(eid, flow, first)
        return eid

    def pending(self) -> list[tuple[str, str]]:
        out = []
        for payloads in self.store.queues.values():
            while payloads:
                body = json.loads(base64.b64decode(json.loads(payloads.pop(0))["body"]))
                out.append((body[0][0], body[0][1]))
        out += self.dispatcher.sent
        self.dispatcher.sent = []
        return out

    def drain(self, limit: int = 500) -> None:
        """Deliver every message, as workers would, until none is left."""
        while todo := self.pending():
            for eid, trid in todo:
                self.deliveries += 1
                assert self.deliveries < limit, "runaway: too many deliveries"
                self.runner.run(eid, trid)

    def run(self, yaml_text: str, inputs: dict[str, Any] | None = None) -> Execution:
        eid = self.submit(yaml_text, inputs)
        self.drain()
        return self.store.get_execution(eid)


@pytest.fixture
def h() -> Harness:
    return Harness()


def states(ex: Execution) -> dict[str, S]:
    return {
        tr.task_id + (f"[{tr.value}]" if tr.value else ""): tr.state.current
        for tr in ex.task_run_list
    }


def test_linear_flow_runs_each_task_once_in_order(h: Harness) -> None:
    ex = h.run("""
id: linear
namespace: t
tasks:
  - {id: a, type: Return, format: one}
  - {id: b, type: Return, format: "{{ outputs.a.value }}-two"}
  - {id: off, type: Return, format: x, disabled: true}
  - {id: c, type: Log, message: done}
""")
    assert ex.state.current == S.SUCCESS
    assert [tr.task_id for tr in ex.task_run_list] == ["a", "b", "c"]
    assert ex.task_run("b").outputs == {"value": "one-two"}
    assert all(len(tr.attempts) == 1 for tr in ex.task_run_list)
    assert h.store.due_active(float("inf")) == []  # nothing left for the reconciler


def test_failure_runs_errors_then_finally_and_ends_failed(h: Harness) -> None:
    ex = h.run("""
id: failing
namespace: t
tasks:
  - {id: a, type: Fail, errorMessage: boom}
  - {id: never, type: Log, message: m}
errors:
  - {id: e, type: Log, message: handling}
finally:
  - {id: z, type: Log, message: always}
""")
    assert states(ex) == {"a": S.FAILED, "e": S.SUCCESS, "z": S.SUCCESS}
    assert ex.state.current == S.FAILED


def test_allow_failure_task_and_flowable(h: Harness) -> None:
    ex = h.run("""
id: tolerant
namespace: t
tasks:
  - {id: soft, type: Fail, errorMessage: x, allowFailure: true}
  - id: guard
    type: AllowFailure
    tasks:
      - {id: inner, type: Fail, errorMessage: y}
  - {id: after, type: Log, message: m}
""")
    assert states(ex) == {
        "soft": S.WARNING,
        "guard": S.WARNING,
        "inner": S.FAILED,
        "after": S.SUCCESS,
    }
    assert ex.state.current == S.WARNING


def test_foreach_children_get_their_values_and_outputs(h: Harness) -> None:
    ex = h.run("""
id: loop
namespace: t
tasks:
  - id: each
    type: ForEach
    values: ["x", "y", "z"]
    concurrencyLimit: 0
    tasks:
      - {id: echo, type: Return, format: "v={{ taskrun.value }}"}
  - {id: after, type: Return, format: "{{ outputs.echo['y'].value }}"}
""")
    assert ex.state.current == S.SUCCESS
    assert {tr.value: tr.outputs["value"] for tr in ex.task_runs("echo")} == {
        "x": "v=x",
        "y": "v=y",
        "z": "v=z",
    }
    assert ex.task_run("after").outputs == {"value": "v=y"}


def test_parallel_failure_runs_the_flowables_errors_branch(h: Harness) -> None:
    ex = h.run("""
id: par
namespace: t
tasks:
  - id: p
    type: Parallel
    tasks:
      - {id: ok, type: Log, message: m}
      - {id: bad, type: Fail, errorMessage: no}
    errors:
      - {id: cleanup, type: Log, message: c}
""")
    assert states(ex) == {"p": S.FAILED, "ok": S.SUCCESS, "bad": S.FAILED, "cleanup": S.SUCCESS}
    assert ex.state.current == S.FAILED


def test_dag_and_switch_and_if(h: Harness) -> None:
    ex = h.run("""
id: shapes
namespace: t
inputs:
  - {id: pick, type: STRING, defaults: b}
tasks:
  - id: d
    type: Dag
    tasks:
      - task: {id: one, type: Return, format: "1"}
      - task: {id: two, type: Return, format: "2"}
        dependsOn: [one]
  - id: s
    type: Switch
    value: "{{ inputs.pick }}"
    cases:
      a: [{id: ca, type: Log, message: a}]
      b: [{id: cb, type: Log, message: b}]
  - id: i
    type: If
    condition: "{{ outputs.two.value == '2' }}"
    then: [{id: yes, type: Log, message: y}]
    else: [{id: no, type: Log, message: n}]
""")
    assert ex.state.current == S.SUCCESS
    assert set(states(ex)) == {"d", "one", "two", "s", "cb", "i", "yes"}


def test_run_if_false_skips_without_a_worker(h: Harness) -> None:
    ex = h.run("""
id: runif
namespace: t
tasks:
  - {id: skip, type: Fail, errorMessage: x, runIf: "false"}
  - {id: go, type: Log, message: m}
""")
    assert states(ex) == {"skip": S.SKIPPED, "go": S.SUCCESS}
    assert ex.task_run("skip").attempts == []


def test_subflow_waits_for_its_execution(h: Harness) -> None:
    h.store.deploy_flow(
        Flow.from_yaml("""
id: child
namespace: t
inputs: [{id: n, type: INT}]
tasks:
  - {id: double, type: Return, format: "{{ inputs.n * 2 }}"}
outputs:
  - {id: result, type: STRING, value: "{{ outputs.double.value }}"}
""")
    )
    ex = h.run("""
id: parent
namespace: t
tasks:
  - {id: call, type: Subflow, namespace: t, flowId: child, inputs: {n: 21}}
  - {id: use, type: Return, format: "{{ outputs.call.outputs.result }}"}
""")
    assert ex.state.current == S.SUCCESS
    assert ex.task_run("use").outputs == {"value": "42"}
    child = h.store.get_execution(ex.task_run("call").outputs["executionId"])
    assert child.state.current == S.SUCCESS and child.outputs == {"result": "42"}


def test_kill_before_anything_ran(h: Harness) -> None:
    eid = h.submit("id: k\nnamespace: t\ntasks:\n  - {id: a, type: Log, message: m}\n")
    assert h.o.control.kill(eid) == S.KILLED
    h.drain()  # the message still queued finds a killed execution: nothing runs
    ex = h.store.get_execution(eid)
    assert ex.state.current == S.KILLED and ex.task_run("a").attempts == []
    with pytest.raises(StateConflict, match="only a RUNNING execution can be paused"):
        h.o.control.pause(eid)


def test_restart_continues_attempts_and_keeps_successes(h: Harness) -> None:
    ex = h.run("""
id: again
namespace: t
tasks:
  - {id: ok, type: Return, format: kept}
  - {id: bad, type: Fail, errorMessage: x}
finally:
  - {id: z, type: Log, message: m}
""")
    assert ex.state.current == S.FAILED
    h.o.control.restart(ex.id)
    h.drain()
    again = h.store.get_execution(ex.id)
    assert again.state.current == S.FAILED  # it fails again, in place
    assert [a.number for a in again.task_run("bad").attempts] == [1, 2]
    assert len(again.task_run("ok").attempts) == 1 and again.task_run("ok").outputs
    assert S.RESTARTED in [h.state for h in again.state.histories]


def test_pause_task_holds_the_execution_until_resumed(h: Harness) -> None:
    eid = h.submit("""
id: p
namespace: t
tasks:
  - {id: wait, type: Pause}
  - {id: after, type: Log, message: m}
""")
    h.drain()
    assert h.store.execution_state(eid) == S.PAUSED
    h.o.control.resume(eid)
    h.drain()
    ex = h.store.get_execution(eid)
    assert states(ex) == {"wait": S.SUCCESS, "after": S.SUCCESS}
    assert ex.state.current == S.SUCCESS


def test_replay_from_a_task_run_copies_what_came_before(h: Harness) -> None:
    ex = h.run("""
id: r
namespace: t
tasks:
  - {id: one, type: Return, format: first}
  - {id: two, type: Return, format: "{{ outputs.one.value }}!"}
""")
    new = h.o.control.replay(ex.id, ex.task_run("two").id)
    h.drain()
    replayed = h.store.get_execution(new)
    assert replayed.state.current == S.SUCCESS and replayed.parent_id == ex.id
    assert replayed.task_run("one").attempts == ex.task_run("one").attempts  # copied
    assert replayed.task_run("two").outputs == {"value": "first!"}


def test_a_queued_execution_evaluates_run_if_when_it_is_promoted(h: Harness) -> None:
    flow = """
id: limited
namespace: t
concurrency: {limit: 1}
tasks:
  - {id: maybe, type: Fail, errorMessage: must not run, runIf: "false"}
  - {id: then, type: Log, message: m}
"""
    first, queued = h.submit(flow), h.submit(flow)
    assert h.store.execution_state(queued) == S.QUEUED
    h.drain()
    for eid in (first, queued):
        ex = h.store.get_execution(eid)
        assert states(ex) == {"maybe": S.SKIPPED, "then": S.SUCCESS}, eid
        assert ex.state.current == S.SUCCESS
