"""B2 + B4: concurrent executions throughput, and Redis commands per task run.

Starts its own ``redis-server`` (persistence off) and two Celery worker nodes (prefork,
``-c 1`` each, distinct node names: two worker processes, each with its own main
process) serving both Ostra task runs and the raw ``ostra.noop`` job, then, for each
repetition, interleaved (the order alternates from one rep to the next):

* **ostra**: E executions of a T-task linear flow of no-op ``Return`` tasks (deployed
  once, submitted by ``(namespace, id)`` with ``Client.submit``, one after the other, as
  fast as the client goes). The end is when E more executions are in the per-state
  indexes of end states (``ZCARD`` of ``P:idx:state:SUCCESS``, polled every 5 ms; the
  other end states every 50th poll). Executions/s and task runs/s are counted from the
  first submit to that moment; latency is each execution's end minus its CREATED date,
  from its own state history.
* **raw**: R ``app.send_task("ostra.noop", ignore_result=True)``: no result backend, as
  Ostra's jobs. The end is when the queue is drained and nothing is left unacknowledged
  (``LLEN`` of the queue and ``HLEN unacked``, polled every 5 ms, confirmed by a second
  read): the workers acknowledge late, after the job ran, so an empty ``unacked`` hash
  means every job ran.

Both ends are seen the same way (a Redis read polled every 5 ms by the benchmark), so
the two rates are alike. The figure reported is the median over reps of the per-rep
ratio ostra task runs/s / raw tasks/s (target >= 0.7, ``shared/research/perf.md`` §3 B2).

**Redis commands** (B4): ``CONFIG RESETSTAT`` before each side, ``INFO commandstats``
once its end is seen, minus the benchmark's own polling (counted exactly), divided by
the task runs (jobs); commands run inside Lua scripts are counted too, each one, as
Redis counts them. Target <= 25 per task run. ``--monitor N`` adds a small run of N
executions (and N*T raw jobs) under ``MONITOR`` that says where the commands come from:
which process (this client, the workers' main processes, their pool processes), direct
or inside which Lua script.

The benchmark reports; it does not assert: the exit code is 0 unless something crashed.

Usage: ``python bench/throughput.py [--executions 1000] [--tasks 5] [--raw 5000]
[--reps 1] [--monitor 0] [--json]``
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import harness  # noqa: E402
from bench.harness import _r, proc_cpu_s  # noqa: E402
from bench.linear import linear_flow  # noqa: E402
from executor import Client, Flow  # noqa: E402
from executor.celery_config import NOOP  # noqa: E402
from executor.embedded import EmbeddedRedis, LocalWorker  # noqa: E402

TARGET_RATIO = 0.7  # ostra task runs/s over raw tasks/s, at least
TARGET_COMMANDS = 25  # Redis commands per task run, at most
POLL_S = 0.005
END_STATES = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")
#: commands of the measurement itself, never counted
OWN_COMMANDS = {"config", "info", "monitor"}
NODES = 2
CONCURRENCY = 1


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


# ---------------------------------------------------------------------- Redis counters


def command_stats(r: redis.Redis) -> Counter[str]:
    """Calls per command since the last ``CONFIG RESETSTAT`` (``INFO commandstats``)."""
    info: Any = r.info("commandstats")
    out: Counter[str] = Counter()
    for key, val in info.items():
        name = key.removeprefix("cmdstat_").lower()
        if isinstance(val, dict) and name not in OWN_COMMANDS:
            out[name] = int(val.get("calls", 0))
    return out


class Poller:
    """The benchmark's own reads, polled every 5 ms, counted to be left out of the stats."""

    def __init__(self, r: redis.Redis, prefix: str) -> None:
        self.r = r
        self.prefix = prefix
        self.sent: Counter[str] = Counter()

    def ended(self) -> int:
        """Executions in the indexes of every end state."""
        with self.r.pipeline(transaction=False) as pipe:
            for s in END_STATES:
                pipe.zcard(f"{self.prefix}:idx:state:{s}")
            self.sent["zcard"] += len(END_STATES)
            return sum(pipe.execute())

    def wait_ostra(self, target: int, deadline: float) -> None:
        """Until ``target`` executions have ended (SUCCESS every poll, all every 50th)."""
        success_key = f"{self.prefix}:idx:state:SUCCESS"
        others = 0
        polls = 0
        while True:
            self.sent["zcard"] += 1
            success = int(self.r.zcard(success_key))  # type: ignore[arg-type]
            if success + others >= target:
                return
            polls += 1
            if polls % 50 == 0:
                others = self.ended() - success
                if success + others >= target:
                    return
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"ostra: {target - success - others} executions not ended in time"
                )
            time.sleep(POLL_S)

    def drained(self, queue: str) -> bool:
        with self.r.pipeline(transaction=False) as pipe:
            pipe.llen(queue)
            pipe.hlen("unacked")
            queued, unacked = pipe.execute()
        self.sent["llen"] += 1
        self.sent["hlen"] += 1
        return bool(queued == 0 and unacked == 0)

    def wait_raw(self, queue: str, deadline: float) -> None:
        while not (self.drained(queue) and self.drained(queue)):
            if time.perf_counter() > deadline:
                raise RuntimeError("raw baseline: jobs not done in time")
            time.sleep(POLL_S)


def net_commands(r: redis.Redis, poller: Poller) -> Counter[str]:
    stats = command_stats(r)
    stats.subtract(poller.sent)
    return +stats


def top(stats: Counter[str], per: int, k: int = 12) -> dict[str, float]:
    return {name: _r(n / per) for name, n in stats.most_common(k)}


# ---------------------------------------------------------------------- CPU per process


class Procs:
    """The processes whose CPU time is read before and after each side."""

    def __init__(self, server: EmbeddedRedis, workers: list[LocalWorker]) -> None:
        self.server = server
        self.workers = workers

    def cpu(self) -> dict[str, float]:
        return {
            "bench client": time.process_time(),
            "redis": proc_cpu_s(self.server.pid or 0),
            "worker main": sum(proc_cpu_s(w.pid or 0) for w in self.workers),
            "worker pool": sum(proc_cpu_s(c) for w in self.workers for c in w.children()),
        }

    def per(self, before: dict[str, float], n: int) -> dict[str, float]:
        """CPU ms per task run (job) since ``before``, by process."""
        after = self.cpu()
        return {k: _r((after[k] - before[k]) * 1000 / n) for k in before}


# ---------------------------------------------------------------------- the two sides


def run_ostra(
    client: Client, r: redis.Redis, flow: Flow, e: int, t: int, timeout: float, procs: Procs
) -> dict[str, Any]:
    """E executions submitted at once; figures up to the last end, then their histories."""
    poller = Poller(r, client.settings.prefix)
    base = poller.ended()
    mem0 = int(r.info("memory")["used_memory"])  # type: ignore[index]
    r.config_resetstat()
    cpu0 = procs.cpu()
    c0, t0 = time.process_time(), time.perf_counter()
    ids = [client.submit((flow.namespace, flow.id)).id for _ in range(e)]
    t_submit = time.perf_counter()
    poller.wait_ostra(base + e, t0 + timeout)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cpu_ms = procs.per(cpu0, e * t)
    stats = net_commands(r, poller)
    mem1 = int(r.info("memory")["used_memory"])  # type: ignore[index]

    latencies: list[float] = []
    states: Counter[str] = Counter()
    multi_attempts = 0
    workers: set[str] = set()
    for eid in ids:
        done = client.get(eid)
        states[done.state.current.value] += 1
        start, end = done.state.start_date, done.state.end_date
        if start is not None and end is not None:
            latencies.append((end - start).total_seconds() * 1000)
        for tr in done.task_run_list:
            multi_attempts += len(tr.attempts) > 1
            workers.update(a.worker_id or "" for a in tr.attempts)
    runs = e * t
    total = sum(stats.values())
    return {
        "wall_s": wall,
        "submit_s": t_submit - t0,
        "client_cpu_s": cpu,
        "executions_per_s": e / wall,
        "task_runs_per_s": runs / wall,
        "latency_ms": {
            "p50": _r(percentile(latencies, 50)),
            "p95": _r(percentile(latencies, 95)),
            "max": _r(max(latencies) if latencies else float("nan")),
        },
        "states": dict(states),
        "task_runs_with_retries": multi_attempts,
        "worker_processes": len(workers - {""}),
        "commands_per_task_run": total / runs,
        "evalsha_per_task_run": stats["evalsha"] / runs,
        "top_commands": top(stats, runs),
        "bytes_per_task_run": (mem1 - mem0) / runs,
        "cpu_ms": cpu_ms,
    }


def run_raw(
    app: Any, r: redis.Redis, queue: str, n: int, timeout: float, procs: Procs
) -> dict[str, Any]:
    """N no-result sends; done when the queue is drained and every job acknowledged."""
    poller = Poller(r, "")
    r.config_resetstat()
    cpu0 = procs.cpu()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        app.send_task(NOOP, ignore_result=True)
    t_sent = time.perf_counter()
    poller.wait_raw(queue, t0 + timeout)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cpu_ms = procs.per(cpu0, n)
    stats = net_commands(r, poller)
    return {
        "wall_s": wall,
        "send_s": t_sent - t0,
        "client_cpu_s": cpu,
        "tasks_per_s": n / wall,
        "commands_per_task": sum(stats.values()) / n,
        "top_commands": top(stats, n),
        "cpu_ms": cpu_ms,
    }


def run_raw_queued(
    app: Any, r: redis.Redis, queue: str, n: int, nodes: list[str], timeout: float, procs: Procs
) -> dict[str, Any]:
    """The workers' own pace, without the sender: N jobs queued while no worker consumes
    the queue (``cancel_consumer``), then drained (``add_consumer``); timed from the
    ``add_consumer`` call to the end, seen as in ``run_raw``."""
    app.control.cancel_consumer(queue, destination=nodes, reply=True, timeout=5)
    for _ in range(n):
        app.send_task(NOOP, ignore_result=True)
    poller = Poller(r, "")
    cpu0 = procs.cpu()
    t0 = time.perf_counter()
    app.control.add_consumer(queue, destination=nodes, reply=True, timeout=5)
    poller.wait_raw(queue, t0 + timeout)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "tasks_per_s": n / wall, "cpu_ms": procs.per(cpu0, n)}


# ---------------------------------------------------------------------- MONITOR


def _socket_ports(pid: int) -> set[int]:
    """Local TCP ports of ``pid``'s sockets (Linux /proc; empty elsewhere)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def process_roles(workers: list[LocalWorker]) -> dict[str, str]:
    """Client port -> which process it belongs to."""
    roles: dict[str, str] = {str(p): "bench client" for p in _socket_ports(os.getpid())}
    for w in workers:
        roles.update({str(p): "worker main" for p in _socket_ports(w.pid or 0)})
        for child in w.children():
            roles.update({str(p): "worker pool" for p in _socket_ports(child)})
    return roles


class Monitor:
    """Every command Redis runs, from ``MONITOR``, read by a thread."""

    def __init__(self, url: str) -> None:
        self.r = redis.Redis.from_url(url)
        self.lines: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._mon: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Monitor:
        self._mon = self.r.monitor().__enter__()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                cmd = self._mon.next_command()
            except (redis.RedisError, OSError, ValueError, AttributeError):
                return
            if cmd is not None:
                self.lines.append(cmd)

    def stop(self, poke: redis.Redis) -> list[dict[str, Any]]:
        self._stop.set()
        poke.echo("ostra-bench-monitor-stop")  # wakes the reader up
        if self._thread is not None:
            self._thread.join(10)
        self._mon.__exit__(None, None, None)
        self.r.close()
        return [c for c in self.lines if "ostra-bench-monitor-stop" not in c["command"]]


def attribute(
    lines: list[dict[str, Any]],
    roles: dict[str, str],
    scripts: dict[str, str],
    skip_ports: set[str],
) -> dict[str, Any]:
    """Commands by origin: process, direct or inside a script (Redis 6.2's MONITOR shows
    a script's own commands right after its EVALSHA, as ``[0 lua]``)."""
    by_origin: Counter[str] = Counter()
    detail: dict[str, Counter[str]] = {}
    direct: Counter[str] = Counter()
    in_lua: Counter[str] = Counter()
    script_calls: Counter[str] = Counter()
    script_inner: Counter[str] = Counter()
    current_script = "?"
    current_role = "?"
    for c in lines:
        words = c["command"].split(" ", 2)
        name = words[0].lower()
        if c["client_type"] == "lua":
            origin = f"{current_role}: lua ({current_script})"
            by_origin[origin] += 1
            detail.setdefault(origin, Counter())[name] += 1
            in_lua[name] += 1
            script_inner[current_script] += 1
            continue
        port = c["client_port"]
        if port in skip_ports or name in OWN_COMMANDS:
            continue  # the benchmark's polling, and MONITOR itself
        current_role = roles.get(port, "other")
        if name == "evalsha":
            current_script = scripts.get(words[1] if len(words) > 1 else "", "unknown script")
            script_calls[current_script] += 1
        origin = f"{current_role}: direct"
        by_origin[origin] += 1
        detail.setdefault(origin, Counter())[name] += 1
        direct[name] += 1
    return {
        "by_origin": by_origin,
        "detail": detail,
        "direct": direct,
        "in_lua": in_lua,
        "script_calls": script_calls,
        "script_inner": script_inner,
    }


def run_monitor(
    client: Client,
    r: redis.Redis,
    app: Any,
    queue: str,
    flow: Flow,
    e: int,
    t: int,
    workers: list[LocalWorker],
    url: str,
) -> dict[str, Any]:
    """A small run of each side under MONITOR: where the commands come from."""
    # The sha of each script: redis-py computes it from the source (``Script.sha``).
    scripts = {s.sha: name for name, s in client.store._scripts.items()}
    poll = redis.Redis.from_url(url)
    out: dict[str, Any] = {"executions": e, "tasks": t}
    for side in ("ostra", "raw"):
        roles = process_roles(workers)
        mon = Monitor(url).start()
        poller = Poller(poll, client.settings.prefix)
        if side == "ostra":
            base = poller.ended()
            ids = [client.submit((flow.namespace, flow.id)).id for _ in range(e)]
            poller.wait_ostra(base + len(ids), time.perf_counter() + 120)
        else:
            for _ in range(e * t):
                app.send_task(NOOP, ignore_result=True)
            poller.wait_raw(queue, time.perf_counter() + 120)
        time.sleep(0.05)
        lines = mon.stop(poll)
        roles.update(process_roles(workers))  # connections opened during the run
        att = attribute(lines, roles, scripts, _ports_of(poll))
        per = e * t
        total = sum(att["by_origin"].values())
        out[side] = {
            "commands_per_task_run": _r(total / per),
            "by_origin": {k: _r(v / per) for k, v in att["by_origin"].most_common()},
            "detail": {
                origin: {k: _r(v / per) for k, v in att["detail"][origin].most_common()}
                for origin, _ in att["by_origin"].most_common()
            },
            "direct": {k: _r(v / per) for k, v in att["direct"].most_common()},
            "in_lua": {k: _r(v / per) for k, v in att["in_lua"].most_common()},
            "scripts": {
                name: {
                    "calls_per_task_run": _r(n / per),
                    "commands_per_call": _r(att["script_inner"][name] / n),
                }
                for name, n in att["script_calls"].most_common()
            },
        }
    poll.close()
    return out


def _ports_of(r: redis.Redis) -> set[str]:
    """Local ports of the connections of redis-py client ``r``."""
    pool: Any = r.connection_pool
    ports = set()
    for conn in [
        *getattr(pool, "_available_connections", []),
        *getattr(pool, "_in_use_connections", []),
    ]:
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            ports.add(str(sock.getsockname()[1]))
    return ports


# ---------------------------------------------------------------------- report


def summarise(
    args: argparse.Namespace,
    ostra: list[dict[str, Any]],
    raw: list[dict[str, Any]],
    queued: dict[str, Any],
    monitor: dict[str, Any] | None,
    env: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    o_rate = [x["task_runs_per_s"] for x in ostra]
    raw_rate = [x["tasks_per_s"] for x in raw]
    ratios = [o / b for o, b in zip(o_rate, raw_rate, strict=True)]
    ratio = statistics.median(ratios)
    cmds = statistics.median(x["commands_per_task_run"] for x in ostra)
    raw_cmds = statistics.median(x["commands_per_task"] for x in raw)
    mid = ostra[len(ostra) // 2]
    out: dict[str, Any] = {
        "benchmark": "B2 concurrent executions + B4 Redis commands",
        "executions": args.executions,
        "tasks": args.tasks,
        "task_runs": args.executions * args.tasks,
        "raw": args.raw,
        "reps": args.reps,
        "workers": f"{NODES} nodes x prefork -c {CONCURRENCY}",
        "executions_per_s": round(statistics.median(x["executions_per_s"] for x in ostra), 1),
        "task_runs_per_s": round(statistics.median(o_rate), 1),
        "raw_tasks_per_s": round(statistics.median(raw_rate), 1),
        "ratio": _r(ratio),
        "target_ratio": TARGET_RATIO,
        "ratio_within_target": ratio >= TARGET_RATIO,
        "latency_ms": {
            k: _r(statistics.median(x["latency_ms"][k] for x in ostra))
            for k in ("p50", "p95", "max")
        },
        "commands_per_task_run": _r(cmds),
        "raw_commands_per_task": _r(raw_cmds),
        "commands_vs_raw": _r(cmds / raw_cmds) if raw_cmds else None,
        "target_commands": TARGET_COMMANDS,
        "commands_within_target": cmds <= TARGET_COMMANDS,
        "evalsha_per_task_run": _r(statistics.median(x["evalsha_per_task_run"] for x in ostra)),
        "top_commands": mid["top_commands"],
        "raw_top_commands": raw[len(raw) // 2]["top_commands"],
        "bytes_per_task_run": round(statistics.median(x["bytes_per_task_run"] for x in ostra)),
        # CPU ms per task run (job), by process, from the middle rep
        "cpu_ms_per_task_run": mid["cpu_ms"],
        "raw_cpu_ms_per_task": raw[len(raw) // 2]["cpu_ms"],
        "raw_queued_cpu_ms_per_task": queued["cpu_ms"],
        "ostra": {
            "wall_s": [_r(x["wall_s"]) for x in ostra],
            "submit_s": [_r(x["submit_s"]) for x in ostra],
            "client_cpu_s": [_r(x["client_cpu_s"]) for x in ostra],
            "task_runs_per_s": [round(x, 1) for x in o_rate],
            "latency_ms": [x["latency_ms"] for x in ostra],
            "commands_per_task_run": [_r(x["commands_per_task_run"]) for x in ostra],
            "states": [x["states"] for x in ostra],
            "task_runs_with_retries": [x["task_runs_with_retries"] for x in ostra],
            "worker_processes": [x["worker_processes"] for x in ostra],
        },
        "raw_side": {
            "wall_s": [_r(x["wall_s"]) for x in raw],
            "send_s": [_r(x["send_s"]) for x in raw],
            "client_cpu_s": [_r(x["client_cpu_s"]) for x in raw],
            "tasks_per_s": [round(x, 1) for x in raw_rate],
            "commands_per_task": [_r(x["commands_per_task"]) for x in raw],
        },
        "ratios": [_r(x) for x in ratios],
        # informative, not the baseline: the workers' pace on jobs queued beforehand
        "raw_queued_tasks_per_s": round(queued["tasks_per_s"], 1),
        "ratio_vs_queued": _r(statistics.median(o_rate) / queued["tasks_per_s"]),
        "env": env,
    }
    if monitor is not None:
        out["monitor"] = monitor
    out["elapsed_s"] = round(elapsed, 1)
    return out


def _print_counts(title: str, counts: dict[str, float], indent: str = "  ") -> None:
    print(f"{indent}{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def print_table(res: dict[str, Any]) -> None:
    env = res["env"]
    print(
        f"B2 throughput: {res['executions']} executions of a {res['tasks']}-task linear flow "
        f"({res['task_runs']} task runs) vs {res['raw']} raw no-result jobs; "
        f"{res['workers']}; {res['reps']} rep(s), interleaved"
    )
    harness.print_env(env)
    o, w = res["ostra"], res["raw_side"]

    print(f"{'':<34}{'median':>8}   reps")
    harness.print_row("ostra task runs/s", res["task_runs_per_s"], o["task_runs_per_s"])
    harness.print_row("raw tasks/s (no results)", res["raw_tasks_per_s"], w["tasks_per_s"])
    harness.print_row("ratio ostra/raw", res["ratio"], res["ratios"], "8.3f")
    verdict = "within" if res["ratio_within_target"] else "BELOW"
    print(f"target >= {res['target_ratio']}: {verdict} target")
    print(
        f"ostra: {res['executions_per_s']} executions/s; latency (CREATED -> end) "
        f"p50 {res['latency_ms']['p50']} ms, p95 {res['latency_ms']['p95']} ms, "
        f"max {res['latency_ms']['max']} ms"
    )
    print(
        f"ostra wall s {o['wall_s']} (submitting took {o['submit_s']} s, client CPU "
        f"{o['client_cpu_s']} s); raw wall s {w['wall_s']} (sending took {w['send_s']} s)"
    )
    print(
        f"raw jobs queued first, then drained (the workers' own pace, no sender): "
        f"{res['raw_queued_tasks_per_s']} tasks/s; ostra/that {res['ratio_vs_queued']}"
    )
    print(
        f"ostra end states {o['states']}; task runs with more than one attempt "
        f"{o['task_runs_with_retries']}; worker processes seen {o['worker_processes']}"
    )
    print(
        f"\nRedis commands per task run (Lua internals included): ostra "
        f"{res['commands_per_task_run']} (reps {o['commands_per_task_run']}), raw "
        f"{res['raw_commands_per_task']} per job: {res['commands_vs_raw']}x"
    )
    verdict = "within" if res["commands_within_target"] else "ABOVE"
    print(
        f"target <= {res['target_commands']}: {verdict} target; "
        f"EVALSHA per task run {res['evalsha_per_task_run']}; "
        f"Redis memory per task run ~{res['bytes_per_task_run']} bytes"
    )
    print(
        "CPU ms per task run (job), by process: ostra "
        + ", ".join(f"{k} {v}" for k, v in res["cpu_ms_per_task_run"].items())
    )
    print("  raw " + ", ".join(f"{k} {v}" for k, v in res["raw_cpu_ms_per_task"].items()))
    print(
        "  raw queued first "
        + ", ".join(f"{k} {v}" for k, v in res["raw_queued_cpu_ms_per_task"].items())
    )
    _print_counts("ostra top commands per task run", res["top_commands"])
    _print_counts("raw top commands per job", res["raw_top_commands"])
    mon = res.get("monitor")
    if mon:
        print(
            f"\nMONITOR, {mon['executions']} executions x {mon['tasks']} tasks "
            f"(and as many raw jobs), commands per task run (job):"
        )
        for side in ("ostra", "raw"):
            m = mon[side]
            print(f"  {side}: {m['commands_per_task_run']}")
            for origin, n in m["by_origin"].items():
                _print_counts(f"{origin} {n}", m["detail"][origin], "    ")
            for name, s in m["scripts"].items():
                print(
                    f"    script {name}: {s['calls_per_task_run']} calls per task run, "
                    f"{s['commands_per_call']} commands inside each"
                )
    print(f"\nelapsed {res['elapsed_s']} s")


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--executions", type=int, default=1000, help="executions (E)")
    p.add_argument("--tasks", type=int, default=5, help="tasks in the flow (T)")
    p.add_argument("--raw", type=int, default=5000, help="raw no-op jobs (R)")
    p.add_argument("--reps", type=int, default=1, help="interleaved repetitions")
    p.add_argument(
        "--monitor",
        type=int,
        default=0,
        metavar="N",
        help="also run N executions under MONITOR (0: skip)",
    )
    args = harness.parse(p, argv)
    args.executions, args.tasks = max(1, args.executions), max(1, args.tasks)
    args.raw, args.reps, args.monitor = max(1, args.raw), max(1, args.reps), max(0, args.monitor)
    e, t = args.executions, args.tasks

    began = time.monotonic()
    env = harness.environment(
        worker=f"{NODES} nodes, prefork -c {CONCURRENCY} each, "
        "acks_late, prefetch 1, task events on"
    )
    with harness.serve(nodes=NODES, concurrency=CONCURRENCY, named=True) as bench:
        client, app, r, workers = bench.client, bench.app, bench.r, bench.workers
        queue = bench.settings.queue
        flow = client.deploy(linear_flow(t))
        procs = Procs(bench.server, workers)
        timeout = max(120.0, e * t * 0.05)
        raw_timeout = max(60.0, args.raw * 0.02)

        # Warm-up: pool processes, imports, caches, connections.
        run_ostra(client, r, flow, min(e, 50), t, timeout, procs)
        run_raw(app, r, queue, min(args.raw, 200), raw_timeout, procs)
        ostra: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        for rep in range(args.reps):
            sides: list[Callable[[], None]] = [
                lambda: ostra.append(run_ostra(client, r, flow, e, t, timeout, procs)),
                lambda: raw.append(run_raw(app, r, queue, args.raw, raw_timeout, procs)),
            ]
            for side in sides if rep % 2 == 0 else sides[::-1]:
                side()
        nodes = [w.name.replace("%h", socket.gethostname()) for w in workers]
        queued = run_raw_queued(app, r, queue, args.raw, nodes, raw_timeout, procs)
        monitor = None
        if args.monitor:
            monitor = run_monitor(client, r, app, queue, flow, args.monitor, t, workers, bench.url)
        res = summarise(args, ostra, raw, queued, monitor, env, time.monotonic() - began)

    harness.report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
