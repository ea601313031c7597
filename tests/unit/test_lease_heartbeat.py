"""Issue 12 item 7, in one process: a lease holder is known by its attempt's token (so
a duplicate delivery in the same process sees the live attempt), and the heartbeat stops
an attempt whose lease it could not renew before the lease may lapse, or at once when
the lease is found another's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from executor.errors import StoreUnavailable
from executor.flow import Flow
from executor.messages import Outgoing
from executor.store.base import NewRow, lease_holder
from executor.store.memory import MemoryStore
from workers.attempt import _holder_dead, new_token, worker_id
from workers.heartbeat import Heartbeat, lapse_margin

FLOW = Flow.from_dict(
    {"id": "f", "namespace": "ns", "tasks": [{"id": "a", "type": "Log", "message": "a"}]}
)


class _Unreachable(MemoryStore):
    """A store whose Redis cannot be reached for renewals (the heartbeat's only I/O
    besides the kill watch)."""

    def renew_leases(
        self,
        leases: Mapping[tuple[str, str], float],
        holders: Mapping[tuple[str, str], str] | None = None,
    ) -> set[tuple[str, str]]:
        raise StoreUnavailable("redis: connection refused")


def _running(store: MemoryStore, token: str, lease_s: float) -> str:
    store.create_execution(
        "e", FLOW, {}, [], [NewRow("t", "a", message=Outgoing("q", "m", "i"))], 0
    )
    assert store.start_attempt("e", "t", worker_id(), lease_s, token=token).status == "START"
    return lease_holder(worker_id(), token)


def test_lease_holder_of_this_process_is_dead_only_if_its_token_is_not_live() -> None:
    me = worker_id()
    live = {"tlive"}
    assert not _holder_dead(f"{me}:tlive", live.__contains__)  # a running attempt here
    assert _holder_dead(f"{me}:tgone", live.__contains__)  # ended here: dead
    assert _holder_dead(me, live.__contains__)  # an older worker's holder, this process
    assert not _holder_dead(f"elsewhere:{os.getpid()}:tgone", live.__contains__)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert _holder_dead(f"{socket.gethostname()}:{gone.pid}:tx", live.__contains__)
    assert new_token() != new_token() and not new_token().isdigit()


def test_lease_an_attempt_that_cannot_renew_is_stopped_before_its_lease_lapses() -> None:
    store = _Unreachable()
    heartbeat = Heartbeat(store)
    token, lease = new_token(), 1.5
    holder = lease_holder(worker_id(), token)
    stopped = threading.Event()
    started = time.monotonic()
    heartbeat.claim(token, "e", "t", holder, lease)
    heartbeat.started(token, stopped.set)
    assert heartbeat.holds(token) and not heartbeat.lost(token)
    assert stopped.wait(10)
    took = time.monotonic() - started
    assert lease - lapse_margin(lease) - 0.05 <= took < lease  # before it could lapse
    assert heartbeat.lost(token) and not heartbeat.holds(token)
    heartbeat.remove(token)
    assert not heartbeat.lost(token)


def test_lease_an_attempt_whose_lease_is_taken_is_stopped_at_the_next_renewal() -> None:
    store = MemoryStore()
    token = new_token()
    holder = _running(store, token, 8.0)
    heartbeat = Heartbeat(store)
    stopped = threading.Event()
    heartbeat.claim(token, "e", "t", holder, 8.0)
    heartbeat.started(token, stopped.set)
    time.sleep(0.2)
    # Another attempt holds it now (as after a lapse and a takeover).
    store.start_attempt("e", "t", "other:1", 30.0, force=True, token="tother")
    started = time.monotonic()
    assert stopped.wait(10)
    assert time.monotonic() - started < 8.0 - lapse_margin(8.0) - 1  # renewal, not lapse
    assert heartbeat.lost(token)


def test_lease_a_renewed_attempt_is_not_stopped() -> None:
    store = MemoryStore()
    token = new_token()
    holder = _running(store, token, 1.5)
    heartbeat = Heartbeat(store)
    stopped = threading.Event()
    heartbeat.claim(token, "e", "t", holder, 1.5)
    heartbeat.started(token, stopped.set)
    assert not stopped.wait(4.0)  # more than two leases: renewed all along
    assert store.lease_alive("e", "t") and not heartbeat.lost(token)
    heartbeat.remove(token)
