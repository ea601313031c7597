"""What the benchmarks share: their own Redis server and Celery workers, the versions and
environment they report, the state-history and median helpers, and the command-line and
printing boilerplate.

``serve()`` starts a ``redis-server`` (persistence off) and the worker nodes, yields a
``Bench`` (the Redis URL, the workers, an Ostra ``Client``, a raw Celery app and a plain
Redis client), then closes the clients and stops the workers and the server by PID. The
workers' log directory is removed when the body succeeded and kept (and named on stderr)
when it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import celery
import kombu
import redis

from executor import Client, StateType
from executor.dispatch import make_app
from executor.embedded import EmbeddedRedis, LocalWorker, redis_server_binary
from executor.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

WORKER = "prefork -c 2, acks_late, prefetch 1, task events on"


# ---------------------------------------------------------------------- figures


def _r(x: float) -> float:
    return round(x, 3)


def _med(xs: list[float]) -> float:
    """Median rounded to 3 places; NaN for no values."""
    return round(statistics.median(xs), 3) if xs else float("nan")


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000


def _hist(state: Any, wanted: StateType) -> datetime | None:
    """The date ``state`` first entered ``wanted``, from its history."""
    for h in state.histories:
        if h.state == wanted:
            return h.date  # type: ignore[no-any-return]
    return None


def proc_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 if it is gone
    or elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


# ---------------------------------------------------------------------- environment


def environment(worker: str = WORKER) -> dict[str, Any]:
    """Versions and machine, for the report (``worker`` describes the worker setup)."""
    try:
        out = subprocess.run(
            [redis_server_binary(), "--version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
        server = next((w.split("=", 1)[1] for w in out.split() if w.startswith("v=")), out.strip())
    except (OSError, subprocess.SubprocessError) as exc:  # pragma: no cover
        server = f"unknown ({exc})"
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        load = []
    return {
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "redis_py": redis.__version__,
        "hiredis": bool(redis.utils.HIREDIS_AVAILABLE),
        "redis_server": server,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": load,
        "worker": worker,
        "redis": "appendonly no, save ''",
    }


# ---------------------------------------------------------------------- server and workers


@dataclass
class Bench:
    """What ``serve()`` yields."""

    server: EmbeddedRedis
    workers: list[LocalWorker]
    settings: Settings
    client: Client
    app: Any  # the raw Celery app, for ``send_task``
    r: redis.Redis

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def worker(self) -> LocalWorker:
        """The first (with one node, the only) worker."""
        return self.workers[0]


@contextmanager
def serve(nodes: int = 1, concurrency: int = 2, named: bool = False) -> Iterator[Bench]:
    """A ``redis-server`` and ``nodes`` prefork workers of ``concurrency`` each.

    With ``named``, the nodes are called ``bench<i>-<pid>@%h`` (so that they can be told
    apart in Celery's remote control); each logs to ``worker.log`` (one node) or
    ``worker<i>.log``.
    """
    log_dir = Path(tempfile.mkdtemp(prefix="ostra-bench-"))
    server = EmbeddedRedis(appendonly=False)
    workers: list[LocalWorker] = []
    client: Client | None = None
    app: Any = None
    r: redis.Redis | None = None
    ok = False
    try:
        server.start()
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        for i in range(nodes):
            workers.append(
                LocalWorker(
                    server.url,
                    concurrency=concurrency,
                    pool="prefork",
                    name=f"bench{i}-{os.getpid()}@%h" if named else None,
                    log_file=log_dir / ("worker.log" if nodes == 1 else f"worker{i}.log"),
                    env={"PYTHONPATH": pythonpath},
                ).start(wait=False)
            )
        for w in workers:
            w.wait_ready()
        settings = Settings(redis_url=server.url)
        client = Client(server.url)
        app = make_app(settings)
        r = redis.Redis.from_url(server.url)
        yield Bench(server, workers, settings, client, app, r)
        ok = True
    finally:
        if r is not None:
            r.close()
        if app is not None:
            app.close()
        if client is not None:
            client.orchestrator.dispatcher.app.close()
            client.store.r.close()
        for w in workers:
            w.stop()
        server.close()
        if ok:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            print(f"worker log{'s' if nodes > 1 else ''} kept in {log_dir}", file=sys.stderr)


# ---------------------------------------------------------------------- command line, output


def parser(doc: str) -> argparse.ArgumentParser:
    """The benchmark's parser, described by the first paragraph of its docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add ``--json`` (always the last option) and parse."""
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def report(
    res: dict[str, Any],
    as_json: bool,
    table: Callable[[dict[str, Any]], None],
    default: Callable[[Any], Any] | None = None,
) -> None:
    """One JSON object (``--json``), or the benchmark's table."""
    if as_json:
        print(json.dumps(res, indent=2, default=default))
    else:
        table(res)


def print_env(env: dict[str, Any]) -> None:
    print(
        f"python {env['python']}  celery {env['celery']}  kombu {env['kombu']}  "
        f"redis-py {env['redis_py']} (hiredis {'on' if env['hiredis'] else 'off'})  "
        f"redis-server {env['redis_server']}  "
        f"cpus {env['cpu_count']}  load {env['loadavg_start']}"
    )


def print_row(label: str, median: float, reps: list[float], fmt: str = "8.1f") -> None:
    """A table row: label, median, then each rep."""
    print(f"{label:<34}{median:{fmt}}   " + "  ".join(f"{x:{fmt}}" for x in reps))
