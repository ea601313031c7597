"""Contract (issue 12 item 7): a lease names its attempt (``host:pid:token``); only the
attempt it names renews it or ends the task run; an attempt whose lease lapsed unclaimed
may still end it; a lapsed or taken lease is reported to the heartbeat."""

from __future__ import annotations

import time

from executor.state import StateType
from executor.store.base import Store, lease_holder
from tests.contract.support import row, submit

S = StateType


def _started(store: Store, token: str, lease_s: float = 30.0) -> tuple[str, str]:
    rows = [row("a")]
    eid = submit(store, first=rows)
    res = store.start_attempt(eid, rows[0].id, "h:1", lease_s, token=token)
    assert res.status == "START" and res.attempt == 1
    return eid, rows[0].id


def test_lease_the_lease_holds_the_attempt_token_and_the_attempt_its_worker(store: Store) -> None:
    eid, a = _started(store, "tA")
    assert lease_holder("h:1", "tA") == "h:1:tA" and lease_holder("h:1", "") == "h:1"
    busy = store.start_attempt(eid, a, "h:1", 30, token="tB")
    assert busy.status == "BUSY" and busy.holder == "h:1:tA"
    run = store.get_execution(eid).task_run_list[0]
    assert run.attempts[0].worker_id == "h:1"  # what users see: the worker, not the token


def test_lease_only_the_holder_renews_and_others_learn_it_is_lost(store: Store) -> None:
    eid, a = _started(store, "tA", lease_s=0.3)
    assert store.renew_leases({(eid, a): 30.0}, {(eid, a): "h:1:tB"}) == {(eid, a)}
    assert store.renew_leases({(eid, a): 30.0}, {(eid, a): "h:1:tA"}) == set()
    time.sleep(0.4)
    assert store.lease_alive(eid, a)  # renewed by its holder
    assert store.due_active(time.time() + 25) == []


def test_lease_a_lapsed_lease_is_reported_lost_and_not_revived(store: Store) -> None:
    eid, a = _started(store, "tA", lease_s=0.2)
    time.sleep(0.3)
    assert store.renew_leases({(eid, a): 30.0}, {(eid, a): "h:1:tA"}) == {(eid, a)}
    assert not store.lease_alive(eid, a)


def test_lease_an_end_is_fenced_by_the_lease_holder(store: Store) -> None:
    eid, a = _started(store, "tA")
    other = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, holder="h:1:tB"
    )
    assert other.status == "STALE" and other.state == S.RUNNING
    assert store.lease_alive(eid, a)  # nothing written
    assert store.get_execution(eid).task_run_list[0].attempts[0].state.current == S.RUNNING
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, holder="h:1:tA"
    )
    assert done.status == "OK" and done.state == S.SUCCESS
    again = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, holder="h:1:tA"
    )
    assert again.status == "STALE" and again.state == S.SUCCESS  # idempotent


def test_lease_a_lapsed_unclaimed_lease_still_lets_its_attempt_end(store: Store) -> None:
    eid, a = _started(store, "tA", lease_s=0.2)
    time.sleep(0.3)
    done = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, holder="h:1:tA"
    )
    assert done.status == "OK" and done.state == S.SUCCESS


def test_lease_a_lapsed_lease_taken_over_fences_the_old_attempt(store: Store) -> None:
    eid, a = _started(store, "tA", lease_s=0.2)
    time.sleep(0.3)
    assert store.start_attempt(eid, a, "h:2", 30, token="tB").attempt == 2
    late = store.finish_attempt(
        eid, a, 1, S.SUCCESS, S.SUCCESS, active_deadline=0.0, holder="h:1:tA"
    )
    assert late.status == "STALE" and late.state == S.RUNNING
    assert store.renew_leases({(eid, a): 30.0}, {(eid, a): "h:1:tA"}) == {(eid, a)}
    run = store.get_execution(eid).task_run_list[0]
    assert [x.state.current for x in run.attempts] == [S.RESUBMITTED, S.RUNNING]
