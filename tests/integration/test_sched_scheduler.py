"""The scheduler with an injected clock, on a real Redis: downtime recovery (ALL, LAST,
NONE), deploy/disable/delete updating the schedule, bad inputs recorded without firing
in a loop, stopAfter; and backfills (one execution per missing tick, pause, cancel)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from executor.embedded import EmbeddedRedis
from executor.flow import Flow
from executor.orchestrator import Orchestrator
from executor.settings import Settings
from executor.store.base import TriggerRef
from executor.store.redis import RedisStore
from executor.triggers import backfill, control
from executor.triggers.schedule import Scheduler, tick_execution_id
from tests.unit.orchestration.test_orchestrator import RecordingDispatcher

REF = TriggerRef("sched.it", "hourly", "every_hour")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()  # a Monday, 10:00 UTC


def flow_yaml(recover: str = "ALL", extra: str = "", inputs: str = "") -> str:
    return f"""
id: hourly
namespace: sched.it
{inputs}
tasks:
  - id: hello
    type: Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: every_hour
    type: Schedule
    cron: "0 * * * *"
    recoverMissedSchedules: {recover}
{extra}
"""


@pytest.fixture
def orch(redis_server: EmbeddedRedis) -> Iterator[Orchestrator]:
    store = RedisStore.from_url(redis_server.url, prefix=f"sc-{uuid.uuid4().hex[:10]}")
    yield Orchestrator(store, RecordingDispatcher(), Settings())
    store.close()


def deploy(o: Orchestrator, text: str, now: float) -> Flow:
    # The deploy hook places the schedule from the wall clock; tests move it to ``now``.
    flow = o.store.deploy_flow(Flow.from_yaml(text))
    from executor.triggers.schedule import place, schedules_of

    spec = schedules_of(flow).get(REF.trigger_id)
    if spec is not None and o.store.due_position("sched", REF.uid) is not None:
        place(o.store, REF, spec, now)
    return flow


def fired_dates(o: Orchestrator) -> list[str]:
    r, k = o.store.r, o.store.k  # type: ignore[attr-defined]
    eids = [e.decode() for e in r.zrange(k.index_flow(REF.namespace, REF.flow_id), 0, -1)]
    out = []
    for eid in eids:
        trig = o.store.get_execution(eid).trigger
        assert trig is not None
        out.append(trig.variables["date"])
    return sorted(out)


def run(s: Scheduler, start: float, end: float, step: float = 60.0) -> None:
    t = start
    while t <= end:
        s.poll(t)
        t += step


def test_fires_each_tick_once_with_kestras_dates(orch: Orchestrator) -> None:
    deploy(orch, flow_yaml(), T0 - 1)
    s = Scheduler(orch)
    assert s.poll(T0 - 1) == 0
    assert s.poll(T0) == 1
    assert s.poll(T0) == 0 and s.poll(T0 + 30) == 0  # the same tick never again
    run(s, T0 + 3600, T0 + 7200, 1800)
    assert fired_dates(orch) == [
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
        "2026-03-02T12:00:00Z",
    ]
    ex = orch.store.get_execution(tick_execution_id(REF, int(T0)))
    assert ex.trigger is not None
    assert ex.trigger.type == "io.kestra.plugin.core.trigger.Schedule"
    assert ex.trigger.variables == {
        "date": "2026-03-02T10:00:00Z",
        "next": "2026-03-02T11:00:00Z",
        "previous": "2026-03-02T09:00:00Z",
    }


@pytest.mark.parametrize(
    ("recover", "expected"),
    [
        # Down from 10:30 to 14:10: 11:00, 12:00, 13:00 and 14:00 were missed.
        ("ALL", ["11:00", "12:00", "13:00", "14:00", "15:00"]),
        ("LAST", ["14:00", "15:00"]),
        ("NONE", ["15:00"]),
    ],
)
def test_downtime_recovery(orch: Orchestrator, recover: str, expected: list[str]) -> None:
    deploy(orch, flow_yaml(recover), T0 + 1800)
    s = Scheduler(orch)
    back = T0 + 4 * 3600 + 600  # 14:10: the first poll after the downtime
    s.poll(back)
    s.poll(back + 1)
    s.poll(T0 + 5 * 3600)
    assert [d[11:16] for d in fired_dates(orch)] == expected


def test_disable_delete_and_redeploy_update_the_schedule(orch: Orchestrator) -> None:
    deploy(orch, flow_yaml(), T0 - 1)
    s = Scheduler(orch)
    s.poll(T0)
    control.set_disabled(orch.store, REF, True)
    assert orch.store.due_position("sched", REF.uid) is None
    s.poll(T0 + 3600)
    assert len(fired_dates(orch)) == 1
    # Enabled again at 13:10 with ALL: the ticks it missed fire.
    control.set_disabled(orch.store, REF, False, now=T0 + 3 * 3600 + 600)
    run(s, T0 + 3 * 3600 + 600, T0 + 3 * 3600 + 700)
    assert [d[11:16] for d in fired_dates(orch)] == ["10:00", "11:00", "12:00", "13:00"]
    # A revision with the trigger disabled takes it out; deleting the flow too.
    deploy(orch, flow_yaml(extra="    disabled: true"), T0)
    assert orch.store.due_position("sched", REF.uid) is None
    deploy(orch, flow_yaml(), T0 + 5 * 3600)
    assert orch.store.due_position("sched", REF.uid) is not None
    orch.store.delete_flow(REF.namespace, REF.flow_id)
    assert orch.store.due_position("sched", REF.uid) is None
    assert orch.store.trigger_state(REF) is None


def test_bad_inputs_are_recorded_and_the_schedule_moves_on(orch: Orchestrator) -> None:
    inputs = "inputs:\n  - id: n\n    type: INT\n"
    deploy(orch, flow_yaml(inputs=inputs, extra="    inputs: {n: not-a-number}"), T0 - 1)
    s = Scheduler(orch)
    assert s.poll(T0) == 0
    state = orch.store.trigger_state(REF)
    assert state is not None and state.error is not None
    assert "n" in state.error and "2026-03-02T10:00:00Z" in state.error
    position = orch.store.due_position("sched", REF.uid)
    assert position is not None and float(position.tick) == T0 + 3600  # not again
    assert s.poll(T0 + 1) == 0


def test_stop_after_disables_the_trigger(orch: Orchestrator) -> None:
    deploy(orch, flow_yaml(extra="    stopAfter: [FAILED]"), T0 - 1)
    s = Scheduler(orch)
    s.poll(T0)
    eid = tick_execution_id(REF, int(T0))
    orch.store.r.hset(orch.store.k.execution(eid), "state", "FAILED")  # type: ignore[attr-defined]
    assert s.poll(T0 + 3600) == 0
    state = orch.store.trigger_state(REF)
    assert state is not None and state.disabled


def test_backfill_fires_missing_ticks_only(orch: Orchestrator) -> None:
    deploy(orch, flow_yaml(), T0 - 1)
    s = Scheduler(orch)
    s.poll(T0)
    s.poll(T0 + 3600)  # 10:00 and 11:00 ran
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    end = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
    now = T0 + 3600 + 60
    status = backfill.start(orch.store, REF, start, end, labels={"why": "gap"}, now=now)
    assert status["total"] == 4 and status["status"] == "RUNNING"
    for i in range(20):
        s.poll(now + i)
    status = backfill.status(orch.store, REF) or {}
    assert status["status"] == "DONE" and status["done"] == 4 and status["fired"] == 2
    dates = fired_dates(orch)
    assert [d[11:16] for d in dates] == ["08:00", "09:00", "10:00", "11:00"]
    ex = orch.store.get_execution(tick_execution_id(REF, int(T0 - 7200)))
    labels = {lab.key: lab.value for lab in ex.labels}
    assert labels["system.backfill"] == "true" and labels["why"] == "gap"
    assert ex.trigger is not None and ex.trigger.variables["date"] == "2026-03-02T08:00:00Z"
    state = orch.store.trigger_state(REF)
    assert state is not None and state.date == T0 + 3600  # still its last tick, 11:00
    # Again over the same window: nothing new; with rerun, every tick again.
    backfill.start(orch.store, REF, start, end, now=now + 30)
    for i in range(20):
        s.poll(now + 30 + i)
    assert len(fired_dates(orch)) == 4
    backfill.start(orch.store, REF, start, end, rerun=True, now=now + 60)
    for i in range(20):
        s.poll(now + 60 + i)
    assert len(fired_dates(orch)) == 8


def test_backfill_pause_holds_and_cancel_stops(orch: Orchestrator) -> None:
    deploy(orch, flow_yaml(), T0 - 1)
    s = Scheduler(orch)
    start = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    end = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    now = T0 - 60
    backfill.start(orch.store, REF, start, end, rate=4.0, now=now)  # one tick per poll
    s.poll(now)
    assert len(fired_dates(orch)) == 1
    backfill.set_paused(orch.store, REF, True)
    for i in range(1, 6):
        s.poll(now + i)
    assert len(fired_dates(orch)) == 1
    status = backfill.status(orch.store, REF) or {}
    assert status["paused"] and status["done"] == 1 and status["total"] == 34
    backfill.set_paused(orch.store, REF, False, now=now + 6)
    s.poll(now + 6)
    assert len(fired_dates(orch)) == 2
    backfill.cancel(orch.store, REF)
    for i in range(7, 30):
        s.poll(now + i)
    assert len(fired_dates(orch)) == 2
    assert (backfill.status(orch.store, REF) or {})["status"] == "CANCELED"
