"""A per-second schedule fires each tick exactly once while three real ``ostra executor``
processes run the trigger loop on one Redis, one of them SIGKILLed (by its PID) in the
middle and started again: no tick fired twice, none missed (the executions'
``trigger.date`` form the exact sequence of ticks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from executor import Client, Flow
from executor.embedded import EmbeddedRedis
from tests.conftest import ROOT, WORKER_ENV

FLOW = """
id: every_second
namespace: sched.faults
tasks:
  - id: hello
    type: Log
    message: "{{ trigger.date }}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"""


def _start(redis: EmbeddedRedis, logs: Path, i: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **WORKER_ENV,
        "OSTRA_REDIS_URL": redis.url,
        "OSTRA_TRIGGER_INTERVAL": "0.1",
        # A process killed while it holds a claim hands it back within 2 s.
        "OSTRA_SCHEDULE_LEASE": "2",
    }
    out = open(logs / f"executor{i}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "executor.cli", "executor"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    return proc


def _ticks(client: Client) -> list[float]:
    store = client.store
    eids = [
        e.decode()
        for e in store.r.zrange(store.k.index_flow("sched.faults", "every_second"), 0, -1)
    ]
    out = []
    for eid in eids:
        trig = store.get_execution(eid).trigger
        assert trig is not None and trig.id == "tick"
        out.append(
            datetime.fromisoformat(trig.variables["date"].replace("Z", "+00:00")).timestamp()
        )
    return sorted(out)


def test_three_schedulers_one_killed_fire_each_tick_once(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    client = Client(redis_server.url)
    client.deploy(Flow.from_yaml(FLOW))
    started_at = time.time()
    procs = [_start(redis_server, tmp_path, i) for i in range(3)]
    try:
        time.sleep(4)
        victim = procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(5)
        time.sleep(2.5)
        procs[1] = _start(redis_server, tmp_path, 3)
        time.sleep(4)
        for p in procs:
            assert p.poll() is None, (tmp_path / "executor0.log").read_text()[-2000:]
        # Stop the schedule (disable the flow) and let what was claimed finish.
        flow = client.store.get_flow("sched.faults", "every_second")
        client.deploy(flow.model_copy(update={"disabled": True, "revision": None}))
        stopped_at = time.time()
        time.sleep(1.0)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
    ticks = _ticks(client)
    assert len(ticks) == len(set(ticks)), "a tick fired twice"
    assert ticks, "nothing fired"
    expected = [ticks[0] + i for i in range(int(ticks[-1] - ticks[0]) + 1)]
    assert ticks == expected, f"missed ticks: {sorted(set(expected) - set(ticks))}"
    # It fired from the start to the end of the run, through the kill.
    assert ticks[0] <= started_at + 4
    assert ticks[-1] >= stopped_at - 2.5
    assert len(ticks) >= 9
