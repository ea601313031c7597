"""The store's observability records (both stores): an execution's origin, the last
sweep, live workers and their queues, and the RESUBMITTED flag of a claim."""

from __future__ import annotations

from executor.store.base import WORKER_MEMORY_S, Status, Store
from tests.contract.support import make_flow, running, submit


def test_origin_is_namespace_flow_and_creation_time(store: Store) -> None:
    eid = submit(store, make_flow("f", "obs"))
    ns, flow_id, created = store.execution_origin(eid) or ("", "", 0.0)
    assert (ns, flow_id) == ("obs", "f")
    assert created > 1_600_000_000
    assert store.execution_origin("nope") is None


def test_last_sweep_and_workers_seen(store: Store) -> None:
    assert store.last_sweep() is None
    store.record_sweep(1000.5)
    assert store.last_sweep() == 1000.5
    store.worker_seen("w1@h", 2000.0, ["ostra", "gpu"])
    store.worker_seen("w2@h", 2010.0, ["ostra"])
    assert store.workers_seen(2005.0) == [("w2@h", 2010.0)]
    assert [w for w, _ in store.workers_seen(0)] == ["w2@h", "w1@h"]
    assert store.queues_seen(1999.0) == ["gpu", "ostra"]
    assert store.queues_seen(2001.0) == ["ostra"]
    # A worker not seen for a day is forgotten.
    store.worker_seen("w3@h", 2010.0 + WORKER_MEMORY_S + 1, [])
    assert [w for w, _ in store.workers_seen(0)] == ["w3@h"]


def test_claim_after_a_lost_worker_says_resubmitted(store: Store) -> None:
    eid, (trid,) = running(store)
    # Its holder is known dead: a forced claim takes over and records attempt 1 lost.
    again = store.start_attempt(eid, trid, "w2", 30, force=True)
    assert again.status == Status.START and again.attempt == 2
    assert again.resubmitted
    attempts = store.get_execution(eid).task_run_list[0].attempts
    assert attempts[0].state.current.value == "RESUBMITTED"
