"""B-follow: what open follow streams cost the rest of the REST API.

Starts its own ``redis-server`` (persistence off), a Celery worker (``-P threads``, one
thread per execution) and the REST API as ``ostra server api`` (a real uvicorn process on
127.0.0.1, a free port), each stopped by its PID. Then:

1. submits ``--followers`` executions of a flow of ``Sleep`` tasks of ``--task-seconds``
   each (30: the executions run the whole time and change now and then; 1: each changes
   about three times a second, and every change is work for its stream);
2. **idle**: ``--gets`` plain ``GET /api/v1/executions/{id}`` one after the other
   (``--pause`` seconds apart), with no follow stream open: median and p95 latency;
3. **followed**: opens one follow stream per execution, alternately Kestra's
   ``/follow`` and Ostra's ``/events`` (read in a child process, apart from the GETs),
   waits until each has sent its first event (and a second more), and measures the same
   GETs while they stream;
4. closes the streams and measures the idle GETs once more (the idle figure is the
   median of both idle runs), then kills the executions.

The figure is the ratio of the followed median to the idle median; the target is
<= 2 (issue 12). Also reported: how long the streams took to open, the events they
received, and the API process's CPU. The benchmark reports; it does not assert: the
exit code is 0 unless something crashed.

Usage: ``python bench/follow.py [--followers 100] [--gets 50] [--pause 0.05] [--json]``
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench import harness  # noqa: E402
from bench.harness import _r, proc_cpu_s  # noqa: E402
from executor.embedded import EmbeddedRedis, LocalWorker, free_port  # noqa: E402

TARGET_RATIO = 2.0  # followed median GET / idle median GET, at most
NAMESPACE = "bench"
FLOW_ID = "followed"


def sleepy_flow(tasks: int, seconds: float) -> str:
    """``tasks`` ``Sleep`` tasks of ``seconds`` each in a row: an execution that runs for
    minutes, changing state (about three changes) every ``seconds``."""
    body = "".join(
        f"  - id: s{i}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT{seconds:g}S\n"
        for i in range(tasks)
    )
    return f"id: {FLOW_ID}\nnamespace: {NAMESPACE}\ntasks:\n{body}"


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTRA_")}
    env["OSTRA_REDIS_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


class ApiServer:
    """``ostra server api`` on 127.0.0.1 (a free port), logging to a file, stopped by PID."""

    def __init__(self, url: str, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**_env(url), **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 60) -> ApiServer:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "executor.cli", "server", "api"]
                + ["--port", str(self.port), "--no-access-log", "--loglevel", "WARNING"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"the API did not answer /health in {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ---------------------------------------------------------------------- measuring


def get_latencies(http: httpx.Client, eid: str, n: int, pause: float = 0.0) -> dict[str, Any]:
    """``n`` GETs of the execution, one after the other, ``pause`` seconds apart: median,
    p95 and max in ms."""
    times = []
    for i in range(n):
        if i and pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        response = http.get(f"/api/v1/executions/{eid}")
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    ordered = sorted(times)
    return {
        "median_ms": _r(statistics.median(times)),
        "p95_ms": _r(ordered[max(0, int(round(0.95 * len(ordered))) - 1)]),
        "max_ms": _r(ordered[-1]),
        "gets": n,
    }


class Followers:
    """One follow stream per execution, read by asyncio tasks in a thread of their own
    (alternately ``/follow`` and ``/events``); ``open()`` returns once each stream sent
    its first event, ``close()`` disconnects them all."""

    def __init__(self, base: str, ids: list[str]) -> None:
        self.base, self.ids = base, ids
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.events = [0] * len(ids)
        self.statuses: list[int | None] = [None] * len(ids)
        self.first: list[asyncio.Event] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.http: httpx.AsyncClient | None = None

    async def _follow(self, i: int, path: str) -> None:
        assert self.http is not None
        try:
            async with self.http.stream("GET", path) as response:
                self.statuses[i] = response.status_code
                if response.status_code != 200:
                    return
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        self.events[i] += 1
                        self.first[i].set()
        except httpx.HTTPError:
            self.statuses[i] = self.statuses[i] or -1
        finally:
            self.first[i].set()

    async def _open(self) -> float:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        self.http = httpx.AsyncClient(base_url=self.base, limits=limits, timeout=None)
        self.first = [asyncio.Event() for _ in self.ids]
        t0 = time.perf_counter()
        for i, eid in enumerate(self.ids):
            stream = "follow" if i % 2 == 0 else "events"
            path = f"/api/v1/executions/{eid}/{stream}"
            self.tasks.append(asyncio.ensure_future(self._follow(i, path)))
        await asyncio.gather(*(e.wait() for e in self.first))
        return time.perf_counter() - t0

    async def _close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    def open(self, timeout: float) -> float:
        """Open the streams; seconds until each sent its first event."""
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(timeout)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _serve_followers(base: str, ids: list[str], conn: Any) -> None:
    """The child process of ``FollowerProcess``: open, answer ``count``, ``close``."""
    streams = Followers(base, ids)
    conn.send(streams.open(timeout=600))
    while True:
        what = conn.recv()
        if what == "close":
            streams.close()
            conn.send((list(streams.statuses), list(streams.events)))
            return
        conn.send(sum(streams.events))


class FollowerProcess:
    """``Followers`` in a process of their own, so that reading the streams does not
    compete with the measured GETs for this process's GIL."""

    def __init__(self, base: str, ids: list[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve_followers, args=(base, ids, child), daemon=True)
        self.statuses: list[int | None] = []
        self.events: list[int] = []

    def open(self, timeout: float) -> float:
        self.proc.start()
        if not self.conn.poll(timeout):
            raise RuntimeError(f"the follow streams did not open in {timeout}s")
        opened: float = self.conn.recv()
        return opened

    def count(self) -> int:
        """Events received so far, by all streams."""
        self.conn.send("count")
        seen: int = self.conn.recv()
        return seen

    def close(self) -> None:
        self.conn.send("close")
        self.statuses, self.events = self.conn.recv()
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


def run(followers: int, gets: int, tasks: int, seconds: float, pause: float) -> dict[str, Any]:
    """Start Redis, a worker and the API; measure; stop them by PID."""
    work = Path(tempfile.mkdtemp(prefix="ostra-bench-follow-"))
    server = EmbeddedRedis(appendonly=False)
    worker: LocalWorker | None = None
    api: ApiServer | None = None
    ok = False
    try:
        server.start()
        worker = LocalWorker(
            server.url,
            concurrency=max(1, followers),
            pool="threads",
            log_file=work / "worker.log",
            env={"PYTHONPATH": _env(server.url)["PYTHONPATH"]},
        ).start(wait=False)
        api = ApiServer(server.url, work / "api.log").start()
        worker.wait_ready()
        with httpx.Client(base_url=api.url, timeout=120) as http:
            deployed = http.post(
                "/api/v1/flows",
                content=sleepy_flow(tasks, seconds),
                headers={"Content-Type": "application/x-yaml"},
            )
            deployed.raise_for_status()
            ids = []
            for _ in range(max(1, followers)):
                created = http.post(f"/api/v1/executions/{NAMESPACE}/{FLOW_ID}")
                created.raise_for_status()
                ids.append(created.json()["id"])
            target = ids[0]
            get_latencies(http, target, 5)  # warm-up: imports, caches, connections
            idle_1 = get_latencies(http, target, gets, pause)
            streams = FollowerProcess(api.url, ids)
            open_s = streams.open(timeout=600) if followers else 0.0
            time.sleep(1.0)  # past the streams' first reads (a stream's history)
            cpu0, t0 = proc_cpu_s(api.pid), time.perf_counter()
            seen0 = streams.count() if followers else 0
            followed = get_latencies(http, target, gets, pause)
            followed_s = time.perf_counter() - t0
            cpu1 = proc_cpu_s(api.pid)
            seen = (streams.count() if followers else 0) - seen0
            if followers:
                streams.close()
            time.sleep(1.0)  # the server sees the disconnects
            idle_2 = get_latencies(http, target, gets, pause)
            for eid in ids:
                http.delete(f"/api/v1/executions/{eid}/kill")
        ok = True
    finally:
        if api is not None:
            api.stop()
        if worker is not None:
            worker.stop()
        server.close()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}", file=sys.stderr)
    idle = _r(statistics.median([idle_1["median_ms"], idle_2["median_ms"]]))
    statuses = [s for s in streams.statuses] if followers else []
    return {
        "followers": followers,
        "gets": gets,
        "idle_ms": idle,
        "followed_ms": followed["median_ms"],
        "ratio": _r(followed["median_ms"] / idle) if idle else float("nan"),
        "target_ratio": TARGET_RATIO,
        "idle": {"before": idle_1, "after": idle_2},
        "followed": followed,
        "streams": {
            "open_s": _r(open_s),
            "ok": sum(1 for s in statuses if s == 200),
            "refused": sorted({s for s in statuses if s != 200 and s is not None}),
            "events": sum(streams.events) if followers else 0,
            "events_while_measured": seen,
            "measured_s": _r(followed_s),
            "api_cpu_ms_per_s": _r((cpu1 - cpu0) * 1000 / max(followed_s, 1e-9)),
        },
    }


def print_table(res: dict[str, Any]) -> None:
    harness.print_env(res["env"])
    s = res["streams"]
    print(
        f"{res['followers']} follow streams ({s['ok']} open, opened in {s['open_s']} s, "
        f"{s['events']} events, {s['events_while_measured']} while measured), "
        f"{res['gets']} GETs each, {res['pause_s']} s apart"
    )
    print(f"{'':<20}{'median ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for label, row in (
        ("idle (before)", res["idle"]["before"]),
        ("followed", res["followed"]),
        ("idle (after)", res["idle"]["after"]),
    ):
        print(f"{label:<20}{row['median_ms']:>10.1f}{row['p95_ms']:>10.1f}{row['max_ms']:>10.1f}")
    verdict = "ok" if res["ratio"] <= TARGET_RATIO else "over target"
    print(f"ratio followed/idle: {res['ratio']:.2f} (target <= {TARGET_RATIO}: {verdict})")
    print(f"API CPU while followed: {s['api_cpu_ms_per_s']:.0f} ms/s")


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--followers", type=int, default=100, help="open follow streams")
    p.add_argument("--gets", type=int, default=50, help="GETs per measurement")
    p.add_argument("--tasks", type=int, default=100, help="Sleep tasks per execution")
    p.add_argument("--task-seconds", type=float, default=30.0, help="seconds each Sleep sleeps")
    p.add_argument("--pause", type=float, default=0.05, help="seconds between two GETs")
    args = harness.parse(p, argv)
    began = time.monotonic()
    env = harness.environment(worker=f"threads -c {max(1, args.followers)}")
    seconds = max(0.1, args.task_seconds)
    pause = max(0.0, args.pause)
    res = run(max(0, args.followers), max(1, args.gets), max(1, args.tasks), seconds, pause)
    res["pause_s"], res["task_seconds"] = pause, seconds
    res["env"] = env
    res["elapsed_s"] = _r(time.monotonic() - began)
    harness.report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
