"""Ending an execution is a compare-and-set on what the end was decided from.

A late ``finish()`` (an orchestrator that read the task runs just before another one
ended the execution, a user restarted it and the restarted task run succeeded) must not
end the restarted execution FAILED while its only task run is SUCCESS.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis
from executor.orchestrator import Orchestrator
from executor.store import RedisStore
from executor.store.base import TaskRunRow

pytestmark = pytest.mark.integration
S = StateType

FLOW = Flow.from_yaml("""
id: finish_race
namespace: tests.race
tasks:
  - {id: only, type: Log, message: hello}
""")


class RacingStore(RedisStore):
    """Runs ``between`` once, right after the task runs are read."""

    between: Callable[[], None] | None = None

    def task_run_rows(self, eid: str) -> list[TaskRunRow]:
        rows = super().task_run_rows(eid)
        hook, self.between = self.between, None
        if hook is not None:
            hook()
        return rows


def run_attempt(store: RedisStore, eid: str, trid: str, end: StateType) -> None:
    """What a worker does with one delivery, minus running the task: claim, record."""
    started = store.start_attempt(eid, trid, "test:1", 30)
    assert started.status == "START"
    store.finish_attempt(eid, trid, started.attempt, end, end, active_deadline=0)


def test_a_restart_between_reading_and_ending_wins(redis_server: EmbeddedRedis) -> None:
    client = Client(redis_server.url, prefix="race")
    late = Orchestrator(
        RacingStore(client.store.r, client.store.k), client.orchestrator.dispatcher, client.settings
    )
    eid = client.submit(FLOW).id
    trid = client.get(eid).task_run("only").id
    run_attempt(client.store, eid, trid, S.FAILED)  # no worker: the orchestrator ends it

    def meanwhile() -> None:
        assert client.orchestrator.finish(eid) == S.FAILED  # someone else ends it first
        client.restart(eid)
        run_attempt(client.store, eid, trid, S.SUCCESS)  # the restarted attempt succeeds

    late.store.between = meanwhile  # type: ignore[attr-defined]
    late.finish(eid)  # decided from the snapshot: FAILED task run, RUNNING execution
    execution = client.get(eid)
    assert execution.task_run("only").state.current == S.SUCCESS
    assert execution.state.current != S.FAILED
    assert client.orchestrator.finish(eid) == S.SUCCESS  # decided again, from the present
    assert client.get(eid).state.current == S.SUCCESS
    client.orchestrator.dispatcher.app.close()
    client.store.close()
