"""B3: fan-out throughput, as a ratio against raw Celery, and how it scales.

Starts its own ``redis-server`` (persistence off) and one Celery worker (prefork, -c 2)
serving both Ostra task runs and the raw ``ostra.noop`` job, then:

1. **Throughput**, for each repetition, interleaved (the order of the three sides
   rotates from one rep to the next):

   * **ostra**: one execution of a flow with one ``ForEach`` over N values
     (``concurrencyLimit: 0``, all at once) of one no-op ``Return`` task, timed from the
     ``submit`` call to the return of ``wait`` (wall), and from the execution's own state
     history (CREATED to end);
   * **raw**: N ``app.send_task("ostra.noop", ignore_result=True)``, no results; the end
     is when the queue is drained and nothing is left unacknowledged (``LLEN`` of the
     queue and ``HLEN unacked``, polled every 5 ms, confirmed by a second read; the
     worker acknowledges late, after the job ran);
   * **raw+results**: N ``send_task("ostra.noop")`` with the Redis result backend,
     collected with ``ResultSet.join_native`` (Celery's ``group(...).join()``).

   The figure reported is the median over reps of the per-rep ratio of rates,
   ostra/raw (task runs/s over raw tasks/s); the target is >= 0.75
   (``shared/research/perf.md`` §3, B3), and <= 3 s for N=1000.
2. **Memory**: the RSS of the worker's processes before and after ``--small`` executions
   of a 3-task linear flow (submitted at once).
3. **Scale**: one execution of a ``ForEach`` over ``--big`` values: its total time
   against the N run's (target <= 1.2x linear: 10,000 in <= 12x the time of 1,000),
   and whether the per-task-run cost grows with the number of task runs already seen,
   from the children's state histories: the first 100 children by creation order
   against the last 100 (medians; target last/first <= 1.2). Then the worker's RSS
   again, and once more after a second batch of small executions.

The benchmark reports; it does not assert: the exit code is 0 unless something crashed.

Usage: ``python bench/fanout.py [--tasks 1000] [--reps 3] [--big 10000] [--small 300]
[--json]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from celery.result import ResultSet  # noqa: E402

from bench import harness  # noqa: E402
from bench.harness import _hist, _med, _ms, _r, proc_cpu_s  # noqa: E402
from executor import Client, Flow, StateType  # noqa: E402
from executor.celery_config import NOOP  # noqa: E402
from executor.embedded import EmbeddedRedis, LocalWorker  # noqa: E402
from executor.models import Execution, TaskRun  # noqa: E402

TARGET_RATIO = 0.75  # ostra rate / raw no-result rate, at least
TARGET_1000_S = 3.0  # seconds for N=1000 on 2 cores
TARGET_GROWTH = 1.2  # last/first per-task-run cost, and big-run time per task run
NAMESPACE = "bench"
EDGE = 100  # children compared at each end of the big run


def fanout_flow(n: int) -> Flow:
    """One ``ForEach`` over ``n`` values, all at once, of one no-op ``Return`` task."""
    values = ", ".join(str(i) for i in range(n))
    return Flow.from_yaml(
        f"id: fanout{n}\nnamespace: {NAMESPACE}\ntasks:\n"
        f"  - id: each\n    type: ForEach\n    values: [{values}]\n    concurrencyLimit: 0\n"
        '    tasks:\n      - id: noop\n        type: Return\n        format: "x"\n'
    )


def small_flow() -> Flow:
    """A flow of 3 sequential no-op tasks (the memory check's executions)."""
    tasks = "".join(f'  - id: t{i}\n    type: Return\n    format: "x"\n' for i in range(3))
    return Flow.from_yaml(f"id: small3\nnamespace: {NAMESPACE}\ntasks:\n{tasks}")


class CpuMeter:
    """CPU used by each process of the run: on a 2-core box throughput is CPU-bound, so
    CPU per task, by process, says where the time goes."""

    def __init__(self, worker: LocalWorker, server: EmbeddedRedis) -> None:
        self.worker, self.server = worker, server

    def snapshot(self) -> dict[str, float]:
        return {
            "client": time.process_time(),
            "worker_main": proc_cpu_s(self.worker.pid),
            "worker_pool": sum(proc_cpu_s(p) for p in self.worker.children()),
            "redis": proc_cpu_s(self.server.pid),
        }

    @staticmethod
    def per_task(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
        out = {k: (after[k] - before[k]) * 1000 / n for k in before}
        out["total"] = sum(out.values())
        return {k: _r(v) for k, v in out.items()}

    def measure(self, n: int, fn: Any) -> Any:
        """Run ``fn()``; add ``cpu_ms_per_task`` to the dict it returns (or its first item)."""
        before = self.snapshot()
        res = fn()
        (res[0] if isinstance(res, tuple) else res)["cpu_ms_per_task"] = self.per_task(
            before, self.snapshot(), n
        )
        return res


# ---------------------------------------------------------------------- the three sides


def run_ostra(
    client: Client, flow: Flow, n: int, timeout: float
) -> tuple[dict[str, Any], Execution]:
    c0, t0 = time.process_time(), time.perf_counter()
    execution = client.submit((flow.namespace, flow.id))
    t_submit = time.perf_counter()
    done = client.wait(execution.id, timeout=timeout)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if done.state.current != StateType.SUCCESS:
        raise RuntimeError(f"execution {done.id} ended {done.state.current}")
    start, end = done.state.start_date, done.state.end_date
    assert start is not None and end is not None
    hist_s = _ms(start, end) / 1000
    return {
        "wall_s": wall,
        "history_s": hist_s,
        "task_runs_per_s": n / wall,
        "history_task_runs_per_s": n / hist_s,
        "submit_s": t_submit - t0,
        "client_cpu_s": cpu,
    }, done


def _drained(r: redis.Redis, queue: str) -> bool:
    with r.pipeline(transaction=False) as pipe:
        pipe.llen(queue)
        pipe.hlen("unacked")
        queued, unacked = pipe.execute()
    return bool(queued == 0 and unacked == 0)


def run_raw(app: Any, r: redis.Redis, queue: str, n: int, timeout: float) -> dict[str, Any]:
    """N no-result sends; done when the queue is drained and every message acknowledged."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        app.send_task(NOOP, ignore_result=True)
    t_sent = time.perf_counter()
    deadline = t0 + timeout
    while not (_drained(r, queue) and _drained(r, queue)):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"raw baseline: {n} jobs not done after {timeout}s")
        time.sleep(0.005)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_s": wall, "tasks_per_s": n / wall, "send_s": t_sent - t0, "client_cpu_s": cpu}


def run_group(app: Any, n: int, timeout: float) -> dict[str, Any]:
    """N sends with results, joined (what ``group(noop.s() x N).apply_async().join()`` does)."""
    c0, t0 = time.process_time(), time.perf_counter()
    results = ResultSet([app.send_task(NOOP) for _ in range(n)], app=app)
    results.join_native(timeout=timeout, propagate=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for res in results.results or []:
        res.forget()
    return {"wall_s": wall, "tasks_per_s": n / wall, "client_cpu_s": cpu}


# ---------------------------------------------------------------------- the big run


def _child_times(children: list[TaskRun]) -> list[dict[str, Any]]:
    """Per child, in creation order: dates, worker process, and transition durations."""
    rows: list[dict[str, Any]] = []
    for tr in children:
        created = _hist(tr.state, StateType.CREATED)
        running = _hist(tr.state, StateType.RUNNING)
        ended = tr.state.end_date
        worker = tr.attempts[-1].worker_id if tr.attempts else None
        rows.append({"created": created, "running": running, "ended": ended, "worker": worker})
    # The gap a worker process spends between two task runs: recording the end and
    # advancing the flowable (child_ended), acknowledging, fetching the next message and
    # claiming it (start.lua). In parallel, the only per-transition cost that is not
    # queueing.
    by_worker: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["running"] and row["ended"]:
            by_worker[row["worker"]].append(row)
    for seq in by_worker.values():
        seq.sort(key=lambda x: x["running"])
        for prev, cur in zip(seq, seq[1:], strict=False):
            cur["gap_ms"] = _ms(prev["ended"], cur["running"])
    for row in rows:
        if row["created"] and row["running"]:
            row["queue_ms"] = _ms(row["created"], row["running"])
        if row["running"] and row["ended"]:
            row["run_ms"] = _ms(row["running"], row["ended"])
            if "gap_ms" in row:
                row["cycle_ms"] = row["run_ms"] + row["gap_ms"]
    return rows


def _edge(rows: list[dict[str, Any]]) -> dict[str, float]:
    out = {
        k: _med([r[k] for r in rows if k in r])
        for k in ("run_ms", "gap_ms", "cycle_ms", "queue_ms")
    }
    cycles = sorted(r["cycle_ms"] for r in rows if "cycle_ms" in r)
    if cycles:
        out["cycle_mean_ms"] = _r(statistics.fmean(cycles))
        out["cycle_p90_ms"] = _r(cycles[min(len(cycles) - 1, int(len(cycles) * 0.9))])
    return out


def _window_rate(ends: list[datetime]) -> float:
    """Task runs/s over a window of end dates (sorted)."""
    span = (ends[-1] - ends[0]).total_seconds()
    return round((len(ends) - 1) / span, 1) if span > 0 else float("nan")


def analyse_big(done: Execution, n: int) -> dict[str, Any]:
    """Where the big run's time goes, from its state histories."""
    foreach = next(tr for tr in done.task_run_list if tr.parent_task_run_id is None)
    children = [tr for tr in done.task_run_list if tr.parent_task_run_id == foreach.id]
    children.sort(key=lambda tr: tr.iteration or 0)
    rows = _child_times(children)
    edge = min(EDGE, max(1, len(rows) // 2))
    first, last = _edge(rows[:edge]), _edge(rows[-edge:])
    x_start, x_end = done.state.start_date, done.state.end_date
    f_running = _hist(foreach.state, StateType.RUNNING)
    f_end = foreach.state.end_date
    ends = sorted(r["ended"] for r in rows if r["ended"])
    runnings = sorted(r["running"] for r in rows if r["running"])
    created = [r["created"] for r in rows if r["created"]]
    decile = max(2, len(ends) // 10)
    assert x_start and x_end and f_running and f_end and ends and created
    return {
        "children": len(children),
        "workers_seen": len({r["worker"] for r in rows}),
        "first_100": first,
        "last_100": last,
        "edge": edge,
        "cycle_growth": _r(last["cycle_ms"] / first["cycle_ms"]),
        "cycle_mean_growth": _r(last["cycle_mean_ms"] / first["cycle_mean_ms"]),
        "run_growth": _r(last["run_ms"] / first["run_ms"]),
        "gap_growth": _r(last["gap_ms"] / first["gap_ms"]),
        "all_children": {
            k: _med([r[k] for r in rows if k in r]) for k in ("run_ms", "gap_ms", "cycle_ms")
        },
        "phases_ms": {
            # execution CREATED -> ForEach RUNNING (planned, values stored)
            "start": _r(_ms(x_start, f_running)),
            # ForEach RUNNING -> children created (one create.lua for all of them)
            "create": _r(_ms(f_running, min(created))),
            # children created -> first child RUNNING on a worker
            "first_pickup": _r(_ms(min(created), runnings[0])),
            # first child RUNNING -> last child ended: the workers' share
            "children": _r(_ms(runnings[0], ends[-1])),
            # last child ended -> ForEach ended (the last child_ended, _end_flowable)
            "foreach_end": _r(_ms(ends[-1], f_end)),
            # ForEach ended -> execution ended (finish: reads every task run row)
            "execution_end": _r(_ms(f_end, x_end)),
        },
        "rate_first_decile": _window_rate(ends[:decile]),
        "rate_last_decile": _window_rate(ends[-decile:]),
    }


def run_big(client: Client, flow: Flow, n: int, meter: CpuMeter) -> dict[str, Any]:
    res: dict[str, Any]
    done: Execution
    res, done = meter.measure(n, lambda: run_ostra(client, flow, n, timeout=max(300.0, n * 0.2)))
    t0 = time.perf_counter()
    client.get(done.id)
    res["get_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["analysis"] = analyse_big(done, n)
    res["analysis_s"] = time.perf_counter() - t0
    return res


# ---------------------------------------------------------------------- memory


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def worker_rss(worker: LocalWorker) -> dict[str, Any]:
    """VmRSS (KiB) of the worker's main process and of each pool process."""
    pool = {pid: rss_kib(pid) for pid in worker.children()}
    return {
        "main_kib": rss_kib(worker.pid or 0),
        "pool_kib": pool,
        "pool_total_kib": sum(v for v in pool.values() if v),
    }


def run_small(client: Client, flow: Flow, count: int) -> dict[str, Any]:
    """``count`` executions of the 3-task flow, submitted at once, then awaited."""
    t0 = time.perf_counter()
    ids = [client.submit((flow.namespace, flow.id)).id for _ in range(count)]
    bad = 0
    for eid in ids:
        if client.wait(eid, timeout=120).state.current != StateType.SUCCESS:
            bad += 1
    wall = time.perf_counter() - t0
    return {
        "executions": count,
        "failed": bad,
        "wall_s": _r(wall),
        "task_runs_per_s": round(3 * count / wall, 1),
    }


def _growth(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    pools = {
        str(pid): (b["pool_kib"].get(pid) or 0) - (kib or 0) for pid, kib in a["pool_kib"].items()
    }
    return {
        "main_kib": (b["main_kib"] or 0) - (a["main_kib"] or 0),
        "pool_kib": pools,
        "pool_total_kib": b["pool_total_kib"] - a["pool_total_kib"],
        "same_pool_pids": sorted(a["pool_kib"]) == sorted(b["pool_kib"]),
    }


# ---------------------------------------------------------------------- report


def summarise(
    args: argparse.Namespace,
    ostra: list[dict[str, Any]],
    raw: list[dict[str, Any]],
    group: list[dict[str, Any]],
    memory: dict[str, Any],
    big: dict[str, Any] | None,
    env: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    n = args.tasks
    o_rate = [r["task_runs_per_s"] for r in ostra]
    raw_rate = [r["tasks_per_s"] for r in raw]
    g_rate = [r["tasks_per_s"] for r in group]
    ratios = [o / b for o, b in zip(o_rate, raw_rate, strict=True)]
    g_ratios = [o / b for o, b in zip(o_rate, g_rate, strict=True)]
    h_ratios = [
        r["history_task_runs_per_s"] / b["tasks_per_s"] for r, b in zip(ostra, raw, strict=True)
    ]
    ratio = statistics.median(ratios)

    def cpu(side: list[dict[str, Any]]) -> dict[str, float]:
        keys = side[0]["cpu_ms_per_task"]
        return {k: _r(statistics.median(x["cpu_ms_per_task"][k] for x in side)) for k in keys}

    o_wall = statistics.median(r["wall_s"] for r in ostra)
    out: dict[str, Any] = {
        "benchmark": "B3 fan-out",
        "tasks": n,
        "reps": args.reps,
        "ostra_s": _r(o_wall),
        "ostra_task_runs_per_s": round(statistics.median(o_rate), 1),
        "raw_tasks_per_s": round(statistics.median(raw_rate), 1),
        "raw_results_tasks_per_s": round(statistics.median(g_rate), 1),
        "ratio": _r(ratio),
        "target": TARGET_RATIO,
        "within_target": ratio >= TARGET_RATIO,
        "ratio_vs_results": _r(statistics.median(g_ratios)),
        "history_ratio": _r(statistics.median(h_ratios)),
        "ostra": {
            "wall_s": [_r(r["wall_s"]) for r in ostra],
            "history_s": [_r(r["history_s"]) for r in ostra],
            "task_runs_per_s": [round(x, 1) for x in o_rate],
            "submit_s": [_r(r["submit_s"]) for r in ostra],
            "client_cpu_s": [_r(r["client_cpu_s"]) for r in ostra],
        },
        "raw": {
            "wall_s": [_r(r["wall_s"]) for r in raw],
            "tasks_per_s": [round(x, 1) for x in raw_rate],
            "send_s": [_r(r["send_s"]) for r in raw],
            "client_cpu_s": [_r(r["client_cpu_s"]) for r in raw],
        },
        "raw_results": {
            "wall_s": [_r(r["wall_s"]) for r in group],
            "tasks_per_s": [round(x, 1) for x in g_rate],
            "client_cpu_s": [_r(r["client_cpu_s"]) for r in group],
        },
        "ratios": [_r(x) for x in ratios],
        "cpu_ms_per_task": {"ostra": cpu(ostra), "raw": cpu(raw), "raw_results": cpu(group)},
        "memory": memory,
        "env": env,
    }
    if n == 1000:
        out["within_1000_target"] = o_wall <= TARGET_1000_S
    if big is not None and "error" in big:
        out["big"] = {"tasks": args.big, "error": big["error"]}
    elif big is not None:
        o_hist = statistics.median(r["history_s"] for r in ostra)
        scale = big["history_s"] / o_hist
        linear = args.big / n
        out["big"] = {
            "tasks": args.big,
            "wall_s": _r(big["wall_s"]),
            "history_s": _r(big["history_s"]),
            "task_runs_per_s": round(big["task_runs_per_s"], 1),
            "submit_s": _r(big["submit_s"]),
            "get_s": _r(big["get_s"]),
            "client_cpu_s": _r(big["client_cpu_s"]),
            "cpu_ms_per_task": big["cpu_ms_per_task"],
            # CPU per task run, big run over N run: steadier than wall time on a shared box
            "cpu_growth": _r(
                big["cpu_ms_per_task"]["total"]
                / statistics.median(r["cpu_ms_per_task"]["total"] for r in ostra)
            ),
            "scale": _r(scale),
            "scale_linear": _r(linear),
            "scale_per_linear": _r(scale / linear),
            "scale_target": _r(TARGET_GROWTH * linear),
            **big["analysis"],
        }
    out["elapsed_s"] = round(elapsed, 1)
    return out


def print_table(res: dict[str, Any]) -> None:
    n, env = res["tasks"], res["env"]
    print(
        f"B3 fan-out: ForEach over {n} values (concurrencyLimit 0) of one no-op task, "
        f"{res['reps']} reps, interleaved"
    )
    harness.print_env(env)

    print(f"{'task runs (tasks) per second':<34}{'median':>8}   reps")
    harness.print_row(
        "ostra (submit -> wait)", res["ostra_task_runs_per_s"], res["ostra"]["task_runs_per_s"]
    )
    harness.print_row(
        "raw send_task, no results", res["raw_tasks_per_s"], res["raw"]["tasks_per_s"]
    )
    harness.print_row(
        "raw send_task + join results",
        res["raw_results_tasks_per_s"],
        res["raw_results"]["tasks_per_s"],
    )
    harness.print_row("ratio ostra/raw (no results)", res["ratio"], res["ratios"], "8.3f")
    print(
        f"ratio vs raw+results {res['ratio_vs_results']:.3f}; from the state history "
        f"{res['history_ratio']:.3f}"
    )
    verdict = "within" if res["within_target"] else "BELOW"
    print(f"target >= {res['target']}: {verdict} target")
    o = res["ostra"]
    print(
        f"ostra wall s {o['wall_s']}  history s {o['history_s']}  "
        f"(submit returned after {o['submit_s']} s)"
    )
    if "within_1000_target" in res:
        print(
            f"1000 task runs in {res['ostra_s']} s: "
            f"{'within' if res['within_1000_target'] else 'ABOVE'} {TARGET_1000_S} s target"
        )
    print(
        f"client CPU s: ostra {o['client_cpu_s']}, raw {res['raw']['client_cpu_s']}, "
        f"raw+results {res['raw_results']['client_cpu_s']}"
    )
    print("CPU ms per task, by process (median over reps):")
    cpu = res["cpu_ms_per_task"]
    keys = list(cpu["ostra"])
    print(f"  {'':<14}" + "".join(f"{k:>13}" for k in keys))
    for side in ("ostra", "raw", "raw_results"):
        print(f"  {side:<14}" + "".join(f"{cpu[side][k]:13.3f}" for k in keys))
    big = res.get("big")
    if big and "error" in big:
        print(f"\nscale: ForEach over {big['tasks']} values FAILED: {big['error']}")
    elif big:
        print(
            f"\nscale: ForEach over {big['tasks']} values: wall {big['wall_s']} s, history "
            f"{big['history_s']} s, {big['task_runs_per_s']} task runs/s"
        )
        print(
            f"  {big['scale']}x the time of {n} for {big['scale_linear']}x the task runs "
            f"({big['scale_per_linear']} of linear; target <= {TARGET_GROWTH}, i.e. "
            f"<= {big['scale_target']}x)"
        )
        print(
            f"  client: submit returned after {big['submit_s']} s (it starts the ForEach: "
            f"creates every child with its message); reading the execution took "
            f"{big['get_s']} s; client CPU {big['client_cpu_s']} s"
        )
        print(
            "  CPU ms per task run, by process: "
            + ", ".join(f"{k} {v}" for k, v in big["cpu_ms_per_task"].items())
            + f" ({big['cpu_growth']}x the N run's total)"
        )
        print("  phases (ms): " + ", ".join(f"{k} {v}" for k, v in big["phases_ms"].items()))
        print(
            f"  per task run, medians (ms), first {big['edge']} vs last {big['edge']} "
            "children by creation order:"
        )
        print(f"    {'':<8}{'run':>9}{'gap':>9}{'cycle':>9}{'queue':>11}")
        for label, key in (("first", "first_100"), ("last", "last_100")):
            e = big[key]
            print(
                f"    {label:<8}{e['run_ms']:9.3f}{e['gap_ms']:9.3f}{e['cycle_ms']:9.3f}"
                f"{e['queue_ms']:11.1f}"
            )
        print(
            f"    growth last/first: cycle {big['cycle_growth']}, run {big['run_growth']}, "
            f"gap {big['gap_growth']} (target <= {TARGET_GROWTH}); mean cycle "
            f"{big['first_100']['cycle_mean_ms']} -> {big['last_100']['cycle_mean_ms']} "
            f"({big['cycle_mean_growth']}), p90 {big['first_100']['cycle_p90_ms']} -> "
            f"{big['last_100']['cycle_p90_ms']}"
        )
        print(
            "    (run: RUNNING->SUCCESS; gap: a worker process's previous end -> this "
            "RUNNING; cycle: run + gap; queue: CREATED->RUNNING, i.e. waiting in line)"
        )
        print(
            f"  completion rate, first vs last decile: {big['rate_first_decile']} vs "
            f"{big['rate_last_decile']} task runs/s"
        )
    mem = res["memory"]
    print("\nworker RSS (KiB, pool processes total; main process):")
    for label, key in (
        ("start", "start"),
        (f"after {mem['small']} small executions", "after_small"),
        ("after the big run", "after_big"),
        (f"after {mem['small']} more", "after_small_2"),
    ):
        if key in mem:
            print(f"  {label:<34}{mem[key]['pool_total_kib']:>9}  {mem[key]['main_kib']:>9}")
    for key, label in (
        ("growth_small", "growth over small executions"),
        ("growth_big", "growth over the big run"),
        ("growth_small_2", "growth over small executions, again"),
    ):
        if key in mem:
            g = mem[key]
            print(f"  {label:<38} pool {g['pool_total_kib']:+} KiB, main {g['main_kib']:+} KiB")
    for key in ("small_run", "small_run_2"):
        if key in mem:
            s = mem[key]
            print(
                f"  {key}: {s['executions']} executions in {s['wall_s']} s "
                f"({s['task_runs_per_s']} task runs/s, {s['failed']} failed)"
            )
    print(f"\nelapsed {res['elapsed_s']} s")


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--tasks", type=int, default=1000, help="ForEach values (N)")
    p.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    p.add_argument(
        "--big", type=int, default=10000, help="ForEach values of the scale run (0 to skip)"
    )
    p.add_argument("--small", type=int, default=300, help="3-task executions between RSS readings")
    args = harness.parse(p, argv)
    args.tasks, args.reps = max(1, args.tasks), max(1, args.reps)
    args.big, args.small = max(0, args.big), max(1, args.small)
    n = args.tasks

    began = time.monotonic()
    env = harness.environment()
    with harness.serve() as bench:
        client, app, r, worker = bench.client, bench.app, bench.r, bench.worker
        queue = bench.settings.queue
        flow = client.deploy(fanout_flow(n))
        small = client.deploy(small_flow())
        timeout = max(60.0, n * 0.2)

        # Warm-up: pool processes, imports, caches, connections.
        run_ostra(client, flow, n, timeout)
        run_raw(app, r, queue, n, timeout)
        run_group(app, n, timeout)
        run_small(client, small, min(50, args.small))

        ostra: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        group: list[dict[str, Any]] = []
        meter = CpuMeter(worker, bench.server)
        sides: list[Callable[[], None]] = [
            lambda: ostra.append(meter.measure(n, lambda: run_ostra(client, flow, n, timeout))[0]),
            lambda: raw.append(meter.measure(n, lambda: run_raw(app, r, queue, n, timeout))),
            lambda: group.append(meter.measure(n, lambda: run_group(app, n, timeout))),
        ]
        for rep in range(args.reps):
            k = rep % len(sides)
            for side in sides[k:] + sides[:k]:
                side()

        memory: dict[str, Any] = {"small": args.small, "start": worker_rss(worker)}
        memory["small_run"] = run_small(client, small, args.small)
        memory["after_small"] = worker_rss(worker)
        memory["growth_small"] = _growth(memory["start"], memory["after_small"])
        big = None
        if args.big:
            big_flow = client.deploy(fanout_flow(args.big))
            try:
                big = run_big(client, big_flow, args.big, meter)
            except Exception as exc:  # reported, not raised: the other figures still stand
                big = {"error": f"{type(exc).__name__}: {exc}"}
            memory["after_big"] = worker_rss(worker)
            memory["growth_big"] = _growth(memory["after_small"], memory["after_big"])
            memory["small_run_2"] = run_small(client, small, args.small)
            memory["after_small_2"] = worker_rss(worker)
            memory["growth_small_2"] = _growth(memory["after_big"], memory["after_small_2"])
        res = summarise(args, ostra, raw, group, memory, big, env, time.monotonic() - began)

    harness.report(res, args.json, print_table, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
