"""B7: what metrics and traces cost, on ``bench/throughput.py``.

Runs ``bench/throughput.py --reps 1 --json`` once per configuration per round, each in its
own process with its own ``redis-server`` and workers (the configuration is read from the
environment when a process starts, so it cannot change inside one run). The order of
the configurations rotates from round to round. Configurations:

* **metrics off**: ``OSTRA_METRICS=0``.
* **metrics on**: the default (the baseline of the others: metrics stay on when traces
  are turned on).
* **tracing otlp**: ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a sink in this process
  (a local HTTP server that reads each OTLP/HTTP request and counts its spans), with
  the SDK's default batching: what an operator with a collector runs. Skipped when
  ``opentelemetry-exporter-otlp-proto-http`` is not installed (``pip install -e
  '.[otlp]'``).
* **tracing file**: ``OTEL_TRACES_EXPORTER=file`` (JSON lines in a temporary file).

Each run measures Ostra against raw Celery in the same run (``ratio``: task runs/s over
raw jobs/s), so a round's configurations are compared by their ratios, not by
their rates. Reported per configuration: the median ratio, its cost against **metrics
on** (``1 - ratio / baseline ratio``; target: under 5% for metrics, under 10% for
tracing), the CPU per task run summed over the processes and its cost against metrics
on (steadier than wall time on a shared machine), and for the tracing sides the spans
exported per task run (11 per 5-task execution: one execution, five task runs, five
attempts).

The benchmark reports; it does not assert: the exit code is 0 unless something crashed.

Usage: ``python bench/observability.py [--rounds 3] [--executions 1000] [--raw 3000]
[--json]``
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

BASELINE = "metrics on"


class OtlpSink:
    """An OTLP/HTTP receiver on 127.0.0.1 that counts the spans it is sent."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        sink = self
        self.spans = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                n = sum(len(scope.spans) for rs in req.resource_spans for scope in rs.scope_spans)
                with sink._lock:
                    sink.spans += n
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> int:
        """The spans received since the last call."""
        with self._lock:
            n, self.spans = self.spans, 0
        return n

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def otlp_available() -> bool:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
    except ImportError:
        return False
    return True


def run_once(args: Any, env: dict[str, str]) -> dict[str, Any]:
    """One ``bench/throughput.py`` run in its own process, with ``env`` added."""
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "throughput.py"),
        "--reps",
        "1",
        "--executions",
        str(args.executions),
        "--tasks",
        str(args.tasks),
        "--raw",
        str(args.raw),
        "--json",
    ]
    full = {**os.environ, **env}
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OSTRA_METRICS"):
        if name not in env:
            full.pop(name, None)
    out = subprocess.run(cmd, env=full, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"throughput.py failed ({out.returncode}): {out.stderr[-2000:]}")
    res: dict[str, Any] = json.loads(out.stdout)
    return res


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("--rounds", type=int, default=3, help="rounds (one run per side each)")
    p.add_argument("--executions", type=int, default=1000, help="executions per run")
    p.add_argument("--tasks", type=int, default=5, help="tasks in the flow")
    p.add_argument("--raw", type=int, default=3000, help="raw no-op jobs per run")
    args = harness.parse(p, argv)
    began = time.monotonic()
    env_info = harness.environment()
    work = Path(tempfile.mkdtemp(prefix="ostra-bench-obs-"))
    sink = OtlpSink() if otlp_available() else None
    spans_file = work / "spans.jsonl"
    sides: dict[str, dict[str, str]] = {
        "metrics off": {"OSTRA_METRICS": "0"},
        BASELINE: {},
    }
    if sink is not None:
        sides["tracing otlp"] = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
            "OTEL_SERVICE_NAME": "ostra-bench",
        }
    sides["tracing file"] = {"OTEL_TRACES_EXPORTER": "file", "OSTRA_OTEL_FILE": str(spans_file)}
    names = list(sides)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    try:
        for rnd in range(max(1, args.rounds)):
            k = rnd % len(names)
            for name in names[k:] + names[:k]:
                spans_file.unlink(missing_ok=True)
                if sink is not None:
                    sink.take()
                res = run_once(args, sides[name])
                if name == "tracing otlp" and sink is not None:
                    res["spans"] = sink.take()
                elif name == "tracing file":
                    res["spans"] = sum(1 for _ in spans_file.open()) if spans_file.exists() else 0
                runs[name].append(res)
                if not args.json:
                    print(f"round {rnd + 1}: {name:<13} ratio {res['ratio']}", flush=True)
    finally:
        if sink is not None:
            sink.close()

    base = statistics.median(r["ratio"] for r in runs[BASELINE])
    base_cpu = statistics.median(sum(r["cpu_ms_per_task_run"].values()) for r in runs[BASELINE])
    summary: dict[str, Any] = {}
    for name in names:
        ratios = [r["ratio"] for r in runs[name]]
        med = statistics.median(ratios)
        cpu = [sum(r["cpu_ms_per_task_run"].values()) for r in runs[name]]
        entry: dict[str, Any] = {
            "ratios": ratios,
            "ratio": round(med, 3),
            "cost_vs_metrics_on": round(1 - med / base, 3) if base else None,
            "cpu_ms_per_task_run": round(statistics.median(cpu), 3),
            "cpu_cost_vs_metrics_on": round(statistics.median(cpu) / base_cpu - 1, 3),
            "cpu_ms_per_task_run_by_process": runs[name][-1]["cpu_ms_per_task_run"],
        }
        if "spans" in runs[name][0]:
            # Each run exports its warm-up's spans too (50 executions).
            entry["spans_per_task_run"] = [
                round(r["spans"] / ((args.executions + 50) * args.tasks), 2) for r in runs[name]
            ]
        summary[name] = entry
    res = {
        "benchmark": "B7 cost of metrics and tracing on throughput",
        "executions": args.executions,
        "tasks": args.tasks,
        "rounds": args.rounds,
        "baseline": BASELINE,
        "targets": {"metrics": 0.05, "tracing": 0.10},
        "otlp": sink is not None,
        "sides": summary,
        "env": env_info,
        "elapsed_s": round(time.monotonic() - began, 1),
    }
    harness.report(res, args.json, print_table)
    return 0


def print_table(res: dict[str, Any]) -> None:
    print(
        f"\nB7: {res['executions']} executions x {res['tasks']} tasks per run, "
        f"{res['rounds']} rounds; cost against {res['baseline']}"
    )
    if not res["otlp"]:
        print("(tracing otlp skipped: pip install -e '.[otlp]')")
    print(
        f"{'side':<14}{'ratio':>8}{'cost':>8}{'cpu ms/tr':>11}{'cpu cost':>10}"
        "  ratios, spans per task run"
    )
    for name, s in res["sides"].items():
        cost = s["cost_vs_metrics_on"]
        spans = f"  spans {s['spans_per_task_run']}" if "spans_per_task_run" in s else ""
        print(
            f"{name:<14}{s['ratio']:>8}{'' if cost is None else f'{cost:+.1%}':>8}"
            f"{s['cpu_ms_per_task_run']:>11}{s['cpu_cost_vs_metrics_on']:>+10.1%}"
            f"  {s['ratios']}{spans}"
        )
    print(
        f"targets: metrics under {res['targets']['metrics']:.0%}, "
        f"tracing under {res['targets']['tracing']:.0%}; elapsed {res['elapsed_s']} s"
    )


if __name__ == "__main__":
    sys.exit(main())
