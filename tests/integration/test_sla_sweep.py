"""The MAX_DURATION sweep on a real Redis: several processes sweeping at once meet a
deadline once, and an execution that ended takes its deadline out of the queue."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from executor.engine import sla as rules
from executor.state import StateType

# A task in a worker group nobody consumes: the execution waits, CREATED, for ever.
WAITING = """
id: sla-waiting
namespace: io.kestra.tests
sla:
  - id: late
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1H
    labels: {sla: missed}
tasks:
  - {id: stuck, type: Return, format: x, workerGroup: GROUP}
"""


@pytest.fixture
def clients(redis_server: EmbeddedRedis) -> Iterator[list[Client]]:
    made = [Client(redis_server.url) for _ in range(4)]
    yield made
    for c in made:
        c.orchestrator.dispatcher.app.close()
        c.store.r.close()


def test_several_sweepers_meet_a_deadline_once(clients: list[Client]) -> None:
    first = clients[0]
    flow = Flow.from_yaml(WAITING.replace("GROUP", f"nobody-{uuid.uuid4().hex[:8]}"))
    ex = first.submit(flow)
    uid = rules.monitor_uid(ex.id, 0)
    position = first.store.due_position(rules.QUEUE, uid)
    assert position is not None and position.due is not None
    assert position.due == pytest.approx(time.time() + 3600, abs=30)

    later = time.time() + 3601
    counts: list[int] = []
    barrier = threading.Barrier(len(clients))

    def sweep(c: Client) -> None:
        barrier.wait()
        counts.append(c.orchestrator.sla.sweep(later))

    threads = [threading.Thread(target=sweep, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0] * (len(clients) - 1) + [1]
    got = first.get(ex.id)
    assert got.state.current == StateType.FAILED
    assert got.task_run("stuck").state.current == StateType.FAILED
    assert {lb.key: lb.value for lb in got.labels}["sla"] == "missed"
    violated = [e for e in first.logs(ex.id) if "violated" in e.message and e.level == "WARN"]
    assert len(violated) == 1
    assert first.store.due_position(rules.QUEUE, uid) is None


def test_an_ended_execution_leaves_the_queue(clients: list[Client]) -> None:
    c = clients[0]
    flow = Flow.from_yaml(WAITING.replace("GROUP", f"nobody-{uuid.uuid4().hex[:8]}"))
    ex = c.submit(flow)
    c.kill(ex.id)  # nothing runs: KILLED at once
    assert c.get(ex.id).state.current == StateType.KILLED
    # killed without its flow at hand: the deadline goes when it comes due, changing nothing
    assert c.orchestrator.sla.sweep(time.time() + 3601) == 0
    assert c.store.due_position(rules.QUEUE, rules.monitor_uid(ex.id, 0)) is None
    assert c.get(ex.id).state.current == StateType.KILLED


def test_a_flow_without_sla_writes_no_deadline(clients: list[Client]) -> None:
    c = clients[0]
    text = WAITING.replace("GROUP", f"nobody-{uuid.uuid4().hex[:8]}")
    plain = Flow.from_yaml(text.split("sla:")[0] + "tasks:" + text.split("tasks:")[1])
    assert plain.sla == []
    ex = c.submit(plain)
    assert c.store.due_position(rules.QUEUE, rules.monitor_uid(ex.id, 0)) is None
    c.kill(ex.id)
