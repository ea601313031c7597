"""A process evaluating Flow triggers is SIGKILLed (or SIGSTOPped) between the ends it
read and their evaluation: other processes claim them (``XAUTOCLAIM`` after the idle
time) and each end fires exactly once, also when the stopped one resumes and evaluates
them late."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from tests.conftest import ROOT, WORKER_ENV
from tests.helpers.faults import make_worker

UPSTREAM = """
id: extract
namespace: company.team
tasks:
  - id: final_date
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
outputs:
  - id: date
    type: STRING
    value: "{{ outputs.final_date.value }}"
"""

LISTENER = """
id: transform
namespace: company.team
inputs:
  - id: date
    type: STRING
tasks:
  - id: run_transform
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.date }}"
triggers:
  - id: run_after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      date: "{{ trigger.outputs.date }}"
    preconditions:
      id: flows
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
"""

ENDS = 4


def consumer(url: str, mode: str, idle: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.flowtrig_consumer", url, mode, str(ENDS), str(idle)],
        cwd=ROOT,
        env={**os.environ, **WORKER_ENV},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    return proc


def pending_count(client: Client) -> int:
    """Entries of the stream of ends read and not acknowledged."""
    return int(client.store.r.xpending(client.store.k.flow_ends, "flowtrig")["pending"])


def wait_fired(client: Client, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [e.id for e in client.search(flow_id="transform") if e.trigger]
        if len(started) >= n and pending_count(client) == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the claimed ends did not all fire")


def check_once_each(client: Client, ids: list[str]) -> None:
    children = [client.wait(e.id, timeout=60) for e in client.search(flow_id="transform")]
    assert sorted(c.trigger.variables["executionId"] for c in children if c.trigger) == sorted(ids)
    assert sorted(c.inputs["date"] for c in children) == sorted(ids)
    assert pending_count(client) == 0


def test_a_stopped_process_resuming_late_fires_nothing_twice(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    client = Client(redis_server.url)
    worker = make_worker(redis_server.url, tmp_path, "w", concurrency=2)
    worker.start()
    procs: list[subprocess.Popen[str]] = []
    try:
        client.deploy(Flow.from_yaml(LISTENER))
        up = client.deploy(Flow.from_yaml(UPSTREAM))
        paused = consumer(redis_server.url, "pause", 3600)
        procs.append(paused)
        ids = [client.submit(up).id for _ in range(ENDS)]
        assert paused.stdout is not None
        assert paused.stdout.readline().split()[0] == "READ"
        os.kill(paused.pid, signal.SIGSTOP)
        procs.append(consumer(redis_server.url, "run", 1.0))
        wait_fired(client, ENDS)
        os.kill(paused.pid, signal.SIGCONT)
        # It evaluates the ends it held, late: every fire already happened.
        assert paused.stdout.readline().split() == ["DONE", "0"]
        check_once_each(client, ids)
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        worker.stop()
        client.store.r.close()


def test_ends_read_by_a_killed_process_fire_once_each(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    client = Client(redis_server.url)
    worker = make_worker(redis_server.url, tmp_path, "w", concurrency=2)
    worker.start()
    procs: list[subprocess.Popen[str]] = []
    try:
        client.deploy(Flow.from_yaml(LISTENER))
        up = client.deploy(Flow.from_yaml(UPSTREAM))
        # Its own claims wait an hour: it only reads, then hangs.
        stalled = consumer(redis_server.url, "stall", 3600)
        procs.append(stalled)
        ids = [client.submit(up).id for _ in range(ENDS)]
        for eid in ids:
            assert client.wait(eid, timeout=60).state.current == "SUCCESS"
        assert stalled.stdout is not None
        line = stalled.stdout.readline().split()
        assert line[0] == "READ" and len(line) == 1 + ENDS
        # It holds every end, unevaluated and unacknowledged: kill it there.
        os.kill(stalled.pid, signal.SIGKILL)
        stalled.wait(timeout=10)
        assert pending_count(client) == ENDS
        # Two live processes race for the claimed entries.
        procs += [consumer(redis_server.url, "run", 1.0) for _ in range(2)]
        wait_fired(client, ENDS)
        time.sleep(1.5)  # a second claim round, if anything were left, would show here
        check_once_each(client, ids)
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        worker.stop()
        client.store.r.close()
