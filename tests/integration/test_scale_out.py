"""Scale out: several worker processes and orchestration processes share the work.

The module has its own Redis, its own workers (``LocalWorker``, concurrency 1 each,
distinct node names) and two orchestration processes (``ostra executor``, the
reconciler loop), all stopped by PID. Select it with ``-k scale``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from executor import Client, Flow, StateType
from executor.embedded import EmbeddedRedis, LocalWorker
from executor.models import Execution
from tests.conftest import ROOT, WORKER_ENV

pytestmark = [pytest.mark.integration, pytest.mark.scale]
S = StateType

EXECUTIONS = 500
NOOP_FLOW = Flow.from_yaml(
    "id: scale5\nnamespace: tests.scale\ntasks:\n"
    + "".join(f'  - id: t{i}\n    type: Return\n    format: "{i}"\n' for i in range(5))
)
SLOW_EXECUTIONS = 60
SLEEP_FLOW = Flow.from_yaml("""
id: scale_sleep
namespace: tests.scale
tasks:
  - id: a
    type: Sleep
    duration: PT0.2S
  - id: b
    type: Sleep
    duration: PT0.2S
""")
#: seconds within which a worker added while work is queued must start an attempt
PICKUP_S = 5.0


class Cluster:
    def __init__(self, redis: EmbeddedRedis, logs: Path) -> None:
        self.redis = redis
        self.logs = logs
        self.orchestrators: list[subprocess.Popen[bytes]] = []

    def start_orchestrators(self, n: int) -> None:
        env = {**os.environ, **WORKER_ENV, "OSTRA_REDIS_URL": self.redis.url}
        for i in range(n):
            with open(self.logs / f"executor{i}.log", "ab") as out:
                self.orchestrators.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "executor.cli", "executor"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 60
        for i, proc in enumerate(self.orchestrators):
            log = self.logs / f"executor{i}.log"
            while "executor: reconciling" not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"executor {i} exited: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, f"executor {i} did not start"
                time.sleep(0.1)

    def check_orchestrators(self) -> None:
        for i, proc in enumerate(self.orchestrators):
            assert proc.poll() is None, f"executor {i} exited with {proc.returncode}"

    def stop_orchestrators(self) -> None:
        for proc in self.orchestrators:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.orchestrators:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def worker(self, name: str) -> LocalWorker:
        return LocalWorker(
            self.redis.url,
            concurrency=1,
            env=WORKER_ENV,
            name=f"{name}-{os.getpid()}@%h",
            log_file=self.logs / f"{name}.log",
            loglevel="WARNING",
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("scale")
    with EmbeddedRedis(logs / "redis") as server:
        c = Cluster(server, logs)
        try:
            c.start_orchestrators(2)
            yield c
        finally:
            c.stop_orchestrators()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Client]:
    c = Client(cluster.redis.url)
    yield c
    c.orchestrator.dispatcher.app.close()
    c.store.r.close()


def _start(workers: list[LocalWorker]) -> None:
    for w in workers:
        w.start(wait=False)
    for w in workers:
        w.wait_ready(90)


def _wait_all(client: Client, ids: list[str], timeout: float) -> list[Execution]:
    deadline = time.monotonic() + timeout
    return [client.wait(eid, timeout=max(1.0, deadline - time.monotonic())) for eid in ids]


def _pid(worker_id: str | None) -> int:
    assert worker_id, "an attempt without a worker id"
    return int(worker_id.rsplit(":", 1)[1])


def _check_one_attempt_each(done: list[Execution]) -> None:
    assert {x.state.current for x in done} == {S.SUCCESS}, [
        (x.id, x.state.current) for x in done if x.state.current != S.SUCCESS
    ][:5]
    for x in done:
        for tr in x.task_run_list:
            assert [a.state.current for a in tr.attempts] == [S.SUCCESS], (
                x.id,
                tr.task_id,
                tr.attempts,
            )


@pytest.mark.timeout(170)
def test_scale_500_executions_share_3_workers_and_2_orchestrators(
    cluster: Cluster, client: Client
) -> None:
    workers = [cluster.worker(f"scale{i}") for i in range(3)]
    try:
        _start(workers)
        pools = {w.name: w.children() for w in workers}
        assert all(len(p) == 1 for p in pools.values()), pools
        flow = client.deploy(NOOP_FLOW)

        started = time.monotonic()
        ids = [client.submit((flow.namespace, flow.id)).id for _ in range(EXECUTIONS)]
        submitted = time.monotonic() - started
        done = _wait_all(client, ids, timeout=120)
        elapsed = time.monotonic() - started
        print(
            f"\n{EXECUTIONS} executions x 5 task runs: submitted in {submitted:.1f}s, "
            f"all ended in {elapsed:.1f}s ({EXECUTIONS * 5 / elapsed:.0f} task runs/s)"
        )

        _check_one_attempt_each(done)
        pids = [_pid(a.worker_id) for x in done for tr in x.task_run_list for a in tr.attempts]
        every_pool = {pid for p in pools.values() for pid in p}
        # Every worker process took part, and only they ran attempts.
        assert set(pids) == every_pool, (set(pids), pools)
        share = {name: sum(pids.count(pid) for pid in p) for name, p in pools.items()}
        print(f"task runs per worker: {share}")
        cluster.check_orchestrators()
    finally:
        for w in workers:
            w.stop()


@pytest.mark.timeout(150)
def test_scale_added_worker_picks_up_work_at_once(cluster: Cluster, client: Client) -> None:
    first = cluster.worker("steady")
    added = cluster.worker("added")
    try:
        _start([first])
        flow = client.deploy(SLEEP_FLOW)
        ids = [client.submit((flow.namespace, flow.id)).id for _ in range(SLOW_EXECUTIONS)]
        # About 2 x 60 x 0.2 s = 24 s of work for one worker: plenty is left when the
        # second one is ready.
        launched = time.time()
        added.start()
        ready = datetime.fromtimestamp(time.time(), UTC)
        [new_pid] = added.children()
        assert client.state(ids[-1]) != S.SUCCESS  # work was still queued

        done = _wait_all(client, ids, timeout=90)
        _check_one_attempt_each(done)
        starts = sorted(
            a.state.histories[0].date
            for x in done
            for tr in x.task_run_list
            for a in tr.attempts
            if _pid(a.worker_id) == new_pid
        )
        assert starts, "the added worker ran nothing"
        first_start = (starts[0] - ready).total_seconds()
        from_launch = starts[0].timestamp() - launched
        print(
            f"\nadded worker: first attempt {first_start:.2f}s after it answered a ping "
            f"({from_launch:.2f}s after its launch); {len(starts)} of "
            f"{2 * SLOW_EXECUTIONS} task runs"
        )
        assert first_start < PICKUP_S
        # It kept taking its share from then on, the steady worker too.
        assert len(starts) >= 10
        cluster.check_orchestrators()
    finally:
        first.stop()
        added.stop()
