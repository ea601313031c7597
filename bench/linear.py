"""B1: linear-flow orchestration overhead, as a ratio against raw Celery.

Starts its own ``redis-server`` (persistence off) and one Celery worker (prefork, -c 2)
serving both Ostra task runs and the raw ``ostra.noop`` job, then, for each repetition,
interleaved and alternating the order:

* **ostra**: one execution of an N-task linear flow of ``Return`` tasks, timed from the
  ``submit`` call to the return of ``wait`` (wall), and from the execution's own state
  history (first CREATED date to end date);
* **raw**: ``for _ in range(N): app.send_task("ostra.noop").get()``, i.e.
  ``noop.delay().get()`` N times with the Redis result backend.

The figure reported is the median over reps of the per-rep ratio ostra/raw (wall ms per
task); the target is <= 1.25 (``shared/research/perf.md`` §3, B1). The benchmark reports;
it does not assert: the exit code is 0 unless something crashed.

Usage: ``python bench/linear.py [--tasks 200] [--reps 3] [--json]``
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.harness import _hist, _med, _ms, _r  # noqa: E402
from executor import Client, Flow, StateType  # noqa: E402
from executor.celery_config import NOOP  # noqa: E402
from executor.models import Execution  # noqa: E402

TARGET = 1.25
NAMESPACE = "bench"


def linear_flow(n: int) -> Flow:
    """A flow of ``n`` sequential no-op ``Return`` tasks."""
    tasks = "".join(f'  - id: t{i:05d}\n    type: Return\n    format: "x"\n' for i in range(n))
    return Flow.from_yaml(f"id: linear{n}\nnamespace: {NAMESPACE}\ntasks:\n{tasks}")


def breakdown(done: Execution) -> dict[str, float]:
    """Where one task's time goes, from the task runs' state histories (medians, ms).

    queue: task run CREATED -> RUNNING (publish, Celery transit, claim);
    run: RUNNING -> SUCCESS (context, render, the task itself);
    advance: SUCCESS -> next task run CREATED (record the end, decide, create);
    start: execution CREATED -> first task run CREATED; end: last task run SUCCESS ->
    execution end.
    """
    queue, run, advance = [], [], []
    runs = done.task_run_list
    prev_end: datetime | None = None
    for tr in runs:
        created = _hist(tr.state, StateType.CREATED)
        running = _hist(tr.state, StateType.RUNNING)
        ended = tr.state.end_date
        if created and running:
            queue.append(_ms(created, running))
        if running and ended:
            run.append(_ms(running, ended))
        if prev_end and created:
            advance.append(_ms(prev_end, created))
        prev_end = ended

    out = {"queue_ms": _med(queue), "run_ms": _med(run), "advance_ms": _med(advance)}
    x_start, x_end = done.state.start_date, done.state.end_date
    first = _hist(runs[0].state, StateType.CREATED) if runs else None
    last = runs[-1].state.end_date if runs else None
    if x_start and first:
        out["start_ms"] = round(_ms(x_start, first), 3)
    if last and x_end:
        out["end_ms"] = round(_ms(last, x_end), 3)
    return out


def run_ostra(client: Client, flow: Flow, n: int) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    execution = client.submit((flow.namespace, flow.id))
    done = client.wait(execution.id, timeout=max(60.0, n * 0.5))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if done.state.current != StateType.SUCCESS:
        raise RuntimeError(f"execution {done.id} ended {done.state.current}")
    start, end = done.state.start_date, done.state.end_date
    assert start is not None and end is not None
    return {
        "wall_ms_per_task": wall * 1000 / n,
        "history_ms_per_task": _ms(start, end) / n,
        "client_cpu_ms_per_task": cpu * 1000 / n,
        "breakdown": breakdown(done),
    }


def run_raw(app: Any, n: int) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        app.send_task(NOOP).get(timeout=30)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"ms_per_task": wall * 1000 / n, "client_cpu_ms_per_task": cpu * 1000 / n}


def summarise(
    n: int,
    reps: int,
    ostra: list[dict[str, Any]],
    raw: list[dict[str, Any]],
    env: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    o_wall = [r["wall_ms_per_task"] for r in ostra]
    o_hist = [r["history_ms_per_task"] for r in ostra]
    raw_ms = [r["ms_per_task"] for r in raw]
    ratios = [o / b for o, b in zip(o_wall, raw_ms, strict=True)]
    h_ratios = [o / b for o, b in zip(o_hist, raw_ms, strict=True)]
    ratio = statistics.median(ratios)
    return {
        "benchmark": "B1 linear flow",
        "tasks": n,
        "reps": reps,
        "ostra_ms_per_task": _r(statistics.median(o_wall)),
        "raw_ms_per_task": _r(statistics.median(raw_ms)),
        "ratio": _r(ratio),
        "target": TARGET,
        "within_target": ratio <= TARGET,
        "ostra": {
            "wall_ms_per_task": [_r(x) for x in o_wall],
            "history_ms_per_task": [_r(x) for x in o_hist],
            "history_ms_per_task_median": _r(statistics.median(o_hist)),
            "client_cpu_ms_per_task": [_r(r["client_cpu_ms_per_task"]) for r in ostra],
            "breakdown": [r["breakdown"] for r in ostra],
        },
        "raw": {
            "ms_per_task": [_r(x) for x in raw_ms],
            "client_cpu_ms_per_task": [_r(r["client_cpu_ms_per_task"]) for r in raw],
        },
        "ratios": [_r(x) for x in ratios],
        "history_ratio": _r(statistics.median(h_ratios)),
        "history_ratios": [_r(x) for x in h_ratios],
        "env": env,
        "elapsed_s": round(elapsed, 1),
    }


def print_table(res: dict[str, Any]) -> None:
    n, env = res["tasks"], res["env"]
    print(f"B1 linear flow: {n} no-op tasks, {res['reps']} reps, interleaved")
    harness.print_env(env)
    reps = "  ".join(f"{x:7.3f}" for x in res["ostra"]["wall_ms_per_task"])
    hist = "  ".join(f"{x:7.3f}" for x in res["ostra"]["history_ms_per_task"])
    raw = "  ".join(f"{x:7.3f}" for x in res["raw"]["ms_per_task"])
    rat = "  ".join(f"{x:7.3f}" for x in res["ratios"])
    print(f"{'ms per task':<31}{'median':>8}   reps")
    print(f"{'ostra (submit -> wait)':<31}{res['ostra_ms_per_task']:8.3f}   {reps}")
    print(
        f"{'ostra (state history)':<31}{res['ostra']['history_ms_per_task_median']:8.3f}   {hist}"
    )
    print(f"{'raw celery noop.delay().get()':<31}{res['raw_ms_per_task']:8.3f}   {raw}")
    print(
        f"{'ratio ostra/raw':<31}{res['ratio']:8.3f}   {rat}   "
        f"(history: {res['history_ratio']:.3f})"
    )
    verdict = "within" if res["within_target"] else "ABOVE"
    print(f"target <= {TARGET}: {verdict} target")
    o_cpu = statistics.median(res["ostra"]["client_cpu_ms_per_task"])
    r_cpu = statistics.median(res["raw"]["client_cpu_ms_per_task"])
    print(f"client CPU ms per task (median): ostra {o_cpu:.3f}, raw {r_cpu:.3f}")
    print("ostra per task run, from state histories (medians, ms):")
    for i, b in enumerate(res["ostra"]["breakdown"]):
        print(f"  rep {i + 1}: " + ", ".join(f"{k[:-3]} {v}" for k, v in b.items()))
    print(
        "  (queue: CREATED->RUNNING, run: RUNNING->SUCCESS, advance: SUCCESS->next CREATED;"
        " start/end: once per execution)"
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--tasks", type=int, default=200, help="tasks in the flow (N)")
    p.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    args = harness.parse(p, argv)
    n, reps = max(1, args.tasks), max(1, args.reps)

    began = time.monotonic()
    env = harness.environment()
    with harness.serve() as bench:
        client, app = bench.client, bench.app
        flow = client.deploy(linear_flow(n))

        run_ostra(client, flow, n)  # warm-up: pool processes, imports, caches
        run_raw(app, n)
        ostra: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        for rep in range(reps):
            if rep % 2 == 0:
                ostra.append(run_ostra(client, flow, n))
                raw.append(run_raw(app, n))
            else:
                raw.append(run_raw(app, n))
                ostra.append(run_ostra(client, flow, n))
        res = summarise(n, reps, ostra, raw, env, time.monotonic() - began)

    harness.report(res, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
