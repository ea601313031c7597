"""A ``CREATE_NEW_EXECUTION`` retry on the in-memory store: the new execution waits for its
delay, and whoever comes back to the RETRIED task run (the worker, the reconciler, twice)
creates it once."""

from __future__ import annotations

import time

from executor.engine.vocabulary import Ended
from executor.state import StateType
from tests.unit.orchestration.test_orchestrator import Harness

S = StateType

FLOW = """
id: again
namespace: t
retry: {behavior: CREATE_NEW_EXECUTION, type: constant, maxAttempt: 3, interval: PT60S}
tasks:
  - {id: fail, type: Fail}
"""


def executions(h: Harness) -> list[str]:
    return h.store.search(namespace="t", flow_id="again", state=None, limit=50, offset=0)


def test_the_new_execution_is_created_once_when_due() -> None:
    h = Harness()
    eid = h.submit(FLOW)
    h.drain()
    old = h.store.get_execution(eid)
    assert old.state.current == S.RETRIED
    trid = old.task_run("fail").id
    due = h.store.retry_at(eid, trid)
    assert due > time.time() + 50
    assert executions(h) == [eid]  # not yet: its delay is not over
    # the reconciler's safety net comes back to it at the due time
    assert h.store.due_active(due - 1) == [] and h.store.due_active(due + 1) == [(eid, trid)]
    flow = h.o.flow_of(eid)
    assert flow is not None
    ended = Ended("fail", S.RETRIED)
    for _ in range(2):  # twice: a duplicate creates nothing more
        h.o.retried(eid, flow, trid, ended, now=due + 1)
    new = [e for e in executions(h) if e != eid]
    assert len(new) == 1
    h.drain()
    again = h.store.get_execution(new[0])
    assert (again.parent_id, again.original_id, again.metadata.attempt_number) == (eid, eid, 2)
    assert again.state.current == S.RETRIED  # attempt 2 of 3 failed: retried again
    # the old one's task run left the active set once the new execution existed
    assert (eid, trid) not in h.store.due_active(float("inf"))
