"""Store contract of the SLA steps, on ``RedisStore`` and ``MemoryStore`` alike: the
``sla`` due queue of MAX_DURATION deadlines (claimed once, handed back if its holder
dies) and ``drop_lease``."""

from __future__ import annotations

from executor.engine import sla as rules
from executor.store.base import DUE_QUEUES, Store
from tests.contract.support import row, submit


def test_sla_deadline_is_claimed_once_then_gone(store: Store) -> None:
    assert rules.QUEUE in DUE_QUEUES
    uid = rules.monitor_uid("e1", 0)
    store.due_set(rules.QUEUE, uid, "0", 100.0)
    assert store.due_claim(rules.QUEUE, 99.0, 10, 30.0) == []  # not due yet
    assert store.due_claim(rules.QUEUE, 100.5, 10, 30.0) == [(uid, "0")]
    assert store.due_claim(rules.QUEUE, 101.0, 10, 30.0) == []  # another process: nothing
    assert store.due_advance(rules.QUEUE, uid, "0", None)
    assert store.due_position(rules.QUEUE, uid) is None
    assert store.due_claim(rules.QUEUE, 500.0, 10, 30.0) == []


def test_sla_claim_of_a_dead_holder_is_handed_back(store: Store) -> None:
    uid = rules.monitor_uid("e2", 1)
    store.due_set(rules.QUEUE, uid, "0", 100.0)
    assert store.due_claim(rules.QUEUE, 100.0, 10, 5.0) == [(uid, "0")]
    assert store.due_claim(rules.QUEUE, 106.0, 10, 5.0) == [(uid, "0")]


def test_sla_queue_is_apart_from_schedules(store: Store) -> None:
    store.due_set(rules.QUEUE, "e3|0", "0", 1.0)
    assert store.due_claim("sched", 10.0, 10, 30.0) == []


def test_drop_lease_of_no_attempt_is_harmless(store: Store) -> None:
    store.drop_lease("nope", "nothing")
    assert not store.lease_alive("nope", "nothing")


def test_drop_lease_makes_the_running_attempt_lose_its_renewal(store: Store) -> None:
    rows = [row("a")]
    eid = submit(store, first=rows)
    trid = rows[0].id
    assert store.start_attempt(eid, trid, "h:1", 30.0, token="t").status == "START"
    assert store.lease_alive(eid, trid)
    store.drop_lease(eid, trid)
    assert not store.lease_alive(eid, trid)
    # its worker's next renewal fails: the attempt stops (and renews nothing)
    assert store.renew_leases({(eid, trid): 30.0}, {(eid, trid): "h:1:t"}) == {(eid, trid)}
    assert not store.lease_alive(eid, trid)
