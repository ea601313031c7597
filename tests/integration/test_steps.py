"""What one worker step does: a task run's end, what follows it, and the events of both.

A worker that ends a top-level task run creates the next one (and sends it) in the same
Lua step, or ends the execution there; every change of that step is one entry of the
events stream. Users see it as: no gap between a task's end and the next task's
creation, and a follow stream that resumes after any event.
"""

from __future__ import annotations

import json

import pytest

from executor import Client, StateType
from executor.models import Execution

pytestmark = pytest.mark.integration
S = StateType

LINEAR = """
id: steps
namespace: tests.steps
tasks:
  - {id: a, type: Return, format: one}
  - {id: b, type: Return, format: "{{ outputs.a.value }}-two"}
  - {id: c, type: Return, format: "{{ outputs.b.value }}-three"}
"""


def _end(execution: Execution, task_id: str) -> tuple[StateType, object]:
    last = execution.task_run(task_id).state.histories[-1]
    return last.state, last.date


def test_the_next_task_run_is_created_in_the_step_that_ends_the_previous(run) -> None:  # type: ignore[no-untyped-def]
    done = run(LINEAR)
    assert done.state.current == S.SUCCESS
    assert done.task_run("c").outputs == {"value": "one-two-three"}
    for before, after in (("a", "b"), ("b", "c")):
        state, ended_at = _end(done, before)
        created = done.task_run(after).state.histories[0]
        assert state == S.SUCCESS and created.state == S.CREATED
        assert created.date == ended_at  # same step, same instant
    # ... and the execution ends in the step that ends its last task run
    assert done.state.histories[-1].date == _end(done, "c")[1]
    assert [h.state for h in done.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]


def test_a_failure_ends_the_execution_failed_in_the_same_step(run) -> None:  # type: ignore[no-untyped-def]
    done = run("""
id: steps-fail
namespace: tests.steps
tasks:
  - {id: ok, type: Return, format: x}
  - {id: boom, type: Fail, errorMessage: no}
  - {id: never, type: Return, format: y}
""")
    assert done.state.current == S.FAILED
    assert [tr.task_id for tr in done.task_run_list] == ["ok", "boom"]
    assert done.state.histories[-1].date == _end(done, "boom")[1]


def test_with_flow_outputs_the_orchestrator_ends_it_and_renders_them(run) -> None:  # type: ignore[no-untyped-def]
    done = run("""
id: steps-outputs
namespace: tests.steps
tasks:
  - {id: a, type: Return, format: hello}
outputs:
  - {id: greeting, type: STRING, value: "{{ outputs.a.value }}!"}
""")
    assert done.state.current == S.SUCCESS
    assert done.outputs == {"greeting": "hello!"}


def test_follow_resumes_after_any_change_of_a_step(run, client: Client) -> None:  # type: ignore[no-untyped-def]
    done = run(LINEAR)
    events = client.store.read_events(done.id)
    ids = [i for i, _ in events]
    assert len(ids) == len(set(ids))
    # the step ending "a" also created "b": two changes of one stream entry
    pair = [
        i
        for i, e in events
        if (e.task_id, e.state, e.attempt) in (("a", S.SUCCESS, None), ("b", S.CREATED, None))
    ]
    assert len(pair) == 2 and pair[0].split("/")[0] == pair[1].split("/")[0]
    for k, (event_id, _) in enumerate(events):
        rest = client.store.read_events(done.id, event_id)
        assert [i for i, _ in rest] == ids[k + 1 :]
    raw = client.store.r.xrange(client.store.k.events(done.id))
    entries = [json.loads(fields[b"e"]) for _, fields in raw]
    assert sum(len(e) for e in entries) == len(events)
    assert len(entries) < len(events)  # fewer stream entries than changes
