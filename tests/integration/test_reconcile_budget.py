"""Templates a reconciler sweep renders share one render budget per entry: a flow full of
template bombs costs a sweep one ``render_timeout``, not one per template."""

from __future__ import annotations

import time

from executor import Client, Flow, StateType
from executor.pebble.budget import limits
from executor.reconciler import Reconciler

S = StateType
BOMB = "{% for i in 0..10000 %}{% for j in 0..10000 %}{% endfor %}{% endfor %}true"
BOMBS = 8


def _flow() -> Flow:
    bombs = "\n".join(
        f"      - id: b{i}\n        type: Return\n        format: x\n        runIf: {BOMB!r}"
        for i in range(BOMBS)
    )
    return Flow.from_yaml(f"""
id: bombs
namespace: tests.reconcile
tasks:
  - id: first
    type: Return
    format: first
  - id: par
    type: Parallel
    tasks:
{bombs}
""")


def test_a_sweep_renders_a_chain_of_template_bombs_within_one_budget(client: Client) -> None:
    eid = client.submit(_flow()).id
    first = client.get(eid).task_run("first")
    store = client.store
    # "first" ended but its worker died before advancing: the sweep advances it, which
    # starts the Parallel, whose children's runIf are evaluated one after the other.
    store.transition_execution(eid, S.RUNNING)
    store.transition_task_run(eid, first.id, S.RUNNING)
    store.transition_task_run(eid, first.id, S.SUCCESS)
    store.set_active(eid, first.id, 1.0)
    reconciler = Reconciler(client.orchestrator)
    with limits(timeout=0.5):
        started = time.monotonic()
        acted = reconciler.sweep(now=2.0)
        took = time.monotonic() - started
    # One budget of 0.5 s for the entry (then every later render fails at once), not
    # 0.5 s per bomb (4 s). Generous for a loaded box.
    assert acted >= 1
    assert took < 2.5, took
    done = client.get(eid)
    assert done.state.current == S.FAILED
    for i in range(BOMBS):
        assert done.task_run(f"b{i}").state.current == S.FAILED
    errors = [e.message for e in client.logs(eid) if e.level == "ERROR"]
    assert len(errors) == BOMBS and all("time budget" in m for m in errors), errors
