"""Redis crashes (SIGKILL) mid-flight and comes back from its AOF: every execution still
ends SUCCESS, with every attempt recorded and no task run lost."""

from __future__ import annotations

import os
import time

import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis, LocalWorker
from tests.conftest import WORKER_ENV

pytestmark = pytest.mark.faults
S = StateType

FLOW = Flow.from_yaml("""
id: survive
namespace: tests.faults
tasks:
  - {id: one, type: Sleep, duration: PT0.3S}
  - {id: two, type: Sleep, duration: PT0.3S}
  - {id: three, type: Return, format: "done"}
""")


def test_executions_survive_a_redis_crash(redis_server: EmbeddedRedis, tmp_path) -> None:
    # Lost deliveries are sent again after 3 s here (300 s by default).
    env = {**WORKER_ENV, "OSTRA_PENDING_GRACE": "3"}
    worker = LocalWorker(
        redis_server.url,
        concurrency=2,
        env=env,
        loglevel="INFO",
        name=f"crash-{os.getpid()}@%h",
        log_file=tmp_path / "w.log",
    ).start()
    client = Client(redis_server.url)
    try:
        ids = [client.submit(FLOW).id for _ in range(6)]
        time.sleep(0.5)  # some task runs are running, others queued
        redis_server.restart(kill=True)  # SIGKILL, then the same port and AOF directory
        for eid in ids:
            done = client.wait(eid, timeout=90)
            assert done.state.current == S.SUCCESS, eid
            assert [tr.task_id for tr in done.task_run_list] == ["one", "two", "three"]
            for tr in done.task_run_list:
                assert tr.state.current == S.SUCCESS
                # attempts cut short by the crash are recorded, not lost; the last succeeded
                assert tr.attempts[-1].state.current == S.SUCCESS
                assert [a.number for a in tr.attempts] == list(range(1, len(tr.attempts) + 1))
    finally:
        worker.stop()
